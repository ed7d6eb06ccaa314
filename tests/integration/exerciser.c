/* exerciser: randomized multi-process data-integrity check for a directory
 * (meant for a FUSE mount, works anywhere).
 *
 *   exerciser [--ops N] [--procs P] [--seed S] [--files F] [--backing DIR] DIR
 *
 * P processes run N random operations each: pwrite (persistent or fresh fd,
 * O_APPEND too), pread, ftruncate/truncate, mmap stores and loads, fsync,
 * fdatasync, close/reopen, rename and unlink within the process's own set of
 * names, aligned O_DIRECT writes and reads through a second fd kept open
 * beside the buffered one (where DIR's filesystem takes O_DIRECT),
 * copy_file_range between two of its files, fallocate (punching holes,
 * zeroing ranges, allocating space; modes the filesystem refuses are left
 * out), and
 * stores/loads in the process's own byte range of one shared file
 * (ranges are deliberately not page aligned, so neighbours share pages).
 * Each process owns its names and its range, so an in-memory model predicts
 * every read exactly and every read is checked. When all processes are done,
 * each one checks its final content through freshly opened files (and, with
 * --backing, through the backing directory DIR is a view of).
 *
 * Reproducible: process p draws from a PRNG seeded by (S, p), so a seed
 * replays the same operations (interleaving between processes differs, but
 * no process can observe it). The seed is printed first; without --seed one
 * is chosen from the clock. Exit 0 = every check passed, 1 = a mismatch (the
 * message names seed, process, op number, file, offset), 2 = usage/setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EX_MAX_SIZE (256 * 1024) /* per-file size bound */
#define EX_MAX_IO (20000)	 /* bound of one write/read */
#define EX_RANGE 50001		 /* bytes of the shared file per process */
#define EX_MAX_PROCS 32
#define EX_PATH (PATH_MAX + 64)
#define EX_DIRECT_ALIGN 4096
#define EX_DIRECT_MAX (4 * EX_DIRECT_ALIGN) /* bound of one O_DIRECT write/read */
#define EX_FALLOC_MODES 5

enum ex_op {
	OP_WRITE, OP_WRITE_FRESH, OP_APPEND, OP_READ, OP_TRUNCATE, OP_MMAP_WRITE, OP_MMAP_READ,
	OP_FSYNC, OP_RENAME, OP_UNLINK, OP_REOPEN, OP_STAT, OP_SH_WRITE, OP_SH_MMAP_WRITE,
	OP_SH_READ, OP_DIRECT, OP_COPY_RANGE, OP_FALLOCATE, OP_COUNT
};
static const char *const ex_opname[OP_COUNT] = {
	"write", "write_fresh", "append", "read", "truncate", "mmap_write", "mmap_read",
	"fsync", "rename", "unlink", "reopen", "stat", "shared_write", "shared_mmap_write",
	"shared_read", "direct", "copy_range", "fallocate",
};
/* Relative frequencies of the operations above. */
static const unsigned ex_weight[OP_COUNT] = { 14, 4, 3, 16, 5, 6, 6, 3, 4, 1, 3, 4, 8, 5, 8, 6, 4, 3 };

/* One name slot of a process: the model of what the file must contain. */
struct ex_slot {
	bool exists;
	size_t size;
	unsigned char *data; /* EX_MAX_SIZE bytes; [0, size) meaningful */
	int fd;		     /* persistent O_RDWR fd or -1 */
	int dfd;	     /* persistent O_RDWR|O_DIRECT fd or -1 */
};

/* Per-process state; nothing is shared between processes but the files. */
struct ex_proc {
	int id;
	uint64_t rng;
	uint64_t seed;
	long opno;
	enum ex_op op;
	const char *dir;     /* work dir */
	const char *bdir;    /* backing work dir or NULL */
	int nslots;
	struct ex_slot *slot;
	unsigned char *shared; /* model of this process's range */
	int shfd;
	long counts[OP_COUNT];
	long pagesz;
	bool direct_ok;	      /* DIR's filesystem takes O_DIRECT opens */
	unsigned falloc_off;  /* fallocate modes it refused (EOPNOTSUPP) */
	unsigned char *dbuf;  /* EX_DIRECT_MAX bytes, aligned for O_DIRECT */
	bool corrupt; /* --self-test-corrupt */
};

static uint64_t ex_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t ex_below(struct ex_proc *p, size_t n)
{
	return n ? (size_t)(ex_next(&p->rng) % n) : 0;
}

static void ex_fill(struct ex_proc *p, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = ex_next(&p->rng);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static void ex_path(const struct ex_proc *p, const char *dir, int k, char *out, size_t n)
{
	snprintf(out, n, "%s/p%d_s%d", dir, p->id, k);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
ex_fail(struct ex_proc *p, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("exerciser: FAIL seed=%" PRIu64 " proc=%d op#%ld (%s): %s\n", p->seed, p->id, p->opno,
	       p->opno < 0 ? "final check" : ex_opname[p->op], msg);
	fflush(stdout);
	_exit(1);
}

/* Compare got against want; on a difference, fail with the first byte. */
static void ex_check(struct ex_proc *p, const char *what, off_t off, const unsigned char *want,
		     const unsigned char *got, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (want[i] != got[i])
			ex_fail(p, "%s: %zu bytes at offset %lld: first difference at offset %lld: "
				   "expected 0x%02x, got 0x%02x",
				what, len, (long long)off, (long long)(off + (off_t)i), want[i], got[i]);
	}
}

static int ex_fd(struct ex_proc *p, int k)
{
	char path[EX_PATH];
	struct ex_slot *s = &p->slot[k];

	if (s->fd < 0) {
		ex_path(p, p->dir, k, path, sizeof(path));
		s->fd = open(path, O_RDWR | O_CREAT, 0644);
		if (s->fd < 0)
			ex_fail(p, "open %s: %s", path, strerror(errno));
		if (!s->exists) {
			s->exists = true;
			s->size = 0;
		}
	}
	return s->fd;
}

/* Pick a slot; existing ones when want_existing (or -1 if there is none). */
static int ex_pick(struct ex_proc *p, bool want_existing)
{
	int start = (int)ex_below(p, (size_t)p->nslots);

	if (!want_existing)
		return start;
	for (int i = 0; i < p->nslots; i++) {
		int k = (start + i) % p->nslots;

		if (p->slot[k].exists)
			return k;
	}
	return -1;
}

/* Apply a write at off to the model (zero-filling a gap past EOF). */
static void ex_model_write(struct ex_slot *s, off_t off, const unsigned char *buf, size_t len)
{
	if ((size_t)off > s->size)
		memset(s->data + s->size, 0, (size_t)off - s->size);
	memcpy(s->data + off, buf, len);
	if ((size_t)off + len > s->size)
		s->size = (size_t)off + len;
}

static void ex_model_truncate(struct ex_slot *s, size_t size)
{
	if (size > s->size)
		memset(s->data + s->size, 0, size - s->size);
	s->size = size;
}

static void op_write(struct ex_proc *p, bool fresh)
{
	unsigned char buf[EX_MAX_IO];
	int k = ex_pick(p, false), fd;
	size_t len = 1 + ex_below(p, EX_MAX_IO);
	off_t off = (off_t)ex_below(p, EX_MAX_SIZE - len);
	char path[EX_PATH];
	ssize_t n;

	ex_fill(p, buf, len);
	if (fresh) {
		ex_path(p, p->dir, k, path, sizeof(path));
		fd = open(path, O_WRONLY | O_CREAT, 0644);
		if (fd < 0)
			ex_fail(p, "open %s: %s", path, strerror(errno));
		if (!p->slot[k].exists) {
			p->slot[k].exists = true;
			p->slot[k].size = 0;
		}
	} else {
		fd = ex_fd(p, k);
	}
	n = pwrite(fd, buf, len, off);
	if (n != (ssize_t)len)
		ex_fail(p, "pwrite slot %d %zu@%lld = %zd (%s)", k, len, (long long)off, n,
			n < 0 ? strerror(errno) : "short");
	if (fresh && close(fd) < 0)
		ex_fail(p, "close after write: %s", strerror(errno));
	ex_model_write(&p->slot[k], off, buf, len);
}

static void op_append(struct ex_proc *p)
{
	unsigned char buf[4096];
	int k = ex_pick(p, true), fd;
	size_t len = 1 + ex_below(p, sizeof(buf));
	char path[EX_PATH];
	ssize_t n;

	if (k < 0 || p->slot[k].size + len > EX_MAX_SIZE)
		return;
	ex_fill(p, buf, len);
	ex_path(p, p->dir, k, path, sizeof(path));
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		ex_fail(p, "open %s O_APPEND: %s", path, strerror(errno));
	n = write(fd, buf, len);
	if (n != (ssize_t)len)
		ex_fail(p, "append slot %d %zu = %zd (%s)", k, len, n, n < 0 ? strerror(errno) : "short");
	close(fd);
	ex_model_write(&p->slot[k], (off_t)p->slot[k].size, buf, len);
}

static void op_read(struct ex_proc *p)
{
	unsigned char buf[EX_MAX_IO];
	int k = ex_pick(p, true);
	size_t len = 1 + ex_below(p, EX_MAX_IO), want;
	off_t off;
	ssize_t n;

	if (k < 0)
		return;
	off = (off_t)ex_below(p, p->slot[k].size + 100);
	want = (size_t)off >= p->slot[k].size ? 0 : p->slot[k].size - (size_t)off;
	if (want > len)
		want = len;
	n = pread(ex_fd(p, k), buf, len, off);
	if (n != (ssize_t)want)
		ex_fail(p, "pread slot %d %zu@%lld = %zd, expected %zu (size %zu) %s", k, len,
			(long long)off, n, want, p->slot[k].size, n < 0 ? strerror(errno) : "");
	ex_check(p, "pread", off, p->slot[k].data + off, buf, want);
}

static void op_truncate(struct ex_proc *p)
{
	int k = ex_pick(p, true);
	size_t size = ex_below(p, EX_MAX_SIZE);
	char path[EX_PATH];
	int rc;

	if (k < 0)
		return;
	if (ex_below(p, 2)) {
		rc = ftruncate(ex_fd(p, k), (off_t)size);
	} else {
		ex_path(p, p->dir, k, path, sizeof(path));
		rc = truncate(path, (off_t)size);
	}
	if (rc < 0)
		ex_fail(p, "truncate slot %d to %zu: %s", k, size, strerror(errno));
	ex_model_truncate(&p->slot[k], size);
}

/* Map [off, off+len) of fd (page-aligned start); returns the byte pointer. */
static unsigned char *ex_map(struct ex_proc *p, int fd, off_t off, size_t len, void **base,
			     size_t *maplen)
{
	off_t start = off & ~((off_t)p->pagesz - 1);

	*maplen = (size_t)(off - start) + len;
	*base = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, start);
	if (*base == MAP_FAILED)
		ex_fail(p, "mmap %zu@%lld: %s", *maplen, (long long)start, strerror(errno));
	return (unsigned char *)*base + (off - start);
}

static void ex_unmap(struct ex_proc *p, void *base, size_t maplen, bool sync)
{
	if (sync && msync(base, maplen, ex_below(p, 2) ? MS_SYNC : MS_ASYNC) < 0)
		ex_fail(p, "msync: %s", strerror(errno));
	if (munmap(base, maplen) < 0)
		ex_fail(p, "munmap: %s", strerror(errno));
}

static void op_mmap(struct ex_proc *p, bool write)
{
	unsigned char buf[EX_MAX_IO], *m;
	int k = ex_pick(p, true);
	size_t len, maplen;
	off_t off;
	void *base;

	if (k < 0 || p->slot[k].size == 0)
		return;
	len = 1 + ex_below(p, p->slot[k].size < EX_MAX_IO ? p->slot[k].size : EX_MAX_IO);
	off = (off_t)ex_below(p, p->slot[k].size - len + 1);
	m = ex_map(p, ex_fd(p, k), off, len, &base, &maplen);
	if (write) {
		ex_fill(p, buf, len);
		memcpy(m, buf, len);
		memcpy(p->slot[k].data + off, buf, len);
	} else {
		ex_check(p, "mmap load", off, p->slot[k].data + off, m, len);
	}
	ex_unmap(p, base, maplen, write && ex_below(p, 2));
}

static void op_fsync(struct ex_proc *p)
{
	int k = ex_pick(p, true);

	if (k < 0)
		return;
	if ((ex_below(p, 2) ? fsync(ex_fd(p, k)) : fdatasync(ex_fd(p, k))) < 0)
		ex_fail(p, "fsync slot %d: %s", k, strerror(errno));
}

static void op_rename(struct ex_proc *p)
{
	int a = ex_pick(p, true), b = ex_pick(p, false);
	char pa[EX_PATH], pb[EX_PATH];
	struct ex_slot tmp;

	if (a < 0 || a == b)
		return;
	ex_path(p, p->dir, a, pa, sizeof(pa));
	ex_path(p, p->dir, b, pb, sizeof(pb));
	if (rename(pa, pb) < 0)
		ex_fail(p, "rename slot %d -> %d: %s", a, b, strerror(errno));
	if (p->slot[b].fd >= 0)
		close(p->slot[b].fd);
	if (p->slot[b].dfd >= 0)
		close(p->slot[b].dfd);
	/* b takes a's content and fds; a becomes absent (keeps b's buffer). */
	tmp = p->slot[b];
	p->slot[b] = p->slot[a];
	p->slot[a] = tmp;
	p->slot[a].exists = false;
	p->slot[a].size = 0;
	p->slot[a].fd = -1;
	p->slot[a].dfd = -1;
}

static void op_unlink(struct ex_proc *p)
{
	int k = ex_pick(p, true);
	char path[EX_PATH];

	if (k < 0)
		return;
	ex_path(p, p->dir, k, path, sizeof(path));
	if (unlink(path) < 0)
		ex_fail(p, "unlink slot %d: %s", k, strerror(errno));
	if (p->slot[k].fd >= 0)
		close(p->slot[k].fd);
	if (p->slot[k].dfd >= 0)
		close(p->slot[k].dfd);
	p->slot[k].fd = -1;
	p->slot[k].dfd = -1;
	p->slot[k].exists = false;
	p->slot[k].size = 0;
}

static void op_reopen(struct ex_proc *p)
{
	int k = ex_pick(p, true);

	if (k < 0 || p->slot[k].fd < 0)
		return;
	if (close(p->slot[k].fd) < 0)
		ex_fail(p, "close slot %d: %s", k, strerror(errno));
	p->slot[k].fd = -1;
}

static void op_stat(struct ex_proc *p)
{
	int k = ex_pick(p, false);
	char path[EX_PATH];
	struct stat st;
	int rc;

	ex_path(p, p->dir, k, path, sizeof(path));
	rc = stat(path, &st);
	if (!p->slot[k].exists) {
		if (rc == 0 || errno != ENOENT)
			ex_fail(p, "stat of removed slot %d: rc=%d %s", k, rc, strerror(errno));
		return;
	}
	if (rc < 0)
		ex_fail(p, "stat slot %d: %s", k, strerror(errno));
	if ((size_t)st.st_size != p->slot[k].size)
		ex_fail(p, "stat slot %d: size %lld, expected %zu", k, (long long)st.st_size,
			p->slot[k].size);
}

static void op_shared(struct ex_proc *p, enum ex_op op)
{
	unsigned char buf[EX_MAX_IO], *m;
	size_t len = 1 + ex_below(p, EX_RANGE < EX_MAX_IO ? EX_RANGE : EX_MAX_IO), maplen;
	size_t roff = ex_below(p, EX_RANGE - len + 1);
	off_t off = (off_t)p->id * EX_RANGE + (off_t)roff;
	void *base;
	ssize_t n;

	switch (op) {
	case OP_SH_WRITE:
		ex_fill(p, buf, len);
		n = pwrite(p->shfd, buf, len, off);
		if (n != (ssize_t)len)
			ex_fail(p, "shared pwrite %zu@%lld = %zd %s", len, (long long)off, n,
				n < 0 ? strerror(errno) : "");
		memcpy(p->shared + roff, buf, len);
		break;
	case OP_SH_MMAP_WRITE:
		ex_fill(p, buf, len);
		m = ex_map(p, p->shfd, off, len, &base, &maplen);
		memcpy(m, buf, len);
		memcpy(p->shared + roff, buf, len);
		ex_unmap(p, base, maplen, ex_below(p, 2));
		break;
	default:
		n = pread(p->shfd, buf, len, off);
		if (n != (ssize_t)len)
			ex_fail(p, "shared pread %zu@%lld = %zd %s", len, (long long)off, n,
				n < 0 ? strerror(errno) : "");
		ex_check(p, "shared pread", off, p->shared + roff, buf, len);
		break;
	}
}

/* An aligned O_DIRECT write or read of a slot through its direct fd, kept
 * open beside the buffered one (so that the kernel may write the buffered
 * fd's dirty pages back through it), closed one time in three. */
static void op_direct(struct ex_proc *p)
{
	int k = ex_pick(p, false);
	struct ex_slot *s = &p->slot[k];
	size_t len = EX_DIRECT_ALIGN * (1 + ex_below(p, EX_DIRECT_MAX / EX_DIRECT_ALIGN));
	off_t off = (off_t)(EX_DIRECT_ALIGN * ex_below(p, (EX_MAX_SIZE - len) / EX_DIRECT_ALIGN + 1));
	bool write = ex_below(p, 2), close_after = ex_below(p, 3) == 0;
	char path[EX_PATH];
	ssize_t n;

	if (!p->direct_ok)
		return;
	if (s->dfd < 0) {
		ex_path(p, p->dir, k, path, sizeof(path));
		s->dfd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0644);
		if (s->dfd < 0)
			ex_fail(p, "open %s O_DIRECT: %s", path, strerror(errno));
		if (!s->exists) {
			s->exists = true;
			s->size = 0;
		}
	}
	if (write) {
		ex_fill(p, p->dbuf, len);
		n = pwrite(s->dfd, p->dbuf, len, off);
		if (n != (ssize_t)len)
			ex_fail(p, "O_DIRECT pwrite slot %d %zu@%lld = %zd (%s)", k, len,
				(long long)off, n, n < 0 ? strerror(errno) : "short");
		ex_model_write(s, off, p->dbuf, len);
	} else {
		size_t want = (size_t)off >= s->size ? 0 : s->size - (size_t)off;

		if (want > len)
			want = len;
		n = pread(s->dfd, p->dbuf, len, off);
		if (n != (ssize_t)want)
			ex_fail(p, "O_DIRECT pread slot %d %zu@%lld = %zd, expected %zu (size %zu) %s",
				k, len, (long long)off, n, want, s->size,
				n < 0 ? strerror(errno) : "");
		ex_check(p, "O_DIRECT pread", off, s->data + off, p->dbuf, want);
	}
	if (close_after) {
		if (close(s->dfd) < 0)
			ex_fail(p, "close O_DIRECT slot %d: %s", k, strerror(errno));
		s->dfd = -1;
	}
}

/* copy_file_range of up to EX_MAX_IO bytes from one existing file of the
 * process to another (made if absent), continued after a short copy. */
static void op_copy_range(struct ex_proc *p)
{
	int a = ex_pick(p, true), b = ex_pick(p, false);
	size_t len = 1 + ex_below(p, EX_MAX_IO), want, done = 0;
	off_t in, out = (off_t)ex_below(p, EX_MAX_SIZE - len);

	if (a < 0 || a == b)
		return;
	in = (off_t)ex_below(p, p->slot[a].size + 1);
	want = p->slot[a].size - (size_t)in < len ? p->slot[a].size - (size_t)in : len;
	while (done < want) {
		loff_t i = in + (off_t)done, o = out + (off_t)done;
		ssize_t n = copy_file_range(ex_fd(p, a), &i, ex_fd(p, b), &o, want - done, 0);

		if (n <= 0)
			ex_fail(p, "copy_file_range slot %d %zu@%lld -> slot %d @%lld = %zd after %zu (%s)",
				a, want - done, (long long)(in + (off_t)done), b,
				(long long)(out + (off_t)done), n, done, n < 0 ? strerror(errno) : "short");
		done += (size_t)n;
	}
	if (want)
		ex_model_write(&p->slot[b], out, p->slot[a].data + in, want);
}

/* fallocate of an existing file, from its start to a little past its end:
 * a hole punched (size kept) or a range zeroed, or space allocated, each
 * growing the file or not (KEEP_SIZE). The model's bytes in a punched or
 * zeroed range become zeros; a growing call extends it with zeros. A mode
 * the filesystem refuses with EOPNOTSUPP is not tried again. */
static void op_fallocate(struct ex_proc *p)
{
	static const int modes[EX_FALLOC_MODES] = {
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE,
		FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, FALLOC_FL_KEEP_SIZE,
	};
	int k = ex_pick(p, true), m = (int)ex_below(p, EX_FALLOC_MODES);
	size_t len = 1 + ex_below(p, EX_MAX_IO), size, end;
	off_t off;

	if (k < 0 || p->falloc_off & (1u << m))
		return;
	size = p->slot[k].size;
	off = (off_t)ex_below(p, size + 100);
	if ((size_t)off + len > EX_MAX_SIZE)
		return;
	if (fallocate(ex_fd(p, k), modes[m], off, (off_t)len) < 0) {
		if (errno == EOPNOTSUPP) {
			p->falloc_off |= 1u << m;
			return;
		}
		ex_fail(p, "fallocate mode 0x%x slot %d %zu@%lld: %s", (unsigned)modes[m], k, len,
			(long long)off, strerror(errno));
	}
	if (!(modes[m] & FALLOC_FL_KEEP_SIZE) && (size_t)off + len > size)
		ex_model_truncate(&p->slot[k], (size_t)off + len);
	end = (size_t)off + len < p->slot[k].size ? (size_t)off + len : p->slot[k].size;
	if (modes[m] & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE) && (size_t)off < end)
		memset(p->slot[k].data + off, 0, end - (size_t)off);
}

/* Does dir's filesystem take O_DIRECT opens (tmpfs before 6.6, ramfs do
 * not)? Probed on the shared file. */
static bool ex_direct_probe(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECT);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Fresh-open check of every slot and of the shared range under dir. */
static void ex_final_check(struct ex_proc *p, const char *dir, const char *label)
{
	unsigned char *buf = malloc(EX_MAX_SIZE + 1);
	char path[EX_PATH], what[64];
	struct stat st;
	ssize_t n;
	int fd;

	for (int k = 0; k < p->nslots; k++) {
		struct ex_slot *s = &p->slot[k];

		ex_path(p, dir, k, path, sizeof(path));
		fd = open(path, O_RDONLY);
		if (!s->exists) {
			if (fd >= 0 || errno != ENOENT)
				ex_fail(p, "%s: removed %s still opens (%s)", label, path,
					fd >= 0 ? "exists" : strerror(errno));
			continue;
		}
		if (fd < 0)
			ex_fail(p, "%s: open %s: %s", label, path, strerror(errno));
		if (fstat(fd, &st) < 0 || (size_t)st.st_size != s->size)
			ex_fail(p, "%s: %s has size %lld, expected %zu", label, path,
				(long long)st.st_size, s->size);
		n = pread(fd, buf, EX_MAX_SIZE + 1, 0);
		if (n != (ssize_t)s->size)
			ex_fail(p, "%s: reading %s gave %zd bytes, expected %zu", label, path, n,
				s->size);
		snprintf(what, sizeof(what), "%s p%d_s%d", label, p->id, k);
		ex_check(p, what, 0, s->data, buf, s->size);
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/shared", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		ex_fail(p, "%s: open %s: %s", label, path, strerror(errno));
	n = pread(fd, buf, EX_RANGE, (off_t)p->id * EX_RANGE);
	if (n != EX_RANGE)
		ex_fail(p, "%s: shared range read gave %zd bytes", label, n);
	snprintf(what, sizeof(what), "%s shared range", label);
	ex_check(p, what, (off_t)p->id * EX_RANGE, p->shared, buf, EX_RANGE);
	close(fd);
	free(buf);
}

/* Self-test fault injection (--self-test-corrupt): flip one byte of a file
 * behind the model's back, then read the file back as op_read does: the
 * check must report the flipped byte. */
static void ex_corrupt(struct ex_proc *p)
{
	unsigned char *buf = malloc(EX_MAX_SIZE), b;
	char path[EX_PATH];
	int k = ex_pick(p, false), fd;
	size_t at;

	op_write(p, true); /* make sure some file has content */
	for (k = 0; k < p->nslots && !(p->slot[k].exists && p->slot[k].size); k++)
		;
	at = p->slot[k].size / 2;
	ex_path(p, p->dir, k, path, sizeof(path));
	fd = open(path, O_RDWR);
	b = (unsigned char)(p->slot[k].data[at] ^ 0x5a);
	if (fd < 0 || pwrite(fd, &b, 1, (off_t)at) != 1)
		ex_fail(p, "self-test corruption could not be written");
	close(fd);
	if (pread(ex_fd(p, k), buf, p->slot[k].size, 0) != (ssize_t)p->slot[k].size)
		ex_fail(p, "self-test read back failed");
	ex_check(p, "self-test read", 0, p->slot[k].data, buf, p->slot[k].size);
	free(buf);
}

static void ex_child(struct ex_proc *p, long ops, int done_w, int go_r)
{
	unsigned total = 0;
	char path[EX_PATH], c;

	for (int i = 0; i < OP_COUNT; i++)
		total += ex_weight[i];
	snprintf(path, sizeof(path), "%s/shared", p->dir);
	p->shfd = open(path, O_RDWR);
	if (p->shfd < 0)
		ex_fail(p, "open shared: %s", strerror(errno));
	p->direct_ok = ex_direct_probe(path);
	p->dbuf = aligned_alloc(EX_DIRECT_ALIGN, EX_DIRECT_MAX);
	if (!p->dbuf)
		ex_fail(p, "no memory");
	for (p->opno = 0; p->opno < ops; p->opno++) {
		unsigned r = (unsigned)ex_below(p, total);
		int op = 0;

		if (p->corrupt && p->id == 0 && p->opno == ops / 2)
			ex_corrupt(p);

		while (r >= ex_weight[op])
			r -= ex_weight[op++];
		p->op = (enum ex_op)op;
		p->counts[op]++;
		switch (p->op) {
		case OP_WRITE: op_write(p, false); break;
		case OP_WRITE_FRESH: op_write(p, true); break;
		case OP_APPEND: op_append(p); break;
		case OP_READ: op_read(p); break;
		case OP_TRUNCATE: op_truncate(p); break;
		case OP_MMAP_WRITE: op_mmap(p, true); break;
		case OP_MMAP_READ: op_mmap(p, false); break;
		case OP_FSYNC: op_fsync(p); break;
		case OP_RENAME: op_rename(p); break;
		case OP_UNLINK: op_unlink(p); break;
		case OP_REOPEN: op_reopen(p); break;
		case OP_STAT: op_stat(p); break;
		case OP_DIRECT: op_direct(p); break;
		case OP_COPY_RANGE: op_copy_range(p); break;
		case OP_FALLOCATE: op_fallocate(p); break;
		default: op_shared(p, p->op); break;
		}
	}
	for (int k = 0; k < p->nslots; k++) {
		if (p->slot[k].fd >= 0 && close(p->slot[k].fd) < 0)
			ex_fail(p, "close slot %d: %s", k, strerror(errno));
		if (p->slot[k].dfd >= 0 && close(p->slot[k].dfd) < 0)
			ex_fail(p, "close O_DIRECT slot %d: %s", k, strerror(errno));
		p->slot[k].fd = -1;
		p->slot[k].dfd = -1;
	}
	if (close(p->shfd) < 0)
		ex_fail(p, "close shared: %s", strerror(errno));
	/* Barrier: check only once every process has finished writing. */
	if (write(done_w, "d", 1) != 1)
		ex_fail(p, "barrier write: %s", strerror(errno));
	while (read(go_r, &c, 1) > 0)
		;
	p->opno = -1;
	ex_final_check(p, p->dir, "fresh open");
	if (p->bdir)
		ex_final_check(p, p->bdir, "backing dir");
	printf("exerciser: proc %d ok: %ld ops (write %ld, read %ld, mmap %ld/%ld, truncate %ld, "
	       "rename %ld, shared %ld/%ld/%ld, direct %ld%s, copy_range %ld, fallocate %ld%s)\n",
	       p->id, ops, p->counts[OP_WRITE] + p->counts[OP_WRITE_FRESH] + p->counts[OP_APPEND],
	       p->counts[OP_READ], p->counts[OP_MMAP_WRITE], p->counts[OP_MMAP_READ],
	       p->counts[OP_TRUNCATE], p->counts[OP_RENAME], p->counts[OP_SH_WRITE],
	       p->counts[OP_SH_MMAP_WRITE], p->counts[OP_SH_READ], p->counts[OP_DIRECT],
	       p->direct_ok ? "" : " not taken by the filesystem", p->counts[OP_COPY_RANGE],
	       p->counts[OP_FALLOCATE], p->falloc_off ? " (modes refused by the filesystem left)" : "");
	fflush(stdout);
	_exit(0);
}

static int rm_work(const char *dir, int procs, int nslots)
{
	char path[EX_PATH];

	for (int p = 0; p < procs; p++)
		for (int k = 0; k < nslots; k++) {
			snprintf(path, sizeof(path), "%s/p%d_s%d", dir, p, k);
			unlink(path);
		}
	snprintf(path, sizeof(path), "%s/shared", dir);
	unlink(path);
	return rmdir(dir);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: exerciser [--ops N] [--procs P] [--seed S] [--files F] [--backing DIR] "
		   "[--keep] DIR\n"
		   "  N operations per process (default 2000), P processes (default 4, max %d),\n"
		   "  F files per process (default 4), S the PRNG seed (default: from the clock).\n"
		   "  --backing: also check the final content through DIR's backing directory.\n"
		   "  --self-test-corrupt: fault injection for testing the checker itself: flips\n"
		   "  one byte behind the model's back, so the run must fail.\n",
		EX_MAX_PROCS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ops", required_argument, NULL, 'n' },   { "procs", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },  { "files", required_argument, NULL, 'f' },
		{ "backing", required_argument, NULL, 'b' }, { "keep", no_argument, NULL, 'k' },
		{ "self-test-corrupt", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },	   { NULL, 0, NULL, 0 },
	};
	long ops = 2000, procs = 4, files = 4;
	uint64_t seed;
	bool have_seed = false, keep = false, corrupt = false;
	const char *backing = NULL;
	char work[PATH_MAX], bwork[PATH_MAX], path[EX_PATH], *end;
	pid_t pids[EX_MAX_PROCS];
	int done[2], go[2], c, failed = 0, fd;
	struct timespec t0, t1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ops = strtol(optarg, &end, 10); break;
		case 'p': procs = strtol(optarg, &end, 10); break;
		case 'f': files = strtol(optarg, &end, 10); break;
		case 's':
			errno = 0;
			seed = strtoull(optarg, &end, 0);
			have_seed = errno == 0;
			break;
		case 'b': backing = optarg; end = (char *)""; break;
		case 'k': keep = true; end = (char *)""; break;
		case 'c': corrupt = true; end = (char *)""; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (*end) {
			fprintf(stderr, "exerciser: bad number: %s\n", optarg);
			return 2;
		}
	}
	if (argc - optind != 1 || ops < 0 || procs < 1 || procs > EX_MAX_PROCS || files < 1 ||
	    files > 64) {
		usage(stderr);
		return 2;
	}
	if (!have_seed) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		seed = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^ (uint64_t)getpid();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("exerciser: seed=%" PRIu64 " procs=%ld ops=%ld files=%ld dir=%s (replay with "
	       "--seed %" PRIu64 ")\n",
	       seed, procs, ops, files, argv[optind], seed);
	snprintf(work, sizeof(work), "%s/exerciser.%d", argv[optind], (int)getpid());
	if (backing)
		snprintf(bwork, sizeof(bwork), "%s/exerciser.%d", backing, (int)getpid());
	if (mkdir(work, 0755) < 0) {
		fprintf(stderr, "exerciser: cannot create %s: %s\n", work, strerror(errno));
		return 2;
	}
	if (backing && access(bwork, F_OK) < 0) {
		fprintf(stderr, "exerciser: --backing %s does not mirror %s\n", backing, argv[optind]);
		rmdir(work);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/shared", work);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)procs * EX_RANGE) < 0 || close(fd) < 0) {
		fprintf(stderr, "exerciser: cannot create %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (pipe(done) < 0 || pipe(go) < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "exerciser: fork: %s\n", strerror(errno));
			return 2;
		}
		if (pids[i] == 0) {
			struct ex_proc p = { .id = (int)i, .seed = seed, .dir = work,
					     .bdir = backing ? bwork : NULL, .pagesz = sysconf(_SC_PAGESIZE),
					     .corrupt = corrupt };

			close(done[0]);
			close(go[1]);
			p.rng = seed ^ (0xd1342543de82ef95ULL * (uint64_t)(i + 1));
			ex_next(&p.rng);
			p.nslots = (int)files * 2;
			p.slot = calloc((size_t)p.nslots, sizeof(*p.slot));
			p.shared = calloc(1, EX_RANGE);
			for (int k = 0; k < p.nslots; k++) {
				p.slot[k].data = malloc(EX_MAX_SIZE);
				p.slot[k].fd = -1;
				p.slot[k].dfd = -1;
			}
			ex_child(&p, ops, done[1], go[0]);
		}
	}
	close(done[1]);
	close(go[0]);
	/* Wait for every process to reach the barrier, or for one to fail. */
	for (long arrived = 0; arrived < procs && !failed;) {
		struct pollfd pfd = { .fd = done[0], .events = POLLIN };
		char buf[EX_MAX_PROCS];
		int st;

		if (poll(&pfd, 1, 200) == 1) {
			ssize_t n = read(done[0], buf, sizeof(buf));

			if (n > 0)
				arrived += n;
			else
				failed = 1;
		}
		for (long i = 0; i < procs; i++) {
			if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
				pids[i] = 0;
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
					failed = 1;
			}
		}
	}
	close(go[1]);
	for (long i = 0; i < procs; i++) {
		int st;

		if (pids[i] <= 0)
			continue;
		if (failed)
			kill(pids[i], SIGKILL);
		if (waitpid(pids[i], &st, 0) == pids[i] && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
			if (!failed && WIFSIGNALED(st))
				printf("exerciser: FAIL proc %ld killed by signal %d\n", i, WTERMSIG(st));
			failed = 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if ((!keep && !failed) || corrupt)
		rm_work(work, (int)procs, (int)files * 2);
	printf("exerciser: %s seed=%" PRIu64 " procs=%ld ops=%ld in %.1f s%s\n",
	       failed ? "FAIL" : "OK", seed, procs, ops,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       failed && !corrupt ? " (files kept in the work dir)" : "");
	return failed ? 1 : 0;
}
