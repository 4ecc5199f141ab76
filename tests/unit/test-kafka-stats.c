/*
 * Unit tests: librdkafka's statistics read by ecom_kafka_stats_add_json().
 * The oracle is librdkafka's own output: documents captured from the dev
 * stack (librdkafka 2.0.2, a producer and a consumer passing one message
 * back and forth; tests/unit/data/rdkafka-stats-*.json), and figures
 * worked out from those files by hand (sums of the windows' "sum", "cnt",
 * "p99" × "cnt" and "max" of the broker connections, not the logical
 * GroupCoordinator).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecom_kafka_stats.h"

/* A captured document, whole; free() it. */
static char *
read_capture(const char *name, size_t *len)
{
	const char *srcdir = getenv("ECOM_SRCDIR");
	char path[1024];
	FILE *f;
	char *text;
	long size;

	snprintf(path, sizeof(path), "%s/tests/unit/data/%s", srcdir ? srcdir : ".", name);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = malloc((size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return text;
}

static void
add_capture(ecom_kafka_stats *stats, const char *name)
{
	size_t len;
	char *json = read_capture(name, &len);
	ecom_err err;

	assert_int_equal(ecom_kafka_stats_add_json(stats, json, len, &err), 0);
	free(json);
}

static void
assert_window(const ecom_kafka_window *w, int64_t count, int64_t sum_us, double p99_us,
              int64_t max_us)
{
	assert_int_equal(w->count, count);
	assert_int_equal(w->sum_us, sum_us);
	assert_int_equal(w->max_us, max_us);
	assert_true(ecom_kafka_window_p99_us(w) > p99_us - 0.01 &&
	            ecom_kafka_window_p99_us(w) < p99_us + 0.01);
	assert_true(ecom_kafka_window_mean_us(w) == (double)sum_us / (double)count);
}

/* Two windows of a producer: their counts and sums add, the p99s weigh by count. */
static void
a_producers_two_windows_sum_to_the_hand_figures(void **state)
{
	ecom_kafka_stats stats;

	(void)state;
	ecom_kafka_stats_init(&stats);
	add_capture(&stats, "rdkafka-stats-producer-1.json");
	add_capture(&stats, "rdkafka-stats-producer-2.json");
	assert_int_equal(stats.documents, 2);
	assert_int_equal(stats.unreadable, 0);
	/* 299 + 363 values; sums 6169 + 38691; p99 (115·299 + 121·363) / 662 */
	assert_window(&stats.int_latency, 662, 44860, 118.290, 28092);
	assert_window(&stats.outbuf_latency, 662, 91881, 1404.849, 3728);
	assert_window(&stats.rtt, 662, 1157892, 17684.269, 76903);
	/* 67.76 µs, 138.79 µs, 1.749 ms: the means the report shows */
	assert_true(ecom_kafka_window_mean_us(&stats.rtt) > 1749.08 &&
	            ecom_kafka_window_mean_us(&stats.rtt) < 1749.09);
	/* A producer's partitions have no fetch queue: not counted. */
	assert_int_equal(stats.partition_samples, 0);
	assert_int_equal(stats.fetch_samples, 0);
}

/* A consumer: its fetches' round trips, not the group coordinator's; its partition, not -1. */
static void
a_consumers_document_leaves_out_the_coordinator(void **state)
{
	ecom_kafka_stats stats;

	(void)state;
	ecom_kafka_stats_init(&stats);
	add_capture(&stats, "rdkafka-stats-consumer.json");
	assert_int_equal(stats.documents, 1);
	/* the broker's 382 requests; the GroupCoordinator's one (1212 µs) would make 383 */
	assert_window(&stats.rtt, 382, 994220, 30591.0, 114411);
	assert_window(&stats.outbuf_latency, 382, 60905, 2415.0, 4345);
	/* consumers queue no messages to send */
	assert_int_equal(stats.int_latency.count, 0);
	assert_true(ecom_kafka_window_mean_us(&stats.int_latency) == 0.0);
	/* partition 0: fetchq_cnt 0, consumer_lag 39; partition -1 left out */
	assert_int_equal(stats.partition_samples, 1);
	assert_int_equal(stats.fetch_samples, 1); /* fetch_state "active" */
	assert_int_equal(stats.fetchq_cnt_sum, 0);
	assert_int_equal(stats.consumer_lag_sum, 39);
}

static void
assert_unreadable_changes_nothing_else(const char *json, size_t len)
{
	ecom_kafka_stats stats, before;
	ecom_err err;

	ecom_kafka_stats_init(&stats);
	add_capture(&stats, "rdkafka-stats-producer-1.json");
	before = stats;
	memset(&err, 0, sizeof(err));
	assert_int_equal(ecom_kafka_stats_add_json(&stats, json, len, &err), -1);
	if (strncmp(err.msg, "kafka statistics: ", 18) != 0 || strlen(err.msg) <= 18)
		fail_msg("message: '%s'", err.msg);
	assert_int_equal(stats.unreadable, 1);
	before.unreadable = 1;
	assert_memory_equal(&stats, &before, sizeof(stats));
}

/* Not JSON, or a document cut short: counted as unreadable, and the sums stay as they were. */
static void
an_unreadable_document_is_counted_and_adds_nothing(void **state)
{
	size_t len;
	char *json = read_capture("rdkafka-stats-producer-2.json", &len);

	(void)state;
	assert_unreadable_changes_nothing_else("not json", 8);
	assert_unreadable_changes_nothing_else(json, len / 2);
	assert_unreadable_changes_nothing_else("", 0);
	free(json);
}

/* JSON without the parts looked for (another librdkafka, a broker of no traffic): nothing added. */
static void
a_document_without_brokers_adds_nothing_but_itself(void **state)
{
	static const char *const docs[] = {
	    "{\"type\": \"producer\"}",
	    "{\"type\": \"consumer\", \"brokers\": 5, \"topics\": []}",
	    "{\"type\": \"producer\", \"brokers\": {\"b\": {\"source\": \"learned\", "
	    "\"rtt\": {\"cnt\": 0, \"sum\": 0, \"p99\": 0, \"max\": 0}}}}",
	    "{\"type\": \"consumer\", \"topics\": {\"t\": {\"partitions\": {\"0\": "
	    "{\"partition\": 0, \"fetchq_cnt\": 3, \"consumer_lag\": -1}}}}}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		ecom_kafka_stats stats, zero;
		ecom_err err;

		ecom_kafka_stats_init(&stats);
		ecom_kafka_stats_init(&zero);
		assert_int_equal(ecom_kafka_stats_add_json(&stats, docs[i], strlen(docs[i]), &err), 0);
		zero.documents = 1;
		assert_memory_equal(&stats, &zero, sizeof(stats));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_producers_two_windows_sum_to_the_hand_figures),
	    cmocka_unit_test(a_consumers_document_leaves_out_the_coordinator),
	    cmocka_unit_test(an_unreadable_document_is_counted_and_adds_nothing),
	    cmocka_unit_test(a_document_without_brokers_adds_nothing_but_itself),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
