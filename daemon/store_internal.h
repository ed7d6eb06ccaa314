/* Internals of the host store shared by its two files: host_store.c (names,
 * writers, reads, list/delete) and store_durability.c (unsynced copies, the
 * syncer, crash recovery). Not for use outside daemon/host_store*. The
 * design is in host_store.h and docs/ARCHITECTURE.md ("Durability of
 * copies"). */
#ifndef SHADOWFS_DAEMON_STORE_INTERNAL_H
#define SHADOWFS_DAEMON_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/host_store.h"
#include "daemon/store_index.h"
#include "sync/digest.h"

#define NAME_LEN 49 /* 32 hex + '-' + 16 hex */
#define UNSYNCED_PREFIX "unsynced."
#define UNSYNCED_PREFIX_LEN 9
/* "unsynced." name '.' 64 hex digest */
#define UNSYNCED_LEN (UNSYNCED_PREFIX_LEN + NAME_LEN + 1 + 2 * SYNC_SHA256_LEN)

/* A committed copy not yet recorded durable: valid (digest verified), served
 * under its unsynced name until the syncer has fdatasync'ed it and renamed it
 * to its real name. */
struct unsynced {
	struct unsynced *next;
	uint8_t id[16];
	uint64_t version;
	uint64_t size;
	uint64_t space;	   /* what it counts in used (store_copy_space) */
	int fd;		   /* the copy, kept open for fdatasync */
	bool syncing;	   /* taken by a sync pass (fd in use outside the lock) */
	bool dropped;	   /* deleted or replaced while syncing: the pass frees it */
	uint64_t since_ms; /* commit time */
	struct store_stamp stamp; /* its file under its unsynced name */
	char name[UNSYNCED_LEN + 1];
};

struct daemon_store {
	int dirfd;	 /* owned, read-only after open */
	uint64_t budget; /* read-only after open */
	pthread_mutex_t lock;
	uint64_t used;		   /* protected by lock */
	uint64_t copies;	   /* protected by lock */
	uint64_t reserved;	   /* protected by lock */
	uint64_t tmp_seq;	   /* protected by lock */
	struct store_index durable; /* protected by lock: (id, version) of each
				       copy under its real name */
	struct unsynced *unsynced; /* protected by lock; every directory change
				      to an unsynced name happens under it */
	uint64_t n_unsynced;	   /* protected by lock */
	uint64_t recovered;	   /* set at open: unsynced copies re-verified */
	uint64_t discarded;	   /* set at open: unsynced copies that failed */
	pthread_cond_t wake;	   /* syncer: a commit or stop */
	pthread_cond_t pass_done;  /* a sync pass ended */
	bool stopping;		   /* protected by lock */
	uint64_t sync_delay_ms;	   /* protected by lock */
	bool no_stamp_check;	   /* test-only, set before serving */
	bool syncer_running;	   /* protected by lock; started by the first commit */
	pthread_t syncer;
};

/* Names (host_store.c). */
/* daemon_store_copy_name (host_store.h) writes NAME_LEN + 1 bytes. */
_Static_assert(NAME_LEN == DAEMON_STORE_COPY_NAME_LEN, "copy names");
bool store_parse_name(const char *name, uint8_t id[16], uint64_t *version);
/* The data of a file of size bytes: its size, or the bytes its blocks hold
 * when fewer (a sparse file's data, not its holes); size itself when fstat
 * fails. */
uint64_t store_fd_data(int fd, uint64_t size);
/* What a copy counts against the budget (used): its data (store_fd_data)
 * plus DAEMON_STORE_COPY_OVERHEAD. store_copy_space by name, store_fd_space
 * of an open copy of size bytes. */
int store_copy_space(int dirfd, const char *name, uint64_t *ret);
uint64_t store_fd_space(int fd, uint64_t size);
/* The stamp of a copy's file (fd), recorded once the file has the name it
 * is read by (commit, the syncer's rename, open): unknown if fstat fails. */
struct store_stamp store_stamp_of(int fd);

/* Unsynced copies (store_durability.c). Functions marked "lock" expect
 * s->lock held. */
void store_unsynced_name(const uint8_t id[16], uint64_t version, const uint8_t sha[32],
			 char out[UNSYNCED_LEN + 1]);
/* lock: the live entry of (id, version), or NULL. */
struct unsynced *store_unsynced_find(struct daemon_store *s, const uint8_t id[16],
				     uint64_t version);
/* lock: forgets a live entry (file already removed or replaced) and its bytes. */
void store_unsynced_drop(struct daemon_store *s, struct unsynced *u);
/* lock: a new entry was linked in; wakes (starting it if needed) the syncer.
 * Returns false if there is no syncer thread (the caller then flushes). */
bool store_syncer_kick(struct daemon_store *s);
/* lock: waits while DAEMON_STORE_UNSYNCED_MAX copies are unsynced (each
 * holds an open file), kicking the syncer, which then passes at once: a
 * peer committing empty copies as fast as it could (~3,300 a second) had
 * the syncer's fdatasyncs fall behind and the unsynced files take every
 * descriptor shadowd had (RLIMIT_NOFILE 20,000): uploads refused with
 * EMFILE, new connections left in the backlog. Without a syncer thread
 * (each commit flushes) or once stopping, returns at once. */
void store_unsynced_wait_room(struct daemon_store *s);
/* Stops the syncer thread (if started). */
void store_syncer_stop(struct daemon_store *s);
/* Deletes the unsynced copies of id (one version or
 * DAEMON_STORE_ALL_VERSIONS); returns how many. */
int store_unsynced_delete(struct daemon_store *s, const uint8_t id[16], uint64_t version);
/* At open, before any request: names of the unsynced.* files found. */
void store_recover_unsynced(struct daemon_store *s, char **names, size_t n);
uint64_t store_mono_ms(void);

#endif
