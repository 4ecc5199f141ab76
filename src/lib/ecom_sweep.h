/*
 * A store's capacity: the highest rate an open loop sustains within a
 * latency objective, found by offering rates (as OpenMessaging
 * Benchmark's rate controller does), and the curve of latency against
 * offered load that the search draws on the way.
 */
#ifndef ECOM_SWEEP_H
#define ECOM_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "ecom_config.h"
#include "ecom_flow.h"
#include "ecom_log.h"

/* The latency objective: this percentile of the response time at most limit_ms. */
typedef struct ecom_slo {
	double percentile; /* 50 … 99.99 */
	double limit_ms;
} ecom_slo;

/* "pNN=LIMIT", the limit in ms, or with a unit (ms, s, us); -1 with err otherwise. */
int ecom_slo_parse(const char *text, ecom_slo *slo, ecom_err *err);

#define ECOM_SWEEP_MAX_STEPS 24

typedef struct ecom_sweep_step {
	double rate;        /* offered */
	double achieved;    /* orders per second after the warm-up */
	bool sustainable;   /* the backlog stayed within its bound */
	bool meets;         /* sustainable, kept up, and within the objective */
	double p50_ms, p99_ms, p999_ms, max_ms, objective_ms; /* response times */
	long orders;
	/* CPU µs per event of ecom, the broker and the store over the step; -1: not measured. */
	double cpu_ecom_us, cpu_kafka_us, cpu_store_us;
} ecom_sweep_step;

typedef struct ecom_sweep_opts {
	ecom_slo slo;
	double from_rate;  /* the first rate offered */
	double step_s;     /* each rate's run */
	double warmup_s;   /* … of which this much is warm-up */
	double precision;  /* stop when the bracket is this narrow, as a fraction */
	int max_steps;     /* at most this many runs for the search */
	ecom_arrivals_kind arrivals;
	ecom_stop_flag *stop;
} ecom_sweep_opts;

typedef struct ecom_sweep_result {
	char server[128];
	ecom_sweep_step steps[ECOM_SWEEP_MAX_STEPS + 2]; /* in the order run */
	size_t n_steps;
	double capacity;     /* the highest rate that met the objective; 0 if none did */
	double first_failed; /* the lowest rate that did not; 0 if none failed */
	/* The runs at half and nine tenths of the capacity (-1: not run). */
	int at_half, at_nine_tenths;
} ecom_sweep_result;

/*
 * The defaults, documented in ecom-bench(1).  The objective is an
 * interactive order flow's budget for its back end, tight enough to fail
 * before the backlog bound does; the steps are short enough for a sweep
 * of both stores to take minutes, long enough for a p99 of its own.
 */
#define ECOM_SWEEP_DEFAULTS                                                                   \
	{                                                                                         \
		.slo = {.percentile = 99, .limit_ms = 50}, .from_rate = 100, .step_s = 5,            \
		.warmup_s = 1, .precision = 0.1, .max_steps = 12                                     \
	}

void ecom_sweep_opts_init(ecom_sweep_opts *opts);
/*
 * Search cfg's store's capacity, then run it at 50 % and 90 % of it.
 * Each step is a clean benchmark run (ecom_flow.h) of step_s seconds.
 * on_step (may be NULL) is told each step as it ends.  -1 with err if a
 * run failed (not for a rate that is not sustainable: that is a result).
 */
int ecom_sweep_run(const ecom_config *cfg, const ecom_sweep_opts *opts,
                   void (*on_step)(void *arg, const ecom_sweep_step *step), void *arg,
                   ecom_sweep_result *result, ecom_err *err);
/* The sweep's report: {"slo", "capacity", "first_failed", "at_50", "at_90", "steps": […]}. */
void ecom_sweep_report(const ecom_sweep_opts *opts, const ecom_sweep_result *result,
                       const char *store, bson_t *report);

#endif
