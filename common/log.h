/* Logging for the programs (shadowfs, shadowd, shadowctl).
 *
 * Library code returns -errno and lets its caller decide what to say; the
 * programs and their long-running threads log through here. Messages go to
 * stderr (foreground) or syslog (daemonised), one line each, prefixed with the
 * program name. Thread-safe: one write(2) per message. */
#ifndef SHADOWFS_COMMON_LOG_H
#define SHADOWFS_COMMON_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

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

/* A budget for one kind of message that a peer can make frequent (refused
 * connections under a flood): at most `burst` lines per `period_ms`; the
 * lines held back are counted and said, as one line, before the next line
 * that passes. Static storage: SFS_LOG_LIMIT_INIT(burst, period_ms). */
struct sfs_log_limit {
	pthread_mutex_t lock;
	unsigned burst;
	uint64_t period_ms;
	uint64_t window_ms; /* start of the current period, 0: none yet */
	unsigned in_window;
	uint64_t held_back;
};
#define SFS_LOG_LIMIT_INIT(burst, period_ms) {PTHREAD_MUTEX_INITIALIZER, (burst), (period_ms), 0, 0, 0}
/* Logs like sfs_log within l's budget; true if the line was written. */
bool sfs_log_limited(struct sfs_log_limit *l, enum sfs_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define sfs_error(...) sfs_log(SFS_LOG_ERROR, __VA_ARGS__)
#define sfs_warn(...) sfs_log(SFS_LOG_WARN, __VA_ARGS__)
#define sfs_info(...) sfs_log(SFS_LOG_INFO, __VA_ARGS__)
#define sfs_debug(...)                                                         \
	do {                                                                   \
		if (sfs_log_get_level() >= SFS_LOG_DEBUG)                      \
			sfs_log(SFS_LOG_DEBUG, __VA_ARGS__);                   \
	} while (0)

#endif
