/* The mover thread (see mover.h): takes the one job the control thread
 * hands over, runs it (a local copy, a remote sync, a re-hash), keeps the
 * result for the control thread to apply, and cleans up after a cancelled
 * one. */
#include "fs/mover.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/host_store.h"
#include "fs/copy_pace.h"
#include "fs/fs.h"
#include "fs/hosts.h"
#include "fs/shadowing_impl.h"
#include "sync/digest.h"

enum mover_state {
	MOVER_IDLE,    /* no job */
	MOVER_QUEUED,  /* submitted, not started */
	MOVER_RUNNING, /* the thread runs it */
	MOVER_DONE,    /* finished, waiting for the control thread */
};

struct fs_mover {
	struct fs_shadowing *sh;	 /* not owned */
	struct fs_remote_copies *remote; /* the mover's connections; NULL: none */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* protects state, stopping, job's inputs */
	pthread_cond_t wake;
	enum mover_state state;
	bool stopping;
	bool express; /* the express lane: its copies pause the other mover's */
	struct fs_move_job job;
};

const char *fs_move_kind_name(enum fs_move_kind k)
{
	switch (k) {
	case FS_MOVE_LOCAL:
		return "local copy";
	case FS_MOVE_REMOTE:
		return "remote copy";
	case FS_MOVE_VERIFY:
		return "re-hash";
	}
	return "?";
}

static bool job_cancelled(const struct fs_move_job *j)
{
	return __atomic_load_n(&j->cancelled, __ATOMIC_ACQUIRE);
}

/* A job and the mover running it: the argument of the change check. */
struct running {
	struct fs_mover *m;
	struct fs_move_job *j;
};

/* Whether the file is as when the job was prepared (shadow_unchanged_since
 * on the job's own fd: the entry's O_PATH fd belongs to the control
 * thread). */
static bool unchanged(void *arg)
{
	struct running *r = arg;
	return shadow_unchanged_since(r->m->sh, r->j->s, r->j->version, &r->j->st0, r->j->fd);
}

/* Ahead of each chunk of a commit's re-read: a cancelled job stops it. */
static int stop_if_cancelled(void *arg, uint64_t off, size_t want)
{
	(void)off;
	(void)want;
	return job_cancelled(arg) ? -ECANCELED : 0;
}

/* LOCAL: one paced read of the origin into the store, verified at commit,
 * flushed to its final name (so its ctime no longer moves), opened. */
static int run_local(struct fs_mover *m, struct fs_move_job *j)
{
	struct running arg = {m, j};
	const uint8_t *id = j->s->id;
	uint64_t size = (uint64_t)j->st0.st_size, copy_size = 0;
	uint8_t sha[SYNC_SHA256_LEN];
	struct daemon_store_writer *w = NULL;
	int copy_fd = -1;
	/* Old versions (an earlier mount's, a stale one) go first. */
	daemon_store_delete(j->store, id, DAEMON_STORE_ALL_VERSIONS);
	/* A change of the origin stops it at the next chunk (-EAGAIN), as
	 * does a cancel (-ECANCELED); the store removes its temporary file. */
	struct fs_copy_pace_check chk = {m->sh->pace, unchanged, &arg, &j->cancelled, &j->read};
	struct sync_pace pace = fs_copy_pace_hook_checked(&chk);
	int rc = daemon_store_create_from_fd(j->store, id, j->version, j->fd, size, &pace, sha, &w);
	if (rc == 0) /* re-reads the copy for its SHA-256; a cancel stops it */
		rc = daemon_store_commit_each(w, sha, stop_if_cancelled, j);
	if (rc < 0)
		return rc;
	daemon_store_flush(j->store);
	rc = daemon_store_open_copy(j->store, id, j->version, &copy_fd, &copy_size);
	struct stat cst;
	if (rc == 0 && copy_size != size)
		rc = -EAGAIN;
	if (rc == 0 && fstat(copy_fd, &cst) < 0)
		rc = -errno;
	if (rc == 0 && job_cancelled(j))
		rc = -ECANCELED;
	if (rc < 0) {
		if (copy_fd >= 0)
			close(copy_fd);
		daemon_store_delete(j->store, id, j->version);
		return rc;
	}
	shadow_origin_stamp(&cst, &j->file);
	memcpy(j->digest, sha, sizeof(j->digest));
	j->copy_fd = copy_fd;
	return 0;
}

static int run_remote(struct fs_mover *m, struct fs_move_job *j)
{
	struct running arg = {m, j};
	if (!m->remote)
		return -ENOTCONN;
	struct fs_remote_make mk = {.host = j->host,
				    .version = j->version,
				    .base = j->base,
				    .fd = j->fd,
				    .size = (uint64_t)j->st0.st_size,
				    .unchanged = unchanged,
				    .arg = &arg,
				    .pace = m->sh->pace,
				    .stop = &j->cancelled,
				    .read = &j->read,
				    .path = j->path};
	return fs_remote_copies_make(m->remote, j->s, &mk, &j->res);
}

struct verify_arg {
	struct fs_move_job *j;
	unsigned delay_ms; /* -o fault_verify_delay_ms (tests only) */
};

static int verify_before(void *arg, uint64_t off, size_t want)
{
	struct verify_arg *va = arg;
	for (unsigned ms = 0; ms < va->delay_ms && !job_cancelled(va->j); ms += 10)
		usleep(10000);
	return stop_if_cancelled(va->j, off, want);
}

/* VERIFY: re-hashed from the store (not paced: it reads the copy's disk,
 * not the origin's), or by the remote host. */
static int run_verify(struct fs_mover *m, struct fs_move_job *j)
{
	if (j->remote)
		return m->remote ? fs_remote_copies_verify(m->remote, j->host, j->s->id, j->version,
							   j->sha256, j->size, &j->cancelled)
				 : -ENOTCONN;
	if (!j->store)
		return -ENOENT;
	struct verify_arg va = {.j = j, .delay_ms = m->sh->ctx->opts->fault_verify_delay_ms};
	return daemon_store_verify_each(j->store, j->s->id, j->version, j->sha256, verify_before,
					&va);
}

/* Before a copy reads the origin: its dirty pages written back. A page a
 * process has mapped shared (in BACKING, behind the mount's back) and
 * stored to stays writable while dirty, so its next stores fault no more
 * and move neither mtime nor ctime: a copy made then holds bytes the next
 * store changes without a trace, and served them for good (the stamps
 * matched). Written back, the page is write-protected again, and the next
 * store moves the times (page_mkwrite) before its bytes can be read, as
 * the stamp checks assume. Usually nothing is dirty: no cost. (A tmpfs
 * BACKING never write-protects its pages again: not covered.) */
static void origin_writeback(int fd)
{
	if (fd >= 0)
		(void)sync_file_range(fd, 0, 0,
				      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					  SYNC_FILE_RANGE_WAIT_AFTER);
}

static void run(struct fs_mover *m, struct fs_move_job *j)
{
	uint64_t t0 = shadow_now_ms();
	if (j->kind != FS_MOVE_VERIFY)
		origin_writeback(j->fd);
	if (m->express)
		fs_copy_pace_priority(m->sh->pace, &j->cancelled);
	switch (j->kind) {
	case FS_MOVE_LOCAL:
		j->rc = run_local(m, j);
		break;
	case FS_MOVE_REMOTE:
		j->rc = run_remote(m, j);
		break;
	case FS_MOVE_VERIFY:
		j->rc = run_verify(m, j);
		break;
	}
	if (m->express)
		fs_copy_pace_priority(m->sh->pace, NULL);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	j->run_ms = shadow_now_ms() - t0;
	if (j->rc == -ECANCELED && job_cancelled(j)) { /* not the unmount's bucket cancel */
		char where[600];
		fs_hosts_label(m->sh->hosts, (size_t)j->host, where, sizeof(where));
		sfs_info("shadow: %s of %s on %s cancelled after %llu ms",
			 fs_move_kind_name(j->kind), j->path, where,
			 (unsigned long long)j->run_ms);
	}
}

static void *mover_thread(void *arg)
{
	struct fs_mover *m = arg;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		while (!m->stopping && m->state != MOVER_QUEUED)
			pthread_cond_wait(&m->wake, &m->lock);
		if (m->stopping)
			break;
		m->state = MOVER_RUNNING;
		pthread_mutex_unlock(&m->lock);
		run(m, &m->job);
		pthread_mutex_lock(&m->lock);
		m->state = MOVER_DONE;
		pthread_mutex_unlock(&m->lock);
		shadow_wake_for_job(m->sh); /* the control thread applies it now */
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int fs_mover_new(struct fs_shadowing *sh, bool with_remote, bool express, struct fs_mover **ret)
{
	struct fs_mover *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->sh = sh;
	m->express = express;
	int r = with_remote ? fs_remote_copies_new(sh->hosts, &m->remote) : 0;
	if (r < 0) {
		free(m);
		return r;
	}
	m->job.fd = m->job.copy_fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	r = -pthread_create(&m->thread, NULL, mover_thread, m);
	if (r < 0) {
		fs_mover_free(m);
		return r;
	}
	m->started = true;
	*ret = m;
	return 0;
}

void fs_mover_free(struct fs_mover *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	__atomic_store_n(&m->job.cancelled, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->lock);
	if (m->started)
		pthread_join(m->thread, NULL);
	/* A job never started, or finished and never applied: its fds. A
	 * finished copy stays in its store, as serving copies do at unmount
	 * (versions are unique per mount: the next copy of the file deletes
	 * it). */
	if (m->job.fd >= 0)
		close(m->job.fd);
	if (m->job.copy_fd >= 0)
		close(m->job.copy_fd);
	fs_remote_copies_free(m->remote);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

bool fs_mover_idle(struct fs_mover *m)
{
	pthread_mutex_lock(&m->lock);
	bool idle = m->state == MOVER_IDLE;
	pthread_mutex_unlock(&m->lock);
	return idle;
}

int fs_mover_submit(struct fs_mover *m, const struct fs_move_job *j)
{
	pthread_mutex_lock(&m->lock);
	if (m->state != MOVER_IDLE || m->stopping) {
		pthread_mutex_unlock(&m->lock);
		return -EBUSY;
	}
	m->job = *j;
	m->job.rc = 0;
	m->job.copy_fd = -1;
	m->job.run_ms = 0;
	m->job.cancelled = false;
	m->state = MOVER_QUEUED;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

struct fs_move_job *fs_mover_done(struct fs_mover *m)
{
	pthread_mutex_lock(&m->lock);
	bool done = m->state == MOVER_DONE;
	pthread_mutex_unlock(&m->lock);
	return done ? &m->job : NULL;
}

void fs_mover_release(struct fs_mover *m)
{
	pthread_mutex_lock(&m->lock);
	if (m->job.copy_fd >= 0)
		close(m->job.copy_fd); /* not taken by the caller */
	m->job.copy_fd = -1;
	m->job.s = NULL;
	m->state = MOVER_IDLE;
	pthread_mutex_unlock(&m->lock);
}

/* The job matches: on s (and slot unless -1), or on host (s NULL). */
static bool matches(const struct fs_mover *m, const struct daemon_shadow_file *s, int slot,
		    int host)
{
	const struct fs_move_job *j = &m->job;
	if (m->state == MOVER_IDLE)
		return false;
	if (!s)
		return j->host == host;
	return j->s == s && (slot < 0 || j->slot == slot);
}

static bool cancel_matching(struct fs_mover *m, const struct daemon_shadow_file *s, int slot,
			    int host)
{
	pthread_mutex_lock(&m->lock);
	bool hit = matches(m, s, slot, host);
	if (hit)
		__atomic_store_n(&m->job.cancelled, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&m->lock);
	return hit;
}

bool fs_mover_cancel_verify(struct fs_mover *m)
{
	pthread_mutex_lock(&m->lock);
	bool hit = (m->state == MOVER_QUEUED || m->state == MOVER_RUNNING) &&
		   m->job.kind == FS_MOVE_VERIFY;
	if (hit)
		__atomic_store_n(&m->job.cancelled, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&m->lock);
	return hit;
}

bool fs_mover_cancel(struct fs_mover *m, const struct daemon_shadow_file *s, int slot)
{
	return cancel_matching(m, s, slot, -1);
}

bool fs_mover_cancel_host(struct fs_mover *m, int host)
{
	return cancel_matching(m, NULL, -1, host);
}

bool fs_mover_on(struct fs_mover *m, const struct daemon_shadow_file *s, int slot)
{
	pthread_mutex_lock(&m->lock);
	bool hit = matches(m, s, slot, -1);
	pthread_mutex_unlock(&m->lock);
	return hit;
}

const struct daemon_shadow_file *fs_mover_copy_of(struct fs_mover *m)
{
	pthread_mutex_lock(&m->lock);
	const struct daemon_shadow_file *s =
	    (m->state == MOVER_QUEUED || m->state == MOVER_RUNNING) && m->job.kind != FS_MOVE_VERIFY
		? m->job.s
		: NULL;
	pthread_mutex_unlock(&m->lock);
	return s;
}

bool fs_mover_copying(struct fs_mover *m, const struct daemon_shadow_file *s, int slot)
{
	pthread_mutex_lock(&m->lock);
	bool hit = matches(m, s, slot, -1) && m->job.kind != FS_MOVE_VERIFY;
	pthread_mutex_unlock(&m->lock);
	return hit;
}

bool fs_mover_copy_progress(struct fs_mover *m, const struct daemon_shadow_file *s, int slot,
			    uint64_t *read, uint64_t *size)
{
	if (!m)
		return false;
	pthread_mutex_lock(&m->lock);
	bool hit = matches(m, s, slot, -1) && m->job.kind != FS_MOVE_VERIFY;
	if (hit) {
		*read = __atomic_load_n(&m->job.read, __ATOMIC_RELAXED);
		*size = (uint64_t)m->job.st0.st_size;
	}
	pthread_mutex_unlock(&m->lock);
	return hit;
}
