/* Reading the lines of state files (see state_line.h). */
#include "fs/state_line.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>

int fs_state_line_read(FILE *in, char **line, size_t *cap, size_t max, bool cut_ok)
{
	errno = 0;
	ssize_t n = getline(line, cap, in);
	if (n < 0)
		return ferror(in) ? -EIO : 0;
	if ((*line)[n - 1] == '\n')
		(*line)[--n] = '\0';
	else if (!cut_ok)
		return -EINVAL;
	if ((size_t)n >= max || memchr(*line, '\0', (size_t)n))
		return -EINVAL;
	return 1;
}
