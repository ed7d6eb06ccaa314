/* The journal of pin changes, STATE/pins.log (see pin_log.h). */
#include "fs/pin_log.h"
#include "common/line_escape.h"
#include "fs/state_line.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_pin_log_open(const char *path)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	/* A last record cut short (a crash or a power cut in the middle of an
	 * append, zeros where its bytes never reached the disk) is ended
	 * here: the next record goes on a line of its own. Before, it was
	 * appended to that line, and the replay skipped both: a pin
	 * acknowledged after such a start was lost at a kill -9 before the
	 * next fold. */
	struct stat st;
	char last = '\n';
	int err = 0;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL; /* a FIFO: appends that block once its buffer is full */
	else if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		err = -EIO;
	else if (last != '\n' && write(fd, "\n", 1) != 1)
		err = -ENOSPC;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int fs_pin_path_encode(const char *path, char *out, size_t len)
{
	if (!strchr(path, '\n'))
		return snprintf(out, len, "%s", path) < (int)len ? 0 : -ENAMETOOLONG;
	if (len < 3)
		return -ENAMETOOLONG;
	memcpy(out, "./", 2);
	return sfs_line_escape(path, out + 2, len - 2);
}

void fs_pin_path_decode(char *line)
{
	if (line[0] != '.' || line[1] != '/')
		return;
	size_t n = strlen(line); /* >= 2 */
	memmove(line, line + 2, n - 1); /* the rest and its NUL */
	sfs_line_unescape(line);
}

/* One record line (rec, n bytes with its newline) with one write of
 * O_APPEND: a record is whole or, after a crash in the middle, a last
 * line without its newline (skipped). */
static int append_line(int fd, const char *rec, size_t n)
{
	ssize_t w = write(fd, rec, n);
	if (w < 0)
		return -errno;
	if ((size_t)w != n) {
		(void)!ftruncate(fd, lseek(fd, 0, SEEK_END) - w); /* no half record */
		return -ENOSPC;
	}
	return 0;
}

int fs_pin_log_append(int fd, bool pin, const char *path)
{
	char rec[2 * PATH_MAX + 4];
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	rec[0] = pin ? '+' : '-';
	int r = fs_pin_path_encode(path, rec + 1, sizeof(rec) - 2);
	if (r < 0)
		return r;
	size_t n = strlen(rec);
	rec[n++] = '\n';
	return append_line(fd, rec, n);
}

/* "~r FROM_INO TO_INO LEN FROMTO" ('x' for an exchange), LEN the length
 * of the encoded from, both paths encoded (no newline in either). */
int fs_pin_rename_format(const struct fs_pin_rename *rn, char *rec, size_t cap)
{
	char from[2 * PATH_MAX + 2], to[2 * PATH_MAX + 2];
	if (strlen(rn->from) >= PATH_MAX || strlen(rn->to) >= PATH_MAX)
		return -ENAMETOOLONG;
	int r = fs_pin_path_encode(rn->from, from, sizeof(from));
	if (r == 0)
		r = fs_pin_path_encode(rn->to, to, sizeof(to));
	if (r < 0)
		return r;
	int n = snprintf(rec, cap, "~%c %llu %llu %zu %s%s\n", rn->exchange ? 'x' : 'r',
			 (unsigned long long)rn->from_ino, (unsigned long long)rn->to_ino,
			 strlen(from), from, to);
	return n > 0 && (size_t)n < cap ? n : -ENAMETOOLONG;
}

int fs_pin_log_append_rename(int fd, const struct fs_pin_rename *rn)
{
	char *rec = malloc(FS_PIN_RENAME_LINE_MAX);
	if (!rec)
		return -ENOMEM;
	int n = fs_pin_rename_format(rn, rec, FS_PIN_RENAME_LINE_MAX);
	int r = n < 0 ? n : append_line(fd, rec, (size_t)n);
	free(rec);
	return r;
}

bool fs_pin_rename_made(int root_fd, const struct fs_pin_rename *rn)
{
	struct stat to, from;
	if (fstatat(root_fd, rn->to, &to, AT_SYMLINK_NOFOLLOW) < 0 || to.st_ino != rn->from_ino)
		return false;
	bool from_there = fstatat(root_fd, rn->from, &from, AT_SYMLINK_NOFOLLOW) == 0;
	if (rn->exchange)
		return from_there && from.st_ino == rn->to_ino;
	return !from_there || from.st_ino != rn->from_ino;
}

/* A rename line (after its '~', with room for one byte more after its
 * NUL) into rn, the paths decoded in place in line; false if it is not
 * one. */
static bool parse_rename(char *line, struct fs_pin_rename *rn)
{
	unsigned long long a, b;
	size_t len;
	int used = -1;
	/* No space directive after LEN: it would eat a path's leading
	 * blanks (a file named " x"). */
	if ((line[0] != 'r' && line[0] != 'x') || line[1] != ' ' ||
	    sscanf(line + 1, " %llu %llu %zu%n", &a, &b, &len, &used) != 3 || used < 0 ||
	    line[1 + used] != ' ')
		return false;
	char *from = line + 1 + used + 1;
	size_t rest = strlen(from);
	if (len == 0 || len >= rest)
		return false;
	/* The second path starts at from + len: move it one byte on to end
	 * the first with a NUL (the line has room: its newline was cut). */
	memmove(from + len + 1, from + len, rest - len + 1);
	from[len] = '\0';
	char *to = from + len + 1;
	fs_pin_path_decode(from);
	fs_pin_path_decode(to);
	if (!from[0] || !to[0] || strlen(from) >= PATH_MAX || strlen(to) >= PATH_MAX)
		return false; /* "./" alone decodes to no path */
	*rn = (struct fs_pin_rename){.from = from, .to = to, .from_ino = a, .to_ino = b,
				     .exchange = line[0] == 'x'};
	return true;
}

enum fs_pin_log_kind fs_pin_log_parse(char *line, size_t cap, struct fs_pin_log_record *rec)
{
	size_t n = strlen(line);
	rec->kind = FS_PIN_LOG_BAD;
	if (line[0] == '~') {
		if (n + 2 <= cap && parse_rename(line + 1, &rec->rename))
			rec->kind = FS_PIN_LOG_RENAME;
		return rec->kind;
	}
	if ((line[0] != '+' && line[0] != '-') || !line[1] || n > 2 * PATH_MAX + 2)
		return rec->kind;
	fs_pin_path_decode(line + 1);
	if (!line[1] || strlen(line + 1) >= PATH_MAX)
		return rec->kind; /* no path, or longer than any */
	rec->pin = line[0] == '+';
	rec->path = line + 1;
	return rec->kind = FS_PIN_LOG_CHANGE;
}

int fs_pin_log_clear(int fd)
{
	return ftruncate(fd, 0) < 0 ? -errno : 0;
}

int fs_pin_log_replay(const char *path, const struct fs_pin_log_reader *rd)
{
	FILE *in;
	char *line = NULL;
	size_t cap = 0;
	int n = 0, r = fs_state_file_open(path, &in);
	if (!in)
		return r == -ENOENT ? 0 : r;
	/* A line longer than a record, holding a NUL or cut short at the
	 * end (a crash) is skipped alone (fs/state_line.h). */
	while ((r = fs_state_line_read(in, &line, &cap, FS_PIN_RENAME_LINE_MAX, false)) != 0) {
		if (r < 0 && r != -EINVAL)
			break;
		struct fs_pin_log_record rec;
		if (r < 0 || fs_pin_log_parse(line, cap, &rec) == FS_PIN_LOG_BAD)
			continue;
		if (rec.kind == FS_PIN_LOG_RENAME)
			rd->rename(rd->arg, &rec.rename);
		else
			rd->change(rd->arg, rec.pin, rec.path);
		n++;
	}
	free(line);
	fclose(in);
	return r < 0 ? r : n;
}
