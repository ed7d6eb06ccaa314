/* Fuzz target for the -o hosts= decoder (fs/hosts.c, fs_hosts_parse), a
 * mount option anyone who can mount (or edit /etc/fstab) writes, and with
 * it the number, size and host:port parsers of common/parse.c.
 * Invariants: no crash or out-of-bounds access (sanitizers); a refused list
 * has a one-line, NUL-terminated reason in err; an accepted one has as
 * many hosts as ';'-separated entries, each either a local directory (an
 * absolute path with no blank, control character, '"', '\' or '=') or a
 * remote host (port 1..65535, a name of letters, digits and ".-_:%"), a
 * cost in 0..1e9, a budget only on a local host, and no host twice
 * (abort() otherwise).
 *
 * Built two ways (tests/fuzz/fuzz_text.h): with clang a libFuzzer target;
 * always a regression driver over built-in seeds and N fixed-seed
 * mutations.
 *   fuzz_hosts [-n N] [CORPUS_DIR...]     (default N = 200000) */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hosts.h"
#include "tests/fuzz/fuzz_text.h"

#define check(cond)                                                                         \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_hosts: %s at line %d\n", #cond, __LINE__);     \
			abort();                                                            \
		}                                                                           \
	} while (0)

static void check_spec(const struct fs_host_spec *h)
{
	size_t n = strnlen(h->where, sizeof(h->where));
	check(n > 0 && n < sizeof(h->where));
	check(h->cost >= 0 && h->cost <= 1e9);
	if (h->kind == FS_HOST_LOCAL) {
		check(h->where[0] == '/');
		for (const unsigned char *c = (const unsigned char *)h->where; *c; c++)
			check(*c > ' ' && *c != 0x7f && *c != '"' && *c != '\\' && *c != '=');
	} else {
		check(h->kind == FS_HOST_REMOTE);
		check(h->port != 0 && h->budget_bytes == 0);
		for (const char *c = h->where; *c; c++)
			check(isalnum((unsigned char)*c) || strchr(".-_:%", *c));
	}
}

static long accepted; /* lists accepted: the run says how many */

static void report(void)
{
	printf(" (%ld lists accepted)", accepted);
}

static void one(const uint8_t *data, size_t size)
{
	char *list = malloc(size + 1);
	memcpy(list, data, size);
	list[size] = '\0';
	struct fs_host_spec *v = NULL;
	size_t n = 0;
	char err[256];
	memset(err, 'x', sizeof(err));
	int r = fs_hosts_parse(list, &v, &n, err, sizeof(err));
	if (r < 0) {
		check(r == -22); /* EINVAL */
		size_t len = strnlen(err, sizeof(err));
		check(len > 0 && len < sizeof(err));
	} else {
		check(r == 0);
		accepted++;
		size_t entries = 1;
		for (const char *c = list; *c; c++)
			entries += *c == ';';
		check(n == entries);
		for (size_t i = 0; i < n; i++) {
			check_spec(&v[i]);
			for (size_t j = 0; j < i; j++)
				check(v[i].kind != v[j].kind || v[i].port != v[j].port ||
				      strcmp(v[i].where, v[j].where));
		}
		free(v);
	}
	free(list);
}

static const char *const seeds[] = {
    "/ssd/shadows:cost=2:budget=1g;127.0.0.1:7811:cost=1",
    "/a;/b:budget=512m",
    "[::1]:7811:cost=0.5",
    "[fe80::1%eth0]:9",
    "host-1.example:65535",
    "host:65536",
    "host:0",
    "/a;/a/b",
    "/a;;/b",
    "/a:cost=",
    "/a:cost=1e10",
    "/a:budget=0",
    "h:1:budget=1g",
    "/a b",
    "[::1:7811",
    "relative/dir",
    ":80",
    "",
};

static const char alphabet[] = "0123456789/;:=.[]%-_ abcegmkstu\"\\";

static const struct fuzz_text_target fuzz_target = {
    .name = "fuzz_hosts",
    FUZZ_TEXT_SEEDS(seeds),
    FUZZ_TEXT_ALPHABET(alphabet),
    .cap = 2048,
    .long_runs = true,
    .rng = 0x686f7374735f667au,
    .one = one,
    .report = report,
};
