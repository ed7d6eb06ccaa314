/* Unit tests of fs/inode_table on a real temporary directory (run as root,
 * like every test here: file handles need CAP_DAC_READ_SEARCH). The table
 * without file handles (name keys) is made by dropping that capability
 * from the effective set while it is set up, as for a user's mount. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "fs/inode_table.h"

struct fixture {
	char dir[64];
	int dfd;
	struct fs_inode_table *t;
};

static void make_file(struct fixture *f, const char *name)
{
	int fd = openat(f->dfd, name, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
}

#define ROOT fs_inode_table_root(f->t)

static void set_dac_read_search(int on)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	assert_int_equal(syscall(SYS_capget, &h, d), 0);
	if (on)
		d[0].effective |= 1u << CAP_DAC_READ_SEARCH;
	else
		d[0].effective &= ~(1u << CAP_DAC_READ_SEARCH);
	assert_int_equal(syscall(SYS_capset, &h, d), 0);
}

static int setup_table(void **state, unsigned cache, int handles)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/fs-inode-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->dfd >= 0);
	int root = open(f->dir, O_RDONLY | O_DIRECTORY);
	if (!handles)
		set_dac_read_search(0);
	assert_int_equal(fs_inode_table_new(root, cache, &f->t), 0);
	if (!handles)
		set_dac_read_search(1);
	assert_true(fs_inode_table_uses_handles(f->t) == !!handles);
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_table(state, 16, 1); }
static int setup_cache(void **state, unsigned cache) { return setup_table(state, cache, 1); }
static int setup_names(void **state) { return setup_table(state, 16, 0); }

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	fs_inode_table_free(f->t);
	close(f->dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static uint64_t count_inodes(struct fixture *f)
{
	struct fs_inode_table_stats s;
	fs_inode_table_get_stats(f->t, &s);
	return s.inodes;
}

/* The test runs with the privilege file handles need. */
static void test_uses_handles(void **state)
{
	struct fixture *f = *state;
	assert_true(fs_inode_table_uses_handles(f->t));
	assert_int_equal(count_inodes(f), 1); /* the root */
}

/* Looking a name up twice gives one entry with two references; hard links
 * share the entry; forgetting every reference removes it. */
static void test_identity_and_forget(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *a, *b, *l;
	struct stat st;
	make_file(f, "a");
	assert_int_equal(linkat(f->dfd, "a", f->dfd, "a-link", 0), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "a", &st, &a), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "a", &st, &b), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "a-link", &st, &l), 0);
	assert_ptr_equal(a, b);
	assert_ptr_equal(a, l);
	assert_int_equal(a->nlookup, 3);
	assert_int_equal(count_inodes(f), 2);
	fs_inode_table_forget(f->t, a, 2);
	assert_int_equal(count_inodes(f), 2);
	fs_inode_table_forget(f->t, a, 1);
	assert_int_equal(count_inodes(f), 1);
}

/* A missing name is -ENOENT and adds nothing. */
static void test_lookup_missing(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *i;
	struct stat st;
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "nope", &st, &i), -ENOENT);
	assert_int_equal(count_inodes(f), 1);
}

/* The O_PATH fd cache stays bounded however many inodes are known, and an
 * evicted inode is reopened from its handle to the same object. */
static void test_fd_cache_bounded(void **state)
{
	struct fixture *f = *state;
	enum { N = 300 };
	struct fs_inode *ino[N];
	struct stat st[N];
	char name[16];
	for (int k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "f%d", k);
		make_file(f, name);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st[k], &ino[k]), 0);
	}
	struct fs_inode_table_stats s;
	fs_inode_table_get_stats(f->t, &s);
	assert_int_equal(s.inodes, N + 1);
	assert_true(s.cached_fds <= 16 + 1);
	/* The first ones were evicted: fd_get reopens them by handle. */
	uint64_t before = s.reopens;
	for (int k = 0; k < 20; k++) {
		int fd = fs_inode_fd_get(f->t, ino[k]);
		assert_true(fd >= 0);
		struct stat now;
		assert_int_equal(fstat(fd, &now), 0);
		assert_int_equal(now.st_ino, st[k].st_ino);
		fs_inode_fd_put(f->t, ino[k]);
	}
	fs_inode_table_get_stats(f->t, &s);
	assert_true(s.reopens >= before + 4);
	assert_true(s.cached_fds <= 16 + 1);
	for (int k = 0; k < N; k++)
		fs_inode_table_forget(f->t, ino[k], 1);
	fs_inode_table_get_stats(f->t, &s);
	assert_int_equal(s.inodes, 1);
	assert_int_equal(s.cached_fds, 1); /* the root's */
}

static int setup_cache64(void **state) { return setup_cache(state, 64); }

/* Out of fds (what applications hold open through the mount is not ours
 * to bound), a reopen by handle sheds cached fds and succeeds instead of
 * failing with EMFILE. */
static void test_fd_get_sheds_on_emfile(void **state)
{
	struct fixture *f = *state;
	enum { N = 100, MAX_FILL = 512 };
	struct fs_inode *ino[N];
	struct stat st;
	char name[16];
	for (int k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "f%d", k);
		make_file(f, name);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st, &ino[k]), 0);
	}
	for (int k = 0; k < N; k++) { /* fills the cache; ino[0] goes first */
		assert_true(fs_inode_fd_get(f->t, ino[k]) >= 0);
		fs_inode_fd_put(f->t, ino[k]);
	}
	struct fs_inode_table_stats s0, s1;
	fs_inode_table_get_stats(f->t, &s0);
	assert_true(s0.cached_fds >= 60); /* the cache is full; ino[0] was evicted */
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 256;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int fill[MAX_FILL], n = 0;
	while (n < MAX_FILL && (fill[n] = open("/dev/null", O_RDONLY)) >= 0)
		n++;
	assert_true(n < MAX_FILL && errno == EMFILE); /* no fd left */
	int fd = fs_inode_fd_get(f->t, ino[0]);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	fs_inode_fd_put(f->t, ino[0]);
	fs_inode_table_get_stats(f->t, &s1);
	assert_true(s1.cached_fds < s0.cached_fds); /* some were shed */
	while (n > 0)
		close(fill[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int k = 0; k < N; k++)
		fs_inode_table_forget(f->t, ino[k], 1);
}

/* A pinned inode outlives its last forget until the pin is dropped, and
 * pinned fds are never evicted. */
static void test_pins(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *i;
	struct stat st;
	make_file(f, "p");
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "p", &st, &i), 0);
	ino_t p_ino = st.st_ino;
	int fd = fs_inode_fd_get(f->t, i);
	assert_true(fd >= 0);
	fs_inode_table_forget(f->t, i, 1);
	assert_int_equal(count_inodes(f), 2);
	/* Flood the cache: the pinned fd must stay valid. */
	char name[16];
	struct fs_inode *o[64];
	for (int k = 0; k < 64; k++) {
		snprintf(name, sizeof(name), "q%d", k);
		make_file(f, name);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st, &o[k]), 0);
	}
	struct stat now;
	assert_int_equal(fstat(fd, &now), 0);
	assert_int_equal(now.st_ino, p_ino);
	fs_inode_fd_put(f->t, i);
	for (int k = 0; k < 64; k++)
		fs_inode_table_forget(f->t, o[k], 1);
	assert_int_equal(count_inodes(f), 1);
}

/* An object deleted behind the table's back cannot be reopened: -ESTALE. */
static void test_stale(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *i, *o[40];
	struct stat st;
	char name[16];
	make_file(f, "gone");
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "gone", &st, &i), 0);
	for (int k = 0; k < 40; k++) { /* evict its cached fd */
		snprintf(name, sizeof(name), "e%d", k);
		make_file(f, name);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st, &o[k]), 0);
	}
	assert_int_equal(unlinkat(f->dfd, "gone", 0), 0);
	assert_int_equal(fs_inode_fd_get(f->t, i), -ESTALE);
	fs_inode_table_forget(f->t, i, 1);
	for (int k = 0; k < 40; k++)
		fs_inode_table_forget(f->t, o[k], 1);
	assert_int_equal(count_inodes(f), 1);
}

/* An inode number reused by BACKING while the kernel still holds the
 * deleted object's entry (no FORGET yet, its fd evicted): a lookup of the
 * new object, by name or by fd, gets an entry of its own that opens it,
 * not the stale one (whose reopen fails with ESTALE); the stale entry
 * lives on until its FORGET. */
static void test_inode_number_reused(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *old = NULL, *o[40], *byname = NULL, *byfd = NULL;
	struct stat st, st_old;
	char name[32];
	for (int k = 0; k < 40; k++) { /* 40 entries more than the cache holds */
		snprintf(name, sizeof(name), "e%d", k);
		make_file(f, name);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st, &o[k]), 0);
	}
	/* A file looked up, its fd evicted (40 lookups), deleted, then new
	 * files until one gets its inode number (ext4 and most disk
	 * filesystems hand it out again at once; tests running beside this
	 * one may take it first: up to 20 rounds). */
	int found = -1, round = 0;
	for (; round < 20 && found < 0; round++) {
		snprintf(name, sizeof(name), "old%d", round);
		make_file(f, name);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st_old, &old), 0);
		for (int k = 0; k < 40; k++) {
			struct fs_inode *again;
			snprintf(name, sizeof(name), "e%d", k);
			assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st, &again), 0);
			fs_inode_table_forget(f->t, again, 1);
		}
		snprintf(name, sizeof(name), "old%d", round);
		assert_int_equal(unlinkat(f->dfd, name, 0), 0);
		for (int k = 0; k < 50 && found < 0; k++) {
			snprintf(name, sizeof(name), "n%d_%d", round, k);
			make_file(f, name);
			assert_int_equal(fstatat(f->dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
			if (st.st_ino == st_old.st_ino)
				found = k;
		}
		if (found < 0)
			fs_inode_table_forget(f->t, old, 1);
	}
	if (found < 0) {
		fprintf(stderr, "no inode number reused in 20 rounds of 50 files\n");
		fail();
	}
	snprintf(name, sizeof(name), "n%d_%d", round - 1, found);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st, &byname), 0);
	assert_ptr_not_equal(byname, old);
	int fd = fs_inode_fd_get(f->t, byname);
	assert_true(fd >= 0);
	fs_inode_fd_put(f->t, byname);
	int ofd = openat(f->dfd, name, O_RDONLY);
	assert_true(ofd >= 0);
	assert_int_equal(fs_inode_table_lookup_fd(f->t, ROOT, name, ofd, &st, &byfd), 0);
	assert_ptr_equal(byfd, byname);
	close(ofd);
	assert_int_equal(fs_inode_fd_get(f->t, old), -ESTALE);
	fs_inode_table_forget(f->t, old, 1); /* the stale entry's FORGET */
	fs_inode_table_forget(f->t, byname, 2);
	for (int k = 0; k < 40; k++)
		fs_inode_table_forget(f->t, o[k], 1);
	assert_int_equal(count_inodes(f), 1);
}

/* lookup_fd registers an object open by fd (as create does) once. */
static void test_lookup_fd(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *a, *b;
	struct stat st;
	int fd = openat(f->dfd, "c", O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs_inode_table_lookup_fd(f->t, ROOT, "c", fd, &st, &a), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "c", &st, &b), 0);
	assert_ptr_equal(a, b);
	close(fd);
	int pfd = fs_inode_fd_get(f->t, a);
	assert_true(pfd >= 0);
	fs_inode_fd_put(f->t, a);
	fs_inode_table_forget(f->t, a, 2);
	assert_int_equal(count_inodes(f), 1);
}

/* Symlinks and directories get entries too, reopened as themselves. */
static void test_symlink_and_dir(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *s, *d;
	struct stat st;
	assert_int_equal(symlinkat("target", f->dfd, "sl"), 0);
	assert_int_equal(mkdirat(f->dfd, "sub", 0755), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "sl", &st, &s), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(s->type, S_IFLNK);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "sub", &st, &d), 0);
	assert_int_equal(d->type, S_IFDIR);
	int fd = fs_inode_fd_get(f->t, s);
	char buf[16];
	ssize_t n = readlinkat(fd, "", buf, sizeof(buf));
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "target", 6);
	fs_inode_fd_put(f->t, s);
	fs_inode_table_forget(f->t, s, 1);
	fs_inode_table_forget(f->t, d, 1);
}

/* Opens and closes 40 other files' fds through the table (a cache of 16):
 * every fd cached before, not pinned, is evicted. */
static void churn_cache(struct fixture *f)
{
	char name[16];
	struct stat st;
	struct fs_inode *o[40];
	for (int k = 0; k < 40; k++) {
		snprintf(name, sizeof(name), "churn%d", k);
		make_file(f, name);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st, &o[k]), 0);
		assert_true(fs_inode_fd_get(f->t, o[k]) >= 0);
		fs_inode_fd_put(f->t, o[k]);
	}
	for (int k = 0; k < 40; k++)
		fs_inode_table_forget(f->t, o[k], 1);
}

static ino_t ino_of_fd(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

/* Without handles: files and directories are keyed by name (no fd each);
 * an evicted one is reopened by its name. */
static void test_names_no_fd_per_file(void **state)
{
	struct fixture *f = *state;
	enum { N = 300 };
	struct fs_inode *ino[N], *d;
	struct stat st[N], dst;
	char name[16];
	assert_int_equal(mkdirat(f->dfd, "sub", 0755), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "sub", &dst, &d), 0);
	assert_string_equal(d->key_name, "sub");
	assert_int_equal(d->fd, -1);
	for (int k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "f%d", k);
		make_file(f, name);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st[k], &ino[k]), 0);
		assert_string_equal(ino[k]->key_name, name);
	}
	struct fs_inode_table_stats s;
	fs_inode_table_get_stats(f->t, &s);
	assert_int_equal(s.inodes, N + 2);
	assert_int_equal(s.named, N + 1);
	assert_int_equal(s.cached_fds, 1); /* the root's */
	for (int k = 0; k < N; k++) {
		int fd = fs_inode_fd_get(f->t, ino[k]);
		assert_true(fd >= 0);
		assert_int_equal(ino_of_fd(fd), st[k].st_ino);
		fs_inode_fd_put(f->t, ino[k]);
	}
	fs_inode_table_get_stats(f->t, &s);
	assert_true(s.cached_fds <= 16 + 1);
	assert_true(s.reopens >= N);
	for (int k = 0; k < N; k++)
		fs_inode_table_forget(f->t, ino[k], 1);
	fs_inode_table_forget(f->t, d, 1);
	fs_inode_table_get_stats(f->t, &s);
	assert_int_equal(s.inodes, 1);
	assert_int_equal(s.named, 0);
	assert_int_equal(s.cached_fds, 1);
}

/* A rename behind the mount's back: ESTALE, not another file's fd; a
 * lookup under the new name makes the entry usable again. */
static void test_names_renamed_behind(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *i, *again;
	struct stat st;
	make_file(f, "a");
	make_file(f, "decoy");
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "a", &st, &i), 0);
	ino_t a_ino = st.st_ino;
	assert_int_equal(renameat(f->dfd, "a", f->dfd, "b"), 0);
	assert_int_equal(renameat(f->dfd, "decoy", f->dfd, "a"), 0); /* "a" is another file now */
	assert_int_equal(fs_inode_fd_get(f->t, i), -ESTALE);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "b", &st, &again), 0);
	assert_ptr_equal(again, i);
	int fd = fs_inode_fd_get(f->t, i);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), a_ino);
	fs_inode_fd_put(f->t, i);
	fs_inode_table_forget(f->t, i, 2);
	assert_int_equal(count_inodes(f), 1);
}

/* A hard link's other name, once looked up, keys the entry: removing the
 * first name behind the mount's back leaves it usable. */
static void test_names_hard_link(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *i, *l;
	struct stat st;
	make_file(f, "a");
	assert_int_equal(linkat(f->dfd, "a", f->dfd, "l", 0), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "a", &st, &i), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "l", &st, &l), 0);
	assert_ptr_equal(i, l);
	assert_int_equal(unlinkat(f->dfd, "a", 0), 0);
	int fd = fs_inode_fd_get(f->t, i);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), st.st_ino);
	fs_inode_fd_put(f->t, i);
	fs_inode_table_forget(f->t, i, 2);
	assert_int_equal(count_inodes(f), 1);
}

/* A rename through the mount moves the key (pin_named before, renamed
 * after); the key holds its directory, which outlives its own FORGET
 * until the file's entry goes. */
static void test_names_renamed_through(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *i, *d;
	struct stat st, dst;
	make_file(f, "a");
	assert_int_equal(mkdirat(f->dfd, "sub", 0755), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "sub", &dst, &d), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "a", &st, &i), 0);
	assert_ptr_equal(fs_inode_table_pin_named(f->t, f->dfd, "a"), i);
	int dfd = fs_inode_fd_get(f->t, d);
	assert_true(dfd >= 0);
	assert_int_equal(renameat(f->dfd, "a", dfd, "c"), 0);
	fs_inode_fd_put(f->t, d);
	fs_inode_table_renamed(f->t, i, d, "c");
	fs_inode_fd_put(f->t, i);
	assert_ptr_equal(i->key_dir, d);
	assert_string_equal(i->key_name, "c");
	churn_cache(f);
	assert_int_equal(i->fd, -1);
	int fd = fs_inode_fd_get(f->t, i);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), st.st_ino);
	fs_inode_fd_put(f->t, i);
	fs_inode_table_forget(f->t, d, 1); /* the kernel forgets sub first */
	assert_int_equal(count_inodes(f), 3);
	fs_inode_table_forget(f->t, i, 1); /* then the file: both go */
	assert_int_equal(count_inodes(f), 1);
}

/* Unlinking the key's name through the mount keeps the fd for good: the
 * file may be open, and stays reachable with no name. */
static void test_names_gone_keeps_fd(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *i;
	struct stat st;
	make_file(f, "a");
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "a", &st, &i), 0);
	assert_ptr_equal(fs_inode_table_pin_named(f->t, f->dfd, "a"), i);
	assert_int_equal(unlinkat(f->dfd, "a", 0), 0);
	fs_inode_table_name_gone(f->t, i, ROOT, "a");
	fs_inode_fd_put(f->t, i);
	assert_null(i->key_name);
	churn_cache(f);
	int fd = fs_inode_fd_get(f->t, i);
	assert_true(fd >= 0);
	struct stat now;
	assert_int_equal(fstat(fd, &now), 0);
	assert_int_equal(now.st_ino, st.st_ino);
	assert_int_equal(now.st_nlink, 0);
	fs_inode_fd_put(f->t, i);
	struct fs_inode_table_stats s;
	fs_inode_table_get_stats(f->t, &s);
	assert_int_equal(s.named, 0);
	fs_inode_table_forget(f->t, i, 1);
	fs_inode_table_get_stats(f->t, &s);
	assert_int_equal(s.inodes, 1);
	assert_int_equal(s.cached_fds, 1);
}

/* Unlinking through the mount the key's name of files that have other
 * links (cp -al, then rm -r of one copy): their fds stay in the cache's
 * bound (each was kept for good, one fd per file, until the kernel's
 * FORGET); one evicted is ESTALE until looked up by its other name, which
 * keys it again. A file open through the mount keeps its fd. */
static void test_names_gone_other_links(void **state)
{
	struct fixture *f = *state;
	enum { N = 100 };
	struct fs_inode *i[N];
	struct stat st[N], now;
	char name[16], other[16];
	int open_fd = -1;
	for (int k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "f%d", k);
		snprintf(other, sizeof(other), "g%d", k);
		make_file(f, name);
		assert_int_equal(linkat(f->dfd, name, f->dfd, other, 0), 0);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st[k], &i[k]), 0);
		if (k == 0) { /* open through the mount */
			open_fd = openat(f->dfd, name, O_RDONLY);
			assert_true(open_fd >= 0);
			fs_inode_table_opened(f->t, i[k], open_fd);
		}
		assert_ptr_equal(fs_inode_table_pin_named(f->t, f->dfd, name), i[k]);
		assert_int_equal(unlinkat(f->dfd, name, 0), 0);
		fs_inode_table_name_gone(f->t, i[k], ROOT, name);
		fs_inode_fd_put(f->t, i[k]);
		assert_null(i[k]->key_name);
	}
	struct fs_inode_table_stats s;
	fs_inode_table_get_stats(f->t, &s);
	assert_true(s.cached_fds <= 16 + 2); /* the cache, the root's, the open one's */
	churn_cache(f);
	assert_true(i[0]->fd >= 0); /* open: kept */
	assert_int_equal(i[N - 1]->fd, -1);
	assert_int_equal(fs_inode_fd_get(f->t, i[N - 1]), -ESTALE);
	struct fs_inode *again;
	snprintf(other, sizeof(other), "g%d", N - 1);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, other, &now, &again), 0);
	assert_ptr_equal(again, i[N - 1]);
	assert_string_equal(i[N - 1]->key_name, other);
	int fd = fs_inode_fd_get(f->t, i[N - 1]);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), st[N - 1].st_ino);
	fs_inode_fd_put(f->t, i[N - 1]);
	fs_inode_table_forget(f->t, i[N - 1], 1);
	/* The open one, looked up by its other name: keyed, its fd cached. */
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "g0", &now, &again), 0);
	assert_ptr_equal(again, i[0]);
	fs_inode_table_released(f->t, i[0]);
	close(open_fd);
	churn_cache(f);
	assert_int_equal(i[0]->fd, -1);
	fd = fs_inode_fd_get(f->t, i[0]);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), st[0].st_ino);
	fs_inode_fd_put(f->t, i[0]);
	fs_inode_table_forget(f->t, i[0], 1);
	for (int k = 0; k < N; k++)
		fs_inode_table_forget(f->t, i[k], 1);
	fs_inode_table_get_stats(f->t, &s);
	assert_int_equal(s.inodes, 1);
	assert_int_equal(s.named, 0);
	assert_int_equal(s.cached_fds, 1);
}

/* A file open through the mount keeps its O_PATH fd while open: a
 * directory above it renamed behind the mount's back leaves requests on
 * its inode working (fstat, fchmod, fsetxattr on the open file come
 * without the file; they failed with ESTALE once its fd was evicted);
 * released, the fd goes back to the cache. */
static void test_names_open_keeps_fd(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *d, *x;
	struct stat st, dst;
	assert_int_equal(mkdirat(f->dfd, "d", 0755), 0);
	make_file(f, "d/x");
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "d", &dst, &d), 0);
	int dfd = fs_inode_fd_get(f->t, d);
	assert_true(dfd >= 0);
	assert_int_equal(fs_inode_table_lookup(f->t, d, dfd, "x", &st, &x), 0);
	fs_inode_fd_put(f->t, d);
	churn_cache(f);
	int ofd = openat(f->dfd, "d/x", O_RDWR);
	assert_true(ofd >= 0);
	fs_inode_table_opened(f->t, x, ofd); /* its fd was evicted: a twin of ofd */
	churn_cache(f);
	assert_int_equal(renameat(f->dfd, "d", f->dfd, "d2"), 0); /* behind its back */
	int fd = fs_inode_fd_get(f->t, x);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), st.st_ino);
	fs_inode_fd_put(f->t, x);
	fs_inode_table_released(f->t, x);
	close(ofd);
	churn_cache(f);
	assert_int_equal(fs_inode_fd_get(f->t, x), -ESTALE); /* by name again: d is gone */
	struct fs_inode_table_stats s;
	fs_inode_table_get_stats(f->t, &s);
	assert_true(s.cached_fds <= 16 + 1);
	fs_inode_table_forget(f->t, x, 1);
	fs_inode_table_forget(f->t, d, 1);
	assert_int_equal(count_inodes(f), 1);
}

/* A rename through the mount of an object whose key is stale (renamed
 * behind the mount's back): pin_named holds it although its fd cannot be
 * had, and the rename keys it by its new name (it stayed stale, which a
 * later move could turn into a loop of keys). */
static void test_names_pin_stale(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *i;
	struct stat st;
	make_file(f, "a");
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "a", &st, &i), 0);
	assert_int_equal(renameat(f->dfd, "a", f->dfd, "c"), 0); /* behind its back */
	assert_ptr_equal(fs_inode_table_pin_named(f->t, f->dfd, "c"), i);
	assert_int_equal(renameat(f->dfd, "c", f->dfd, "d"), 0); /* through the mount */
	fs_inode_table_renamed(f->t, i, ROOT, "d");
	fs_inode_fd_put(f->t, i);
	assert_string_equal(i->key_name, "d");
	int fd = fs_inode_fd_get(f->t, i);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), st.st_ino);
	fs_inode_fd_put(f->t, i);
	fs_inode_table_forget(f->t, i, 1);
	assert_int_equal(count_inodes(f), 1);
}

/* Directories are keyed too: a file two levels down reopens after both
 * its directories' fds were evicted (each reopened by name in turn); a
 * directory renamed through the mount takes its subtree along; renamed
 * behind the mount's back, its subtree is ESTALE; the chain of keys frees
 * the directories once the file goes, whatever order the FORGETs came in. */
static void test_names_directory_chain(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *d1, *d2, *i;
	struct stat st, st1, st2;
	assert_int_equal(mkdirat(f->dfd, "d1", 0755), 0);
	assert_int_equal(mkdirat(f->dfd, "d1/d2", 0755), 0);
	make_file(f, "d1/d2/x");
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "d1", &st1, &d1), 0);
	int fd1 = fs_inode_fd_get(f->t, d1);
	assert_true(fd1 >= 0);
	assert_int_equal(fs_inode_table_lookup(f->t, d1, fd1, "d2", &st2, &d2), 0);
	fs_inode_fd_put(f->t, d1);
	int fd2 = fs_inode_fd_get(f->t, d2);
	assert_true(fd2 >= 0);
	assert_int_equal(fs_inode_table_lookup(f->t, d2, fd2, "x", &st, &i), 0);
	fs_inode_fd_put(f->t, d2);
	churn_cache(f);
	assert_int_equal(d1->fd, -1);
	assert_int_equal(d2->fd, -1);
	int fd = fs_inode_fd_get(f->t, i);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), st.st_ino);
	fs_inode_fd_put(f->t, i);

	/* Renamed through the mount (pin, rename, re-key). */
	assert_ptr_equal(fs_inode_table_pin_named(f->t, f->dfd, "d1"), d1);
	assert_int_equal(renameat(f->dfd, "d1", f->dfd, "e1"), 0);
	fs_inode_table_renamed(f->t, d1, ROOT, "e1");
	fs_inode_fd_put(f->t, d1);
	churn_cache(f);
	fd = fs_inode_fd_get(f->t, i);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), st.st_ino);
	fs_inode_fd_put(f->t, i);

	/* Renamed behind its back: the subtree is stale until looked up. */
	assert_int_equal(renameat(f->dfd, "e1", f->dfd, "g1"), 0);
	churn_cache(f);
	assert_int_equal(fs_inode_fd_get(f->t, i), -ESTALE);
	struct fs_inode *again;
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "g1", &st1, &again), 0);
	assert_ptr_equal(again, d1);
	fd = fs_inode_fd_get(f->t, i);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), st.st_ino);
	fs_inode_fd_put(f->t, i);

	/* FORGETs of the directories first: they stay while x names them. */
	fs_inode_table_forget(f->t, d1, 2);
	fs_inode_table_forget(f->t, d2, 1);
	assert_int_equal(count_inodes(f), 4);
	fs_inode_table_forget(f->t, i, 1);
	assert_int_equal(count_inodes(f), 1);
	struct fs_inode_table_stats s;
	fs_inode_table_get_stats(f->t, &s);
	assert_int_equal(s.named, 0);
	assert_int_equal(s.cached_fds, 1);
}

/* A directory moved into one that was below it, behind the mount's back
 * (A/B -> B, then A -> B/A), and looked up there through B's cached fd,
 * whose key is still (A, "B"): A is not keyed under B (a loop of keys:
 * every later reopen of either walked it for ever, holding the table
 * lock, and the mount hung). Both are ESTALE until looked up by their
 * names, then reopen. */
static void test_names_no_key_loop(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *a, *b, *again;
	struct stat sa, sb, st;
	assert_int_equal(mkdirat(f->dfd, "A", 0755), 0);
	assert_int_equal(mkdirat(f->dfd, "A/B", 0755), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "A", &sa, &a), 0);
	int afd = fs_inode_fd_get(f->t, a);
	assert_true(afd >= 0);
	assert_int_equal(fs_inode_table_lookup(f->t, a, afd, "B", &sb, &b), 0);
	fs_inode_fd_put(f->t, a);
	int bfd = fs_inode_fd_get(f->t, b); /* cached from now on (a cwd) */
	assert_true(bfd >= 0);
	assert_int_equal(renameat(f->dfd, "A/B", f->dfd, "B"), 0);
	assert_int_equal(renameat(f->dfd, "A", f->dfd, "B/A"), 0);
	assert_int_equal(fs_inode_table_lookup(f->t, b, bfd, "A", &st, &again), 0);
	fs_inode_fd_put(f->t, b);
	assert_ptr_equal(again, a);
	assert_ptr_equal(a->key_dir, ROOT); /* not keyed below its own child */
	churn_cache(f);
	assert_int_equal(fs_inode_fd_get(f->t, a), -ESTALE);
	assert_int_equal(fs_inode_fd_get(f->t, b), -ESTALE);
	/* Looked up by their names now: usable again. */
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "B", &st, &again), 0);
	assert_ptr_equal(again, b);
	bfd = fs_inode_fd_get(f->t, b);
	assert_true(bfd >= 0);
	assert_int_equal(fs_inode_table_lookup(f->t, b, bfd, "A", &st, &again), 0);
	fs_inode_fd_put(f->t, b);
	assert_ptr_equal(a->key_dir, b);
	churn_cache(f);
	int fd = fs_inode_fd_get(f->t, a);
	assert_true(fd >= 0);
	assert_int_equal(ino_of_fd(fd), sa.st_ino);
	fs_inode_fd_put(f->t, a);
	fs_inode_table_forget(f->t, a, 3);
	fs_inode_table_forget(f->t, b, 2);
	assert_int_equal(count_inodes(f), 1);
}

/* A directory known by name, removed behind the mount's back and a file
 * made under its name that took its inode number: the directory's entry
 * does not open the file (its reopen checked only the inode number, and a
 * chmod of the directory through the mount changed the file), and a
 * lookup of the file gets a new entry; the stale one, never forgotten, is
 * freed with the table (LeakSanitizer). */
static void test_names_type_reused(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *d = NULL, *file;
	struct stat st, sd;
	char name[32];
	bool reused = false;
	for (int round = 0; round < 20 && !reused; round++) {
		snprintf(name, sizeof(name), "x%d", round);
		assert_int_equal(mkdirat(f->dfd, name, 0755), 0);
		assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &sd, &d), 0);
		churn_cache(f);
		assert_int_equal(unlinkat(f->dfd, name, AT_REMOVEDIR), 0);
		make_file(f, name);
		assert_int_equal(fstatat(f->dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
		reused = st.st_ino == sd.st_ino;
		if (!reused)
			fs_inode_table_forget(f->t, d, 1);
	}
	if (!reused) {
		fprintf(stderr, "no inode number reused in 20 rounds\n");
		fail();
	}
	assert_int_equal(fs_inode_fd_get(f->t, d), -ESTALE);
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, name, &st, &file), 0);
	assert_ptr_not_equal(file, d);
	assert_null(d->key_name); /* its name is the file's */
	int fd = fs_inode_fd_get(f->t, file);
	assert_true(fd >= 0);
	assert_true(S_ISREG(st.st_mode));
	fs_inode_fd_put(f->t, file);
	assert_int_equal(fs_inode_fd_get(f->t, d), -ESTALE);
	fs_inode_table_forget(f->t, file, 1);
	/* d: no FORGET; freed by the teardown's fs_inode_table_free */
}

/* A tree deeper than a worker thread's stack has frames for: its deepest
 * file, every directory above it evicted, is reopened on a thread with a
 * 512 KiB stack (a frame set per level, as the reopen once recursed,
 * overflowed it: SIGSEGV), and the fds stay within the cache's bound. */
struct deep_get {
	struct fixture *f;
	struct fs_inode *i;
	int fd;
};

static void *deep_get_thread(void *arg)
{
	struct deep_get *g = arg;
	g->fd = fs_inode_fd_get(g->f->t, g->i);
	return NULL;
}

static void test_names_deep_chain(void **state)
{
	struct fixture *f = *state;
	enum { DEPTH = 5000 };
	struct fs_inode **dirs = calloc(DEPTH, sizeof(*dirs)), *parent = ROOT, *i;
	struct stat st;
	assert_non_null(dirs);
	int cur = dup(f->dfd);
	for (int k = 0; k < DEPTH; k++) {
		assert_int_equal(mkdirat(cur, "d", 0755), 0);
		assert_int_equal(fs_inode_table_lookup(f->t, parent, cur, "d", &st, &dirs[k]), 0);
		int next = openat(cur, "d", O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		close(cur);
		cur = next;
		parent = dirs[k];
	}
	int x = openat(cur, "x", O_CREAT | O_WRONLY, 0644);
	assert_true(x >= 0);
	close(x);
	assert_int_equal(fs_inode_table_lookup(f->t, parent, cur, "x", &st, &i), 0);
	close(cur);
	churn_cache(f);
	assert_int_equal(dirs[0]->fd, -1);
	assert_int_equal(dirs[DEPTH - 1]->fd, -1);

	pthread_attr_t attr;
	pthread_t th;
	struct deep_get g = {.f = f, .i = i, .fd = -1};
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, 512 * 1024), 0);
	assert_int_equal(pthread_create(&th, &attr, deep_get_thread, &g), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	pthread_attr_destroy(&attr);
	assert_true(g.fd >= 0);
	assert_int_equal(ino_of_fd(g.fd), st.st_ino);
	struct fs_inode_table_stats s;
	fs_inode_table_get_stats(f->t, &s);
	assert_true(s.cached_fds <= 16 + 4);
	fs_inode_fd_put(f->t, i);

	/* FORGETs top down: each directory stays while its child names it. */
	for (int k = 0; k < DEPTH; k++)
		fs_inode_table_forget(f->t, dirs[k], 1);
	assert_int_equal(count_inodes(f), DEPTH + 2);
	fs_inode_table_forget(f->t, i, 1);
	assert_int_equal(count_inodes(f), 1);
	free(dirs);
}

/* With file handles nothing is keyed by name: pin_named costs nothing. */
static void test_handles_no_names(void **state)
{
	struct fixture *f = *state;
	struct fs_inode *i;
	struct stat st;
	make_file(f, "a");
	assert_int_equal(fs_inode_table_lookup(f->t, ROOT, f->dfd, "a", &st, &i), 0);
	assert_null(i->key_name);
	assert_null(fs_inode_table_pin_named(f->t, f->dfd, "a"));
	fs_inode_table_forget(f->t, i, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_uses_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handles_no_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_no_fd_per_file, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_renamed_behind, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_hard_link, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_renamed_through, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_gone_keeps_fd, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_gone_other_links, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_pin_stale, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_open_keeps_fd, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_directory_chain, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_deep_chain, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_no_key_loop, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_names_type_reused, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_identity_and_forget, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_pins, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_stale, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_fd, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_and_dir, setup_names, teardown),
		cmocka_unit_test_setup_teardown(test_identity_and_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_cache_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_get_sheds_on_emfile, setup_cache64, teardown),
		cmocka_unit_test_setup_teardown(test_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inode_number_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_and_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
