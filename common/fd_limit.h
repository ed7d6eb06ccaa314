/* The process's file descriptor limit (RLIMIT_NOFILE), raised at start and
 * split between the parts of the mount that hold fds.
 *
 * The soft limit is 1,024 for root's shells and systemd services unless
 * raised (the hard limit is higher: 524,288 under systemd, 20,000 on the
 * test machines). A daemon that keeps fds for many files raises its soft
 * limit to the hard one itself (sfs_fd_limit_raise). shadowfs then splits
 * it (sfs_fd_limit_split): the inode table's cache of O_PATH fds at most a
 * quarter, the shadowing layer (origins of wanted files, local copies that
 * serve) a quarter, the access recorder's naming of files without file
 * handles a sixteenth (16 to 1,024), and the rest, for what applications
 * open through the mount (one fd each in the daemon) and the daemon's own
 * (device, sockets, logs, stores). */
#ifndef SHADOWFS_COMMON_FD_LIMIT_H
#define SHADOWFS_COMMON_FD_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Raises the soft limit to the hard limit. Returns the soft limit now in
 * force (the old one if raising failed; RLIM_INFINITY as UINT64_MAX). */
uint64_t sfs_fd_limit_raise(void);

struct sfs_fd_split {
	unsigned inode_cache; /* O_PATH fds the inode table may cache */
	unsigned shadowing;   /* fds the shadowing layer may hold */
	unsigned name_claims; /* fds the access recorder may hold to name files
			       * without file handles (a sixteenth, 16-1024) */
	bool cache_capped;    /* the cache asked for was more than its share */
};

/* Splits limit (from sfs_fd_limit_raise) for a wanted inode cache of
 * want_cache fds. Pure arithmetic. */
void sfs_fd_limit_split(uint64_t limit, unsigned want_cache, struct sfs_fd_split *ret);

#endif
