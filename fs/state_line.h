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

/* The next line of in into *line (getline's buffer, *cap; free it once
 * done), without its newline: 1 a good line (shorter than max bytes), 0 the
 * end, -EINVAL a bad line (skipped: read again for the next), -EIO a read
 * error (errno says which). cut_ok: a last line without a newline is good. */
int fs_state_line_read(FILE *in, char **line, size_t *cap, size_t max, bool cut_ok);

#endif
