/* What the mock-cluster tests of the stage loop share (see stage-fixture.h). */
#include "stage-fixture.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
quiet_log(const rd_kafka_t *rk, int level, const char *facility, const char *message)
{
	(void)rk;
	(void)level;
	(void)facility;
	(void)message;
}

rd_kafka_mock_cluster_t *
mock_cluster_new(rd_kafka_t **host)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mock;
	char errstr[512];

	rd_kafka_conf_set_log_cb(conf, quiet_log);
	*host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (*host == NULL) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	mock = rd_kafka_mock_cluster_new(*host, 1);
	if (mock == NULL) {
		rd_kafka_destroy(*host);
		*host = NULL;
	}
	return mock;
}

void
mock_cluster_destroy(rd_kafka_mock_cluster_t *mock, rd_kafka_t *host)
{
	if (mock != NULL)
		rd_kafka_mock_cluster_destroy(mock);
	if (host != NULL)
		rd_kafka_destroy(host);
}

static FILE *captured;
static int real_stderr = -1;
static long copied_to_log;

/*
 * The sanitizers' runtime (common_interface_defs.h), present only in a
 * build made with --enable-sanitizers: where its reports go.  A report
 * ends the process (halt_on_error), so one written into the captured
 * stderr would never be copied out and the test would die without a word.
 */
extern void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

void
capture_stderr(void)
{
	fflush(stderr);
	captured = tmpfile();
	real_stderr = dup(STDERR_FILENO);
	if (__sanitizer_set_report_fd != NULL && real_stderr >= 0)
		__sanitizer_set_report_fd((void *)(intptr_t)real_stderr);
	dup2(fileno(captured), STDERR_FILENO);
}

long
capture_size(void)
{
	struct stat st;

	fflush(stderr);
	return fstat(fileno(captured), &st) == 0 ? (long)st.st_size : 0;
}

char *
capture_since(long from)
{
	long size = capture_size();
	char *text;
	ssize_t got = 0;

	if (size < from)
		size = from;
	text = calloc(1, (size_t)(size - from) + 1);
	if (text != NULL && size > from)
		got = pread(fileno(captured), text, (size_t)(size - from), from);
	if (text != NULL)
		text[got > 0 ? got : 0] = '\0';
	return text;
}

void
capture_copy_to_log(void)
{
	char *text = capture_since(copied_to_log);
	size_t len = text != NULL ? strlen(text) : 0;

	if (len > 0 && write(real_stderr, text, len) < 0)
		len = 0;
	copied_to_log += (long)len;
	free(text);
}

void
capture_release(void)
{
	capture_copy_to_log();
	dup2(real_stderr, STDERR_FILENO);
	if (__sanitizer_set_report_fd != NULL)
		__sanitizer_set_report_fd((void *)(intptr_t)STDERR_FILENO);
	close(real_stderr);
	fclose(captured);
}

bool
capture_said(const char *name, long from, const char *fragment)
{
	char *text = capture_since(from), *line, *next;
	char mark[64];
	bool found = false;

	snprintf(mark, sizeof(mark), ": %s: ", name);
	for (line = text; line != NULL && *line != '\0' && !found; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		found = strstr(line, mark) != NULL && strstr(line, fragment) != NULL;
	}
	free(text);
	return found;
}
