/*
 * Unit tests of the open loop (issue 19): the schedule alone, then the
 * reconcile stage in open loop on librdkafka's mock cluster with the
 * in-memory store of memory-store.c, against a closed loop where it
 * tells them apart.
 *
 * The test plays the four middle stages in a thread of its own (the
 * player): it reads every order reconcile creates, stores it as payment
 * would, and sends its orderfulfilled with the order's intended start
 * copied over, noting when it did.  That log is the tests' own clock:
 * the stage's figures are checked against it and against the delays
 * the store is made to take, never against each other.
 *
 * As in test-stage.c, the stages of all the tests start together
 * before the first test (the mock's first group member waits 3 s); each
 * waits for its test's go (ecom_drive_hooks.may_start) before it
 * creates an order, so each run begins with its test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecom_kafka.h"
#include "ecom_reconcile.h"
#include "ecom_stage.h"
#include "ecom_store.h"
#include "ecom_time.h"
#include "memory-store.h"
#include "stage-fixture.h"

/* What any one step may take before the test fails instead of hanging. */
#define WAIT_MS 15000
/* The rate of every open loop here, and its gap. */
#define RATE 200
#define GAP_US (1000000 / RATE)
/* The most orders a test runs. */
#define MAX_ORDERS 512
/* A latency the flow never takes on the mock unless something holds it up. */
#define SLOW_US 100000
/* The stall of the stall tests. */
#define STALL_MS 1000

/* Poll cond every 10 ms for up to WAIT_MS; true once it holds. */
#define EVENTUALLY(cond) EVENTUALLY_WITHIN(WAIT_MS, cond)

/* ---- the tests that run a stage ---- */

enum test_id { T_SLOW_STORE, T_STALL_OPEN, T_STALL_CLOSED, T_WARMUP, T_SATURATION, T_COUNT };

typedef struct plan {
	long orders;
	int window;  /* closed loop */
	double rate; /* open loop; 0: closed */
	double warmup_s;
	int64_t backlog_max;
} plan;

static const plan plans[T_COUNT] = {
	/* The window is unused in an open loop: were it a closed one, 8 in flight would show. */
	[T_SLOW_STORE] = {.orders = 2 * RATE, .rate = RATE, .window = 8},
	[T_STALL_OPEN] = {.orders = 2 * RATE, .rate = RATE},
	[T_STALL_CLOSED] = {.orders = 100, .window = 1},
	[T_WARMUP] = {.orders = 2 * RATE, .rate = RATE, .warmup_s = 0.5},
	[T_SATURATION] = {.orders = 2 * RATE, .rate = RATE, .backlog_max = 20},
};

/* One order as the player saw it. */
typedef struct fulfilment {
	int64_t order_us;     /* its intended start: ordercreated's ECOM_HDR_ORDER_START_US */
	int64_t created_us;   /* when reconcile produced it: its ECOM_HDR_SENT_US */
	/* Wall clock, just before its orderfulfilled was sent: no stage could have read it before. */
	int64_t fulfilled_us;
} fulfilment;

struct fixture;

/* The four middle stages, played by the test in a thread. */
typedef struct player {
	pthread_t tid;
	bool running;
	struct fixture *f;
	ecom_producer *producer;
	ecom_consumer *consumer;
	ecom_stop_flag stop;
	atomic_int hold; /* read nothing, fulfil nothing, while set */
	atomic_llong done;
	fulfilment log[MAX_ORDERS];
	char failure[sizeof(((ecom_err *)0)->msg)];
} player;

typedef struct fixture {
	char name[16]; /* "t2": the topic prefix "t2-", the stage's log context */
	ecom_config cfg;
	ecom_store *store;
	ecom_producer *producer; /* the test's own: topic sizes */
	char topic[ECOM_EV_COUNT][256];
	/* The stage. */
	pthread_t tid;
	bool running;
	ecom_stage_opts opts;
	ecom_reconcile_opts terminal;
	ecom_drive_hooks drive;
	ecom_stage_stats stats;
	ecom_err err;
	ecom_stop_flag stop;
	atomic_int ready, go;
	int rc;
	player play;
	long said_from; /* where the test's part of the captured stderr begins */
} fixture;

static rd_kafka_t *mock_host;
static rd_kafka_mock_cluster_t *mock;
static fixture *fixtures[T_COUNT];

/* The test's stage has said a line with `fragment` in it since the test began. */
static bool
said(fixture *f, const char *fragment)
{
	return capture_said(f->name, f->said_from, fragment);
}

/* ---- the stage in a thread ---- */

static void *
stage_main(void *arg)
{
	fixture *f = arg;

	ecom_log_set_context(f->name);
	f->rc = ecom_stage_run(&f->cfg, &f->opts, &f->stats, &f->err);
	return NULL;
}

static void
on_ready(void *arg)
{
	atomic_store(&((fixture *)arg)->ready, 1);
}

/* The driver's may_start: the run begins with its test. */
static bool
may_start(void *arg)
{
	return atomic_load(&((fixture *)arg)->go) != 0;
}

static int
stage_start(fixture *f, const plan *p)
{
	ecom_stage_stats_init(&f->stats);
	f->opts.kind = ECOM_STAGE_RECONCILE;
	f->opts.stop = &f->stop;
	f->opts.on_ready = on_ready;
	f->opts.ready_arg = f;
	f->opts.store = f->store;
	f->terminal.orders = p->orders;
	f->terminal.window = p->window;
	f->terminal.open.rate = p->rate;
	f->terminal.open.arrivals = ECOM_ARRIVALS_CONSTANT;
	f->terminal.open.warmup_s = p->warmup_s;
	f->terminal.open.backlog_max = p->backlog_max;
	f->drive.may_start = may_start;
	f->drive.arg = f;
	f->terminal.drive = &f->drive;
	f->opts.terminal = &f->terminal;
	if (pthread_create(&f->tid, NULL, stage_main, f) != 0)
		return -1;
	f->running = true;
	return 0;
}

/* Wait for the stage to end by itself: its return code; still running after WAIT_MS fails. */
static int
stage_finish(fixture *f)
{
	struct timespec deadline;
	int joined;

	assert_true(f->running);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_MS / 1000;
	joined = pthread_timedjoin_np(f->tid, NULL, &deadline);
	if (joined != 0) {
		f->stop = 1;
		pthread_join(f->tid, NULL);
	}
	f->running = false;
	if (joined != 0)
		fail_msg("the %s stage did not end within %d ms", f->name, WAIT_MS);
	return f->rc;
}

/* ---- the player ---- */

/* order's orderfulfilled, as the four middle stages make it. */
static int
fulfilment_of(const ecom_event *order, ecom_event *out, ecom_err *err)
{
	ecom_event steps[2];
	const ecom_event *prev = order;
	int k, rc = 0;

	for (k = 0; k < 4 && rc == 0; k++) {
		rc = ecom_event_next(prev, &steps[k % 2], ecom_now_us() / 1000, err);
		if (prev != order)
			ecom_event_destroy((ecom_event *)prev);
		prev = rc == 0 ? &steps[k % 2] : NULL;
	}
	if (rc < 0)
		return -1;
	rc = ecom_event_from_bson(&prev->doc, out, err);
	ecom_event_destroy((ecom_event *)prev);
	return rc;
}

/* One order: stored as payment would, its fulfilment queued with its start copied over. */
static int
play_one(player *pl, const rd_kafka_message_t *m, fulfilment *log, ecom_err *err)
{
	ecom_event order, done;
	size_t len;
	char *json;
	int rc;

	if (ecom_event_from_json(m->payload, m->len, &order, err) < 0)
		return -1;
	log->order_us = ecom_message_header_int(m, ECOM_HDR_ORDER_START_US);
	log->created_us = ecom_message_header_int(m, ECOM_HDR_SENT_US);
	memory_store_plant(pl->f->store, &order);
	log->fulfilled_us = ecom_now_us();
	rc = fulfilment_of(&order, &done, err);
	ecom_event_destroy(&order);
	if (rc < 0)
		return -1;
	json = ecom_event_to_json(&done, &len);
	rc = json == NULL ? ecom_err_set(err, "cannot serialise '%s'", done.event_id)
	                  : ecom_producer_send_event(pl->producer,
	                                             pl->f->topic[ECOM_EV_ORDERFULFILLED],
	                                             done.event_id, json, len, log->order_us, err);
	bson_free(json);
	ecom_event_destroy(&done);
	return rc;
}

static void *
player_main(void *arg)
{
	player *pl = arg;
	rd_kafka_message_t *msgs[64];
	ecom_err err;

	while (!pl->stop) {
		size_t n = 0, i;
		int64_t done = atomic_load(&pl->done);
		int rc = 0;

		if (atomic_load(&pl->hold)) {
			ecom_sleep_ms(2);
			continue;
		}
		if (ecom_consumer_poll_batch(pl->consumer, msgs, 64, 10, &n, NULL, &err) < 0)
			goto fail;
		for (i = 0; i < n; i++) {
			if (rc == 0 && done + (int64_t)i >= MAX_ORDERS)
				rc = ecom_err_set(&err, "more than %d orders", MAX_ORDERS);
			if (rc == 0)
				rc = play_one(pl, msgs[i], &pl->log[done + (int64_t)i], &err);
			rd_kafka_message_destroy(msgs[i]);
		}
		if (rc < 0 || (n > 0 && ecom_producer_flush(pl->producer, &err) < 0))
			goto fail;
		atomic_store(&pl->done, done + (int64_t)n);
	}
	return NULL;
fail:
	snprintf(pl->failure, sizeof(pl->failure), "%s", err.msg);
	return NULL;
}

static void
player_start(fixture *f)
{
	player *pl = &f->play;
	ecom_err err;

	pl->f = f;
	if (ecom_producer_new(&pl->producer, &f->cfg, &err) < 0 ||
	    ecom_producer_warm(pl->producer, f->topic[ECOM_EV_ORDERFULFILLED], &err) < 0 ||
	    ecom_consumer_new_assign(&pl->consumer, &f->cfg, f->topic[ECOM_EV_ORDERCREATED],
	                             RD_KAFKA_OFFSET_BEGINNING, &err) < 0)
		fail_msg("%s", err.msg);
	ecom_producer_set_stop(pl->producer, &pl->stop);
	ecom_consumer_set_stop(pl->consumer, &pl->stop);
	assert_int_equal(pthread_create(&pl->tid, NULL, player_main, pl), 0);
	pl->running = true;
}

static void
player_stop(player *pl)
{
	if (!pl->running)
		return;
	pl->stop = 1;
	pthread_join(pl->tid, NULL);
	pl->running = false;
	ecom_consumer_destroy(pl->consumer);
	ecom_producer_destroy(pl->producer);
	pl->consumer = NULL;
	pl->producer = NULL;
}

static int64_t
played(fixture *f)
{
	return atomic_load(&f->play.done);
}

/* The player, then the run: the player is reading before the first order. */
static void
go(fixture *f)
{
	player_start(f);
	atomic_store(&f->go, 1);
}

/* The run is over: the player stops, having failed at nothing. */
static void
player_done(fixture *f)
{
	player_stop(&f->play);
	if (f->play.failure[0] != '\0')
		fail_msg("the test's middle stages failed: %s", f->play.failure);
}

/* ---- fixtures ---- */

static void
fixture_free(fixture *f)
{
	if (f == NULL)
		return;
	player_stop(&f->play);
	if (f->running) {
		f->stop = 1;
		pthread_join(f->tid, NULL);
	}
	ecom_stage_stats_free(&f->stats);
	ecom_producer_destroy(f->producer);
	if (f->store != NULL)
		ecom_store_close(f->store);
	ecom_config_free(&f->cfg);
	free(f);
}

static fixture *
fixture_new(enum test_id id)
{
	fixture *f = calloc(1, sizeof(*f));
	char prefix[32], dead_letters[256];
	ecom_err err;
	int t;

	if (f == NULL)
		return NULL;
	ecom_config_init(&f->cfg);
	snprintf(f->name, sizeof(f->name), "t%d", (int)id + 2);
	snprintf(prefix, sizeof(prefix), "%s-", f->name);
	if (ecom_config_set(&f->cfg, "brokers", rd_kafka_mock_cluster_bootstraps(mock), &err) < 0 ||
	    ecom_config_set(&f->cfg, "topic_prefix", prefix, &err) < 0 ||
	    ecom_config_set_kafka(&f->cfg, "auto.commit.interval.ms=100", &err) < 0 ||
	    /* The mock answers an empty fetch only after the whole wait, however
	     * soon messages come: a hop would take up to the wait. */
	    ecom_config_set_kafka(&f->cfg, "fetch.wait.max.ms=5", &err) < 0)
		goto fail;
	f->cfg.timeout_ms = 5000;
	f->cfg.stall_warn_ms = 600000;
	f->store = memory_store_new(&f->cfg);
	if (ecom_producer_new(&f->producer, &f->cfg, &err) < 0)
		goto fail;
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		ecom_config_topic(&f->cfg, ecom_event_type_name((ecom_event_type)t), f->topic[t],
		                  sizeof(f->topic[t]));
		/* Asking where a topic's partitions lead makes the mock create it. */
		if (ecom_producer_warm(f->producer, f->topic[t], &err) < 0)
			goto fail;
	}
	/* The stage creates the dead-letter topic unless it is there: the mock finds no controller. */
	ecom_config_topic(&f->cfg, f->cfg.dead_letter_topic, dead_letters, sizeof(dead_letters));
	if (ecom_producer_warm(f->producer, dead_letters, &err) < 0)
		goto fail;
	if (stage_start(f, &plans[id]) < 0) {
		ecom_err_set(&err, "cannot start a thread");
		goto fail;
	}
	return f;
fail:
	fprintf(stderr, "test-open-loop: %s: %s\n", f->name, err.msg);
	fixture_free(f);
	return NULL;
}

static int
group_setup(void **state)
{
	int id;

	(void)state;
	capture_stderr();
	if ((mock = mock_cluster_new(&mock_host)) == NULL)
		return -1;
	for (id = 0; id < T_COUNT; id++)
		if ((fixtures[id] = fixture_new((enum test_id)id)) == NULL)
			return -1;
	for (id = 0; id < T_COUNT; id++) {
		if (!EVENTUALLY(atomic_load(&fixtures[id]->ready))) {
			fprintf(stderr, "test-open-loop: the %s stage got no partitions%s%s\n",
			        fixtures[id]->name, fixtures[id]->err.msg[0] ? ": " : "",
			        fixtures[id]->err.msg);
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
	fixture_free(*state);
	capture_copy_to_log();
	return 0;
}

/* Messages ever produced to a topic. */
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

/* ---- reading a histogram ---- */

typedef struct above {
	int64_t bound_us;
	uint64_t count;
} above;

static int
count_above(int64_t value_us, uint64_t count, uint64_t cumulative, void *arg)
{
	above *a = arg;

	(void)cumulative;
	if (value_us > a->bound_us)
		a->count += count;
	return 0;
}

/* Values of lat above bound_us, from its buckets (to the histogram's precision). */
static uint64_t
latencies_above(const ecom_latency *lat, int64_t bound_us)
{
	above a = {.bound_us = bound_us};

	ecom_latency_for_each_bucket(lat, count_above, &a);
	return a.count;
}

static int
compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The player's log of field `member` for its n orders, sorted, into out. */
#define SORTED(f, member, out, n)                                                            \
	do {                                                                                     \
		int64_t i_;                                                                          \
		for (i_ = 0; i_ < (n); i_++)                                                         \
			(out)[i_] = (f)->play.log[i_].member;                                            \
		qsort((out), (size_t)(n), sizeof(int64_t), compare_int64);                           \
	} while (0)

/* ---- 1. the schedule ---- */

/* Arrivals at rate R from the index: exactly i/R s (to the µs below), no rounding piling up. */
static void
constant_arrivals_are_exactly_one_over_the_rate_apart(void **state)
{
	static const double rates[] = {RATE, 3, 0.5, 1e6};
	ecom_schedule s;
	size_t r;
	int64_t i;

	(void)state;
	for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		ecom_schedule_init(&s, ECOM_ARRIVALS_CONSTANT, rates[r], 1);
		for (i = 0; i < 1000000; i++) {
			double exact = (double)i * 1e6 / rates[r];
			int64_t got = ecom_schedule_next_us(&s);

			if ((double)got > exact || (double)got <= exact - 1.0)
				fail_msg("arrival %" PRId64 " at %g/s: %" PRId64 " us, not %.1f", i, rates[r],
				         got, exact);
		}
	}
	ecom_schedule_init(&s, ECOM_ARRIVALS_CONSTANT, RATE, 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(ecom_schedule_next_us(&s), i * GAP_US);
	ecom_schedule_init(&s, ECOM_ARRIVALS_CONSTANT, 0.5, 1);
	assert_int_equal(ecom_schedule_next_us(&s), 0);
	assert_int_equal(ecom_schedule_next_us(&s), 2000000);
	assert_int_equal(ecom_schedule_next_us(&s), 4000000);
}

#define DRAWS 100000

/* DRAWS poisson arrivals at rate from seed into out; fails unless non-decreasing. */
static void
poisson_draws(double rate, uint64_t seed, int64_t *out)
{
	ecom_schedule s;
	int64_t i;

	ecom_schedule_init(&s, ECOM_ARRIVALS_POISSON, rate, seed);
	for (i = 0; i < DRAWS; i++) {
		out[i] = ecom_schedule_next_us(&s);
		if (out[i] < 0 || (i > 0 && out[i] < out[i - 1]))
			fail_msg("at %g/s arrival %" PRId64 " (%" PRId64 " us) is before the one before",
			         rate, i, out[i]);
	}
}

static void
poisson_arrivals_have_the_rates_mean_gap_and_repeat_for_a_seed(void **state)
{
	static const double rates[] = {RATE, 0.5, 1e6};
	int64_t *a = calloc(DRAWS, sizeof(*a)), *b = calloc(DRAWS, sizeof(*b));
	size_t r;
	int64_t i, same = 0;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		double mean_gap_us, want_us = 1e6 / rates[r], sum2 = 0, cv;

		poisson_draws(rates[r], 42, a);
		/* The first arrival is one gap after the start, as every other is after the one before. */
		mean_gap_us = (double)a[DRAWS - 1] / DRAWS;
		if (fabs(mean_gap_us / want_us - 1) > 0.03)
			fail_msg("at %g/s the mean gap is %.3f us, not %.3f within 3%%", rates[r],
			         mean_gap_us, want_us);
		/* Exponential gaps: their spread is their mean (a constant schedule's is 0). */
		for (i = 1; i < DRAWS; i++) {
			double d = (double)(a[i] - a[i - 1]) - mean_gap_us;

			sum2 += d * d;
		}
		cv = sqrt(sum2 / (DRAWS - 2)) / mean_gap_us;
		if (rates[r] < 1e5 && fabs(cv - 1) > 0.05)
			fail_msg("at %g/s the gaps' spread is %.3f of their mean, not 1", rates[r], cv);

		poisson_draws(rates[r], 42, b);
		assert_memory_equal(a, b, DRAWS * sizeof(*a));
	}
	poisson_draws(RATE, 42, a);
	poisson_draws(RATE, 43, b);
	for (i = 0; i < DRAWS; i++)
		same += a[i] == b[i];
	if (same > DRAWS / 100)
		fail_msg("seeds 42 and 43 give %" PRId64 " arrivals alike of %d", same, DRAWS);
	free(a);
	free(b);
}

/* ---- 2. the schedule keeps its rate while the store is slow ---- */

static void
the_schedule_keeps_its_rate_while_the_store_is_slow(void **state)
{
	fixture *f = take(state, T_SLOW_STORE);
	const long n = plans[T_SLOW_STORE].orders;
	int64_t starts[MAX_ORDERS], created[MAX_ORDERS], start_us;
	double t;
	long i;

	/* Every store call of reconcile takes 40 ms: one turn of its loop at least 80. */
	memory_store_delay(f->store, MEMORY_PUT_BATCH, 40);
	memory_store_delay(f->store, MEMORY_MARK_FULFILLED, 40);
	go(f);
	assert_int_equal(stage_finish(f), 0);
	player_done(f);
	assert_int_equal(played(f), n);
	assert_int_equal(topic_size(f, ECOM_EV_ORDERCREATED), n);
	assert_int_equal(f->stats.fulfilled, n);
	assert_int_equal(f->stats.issued, n);
	assert_true(memory_store_calls(f->store, MEMORY_PUT_BATCH) > 1);

	/* Meant to start 5 ms apart, exactly, from the run's start. */
	SORTED(f, order_us, starts, n);
	start_us = f->stats.started_us;
	assert_int_equal(starts[0], start_us);
	for (i = 1; i < n; i++)
		if (starts[i] - starts[i - 1] != GAP_US)
			fail_msg("orders %ld and %ld meant to start %" PRId64 " us apart", i - 1, i,
			         starts[i] - starts[i - 1]);
	/* And created then: by t, RATE·t of them within 5%. */
	SORTED(f, created_us, created, n);
	for (t = 0.5; t <= 2.0; t += 0.25) {
		long by_t = 0;

		while (by_t < n && created[by_t] - start_us <= (int64_t)(t * 1e6))
			by_t++;
		if (fabs((double)by_t - RATE * t) > 0.05 * RATE * t)
			fail_msg("%ld orders created by %.2f s, not %.0f within 5%%", by_t, t, RATE * t);
	}
}

/* ---- 3. a stall counts for every order it delays ---- */

/*
 * The store's stall as the test saw it: every order whose fulfilment was
 * sent while the stage was held in the stall is done after it ends, so
 * took at least that long.  Those at least SLOW_US, and the longest.
 */
static int64_t
held_up_by_the_stall(fixture *f, int64_t *longest_us)
{
	int64_t began, ended, n = played(f), i, slow = 0;

	assert_true(memory_store_stalled(f->store, MEMORY_PUT_BATCH, &began, &ended));
	assert_true(ended - began >= STALL_MS * 1000);
	*longest_us = 0;
	for (i = 0; i < n; i++) {
		const fulfilment *o = &f->play.log[i];
		int64_t at_least = ended - o->order_us;

		if (o->fulfilled_us <= began || o->fulfilled_us > ended)
			continue;
		slow += at_least > SLOW_US;
		if (at_least > *longest_us)
			*longest_us = at_least;
	}
	return slow;
}

static void
a_stall_in_an_open_loop_delays_every_order_behind_it(void **state)
{
	fixture *f = take(state, T_STALL_OPEN);
	const long n = plans[T_STALL_OPEN].orders;
	const ecom_latency *e2e = &f->stats.end_to_end;
	int64_t held, longest, max_us;
	uint64_t slow;

	go(f);
	/* A quarter of the way in, the next write of a fulfilment stalls for 1 s. */
	assert_true(EVENTUALLY(played(f) >= n / 4));
	memory_store_stall(f->store, MEMORY_PUT_BATCH, STALL_MS);
	assert_int_equal(stage_finish(f), 0);
	player_done(f);
	assert_int_equal(f->stats.fulfilled, n);
	assert_int_equal(f->stats.issued, n);
	assert_true(f->stats.sustainable);

	held = held_up_by_the_stall(f, &longest);
	slow = latencies_above(e2e, SLOW_US);
	max_us = ecom_latency_max(e2e);
	print_message("open loop: %" PRIu64 " orders above 100 ms (%" PRId64
	              " held up as the test saw it), the worst %.3f s\n",
	              slow, held, (double)max_us / 1e6);
	/* About a second of orders held up, each counted. */
	assert_true(held >= 150);
	assert_true(slow >= 150);
	assert_true(slow >= (uint64_t)held);
	/* Not every order: those well before and after the stall went through. */
	assert_true(slow <= (uint64_t)(RATE * (STALL_MS + 500) / 1000));
	assert_in_range(max_us, 900000, 1500000);
	assert_true(max_us >= longest);
	assert_int_equal(ecom_latency_percentile(e2e, 100), ecom_latency_max(e2e));
}

static void
the_same_stall_in_a_closed_loop_is_one_slow_order(void **state)
{
	fixture *f = take(state, T_STALL_CLOSED);
	const long n = plans[T_STALL_CLOSED].orders;
	const ecom_latency *e2e = &f->stats.end_to_end;
	int64_t created[MAX_ORDERS], longest, max_us, began, ended;
	long i, long_gaps = 0, last = -1;

	go(f);
	assert_true(EVENTUALLY(played(f) >= n / 4));
	memory_store_stall(f->store, MEMORY_PUT_BATCH, STALL_MS);
	assert_int_equal(stage_finish(f), 0);
	player_done(f);
	assert_int_equal(f->stats.fulfilled, n);

	/* No order reached the broker during the stall: none was created (one gap of a
	 * second between two creations), and the one order held up in it was the last
	 * fulfilled before it. */
	assert_int_equal(held_up_by_the_stall(f, &longest), 0);
	SORTED(f, created_us, created, n);
	for (i = 1; i < n; i++)
		long_gaps += created[i] - created[i - 1] >= STALL_MS * 1000;
	assert_int_equal(long_gaps, 1);
	assert_true(memory_store_stalled(f->store, MEMORY_PUT_BATCH, &began, &ended));
	for (i = 0; i < n; i++)
		if (f->play.log[i].fulfilled_us < began &&
		    (last < 0 || f->play.log[i].fulfilled_us > f->play.log[last].fulfilled_us))
			last = i;
	assert_true(last >= 0);
	longest = ended - f->play.log[last].order_us;
	assert_true(longest >= STALL_MS * 1000);
	/* So the report has one slow order, and the stall as its worst. */
	max_us = ecom_latency_max(e2e);
	print_message("closed loop: %" PRIu64 " orders above 100 ms, the worst %.3f s\n",
	              latencies_above(e2e, SLOW_US), (double)max_us / 1e6);
	assert_int_equal(latencies_above(e2e, SLOW_US), 1);
	assert_in_range(max_us, 900000, 1500000);
	assert_true(max_us >= longest);
}

/* ---- 4. warm-up ---- */

static void
the_warmup_is_left_out_of_the_statistics(void **state)
{
	fixture *f = take(state, T_WARMUP);
	const long n = plans[T_WARMUP].orders;
	const int64_t warmup_us = (int64_t)(plans[T_WARMUP].warmup_s * 1e6);
	int64_t i, warm = 0, warm_slow = 0, warmup_until;

	/* The warm-up's orders are slow: the middle stages start 0.3 s after the first order. */
	atomic_store(&f->play.hold, 1);
	go(f);
	assert_true(EVENTUALLY(topic_size(f, ECOM_EV_ORDERCREATED) > 0));
	ecom_sleep_ms(300);
	atomic_store(&f->play.hold, 0);
	assert_int_equal(stage_finish(f), 0);
	player_done(f);
	assert_int_equal(f->stats.fulfilled, n);
	assert_int_equal(f->stats.issued, n);

	/* The orders meant to start in the first 0.5 s, as the test counts them. */
	warmup_until = f->stats.started_us + warmup_us;
	for (i = 0; i < played(f); i++) {
		const fulfilment *o = &f->play.log[i];

		warm += o->order_us < warmup_until;
		warm_slow += o->order_us < warmup_until && o->fulfilled_us - o->order_us > 200000;
	}
	assert_int_equal(warm, warmup_us / GAP_US);
	assert_true(warm_slow >= 10);

	assert_in_range(f->stats.warmup_orders, warmup_us / GAP_US - 2, warmup_us / GAP_US + 2);
	assert_int_equal(f->stats.warmup_orders, warm);
	assert_int_equal(ecom_latency_count(&f->stats.end_to_end), n - warm);
	assert_int_equal(ecom_latency_count(&f->stats.send_lag), n - warm);
	/* None of the slow ones is in. */
	if (ecom_latency_max(&f->stats.end_to_end) >= 200000)
		fail_msg("an order took %.3f s: a warm-up order is in the statistics",
		         (double)ecom_latency_max(&f->stats.end_to_end) / 1e6);
}

/* ---- 5. saturation ---- */

static void
saturation_ends_the_run_with_the_message_and_the_counts_adding_up(void **state)
{
	fixture *f = take(state, T_SATURATION);
	const int64_t bound = plans[T_SATURATION].backlog_max;
	int64_t fulfilled_at_hold, size;

	go(f);
	assert_true(EVENTUALLY(played(f) >= 40));
	/* The middle stages stop: orders pile up. */
	atomic_store(&f->play.hold, 1);
	fulfilled_at_hold = played(f);
	assert_true(EVENTUALLY(said(f, "not sustainable at 200 orders/s")));
	/* No more orders: the topic stops growing (a second of them at the rate). */
	ecom_sleep_ms(200);
	size = topic_size(f, ECOM_EV_ORDERCREATED);
	ecom_sleep_ms(1000);
	assert_int_equal(topic_size(f, ECOM_EV_ORDERCREATED), size);
	/* The halt came at the bound, or a turn of the loop after it. */
	assert_true(size > fulfilled_at_hold + bound);
	assert_true(size <= fulfilled_at_hold + 2 * bound + 10);
	assert_true(f->running);

	/* The orders out are seen through. */
	atomic_store(&f->play.hold, 0);
	assert_int_equal(stage_finish(f), 0);
	player_done(f);
	assert_false(f->stats.sustainable);
	assert_int_equal(f->stats.backlog_max, bound);
	assert_true(f->stats.backlog_peak > bound);
	assert_int_equal(f->stats.issued, size);
	assert_int_equal(f->stats.fulfilled, size);
	assert_int_equal(played(f), size);
	assert_int_equal(memory_store_fulfilled(f->store), size);
	assert_int_equal(topic_size(f, ECOM_EV_ORDERCREATED), size);
	assert_true(size < plans[T_SATURATION].orders);
}

/* test-open-loop [PATTERN]: only the tests whose names match (cmocka's filter). */
int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(constant_arrivals_are_exactly_one_over_the_rate_apart),
		cmocka_unit_test(poisson_arrivals_have_the_rates_mean_gap_and_repeat_for_a_seed),
		cmocka_unit_test_teardown(the_schedule_keeps_its_rate_while_the_store_is_slow, teardown),
		cmocka_unit_test_teardown(a_stall_in_an_open_loop_delays_every_order_behind_it, teardown),
		cmocka_unit_test_teardown(the_same_stall_in_a_closed_loop_is_one_slow_order, teardown),
		cmocka_unit_test_teardown(the_warmup_is_left_out_of_the_statistics, teardown),
		cmocka_unit_test_teardown(saturation_ends_the_run_with_the_message_and_the_counts_adding_up,
		                          teardown),
	};

	ecom_log_init("test-open-loop");
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
