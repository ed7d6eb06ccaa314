/* Deferred durability of host store copies: the unsynced list, the
 * background syncer and crash recovery. Layout and guarantees are in
 * host_store.h; the reasoning in docs/ARCHITECTURE.md ("Durability of
 * copies"). Every directory change involving an unsynced name happens under
 * the store lock. */
#include "common/parse.h"
#include "daemon/host_store.h"
#include "daemon/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "unsynced.<name>.<hex digest>": the name carries the digest that crash
 * recovery re-checks. */
void store_unsynced_name(const uint8_t id[16], uint64_t version, const uint8_t sha[32],
			 char out[UNSYNCED_LEN + 1])
{
	char name[NAME_LEN + 1], hex[2 * SYNC_SHA256_LEN + 1];
	daemon_store_copy_name(id, version, name);
	sync_sha256_hex(sha, hex);
	snprintf(out, UNSYNCED_LEN + 1, UNSYNCED_PREFIX "%s.%s", name, hex);
}

static bool parse_unsynced(const char *uname, uint8_t id[16], uint64_t *version, uint8_t sha[32])
{
	char name[NAME_LEN + 1];
	if (strlen(uname) != UNSYNCED_LEN || strncmp(uname, UNSYNCED_PREFIX, UNSYNCED_PREFIX_LEN))
		return false;
	memcpy(name, uname + UNSYNCED_PREFIX_LEN, NAME_LEN);
	name[NAME_LEN] = 0;
	const char *hex = uname + UNSYNCED_PREFIX_LEN + NAME_LEN;
	if (*hex++ != '.' || !store_parse_name(name, id, version))
		return false;
	return sfs_hex_decode(hex, sha, SYNC_SHA256_LEN) == 0;
}

/* The live unsynced entry of (id, version), or NULL. Caller holds s->lock. */
struct unsynced *store_unsynced_find(struct daemon_store *s, const uint8_t id[16], uint64_t version)
{
	for (struct unsynced *u = s->unsynced; u; u = u->next)
		if (!u->dropped && u->version == version && !memcmp(u->id, id, 16))
			return u;
	return NULL;
}

static void unlink_entry(struct daemon_store *s, struct unsynced *u)
{
	for (struct unsynced **pp = &s->unsynced; *pp; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	close(u->fd);
	free(u);
}

/* Forgets a live entry (its file is already gone or replaced) and takes its
 * bytes off the accounting. Caller holds s->lock. A pass that holds it
 * frees it. */
void store_unsynced_drop(struct daemon_store *s, struct unsynced *u)
{
	s->used -= u->space < s->used ? u->space : s->used;
	if (s->copies)
		s->copies--;
	s->n_unsynced--;
	if (u->syncing)
		u->dropped = true;
	else
		unlink_entry(s, u);
}

uint64_t store_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One sync pass: fdatasync every unsynced copy not already taken by another
 * pass (outside the lock), then rename each to its real name, which records
 * it durable; a copy that cannot be synced is dropped (it could not be
 * trusted after a crash). Returns the number of copies taken. */
static size_t sync_pass(struct daemon_store *s)
{
	struct taken {
		struct unsynced *u;
		int r;
		uint64_t space;
	} *batch = NULL;
	size_t n = 0, cap = 0;
	bool renamed = false;

	pthread_mutex_lock(&s->lock);
	for (struct unsynced *u = s->unsynced; u; u = u->next) {
		if (u->syncing || u->dropped)
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			void *p = realloc(batch, c * sizeof(*batch));
			if (!p)
				break; /* the rest waits for the next pass */
			batch = p;
			cap = c;
		}
		u->syncing = true;
		batch[n++].u = u;
	}
	pthread_mutex_unlock(&s->lock);
	if (!n) {
		free(batch);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		batch[i].r = fdatasync(batch[i].u->fd) < 0 ? -errno : 0;
		/* Its blocks once written back (a delayed allocation counted
		 * ahead may differ): what a delete will take off used. */
		batch[i].space = store_fd_space(batch[i].u->fd, batch[i].u->size);
	}
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		struct unsynced *u = batch[i].u;
		char name[NAME_LEN + 1];
		if (u->dropped) {
			unlink_entry(s, u);
			continue;
		}
		daemon_store_copy_name(u->id, u->version, name);
		if (batch[i].r == 0 && renameat(s->dirfd, u->name, s->dirfd, name) == 0) {
			s->used -= u->space < s->used ? u->space : s->used;
			s->used += batch[i].space;
			struct store_stamp stamp = store_stamp_of(u->fd); /* renamed: new ctime */
			if (store_index_add(&s->durable, u->id, u->version) == 0)
				store_index_set_stamp(&s->durable, u->id, u->version, &stamp);
			s->n_unsynced--;
			unlink_entry(s, u);
			renamed = true;
		} else {
			unlinkat(s->dirfd, u->name, 0);
			u->syncing = false;
			store_unsynced_drop(s, u);
		}
	}
	pthread_cond_broadcast(&s->pass_done);
	pthread_mutex_unlock(&s->lock);
	if (renamed)
		fsync(s->dirfd); /* best effort: a lost rename means a re-check */
	free(batch);
	return n;
}

/* Background syncer: waits sync_delay_ms after the oldest pending commit,
 * then runs a pass. */
static void *syncer_main(void *arg)
{
	struct daemon_store *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		uint64_t oldest = UINT64_MAX;
		for (struct unsynced *u = s->unsynced; u; u = u->next)
			if (!u->syncing && !u->dropped && u->since_ms < oldest)
				oldest = u->since_ms;
		if (oldest == UINT64_MAX) {
			pthread_cond_wait(&s->wake, &s->lock);
			continue;
		}
		uint64_t due = oldest + s->sync_delay_ms;
		if (store_mono_ms() < due && s->n_unsynced < DAEMON_STORE_UNSYNCED_MAX) {
			struct timespec ts = {.tv_sec = (time_t)(due / 1000),
					      .tv_nsec = (long)(due % 1000) * 1000000};
			pthread_cond_timedwait(&s->wake, &s->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		sync_pass(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void daemon_store_set_sync_delay(struct daemon_store *s, uint64_t ms)
{
	pthread_mutex_lock(&s->lock);
	s->sync_delay_ms = ms;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void daemon_store_flush(struct daemon_store *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->unsynced) {
		bool mine = false;
		for (struct unsynced *u = s->unsynced; u && !mine; u = u->next)
			mine = !u->syncing && !u->dropped;
		if (mine) {
			pthread_mutex_unlock(&s->lock);
			sync_pass(s);
			pthread_mutex_lock(&s->lock);
		} else {
			pthread_cond_wait(&s->pass_done, &s->lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* Crash recovery: an unsynced copy may hold anything after a crash (lost
 * writeback, zeros, a short file). Each one is re-hashed against the digest
 * in its name: a match is synced and renamed to its real name (it is
 * durable now), anything else is removed. Runs at open, before any request. */
void store_recover_unsynced(struct daemon_store *s, char **names, size_t n)
{
	bool renamed = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t id[16], want[SYNC_SHA256_LEN], got[SYNC_SHA256_LEN];
		uint64_t v;
		struct stat st;
		char name[NAME_LEN + 1];
		bool ok = false;
		int fd = -1;
		if (parse_unsynced(names[i], id, &v, want))
			fd = openat(s->dirfd, names[i],
				    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    sync_sha256_fd(fd, (uint64_t)st.st_size, got) == 0 &&
		    !memcmp(got, want, SYNC_SHA256_LEN) && fdatasync(fd) == 0) {
			daemon_store_copy_name(id, v, name);
			ok = renameat(s->dirfd, names[i], s->dirfd, name) == 0;
		}
		if (fd >= 0)
			close(fd);
		if (ok) {
			s->recovered++;
			renamed = true;
		} else {
			unlinkat(s->dirfd, names[i], 0);
			s->discarded++;
		}
	}
	if (renamed)
		fsync(s->dirfd);
}

int store_unsynced_delete(struct daemon_store *s, const uint8_t id[16], uint64_t version)
{
	int found = 0;
	pthread_mutex_lock(&s->lock);
	struct unsynced *u = s->unsynced;
	while (u) {
		struct unsynced *next = u->next;
		if (!u->dropped && !memcmp(u->id, id, 16) &&
		    (version == DAEMON_STORE_ALL_VERSIONS || u->version == version)) {
			unlinkat(s->dirfd, u->name, 0);
			store_unsynced_drop(s, u);
			found++;
		}
		u = next;
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

bool store_syncer_kick(struct daemon_store *s)
{
	/* Started by the first commit, not at open: a program may fork
	 * (daemon(3)) between the two. */
	if (!s->syncer_running && pthread_create(&s->syncer, NULL, syncer_main, s) == 0)
		s->syncer_running = true;
	pthread_cond_signal(&s->wake);
	return s->syncer_running;
}

void store_unsynced_wait_room(struct daemon_store *s)
{
	while (s->n_unsynced >= DAEMON_STORE_UNSYNCED_MAX && !s->stopping &&
	       store_syncer_kick(s))
		pthread_cond_wait(&s->pass_done, &s->lock);
}

void store_syncer_stop(struct daemon_store *s)
{
	if (!s->syncer_running)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->syncer, NULL);
	s->syncer_running = false;
}
