/* Where a mount's series store lives: see store_locate.h. */
#include "predictor/store_locate.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "common/line_escape.h"
#include "common/dir_lock.h"
#include "common/mountinfo.h"
#include "predictor/series_store.h"

/* "<home>/.local/state/shadowfs" of uid (not root): HOME for this
 * process's own uid, else its passwd entry. 0 or -ENOENT / -ENAMETOOLONG. */
static int user_state_root(uid_t uid, char *out, size_t len)
{
	const char *home = uid == geteuid() ? getenv("HOME") : NULL;
	struct passwd pw, *found = NULL;
	char buf[4096];
	if (!home || home[0] != '/') {
		if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0 || !found ||
		    !found->pw_dir || found->pw_dir[0] != '/')
			return -ENOENT;
		home = found->pw_dir;
	}
	int n = snprintf(out, len, "%s/.local/state/shadowfs", home);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pred_locate_run_dir_of(uid_t uid, char *out, size_t len)
{
	const char *d = getenv("SHADOWFS_RUN_DIR");
	char rt[64];
	struct stat st;
	int n;
	if (d && *d) {
		n = snprintf(out, len, "%s", d);
	} else if (uid == 0) {
		n = snprintf(out, len, "/run/shadowfs");
	} else if (snprintf(rt, sizeof(rt), "/run/user/%u", (unsigned)uid) > 0 &&
		   stat(rt, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid) {
		/* The user's runtime directory (pam_systemd's XDG_RUNTIME_DIR). */
		n = snprintf(out, len, "%s/shadowfs", rt);
	} else { /* else beside the user's state */
		int rc = user_state_root(uid, out, len);
		if (rc < 0)
			return rc;
		n = (int)strlen(out);
		n += snprintf(out + n, len - (size_t)n, "/run");
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *pred_locate_run_dir(void)
{
	static __thread char dir[PATH_MAX];
	if (pred_locate_run_dir_of(geteuid(), dir, sizeof(dir)) < 0)
		snprintf(dir, sizeof(dir), "/run/shadowfs");
	return dir;
}

static int name_uuid(const char *text, char out[37])
{
	static const uuid_t ns = {0x1d, 0x7b, 0x52, 0x90, 0xe4, 0x31, 0x4c, 0x66,
				  0x8f, 0x0a, 0x5b, 0x93, 0x27, 0xc4, 0xd1, 0x08};
	uuid_t id;
	uuid_generate_sha1(id, ns, text, strlen(text));
	uuid_unparse_lower(id, out);
	return 0;
}

const char *pred_locate_state_root(void)
{
	const char *d = getenv("SHADOWFS_STATE_ROOT");
	return d && *d ? d : PRED_STATE_ROOT;
}

int pred_locate_default_state(const char *backing, char *out, size_t len)
{
	char *real = realpath(backing, NULL);
	if (!real)
		return -errno;
	char id[37], root[PATH_MAX];
	name_uuid(real, id);
	free(real);
	/* Not root: /var/lib is not ours; the user's XDG state directory. */
	if (geteuid() == 0 || user_state_root(geteuid(), root, sizeof(root)) < 0)
		snprintf(root, sizeof(root), "%s", pred_locate_state_root());
	if (snprintf(out, len, "%s/%s", root, id) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* Registry file of a mountpoint (an absolute, normalised path) in run_dir. */
static int registry_path(const char *run_dir, const char *mountpoint, char *out, size_t len)
{
	char enc[NAME_MAX + 1];
	size_t n = 0;
	bool too_long = false;
	for (const char *p = mountpoint; *p; p++) {
		if (n + 4 > NAME_MAX) {
			too_long = true;
			break;
		}
		unsigned char c = (unsigned char)*p;
		if (c == '/' || c == '%' || c < 0x20 || c == 0x7f) /* a newline: one name */
			n += (size_t)snprintf(enc + n, sizeof(enc) - n, "%%%02X", c);
		else
			enc[n++] = *p;
	}
	enc[n] = '\0';
	if (too_long) {
		char id[37];
		name_uuid(mountpoint, id);
		snprintf(enc, sizeof(enc), "long-%s", id);
	}
	if (snprintf(out, len, "%s/mounts/%s", run_dir, enc) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int write_info(const char *path, const char *mountpoint, const char *backing,
		      const char *state_dir, pid_t pid)
{
	char tmp[PATH_MAX + 16];
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	/* 0644 whatever the umask: shadowfs runs with umask 0, and a record
	 * others could write would point shadowctl at a store of their own. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	/* Escaped: a newline in a path made two lines of one value (shadowctl
	 * status showed the mount point cut there). */
	const char *const keys[] = {"mountpoint", "backing", "state"};
	const char *const values[] = {mountpoint, backing, state_dir};
	for (size_t k = 0; k < 3; k++) {
		fprintf(f, "%s=", keys[k]);
		sfs_line_escape_put(f, values[k]);
		fputc('\n', f);
	}
	fprintf(f, "pid=%ld\nstarted=%lld\n", (long)pid, (long long)time(NULL));
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		int rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
}

int pred_locate_mkdirs(const char *dir, mode_t leaf_mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, c ? 0755 : leaf_mode) && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	struct stat st;
	if (stat(buf, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int pred_locate_claim_state(const char *dir, unsigned wait_ms, int *fd_out)
{
	*fd_out = -1;
	int rc = pred_locate_mkdirs(dir, 0700);
	if (rc < 0)
		return rc;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = sfs_dir_lock(fd, wait_ms);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int pred_locate_register(const char *mountpoint, const char *backing, const char *state_dir,
			 pid_t pid)
{
	/* Not realpath'd here: once mounted, resolving a path below the mount
	 * point would wait for the mount, which serves only after this. */
	char *mp = strdup(mountpoint), *bk = strdup(backing);
	char *st = realpath(state_dir, NULL);
	int rc = 0;
	if (!mp || !bk || !st) {
		rc = -errno;
		goto out;
	}
	char dir[PATH_MAX], path[PATH_MAX];
	const char *run_dir = pred_locate_run_dir();
	snprintf(dir, sizeof(dir), "%s/mounts", run_dir);
	rc = pred_locate_mkdirs(dir, 0755);
	if (!rc)
		rc = registry_path(run_dir, mp, path, sizeof(path));
	if (!rc)
		rc = write_info(path, mp, bk, st, pid);
	if (!rc) {
		snprintf(path, sizeof(path), "%s/%s", st, PRED_MOUNT_INFO);
		rc = write_info(path, mp, bk, st, pid);
	}
out:
	free(mp);
	free(bk);
	free(st);
	return rc;
}

int pred_locate_unregister(const char *mountpoint)
{
	char *mp = realpath(mountpoint, NULL);
	char path[PATH_MAX];
	int rc = mp ? registry_path(pred_locate_run_dir(), mp, path, sizeof(path)) : -errno;
	free(mp);
	if (rc == 0 && unlink(path) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

static int read_info(const char *file, struct pred_location *ret)
{
	FILE *f = fopen(file, "re");
	if (!f)
		return -errno;
	char line[PATH_MAX + 32];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *v = eq + 1;
		sfs_line_unescape(v);
		if (!strcmp(line, "mountpoint"))
			snprintf(ret->mountpoint, sizeof(ret->mountpoint), "%s", v);
		else if (!strcmp(line, "backing"))
			snprintf(ret->backing, sizeof(ret->backing), "%s", v);
		else if (!strcmp(line, "state"))
			snprintf(ret->state_dir, sizeof(ret->state_dir), "%s", v);
		else if (!strcmp(line, "pid"))
			ret->pid = strtol(v, NULL, 10);
	}
	fclose(f);
	return ret->state_dir[0] ? 0 : -EPROTO;
}

bool pred_locate_looks_like_state(const char *dir)
{
	static const char *const names[] = {PRED_MOUNT_INFO, "series.db", "hosts.status",
					    "shadows.status"};
	char file[PATH_MAX];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(file, sizeof(file), "%s/%s", dir, names[i]);
		if (access(file, F_OK) == 0)
			return true;
	}
	return false;
}

int pred_locate_state_dir(const char *dir, struct pred_location *ret)
{
	memset(ret, 0, sizeof(*ret));
	char file[PATH_MAX];
	snprintf(file, sizeof(file), "%s/%s", dir, PRED_MOUNT_INFO);
	read_info(file, ret); /* optional */
	snprintf(ret->state_dir, sizeof(ret->state_dir), "%s", dir);
	return 0;
}

/* Absolute, lexically normalised form of path (no symlink resolution):
 * for paths that no longer exist. */
static int lexical_abs(const char *path, char *out, size_t len)
{
	char buf[PATH_MAX * 2];
	if (path[0] == '/') {
		snprintf(buf, sizeof(buf), "%s", path);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		snprintf(buf, sizeof(buf), "%s/%s", cwd, path);
	}
	size_t n = 0;
	out[0] = '\0';
	char *save = NULL;
	for (char *tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			char *slash = strrchr(out, '/');
			n = slash ? (size_t)(slash - out) : 0;
			out[n] = '\0';
			continue;
		}
		size_t t = strlen(tok);
		if (n + t + 2 > len)
			return -ENAMETOOLONG;
		out[n++] = '/';
		memcpy(out + n, tok, t + 1);
		n += t;
	}
	if (n == 0)
		snprintf(out, len, "/");
	return 0;
}

/* Walks up from abs (absolute, normalised) to the closest mountpoint
 * recorded in run_dir: 0 (ret filled) or -ENOENT. */
static int locate_in(const char *run_dir, const char *abs, struct pred_location *ret)
{
	char cur[PATH_MAX];
	snprintf(cur, sizeof(cur), "%s", abs);
	for (;;) {
		char reg[PATH_MAX];
		if (registry_path(run_dir, cur, reg, sizeof(reg)) == 0 && read_info(reg, ret) == 0) {
			size_t l = strlen(cur);
			const char *rest = abs + (l == 1 ? 1 : l);
			while (*rest == '/')
				rest++;
			snprintf(ret->rel, sizeof(ret->rel), "%s", rest);
			return 0;
		}
		char *slash = strrchr(cur, '/');
		if (!slash || cur[1] == '\0')
			break;
		if (slash == cur)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	memset(ret, 0, sizeof(*ret));
	return -ENOENT;
}

/* Whether abs (absolute, normalised) is itself a mountpoint recorded in
 * run_dir (ret filled): found from the record alone. */
static bool registered_mountpoint(const char *run_dir, const char *abs,
				  struct pred_location *ret)
{
	char reg[PATH_MAX];
	if (registry_path(run_dir, abs, reg, sizeof(reg)) == 0 && read_info(reg, ret) == 0 &&
	    !strcmp(ret->mountpoint, abs))
		return true;
	memset(ret, 0, sizeof(*ret));
	return false;
}

/* The run dir of the user (not us) whose shadowfs mount holds abs, from
 * /proc/self/mountinfo (no look into the mount): 0 (out, *owner set) or
 * -ENOENT. exact: abs must be that mount's mountpoint itself. */
static int other_owner_run_dir(const char *abs, bool exact, char *out, size_t len,
			       uid_t *owner)
{
	struct sfs_mount_entry *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	int rc = -ENOENT;
	if (sfs_mount_entry_of(abs, e) == 0 && !strcmp(e->fstype, "fuse.shadowfs") &&
	    (!exact || !strcmp(e->mountpoint, abs)) && e->owner_uid >= 0 &&
	    (uid_t)e->owner_uid != geteuid() &&
	    pred_locate_run_dir_of((uid_t)e->owner_uid, out, len) == 0 &&
	    strcmp(out, pred_locate_run_dir())) {
		*owner = (uid_t)e->owner_uid;
		rc = 0;
	}
	free(e);
	return rc;
}

/* That user wrote the record: taken only if the state directory it names
 * is that user's too (not one of root's, say). */
static bool state_dir_owned_by(const struct pred_location *loc, uid_t owner)
{
	struct stat st;
	return stat(loc->state_dir, &st) == 0 && st.st_uid == owner;
}

int pred_locate(const char *path, struct pred_location *ret)
{
	memset(ret, 0, sizeof(*ret));
	char abs[PATH_MAX], db[PATH_MAX + 16], other[PATH_MAX];
	struct stat st;
	uid_t owner;
	/* A mountpoint given as recorded is known without a look into the
	 * mount: a stat there waits for the daemon, and shadowctl status on a
	 * stopped or hung mount (what one runs to find out) hung with it. A
	 * mount by another user (allow_root or allow_other let root look in)
	 * is recorded in that user's run dir: found there by its owner. */
	if (lexical_abs(path, abs, sizeof(abs)) == 0) {
		if (registered_mountpoint(pred_locate_run_dir(), abs, ret))
			return 0;
		if (other_owner_run_dir(abs, true, other, sizeof(other), &owner) == 0 &&
		    registered_mountpoint(other, abs, ret)) {
			if (state_dir_owned_by(ret, owner))
				return 0;
			memset(ret, 0, sizeof(*ret));
		}
	}
	snprintf(db, sizeof(db), "%s/%s", path, PRED_STORE_DB_NAME);
	if (stat(db, &st) == 0) /* a state directory */
		return pred_locate_state_dir(path, ret);
	char *real = realpath(path, NULL);
	int rc = 0;
	if (real) {
		snprintf(abs, sizeof(abs), "%s", real);
		free(real);
	} else {
		rc = lexical_abs(path, abs, sizeof(abs));
		if (rc)
			return rc;
	}
	rc = locate_in(pred_locate_run_dir(), abs, ret);
	if (rc != -ENOENT)
		return rc;
	/* A mount by another user (root's shadowctl on a user's mount, or
	 * the other way round) recorded itself in that user's run dir. */
	rc = other_owner_run_dir(abs, false, other, sizeof(other), &owner);
	if (rc == 0)
		rc = locate_in(other, abs, ret);
	if (rc == 0 && !state_dir_owned_by(ret, owner)) {
		memset(ret, 0, sizeof(*ret));
		rc = -ENOENT;
	}
	return rc == -ENOMEM ? rc : rc ? -ENOENT : 0;
}
