#include "ecom_plot.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void
ecom_plot_run_init(ecom_plot_run *run, const char *label)
{
	memset(run, 0, sizeof(*run));
	/* gnuplot strings are single-quoted: no quote may reach them. */
	snprintf(run->label, sizeof(run->label), "%s", label);
	for (char *q = run->label; (q = strchr(q, '\'')) != NULL;)
		*q = '"';
	ecom_latency_init(&run->end_to_end);
}

void
ecom_plot_run_add_server(ecom_plot_run *run, const char *server)
{
	size_t used = strlen(run->label);

	snprintf(run->label + used, sizeof(run->label) - used, " on %s", server);
	for (char *q = run->label; (q = strchr(q, '\'')) != NULL;)
		*q = '"';
}

void
ecom_plot_run_free(ecom_plot_run *run)
{
	ecom_latency_free(&run->end_to_end);
}

int
ecom_plot_check_writable(const char *path, ecom_err *err)
{
	FILE *probe = fopen(path, "w");

	if (probe == NULL)
		return ecom_err_set(err, "cannot write plot file '%s': %s", path, strerror(errno));
	fclose(probe);
	return 0;
}

typedef struct cdf_out {
	FILE *fp;
	uint64_t total;
	uint64_t next; /* the cumulative count at which the next point is due */
} cdf_out;

static int
write_cdf_point(int64_t value_us, uint64_t count, uint64_t cumulative, void *arg)
{
	cdf_out *out = arg;

	(void)count;
	if (cumulative < out->next && cumulative < out->total)
		return 0;
	out->next = cumulative + out->total / 2000 + 1;
	return fprintf(out->fp, "%.3f %.5f\n", (double)value_us / 1000.0,
	               (double)cumulative / (double)out->total) < 0;
}

/* "ms fraction" lines: the histogram's CDF, thinned to at most ~2,000 points. */
static int
write_cdf(const char *path, const ecom_latency *lat)
{
	cdf_out out = {fopen(path, "w"), ecom_latency_count(lat), 0};
	int rc;

	if (out.fp == NULL)
		return -1;
	rc = ecom_latency_for_each_bucket(lat, write_cdf_point, &out);
	if (fclose(out.fp) != 0 || rc != 0)
		return -1;
	return 0;
}

/* One row per stage of one run: name, then the p50 (ms) of each phase. */
static int
write_phase_table(const char *path, const ecom_plot_run *run)
{
	FILE *fp = fopen(path, "w");
	size_t k, p;

	if (fp == NULL)
		return -1;
	for (k = 0; k < run->n_stages; k++) {
		fprintf(fp, "%s", run->stage_names[k]);
		for (p = 0; p < run->n_phases; p++)
			fprintf(fp, " %.3f", run->phase_p50_ms[k][p]);
		fputc('\n', fp);
	}
	return fclose(fp);
}

static int
write_script(const char *script, const char *dir, const char *out, ecom_plot_run *runs,
             size_t n_runs)
{
	FILE *fp = fopen(script, "w");
	size_t r;

	if (fp == NULL)
		return -1;
	fprintf(fp, "set terminal svg size 1280,560 dynamic enhanced font 'sans,12' "
	            "background rgb 'white'\n");
	fprintf(fp, "set output '%s'\n", out);
	fprintf(fp, "set multiplot layout 1,2 title 'ecom order flow:");
	for (r = 0; r < n_runs; r++)
		fprintf(fp, "%s %s %.1f s (%.1f orders/s)", r ? "," : "", runs[r].label,
		        runs[r].elapsed_s, runs[r].orders_per_s);
	fprintf(fp, "'\n");
	/* Left: end-to-end latency, cumulative distribution. */
	fprintf(fp, "set title 'end-to-end latency per order (CDF)'\n"
	            "set xlabel 'latency (ms, log scale)'\nset ylabel 'fraction of orders'\n"
	            "set logscale x\nset yrange [0:1]\nset grid\nset key bottom right\n");
	fprintf(fp, "plot ");
	for (r = 0; r < n_runs; r++)
		fprintf(fp, "%s'%s/e2e-%zu.dat' using 1:2 with lines lw 2 title '%s' noenhanced",
		        r ? ", " : "", dir, r, runs[r].label);
	fprintf(fp, "\n");
	/* Right: where each stage's time goes, one group of stacked bars per run. */
	fprintf(fp, "unset logscale x\nset title 'time per stage: p50 of each phase (ms)'\n"
	            "set xlabel 'stage'\nset ylabel 'ms'\nset yrange [0:*]\nset key top left\n"
	            "set style data histogram\nset style histogram rowstacked\n"
	            "set style fill solid 0.8 border -1\nset boxwidth 0.8\nset xtics nomirror "
	            "rotate by -30\n");
	fprintf(fp, "plot ");
	for (r = 0; r < n_runs; r++) {
		size_t p;

		fprintf(fp, "%snewhistogram '%s'", r ? ", " : "", runs[r].label);
		for (p = 0; p < runs[r].n_phases; p++)
			fprintf(fp, ", '%s/phases-%zu.dat' using %zu%s %s '%s' lc %zu", dir, r, p + 2,
			        p == 0 ? ":xtic(1)" : "", r == 0 ? "title" : "notitle",
			        runs[r].phase_names[p], p + 1);
	}
	fprintf(fp, "\nunset multiplot\n");
	return fclose(fp);
}

void
ecom_plot_remove_scratch(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char file[PATH_MAX];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
		unlink(file);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

int
ecom_plot_gnuplot(const char *script, const char *path, ecom_err *err)
{
	char command[PATH_MAX + 32];
	int status;

	snprintf(command, sizeof(command), "gnuplot '%s' 2>&1", script);
	status = system(command);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) == 127)
		return ecom_err_set(err, "cannot run gnuplot: install the Debian package gnuplot-nox");
	if (WEXITSTATUS(status) != 0)
		return ecom_err_set(err, "gnuplot failed (exit %d) drawing '%s'", WEXITSTATUS(status),
		                    path);
	return 0;
}

int
ecom_plot_svg(const char *path, ecom_plot_run *runs, size_t n_runs, ecom_err *err)
{
	char dir[] = "/tmp/ecom-plot.XXXXXX";
	char file[sizeof(dir) + 32], script[sizeof(dir) + 32];
	size_t r;
	int rc = -1;

	if (strchr(path, '\'') != NULL || n_runs > 99)
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
		snprintf(file, sizeof(file), "%s/phases-%zu.dat", dir, r);
		if (write_phase_table(file, &runs[r]) != 0) {
			ecom_err_set(err, "cannot write '%s': %s", file, strerror(errno));
			goto out;
		}
	}
	if (write_script(script, dir, path, runs, n_runs) != 0) {
		ecom_err_set(err, "cannot write the plot data in '%s': %s", dir, strerror(errno));
		goto out;
	}
	if (ecom_plot_gnuplot(script, path, err) < 0)
		goto out;
	rc = 0;
out:
	ecom_plot_remove_scratch(dir);
	return rc;
}
