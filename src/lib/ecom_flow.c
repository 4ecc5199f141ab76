/* The flow in one process and its benchmark (see ecom_flow.h). */
#include "ecom_flow.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ecom_kafka.h"
#include "ecom_measure.h"
#include "ecom_reconcile.h"
#include "ecom_report.h"
#include "ecom_store.h"
#include "ecom_time.h"

void
ecom_flow_result_init(ecom_flow_result *result)
{
	int k;

	memset(result, 0, sizeof(*result));
	for (k = 0; k < ECOM_STAGE_COUNT; k++)
		ecom_stage_stats_init(&result->stages[k]);
}

void
ecom_flow_result_free(ecom_flow_result *result)
{
	int k;

	for (k = 0; k < ECOM_STAGE_COUNT; k++)
		ecom_stage_stats_free(&result->stages[k]);
}

/* Reset topics and store, measure the floor, reset the store again. */
static int
prepare_run(const ecom_config *cfg, const ecom_flow_opts *opts, ecom_flow_result *result,
            ecom_err *err)
{
	ecom_store *store = NULL;
	int rc = -1;

	if (ecom_stage_recreate_topics(cfg, err) < 0)
		return -1;
	if (ecom_store_open(&store, cfg, err) < 0)
		return -1;
	snprintf(result->server, sizeof(result->server), "%s", ecom_store_server(store));
	if (ecom_store_reset(store, err) < 0 ||
	    (opts->floor_samples > 0 &&
	     ecom_measure_chain(cfg, opts->floor_samples, &result->floor_before, err) < 0))
		goto out;
	if (cfg->window > 1 && opts->open == NULL &&
	    (ecom_measure_kafka_throughput(cfg, cfg->orders, &result->kafka_ceiling_s, err) < 0 ||
	     ecom_measure_store_throughput(cfg, cfg->orders, &result->store_ceiling_s, err) < 0))
		goto out;
	if (ecom_store_reset(store, err) < 0)
		goto out;
	rc = 0;
out:
	ecom_store_close(store);
	return rc;
}

/* ---- the floor, between the orders of a closed loop ---- */

typedef struct floor_in_run {
	ecom_floor_meter *meter;
	long orders;
	int samples, taken;
} floor_in_run;

/*
 * Chain i of K after order i·N/(K+1): spread evenly over the run, none
 * after the last; each after an untimed one, as back to back before and
 * after the run (ecom_measure.h).
 */
static int
floor_between_orders(floor_in_run *f, int64_t fulfilled, ecom_err *err)
{
	while (f->taken < f->samples &&
	       fulfilled >= (int64_t)(f->taken + 1) * f->orders / (f->samples + 1)) {
		if (ecom_floor_meter_chain(f->meter, false, err) < 0 ||
		    ecom_floor_meter_chain(f->meter, true, err) < 0)
			return -1;
		f->taken++;
	}
	return 0;
}

/* ---- the stages as threads ---- */

/* How many stages have their partitions: the run begins when all do. */
typedef struct readiness {
	pthread_mutex_t lock;
	int ready;
} readiness;

static void
stage_ready(void *arg)
{
	readiness *r = arg;

	pthread_mutex_lock(&r->lock);
	r->ready++;
	pthread_mutex_unlock(&r->lock);
}

static bool
all_stages_ready(readiness *r)
{
	bool all;

	pthread_mutex_lock(&r->lock);
	all = r->ready == ECOM_STAGE_COUNT;
	pthread_mutex_unlock(&r->lock);
	return all;
}

/* What the driver does at the terminal stage's moments (ecom_drive_hooks). */
typedef struct flow_drive {
	readiness *ready;
	floor_in_run *floor; /* NULL: no floor in the run */
} flow_drive;

static bool
drive_may_start(void *arg)
{
	return all_stages_ready(((flow_drive *)arg)->ready);
}

static int
drive_between_orders(void *arg, int64_t fulfilled, ecom_err *err)
{
	return floor_between_orders(((flow_drive *)arg)->floor, fulfilled, err);
}

typedef struct stage_thread {
	pthread_t thread;
	const ecom_config *cfg;
	ecom_stage_opts opts;
	ecom_reconcile_opts terminal;
	ecom_stage_stats *stats;
	ecom_err err;
	int rc;
	ecom_stop_flag *stop_all;
} stage_thread;

static void *
stage_main(void *arg)
{
	stage_thread *t = arg;

	ecom_log_set_context(ecom_stage_name(t->opts.kind));
	t->rc = ecom_stage_run(t->cfg, &t->opts, t->stats, &t->err);
	/* Any stage that ends, in failure or because reconcile is done, ends the run. */
	*t->stop_all = 1;
	return NULL;
}

/*
 * The five stages, a thread each with its own connections, as five
 * processes would run.  (Measured against them: the five in one thread
 * on one consumer, one producer and one store connection made a hop
 * slower, 3.6 against 3.3 ms at the median with one order in flight;
 * doc/performance-notes.md.)
 */
static int
run_stages_in_threads(const ecom_config *cfg, const ecom_flow_opts *opts, floor_in_run *floor,
                      ecom_flow_result *result, ecom_err *err)
{
	stage_thread threads[ECOM_STAGE_COUNT];
	ecom_stop_flag stop_all = 0;
	atomic_llong stats_from_us = 0; /* an open loop's warm-up, set when it begins */
	readiness ready = {PTHREAD_MUTEX_INITIALIZER, 0};
	flow_drive drive = {&ready, floor};
	ecom_drive_hooks hooks = {
		.may_start = drive_may_start,
		.between_orders = floor != NULL ? drive_between_orders : NULL,
		.arg = &drive,
	};
	int k, started = 0, failed = -1;

	memset(threads, 0, sizeof(threads));
	for (k = 0; k < ECOM_STAGE_COUNT; k++) {
		stage_thread *t = &threads[k];

		t->cfg = cfg;
		t->stop_all = &stop_all;
		t->stats = &result->stages[k];
		t->opts.kind = (ecom_stage_kind)k;
		t->opts.stop = &stop_all;
		t->opts.on_ready = stage_ready;
		t->opts.ready_arg = &ready;
		t->opts.stats_from_us = &stats_from_us;
		if (k == ECOM_STAGE_RECONCILE) {
			t->terminal.orders = cfg->orders;
			t->terminal.window = cfg->window;
			if (opts->open != NULL) {
				t->terminal.open = *opts->open;
				t->terminal.open.stats_from_us = &stats_from_us;
			}
			t->terminal.on_progress = opts->on_progress;
			t->terminal.progress_arg = opts->progress_arg;
			t->terminal.drive = &hooks;
			t->opts.terminal = &t->terminal;
		}
		int failed_with = pthread_create(&t->thread, NULL, stage_main, t);

		if (failed_with != 0) { /* pthread_create returns its error; errno is not set */
			ecom_err_set(err, "cannot start a thread: %s", strerror(failed_with));
			stop_all = 1;
			break;
		}
		started++;
	}
	/* Wait for the end; a signal stops every stage after its batch. */
	while (!stop_all) {
		if (opts->stop != NULL && *opts->stop)
			stop_all = 1;
		ecom_sleep_ms(20);
	}
	for (k = 0; k < started; k++) {
		pthread_join(threads[k].thread, NULL);
		if (threads[k].rc < 0 && failed < 0)
			failed = k;
	}
	if (started < ECOM_STAGE_COUNT)
		return -1;
	if (failed >= 0)
		return ecom_err_set(err, "stage %s: %s", ecom_stage_name((ecom_stage_kind)failed),
		                    threads[failed].err.msg);
	return 0;
}

int
ecom_flow_benchmark(const ecom_config *cfg, const ecom_flow_opts *opts, ecom_flow_result *result,
                    ecom_err *err)
{
	ecom_stage_stats *reconcile = &result->stages[ECOM_STAGE_RECONCILE];
	floor_in_run floor = {NULL, cfg->orders, opts->floor_samples, 0};
	int rc;

	if (opts->open != NULL) {
		result->open_loop = true;
		result->open = *opts->open;
	}
	if (prepare_run(cfg, opts, result, err) < 0)
		return -1;
	/* One order in flight: the floor is timed between its orders too (ecom_measure.h). */
	if (cfg->window == 1 && opts->open == NULL && ecom_floor_meter_open(&floor.meter, cfg, err) < 0)
		return -1;
	rc = run_stages_in_threads(cfg, opts, floor.meter != NULL ? &floor : NULL, result, err);
	if (floor.meter != NULL) {
		ecom_floor_meter_times(floor.meter, &result->floor_in_run);
		ecom_floor_meter_close(floor.meter);
	}
	if (rc < 0)
		return -1;
	/* Not sustainable is a result: the run stopped creating orders and saw those out through. */
	if (reconcile->fulfilled < cfg->orders && reconcile->sustainable)
		return ecom_err_set(err, "interrupted after %" PRId64 " of %ld orders",
		                    reconcile->fulfilled, cfg->orders);
	if (opts->open != NULL)
		return 0;
	/* The floor again, on services that have run the flow. */
	return ecom_measure_chain(cfg, opts->floor_samples, &result->floor_after, err);
}

/* ---- the report ---- */

/*
 * Which chains make the floor.  With one order in flight, those timed
 * between the flow's orders: they saw what the flow saw.  Otherwise (a
 * pipeline, where the floor is only for reference, or a run too short to
 * have a gap) the lower of the chains before and after the flow: a
 * broker that has just started or recreated its topics answers many
 * times slower for a while (on the dev stack right after `devstack.sh
 * up`: a median of 3.4 ms before a 10,000-order run, 0.17 to 0.30 ms in
 * the runs after it), which made the floor of a first run ten times too
 * high.
 */
static const ecom_floor_times *
floor_used(const ecom_flow_result *result)
{
	const ecom_floor_times *before = &result->floor_before, *after = &result->floor_after;

	if (result->floor_in_run.samples > 0)
		return &result->floor_in_run;
	return after->samples > 0 && after->order_ms < before->order_ms ? after : before;
}

static void
append_ms_or_null(bson_t *doc, const char *key, const ecom_floor_times *times)
{
	if (times->samples > 0)
		BSON_APPEND_DOUBLE(doc, key, ecom_report_round3(times->order_ms));
	else
		BSON_APPEND_NULL(doc, key);
}

/* The floor of the orders this run fulfilled: an interrupted run's are fewer than asked. */
static void
append_floor(bson_t *report, const ecom_run_timing *timing, const ecom_flow_result *result,
             double *floor_s)
{
	const ecom_floor_times *used = floor_used(result);
	int64_t paused_us = result->stages[ECOM_STAGE_RECONCILE].paused_us;
	bson_t f;

	*floor_s = (double)timing->orders_this_run * used->order_ms / 1000.0;
	bson_append_document_begin(report, "floor", -1, &f);
	BSON_APPEND_UTF8(&f, "timed", used == &result->floor_in_run ? "in the run"
	                              : used == &result->floor_after ? "after the run"
	                                                             : "before the run");
	BSON_APPEND_INT32(&f, "samples", used->samples);
	BSON_APPEND_DOUBLE(&f, "order_ms", ecom_report_round3(used->order_ms));
	BSON_APPEND_DOUBLE(&f, "order_median_ms", ecom_report_round3(used->order_median_ms));
	append_ms_or_null(&f, "order_before_ms", &result->floor_before);
	append_ms_or_null(&f, "order_in_run_ms", &result->floor_in_run);
	append_ms_or_null(&f, "order_after_ms", &result->floor_after);
	BSON_APPEND_DOUBLE(&f, "kafka_round_trip_ms", ecom_report_round3(used->round_trip_ms));
	BSON_APPEND_DOUBLE(&f, "store_write_ms", ecom_report_round3(used->write_ms));
	BSON_APPEND_DOUBLE(&f, "store_mark_ms", ecom_report_round3(used->mark_ms));
	BSON_APPEND_INT32(&f, "kafka_hops_per_order", ECOM_FLOW_HOPS_PER_ORDER);
	BSON_APPEND_INT32(&f, "store_writes_per_order", ECOM_FLOW_WRITES_PER_ORDER);
	BSON_APPEND_DOUBLE(&f, "paused_s", ecom_report_round3((double)paused_us / 1e6));
	BSON_APPEND_DOUBLE(&f, "floor_s", ecom_report_round3(*floor_s));
	bson_append_document_end(report, &f);
}

/*
 * A pipeline's ceiling: the slower of Kafka and the store doing the run's
 * work at full speed, each alone.  elapsed_over_ceiling near 1 means the
 * flow runs as fast as its slower service can go.
 */
static void
append_ceiling(bson_t *report, const ecom_flow_result *result, double elapsed_s)
{
	bool store_slower = result->store_ceiling_s > result->kafka_ceiling_s;
	double ceiling_s = store_slower ? result->store_ceiling_s : result->kafka_ceiling_s;
	bson_t c;

	bson_append_document_begin(report, "ceiling", -1, &c);
	BSON_APPEND_DOUBLE(&c, "kafka_s", ecom_report_round3(result->kafka_ceiling_s));
	BSON_APPEND_DOUBLE(&c, "store_s", ecom_report_round3(result->store_ceiling_s));
	BSON_APPEND_UTF8(&c, "slower", store_slower ? "store" : "kafka");
	BSON_APPEND_DOUBLE(&c, "ceiling_s", ecom_report_round3(ceiling_s));
	bson_append_document_end(report, &c);
	BSON_APPEND_DOUBLE(report, "elapsed_over_ceiling",
	                   ceiling_s > 0 ? ecom_report_round3(elapsed_s / ceiling_s) : 0.0);
}

void
ecom_flow_report(const ecom_config *cfg, const char *store_name, ecom_flow_result *result,
                 bson_t *report)
{
	ecom_stage_stats *reconcile = &result->stages[ECOM_STAGE_RECONCILE];
	ecom_run_timing timing;
	bson_t stages, stage;
	double floor_s;
	int k;

	ecom_run_timing_of(&timing, reconcile, cfg->orders);
	BSON_APPEND_UTF8(report, "store", store_name);
	if (result->server[0] != '\0')
		BSON_APPEND_UTF8(report, "server", result->server);
	ecom_report_timing(report, &timing);
	ecom_report_load(report, result->open_loop ? &result->open : NULL, cfg->window, &timing,
	                 reconcile);
	ecom_report_latency(report, "end_to_end_latency", &reconcile->end_to_end);
	bson_append_document_begin(report, "stages", -1, &stages);
	for (k = 0; k < ECOM_STAGE_COUNT; k++) {
		ecom_stage_stats *st = &result->stages[k];

		bson_append_document_begin(&stages, ecom_stage_name((ecom_stage_kind)k), -1, &stage);
		ecom_report_latency(&stage, "hop", &st->hop);
		ecom_report_phases(&stage, "phases", st);
		BSON_APPEND_INT64(&stage, "dead_letters", st->dead_letters);
		bson_append_document_end(&stages, &stage);
	}
	bson_append_document_end(report, &stages);
	append_floor(report, &timing, result, &floor_s);
	/* The floor is a chain of waits: it means something for one order in flight only. */
	if (cfg->window == 1 && !result->open_loop)
		BSON_APPEND_DOUBLE(report, "elapsed_over_floor",
		                   floor_s > 0 ? ecom_report_round3(timing.elapsed_s / floor_s) : 0.0);
	else
		BSON_APPEND_NULL(report, "elapsed_over_floor");
	if (cfg->window > 1 && !result->open_loop)
		append_ceiling(report, result, timing.elapsed_s);
	BSON_APPEND_INT64(report, "peak_rss_kib", ecom_peak_rss_kib());
}

static double
field_double(const bson_t *doc, const char *dotted)
{
	bson_iter_t it, found;

	if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &found) &&
	    BSON_ITER_HOLDS_NUMBER(&found))
		return bson_iter_as_double(&found);
	return 0.0;
}

static const char *
field_utf8(const bson_t *doc, const char *dotted)
{
	bson_iter_t it, found;

	if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &found) &&
	    BSON_ITER_HOLDS_UTF8(&found))
		return bson_iter_utf8(&found, NULL);
	return "";
}

static bool
field_bool(const bson_t *doc, const char *dotted)
{
	bson_iter_t it, found;

	return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, &found) &&
	       BSON_ITER_HOLDS_BOOL(&found) && bson_iter_bool(&found);
}

/* An open loop's figures: what was offered, whether it was sustained, response times. */
static size_t
open_loop_summary(const bson_t *report, char *buf, size_t size)
{
	return (size_t)snprintf(
	    buf, size,
	    "open loop at %g orders/s (%s): %.0f orders in %.3f s, %.1f orders/s after a %g s "
	    "warm-up; %s (backlog peak %.0f, bound %.0f); response time p50 %.2f ms, p99 %.2f ms, "
	    "p99.9 %.2f ms, max %.2f ms; send lag p99 %.2f ms; ",
	    field_double(report, "open_loop.rate"), field_utf8(report, "open_loop.arrivals"),
	    field_double(report, "orders"), field_double(report, "elapsed_s"),
	    field_double(report, "open_loop.achieved_per_s"), field_double(report, "open_loop.warmup_s"),
	    field_bool(report, "sustainable") ? "sustainable" : "NOT sustainable",
	    field_double(report, "open_loop.backlog_peak"), field_double(report, "open_loop.backlog_max"),
	    field_double(report, "end_to_end_latency.p50_ms"),
	    field_double(report, "end_to_end_latency.p99_ms"),
	    field_double(report, "end_to_end_latency.p999_ms"),
	    field_double(report, "end_to_end_latency.max_ms"),
	    field_double(report, "open_loop.send_lag.p99_ms"));
}

void
ecom_flow_summary(const bson_t *report, char *buf, size_t size)
{
	size_t used;
	int p, k;

	if (strcmp(field_utf8(report, "loop"), "open") == 0) {
		used = open_loop_summary(report, buf, size);
		goto phases;
	}
	used = (size_t)snprintf(buf, size,
	                        "%.0f orders in %.3f s (%.1f orders/s); end-to-end p50 %.2f ms, "
	                        "p99 %.2f ms; ",
	                        field_double(report, "orders"), field_double(report, "elapsed_s"),
	                        field_double(report, "orders_per_s"),
	                        field_double(report, "end_to_end_latency.p50_ms"),
	                        field_double(report, "end_to_end_latency.p99_ms"));
	/* The reference of the mode: a closed loop's floor, a pipeline's ceiling. */
	if (used < size && field_double(report, "ceiling.ceiling_s") > 0)
		used += (size_t)snprintf(buf + used, size - used,
		                         "ceiling %.3f s (the %s's; kafka %.3f s, store %.3f s), "
		                         "elapsed/ceiling %.2f; ",
		                         field_double(report, "ceiling.ceiling_s"),
		                         field_double(report, "ceiling.store_s") >
		                                 field_double(report, "ceiling.kafka_s")
		                             ? "store"
		                             : "kafka",
		                         field_double(report, "ceiling.kafka_s"),
		                         field_double(report, "ceiling.store_s"),
		                         field_double(report, "elapsed_over_ceiling"));
	else if (used < size)
		used += (size_t)snprintf(buf + used, size - used,
		                         "floor %.3f s (mean of %.0f chains %s; round trip %.3f ms, "
		                         "write %.3f ms), elapsed/floor %.2f; ",
		                         field_double(report, "floor.floor_s"),
		                         field_double(report, "floor.samples"),
		                         field_utf8(report, "floor.timed"),
		                         field_double(report, "floor.kafka_round_trip_ms"),
		                         field_double(report, "floor.store_write_ms"),
		                         field_double(report, "elapsed_over_floor"));
phases:
	if (used < size)
		used += (size_t)snprintf(buf + used, size - used,
		                         "peak RSS %.0f KiB; per order, p50 over the stages:",
		                         field_double(report, "peak_rss_kib"));
	/* Where the time goes: each phase's p50, summed over the five stages. */
	for (p = 0; p < ECOM_PHASE_COUNT && used < size; p++) {
		double sum = 0;

		for (k = 0; k < ECOM_STAGE_COUNT; k++) {
			char path[96];

			snprintf(path, sizeof(path), "stages.%s.phases.%s.p50_ms",
			         ecom_stage_name((ecom_stage_kind)k), ecom_phase_name((ecom_phase)p));
			sum += field_double(report, path);
		}
		used += (size_t)snprintf(buf + used, size - used, " %s %.2f ms%s",
		                         ecom_phase_name((ecom_phase)p), sum,
		                         p + 1 < ECOM_PHASE_COUNT ? "," : "");
	}
}

void
ecom_flow_plot_data(const ecom_config *cfg, ecom_flow_result *result, ecom_plot_run *plot)
{
	ecom_run_timing timing;
	int k, p;

	ecom_run_timing_of(&timing, &result->stages[ECOM_STAGE_RECONCILE], cfg->orders);
	if (result->server[0] != '\0')
		ecom_plot_run_add_server(plot, result->server);
	plot->elapsed_s = timing.elapsed_s;
	plot->orders_per_s = timing.orders_per_s;
	ecom_latency_merge(&plot->end_to_end, &result->stages[ECOM_STAGE_RECONCILE].end_to_end);
	plot->n_stages = ECOM_STAGE_COUNT;
	plot->n_phases = ECOM_PHASE_COUNT;
	for (p = 0; p < ECOM_PHASE_COUNT; p++)
		snprintf(plot->phase_names[p], sizeof(plot->phase_names[p]), "%s",
		         ecom_phase_name((ecom_phase)p));
	for (k = 0; k < ECOM_STAGE_COUNT; k++) {
		snprintf(plot->stage_names[k], sizeof(plot->stage_names[k]), "%s",
		         ecom_stage_name((ecom_stage_kind)k));
		for (p = 0; p < ECOM_PHASE_COUNT; p++)
			plot->phase_p50_ms[k][p] =
			    (double)ecom_latency_percentile(&result->stages[k].phases[p], 50) / 1000.0;
	}
}
