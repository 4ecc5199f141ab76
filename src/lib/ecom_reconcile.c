/*
 * The terminal stage's hooks into the stage loop (ecom_reconcile.h).
 *
 * Only a newly marked fulfilment counts, so a repeated orderfulfilled
 * never starts an extra order; what was created is what the topic
 * holds, what was fulfilled is what the store says, so a restarted run
 * goes on where the last one stopped.
 */
#include "ecom_reconcile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_alloc.h"
#include "ecom_stage_impl.h"
#include "ecom_store.h"
#include "ecom_time.h"

typedef struct reconcile {
	const ecom_reconcile_opts *opts;
	bool open;                /* an open loop: orders come from arrivals */
	ecom_arrivals *arrivals;  /* open loop, while its thread runs */
	int64_t backlog_max;      /* open loop */
	int64_t warmup_until_us;  /* open loop: wall clock; orders meant to start before are warm-up */
	int64_t issued_total;     /* orders created, by any run (open loop: before the arrivals) */
	int64_t fulfilled_total;  /* orders fulfilled, by any run */
	int64_t last_shipped_ms;  /* every mark call gets later dates than the one before */
	int64_t last_progress_us; /* monotonic: the last fulfilment, or the start */
	int64_t last_stall_warning_us;
	bool started; /* the first orders are out */
	/* exactly_once: orders created in the open transaction, and a top-up owed after an abort. */
	int64_t issued_in_txn;
	bool top_up_owed;
	/* Per batch, batch_max entries each: the marks. */
	const char **order_ids;
	int64_t *shipped_ms;
} reconcile;

static int open_loop_collect(ecom_stage_loop *loop, ecom_err *err);

static reconcile *
state_of(const ecom_stage_loop *loop)
{
	return loop->state;
}

/* Orders created by any run, the arrivals' so far included. */
static int64_t
issued(const reconcile *r)
{
	return r->issued_total + (r->arrivals != NULL ? ecom_arrivals_issued(r->arrivals) : 0);
}

/* Create orders until `window` are in flight or `orders` have been created. */
static int
top_up_orders(ecom_stage_loop *loop, ecom_err *err)
{
	reconcile *r = state_of(loop);
	int64_t in_flight = r->issued_total - r->fulfilled_total;
	int64_t room = r->opts->window - in_flight;
	int64_t left = r->opts->orders - r->issued_total;
	int64_t k, want = room < left ? room : left;

	for (k = 0; k < want; k++) {
		ecom_event order;
		int64_t now_us = ecom_now_us();
		int rc;

		if (ecom_event_new_order(&order, now_us / 1000, err) < 0)
			return -1;
		rc = ecom_stage_send_event(loop, loop->topics[ECOM_EV_ORDERCREATED], &order, now_us, err);
		ecom_event_destroy(&order);
		if (rc < 0)
			return -1;
		r->issued_total++;
		r->issued_in_txn++;
		loop->stats->issued++;
	}
	return 0;
}

/*
 * exactly_once: an aborted transaction's orders were never created.  Its
 * fulfilments were marked in the store already, so reading them again
 * marks nothing new: the orders to create instead are owed, created
 * before the next poll.
 */
static void
reconcile_txn_ended(ecom_stage_loop *loop, bool committed)
{
	reconcile *r = state_of(loop);

	if (!committed) {
		r->issued_total -= r->issued_in_txn;
		loop->stats->issued -= r->issued_in_txn;
		r->top_up_owed = true;
	}
	r->issued_in_txn = 0;
}

/*
 * The original's check after every fulfilment: orders created in the
 * store against orders fulfilled.  "Fulfilled" is the mark on the
 * ordercreated document, not the count of stored orderfulfilled events:
 * a reconcile killed between storing a batch and marking it leaves
 * stored, unmarked fulfilments that come back only when their partition
 * is read again.  Created may run ahead of fulfilled by the orders in
 * flight.  The store is asked only now and then (ask_store): a count is
 * a scan on some servers; in between, the counts kept here from the
 * store's own write results are checked.
 */
static int
check_counts(ecom_stage_loop *loop, bool ask_store, ecom_err *err)
{
	reconcile *r = state_of(loop);
	int64_t created, fulfilled, in_flight;

	if (r->fulfilled_total > issued(r))
		return ecom_err_set(err,
		                    "count mismatch: %" PRId64 " orders created, %" PRId64
		                    " fulfilled; stopping",
		                    issued(r), r->fulfilled_total);
	if (!ask_store)
		return 0;
	if (ecom_store_count(loop->store, ECOM_EV_ORDERCREATED, &created, err) < 0 ||
	    ecom_store_count_fulfilled(loop->store, &fulfilled, err) < 0)
		return -1;
	/* After the store's counts: an open loop's arrivals go on creating meanwhile. */
	in_flight = issued(r) - r->fulfilled_total;
	if (fulfilled != r->fulfilled_total || created < fulfilled || created - fulfilled > in_flight)
		return ecom_err_set(err,
		                    "count mismatch: %" PRId64 " orders created, %" PRId64
		                    " fulfilled (%" PRId64 " orders completed here, %" PRId64
		                    " in flight); stopping",
		                    created, fulfilled, r->fulfilled_total, in_flight);
	return 0;
}

/*
 * Mark every fulfilment of the batch, new or repeated: the mark, not the
 * stored event, completes an order, and a process killed between storing
 * and marking gets the event again and must still mark.  Each call's
 * shipped date is later than the one before, which lets the store tell a
 * retried call (same date) from a repeated fulfilment (an earlier date).
 */
static int
mark_batch(ecom_stage_loop *loop, size_t n, ecom_err *err)
{
	reconcile *r = state_of(loop);
	size_t i, marks = 0;
	int64_t marked = 0, before, every, now_ms = ecom_now_us() / 1000;

	if (now_ms <= r->last_shipped_ms)
		now_ms = r->last_shipped_ms + 1;
	r->last_shipped_ms = now_ms;
	for (i = 0; i < n; i++) {
		if (loop->results[i].status == ECOM_PUT_REJECTED)
			continue;
		r->order_ids[marks] = loop->event_ptrs[i]->event_id;
		r->shipped_ms[marks] = now_ms;
		marks++;
	}
	if (marks == 0)
		return 0;
	if (ecom_store_mark_fulfilled(loop->store, r->order_ids, r->shipped_ms, marks, &marked, err) <
	    0)
		return -1;
	if (marked == 0)
		return 0;
	before = r->fulfilled_total;
	r->fulfilled_total += marked;
	loop->stats->fulfilled += marked;
	if (loop->stats->started_us == 0) { /* a resumed run's first fulfilment, before it began */
		loop->stats->started_us = ecom_now_us();
		loop->stats->started_mono_us = ecom_monotonic_us();
	}
	loop->stats->ended_us = ecom_now_us();
	loop->stats->ended_mono_us = ecom_monotonic_us();
	r->last_progress_us = ecom_monotonic_us();
	every = loop->cfg->count_check_every;
	return check_counts(loop,
	                    r->fulfilled_total / every != before / every ||
	                        r->fulfilled_total >= r->opts->orders,
	                    err);
}

/* Nothing in flight: the driver's moment, left out of the run's time. */
static int
pause_between_orders(ecom_stage_loop *loop, ecom_err *err)
{
	reconcile *r = state_of(loop);
	const ecom_drive_hooks *drive = r->opts->drive;
	int64_t t0, paused;

	if (drive == NULL || drive->between_orders == NULL || !r->started ||
	    r->issued_total != r->fulfilled_total || r->fulfilled_total >= r->opts->orders)
		return 0;
	t0 = ecom_monotonic_us();
	if (drive->between_orders(drive->arg, r->fulfilled_total, err) < 0)
		return -1;
	paused = ecom_monotonic_us() - t0;
	loop->stats->paused_us += paused;
	/* Neither the batch's latency nor a stall. */
	loop->batch_excluded_us += paused;
	r->last_progress_us += paused;
	return 0;
}

static int
reconcile_handle_batch(ecom_stage_loop *loop, size_t n, int64_t *mark_us, ecom_err *err)
{
	reconcile *r = state_of(loop);

	if (mark_batch(loop, n, err) < 0)
		return -1;
	ecom_stage_phase_done(loop, ECOM_PHASE_MARK, mark_us);
	if (pause_between_orders(loop, err) < 0)
		return -1;
	*mark_us = ecom_monotonic_us();
	/* Before the run begins, reconcile_begin() tops up; an open loop's orders come on schedule. */
	return r->started && !r->open ? top_up_orders(loop, err) : 0;
}

/* An open loop's order is timed from when it was meant to be created: its header says when. */
static void
reconcile_batch_done(ecom_stage_loop *loop, size_t n, int64_t now_us)
{
	reconcile *r = state_of(loop);
	size_t i;

	for (i = 0; i < n; i++) {
		if (loop->results[i].status != ECOM_PUT_NEW)
			continue;
		if (loop->order_us[i] < r->warmup_until_us)
			loop->stats->warmup_orders++;
		else
			ecom_latency_add(&loop->stats->end_to_end, now_us - loop->order_us[i]);
	}
}

/*
 * Restart-safe: done before any fulfilment is read, so a restarted
 * reconcile gets the redelivered ones first.
 */
static int
reconcile_start(ecom_stage_loop *loop, ecom_err *err)
{
	reconcile *r;

	if (loop->opts->terminal == NULL)
		return ecom_err_set(err, "the reconcile stage needs its options (a bug)");
	r = ecom_xcalloc(1, sizeof(*r));
	loop->state = r;
	r->opts = loop->opts->terminal;
	r->open = r->opts->open.rate > 0;
	loop->stats->open_loop = r->open;
	r->backlog_max = r->opts->open.backlog_max;
	if (r->open && r->backlog_max <= 0) {
		r->backlog_max = (int64_t)(r->opts->open.rate * ECOM_BACKLOG_SECONDS);
		if (r->backlog_max < ECOM_BACKLOG_MIN)
			r->backlog_max = ECOM_BACKLOG_MIN;
	}
	loop->stats->backlog_max = r->backlog_max;
	r->order_ids = ecom_xcalloc(loop->batch_max, sizeof(*r->order_ids));
	r->shipped_ms = ecom_xcalloc(loop->batch_max, sizeof(*r->shipped_ms));
	/* Under exactly_once the watermarks count aborted orders and transaction
	 * markers too: count what a reader of committed data sees instead. */
	if ((loop->exactly_once
	         ? ecom_kafka_count_committed(loop->cfg, loop->topics[ECOM_EV_ORDERCREATED],
	                                      &r->issued_total, err)
	         : ecom_kafka_topic_size(ecom_producer_handle(loop->producer),
	                                 loop->topics[ECOM_EV_ORDERCREATED], loop->cfg->retry_timeout_ms,
	                                 &r->issued_total, err)) < 0 ||
	    ecom_store_count_fulfilled(loop->store, &r->fulfilled_total, err) < 0)
		return -1;
	loop->stats->fulfilled_before = r->fulfilled_total;
	if (r->fulfilled_total >= r->opts->orders)
		ecom_infof("all %" PRId64 " orders were fulfilled already: nothing to do",
		           r->fulfilled_total);
	else if (r->issued_total > 0)
		ecom_infof("resuming: %" PRId64 " orders created, %" PRId64 " fulfilled",
		           r->issued_total, r->fulfilled_total);
	r->last_progress_us = ecom_monotonic_us();
	return 0;
}

static void
reconcile_finish(ecom_stage_loop *loop)
{
	reconcile *r = state_of(loop);

	if (r == NULL)
		return;
	/*
	 * Stopped early, or the last fulfilment came before the thread was
	 * reaped: what the thread did still counts, its orders too.
	 */
	if (r->arrivals != NULL) {
		ecom_err ignored;

		ecom_arrivals_halt(r->arrivals);
		while (!ecom_arrivals_finished(r->arrivals)) /* its count is final */
			ecom_sleep_ms(1);
		open_loop_collect(loop, &ignored);
	}
	/* After the last count, flush and commit: they are the run's work too. */
	if (loop->stats->started_mono_us > 0) {
		loop->stats->ended_us = ecom_now_us();
		loop->stats->ended_mono_us = ecom_monotonic_us();
	}
	free(r->order_ids);
	free(r->shipped_ms);
	free(r);
	loop->state = NULL;
}

/*
 * An open loop begins: the arrivals' thread creates the rest of the
 * orders on schedule, and the run's clock is the schedule's.
 */
static int
open_loop_begin(ecom_stage_loop *loop, ecom_err *err)
{
	reconcile *r = state_of(loop);
	const ecom_open_loop *open = &r->opts->open;
	ecom_arrivals_opts a = {
		.kind = open->arrivals,
		.rate = open->rate,
		.seed = open->seed,
		.count = r->opts->orders - r->issued_total,
		.warmup_us = (int64_t)(open->warmup_s * 1e6),
		.topic = loop->topics[ECOM_EV_ORDERCREATED],
		.stop = loop->opts->stop,
	};
	int64_t wall, mono;

	if (a.count <= 0) /* all created by an earlier run: wait for their fulfilments */
		return 0;
	if (ecom_arrivals_start(&r->arrivals, loop->cfg, &a, &wall, &mono, err) < 0)
		return -1;
	loop->stats->started_us = wall;
	loop->stats->started_mono_us = mono;
	r->warmup_until_us = wall + (int64_t)(open->warmup_s * 1e6);
	if (open->stats_from_us != NULL)
		atomic_store(open->stats_from_us, r->warmup_until_us);
	r->last_progress_us = mono;
	return 0;
}

/* The arrivals' thread is done: its count and its failure, if any, are the run's. */
static int
open_loop_collect(ecom_stage_loop *loop, ecom_err *err)
{
	reconcile *r = state_of(loop);
	int64_t made = ecom_arrivals_issued(r->arrivals);
	int rc = ecom_arrivals_join(r->arrivals, &loop->stats->send_lag, err);

	r->arrivals = NULL;
	r->issued_total += made;
	loop->stats->issued += made;
	return rc;
}

/* The run begins: the clock starts (if no fulfilment started it) and the first orders go out. */
static int
reconcile_begin(ecom_stage_loop *loop, ecom_err *err)
{
	reconcile *r = state_of(loop);

	r->started = true;
	if (r->fulfilled_total >= r->opts->orders)
		return 0;
	if (r->open)
		return open_loop_begin(loop, err);
	if (loop->stats->started_us == 0) {
		loop->stats->started_us = ecom_now_us();
		loop->stats->started_mono_us = ecom_monotonic_us();
	}
	r->last_progress_us = ecom_monotonic_us();
	if (top_up_orders(loop, err) < 0 || ecom_producer_flush(loop->producer, err) < 0)
		return -1;
	return 0;
}

/* Begin once the consumer has its partitions and the driver says every stage has. */
static int
reconcile_before_poll(ecom_stage_loop *loop, ecom_err *err)
{
	reconcile *r = state_of(loop);
	const ecom_drive_hooks *drive = r->opts->drive;

	if (r->arrivals != NULL && ecom_arrivals_finished(r->arrivals))
		return open_loop_collect(loop, err);
	if (r->top_up_owed && r->started && !r->open) {
		r->top_up_owed = false;
		return top_up_orders(loop, err);
	}
	if (r->started || !loop->ready)
		return 0;
	if (drive != NULL && drive->may_start != NULL && !drive->may_start(drive->arg))
		return 0;
	return reconcile_begin(loop, err);
}

static bool
reconcile_done(const ecom_stage_loop *loop)
{
	const reconcile *r = state_of(loop);

	if (r->fulfilled_total >= r->opts->orders)
		return true;
	/* An open loop cut short (not sustainable): done once its orders are through. */
	return r->open && r->started && r->arrivals == NULL && r->fulfilled_total >= r->issued_total;
}

/* Where the orders wait: the consumer lag of each stage's group on its input, as text. */
static void
describe_waiting(ecom_stage_loop *loop, char *where, size_t size, char *failure, size_t fsize)
{
	size_t used = 0;
	int k;

	if (ecom_consumer_brokers_down(loop->consumer)) {
		snprintf(failure, fsize, "the kafka brokers are down");
		return;
	}
	for (k = 0; k < ECOM_STAGE_COUNT; k++) {
		const char *topic = loop->topics[ecom_stage_input((ecom_stage_kind)k)];
		char group[ECOM_GROUP_MAX];
		int64_t lag = 0;
		ecom_err why;

		ecom_stage_group(loop->cfg, (ecom_stage_kind)k, group, sizeof(group));
		if (ecom_kafka_group_lag(loop->cfg, group, topic, &lag, &why) < 0) {
			snprintf(failure, fsize, "cannot tell where: %.500s", why.msg);
			return;
		}
		if (lag <= 0)
			continue;
		used += (size_t)snprintf(where + used, used < size ? size - used : 0,
		                         "%s%" PRId64 " on '%s' (is the %s stage running?)",
		                         used ? ", " : "", lag, topic,
		                         ecom_stage_name((ecom_stage_kind)k));
	}
}

/* No order completed for stall_warn_ms: say where the orders are waiting. */
static void
warn_if_stalled(ecom_stage_loop *loop)
{
	reconcile *r = state_of(loop);
	int64_t now = ecom_monotonic_us(), stall_us = (int64_t)loop->cfg->stall_warn_ms * 1000;
	char where[1024] = "", failure[600] = "";

	if (r->fulfilled_total >= r->opts->orders || now - r->last_progress_us < stall_us ||
	    now - r->last_stall_warning_us < stall_us)
		return;
	r->last_stall_warning_us = now;
	describe_waiting(loop, where, sizeof(where), failure, sizeof(failure));
	ecom_warnf("no order completed for %.0f s (%" PRId64 " of %ld fulfilled, %" PRId64
	           " in flight); %s%s",
	           (double)(now - r->last_progress_us) / 1e6, r->fulfilled_total, r->opts->orders,
	           issued(r) - r->fulfilled_total,
	           failure[0] ? failure
	           : where[0] ? "messages waiting: "
	                      : "no messages are waiting on the flow's topics",
	           failure[0] ? "" : where);
}

/*
 * More orders waiting than the bound: the rate is more than the flow
 * can take.  No more are created; those out are seen through, so the
 * counts still add up, and the run ends with its figures so far.
 */
static void
check_backlog(ecom_stage_loop *loop)
{
	reconcile *r = state_of(loop);
	int64_t backlog = issued(r) - r->fulfilled_total;

	if (backlog > loop->stats->backlog_peak)
		loop->stats->backlog_peak = backlog;
	if (r->arrivals == NULL || backlog <= r->backlog_max || !loop->stats->sustainable)
		return;
	loop->stats->sustainable = false;
	ecom_arrivals_halt(r->arrivals);
	ecom_warnf("not sustainable at %g orders/s: %" PRId64
	           " orders created and not fulfilled (the bound is %" PRId64
	           "); creating no more, finishing those out",
	           r->opts->open.rate, backlog, r->backlog_max);
}

static void
reconcile_after_poll(ecom_stage_loop *loop)
{
	reconcile *r = state_of(loop);

	if (r->open)
		check_backlog(loop);
	warn_if_stalled(loop);
	if (r->opts->on_progress != NULL)
		r->opts->on_progress(r->opts->progress_arg, r->fulfilled_total);
}

const ecom_stage_hooks ecom_reconcile_hooks = {
	.name = "reconcile",
	.output = ECOM_EV_ORDERCREATED,
	.start = reconcile_start,
	.finish = reconcile_finish,
	.before_poll = reconcile_before_poll,
	.done = reconcile_done,
	.handle_batch = reconcile_handle_batch,
	.batch_done = reconcile_batch_done,
	.after_poll = reconcile_after_poll,
	.txn_ended = reconcile_txn_ended,
};
