/* FUSE_HANDLE_KILLPRIV_V2: shadowfs, not the kernel, clears the set-id
 * bits and security.capability when a caller without CAP_FSETID writes,
 * truncates or opens with O_TRUNC. What it buys: the kernel then marks the
 * superblock SB_NOSEC and stops asking (a GETXATTR of security.capability,
 * one round trip) before every write(2): 64 MiB in 4 KiB buffered writes
 * took 565-612 ms through the mount against 105-111 ms natively, all of the
 * difference that round trip.
 *
 * libfuse 3.14 knows neither the INIT flag nor the request flags, so the
 * flag is asked for in the INIT reply (dev_io.c) and each request is looked
 * at as it is read (fs_killpriv_note, on the thread that then handles it:
 * /dev/fuse reads and io_uring entries alike); the handlers ask
 * fs_killpriv_due() after the change succeeded and call fs_killpriv_apply.
 *
 * Not asked for with kernel passthrough (writes bypass us) or when requests
 * are spliced from /dev/fuse (not seen before libfuse parses them). */
#ifndef SHADOWFS_FS_KILLPRIV_H
#define SHADOWFS_FS_KILLPRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <fuse_lowlevel.h>

#define FS_KILLPRIV_V2_FLAG (1u << 28) /* FUSE_HANDLE_KILLPRIV_V2, INIT flags */

/* Notes whether the request in buf (as read from /dev/fuse: in header,
 * then the op's argument) asks this thread to kill privileges. */
void fs_killpriv_note(const void *buf, size_t len);
/* Whether the request this thread handles asked for it. */
bool fs_killpriv_due(void);
/* Clears S_ISUID, S_ISGID when group-executable or, unless fsetid (the
 * caller holds CAP_FSETID), when req's caller is not in the file's group,
 * and security.capability of the regular file open as fd (any fd, O_PATH
 * too), as the daemon: 0 or -errno (nothing to clear is 0). A write,
 * truncation or O_TRUNC open asks only for callers without CAP_FSETID; a
 * chown asks whoever the caller is (Linux clears S_ISUID then even for
 * root), and only root holds CAP_FSETID here (fs/creds.h). */
int fs_killpriv_apply(fuse_req_t req, int fd, bool fsetid);
/* After a chown(2) by req's caller that the daemon made for it (the kernel
 * checked it: default_permissions), old the node's stat before: clears the
 * S_ISGID without S_IXGRP of a non-directory whose group the caller, not
 * root, was not in, which the backing filesystem keeps for the daemon
 * (capable) and clears natively (the rest it clears itself). For a
 * chown(f, -1, -1), where the kernel does not ask (fs_killpriv_due), and
 * kernels that do not ask at a chown. 0 or -errno. */
int fs_killpriv_after_chown(fuse_req_t req, int fd, const struct stat *old);

#endif
