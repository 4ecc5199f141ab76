/*
 * ecom-bench: the whole flow for N orders in one process, and its report.
 *
 * Each store named (the configured one, or those of --compare) gets a
 * clean benchmark run (src/lib/ecom_flow.h).  Each run's report is one
 * JSON line on stdout as soon as the run ends, so a later run that fails
 * costs none of the earlier ones; a summary line per run on stderr; a
 * progress line when stderr is a terminal.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_alloc.h"
#include "ecom_cli.h"
#include "ecom_config.h"
#include "ecom_exit.h"
#include "ecom_flow.h"
#include "ecom_json.h"
#include "ecom_log.h"
#include "ecom_plot.h"
#include "ecom_progress.h"
#include "ecom_report.h"
#include "ecom_load.h"
#include "ecom_sweep.h"
#include "ecom_alloc.h"

enum {
	OPT_COMPARE = ECOM_OPT_COMMAND,
	OPT_NO_PROGRESS,
	OPT_FLOOR_SAMPLES,
	OPT_PLOT,
	OPT_RATE,
	OPT_ARRIVALS,
	OPT_DURATION,
	OPT_WARMUP,
	OPT_MAX_BACKLOG,
	OPT_SWEEP,
	OPT_SLO,
	OPT_STEP_DURATION,
	OPT_SWEEP_FROM,
};

/* Runs one invocation may make: stores × guarantees. */
#define MAX_RUNS 8

/* The two processing guarantees, as --compare and processing_guarantee name them. */
#define GUARANTEE_ALO "at_least_once"
#define GUARANTEE_EOS "exactly_once"

typedef struct bench_args {
	const char *stores[MAX_RUNS]; /* --compare's, in order; none: the configured store */
	size_t n_stores;
	/* --compare's guarantees, in order; none: the configured processing_guarantee */
	const char *guarantees[2];
	size_t n_guarantees;
	const char *plot_file;
	int floor_samples;
	bool show_progress;
	ecom_load_args load;
	bool sweep;
	ecom_sweep_opts sweep_opts;
	bool sweep_option_given; /* --slo, --step-duration or --sweep-from */
	bool warmup_given;       /* a sweep's --warmup 0 is not its default */
} bench_args;

/* Chains timed for the floor unless --floor-samples says otherwise. */
#define FLOOR_SAMPLES 200
#define FLOOR_SAMPLES_TEXT "200"

static const ecom_option own_options[] = {
	{'n', "orders", "N", "orders to run", "orders"},
	{'w', "window", "W", "orders in flight at once (default {}; 1 is the original)", "window"},
	{OPT_RATE, "rate", "R",
	 "open loop: offer R orders per second on a fixed schedule, whatever is in flight", NULL},
	{OPT_DURATION, "duration", "S", "open loop: run for S seconds (R x S orders) instead of -n",
	 NULL},
	{OPT_ARRIVALS, "arrivals", "KIND", "open loop: constant (default) or poisson intervals",
	 NULL},
	{OPT_WARMUP, "warmup", "S", "open loop: leave the first S seconds out of every figure "
	                            "(default 0; 1 in a sweep)", NULL},
	{OPT_MAX_BACKLOG, "max-backlog", "N",
	 "open loop: orders created and not fulfilled beyond which R is not sustainable "
	 "(default 2 s of orders, at least 100)", NULL},
	{OPT_SWEEP, "sweep", NULL,
	 "find each store's capacity: the highest open-loop rate within the latency objective, "
	 "and its curve", NULL},
	{OPT_SLO, "slo", "pNN=LIMIT", "the sweep's objective (default p99=50ms)", NULL},
	{OPT_STEP_DURATION, "step-duration", "S", "each rate's run in the sweep (default 5)", NULL},
	{OPT_SWEEP_FROM, "sweep-from", "R", "the first rate the sweep offers (default 100)", NULL},
	{OPT_COMPARE, "compare", "LIST",
	 "run once per store and guarantee named: stores (mongodb,postgresql, or one URI) and/or "
	 "guarantees (at_least_once,exactly_once, whose cost it gives as a ratio); may be repeated",
	 NULL},
	{OPT_PLOT, "plot", "FILE",
	 "draw the latency distributions (a sweep: latency against load) to FILE (SVG, gnuplot)",
	 NULL},
	{OPT_FLOOR_SAMPLES, "floor-samples", "K",
	 "orders timed as a chain for the floor (default " FLOOR_SAMPLES_TEXT ")", NULL},
	{OPT_NO_PROGRESS, "no-progress", NULL, "no progress line, even on a terminal", NULL},
	{0, NULL, NULL, NULL, NULL},
};

/* A --compare name that is a processing guarantee, added once; false for anything else. */
static bool
add_guarantee(bench_args *args, const char *name, ecom_err *err, int *rc)
{
	size_t i;

	if (strcmp(name, GUARANTEE_ALO) != 0 && strcmp(name, GUARANTEE_EOS) != 0)
		return false;
	*rc = 0;
	for (i = 0; i < args->n_guarantees; i++)
		if (strcmp(args->guarantees[i], name) == 0)
			*rc = ecom_err_set(err, "--compare: %s named twice", name);
	if (*rc == 0)
		args->guarantees[args->n_guarantees++] = name;
	return true;
}

/*
 * --compare VALUE: a URI is one store, taken whole (a replica-set URI
 * has commas); anything else is a comma-separated list of store names
 * and processing guarantees.
 */
static int
add_compare(bench_args *args, char *value, ecom_err *err)
{
	char *name, *saveptr = NULL;
	int rc;

	if (strstr(value, "://") != NULL) {
		if (args->n_stores == MAX_RUNS)
			return ecom_err_set(err, "--compare: at most %d stores", MAX_RUNS);
		args->stores[args->n_stores++] = value;
		return 0;
	}
	for (name = strtok_r(value, ",", &saveptr); name != NULL;
	     name = strtok_r(NULL, ",", &saveptr)) {
		if (add_guarantee(args, name, err, &rc)) {
			if (rc < 0)
				return -1;
			continue;
		}
		if (args->n_stores == MAX_RUNS)
			return ecom_err_set(err, "--compare: at most %d stores", MAX_RUNS);
		args->stores[args->n_stores++] = name;
	}
	return 0;
}

static bench_args options = {
	.floor_samples = FLOOR_SAMPLES,
	.show_progress = true,
	.load.open.seed = 1,
	.sweep_opts = ECOM_SWEEP_DEFAULTS,
};

/* --sweep's own options. */
static int
take_sweep_option(int opt, const char *arg)
{
	ecom_sweep_opts *o = &options.sweep_opts;
	ecom_err err;

	options.sweep_option_given = true;
	switch (opt) {
	case OPT_SLO:
		if (ecom_slo_parse(arg, &o->slo, &err) < 0) {
			ecom_usagef("--slo: %s", err.msg);
			return -1;
		}
		return 0;
	case OPT_STEP_DURATION:
		if (ecom_parse_double(arg, 0.1, ECOM_LOAD_MAX_DURATION_S, &o->step_s) < 0) {
			ecom_usagef("--step-duration '%s': expected seconds, from 0.1 to %.0f", arg,
			            ECOM_LOAD_MAX_DURATION_S);
			return -1;
		}
		return 0;
	case OPT_SWEEP_FROM:
		if (ecom_parse_double(arg, 0.01, ECOM_LOAD_MAX_RATE, &o->from_rate) < 0) {
			ecom_usagef("--sweep-from '%s': expected orders per second, from 0.01 to %.0f", arg,
			            ECOM_LOAD_MAX_RATE);
			return -1;
		}
		return 0;
	default:
		return ecom_cli_unhandled_option(own_options, opt);
	}
}

static int
take_option(ecom_cli *cli, int opt, const char *arg)
{
	long samples;

	switch (opt) {
	case 'n':
		options.load.orders_given = true;
		ecom_cli_set(cli, "orders", arg);
		return 0;
	case 'w':
		options.load.window_given = true;
		ecom_cli_set(cli, "window", arg);
		return 0;
	case OPT_RATE:
		return ecom_load_take(&options.load, "rate", arg);
	case OPT_DURATION:
		return ecom_load_take(&options.load, "duration", arg);
	case OPT_ARRIVALS:
		return ecom_load_take(&options.load, "arrivals", arg);
	case OPT_WARMUP:
		options.warmup_given = true;
		return ecom_load_take(&options.load, "warmup", arg);
	case OPT_MAX_BACKLOG:
		return ecom_load_take(&options.load, "max-backlog", arg);
	case OPT_SWEEP:
		options.sweep = true;
		return 0;
	case OPT_SLO:
	case OPT_STEP_DURATION:
	case OPT_SWEEP_FROM:
		return take_sweep_option(opt, arg);
	case OPT_COMPARE: {
		ecom_err err;

		if (add_compare(&options, (char *)arg, &err) < 0) {
			ecom_usagef("%s", err.msg);
			return -1;
		}
		return 0;
	}
	case OPT_PLOT:
		options.plot_file = arg;
		return 0;
	case OPT_FLOOR_SAMPLES:
		if (ecom_parse_long(arg, 1, 100000, &samples) < 0) {
			ecom_usagef("--floor-samples '%s': expected a number from 1 to 100000", arg);
			return -1;
		}
		options.floor_samples = (int)samples;
		return 0;
	case OPT_NO_PROGRESS:
		options.show_progress = false;
		return 0;
	default:
		return ecom_cli_unhandled_option(own_options, opt);
	}
}

static void
on_progress(void *arg, int64_t fulfilled)
{
	ecom_progress_update(arg, fulfilled);
}

/* A run's totals, kept for the other guarantee's run of the same store. */
typedef struct run_totals {
	bool done;     /* the run completed */
	char guarantee[16];
	double elapsed_s;
	double orders_per_s;
} run_totals;

static double
ratio(double x, double y)
{
	return y > 0 ? ecom_report_round3(x / y) : 0.0;
}

/*
 * Both guarantees ran on this store, one after the other: exactly_once's
 * cost as a ratio to at_least_once, in the later run's report.
 */
static void
report_guarantee_cost(bson_t *report, const run_totals *a, const run_totals *b)
{
	const run_totals *alo = strcmp(a->guarantee, GUARANTEE_ALO) == 0 ? a : b;
	const run_totals *eos = alo == a ? b : a;
	bson_t cost, child;

	bson_append_document_begin(report, "guarantee_cost", -1, &cost);
	bson_append_document_begin(&cost, GUARANTEE_ALO, -1, &child);
	BSON_APPEND_DOUBLE(&child, "elapsed_s", ecom_report_round3(alo->elapsed_s));
	BSON_APPEND_DOUBLE(&child, "orders_per_s", ecom_report_round3(alo->orders_per_s));
	bson_append_document_end(&cost, &child);
	bson_append_document_begin(&cost, GUARANTEE_EOS, -1, &child);
	BSON_APPEND_DOUBLE(&child, "elapsed_s", ecom_report_round3(eos->elapsed_s));
	BSON_APPEND_DOUBLE(&child, "orders_per_s", ecom_report_round3(eos->orders_per_s));
	bson_append_document_end(&cost, &child);
	bson_append_document_begin(&cost, "exactly_once_over_at_least_once", -1, &child);
	BSON_APPEND_DOUBLE(&child, "elapsed", ratio(eos->elapsed_s, alo->elapsed_s));
	BSON_APPEND_DOUBLE(&child, "orders_per_s", ratio(eos->orders_per_s, alo->orders_per_s));
	bson_append_document_end(&cost, &child);
	bson_append_document_end(report, &cost);
}

/* The same, in words: its own summary line, after the later run's. */
static void
log_guarantee_cost(const char *store, const run_totals *a, const run_totals *b)
{
	const run_totals *alo = strcmp(a->guarantee, GUARANTEE_ALO) == 0 ? a : b;
	const run_totals *eos = alo == a ? b : a;

	ecom_infof("%s: exactly_once over at_least_once, in this run: elapsed %.3f s / %.3f s = %.2f, "
	           "orders/s %.1f / %.1f = %.2f",
	           store, eos->elapsed_s, alo->elapsed_s, ratio(eos->elapsed_s, alo->elapsed_s),
	           eos->orders_per_s, alo->orders_per_s, ratio(eos->orders_per_s, alo->orders_per_s));
}

/*
 * One benchmark run of cfg's store under cfg's guarantee; its report
 * printed, complete or not.  *totals gets the run's; other, when not
 * NULL, is the same store's run under the other guarantee.
 */
static int
bench_one(const ecom_config *cfg, const char *store, const bench_args *args, ecom_plot_run *plot,
          ecom_stop_flag *stop, const run_totals *other, run_totals *totals, ecom_err *err)
{
	ecom_flow_result result;
	ecom_progress progress;
	ecom_flow_opts opts = {
		.floor_samples = args->floor_samples,
		.stop = stop,
		.on_progress = on_progress,
		.progress_arg = &progress,
		.open = args->load.open.rate > 0 ? &args->load.open : NULL,
	};
	bson_t report = BSON_INITIALIZER;
	int rc;

	if (opts.open != NULL)
		ecom_infof("%s: %ld orders, open loop at %g orders/s (%s arrivals), %s", store,
		           cfg->orders, args->load.open.rate,
		           ecom_arrivals_name(args->load.open.arrivals), cfg->processing_guarantee);
	else
		ecom_infof("%s: %ld orders, window %d, %s", store, cfg->orders, cfg->window,
		           cfg->processing_guarantee);
	ecom_flow_result_init(&result);
	ecom_progress_start(&progress, cfg->orders, !args->show_progress);
	rc = ecom_flow_benchmark(cfg, &opts, &result, err);
	ecom_progress_finish(&progress);
	ecom_flow_report(cfg, store, &result, &report);
	memset(totals, 0, sizeof(*totals));
	snprintf(totals->guarantee, sizeof(totals->guarantee), "%s", cfg->processing_guarantee);
	if (rc == 0) {
		bson_iter_t it;

		totals->done = true;
		if (bson_iter_init_find(&it, &report, "elapsed_s") && BSON_ITER_HOLDS_NUMBER(&it))
			totals->elapsed_s = bson_iter_as_double(&it);
		if (bson_iter_init_find(&it, &report, "orders_per_s") && BSON_ITER_HOLDS_NUMBER(&it))
			totals->orders_per_s = bson_iter_as_double(&it);
	}
	if (rc == 0 && other != NULL && other->done)
		report_guarantee_cost(&report, other, totals);
	ecom_json_print(stdout, &report);
	fflush(stdout);
	if (rc == 0) {
		char summary[1024];

		ecom_flow_summary(&report, summary, sizeof(summary));
		ecom_infof("%s on %s: %s", store, result.server[0] ? result.server : "unknown server",
		           summary);
		if (other != NULL && other->done)
			log_guarantee_cost(store, other, totals);
	}
	if (plot != NULL)
		ecom_flow_plot_data(cfg, &result, plot);
	bson_destroy(&report);
	ecom_flow_result_free(&result);
	return rc;
}

/*
 * Every --compare store is checked before the first run rather than fail
 * halfway; so is the guarantees' part of it.
 */
static int
check_stores(ecom_config *cfg, bench_args *args, ecom_err *err)
{
	ecom_err why;
	size_t i;

	for (i = 0; i < args->n_stores; i++) {
		if (ecom_config_set(cfg, "store", args->stores[i], &why) < 0)
			return ecom_err_set(err, "--compare: %s%s", why.msg,
			                    args->sweep ? ""
			                                : "; or a guarantee, " GUARANTEE_ALO " or " GUARANTEE_EOS);
	}
	if (args->n_stores == 0)
		args->stores[args->n_stores++] = cfg->store;
	if (args->n_guarantees > 0 && args->sweep)
		return ecom_err_set(err, "--sweep compares stores, not guarantees: take %s out of "
		                         "--compare (--exactly-once sweeps under exactly_once)",
		                    args->guarantees[0]);
	/* An open loop's elapsed and orders/s are its schedule's, whatever the
	 * guarantee: a ratio of them would be 1.00 and look like a measurement. */
	if (args->n_guarantees > 0 && args->load.open.rate > 0)
		return ecom_err_set(err, "--rate compares stores, not guarantees: take %s out of "
		                         "--compare (an open loop's cost is in its latency: run it "
		                         "once more with --exactly-once)",
		                    args->guarantees[0]);
	if (args->n_stores * (args->n_guarantees ? args->n_guarantees : 1) > MAX_RUNS)
		return ecom_err_set(err, "--compare: at most %d runs (stores x guarantees), not %zu",
		                    MAX_RUNS, args->n_stores * args->n_guarantees);
	return 0;
}

/*
 * Each store in turn, and on each store each guarantee in turn, one right
 * after the other: the two runs whose ratio is the cost see the same
 * store in the same state of the machine.
 */
static int
bench_all(ecom_config *cfg, const bench_args *args, ecom_stop_flag *stop, ecom_err *err)
{
	ecom_plot_run plots[MAX_RUNS];
	char *stores[MAX_RUNS];
	size_t i, g, plotted = 0;
	int rc = 0;

	/* cfg->store changes below: keep the names apart from it. */
	for (i = 0; i < args->n_stores; i++)
		stores[i] = ecom_xstrdup(args->stores[i]);
	for (i = 0; i < args->n_stores && rc == 0 && !ecom_stdout_failed(); i++) {
		run_totals runs[2];
		char *name;

		/* check_stores() took each store already; a refusal now is still not ignored. */
		rc = ecom_config_set(cfg, "store", stores[i], err);
		if (rc < 0)
			break;
		name = ecom_config_store_label(cfg);
		for (g = 0; g < (args->n_guarantees ? args->n_guarantees : 1) && rc == 0 &&
		            !ecom_stdout_failed();
		     g++) {
			if (args->n_guarantees > 0 &&
			    (rc = ecom_config_set(cfg, "processing_guarantee", args->guarantees[g], err)) < 0)
				break;
			if (args->plot_file != NULL) {
				char label[160];

				snprintf(label, sizeof(label), "%s%s%s", name, args->n_guarantees ? " " : "",
				         args->n_guarantees ? cfg->processing_guarantee : "");
				ecom_plot_run_init(&plots[plotted], label);
			}
			rc = bench_one(cfg, name, args, args->plot_file ? &plots[plotted++] : NULL, stop,
			               g > 0 ? &runs[0] : NULL, &runs[g], err);
		}
		free(name);
	}
	if (rc == 0 && args->plot_file != NULL) {
		rc = ecom_plot_svg(args->plot_file, plots, plotted, err);
		if (rc == 0)
			ecom_infof("latency plot written to '%s'", args->plot_file);
	}
	for (i = 0; i < plotted; i++)
		ecom_plot_run_free(&plots[i]);
	for (i = 0; i < args->n_stores; i++)
		free(stores[i]);
	return rc;
}

static void
on_sweep_step(void *arg, const ecom_sweep_step *step)
{
	(void)arg;
	ecom_infof("sweep: %g orders/s: achieved %.1f/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms%s: "
	           "%s",
	           step->rate, step->achieved, step->p50_ms, step->p99_ms, step->p999_ms,
	           step->sustainable ? "" : ", not sustainable",
	           step->meets ? "within the objective" : "beyond it");
}

/* One store's sweep: its report on stdout, its summary on stderr, its curve for the plot. */
static int
sweep_one(const ecom_config *cfg, const char *store, const bench_args *args,
          ecom_plot_curve *curve, ecom_err *err)
{
	ecom_sweep_result result;
	bson_t report = BSON_INITIALIZER;
	size_t i;
	int rc;

	ecom_infof("%s: sweep from %g orders/s, %g s a step, objective p%g <= %g ms", store,
	           args->sweep_opts.from_rate, args->sweep_opts.step_s, args->sweep_opts.slo.percentile,
	           args->sweep_opts.slo.limit_ms);
	rc = ecom_sweep_run(cfg, &args->sweep_opts, on_sweep_step, NULL, &result, err);
	ecom_sweep_report(&args->sweep_opts, &result, store, &report);
	ecom_json_print(stdout, &report);
	fflush(stdout);
	bson_destroy(&report);
	if (rc == 0 && result.capacity > 0)
		ecom_infof("%s on %s: capacity %.1f orders/s with p%g <= %g ms (%g failed); p99 at 50%%: "
		           "%.2f ms, at 90%%: %.2f ms",
		           store, result.server, result.capacity, args->sweep_opts.slo.percentile,
		           args->sweep_opts.slo.limit_ms, result.first_failed,
		           result.steps[result.at_half].p99_ms, result.steps[result.at_nine_tenths].p99_ms);
	else if (rc == 0)
		ecom_infof("%s on %s: no rate from %g orders/s down met the objective", store,
		           result.server, args->sweep_opts.from_rate);
	if (curve != NULL) {
		snprintf(curve->label, sizeof(curve->label), "%s", store);
		curve->capacity = result.capacity;
		for (i = 0; i < result.n_steps && curve->n < 32; i++, curve->n++) {
			curve->rate[curve->n] = result.steps[i].rate;
			curve->p50_ms[curve->n] = result.steps[i].p50_ms;
			curve->p99_ms[curve->n] = result.steps[i].p99_ms;
			curve->p999_ms[curve->n] = result.steps[i].p999_ms;
		}
	}
	return rc;
}

static int
sweep_all(ecom_config *cfg, bench_args *args, ecom_stop_flag *stop, ecom_err *err)
{
	ecom_plot_curve curves[MAX_RUNS];
	char *stores[MAX_RUNS], objective[64];
	size_t i, n = 0;
	int rc = 0;

	memset(curves, 0, sizeof(curves));
	args->sweep_opts.stop = stop;
	args->sweep_opts.arrivals = args->load.open.arrivals;
	for (i = 0; i < args->n_stores; i++)
		stores[i] = ecom_xstrdup(args->stores[i]);
	for (i = 0; i < args->n_stores && rc == 0 && !ecom_stdout_failed(); i++, n++) {
		char *name;

		if (ecom_config_set(cfg, "store", stores[i], err) < 0) {
			rc = -1;
			break;
		}
		name = ecom_config_store_label(cfg);
		rc = sweep_one(cfg, name, args, args->plot_file ? &curves[n] : NULL, err);
		free(name);
	}
	snprintf(objective, sizeof(objective), "p%g = %g ms", args->sweep_opts.slo.percentile,
	         args->sweep_opts.slo.limit_ms);
	if (rc == 0 && args->plot_file != NULL) {
		rc = ecom_plot_curve_svg(args->plot_file, curves, n, args->sweep_opts.slo.limit_ms,
		                         objective, err);
		if (rc == 0)
			ecom_infof("latency/load curve written to '%s'", args->plot_file);
	}
	for (i = 0; i < args->n_stores; i++)
		free(stores[i]);
	return rc;
}

/* --sweep runs open loops of its own: the other loads' options do not go with it. */
static int
check_sweep(bench_args *args, ecom_err *err)
{
	if (!args->sweep) {
		if (args->sweep_option_given)
			return ecom_err_set(err, "--slo, --step-duration and --sweep-from go with --sweep");
		return 0;
	}
	if (args->load.open.rate > 0 || args->load.duration_s > 0 || args->load.orders_given ||
	    args->load.window_given || args->load.open.backlog_max > 0)
		return ecom_err_set(err, "--sweep chooses its own rates: -n, -w, --rate, --duration "
		                         "and --max-backlog do not go with it");
	if (args->warmup_given)
		args->sweep_opts.warmup_s = args->load.open.warmup_s;
	if (args->sweep_opts.warmup_s >= args->sweep_opts.step_s)
		return ecom_err_set(err, "--warmup %g leaves nothing of a --step-duration of %g s",
		                    args->sweep_opts.warmup_s, args->sweep_opts.step_s);
	return 0;
}

static int
run(ecom_config *cfg, ecom_stop_flag *stop)
{
	ecom_err err;

	if (check_sweep(&options, &err) < 0 ||
	    (!options.sweep && ecom_load_check(&options.load, cfg, &err) < 0) || check_stores(cfg, &options, &err) < 0) {
		ecom_usagef("%s", err.msg);
		return ECOM_EXIT_USAGE;
	}
	/* Fail now, not after minutes of benchmark, if the plot cannot be written. */
	if (options.plot_file != NULL && ecom_plot_check_writable(options.plot_file, &err) < 0) {
		ecom_errorf("%s", err.msg);
		return ECOM_EXIT_FAILURE;
	}
	if ((options.sweep ? sweep_all(cfg, &options, stop, &err)
	                   : bench_all(cfg, &options, stop, &err)) < 0) {
		ecom_errorf("%s", err.msg);
		return ECOM_EXIT_FAILURE;
	}
	return ECOM_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const ecom_command command = {
		.synopsis = "ecom-bench [options] [-n N] [-w W] [--compare LIST] [--plot FILE]\n"
		            "ecom-bench [options] --rate R [-n N | --duration S] [--arrivals KIND] "
		            "[--warmup S] [--max-backlog N] [--compare LIST]\n"
		            "ecom-bench [options] --sweep [--slo pNN=LIMIT] [--step-duration S] "
		            "[--sweep-from R] [--arrivals KIND] [--warmup S] [--compare STORES] "
		            "[--plot FILE]",
		.description = "Run the whole flow in one process and report timings as JSON: a closed "
		               "loop of\nW orders in flight, or an open loop offering R orders/s, or a "
		               "sweep of rates.",
		.options = own_options,
		.option = take_option,
		.run = run,
	};

	return ecom_cli_main(argc, argv, &command);
}
