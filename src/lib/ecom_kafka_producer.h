/*
 * The producer: messages queued without waiting, keyed (any bytes) and
 * with string headers; acknowledgements checked without waiting or
 * waited for, through an outage up to the retry bound.
 */
#ifndef ECOM_KAFKA_PRODUCER_H
#define ECOM_KAFKA_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecom_config.h"
#include "ecom_kafka_stats.h"
#include "ecom_log.h"

typedef struct ecom_producer ecom_producer;

int ecom_producer_new(ecom_producer **p, const ecom_config *cfg, ecom_err *err);
rd_kafka_t *ecom_producer_handle(ecom_producer *p);
/* Stop waiting for acknowledgements, or for room in the queue, once *stop is set. */
void ecom_producer_set_stop(ecom_producer *p, ecom_stop_flag *stop);
/* message.max.bytes: what one message, key and headers included, may take. */
size_t ecom_producer_max_message_bytes(const ecom_producer *p);
/* Learn where topic's partitions lead now, so that the first send to it does not wait. */
int ecom_producer_warm(ecom_producer *p, const char *topic, ecom_err *err);
/*
 * Queue one message: key is key_len bytes, any bytes (NULL: no key);
 * headers are name/value string pairs (n_headers pairs, may be 0).
 * While librdkafka's queue is full this waits for room, until the
 * producer's stop flag is set.  Delivery is checked by ecom_producer_flush().
 */
int ecom_producer_send(ecom_producer *p, const char *topic, const void *key, size_t key_len,
                       const void *value, size_t len, const char *const *headers,
                       size_t n_headers, ecom_err *err);
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
/*
 * Serve what librdkafka queued for the application (delivery reports,
 * errors, statistics) without waiting: for a producer that sends nothing
 * for a while, whose statistics would otherwise pile up.
 */
void ecom_producer_serve(ecom_producer *p);
/* librdkafka's statistics of this producer so far (ecom_kafka_stats.h). */
const ecom_kafka_stats *ecom_producer_kafka_stats(const ecom_producer *p);
/* Aborts a transaction left open. */
void ecom_producer_destroy(ecom_producer *p);

/*
 * exactly_once: a transactional producer (init_transactions done, which
 * fences an earlier producer with the same id).  Its first send begins
 * a transaction; ecom_producer_commit() ends it.
 */
int ecom_producer_new_transactional(ecom_producer **p, const ecom_config *cfg,
                                    const char *transactional_id, ecom_err *err);
bool ecom_producer_transactional(const ecom_producer *p);
bool ecom_producer_in_transaction(const ecom_producer *p);
/* A send was refused inside the transaction: it can only be aborted. */
bool ecom_producer_txn_needs_abort(const ecom_producer *p);
/* Monotonic µs when the open transaction began. */
int64_t ecom_producer_txn_began_us(const ecom_producer *p);
/* Begin a transaction now (a no-op when one is open or the producer is not transactional). */
int ecom_producer_begin(ecom_producer *p, ecom_err *err);
/*
 * Commit the open transaction, the consumed offsets (may be NULL) with
 * it in the group of `group`; retriable errors are tried again up to
 * the retry bound.  0: committed (or nothing to commit); 1: the
 * transaction had to be aborted (err says why): nothing of it is visible,
 * the caller rewinds to the committed offsets and redoes; -1: fatal, or
 * fenced ("fenced: another instance with transactional.id … took over").
 */
int ecom_producer_commit(ecom_producer *p, const rd_kafka_topic_partition_list_t *offsets,
                         const rd_kafka_consumer_group_metadata_t *group, ecom_err *err);
/* Abort the open transaction (a no-op without one). */
int ecom_producer_abort(ecom_producer *p, ecom_err *err);

#endif
