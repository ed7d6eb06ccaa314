/* Logging: see log.h. One formatted line per call, written with a single
 * write(2) so lines from concurrent threads never interleave. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
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
