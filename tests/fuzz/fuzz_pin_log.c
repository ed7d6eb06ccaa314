/* Fuzz target for the decoder of STATE/pins.log lines (fs/pin_log.c,
 * fs_pin_log_parse): the log is read back at every mount start, after
 * crashes that can tear or zero its end, and anyone with access to STATE
 * can edit it. Invariants: no crash or out-of-bounds access (sanitizers;
 * each line in a buffer of exactly the size the caller states, once with
 * the byte a rename needs after the NUL and once without); an accepted
 * record's paths lie inside the line, are not empty and are shorter than
 * PATH_MAX; and what fs_pin_log_append / fs_pin_log_append_rename write
 * (paths made of the input's bytes) parses back to the same record
 * (abort() otherwise).
 *
 * Built two ways (tests/fuzz/fuzz_text.h): with clang a libFuzzer target;
 * always a regression driver over built-in seeds and N fixed-seed
 * mutations.
 *   fuzz_pin_log [-n N] [CORPUS_DIR...]     (default N = 200000) */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs/pin_log.h"
#include "tests/fuzz/fuzz_text.h"

#define check(cond)                                                                         \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_pin_log: %s at line %d\n", #cond, __LINE__);   \
			abort();                                                            \
		}                                                                           \
	} while (0)

static void check_path(const char *p, const char *line, size_t cap)
{
	check(p >= line && p < line + cap);
	size_t n = strnlen(p, (size_t)(line + cap - p));
	check(p + n < line + cap); /* NUL-terminated inside */
	check(n > 0 && n < PATH_MAX);
}

static void parse_checked(const uint8_t *data, size_t size, size_t spare)
{
	char *line = malloc(size + spare);
	memcpy(line, data, size);
	line[size] = '\0';
	struct fs_pin_log_record rec;
	enum fs_pin_log_kind k = fs_pin_log_parse(line, size + spare, &rec);
	check(k == rec.kind);
	if (k == FS_PIN_LOG_RENAME) {
		check(strlen(line) + 2 <= size + spare); /* room for the move */
		check_path(rec.rename.from, line, size + spare);
		check_path(rec.rename.to, line, size + spare);
	} else if (k == FS_PIN_LOG_CHANGE) {
		check_path(rec.path, line, size + spare);
	}
	free(line);
}

/* The one line in fd (written from offset 0), without its newline, into
 * a buffer with a spare byte; NULL if there is not exactly one. */
static char *read_line(int fd, size_t *cap)
{
	off_t end = lseek(fd, 0, SEEK_END);
	check(end > 0);
	char *buf = malloc((size_t)end + 1);
	check(pread(fd, buf, (size_t)end, 0) == end);
	check(buf[end - 1] == '\n' && !memchr(buf, '\n', (size_t)end - 1));
	buf[end - 1] = '\0';
	*cap = (size_t)end + 1;
	check(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	return buf;
}

/* A path of the input's bytes (NULs made 'a'), at most PATH_MAX - 1. */
static char *path_of(const uint8_t *data, size_t size)
{
	size_t n = size < PATH_MAX - 1 ? size : PATH_MAX - 1;
	char *p = malloc(n + 2);
	for (size_t i = 0; i < n; i++)
		p[i] = data[i] ? (char)data[i] : 'a';
	if (!n)
		p[n++] = 'z';
	p[n] = '\0';
	return p;
}

static int memfd = -1;

static void round_trip(const uint8_t *data, size_t size)
{
	size_t half = size / 2;
	char *from = path_of(data, half), *to = path_of(data + half, size - half);
	uint64_t a = size ? data[0] * 0x9e3779b97f4a7c15ull : 0, b = ~a;
	struct fs_pin_rename rn = {.from = from, .to = to, .from_ino = a, .to_ino = b,
				   .exchange = size % 2};
	/* A path that starts with "./" and holds no newline is not encoded
	 * and reads back without its "./": not a path the mount writes. */
	bool plain = strncmp(from, "./", 2) && strncmp(to, "./", 2);
	check(fs_pin_log_append_rename(memfd, &rn) == 0);
	size_t cap;
	char *line = read_line(memfd, &cap);
	struct fs_pin_log_record rec;
	enum fs_pin_log_kind k = fs_pin_log_parse(line, cap, &rec);
	if (plain) {
		check(k == FS_PIN_LOG_RENAME);
		check(rec.rename.from_ino == a && rec.rename.to_ino == b);
		check(rec.rename.exchange == rn.exchange);
		check(!strcmp(rec.rename.from, from) && !strcmp(rec.rename.to, to));
	}
	free(line);
	check(fs_pin_log_append(memfd, size % 3 == 0, from) == 0);
	line = read_line(memfd, &cap);
	k = fs_pin_log_parse(line, cap, &rec);
	if (plain) {
		check(k == FS_PIN_LOG_CHANGE);
		check(rec.pin == (size % 3 == 0));
		check(!strcmp(rec.path, from));
	}
	free(line);
	free(from);
	free(to);
}

static void one(const uint8_t *data, size_t size)
{
	if (memfd < 0)
		check((memfd = memfd_create("fuzz_pin_log", MFD_CLOEXEC)) >= 0);
	parse_checked(data, size, 1); /* no room for a rename */
	parse_checked(data, size, 2);
	round_trip(data, size);
}

static const char *const seeds[] = {
    "+a/b",
    "-a/b",
    "+./new\\nline\\\\n",
    "+./",
    "~r 1 2 1 ab",
    "~x 12 7 7 d 1/x 2d 1/x 2 3",
    "~r 18446744073709551615 0 8 ./a\\nb/cy",
    "~r 1 2 99 ab",
    "~r 1 2 0 ab",
    "~r 1 2 2 ./",
    "~r -1 +2 1 ab",
    "~q 1 2 1 ab",
    "~r1 2 1 ab",
    "~",
    "",
};

static const char alphabet[] = "0123456789 ~rx+-./\\nab";

static const struct fuzz_text_target fuzz_target = {
    .name = "fuzz_pin_log",
    FUZZ_TEXT_SEEDS(seeds),
    FUZZ_TEXT_ALPHABET(alphabet),
    .cap = 3 * PATH_MAX,
    .long_runs = true,
    .rng = 0x70696e5f6c6f6721u,
    .one = one,
};
