/* Reading a small text file whole (a /proc entry, a one-number control
 * file) into a NUL-terminated buffer. */
#ifndef SHADOWFS_COMMON_SMALL_FILE_H
#define SHADOWFS_COMMON_SMALL_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Reads at most size - 1 bytes of path into buf and terminates it: the
 * number of bytes read (> 0), or -1 when the file cannot be opened or read
 * or is empty (buf then unspecified). size must be >= 2. */
ssize_t sfs_read_small_file(const char *path, char *buf, size_t size);

#endif
