/*
 * The references a benchmark run is measured against, timed on the same
 * services just before (and after) the flow.
 *
 * One order in flight (window 1) is a chain of waits: its floor is one
 * Kafka produce→consume round trip per hop and one single-event write
 * per store write, each the median of `samples` timed alone.
 *
 * Many orders in flight is a pipeline: its ceiling is the slower of the
 * two services at full speed on the flow's own work: Kafka moving as
 * many messages (the events of `orders` orders) from a producer to a
 * consumer, and the store taking as many events in bulk writes, one
 * connection per event type as the stages use, with the fulfilment marks.
 */
#ifndef ECOM_MEASURE_H
#define ECOM_MEASURE_H

#include "ecom_config.h"
#include "ecom_log.h"
#include "ecom_store.h"

/* The median produce→consume round trip through a scratch topic, in ms. */
int ecom_measure_kafka_round_trip(const ecom_config *cfg, int samples, double *median_ms,
                                  ecom_err *err);
/* The median single-event write (a new order) to store, in ms; it leaves those orders there. */
int ecom_measure_store_write(ecom_store *store, int samples, double *median_ms, ecom_err *err);

/*
 * The seconds Kafka takes to move the flow's messages for `orders`
 * orders (five events each, their real sizes) from one producer to one
 * consumer through a scratch topic of cfg->partitions partitions.
 */
int ecom_measure_kafka_throughput(const ecom_config *cfg, long orders, double *seconds,
                                  ecom_err *err);
/*
 * The seconds cfg's store takes to write the five events of `orders`
 * orders in bulk writes of cfg->batch_size, five connections at once (one
 * per event type), and to mark them fulfilled; it leaves them there.
 */
int ecom_measure_store_throughput(const ecom_config *cfg, long orders, double *seconds,
                                  ecom_err *err);

#endif
