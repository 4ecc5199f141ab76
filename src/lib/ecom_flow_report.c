/* A benchmark run's report, its summary line and its plot data (ecom_flow.h). */
#include "ecom_flow.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ecom_report.h"
#include "ecom_security.h"

/*
 * Which chains make the floor.  With one order in flight, those timed
 * between the flow's orders: they saw what the flow saw.  Otherwise the
 * lower of the chains before and after the flow: a broker that has just
 * recreated its topics answers many times slower for a while
 * (doc/performance-notes.md §5).
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
	/* The mean's own uncertainty, from resampling its chains: a ratio is no finer than this. */
	BSON_APPEND_DOUBLE(&f, "order_p10_ms", ecom_report_round3(used->order_p10_ms));
	BSON_APPEND_DOUBLE(&f, "order_p90_ms", ecom_report_round3(used->order_p90_ms));
	append_ms_or_null(&f, "order_before_ms", &result->floor_before);
	append_ms_or_null(&f, "order_in_run_ms", &result->floor_in_run);
	append_ms_or_null(&f, "order_after_ms", &result->floor_after);
	BSON_APPEND_DOUBLE(&f, "kafka_round_trip_ms", ecom_report_round3(used->round_trip_ms));
	BSON_APPEND_DOUBLE(&f, "store_write_ms", ecom_report_round3(used->write_ms));
	BSON_APPEND_DOUBLE(&f, "store_mark_ms", ecom_report_round3(used->mark_ms));
	BSON_APPEND_INT32(&f, "kafka_hops_per_order", ECOM_FLOW_HOPS_PER_ORDER);
	ecom_report_kafka(&f, "kafka", &used->kafka_producer, &used->kafka_consumer);
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

/* [x / hi, x / lo]: the ratio over the spread of its reference. */
static void
append_ratio_range(bson_t *report, const char *key, double x, double hi, double lo)
{
	bson_t range;

	bson_append_array_begin(report, key, -1, &range);
	BSON_APPEND_DOUBLE(&range, "0", hi > 0 ? ecom_report_round3(x / hi) : 0.0);
	BSON_APPEND_DOUBLE(&range, "1", lo > 0 ? ecom_report_round3(x / lo) : 0.0);
	bson_append_array_end(report, &range);
}

static void
append_cpu(bson_t *report, const ecom_flow_result *result, const ecom_run_timing *timing)
{
	ecom_report_cpu(report, result->cpu_measured ? &result->cpu_services : NULL, &result->cpu_used,
	                result->stage_cpu_us, timing->orders_this_run * ECOM_FLOW_HOPS_PER_ORDER,
	                result->cpu_failure);
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
	ecom_report_connections(report, cfg);
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
		ecom_report_kafka(&stage, "kafka", &st->kafka_producer, &st->kafka_consumer);
		BSON_APPEND_INT64(&stage, "dead_letters", st->dead_letters);
		bson_append_document_end(&stages, &stage);
	}
	bson_append_document_end(report, &stages);
	append_floor(report, &timing, result, &floor_s);
	/* The floor is a chain of waits: it means something for one order in flight only. */
	if (cfg->window == 1 && !result->open_loop && floor_s > 0) {
		const ecom_floor_times *used = floor_used(result);
		double per_order_s = (double)timing.orders_this_run / 1000.0;

		BSON_APPEND_DOUBLE(report, "elapsed_over_floor",
		                   ecom_report_round3(timing.elapsed_s / floor_s));
		append_ratio_range(report, "elapsed_over_floor_range", timing.elapsed_s,
		                   per_order_s * used->order_p90_ms, per_order_s * used->order_p10_ms);
	} else {
		BSON_APPEND_NULL(report, "elapsed_over_floor");
	}
	if (cfg->window > 1 && !result->open_loop)
		append_ceiling(report, result, timing.elapsed_s);
	append_cpu(report, result, &timing);
	BSON_APPEND_INT64(report, "peak_rss_kib", ecom_peak_rss_kib());
}

/* The field at a dotted path of the report: true and *found when it is there. */
static bool
field(const bson_t *doc, const char *dotted, bson_iter_t *found)
{
	bson_iter_t it;

	return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, dotted, found);
}

static double
field_double(const bson_t *doc, const char *dotted)
{
	bson_iter_t found;

	return field(doc, dotted, &found) && BSON_ITER_HOLDS_NUMBER(&found)
	           ? bson_iter_as_double(&found)
	           : 0.0;
}

static const char *
field_utf8(const bson_t *doc, const char *dotted)
{
	bson_iter_t found;

	return field(doc, dotted, &found) && BSON_ITER_HOLDS_UTF8(&found) ? bson_iter_utf8(&found, NULL)
	                                                                  : "";
}

static bool
field_bool(const bson_t *doc, const char *dotted)
{
	bson_iter_t found;

	return field(doc, dotted, &found) && BSON_ITER_HOLDS_BOOL(&found) && bson_iter_bool(&found);
}

/* The figure in µs, or "not measured here" for a null: never a 0 nobody measured. */
static void
us_or_not_here(const bson_t *report, const char *dotted, char *buf, size_t size)
{
	bson_iter_t found;

	if (field(report, dotted, &found) && BSON_ITER_HOLDS_NUMBER(&found))
		snprintf(buf, size, "%.1f us", bson_iter_as_double(&found));
	else
		snprintf(buf, size, "not measured here");
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

/* Where the time goes: each phase's p50, summed over the stages that have it. */
static size_t
phases_summary(const bson_t *report, char *buf, size_t size)
{
	size_t used = 0;
	int p, k;

	for (p = 0; p < ECOM_PHASE_COUNT && used < size; p++) {
		bson_iter_t found;
		double sum = 0;
		bool seen = false;

		for (k = 0; k < ECOM_STAGE_COUNT; k++) {
			char path[96];

			snprintf(path, sizeof(path), "stages.%s.phases.%s.p50_ms",
			         ecom_stage_name((ecom_stage_kind)k), ecom_phase_name((ecom_phase)p));
			if (field(report, path, &found) && BSON_ITER_HOLDS_NUMBER(&found)) {
				sum += bson_iter_as_double(&found);
				seen = true;
			}
		}
		/* A phase no stage went through (commit without transactions) is not a 0 ms one. */
		if (seen)
			used += (size_t)snprintf(buf + used, size - used, "%s %s %.2f ms",
			                         used ? "," : "", ecom_phase_name((ecom_phase)p), sum);
	}
	return used;
}

void
ecom_flow_summary(const bson_t *report, char *buf, size_t size)
{
	size_t used;

	/* Every summary names the guarantee its run was under. */
	used = (size_t)snprintf(buf, size, "%s: ", field_utf8(report, "processing_guarantee"));
	if (used < size && strcmp(field_utf8(report, "loop"), "open") == 0) {
		used += open_loop_summary(report, buf + used, size - used);
		goto phases;
	}
	if (used < size)
		used += (size_t)snprintf(buf + used, size - used,
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
		                         "write %.3f ms), elapsed/floor %.2f (%.2f to %.2f over the "
		                         "floor's spread); ",
		                         field_double(report, "floor.floor_s"),
		                         field_double(report, "floor.samples"),
		                         field_utf8(report, "floor.timed"),
		                         field_double(report, "floor.kafka_round_trip_ms"),
		                         field_double(report, "floor.store_write_ms"),
		                         field_double(report, "elapsed_over_floor"),
		                         field_double(report, "elapsed_over_floor_range.0"),
		                         field_double(report, "elapsed_over_floor_range.1"));
phases:
	if (used < size && field_bool(report, "cpu.measured")) {
		char kafka[32], store[32];

		us_or_not_here(report, "cpu.us_per_event.kafka", kafka, sizeof(kafka));
		us_or_not_here(report, "cpu.us_per_event.store", store, sizeof(store));
		used += (size_t)snprintf(buf + used, size - used,
		                         "CPU per event: ecom %.1f us, kafka %s, store %s (%s the most); ",
		                         field_double(report, "cpu.us_per_event.ecom"), kafka, store,
		                         field_utf8(report, "cpu.most"));
	}
	if (used < size)
		used += (size_t)snprintf(buf + used, size - used,
		                         "peak RSS %.0f KiB; per order, p50 over the stages:",
		                         field_double(report, "peak_rss_kib"));
	if (used < size)
		phases_summary(report, buf + used, size - used);
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
