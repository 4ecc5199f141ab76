#include "ecom_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_progname = "ecom";
static enum ecom_log_level log_level = ECOM_LOG_INFO;

int
ecom_err_set(ecom_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void
ecom_log_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');

	log_progname = slash ? slash + 1 : progname;
}

const char *
ecom_progname(void)
{
	return log_progname;
}

void
ecom_log_set_level(enum ecom_log_level level)
{
	log_level = level;
}

enum ecom_log_level
ecom_log_level(void)
{
	return log_level;
}

static void
log_vprint(const char *fmt, va_list ap)
{
	/* One fprintf per line so lines from several threads do not interleave. */
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s: %s\n", log_progname, line);
}

void
ecom_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(fmt, ap);
	va_end(ap);
}

void
ecom_warnf(const char *fmt, ...)
{
	va_list ap;

	if (log_level < ECOM_LOG_INFO) /* -q: errors only */
		return;
	va_start(ap, fmt);
	log_vprint(fmt, ap);
	va_end(ap);
}

void
ecom_infof(const char *fmt, ...)
{
	va_list ap;

	if (log_level < ECOM_LOG_INFO)
		return;
	va_start(ap, fmt);
	log_vprint(fmt, ap);
	va_end(ap);
}

void
ecom_debugf(const char *fmt, ...)
{
	va_list ap;

	if (log_level < ECOM_LOG_DEBUG)
		return;
	va_start(ap, fmt);
	log_vprint(fmt, ap);
	va_end(ap);
}

void
ecom_usagef(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(fmt, ap);
	va_end(ap);
	fprintf(stderr, "try '%s --help'\n", log_progname);
}

int
ecom_close_stdout(void)
{
	int failed = ferror(stdout);

	if (fclose(stdout) != 0)
		failed = 1;
	/* A reader that went away is the reader's choice, not our failure. */
	if (failed && errno != EPIPE) {
		ecom_errorf("cannot write to standard output: %s", strerror(errno));
		return -1;
	}
	return 0;
}
