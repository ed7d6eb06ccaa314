/* FUSE over io_uring: per-CPU queues of worker threads, each with its own
 * io_uring and one registered entry; the request hand-over to libfuse and
 * the reply commit. See uring.h for the protocol and the rules. */
#include "fs/uring.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/fs.h"
#include "fs/fuse_proto.h"
#include "fs/kernel_order.h"
#include "fs/killpriv.h"
#include "fs/tmpfile.h"

#define URING_DEPTH 4
#define URING_STOP_DATA UINT64_MAX  /* user_data of the wake-up to stop */
#define URING_CMD_DATA 1            /* user_data of REGISTER / COMMIT_AND_FETCH */
/* Room before the payload for the in header and the op argument, so that
 * the request reads as one buffer without moving the payload. */
#define URING_LEAD 4096
#define URING_MIN_PAYLOAD 8192      /* the kernel's FUSE_MIN_READ_BUFFER */

struct uring_worker {
	struct fs_uring *u;
	struct io_uring ring;
	bool ring_ok;        /* ring set up (io_uring_queue_exit at the end) */
	bool deferred;       /* DEFER_TASKRUN ring, created disabled */
	bool started;        /* thread created */
	pthread_t tid;
	unsigned qid;        /* the CPU whose queue this worker serves */
	struct fp_uring_req_header *hdr; /* registered header buffer */
	char *buf;           /* URING_LEAD + payload_sz, page aligned */
	char *payload;       /* buf + URING_LEAD: the registered payload */
	struct iovec iov[2];
	uint64_t unique;     /* request being served, 0 between requests */
	bool replied;        /* fs_uring_reply wrote its reply */
};

struct fs_uring {
	struct fs_ctx *c;
	struct fuse_session *se;
	int dev_fd;
	unsigned nr_queues;  /* the kernel's: possible CPUs */
	unsigned n;          /* workers */
	struct uring_worker *w;
	struct io_uring ctl; /* main thread's: wakes workers (MSG_RING) */
	bool ctl_ok;
	bool asked;          /* the INIT reply asks for io_uring */
	size_t payload_sz;   /* from the INIT reply */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool init_done;      /* under lock: the INIT reply went out */
	bool init_ok;        /* under lock: and asked for io_uring */
	atomic_bool stop;
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t unreplied;
	atomic_uint_fast64_t registered;
	atomic_int warned;
};

static __thread struct uring_worker *current_worker;

/* The kernel has one queue per possible CPU (num_possible_cpus). */
static unsigned possible_cpus(void)
{
	unsigned lo, hi;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	int n = f ? fscanf(f, "%u-%u", &lo, &hi) : 0;
	if (f)
		fclose(f);
	if (n == 2 && hi >= lo && hi < 4096)
		return hi + 1;
	if (n == 1 && lo < 4096)
		return lo + 1;
	int conf = get_nprocs_conf();
	return conf > 0 ? (unsigned)conf : 1;
}

/* A worker's ring: 128-byte SQEs (the command area), and completions run
 * only when the worker waits for them (DEFER_TASKRUN: no interrupt of a
 * worker busy with a request). Such a ring has one submitter, the worker:
 * created disabled here, enabled by the worker. *deferred tells which
 * kind was made (older kernels: a plain ring). */
static int ring_setup(struct io_uring *r, unsigned flags, bool *deferred)
{
	struct io_uring_params p = {.flags = flags | IORING_SETUP_SINGLE_ISSUER |
					     IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED};
	int rc = io_uring_queue_init_params(URING_DEPTH, r, &p);
	*deferred = rc == 0;
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = flags | IORING_SETUP_COOP_TASKRUN;
		rc = io_uring_queue_init_params(URING_DEPTH, r, &p);
	}
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = flags;
		rc = io_uring_queue_init_params(URING_DEPTH, r, &p);
	}
	return rc;
}

int fs_uring_new(struct fs_ctx *c, unsigned threads, struct fs_uring **out)
{
	*out = NULL;
	struct fs_uring *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->c = c;
	u->dev_fd = -1;
	u->nr_queues = possible_cpus();
	unsigned per_queue = threads / u->nr_queues;
	if (per_queue == 0)
		per_queue = 1;
	u->n = per_queue * u->nr_queues;
	u->w = calloc(u->n, sizeof(*u->w));
	if (!u->w) {
		free(u);
		return -ENOMEM;
	}
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	struct io_uring_params cp = {0};
	int rc = io_uring_queue_init_params(URING_DEPTH, &u->ctl, &cp);
	u->ctl_ok = rc == 0;
	for (unsigned i = 0; rc == 0 && i < u->n; i++) {
		struct uring_worker *w = &u->w[i];
		w->u = u;
		w->qid = i % u->nr_queues;
		rc = ring_setup(&w->ring, IORING_SETUP_SQE128, &w->deferred);
		w->ring_ok = rc == 0;
	}
	if (rc < 0) {
		sfs_warn("io_uring: cannot set up a ring (%s%s): serving through /dev/fuse",
			 strerror(-rc),
			 rc == -EPERM ? ", see /proc/sys/kernel/io_uring_disabled" : "");
		fs_uring_free(u);
		return 0;
	}
	*out = u;
	return 0;
}

bool fs_uring_init(struct fs_uring *u, uint32_t offered_flags2)
{
	if (!u)
		return false;
	u->asked = false;
	if (!(offered_flags2 & FP_OVER_IO_URING_FLAGS2)) {
		sfs_warn("io_uring: the kernel does not offer FUSE over io_uring (Linux >= 6.14 "
			 "with CONFIG_FUSE_IO_URING, and "
			 "/sys/module/fuse/parameters/enable_uring set to Y): serving through "
			 "/dev/fuse");
		return false;
	}
	u->asked = true;
	return true;
}

void fs_uring_edit_init_reply(struct fs_uring *u, struct fp_init_out *io)
{
	if (!u || !u->asked)
		return;
	if (!(io->flags & FP_INIT_EXT)) {
		sfs_warn("io_uring: INIT reply without FUSE_INIT_EXT: serving through /dev/fuse");
		u->asked = false;
		return;
	}
	/* The kernel wants a payload of at least max(8 KiB, max_write,
	 * max_pages pages) (dev_uring.c, fuse_uring_create). */
	size_t pages = (io->flags & FP_MAX_PAGES) && io->max_pages ? io->max_pages : 32;
	size_t sz = io->max_write;
	if (sz < pages * 4096)
		sz = pages * 4096;
	if (sz < URING_MIN_PAYLOAD)
		sz = URING_MIN_PAYLOAD;
	u->payload_sz = (sz + 4095) & ~(size_t)4095;
	io->flags2 |= FP_OVER_IO_URING_FLAGS2;
}

void fs_uring_init_replied(struct fs_uring *u, bool writev_ok)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->init_done = true;
	u->init_ok = writev_ok && u->asked;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

static void prep_cmd(struct uring_worker *w, uint32_t op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	if (!sqe) /* cannot happen: one command at a time on a ring of URING_DEPTH */
		return;
	memset(sqe, 0, 2 * sizeof(*sqe)); /* a 128-byte SQE */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = w->u->dev_fd;
	sqe->cmd_op = op;
	sqe->user_data = URING_CMD_DATA;
	if (op == FP_URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)w->iov;
		sqe->len = 2;
	}
	struct fp_uring_cmd_req req = {.commit_id = commit_id, .qid = (uint16_t)w->qid};
	memcpy(sqe->cmd, &req, sizeof(req));
}

static void warn_once(struct fs_uring *u, const char *what, int err)
{
	if (atomic_exchange(&u->warned, 1) == 0)
		sfs_warn("io_uring: %s: %s (logged once)", what, strerror(err));
}

/* An answer of error err to the request in the entry (nothing else). */
static void reply_error(struct uring_worker *w, int err)
{
	struct fp_out_header oh = {.len = sizeof(oh), .error = -err, .unique = w->unique};
	memcpy(w->hdr->in_out, &oh, sizeof(oh));
	struct fp_uring_ent_in_out eio = {.commit_id = w->unique};
	memcpy(&w->hdr->ring_ent_in_out, &eio, sizeof(eio));
}

/* Lays the request in the entry out as libfuse reads it from /dev/fuse
 * and runs it; the reply lands in the entry (fs_uring_reply). */
static void serve_request(struct uring_worker *w)
{
	struct fs_uring *u = w->u;
	struct fp_in_header ih;
	struct fp_uring_ent_in_out eio;
	fs_kernel_order_request();
	memcpy(&ih, w->hdr->in_out, sizeof(ih));
	memcpy(&eio, &w->hdr->ring_ent_in_out, sizeof(eio));
	w->unique = ih.unique;
	w->replied = false;
	size_t pay = eio.payload_sz;
	if (pay > u->payload_sz || ih.len < sizeof(ih) + pay ||
	    ih.len - sizeof(ih) - pay > FP_URING_OP_IN_OUT_SZ) {
		warn_once(u, "a request with sizes that do not add up", EPROTO);
		reply_error(w, EIO);
		return;
	}
	size_t op_len = ih.len - sizeof(ih) - pay;
	char *start = w->payload - sizeof(ih) - op_len;
	memcpy(start, &ih, sizeof(ih));
	memcpy(start + sizeof(ih), w->hdr->op_in, op_len);
	struct fuse_buf fb = {.mem = start, .size = ih.len};
	fs_killpriv_note(start, ih.len);
	fs_tmpfile_rewrite(start, ih.len);
	if (atomic_fetch_add_explicit(&u->requests, 1, memory_order_relaxed) == 0)
		sfs_info("io_uring: serving requests through %u rings on %u CPU queues", u->n,
			 u->nr_queues);
	fuse_session_process_buf(u->se, &fb);
	if (!w->replied) {
		atomic_fetch_add(&u->unreplied, 1);
		warn_once(u, "a handler returned without replying on its thread", EIO);
		reply_error(w, EIO);
	}
}

bool fs_uring_reply(const struct iovec *iov, int count)
{
	struct uring_worker *w = current_worker;
	struct fp_out_header oh;
	if (!w || w->unique == 0 || w->replied || count < 1 || iov[0].iov_len != sizeof(oh))
		return false;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (oh.unique != w->unique)
		return false;
	size_t total = 0;
	for (int i = 1; i < count; i++)
		total += iov[i].iov_len;
	if (total > w->u->payload_sz) {
		reply_error(w, EIO);
		w->replied = true;
		return true;
	}
	if (!(count == 2 && iov[1].iov_base == w->payload)) {
		size_t at = 0;
		for (int i = 1; i < count; i++) {
			memmove(w->payload + at, iov[i].iov_base, iov[i].iov_len);
			at += iov[i].iov_len;
		}
	}
	memcpy(w->hdr->in_out, &oh, sizeof(oh));
	struct fp_uring_ent_in_out eio = {.commit_id = w->unique, .payload_sz = (uint32_t)total};
	memcpy(&w->hdr->ring_ent_in_out, &eio, sizeof(eio));
	w->replied = true;
	return true;
}

void *fs_uring_reply_buf(size_t size)
{
	struct uring_worker *w = current_worker;
	if (!w || w->unique == 0 || size > w->u->payload_sz)
		return NULL;
	return w->payload;
}

static bool wait_for_init(struct fs_uring *u)
{
	pthread_mutex_lock(&u->lock);
	while (!u->init_done && !atomic_load(&u->stop))
		pthread_cond_wait(&u->cond, &u->lock);
	bool ok = u->init_ok && !atomic_load(&u->stop);
	pthread_mutex_unlock(&u->lock);
	return ok;
}

static int alloc_entry(struct uring_worker *w)
{
	size_t psz = w->u->payload_sz;
	void *h = NULL, *b = NULL;
	if (posix_memalign(&h, 64, sizeof(*w->hdr)) != 0 ||
	    posix_memalign(&b, 4096, URING_LEAD + psz) != 0) {
		free(h);
		return -ENOMEM;
	}
	memset(h, 0, sizeof(*w->hdr));
	w->hdr = h;
	w->buf = b;
	w->payload = w->buf + URING_LEAD;
	w->iov[0] = (struct iovec){.iov_base = w->hdr, .iov_len = sizeof(*w->hdr)};
	w->iov[1] = (struct iovec){.iov_base = w->payload, .iov_len = psz};
	return 0;
}

static void pin_to_queue_cpu(struct uring_worker *w)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(w->qid, &set);
	(void)sched_setaffinity(0, sizeof(set), &set); /* an offline CPU: unpinned */
}

static void *worker_main(void *arg)
{
	struct uring_worker *w = arg;
	struct fs_uring *u = w->u;
	current_worker = w;
	/* (liburing 2.3 declares io_uring_enable_rings but does not export it) */
	if (w->deferred && syscall(__NR_io_uring_register, w->ring.ring_fd,
				   IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0) {
		warn_once(u, "cannot enable a ring", EINVAL);
		return NULL;
	}
	if (!wait_for_init(u))
		return NULL;
	if (alloc_entry(w) < 0) {
		warn_once(u, "cannot allocate an entry", ENOMEM);
		return NULL;
	}
	pin_to_queue_cpu(w);
	prep_cmd(w, FP_URING_CMD_REGISTER, 0);
	int registers = 1;
	atomic_fetch_add(&u->registered, 1);
	for (;;) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_submit_and_wait(&w->ring, 1);
		if (rc == -EINTR)
			continue;
		if (rc == -EAGAIN || rc == -EBUSY) { /* short of memory: again soon */
			usleep(1000);
			continue;
		}
		if (rc < 0) {
			warn_once(u, "io_uring_enter", -rc);
			break;
		}
		rc = io_uring_peek_cqe(&w->ring, &cqe);
		if (rc < 0)
			continue;
		uint64_t data = cqe->user_data;
		int res = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
		if (data == URING_STOP_DATA || atomic_load(&u->stop))
			break;
		if (res == -ENOTCONN || res == -ECANCELED || res == -ECONNABORTED)
			break; /* the connection is gone (unmounted) */
		if (res < 0) {
			/* A commit the kernel refused leaves that entry with it:
			 * register the buffers again so the queue keeps a reader. */
			warn_once(u, "a ring command failed", -res);
			if (++registers > 64)
				break;
			prep_cmd(w, FP_URING_CMD_REGISTER, 0);
			continue;
		}
		serve_request(w);
		uint64_t unique = w->unique;
		w->unique = 0;
		prep_cmd(w, FP_URING_CMD_COMMIT_AND_FETCH, unique);
	}
	return NULL;
}

int fs_uring_start(struct fs_uring *u, struct fuse_session *se)
{
	if (!u)
		return 0;
	u->se = se;
	u->dev_fd = fuse_session_fd(se);
	/* Workers take no signals: libfuse's SIGTERM handler must land on a
	 * thread of its own loop, which a signal wakes to notice the exit. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = 0;
	for (unsigned i = 0; i < u->n && rc == 0; i++) {
		rc = pthread_create(&u->w[i].tid, NULL, worker_main, &u->w[i]);
		u->w[i].started = rc == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

void fs_uring_free(struct fs_uring *u)
{
	if (!u)
		return;
	atomic_store(&u->stop, true);
	pthread_mutex_lock(&u->lock);
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	/* A worker waiting in io_uring_enter is woken by a message on its
	 * ring (its submission queue is its own: nothing else touches it). */
	for (unsigned i = 0; u->ctl_ok && i < u->n; i++) {
		struct uring_worker *w = &u->w[i];
		if (!w->started || !w->ring_ok)
			continue;
		struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ctl);
		if (!sqe) {
			io_uring_submit(&u->ctl);
			sqe = io_uring_get_sqe(&u->ctl);
		}
		if (!sqe)
			break;
		io_uring_prep_msg_ring(sqe, w->ring.ring_fd, 0, URING_STOP_DATA, 0);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
	if (u->ctl_ok)
		io_uring_submit(&u->ctl);
	for (unsigned i = 0; i < u->n; i++) {
		struct uring_worker *w = &u->w[i];
		if (w->started)
			pthread_join(w->tid, NULL);
		if (w->ring_ok)
			io_uring_queue_exit(&w->ring);
		free(w->hdr);
		free(w->buf);
	}
	if (u->ctl_ok)
		io_uring_queue_exit(&u->ctl);
	if (atomic_load(&u->registered))
		sfs_info("io_uring: %u workers on %u queues served %llu requests (%llu unreplied)",
			  u->n, u->nr_queues, (unsigned long long)atomic_load(&u->requests),
			  (unsigned long long)atomic_load(&u->unreplied));
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	free(u->w);
	free(u);
}
