/*
 * What the Kafka files (ecom_kafka_client.c, _conf.c, _admin.c,
 * _producer.c, _consumer.c) share and no command sees: the client core
 * every handle starts with (its error state and outage), and helpers
 * more than one of them uses.  Not installed, not for commands; the
 * mock-cluster unit tests include it to reach a consumer's state.
 */
#ifndef ECOM_KAFKA_IMPL_H
#define ECOM_KAFKA_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecom_kafka.h"
#include "ecom_kafka_stats.h"
#include "ecom_metrics.h"
#include "ecom_retry.h"

/* How long a cluster may take to tell every broker of a new topic. */
#define TOPIC_PROPAGATION_MS 2000
/* Questions asked while things may be stuck (lag, group members) get this bound. */
#define LAG_TIMEOUT_MS 2000

/*
 * What a client's callbacks saw.  error_cb, rebalance_cb and delivery
 * reports are served by rd_kafka_poll() and rd_kafka_consumer_poll(), in
 * the thread that polls the client, so nothing here needs a lock.
 * log_cb runs on librdkafka's own threads: it touches none of this.
 */
typedef struct kafka_client {
	rd_kafka_t *rk;
	char brokers[256];
	char last_error[512];
	char last_warned[512];
	ecom_outage outage;
	int64_t down_since_us; /* monotonic: all brokers down since; 0 when not */
	int64_t last_probe_us; /* monotonic: the last check whether the brokers are back */
	ecom_stop_flag *stop;
	int timeout_ms;
	int retry_timeout_ms; /* the bound on riding out an outage (a partition without its leader) */
	bool started; /* past the start-up check */
	int refused;  /* at start-up: a login or TLS failure (rd_kafka_resp_err_t), else 0 */
	char group[256]; /* consumers in a group: its name, for messages */
	bool announce_rebalances;
	bool assigned; /* the group has given this consumer its partitions (maybe none) */
	int64_t assigned_nothing_us; /* monotonic: the group gave it no partition, since; else 0 */
	char rebalance_failed[1024]; /* an assignment that could not be taken, for poll to report */
	ecom_kafka_stats stats; /* librdkafka's statistics, summed (kafka_stats_cb) */
} kafka_client;

/* -e: where a partition ends, as of when reading started. */
struct partition_end {
	int32_t partition;
	int64_t offset; /* the high watermark then: the offset after the last message */
	bool reached;
};

struct ecom_consumer {
	kafka_client kc; /* first: the callbacks' opaque */
	struct partition_end *end; /* NULL unless reading to the end */
	int end_count;
	int ended;
	/* Offsets of processed messages, held until what they produced is acknowledged. */
	rd_kafka_topic_partition_list_t *deferred;
	int64_t deferred_since_us; /* monotonic; 0 when none is held */
	rd_kafka_topic_partition_list_t *subscription; /* NULL unless in a group */
	int64_t empty_checked_us; /* monotonic: when an empty assignment was last questioned */
	bool commits_itself; /* enable.auto.commit=false (exactly_once): stored offsets are committed at once */
	/*
	 * The local queue's wait: librdkafka calls queue_event_cb on its own
	 * thread when it puts something in the empty queue polled, which
	 * stores the time; the first message a poll returns then waited from
	 * then (ecom_kafka_stats.h, local_queue).
	 */
	rd_kafka_queue_t *queue;
	atomic_llong queued_us; /* monotonic; 0 when taken */
	ecom_latency local_queue;
};

/* ---- the client core (ecom_kafka_client.c) ---- */

void kafka_client_init(kafka_client *kc, const ecom_config *cfg);
/* The callbacks every client is configured with (by ecom_kafka_conf). */
void kafka_log_cb(const rd_kafka_t *rk, int level, const char *facility, const char *message);
void kafka_error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque);
int kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque);
/* " (last error: …)" for messages, or "". */
const char *kafka_last_error_note(const kafka_client *kc, char *buf, size_t size);
/* The brokers answer again: end the outage, saying so if it was said. */
void kafka_client_brokers_back(kafka_client *kc);
/* While all brokers are down: are they back?  -1 with err past the retry bound. */
int kafka_client_check_outage(kafka_client *kc, ecom_err *err);
/* Start-up: the brokers answer within timeout_ms, or -1 with what librdkafka saw. */
int kafka_client_check_brokers(kafka_client *kc, bool is_consumer, ecom_err *err);
/* The partitions of an existing topic, asked by name; destroy *md after use. */
int kafka_topic_partitions(kafka_client *kc, const char *topic,
                           const struct rd_kafka_metadata **md, ecom_err *err);

/* ---- the consumer (ecom_kafka_consumer.c) ---- */

/*
 * A poll served something other than a message (a statistics document):
 * the time queue_event_cb took was that one's, so it is dropped; a
 * message that came behind it, to a queue not empty, goes untimed.
 */
void kafka_consumer_queue_served(ecom_consumer *c);
/* Leave the group and join it again (an empty assignment questioned); -1 when that fails. */
int kafka_consumer_rejoin(ecom_consumer *c, ecom_err *err);

/* ---- configuration (ecom_kafka_conf.c) ---- */

/* One property; the value is named in err only when it is no secret. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, ecom_err *err);

/* ---- admin (ecom_kafka_admin.c) ---- */

/* A partition's watermarks, asked again while its leader is being chosen. */
rd_kafka_resp_err_t kafka_partition_watermarks(rd_kafka_t *rk, const char *topic,
                                               int32_t partition, int timeout_ms, int64_t *low,
                                               int64_t *high);

#endif
