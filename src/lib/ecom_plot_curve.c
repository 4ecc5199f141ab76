/* ecom-bench --sweep --plot: latency against offered load (ecom_plot.h). */
#include "ecom_plot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "rate p50 p99 p999" lines, by rate. */
static int
write_curve(const char *path, const ecom_plot_curve *c)
{
	FILE *fp = fopen(path, "w");
	size_t order[32], i, j;

	if (fp == NULL)
		return -1;
	for (i = 0; i < c->n; i++)
		order[i] = i;
	for (i = 1; i < c->n; i++) /* a handful of points: insertion sort */
		for (j = i; j > 0 && c->rate[order[j - 1]] > c->rate[order[j]]; j--) {
			size_t t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (i = 0; i < c->n; i++)
		fprintf(fp, "%.3f %.3f %.3f %.3f\n", c->rate[order[i]], c->p50_ms[order[i]],
		        c->p99_ms[order[i]], c->p999_ms[order[i]]);
	return fclose(fp);
}

static int
write_script(const char *script, const char *dir, const char *out, const ecom_plot_curve *curves,
             size_t n, double objective_ms, const char *objective_label)
{
	static const char *const names[3] = {"p50", "p99", "p99.9"};
	FILE *fp = fopen(script, "w");
	size_t c;
	int p;

	if (fp == NULL)
		return -1;
	fprintf(fp, "set terminal svg size 960,600 dynamic enhanced font 'sans,12' "
	            "background rgb 'white'\nset output '%s'\n",
	        out);
	fprintf(fp, "set title 'response time against offered load (open loop)' noenhanced\n"
	            "set xlabel 'offered orders per second'\nset ylabel 'response time (ms, log "
	            "scale)'\nset logscale y\nset grid\nset key top left\n");
	for (c = 0; c < n; c++)
		if (curves[c].capacity > 0)
			fprintf(fp,
			        "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 3 lc %zu lw 2\n"
			        "set label 'capacity %.0f/s' at %.3f, graph %.2f left offset 0.5,0 "
			        "tc lt %zu noenhanced\n",
			        curves[c].capacity, curves[c].capacity, c + 1, curves[c].capacity,
			        curves[c].capacity, 0.95 - 0.05 * (double)c, c + 1);
	fprintf(fp, "plot %.3f with lines dt 2 lc rgb 'gray40' title 'objective %s' noenhanced",
	        objective_ms, objective_label);
	for (c = 0; c < n; c++)
		for (p = 0; p < 3; p++)
			fprintf(fp,
			        ", '%s/curve-%zu.dat' using 1:%d with linespoints lc %zu dt %d lw 2 "
			        "title '%s %s' noenhanced",
			        dir, c, p + 2, c + 1, p + 1, curves[c].label, names[p]);
	fprintf(fp, "\n");
	return fclose(fp);
}

int
ecom_plot_curve_svg(const char *path, const ecom_plot_curve *curves, size_t n_curves,
                    double objective_ms, const char *objective_label, ecom_err *err)
{
	char dir[] = "/tmp/ecom-curve.XXXXXX";
	char file[sizeof(dir) + 32], script[sizeof(dir) + 32];
	size_t c;
	int rc = -1;

	if (strchr(path, '\'') != NULL || strchr(objective_label, '\'') != NULL || n_curves > 99)
		return ecom_err_set(err, "plot file '%s': a name with a quote is not supported", path);
	if (mkdtemp(dir) == NULL)
		return ecom_err_set(err, "cannot make a temporary directory: %s", strerror(errno));
	snprintf(script, sizeof(script), "%s/curve.gp", dir);
	for (c = 0; c < n_curves; c++) {
		snprintf(file, sizeof(file), "%s/curve-%zu.dat", dir, c);
		if (write_curve(file, &curves[c]) != 0) {
			ecom_err_set(err, "cannot write '%s': %s", file, strerror(errno));
			goto out;
		}
	}
	if (write_script(script, dir, path, curves, n_curves, objective_ms, objective_label) != 0) {
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
