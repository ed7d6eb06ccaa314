/* Where a mount's series store lives, for the mount and for shadowctl.
 *
 * A mount records itself twice, as KEY=VALUE lines (mountpoint, backing,
 * state, pid, started):
 *   <run_dir>/mounts/<mountpoint, '/' and '%' percent-encoded>
 *       so shadowctl finds the state directory from a mountpoint or from
 *       any path below it, while mounted and after (until reboot: /run);
 *   <state_dir>/mount.info
 *       so `--state DIR` also knows the backing directory (whose
 *       user.shadow.id xattrs give files' ids).
 * run_dir is the mounting user's: /run/shadowfs for root; for another user
 * /run/user/<uid>/shadowfs when the user has a runtime directory, else
 * ~/.local/state/shadowfs/run (a user cannot write /run/shadowfs);
 * $SHADOWFS_RUN_DIR when set (tests). A path on a mount by another user
 * is looked up in that user's run_dir too (the mount's user_id), the
 * record taken only if the state directory it names is that user's.
 * The default state directory of a mount is /var/lib/shadowfs/<mount-id>
 * (the root is $SHADOWFS_STATE_ROOT when set: tests),
 * mount-id being a name-based uuid of BACKING's real path, so remounting
 * the same backing directory finds its history again. */
#ifndef SHADOWFS_PREDICTOR_STORE_LOCATE_H
#define SHADOWFS_PREDICTOR_STORE_LOCATE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define PRED_STATE_ROOT "/var/lib/shadowfs"
#define PRED_MOUNT_INFO "mount.info"

struct pred_location {
	char mountpoint[PATH_MAX]; /* "" when unknown */
	char backing[PATH_MAX];    /* "" when unknown */
	char state_dir[PATH_MAX];
	char rel[PATH_MAX]; /* the looked-up path relative to the mount root */
	long pid;           /* of the mount when it registered; 0 unknown */
};

/* run_dir for uid: 0, or -ENAMETOOLONG / -ENOENT (no home directory). */
int pred_locate_run_dir_of(uid_t uid, char *out, size_t len);

/* run_dir of this process's user (/run/shadowfs if it has none). */
const char *pred_locate_run_dir(void);
const char *pred_locate_state_root(void);

/* "<state root>/<mount-id>" for backing (which must exist); for a user
 * other than root, "~/.local/state/shadowfs/<mount-id>". */
int pred_locate_default_state(const char *backing, char *out, size_t len);

/* mkdir -p: parents it creates 0755, dir itself leaf_mode; 0 or -errno
 * (-ENOTDIR when dir exists and is not a directory). */
int pred_locate_mkdirs(const char *dir, mode_t leaf_mode);

/* Makes dir (mkdir -p, itself 0700) this process's state directory: an
 * exclusive flock on an fd of it, held until *fd_out is closed (the lock
 * passes across fork). One held by another process (a mount of the same
 * BACKING, whose default state directory is the same) is waited for up to
 * wait_ms (one that is exiting), then -EBUSY. 0 or -errno. */
int pred_locate_claim_state(const char *dir, unsigned wait_ms, int *fd_out);

/* Records a mount (both files above; replaces older records). mountpoint
 * and backing must be canonical (realpath'd before mounting); state_dir
 * is resolved here. */
int pred_locate_register(const char *mountpoint, const char *backing, const char *state_dir,
			 pid_t pid);

/* Forgets the record of the mount at mountpoint (a later mount there that
 * keeps no state: the record would describe an earlier one). */
int pred_locate_unregister(const char *mountpoint);

/* Finds the store for path: a state directory itself (holding series.db),
 * a mountpoint, or a path below a registered mountpoint (existing or not).
 * -ENOENT when no registered mount holds it. */
int pred_locate(const char *path, struct pred_location *ret);

/* Whether dir holds what a mount writes in its state directory
 * (mount.info, the series store, the hosts' or shadows' status). */
bool pred_locate_looks_like_state(const char *dir);

/* Reads a state directory's mount.info into ret (state_dir set to dir even
 * when the file is missing, which is not an error). */
int pred_locate_state_dir(const char *dir, struct pred_location *ret);

#endif
