#include "ecom_plot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void
ecom_plot_run_init(ecom_plot_run *run, const char *store)
{
	int k;

	memset(run, 0, sizeof(*run));
	snprintf(run->store, sizeof(run->store), "%s", store);
	ecom_latency_init(&run->end_to_end);
	for (k = 0; k < ECOM_STAGE_COUNT; k++)
		ecom_latency_init(&run->stages[k]);
}

void
ecom_plot_run_free(ecom_plot_run *run)
{
	int k;

	ecom_latency_free(&run->end_to_end);
	for (k = 0; k < ECOM_STAGE_COUNT; k++)
		ecom_latency_free(&run->stages[k]);
}

/* "ms fraction" lines: the empirical CDF, thinned to at most ~2,000 points. */
static int
write_cdf(const char *path, ecom_latency *lat)
{
	FILE *fp = fopen(path, "w");
	size_t i, step;

	if (fp == NULL)
		return -1;
	ecom_latency_percentile(lat, 50); /* sorts the samples */
	step = lat->count / 2000 + 1;
	for (i = 0; i < lat->count; i += step)
		fprintf(fp, "%.3f %.5f\n", (double)lat->samples_us[i] / 1000.0,
		        (double)(i + 1) / (double)lat->count);
	if (lat->count > 0)
		fprintf(fp, "%.3f 1\n", (double)lat->samples_us[lat->count - 1] / 1000.0);
	return fclose(fp);
}

/* One row per stage: name, then p50 and p99 (ms) of each run. */
static int
write_stage_table(const char *path, ecom_plot_run *runs, size_t n_runs)
{
	FILE *fp = fopen(path, "w");
	size_t r;
	int k;

	if (fp == NULL)
		return -1;
	for (k = 0; k < ECOM_STAGE_COUNT; k++) {
		fprintf(fp, "%s", ecom_stage_name((ecom_stage_kind)k));
		for (r = 0; r < n_runs; r++)
			fprintf(fp, " %.3f %.3f",
			        (double)ecom_latency_percentile(&runs[r].stages[k], 50) / 1000.0,
			        (double)ecom_latency_percentile(&runs[r].stages[k], 99) / 1000.0);
		fputc('\n', fp);
	}
	return fclose(fp);
}

/*
 * "mongodb on mongo-java-server 1.47.0 (memory)", safe inside a gnuplot
 * string in single quotes (printed with noenhanced, so _ and ^ stay).
 */
static void
run_label(const ecom_plot_run *run, char *label, size_t size)
{
	char *c;

	if (run->server[0] != '\0')
		snprintf(label, size, "%s on %s", run->store, run->server);
	else
		snprintf(label, size, "%s", run->store);
	for (c = label; *c != '\0'; c++) {
		if (*c == '\'' || *c == '\\' || *c == '\n')
			*c = ' ';
	}
}

static int
write_script(const char *script, const char *dir, const char *out, ecom_plot_run *runs,
             size_t n_runs)
{
	FILE *fp = fopen(script, "w");
	char label[sizeof(runs->store) + sizeof(runs->server) + 8];
	size_t r;

	if (fp == NULL)
		return -1;
	fprintf(fp, "set terminal svg size 1280,560 dynamic enhanced font 'sans,12' "
	            "background rgb 'white'\n");
	fprintf(fp, "set output '%s'\n", out);
	fprintf(fp, "set multiplot layout 1,2 title 'ecom order flow:");
	for (r = 0; r < n_runs; r++)
		fprintf(fp, "%s %s %.1f s (%.1f orders/s)", r ? "," : "", runs[r].store,
		        runs[r].elapsed_s, runs[r].orders_per_s);
	fprintf(fp, "'\n");
	/* Left: end-to-end latency, cumulative distribution. */
	fprintf(fp, "set title 'end-to-end latency per order (CDF)'\n"
	            "set xlabel 'latency (ms, log scale)'\nset ylabel 'fraction of orders'\n"
	            "set logscale x\nset yrange [0:1]\nset grid\nset key bottom right\n");
	fprintf(fp, "plot ");
	for (r = 0; r < n_runs; r++) {
		run_label(&runs[r], label, sizeof(label));
		fprintf(fp, "%s'%s/e2e-%zu.dat' using 1:2 with lines lw 2 title '%s' noenhanced",
		        r ? ", " : "", dir, r, label);
	}
	fprintf(fp, "\n");
	/* Right: per-stage p50 and p99, the runs side by side. */
	fprintf(fp, "unset logscale x\nset title 'latency per stage: p50 (solid) and p99 (light)'\n"
	            "set xlabel 'stage'\nset ylabel 'ms'\nset yrange [0:*]\nset key top left\n"
	            "set style data histogram\nset style histogram cluster gap 1\n"
	            "set style fill solid 0.9 border -1\nset boxwidth 0.9\nset xtics nomirror\n");
	fprintf(fp, "plot ");
	for (r = 0; r < n_runs; r++) {
		fprintf(fp, "%s'%s/stages.dat' using %zu:xtic(1) title '%s p50' lc %zu, "
		            "'' using %zu title '%s p99' lc %zu fs transparent solid 0.35",
		        r ? ", " : "", dir, 2 + 2 * r, runs[r].store, r + 1, 3 + 2 * r, runs[r].store,
		        r + 1);
	}
	fprintf(fp, "\nunset multiplot\n");
	return fclose(fp);
}

int
ecom_plot_svg(const char *path, ecom_plot_run *runs, size_t n_runs, ecom_err *err)
{
	char dir[] = "/tmp/ecom-plot.XXXXXX";
	char file[sizeof(dir) + 32], script[sizeof(dir) + 32], command[sizeof(dir) + 64];
	size_t r;
	int status, rc = -1;

	if (strchr(path, '\'') != NULL)
		return ecom_err_set(err, "plot file '%s': a name with a quote is not supported", path);
	if (mkdtemp(dir) == NULL)
		return ecom_err_set(err, "cannot make a temporary directory: %s", strerror(errno));
	/* Named before anything can fail: the clean-up below removes it. */
	snprintf(script, sizeof(script), "%s/plot.gp", dir);
	for (r = 0; r < n_runs; r++) {
		snprintf(file, sizeof(file), "%s/e2e-%zu.dat", dir, r);
		if (write_cdf(file, &runs[r].end_to_end) != 0) {
			ecom_err_set(err, "cannot write '%s': %s", file, strerror(errno));
			goto out;
		}
	}
	snprintf(file, sizeof(file), "%s/stages.dat", dir);
	if (write_stage_table(file, runs, n_runs) != 0 ||
	    write_script(script, dir, path, runs, n_runs) != 0) {
		ecom_err_set(err, "cannot write the plot data in '%s': %s", dir, strerror(errno));
		goto out;
	}
	snprintf(command, sizeof(command), "gnuplot '%s' 2>&1", script);
	status = system(command);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		ecom_err_set(err, "cannot run gnuplot: install the Debian package gnuplot-nox");
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		ecom_err_set(err, "gnuplot failed (exit %d) drawing '%s'", WEXITSTATUS(status), path);
		goto out;
	}
	rc = 0;
out:
	/* The data files are scratch: remove them whatever happened. */
	for (r = 0; r < n_runs; r++) {
		snprintf(file, sizeof(file), "%s/e2e-%zu.dat", dir, r);
		unlink(file);
	}
	snprintf(file, sizeof(file), "%s/stages.dat", dir);
	unlink(file);
	unlink(script);
	rmdir(dir);
	return rc;
}
