/*
 * Unit tests of the stage loop (ecom_stage_run) and the Kafka layer on
 * librdkafka's mock cluster, with the in-memory store of memory-store.c:
 * no broker, no database.
 *
 * One mock cluster serves the file.  Each test has topics (auto-created,
 * four partitions each), consumer groups and a store of its own, runs
 * the real stage in a thread, plays the rest of the flow itself, and
 * injects the faults: the next topic without a leader, a produce refused,
 * the broker down, a store failing.  What the stages say on stderr is
 * captured for the whole run, each stage's lines marked with its test's
 * name ("test-stage: t3: …"), checked, and copied to the log.
 *
 * librdkafka 2.0.2's mock makes the first member of a new consumer group
 * wait 3 s (its group.initial.rebalance.delay.ms, fixed), so the stages
 * of all the tests are started together before the first test: the file
 * pays that once.  A stage is then idle until its test gives it input.
 * Its mock commands may also take a second when no client is talking to
 * it, and destroying it always does: hence one cluster, and topics made by
 * asking for them rather than by command.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecom_kafka.h"
#include "ecom_report.h"
#include "ecom_reconcile.h"
#include "ecom_stage.h"
#include "ecom_store.h"
#include "ecom_time.h"
#include "memory-store.h"
#include "stage-fixture.h"

/* What any one step may take before the test fails instead of hanging. */
#define WAIT_MS 10000
/* The mock's only broker. */
#define BROKER_ID 1
/* Kafka's ApiKeys of Produce and ListOffsets requests (not in librdkafka's public headers). */
#define API_PRODUCE 0
#define API_LIST_OFFSETS 2
/* Partitions of a topic the mock creates when asked about it. */
#define MOCK_PARTITIONS 4
/* Index of the dead-letter topic beside the five event types. */
#define DEAD_LETTERS ECOM_EV_COUNT
#define MAX_READ 16

typedef char order_id[ECOM_EVENT_ID_LEN + 1];

/* Poll cond every 10 ms for up to WAIT_MS; true once it holds. */
#define EVENTUALLY(cond) EVENTUALLY_WITHIN(WAIT_MS, cond)

/* haystack holds needle, or the test fails showing both. */
#define assert_contains(haystack, needle)                                                    \
	do {                                                                                     \
		if (strstr((haystack), (needle)) == NULL)                                            \
			fail_msg("'%s' is not in '%s'", (needle), (haystack));                           \
	} while (0)

/* ---- the tests, and what each one's stage is ---- */

enum test_id {
	T_FORWARD,
	T_OFFSETS,
	T_REFUSED_PRODUCE,
	T_STORE_RETRY,
	T_STORE_DOWN,
	T_DEAD_EVENT,
	T_DEAD_BATCH,
	T_DEAD_DROP,
	T_RECONCILE,
	T_COUNT_CLEAN,
	T_COUNT_MISMATCH,
	T_BETWEEN_ORDERS,
	T_BETWEEN_FAILS,
	T_READ_TO_END,
	T_READ_EMPTY,
	T_LEADERLESS_SIZE,
	T_OUTAGE_PAST_BOUND, /* the outages last: every other stage is gone by then */
	T_OUTAGE,
	T_COUNT
};

typedef struct plan {
	bool stage; /* a stage is started for the test */
	ecom_stage_kind kind;
	long orders;               /* reconcile */
	int window;                /* reconcile */
	long count_check_every;    /* 0: the default */
	int retry_timeout_ms;      /* 0: 10 s */
	int store_retry_timeout_ms; /* 0: 10 s */
	bool between_orders;       /* reconcile: the driver's hook between orders is set */
	bool between_fails;        /* … and fails */
} plan;

static const plan plans[T_COUNT] = {
	[T_FORWARD] = {.stage = true, .kind = ECOM_STAGE_PAYMENT},
	[T_OFFSETS] = {.stage = true, .kind = ECOM_STAGE_PAYMENT},
	[T_REFUSED_PRODUCE] = {.stage = true, .kind = ECOM_STAGE_PAYMENT},
	[T_STORE_RETRY] = {.stage = true, .kind = ECOM_STAGE_PAYMENT},
	[T_STORE_DOWN] = {.stage = true, .kind = ECOM_STAGE_PAYMENT, .store_retry_timeout_ms = 1000},
	[T_DEAD_EVENT] = {.stage = true, .kind = ECOM_STAGE_PAYMENT},
	[T_DEAD_BATCH] = {.stage = true, .kind = ECOM_STAGE_PAYMENT},
	[T_DEAD_DROP] = {.stage = true, .kind = ECOM_STAGE_PAYMENT},
	[T_RECONCILE] = {.stage = true, .kind = ECOM_STAGE_RECONCILE, .orders = 4, .window = 2},
	[T_COUNT_CLEAN] = {.stage = true,
	                   .kind = ECOM_STAGE_RECONCILE,
	                   .orders = 2,
	                   .window = 1,
	                   .count_check_every = 1},
	[T_COUNT_MISMATCH] = {.stage = true,
	                      .kind = ECOM_STAGE_RECONCILE,
	                      .orders = 3,
	                      .window = 1,
	                      .count_check_every = 1},
	[T_BETWEEN_ORDERS] = {.stage = true,
	                      .kind = ECOM_STAGE_RECONCILE,
	                      .orders = 3,
	                      .window = 1,
	                      .between_orders = true},
	[T_BETWEEN_FAILS] = {.stage = true,
	                     .kind = ECOM_STAGE_RECONCILE,
	                     .orders = 2,
	                     .window = 1,
	                     .between_orders = true,
	                     .between_fails = true},
	[T_OUTAGE_PAST_BOUND] = {.stage = true, .kind = ECOM_STAGE_PAYMENT, .retry_timeout_ms = 1000},
	[T_OUTAGE] = {.stage = true, .kind = ECOM_STAGE_PAYMENT},
};

/* One ecom_stage_run() in a thread of its own. */
typedef struct stage_thread {
	pthread_t tid;
	bool running;
	const ecom_config *cfg;
	const char *name; /* its lines on stderr: "test-stage: t3: …" */
	ecom_stage_opts opts;
	ecom_reconcile_opts terminal;
	ecom_drive_hooks drive;
	ecom_stage_stats stats;
	ecom_err err;
	ecom_stop_flag stop;
	int rc;
	int ready;    /* on_ready was called */
	int64_t ready_mono_us; /* when (the test's clock: the run cannot have begun before) */
	int progress; /* reconcile: on_progress calls, one after each turn of the loop */
	int64_t progress_mono_us; /* the last one's time: after the last fulfilment, before the end */
} stage_thread;

typedef struct fixture {
	char name[16]; /* "t3": the topic prefix "t3-", the stage's log context */
	ecom_config cfg;
	ecom_store *store;
	ecom_producer *producer; /* the test's own, playing the other stages */
	char topic[ECOM_EV_COUNT + 1][256]; /* "t3-ordercreated" … "t3-deadletter" */
	stage_thread stage;
	long said_from; /* where the test's part of the captured stderr begins */
	/* The between-orders hook: its calls, with the fulfilled count and the orders created then. */
	bool between_fails;
	int between_calls;
	int64_t between_us; /* the calls' time, as the hook measured it */
	int64_t between_fulfilled[4], between_created[4];
} fixture;

static rd_kafka_t *mock_host; /* the client the cluster lives in */
static rd_kafka_mock_cluster_t *mock;
static fixture *fixtures[T_COUNT];

/* The test's stage said something with `fragment` in it (one line), since the test began. */
static void
assert_said(fixture *f, const char *fragment)
{
	if (!capture_said(f->name, f->said_from, fragment))
		fail_msg("the %s stage did not say '%s'", f->name, fragment);
}

/* ---- the stage in a thread ---- */

static void *
stage_main(void *arg)
{
	stage_thread *t = arg;

	ecom_log_set_context(t->name);
	t->rc = ecom_stage_run(t->cfg, &t->opts, &t->stats, &t->err);
	return NULL;
}

static void
on_ready(void *arg)
{
	stage_thread *t = arg;

	t->ready_mono_us = ecom_monotonic_us();
	__atomic_store_n(&t->ready, 1, __ATOMIC_SEQ_CST);
}

static void
on_progress(void *arg, int64_t fulfilled)
{
	stage_thread *t = arg;

	(void)fulfilled;
	t->progress_mono_us = ecom_monotonic_us();
	__atomic_add_fetch(&t->progress, 1, __ATOMIC_SEQ_CST);
}

static int
progress_of(stage_thread *t)
{
	return __atomic_load_n(&t->progress, __ATOMIC_SEQ_CST);
}

static bool
is_ready(stage_thread *t)
{
	return __atomic_load_n(&t->ready, __ATOMIC_SEQ_CST) != 0;
}

/*
 * How long the between-orders hook takes (a floor chain's time, left out
 * of the run's): longer than a hop on the mock takes, so a latency that
 * counted it would show.
 */
#define BETWEEN_MS 1000
/*
 * Between the test's clock reads and the stage's own (its partitions and
 * its start, the hook's call and its pause) the stage thread may be put
 * off this long on a loaded machine.
 */
#define RUN_SLACK_US 50000

/* The driver's hook (ecom_drive_hooks.between_orders): note what it saw, take BETWEEN_MS. */
static int
between_orders(void *arg, int64_t fulfilled, ecom_err *err)
{
	fixture *f = arg;
	int64_t created = -1, t0 = ecom_monotonic_us();
	ecom_err ignored;
	int k = f->between_calls++;

	if (f->between_fails)
		return ecom_err_set(err, "floor: the chain's store went away");
	if (ecom_kafka_topic_size(ecom_producer_handle(f->producer), f->topic[ECOM_EV_ORDERCREATED],
	                          2000, &created, &ignored) < 0)
		created = -1;
	if (k < 4) {
		f->between_fulfilled[k] = fulfilled;
		f->between_created[k] = created;
	}
	ecom_sleep_ms(BETWEEN_MS);
	f->between_us += ecom_monotonic_us() - t0;
	return 0;
}

static int
stage_start(fixture *f, ecom_stage_kind kind, long orders, int window, bool between)
{
	stage_thread *t = &f->stage;

	memset(t, 0, sizeof(*t));
	ecom_stage_stats_init(&t->stats);
	t->cfg = &f->cfg;
	t->name = f->name;
	t->opts.kind = kind;
	t->opts.stop = &t->stop;
	t->opts.on_ready = on_ready;
	t->opts.ready_arg = t;
	t->opts.store = f->store;
	t->terminal.orders = orders;
	t->terminal.window = window;
	t->terminal.on_progress = on_progress;
	t->terminal.progress_arg = t;
	if (between) {
		t->drive.between_orders = between_orders;
		t->drive.arg = f;
		t->terminal.drive = &t->drive;
	}
	t->opts.terminal = &t->terminal;
	if (pthread_create(&t->tid, NULL, stage_main, t) != 0)
		return -1;
	t->running = true;
	return 0;
}

/*
 * Wait for the stage to end (after asking it to stop, if stop): its
 * return code.  A stage still running after WAIT_MS fails the test.
 */
static int
stage_finish(fixture *f, bool stop)
{
	stage_thread *t = &f->stage;
	struct timespec deadline;
	int joined;

	assert_true(t->running);
	if (stop)
		t->stop = 1;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_MS / 1000;
	joined = pthread_timedjoin_np(t->tid, NULL, &deadline);
	if (joined != 0) {
		t->stop = 1;
		pthread_join(t->tid, NULL);
	}
	t->running = false;
	if (joined != 0)
		fail_msg("the %s stage did not end within %d ms", f->name, WAIT_MS);
	return t->rc;
}

/* ---- fixtures ---- */

static void
fixture_free(fixture *f)
{
	if (f == NULL)
		return;
	if (f->stage.running) {
		f->stage.stop = 1;
		pthread_join(f->stage.tid, NULL);
	}
	ecom_stage_stats_free(&f->stage.stats);
	ecom_producer_destroy(f->producer);
	if (f->store != NULL)
		ecom_store_close(f->store);
	ecom_config_free(&f->cfg);
	free(f);
}

/* A test's configuration, store, producer and topics; its stage started if it has one. */
static fixture *
fixture_new(enum test_id id)
{
	const plan *p = &plans[id];
	fixture *f = calloc(1, sizeof(*f));
	char prefix[32];
	ecom_err err;
	int t;

	if (f == NULL)
		return NULL;
	ecom_config_init(&f->cfg);
	snprintf(f->name, sizeof(f->name), "t%d", (int)id + 1);
	snprintf(prefix, sizeof(prefix), "%s-", f->name);
	if (ecom_config_set(&f->cfg, "brokers", rd_kafka_mock_cluster_bootstraps(mock), &err) < 0 ||
	    ecom_config_set(&f->cfg, "topic_prefix", prefix, &err) < 0 ||
	    /* Offsets stored are committed within 0.1 s, so a test sees them soon. */
	    ecom_config_set_kafka(&f->cfg, "auto.commit.interval.ms=100", &err) < 0 ||
	    /* The mock cluster, unlike a broker, can hold a fetch for the whole
	     * wait although messages arrived meanwhile: at the default 500 ms
	     * this file takes 35-37 s instead of 29. */
	    ecom_config_set_kafka(&f->cfg, "fetch.wait.max.ms=100", &err) < 0 ||
	    /* Back within half a second of the broker, after two outages in a row too. */
	    ecom_config_set_kafka(&f->cfg, "reconnect.backoff.max.ms=500", &err) < 0)
		goto fail;
	f->cfg.timeout_ms = 5000;
	f->cfg.stall_warn_ms = 600000;
	if (p->count_check_every > 0)
		f->cfg.count_check_every = p->count_check_every;
	f->cfg.retry_timeout_ms = p->store_retry_timeout_ms > 0 ? p->store_retry_timeout_ms : 10000;
	f->store = memory_store_new(&f->cfg);
	f->cfg.retry_timeout_ms = p->retry_timeout_ms > 0 ? p->retry_timeout_ms : 10000;
	if (ecom_producer_new(&f->producer, &f->cfg, &err) < 0)
		goto fail;
	for (t = 0; t < ECOM_EV_COUNT; t++)
		ecom_config_topic(&f->cfg, ecom_event_type_name((ecom_event_type)t), f->topic[t],
		                  sizeof(f->topic[t]));
	ecom_config_topic(&f->cfg, f->cfg.dead_letter_topic, f->topic[DEAD_LETTERS],
	                  sizeof(f->topic[DEAD_LETTERS]));
	/* Asking where a topic's partitions lead makes the mock create it. */
	for (t = 0; t <= ECOM_EV_COUNT; t++)
		if (ecom_producer_warm(f->producer, f->topic[t], &err) < 0)
			goto fail;
	f->between_fails = p->between_fails;
	if (p->stage && stage_start(f, p->kind, p->orders, p->window, p->between_orders) < 0) {
		ecom_err_set(&err, "cannot start a thread");
		goto fail;
	}
	return f;
fail:
	fprintf(stderr, "test-stage: %s: %s\n", f->name, err.msg);
	fixture_free(f);
	return NULL;
}

static int
group_setup(void **state)
{
	int id;
	bool ready;

	(void)state;
	capture_stderr();
	if ((mock = mock_cluster_new(&mock_host)) == NULL)
		return -1;
	for (id = 0; id < T_COUNT; id++)
		if ((fixtures[id] = fixture_new((enum test_id)id)) == NULL)
			return -1;
	/* Every stage has its partitions: the consumer groups are formed. */
	for (id = 0; id < T_COUNT; id++) {
		if (!plans[id].stage)
			continue;
		ready = EVENTUALLY(is_ready(&fixtures[id]->stage));
		if (!ready) {
			fprintf(stderr, "test-stage: the %s stage got no partitions\n", fixtures[id]->name);
			return -1;
		}
	}
	return 0;
}

static int
group_teardown(void **state)
{
	int id;

	(void)state;
	for (id = 0; id < T_COUNT; id++)
		fixture_free(fixtures[id]);
	mock_cluster_destroy(mock, mock_host);
	capture_release();
	return 0;
}

/* The test's fixture, as group_setup() left it. */
static fixture *
take(void **state, enum test_id id)
{
	fixture *f = fixtures[id];

	assert_non_null(f);
	fixtures[id] = NULL;
	f->said_from = capture_size();
	*state = f;
	return f;
}

static int
teardown(void **state)
{
	/* A test that failed half-way may leave the broker down. */
	rd_kafka_mock_broker_set_up(mock, BROKER_ID);
	fixture_free(*state);
	capture_copy_to_log();
	return 0;
}

/* ---- Kafka, as the test sees it ---- */

/* Messages ever produced to one of the six topics. */
static int64_t
topic_size(fixture *f, int topic)
{
	ecom_err err;
	int64_t size = -1;

	if (ecom_kafka_topic_size(ecom_producer_handle(f->producer), f->topic[topic], 2000, &size,
	                          &err) < 0)
		fail_msg("%s", err.msg);
	return size;
}

/* Messages of the stage's input topic its group has not committed. */
static int64_t
group_lag(fixture *f, ecom_stage_kind kind)
{
	char group[512];
	ecom_err err;
	int64_t lag = -1;

	snprintf(group, sizeof(group), "%s%s-%s", f->cfg.topic_prefix, f->cfg.group,
	         ecom_stage_name(kind));
	if (ecom_kafka_group_lag(&f->cfg, group, f->topic[ecom_stage_input(kind)], &lag, &err) < 0)
		fail_msg("%s", err.msg);
	return lag;
}

/* Every partition of a topic led by broker_id, or by none (-1). */
static void
set_leader(fixture *f, int topic, int32_t broker_id)
{
	int32_t p;

	for (p = 0; p < MOCK_PARTITIONS; p++)
		assert_int_equal(rd_kafka_mock_partition_set_leader(mock, f->topic[topic], p, broker_id),
		                 RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void
flush(fixture *f)
{
	ecom_err err;

	if (ecom_producer_flush(f->producer, &err) < 0)
		fail_msg("%s", err.msg);
}

static void
send_event(fixture *f, const ecom_event *ev, int64_t order_us)
{
	size_t len;
	char *json = ecom_event_to_json(ev, &len);
	ecom_err err;

	assert_non_null(json);
	if (ecom_producer_send_event(f->producer, f->topic[ev->type], ev->event_id, json, len,
	                             order_us, &err) < 0)
		fail_msg("%s", err.msg);
	bson_free(json);
}

static void
send_raw(fixture *f, int topic, const char *key, const char *value)
{
	ecom_err err;

	if (ecom_producer_send(f->producer, f->topic[topic], key, key != NULL ? strlen(key) : 0, value,
	                       strlen(value), NULL, 0, &err) < 0)
		fail_msg("%s", err.msg);
}

static void
new_order(ecom_event *order)
{
	ecom_err err;

	if (ecom_event_new_order(order, ecom_now_us() / 1000, &err) < 0)
		fail_msg("%s", err.msg);
}

/* n new orders to ordercreated, acknowledged; their ids into ids. */
static void
produce_orders(fixture *f, int n, order_id *ids, int64_t order_us)
{
	int i;

	for (i = 0; i < n; i++) {
		ecom_event order;

		new_order(&order);
		send_event(f, &order, order_us);
		snprintf(ids[i], sizeof(ids[i]), "%s", order.event_id);
		ecom_event_destroy(&order);
	}
	flush(f);
}

/* The event of type `type` that the flow makes of order (a bson_t is never copied by value). */
static void
event_of(const ecom_event *order, ecom_event_type type, ecom_event *out)
{
	ecom_event steps[2];
	ecom_event *prev = (ecom_event *)order;
	ecom_err err;
	int k = 0;

	while (prev->type != type) {
		if (ecom_event_next(prev, &steps[k], ecom_now_us() / 1000, &err) < 0)
			fail_msg("%s", err.msg);
		if (prev != order)
			ecom_event_destroy(prev);
		prev = &steps[k];
		k ^= 1;
	}
	if (ecom_event_from_bson(&prev->doc, out, &err) < 0)
		fail_msg("%s", err.msg);
	if (prev != order)
		ecom_event_destroy(prev);
}

/* Send order's orderfulfilled `times` times (a redelivery), acknowledged. */
static void
fulfil(fixture *f, const ecom_event *order, int times)
{
	ecom_event done;
	int i;

	event_of(order, ECOM_EV_ORDERFULFILLED, &done);
	for (i = 0; i < times; i++)
		send_event(f, &done, order->created_ms * 1000);
	flush(f);
	ecom_event_destroy(&done);
}

/* A topic read from its start with ecom_consumer_new_assign(). */
typedef struct reading {
	ecom_consumer *consumer;
	rd_kafka_message_t *msgs[MAX_READ];
	size_t n;
} reading;

/* The first `want` messages of a topic, within WAIT_MS: how many came. */
static size_t
read_topic(fixture *f, int topic, size_t want, reading *r)
{
	int64_t until = ecom_monotonic_us() + (int64_t)WAIT_MS * 1000;
	ecom_err err;

	assert_true(want <= MAX_READ);
	memset(r, 0, sizeof(*r));
	if (ecom_consumer_new_assign(&r->consumer, &f->cfg, f->topic[topic],
	                             RD_KAFKA_OFFSET_BEGINNING, &err) < 0)
		fail_msg("%s", err.msg);
	while (r->n < want && ecom_monotonic_us() < until) {
		size_t got = 0;

		if (ecom_consumer_poll_batch(r->consumer, r->msgs + r->n, want - r->n, 100, &got, NULL,
		                             &err) < 0)
			fail_msg("%s", err.msg);
		r->n += got;
	}
	return r->n;
}

static void
reading_free(reading *r)
{
	while (r->n > 0)
		rd_kafka_message_destroy(r->msgs[--r->n]);
	ecom_consumer_destroy(r->consumer);
}

/*
 * The orders reconcile created so far, `total` of them: the first
 * `known` of orders[] are those already read, the others are filled in
 * after them (partitions give no order among them).
 */
static void
read_orders(fixture *f, size_t total, ecom_event *orders, size_t known)
{
	reading r;
	ecom_err err;
	size_t i, j, next = known;

	assert_int_equal(read_topic(f, ECOM_EV_ORDERCREATED, total, &r), total);
	for (i = 0; i < total; i++) {
		ecom_event ev;

		if (ecom_event_from_json(r.msgs[i]->payload, r.msgs[i]->len, &ev, &err) < 0)
			fail_msg("%s", err.msg);
		for (j = 0; j < known && strcmp(orders[j].event_id, ev.event_id) != 0; j++)
			;
		if (j == known) {
			assert_true(next < total);
			if (ecom_event_from_bson(&ev.doc, &orders[next++], &err) < 0)
				fail_msg("%s", err.msg);
		}
		ecom_event_destroy(&ev);
	}
	assert_int_equal(next, total);
	reading_free(&r);
}

/*
 * Play the four stages for the next order reconcile creates, the
 * (k+1)th: wait for it, read it into orders[k], store it as the payment
 * stage would, and send its fulfilment.
 */
static void
fulfil_next_order(fixture *f, ecom_event *orders, size_t k)
{
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_ORDERCREATED) == (int64_t)k + 1));
	read_orders(f, k + 1, orders, k);
	memory_store_plant(f->store, &orders[k]);
	fulfil(f, &orders[k], 1);
}

static void
free_events(ecom_event *events, size_t n)
{
	while (n > 0)
		ecom_event_destroy(&events[--n]);
}

/* A header's value as a string, or "" when absent. */
static const char *
header(const rd_kafka_message_t *m, const char *name, char *buf, size_t size)
{
	rd_kafka_headers_t *hdrs = NULL;
	const void *value;
	size_t len;

	buf[0] = '\0';
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(hdrs, name, &value, &len) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    value != NULL)
		snprintf(buf, size, "%.*s", (int)len, (const char *)value);
	return buf;
}

static bool
key_is(const rd_kafka_message_t *m, const char *key)
{
	return m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0;
}

static bool
value_is(const rd_kafka_message_t *m, const char *value)
{
	return m->len == strlen(value) && memcmp(m->payload, value, m->len) == 0;
}

/* Where id is among n ids; fails the test when it is not there. */
static int
index_of(const order_id *ids, int n, const char *id)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return i;
	fail_msg("unexpected order '%s'", id);
	return -1;
}

/* ---- 1. a batch stored and forwarded ---- */

static void
payment_stores_a_batch_and_forwards_it_keyed_with_timing_headers(void **state)
{
	fixture *f = take(state, T_FORWARD);
	order_id ids[3];
	int64_t order_us = ecom_now_us() - 5000000, before, after;
	reading r;
	size_t i;
	int seen = 0;

	before = ecom_now_us();
	produce_orders(f, 3, ids, order_us);
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_PAYMENTCOMPLETED) == 3));
	assert_int_equal(stage_finish(f, true), 0);
	after = ecom_now_us();

	assert_int_equal(memory_store_count_of(f->store, ECOM_EV_ORDERCREATED), 3);
	for (i = 0; i < 3; i++) {
		bson_t doc;
		bool found;
		ecom_err err;

		assert_int_equal(ecom_store_get(f->store, ECOM_EV_ORDERCREATED, ids[i], &doc, &found,
		                                &err), 0);
		assert_true(found);
		bson_destroy(&doc);
	}
	assert_int_equal(f->stage.stats.consumed, 3);
	assert_int_equal(f->stage.stats.stored, 3);
	assert_int_equal(f->stage.stats.duplicates, 0);
	assert_int_equal(f->stage.stats.produced, 3);
	assert_int_equal(f->stage.stats.dead_letters, 0);

	assert_int_equal(read_topic(f, ECOM_EV_PAYMENTCOMPLETED, 3, &r), 3);
	for (i = 0; i < 3; i++) {
		const rd_kafka_message_t *m = r.msgs[i];
		ecom_event ev;
		ecom_err err;
		char buf[64];
		int64_t sent;

		assert_int_equal(ecom_event_from_json(m->payload, m->len, &ev, &err), 0);
		assert_int_equal(ev.type, ECOM_EV_PAYMENTCOMPLETED);
		assert_true(key_is(m, ev.event_id));
		seen |= 1 << index_of(ids, 3, ev.event_id);
		ecom_event_destroy(&ev);
		assert_int_equal(strtoll(header(m, ECOM_HDR_ORDER_START_US, buf, sizeof(buf)), NULL, 10),
		                 order_us);
		sent = strtoll(header(m, ECOM_HDR_SENT_US, buf, sizeof(buf)), NULL, 10);
		assert_in_range(sent, before, after);
	}
	reading_free(&r);
	assert_int_equal(seen, 7);
	assert_int_equal(group_lag(f, ECOM_STAGE_PAYMENT), 0);
}

/* ---- 2. offsets only after the acknowledgement ---- */

static void
offsets_are_stored_only_once_the_next_events_are_acknowledged(void **state)
{
	fixture *f = take(state, T_OFFSETS);
	order_id ids[2];

	/* No leader for paymentcompleted: the stage's produce waits. */
	set_leader(f, ECOM_EV_PAYMENTCOMPLETED, -1);
	produce_orders(f, 2, ids, ecom_now_us());
	/* The first batch (one order or both) stored, its next events not acknowledged. */
	assert_true(EVENTUALLY(memory_store_count_of(f->store, ECOM_EV_ORDERCREATED) >= 1));
	assert_int_equal(group_lag(f, ECOM_STAGE_PAYMENT), 2);
	ecom_sleep_ms(500); /* five auto-commit intervals */
	assert_int_equal(group_lag(f, ECOM_STAGE_PAYMENT), 2);

	set_leader(f, ECOM_EV_PAYMENTCOMPLETED, BROKER_ID);
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_PAYMENTCOMPLETED) == 2));
	/* Committed while the stage runs, not only when it stops. */
	assert_true(EVENTUALLY(group_lag(f, ECOM_STAGE_PAYMENT) == 0));
	assert_int_equal(stage_finish(f, true), 0);
	assert_int_equal(f->stage.stats.produced, 2);
}

static void
a_batch_whose_next_events_are_refused_is_not_committed_and_is_read_again(void **state)
{
	fixture *f = take(state, T_REFUSED_PRODUCE);
	order_id ids[2];
	char expected[512];
	int64_t first;

	set_leader(f, ECOM_EV_PAYMENTCOMPLETED, -1);
	produce_orders(f, 2, ids, ecom_now_us());
	assert_true(EVENTUALLY(memory_store_count_of(f->store, ECOM_EV_ORDERCREATED) >= 1));
	/* The stage's produce is held; the next Produce request, its, is refused for good. */
	rd_kafka_mock_push_request_errors(mock, API_PRODUCE, 1,
	                                  RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	set_leader(f, ECOM_EV_PAYMENTCOMPLETED, BROKER_ID);
	assert_int_equal(stage_finish(f, false), -1);
	snprintf(expected, sizeof(expected), "delivery to '%s' failed",
	         f->topic[ECOM_EV_PAYMENTCOMPLETED]);
	assert_contains(f->stage.err.msg, expected);
	/* A request per partition: those of other partitions may have gone through. */
	first = topic_size(f, ECOM_EV_PAYMENTCOMPLETED);
	assert_true(first < 2);
	/* The commit on the way out leaves the failed batch to be read again. */
	assert_int_equal(group_lag(f, ECOM_STAGE_PAYMENT), 2);
	ecom_stage_stats_free(&f->stage.stats);

	/* Started again: the batch comes back, is stored once, and goes on. */
	assert_int_equal(stage_start(f, ECOM_STAGE_PAYMENT, 0, 0, false), 0);
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_PAYMENTCOMPLETED) == first + 2));
	assert_int_equal(stage_finish(f, true), 0);
	assert_int_equal(f->stage.stats.duplicates + f->stage.stats.stored, 2);
	assert_int_equal(f->stage.stats.produced, 2);
	assert_int_equal(memory_store_count_of(f->store, ECOM_EV_ORDERCREATED), 2);
	assert_int_equal(memory_store_events_new(f->store, ECOM_EV_ORDERCREATED), 2);
	assert_int_equal(group_lag(f, ECOM_STAGE_PAYMENT), 0);
}

/* ---- 3. a store failure ---- */

static void
a_store_failure_is_retried_and_the_events_are_stored_once(void **state)
{
	fixture *f = take(state, T_STORE_RETRY);
	order_id ids[2];

	/*
	 * Three lost connections in a row while the server answers pings (a
	 * server restarting): the server's fault, not the data's, so retried
	 * and never dead-lettered.
	 */
	memory_store_fail(f->store, MEMORY_PUT_BATCH, 3);
	produce_orders(f, 2, ids, ecom_now_us());
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_PAYMENTCOMPLETED) == 2));
	assert_int_equal(stage_finish(f, true), 0);

	assert_said(f, "cannot store ordercreated events in 'memory:': connection lost (planted); "
	               "retrying for up to 10 s");
	assert_said(f, "store 'memory:': back after ");
	assert_int_equal(memory_store_failures(f->store, MEMORY_PUT_BATCH), 3);
	assert_int_equal(memory_store_events_new(f->store, ECOM_EV_ORDERCREATED), 2);
	assert_int_equal(memory_store_count_of(f->store, ECOM_EV_ORDERCREATED), 2);
	assert_int_equal(f->stage.stats.stored, 2);
	assert_int_equal(f->stage.stats.duplicates, 0);
	assert_int_equal(f->stage.stats.dead_letters, 0);
	assert_int_equal(f->stage.stats.produced, 2);
	assert_int_equal(group_lag(f, ECOM_STAGE_PAYMENT), 0);
}

static void
a_store_down_past_the_bound_fails_the_stage_with_the_reason(void **state)
{
	fixture *f = take(state, T_STORE_DOWN);
	order_id ids[2];

	memory_store_set_down(f->store, true);
	produce_orders(f, 2, ids, ecom_now_us());
	assert_int_equal(stage_finish(f, false), -1);
	assert_contains(f->stage.err.msg, "cannot store ordercreated events in 'memory:': server "
	                                  "down (planted) (gave up after ");
	assert_int_equal(topic_size(f, ECOM_EV_PAYMENTCOMPLETED), 0);
	assert_int_equal(group_lag(f, ECOM_STAGE_PAYMENT), 2);
}

/* ---- 4. dead letters ---- */

static void
dead_letters_case(fixture *f, memory_refusal how)
{
	ecom_event good[2], refused, order, wrong;
	reading r;
	char expected[300];
	size_t i, len;
	int seen = 0;
	char *json;

	new_order(&good[0]);
	new_order(&good[1]);
	new_order(&refused);
	new_order(&order);
	event_of(&order, ECOM_EV_PAYMENTCOMPLETED, &wrong);
	memory_store_refuse(f->store, refused.event_id, "planted refusal", how);

	send_event(f, &good[0], ecom_now_us());
	send_raw(f, ECOM_EV_ORDERCREATED, "k-not-json", "this is not JSON");
	/* A paymentcompleted produced to ordercreated by mistake. */
	json = ecom_event_to_json(&wrong, &len);
	send_raw(f, ECOM_EV_ORDERCREATED, wrong.event_id, json);
	bson_free(json);
	send_event(f, &refused, ecom_now_us());
	send_event(f, &good[1], ecom_now_us());
	flush(f);
	assert_true(EVENTUALLY(topic_size(f, DEAD_LETTERS) == 3 &&
	                       topic_size(f, ECOM_EV_PAYMENTCOMPLETED) == 2));
	assert_int_equal(stage_finish(f, true), 0);

	assert_int_equal(read_topic(f, DEAD_LETTERS, 3, &r), 3);
	for (i = 0; i < r.n; i++) {
		const rd_kafka_message_t *m = r.msgs[i];
		char reason[600], source[256];

		header(m, ECOM_HDR_DLQ_REASON, reason, sizeof(reason));
		assert_string_equal(header(m, ECOM_HDR_DLQ_TOPIC, source, sizeof(source)),
		                    f->topic[ECOM_EV_ORDERCREATED]);
		if (key_is(m, "k-not-json")) {
			assert_true(value_is(m, "this is not JSON"));
			assert_contains(reason, "not a JSON object");
			seen |= 1;
		} else if (key_is(m, wrong.event_id)) {
			assert_string_equal(reason,
			                    "event type 'paymentcompleted' does not belong on this topic");
			seen |= 2;
		} else if (key_is(m, refused.event_id)) {
			assert_string_equal(reason, "the store refused it: planted refusal");
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);
	reading_free(&r);

	assert_int_equal(read_topic(f, ECOM_EV_PAYMENTCOMPLETED, 2, &r), 2);
	assert_true((key_is(r.msgs[0], good[0].event_id) && key_is(r.msgs[1], good[1].event_id)) ||
	            (key_is(r.msgs[0], good[1].event_id) && key_is(r.msgs[1], good[0].event_id)));
	reading_free(&r);
	assert_int_equal(memory_store_count_of(f->store, ECOM_EV_ORDERCREATED), 2);
	assert_int_equal(f->stage.stats.consumed, 5);
	assert_int_equal(f->stage.stats.dead_letters, 3);
	assert_int_equal(f->stage.stats.rejected, 1);
	assert_int_equal(f->stage.stats.stored, 2);
	assert_int_equal(f->stage.stats.produced, 2);
	assert_int_equal(group_lag(f, ECOM_STAGE_PAYMENT), 0);
	snprintf(expected, sizeof(expected), "(sent to '%s')", f->topic[DEAD_LETTERS]);
	assert_said(f, expected);

	ecom_event_destroy(&good[0]);
	ecom_event_destroy(&good[1]);
	ecom_event_destroy(&refused);
	ecom_event_destroy(&order);
	ecom_event_destroy(&wrong);
}

static void
bad_messages_and_an_event_the_store_refuses_go_to_the_dead_letter_topic(void **state)
{
	dead_letters_case(take(state, T_DEAD_EVENT), MEMORY_REFUSE_EVENT);
}

static void
an_event_that_fails_its_whole_batch_is_split_out_to_the_dead_letter_topic(void **state)
{
	dead_letters_case(take(state, T_DEAD_BATCH), MEMORY_REFUSE_BATCH);
}

static void
an_event_a_server_drops_the_connection_over_is_split_out_to_the_dead_letter_topic(void **state)
{
	dead_letters_case(take(state, T_DEAD_DROP), MEMORY_REFUSE_DROP);
}

/* ---- 5 and 6. reconcile ---- */

/* Wait until the stage has finished the turn of its loop going on now. */
static void
wait_one_turn(fixture *f)
{
	int seen = progress_of(&f->stage);

	assert_true(EVENTUALLY(progress_of(&f->stage) > seen));
}

static void
reconcile_tops_up_the_window_and_a_repeated_fulfilment_starts_nothing(void **state)
{
	fixture *f = take(state, T_RECONCILE);
	ecom_event orders[4];

	/* Two in flight, no more. */
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_ORDERCREATED) == 2));
	wait_one_turn(f);
	assert_int_equal(topic_size(f, ECOM_EV_ORDERCREATED), 2);
	read_orders(f, 2, orders, 0);
	memory_store_plant(f->store, &orders[0]); /* as the payment stage would */
	memory_store_plant(f->store, &orders[1]);

	/* The same orderfulfilled twice in a row. */
	fulfil(f, &orders[0], 2);
	assert_true(EVENTUALLY(memory_store_events_given(f->store, ECOM_EV_ORDERFULFILLED) == 2));
	wait_one_turn(f);
	assert_int_equal(memory_store_fulfilled(f->store), 1);
	assert_true(memory_store_is_fulfilled(f->store, orders[0].event_id));
	assert_int_equal(topic_size(f, ECOM_EV_ORDERCREATED), 3);
	/* And once more, later, as a redelivery would bring it. */
	fulfil(f, &orders[0], 1);
	assert_true(EVENTUALLY(memory_store_events_given(f->store, ECOM_EV_ORDERFULFILLED) == 3));
	wait_one_turn(f);
	assert_int_equal(memory_store_fulfilled(f->store), 1);
	assert_int_equal(topic_size(f, ECOM_EV_ORDERCREATED), 3);

	read_orders(f, 3, orders, 2);
	memory_store_plant(f->store, &orders[2]);
	fulfil(f, &orders[1], 1);
	fulfil(f, &orders[2], 1);
	/* Topped up to the fourth order, and no further: orders is 4. */
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_ORDERCREATED) == 4));
	read_orders(f, 4, orders, 3);
	memory_store_plant(f->store, &orders[3]);
	fulfil(f, &orders[3], 1);
	assert_int_equal(stage_finish(f, false), 0);
	free_events(orders, 4);

	assert_int_equal(f->stage.stats.fulfilled, 4);
	assert_int_equal(f->stage.stats.issued, 4);
	assert_int_equal(f->stage.stats.stored, 4);
	assert_int_equal(f->stage.stats.duplicates, 2);
	assert_int_equal(topic_size(f, ECOM_EV_ORDERCREATED), 4);
	assert_int_equal(memory_store_fulfilled(f->store), 4);
	assert_int_equal(group_lag(f, ECOM_STAGE_RECONCILE), 0);
}

static void
count_check_after_every_order_passes_in_a_clean_run(void **state)
{
	fixture *f = take(state, T_COUNT_CLEAN);
	ecom_event orders[2];

	fulfil_next_order(f, orders, 0);
	fulfil_next_order(f, orders, 1);
	free_events(orders, 2);
	assert_int_equal(stage_finish(f, false), 0);
	assert_int_equal(f->stage.stats.fulfilled, 2);
	/* The resume's count of fulfilled orders, then both counts after each order. */
	assert_int_equal(memory_store_calls(f->store, MEMORY_COUNT), 1 + 2 * 2);
}

static void
a_planted_extra_order_stops_reconcile_with_a_count_mismatch(void **state)
{
	fixture *f = take(state, T_COUNT_MISMATCH);
	ecom_event orders[1], extra;

	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_ORDERCREATED) == 1));
	read_orders(f, 1, orders, 0);
	memory_store_plant(f->store, &orders[0]);
	new_order(&extra); /* an order no one created through the flow */
	memory_store_plant(f->store, &extra);
	ecom_event_destroy(&extra);
	fulfil(f, &orders[0], 1);
	free_events(orders, 1);
	assert_int_equal(stage_finish(f, false), -1);
	assert_contains(f->stage.err.msg, "count mismatch: 2 orders created, 1 fulfilled");
	assert_int_equal(topic_size(f, ECOM_EV_ORDERCREATED), 1);
}

static void
the_driver_is_called_between_orders_and_its_time_is_not_the_runs(void **state)
{
	fixture *f = take(state, T_BETWEEN_ORDERS);
	ecom_event orders[3];
	ecom_run_timing timing;
	int64_t most_us, least_us, run_us;
	size_t i;

	for (i = 0; i < 3; i++)
		fulfil_next_order(f, orders, i);
	free_events(orders, 3);
	assert_int_equal(stage_finish(f, false), 0);
	/*
	 * The run as the test saw it, less the hook's time: it began once the
	 * stage had its partitions, and ended after its last turn and before
	 * the thread did.
	 */
	most_us = ecom_monotonic_us() - f->stage.ready_mono_us - f->between_us;
	least_us = f->stage.progress_mono_us - f->stage.ready_mono_us - f->between_us;
	/* After the first and second orders, with the next one not yet created; not after the last. */
	assert_int_equal(f->between_calls, 2);
	assert_int_equal(f->between_fulfilled[0], 1);
	assert_int_equal(f->between_created[0], 1);
	assert_int_equal(f->between_fulfilled[1], 2);
	assert_int_equal(f->between_created[1], 2);
	assert_true(f->stage.stats.paused_us >= 2 * BETWEEN_MS * 1000);
	/* Nor is it in the latencies of the fulfilments that came before it. */
	assert_int_equal(f->stage.stats.end_to_end.count, 3);
	if (ecom_latency_max(&f->stage.stats.hop) >= BETWEEN_MS * 1000)
		fail_msg("a reconcile hop took %" PRId64 " us: the pause was counted in it",
		         ecom_latency_max(&f->stage.stats.hop));
	/* The run's time, by its report, is that (to the clock reads around the hook's calls). */
	assert_true(f->between_us >= 2 * BETWEEN_MS * 1000);
	ecom_run_timing_of(&timing, &f->stage.stats, 3);
	run_us = (int64_t)llround(timing.elapsed_s * 1e6);
	if (run_us > most_us + 1 || run_us < least_us - RUN_SLACK_US)
		fail_msg("the run took %.6f s by its report; the test saw %.6f to %.6f s",
		         (double)run_us / 1e6, (double)least_us / 1e6, (double)most_us / 1e6);
}

static void
a_failing_driver_between_orders_stops_reconcile_with_its_reason(void **state)
{
	fixture *f = take(state, T_BETWEEN_FAILS);
	ecom_event orders[1];

	fulfil_next_order(f, orders, 0);
	free_events(orders, 1);
	assert_int_equal(stage_finish(f, false), -1);
	assert_contains(f->stage.err.msg, "floor: the chain's store went away");
	/* No next order went out. */
	assert_int_equal(topic_size(f, ECOM_EV_ORDERCREATED), 1);
}

/* ---- 7. a broker outage ---- */

static void
a_broker_outage_past_the_bound_fails_the_stage_with_the_reason(void **state)
{
	fixture *f = take(state, T_OUTAGE_PAST_BOUND);

	rd_kafka_mock_broker_set_down(mock, BROKER_ID);
	assert_int_equal(stage_finish(f, false), -1);
	rd_kafka_mock_broker_set_up(mock, BROKER_ID);
	assert_contains(f->stage.err.msg, "kafka: all brokers are down");
	assert_contains(f->stage.err.msg, "(gave up after ");
	assert_said(f, "kafka: all brokers are down");
	assert_said(f, "retrying for up to 1 s");
}

static void
a_broker_outage_is_ridden_out(void **state)
{
	fixture *f = take(state, T_OUTAGE);
	order_id ids[2];

	produce_orders(f, 1, ids, ecom_now_us());
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_PAYMENTCOMPLETED) == 1));
	rd_kafka_mock_broker_set_down(mock, BROKER_ID);
	ecom_sleep_ms(2000);
	rd_kafka_mock_broker_set_up(mock, BROKER_ID);
	produce_orders(f, 1, ids + 1, ecom_now_us());
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_PAYMENTCOMPLETED) == 2));
	assert_int_equal(stage_finish(f, true), 0);

	assert_said(f, "kafka: all brokers are down");
	assert_said(f, "retrying for up to 10 s");
	assert_said(f, "kafka: back after ");
	assert_int_equal(f->stage.stats.stored, 2);
	assert_int_equal(f->stage.stats.produced, 2);
	assert_int_equal(group_lag(f, ECOM_STAGE_PAYMENT), 0);
}

/* ---- ecom-consume -e: ecom_consumer_read_to_end ---- */

static void
produce_to_partition(fixture *f, const char *topic, int32_t partition, const char *value)
{
	rd_kafka_resp_err_t code;

	code = rd_kafka_producev(ecom_producer_handle(f->producer), RD_KAFKA_V_TOPIC(topic),
	                         RD_KAFKA_V_PARTITION(partition),
	                         RD_KAFKA_V_VALUE((void *)value, strlen(value)),
	                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	assert_int_equal(code, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void
read_to_end_stops_at_the_end_as_of_the_call(void **state)
{
	fixture *f = take(state, T_READ_TO_END);
	const char *topic = f->topic[ECOM_EV_ORDERSHIPPED];
	static const char *const before[] = {"a1", "a2", "a3", "b1", "b2", "b3"};
	rd_kafka_message_t *msgs[MAX_READ];
	int64_t until = ecom_monotonic_us() + (int64_t)WAIT_MS * 1000;
	ecom_consumer *c;
	ecom_err err;
	size_t n = 0, i;
	bool eof = false;
	int seen = 0, k;

	/* Partitions 0 and 1 hold three messages each, 2 and 3 none. */
	for (k = 0; k < 6; k++)
		produce_to_partition(f, topic, k / 3, before[k]);
	flush(f);
	if (ecom_consumer_new_assign(&c, &f->cfg, topic, RD_KAFKA_OFFSET_BEGINNING, &err) < 0 ||
	    ecom_consumer_read_to_end(c, topic, &err) < 0)
		fail_msg("%s", err.msg);
	/*
	 * Produced after the call: not to be read.  All are there before the
	 * first fetch, so one partition's late message comes before the other
	 * partition's end: only the end as of the call keeps it out.
	 */
	produce_to_partition(f, topic, 0, "a4");
	produce_to_partition(f, topic, 1, "b4");
	produce_to_partition(f, topic, 2, "c1");
	flush(f);
	while (!eof && ecom_monotonic_us() < until) {
		size_t got = 0;

		if (ecom_consumer_poll_batch(c, msgs + n, MAX_READ - n, 100, &got, &eof, &err) < 0)
			fail_msg("%s", err.msg);
		n += got;
	}
	assert_true(eof);
	for (i = 0; i < n; i++) {
		for (k = 0; k < 6 && !value_is(msgs[i], before[k]); k++)
			;
		if (k == 6)
			fail_msg("read '%.*s', produced after the end", (int)msgs[i]->len,
			         (const char *)msgs[i]->payload);
		seen |= 1 << k;
	}
	assert_int_equal(n, 6);
	assert_int_equal(seen, 0x3f);
	while (n > 0)
		rd_kafka_message_destroy(msgs[--n]);
	ecom_consumer_destroy(c);
}

static void
read_to_end_of_an_empty_topic_ends_at_once(void **state)
{
	fixture *f = take(state, T_READ_EMPTY);
	const char *topic = f->topic[ECOM_EV_ORDERSHIPPED];
	rd_kafka_message_t *msgs[1];
	ecom_consumer *c;
	ecom_err err;
	size_t n = 1;
	bool eof = false;

	if (ecom_consumer_new_assign(&c, &f->cfg, topic, RD_KAFKA_OFFSET_BEGINNING, &err) < 0 ||
	    ecom_consumer_read_to_end(c, topic, &err) < 0)
		fail_msg("%s", err.msg);
	/* At once: without waiting for a fetch. */
	assert_int_equal(ecom_consumer_poll_batch(c, msgs, 1, 0, &n, &eof, &err), 0);
	assert_int_equal(n, 0);
	assert_true(eof);
	ecom_consumer_destroy(c);
}

/* ---- a partition between leaders ---- */

/*
 * A topic a reset has just created, or a partition whose leader was on a
 * lost broker, answers "Not leader for partition" for a moment: its size
 * is asked again, not given up on (a restarted reconcile died of it).
 */
static void
the_size_of_a_topic_between_leaders_is_asked_again(void **state)
{
	fixture *f = take(state, T_LEADERLESS_SIZE);
	const char *topic = f->topic[ECOM_EV_ORDERSHIPPED];
	ecom_err err;
	int64_t size = -1;
	int k;

	for (k = 0; k < 3; k++)
		produce_to_partition(f, topic, k, "x");
	flush(f);
	rd_kafka_mock_push_request_errors(mock, API_LIST_OFFSETS, 3,
	                                  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	                                  RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
	                                  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
	if (ecom_kafka_topic_size(ecom_producer_handle(f->producer), topic, WAIT_MS, &size, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(size, 3);
}

/* test-stage [PATTERN]: only the tests whose names match (cmocka's filter). */
int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(payment_stores_a_batch_and_forwards_it_keyed_with_timing_headers,
		                          teardown),
		cmocka_unit_test_teardown(offsets_are_stored_only_once_the_next_events_are_acknowledged,
		                          teardown),
		cmocka_unit_test_teardown(
		    a_batch_whose_next_events_are_refused_is_not_committed_and_is_read_again, teardown),
		cmocka_unit_test_teardown(a_store_failure_is_retried_and_the_events_are_stored_once,
		                          teardown),
		cmocka_unit_test_teardown(a_store_down_past_the_bound_fails_the_stage_with_the_reason,
		                          teardown),
		cmocka_unit_test_teardown(
		    bad_messages_and_an_event_the_store_refuses_go_to_the_dead_letter_topic, teardown),
		cmocka_unit_test_teardown(
		    an_event_that_fails_its_whole_batch_is_split_out_to_the_dead_letter_topic, teardown),
		cmocka_unit_test_teardown(
		    an_event_a_server_drops_the_connection_over_is_split_out_to_the_dead_letter_topic,
		    teardown),
		cmocka_unit_test_teardown(
		    reconcile_tops_up_the_window_and_a_repeated_fulfilment_starts_nothing, teardown),
		cmocka_unit_test_teardown(count_check_after_every_order_passes_in_a_clean_run, teardown),
		cmocka_unit_test_teardown(a_planted_extra_order_stops_reconcile_with_a_count_mismatch,
		                          teardown),
		cmocka_unit_test_teardown(the_driver_is_called_between_orders_and_its_time_is_not_the_runs,
		                          teardown),
		cmocka_unit_test_teardown(a_failing_driver_between_orders_stops_reconcile_with_its_reason,
		                          teardown),
		cmocka_unit_test_teardown(read_to_end_stops_at_the_end_as_of_the_call, teardown),
		cmocka_unit_test_teardown(read_to_end_of_an_empty_topic_ends_at_once, teardown),
		cmocka_unit_test_teardown(the_size_of_a_topic_between_leaders_is_asked_again, teardown),
		cmocka_unit_test_teardown(a_broker_outage_past_the_bound_fails_the_stage_with_the_reason,
		                          teardown),
		cmocka_unit_test_teardown(a_broker_outage_is_ridden_out, teardown),
	};

	ecom_log_init("test-stage");
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
