/*
 * ecom-bench: the whole flow for N orders in one process, and its report.
 *
 * Each store named (the configured one, or --compare's list) gets a
 * clean run: topics and store reset, the raw floor measured on the same
 * services (a Kafka produce→consume round trip, a single-event upsert),
 * then the five stages as threads, each with its own clients, running
 * the same stage code as the separate commands.  JSON on stdout, a
 * summary on stderr, a progress line when stderr is a terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecom_cli.h"
#include "ecom_config.h"
#include "ecom_exit.h"
#include "ecom_kafka.h"
#include "ecom_log.h"
#include "ecom_metrics.h"
#include "ecom_plot.h"
#include "ecom_progress.h"
#include "ecom_stage.h"
#include "ecom_store.h"

enum { OPT_COMPARE = ECOM_OPT_COMMAND, OPT_NO_PROGRESS, OPT_FLOOR_SAMPLES, OPT_PLOT };

/* Writes to the store one order needs: five events and the fulfilment mark. */
#define STORE_WRITES_PER_ORDER 6
#define KAFKA_HOPS_PER_ORDER 5
/* --compare runs drawn side by side at most. */
#define MAX_PLOT_RUNS 8

static volatile sig_atomic_t interrupted;

typedef struct stage_thread {
	pthread_t thread;
	const ecom_config *cfg;
	ecom_stage_opts opts;
	ecom_stage_stats stats;
	ecom_err err;
	int rc;
	volatile sig_atomic_t *stop_all;
} stage_thread;

/*
 * The Kafka round trip is timed before the flow and again after it, and
 * the floor takes the lower: a broker that has just started or recreated
 * its topics answers many times slower for a while (on the dev stack
 * right after `devstack.sh up`: a median of 3.4 ms before a 10,000-order
 * run, 0.17 to 0.30 ms in the runs after it), which made the floor of a
 * first run ten times too high and its elapsed/floor meaningless.
 */
typedef struct floor_result {
	double kafka_round_trip_ms;
	double kafka_round_trip_before_ms;
	double kafka_round_trip_after_ms;
	double store_upsert_ms;
} floor_result;

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: ecom-bench [options] [-n N] [-w W] [--compare STORES] [--plot FILE]\n"
	        "\n"
	        "Run the whole flow for N orders in one process and report timings as JSON.\n"
	        "\n"
	        "  -n, --orders N         orders to run (default 10000)\n"
	        "  -w, --window W         orders in flight at once (default 1, as the original)\n"
	        "      --compare STORES   run once per store, e.g. mongodb,postgresql\n"
	        "      --plot FILE        draw the latency distributions to FILE (SVG, gnuplot)\n"
	        "      --floor-samples K  round trips and upserts timed for the floor (default 50)\n"
	        "      --no-progress      no progress line, even on a terminal\n" ECOM_CLI_USAGE_COMMON);
}

static void
on_progress(void *arg, int64_t fulfilled)
{
	ecom_progress_update(arg, fulfilled);
}

static void *
stage_main(void *arg)
{
	stage_thread *t = arg;

	t->rc = ecom_stage_run(t->cfg, &t->opts, &t->stats, &t->err);
	/* Any stage that ends, in failure or because reconcile is done, ends the run. */
	*t->stop_all = 1;
	return NULL;
}

static int
median_ms(ecom_latency *lat, double *out)
{
	*out = (double)ecom_latency_percentile(lat, 50) / 1000.0;
	return 0;
}

/* One message produced to topic and consumed back; *us is the time taken. */
static int
kafka_round_trip(const ecom_config *cfg, ecom_producer *producer, ecom_consumer *consumer,
                 const char *topic, int64_t *us, ecom_err *err)
{
	rd_kafka_message_t *m = NULL;
	size_t n = 0;
	int64_t t0 = ecom_monotonic_us();

	if (ecom_producer_send(producer, topic, "floor", "{}", 2, NULL, 0, err) < 0)
		return -1;
	while (n == 0) {
		if (ecom_consumer_poll_batch(consumer, &m, 1, cfg->timeout_ms, &n, NULL, err) < 0)
			return -1;
		if (n == 0 && ecom_monotonic_us() - t0 > (int64_t)cfg->timeout_ms * 1000)
			return ecom_err_set(err, "floor: no round trip through '%s' within %d ms", topic,
			                    cfg->timeout_ms);
	}
	*us = ecom_monotonic_us() - t0;
	rd_kafka_message_destroy(m);
	/* The delivery report is not part of the round trip the next hop sees. */
	return ecom_producer_flush(producer, cfg->timeout_ms, err);
}

static int
measure_kafka_floor(const ecom_config *cfg, int samples, double *rtt_ms, ecom_err *err)
{
	ecom_producer *producer = NULL;
	ecom_consumer *consumer = NULL;
	ecom_latency lat;
	char topic[300];
	const char *topics[1];
	int64_t us;
	int i, rc = -1;

	ecom_latency_init(&lat);
	snprintf(topic, sizeof(topic), "%secom-floor-%ld", cfg->topic_prefix, (long)getpid());
	topics[0] = topic;
	if (ecom_producer_new(&producer, cfg, err) < 0)
		goto out;
	if (ecom_kafka_ensure_topics(ecom_producer_handle(producer), topics, 1, 1, cfg->timeout_ms,
	                             err) < 0)
		goto out;
	if (ecom_consumer_new_assign(&consumer, cfg, topic, RD_KAFKA_OFFSET_BEGINNING, err) < 0)
		goto out;
	/* One untimed trip: connections and fetch session. */
	if (kafka_round_trip(cfg, producer, consumer, topic, &us, err) < 0)
		goto out;
	for (i = 0; i < samples; i++) {
		if (kafka_round_trip(cfg, producer, consumer, topic, &us, err) < 0)
			goto out;
		ecom_latency_add(&lat, us);
	}
	median_ms(&lat, rtt_ms);
	ecom_kafka_delete_topics(ecom_producer_handle(producer), topics, 1, cfg->timeout_ms, err);
	rc = 0;
out:
	ecom_consumer_destroy(consumer);
	ecom_producer_destroy(producer);
	ecom_latency_free(&lat);
	return rc;
}

static int
measure_store_floor(ecom_store *store, int samples, double *upsert_ms, ecom_err *err)
{
	ecom_latency lat;
	int i, rc = -1;

	ecom_latency_init(&lat);
	for (i = -1; i < samples; i++) {
		ecom_event order;
		ecom_event *one = &order;
		bool is_new;
		int64_t t0;
		int put;

		if (ecom_event_new_order(&order, ecom_now_us() / 1000, err) < 0)
			goto out;
		t0 = ecom_monotonic_us();
		put = ecom_store_put_batch(store, ECOM_EV_ORDERCREATED, &one, 1, &is_new, err);
		if (i >= 0)
			ecom_latency_add(&lat, ecom_monotonic_us() - t0);
		ecom_event_destroy(&order);
		if (put < 0)
			goto out;
	}
	median_ms(&lat, upsert_ms);
	rc = 0;
out:
	ecom_latency_free(&lat);
	return rc;
}

/*
 * Reset topics and store, measure the floor, reset the store again; the
 * server's name (ecom_store_server()) into server.
 */
static int
prepare_run(const ecom_config *cfg, int floor_samples, floor_result *floor, char *server,
            size_t server_size, ecom_err *err)
{
	ecom_store *store = NULL;
	int rc = -1;

	if (ecom_stage_reset_topics(cfg, err) < 0)
		return -1;
	if (ecom_store_open(&store, cfg, err) < 0)
		return -1;
	snprintf(server, server_size, "%s", ecom_store_server(store));
	if (ecom_store_reset(store, err) < 0)
		goto out;
	if (measure_kafka_floor(cfg, floor_samples, &floor->kafka_round_trip_before_ms, err) < 0)
		goto out;
	if (measure_store_floor(store, floor_samples, &floor->store_upsert_ms, err) < 0)
		goto out;
	if (ecom_store_reset(store, err) < 0)
		goto out;
	rc = 0;
out:
	ecom_store_close(store);
	return rc;
}

static int
run_flow(const ecom_config *cfg, const char *store_name, int floor_samples, int show_progress,
         bson_t *report, ecom_plot_run *plot, ecom_err *err)
{
	stage_thread threads[ECOM_STAGE_COUNT];
	volatile sig_atomic_t stop_all = 0;
	ecom_progress progress;
	floor_result floor;
	double floor_s, elapsed_s;
	bson_t stages;
	char server[ECOM_PLOT_SERVER_MAX];
	int k, started = 0, rc = -1, failed = -1;

	memset(threads, 0, sizeof(threads));
	if (prepare_run(cfg, floor_samples, &floor, server, sizeof(server), err) < 0)
		return -1;
	ecom_progress_start(&progress, cfg->orders, !show_progress);
	for (k = 0; k < ECOM_STAGE_COUNT; k++) {
		stage_thread *t = &threads[k];

		t->cfg = cfg;
		t->stop_all = &stop_all;
		t->opts.kind = (ecom_stage_kind)k;
		t->opts.stop = &stop_all;
		if (k == ECOM_STAGE_RECONCILE) {
			t->opts.orders = cfg->orders;
			t->opts.window = cfg->window;
			t->opts.on_progress = on_progress;
			t->opts.progress_arg = &progress;
		}
		ecom_stage_stats_init(&t->stats);
		if (pthread_create(&t->thread, NULL, stage_main, t) != 0) {
			ecom_err_set(err, "cannot start a thread: %s", strerror(errno));
			stop_all = 1;
			break;
		}
		started++;
	}
	/* Wait for the end; a signal stops every stage after its batch. */
	while (!stop_all) {
		if (interrupted)
			stop_all = 1;
		usleep(20000);
	}
	for (k = 0; k < started; k++)
		pthread_join(threads[k].thread, NULL);
	ecom_progress_finish(&progress);
	for (k = 0; k < started; k++) {
		if (threads[k].rc < 0 && failed < 0)
			failed = k;
	}
	if (started < ECOM_STAGE_COUNT)
		goto out;
	if (failed >= 0) {
		ecom_err_set(err, "stage %s: %s", ecom_stage_name((ecom_stage_kind)failed),
		             threads[failed].err.msg);
		goto out;
	}
	if (threads[ECOM_STAGE_RECONCILE].stats.fulfilled < cfg->orders) {
		ecom_err_set(err, "interrupted after %" PRId64 " of %ld orders",
		             threads[ECOM_STAGE_RECONCILE].stats.fulfilled, cfg->orders);
		goto out;
	}

	if (measure_kafka_floor(cfg, floor_samples, &floor.kafka_round_trip_after_ms, err) < 0)
		goto out;
	floor.kafka_round_trip_ms = floor.kafka_round_trip_after_ms < floor.kafka_round_trip_before_ms
	                                ? floor.kafka_round_trip_after_ms
	                                : floor.kafka_round_trip_before_ms;
	BSON_APPEND_UTF8(report, "store", store_name);
	BSON_APPEND_UTF8(report, "server", server);
	ecom_stage_append_timing(report, &threads[ECOM_STAGE_RECONCILE].stats);
	BSON_APPEND_INT32(report, "window", cfg->window);
	ecom_latency_append_bson(report, "end_to_end_latency",
	                         &threads[ECOM_STAGE_RECONCILE].stats.end_to_end);
	bson_append_document_begin(report, "stage_latency", -1, &stages);
	for (k = 0; k < ECOM_STAGE_COUNT; k++)
		ecom_latency_append_bson(&stages, ecom_stage_name((ecom_stage_kind)k),
		                         &threads[k].stats.hop);
	bson_append_document_end(report, &stages);
	floor_s = (double)cfg->orders * (KAFKA_HOPS_PER_ORDER * floor.kafka_round_trip_ms +
	                                 STORE_WRITES_PER_ORDER * floor.store_upsert_ms) / 1000.0;
	elapsed_s = (double)(threads[ECOM_STAGE_RECONCILE].stats.ended_us -
	                     threads[ECOM_STAGE_RECONCILE].stats.started_us) / 1e6;
	{
		bson_t f;

		bson_append_document_begin(report, "floor", -1, &f);
		BSON_APPEND_DOUBLE(&f, "kafka_round_trip_ms", floor.kafka_round_trip_ms);
		BSON_APPEND_DOUBLE(&f, "kafka_round_trip_before_ms", floor.kafka_round_trip_before_ms);
		BSON_APPEND_DOUBLE(&f, "kafka_round_trip_after_ms", floor.kafka_round_trip_after_ms);
		BSON_APPEND_DOUBLE(&f, "store_upsert_ms", floor.store_upsert_ms);
		BSON_APPEND_INT32(&f, "kafka_hops_per_order", KAFKA_HOPS_PER_ORDER);
		BSON_APPEND_INT32(&f, "store_writes_per_order", STORE_WRITES_PER_ORDER);
		BSON_APPEND_INT32(&f, "samples", floor_samples);
		BSON_APPEND_DOUBLE(&f, "floor_s", floor_s);
		bson_append_document_end(report, &f);
	}
	BSON_APPEND_DOUBLE(report, "elapsed_over_floor", floor_s > 0 ? elapsed_s / floor_s : 0.0);
	BSON_APPEND_INT64(report, "peak_rss_kib", ecom_peak_rss_kib());
	if (plot != NULL) {
		snprintf(plot->server, sizeof(plot->server), "%s", server);
		plot->elapsed_s = elapsed_s;
		plot->orders_per_s = elapsed_s > 0 ? (double)cfg->orders / elapsed_s : 0.0;
		ecom_latency_merge(&plot->end_to_end, &threads[ECOM_STAGE_RECONCILE].stats.end_to_end);
		for (k = 0; k < ECOM_STAGE_COUNT; k++)
			ecom_latency_merge(&plot->stages[k], &threads[k].stats.hop);
	}
	rc = 0;
out:
	for (k = 0; k < ECOM_STAGE_COUNT; k++)
		ecom_stage_stats_free(&threads[k].stats);
	return rc;
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
field_utf8(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return "unknown server";
}

static void
print_summary(const bson_t *report, const char *store)
{
	ecom_infof("%s on %s: %.0f orders in %.3f s (%.1f orders/s); end-to-end p50 %.2f ms, p99 %.2f ms; "
	           "floor %.3f s (round trip %.3f ms, upsert %.3f ms), elapsed/floor %.2f; "
	           "peak RSS %.0f KiB",
	           store, field_utf8(report, "server"), field_double(report, "orders"), field_double(report, "elapsed_s"),
	           field_double(report, "orders_per_s"),
	           field_double(report, "end_to_end_latency.p50_ms"),
	           field_double(report, "end_to_end_latency.p99_ms"),
	           field_double(report, "floor.floor_s"),
	           field_double(report, "floor.kafka_round_trip_ms"),
	           field_double(report, "floor.store_upsert_ms"),
	           field_double(report, "elapsed_over_floor"), field_double(report, "peak_rss_kib"));
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		ECOM_CLI_LONGOPTS,
		{"orders", required_argument, NULL, 'n'},
		{"window", required_argument, NULL, 'w'},
		{"compare", required_argument, NULL, OPT_COMPARE},
		{"plot", required_argument, NULL, OPT_PLOT},
		{"floor-samples", required_argument, NULL, OPT_FLOOR_SAMPLES},
		{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
		{NULL, 0, NULL, 0},
	};
	ecom_cli cli;
	ecom_config cfg;
	ecom_err err;
	char *compare = NULL, *saveptr = NULL, *name;
	const char *plot_file = NULL;
	ecom_plot_run plot_runs[MAX_PLOT_RUNS], *plot;
	int plot_count = 0;
	int single, show_progress = 1, floor_samples = 50, opt, status = ECOM_EXIT_FAILURE, runs = 0;
	bson_t output, list;
	char *end, *json;

	ecom_log_init(argv[0]);
	ecom_config_init(&cfg);
	ecom_cli_init(&cli);
	opterr = 0;
	bson_init(&output);
	while ((opt = getopt_long(argc, argv, ECOM_CLI_SHORTOPTS "n:w:", longopts, NULL)) != -1) {
		if (ecom_cli_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case 'n':
			ecom_cli_set(&cli, "orders", optarg);
			break;
		case 'w':
			ecom_cli_set(&cli, "window", optarg);
			break;
		case OPT_COMPARE:
			free(compare);
			compare = strdup(optarg);
			break;
		case OPT_PLOT:
			plot_file = optarg;
			break;
		case OPT_FLOOR_SAMPLES:
			errno = 0;
			floor_samples = (int)strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || floor_samples < 1 ||
			    floor_samples > 100000) {
				ecom_usagef("--floor-samples '%s': expected a number from 1 to 100000",
				            optarg);
				status = ECOM_EXIT_USAGE;
				goto out;
			}
			break;
		case OPT_NO_PROGRESS:
			show_progress = 0;
			break;
		default:
			ecom_cli_bad_option(opt, argv);
			status = ECOM_EXIT_USAGE;
			goto out;
		}
	}
	if (ecom_cli_early_exit(&cli, argc, argv, usage, &status))
		goto out;
	if (ecom_cli_configure(&cli, &cfg, &err) < 0) {
		ecom_usagef("%s", err.msg);
		status = ECOM_EXIT_USAGE;
		goto out;
	}
	if (compare != NULL) {
		/* Check every name before the first run rather than fail halfway. */
		char *copy = strdup(compare);

		for (name = strtok_r(copy, ",", &saveptr); name != NULL;
		     name = strtok_r(NULL, ",", &saveptr)) {
			if (ecom_config_set(&cfg, "store", name, &err) < 0) {
				ecom_usagef("--compare: %s", err.msg);
				free(copy);
				status = ECOM_EXIT_USAGE;
				goto out;
			}
		}
		free(copy);
	}
	if (plot_file != NULL) {
		/* Fail now, not after minutes of benchmark, if the file cannot be written. */
		FILE *probe = fopen(plot_file, "w");

		if (probe == NULL) {
			ecom_errorf("cannot write plot file '%s': %s", plot_file, strerror(errno));
			goto out;
		}
		fclose(probe);
	}
	ecom_cli_catch_stop_signals(&interrupted);

	/* One store: the report itself; --compare: {"runs": [report, …]}. */
	single = compare == NULL;
	if (compare == NULL)
		compare = strdup(cfg.store);
	bson_append_array_begin(&output, "runs", -1, &list);
	saveptr = NULL;
	for (name = strtok_r(compare, ",", &saveptr); name != NULL;
	     name = strtok_r(NULL, ",", &saveptr)) {
		char key[16];
		bson_t report;
		int rc;

		ecom_config_set(&cfg, "store", name, &err);
		snprintf(key, sizeof(key), "%d", runs);
		bson_init(&report);
		ecom_infof("%s: %ld orders, window %d", name, cfg.orders, cfg.window);
		plot = NULL;
		if (plot_file != NULL && plot_count < MAX_PLOT_RUNS) {
			plot = &plot_runs[plot_count++];
			ecom_plot_run_init(plot, name);
		}
		rc = run_flow(&cfg, name, floor_samples, show_progress, &report, plot, &err);
		if (rc == 0) {
			print_summary(&report, name);
			BSON_APPEND_DOCUMENT(&list, key, &report);
		}
		bson_destroy(&report);
		if (rc < 0) {
			bson_append_array_end(&output, &list);
			ecom_errorf("%s", err.msg);
			goto out;
		}
		runs++;
	}
	bson_append_array_end(&output, &list);
	if (plot_file != NULL) {
		if (ecom_plot_svg(plot_file, plot_runs, (size_t)plot_count, &err) < 0) {
			ecom_errorf("%s", err.msg);
			goto out;
		}
		ecom_infof("latency plot written to '%s'", plot_file);
	}
	if (single) {
		bson_iter_t it, run;
		const uint8_t *data;
		uint32_t len;
		bson_t first;

		bson_iter_init_find(&it, &output, "runs");
		bson_iter_recurse(&it, &run);
		bson_iter_next(&run);
		bson_iter_document(&run, &len, &data);
		bson_init_static(&first, data, len);
		json = bson_as_relaxed_extended_json(&first, NULL);
	} else {
		json = bson_as_relaxed_extended_json(&output, NULL);
	}
	puts(json);
	bson_free(json);
	status = ECOM_EXIT_OK;
out:
	for (opt = 0; opt < plot_count; opt++)
		ecom_plot_run_free(&plot_runs[opt]);
	free(compare);
	bson_destroy(&output);
	ecom_config_free(&cfg);
	if (ecom_close_stdout() < 0 && status == ECOM_EXIT_OK)
		status = ECOM_EXIT_FAILURE;
	return status;
}
