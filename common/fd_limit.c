/* RLIMIT_NOFILE raised and split (see fd_limit.h). */
#include "common/fd_limit.h"

#include <sys/resource.h>

uint64_t sfs_fd_limit_raise(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur != rl.rlim_max) {
		struct rlimit up = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

void sfs_fd_limit_split(uint64_t limit, unsigned want_cache, struct sfs_fd_split *ret)
{
	uint64_t quarter = limit / 4;
	if (quarter > (1u << 30))
		quarter = 1u << 30;
	if (quarter < 16)
		quarter = 16; /* a limit below 64 fds: nothing works well; the cache's floor */
	ret->cache_capped = want_cache > quarter;
	ret->inode_cache = ret->cache_capped ? (unsigned)quarter : want_cache;
	ret->shadowing = (unsigned)quarter;
	uint64_t claims = limit / 16;
	ret->name_claims = claims < 16 ? 16 : claims > 1024 ? 1024 : (unsigned)claims;
}
