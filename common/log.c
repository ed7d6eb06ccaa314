/* Logging: see log.h. One formatted line per call, written with a single
 * write(2) so lines from concurrent threads never interleave. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "shadowfs";
static volatile int log_level = SFS_LOG_INFO;
static volatile int log_to_syslog; /* switched once, while threads may log */

static const char *const level_names[] = {"error", "warning", "info", "debug"};
static const int level_syslog[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void sfs_log_init(const char *program, enum sfs_log_level level, bool use_syslog)
{
	if (program)
		log_program = program;
	log_level = level;
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog(log_program, LOG_PID, LOG_DAEMON);
}

void sfs_log_set_level(enum sfs_log_level level) { log_level = level; }

void sfs_log_to_syslog(void)
{
	openlog(log_program, LOG_PID, LOG_DAEMON);
	log_to_syslog = 1;
}

enum sfs_log_level sfs_log_get_level(void) { return (enum sfs_log_level)log_level; }

void sfs_vlog(enum sfs_log_level level, const char *fmt, va_list ap)
{
	if ((int)level > log_level)
		return;
	if (log_to_syslog) {
		vsyslog(level_syslog[level], fmt, ap);
		return;
	}
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s: %s%s", log_program,
			 level == SFS_LOG_INFO ? "" : level_names[level],
			 level == SFS_LOG_INFO ? "" : ": ");
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line)) {
		int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
	(void)ignored;
}

void sfs_log(enum sfs_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sfs_vlog(level, fmt, ap);
	va_end(ap);
}

bool sfs_log_limited(struct sfs_log_limit *l, enum sfs_log_level level, const char *fmt, ...)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + 1;
	uint64_t held = 0;
	pthread_mutex_lock(&l->lock);
	if (!l->window_ms || now - l->window_ms >= l->period_ms) {
		l->window_ms = now;
		l->in_window = 0;
	}
	bool pass = l->in_window < l->burst;
	if (pass) {
		l->in_window++;
		held = l->held_back;
		l->held_back = 0;
	} else {
		l->held_back++;
	}
	pthread_mutex_unlock(&l->lock);
	if (!pass)
		return false;
	if (held)
		sfs_log(level, "(%llu more line%s of the kind below not logged: at most %u per %llu s)",
			(unsigned long long)held, held == 1 ? "" : "s", l->burst,
			(unsigned long long)(l->period_ms + 999) / 1000);
	va_list ap;
	va_start(ap, fmt);
	sfs_vlog(level, fmt, ap);
	va_end(ap);
	return true;
}
