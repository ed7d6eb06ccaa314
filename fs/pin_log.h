/* STATE/pins.log: the journal of pin changes since STATE/pins was last
 * written. A pin or unpin (user.shadow.pin) appends one record ("+PATH" or
 * "-PATH", PATH relative to BACKING as fs_pin_path_encode writes it, one
 * line) before its setxattr returns,
 * so it is recorded at once at O(1) cost; rewriting all of STATE/pins for
 * each pin cost O(pins) per pin. The control thread rewrites STATE/pins
 * from memory and then empties the log (its compaction); at mount start the
 * log is replayed over STATE/pins. Replaying a log whose changes STATE/pins
 * already holds (a crash between the two steps) gives the same pins.
 *
 * A rename through the mount that moves a pinned path (the file, or a
 * directory above it) or replaces a pinned file also appends, before it is
 * made, its intent ("~r" or "~x" with both sides' inode numbers, then the
 * two paths): its "-OLD" "+NEW" records come only once it succeeded, so a
 * kill -9 between the rename in BACKING and those records lost the pin
 * (the old name was gone at the next start). Replay hands the intent to
 * the reader, which asks BACKING whether the rename was made. */
#ifndef SHADOWFS_FS_PIN_LOG_H
#define SHADOWFS_FS_PIN_LOG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The log's fd for appends (created if missing; a last line without its
 * newline, cut short, ended first), or -errno. */
int fs_pin_log_open(const char *path);
/* A path as a line of STATE/pins (and, after its '+' or '-', of the log):
 * as it is, or, when it holds a newline, "./" and the path with '\' as
 * "\\" and newline as "\n" (a path relative to BACKING as the mount
 * takes it never starts with "./", so an older reader only misses it).
 * The line (without its newline) in out; -ENAMETOOLONG if it does not fit. */
int fs_pin_path_encode(const char *path, char *out, size_t len);
/* A line of either form back to its path, in place. */
void fs_pin_path_decode(char *line);
/* Appends the record of a pin (or unpin) of path. 0 or -errno. */
int fs_pin_log_append(int fd, bool pin, const char *path);
/* A rename's intent: from (inode number from_ino) is to be renamed to;
 * with exchange, to (to_ino) goes to from at the same time. */
struct fs_pin_rename {
	const char *from, *to;
	uint64_t from_ino, to_ino; /* to_ino: 0 unless exchange */
	bool exchange;
};
/* The longest intent record, its newline included. */
#define FS_PIN_RENAME_LINE_MAX (4 * PATH_MAX + 80)
/* The intent record of rn, its newline included, in rec (cap bytes): its
 * length, or -errno (-ENAMETOOLONG: a path of PATH_MAX or more). STATE/tuning
 * holds such lines too (fs/shadow_tuning.c). */
int fs_pin_rename_format(const struct fs_pin_rename *rn, char *rec, size_t cap);
/* Appends the intent record of rn. 0 or -errno (as fs_pin_rename_format). */
int fs_pin_log_append_rename(int fd, const struct fs_pin_rename *rn);
/* Was rn made, as BACKING (root_fd) shows it now? (Inode numbers are
 * stable across remounts of BACKING.) */
bool fs_pin_rename_made(int root_fd, const struct fs_pin_rename *rn);
/* One line of the log as a record, decoded in place. */
enum fs_pin_log_kind { FS_PIN_LOG_BAD, FS_PIN_LOG_CHANGE, FS_PIN_LOG_RENAME };
struct fs_pin_log_record {
	enum fs_pin_log_kind kind; /* BAD: a line of another form */
	bool pin;		   /* CHANGE: pin or unpin path */
	const char *path;
	struct fs_pin_rename rename; /* RENAME: its paths point into the line */
};
/* line: without its newline, NUL-terminated, in a buffer of cap bytes; a
 * rename needs one byte more after the NUL (as getline leaves a line whose
 * newline was cut). Returns rec->kind. */
enum fs_pin_log_kind fs_pin_log_parse(char *line, size_t cap, struct fs_pin_log_record *rec);
/* Empties the log (after STATE/pins was rewritten). */
int fs_pin_log_clear(int fd);
/* What a replay hands its reader, record by record. */
struct fs_pin_log_reader {
	void (*change)(void *arg, bool pin, const char *path);
	void (*rename)(void *arg, const struct fs_pin_rename *rn);
	void *arg;
};
/* Hands each complete record of the log at path to rd, in order (a last
 * line cut short by a crash and lines of another form are skipped);
 * returns how many, 0 when there is no log, or -errno. */
int fs_pin_log_replay(const char *path, const struct fs_pin_log_reader *rd);

#endif
