/* Reading the lines of state files (see state_line.h). */
#include "fs/state_line.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

int fs_state_file_open(const char *path, FILE **in)
{
	*in = NULL;
	/* O_NONBLOCK: a FIFO in the file's place must not hold the start up
	 * for ever (it did, the mount already made and its users waiting). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	int e = 0;
	if (fstat(fd, &st) < 0)
		e = errno;
	else if (S_ISDIR(st.st_mode))
		e = EISDIR;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL; /* a device (a link to /dev/zero reads for ever), a FIFO */
	int fl = e ? -1 : fcntl(fd, F_GETFL);
	if (!e && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 || !(*in = fdopen(fd, "re"))))
		e = errno;
	if (e) {
		close(fd);
		return -e;
	}
	return 0;
}

int fs_state_line_read(FILE *in, char **line, size_t *cap, size_t max, bool cut_ok)
{
	/* At most max bytes are kept: the rest of a longer line is read and
	 * dropped. Before, getline kept all of it, so a line of gigabytes (a
	 * log extended with zeros, a file of garbage) took as much memory
	 * before it was found bad. Room for two bytes more than max: the
	 * NUL, and one a caller may move a path into (fs/pin_log.c). */
	if (*cap < max + 2) {
		char *p = realloc(*line, max + 2);
		if (!p)
			return -ENOMEM;
		*line = p;
		*cap = max + 2;
	}
	size_t n = 0;
	bool nul = false, newline = false, any = false;
	int c;
	errno = 0;
	while ((c = getc_unlocked(in)) != EOF) {
		any = true;
		if (c == '\n') {
			newline = true;
			break;
		}
		nul |= c == '\0';
		if (n < max)
			(*line)[n] = (char)c;
		n++;
	}
	if (ferror(in)) {
		if (!errno)
			errno = EIO;
		return -EIO;
	}
	if (!any)
		return 0;
	(*line)[n < max ? n : max] = '\0';
	if ((!newline && !cut_ok) || n >= max || nul)
		return -EINVAL;
	return 1;
}
