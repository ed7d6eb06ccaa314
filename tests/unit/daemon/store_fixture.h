/* cmocka fixture for the unit tests of daemon/ that need a real host store:
 * a fresh store in a temporary directory, closed and removed afterwards.
 * Include after <cmocka.h>. */
#ifndef SHADOWFS_TESTS_DAEMON_STORE_FIXTURE_H
#define SHADOWFS_TESTS_DAEMON_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/host_store.h"

struct fx {
	char dir[64];
	struct daemon_store *s; /* may be closed and reopened by a test */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/host-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(daemon_store_open(f->dir, 0, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	daemon_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

#endif
