/*
 * Kafka clients set up from the configuration.
 *
 * The clients start from the defaults in ecom_kafka.c (producer_defaults,
 * consumer_defaults; -X dump shows them), under the file's and -X
 * properties: sent at once (linger.ms=0), the producer idempotent
 * (acks=all), and consumers that store offsets only when told
 * (enable.auto.offset.store=false) and commit the stored ones.
 */
#ifndef ECOM_KAFKA_H
#define ECOM_KAFKA_H

#include <bson/bson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "ecom_config.h"
#include "ecom_log.h"

/* Headers the stages put on every event they produce (µs since the epoch). */
#define ECOM_HDR_SENT_US "ecom-sent-us"         /* when this message was produced */
#define ECOM_HDR_ORDER_START_US "ecom-order-us" /* when its order was created */
#define ECOM_HDR_DLQ_REASON "ecom-error"        /* dead letters: why */
#define ECOM_HDR_DLQ_TOPIC "ecom-source-topic"  /* dead letters: where from */
#define ECOM_HDR_DLQ_TRUNCATED "ecom-truncated"  /* dead letters: the original length, when cut */

typedef struct ecom_producer ecom_producer;
typedef struct ecom_consumer ecom_consumer;

/*
 * Apply cfg->kafka on top of the defaults; -1 with the property named on
 * an unknown or bad one.  kind: "producer" or "consumer".
 */
int ecom_kafka_conf(const ecom_config *cfg, const char *kind, rd_kafka_conf_t **conf, ecom_err *err);
/* The properties make a client: those refused only then (a missing CA file) too. */
int ecom_kafka_check_config(const ecom_config *cfg, ecom_err *err);
/* librdkafka's version, "2.0.2". */
const char *ecom_kafka_version(void);
/*
 * -X dump's "kafka:" mapping: the properties ecom sets and those given,
 * secrets shown as "***", each marked when it is for producers or
 * consumers only.
 */
void ecom_kafka_dump(const ecom_config *cfg, FILE *out);
/* Print librdkafka's property list (-X list). */
void ecom_kafka_print_properties(void);

/*
 * Create the topics (with cfg prefix already applied) that do not exist,
 * with `partitions` partitions and `replication_factor` replicas each;
 * replication_factor 0 means min(3, brokers in the cluster's metadata),
 * counted now among the brokers that are up: a topic created while one of
 * three is down gets 2.
 */
int ecom_kafka_ensure_topics(rd_kafka_t *rk, const char *const *topics, size_t n,
                             int partitions, int replication_factor, int timeout_ms, ecom_err *err);
/* The replication factor ensure_topics uses for 0: min(3, brokers). */
int ecom_kafka_default_replication(rd_kafka_t *rk, int timeout_ms, int *replication_factor,
                                   ecom_err *err);

/*
 * The cluster as kcat -L shows it, one JSON document at a time to emit():
 * first {"brokers": [{"id", "host", "port"}, ...]}, then, sorted by name,
 * one per topic (every topic, internal ones included, or only `topic`):
 * {"topic", "partitions": [{"partition", "leader", "replicas", "isr"}, ...],
 * "min_insync_replicas"}, with "error" on a topic or partition the
 * metadata reports one for.  min_insync_replicas is the topic's effective
 * configuration, left out (with a warning) when the cluster does not say.
 * -1 when `topic` does not exist, the cluster does not answer within
 * timeout_ms, or emit() returns -1.
 */
typedef int (*ecom_kafka_emit_fn)(const bson_t *doc, void *arg, ecom_err *err);
int ecom_kafka_describe(rd_kafka_t *rk, const char *topic, int timeout_ms, ecom_kafka_emit_fn emit,
                        void *arg, ecom_err *err);

/* Delete the topics that exist (reset). */
int ecom_kafka_delete_topics(rd_kafka_t *rk, const char *const *topics, size_t n,
                             int timeout_ms, ecom_err *err);
/* Sum of the high watermarks of a topic's partitions (messages ever produced). */
int ecom_kafka_topic_size(rd_kafka_t *rk, const char *topic, int timeout_ms, int64_t *size,
                          ecom_err *err);

/*
 * Clients check at once that the brokers answer (within timeout_ms, else
 * -1 with what librdkafka saw: refused, TLS, SASL).  Once running, they
 * ride out an outage for up to retry_timeout_ms: a warning when all
 * brokers are down, a line when they are back, an error after the bound.
 *//*
 * Messages of topic that group has not committed yet (its consumer lag),
 * summed over the partitions: where orders are waiting.
 */
int ecom_kafka_group_lag(const ecom_config *cfg, const char *group, const char *topic,
                         int64_t *lag, ecom_err *err);

int ecom_producer_new(ecom_producer **p, const ecom_config *cfg, ecom_err *err);
rd_kafka_t *ecom_producer_handle(ecom_producer *p);
/* Stop waiting for acknowledgements once *stop is set. */
void ecom_producer_set_stop(ecom_producer *p, ecom_stop_flag *stop);
/* message.max.bytes: what one message, key and headers included, may take. */
size_t ecom_producer_max_message_bytes(const ecom_producer *p);
/* Learn where topic's partitions lead now, so that the first send to it does not wait. */
int ecom_producer_warm(ecom_producer *p, const char *topic, ecom_err *err);
/*
 * Queue one message; headers are name/value string pairs (n_headers
 * pairs, may be 0).  Delivery is checked by ecom_producer_flush().
 */
int ecom_producer_send(ecom_producer *p, const char *topic, const char *key, const void *value,
                       size_t len, const char *const *headers, size_t n_headers, ecom_err *err);
/*
 * Queue one event of the flow: keyed by its order id, with the two
 * timing headers (produced now; its order created at order_us).
 */
int ecom_producer_send_event(ecom_producer *p, const char *topic, const char *order_id,
                             const char *json, size_t len, int64_t order_us, ecom_err *err);
/*
 * Without waiting: 1 when everything produced so far is acknowledged, 0
 * while some is not yet, -1 when a delivery failed.
 */
int ecom_producer_all_acked(ecom_producer *p, ecom_err *err);
/*
 * Wait until every queued message is acknowledged, through an outage up
 * to the retry bound; -1 if any failed, the bound passed, or *stop.
 */
int ecom_producer_flush(ecom_producer *p, ecom_err *err);
void ecom_producer_destroy(ecom_producer *p);

/*
 * A consumer in group `group` subscribed to topics, which must exist.
 * offset_reset is librdkafka's auto.offset.reset ("earliest",
 * "latest"); the group's committed offsets win over it.
 */
int ecom_consumer_new(ecom_consumer **c, const ecom_config *cfg, const char *group,
                      const char *const *topics, size_t n, const char *offset_reset, ecom_err *err);
/*
 * A reader without a group: every partition of topic from start_offset
 * (RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_END or an offset); commits nothing.
 */
int ecom_consumer_new_assign(ecom_consumer **c, const ecom_config *cfg, const char *topic,
                             int64_t start_offset, ecom_err *err);
void ecom_consumer_set_stop(ecom_consumer *c, ecom_stop_flag *stop);
/* Say each new assignment of partitions (without this, only -v shows them). */
void ecom_consumer_announce_rebalances(ecom_consumer *c);
/* True once the group has assigned this consumer its partitions (maybe none). */
bool ecom_consumer_assigned(const ecom_consumer *c);
/* True while the consumer has seen all brokers down and not yet back. */
bool ecom_consumer_brokers_down(const ecom_consumer *c);
/*
 * Read topic only up to its end as of now (its high watermarks): later
 * messages are not returned, and poll_batch's *eof says when every
 * partition is read to there.  -1 if the topic does not exist.
 */
int ecom_consumer_read_to_end(ecom_consumer *c, const char *topic, ecom_err *err);
/*
 * Wait up to timeout_ms for the first message, then take what is already
 * there without waiting, up to max.  Partition ends and transient errors
 * are not returned as messages; *eof (may be NULL) is true once
 * ecom_consumer_read_to_end()'s end is reached.  -1 on a fatal error or
 * when the brokers have been down longer than the retry bound.
 */
int ecom_consumer_poll_batch(ecom_consumer *c, rd_kafka_message_t **msgs, size_t max,
                             int timeout_ms, size_t *n, bool *eof, ecom_err *err);
/* Store offsets after the messages (offset + 1) for the next commit. */
int ecom_consumer_store(ecom_consumer *c, rd_kafka_message_t *const *msgs, size_t n, ecom_err *err);
/*
 * Hold the offsets after msgs until ecom_consumer_store_deferred(): for a
 * stage that goes on polling while what it produced is being
 * acknowledged.  deferred_since is when the oldest held offset came (0:
 * none held).
 */
void ecom_consumer_defer(ecom_consumer *c, rd_kafka_message_t *const *msgs, size_t n);
int64_t ecom_consumer_deferred_since(const ecom_consumer *c);
int ecom_consumer_store_deferred(ecom_consumer *c, ecom_err *err);
/* Commit stored offsets now (synchronously); used at shutdown. */
int ecom_consumer_commit(ecom_consumer *c, ecom_err *err);
void ecom_consumer_destroy(ecom_consumer *c);

/* A header's value as an integer, or -1. */
int64_t ecom_message_header_int(const rd_kafka_message_t *m, const char *name);

#endif
