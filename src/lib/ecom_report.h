/*
 * The parts of a run's report that ecom-reconcile --drive and ecom-bench
 * share, built from the reconcile stage's statistics.  Durations are in
 * milliseconds or seconds, rounded to the microsecond.
 */
#ifndef ECOM_REPORT_H
#define ECOM_REPORT_H

#include <bson/bson.h>
#include <stdbool.h>

#include "ecom_cpu.h"
#include "ecom_kafka_stats.h"
#include "ecom_reconcile.h"
#include "ecom_stage.h"

/* The run's timing, as the elapsed time and orders/s need it. */
typedef struct ecom_run_timing {
	int64_t orders;           /* fulfilled in all, this run and before it */
	int64_t orders_this_run;  /* fulfilled by this run */
	int64_t orders_before;    /* fulfilled before this run began (a resume) */
	bool complete;            /* all the orders asked for are fulfilled */
	int64_t started_us;       /* wall clock; 0 when this run drove no order */
	int64_t ended_us;         /* wall clock after its last count, flush and commit; 0 when none */
	double elapsed_s;         /* ended - started - paused, monotonic; 0 when this run fulfilled nothing */
	double orders_per_s;      /* orders_this_run / elapsed_s; 0 when elapsed is 0 */
} ecom_run_timing;

void ecom_run_timing_of(ecom_run_timing *timing, const ecom_stage_stats *reconcile,
                        long orders_wanted);
/*
 * "orders", "complete", "start" and "end" (ISO-8601, or null when this
 * run fulfilled nothing), "elapsed_s", "orders_per_s", and for a resumed
 * run "orders_this_run" and "resumed_from".
 */
void ecom_report_timing(bson_t *report, const ecom_run_timing *timing);
/*
 * How the load was offered: "loop" ("closed" or "open"), "window" (closed)
 * or "open_loop" {rate, arrivals, warmup_s, warmup_orders, backlog_max,
 * backlog_peak, achieved_per_s, send_lag}, "sustainable" (null for a
 * closed loop), and "latency" naming what end_to_end_latency measures.
 */
/* An open loop's orders per second after the warm-up: its orders and its time both left out. */
double ecom_report_achieved_per_s(const ecom_open_loop *open, const ecom_run_timing *timing,
                                  const ecom_stage_stats *reconcile);
void ecom_report_load(bson_t *report, const ecom_open_loop *open, int window,
                      const ecom_run_timing *timing, const ecom_stage_stats *reconcile);
/* {"count", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "p9999_ms", "max_ms"} under key. */
void ecom_report_latency(bson_t *parent, const char *key, const ecom_latency *lat);
/* {"poll_wait": {"p50_ms", "p99_ms"}, "decode": …} under key: the phases that ran. */
void ecom_report_phases(bson_t *parent, const char *key, ecom_stage_stats *stats);
/*
 * "cpu": what a run cost in CPU per event (an order is five events):
 * this process ("ecom"; with stage_us, each stage's thread and the rest),
 * the broker and the store over the same interval, and which of the
 * three used the most: on a shared machine the largest sets the pace.
 * svc NULL: not measured, and why_not says why.
 */
void ecom_report_cpu(bson_t *report, const ecom_cpu_services *svc, const ecom_cpu_snapshot *used,
                     const int64_t *stage_us, int64_t events, const char *why_not);
/*
 * librdkafka's own split of a stage's Kafka hops (ecom_kafka_stats.h)
 * under key: "producer" {"documents", "client_queue_int_latency",
 * "send_buffer_outbuf_latency", "broker_round_trip_rtt"} and "consumer"
 * {"documents", "fetch_round_trip_rtt" (the broker's wait for data
 * included), "send_buffer_outbuf_latency", "local_queue_ecom" (ecom's own
 * measure), "fetch_queue_messages", "consumer_lag_messages"}; each
 * latency {"count", "mean_ms", "p99_ms", "max_ms"}, null where nothing
 * was counted.  Either client may be NULL.
 */
void ecom_report_kafka(bson_t *parent, const char *key, const ecom_kafka_stats *producer,
                       const ecom_kafka_stats *consumer);
/* x rounded to 3 decimals, so reports do not print binary noise. */
double ecom_report_round3(double x);

#endif
