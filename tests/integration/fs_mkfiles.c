/* fs_mkfiles create|stat DIR NDIRS NFILES [THREADS]: creates DIR/dK/fN
 * (empty files) fast, or stats every one of them (each a distinct lookup
 * through a mount). Prints the number of files handled; exit 1 on any
 * error. Used by fs_million.sh. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;
static int mode_create, ndirs, nfiles, nthreads;
static long done_count[64];
static int failed;

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	char path[4096];
	for (int d = id; d < ndirs; d += nthreads) {
		snprintf(path, sizeof(path), "%s/d%d", root, d);
		if (mode_create && mkdir(path, 0755) < 0 && errno != EEXIST) {
			perror(path);
			failed = 1;
			return NULL;
		}
		int dfd = open(path, O_RDONLY | O_DIRECTORY);
		if (dfd < 0) {
			perror(path);
			failed = 1;
			return NULL;
		}
		for (int f = 0; f < nfiles; f++) {
			char name[32];
			snprintf(name, sizeof(name), "f%d", f);
			if (mode_create) {
				/* One syscall per empty file. */
				if (mknodat(dfd, name, S_IFREG | 0644, 0) < 0 && errno != EEXIST) {
					perror(name);
					failed = 1;
					break;
				}
			} else {
				struct stat st;
				if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
					fprintf(stderr, "stat d%d/%s: %s\n", d, name, strerror(errno));
					failed = 1;
					break;
				}
			}
			done_count[id]++;
		}
		close(dfd);
		if (failed)
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: fs_mkfiles create|stat DIR NDIRS NFILES [THREADS]\n");
		return 2;
	}
	mode_create = strcmp(argv[1], "create") == 0;
	root = argv[2];
	ndirs = atoi(argv[3]);
	nfiles = atoi(argv[4]);
	nthreads = argc > 5 ? atoi(argv[5]) : 2;
	if (nthreads < 1 || nthreads > 64)
		nthreads = 2;
	pthread_t t[64];
	for (int k = 0; k < nthreads; k++)
		pthread_create(&t[k], NULL, worker, (void *)(long)k);
	long total = 0;
	for (int k = 0; k < nthreads; k++) {
		pthread_join(t[k], NULL);
		total += done_count[k];
	}
	printf("%ld\n", total);
	return failed ? 1 : 0;
}
