/*
 * The stage loop (see ecom_stage.h).  Ordering is what makes the flow
 * exactly-once in the store on top of at-least-once Kafka:
 *
 *   persist the batch  →  produce the next events  →  flush (acknowledged)
 *   →  store the offsets (committed in the background)
 *
 * A crash anywhere before the offsets are stored means the batch is read
 * again; the store's upserts make the second write a no-op, and the next
 * events are produced again (downstream stages treat them the same way).
 * Only a newly stored fulfilment counts, so a repeated orderfulfilled
 * never starts an extra order.
 */
#include "ecom_stage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_kafka.h"
#include "ecom_store.h"

static const char *const stage_names[ECOM_STAGE_COUNT] = {
	"payment", "inventory", "shipping", "fulfillment", "reconcile",
};

const char *
ecom_stage_name(ecom_stage_kind kind)
{
	return kind < ECOM_STAGE_COUNT ? stage_names[kind] : "?";
}

int
ecom_stage_from_name(const char *name, ecom_stage_kind *kind)
{
	int k;

	for (k = 0; k < ECOM_STAGE_RECONCILE; k++) {
		if (strcmp(name, stage_names[k]) == 0) {
			*kind = (ecom_stage_kind)k;
			return 0;
		}
	}
	return -1;
}

ecom_event_type
ecom_stage_input(ecom_stage_kind kind)
{
	/* Stage k consumes event type k: payment reads ordercreated, and so on. */
	return (ecom_event_type)kind;
}

void
ecom_stage_stats_init(ecom_stage_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	ecom_latency_init(&stats->hop);
	ecom_latency_init(&stats->end_to_end);
}

void
ecom_stage_stats_free(ecom_stage_stats *stats)
{
	ecom_latency_free(&stats->hop);
	ecom_latency_free(&stats->end_to_end);
}

#define TOPIC_MAX 256

static void
flow_topics(const ecom_config *cfg, char names[ECOM_EV_COUNT + 1][TOPIC_MAX])
{
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++)
		ecom_config_topic(cfg, ecom_event_type_name((ecom_event_type)t), names[t], TOPIC_MAX);
	ecom_config_topic(cfg, cfg->dead_letter_topic, names[ECOM_EV_COUNT], TOPIC_MAX);
}

static int
with_admin_client(const ecom_config *cfg, int delete_first, ecom_err *err)
{
	char names[ECOM_EV_COUNT + 1][TOPIC_MAX];
	const char *topics[ECOM_EV_COUNT + 1];
	ecom_producer *admin = NULL;
	int i, rc = -1;

	flow_topics(cfg, names);
	for (i = 0; i <= ECOM_EV_COUNT; i++)
		topics[i] = names[i];
	if (ecom_producer_new(&admin, cfg, err) < 0)
		return -1;
	if (delete_first &&
	    ecom_kafka_delete_topics(ecom_producer_handle(admin), topics, ECOM_EV_COUNT + 1,
	                             cfg->timeout_ms, err) < 0)
		goto out;
	if (ecom_kafka_ensure_topics(ecom_producer_handle(admin), topics, ECOM_EV_COUNT + 1,
	                             cfg->partitions, cfg->timeout_ms, err) < 0)
		goto out;
	rc = 0;
out:
	ecom_producer_destroy(admin);
	return rc;
}

int
ecom_stage_ensure_topics(const ecom_config *cfg, ecom_err *err)
{
	return with_admin_client(cfg, 0, err);
}

int
ecom_stage_reset_topics(const ecom_config *cfg, ecom_err *err)
{
	return with_admin_client(cfg, 1, err);
}

typedef struct stage_run {
	const ecom_config *cfg;
	const ecom_stage_opts *opts;
	ecom_stage_stats *stats;
	ecom_store *store;
	ecom_producer *producer;
	ecom_consumer *consumer;
	char topics[ECOM_EV_COUNT + 1][TOPIC_MAX];
	ecom_event_type input;
	size_t batch_max;
	/* Per batch, batch_max entries each. */
	rd_kafka_message_t **msgs;
	ecom_event *events;
	ecom_event **event_ptrs;
	bool *is_new;
	int64_t *sent_us;
	int64_t *order_us;
	const char **order_ids;
	int64_t *shipped_ms;
	/* reconcile */
	int64_t issued;
	int64_t fulfilled;
} stage_run;

static void
int_text(int64_t value, char *buf, size_t size)
{
	snprintf(buf, size, "%" PRId64, value);
}

static int
send_event(stage_run *run, const char *topic, const ecom_event *ev, int64_t order_us,
           ecom_err *err)
{
	char sent_text[24], order_text[24];
	const char *headers[4];
	size_t len;
	char *json = ecom_event_to_json(ev, &len);
	int rc;

	if (json == NULL)
		return ecom_err_set(err, "cannot serialise event '%s'", ev->event_id);
	int_text(ecom_now_us(), sent_text, sizeof(sent_text));
	int_text(order_us, order_text, sizeof(order_text));
	headers[0] = ECOM_HDR_SENT_US;
	headers[1] = sent_text;
	headers[2] = ECOM_HDR_ORDER_START_US;
	headers[3] = order_text;
	rc = ecom_producer_send(run->producer, topic, ev->event_id, json, len, headers, 2, err);
	bson_free(json);
	return rc;
}

static int
dead_letter(stage_run *run, const rd_kafka_message_t *m, const char *reason, ecom_err *err)
{
	const char *source = rd_kafka_topic_name(m->rkt);
	const char *headers[4] = {ECOM_HDR_DLQ_REASON, reason, ECOM_HDR_DLQ_TOPIC, source};
	char key[256];
	size_t key_len = m->key_len < sizeof(key) - 1 ? m->key_len : sizeof(key) - 1;

	memcpy(key, m->key ? m->key : "", m->key ? key_len : 0);
	key[m->key ? key_len : 0] = '\0';
	ecom_warnf("%s [%" PRId32 "] at offset %" PRId64 ": %s (sent to '%s')", source, m->partition,
	           m->offset, reason, run->topics[ECOM_EV_COUNT]);
	run->stats->dead_letters++;
	return ecom_producer_send(run->producer, run->topics[ECOM_EV_COUNT], key[0] ? key : NULL,
	                          m->payload, m->len, headers, 2, err);
}

/* Create orders until `window` are in flight or `orders` have been created. */
static int
top_up_orders(stage_run *run, ecom_err *err)
{
	int64_t in_flight = run->issued - run->fulfilled;
	int64_t room = run->opts->window - in_flight;
	int64_t left = run->opts->orders - run->issued;
	int64_t k, want = room < left ? room : left;

	for (k = 0; k < want; k++) {
		ecom_event order;
		int64_t now_us = ecom_now_us();
		int rc;

		if (ecom_event_new_order(&order, now_us / 1000, err) < 0)
			return -1;
		rc = send_event(run, run->topics[ECOM_EV_ORDERCREATED], &order, now_us, err);
		ecom_event_destroy(&order);
		if (rc < 0)
			return -1;
		if (run->issued == 0 && run->stats->started_us == 0)
			run->stats->started_us = now_us;
		run->issued++;
		run->stats->issued++;
	}
	return 0;
}

/*
 * The original's check after every fulfilment: orders created in the
 * store against orders fulfilled.  With W orders in flight, created may
 * run ahead of fulfilled by at most the orders still in flight.
 *
 * The store is asked every cfg->count_check_every orders and at the end
 * of the run, not after every order: FerretDB 1.24 counts by decoding
 * every document (0.6 s for 1,400 orders), which would make the run
 * quadratic.  In between, the counts this process keeps from the store's
 * own write results (orders it created, orders the marking changed) are
 * checked after every fulfilment.
 */
static int
check_counts(stage_run *run, int ask_store, ecom_err *err)
{
	int64_t created, fulfilled, in_flight = run->issued - run->fulfilled;

	if (run->fulfilled > run->issued)
		return ecom_err_set(err,
		                    "count mismatch: %" PRId64 " orders created, %" PRId64
		                    " fulfilled; stopping",
		                    run->issued, run->fulfilled);
	if (!ask_store)
		return 0;
	if (ecom_store_count(run->store, ECOM_EV_ORDERCREATED, &created, err) < 0 ||
	    ecom_store_count(run->store, ECOM_EV_ORDERFULFILLED, &fulfilled, err) < 0)
		return -1;
	if (fulfilled != run->fulfilled || created < fulfilled || created - fulfilled > in_flight)
		return ecom_err_set(err,
		                    "count mismatch: %" PRId64 " orders created, %" PRId64
		                    " fulfilled (%" PRId64 " orders completed here, %" PRId64
		                    " in flight); stopping",
		                    created, fulfilled, run->fulfilled, in_flight);
	return 0;
}

/*
 * Mark every fulfilment of the batch, new or repeated: the mark, not the
 * stored orderfulfilled event, is what completes an order.  A process
 * killed between storing the event and marking the order gets the event
 * again, finds it already stored, and must still mark.  Only orders this
 * call actually marked count, so a repeated fulfilment of a completed
 * order never starts an extra one.
 */
static int
reconcile_batch(stage_run *run, size_t n, ecom_err *err)
{
	size_t i;
	int64_t marked = 0, before, every, now_ms = ecom_now_us() / 1000;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		run->order_ids[i] = run->events[i].event_id;
		run->shipped_ms[i] = now_ms;
	}
	if (ecom_store_mark_fulfilled(run->store, run->order_ids, run->shipped_ms, n, &marked, err) < 0)
		return -1;
	if (marked == 0)
		return 0;
	before = run->fulfilled;
	run->fulfilled += marked;
	run->stats->fulfilled += marked;
	every = run->cfg->count_check_every;
	if (check_counts(run,
	                 run->fulfilled / every != before / every || run->fulfilled >= run->opts->orders,
	                 err) < 0)
		return -1;
	return top_up_orders(run, err);
}

static void
free_batch(stage_run *run, size_t n_msgs, size_t n_events)
{
	size_t i;

	for (i = 0; i < n_events; i++)
		ecom_event_destroy(&run->events[i]);
	for (i = 0; i < n_msgs; i++)
		rd_kafka_message_destroy(run->msgs[i]);
}

static int
process_batch(stage_run *run, size_t n_msgs, ecom_err *err)
{
	size_t i, n = 0;
	int64_t now_us;
	int rc = -1;

	for (i = 0; i < n_msgs; i++) {
		rd_kafka_message_t *m = run->msgs[i];
		ecom_event *ev = &run->events[n];
		ecom_err why;

		run->stats->consumed++;
		if (m->payload == NULL || m->len == 0) {
			if (dead_letter(run, m, "empty message", err) < 0)
				goto out;
			continue;
		}
		if (ecom_event_from_json(m->payload, m->len, ev, &why) < 0) {
			if (dead_letter(run, m, why.msg, err) < 0)
				goto out;
			continue;
		}
		if (ev->type != run->input) {
			snprintf(why.msg, sizeof(why.msg), "event type '%s' does not belong on this topic",
			         ecom_event_type_name(ev->type));
			ecom_event_destroy(ev);
			if (dead_letter(run, m, why.msg, err) < 0)
				goto out;
			continue;
		}
		run->event_ptrs[n] = ev;
		run->sent_us[n] = ecom_message_header_int(m, ECOM_HDR_SENT_US);
		run->order_us[n] = ecom_message_header_int(m, ECOM_HDR_ORDER_START_US);
		if (run->order_us[n] < 0) /* produced by hand: the event's own date will do */
			run->order_us[n] = ev->created_ms * 1000;
		n++;
	}
	if (n > 0 &&
	    ecom_store_put_batch(run->store, run->input, run->event_ptrs, n, run->is_new, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (run->is_new[i])
			run->stats->stored++;
		else
			run->stats->duplicates++;
	}
	if (run->opts->kind == ECOM_STAGE_RECONCILE) {
		if (reconcile_batch(run, n, err) < 0)
			goto out;
	} else {
		for (i = 0; i < n; i++) {
			ecom_event next;
			int sent;

			/* Also for duplicates: the crash that caused the redelivery may
			 * have come before the next event was produced. */
			if (ecom_event_next(&run->events[i], &next, ecom_now_us() / 1000, err) < 0)
				goto out;
			sent = send_event(run, run->topics[run->input + 1], &next, run->order_us[i], err);
			ecom_event_destroy(&next);
			if (sent < 0)
				goto out;
			run->stats->produced++;
		}
	}
	if (ecom_producer_flush(run->producer, run->cfg->timeout_ms, err) < 0)
		goto out;
	if (ecom_consumer_store(run->consumer, run->msgs, n_msgs, err) < 0)
		goto out;
	now_us = ecom_now_us();
	for (i = 0; i < n; i++) {
		if (run->sent_us[i] > 0)
			ecom_latency_add(&run->stats->hop, now_us - run->sent_us[i]);
		if (run->opts->kind == ECOM_STAGE_RECONCILE && run->is_new[i])
			ecom_latency_add(&run->stats->end_to_end, now_us - run->order_us[i]);
	}
	if (run->opts->kind == ECOM_STAGE_RECONCILE && n > 0)
		run->stats->ended_us = now_us;
	rc = 0;
out:
	free_batch(run, n_msgs, n);
	return rc;
}

static int
reconcile_start(stage_run *run, ecom_err *err)
{
	/* Restart-safe: what was created is what the topic holds, what was
	 * fulfilled is what the store says. */
	if (ecom_kafka_topic_size(ecom_producer_handle(run->producer),
	                          run->topics[ECOM_EV_ORDERCREATED], run->cfg->timeout_ms,
	                          &run->issued, err) < 0)
		return -1;
	if (ecom_store_count_fulfilled(run->store, &run->fulfilled, err) < 0)
		return -1;
	if (run->issued > 0)
		ecom_infof("resuming: %" PRId64 " orders created, %" PRId64 " fulfilled", run->issued,
		           run->fulfilled);
	if (top_up_orders(run, err) < 0 ||
	    ecom_producer_flush(run->producer, run->cfg->timeout_ms, err) < 0)
		return -1;
	return 0;
}

static void
report_finish(const stage_run *run)
{
	char start[32], end[32];
	int64_t started = run->stats->started_us, ended = run->stats->ended_us;
	double elapsed;

	if (started == 0) /* resumed: this process did not see the first order */
		started = ended;
	elapsed = (double)(ended - started) / 1e6;
	ecom_format_iso8601(started / 1000, start, sizeof(start));
	ecom_format_iso8601(ended / 1000, end, sizeof(end));
	ecom_infof("%" PRId64 " orders fulfilled; start %s, end %s, elapsed %.3f s (%.1f orders/s)",
	           run->fulfilled, start, end, elapsed,
	           elapsed > 0 ? (double)run->stats->fulfilled / elapsed : 0.0);
}

int
ecom_stage_run(const ecom_config *cfg, const ecom_stage_opts *opts, ecom_stage_stats *stats,
               ecom_err *err)
{
	stage_run run;
	ecom_stage_stats own_stats;
	char group[512];
	const char *input_topic;
	int rc = -1;
	ecom_err ignored;

	memset(&run, 0, sizeof(run));
	ecom_stage_stats_init(&own_stats);
	run.cfg = cfg;
	run.opts = opts;
	run.stats = stats != NULL ? stats : &own_stats;
	run.input = ecom_stage_input(opts->kind);
	run.batch_max = (size_t)cfg->batch_size;
	flow_topics(cfg, run.topics);
	input_topic = run.topics[run.input];

	run.msgs = calloc(run.batch_max, sizeof(*run.msgs));
	run.events = calloc(run.batch_max, sizeof(*run.events));
	run.event_ptrs = calloc(run.batch_max, sizeof(*run.event_ptrs));
	run.is_new = calloc(run.batch_max, sizeof(*run.is_new));
	run.sent_us = calloc(run.batch_max, sizeof(*run.sent_us));
	run.order_us = calloc(run.batch_max, sizeof(*run.order_us));
	run.order_ids = calloc(run.batch_max, sizeof(*run.order_ids));
	run.shipped_ms = calloc(run.batch_max, sizeof(*run.shipped_ms));

	if (ecom_store_open(&run.store, cfg, err) < 0)
		goto out;
	if (ecom_producer_new(&run.producer, cfg, err) < 0)
		goto out;
	if (ecom_stage_ensure_topics(cfg, err) < 0)
		goto out;
	snprintf(group, sizeof(group), "%s%s-%s", cfg->topic_prefix, cfg->group,
	         ecom_stage_name(opts->kind));
	if (ecom_consumer_new(&run.consumer, cfg, group, &input_topic, 1, "earliest", err) < 0)
		goto out;
	if (opts->kind == ECOM_STAGE_RECONCILE && reconcile_start(&run, err) < 0)
		goto out;
	ecom_debugf("stage %s: %s → %s", ecom_stage_name(opts->kind), input_topic,
	            opts->kind == ECOM_STAGE_RECONCILE ? run.topics[ECOM_EV_ORDERCREATED]
	                                               : run.topics[run.input + 1]);

	while (opts->stop == NULL || !*opts->stop) {
		size_t n_msgs = 0;

		if (opts->kind == ECOM_STAGE_RECONCILE && run.fulfilled >= opts->orders)
			break;
		if (ecom_consumer_poll_batch(run.consumer, run.msgs, run.batch_max, 100, &n_msgs, NULL,
		                             err) < 0)
			goto out;
		if (n_msgs == 0)
			continue;
		if (process_batch(&run, n_msgs, err) < 0)
			goto out;
		if (opts->on_progress != NULL)
			opts->on_progress(opts->progress_arg, run.fulfilled);
	}
	if (opts->kind == ECOM_STAGE_RECONCILE && run.fulfilled >= opts->orders)
		report_finish(&run);
	if (ecom_consumer_commit(run.consumer, err) < 0)
		goto out;
	rc = 0;
out:
	if (run.consumer != NULL) {
		/* Commit what was stored before a failure too: those batches are done. */
		if (rc < 0)
			ecom_consumer_commit(run.consumer, &ignored);
		ecom_consumer_destroy(run.consumer);
	}
	ecom_producer_destroy(run.producer);
	if (run.store != NULL)
		ecom_store_close(run.store);
	free(run.msgs);
	free(run.events);
	free(run.event_ptrs);
	free(run.is_new);
	free(run.sent_us);
	free(run.order_us);
	free(run.order_ids);
	free(run.shipped_ms);
	ecom_stage_stats_free(&own_stats);
	return rc;
}

void
ecom_stage_append_timing(bson_t *report, const ecom_stage_stats *reconcile)
{
	char start[32], end[32];
	int64_t started = reconcile->started_us, ended = reconcile->ended_us;
	double elapsed;

	if (started == 0)
		started = ended;
	elapsed = (double)(ended - started) / 1e6;
	ecom_format_iso8601(started / 1000, start, sizeof(start));
	ecom_format_iso8601(ended / 1000, end, sizeof(end));
	BSON_APPEND_INT64(report, "orders", reconcile->fulfilled);
	BSON_APPEND_UTF8(report, "start", start);
	BSON_APPEND_UTF8(report, "end", end);
	BSON_APPEND_DOUBLE(report, "elapsed_s", elapsed);
	BSON_APPEND_DOUBLE(report, "orders_per_s",
	                   elapsed > 0 ? (double)reconcile->fulfilled / elapsed : 0.0);
}
