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

typedef struct ecom_reconcile_opts {
	long orders; /* stop once this many are fulfilled, by this run or earlier ones */
	int window;  /* orders in flight at once: the next is created when one is fulfilled */
	/* After each poll, with the count fulfilled by any run (may be NULL). */
	void (*on_progress)(void *arg, int64_t fulfilled);
	void *progress_arg;
	const ecom_drive_hooks *drive; /* may be NULL */
} ecom_reconcile_opts;

#endif
