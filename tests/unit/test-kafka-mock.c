/*
 * Unit tests of the Kafka layer's own defects on librdkafka's mock
 * cluster: no broker needed.  Each test has a topic of its own (the mock
 * makes it, four partitions, when its leaders are asked for), and checks
 * against what it made itself: the keys it sent, a clock of its own, the
 * error a consumer must report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecom_kafka.h"
#include "ecom_kafka_impl.h"
#include "ecom_time.h"
#include "stage-fixture.h"

/* What any one step may take before the test fails instead of hanging. */
#define WAIT_MS 15000
/* The mock's only broker. */
#define BROKER_ID 1
#define LONG_KEY_LEN 1000

static rd_kafka_t *mock_host; /* the client the cluster lives in */
static rd_kafka_mock_cluster_t *mock;

/* haystack holds needle, or the test fails showing both. */
#define assert_contains(haystack, needle)                                                    \
	do {                                                                                     \
		if (strstr((haystack), (needle)) == NULL)                                            \
			fail_msg("'%s' is not in '%s'", (needle), (haystack));                           \
	} while (0)

static int
group_setup(void **state)
{
	(void)state;
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

/* A configuration for the mock, with the properties given ("key=value", NULL-terminated). */
static void
mock_config(ecom_config *cfg, const char *const *properties)
{
	ecom_err err;

	ecom_config_init(cfg);
	if (ecom_config_set(cfg, "brokers", rd_kafka_mock_cluster_bootstraps(mock), &err) < 0)
		fail_msg("%s", err.msg);
	if (ecom_config_set_kafka(cfg, "reconnect.backoff.max.ms=500", &err) < 0)
		fail_msg("%s", err.msg);
	for (; properties != NULL && *properties != NULL; properties++)
		if (ecom_config_set_kafka(cfg, *properties, &err) < 0)
			fail_msg("%s", err.msg);
	cfg->timeout_ms = 5000;
	cfg->retry_timeout_ms = 10000;
}

/* A producer on the mock, and topic made (by asking where its partitions lead). */
static ecom_producer *
mock_producer(const ecom_config *cfg, const char *topic)
{
	ecom_producer *p = NULL;
	ecom_err err;

	if (ecom_producer_new(&p, cfg, &err) < 0 || ecom_producer_warm(p, topic, &err) < 0)
		fail_msg("%s", err.msg);
	return p;
}

/* ---- the producer's linger follows the window ---- */

/* What the producer made from cfg has for linger.ms. */
static void
assert_producer_linger(const ecom_config *cfg, const char *expected)
{
	ecom_producer *p = NULL;
	char value[32];
	size_t size = sizeof(value);
	ecom_err err;

	if (ecom_producer_new(&p, cfg, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(rd_kafka_conf_get(rd_kafka_conf(ecom_producer_handle(p)), "linger.ms", value,
	                                   &size),
	                 RD_KAFKA_CONF_OK);
	assert_string_equal(value, expected);
	ecom_producer_destroy(p);
}

static void
a_window_above_one_batches_sends_unless_linger_is_given(void **state)
{
	static const char *const given[] = {"linger.ms=3", NULL};
	ecom_config cfg;

	(void)state;
	mock_config(&cfg, NULL);
	assert_producer_linger(&cfg, "0");
	cfg.window = 2;
	assert_producer_linger(&cfg, "1");
	ecom_config_free(&cfg);
	mock_config(&cfg, given);
	cfg.window = 256;
	assert_producer_linger(&cfg, "3");
	ecom_config_free(&cfg);
}

/* ---- a broker loss: what the clients are made with ---- */

/* The value of key in the configuration ecom_kafka_conf makes for kind. */
static void
assert_client_property(const ecom_config *cfg, const char *kind, const char *key,
                       const char *expected)
{
	rd_kafka_conf_t *conf = NULL;
	char value[64];
	size_t size = sizeof(value);
	ecom_err err;

	if (ecom_kafka_conf(cfg, kind, &conf, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(rd_kafka_conf_get(conf, key, value, &size), RD_KAFKA_CONF_OK);
	if (strcmp(value, expected) != 0)
		fail_msg("%s %s: '%s', expected '%s'", kind, key, value, expected);
	rd_kafka_conf_destroy(conf);
}

/*
 * A broker that died is tried again within a second (librdkafka's own
 * bound is 10 s), by producers and consumers, and a consumer group keeps
 * its members for 10 s without its coordinator (6 s lost them while the
 * group moved to another broker); the user's values win.
 */
static void
a_lost_broker_is_retried_each_second_and_a_group_outlasts_its_coordinator_moving(void **state)
{
	ecom_config cfg;
	ecom_err err;

	(void)state;
	ecom_config_init(&cfg);
	assert_client_property(&cfg, "producer", "reconnect.backoff.max.ms", "1000");
	assert_client_property(&cfg, "consumer", "reconnect.backoff.max.ms", "1000");
	assert_client_property(&cfg, "consumer", "session.timeout.ms", "10000");
	if (ecom_config_set_kafka(&cfg, "reconnect.backoff.max.ms=300", &err) < 0 ||
	    ecom_config_set_kafka(&cfg, "session.timeout.ms=45000", &err) < 0)
		fail_msg("%s", err.msg);
	assert_client_property(&cfg, "producer", "reconnect.backoff.max.ms", "300");
	assert_client_property(&cfg, "consumer", "reconnect.backoff.max.ms", "300");
	assert_client_property(&cfg, "consumer", "session.timeout.ms", "45000");
	ecom_config_free(&cfg);
}

/* ---- keys are bytes ---- */

static const rd_kafka_message_t *
message_with_value(rd_kafka_message_t *const *msgs, size_t n, const char *value)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (msgs[i]->len == strlen(value) && memcmp(msgs[i]->payload, value, msgs[i]->len) == 0)
			return msgs[i];
	fail_msg("no message '%s' read back", value);
	return NULL;
}

static void
keys_with_a_nul_and_of_1000_bytes_come_back_whole(void **state)
{
	static const char nul_key[3] = {'a', '\0', 'b'};
	const char *topic = "keys";
	char long_key[LONG_KEY_LEN];
	rd_kafka_message_t *msgs[4];
	const rd_kafka_message_t *m;
	ecom_consumer *c = NULL;
	ecom_config cfg;
	ecom_err err;
	size_t n = 0, got, i;
	int64_t until = ecom_monotonic_us() + (int64_t)WAIT_MS * 1000;
	ecom_producer *p;

	(void)state;
	for (i = 0; i < sizeof(long_key); i++)
		long_key[i] = (char)(i % 256); /* a NUL every 256 bytes, the first at 0 */
	mock_config(&cfg, NULL);
	p = mock_producer(&cfg, topic);
	if (ecom_producer_send(p, topic, nul_key, sizeof(nul_key), "nul", 3, NULL, 0, &err) < 0 ||
	    ecom_producer_send(p, topic, long_key, sizeof(long_key), "long", 4, NULL, 0, &err) < 0 ||
	    ecom_producer_flush(p, &err) < 0)
		fail_msg("%s", err.msg);

	if (ecom_consumer_new_assign(&c, &cfg, topic, RD_KAFKA_OFFSET_BEGINNING, &err) < 0)
		fail_msg("%s", err.msg);
	while (n < 2 && ecom_monotonic_us() < until) {
		if (ecom_consumer_poll_batch(c, msgs + n, 2 - n, 500, &got, NULL, &err) < 0)
			fail_msg("%s", err.msg);
		n += got;
	}
	assert_int_equal(n, 2);
	m = message_with_value(msgs, n, "nul");
	assert_int_equal(m->key_len, sizeof(nul_key));
	assert_memory_equal(m->key, nul_key, sizeof(nul_key));
	m = message_with_value(msgs, n, "long");
	assert_int_equal(m->key_len, sizeof(long_key));
	assert_memory_equal(m->key, long_key, sizeof(long_key));
	for (i = 0; i < n; i++)
		rd_kafka_message_destroy(msgs[i]);
	ecom_consumer_destroy(c);
	ecom_producer_destroy(p);
	ecom_config_free(&cfg);
}

/* ---- an event's time headers are its numbers in decimal ---- */

static void
event_headers_read_back_as_the_numbers_sent(void **state)
{
	static const int64_t order_us[] = {0, 7, -1, INT64_MAX, INT64_MIN, INT64_C(1765000000123456)};
	enum { N = sizeof(order_us) / sizeof(order_us[0]) };
	const char *topic = "headers";
	rd_kafka_message_t *msgs[N];
	ecom_consumer *c = NULL;
	ecom_config cfg;
	ecom_err err;
	size_t n = 0, got, i, k;
	int64_t before = ecom_now_us(), until = ecom_monotonic_us() + (int64_t)WAIT_MS * 1000;
	ecom_producer *p;
	char value[8];

	(void)state;
	mock_config(&cfg, NULL);
	p = mock_producer(&cfg, topic);
	for (i = 0; i < N; i++) {
		snprintf(value, sizeof(value), "v%zu", i);
		if (ecom_producer_send_event(p, topic, NULL, value, strlen(value), order_us[i], &err) < 0)
			fail_msg("%s", err.msg);
	}
	if (ecom_producer_flush(p, &err) < 0)
		fail_msg("%s", err.msg);
	if (ecom_consumer_new_assign(&c, &cfg, topic, RD_KAFKA_OFFSET_BEGINNING, &err) < 0)
		fail_msg("%s", err.msg);
	while (n < N && ecom_monotonic_us() < until) {
		if (ecom_consumer_poll_batch(c, msgs + n, N - n, 500, &got, NULL, &err) < 0)
			fail_msg("%s", err.msg);
		n += got;
	}
	assert_int_equal(n, N);
	for (i = 0; i < N; i++) {
		const rd_kafka_message_t *m;
		int64_t sent;

		snprintf(value, sizeof(value), "v%zu", i);
		m = message_with_value(msgs, n, value);
		/* ecom_message_header_int gives -1 for a header it cannot read: compare the text too. */
		sent = ecom_message_header_int(m, ECOM_HDR_SENT_US);
		assert_true(sent >= before && sent <= ecom_now_us());
		{
			rd_kafka_headers_t *hdrs = NULL;
			const void *text;
			size_t size;
			char want[24];

			snprintf(want, sizeof(want), "%" PRId64, order_us[i]);
			assert_int_equal(rd_kafka_message_headers(m, &hdrs), RD_KAFKA_RESP_ERR_NO_ERROR);
			assert_int_equal(rd_kafka_header_get_last(hdrs, ECOM_HDR_ORDER_START_US, &text, &size),
			                 RD_KAFKA_RESP_ERR_NO_ERROR);
			assert_int_equal(size, strlen(want));
			assert_memory_equal(text, want, size);
		}
	}
	for (k = 0; k < n; k++)
		rd_kafka_message_destroy(msgs[k]);
	ecom_consumer_destroy(c);
	ecom_producer_destroy(p);
	ecom_config_free(&cfg);
}

/* ---- librdkafka's statistics split each round trip ---- */

/*
 * One message at a time, produced, read back and acknowledged, until
 * both clients have taken a few statistics documents (every 100 ms, as
 * given: the user's value wins over ecom's 1 s).  The test's own clock
 * bounds what the statistics say: no request's round trip is longer than
 * the produce → acknowledged it was part of, and no message waited in the
 * consumer's queue longer than its produce → read.
 */
static void
statistics_split_the_round_trips_the_test_timed(void **state)
{
	static const char *const given[] = {"statistics.interval.ms=100", NULL};
	const char *topic = "stats-split";
	int64_t until = ecom_monotonic_us() + (int64_t)WAIT_MS * 1000;
	int64_t longest_read = 0, longest_acked = 0, t0;
	const ecom_kafka_stats *ps, *cs;
	ecom_producer *p;
	ecom_consumer *c = NULL;
	ecom_config cfg;
	ecom_err err;
	int trips = 0;

	(void)state;
	mock_config(&cfg, given);
	t0 = ecom_monotonic_us();
	p = mock_producer(&cfg, topic);
	longest_acked = ecom_monotonic_us() - t0; /* the warm-up's requests count too */
	if (ecom_consumer_new_assign(&c, &cfg, topic, RD_KAFKA_OFFSET_BEGINNING, &err) < 0)
		fail_msg("%s", err.msg);
	for (;;) {
		rd_kafka_message_t *msgs[8];
		size_t n = 0, i;

		ps = ecom_producer_kafka_stats(p);
		cs = ecom_consumer_kafka_stats(c);
		if (trips >= 20 && ps->documents >= 3 && cs->documents >= 3)
			break;
		if (ecom_monotonic_us() > until)
			fail_msg("%d round trips, %" PRId64 " and %" PRId64 " statistics documents", trips,
			         ps->documents, cs->documents);
		t0 = ecom_monotonic_us();
		if (ecom_producer_send(p, topic, "k", 1, "v", 1, NULL, 0, &err) < 0)
			fail_msg("%s", err.msg);
		while (n == 0 && ecom_monotonic_us() < until)
			if (ecom_consumer_poll_batch(c, msgs, 8, 500, &n, NULL, &err) < 0)
				fail_msg("%s", err.msg);
		if (ecom_monotonic_us() - t0 > longest_read)
			longest_read = ecom_monotonic_us() - t0;
		for (i = 0; i < n; i++)
			rd_kafka_message_destroy(msgs[i]);
		if (ecom_producer_flush(p, &err) < 0)
			fail_msg("%s", err.msg);
		if (ecom_monotonic_us() - t0 > longest_acked)
			longest_acked = ecom_monotonic_us() - t0;
		trips++;
	}
	assert_true(ps->rtt.count >= 1 && ps->int_latency.count >= 1 &&
	            ps->outbuf_latency.count >= 1);
	assert_true(ecom_kafka_window_mean_us(&ps->rtt) > 0);
	if (ps->rtt.max_us > longest_acked)
		fail_msg("a request's round trip %" PRId64 " us, the longest send to ack %" PRId64 " us",
		         ps->rtt.max_us, longest_acked);
	/* The consumer's fetches, and its local queue as ecom timed it. */
	assert_true(cs->rtt.count >= 1);
	assert_true(cs->local_queue.count >= 1);
	if (cs->local_queue.max_us > longest_read)
		fail_msg("a message waited %" PRId64 " us in the queue, the longest produce to read %" PRId64
		         " us",
		         cs->local_queue.max_us, longest_read);
	ecom_consumer_destroy(c);
	ecom_producer_destroy(p);
	ecom_config_free(&cfg);
}

/* ---- a full queue and a stop request ---- */

typedef struct delayed_stop {
	ecom_stop_flag *flag;
	int after_ms;
} delayed_stop;

static void *
stop_later(void *arg)
{
	delayed_stop *d = arg;

	ecom_sleep_ms(d->after_ms);
	*d->flag = 1;
	return NULL;
}

/*
 * With the broker down and room for one message, a second send waits
 * for room that only message.timeout.ms (15 s here) would make: a stop
 * request must end that wait.
 */
static void
a_send_waiting_for_room_returns_soon_after_a_stop_request(void **state)
{
	static const char *const tiny_queue[] = {"queue.buffering.max.messages=1", NULL};
	const char *topic = "full-queue";
	ecom_stop_flag stop = 0;
	delayed_stop d = {&stop, 300};
	pthread_t tid;
	ecom_config cfg;
	ecom_err err;
	ecom_producer *p;
	int64_t started, took_ms;
	int rc;

	(void)state;
	mock_config(&cfg, tiny_queue);
	p = mock_producer(&cfg, topic);
	ecom_producer_set_stop(p, &stop);
	rd_kafka_mock_broker_set_down(mock, BROKER_ID);
	if (ecom_producer_send(p, topic, "k", 1, "first", 5, NULL, 0, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(pthread_create(&tid, NULL, stop_later, &d), 0);
	started = ecom_monotonic_us();
	rc = ecom_producer_send(p, topic, "k", 1, "second", 6, NULL, 0, &err);
	took_ms = (ecom_monotonic_us() - started) / 1000;
	pthread_join(tid, NULL);
	rd_kafka_mock_broker_set_up(mock, BROKER_ID);

	assert_int_equal(rc, -1);
	assert_contains(err.msg, "cannot produce to 'full-queue': stopped with the local queue full");
	assert_true(took_ms >= 300);
	assert_true(took_ms < 300 + 1000);
	ecom_producer_destroy(p);
	ecom_config_free(&cfg);
}

/* ---- a consumer in a group that cannot take its assignment ---- */

/* Poll until a call fails or WAIT_MS passes; the failure's message in err. */
static int
poll_until_failure(ecom_consumer *c, ecom_err *err)
{
	int64_t until = ecom_monotonic_us() + (int64_t)WAIT_MS * 1000;
	rd_kafka_message_t *msgs[8];
	size_t n, i;

	while (ecom_monotonic_us() < until) {
		if (ecom_consumer_poll_batch(c, msgs, 8, 200, &n, NULL, err) < 0)
			return -1;
		for (i = 0; i < n; i++)
			rd_kafka_message_destroy(msgs[i]);
	}
	return 0;
}

/*
 * ecom gives librdkafka whole assignments (rd_kafka_assign), which a
 * group on the cooperative protocol refuses: the consumer must say so
 * rather than sit without partitions.
 */
static void
an_assignment_refused_fails_the_poll_with_the_reason(void **state)
{
	static const char *const cooperative[] = {"partition.assignment.strategy=cooperative-sticky",
	                                          NULL};
	const char *topics[1] = {"refused"};
	ecom_consumer *c = NULL;
	ecom_producer *p;
	ecom_config cfg;
	ecom_err err;

	(void)state;
	mock_config(&cfg, cooperative);
	p = mock_producer(&cfg, topics[0]);
	if (ecom_consumer_new(&c, &cfg, "refused-group", topics, 1, "earliest", &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(poll_until_failure(c, &err), -1);
	assert_contains(err.msg, "consumer group 'refused-group': cannot take the partitions assigned");
	assert_contains(err.msg, "refused [0,1,2,3]");
	assert_contains(err.msg, "partition.assignment.strategy");
	assert_false(ecom_consumer_assigned(c));
	ecom_consumer_destroy(c);
	ecom_producer_destroy(p);
	ecom_config_free(&cfg);
}

/* Poll c until it returns a message with value, or WAIT_MS passes. */
static bool
read_value(ecom_consumer *c, const char *value)
{
	int64_t until = ecom_monotonic_us() + (int64_t)WAIT_MS * 1000;
	rd_kafka_message_t *msgs[8];
	bool found = false;
	ecom_err err;
	size_t n, i;

	while (!found && ecom_monotonic_us() < until) {
		if (ecom_consumer_poll_batch(c, msgs, 8, 200, &n, NULL, &err) < 0)
			fail_msg("%s", err.msg);
		for (i = 0; i < n; i++) {
			found |= msgs[i]->len == strlen(value) &&
			         memcmp(msgs[i]->payload, value, msgs[i]->len) == 0;
			rd_kafka_message_destroy(msgs[i]);
		}
	}
	return found;
}

/*
 * A consumer that has had no partition for a while, in a group with no
 * more members than partitions, leaves and joins again (the count needs
 * ListGroups, which the mock lacks: the rejoin is called here directly).
 * Joined again, it reads; when joining again fails (a subscription
 * librdkafka refuses), it is out of the group for good and must say so.
 */
static void
a_rejoin_reads_again_or_fails_with_the_reason(void **state)
{
	const char *topics[1] = {"rejoin"};
	ecom_consumer *c = NULL;
	ecom_producer *p;
	ecom_config cfg;
	ecom_err err;

	(void)state;
	mock_config(&cfg, NULL);
	p = mock_producer(&cfg, topics[0]);
	if (ecom_consumer_new(&c, &cfg, "rejoin-group", topics, 1, "earliest", &err) < 0)
		fail_msg("%s", err.msg);
	if (ecom_producer_send(p, topics[0], NULL, 0, "before", 6, NULL, 0, &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(read_value(c, "before"));

	if (kafka_consumer_rejoin(c, &err) < 0)
		fail_msg("%s", err.msg);
	if (ecom_producer_send(p, topics[0], NULL, 0, "after", 5, NULL, 0, &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(read_value(c, "after"));

	rd_kafka_topic_partition_list_add(c->subscription, "", RD_KAFKA_PARTITION_UA);
	assert_int_equal(kafka_consumer_rejoin(c, &err), -1);
	assert_string_equal(err.msg, "consumer group 'rejoin-group': cannot join again: "
	                             "Local: Invalid argument or configuration");
	ecom_consumer_destroy(c);
	ecom_producer_destroy(p);
	ecom_config_free(&cfg);
}

/* test-kafka-mock [PATTERN]: only the tests whose names match (cmocka's filter). */
int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_window_above_one_batches_sends_unless_linger_is_given),
		cmocka_unit_test(a_lost_broker_is_retried_each_second_and_a_group_outlasts_its_coordinator_moving),
		cmocka_unit_test(keys_with_a_nul_and_of_1000_bytes_come_back_whole),
		cmocka_unit_test(event_headers_read_back_as_the_numbers_sent),
		cmocka_unit_test(a_send_waiting_for_room_returns_soon_after_a_stop_request),
		cmocka_unit_test(statistics_split_the_round_trips_the_test_timed),
		cmocka_unit_test(an_assignment_refused_fails_the_poll_with_the_reason),
		cmocka_unit_test(a_rejoin_reads_again_or_fails_with_the_reason),
	};

	ecom_log_init("test-kafka-mock");
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
