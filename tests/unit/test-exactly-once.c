/*
 * Unit tests of processing_guarantee: exactly_once on librdkafka's mock
 * cluster, with the in-memory store of memory-store.c: a payment stage
 * whose transaction must be aborted reads its batch again and forwards
 * it once; a stage whose transactional.id another producer takes over
 * ends, saying it was fenced; offsets refused for an old group
 * generation (a zombie's) abort the batch, saying the group fenced it.
 *
 * librdkafka 2.0.2's mock answers the transactional requests (and can
 * be told to fail them) but keeps no epoch per transactional.id, stores
 * no offsets sent in a transaction and writes no commit or abort marker:
 * fencing is injected as the coordinator's answer, and what a
 * read_committed reader skips is checked through what the stage did
 * (its abort, its second reading) here, and on a real broker in
 * tests/bats/exactly-once.bats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ecom_kafka.h"
#include "ecom_reconcile.h"
#include "ecom_stage.h"
#include "ecom_store.h"
#include "ecom_time.h"
#include "memory-store.h"
#include "stage-fixture.h"

/* What any one step may take before the test fails instead of hanging. */
#define WAIT_MS 15000
/* Kafka's ApiKey of AddOffsetsToTxn (not in librdkafka's public headers). */
#define API_ADD_OFFSETS_TO_TXN 25
#define API_TXN_OFFSET_COMMIT 28
#define ORDERS 3

#define EVENTUALLY(cond)                                                                     \
	({                                                                                       \
		int64_t until_ = ecom_monotonic_us() + (int64_t)WAIT_MS * 1000;                      \
		bool holds_;                                                                         \
		while (!(holds_ = (cond)) && ecom_monotonic_us() < until_)                           \
			ecom_sleep_ms(10);                                                               \
		holds_;                                                                              \
	})

static rd_kafka_t *mock_host; /* the client the cluster lives in */
static rd_kafka_mock_cluster_t *mock;

typedef struct fixture {
	ecom_config cfg;
	ecom_store *store;
	ecom_producer *producer; /* the test's own, playing the order creator */
	char topic[ECOM_EV_COUNT + 1][256]; /* the five, then the dead-letter topic */
	pthread_t tid;
	bool running;
	ecom_stage_opts opts;
	ecom_reconcile_opts terminal;
	ecom_stage_stats stats;
	ecom_stop_flag stop;
	ecom_err err;
	int rc;
	int ready;
	int ended;
} fixture;

static void *
stage_main(void *arg)
{
	fixture *f = arg;

	f->rc = ecom_stage_run(&f->cfg, &f->opts, &f->stats, &f->err);
	__atomic_store_n(&f->ended, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void
on_ready(void *arg)
{
	__atomic_store_n(&((fixture *)arg)->ready, 1, __ATOMIC_SEQ_CST);
}

static bool
flag(int *x)
{
	return __atomic_load_n(x, __ATOMIC_SEQ_CST) != 0;
}

/* A payment stage under exactly_once, its topics prefixed "<name>-", its instance `instance`. */
static fixture *
fixture_new_kind(const char *name, const char *instance, ecom_stage_kind kind, long orders);

static fixture *
fixture_new(const char *name, const char *instance)
{
	return fixture_new_kind(name, instance, ECOM_STAGE_PAYMENT, 0);
}

/* A stage of `kind` (reconcile: driving `orders`, one in flight). */
static fixture *
fixture_new_kind(const char *name, const char *instance, ecom_stage_kind kind, long orders)
{
	fixture *f = calloc(1, sizeof(*f));
	char prefix[32];
	ecom_err err;
	int t;

	assert_non_null(f);
	ecom_config_init(&f->cfg);
	snprintf(prefix, sizeof(prefix), "%s-", name);
	if (ecom_config_set(&f->cfg, "brokers", rd_kafka_mock_cluster_bootstraps(mock), &err) < 0 ||
	    ecom_config_set(&f->cfg, "topic_prefix", prefix, &err) < 0 ||
	    ecom_config_set(&f->cfg, "processing_guarantee", "exactly_once", &err) < 0 ||
	    ecom_config_set(&f->cfg, "instance_id", instance, &err) < 0 ||
	    ecom_config_set_kafka(&f->cfg, "fetch.wait.max.ms=100", &err) < 0 || (getenv("EOS_DEBUG") && ecom_config_set_kafka(&f->cfg, "debug=eos,cgrp", &err) < 0))
		fail_msg("%s", err.msg);
	f->cfg.timeout_ms = 5000;
	f->cfg.retry_timeout_ms = 10000;
	f->store = memory_store_new(&f->cfg);
	if (ecom_producer_new(&f->producer, &f->cfg, &err) < 0)
		fail_msg("%s", err.msg);
	ecom_config_topic(&f->cfg, f->cfg.dead_letter_topic, f->topic[ECOM_EV_COUNT],
	                  sizeof(f->topic[ECOM_EV_COUNT]));
	for (t = 0; t <= ECOM_EV_COUNT; t++) {
		if (t < ECOM_EV_COUNT)
			ecom_config_topic(&f->cfg, ecom_event_type_name((ecom_event_type)t), f->topic[t],
			                  sizeof(f->topic[t]));
		/* Asking where a topic's partitions lead makes the mock create it. */
		if (ecom_producer_warm(f->producer, f->topic[t], &err) < 0)
			fail_msg("%s", err.msg);
	}
	ecom_stage_stats_init(&f->stats);
	f->opts.kind = kind;
	f->terminal.orders = orders;
	f->terminal.window = 1;
	f->opts.terminal = &f->terminal;
	f->opts.stop = &f->stop;
	f->opts.on_ready = on_ready;
	f->opts.ready_arg = f;
	f->opts.store = f->store;
	assert_int_equal(pthread_create(&f->tid, NULL, stage_main, f), 0);
	f->running = true;
	assert_true(EVENTUALLY(flag(&f->ready) || flag(&f->ended)));
	if (flag(&f->ended))
		fail_msg("the stage ended at start: %s", f->err.msg);
	return f;
}

/* Stop the stage (if stop) and wait for its end: its return code. */
static int
stage_finish(fixture *f, bool stop)
{
	if (stop)
		f->stop = 1;
	if (!EVENTUALLY(flag(&f->ended))) {
		f->stop = 1;
		pthread_join(f->tid, NULL);
		f->running = false;
		fail_msg("the stage did not end within %d ms", WAIT_MS);
	}
	pthread_join(f->tid, NULL);
	f->running = false;
	return f->rc;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	if (f == NULL)
		return 0;
	if (f->running) {
		f->stop = 1;
		pthread_join(f->tid, NULL);
	}
	ecom_stage_stats_free(&f->stats);
	ecom_producer_destroy(f->producer);
	ecom_store_close(f->store);
	ecom_config_free(&f->cfg);
	free(f);
	return 0;
}

/* n new orders to ordercreated, acknowledged. */
static void
produce_orders(fixture *f, int n)
{
	ecom_err err;
	int i;

	for (i = 0; i < n; i++) {
		ecom_event order;
		size_t len;
		char *json;

		if (ecom_event_new_order(&order, ecom_now_us() / 1000, &err) < 0)
			fail_msg("%s", err.msg);
		json = ecom_event_to_json(&order, &len);
		if (ecom_producer_send_event(f->producer, f->topic[ECOM_EV_ORDERCREATED], order.event_id,
		                             json, len, ecom_now_us(), &err) < 0)
			fail_msg("%s", err.msg);
		bson_free(json);
		ecom_event_destroy(&order);
	}
	if (ecom_producer_flush(f->producer, &err) < 0)
		fail_msg("%s", err.msg);
}

/* Messages of a topic from its start, up to max, read until none comes for a second. */
static size_t
read_event_ids(fixture *f, int topic, char ids[][ECOM_EVENT_ID_LEN + 1], size_t max)
{
	rd_kafka_message_t *msgs[16];
	ecom_consumer *c = NULL;
	int64_t quiet_since = ecom_monotonic_us();
	size_t n = 0, got, i;
	ecom_err err;

	if (ecom_consumer_new_assign(&c, &f->cfg, f->topic[topic], RD_KAFKA_OFFSET_BEGINNING, &err) <
	    0)
		fail_msg("%s", err.msg);
	while (ecom_monotonic_us() - quiet_since < 1000000) {
		if (ecom_consumer_poll_batch(c, msgs, 16, 100, &got, NULL, &err) < 0)
			fail_msg("%s", err.msg);
		if (got > 0)
			quiet_since = ecom_monotonic_us();
		for (i = 0; i < got; i++) {
			if (n < max)
				snprintf(ids[n++], ECOM_EVENT_ID_LEN + 1, "%.*s", (int)msgs[i]->key_len,
				         (const char *)msgs[i]->key);
			rd_kafka_message_destroy(msgs[i]);
		}
	}
	ecom_consumer_destroy(c);
	return n;
}

static int
count_distinct(char ids[][ECOM_EVENT_ID_LEN + 1], size_t n)
{
	size_t i, j;
	int distinct = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i && strcmp(ids[i], ids[j]) != 0; j++)
			;
		distinct += j == i;
	}
	return distinct;
}

/* ---- an abortable error: abort, rewind, redo ---- */

static void
an_aborted_transaction_is_redone_from_the_committed_offsets(void **state)
{
	fixture *f = fixture_new("x1", "u1");
	char ids[4 * ORDERS][ECOM_EVENT_ID_LEN + 1];
	size_t n;

	*state = f;
	/* The batch's offsets are refused once, as a broker refuses them to a
	 * producer not allowed in the group: the transaction must be aborted. */
	rd_kafka_mock_push_request_errors(mock, API_ADD_OFFSETS_TO_TXN, 1,
	                                  RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
	produce_orders(f, ORDERS);
	/* Committed the second time, every order stored once. */
	assert_true(EVENTUALLY(ecom_latency_count(&f->stats.phases[ECOM_PHASE_COMMIT]) >= 1 &&
	                       memory_store_count_of(f->store, ECOM_EV_ORDERCREATED) == ORDERS));
	assert_int_equal(stage_finish(f, true), 0);
	assert_int_equal(f->stats.aborted, 1);
	/* The aborted batch was read again from the start (the mock keeps no
	 * offsets of a transaction, nor had any before): found stored. */
	assert_true(f->stats.consumed > ORDERS);
	assert_int_equal(f->stats.stored, ORDERS);
	assert_int_equal(f->stats.duplicates, f->stats.consumed - ORDERS);
	assert_int_equal(memory_store_events_new(f->store, ECOM_EV_ORDERCREATED), ORDERS);
	/* The committed transaction forwarded every order once; the aborted
	 * one's copies stay in the log, and the mock writes no abort marker
	 * for a reader to skip them by: the log holds both, every order
	 * forwarded by the commit. */
	n = read_event_ids(f, ECOM_EV_PAYMENTCOMPLETED, ids, 4 * ORDERS);
	fprintf(stderr, "consumed %" PRId64 ", produced %" PRId64 ", in the log %zu\n",
	        f->stats.consumed, f->stats.produced, n);
	/* librdkafka drops what an aborted transaction had not sent yet. */
	assert_in_range(n, ORDERS, (uintmax_t)f->stats.produced);
	assert_int_equal(count_distinct(ids, n), ORDERS);
	/* The commit phase times the committed transactions alone: the redo
	 * may come in more than one batch, the orders did in at most ORDERS. */
	assert_in_range(ecom_latency_count(&f->stats.phases[ECOM_PHASE_COMMIT]), 1, ORDERS);
}

/* ---- fenced: another producer took the transactional.id ---- */

static void
a_fenced_stage_ends_saying_who_took_over(void **state)
{
	fixture *f = fixture_new("x2", "u2");

	*state = f;
	/* What the coordinator answers a producer whose transactional.id a
	 * successor has initialised since (a new epoch): the mock keeps no
	 * epochs per id, so the answer is injected. */
	rd_kafka_mock_push_request_errors(mock, API_ADD_OFFSETS_TO_TXN, 1,
	                                  RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
	produce_orders(f, 1);
	assert_int_equal(stage_finish(f, false), -1);
	if (strstr(f->err.msg, "fenced: another instance with transactional.id 'x2-ecom-payment-u2' "
	                       "took over") == NULL)
		fail_msg("the stage ended with '%s'", f->err.msg);
	/* The store write comes first; nothing was committed in the fenced one's name. */
	assert_int_equal(memory_store_count_of(f->store, ECOM_EV_ORDERCREATED), 1);
	assert_int_equal(f->stats.aborted, 0);
	assert_int_equal(ecom_latency_count(&f->stats.phases[ECOM_PHASE_COMMIT]), 0);
}

/* ---- fenced by the group: a batch in hand when its partitions went elsewhere ---- */

static void
offsets_of_an_old_generation_abort_the_batch_saying_so(void **state)
{
	fixture *f = fixture_new("x3", "u3");
	FILE *said = tmpfile();
	int real_stderr = dup(STDERR_FILENO);
	char text[8192];
	size_t len;

	*state = f;
	assert_non_null(said);
	fflush(stderr);
	dup2(fileno(said), STDERR_FILENO);
	/* What the group coordinator answers offsets sent with the group's
	 * metadata of before a rebalance (KIP-447). */
	rd_kafka_mock_push_request_errors(mock, API_TXN_OFFSET_COMMIT, 1,
	                                  RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
	produce_orders(f, 1);
	assert_true(EVENTUALLY(ecom_latency_count(&f->stats.phases[ECOM_PHASE_COMMIT]) >= 1 ||
	                       flag(&f->ended)));
	if (flag(&f->ended))
		fail_msg("the stage ended: %s", f->err.msg);
	assert_int_equal(stage_finish(f, true), 0);
	fflush(stderr);
	dup2(real_stderr, STDERR_FILENO);
	close(real_stderr);
	rewind(said);
	len = fread(text, 1, sizeof(text) - 1, said);
	text[len] = '\0';
	fclose(said);
	fputs(text, stderr);
	assert_int_equal(f->stats.aborted, 1);
	assert_int_equal(f->stats.stored, 1);
	if (strstr(text, "transaction aborted (fenced by the consumer group: its partitions went to "
	                 "another member") == NULL)
		fail_msg("the stage said: %s", text);
}

/* ---- reconcile: the next order of an aborted transaction is created again ---- */

/* The messages of a topic, read until none comes for a second, into msgs (up to max). */
static size_t
read_messages(fixture *f, int topic, ecom_event *events, size_t max)
{
	rd_kafka_message_t *msgs[16];
	ecom_consumer *c = NULL;
	int64_t quiet_since = ecom_monotonic_us();
	size_t n = 0, got, i;
	ecom_err err;

	if (ecom_consumer_new_assign(&c, &f->cfg, f->topic[topic], RD_KAFKA_OFFSET_BEGINNING, &err) <
	    0)
		fail_msg("%s", err.msg);
	while (ecom_monotonic_us() - quiet_since < 1000000) {
		if (ecom_consumer_poll_batch(c, msgs, 16, 100, &got, NULL, &err) < 0)
			fail_msg("%s", err.msg);
		if (got > 0)
			quiet_since = ecom_monotonic_us();
		for (i = 0; i < got; i++) {
			if (n < max && ecom_event_from_json(msgs[i]->payload, msgs[i]->len, &events[n],
			                                    &err) == 0)
				n++;
			rd_kafka_message_destroy(msgs[i]);
		}
	}
	ecom_consumer_destroy(c);
	return n;
}

static void
an_aborted_reconcile_batch_creates_its_next_order_again(void **state)
{
	fixture *f = fixture_new_kind("x4", "u4", ECOM_STAGE_RECONCILE, 2);
	ecom_event orders[4], steps[4];
	size_t n, i;
	ecom_err err;
	char *json;
	size_t len;

	*state = f;
	/* The first order, committed on its own (no offsets yet). */
	assert_true(EVENTUALLY(__atomic_load_n(&f->stats.issued, __ATOMIC_SEQ_CST) == 1 &&
	                       ecom_latency_count(&f->stats.phases[ECOM_PHASE_COMMIT]) == 0));
	assert_int_equal(read_messages(f, ECOM_EV_ORDERCREATED, orders, 1), 1);
	/* Its fulfilment, as the four stages would make it: the batch that
	 * reads it creates order 2, and its transaction must be aborted. */
	memory_store_plant(f->store, &orders[0]);
	for (i = 0; i < 4; i++)
		if (ecom_event_next(i == 0 ? &orders[0] : &steps[i - 1], &steps[i], ecom_now_us() / 1000,
		                    &err) < 0)
			fail_msg("%s", err.msg);
	rd_kafka_mock_push_request_errors(mock, API_ADD_OFFSETS_TO_TXN, 1,
	                                  RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
	json = ecom_event_to_json(&steps[3], &len);
	if (ecom_producer_send_event(f->producer, f->topic[ECOM_EV_ORDERFULFILLED], steps[3].event_id,
	                             json, len, ecom_now_us(), &err) < 0 ||
	    ecom_producer_flush(f->producer, &err) < 0)
		fail_msg("%s", err.msg);
	bson_free(json);
	/* Aborted, read again, committed: order 2 created once more, counted once. */
	assert_true(EVENTUALLY(__atomic_load_n(&f->stats.aborted, __ATOMIC_SEQ_CST) == 1 &&
	                       ecom_latency_count(&f->stats.phases[ECOM_PHASE_COMMIT]) >= 1));
	assert_int_equal(stage_finish(f, true), 0);
	assert_int_equal(f->stats.issued, 2);
	assert_int_equal(f->stats.fulfilled, 1);
	/* The log: order 1, the order 2 created instead, and the aborted one
	 * if librdkafka had sent it before the abort (the mock writes no abort
	 * marker to hide it), each an order of its own. */
	n = read_messages(f, ECOM_EV_ORDERCREATED, orders + 1, 3);
	assert_in_range(n, 2, 3);
	{
		char ids[3][ECOM_EVENT_ID_LEN + 1];
		bool first_there = false;

		/* Partitions give no order among them. */
		for (i = 0; i < n; i++) {
			snprintf(ids[i], sizeof(ids[i]), "%s", orders[i + 1].event_id);
			first_there = first_there || strcmp(ids[i], orders[0].event_id) == 0;
		}
		assert_true(first_there);
		assert_int_equal(count_distinct(ids, n), n);
	}
	for (i = 0; i <= n; i++)
		ecom_event_destroy(&orders[i]);
	for (i = 0; i < 4; i++)
		ecom_event_destroy(&steps[i]);
}

static int
group_setup(void **state)
{
	(void)state;
	if (getenv("EOS_DEBUG"))
		ecom_log_set_level(ECOM_LOG_DEBUG);
	mock = mock_cluster_new(&mock_host);
	return mock != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	mock_cluster_destroy(mock, mock_host);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(an_aborted_transaction_is_redone_from_the_committed_offsets,
		                          teardown),
		cmocka_unit_test_teardown(a_fenced_stage_ends_saying_who_took_over, teardown),
		cmocka_unit_test_teardown(offsets_of_an_old_generation_abort_the_batch_saying_so,
		                          teardown),
		cmocka_unit_test_teardown(an_aborted_reconcile_batch_creates_its_next_order_again,
		                          teardown),
	};

	return cmocka_run_group_tests_name("exactly-once", tests, group_setup, group_teardown);
}
