/* Helpers shared by the sync/ unit tests: a per-test temp directory, files of
 * reproducible random content, comparisons and corruption of files. */
#ifndef SHADOWFS_TESTS_UNIT_SYNC_HELPERS_H
#define SHADOWFS_TESTS_UNIT_SYNC_HELPERS_H

#include <stddef.h>
#include <stdint.h>

/* Creates /tmp/delta-test-XXXXXX; th_path() builds paths inside it. */
void th_tmpdir_create(void);
void th_tmpdir_remove(void);
const char *th_path(const char *name);
/* cmocka setup/teardown wrappers of the two above. */
int th_setup(void **state);
int th_teardown(void **state);

/* Reproducible pseudo-random bytes. */
void th_seed(uint64_t seed);
void th_random(uint8_t *p, size_t n);
uint64_t th_rand(void);

/* Writes len bytes to a new file; returns the path (static buffer per call
 * site: copy it if needed). */
void th_write_file(const char *path, const uint8_t *data, size_t len);
/* Fills a file of len random bytes in pieces (never whole in memory). */
void th_write_random_file(const char *path, uint64_t len);
/* Returns 1 when the two files have identical content. */
int th_files_equal(const char *a, const char *b);
/* Reads a whole (small) file; caller frees. */
uint8_t *th_read_file(const char *path, size_t *ret_len);
/* Current resident set size of the process in bytes. */
uint64_t th_rss_bytes(void);

#endif
