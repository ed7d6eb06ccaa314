/* Reading a small text file whole (a /proc entry, a one-number control
 * file) into a NUL-terminated buffer, and replacing one durably (a state
 * file of one line). */
#ifndef SHADOWFS_COMMON_SMALL_FILE_H
#define SHADOWFS_COMMON_SMALL_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Reads at most size - 1 bytes of path into buf and terminates it: the
 * number of bytes read (> 0), or -1 when the file cannot be opened or read
 * or is empty (buf then unspecified). size must be >= 2. */
ssize_t sfs_read_small_file(const char *path, char *buf, size_t size);

/* Replaces path by len bytes of text, whole or not at all: written to
 * PATH.tmpPID (mode 0644, no symlink followed), synced, renamed over path.
 * 0 or -errno (the temporary file removed). */
int sfs_write_small_file(const char *path, const char *text, size_t len);

#endif
