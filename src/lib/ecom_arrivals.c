/* An open loop's orders on their schedule (ecom_arrivals.h). */
#include "ecom_arrivals.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_alloc.h"
#include "ecom_event.h"
#include "ecom_kafka.h"
#include "ecom_time.h"

static const char *const kind_names[] = {"constant", "poisson"};

const char *
ecom_arrivals_name(ecom_arrivals_kind kind)
{
	return (unsigned)kind < 2 ? kind_names[kind] : "?";
}

int
ecom_arrivals_from_name(const char *name, ecom_arrivals_kind *kind)
{
	int k;

	for (k = 0; k < 2; k++) {
		if (strcmp(name, kind_names[k]) == 0) {
			*kind = (ecom_arrivals_kind)k;
			return 0;
		}
	}
	return -1;
}

void
ecom_schedule_init(ecom_schedule *s, ecom_arrivals_kind kind, double rate, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->rate = rate;
	s->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

int64_t
ecom_schedule_next_us(ecom_schedule *s)
{
	int64_t i = s->index++;
	double u;

	if (s->kind == ECOM_ARRIVALS_CONSTANT) /* from the index, so no rounding piles up */
		return (int64_t)((double)i * 1e6 / s->rate);
	/* (0, 1]: never log(0). */
	u = ((double)(ecom_random_next(&s->rng) >> 11) + 1.0) / 9007199254740992.0;
	s->poisson_s += -log(u) / s->rate;
	return (int64_t)(s->poisson_s * 1e6);
}

struct ecom_arrivals {
	pthread_t thread;
	ecom_arrivals_opts opts;
	ecom_producer *producer;
	ecom_schedule schedule;
	int64_t start_wall_us, start_mono_us;
	atomic_llong issued;
	atomic_int halted, finished;
	ecom_latency send_lag;
	ecom_err err;
	int rc;
};

/* Sleep until due, looking at the stop and halt flags every few ms. */
static bool
wait_until(ecom_arrivals *a, int64_t due_mono_us)
{
	while (ecom_monotonic_us() < due_mono_us) {
		if (atomic_load(&a->halted) || (a->opts.stop != NULL && *a->opts.stop))
			return false;
		ecom_sleep_until_us(due_mono_us, 20);
	}
	return !atomic_load(&a->halted) && (a->opts.stop == NULL || !*a->opts.stop);
}

static int
create_order(ecom_arrivals *a, int64_t intended_wall_us, ecom_err *err)
{
	ecom_event order;
	size_t len;
	char *json;
	int rc;

	if (ecom_event_new_order(&order, ecom_now_us() / 1000, err) < 0)
		return -1;
	json = ecom_event_to_json(&order, &len);
	if (json == NULL) {
		ecom_event_destroy(&order);
		return ecom_err_set(err, "cannot serialise order '%s'", order.event_id);
	}
	rc = ecom_producer_send_event(a->producer, a->opts.topic, order.event_id, json, len,
	                              intended_wall_us, err);
	bson_free(json);
	ecom_event_destroy(&order);
	return rc;
}

static void *
arrivals_main(void *arg)
{
	ecom_arrivals *a = arg;
	int64_t i;

	ecom_log_set_context("arrivals");
	for (i = 0; i < a->opts.count; i++) {
		int64_t offset = ecom_schedule_next_us(&a->schedule);
		int64_t due = a->start_mono_us + offset;

		if (!wait_until(a, due))
			break;
		if (offset >= a->opts.warmup_us)
			ecom_latency_add(&a->send_lag, ecom_monotonic_us() - due);
		/*
		 * Counted before it is sent: once sent, the order may be fulfilled
		 * before this thread runs again, and a fulfilment must never be
		 * counted ahead of its creation.
		 */
		atomic_fetch_add(&a->issued, 1);
		if (create_order(a, a->start_wall_us + offset, &a->err) < 0) {
			atomic_fetch_sub(&a->issued, 1);
			goto out;
		}
	}
	if (ecom_producer_flush(a->producer, &a->err) < 0 &&
	    (a->opts.stop == NULL || !*a->opts.stop))
		goto out;
	a->rc = 0;
out:
	atomic_store(&a->finished, 1);
	return NULL;
}

int
ecom_arrivals_start(ecom_arrivals **out, const ecom_config *cfg, const ecom_arrivals_opts *opts,
                    int64_t *start_wall_us, int64_t *start_mono_us, ecom_err *err)
{
	ecom_arrivals *a = ecom_xcalloc(1, sizeof(*a));
	int rc;

	a->opts = *opts;
	a->rc = -1;
	ecom_latency_init(&a->send_lag);
	ecom_schedule_init(&a->schedule, opts->kind, opts->rate, opts->seed);
	if (ecom_producer_new(&a->producer, cfg, err) < 0)
		goto fail;
	ecom_producer_set_stop(a->producer, opts->stop);
	if (ecom_producer_warm(a->producer, opts->topic, err) < 0)
		goto fail;
	a->start_wall_us = *start_wall_us = ecom_now_us();
	a->start_mono_us = *start_mono_us = ecom_monotonic_us();
	rc = pthread_create(&a->thread, NULL, arrivals_main, a);
	if (rc != 0) {
		ecom_err_set(err, "cannot start the arrivals' thread: %s", strerror(rc));
		goto fail;
	}
	*out = a;
	return 0;
fail:
	ecom_producer_destroy(a->producer);
	ecom_latency_free(&a->send_lag);
	free(a);
	return -1;
}

int64_t
ecom_arrivals_issued(const ecom_arrivals *a)
{
	return atomic_load(&((ecom_arrivals *)a)->issued);
}

bool
ecom_arrivals_finished(const ecom_arrivals *a)
{
	return atomic_load(&((ecom_arrivals *)a)->finished) != 0;
}

void
ecom_arrivals_halt(ecom_arrivals *a)
{
	atomic_store(&a->halted, 1);
}

int
ecom_arrivals_join(ecom_arrivals *a, ecom_latency *send_lag, ecom_err *err)
{
	int rc;

	pthread_join(a->thread, NULL);
	rc = a->rc;
	if (rc < 0)
		ecom_err_set(err, "creating orders: %s", a->err.msg);
	if (send_lag != NULL)
		ecom_latency_merge(send_lag, &a->send_lag);
	ecom_producer_destroy(a->producer);
	ecom_latency_free(&a->send_lag);
	free(a);
	return rc;
}
