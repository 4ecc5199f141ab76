/* librdkafka's statistics summed over a run (ecom_kafka_stats.h). */
#include "ecom_kafka_stats.h"

#include <bson/bson.h>
#include <string.h>

void
ecom_kafka_stats_init(ecom_kafka_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
}

/* The integer at key of the document it points into, or 0. */
static int64_t
int_at(const bson_iter_t *doc, const char *key)
{
	bson_iter_t child;

	if (!bson_iter_recurse(doc, &child) || !bson_iter_find(&child, key) ||
	    !BSON_ITER_HOLDS_NUMBER(&child))
		return 0;
	return bson_iter_as_int64(&child);
}

/* Whether doc's string at key is value. */
static bool
str_is(const bson_iter_t *doc, const char *key, const char *value)
{
	bson_iter_t child;

	return bson_iter_recurse(doc, &child) && bson_iter_find(&child, key) &&
	       BSON_ITER_HOLDS_UTF8(&child) && strcmp(bson_iter_utf8(&child, NULL), value) == 0;
}

/* One window: {"cnt", "sum", "p99", "max", …} at key of a broker's document. */
static void
add_window(ecom_kafka_window *w, const bson_iter_t *broker, const char *key)
{
	bson_iter_t child;
	int64_t cnt;

	if (!bson_iter_recurse(broker, &child) || !bson_iter_find(&child, key) ||
	    !BSON_ITER_HOLDS_DOCUMENT(&child))
		return;
	cnt = int_at(&child, "cnt");
	if (cnt <= 0)
		return;
	w->count += cnt;
	w->sum_us += int_at(&child, "sum");
	w->p99_weight_us += (double)int_at(&child, "p99") * (double)cnt;
	if (int_at(&child, "max") > w->max_us)
		w->max_us = int_at(&child, "max");
}

/* A real broker's connection: not a logical one (coordinators) nor the internal one. */
static bool
is_broker_connection(const bson_iter_t *broker)
{
	bson_iter_t source;
	const char *s;

	if (!bson_iter_recurse(broker, &source) || !bson_iter_find(&source, "source") ||
	    !BSON_ITER_HOLDS_UTF8(&source))
		return true; /* older librdkafka: no "source"; the internal broker has no traffic */
	s = bson_iter_utf8(&source, NULL);
	return strcmp(s, "logical") != 0 && strcmp(s, "internal") != 0;
}

static void
add_brokers(ecom_kafka_stats *stats, const bson_iter_t *brokers)
{
	bson_iter_t broker;

	if (!bson_iter_recurse(brokers, &broker))
		return;
	while (bson_iter_next(&broker)) {
		if (!BSON_ITER_HOLDS_DOCUMENT(&broker) || !is_broker_connection(&broker))
			continue;
		add_window(&stats->int_latency, &broker, "int_latency");
		add_window(&stats->outbuf_latency, &broker, "outbuf_latency");
		add_window(&stats->rtt, &broker, "rtt");
	}
}

/* Consumers: each partition's fetch queue and lag (partition -1 is librdkafka's unassigned). */
static void
add_partitions(ecom_kafka_stats *stats, const bson_iter_t *topics)
{
	bson_iter_t topic, parts, part;

	if (!bson_iter_recurse(topics, &topic))
		return;
	while (bson_iter_next(&topic)) {
		if (!BSON_ITER_HOLDS_DOCUMENT(&topic) || !bson_iter_recurse(&topic, &parts) ||
		    !bson_iter_find(&parts, "partitions") || !BSON_ITER_HOLDS_DOCUMENT(&parts) ||
		    !bson_iter_recurse(&parts, &part))
			continue;
		while (bson_iter_next(&part)) {
			int64_t lag;

			if (!BSON_ITER_HOLDS_DOCUMENT(&part) || int_at(&part, "partition") < 0)
				continue;
			/* The fetch queue of a partition being fetched, whether or
			 * not the group has committed an offset for it yet. */
			if (str_is(&part, "fetch_state", "active")) {
				stats->fetch_samples++;
				stats->fetchq_cnt_sum += int_at(&part, "fetchq_cnt");
			}
			/* -1: no committed offset yet (the first commit comes after
			 * auto.commit.interval.ms), or a partition not consumed */
			lag = int_at(&part, "consumer_lag");
			if (lag < 0)
				continue;
			stats->partition_samples++;
			stats->consumer_lag_sum += lag;
		}
	}
}

int
ecom_kafka_stats_add_json(ecom_kafka_stats *stats, const char *json, size_t len, ecom_err *err)
{
	bson_error_t error;
	bson_t *doc = bson_new_from_json((const uint8_t *)json, (ssize_t)len, &error);
	bson_iter_t it;
	bool consumer = false;

	if (doc == NULL) {
		stats->unreadable++;
		return ecom_err_set(err, "kafka statistics: %s", error.message);
	}
	stats->documents++;
	if (bson_iter_init_find(&it, doc, "type") && BSON_ITER_HOLDS_UTF8(&it))
		consumer = strcmp(bson_iter_utf8(&it, NULL), "consumer") == 0;
	if (bson_iter_init_find(&it, doc, "brokers") && BSON_ITER_HOLDS_DOCUMENT(&it))
		add_brokers(stats, &it);
	if (consumer && bson_iter_init_find(&it, doc, "topics") && BSON_ITER_HOLDS_DOCUMENT(&it))
		add_partitions(stats, &it);
	bson_destroy(doc);
	return 0;
}

double
ecom_kafka_window_mean_us(const ecom_kafka_window *w)
{
	return w->count > 0 ? (double)w->sum_us / (double)w->count : 0.0;
}

double
ecom_kafka_window_p99_us(const ecom_kafka_window *w)
{
	return w->count > 0 ? w->p99_weight_us / (double)w->count : 0.0;
}
