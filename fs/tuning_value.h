/* Per-file tuning values (user.shadow.threshold / capacity / window /
 * never / copies / hosts): parsing, the settings of one node, resolution of the effective
 * settings, and the line format of STATE/tuning. Pure: no FUSE, no I/O, so
 * unit tests (tests/unit/fs/test_tuning_value.c) and the fuzzer reach every
 * branch; fs/shadow_tuning.c is the mount's side.
 *
 * Values are text, checked strictly: one optional trailing '\n' (the pin's
 * rule, for `echo`-made values) and nothing else around the number; decimal
 * only (no hex floats, inf, nan, leading blanks or signs on integers); at
 * most FS_TUNE_NUMBER_MAX - 1 characters (hosts: FS_TUNE_TEXT_MAX - 1).
 *   threshold  a probability in (0, 1]
 *   capacity   demand per forecast bucket (reads, as -o shadow_capacity),
 *              0 .. 1e15
 *   window     forecast steps (buckets), 1 .. PRED_MAX_H
 *   never      "1": never shadowed; "0": allowed again below a "1"
 *   copies     the most copies the file gets (its replica count's cap,
 *              as -o shadow_copies), 1 .. FS_TUNE_COPIES_MAX
 *   hosts      the hosts its copies may be on: host names as the mount
 *              shows them (shadowctl hosts, user.shadow.state: a local
 *              host's directory, a remote one's ADDR:PORT or [V6]:PORT),
 *              separated by ','; or "*": every host (lifts a directory's
 *              list below it). Names are not empty, not repeated, of
 *              printable characters other than blanks and ',' (UTF-8
 *              allowed); "*" stands alone. The value is the number of
 *              names (0 for "*"). Whether each name is a host of the mount
 *              is the mount's check (fs_tune_hosts_mask), not the parser's:
 *              a value read back from STATE/tuning may name a host the
 *              mount no longer has, and that name matches nothing.
 *
 * Resolution: the nearest setting wins, key by key: the file's own, then
 * its directories from the innermost out, the mount root's last (a value
 * on the root is mount-wide), then the mount options. */
#ifndef SHADOWFS_FS_TUNING_VALUE_H
#define SHADOWFS_FS_TUNING_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_TUNE_NUMBER_MAX 32 /* the numbers' text */
#define FS_TUNE_TEXT_MAX 1024 /* any value's text (a hosts list) */
#define FS_TUNE_COPIES_MAX 4 /* DAEMON_SHADOW_MAX_COPIES (checked in shadow_tuning.c) */

enum fs_tune_key {
	FS_TUNE_THRESHOLD,
	FS_TUNE_CAPACITY,
	FS_TUNE_WINDOW,
	FS_TUNE_NEVER,
	FS_TUNE_COPIES,
	FS_TUNE_HOSTS,
	FS_TUNE_NKEYS,
};

/* What is set on one file or directory. */
struct fs_tune_node {
	bool set[FS_TUNE_NKEYS];
	double value[FS_TUNE_NKEYS];
	/* as set, without the '\n': malloc'ed to its length (NULL when not
	 * set); before, a fixed FS_TUNE_TEXT_MAX array per key made a node
	 * 6.2 KB (fs_tune_node_free frees them) */
	char *text[FS_TUNE_NKEYS];
};

/* Where an effective value comes from. */
enum fs_tune_source {
	FS_TUNE_FROM_OPTION, /* the mount option (or the built-in default) */
	FS_TUNE_FROM_ROOT,   /* the mount root's attribute */
	FS_TUNE_FROM_DIR,    /* a directory's attribute (dir_index says which) */
	FS_TUNE_FROM_FILE,   /* the file's own attribute */
};

struct fs_tune_effective {
	double value[FS_TUNE_NKEYS];
	const char *text[FS_TUNE_NKEYS]; /* the winning node's text; NULL: the option's */
	enum fs_tune_source source[FS_TUNE_NKEYS];
	int dir_index[FS_TUNE_NKEYS]; /* FS_TUNE_FROM_DIR/ROOT: index in dirs[]; else -1 */
};

/* "threshold" etc. for the key; the xattr name is "user.shadow." + it. */
const char *fs_tune_key_name(enum fs_tune_key k);
/* The key of an attribute name without its "user.shadow." prefix; -1. */
int fs_tune_key_of(const char *name);
const char *fs_tune_source_name(enum fs_tune_source s);

/* What a value of key k must be, for the log line of a refused one
 * (the value itself is not logged: any user may set one). */
const char *fs_tune_key_values(enum fs_tune_key k);

/* Checks value (size bytes, not NUL-terminated) for key k: 0 with *ret
 * and text (NUL-terminated, the trailing '\n' dropped) filled, or -EINVAL
 * leaving them alone. */
int fs_tune_parse(enum fs_tune_key k, const char *value, size_t size, double *ret,
		  char text[FS_TUNE_TEXT_MAX]);

/* Sets (text) or clears (NULL) a key of a node after fs_tune_parse
 * succeeded: 0, or -ENOMEM with the node as it was. */
int fs_tune_node_set(struct fs_tune_node *n, enum fs_tune_key k, double v, const char *text);
/* Frees the node's texts (it is left empty). */
void fs_tune_node_free(struct fs_tune_node *n);
bool fs_tune_node_empty(const struct fs_tune_node *n);

/* The effective settings: file (may be NULL), then dirs[0] (the innermost
 * directory) .. dirs[ndirs - 1] (entries may be NULL); root_index is the
 * index in dirs of the mount root (-1: not among them); defaults[] are
 * the mount options' values. */
void fs_tune_resolve(const double defaults[FS_TUNE_NKEYS], const struct fs_tune_node *file,
		     const struct fs_tune_node *const *dirs, size_t ndirs, int root_index,
		     struct fs_tune_effective *ret);

/* The hosts of a hosts value (text as fs_tune_parse left it) among the
 * mount's: names[0..n-1] in the order of -o hosts=. Bit i is set when
 * names[i] is listed (hosts from the 64th on are in no mask); "*" sets the
 * bits of all n. *ret_unknown (may be NULL) gets how many listed names
 * are none of them. */
uint64_t fs_tune_hosts_mask(const char *text, const char *const *names, size_t n,
			    size_t *ret_unknown);

/* STATE/tuning lines, one setting each, the path last so it may hold
 * blanks (never a newline):
 *   "d KEY TEXT PATH"        a directory: PATH relative to BACKING, "/"-led
 *                            ("/" is the root, "/a/b" a directory below it)
 *   "D KEY TEXT PATH"        the same for a directory whose path holds a
 *                            newline: PATH escaped (fs_rel_escape)
 *   "f UUID KEY TEXT PATH"   a file, by its user.shadow.id; PATH where it was
 *                            when last set (shown only)
 *   "h UUID TYPE HEX PATH"   the file handle of the file the settings of
 *                            UUID belong to (name_to_handle_at: its type in
 *                            decimal, its bytes in hex), before its "f"
 *                            lines; a file without one (older files, no
 *                            handles in BACKING) is known by its id alone
 * fs_tune_line_parse: line without its '\n'; 0 with the fields filled
 * (*ret_path points into line, relative without the leading '/'; *ret_id
 * is 36 characters for a file, NULL for a directory), -EINVAL otherwise
 * (the value is checked as fs_tune_parse does). */
#define FS_TUNE_HANDLE_MAX 128 /* MAX_HANDLE_SZ */
struct fs_tune_line {
	bool is_dir;
	bool is_handle; /* an "h" line: handle_* filled, key, value and text not */
	char id[37];
	enum fs_tune_key key;
	double value;
	char text[FS_TUNE_TEXT_MAX];
	int handle_type;
	unsigned handle_len;
	unsigned char handle[FS_TUNE_HANDLE_MAX];
	const char *path;
};
int fs_tune_line_parse(char *line, struct fs_tune_line *ret);

#endif
