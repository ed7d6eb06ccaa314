/* The read router: a READ of a file with a shadow-map entry is answered by
 * the origin or by one of its copies on local host stores.
 *
 * Reached only for files with an entry (fs/shadowing.c tests the inode's
 * entry pointer: one atomic load for every other file). Then:
 *   - no copy serves, or (kernel passthrough only) the file is open for
 *     writing, whose writes bypass the mount -> origin. Any other change
 *     reaches the ops layer, which bumps the version before BACKING
 *     changes, so a copy at the current version holds exactly what BACKING
 *     holds and answers what the origin would answer at that moment
 *     (bytes still in the kernel's dirty pages are in neither: a buffered
 *     read gets them from those pages, as without shadowing); an O_DIRECT
 *     read not aligned to FS_DIRECT_ALIGN -> origin too (BACKING's EINVAL);
 *   - else daemon_shadow_pick: power of two choices on in-flight reads
 *     among origin and the copies valid at the file's current version, ties
 *     to the origin;
 *   - a copy is read with pread on its fd (opened when the copy was
 *     published, verified by SHA-256 then; its file's stamps compared
 *     after the read, so a copy changed on disk since is never returned,
 *     and the origin's through the reader's fd, so a copy of bytes changed
 *     in BACKING behind the mount's back is not either),
 *     a remote copy from its shadowd
 *     through fs/remote_reads.c (pooled TLS connections, -o remote_timeout
 *     per read; a host down, suspect or with every connection busy is not
 *     tried); an error falls back to the origin, so a copy never causes an
 *     error the origin would not give; a remote copy its host no longer
 *     has or found damaged (a refused read) stops serving, one whose read
 *     failed otherwise is rolled back (an error of the copy)
 *     (a short read is the end of the file: the copy holds exactly the
 *     origin's bytes at this version; one that ends before the size the
 *     copy was made at is a damaged copy, truncated on its host: answered
 *     by the origin, the copy stops serving, see copy_short).
 * Rollout (daemon/rollout.h): a copy rolling out takes only its share of
 * the reads (a gate inside daemon_shadow_pick). Both the copy's and the
 * origin's reads are timed to the reply, so the control loop compares
 * like with like, and counted in per-copy / per-file latency buckets (one
 * relaxed atomic add each). -o fault_copy_delay_us (tests only) delays
 * every read served by a copy.
 * Files opened in kernel passthrough mode never send READ and are not
 * routed. The recorder (wrapped around this layer) times the whole READ,
 * copy or origin alike. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/shadow_map.h"
#include "fs/fs.h"
#include "fs/hosts.h"
#include "fs/passthrough.h"
#include "fs/remote_reads.h"
#include "fs/shadowing.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*, one state per thread (seeded from the thread's address). */
static uint64_t next_random(void)
{
	static __thread uint64_t x;
	if (!x)
		x = (uint64_t)(uintptr_t)&x ^ now_ns() ^ 0x9E3779B97F4A7C15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return x * 0x2545F4914F6CDD1Dull;
}

static void from_origin(struct daemon_shadow_file *s, fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi, fs_read_fn inner_read)
{
	/* Timed only while a copy serves: the rollout compares with it (with
	 * the busy origin's reads at full share, see daemon/rollout.h). */
	bool timed = __atomic_load_n(&s->serving, __ATOMIC_RELAXED) != 0;
	uint64_t t0 = timed ? now_ns() : 0;
	uint32_t others = daemon_shadow_origin_begin(s);
	inner_read(req, ino, size, off, fi);
	daemon_shadow_origin_end(s);
	if (timed) {
		uint64_t dt = now_ns() - t0;
		daemon_lat_hist_add(&s->origin_lat, dt);
		if (others)
			daemon_lat_hist_add(&s->origin_busy_lat, dt);
	}
}

/* A read of the remote copy in slot. Refused because its host no longer
 * has it (-ENOENT), found it changed on disk (-EBADMSG, deleted there) or
 * found something else than a file in its place (-ELOOP: a link, as
 * fs_copy_damage plants; which of the last two a read meets depends on
 * when it looks): the copy stops serving and is made again. Any other error the host
 * answers (-EIO from its disk...) is a failed read of a copy that is still
 * there: it stays, counted as an error, and the rollout rolls it back
 * (cool-down, then a retry at the first step). Before, every refusal
 * marked it stale: the copy was re-synced at once (nothing to send) and
 * resumed at its share with its error count reset, so a host failing 2 %
 * of reads was never rolled back and its copy re-made every second. */
static ssize_t read_remote(fuse_req_t req, struct daemon_shadow_file *s, int slot, void *buf,
			   size_t size, off_t off)
{
	struct fs_remote_reads *r = fs_shadowing_remote_reads(fs_ctx_of(req)->shadowing);
	struct daemon_shadow_copy *cp = &s->copies[slot];
	ssize_t n = fs_remote_reads_read(r, cp->host, s->id, cp->version, (uint64_t)off, buf, size);
	if ((n == -ENOENT || n == -EBADMSG || n == -ELOOP) && fs_remote_reads_usable(r, cp->host))
		daemon_shadow_copy_mark_stale(s, slot);
	return n;
}

/* A read of the local copy in slot, through its fd (opened if it has
 * none now: fs/shadow_origin.c). */
static ssize_t read_local(fuse_req_t req, struct daemon_shadow_file *s, int slot, void *buf,
			  size_t size, off_t off)
{
	bool close_after;
	int fd = fs_shadowing_copy_fd(fs_ctx_of(req)->shadowing, s, slot, &close_after);
	if (fd < 0)
		return -1;
	ssize_t n = pread(fd, buf, size, off);
	if (n >= 0 && !fs_shadowing_copy_read_ok(fs_ctx_of(req)->shadowing, s, slot, fd))
		n = -1; /* changed on disk: the origin answers */
	if (close_after)
		close(fd);
	return n;
}

/* Whether a read of n bytes (n < size asked) at off ended before the end
 * of the file the copy was made of: the copy is shorter than the origin
 * was (its file truncated on its host since its SHA-256 check). Such a
 * read was answered to the application as the end of the file. */
static bool copy_short(fuse_req_t req, struct daemon_shadow_file *s, int slot, size_t size,
		       off_t off, ssize_t n)
{
	struct daemon_shadow_copy *cp = &s->copies[slot];
	char where[600];
	if ((size_t)n >= size || off + n >= cp->origin.size)
		return false;
	fs_hosts_label(fs_shadowing_hosts(fs_ctx_of(req)->shadowing), (size_t)cp->host, where,
		       sizeof(where));
	sfs_warn("shadow: a read of the copy of inode %llu on %s ended at byte %lld, before "
		 "the file's end at %lld: the copy is damaged (cut short there); read from the "
		 "origin, the copy not served",
		 (unsigned long long)s->ino, where, (long long)(off + n),
		 (long long)cp->origin.size);
	daemon_shadow_copy_mark_stale(s, slot);
	return true;
}

void fs_router_read(fuse_req_t req, struct fs_inode *i, void *entry, fuse_ino_t ino, size_t size,
		    off_t off, struct fuse_file_info *fi, fs_read_fn inner_read)
{
	struct daemon_shadow_file *s = entry;
	/* A writer whose writes go by us (kernel passthrough) could have
	 * changed BACKING at any moment; any other write bumped the version.
	 * An unaligned O_DIRECT read gets BACKING's answer (EINVAL, or bytes
	 * where its blocks are smaller): a copy, read through a buffered fd,
	 * answered it, so the same read failed or not by the pick. */
	if (__atomic_load_n(&s->serving, __ATOMIC_SEQ_CST) == 0 ||
	    (__atomic_load_n(&i->writers, __ATOMIC_SEQ_CST) != 0 &&
	     fs_passthrough_active(fs_ctx_of(req))) ||
	    (fs_file_direct_request(fs_file_of(fi), fi) &&
	     ((uint64_t)off % FS_DIRECT_ALIGN != 0 || size % FS_DIRECT_ALIGN != 0))) {
		from_origin(s, req, ino, size, off, fi, inner_read);
		return;
	}
	int slot = daemon_shadow_pick(s, next_random());
	if (slot < 0) {
		from_origin(s, req, ino, size, off, fi, inner_read);
		return;
	}
	struct daemon_shadow_copy *cp = &s->copies[slot];
	void *buf = fs_reply_buf(size);
	uint64_t t0 = now_ns();
	unsigned delay_us = fs_ctx_of(req)->opts->fault_copy_delay_us;
	if (delay_us) /* test-only fault injection */
		usleep(delay_us);
	ssize_t n = !buf	 ? -1
		    : cp->remote ? read_remote(req, s, slot, buf, size, off)
				 : read_local(req, s, slot, buf, size, off);
	if (n == -EHOSTDOWN || n == -EBUSY || /* not tried: no error of the copy */
	    (n >= 0 && !fs_shadowing_origin_read_ok(fs_ctx_of(req)->shadowing, s, slot,
						    fs_file_of(fi)->fd))) { /* changed behind */
		daemon_shadow_copy_release(s, slot);
		from_origin(s, req, ino, size, off, fi, inner_read);
		return;
	}
	/* The copy holds exactly the origin's bytes at this version: a short
	 * read is the end of the file, as the origin would give it, unless the
	 * copy is shorter than the file it was made of. */
	if (n < 0 || copy_short(req, s, slot, size, off, n)) {
		daemon_shadow_copy_done(s, slot, false, 0, 0);
		from_origin(s, req, ino, size, off, fi, inner_read);
		return;
	}
	fuse_reply_buf(req, buf, (size_t)n);
	uint64_t dt = now_ns() - t0;
	daemon_lat_hist_add(&cp->lat, dt);
	daemon_shadow_copy_done(s, slot, true, (uint64_t)n, dt);
}
