/*
 * An open loop's orders: created on a schedule fixed before the run,
 * whether or not the orders before them are done, by a thread of their
 * own.  Each order carries its intended creation time as its start
 * (ECOM_HDR_ORDER_START_US), so a stall counts for every order it
 * delays, not once (coordinated omission).
 */
#ifndef ECOM_ARRIVALS_H
#define ECOM_ARRIVALS_H

#include <stdbool.h>
#include <stdint.h>

#include "ecom_config.h"
#include "ecom_log.h"
#include "ecom_metrics.h"

typedef enum ecom_arrivals_kind {
	ECOM_ARRIVALS_CONSTANT = 0, /* one order every 1/rate s */
	ECOM_ARRIVALS_POISSON,      /* exponential gaps of mean 1/rate s */
} ecom_arrivals_kind;

/* "constant", "poisson". */
const char *ecom_arrivals_name(ecom_arrivals_kind kind);
/* Either name; -1 otherwise. */
int ecom_arrivals_from_name(const char *name, ecom_arrivals_kind *kind);

/* The schedule: when each order is meant to be created, from the start. */
typedef struct ecom_schedule {
	ecom_arrivals_kind kind;
	double rate;      /* orders per second, > 0 */
	uint64_t rng;     /* poisson: the generator's state */
	double poisson_s; /* poisson: the last arrival's offset */
	int64_t index;    /* arrivals handed out */
} ecom_schedule;

void ecom_schedule_init(ecom_schedule *s, ecom_arrivals_kind kind, double rate, uint64_t seed);
/* The next arrival's offset from the start, in µs; never earlier than the one before. */
int64_t ecom_schedule_next_us(ecom_schedule *s);

typedef struct ecom_arrivals_opts {
	ecom_arrivals_kind kind;
	double rate;
	uint64_t seed;
	int64_t count;       /* orders to create */
	int64_t warmup_us;   /* orders meant to start before this offset are in no statistic */
	const char *topic;   /* ordercreated, with its prefix */
	ecom_stop_flag *stop; /* the run's: stop creating, and stop waiting for the broker */
} ecom_arrivals_opts;

typedef struct ecom_arrivals ecom_arrivals;

/*
 * Start creating orders now, on opts' schedule, with a producer of their
 * own.  The start is *start_wall_us (wall clock, for the orders'
 * headers) and *start_mono_us (the schedule's clock).
 */
int ecom_arrivals_start(ecom_arrivals **a, const ecom_config *cfg, const ecom_arrivals_opts *opts,
                        int64_t *start_wall_us, int64_t *start_mono_us, ecom_err *err);
/* Orders created so far (any thread). */
int64_t ecom_arrivals_issued(const ecom_arrivals *a);
/* True once every order is created and acknowledged, or the thread stopped. */
bool ecom_arrivals_finished(const ecom_arrivals *a);
/* Create no more orders (any thread): those out stay out. */
void ecom_arrivals_halt(ecom_arrivals *a);
/*
 * Wait for the thread and free a.  send_lag (may be NULL) gets the
 * delay of each order's creation behind its schedule.  -1 with err if
 * the thread failed (a broker away past the retry bound).
 */
int ecom_arrivals_join(ecom_arrivals *a, ecom_latency *send_lag, ecom_err *err);

#endif
