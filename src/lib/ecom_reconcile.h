/*
 * The terminal stage: reads orderfulfilled, stores it, marks the order
 * complete, checks the counts and starts the next orders, until its
 * orders are through.  It runs in the stage loop (ecom_stage_run with
 * kind reconcile and these options in opts->terminal); this is the only
 * part of the flow that knows how many orders a run has.
 */
#ifndef ECOM_RECONCILE_H
#define ECOM_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "ecom_arrivals.h"
#include "ecom_log.h"

/*
 * What a driver of the whole flow in one process (ecom-bench) is given
 * at the terminal stage's moments.  Any member may be NULL.
 */
typedef struct ecom_drive_hooks {
	/* The first order goes out only once this is true (every stage has its partitions). */
	bool (*may_start)(void *arg);
	/*
	 * No order in flight, the last one fulfilled and the next not yet
	 * created: the driver's time, left out of the run's (paused_us).
	 * -1 (with err) stops the run.
	 */
	int (*between_orders)(void *arg, int64_t fulfilled, ecom_err *err);
	void *arg;
} ecom_drive_hooks;

/*
 * An open loop: orders offered at `rate` per second on a schedule fixed
 * before the run, whatever is in flight (ecom_arrivals.h).
 */
typedef struct ecom_open_loop {
	double rate; /* orders per second; 0: a closed loop */
	ecom_arrivals_kind arrivals;
	uint64_t seed;
	/* Orders created and not yet fulfilled beyond which the rate is not sustainable. */
	int64_t backlog_max;
	/* Orders meant to start in the first warmup_s are in no statistic. */
	double warmup_s;
	/*
	 * Set when the run begins (may be NULL): the wall-clock time before
	 * which an order's events are warm-up, for the other stages of a
	 * driver in one process (ecom_stage_opts.stats_from_us).
	 */
	atomic_llong *stats_from_us;
} ecom_open_loop;

/* The backlog bound when none is given: this many seconds of orders at the rate, at least ECOM_BACKLOG_MIN. */
#define ECOM_BACKLOG_SECONDS 2
#define ECOM_BACKLOG_MIN 100

typedef struct ecom_reconcile_opts {
	long orders; /* stop once this many are fulfilled, by this run or earlier ones */
	int window;  /* closed loop: orders in flight at once, the next created when one is fulfilled */
	ecom_open_loop open; /* open.rate > 0: an open loop instead, and window is unused */
	/* After each poll, with the count fulfilled by any run (may be NULL). */
	void (*on_progress)(void *arg, int64_t fulfilled);
	void *progress_arg;
	const ecom_drive_hooks *drive; /* may be NULL */
} ecom_reconcile_opts;

#endif
