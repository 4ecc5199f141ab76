/*
 * ecom-bench --plot: one or more runs drawn by gnuplot (Debian
 * gnuplot-nox) into an SVG file: the end-to-end latency CDF of every
 * run, and where each stage's time goes (the p50 of each phase, stacked).
 */
#ifndef ECOM_PLOT_H
#define ECOM_PLOT_H

#include <stddef.h>

#include "ecom_log.h"
#include "ecom_metrics.h"

#define ECOM_PLOT_MAX_STAGES 8
#define ECOM_PLOT_MAX_PHASES 8

/* One run's data. */
typedef struct ecom_plot_run {
	char label[160]; /* the legend: the store and the server measured */
	double elapsed_s;
	double orders_per_s;
	ecom_latency end_to_end;
	size_t n_stages;
	size_t n_phases;
	char stage_names[ECOM_PLOT_MAX_STAGES][16];
	char phase_names[ECOM_PLOT_MAX_PHASES][16];
	double phase_p50_ms[ECOM_PLOT_MAX_STAGES][ECOM_PLOT_MAX_PHASES];
} ecom_plot_run;

void ecom_plot_run_init(ecom_plot_run *run, const char *label);
/* The label becomes "<label> on <server>" (ecom_store_server()). */
void ecom_plot_run_add_server(ecom_plot_run *run, const char *server);
void ecom_plot_run_free(ecom_plot_run *run);

/* Can path be written?  Checked before a benchmark, not after it. */
int ecom_plot_check_writable(const char *path, ecom_err *err);

/*
 * Draw to path; returns 0, or -1 with err naming what failed (gnuplot
 * missing, not writable…).
 */
int ecom_plot_svg(const char *path, ecom_plot_run *runs, size_t n_runs, ecom_err *err);

/* Run gnuplot on script, which draws path; -1 with err naming what failed. */
int ecom_plot_gnuplot(const char *script, const char *path, ecom_err *err);
/* A plot's scratch directory (mkdtemp'd, its data and script) removed, whatever it holds. */
void ecom_plot_remove_scratch(const char *dir);

/* One store's capacity search: latency against offered load. */
typedef struct ecom_plot_curve {
	char label[160];
	size_t n;
	double rate[32], p50_ms[32], p99_ms[32], p999_ms[32];
	double capacity; /* 0: none found */
} ecom_plot_curve;

/*
 * The latency/load curve of one or more stores to path (SVG): p50, p99
 * and p99.9 of the response time against the offered rate, a line per
 * store and percentile, each store's capacity marked, and the objective
 * (objective_ms, named by objective_label) drawn across.
 */
int ecom_plot_curve_svg(const char *path, const ecom_plot_curve *curves, size_t n_curves,
                        double objective_ms, const char *objective_label, ecom_err *err);

#endif
