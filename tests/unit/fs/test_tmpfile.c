/* Unit tests of fs/tmpfile: a FUSE_TMPFILE request, as the kernel lays it
 * out (in header, fuse_create_in, the name "/"), becomes a FUSE_CREATE of
 * "/" in place and nothing else changes; any other request, one cut
 * short, or a FUSE_TMPFILE of another name is left as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fs/fuse_proto.h"
#include "fs/tmpfile.h"

#define NAME_AT (sizeof(struct fp_in_header) + FP_CREATE_IN_SIZE)

/* A request of opcode with name, into buf: its length. */
static size_t request(char *buf, size_t cap, uint32_t opcode, const char *name)
{
	size_t len = NAME_AT + strlen(name) + 1;
	assert_true(len <= cap);
	memset(buf, 0x5a, cap);
	struct fp_in_header ih = {.len = (uint32_t)len, .opcode = opcode, .unique = 77, .nodeid = 9};
	memcpy(buf, &ih, sizeof(ih));
	memcpy(buf + NAME_AT, name, strlen(name) + 1);
	return len;
}

static uint32_t opcode_of(const char *buf)
{
	struct fp_in_header ih;
	memcpy(&ih, buf, sizeof(ih));
	return ih.opcode;
}

/* The tmpfile request becomes a create; only the opcode changes. */
static void test_tmpfile_becomes_create(void **state)
{
	(void)state;
	char buf[128], want[128];
	size_t len = request(buf, sizeof(buf), FP_OP_TMPFILE, "/");
	request(want, sizeof(want), FP_OP_CREATE, "/");
	fs_tmpfile_rewrite(buf, len);
	assert_int_equal(opcode_of(buf), FP_OP_CREATE);
	assert_memory_equal(buf, want, sizeof(buf));
}

/* Other requests, other names, short reads: untouched. */
static void test_others_untouched(void **state)
{
	(void)state;
	char buf[128], copy[128];
	static const struct {
		uint32_t opcode;
		const char *name;
	} cases[] = {{FP_OP_CREATE, "/"}, {FP_OP_TMPFILE, "x"}, {FP_OP_TMPFILE, "//"},
		     {FP_OP_TMPFILE, ""}, {FP_OP_OPEN, "/"}};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		size_t len = request(buf, sizeof(buf), cases[k].opcode, cases[k].name);
		memcpy(copy, buf, sizeof(buf));
		fs_tmpfile_rewrite(buf, len);
		assert_memory_equal(buf, copy, sizeof(buf));
	}
	/* cut short: the read, or the length the header claims */
	size_t len = request(buf, sizeof(buf), FP_OP_TMPFILE, "/");
	memcpy(copy, buf, sizeof(buf));
	fs_tmpfile_rewrite(buf, len - 1);
	fs_tmpfile_rewrite(buf, 3);
	assert_memory_equal(buf, copy, sizeof(buf));
	struct fp_in_header ih;
	memcpy(&ih, buf, sizeof(ih));
	ih.len = (uint32_t)(NAME_AT + 1);
	memcpy(buf, &ih, sizeof(ih));
	memcpy(copy, buf, sizeof(buf));
	fs_tmpfile_rewrite(buf, len);
	assert_memory_equal(buf, copy, sizeof(buf));
}

/* The name a create handler tells a tmpfile by. */
static void test_name(void **state)
{
	(void)state;
	assert_true(fs_tmpfile_name("/"));
	assert_false(fs_tmpfile_name("//"));
	assert_false(fs_tmpfile_name("a"));
	assert_false(fs_tmpfile_name(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tmpfile_becomes_create),
	    cmocka_unit_test(test_others_untouched),
	    cmocka_unit_test(test_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
