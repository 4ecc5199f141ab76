/*
 * How a run offers its load, as the commands that drive the flow take
 * it (ecom-bench, ecom-reconcile --drive): a closed loop of -w W orders
 * in flight, or an open loop of --rate R orders per second, with
 * --duration, --arrivals, --warmup and --max-backlog.
 */
#ifndef ECOM_LOAD_H
#define ECOM_LOAD_H

#include <stdbool.h>

#include "ecom_config.h"
#include "ecom_log.h"
#include "ecom_reconcile.h"

/* The highest rate and the longest open loop one run may take. */
#define ECOM_LOAD_MAX_RATE 1e6
#define ECOM_LOAD_MAX_DURATION_S 86400.0
#define ECOM_LOAD_MAX_ORDERS 100000000L

typedef struct ecom_load_args {
	ecom_open_loop open; /* open.rate > 0: an open loop */
	double duration_s;   /* 0: the orders of -n / --drive */
	bool orders_given, window_given;
	bool open_option_given; /* --arrivals, --warmup or --max-backlog */
	const char *open_option; /* the first of them given, or --duration: "--warmup" */
} ecom_load_args;

void ecom_load_args_init(ecom_load_args *load);
/*
 * One of the open loop's options by its long name ("rate", "duration",
 * "arrivals", "warmup", "max-backlog").  -1 with err on a bad value.
 */
int ecom_load_option(ecom_load_args *load, const char *name, const char *value, ecom_err *err);
/*
 * ecom_load_option() for a command's option switch: a bad value is a
 * usage error, said here (ecom_usagef); 0 or -1.
 */
int ecom_load_take(ecom_load_args *load, const char *name, const char *value);
/*
 * Once every option is read: the options go together, and --duration
 * sets cfg's orders (rate × duration).  -1 with err otherwise.
 */
int ecom_load_check(ecom_load_args *load, ecom_config *cfg, ecom_err *err);

#endif
