/* A path on one line of a state file (STATE/pins, pins.log, tuning,
 * mount.info and the mount registry): '\\' written as "\\\\" and a newline
 * as "\\n", so that a name holding either stays one line and reads back
 * the same. */
#ifndef SHADOWFS_COMMON_LINE_ESCAPE_H
#define SHADOWFS_COMMON_LINE_ESCAPE_H

#include <stdio.h>

/* path escaped into out (len bytes with the NUL), or -ENAMETOOLONG. */
int sfs_line_escape(const char *path, char *out, size_t len);
/* Back, in place (a backslash before anything else stays). */
void sfs_line_unescape(char *s);
/* path escaped, written to f. */
void sfs_line_escape_put(FILE *f, const char *path);

#endif
