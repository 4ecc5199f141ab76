/* A store's capacity under a latency objective, and its curve (ecom_sweep.h). */
#include "ecom_sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_metrics.h"
#include "ecom_report.h"

/* A run keeps up when it fulfils at least this share of the rate offered. */
#define KEEPS_UP 0.9
/* Orders a step measures at least, however low its rate. */
#define MIN_MEASURED 200

int
ecom_slo_parse(const char *text, ecom_slo *slo, ecom_err *err)
{
	char percentile[32], *end;
	const char *eq = strchr(text, '=');
	double limit, scale = 1.0;
	size_t n;

	if (text[0] != 'p' || eq == NULL || (n = (size_t)(eq - text - 1)) == 0 ||
	    n >= sizeof(percentile))
		goto bad;
	memcpy(percentile, text + 1, n);
	percentile[n] = '\0';
	if (ecom_parse_double(percentile, 1, 99.999, &slo->percentile) < 0)
		goto bad;
	limit = strtod(eq + 1, &end);
	if (end == eq + 1)
		goto bad;
	if (strcmp(end, "s") == 0)
		scale = 1000.0;
	else if (strcmp(end, "us") == 0)
		scale = 0.001;
	else if (strcmp(end, "ms") != 0 && *end != '\0')
		goto bad;
	if (!isfinite(limit) || limit <= 0)
		goto bad;
	slo->limit_ms = limit * scale;
	return 0;
bad:
	return ecom_err_set(err, "latency objective '%s': expected pNN=LIMIT, e.g. p99=50ms, "
	                         "p99.9=0.2s (a percentile from 1 to 99.999, a limit above 0)",
	                    text);
}

void
ecom_sweep_opts_init(ecom_sweep_opts *opts)
{
	static const ecom_sweep_opts defaults = ECOM_SWEEP_DEFAULTS;

	*opts = defaults;
}

static double
ms_at(const ecom_latency *lat, double percentile)
{
	return (double)ecom_latency_percentile((ecom_latency *)lat, percentile) / 1000.0;
}

static double
per_event(int64_t us, int64_t events)
{
	return us >= 0 && events > 0 ? (double)us / (double)events : -1;
}

/* What the step cost in CPU per event, for ecom, the broker and the store. */
static void
cpu_of_step(const ecom_flow_result *run, const ecom_run_timing *timing, ecom_sweep_step *step)
{
	const ecom_cpu_services *svc = &run->cpu_services;
	int64_t events = timing->orders_this_run * ECOM_FLOW_HOPS_PER_ORDER, store;

	step->cpu_ecom_us = step->cpu_kafka_us = step->cpu_store_us = -1;
	if (!run->cpu_measured)
		return;
	store = ecom_cpu_store_us(&run->cpu_used, svc);
	step->cpu_ecom_us = per_event(run->cpu_used.process_us, events);
	step->cpu_kafka_us = per_event(ecom_cpu_kind_us(&run->cpu_used, svc, ECOM_CPU_KAFKA), events);
	step->cpu_store_us = per_event(store, events);
}

/* One rate offered, on a clean store, for step_s seconds. */
static int
run_step(const ecom_config *cfg, const ecom_sweep_opts *o, double rate, ecom_sweep_step *step,
         ecom_sweep_result *result, ecom_err *err)
{
	ecom_config step_cfg = *cfg; /* a shallow copy: only its orders change */
	ecom_open_loop open = {.rate = rate, .arrivals = o->arrivals, .seed = 1};
	ecom_flow_opts fo = {.floor_samples = 0, .stop = o->stop, .open = &open};
	ecom_flow_result run;
	ecom_stage_stats *st;
	ecom_run_timing timing;
	int rc;

	open.warmup_s = o->warmup_s < o->step_s ? o->warmup_s : 0;
	/* Enough orders after the warm-up for a p99 that is not just the maximum. */
	step_cfg.orders = (long)ceil(rate * o->step_s);
	if (step_cfg.orders < (long)ceil(rate * open.warmup_s) + MIN_MEASURED)
		step_cfg.orders = (long)ceil(rate * open.warmup_s) + MIN_MEASURED;
	ecom_flow_result_init(&run);
	rc = ecom_flow_benchmark(&step_cfg, &fo, &run, err);
	st = &run.stages[ECOM_STAGE_RECONCILE];
	ecom_run_timing_of(&timing, st, step_cfg.orders);
	memset(step, 0, sizeof(*step));
	step->rate = rate;
	step->orders = step_cfg.orders;
	step->sustainable = st->sustainable;
	step->achieved = ecom_report_achieved_per_s(&open, &timing, st);
	step->p50_ms = ms_at(&st->end_to_end, 50);
	step->p99_ms = ms_at(&st->end_to_end, 99);
	step->p999_ms = ms_at(&st->end_to_end, 99.9);
	step->max_ms = (double)ecom_latency_max(&st->end_to_end) / 1000.0;
	step->objective_ms = ms_at(&st->end_to_end, o->slo.percentile);
	step->meets = rc == 0 && step->sustainable && step->achieved >= KEEPS_UP * rate &&
	              step->objective_ms <= o->slo.limit_ms;
	cpu_of_step(&run, &timing, step);
	snprintf(result->server, sizeof(result->server), "%s", run.server);
	ecom_flow_result_free(&run);
	return rc;
}

static int
add_step(const ecom_config *cfg, const ecom_sweep_opts *o, double rate,
         void (*on_step)(void *, const ecom_sweep_step *), void *arg, ecom_sweep_result *result,
         ecom_err *err)
{
	ecom_sweep_step *step = &result->steps[result->n_steps];

	if (result->n_steps >= sizeof(result->steps) / sizeof(result->steps[0]))
		return ecom_err_set(err, "the sweep ran out of steps (a bug)");
	if (run_step(cfg, o, rate, step, result, err) < 0)
		return -1;
	result->n_steps++;
	if (on_step != NULL)
		on_step(arg, step);
	return 0;
}

/* Doubling until a rate fails, then halving the bracket until it is narrow. */
static int
search(const ecom_config *cfg, const ecom_sweep_opts *o,
       void (*on_step)(void *, const ecom_sweep_step *), void *arg, ecom_sweep_result *result,
       ecom_err *err)
{
	double rate = o->from_rate, pass = 0, fail = 0;
	int n;

	for (n = 0; n < o->max_steps; n++) {
		if (add_step(cfg, o, rate, on_step, arg, result, err) < 0)
			return -1;
		if (result->steps[result->n_steps - 1].meets)
			pass = rate;
		else
			fail = rate;
		if (fail > 0 && fail - pass <= o->precision * fail)
			break;
		rate = fail == 0 ? rate * 2 : pass > 0 ? (pass + fail) / 2 : fail / 4;
		/* Nothing met the objective down to a sixty-fourth of the first rate: none will soon. */
		if (rate < o->from_rate / 64)
			break;
	}
	result->capacity = pass;
	result->first_failed = fail;
	return 0;
}

int
ecom_sweep_run(const ecom_config *cfg, const ecom_sweep_opts *opts,
               void (*on_step)(void *arg, const ecom_sweep_step *step), void *arg,
               ecom_sweep_result *result, ecom_err *err)
{
	memset(result, 0, sizeof(*result));
	result->at_half = result->at_nine_tenths = -1;
	if (search(cfg, opts, on_step, arg, result, err) < 0)
		return -1;
	if (result->capacity <= 0)
		return 0;
	if (add_step(cfg, opts, result->capacity * 0.5, on_step, arg, result, err) < 0)
		return -1;
	result->at_half = (int)result->n_steps - 1;
	if (add_step(cfg, opts, result->capacity * 0.9, on_step, arg, result, err) < 0)
		return -1;
	result->at_nine_tenths = (int)result->n_steps - 1;
	return 0;
}

static void
append_or_null(bson_t *doc, const char *key, double x)
{
	if (x < 0)
		BSON_APPEND_NULL(doc, key);
	else
		BSON_APPEND_DOUBLE(doc, key, ecom_report_round3(x));
}

static void
append_step(bson_t *parent, const char *key, const ecom_sweep_step *s)
{
	bson_t d, cpu;

	bson_append_document_begin(parent, key, -1, &d);
	BSON_APPEND_DOUBLE(&d, "rate", ecom_report_round3(s->rate));
	BSON_APPEND_INT64(&d, "orders", s->orders);
	BSON_APPEND_DOUBLE(&d, "achieved_per_s", ecom_report_round3(s->achieved));
	BSON_APPEND_BOOL(&d, "sustainable", s->sustainable);
	BSON_APPEND_BOOL(&d, "meets_slo", s->meets);
	BSON_APPEND_DOUBLE(&d, "p50_ms", ecom_report_round3(s->p50_ms));
	BSON_APPEND_DOUBLE(&d, "p99_ms", ecom_report_round3(s->p99_ms));
	BSON_APPEND_DOUBLE(&d, "p999_ms", ecom_report_round3(s->p999_ms));
	BSON_APPEND_DOUBLE(&d, "max_ms", ecom_report_round3(s->max_ms));
	bson_append_document_begin(&d, "cpu_us_per_event", -1, &cpu);
	append_or_null(&cpu, "ecom", s->cpu_ecom_us);
	append_or_null(&cpu, "kafka", s->cpu_kafka_us);
	append_or_null(&cpu, "store", s->cpu_store_us);
	bson_append_document_end(&d, &cpu);
	bson_append_document_end(parent, &d);
}

void
ecom_sweep_report(const ecom_sweep_opts *opts, const ecom_sweep_result *result,
                  const char *store, bson_t *report)
{
	bson_t slo, steps;
	char key[24];
	size_t i;

	BSON_APPEND_UTF8(report, "store", store);
	if (result->server[0] != '\0')
		BSON_APPEND_UTF8(report, "server", result->server);
	BSON_APPEND_UTF8(report, "loop", "open");
	BSON_APPEND_UTF8(report, "arrivals", ecom_arrivals_name(opts->arrivals));
	bson_append_document_begin(report, "slo", -1, &slo);
	BSON_APPEND_DOUBLE(&slo, "percentile", opts->slo.percentile);
	BSON_APPEND_DOUBLE(&slo, "limit_ms", opts->slo.limit_ms);
	bson_append_document_end(report, &slo);
	BSON_APPEND_DOUBLE(report, "step_s", opts->step_s);
	BSON_APPEND_DOUBLE(report, "warmup_s", opts->warmup_s);
	BSON_APPEND_DOUBLE(report, "capacity", ecom_report_round3(result->capacity));
	if (result->first_failed > 0)
		BSON_APPEND_DOUBLE(report, "first_failed", ecom_report_round3(result->first_failed));
	else
		BSON_APPEND_NULL(report, "first_failed");
	if (result->at_half >= 0)
		append_step(report, "at_50", &result->steps[result->at_half]);
	if (result->at_nine_tenths >= 0)
		append_step(report, "at_90", &result->steps[result->at_nine_tenths]);
	bson_append_array_begin(report, "steps", -1, &steps);
	for (i = 0; i < result->n_steps; i++) {
		snprintf(key, sizeof(key), "%zu", i);
		append_step(&steps, key, &result->steps[i]);
	}
	bson_append_array_end(report, &steps);
	BSON_APPEND_INT64(report, "peak_rss_kib", ecom_peak_rss_kib());
}
