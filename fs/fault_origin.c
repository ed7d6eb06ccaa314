/* A slow origin for tests (see fault_origin.h). */
#include "fs/fault_origin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/small_file.h"
#include "daemon/throttle.h"

#define RECHECK_NS 100000000ull /* the file is read again after 100 ms */
#define MAX_DELAY_US 10000000ul /* 10 s, as fault_copy_delay_us */

/* Written once before the session starts. */
static struct fuse_lowlevel_ops inner;
static const char *delay_path;
/* Shared by the FUSE threads, atomics: the delay last read and when the
 * file is due to be read again. */
static uint32_t delay_us;
static uint64_t next_look_ns;

/* The delay written in the file; 0 when absent, empty or not a number. */
static uint32_t read_delay(void)
{
	char buf[32];
	if (sfs_read_small_file(delay_path, buf, sizeof(buf)) < 0)
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v > MAX_DELAY_US)
		return 0;
	return (uint32_t)v;
}

static void fault_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	uint64_t now = daemon_now_ns(), due = __atomic_load_n(&next_look_ns, __ATOMIC_RELAXED);
	/* One thread looks: the one that moves the date on. */
	if (now >= due && __atomic_compare_exchange_n(&next_look_ns, &due, now + RECHECK_NS, false,
						      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		__atomic_store_n(&delay_us, read_delay(), __ATOMIC_RELAXED);
	uint32_t d = __atomic_load_n(&delay_us, __ATOMIC_RELAXED);
	if (d)
		usleep(d);
	inner.read(req, ino, size, off, fi);
}

void fs_ops_fault_origin(struct fuse_lowlevel_ops *ops, const char *path)
{
	inner = *ops;
	delay_path = path;
	ops->read = fault_read;
}
