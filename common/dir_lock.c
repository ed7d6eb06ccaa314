/* An exclusive flock on a directory, waited for: see dir_lock.h. */
#include "common/dir_lock.h"

#include <errno.h>
#include <sys/file.h>
#include <time.h>

int sfs_dir_lock(int dir_fd, uint64_t wait_ms)
{
	for (uint64_t waited = 0;; waited += 50) {
		if (flock(dir_fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= wait_ms)
			return -EBUSY;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
