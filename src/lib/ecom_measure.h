/*
 * The references a benchmark run is measured against, timed on the same
 * services just before (and after) the flow.
 *
 * One order in flight (window 1) is a chain of waits: its floor is one
 * Kafka produce→consume round trip per hop and one single-event write
 * per store write, done one after the other as the flow does them, with
 * nothing else: the median of `samples` such chains.
 *
 * Many orders in flight is a pipeline: its ceiling is the slower of the
 * two services at full speed on the flow's own work: Kafka moving as
 * many messages (the events of `orders` orders) from a producer to a
 * consumer, and the store taking as many events in bulk writes, one
 * connection per event type as the stages use, with the fulfilment marks.
 */
#ifndef ECOM_MEASURE_H
#define ECOM_MEASURE_H

#include <stdbool.h>

#include "ecom_config.h"
#include "ecom_log.h"
#include "ecom_store.h"

/*
 * One order's worth of the services' work, done as a chain, each step
 * when the one before is done, as the flow's steps are: five times a
 * produce→consume round trip through a scratch topic and the single
 * write of one of the order's events (ordercreated … orderfulfilled),
 * then the fulfilment mark, on one connection of each kind.  Timed as a
 * chain rather than as separate back-to-back operations because, between
 * two steps of a closed loop, the clients and the servers wait, and
 * waking them costs: on the dev stack a single PostgreSQL write took
 * 0.23 ms back to back and 0.65 ms after 8 ms idle.
 */
typedef struct ecom_floor_times {
	double order_ms;      /* median of the chains: one order */
	double round_trip_ms; /* median of the chains' round trips */
	double write_ms;      /* median of the chains' event writes */
	double mark_ms;       /* median of the chains' marks */
} ecom_floor_times;

/*
 * `samples` chains (one untimed first); with remove_writes, the orders
 * written are deleted afterwards (else they stay, for a reset to clear).
 */
int ecom_measure_chain(const ecom_config *cfg, ecom_store *store, int samples, bool remove_writes,
                       ecom_floor_times *times, ecom_err *err);

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
