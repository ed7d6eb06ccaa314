/* pc_scen_sparse.c: posix_compare scenarios about sparse files: SEEK_DATA and
 * SEEK_HOLE, fallocate modes (allocate, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE)
 * with block counts, and multi-GiB holes. Block counts are recorded after
 * fsync so they are meaningful on both sides. */
#include "pc_scenarios.h"
#include "pc_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1LL << 20)

/* Record lseek(SEEK_DATA/SEEK_HOLE) at a list of offsets. */
static void seek_map(int fd, const long long *offs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		errno = 0;
		off_t d = lseek(fd, offs[i], SEEK_DATA);
		int ed = errno;
		errno = 0;
		off_t h = lseek(fd, offs[i], SEEK_HOLE);
		int eh = errno;

		PC_NOTE("seek(%lld): data=%lld%s%s hole=%lld%s%s", offs[i], (long long)d,
			d < 0 ? " " : "", d < 0 ? strerrorname_np(ed) : "", (long long)h,
			h < 0 ? " " : "", h < 0 ? strerrorname_np(eh) : "");
	}
}

/* SEEK_DATA/SEEK_HOLE on a file with data islands, before and after fsync,
 * on an empty file and on a dense file. */
static void sc_seek_hole(void)
{
	static const long long offs[] = { 0, 4096, MIB - 1, MIB, MIB + 4095, MIB + 4096,
					  2 * MIB, 3 * MIB, 4 * MIB - 1, 4 * MIB, 5 * MIB, -1 };
	char buf[4096];
	int fd;

	memset(buf, 'd', sizeof(buf));
	fd = PC_FD(open("f", O_RDWR | O_CREAT, 0644));
	PC_RC(pwrite(fd, buf, sizeof(buf), MIB));
	PC_RC(pwrite(fd, buf, sizeof(buf), 3 * MIB));
	PC_RC(ftruncate(fd, 4 * MIB));
	seek_map(fd, offs, sizeof(offs) / sizeof(offs[0]));
	PC_RC(fsync(fd));
	PC_FSTAT(fd, PC_ST_BLOCKS);
	seek_map(fd, offs, sizeof(offs) / sizeof(offs[0]));
	PC_RC(lseek(fd, 0, 5));
	close(fd);
	fd = PC_FD(open("empty", O_RDWR | O_CREAT, 0644));
	seek_map(fd, offs, 2);
	close(fd);
	fd = PC_FD(open("dense", O_RDWR | O_CREAT, 0644));
	PC_RC(write(fd, buf, 1000));
	PC_RC(fsync(fd));
	seek_map(fd, offs, 3);
	close(fd);
}

/* fallocate modes: allocate, KEEP_SIZE beyond EOF, PUNCH_HOLE (needs
 * KEEP_SIZE), ZERO_RANGE, errors; sizes, blocks and content. */
static void sc_fallocate(void)
{
	static const long long offs[] = { 0, 200000, 300000, MIB };
	char *buf = malloc(MIB);
	int fd, ro;

	fd = PC_FD(open("f", O_RDWR | O_CREAT, 0644));
	PC_RC(fallocate(fd, 0, 0, MIB));
	PC_RC(fsync(fd));
	PC_FSTAT(fd, PC_ST_BLOCKS);
	PC_RC(fallocate(fd, FALLOC_FL_KEEP_SIZE, MIB, MIB));
	PC_RC(fsync(fd));
	PC_FSTAT(fd, PC_ST_BLOCKS);
	memset(buf, 'x', MIB);
	PC_RC(pwrite(fd, buf, MIB, 0));
	PC_RC(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 65536, 262144));
	PC_RC(fsync(fd));
	PC_FSTAT(fd, PC_ST_BLOCKS);
	PC_FDCONTENT(fd);
	seek_map(fd, offs, sizeof(offs) / sizeof(offs[0]));
	PC_RC(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	PC_RC(fallocate(fd, FALLOC_FL_ZERO_RANGE, 500000, 10000));
	PC_RC(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, MIB - 100, 1000));
	PC_RC(fsync(fd));
	PC_FSTAT(fd, 0);
	PC_FDCONTENT(fd);
	PC_RC(fallocate(fd, 0, 0, 0));
	PC_RC(fallocate(fd, 0, -1, 10));
	PC_RC(fallocate(fd, 0x4000, 0, 10));
	PC_ERR(posix_fallocate(fd, 3 * MIB, 4096));
	PC_FSTAT(fd, 0);
	close(fd);
	ro = PC_FD(open("f", O_RDONLY));
	PC_RC(fallocate(ro, 0, 0, 10));
	close(ro);
	PC_RC(mkdir("d", 0755));
	ro = PC_FD(open("d", O_RDONLY));
	PC_RC(fallocate(ro, 0, 0, 10));
	close(ro);
	fd = PC_FD(open("g", O_RDWR | O_CREAT, 0644));
	PC_RC(write(fd, "abc", 3));
	PC_RC(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	PC_FDCONTENT(fd);
	PC_FSTAT(fd, 0);
	close(fd);
	free(buf);
}

/* Holes of several GiB: size, blocks, zeros read from the middle. */
static void sc_large_sparse(void)
{
	char buf[16];
	int fd = PC_FD(open("f", O_RDWR | O_CREAT, 0644));

	PC_RC(pwrite(fd, "end", 3, 6LL << 30));
	PC_RC(pwrite(fd, "start", 5, 0));
	PC_RC(fsync(fd));
	PC_FSTAT(fd, PC_ST_BLOCKS);
	memset(buf, 1, sizeof(buf));
	PC_RC(pread(fd, buf, sizeof(buf), 3LL << 30));
	PC_NOTE("zeros = %d", buf[0] == 0 && buf[15] == 0);
	PC_RC(lseek(fd, 4096, SEEK_DATA));
	PC_RC(lseek(fd, 0, SEEK_HOLE));
	PC_RC(ftruncate(fd, 1LL << 40));
	PC_FSTAT(fd, 0);
	PC_RC(ftruncate(fd, 10));
	PC_RC(fsync(fd));
	PC_FSTAT(fd, PC_ST_BLOCKS);
	close(fd);
	PC_CONTENT("f");
}

const struct pc_scenario pc_sparse_scenarios[] = {
	{ "seek_hole", "SEEK_DATA/SEEK_HOLE maps", sc_seek_hole, false },
	{ "fallocate", "fallocate modes, blocks, content", sc_fallocate, false },
	{ "large_sparse", "multi-GiB holes and truncates", sc_large_sparse, false },
	{ NULL, NULL, NULL, false },
};
