/* The pinned paths a mount starts with: STATE/pins, then the changes
 * STATE/pins.log recorded since (fs/pin_log.h), applied in order to a set
 * of paths. A rename's intent in the log is applied when BACKING shows the
 * rename was made: the renamed path is where the other side was and the
 * old path is not the renamed object any more (with RENAME_EXCHANGE: each
 * side is where the other was). Then every pinned path at or below the old
 * path moves below the new one (both ways for an exchange), and a pinned
 * file the rename replaced loses its pin. A rename that was not made (it
 * failed, or the mount died before making it) changes nothing; one whose
 * own "-OLD" "+NEW" records follow is applied twice, to the same effect. */
#ifndef SHADOWFS_FS_PIN_SET_H
#define SHADOWFS_FS_PIN_SET_H

#include <stdbool.h>

/* Calls fn for each path pinned after STATE/pins (pins_path; read errors
 * are logged, a missing file is no pins) and STATE/pins.log (log_path),
 * in strcmp order; renames are checked against root_fd (BACKING). Returns
 * how many log records were replayed (the caller then rewrites STATE/pins),
 * or -errno when the log could not be read (logged). *unread is set when
 * STATE/pins or the log could not be read whole (logged): the caller must
 * then not replace STATE/pins nor empty the log, which would lose the pins
 * they hold for good. */
int fs_pin_set_load(const char *pins_path, const char *log_path, int root_fd,
		    void (*fn)(void *arg, const char *path), void *arg, bool *unread);

#endif
