/*
 * The stage loop (see ecom_stage.h).  Ordering is what makes the flow
 * exactly-once in the store on top of at-least-once Kafka:
 *
 *   persist the batch  →  produce the next events  →  flush (acknowledged)
 *   →  store the offsets (committed in the background)
 *
 * A crash anywhere before the offsets are stored means the batch is read
 * again; the store's idempotent writes make the second write a no-op,
 * and the next events are produced again (downstream stages treat them
 * the same way).  Only a newly marked fulfilment counts, so a repeated
 * orderfulfilled never starts an extra order.
 *
 * A message that cannot be an event, and an event the store refuses,
 * goes to the dead-letter topic with the reason in a header; the rest of
 * its batch goes on.  A broker or store that stops answering is waited
 * for (ecom_kafka.c, ecom_store.c), up to retry_timeout_ms.
 */
#include "ecom_stage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_kafka.h"
#include "ecom_store.h"
#include "ecom_time.h"

static const char *const stage_names[ECOM_STAGE_COUNT] = {
	"payment", "inventory", "shipping", "fulfillment", "reconcile",
};

static const char *const phase_names[ECOM_PHASE_COUNT] = {
	"poll_wait", "decode", "store", "mark", "produce", "flush", "offsets",
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

	for (k = 0; k < ECOM_STAGE_COUNT; k++) {
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

const char *
ecom_phase_name(ecom_phase phase)
{
	return phase < ECOM_PHASE_COUNT ? phase_names[phase] : "?";
}

void
ecom_stage_stats_init(ecom_stage_stats *stats)
{
	int p;

	memset(stats, 0, sizeof(*stats));
	ecom_latency_init(&stats->hop);
	ecom_latency_init(&stats->end_to_end);
	for (p = 0; p < ECOM_PHASE_COUNT; p++)
		ecom_latency_init(&stats->phases[p]);
}

void
ecom_stage_stats_free(ecom_stage_stats *stats)
{
	int p;

	ecom_latency_free(&stats->hop);
	ecom_latency_free(&stats->end_to_end);
	for (p = 0; p < ECOM_PHASE_COUNT; p++)
		ecom_latency_free(&stats->phases[p]);
}

#define TOPIC_MAX 256
#define GROUP_MAX 512

static void
flow_topics(const ecom_config *cfg, char names[ECOM_EV_COUNT + 1][TOPIC_MAX])
{
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++)
		ecom_config_topic(cfg, ecom_event_type_name((ecom_event_type)t), names[t], TOPIC_MAX);
	ecom_config_topic(cfg, cfg->dead_letter_topic, names[ECOM_EV_COUNT], TOPIC_MAX);
}

/* The consumer group of a stage: "<prefix><group>-<stage>". */
static void
stage_group(const ecom_config *cfg, ecom_stage_kind kind, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s-%s", cfg->topic_prefix, cfg->group, ecom_stage_name(kind));
}

static int
create_topics(const ecom_config *cfg, bool delete_first, ecom_err *err)
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
	                             cfg->partitions, cfg->replication_factor, cfg->timeout_ms,
	                             err) < 0)
		goto out;
	rc = 0;
out:
	ecom_producer_destroy(admin);
	return rc;
}

int
ecom_stage_create_topics(const ecom_config *cfg, ecom_err *err)
{
	return create_topics(cfg, false, err);
}

int
ecom_stage_recreate_topics(const ecom_config *cfg, ecom_err *err)
{
	return create_topics(cfg, true, err);
}

/* A stage's connections. */
typedef struct stage_clients {
	ecom_store *store;
	ecom_producer *producer;
	ecom_consumer *consumer;
	bool borrowed_store; /* opts->store: not ours to close */
} stage_clients;

typedef struct stage_run {
	const ecom_config *cfg;
	const ecom_stage_opts *opts;
	ecom_stage_stats *stats;
	/* The stage_clients', for short. */
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
	rd_kafka_message_t **event_msgs; /* the message each event came in */
	ecom_put_result *results;
	int64_t *sent_us;
	int64_t *order_us;
	const char **order_ids;
	int64_t *shipped_ms;
	/* reconcile */
	int64_t issued;          /* orders created, by any run */
	int64_t fulfilled;       /* orders fulfilled, by any run */
	int64_t last_shipped_ms; /* every mark call gets later dates than the one before */
	int64_t last_progress_us; /* monotonic: the last fulfilment, or the start */
	int64_t batch_paused_us;  /* this batch's time in opts->between_orders */
	int64_t last_stall_warning_us;
	bool ready;   /* the consumer has its partitions */
	bool started; /* reconcile: the run has begun (the first orders are out) */
} stage_run;

static int reconcile_begin(stage_run *run, ecom_err *err);

static int
send_event(stage_run *run, const char *topic, const ecom_event *ev, int64_t order_us,
           ecom_err *err)
{
	size_t len;
	char *json = ecom_event_to_json(ev, &len);
	int rc;

	if (json == NULL)
		return ecom_err_set(err, "cannot serialise event '%s'", ev->event_id);
	rc = ecom_producer_send_event(run->producer, topic, ev->event_id, json, len, order_us, err);
	bson_free(json);
	return rc;
}

/* Room kept in a dead letter for the record's own framing, beyond key, value and headers. */
#define RECORD_OVERHEAD 512

/*
 * A copy of m to the dead-letter topic, the reason in a header.  A
 * message near the size limit would not fit with the headers added: its
 * copy is cut to fit, with a header giving the original length, so the
 * dead letter never stops the stage.
 */
static int
dead_letter(stage_run *run, const rd_kafka_message_t *m, const char *reason, ecom_err *err)
{
	const char *source = rd_kafka_topic_name(m->rkt);
	const char *headers[6] = {ECOM_HDR_DLQ_REASON, reason, ECOM_HDR_DLQ_TOPIC, source};
	size_t n_headers = 2, len = m->len;
	size_t limit = ecom_producer_max_message_bytes(run->producer);
	size_t framing = m->key_len + strlen(reason) + strlen(source) + RECORD_OVERHEAD;
	char key[256], original[24];
	size_t key_len = m->key_len < sizeof(key) - 1 ? m->key_len : sizeof(key) - 1;

	memcpy(key, m->key ? m->key : "", m->key ? key_len : 0);
	key[m->key ? key_len : 0] = '\0';
	if (len + framing > limit) {
		len = limit > framing ? limit - framing : 0;
		snprintf(original, sizeof(original), "%zu", m->len);
		headers[4] = ECOM_HDR_DLQ_TRUNCATED;
		headers[5] = original;
		n_headers = 3;
	}
	ecom_warnf("%s [%" PRId32 "] at offset %" PRId64 ": %s (sent to '%s'%s)", source, m->partition,
	           m->offset, reason, run->topics[ECOM_EV_COUNT],
	           n_headers == 3 ? ", cut to fit" : "");
	run->stats->dead_letters++;
	return ecom_producer_send(run->producer, run->topics[ECOM_EV_COUNT], key[0] ? key : NULL,
	                          m->payload, len, headers, n_headers, err);
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
		run->issued++;
		run->stats->issued++;
	}
	return 0;
}

/*
 * The original's check after every fulfilment: orders created in the
 * store against orders fulfilled.  "Fulfilled" is the mark on the
 * ordercreated document, not the count of stored orderfulfilled events:
 * a reconcile killed between storing a batch and marking it leaves
 * stored, unmarked fulfilments that come back only when their partition
 * is read again, maybe after other partitions' (P > 1), and a count of
 * events would see them as a mismatch.  With W orders in flight, created
 * may run ahead of fulfilled by at most the orders still in flight.
 *
 * The store is asked every cfg->count_check_every orders and at the end
 * of the run, not after every order: a count is a scan of the collection
 * on some servers (FerretDB 1.24 decodes every document), which would
 * make the run quadratic.  In between, the counts this process keeps
 * from the store's own write results (orders it created, orders the
 * marking changed) are checked after every fulfilment.
 */
static int
check_counts(stage_run *run, bool ask_store, ecom_err *err)
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
	    ecom_store_count_fulfilled(run->store, &fulfilled, err) < 0)
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
 * order never starts an extra one.  Each call's shipped date is later
 * than the one before, which lets the store tell a retried call (same
 * date) from a repeated fulfilment (an earlier date).
 */
static int
reconcile_batch(stage_run *run, size_t n, ecom_err *err)
{
	size_t i, marks = 0;
	int64_t marked = 0, before, every, now_ms = ecom_now_us() / 1000;

	if (now_ms <= run->last_shipped_ms)
		now_ms = run->last_shipped_ms + 1;
	run->last_shipped_ms = now_ms;
	for (i = 0; i < n; i++) {
		if (run->results[i].status == ECOM_PUT_REJECTED)
			continue;
		run->order_ids[marks] = run->event_ptrs[i]->event_id;
		run->shipped_ms[marks] = now_ms;
		marks++;
	}
	if (marks == 0)
		return 0;
	if (ecom_store_mark_fulfilled(run->store, run->order_ids, run->shipped_ms, marks, &marked,
	                              err) < 0)
		return -1;
	if (marked == 0)
		return 0;
	before = run->fulfilled;
	run->fulfilled += marked;
	run->stats->fulfilled += marked;
	if (run->stats->started_us == 0) /* a resumed run's first fulfilment, before it began */
		run->stats->started_us = ecom_now_us();
	run->stats->ended_us = ecom_now_us();
	run->last_progress_us = ecom_monotonic_us();
	every = run->cfg->count_check_every;
	if (check_counts(run,
	                 run->fulfilled / every != before / every || run->fulfilled >= run->opts->orders,
	                 err) < 0)
		return -1;
	return 0;
}

/* Nothing in flight: the driver's moment (opts->between_orders), left out of the run's time. */
static int
pause_between_orders(stage_run *run, ecom_err *err)
{
	int64_t t0, paused;

	if (run->opts->between_orders == NULL || !run->started || run->issued != run->fulfilled ||
	    run->fulfilled >= run->opts->orders)
		return 0;
	t0 = ecom_monotonic_us();
	if (run->opts->between_orders(run->opts->between_arg, run->fulfilled, err) < 0)
		return -1;
	paused = ecom_monotonic_us() - t0;
	run->stats->paused_us += paused;
	/* Not the batch's latency, and not a stall: both are counted without it. */
	run->batch_paused_us += paused;
	run->last_progress_us += paused;
	return 0;
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

static void
add_phase(stage_run *run, ecom_phase phase, int64_t *mark_us)
{
	int64_t now = ecom_monotonic_us();

	ecom_latency_add(&run->stats->phases[phase], now - *mark_us);
	*mark_us = now;
}

/* The messages of the batch as events; the others dead-lettered. */
static int
decode_batch(stage_run *run, size_t n_msgs, size_t *n_events, ecom_err *err)
{
	int64_t now_us = ecom_now_us();
	size_t i, n = 0;

	for (i = 0; i < n_msgs; i++) {
		rd_kafka_message_t *m = run->msgs[i];
		ecom_event *ev = &run->events[n];
		ecom_err why;

		run->stats->consumed++;
		run->sent_us[n] = ecom_message_header_int(m, ECOM_HDR_SENT_US);
		if (run->sent_us[n] > 0)
			ecom_latency_add(&run->stats->phases[ECOM_PHASE_POLL_WAIT], now_us - run->sent_us[n]);
		if (m->payload == NULL || m->len == 0) {
			if (dead_letter(run, m, "empty message", err) < 0)
				return -1;
			continue;
		}
		if (ecom_event_from_json(m->payload, m->len, ev, &why) < 0) {
			if (dead_letter(run, m, why.msg, err) < 0)
				return -1;
			continue;
		}
		if (ev->type != run->input) {
			snprintf(why.msg, sizeof(why.msg), "event type '%s' does not belong on this topic",
			         ecom_event_type_name(ev->type));
			ecom_event_destroy(ev);
			if (dead_letter(run, m, why.msg, err) < 0)
				return -1;
			continue;
		}
		run->event_ptrs[n] = ev;
		run->event_msgs[n] = m;
		run->order_us[n] = ecom_message_header_int(m, ECOM_HDR_ORDER_START_US);
		if (run->order_us[n] < 0) /* produced by hand: the event's own date will do */
			run->order_us[n] = ev->created_ms * 1000;
		n++;
	}
	*n_events = n;
	return 0;
}

/* Count what the store did; an event it refused goes to the dead-letter topic. */
static int
settle_results(stage_run *run, size_t n, ecom_err *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char reason[600];

		switch (run->results[i].status) {
		case ECOM_PUT_NEW:
			run->stats->stored++;
			break;
		case ECOM_PUT_DUPLICATE:
			run->stats->duplicates++;
			break;
		case ECOM_PUT_REJECTED:
			run->stats->rejected++;
			snprintf(reason, sizeof(reason), "the store refused it: %s", run->results[i].reason);
			if (dead_letter(run, run->event_msgs[i], reason, err) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

/* Produce the next event of every stored one; also of duplicates, whose first
 * processing may have crashed before producing. */
static int
forward_batch(stage_run *run, size_t n, ecom_err *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ecom_event next;
		int sent;

		if (run->results[i].status == ECOM_PUT_REJECTED)
			continue;
		if (ecom_event_next(&run->events[i], &next, ecom_now_us() / 1000, err) < 0)
			return -1;
		sent = send_event(run, run->topics[run->input + 1], &next, run->order_us[i], err);
		ecom_event_destroy(&next);
		if (sent < 0)
			return -1;
		run->stats->produced++;
	}
	return 0;
}

/*
 * Store the held offsets once everything produced so far is acknowledged:
 * a crash before that makes the batches be read again, which the
 * idempotent writes make harmless.  The stage does not wait for the
 * acknowledgements, unless they are held longer than SETTLE_MAX_US
 * (constant traffic, where the producer's queue is seldom empty) or
 * force is set (the end of the run): then it flushes.
 */
#define SETTLE_MAX_US 100000

static int
settle_offsets(stage_run *run, bool force, ecom_err *err)
{
	int64_t since = ecom_consumer_deferred_since(run->consumer), t0;
	int acked;

	if (since == 0)
		return 0;
	acked = ecom_producer_all_acked(run->producer, err);
	if (acked < 0)
		return -1;
	if (!acked) {
		if (!force && ecom_monotonic_us() - since < SETTLE_MAX_US)
			return 0;
		t0 = ecom_monotonic_us();
		if (ecom_producer_flush(run->producer, err) < 0)
			return -1;
		add_phase(run, ECOM_PHASE_FLUSH, &t0);
	}
	return ecom_consumer_store_deferred(run->consumer, err);
}

static int
process_batch(stage_run *run, size_t n_msgs, ecom_err *err)
{
	size_t i, n = 0;
	int64_t now_us, mark_us = ecom_monotonic_us();
	int rc = -1;

	run->batch_paused_us = 0;
	if (decode_batch(run, n_msgs, &n, err) < 0)
		goto out;
	add_phase(run, ECOM_PHASE_DECODE, &mark_us);
	if (n > 0 && ecom_store_put_batch(run->store, run->input, run->event_ptrs, n, run->results,
	                                  err) < 0)
		goto out;
	add_phase(run, ECOM_PHASE_STORE, &mark_us);
	if (settle_results(run, n, err) < 0)
		goto out;
	if (run->opts->kind == ECOM_STAGE_RECONCILE) {
		if (reconcile_batch(run, n, err) < 0)
			goto out;
		add_phase(run, ECOM_PHASE_MARK, &mark_us);
		if (pause_between_orders(run, err) < 0)
			goto out;
		mark_us = ecom_monotonic_us();
		/* The next orders; before the run begins, reconcile_begin() tops up. */
		if (run->started && top_up_orders(run, err) < 0)
			goto out;
	} else if (forward_batch(run, n, err) < 0) {
		goto out;
	}
	add_phase(run, ECOM_PHASE_PRODUCE, &mark_us);
	/* The batch's offsets wait for the broker's acknowledgements, not the stage. */
	ecom_consumer_defer(run->consumer, run->msgs, n_msgs);
	if (settle_offsets(run, false, err) < 0)
		goto out;
	add_phase(run, ECOM_PHASE_OFFSETS, &mark_us);
	now_us = ecom_now_us() - run->batch_paused_us;
	for (i = 0; i < n; i++) {
		if (run->sent_us[i] > 0)
			ecom_latency_add(&run->stats->hop, now_us - run->sent_us[i]);
		if (run->opts->kind == ECOM_STAGE_RECONCILE && run->results[i].status == ECOM_PUT_NEW)
			ecom_latency_add(&run->stats->end_to_end, now_us - run->order_us[i]);
	}
	rc = 0;
out:
	free_batch(run, n_msgs, n);
	return rc;
}

/*
 * Restart-safe: what was created is what the topic holds, what was
 * fulfilled is what the store says.  Done at set-up, before any
 * fulfilment is read: a restarted reconcile gets the redelivered ones
 * first.
 */
static int
reconcile_resume(stage_run *run, ecom_err *err)
{
	if (ecom_kafka_topic_size(ecom_producer_handle(run->producer),
	                          run->topics[ECOM_EV_ORDERCREATED], run->cfg->timeout_ms,
	                          &run->issued, err) < 0)
		return -1;
	if (ecom_store_count_fulfilled(run->store, &run->fulfilled, err) < 0)
		return -1;
	run->stats->fulfilled_before = run->fulfilled;
	if (run->fulfilled >= run->opts->orders)
		ecom_infof("all %" PRId64 " orders were fulfilled already: nothing to do", run->fulfilled);
	else if (run->issued > 0)
		ecom_infof("resuming: %" PRId64 " orders created, %" PRId64 " fulfilled", run->issued,
		           run->fulfilled);
	run->last_progress_us = ecom_monotonic_us();
	return 0;
}

/* The run begins: the clock starts (if no fulfilment started it) and the first orders go out. */
static int
reconcile_begin(stage_run *run, ecom_err *err)
{
	run->started = true;
	if (run->fulfilled >= run->opts->orders)
		return 0;
	if (run->stats->started_us == 0)
		run->stats->started_us = ecom_now_us();
	run->last_progress_us = ecom_monotonic_us();
	if (top_up_orders(run, err) < 0 || ecom_producer_flush(run->producer, err) < 0)
		return -1;
	return 0;
}

/*
 * No order completed for stall_warn_ms: say where the orders are waiting,
 * from the consumer lag of each stage's group on its input topic.
 */
static void
warn_if_stalled(stage_run *run)
{
	int64_t now = ecom_monotonic_us(), stall_us = (int64_t)run->cfg->stall_warn_ms * 1000;
	char where[1024] = "", failure[600] = "";
	size_t used = 0;
	int k;

	if (run->fulfilled >= run->opts->orders || now - run->last_progress_us < stall_us ||
	    now - run->last_stall_warning_us < stall_us)
		return;
	run->last_stall_warning_us = now;
	if (ecom_consumer_brokers_down(run->consumer))
		snprintf(failure, sizeof(failure), "the kafka brokers are down");
	for (k = 0; k < ECOM_STAGE_COUNT && failure[0] == '\0'; k++) {
		char group[GROUP_MAX];
		int64_t lag = 0;
		ecom_err why;

		stage_group(run->cfg, (ecom_stage_kind)k, group, sizeof(group));
		if (ecom_kafka_group_lag(run->cfg, group, run->topics[ecom_stage_input((ecom_stage_kind)k)],
		                         &lag, &why) < 0) {
			snprintf(failure, sizeof(failure), "cannot tell where: %.500s", why.msg);
			break;
		}
		if (lag <= 0)
			continue;
		used += (size_t)snprintf(where + used, used < sizeof(where) ? sizeof(where) - used : 0,
		                         "%s%" PRId64 " on '%s' (is the %s stage running?)",
		                         used ? ", " : "", lag,
		                         run->topics[ecom_stage_input((ecom_stage_kind)k)],
		                         ecom_stage_name((ecom_stage_kind)k));
	}
	ecom_warnf("no order completed for %.0f s (%" PRId64 " of %ld fulfilled, %" PRId64
	           " in flight); %s%s",
	           (double)(now - run->last_progress_us) / 1e6, run->fulfilled, run->opts->orders,
	           run->issued - run->fulfilled,
	           failure[0] ? failure
	           : used     ? "messages waiting: "
	                      : "no messages are waiting on the flow's topics",
	           failure[0] ? "" : where);
}

/* The topic a stage produces to. */
static const char *
output_topic(const stage_run *run)
{
	return run->topics[run->opts->kind == ECOM_STAGE_RECONCILE ? ECOM_EV_ORDERCREATED
	                                                           : run->input + 1];
}

/*
 * The stage's connections: the store, the topics created, a producer
 * that knows its topics before the first send (nor is timed learning
 * them), and a consumer of its input in its own group.
 */
static int
clients_open(stage_clients *clients, stage_run *run, ecom_err *err)
{
	const ecom_config *cfg = run->cfg;
	const ecom_stage_opts *opts = run->opts;
	const char *input = run->topics[run->input];
	char group[GROUP_MAX];

	if (opts->store != NULL) {
		clients->store = opts->store; /* borrowed: the caller closes it */
		clients->borrowed_store = true;
	} else if (ecom_store_open(&clients->store, cfg, err) < 0)
		return -1;
	ecom_store_set_stop(clients->store, opts->stop);
	if (ecom_producer_new(&clients->producer, cfg, err) < 0)
		return -1;
	ecom_producer_set_stop(clients->producer, opts->stop);
	if (ecom_stage_create_topics(cfg, err) < 0 ||
	    ecom_producer_warm(clients->producer, run->topics[ECOM_EV_COUNT], err) < 0 ||
	    ecom_producer_warm(clients->producer, output_topic(run), err) < 0)
		return -1;
	stage_group(cfg, opts->kind, group, sizeof(group));
	if (ecom_consumer_new(&clients->consumer, cfg, group, &input, 1, "earliest", err) < 0)
		return -1;
	ecom_consumer_set_stop(clients->consumer, opts->stop);
	if (opts->announce_rebalances)
		ecom_consumer_announce_rebalances(clients->consumer);
	run->store = clients->store;
	run->producer = clients->producer;
	run->consumer = clients->consumer;
	ecom_debugf("stage %s: %s → %s", ecom_stage_name(opts->kind), input, output_topic(run));
	return 0;
}

static void
clients_close(stage_clients *clients, int rc)
{
	ecom_err ignored;

	if (clients->consumer != NULL) {
		/* Commit what was stored before a failure too: those batches are done. */
		if (rc < 0)
			ecom_consumer_commit(clients->consumer, &ignored);
		ecom_consumer_destroy(clients->consumer);
	}
	ecom_producer_destroy(clients->producer);
	if (clients->store != NULL && !clients->borrowed_store)
		ecom_store_close(clients->store);
}

static void
run_init(stage_run *run, const ecom_config *cfg, const ecom_stage_opts *opts,
         ecom_stage_stats *stats)
{
	memset(run, 0, sizeof(*run));
	run->cfg = cfg;
	run->opts = opts;
	run->stats = stats;
	run->input = ecom_stage_input(opts->kind);
	run->batch_max = (size_t)cfg->batch_size;
	flow_topics(cfg, run->topics);
	run->msgs = calloc(run->batch_max, sizeof(*run->msgs));
	run->events = calloc(run->batch_max, sizeof(*run->events));
	run->event_ptrs = calloc(run->batch_max, sizeof(*run->event_ptrs));
	run->event_msgs = calloc(run->batch_max, sizeof(*run->event_msgs));
	run->results = calloc(run->batch_max, sizeof(*run->results));
	run->sent_us = calloc(run->batch_max, sizeof(*run->sent_us));
	run->order_us = calloc(run->batch_max, sizeof(*run->order_us));
	run->order_ids = calloc(run->batch_max, sizeof(*run->order_ids));
	run->shipped_ms = calloc(run->batch_max, sizeof(*run->shipped_ms));
}

static void
run_free(stage_run *run)
{
	free(run->msgs);
	free(run->events);
	free(run->event_ptrs);
	free(run->event_msgs);
	free(run->results);
	free(run->sent_us);
	free(run->order_us);
	free(run->order_ids);
	free(run->shipped_ms);
}

/*
 * Before each poll: a stage whose consumer has its partitions is ready;
 * reconcile begins once it is (and the driver says every stage is).
 */
static int
run_housekeeping_before(stage_run *run, ecom_err *err)
{
	const ecom_stage_opts *opts = run->opts;

	if (!run->ready && ecom_consumer_assigned(run->consumer)) {
		run->ready = true;
		if (opts->on_ready != NULL)
			opts->on_ready(opts->ready_arg);
	}
	if (opts->kind == ECOM_STAGE_RECONCILE && !run->started && run->ready &&
	    (opts->may_start == NULL || opts->may_start(opts->ready_arg)))
		return reconcile_begin(run, err);
	return 0;
}

static void
run_housekeeping_after(stage_run *run)
{
	if (run->opts->kind != ECOM_STAGE_RECONCILE)
		return;
	warn_if_stalled(run);
	if (run->opts->on_progress != NULL)
		run->opts->on_progress(run->opts->progress_arg, run->fulfilled);
}

static bool
run_done(const stage_run *run)
{
	return run->opts->kind == ECOM_STAGE_RECONCILE && run->fulfilled >= run->opts->orders;
}

/* The stage, until *stop or, for reconcile, until its orders are done. */
static int
run_loop(stage_run *run, ecom_err *err)
{
	const ecom_stage_opts *opts = run->opts;

	if (opts->kind == ECOM_STAGE_RECONCILE && reconcile_resume(run, err) < 0)
		return -1;
	while (opts->stop == NULL || !*opts->stop) {
		size_t n_msgs = 0;

		if (run_housekeeping_before(run, err) < 0)
			return -1;
		if (run_done(run))
			break;
		/* Until the run begins, look at the assignment often. */
		if (ecom_consumer_poll_batch(run->consumer, run->msgs, run->batch_max,
		                             run->ready ? 100 : 10, &n_msgs, NULL, err) < 0)
			return -1;
		if (n_msgs > 0 && process_batch(run, n_msgs, err) < 0)
			return -1;
		run_housekeeping_after(run);
		if (settle_offsets(run, false, err) < 0)
			return -1;
	}
	if (settle_offsets(run, true, err) < 0)
		return -1;
	return ecom_consumer_commit(run->consumer, err);
}

int
ecom_stage_run(const ecom_config *cfg, const ecom_stage_opts *opts, ecom_stage_stats *stats,
               ecom_err *err)
{
	stage_run run;
	ecom_stage_stats own_stats;
	stage_clients clients;
	int rc = -1;

	memset(&clients, 0, sizeof(clients));
	ecom_stage_stats_init(&own_stats);
	run_init(&run, cfg, opts, stats != NULL ? stats : &own_stats);
	if (clients_open(&clients, &run, err) < 0 || run_loop(&run, err) < 0)
		goto out;
	rc = 0;
out:
	clients_close(&clients, rc);
	run_free(&run);
	ecom_stage_stats_free(&own_stats);
	return rc;
}
