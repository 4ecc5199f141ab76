/*
 * librdkafka's own statistics of a client (statistics.interval.ms, the
 * stats callback), summed over a run: how long a message waits in the
 * client before it is sent, and how long the broker takes to answer.
 *
 * Each statistics document holds, per broker connection, windowed
 * histograms in µs of what happened since the previous document:
 * int_latency (a produced message in the client's queue until it is put
 * in a request), outbuf_latency (a request waiting to be written to the
 * socket) and rtt (a request sent until its response came: for a
 * consumer's fetch, the broker's wait for data, up to fetch.wait.max.ms,
 * is part of it).  A run's figure sums the windows: the mean is exact
 * (the windows' sums over their counts), the p99 is the windows' p99s
 * weighted by their counts, the max the largest window's.
 *
 * Only the connections to brokers count: librdkafka's logical
 * connections (GroupCoordinator, TxnCoordinator: group and transaction
 * requests) and its internal broker are left out.  Per partition,
 * consumers' documents give fetchq_cnt (messages fetched and waiting in
 * the client for the application's poll) and consumer_lag (the last
 * stable offset, under read_committed, less the committed offset: with
 * offsets committed once a second, about a second's messages); their
 * mean over the documents is kept.
 *
 * librdkafka does not say how long a fetched message waits in the
 * consumer before the application's poll takes it.  ecom measures that
 * itself (local_queue): from librdkafka putting a message in the empty
 * queue the application polls (rd_kafka_queue_cb_event_enable, called
 * on librdkafka's thread as the fetch response is read) to the poll
 * returning it: the hand-over between librdkafka's thread and ecom's,
 * wake-up included.  Only batches whose first message came to an empty
 * queue are timed: with one order in flight, all of them.
 */
#ifndef ECOM_KAFKA_STATS_H
#define ECOM_KAFKA_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "ecom_log.h"

/* One of librdkafka's windowed histograms, summed over the windows. */
typedef struct ecom_kafka_window {
	int64_t count;        /* values: the windows' cnt summed */
	int64_t sum_us;       /* their sum: the mean is sum_us / count */
	double p99_weight_us; /* each window's p99 times its cnt, summed */
	int64_t max_us;       /* the largest value of any window */
} ecom_kafka_window;

typedef struct ecom_kafka_stats {
	int64_t documents;  /* statistics documents read */
	int64_t unreadable; /* documents that were not the JSON expected */
	ecom_kafka_window int_latency;    /* producer: queued in the client */
	ecom_kafka_window outbuf_latency; /* a request waiting to be written */
	ecom_kafka_window rtt;            /* a request's round trip to the broker */
	/* Consumers: per partition and document, where it was being fetched. */
	int64_t fetch_samples;
	int64_t fetchq_cnt_sum;
	/* Consumers: per partition and document, where the lag was known. */
	int64_t partition_samples;
	int64_t consumer_lag_sum;
	/* Consumers: the local queue's wait, measured by ecom (above), µs. */
	struct {
		int64_t count, mean_us, p99_us, max_us;
	} local_queue;
} ecom_kafka_stats;

/* All zero. */
void ecom_kafka_stats_init(ecom_kafka_stats *stats);
/*
 * Add one statistics document (the stats callback's JSON, len bytes).
 * -1 with err when it is not JSON or not an object; stats->unreadable
 * then counts it and nothing else changes.
 */
int ecom_kafka_stats_add_json(ecom_kafka_stats *stats, const char *json, size_t len,
                              ecom_err *err);
/* The mean and weighted p99 of a window sum, µs; 0 when it has no value. */
double ecom_kafka_window_mean_us(const ecom_kafka_window *w);
double ecom_kafka_window_p99_us(const ecom_kafka_window *w);

#endif
