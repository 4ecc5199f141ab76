/*
 * The whole flow in one process, and its measurement: the driver
 * ecom-bench runs, beside the stage loop it drives.
 *
 * A benchmark run resets the topics and the store, measures the
 * references on the same services (ecom_measure.h: the floor of a closed
 * loop, and with a window above 1 the ceilings of a pipeline), runs the
 * five stages as threads (each with its own clients, the same stage code
 * the separate commands run) until cfg->orders are fulfilled, with one
 * order in flight stopping the flow's clock between orders to time the
 * floor's chain on the services as the flow finds them, times the chain
 * again after the flow, and reports.
 */
#ifndef ECOM_FLOW_H
#define ECOM_FLOW_H

#include <bson/bson.h>
#include <signal.h>

#include "ecom_config.h"
#include "ecom_cpu.h"
#include "ecom_log.h"
#include "ecom_plot.h"
#include "ecom_measure.h"
#include "ecom_reconcile.h"
#include "ecom_stage.h"

/* Kafka hops and store writes of one order: five events, and the fulfilment mark. */
#define ECOM_FLOW_HOPS_PER_ORDER 5
#define ECOM_FLOW_WRITES_PER_ORDER 6

typedef struct ecom_flow_opts {
	int floor_samples;            /* chains timed for the floor before, in and after the run */
	ecom_stop_flag *stop;  /* set: every stage stops after its batch */
	const ecom_open_loop *open; /* an open loop's rate and arrivals; NULL: a closed loop */
	void (*on_progress)(void *arg, int64_t fulfilled);
	void *progress_arg;
} ecom_flow_opts;

typedef struct ecom_flow_result {
	ecom_stage_stats stages[ECOM_STAGE_COUNT];
	/* The floor's chains, timed before the flow, between its orders (window 1) and after it. */
	ecom_floor_times floor_before;
	ecom_floor_times floor_in_run;
	ecom_floor_times floor_after;
	/* Window above 1: the services at full speed on the same work. */
	double kafka_ceiling_s;
	double store_ceiling_s;
	char server[128]; /* the store's server, as it names itself */
	bool open_loop;
	ecom_open_loop open; /* an open loop's rate and arrivals */
	/* CPU over the flow, the floor's pauses left out (ecom_cpu.h). */
	bool cpu_measured;
	char cpu_failure[256];        /* why not, when not */
	ecom_cpu_services cpu_services; /* the broker and store processes found here */
	ecom_cpu_snapshot cpu_used;   /* this process and the services */
	int64_t stage_cpu_us[ECOM_STAGE_COUNT]; /* each stage's own thread */
} ecom_flow_result;

void ecom_flow_result_init(ecom_flow_result *result);
void ecom_flow_result_free(ecom_flow_result *result);

/*
 * One benchmark run, as above.  Fills result as far as the run came;
 * -1 with err naming the stage that failed, or when stopped before the
 * last order.
 */
int ecom_flow_benchmark(const ecom_config *cfg, const ecom_flow_opts *opts,
                        ecom_flow_result *result, ecom_err *err);

/*
 * The report of a run (complete or not), one JSON object: store, server,
 * timing, latencies, the phases of every stage, the floor and
 * elapsed/floor, peak RSS.
 */
void ecom_flow_report(const ecom_config *cfg, const char *store_name, ecom_flow_result *result,
                      bson_t *report);
/* The human summary of a report, one line: totals, floor, where the time goes. */
void ecom_flow_summary(const bson_t *report, char *buf, size_t size);
/* The run's data for ecom_plot_svg(); plot is initialised by the caller. */
void ecom_flow_plot_data(const ecom_config *cfg, ecom_flow_result *result, ecom_plot_run *plot);

#endif
