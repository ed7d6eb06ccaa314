/* Logging for the programs (shadowfs, shadowd, shadowctl).
 *
 * Library code returns -errno and lets its caller decide what to say; the
 * programs and their long-running threads log through here. Messages go to
 * stderr (foreground) or syslog (daemonised), one line each, prefixed with the
 * program name. Thread-safe: one write(2) per message. */
#ifndef SHADOWFS_COMMON_LOG_H
#define SHADOWFS_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum sfs_log_level {
	SFS_LOG_ERROR = 0,
	SFS_LOG_WARN = 1,
	SFS_LOG_INFO = 2,
	SFS_LOG_DEBUG = 3,
};

/* Set once at start, before threads exist. */
void sfs_log_init(const char *program, enum sfs_log_level level, bool use_syslog);
void sfs_log_set_level(enum sfs_log_level level);
/* From now on to syslog (a daemon whose start-up logged to stderr). */
void sfs_log_to_syslog(void);
enum sfs_log_level sfs_log_get_level(void);

void sfs_log(enum sfs_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sfs_vlog(enum sfs_log_level level, const char *fmt, va_list ap);

#define sfs_error(...) sfs_log(SFS_LOG_ERROR, __VA_ARGS__)
#define sfs_warn(...) sfs_log(SFS_LOG_WARN, __VA_ARGS__)
#define sfs_info(...) sfs_log(SFS_LOG_INFO, __VA_ARGS__)
#define sfs_debug(...)                                                         \
	do {                                                                   \
		if (sfs_log_get_level() >= SFS_LOG_DEBUG)                      \
			sfs_log(SFS_LOG_DEBUG, __VA_ARGS__);                   \
	} while (0)

#endif
