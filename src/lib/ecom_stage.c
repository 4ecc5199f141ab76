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
 * the same way).
 *
 * Under exactly_once the same write comes first, then one transaction
 * per batch holds the next events, the dead letters and the offsets
 * (ecom_producer_commit): readers of committed data see the batch's
 * output once, or not at all; an aborted batch is read again from the
 * committed offsets.
 *
 * A message that cannot be an event, and an event the store refuses,
 * goes to the dead-letter topic with the reason in a header; the rest of
 * its batch goes on.  A broker or store that stops answering is waited
 * for (ecom_kafka_producer.c, ecom_kafka_consumer.c, ecom_store.c), up
 * to retry_timeout_ms.
 */
#include "ecom_stage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_alloc.h"
#include "ecom_kafka.h"
#include "ecom_stage_impl.h"
#include "ecom_store.h"
#include "ecom_time.h"
#include "ecom_wire.h"

static int forward_batch(ecom_stage_loop *loop, size_t n, int64_t *mark_us, ecom_err *err);

#define FORWARD_HOOKS(stage, out) \
	{.name = (stage), .output = (out), .handle_batch = forward_batch}

static const ecom_stage_hooks forward_hooks[] = {
	FORWARD_HOOKS("payment", ECOM_EV_PAYMENTCOMPLETED),
	FORWARD_HOOKS("inventory", ECOM_EV_INVENTORYUPDATED),
	FORWARD_HOOKS("shipping", ECOM_EV_ORDERSHIPPED),
	FORWARD_HOOKS("fulfillment", ECOM_EV_ORDERFULFILLED),
};

/* What each kind of stage does with a stored batch. */
static const ecom_stage_hooks *const kind_hooks[ECOM_STAGE_COUNT] = {
	[ECOM_STAGE_PAYMENT] = &forward_hooks[0],
	[ECOM_STAGE_INVENTORY] = &forward_hooks[1],
	[ECOM_STAGE_SHIPPING] = &forward_hooks[2],
	[ECOM_STAGE_FULFILLMENT] = &forward_hooks[3],
	[ECOM_STAGE_RECONCILE] = &ecom_reconcile_hooks,
};

static const char *const phase_names[ECOM_PHASE_COUNT] = {
	"poll_wait", "decode", "store", "mark", "produce", "flush", "offsets", "transaction",
};

const char *
ecom_stage_name(ecom_stage_kind kind)
{
	return kind < ECOM_STAGE_COUNT ? kind_hooks[kind]->name : "?";
}

int
ecom_stage_from_name(const char *name, ecom_stage_kind *kind)
{
	int k;

	for (k = 0; k < ECOM_STAGE_COUNT; k++) {
		if (strcmp(name, kind_hooks[k]->name) == 0) {
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
	ecom_latency_init(&stats->send_lag);
	stats->sustainable = true;
	for (p = 0; p < ECOM_PHASE_COUNT; p++)
		ecom_latency_init(&stats->phases[p]);
}

void
ecom_stage_stats_free(ecom_stage_stats *stats)
{
	int p;

	ecom_latency_free(&stats->hop);
	ecom_latency_free(&stats->end_to_end);
	ecom_latency_free(&stats->send_lag);
	for (p = 0; p < ECOM_PHASE_COUNT; p++)
		ecom_latency_free(&stats->phases[p]);
}

static void
flow_topics(const ecom_config *cfg, char names[ECOM_EV_COUNT + 1][ECOM_TOPIC_MAX])
{
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++)
		ecom_config_topic(cfg, ecom_event_type_name((ecom_event_type)t), names[t],
		                  ECOM_TOPIC_MAX);
	ecom_config_topic(cfg, cfg->dead_letter_topic, names[ECOM_EV_COUNT], ECOM_TOPIC_MAX);
}

void
ecom_stage_group(const ecom_config *cfg, ecom_stage_kind kind, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s-%s", cfg->topic_prefix, cfg->group, ecom_stage_name(kind));
}

static int
create_topics(const ecom_config *cfg, bool delete_first, ecom_err *err)
{
	char names[ECOM_EV_COUNT + 1][ECOM_TOPIC_MAX];
	const char *topics[ECOM_EV_COUNT + 1];
	ecom_kafka_admin *admin = NULL;
	int i, rc = -1;

	flow_topics(cfg, names);
	for (i = 0; i <= ECOM_EV_COUNT; i++)
		topics[i] = names[i];
	if (ecom_kafka_admin_new(&admin, cfg, err) < 0)
		return -1;
	if (delete_first &&
	    ecom_kafka_delete_topics(ecom_kafka_admin_handle(admin), topics, ECOM_EV_COUNT + 1,
	                             cfg->timeout_ms, err) < 0)
		goto out;
	if (ecom_kafka_ensure_topics(ecom_kafka_admin_handle(admin), topics, ECOM_EV_COUNT + 1,
	                             cfg->partitions, cfg->replication_factor, cfg->timeout_ms,
	                             err) < 0)
		goto out;
	rc = 0;
out:
	ecom_kafka_admin_destroy(admin);
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

int
ecom_stage_send_event(ecom_stage_loop *loop, const char *topic, const ecom_event *ev,
                      int64_t order_us, ecom_err *err)
{
	return ecom_wire_send_event(loop->producer, ecom_config_wire(loop->cfg), topic, ev, order_us,
	                            err);
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
dead_letter(ecom_stage_loop *loop, const rd_kafka_message_t *m, const char *reason,
            ecom_err *err)
{
	const char *source = rd_kafka_topic_name(m->rkt);
	const char *headers[6] = {ECOM_HDR_DLQ_REASON, reason, ECOM_HDR_DLQ_TOPIC, source};
	size_t n_headers = 2, len = m->len;
	size_t limit = ecom_producer_max_message_bytes(loop->producer);
	size_t framing = m->key_len + strlen(reason) + strlen(source) + RECORD_OVERHEAD;
	char original[24];

	if (len + framing > limit) {
		len = limit > framing ? limit - framing : 0;
		snprintf(original, sizeof(original), "%zu", m->len);
		headers[4] = ECOM_HDR_DLQ_TRUNCATED;
		headers[5] = original;
		n_headers = 3;
	}
	ecom_warnf("%s [%" PRId32 "] at offset %" PRId64 ": %s (sent to '%s'%s)", source, m->partition,
	           m->offset, reason, loop->topics[ECOM_EV_COUNT],
	           n_headers == 3 ? ", cut to fit" : "");
	loop->stats->dead_letters++;
	return ecom_producer_send(loop->producer, loop->topics[ECOM_EV_COUNT], m->key, m->key_len,
	                          m->payload, len, headers, n_headers, err);
}

static void
free_batch(ecom_stage_loop *loop, size_t n_msgs, size_t n_events)
{
	size_t i;

	for (i = 0; i < n_events; i++)
		ecom_event_destroy(&loop->events[i]);
	for (i = 0; i < n_msgs; i++)
		rd_kafka_message_destroy(loop->msgs[i]);
}

void
ecom_stage_phase_done(ecom_stage_loop *loop, ecom_phase phase, int64_t *mark_us)
{
	int64_t now = ecom_monotonic_us();

	if (!loop->batch_in_warmup)
		ecom_latency_add(&loop->stats->phases[phase], now - *mark_us);
	*mark_us = now;
}

/* m as an event of this stage's input, or the reason it is not one (why). */
static int
decode_message(ecom_stage_loop *loop, const rd_kafka_message_t *m, ecom_event *ev, ecom_err *why)
{
	if (m->payload == NULL || m->len == 0)
		return ecom_err_set(why, "empty message");
	if (ecom_event_from_message(m, loop->input, ev, why) < 0)
		return -1;
	if (ev->type != loop->input) {
		ecom_err_set(why, "event type '%s' does not belong on this topic",
		             ecom_event_type_name(ev->type));
		ecom_event_destroy(ev);
		return -1;
	}
	return 0;
}

/* True for an event of an order meant to start in the driver's warm-up. */
static bool
in_warmup(const ecom_stage_loop *loop, int64_t order_us)
{
	return loop->opts->stats_from_us != NULL && order_us > 0 &&
	       order_us < atomic_load(loop->opts->stats_from_us);
}

/* The messages of the batch as events; the others dead-lettered. */
static int
decode_batch(ecom_stage_loop *loop, size_t n_msgs, size_t *n_events, ecom_err *err)
{
	int64_t now_us = ecom_now_us();
	size_t i, n = 0;

	for (i = 0; i < n_msgs; i++) {
		rd_kafka_message_t *m = loop->msgs[i];
		ecom_event *ev = &loop->events[n];
		int64_t order_us = ecom_message_header_int(m, ECOM_HDR_ORDER_START_US);
		ecom_err why;

		loop->stats->consumed++;
		loop->sent_us[n] = ecom_message_header_int(m, ECOM_HDR_SENT_US);
		if (in_warmup(loop, order_us))
			loop->batch_in_warmup = true;
		else if (loop->sent_us[n] > 0)
			ecom_latency_add(&loop->stats->phases[ECOM_PHASE_POLL_WAIT],
			                 now_us - loop->sent_us[n]);
		if (decode_message(loop, m, ev, &why) < 0) {
			if (dead_letter(loop, m, why.msg, err) < 0)
				return -1;
			continue;
		}
		loop->event_ptrs[n] = ev;
		loop->event_msgs[n] = m;
		/* Produced by hand, without the header: the event's own date will do. */
		loop->order_us[n] = order_us >= 0 ? order_us : ev->created_ms * 1000;
		n++;
	}
	*n_events = n;
	return 0;
}

/* Count what the store did; an event it refused goes to the dead-letter topic. */
static int
settle_results(ecom_stage_loop *loop, size_t n, ecom_err *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char reason[600];

		switch (loop->results[i].status) {
		case ECOM_PUT_NEW:
			loop->stats->stored++;
			break;
		case ECOM_PUT_DUPLICATE:
			loop->stats->duplicates++;
			break;
		case ECOM_PUT_REJECTED:
			loop->stats->rejected++;
			snprintf(reason, sizeof(reason), "the store refused it: %s",
			         loop->results[i].reason);
			if (dead_letter(loop, loop->event_msgs[i], reason, err) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

/* Produce the next event of every stored one; also of duplicates, whose first
 * processing may have crashed before producing. */
static int
forward_batch(ecom_stage_loop *loop, size_t n, int64_t *mark_us, ecom_err *err)
{
	size_t i;

	(void)mark_us;
	for (i = 0; i < n; i++) {
		ecom_event next;
		int sent;

		if (loop->results[i].status == ECOM_PUT_REJECTED)
			continue;
		if (ecom_event_next(&loop->events[i], &next, ecom_now_us() / 1000, err) < 0)
			return -1;
		sent = ecom_stage_send_event(loop, loop->topics[loop->hooks->output], &next,
		                             loop->order_us[i], err);
		ecom_event_destroy(&next);
		if (sent < 0)
			return -1;
		loop->stats->produced++;
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
settle_offsets(ecom_stage_loop *loop, bool force, ecom_err *err)
{
	int64_t since = ecom_consumer_deferred_since(loop->consumer), t0;
	int acked;

	if (since == 0)
		return 0;
	acked = ecom_producer_all_acked(loop->producer, err);
	if (acked < 0)
		return -1;
	if (!acked) {
		if (!force && ecom_monotonic_us() - since < SETTLE_MAX_US)
			return 0;
		t0 = ecom_monotonic_us();
		if (ecom_producer_flush(loop->producer, err) < 0)
			return -1;
		ecom_stage_phase_done(loop, ECOM_PHASE_FLUSH, &t0);
	}
	return ecom_consumer_store_deferred(loop->consumer, err);
}

/*
 * exactly_once, after an abort: nothing the transaction held is visible,
 * the store's writes stay (idempotent, they are no-ops the second time),
 * and the consumer goes back to the committed offsets to read the batch
 * again.  Returns 1 (the batch is to be redone) or -1.
 */
static int
abort_and_rewind(ecom_stage_loop *loop, const char *why, ecom_err *err)
{
	ecom_warnf("transaction aborted (%s): reading the batch again from the committed offsets",
	           why);
	loop->stats->aborted++;
	if (ecom_producer_abort(loop->producer, err) < 0)
		return -1;
	if (loop->hooks->txn_ended != NULL)
		loop->hooks->txn_ended(loop, false);
	if (ecom_consumer_rewind(loop->consumer, err) < 0)
		return -1;
	return 1;
}

/*
 * exactly_once: commit what was produced since the last commit, with the
 * offsets after msgs (n may be 0) in the consumer's group, whose
 * metadata fences a zombie whose partitions have gone to another member.
 * 0 committed, 1 aborted and rewound, -1 fatal or fenced.
 */
static int
commit_transaction(ecom_stage_loop *loop, rd_kafka_message_t *const *msgs, size_t n,
                   ecom_err *err)
{
	rd_kafka_topic_partition_list_t *offsets =
	    n > 0 ? ecom_consumer_next_offsets(msgs, n) : NULL;
	rd_kafka_consumer_group_metadata_t *group = ecom_consumer_group_metadata(loop->consumer);
	int rc = ecom_producer_commit(loop->producer, offsets, group, err);
	int64_t began = ecom_producer_txn_began_us(loop->producer);

	if (offsets != NULL)
		rd_kafka_topic_partition_list_destroy(offsets);
	rd_kafka_consumer_group_metadata_destroy(group);
	if (rc == 0) {
		if (n > 0 && !loop->batch_in_warmup)
			ecom_latency_add(&loop->stats->phases[ECOM_PHASE_COMMIT],
			                 ecom_monotonic_us() - began);
		if (loop->hooks->txn_ended != NULL)
			loop->hooks->txn_ended(loop, true);
		return 0;
	}
	if (rc == 1) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err->msg);
		return abort_and_rewind(loop, why, err);
	}
	return -1;
}

/* The batch's hop latencies, and the kind's own, once it is done. */
static void
batch_done(ecom_stage_loop *loop, size_t n)
{
	int64_t now_us = ecom_now_us() - loop->batch_excluded_us;
	size_t i;

	for (i = 0; i < n; i++)
		if (loop->sent_us[i] > 0 && !in_warmup(loop, loop->order_us[i]))
			ecom_latency_add(&loop->stats->hop, now_us - loop->sent_us[i]);
	if (loop->hooks->batch_done != NULL)
		loop->hooks->batch_done(loop, n, now_us);
}

static int
process_batch(ecom_stage_loop *loop, size_t n_msgs, ecom_err *err)
{
	size_t n = 0;
	int64_t mark_us = ecom_monotonic_us();
	int rc = -1;

	loop->batch_excluded_us = 0;
	loop->batch_in_warmup = false;
	if (decode_batch(loop, n_msgs, &n, err) < 0)
		goto out;
	ecom_stage_phase_done(loop, ECOM_PHASE_DECODE, &mark_us);
	if (n > 0 && ecom_store_put_batch(loop->store, loop->input, loop->event_ptrs, n,
	                                  loop->results, err) < 0)
		goto out;
	ecom_stage_phase_done(loop, ECOM_PHASE_STORE, &mark_us);
	if (settle_results(loop, n, err) < 0 || loop->hooks->handle_batch(loop, n, &mark_us, err) < 0)
		goto out;
	ecom_stage_phase_done(loop, ECOM_PHASE_PRODUCE, &mark_us);
	if (loop->exactly_once) {
		/* The next events, dead letters and offsets become visible together, or not at all. */
		rc = commit_transaction(loop, loop->msgs, n_msgs, err);
		if (rc != 0)
			goto out;
	} else {
		/* The batch's offsets wait for the broker's acknowledgements, not the stage. */
		ecom_consumer_defer(loop->consumer, loop->msgs, n_msgs);
		if (settle_offsets(loop, false, err) < 0)
			goto out;
		ecom_stage_phase_done(loop, ECOM_PHASE_OFFSETS, &mark_us);
	}
	batch_done(loop, n);
	rc = 0;
out:
	/* A send refused inside the transaction: abort it and redo the batch. */
	if (rc < 0 && loop->exactly_once && ecom_producer_txn_needs_abort(loop->producer)) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err->msg);
		rc = abort_and_rewind(loop, why, err);
	}
	free_batch(loop, n_msgs, n);
	return rc < 0 ? -1 : 0;
}

/*
 * The stage's connections: the store, the topics created, a producer
 * that knows its topics before the first send (nor is timed learning
 * them), and a consumer of its input in its own group.
 */
static int
clients_open(stage_clients *clients, ecom_stage_loop *loop, ecom_err *err)
{
	const ecom_config *cfg = loop->cfg;
	const ecom_stage_opts *opts = loop->opts;
	const char *input = loop->topics[loop->input], *output = loop->topics[loop->hooks->output];
	char group[ECOM_GROUP_MAX];

	if (opts->store != NULL) {
		clients->store = opts->store; /* borrowed: the caller closes it */
		clients->borrowed_store = true;
	} else if (ecom_store_open(&clients->store, cfg, err) < 0)
		return -1;
	ecom_store_set_stop(clients->store, opts->stop);
	if (loop->exactly_once) {
		char txn_id[512];

		/* Stable across restarts of this instance: its successor fences it. */
		ecom_config_transactional_id(cfg, loop->hooks->name, txn_id, sizeof(txn_id));
		if (ecom_producer_new_transactional(&clients->producer, cfg, txn_id, err) < 0)
			return -1;
		ecom_debugf("stage %s: transactional.id '%s'", loop->hooks->name, txn_id);
	} else if (ecom_producer_new(&clients->producer, cfg, err) < 0) {
		return -1;
	}
	ecom_producer_set_stop(clients->producer, opts->stop);
	if (ecom_stage_create_topics(cfg, err) < 0 ||
	    ecom_producer_warm(clients->producer, loop->topics[ECOM_EV_COUNT], err) < 0 ||
	    ecom_producer_warm(clients->producer, output, err) < 0)
		return -1;
	ecom_stage_group(cfg, opts->kind, group, sizeof(group));
	if (ecom_consumer_new(&clients->consumer, cfg, group, &input, 1, "earliest", err) < 0)
		return -1;
	ecom_consumer_set_stop(clients->consumer, opts->stop);
	if (opts->announce_rebalances)
		ecom_consumer_announce_rebalances(clients->consumer);
	loop->store = clients->store;
	loop->producer = clients->producer;
	loop->consumer = clients->consumer;
	ecom_debugf("stage %s: %s → %s", loop->hooks->name, input, output);
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
loop_init(ecom_stage_loop *loop, const ecom_config *cfg, const ecom_stage_opts *opts,
          ecom_stage_stats *stats)
{
	size_t n = (size_t)cfg->batch_size;

	memset(loop, 0, sizeof(*loop));
	loop->cfg = cfg;
	loop->opts = opts;
	loop->hooks = kind_hooks[opts->kind];
	loop->stats = stats;
	loop->input = ecom_stage_input(opts->kind);
	loop->batch_max = n;
	loop->exactly_once = ecom_config_exactly_once(cfg);
	stats->exactly_once = loop->exactly_once;
	flow_topics(cfg, loop->topics);
	loop->msgs = ecom_xcalloc(n, sizeof(*loop->msgs));
	loop->events = ecom_xcalloc(n, sizeof(*loop->events));
	loop->event_ptrs = ecom_xcalloc(n, sizeof(*loop->event_ptrs));
	loop->event_msgs = ecom_xcalloc(n, sizeof(*loop->event_msgs));
	loop->results = ecom_xcalloc(n, sizeof(*loop->results));
	loop->sent_us = ecom_xcalloc(n, sizeof(*loop->sent_us));
	loop->order_us = ecom_xcalloc(n, sizeof(*loop->order_us));
}

static void
loop_free(ecom_stage_loop *loop)
{
	free(loop->msgs);
	free(loop->events);
	free(loop->event_ptrs);
	free(loop->event_msgs);
	free(loop->results);
	free(loop->sent_us);
	free(loop->order_us);
}

/* Before each poll: the stage is ready once its consumer has its partitions. */
static int
before_poll(ecom_stage_loop *loop, ecom_err *err)
{
	const ecom_stage_opts *opts = loop->opts;

	if (!loop->ready && ecom_consumer_assigned(loop->consumer)) {
		loop->ready = true;
		if (opts->on_ready != NULL)
			opts->on_ready(opts->ready_arg);
	}
	return loop->hooks->before_poll != NULL ? loop->hooks->before_poll(loop, err) : 0;
}

/* The stage, until *stop or its kind says its work is done. */
static int
run_loop(ecom_stage_loop *loop, ecom_err *err)
{
	const ecom_stage_hooks *hooks = loop->hooks;
	const ecom_stage_opts *opts = loop->opts;

	if (hooks->start != NULL && hooks->start(loop, err) < 0)
		return -1;
	while (opts->stop == NULL || !*opts->stop) {
		size_t n_msgs = 0;

		if (before_poll(loop, err) < 0)
			return -1;
		/* What a kind produced outside a batch (the first orders) is its own transaction. */
		if (loop->exactly_once && ecom_producer_in_transaction(loop->producer) &&
		    commit_transaction(loop, NULL, 0, err) < 0)
			return -1;
		if (hooks->done != NULL && hooks->done(loop))
			break;
		/* Until the stage is ready, look at the assignment often. */
		if (ecom_consumer_poll_batch(loop->consumer, loop->msgs, loop->batch_max,
		                             loop->ready ? 100 : 10, &n_msgs, NULL, err) < 0)
			return -1;
		if (n_msgs > 0 && process_batch(loop, n_msgs, err) < 0)
			return -1;
		/* Idle, the producer is polled by nothing else: serve its statistics. */
		if (n_msgs == 0)
			ecom_producer_serve(loop->producer);
		if (hooks->after_poll != NULL)
			hooks->after_poll(loop);
		if (settle_offsets(loop, false, err) < 0)
			return -1;
	}
	if (settle_offsets(loop, true, err) < 0)
		return -1;
	return ecom_consumer_commit(loop->consumer, err);
}

int
ecom_stage_run(const ecom_config *cfg, const ecom_stage_opts *opts, ecom_stage_stats *stats,
               ecom_err *err)
{
	ecom_stage_loop loop;
	ecom_stage_stats own_stats;
	stage_clients clients;
	int rc = -1;

	if (opts->kind >= ECOM_STAGE_COUNT)
		return ecom_err_set(err, "no such stage (%d)", (int)opts->kind);
	memset(&clients, 0, sizeof(clients));
	ecom_stage_stats_init(&own_stats);
	loop_init(&loop, cfg, opts, stats != NULL ? stats : &own_stats);
	if (clients_open(&clients, &loop, err) < 0 || run_loop(&loop, err) < 0)
		goto out;
	rc = 0;
out:
	if (loop.hooks->finish != NULL)
		loop.hooks->finish(&loop);
	if (clients.producer != NULL)
		loop.stats->kafka_producer = *ecom_producer_kafka_stats(clients.producer);
	if (clients.consumer != NULL)
		loop.stats->kafka_consumer = *ecom_consumer_kafka_stats(clients.consumer);
	clients_close(&clients, rc);
	loop_free(&loop);
	ecom_stage_stats_free(&own_stats);
	return rc;
}
