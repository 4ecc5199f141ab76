#include "ecom_log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_progname = "ecom";
static enum ecom_log_level log_level = ECOM_LOG_INFO;
static __thread const char *log_context;

static void
err_vset(ecom_err *err, enum ecom_err_kind kind, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	err->kind = kind;
	err->connection_lost = false;
}

int
ecom_err_set(ecom_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	err_vset(err, ECOM_ERR_FAILURE, fmt, ap);
	va_end(ap);
	return -1;
}

int
ecom_err_set_kind(ecom_err *err, enum ecom_err_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	err_vset(err, kind, fmt, ap);
	va_end(ap);
	return -1;
}

void
ecom_log_set_context(const char *context)
{
	log_context = context;
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
	if (log_context != NULL)
		fprintf(stderr, "%s: %s: %s\n", log_progname, log_context, line);
	else
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
ecom_each_stdin_line(ecom_stop_flag *stop,
                     int (*take)(void *arg, long lineno, char *line, size_t len, ecom_err *err),
                     void *arg, ecom_err *err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int rc = -1;

	while (!*stop && (len = getline(&line, &cap, stdin)) != -1) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len > 0 && take(arg, lineno, line, (size_t)len, err) < 0)
			goto out;
	}
	if (ferror(stdin) && !(errno == EINTR && *stop)) {
		ecom_err_set(err, "cannot read standard input: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(line);
	return rc;
}

bool
ecom_stdout_failed(void)
{
	struct pollfd out = {.fd = STDOUT_FILENO, .events = 0};

	if (ferror(stdout))
		return true;
	/* A pipe whose reader has gone shows POLLERR before the next write fails:
	 * a reader that waits for new messages stops with the reader. */
	return poll(&out, 1, 0) == 1 && (out.revents & POLLERR) != 0;
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
