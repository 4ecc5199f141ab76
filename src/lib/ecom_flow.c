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
static bool
floor_chain_due(const floor_in_run *f, int64_t fulfilled)
{
	return f->taken < f->samples &&
	       fulfilled >= (int64_t)(f->taken + 1) * f->orders / (f->samples + 1);
}

static int
floor_between_orders(floor_in_run *f, int64_t fulfilled, ecom_err *err)
{
	while (floor_chain_due(f, fulfilled)) {
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
	/* The CPU accounts, from the moment every stage is ready. */
	const ecom_cpu_services *services; /* NULL: CPU not measured */
	bool started;
	ecom_cpu_snapshot start;
	const pid_t *tids;                 /* each stage's thread */
	int64_t thread_start_us[ECOM_STAGE_COUNT];
	ecom_cpu_snapshot paused;          /* CPU used in the pauses, by everyone */
	int64_t paused_thread_us;          /* … by the reconcile stage's thread */
} flow_drive;

/* Every stage is ready: the run, and its CPU accounts, begin. */
static bool
drive_may_start(void *arg)
{
	flow_drive *d = arg;
	ecom_err ignored;
	int k;

	if (!all_stages_ready(d->ready))
		return false;
	if (d->services != NULL && !d->started) {
		d->started = true;
		for (k = 0; k < ECOM_STAGE_COUNT; k++)
			if (ecom_cpu_thread_us(d->tids[k], &d->thread_start_us[k], &ignored) < 0)
				d->thread_start_us[k] = -1;
		if (ecom_cpu_snapshot_take(&d->start, d->services, &ignored) < 0)
			d->services = NULL;
	}
	return true;
}

/* b − a added to sum, where both were measured. */
static void
cpu_add_difference(ecom_cpu_snapshot *sum, const ecom_cpu_snapshot *a, const ecom_cpu_snapshot *b)
{
	ecom_cpu_snapshot d;
	int i;

	ecom_cpu_snapshot_diff(a, b, &d);
	sum->process_us += d.process_us;
	sum->proc_count = d.proc_count;
	for (i = 0; i < d.proc_count; i++)
		if (d.proc_us[i] >= 0 && sum->proc_us[i] >= 0)
			sum->proc_us[i] += d.proc_us[i];
}

/* The floor's chains, their CPU kept apart from the flow's. */
static int
drive_between_orders(void *arg, int64_t fulfilled, ecom_err *err)
{
	flow_drive *d = arg;
	ecom_cpu_snapshot before, after;
	int64_t thread_before = 0, thread_after = 0;
	ecom_err ignored;
	int rc;

	/* Called after every order: the snapshots, which read every thread of
	 * the broker's and the store's processes in /proc, only around a
	 * chain.  Taken after each order, they were most of the stage
	 * thread's CPU at W = 1 (361 against 163 µs an event). */
	if (d->services == NULL || !floor_chain_due(d->floor, fulfilled))
		return floor_between_orders(d->floor, fulfilled, err);
	if (ecom_cpu_snapshot_take(&before, d->services, &ignored) < 0 ||
	    ecom_cpu_thread_self_us(&thread_before, &ignored) < 0)
		d->services = NULL; /* not measured after all: the report says so */
	rc = floor_between_orders(d->floor, fulfilled, err);
	if (d->services != NULL && ecom_cpu_snapshot_take(&after, d->services, &ignored) == 0 &&
	    ecom_cpu_thread_self_us(&thread_after, &ignored) == 0) {
		cpu_add_difference(&d->paused, &before, &after);
		d->paused_thread_us += thread_after - thread_before;
	}
	return rc;
}

/* The run's broker and store, where they run here (ecom_cpu.h). */
static void
cpu_accounts_open(const ecom_config *cfg, flow_drive *d, ecom_flow_result *result)
{
	ecom_err why;

	if (ecom_cpu_services_of_run(&result->cpu_services, cfg, &why) < 0) {
		snprintf(result->cpu_failure, sizeof(result->cpu_failure), "%.250s", why.msg);
		return;
	}
	d->services = &result->cpu_services;
}

/* The run's CPU: from every stage ready to the last one ended, the floor's pauses left out. */
static void
cpu_accounts_close(flow_drive *d, const int64_t *cpu_end_us, ecom_flow_result *result)
{
	ecom_cpu_snapshot end, used;
	ecom_err why;
	int i, k;

	if (d->services == NULL || !d->started) {
		if (result->cpu_failure[0] == '\0')
			snprintf(result->cpu_failure, sizeof(result->cpu_failure), "the run did not begin");
		return;
	}
	if (ecom_cpu_snapshot_take(&end, d->services, &why) < 0) {
		snprintf(result->cpu_failure, sizeof(result->cpu_failure), "%.250s", why.msg);
		return;
	}
	ecom_cpu_snapshot_diff(&d->start, &end, &used);
	used.process_us -= d->paused.process_us;
	for (i = 0; i < used.proc_count; i++)
		if (used.proc_us[i] >= 0 && d->paused.proc_us[i] > 0)
			used.proc_us[i] -= d->paused.proc_us[i];
	result->cpu_used = used;
	for (k = 0; k < ECOM_STAGE_COUNT; k++)
		result->stage_cpu_us[k] = cpu_end_us[k] >= 0 && d->thread_start_us[k] >= 0
		                              ? cpu_end_us[k] - d->thread_start_us[k]
		                              : -1;
	if (result->stage_cpu_us[ECOM_STAGE_RECONCILE] >= 0)
		result->stage_cpu_us[ECOM_STAGE_RECONCILE] -= d->paused_thread_us;
	result->cpu_measured = true;
}

typedef struct stage_thread {
	pthread_t thread;
	const ecom_config *cfg;
	pid_t *tid;          /* the thread's id, for its CPU */
	int64_t *cpu_end_us; /* the thread's own CPU when its stage ended; -1 if unknown */
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

	ecom_err ignored;

	ecom_log_set_context(ecom_stage_name(t->opts.kind));
	*t->tid = gettid();
	t->rc = ecom_stage_run(t->cfg, &t->opts, t->stats, &t->err);
	if (ecom_cpu_thread_self_us(t->cpu_end_us, &ignored) < 0)
		*t->cpu_end_us = -1;
	/* Any stage that ends, in failure or because reconcile is done, ends the run. */
	*t->stop_all = 1;
	return NULL;
}

/*
 * The five stages, a thread each with its own connections, as five
 * processes would run (one thread for all was slower: see
 * doc/performance-notes.md).
 */
static int
run_stages_in_threads(const ecom_config *cfg, const ecom_flow_opts *opts, floor_in_run *floor,
                      ecom_flow_result *result, ecom_err *err)
{
	stage_thread threads[ECOM_STAGE_COUNT];
	ecom_stop_flag stop_all = 0;
	atomic_llong stats_from_us = 0; /* an open loop's warm-up, set when it begins */
	readiness ready = {PTHREAD_MUTEX_INITIALIZER, 0};
	pid_t tids[ECOM_STAGE_COUNT] = {0};
	int64_t cpu_end_us[ECOM_STAGE_COUNT];
	flow_drive drive = {.ready = &ready, .floor = floor, .tids = tids};
	ecom_drive_hooks hooks = {
		.may_start = drive_may_start,
		.between_orders = floor != NULL ? drive_between_orders : NULL,
		.arg = &drive,
	};
	int k, started = 0, failed = -1, failed_with;

	memset(threads, 0, sizeof(threads));
	cpu_accounts_open(cfg, &drive, result);
	for (k = 0; k < ECOM_STAGE_COUNT; k++) {
		stage_thread *t = &threads[k];

		t->cfg = cfg;
		t->tid = &tids[k];
		t->cpu_end_us = &cpu_end_us[k];
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
		failed_with = pthread_create(&t->thread, NULL, stage_main, t);
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
	cpu_accounts_close(&drive, cpu_end_us, result);
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
