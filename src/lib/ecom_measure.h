/*
 * The references a benchmark run is measured against, timed on the same
 * services just before, during and after the flow.
 *
 * One order in flight (window 1) is a chain of waits: its floor is one
 * Kafka produce→consume round trip per hop and one single-event write
 * per store write, done one after the other as the flow does them, with
 * nothing else: the mean of such chains, timed between the flow's orders.
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
#include "ecom_kafka_stats.h"
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
 * waking them costs (doc/performance-notes.md).
 */
typedef struct ecom_floor_times {
	int samples;          /* chains timed */
	double order_ms;      /* mean of the chains: one order */
	double order_median_ms; /* their median, for reference */
	/* The mean's spread: its 10th and 90th percentiles over resamples of the chains. */
	double order_p10_ms, order_p90_ms;
	double round_trip_ms; /* mean of the chains' round trips */
	double write_ms;      /* mean of the chains' event writes */
	double mark_ms;       /* mean of the chains' marks */
	/* librdkafka's statistics of the meter's producer and consumer: the round trip, split. */
	ecom_kafka_stats kafka_producer, kafka_consumer;
} ecom_floor_times;

/*
 * The floor is the mean of the chains, not their median: a run's elapsed
 * time is the sum of its orders' times, so the reference it is divided
 * by must be a sum of chains too, and the chains' times are skewed (a
 * slow wake-up, a collection) (doc/performance-notes.md §5).
 *
 * A meter owns its own producer, consumer (on a scratch topic) and store
 * connection, so chains can be timed between the flow's orders: the
 * flow's conditions (the store's growing tables, a checkpoint, a busy
 * neighbour) change over a run by more than the flow's overhead, and a
 * floor timed only before or after the run missed them.  Every chain's
 * order is taken out of the store again, untimed, before the next step,
 * so the flow's counts never see it.
 */
typedef struct ecom_floor_meter ecom_floor_meter;

/* The clients, the scratch topic, and one untimed chain (connections, fetch session). */
int ecom_floor_meter_open(ecom_floor_meter **meter, const ecom_config *cfg, ecom_err *err);
/* One chain, timed or not (to wake the clients and servers up: see ecom_measure_chain). */
int ecom_floor_meter_chain(ecom_floor_meter *meter, bool timed, ecom_err *err);
/* The chains so far; all zero when none. */
void ecom_floor_meter_times(ecom_floor_meter *meter, ecom_floor_times *times);
/* Clients closed, the scratch topic deleted; NULL is fine. */
void ecom_floor_meter_close(ecom_floor_meter *meter);

/*
 * `samples` chains back to back on a meter of their own.  Between the
 * flow's orders, a timed chain follows an untimed one in the same way,
 * so that each client and server connection was last used a moment
 * before, as the flow's are: a meter idle for a hundred orders answers
 * slower, which would have lifted the floor.
 */
int ecom_measure_chain(const ecom_config *cfg, int samples, ecom_floor_times *times,
                       ecom_err *err);

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
