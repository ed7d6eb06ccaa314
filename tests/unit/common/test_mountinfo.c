/* Unit tests of common/mountinfo.c: lines of /proc/self/mountinfo as the
 * kernel writes them (optional fields, escaped blanks), malformed ones, and
 * the live table of this process. */
#include <errno.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

#include "common/mountinfo.h"

static void test_lines(void **state)
{
	(void)state;
	struct sfs_mount_entry e;
	assert_int_equal(sfs_mountinfo_parse_line("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - "
						  "ext3 /dev/root rw,errors=continue\n",
						  &e),
			 0);
	assert_int_equal(e.major, 98);
	assert_int_equal(e.minor, 0);
	assert_string_equal(e.mountpoint, "/mnt2");
	assert_string_equal(e.fstype, "ext3");
	assert_int_equal(e.owner_uid, -1);
	/* No optional field; a blank and a backslash escaped in the path. */
	assert_int_equal(sfs_mountinfo_parse_line("712 29 0:38 / /var/tmp/a\\040b\\134c rw,nosuid "
						  "- fuse.shadowfs /srv/data rw,user_id=0\n",
						  &e),
			 0);
	assert_int_equal(e.major, 0);
	assert_int_equal(e.minor, 38);
	assert_string_equal(e.mountpoint, "/var/tmp/a b\\c");
	assert_string_equal(e.fstype, "fuse.shadowfs");
	assert_int_equal(e.owner_uid, 0);
	/* The mounting user of a FUSE mount; odd values leave it unknown. */
	const struct {
		const char *super;
		long uid;
	} owners[] = {
	    {"rw,user_id=1001,group_id=1001,default_permissions", 1001},
	    {"rw,group_id=5,user_id=4294967294", 4294967294L},
	    {"rw,user_id=4294967295", -1},
	    {"rw,user_id=-1", -1},
	    {"rw,user_id=12x", -1},
	    {"rw,user_id=", -1},
	    {"rw,xuser_id=7", -1},
	};
	for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		char line[256];
		snprintf(line, sizeof(line), "40 29 0:50 / /m rw - fuse.shadowfs /b %s\n",
			 owners[i].super);
		assert_int_equal(sfs_mountinfo_parse_line(line, &e), 0);
		if (e.owner_uid != owners[i].uid)
			fail_msg("'%s': owner %ld, not %ld", owners[i].super, e.owner_uid,
				 owners[i].uid);
	}
	/* A type and no SOURCE or SUPER: still an entry, owner unknown. */
	assert_int_equal(sfs_mountinfo_parse_line("40 29 0:50 / /m rw - tmpfs\n", &e), 0);
	assert_int_equal(e.owner_uid, -1);
	const char *bad[] = {
	    "",
	    "36 35",
	    "36 35 98 / /m rw - ext4 /dev/x rw",          /* no MAJ:MIN */
	    "36 35 98:0x / /m rw - ext4 /dev/x rw",       /* trailing junk */
	    "36 35 98:0 / m rw - ext4 /dev/x rw",          /* relative mount point */
	    "36 35 98:0 / /m rw ext4 /dev/x rw",           /* no separator */
	    "36 35 98:0 / /m rw - ",                       /* no type */
	    "36 35 98:0 / /m rw - \\000 /dev/x rw",        /* a NUL: type "" */
	    "36 35 98:0 / /m\\000x rw - ext4 /dev/x rw",   /* a NUL: "/m" */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sfs_mountinfo_parse_line(bad[i], &e) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
}

static int find_root(const struct sfs_mount_entry *e, void *arg)
{
	struct sfs_mount_entry *root = arg;
	if (strcmp(e->mountpoint, "/") == 0)
		*root = *e;
	return 0;
}

static int stop_at_first(const struct sfs_mount_entry *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 7;
}

/* The live table has "/", with the device stat() reports for it. */
static void test_live_table(void **state)
{
	(void)state;
	struct sfs_mount_entry root = {.mountpoint = ""};
	struct stat st;
	assert_int_equal(sfs_mountinfo_each(find_root, &root), 0);
	assert_string_equal(root.mountpoint, "/");
	assert_int_equal(stat("/", &st), 0);
	assert_int_equal(root.major, major(st.st_dev));
	assert_int_equal(root.minor, minor(st.st_dev));
	int calls = 0;
	assert_int_equal(sfs_mountinfo_each(stop_at_first, &calls), 7);
	assert_int_equal(calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_live_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
