#include "ecom_report.h"

#include <math.h>
#include <string.h>

#include "ecom_event.h"

double
ecom_report_round3(double x)
{
	return round(x * 1000.0) / 1000.0;
}

void
ecom_run_timing_of(ecom_run_timing *timing, const ecom_stage_stats *reconcile, long orders_wanted)
{
	memset(timing, 0, sizeof(*timing));
	timing->orders_before = reconcile->fulfilled_before;
	timing->orders_this_run = reconcile->fulfilled;
	timing->orders = reconcile->fulfilled_before + reconcile->fulfilled;
	timing->complete = timing->orders >= orders_wanted;
	/* Durations on the monotonic clock; the wall clock's dates are for display. */
	if (reconcile->fulfilled > 0 && reconcile->started_mono_us > 0 &&
	    reconcile->ended_mono_us >= reconcile->started_mono_us) {
		timing->started_us = reconcile->started_us;
		timing->ended_us = reconcile->ended_us;
		timing->elapsed_s = (double)(reconcile->ended_mono_us - reconcile->started_mono_us -
		                             reconcile->paused_us) /
		                    1e6;
	}
	/* Below a millisecond there is no rate to speak of. */
	if (timing->elapsed_s >= 0.001)
		timing->orders_per_s = (double)timing->orders_this_run / timing->elapsed_s;
}

static void
append_date_or_null(bson_t *report, const char *key, int64_t us)
{
	char text[32];

	if (us <= 0) {
		bson_append_null(report, key, -1);
		return;
	}
	ecom_format_iso8601(us / 1000, text, sizeof(text));
	bson_append_utf8(report, key, -1, text, -1);
}

void
ecom_report_timing(bson_t *report, const ecom_run_timing *timing)
{
	BSON_APPEND_INT64(report, "orders", timing->orders);
	BSON_APPEND_BOOL(report, "complete", timing->complete);
	if (timing->orders_before > 0) {
		BSON_APPEND_INT64(report, "orders_this_run", timing->orders_this_run);
		BSON_APPEND_INT64(report, "resumed_from", timing->orders_before);
	}
	append_date_or_null(report, "start", timing->started_us);
	append_date_or_null(report, "end", timing->ended_us);
	BSON_APPEND_DOUBLE(report, "elapsed_s", ecom_report_round3(timing->elapsed_s));
	BSON_APPEND_DOUBLE(report, "orders_per_s", ecom_report_round3(timing->orders_per_s));
}

static double
ms(int64_t us)
{
	return ecom_report_round3((double)us / 1000.0);
}

void
ecom_report_latency(bson_t *parent, const char *key, const ecom_latency *lat)
{
	bson_t child;

	bson_append_document_begin(parent, key, -1, &child);
	BSON_APPEND_INT64(&child, "count", (int64_t)ecom_latency_count(lat));
	BSON_APPEND_DOUBLE(&child, "p50_ms", ms(ecom_latency_percentile(lat, 50)));
	BSON_APPEND_DOUBLE(&child, "p90_ms", ms(ecom_latency_percentile(lat, 90)));
	BSON_APPEND_DOUBLE(&child, "p99_ms", ms(ecom_latency_percentile(lat, 99)));
	BSON_APPEND_DOUBLE(&child, "p999_ms", ms(ecom_latency_percentile(lat, 99.9)));
	BSON_APPEND_DOUBLE(&child, "p9999_ms", ms(ecom_latency_percentile(lat, 99.99)));
	BSON_APPEND_DOUBLE(&child, "max_ms", ms(ecom_latency_max(lat)));
	bson_append_document_end(parent, &child);
}

void
ecom_report_phases(bson_t *parent, const char *key, ecom_stage_stats *stats)
{
	bson_t child, phase;
	int p;

	bson_append_document_begin(parent, key, -1, &child);
	for (p = 0; p < ECOM_PHASE_COUNT; p++) {
		ecom_latency *lat = &stats->phases[p];

		if (ecom_latency_count(lat) == 0)
			continue;
		bson_append_document_begin(&child, ecom_phase_name((ecom_phase)p), -1, &phase);
		BSON_APPEND_DOUBLE(&phase, "p50_ms", ms(ecom_latency_percentile(lat, 50)));
		BSON_APPEND_DOUBLE(&phase, "p99_ms", ms(ecom_latency_percentile(lat, 99)));
		bson_append_document_end(&child, &phase);
	}
	bson_append_document_end(parent, &child);
}

double
ecom_report_achieved_per_s(const ecom_open_loop *open, const ecom_run_timing *timing,
               const ecom_stage_stats *reconcile)
{
	double seconds = timing->elapsed_s - open->warmup_s;
	int64_t orders = timing->orders_this_run - reconcile->warmup_orders;

	return seconds >= 0.001 && orders > 0 ? (double)orders / seconds : 0.0;
}

void
ecom_report_load(bson_t *report, const ecom_open_loop *open, int window,
                 const ecom_run_timing *timing, const ecom_stage_stats *reconcile)
{
	bson_t o;

	/* Every report of a run names the guarantee it ran under. */
	BSON_APPEND_UTF8(report, "processing_guarantee",
	                 reconcile->exactly_once ? "exactly_once" : "at_least_once");
	if (open == NULL) {
		BSON_APPEND_UTF8(report, "loop", "closed");
		BSON_APPEND_INT32(report, "window", window);
		BSON_APPEND_NULL(report, "sustainable");
		BSON_APPEND_UTF8(report, "latency", "service time: the next order waits for one to finish");
		return;
	}
	BSON_APPEND_UTF8(report, "loop", "open");
	bson_append_document_begin(report, "open_loop", -1, &o);
	BSON_APPEND_DOUBLE(&o, "rate", ecom_report_round3(open->rate));
	BSON_APPEND_UTF8(&o, "arrivals", ecom_arrivals_name(open->arrivals));
	BSON_APPEND_DOUBLE(&o, "warmup_s", ecom_report_round3(open->warmup_s));
	BSON_APPEND_INT64(&o, "warmup_orders", reconcile->warmup_orders);
	BSON_APPEND_INT64(&o, "backlog_max", reconcile->backlog_max);
	BSON_APPEND_INT64(&o, "backlog_peak", reconcile->backlog_peak);
	BSON_APPEND_DOUBLE(&o, "achieved_per_s",
	                   ecom_report_round3(ecom_report_achieved_per_s(open, timing, reconcile)));
	ecom_report_latency(&o, "send_lag", &reconcile->send_lag);
	bson_append_document_end(report, &o);
	BSON_APPEND_BOOL(report, "sustainable", reconcile->sustainable);
	BSON_APPEND_UTF8(report, "latency",
	                 "response time: from each order's intended creation to its fulfilment");
}

/* One of librdkafka's latencies summed over a run; null figures when it counted nothing. */
static void
append_kafka_window(bson_t *parent, const char *key, const ecom_kafka_window *w)
{
	bson_t child;

	bson_append_document_begin(parent, key, -1, &child);
	BSON_APPEND_INT64(&child, "count", w->count);
	if (w->count > 0) {
		BSON_APPEND_DOUBLE(&child, "mean_ms",
		                   ecom_report_round3(ecom_kafka_window_mean_us(w) / 1000.0));
		BSON_APPEND_DOUBLE(&child, "p99_ms",
		                   ecom_report_round3(ecom_kafka_window_p99_us(w) / 1000.0));
		BSON_APPEND_DOUBLE(&child, "max_ms", ecom_report_round3((double)w->max_us / 1000.0));
	} else {
		BSON_APPEND_NULL(&child, "mean_ms");
		BSON_APPEND_NULL(&child, "p99_ms");
		BSON_APPEND_NULL(&child, "max_ms");
	}
	bson_append_document_end(parent, &child);
}

static void
append_mean_or_null(bson_t *doc, const char *key, int64_t sum, int64_t samples)
{
	if (samples > 0)
		BSON_APPEND_DOUBLE(doc, key, ecom_report_round3((double)sum / (double)samples));
	else
		BSON_APPEND_NULL(doc, key);
}

/* The consumer's local queue, as ecom measured it. */
static void
append_local_queue(bson_t *parent, const char *key, const ecom_kafka_stats *consumer)
{
	bson_t child;

	bson_append_document_begin(parent, key, -1, &child);
	BSON_APPEND_INT64(&child, "count", consumer->local_queue.count);
	if (consumer->local_queue.count > 0) {
		BSON_APPEND_DOUBLE(&child, "mean_ms", ms(consumer->local_queue.mean_us));
		BSON_APPEND_DOUBLE(&child, "p99_ms", ms(consumer->local_queue.p99_us));
		BSON_APPEND_DOUBLE(&child, "max_ms", ms(consumer->local_queue.max_us));
	} else {
		BSON_APPEND_NULL(&child, "mean_ms");
		BSON_APPEND_NULL(&child, "p99_ms");
		BSON_APPEND_NULL(&child, "max_ms");
	}
	bson_append_document_end(parent, &child);
}

void
ecom_report_kafka(bson_t *parent, const char *key, const ecom_kafka_stats *producer,
                  const ecom_kafka_stats *consumer)
{
	bson_t kafka, client;

	bson_append_document_begin(parent, key, -1, &kafka);
	if (producer != NULL) {
		bson_append_document_begin(&kafka, "producer", -1, &client);
		BSON_APPEND_INT64(&client, "documents", producer->documents);
		append_kafka_window(&client, "client_queue_int_latency", &producer->int_latency);
		append_kafka_window(&client, "send_buffer_outbuf_latency", &producer->outbuf_latency);
		append_kafka_window(&client, "broker_round_trip_rtt", &producer->rtt);
		bson_append_document_end(&kafka, &client);
	}
	if (consumer != NULL) {
		bson_append_document_begin(&kafka, "consumer", -1, &client);
		BSON_APPEND_INT64(&client, "documents", consumer->documents);
		append_kafka_window(&client, "fetch_round_trip_rtt", &consumer->rtt);
		append_kafka_window(&client, "send_buffer_outbuf_latency", &consumer->outbuf_latency);
		append_local_queue(&client, "local_queue_ecom", consumer);
		append_mean_or_null(&client, "fetch_queue_messages", consumer->fetchq_cnt_sum,
		                    consumer->fetch_samples);
		append_mean_or_null(&client, "consumer_lag_messages", consumer->consumer_lag_sum,
		                    consumer->partition_samples);
		bson_append_document_end(&kafka, &client);
	}
	bson_append_document_end(parent, &kafka);
}

/* Per event, in µs (-1 when not measured stays null). */
static void
append_us_per_event(bson_t *doc, const char *key, int64_t us, int64_t events)
{
	if (us < 0 || events <= 0)
		BSON_APPEND_NULL(doc, key);
	else
		BSON_APPEND_DOUBLE(doc, key, ecom_report_round3((double)us / (double)events));
}

static void
append_service_state(bson_t *doc, const ecom_cpu_services *svc, enum ecom_cpu_kind kind,
                     const char *key)
{
	if (svc->state[kind] == ECOM_CPU_FOUND)
		BSON_APPEND_UTF8(doc, key, "measured");
	else if (svc->state[kind] != ECOM_CPU_UNUSED)
		BSON_APPEND_UTF8(doc, key, svc->note[kind][0] ? svc->note[kind] : "not measured");
}

void
ecom_report_cpu(bson_t *report, const ecom_cpu_services *svc, const ecom_cpu_snapshot *used,
                const int64_t *stage_us, int64_t events, const char *why_not)
{
	int64_t threads = 0, ecom, kafka, store, most_us;
	const char *most = "ecom";
	bson_t cpu, per, stages, svcs;
	int k;

	bson_append_document_begin(report, "cpu", -1, &cpu);
	BSON_APPEND_BOOL(&cpu, "measured", svc != NULL);
	if (svc == NULL) {
		BSON_APPEND_UTF8(&cpu, "why_not", why_not);
		bson_append_document_end(report, &cpu);
		return;
	}
	ecom = used->process_us;
	kafka = ecom_cpu_kind_us(used, svc, ECOM_CPU_KAFKA);
	store = ecom_cpu_store_us(used, svc);
	BSON_APPEND_INT64(&cpu, "events", events);
	BSON_APPEND_DOUBLE(&cpu, "interval_s", ecom_report_round3((double)used->taken_us / 1e6));
	bson_append_document_begin(&cpu, "us_per_event", -1, &per);
	append_us_per_event(&per, "ecom", ecom, events);
	append_us_per_event(&per, "kafka", kafka, events);
	append_us_per_event(&per, "store", store, events);
	bson_append_document_end(&cpu, &per);
	if (stage_us != NULL) {
		bson_append_document_begin(&cpu, "ecom_stage_threads_us_per_event", -1, &stages);
		for (k = 0; k < ECOM_STAGE_COUNT; k++) {
			append_us_per_event(&stages, ecom_stage_name((ecom_stage_kind)k), stage_us[k], events);
			threads += stage_us[k] > 0 ? stage_us[k] : 0;
		}
		bson_append_document_end(&cpu, &stages);
		/* librdkafka's and the drivers' own threads, and the arrivals' */
		append_us_per_event(&cpu, "ecom_other_threads_us_per_event", ecom - threads, events);
	}
	most_us = ecom;
	if (kafka > most_us) {
		most = "kafka";
		most_us = kafka;
	}
	if (store > most_us)
		most = "store";
	BSON_APPEND_UTF8(&cpu, "most", most);
	bson_append_document_begin(&cpu, "services", -1, &svcs);
	append_service_state(&svcs, svc, ECOM_CPU_KAFKA, "kafka");
	append_service_state(&svcs, svc, ECOM_CPU_MONGODB, "store");
	append_service_state(&svcs, svc, ECOM_CPU_POSTGRESQL, "store");
	bson_append_document_end(&cpu, &svcs);
	bson_append_document_end(report, &cpu);
}

