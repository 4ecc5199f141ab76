/*
 * ecom-reconcile: the terminal stage of the flow, and the auditor.
 *
 * --drive N consumes orderfulfilled, stores it, marks the order complete,
 * checks the created and fulfilled counts, and creates the next order
 * until N are through; then logs start, end and elapsed time and prints
 * a JSON report (also when interrupted: "complete": false, exit 1).
 * --audit checks a store's history and prints what is missing,
 * duplicated or unfinished, exit 1 if anything is.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_cli.h"
#include "ecom_config.h"
#include "ecom_cpu.h"
#include "ecom_exit.h"
#include "ecom_kafka.h"
#include "ecom_load.h"
#include "ecom_log.h"
#include "ecom_json.h"
#include "ecom_metrics.h"
#include "ecom_progress.h"
#include "ecom_report.h"
#include "ecom_reconcile.h"
#include "ecom_security.h"
#include "ecom_stage.h"
#include "ecom_store.h"

enum {
	OPT_DRIVE = ECOM_OPT_COMMAND,
	OPT_AUDIT,
	OPT_RESET,
	OPT_RATE,
	OPT_ARRIVALS,
	OPT_WARMUP,
	OPT_MAX_BACKLOG,
};

static const ecom_option own_options[] = {
	{OPT_DRIVE, "drive", "N", "create orders and reconcile them until N are fulfilled", NULL},
	{'w', "window", "W", "orders in flight at once (default {}; 1 is the original)", "window"},
	{OPT_RATE, "rate", "R",
	 "open loop: offer R orders per second on a fixed schedule, whatever is in flight", NULL},
	{OPT_ARRIVALS, "arrivals", "KIND", "open loop: constant (default) or poisson intervals",
	 NULL},
	{OPT_WARMUP, "warmup", "S", "open loop: leave the first S seconds out of every figure "
	                            "(default 0)", NULL},
	{OPT_MAX_BACKLOG, "max-backlog", "N",
	 "open loop: orders created and not fulfilled beyond which R is not sustainable "
	 "(default 2 s of orders, at least 100)", NULL},
	{OPT_AUDIT, "audit", NULL, "check the store and print a JSON report", NULL},
	{OPT_RESET, "reset", NULL, "delete and recreate the topics, empty the store", NULL},
	{0, NULL, NULL, NULL, NULL},
};

static void
on_progress(void *arg, int64_t fulfilled)
{
	ecom_progress_update(arg, fulfilled);
}

/*
 * This process's CPU and the broker's and the store's, from the run's
 * first order (the drive's may_start) to its end: the terminal stage's
 * share of the harness; run-flow.sh adds the other stages' processes.
 */
typedef struct drive_cpu {
	const ecom_config *cfg;
	ecom_cpu_services services;
	ecom_cpu_snapshot start, used;
	bool started, measured;
	char why_not[256];
} drive_cpu;

static bool
cpu_start(void *arg)
{
	drive_cpu *c = arg;
	ecom_err why;

	if (c->started)
		return true;
	c->started = true;
	if (ecom_cpu_services_of_run(&c->services, c->cfg, &why) < 0 ||
	    ecom_cpu_snapshot_take(&c->start, &c->services, &why) < 0)
		snprintf(c->why_not, sizeof(c->why_not), "%.250s", why.msg);
	else
		c->measured = true;
	return true;
}

static void
cpu_end(drive_cpu *c)
{
	ecom_cpu_snapshot end;
	ecom_err why;

	if (!c->measured)
		return;
	if (ecom_cpu_snapshot_take(&end, &c->services, &why) < 0) {
		snprintf(c->why_not, sizeof(c->why_not), "%.250s", why.msg);
		c->measured = false;
		return;
	}
	ecom_cpu_snapshot_diff(&c->start, &end, &c->used);
}

/* The report of a drive, complete or not, on stdout; its summary line on stderr. */
static void
report_drive(const ecom_config *cfg, const ecom_open_loop *open, ecom_stage_stats *stats,
             const drive_cpu *cpu)
{
	ecom_run_timing timing;
	bson_t report = BSON_INITIALIZER;
	char start[32] = "-", end[32] = "-";

	ecom_run_timing_of(&timing, stats, cfg->orders);
	ecom_report_connections(&report, cfg);
	ecom_report_timing(&report, &timing);
	ecom_report_load(&report, open, cfg->window, &timing, stats);
	ecom_report_latency(&report, "end_to_end_latency", &stats->end_to_end);
	ecom_report_phases(&report, "phases", stats);
	ecom_report_kafka(&report, "kafka", &stats->kafka_producer, &stats->kafka_consumer);
	BSON_APPEND_INT64(&report, "duplicates", stats->duplicates);
	BSON_APPEND_INT64(&report, "dead_letters", stats->dead_letters);
	ecom_report_cpu(&report, cpu->measured ? &cpu->services : NULL, &cpu->used, NULL,
	                timing.orders_this_run * ECOM_EV_COUNT,
	                cpu->why_not[0] ? cpu->why_not : "the run did not begin");
	BSON_APPEND_INT64(&report, "peak_rss_kib", ecom_peak_rss_kib());
	ecom_json_print(stdout, &report);
	bson_destroy(&report);
	if (timing.started_us > 0) {
		ecom_format_iso8601(timing.started_us / 1000, start, sizeof(start));
		ecom_format_iso8601(timing.ended_us / 1000, end, sizeof(end));
	}
	ecom_infof("%" PRId64 " of %ld orders fulfilled (%" PRId64 " by this run); start %s, end %s, "
	           "elapsed %.3f s (%.1f orders/s)",
	           timing.orders, cfg->orders, timing.orders_this_run, start, end, timing.elapsed_s,
	           timing.orders_per_s);
	if (open != NULL)
		ecom_infof("open loop at %g orders/s: %s (backlog peak %" PRId64 ", bound %" PRId64
		           "); response time p50 %.2f ms, p99 %.2f ms, max %.2f ms",
		           open->rate, stats->sustainable ? "sustainable" : "NOT sustainable",
		           stats->backlog_peak, stats->backlog_max,
		           (double)ecom_latency_percentile(&stats->end_to_end, 50) / 1000.0,
		           (double)ecom_latency_percentile(&stats->end_to_end, 99) / 1000.0,
		           (double)ecom_latency_max(&stats->end_to_end) / 1000.0);
}

static int
drive(const ecom_config *cfg, const ecom_open_loop *open, ecom_stop_flag *stop, ecom_err *err)
{
	ecom_progress progress;
	ecom_reconcile_opts terminal = {
		.orders = cfg->orders,
		.window = cfg->window,
		.on_progress = on_progress,
		.progress_arg = &progress,
	};
	ecom_stage_opts opts = {.kind = ECOM_STAGE_RECONCILE, .stop = stop, .terminal = &terminal};
	drive_cpu cpu = {.cfg = cfg};
	ecom_drive_hooks hooks = {.may_start = cpu_start, .arg = &cpu};
	ecom_stage_stats stats;
	int rc;

	if (open != NULL)
		terminal.open = *open;
	terminal.drive = &hooks;
	ecom_stage_stats_init(&stats);
	ecom_progress_start(&progress, cfg->orders, 0);
	rc = ecom_stage_run(cfg, &opts, &stats, err);
	cpu_end(&cpu);
	ecom_progress_finish(&progress);
	/* Interrupted or failed, the report says how far the run came. */
	report_drive(cfg, open, &stats, &cpu);
	/* Not sustainable is a result, not a failure: the report says so. */
	if (rc == 0 && stats.fulfilled_before + stats.fulfilled < cfg->orders && stats.sustainable)
		rc = ecom_err_set(err, "stopped by a signal after %" PRId64 " of %ld orders",
		                  stats.fulfilled_before + stats.fulfilled, cfg->orders);
	ecom_stage_stats_free(&stats);
	return rc;
}

static int
reset(const ecom_config *cfg, ecom_err *err)
{
	ecom_store *store = NULL;
	int rc;

	if (ecom_stage_recreate_topics(cfg, err) < 0)
		return -1;
	if (ecom_store_open(&store, cfg, err) < 0)
		return -1;
	rc = ecom_store_reset(store, err);
	if (rc == 0)
		ecom_infof("topics recreated, %s database '%s' emptied", ecom_store_name(store),
		           cfg->database);
	ecom_store_close(store);
	return rc;
}

static int
audit(const ecom_config *cfg, bool *ok, ecom_err *err)
{
	ecom_store *store = NULL;
	bson_t report;
	int rc;

	if (ecom_store_open(&store, cfg, err) < 0)
		return -1;
	bson_init(&report);
	rc = ecom_store_audit(store, &report, ok, err);
	if (rc == 0)
		ecom_json_print(stdout, &report);
	bson_destroy(&report);
	ecom_store_close(store);
	return rc;
}

static struct {
	bool drive, audit, reset;
	ecom_load_args load; /* -w, --rate and the open loop's options */
} args = {.load.open.seed = 1};

static int
take_option(ecom_cli *cli, int opt, const char *arg)
{
	switch (opt) {
	case OPT_DRIVE:
		args.drive = true;
		ecom_cli_set(cli, "orders", arg);
		return 0;
	case 'w':
		args.load.window_given = true;
		ecom_cli_set(cli, "window", arg);
		return 0;
	case OPT_RATE:
		return ecom_load_take(&args.load, "rate", arg);
	case OPT_ARRIVALS:
		return ecom_load_take(&args.load, "arrivals", arg);
	case OPT_WARMUP:
		return ecom_load_take(&args.load, "warmup", arg);
	case OPT_MAX_BACKLOG:
		return ecom_load_take(&args.load, "max-backlog", arg);
	case OPT_AUDIT:
		args.audit = true;
		return 0;
	case OPT_RESET:
		args.reset = true;
		return 0;
	default:
		return ecom_cli_unhandled_option(own_options, opt);
	}
}

static int
check_options(void)
{
	if (args.drive + args.audit + args.reset != 1) {
		ecom_usagef("give exactly one of --drive N, --audit and --reset");
		return -1;
	}
	if ((args.load.window_given || args.load.open.rate > 0 || args.load.open_option_given) &&
	    !args.drive) {
		ecom_usagef("--window, --rate and the open loop's options go with --drive");
		return -1;
	}
	return 0;
}

static int
run(ecom_config *cfg, ecom_stop_flag *stop)
{
	ecom_err err;
	bool ok = false;
	int rc;

	if (ecom_load_check(&args.load, cfg, &err) < 0) {
		ecom_usagef("%s", err.msg);
		return ECOM_EXIT_USAGE;
	}
	if (args.reset)
		rc = reset(cfg, &err);
	else if (args.audit)
		rc = audit(cfg, &ok, &err);
	else
		rc = drive(cfg, args.load.open.rate > 0 ? &args.load.open : NULL, stop, &err);
	if (rc < 0) {
		ecom_errorf("%s", err.msg);
		return ECOM_EXIT_FAILURE;
	}
	if (args.audit && !ok) {
		ecom_errorf("audit found missing, duplicated or unfinished orders");
		return ECOM_EXIT_FAILURE;
	}
	return ECOM_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const ecom_command command = {
		.synopsis = "ecom-reconcile [options] --drive N [-w W]\n"
		            "ecom-reconcile [options] --drive N --rate R [--arrivals KIND] [--warmup S] "
		            "[--max-backlog N]\n"
		            "ecom-reconcile [options] --audit\n"
		            "ecom-reconcile [options] --reset",
		.description = "Run the last stage of the flow until N orders are fulfilled, or audit "
		               "a store.",
		.options = own_options,
		.option = take_option,
		.check = check_options,
		.run = run,
	};

	return ecom_cli_main(argc, argv, &command);
}
