/* Lines of the state files a mount reads back (STATE/pins, STATE/pins.log,
 * STATE/tuning): each one whole or skipped alone. A line longer than any
 * record (a path grown past PATH_MAX by renames above it), one holding a
 * NUL byte (binary garbage, or the zeros a crash can leave where appended
 * bytes never reached the disk) and, unless the caller accepts it, a last
 * line without its newline (cut short) are bad: skipped without taking the
 * next line with them. Before, the readers used fgets and strlen: a NUL
 * made a line look cut short, and the line after it was skipped as its
 * continuation. */
#ifndef SHADOWFS_FS_STATE_LINE_H
#define SHADOWFS_FS_STATE_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A state file opened for reading: 0 and *in, or -errno; a file that is
 * not a regular one (a FIFO, which blocked the start for ever; a device)
 * is -EINVAL (a directory -EISDIR), never opened for good. */
int fs_state_file_open(const char *path, FILE **in);

/* The next line of in into *line (a malloc'ed buffer of *cap bytes, grown
 * to max + 2 and no more; free it once done), without its newline: 1 a
 * good line (shorter than max bytes), 0 the end, -EINVAL a bad line
 * (skipped: read again for the next), -EIO a read error (errno says
 * which), -ENOMEM. cut_ok: a last line without a newline is good. */
int fs_state_line_read(FILE *in, char **line, size_t *cap, size_t max, bool cut_ok);

#endif
