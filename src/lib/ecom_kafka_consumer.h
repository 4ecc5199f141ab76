/*
 * The consumer: in a group, or a reader of every partition without one;
 * messages taken in batches, offsets stored or held as the caller says.
 */
#ifndef ECOM_KAFKA_CONSUMER_H
#define ECOM_KAFKA_CONSUMER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecom_config.h"
#include "ecom_kafka_stats.h"
#include "ecom_log.h"

typedef struct ecom_consumer ecom_consumer;

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
/* librdkafka's statistics of this consumer so far, and its local queue's wait (ecom_kafka_stats.h). */
const ecom_kafka_stats *ecom_consumer_kafka_stats(ecom_consumer *c);
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
 * ecom_consumer_read_to_end()'s end is reached.  -1 on a fatal error,
 * when the brokers have been down longer than the retry bound, or when
 * the consumer could not take its group's assignment or join it again.
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
/* exactly_once: the offsets after msgs, for the transaction; destroy after use. */
rd_kafka_topic_partition_list_t *ecom_consumer_next_offsets(rd_kafka_message_t *const *msgs,
                                                            size_t n);
/* The group's metadata for send_offsets_to_transaction (fencing); destroy after use. */
rd_kafka_consumer_group_metadata_t *ecom_consumer_group_metadata(ecom_consumer *c);
/* Seek every assigned partition back to the group's committed offset (after an abort). */
int ecom_consumer_rewind(ecom_consumer *c, ecom_err *err);
/*
 * The messages of topic a read_committed reader sees, read to its end:
 * unlike the watermarks, without aborted messages and transaction markers.
 */
int ecom_kafka_count_committed(const ecom_config *cfg, const char *topic, int64_t *count,
                               ecom_err *err);
/* Commit stored offsets now (synchronously); used at shutdown. */
int ecom_consumer_commit(ecom_consumer *c, ecom_err *err);
void ecom_consumer_destroy(ecom_consumer *c);

/* A header's value as an integer, or -1. */
int64_t ecom_message_header_int(const rd_kafka_message_t *m, const char *name);

#endif
