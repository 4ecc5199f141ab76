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
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_cli.h"
#include "ecom_config.h"
#include "ecom_exit.h"
#include "ecom_flow.h"
#include "ecom_json.h"
#include "ecom_log.h"
#include "ecom_plot.h"
#include "ecom_progress.h"

enum { OPT_COMPARE = ECOM_OPT_COMMAND, OPT_NO_PROGRESS, OPT_FLOOR_SAMPLES, OPT_PLOT };

/* Stores one invocation may run. */
#define MAX_RUNS 8

static volatile sig_atomic_t interrupted;

typedef struct bench_args {
	const char *stores[MAX_RUNS]; /* --compare's, in order; none: the configured store */
	size_t n_stores;
	const char *plot_file;
	int floor_samples;
	bool show_progress;
} bench_args;

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: ecom-bench [options] [-n N] [-w W] [--compare STORES] [--plot FILE]\n"
	        "\n"
	        "Run the whole flow for N orders in one process and report timings as JSON.\n"
	        "\n"
	        "  -n, --orders N         orders to run (default 10000)\n"
	        "  -w, --window W         orders in flight at once (default 1, as the original)\n"
	        "      --compare STORES   run once per store: names (mongodb,postgresql) or one\n"
	        "                         URI; may be repeated\n"
	        "      --plot FILE        draw the latency distributions to FILE (SVG, gnuplot)\n"
	        "      --floor-samples K  round trips and writes timed for the floor (default 50)\n"
	        "      --no-progress      no progress line, even on a terminal\n" ECOM_CLI_USAGE_COMMON);
}

/*
 * --compare VALUE: a URI is one store, taken whole (a replica-set URI
 * has commas); anything else is a comma-separated list of store names.
 */
static int
add_compare(bench_args *args, char *value)
{
	char *name, *saveptr = NULL;

	if (strstr(value, "://") != NULL) {
		if (args->n_stores == MAX_RUNS)
			return -1;
		args->stores[args->n_stores++] = value;
		return 0;
	}
	for (name = strtok_r(value, ",", &saveptr); name != NULL;
	     name = strtok_r(NULL, ",", &saveptr)) {
		if (args->n_stores == MAX_RUNS)
			return -1;
		args->stores[args->n_stores++] = name;
	}
	return 0;
}

static int
parse_args(int argc, char **argv, ecom_cli *cli, bench_args *args)
{
	static const struct option longopts[] = {
		ECOM_CLI_LONGOPTS,
		{"orders", required_argument, NULL, 'n'},
		{"window", required_argument, NULL, 'w'},
		{"compare", required_argument, NULL, OPT_COMPARE},
		{"plot", required_argument, NULL, OPT_PLOT},
		{"floor-samples", required_argument, NULL, OPT_FLOOR_SAMPLES},
		{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
		{NULL, 0, NULL, 0},
	};
	long samples;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ECOM_CLI_SHORTOPTS "n:w:", longopts, NULL)) != -1) {
		if (ecom_cli_option(cli, opt, optarg))
			continue;
		switch (opt) {
		case 'n':
			ecom_cli_set(cli, "orders", optarg);
			break;
		case 'w':
			ecom_cli_set(cli, "window", optarg);
			break;
		case OPT_COMPARE:
			if (add_compare(args, optarg) < 0) {
				ecom_usagef("--compare: at most %d stores", MAX_RUNS);
				return -1;
			}
			break;
		case OPT_PLOT:
			args->plot_file = optarg;
			break;
		case OPT_FLOOR_SAMPLES:
			if (ecom_parse_long(optarg, 1, 100000, &samples) < 0) {
				ecom_usagef("--floor-samples '%s': expected a number from 1 to 100000",
				            optarg);
				return -1;
			}
			args->floor_samples = (int)samples;
			break;
		case OPT_NO_PROGRESS:
			args->show_progress = false;
			break;
		default:
			ecom_cli_bad_option(opt, argv);
			return -1;
		}
	}
	return 0;
}

static void
on_progress(void *arg, int64_t fulfilled)
{
	ecom_progress_update(arg, fulfilled);
}

/* One benchmark run of cfg's store; its report printed, complete or not. */
static int
bench_one(const ecom_config *cfg, const char *store, const bench_args *args, ecom_plot_run *plot,
          ecom_err *err)
{
	ecom_flow_result result;
	ecom_progress progress;
	ecom_flow_opts opts = {
		.floor_samples = args->floor_samples,
		.stop = &interrupted,
		.on_progress = on_progress,
		.progress_arg = &progress,
	};
	bson_t report = BSON_INITIALIZER;
	int rc;

	ecom_infof("%s: %ld orders, window %d", store, cfg->orders, cfg->window);
	ecom_flow_result_init(&result);
	ecom_progress_start(&progress, cfg->orders, !args->show_progress);
	rc = ecom_flow_benchmark(cfg, &opts, &result, err);
	ecom_progress_finish(&progress);
	ecom_flow_report(cfg, store, &result, args->floor_samples, &report);
	ecom_json_print(stdout, &report);
	fflush(stdout);
	if (rc == 0) {
		char summary[1024];

		ecom_flow_summary(&report, summary, sizeof(summary));
		ecom_infof("%s on %s: %s", store, result.server[0] ? result.server : "unknown server",
		           summary);
	}
	if (plot != NULL)
		ecom_flow_plot_data(cfg, &result, plot);
	bson_destroy(&report);
	ecom_flow_result_free(&result);
	return rc;
}

/* Every --compare store is checked before the first run rather than fail halfway. */
static int
check_stores(ecom_config *cfg, bench_args *args, ecom_err *err)
{
	ecom_err why;
	size_t i;

	for (i = 0; i < args->n_stores; i++) {
		if (ecom_config_set(cfg, "store", args->stores[i], &why) < 0)
			return ecom_err_set(err, "--compare: %s", why.msg);
	}
	if (args->n_stores == 0)
		args->stores[args->n_stores++] = cfg->store;
	return 0;
}

static int
bench_all(ecom_config *cfg, const bench_args *args, ecom_err *err)
{
	ecom_plot_run plots[MAX_RUNS];
	char *stores[MAX_RUNS];
	size_t i, plotted = 0;
	int rc = 0;

	/* cfg->store changes below: keep the names apart from it. */
	for (i = 0; i < args->n_stores; i++)
		stores[i] = strdup(args->stores[i]);
	for (i = 0; i < args->n_stores && rc == 0 && !ecom_stdout_failed(); i++) {
		char *name;

		ecom_config_set(cfg, "store", stores[i], err);
		name = ecom_config_store_label(cfg);
		if (args->plot_file != NULL)
			ecom_plot_run_init(&plots[plotted], name);
		rc = bench_one(cfg, name, args, args->plot_file ? &plots[plotted++] : NULL, err);
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

int
main(int argc, char **argv)
{
	bench_args args = {.floor_samples = 50, .show_progress = true};
	ecom_cli cli;
	ecom_config cfg;
	ecom_err err;
	int status = ECOM_EXIT_FAILURE;

	ecom_log_init(argv[0]);
	ecom_config_init(&cfg);
	ecom_cli_init(&cli);
	if (parse_args(argc, argv, &cli, &args) < 0) {
		status = ECOM_EXIT_USAGE;
		goto out;
	}
	if (ecom_cli_early_exit(&cli, argc, argv, usage, &status))
		goto out;
	if (ecom_cli_configure(&cli, &cfg, &err) < 0 || check_stores(&cfg, &args, &err) < 0) {
		ecom_usagef("%s", err.msg);
		status = ECOM_EXIT_USAGE;
		goto out;
	}
	/* Fail now, not after minutes of benchmark, if the plot cannot be written. */
	if (args.plot_file != NULL && ecom_plot_check_writable(args.plot_file, &err) < 0) {
		ecom_errorf("%s", err.msg);
		goto out;
	}
	ecom_cli_catch_stop_signals(&interrupted);
	if (bench_all(&cfg, &args, &err) < 0) {
		ecom_errorf("%s", err.msg);
		goto out;
	}
	status = ECOM_EXIT_OK;
out:
	ecom_config_free(&cfg);
	if (ecom_close_stdout() < 0 && status == ECOM_EXIT_OK)
		status = ECOM_EXIT_FAILURE;
	return status;
}
