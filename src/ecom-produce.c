/*
 * ecom-produce: create orders, or produce JSON lines from stdin to a topic.
 *
 * --generate N makes N ordercreated events (the flow's first event) and
 * produces them to the ordercreated topic, or writes them to stdout with
 * --stdout; -t TOPIC validates each stdin line as an event and produces it
 * keyed by its order id.  A bad line is reported with its number and
 * skipped; the lines around it still go out.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_cli.h"
#include "ecom_config.h"
#include "ecom_event.h"
#include "ecom_exit.h"
#include "ecom_kafka.h"
#include "ecom_log.h"
#include "ecom_metrics.h"
#include "ecom_stage.h"
#include "ecom_wire.h"

enum { OPT_STDOUT = ECOM_OPT_COMMAND };


static const ecom_option own_options[] = {
	{'g', "generate", "N", "create N new orders (ordercreated events)", NULL},
	{OPT_STDOUT, "stdout", NULL,
	 "write the generated events to standard output as JSON lines instead of producing them",
	 NULL},
	{'t', "topic", "TOPIC", "produce each JSON line of standard input to TOPIC", NULL},
	{0, NULL, NULL, NULL, NULL},
};

/*
 * The producer: under exactly_once a transactional one, its messages
 * committed a batch_size at a time, so that a reader of committed data
 * sees none of a run that failed in the middle of a chunk.
 */
static int
open_producer(const ecom_config *cfg, ecom_producer **producer, ecom_err *err)
{
	char txn_id[512];

	if (!ecom_config_exactly_once(cfg))
		return ecom_producer_new(producer, cfg, err);
	ecom_config_transactional_id(cfg, "produce", txn_id, sizeof(txn_id));
	return ecom_producer_new_transactional(producer, cfg, txn_id, err);
}

/*
 * Commit the open transaction, if any: an abort here cannot be redone
 * (the lines are read), so it fails the run, saying what was lost.
 */
static int
commit_chunk(ecom_producer *producer, long in_chunk, ecom_err *err)
{
	int rc;

	if (!ecom_producer_transactional(producer))
		return 0;
	rc = ecom_producer_commit(producer, NULL, NULL, err);
	if (rc == 1)
		ecom_err_set(err, "transaction aborted (%.400s): the last %ld message%s were not produced",
		             err->msg, in_chunk, in_chunk == 1 ? "" : "s");
	return rc == 0 ? 0 : -1;
}

static int
generate(const ecom_config *cfg, long count, bool to_stdout, ecom_stop_flag *stop,
         ecom_err *err)
{
	ecom_producer *producer = NULL;
	char topic[256];
	long i;
	int rc = -1;

	if (!to_stdout) {
		if (ecom_stage_create_topics(cfg, err) < 0)
			return -1;
		if (open_producer(cfg, &producer, err) < 0)
			return -1;
	}
	ecom_config_topic(cfg, "ordercreated", topic, sizeof(topic));
	/* A closed stdout (| head -1) ends the run early: see ecom_stdout_failed(). */
	for (i = 0; i < count && !*stop && !(to_stdout && ecom_stdout_failed()); i++) {
		ecom_event order;
		int64_t now_us = ecom_now_us();
		size_t len = 0;
		char *json;
		int sent = 0;

		if (ecom_event_new_order(&order, now_us / 1000, err) < 0)
			goto out;
		if (to_stdout) {
			json = ecom_event_to_wire(&order, ecom_config_wire(cfg), &len, NULL);
			if (json == NULL) {
				/* An order just made that cannot be written out is the program's fault. */
				ecom_err_set(err, "internal error: cannot write order '%s' as JSON",
				             order.event_id);
				ecom_event_destroy(&order);
				goto out;
			}
			fwrite(json, 1, len, stdout);
			putchar('\n');
			bson_free(json);
		} else {
			sent = ecom_wire_send_event(producer, ecom_config_wire(cfg), topic, &order, now_us,
			                            err);
		}
		ecom_event_destroy(&order);
		if (sent < 0)
			goto out;
		if (producer != NULL && (i + 1) % cfg->batch_size == 0 &&
		    commit_chunk(producer, cfg->batch_size, err) < 0)
			goto out;
	}
	if (producer != NULL && (ecom_producer_flush(producer, err) < 0 ||
	                         commit_chunk(producer, i % cfg->batch_size, err) < 0))
		goto out;
	if (producer != NULL)
		ecom_infof("produced %ld order%s to '%s'", i, i == 1 ? "" : "s", topic);
	rc = 0;
out:
	ecom_producer_destroy(producer);
	return rc;
}

/* What produce_stdin() hands each line. */
typedef struct stdin_produce {
	ecom_producer *producer;
	ecom_wire wire;
	const char *topic;
	long produced;
	long rejected;
	long batch_size; /* exactly_once: lines per transaction */
	long in_chunk;   /* produced in the open transaction */
} stdin_produce;

static int
produce_line(void *arg, long lineno, char *line, size_t len, ecom_err *err)
{
	stdin_produce *p = arg;
	ecom_event ev;
	ecom_wire form;
	ecom_err why;
	int rc;

	/* Either form; a line without eventType takes its type from the topic's name. */
	if (ecom_event_from_wire(line, len, p->topic, NULL, NULL, ECOM_EV_COUNT, &ev, &form, &why) < 0) {
		ecom_errorf("<stdin>:%ld: %s (line skipped)", lineno, why.msg);
		p->rejected++;
		return 0;
	}
	/* A line already in the form asked for goes as it is, byte for byte. */
	if (form == p->wire)
		rc = ecom_wire_send_text(p->producer, p->wire, p->topic, &ev, line, len,
		                         ev.created_ms * 1000, err);
	else
		rc = ecom_wire_send_event(p->producer, p->wire, p->topic, &ev, ev.created_ms * 1000, err);
	ecom_event_destroy(&ev);
	p->produced += rc == 0;
	if (rc == 0 && ++p->in_chunk == p->batch_size) {
		rc = commit_chunk(p->producer, p->in_chunk, err);
		p->in_chunk = 0;
	}
	return rc;
}

/* Returns 0, or -1 on a runtime failure; *rejected counts bad lines. */
static int
produce_stdin(const ecom_config *cfg, const char *topic, ecom_stop_flag *stop,
              long *rejected, ecom_err *err)
{
	stdin_produce p = {.topic = topic, .wire = ecom_config_wire(cfg), .batch_size = cfg->batch_size};
	int rc = -1;

	if (open_producer(cfg, &p.producer, err) < 0)
		return -1;
	/* A signal ends the input: what was read is delivered. */
	if (ecom_each_stdin_line(stop, produce_line, &p, err) < 0 ||
	    ecom_producer_flush(p.producer, err) < 0 || commit_chunk(p.producer, p.in_chunk, err) < 0)
		goto out;
	ecom_infof("produced %ld event%s to '%s'%s", p.produced, p.produced == 1 ? "" : "s", topic,
	           p.rejected ? " (some lines rejected)" : "");
	rc = 0;
out:
	*rejected = p.rejected;
	ecom_producer_destroy(p.producer);
	return rc;
}

static struct {
	long generate; /* --generate N, or -1 */
	bool to_stdout;
	const char *topic;
} args = {.generate = -1};

static int
take_option(ecom_cli *cli, int opt, const char *arg)
{
	(void)cli;
	switch (opt) {
	case 'g':
		if (ecom_parse_long(arg, 0, LONG_MAX, &args.generate) < 0) {
			ecom_usagef("--generate '%s': expected a number of orders", arg);
			return -1;
		}
		return 0;
	case OPT_STDOUT:
		args.to_stdout = true;
		return 0;
	case 't':
		args.topic = arg;
		return 0;
	default:
		return ecom_cli_unhandled_option(own_options, opt);
	}
}

static int
check_options(void)
{
	if ((args.generate >= 0) == (args.topic != NULL)) {
		ecom_usagef("give exactly one of --generate N and -t TOPIC");
		return -1;
	}
	if (args.to_stdout && args.topic != NULL) {
		ecom_usagef("--stdout goes with --generate, not -t");
		return -1;
	}
	return 0;
}

static int
run(ecom_config *cfg, ecom_stop_flag *stop)
{
	ecom_err err;
	long rejected = 0;

	/* Its producer waits on standard input, unpolled, maybe for hours: librdkafka's
	 * statistics, reported by the stages alone, would pile up meanwhile. */
	if (ecom_config_kafka_get(cfg, "statistics.interval.ms") == NULL &&
	    ecom_config_set_kafka(cfg, "statistics.interval.ms=0", &err) < 0) {
		ecom_errorf("%s", err.msg);
		return ECOM_EXIT_FAILURE;
	}
	if (args.generate >= 0 ? generate(cfg, args.generate, args.to_stdout, stop, &err)
	                       : produce_stdin(cfg, args.topic, stop, &rejected, &err)) {
		ecom_errorf("%s", err.msg);
		return ECOM_EXIT_FAILURE;
	}
	return rejected > 0 ? ECOM_EXIT_FAILURE : ECOM_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const ecom_command command = {
		.synopsis = "ecom-produce [options] --generate N [--stdout]\n"
		            "ecom-produce [options] -t TOPIC",
		.description = "Create N orders, or produce JSON events read from standard input, in\n"
		               "either wire form (--wire says which form is written).",
		.options = own_options,
		.option = take_option,
		.check = check_options,
		.run = run,
	};

	return ecom_cli_main(argc, argv, &command);
}
