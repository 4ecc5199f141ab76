/*
 * ecom-persist: JSON lines into the store, in bulk and idempotently, the
 * way mongoimport does it.
 *
 * Input is standard input or a topic (-t).  Each event goes to the
 * collection of its eventType; consecutive events of one type share a
 * bulk write.  A line that is not a valid event, or an event the store
 * refuses, is reported with its line number (or partition and offset)
 * and skipped, never costing the lines around it.  The summary is one
 * JSON object on stdout:
 *   {"read":N,"written":N,"duplicates":N,"rejected":N}
 * read = written + duplicates + rejected once the input is done.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_alloc.h"
#include "ecom_cli.h"
#include "ecom_config.h"
#include "ecom_event.h"
#include "ecom_exit.h"
#include "ecom_json.h"
#include "ecom_kafka.h"
#include "ecom_log.h"
#include "ecom_store.h"
#include "ecom_wire.h"

enum { OPT_BATCH_SIZE = ECOM_OPT_COMMAND };


typedef struct persist_totals {
	int64_t read;
	int64_t written;
	int64_t duplicates;
	int64_t rejected;
} persist_totals;

/* Where an event came from, for messages: "<stdin>:12", "orders[0]:345". */
typedef struct origin {
	char text[300];
} origin;

/* Events waiting for one bulk write; all of one type. */
typedef struct pending_batch {
	ecom_event *events;
	ecom_event **ptrs;
	ecom_put_result *results;
	origin *origins;
	size_t count;
	size_t capacity;
} pending_batch;

static const ecom_option own_options[] = {
	{'t', "topic", "TOPIC", "read events from TOPIC instead of standard input", NULL},
	{'e', "exit", NULL, "with -t: exit at the end of the topic", NULL},
	{OPT_BATCH_SIZE, "batch-size", "N", "events per bulk write", "batch_size"},
	{0, NULL, NULL, NULL, NULL},
};

static int
flush_pending(ecom_store *store, pending_batch *batch, persist_totals *totals, ecom_err *err)
{
	size_t i;
	int rc = 0;

	if (batch->count == 0)
		return 0;
	if (ecom_store_put_batch(store, batch->events[0].type, batch->ptrs, batch->count,
	                         batch->results, err) < 0)
		rc = -1;
	for (i = 0; i < batch->count; i++) {
		if (rc == 0) {
			switch (batch->results[i].status) {
			case ECOM_PUT_NEW:
				totals->written++;
				break;
			case ECOM_PUT_DUPLICATE:
				totals->duplicates++;
				break;
			case ECOM_PUT_REJECTED:
				ecom_errorf("%s: the store refused it: %s (skipped)", batch->origins[i].text,
				            batch->results[i].reason);
				totals->rejected++;
				break;
			}
		}
		ecom_event_destroy(&batch->events[i]);
	}
	batch->count = 0;
	return rc;
}

/*
 * Take one JSON text into the batch, writing the batch first when the
 * type changes or it is full.  A bad text is reported and counted; only
 * a store failure returns -1.  A message (m not NULL) may be in either
 * wire form: its header or topic tells the type when it has no eventType.
 */
static int
take_event(ecom_store *store, pending_batch *batch, persist_totals *totals, const char *source,
           long position, const rd_kafka_message_t *m, const char *text, size_t len,
           ecom_err *err)
{
	ecom_event ev, *slot;
	ecom_err why;
	int parsed;

	totals->read++;
	parsed = m != NULL ? ecom_event_from_message(m, ECOM_EV_COUNT, &ev, &why)
	                   : ecom_event_from_json(text, len, &ev, &why);
	if (parsed < 0) {
		ecom_errorf("%s:%ld: %s (skipped)", source, position, why.msg);
		totals->rejected++;
		return 0;
	}
	if (batch->count > 0 &&
	    (batch->count == batch->capacity || batch->events[0].type != ev.type)) {
		if (flush_pending(store, batch, totals, err) < 0) {
			ecom_event_destroy(&ev);
			return -1;
		}
	}
	/* bson_t may point into itself: move the document, never copy the struct. */
	slot = &batch->events[batch->count];
	slot->type = ev.type;
	memcpy(slot->event_id, ev.event_id, sizeof(slot->event_id));
	slot->created_ms = ev.created_ms;
	bson_steal(&slot->doc, &ev.doc);
	batch->ptrs[batch->count] = slot;
	snprintf(batch->origins[batch->count].text, sizeof(batch->origins[batch->count].text),
	         "%s:%ld", source, position);
	batch->count++;
	return 0;
}

/* What persist_stdin() hands each line. */
typedef struct stdin_persist {
	ecom_store *store;
	pending_batch *batch;
	persist_totals *totals;
} stdin_persist;

static int
take_line(void *arg, long lineno, char *line, size_t len, ecom_err *err)
{
	stdin_persist *p = arg;

	return take_event(p->store, p->batch, p->totals, "<stdin>", lineno, NULL, line, len, err);
}

static int
persist_stdin(ecom_store *store, pending_batch *batch, persist_totals *totals,
              ecom_stop_flag *stop, ecom_err *err)
{
	stdin_persist p = {store, batch, totals};

	/* A signal ends the input: what was read is stored. */
	if (ecom_each_stdin_line(stop, take_line, &p, err) < 0)
		return -1;
	return flush_pending(store, batch, totals, err);
}

static void
destroy_messages(rd_kafka_message_t **msgs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		rd_kafka_message_destroy(msgs[i]);
}

static int
persist_topic(const ecom_config *cfg, ecom_store *store, pending_batch *batch,
              persist_totals *totals, const char *topic, bool exit_at_end,
              ecom_stop_flag *stop, ecom_err *err)
{
	ecom_consumer *consumer = NULL;
	rd_kafka_message_t **msgs = ecom_xcalloc(batch->capacity, sizeof(*msgs));
	char group[512];
	size_t n = 0, i;
	int rc = -1;

	/* A group of its own, so a second run goes on where the first stopped. */
	snprintf(group, sizeof(group), "%s%s-persist", cfg->topic_prefix, cfg->group);
	if (ecom_consumer_new(&consumer, cfg, group, &topic, 1, "earliest", err) < 0)
		goto out;
	ecom_consumer_set_stop(consumer, stop);
	if (exit_at_end && ecom_consumer_read_to_end(consumer, topic, err) < 0)
		goto out;
	while (!*stop) {
		bool eof = false;

		if (ecom_consumer_poll_batch(consumer, msgs, batch->capacity, 200, &n, &eof, err) < 0)
			goto out;
		for (i = 0; i < n; i++) {
			char source[300];

			snprintf(source, sizeof(source), "%s[%" PRId32 "]", topic, msgs[i]->partition);
			if (take_event(store, batch, totals, source, (long)msgs[i]->offset, msgs[i], NULL, 0,
			               err) < 0)
				goto out;
		}
		if (flush_pending(store, batch, totals, err) < 0)
			goto out;
		/* Stored: only now may the offsets move on. */
		if (ecom_consumer_store(consumer, msgs, n, err) < 0)
			goto out;
		destroy_messages(msgs, n);
		n = 0;
		if (exit_at_end && eof)
			break;
	}
	if (ecom_consumer_commit(consumer, err) < 0)
		goto out;
	rc = 0;
out:
	/* The consumer cannot close while its messages are still held. */
	destroy_messages(msgs, n);
	ecom_consumer_destroy(consumer);
	free(msgs);
	return rc;
}

static void
print_totals(const persist_totals *totals)
{
	bson_t summary = BSON_INITIALIZER;

	BSON_APPEND_INT64(&summary, "read", totals->read);
	BSON_APPEND_INT64(&summary, "written", totals->written);
	BSON_APPEND_INT64(&summary, "duplicates", totals->duplicates);
	BSON_APPEND_INT64(&summary, "rejected", totals->rejected);
	ecom_json_print(stdout, &summary);
	bson_destroy(&summary);
}

static struct {
	const char *topic;
	bool exit_at_end;
} args;

static int
take_option(ecom_cli *cli, int opt, const char *arg)
{
	switch (opt) {
	case 't':
		args.topic = arg;
		return 0;
	case 'e':
		args.exit_at_end = true;
		return 0;
	case OPT_BATCH_SIZE:
		ecom_cli_set(cli, "batch_size", arg);
		return 0;
	default:
		return ecom_cli_unhandled_option(own_options, opt);
	}
}

static int
check_options(void)
{
	if (args.exit_at_end && args.topic == NULL) {
		ecom_usagef("-e goes with -t TOPIC");
		return -1;
	}
	return 0;
}

static int
run(ecom_config *cfg, ecom_stop_flag *stop)
{
	ecom_store *store = NULL;
	pending_batch batch = {0};
	persist_totals totals = {0};
	ecom_err err;
	int status = ECOM_EXIT_FAILURE, rc;

	batch.capacity = (size_t)cfg->batch_size;
	batch.events = ecom_xcalloc(batch.capacity, sizeof(*batch.events));
	batch.ptrs = ecom_xcalloc(batch.capacity, sizeof(*batch.ptrs));
	batch.results = ecom_xcalloc(batch.capacity, sizeof(*batch.results));
	batch.origins = ecom_xcalloc(batch.capacity, sizeof(*batch.origins));
	if (ecom_store_open(&store, cfg, &err) < 0) {
		ecom_errorf("%s", err.msg);
		goto out;
	}
	ecom_store_set_stop(store, stop);
	rc = args.topic != NULL ? persist_topic(cfg, store, &batch, &totals, args.topic,
	                                        args.exit_at_end, stop, &err)
	                        : persist_stdin(store, &batch, &totals, stop, &err);
	print_totals(&totals);
	if (rc < 0) {
		ecom_errorf("%s", err.msg);
		goto out;
	}
	status = totals.rejected > 0 ? ECOM_EXIT_FAILURE : ECOM_EXIT_OK;
out:
	while (batch.count > 0)
		ecom_event_destroy(&batch.events[--batch.count]);
	free(batch.events);
	free(batch.ptrs);
	free(batch.results);
	free(batch.origins);
	if (store != NULL)
		ecom_store_close(store);
	return status;
}

int
main(int argc, char **argv)
{
	static const ecom_command command = {
		.synopsis = "ecom-persist [options] [-t TOPIC [-e]] [--batch-size N]",
		.description = "Store JSON events from standard input (or a topic) in bulk, "
		               "idempotently,\nand print {\"read\", \"written\", \"duplicates\", "
		               "\"rejected\"} as JSON.",
		.options = own_options,
		.option = take_option,
		.check = check_options,
		.run = run,
	};

	return ecom_cli_main(argc, argv, &command);
}
