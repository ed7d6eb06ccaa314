/* The order the kernel keeps between a reply and the requests after it,
 * told to ThreadSanitizer (nothing in other builds).
 *
 * The kernel sends a request naming a file handle or an inode only after
 * the reply that made it, and a RELEASE or FORGET only after the replies
 * of the requests that used it. TSan sees that order through read(2) and
 * writev(2) on /dev/fuse, but not through a spliced request nor one taken
 * from an io_uring ring: its reports were then about handles made by one
 * request and used or freed by a later one. So the TSan build releases
 * before every reply (fs/dev_io.c) and acquires after every request read,
 * spliced (fs/dev_io.c, whose functions that build always installs) or
 * taken from a ring (fs/uring.c). */
#ifndef SHADOWFS_FS_KERNEL_ORDER_H
#define SHADOWFS_FS_KERNEL_ORDER_H

#ifdef __SANITIZE_THREAD__
#include <sanitizer/tsan_interface.h>
extern char fs_kernel_queue; /* fs/dev_io.c: the sync object, never read */
#define FS_KERNEL_ORDER_MODELLED true
static inline void fs_kernel_order_reply(void) { __tsan_release(&fs_kernel_queue); }
static inline void fs_kernel_order_request(void) { __tsan_acquire(&fs_kernel_queue); }
#else
#define FS_KERNEL_ORDER_MODELLED false
static inline void fs_kernel_order_reply(void) {}
static inline void fs_kernel_order_request(void) {}
#endif

#endif
