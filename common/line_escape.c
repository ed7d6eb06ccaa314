/* Escaping of paths on the lines of state files (see line_escape.h). */
#include "common/line_escape.h"

#include <errno.h>
#include <string.h>

/* The escape of c, or NULL when c stands for itself. */
static const char *escape_of(char c)
{
	return c == '\\' ? "\\\\" : c == '\n' ? "\\n" : NULL;
}

int sfs_line_escape(const char *path, char *out, size_t len)
{
	size_t n = 0;
	for (const char *p = path; *p; p++) {
		const char *esc = escape_of(*p);
		size_t k = esc ? 2 : 1;
		if (n + k >= len)
			return -ENAMETOOLONG;
		memcpy(out + n, esc ? esc : p, k);
		n += k;
	}
	if (n >= len)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

void sfs_line_unescape(char *s)
{
	char *o = s;
	for (const char *p = s; *p; p++) {
		if (*p == '\\' && (p[1] == '\\' || p[1] == 'n'))
			*o++ = *++p == 'n' ? '\n' : '\\';
		else
			*o++ = *p;
	}
	*o = '\0';
}

void sfs_line_escape_put(FILE *f, const char *path)
{
	for (const char *p = path; *p; p++) {
		const char *esc = escape_of(*p);
		if (esc)
			fputs(esc, f);
		else
			fputc(*p, f);
	}
}
