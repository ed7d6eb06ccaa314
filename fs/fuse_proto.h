/* The parts of the FUSE kernel protocol (include/uapi/linux/fuse.h, 7.42)
 * that libfuse 3.14's headers lack or keep private, for the layers that
 * speak to /dev/fuse beside libfuse: kernel passthrough (passthrough.c),
 * FUSE over io_uring (uring.c) and the session I/O functions that carry
 * both (dev_io.c). Layouts are the kernel's; the asserts pin them. */
#ifndef SHADOWFS_FS_FUSE_PROTO_H
#define SHADOWFS_FS_FUSE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define FP_OP_SETATTR 4u
#define FP_OP_OPEN 14u
#define FP_OP_WRITE 16u
#define FP_OP_INIT 26u
#define FP_OP_CREATE 35u
#define FP_OP_TMPFILE 51u                 /* laid out and answered as CREATE */
#define FP_CREATE_IN_SIZE 16u             /* struct fuse_create_in (minor >= 12) */
#define FP_WRITE_FLAGS_OFF 20u            /* fuse_write_in.write_flags */
#define FP_WRITE_KILL_SUIDGID (1u << 2)   /* write_flags */
#define FP_FATTR_KILL_SUIDGID (1u << 11)  /* fuse_setattr_in.valid */
#define FP_OPEN_KILL_SUIDGID (1u << 0)    /* fuse_open_in/fuse_create_in.open_flags */
#define FP_INIT_EXT (1u << 30)            /* init flags: flags2 is valid */
#define FP_MAX_PAGES (1u << 22)           /* init flags: max_pages is valid */
#define FP_WRITEBACK_CACHE (1u << 16)     /* init flags */
#define FP_DIRECT_IO_ALLOW_MMAP_FLAGS2 (1u << 4) /* bit 36, in flags2 (Linux 6.6) */
#define FP_PASSTHROUGH_FLAGS2 (1u << 5)   /* FUSE_PASSTHROUGH (bit 37), in flags2 */
#define FP_OVER_IO_URING_FLAGS2 (1u << 9) /* FUSE_OVER_IO_URING (bit 41), in flags2 */
#define FP_FOPEN_DIRECT_IO (1u << 0)
#define FP_FOPEN_NOFLUSH (1u << 5)
#define FP_FOPEN_PARALLEL_DIRECT_WRITES (1u << 6)
#define FP_FOPEN_PASSTHROUGH (1u << 7)

struct fp_in_header {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen, padding;
};
struct fp_init_in {
	uint32_t major, minor, max_readahead, flags, flags2;
};
struct fp_out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};
/* fuse_init_out up to max_stack_depth (the reply is 64 bytes). */
struct fp_init_out {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2, max_stack_depth;
};
struct fp_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id; /* "padding" in libfuse 3.14 */
};
struct fp_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define FP_DEV_IOC_MAGIC 229
#define FP_DEV_IOC_BACKING_OPEN _IOW(FP_DEV_IOC_MAGIC, 1, struct fp_backing_map)
#define FP_DEV_IOC_BACKING_CLOSE _IOW(FP_DEV_IOC_MAGIC, 2, uint32_t)

/* FUSE over io_uring (Linux 6.14+): one registered entry is a header
 * buffer of this layout plus a payload buffer. A request arrives as
 * fuse_in_header in in_out, the opcode's fixed argument in op_in, the rest
 * (names, write data) in the payload; a reply is fuse_out_header in in_out
 * and every output argument in the payload. */
#define FP_URING_IN_OUT_HEADER_SZ 128
#define FP_URING_OP_IN_OUT_SZ 128
#define FP_URING_CMD_REGISTER 1u
#define FP_URING_CMD_COMMIT_AND_FETCH 2u
struct fp_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* the request's unique id */
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};
struct fp_uring_req_header {
	char in_out[FP_URING_IN_OUT_HEADER_SZ];
	char op_in[FP_URING_OP_IN_OUT_SZ];
	struct fp_uring_ent_in_out ring_ent_in_out;
};
/* In the 80-byte command area of a 128-byte SQE. */
struct fp_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

_Static_assert(sizeof(struct fp_in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct fp_out_header) == 16, "fuse_out_header");
_Static_assert(offsetof(struct fp_init_in, flags2) == 16, "fuse_init_in.flags2");
_Static_assert(offsetof(struct fp_init_out, max_write) == 20, "fuse_init_out.max_write");
_Static_assert(offsetof(struct fp_init_out, max_pages) == 28, "fuse_init_out.max_pages");
_Static_assert(offsetof(struct fp_init_out, flags2) == 32, "fuse_init_out.flags2");
_Static_assert(offsetof(struct fp_init_out, max_stack_depth) == 36, "max_stack_depth");
_Static_assert(sizeof(struct fp_open_out) == 16, "fuse_open_out");
_Static_assert(sizeof(struct fp_backing_map) == 16, "fuse_backing_map");
_Static_assert(sizeof(struct fp_uring_req_header) == 288, "fuse_uring_req_header");
_Static_assert(sizeof(struct fp_uring_cmd_req) == 24, "fuse_uring_cmd_req");

#endif
