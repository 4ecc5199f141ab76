/*
 * ecom-consume: read a topic to stdout as JSON lines (kcat -C style), run
 * one stage of the flow (--stage), or list the cluster's brokers and
 * partitions with their leaders, replicas and ISR (-L, kcat -L style).
 *
 * Reading uses no consumer group and commits nothing, so it never steals
 * messages from the stages.  A stage consumes its input topic in its own
 * group, persists each event, produces the next one and commits.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consume-list.h"
#include "ecom_cli.h"
#include "ecom_config.h"
#include "ecom_exit.h"
#include "ecom_json.h"
#include "ecom_kafka.h"
#include "ecom_log.h"
#include "ecom_stage.h"

enum { OPT_ENVELOPE = ECOM_OPT_COMMAND, OPT_STAGE };

static const ecom_option own_options[] = {
	{'t', "topic", "TOPIC", "read TOPIC's committed data (no consumer group, nothing\ncommitted; -X isolation.level=read_uncommitted shows\naborted transactions' events too)", NULL},
	{'o', "offset", "OFFSET",
	 "start at beginning (default), end, an offset, or -N: the last N messages of each partition",
	 NULL},
	{'e', "exit", NULL, "exit when the end of every partition is reached", NULL},
	{'n', "count", "COUNT", "exit after COUNT messages", NULL},
	{OPT_ENVELOPE, "envelope", NULL,
	 "wrap each event in {topic, partition, offset, key, timestamp, headers, value}", NULL},
	{OPT_STAGE, "stage", "STAGE", "run a stage: payment, inventory, shipping or fulfillment",
	 NULL},
	{'L', "list", NULL,
	 "list the brokers, then each topic (or TOPIC) with its partitions' leader, replicas and "
	 "ISR, as JSON lines",
	 NULL},
	{0, NULL, NULL, NULL, NULL},
};

static int
parse_offset(const char *text, int64_t *offset)
{
	long n;

	if (strcmp(text, "beginning") == 0) {
		*offset = RD_KAFKA_OFFSET_BEGINNING;
		return 0;
	}
	if (strcmp(text, "end") == 0) {
		*offset = RD_KAFKA_OFFSET_END;
		return 0;
	}
	if (ecom_parse_long(text, LONG_MIN + 1, LONG_MAX, &n) < 0)
		return -1;
	/* -N, as kcat: the last N messages of each partition. */
	*offset = n < 0 ? RD_KAFKA_OFFSET_TAIL(-n) : n;
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

/*
 * Print one message: its value, or an envelope with the value parsed when
 * it is JSON.  A key that is not UTF-8 is left out, as a header's value is:
 * null is kept for "no key".
 */
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
	if (m->key == NULL)
		BSON_APPEND_NULL(&doc, "key");
	else if (bson_utf8_validate(m->key, m->key_len, false))
		bson_append_utf8(&doc, "key", -1, m->key, (int)m->key_len);
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
read_topic(const ecom_config *cfg, const char *topic, int64_t offset, bool exit_at_end, long count,
           bool envelope, ecom_stop_flag *stop, ecom_err *err)
{
	ecom_consumer *consumer = NULL;
	rd_kafka_message_t *msgs[256];
	long printed = 0;
	int rc = -1;

	if (ecom_consumer_new_assign(&consumer, cfg, topic, offset, err) < 0)
		return -1;
	ecom_consumer_set_stop(consumer, stop);
	/* -e: the end as of now; what is produced later is not waited for. */
	if (exit_at_end && ecom_consumer_read_to_end(consumer, topic, err) < 0)
		goto out;
	/* A closed stdout (| head -1) ends the reading: see ecom_stdout_failed(). */
	while (!*stop && (count < 0 || printed < count) && !ecom_stdout_failed()) {
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

static struct {
	const char *topic, *stage_name;
	int64_t offset;
	bool offset_given, exit_at_end, envelope, list;
	long count; /* -n, or -1 */
	ecom_stage_kind stage;
} args = {.offset = RD_KAFKA_OFFSET_BEGINNING, .count = -1};

static int
take_option(ecom_cli *cli, int opt, const char *arg)
{
	(void)cli;
	switch (opt) {
	case 't':
		args.topic = arg;
		return 0;
	case 'o':
		args.offset_given = true;
		if (parse_offset(arg, &args.offset) < 0) {
			ecom_usagef("--offset '%s': expected beginning, end, an offset or -N (the last N)",
			            arg);
			return -1;
		}
		return 0;
	case 'e':
		args.exit_at_end = true;
		return 0;
	case 'n':
		if (ecom_parse_long(arg, 0, LONG_MAX, &args.count) < 0) {
			ecom_usagef("--count '%s': expected a number of messages", arg);
			return -1;
		}
		return 0;
	case OPT_ENVELOPE:
		args.envelope = true;
		return 0;
	case 'L':
		args.list = true;
		return 0;
	case OPT_STAGE:
		args.stage_name = arg;
		return 0;
	default:
		return ecom_cli_unhandled_option(own_options, opt);
	}
}

static int
check_options(void)
{
	if (args.list && (args.stage_name != NULL || args.offset_given || args.exit_at_end ||
	                  args.count >= 0 || args.envelope)) {
		ecom_usagef("-L goes with -t TOPIC only, not with --stage, -o, -e, -n or --envelope");
		return -1;
	}
	if (!args.list && (args.topic != NULL) == (args.stage_name != NULL)) {
		ecom_usagef("give exactly one of -t TOPIC and --stage STAGE, or -L");
		return -1;
	}
	if (args.stage_name != NULL &&
	    (args.offset_given || args.exit_at_end || args.count >= 0 || args.envelope)) {
		ecom_usagef("-o, -e, -n and --envelope go with -t TOPIC, not --stage");
		return -1;
	}
	if (args.stage_name != NULL && (ecom_stage_from_name(args.stage_name, &args.stage) < 0 ||
	                                args.stage == ECOM_STAGE_RECONCILE)) {
		ecom_usagef("unknown stage '%s': expected payment, inventory, shipping or fulfillment",
		            args.stage_name);
		return -1;
	}
	return 0;
}

static int
run_stage(const ecom_config *cfg, ecom_stop_flag *stop, ecom_err *err)
{
	ecom_stage_opts opts = {.kind = args.stage, .stop = stop, .announce_rebalances = true};
	ecom_stage_stats stats;
	int rc;

	ecom_stage_stats_init(&stats);
	rc = ecom_stage_run(cfg, &opts, &stats, err);
	ecom_infof("stage %s: %" PRId64 " read, %" PRId64 " stored, %" PRId64 " duplicates, %" PRId64
	           " refused by the store, %" PRId64 " dead letters, peak RSS %ld KiB",
	           ecom_stage_name(args.stage), stats.consumed, stats.stored, stats.duplicates,
	           stats.rejected, stats.dead_letters, ecom_peak_rss_kib());
	ecom_stage_stats_free(&stats);
	return rc;
}

static int
run(ecom_config *cfg, ecom_stop_flag *stop)
{
	ecom_err err;
	int rc;

	if (args.list)
		rc = ecom_consume_list(cfg, args.topic, stdout, &err);
	else if (args.stage_name != NULL)
		rc = run_stage(cfg, stop, &err);
	else
		rc = read_topic(cfg, args.topic, args.offset, args.exit_at_end, args.count,
		                args.envelope, stop, &err);
	if (rc < 0) {
		ecom_errorf("%s", err.msg);
		return ECOM_EXIT_FAILURE;
	}
	return ECOM_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const ecom_command command = {
		.synopsis = "ecom-consume [options] -t TOPIC [-o OFFSET] [-e] [-n COUNT] [--envelope]\n"
		            "ecom-consume [options] --stage STAGE\n"
		            "ecom-consume [options] -L [-t TOPIC]",
		.description = "Read a topic to standard output as JSON lines, run one stage of the "
		               "flow, or\nlist the cluster's brokers and partitions.",
		.options = own_options,
		.option = take_option,
		.check = check_options,
		.run = run,
	};

	return ecom_cli_main(argc, argv, &command);
}
