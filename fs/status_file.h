/* Status files that shadowctl reads (STATE/hosts.status,
 * STATE/shadows.status, STATE/recorder.stats): KEY=VALUE lines written to
 * PATH.tmp and renamed over PATH, so a reader sees the old or the new file,
 * never half of one. When the filesystem is full (ENOSPC, EDQUOT) the old
 * file is overwritten in place instead, so the figures keep moving when
 * they matter most (a reader may then see a torn file for an instant).
 *
 * State files that a later mount reads back as settings (STATE/pins,
 * STATE/tuning) are written the same way but never in place: an in-place
 * write that fails half way (no block for the next page) or is cut by a
 * crash before its truncation leaves lines that were never written as
 * such, a path or a value cut short, read back as another setting. On a
 * full filesystem the old file stays whole and the caller gets the error
 * (the change is refused, not kept in memory only). */
#ifndef SHADOWFS_FS_STATUS_FILE_H
#define SHADOWFS_FS_STATUS_FILE_H

#include <stdio.h>

/* Writes path with fill(f, arg); returns 0 or -errno (PATH.tmp removed). */
int fs_status_file_write(const char *path, void (*fill)(FILE *f, void *arg), void *arg);
/* The same for a state file: replaced whole or not at all (-errno). */
int fs_state_file_write(const char *path, void (*fill)(FILE *f, void *arg), void *arg);
/* s as a quoted VALUE: "..." with '"', '\\' and control bytes escaped (\",
 * \\, \n, \t, \xHH), so any file name stays on its line and in its field
 * (tools/ctl_status.c undoes it). */
void fs_status_put_quoted(FILE *f, const char *s);

#endif
