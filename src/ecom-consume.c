/*
 * ecom-consume: read a topic to stdout as JSON lines (kcat -C style), or
 * run one stage of the flow (--stage).
 *
 * Reading uses no consumer group and commits nothing, so it never steals
 * messages from the stages.  A stage consumes its input topic in its own
 * group, persists each event, produces the next one and commits.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_cli.h"
#include "ecom_config.h"
#include "ecom_exit.h"
#include "ecom_json.h"
#include "ecom_kafka.h"
#include "ecom_log.h"
#include "ecom_stage.h"

enum { OPT_ENVELOPE = ECOM_OPT_COMMAND, OPT_STAGE };

static volatile sig_atomic_t stop_requested;

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: ecom-consume [options] -t TOPIC [-o OFFSET] [-e] [-n COUNT] [--envelope]\n"
	        "       ecom-consume [options] --stage STAGE\n"
	        "\n"
	        "Read a topic to standard output as JSON lines, or run one stage of the flow.\n"
	        "\n"
	        "  -t, --topic TOPIC      read TOPIC (no consumer group, nothing committed)\n"
	        "  -o, --offset OFFSET    start at beginning (default), end, or an offset\n"
	        "  -e, --exit             exit when the end of every partition is reached\n"
	        "  -n, --count COUNT      exit after COUNT messages\n"
	        "      --envelope         wrap each event in {topic, partition, offset, key,\n"
	        "                         timestamp, headers, value}\n"
	        "      --stage STAGE      run a stage: payment, inventory, shipping or fulfillment\n" ECOM_CLI_USAGE_COMMON);
}

static int
parse_offset(const char *text, int64_t *offset)
{
	char *end;
	long long n;

	if (strcmp(text, "beginning") == 0) {
		*offset = RD_KAFKA_OFFSET_BEGINNING;
		return 0;
	}
	if (strcmp(text, "end") == 0) {
		*offset = RD_KAFKA_OFFSET_END;
		return 0;
	}
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || n < 0)
		return -1;
	*offset = n;
	return 0;
}

/* Headers as {"name": "value", …}; a value that is not UTF-8 is left out. */
static void
append_headers(bson_t *doc, const rd_kafka_message_t *m)
{
	rd_kafka_headers_t *hdrs = NULL;
	const char *name;
	const void *value;
	size_t size, i;
	bson_t child;

	bson_append_document_begin(doc, "headers", -1, &child);
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
		            RD_KAFKA_RESP_ERR_NO_ERROR;
		     i++) {
			if (value != NULL && bson_utf8_validate(value, size, false))
				bson_append_utf8(&child, name, -1, value, (int)size);
		}
	}
	bson_append_document_end(doc, &child);
}

/* Print one message: its value, or an envelope with the value parsed when it is JSON. */
static void
print_message(const rd_kafka_message_t *m, int envelope)
{
	bson_t doc, value;
	bson_error_t error;
	rd_kafka_timestamp_type_t ts_type;
	int64_t timestamp;

	if (!envelope) {
		fwrite(m->payload, 1, m->len, stdout);
		putchar('\n');
		return;
	}
	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "topic", rd_kafka_topic_name(m->rkt));
	BSON_APPEND_INT32(&doc, "partition", m->partition);
	BSON_APPEND_INT64(&doc, "offset", m->offset);
	if (m->key != NULL)
		bson_append_utf8(&doc, "key", -1, m->key, (int)m->key_len);
	else
		BSON_APPEND_NULL(&doc, "key");
	timestamp = rd_kafka_message_timestamp(m, &ts_type);
	BSON_APPEND_INT64(&doc, "timestamp", timestamp);
	append_headers(&doc, m);
	if (m->payload != NULL && bson_init_from_json(&value, m->payload, (ssize_t)m->len, &error)) {
		BSON_APPEND_DOCUMENT(&doc, "value", &value);
		bson_destroy(&value);
	} else if (m->payload != NULL && bson_utf8_validate(m->payload, m->len, false)) {
		bson_append_utf8(&doc, "value", -1, m->payload, (int)m->len);
	} else {
		BSON_APPEND_NULL(&doc, "value");
	}
	ecom_json_print(stdout, &doc);
	bson_destroy(&doc);
}

static int
read_topic(const ecom_config *cfg, const char *topic, int64_t offset, int exit_at_end, long count,
           int envelope, ecom_err *err)
{
	ecom_consumer *consumer = NULL;
	rd_kafka_message_t *msgs[256];
	long printed = 0;
	int rc = -1;

	if (ecom_consumer_new_assign(&consumer, cfg, topic, offset, err) < 0)
		return -1;
	ecom_consumer_set_stop(consumer, &stop_requested);
	/* -e: the end as of now; what is produced later is not waited for. */
	if (exit_at_end && ecom_consumer_read_to_end(consumer, topic, err) < 0)
		goto out;
	/* A closed stdout (| head -1) ends the reading: see ecom_stdout_failed(). */
	while (!stop_requested && (count < 0 || printed < count) && !ecom_stdout_failed()) {
		size_t n = 0, i;
		bool eof = false;
		size_t max = sizeof(msgs) / sizeof(msgs[0]);

		if (count >= 0 && (size_t)(count - printed) < max)
			max = (size_t)(count - printed);
		if (ecom_consumer_poll_batch(consumer, msgs, max, 200, &n, &eof, err) < 0)
			goto out;
		for (i = 0; i < n; i++) {
			print_message(msgs[i], envelope);
			rd_kafka_message_destroy(msgs[i]);
		}
		printed += (long)n;
		/* Keep the pipe moving: a reader such as jq sees each batch at once. */
		if (n > 0)
			fflush(stdout);
		if (exit_at_end && eof)
			break;
	}
	rc = 0;
out:
	ecom_consumer_destroy(consumer);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		ECOM_CLI_LONGOPTS,
		{"topic", required_argument, NULL, 't'},
		{"offset", required_argument, NULL, 'o'},
		{"exit", no_argument, NULL, 'e'},
		{"count", required_argument, NULL, 'n'},
		{"envelope", no_argument, NULL, OPT_ENVELOPE},
		{"stage", required_argument, NULL, OPT_STAGE},
		{NULL, 0, NULL, 0},
	};
	ecom_cli cli;
	ecom_config cfg;
	ecom_err err;
	const char *topic = NULL, *stage_name = NULL;
	int64_t offset = RD_KAFKA_OFFSET_BEGINNING;
	long count = -1;
	int exit_at_end = 0, envelope = 0, offset_given = 0, opt, status = ECOM_EXIT_FAILURE;
	ecom_stage_kind stage = ECOM_STAGE_PAYMENT;
	char *end;

	ecom_log_init(argv[0]);
	ecom_config_init(&cfg);
	ecom_cli_init(&cli);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ECOM_CLI_SHORTOPTS "t:o:en:", longopts, NULL)) != -1) {
		if (ecom_cli_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case 't':
			topic = optarg;
			break;
		case 'o':
			offset_given = 1;
			if (parse_offset(optarg, &offset) < 0) {
				ecom_usagef("--offset '%s': expected beginning, end or an offset", optarg);
				status = ECOM_EXIT_USAGE;
				goto out;
			}
			break;
		case 'e':
			exit_at_end = 1;
			break;
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || count < 0) {
				ecom_usagef("--count '%s': expected a number of messages", optarg);
				status = ECOM_EXIT_USAGE;
				goto out;
			}
			break;
		case OPT_ENVELOPE:
			envelope = 1;
			break;
		case OPT_STAGE:
			stage_name = optarg;
			break;
		default:
			ecom_cli_bad_option(opt, argv);
			status = ECOM_EXIT_USAGE;
			goto out;
		}
	}
	if (ecom_cli_early_exit(&cli, argc, argv, usage, &status))
		goto out;
	if ((topic != NULL) == (stage_name != NULL)) {
		ecom_usagef("give exactly one of -t TOPIC and --stage STAGE");
		status = ECOM_EXIT_USAGE;
		goto out;
	}
	if (stage_name != NULL && (offset_given || exit_at_end || count >= 0 || envelope)) {
		ecom_usagef("-o, -e, -n and --envelope go with -t TOPIC, not --stage");
		status = ECOM_EXIT_USAGE;
		goto out;
	}
	if (stage_name != NULL &&
	    (ecom_stage_from_name(stage_name, &stage) < 0 || stage == ECOM_STAGE_RECONCILE)) {
		ecom_usagef("unknown stage '%s': expected payment, inventory, shipping or fulfillment",
		            stage_name);
		status = ECOM_EXIT_USAGE;
		goto out;
	}
	if (ecom_cli_configure(&cli, &cfg, &err) < 0) {
		ecom_usagef("%s", err.msg);
		status = ECOM_EXIT_USAGE;
		goto out;
	}
	ecom_cli_catch_stop_signals(&stop_requested);

	if (stage_name != NULL) {
		ecom_stage_opts opts = {.kind = stage, .stop = &stop_requested, .announce_rebalances = true};
		ecom_stage_stats stats;
		int rc;

		ecom_stage_stats_init(&stats);
		rc = ecom_stage_run(&cfg, &opts, &stats, &err);
		ecom_infof("stage %s: %" PRId64 " read, %" PRId64 " stored, %" PRId64
		           " duplicates, %" PRId64 " refused by the store, %" PRId64
		           " dead letters, peak RSS %ld KiB",
		           ecom_stage_name(stage), stats.consumed, stats.stored, stats.duplicates,
		           stats.rejected, stats.dead_letters, ecom_peak_rss_kib());
		ecom_stage_stats_free(&stats);
		if (rc < 0) {
			ecom_errorf("%s", err.msg);
			goto out;
		}
	} else if (read_topic(&cfg, topic, offset, exit_at_end, count, envelope, &err) < 0) {
		ecom_errorf("%s", err.msg);
		goto out;
	}
	status = ECOM_EXIT_OK;
out:
	ecom_config_free(&cfg);
	if (ecom_close_stdout() < 0 && status == ECOM_EXIT_OK)
		status = ECOM_EXIT_FAILURE;
	return status;
}
