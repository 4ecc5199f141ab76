/*
 * Admin work: a client of its own for it, topics created and deleted,
 * how much a topic holds and how far a group lags behind it.
 */
#ifndef ECOM_KAFKA_ADMIN_H
#define ECOM_KAFKA_ADMIN_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecom_config.h"
#include "ecom_log.h"

typedef struct ecom_kafka_admin ecom_kafka_admin;

/* A client that only asks (metadata, admin requests): brokers checked as for a producer. */
int ecom_kafka_admin_new(ecom_kafka_admin **a, const ecom_config *cfg, ecom_err *err);
rd_kafka_t *ecom_kafka_admin_handle(ecom_kafka_admin *a);
void ecom_kafka_admin_destroy(ecom_kafka_admin *a);

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
/* Delete the topics that exist (reset). */
int ecom_kafka_delete_topics(rd_kafka_t *rk, const char *const *topics, size_t n,
                             int timeout_ms, ecom_err *err);
/* Sum of the high watermarks of a topic's partitions (messages ever produced). */
int ecom_kafka_topic_size(rd_kafka_t *rk, const char *topic, int timeout_ms, int64_t *size,
                          ecom_err *err);
/*
 * Events of topic that group has not committed yet (its consumer lag),
 * summed over the partitions: where orders are waiting.  Counted as a
 * read_committed reader gets them: a transaction's commit or abort
 * marker, and what an aborted transaction wrote, take offsets but are no
 * events waiting.  A partition more than 1,000 offsets behind is not
 * read: its offsets count, markers and all, as do those left when the
 * reading runs out of time (2 s at most).
 */
int ecom_kafka_group_lag(const ecom_config *cfg, const char *group, const char *topic,
                         int64_t *lag, ecom_err *err);

/*
 * Metadata that knows topic (NULL: any metadata), or -1 with "topic '…'
 * does not exist".  all_topics asks for every topic, as asking for one by
 * name may create it; otherwise *md holds topic alone, with partitions.
 * Destroy *md after use.
 */
int ecom_kafka_topic_metadata(rd_kafka_t *rk, const char *topic, bool all_topics, int timeout_ms,
                              const struct rd_kafka_metadata **md, ecom_err *err);
/* The result event of an admin request made on queue, or NULL without an answer in time. */
rd_kafka_event_t *ecom_kafka_admin_wait(rd_kafka_queue_t *queue, rd_kafka_event_type_t type,
                                        int timeout_ms);

#endif
