/*
 * ecom-bench --plot: the latency distributions of one or more runs drawn
 * by gnuplot (Debian gnuplot-nox) into an SVG file.
 */
#ifndef ECOM_PLOT_H
#define ECOM_PLOT_H

#include <stddef.h>

#include "ecom_log.h"
#include "ecom_metrics.h"
#include "ecom_stage.h"

/* Room for a server's name, e.g. "mongo-java-server 1.47.0 (memory)". */
#define ECOM_PLOT_SERVER_MAX 96

/*
 * One run's data: the store's name, the server measured
 * (ecom_store_server()), its total time and its samples.
 */
typedef struct ecom_plot_run {
	char store[32];
	char server[ECOM_PLOT_SERVER_MAX];
	double elapsed_s;
	double orders_per_s;
	ecom_latency end_to_end;
	ecom_latency stages[ECOM_STAGE_COUNT];
} ecom_plot_run;

void ecom_plot_run_init(ecom_plot_run *run, const char *store);
void ecom_plot_run_free(ecom_plot_run *run);

/*
 * Draw to path: the end-to-end latency CDF of every run, the p50/p99 of
 * every stage side by side, and the totals in the title.  Returns 0, or
 * -1 with err naming what failed (gnuplot missing, not writable…).
 */
int ecom_plot_svg(const char *path, ecom_plot_run *runs, size_t n_runs, ecom_err *err);

#endif
