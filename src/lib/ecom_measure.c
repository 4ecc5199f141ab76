/* The references of a benchmark run (see ecom_measure.h). */
#include "ecom_measure.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecom_alloc.h"
#include "ecom_event.h"
#include "ecom_kafka.h"
#include "ecom_metrics.h"
#include "ecom_time.h"

/* ---- window 1: the floor ---- */

/* One message produced to topic and consumed back; *us is the time taken. */
static int
kafka_round_trip(const ecom_config *cfg, ecom_producer *producer, ecom_consumer *consumer,
                 const char *topic, int64_t *us, ecom_err *err)
{
	rd_kafka_message_t *m = NULL;
	size_t n = 0;
	int64_t t0 = ecom_monotonic_us();

	if (ecom_producer_send(producer, topic, "floor", 5, "{}", 2, NULL, 0, err) < 0)
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
	return ecom_producer_flush(producer, err);
}

/* Bootstrap resamples of the chains for the floor's spread. */
#define FLOOR_RESAMPLES 1000

/* The timings of the chains, each kind of step apart. */
typedef struct chain_stats {
	ecom_latency chains, round_trips, writes, marks;
} chain_stats;

static void
chain_stats_init(chain_stats *stats)
{
	ecom_latency_init(&stats->chains);
	ecom_latency_init(&stats->round_trips);
	ecom_latency_init(&stats->writes);
	ecom_latency_init(&stats->marks);
}

static void
chain_stats_free(chain_stats *stats)
{
	ecom_latency_free(&stats->chains);
	ecom_latency_free(&stats->round_trips);
	ecom_latency_free(&stats->writes);
	ecom_latency_free(&stats->marks);
}

struct ecom_floor_meter {
	const ecom_config *cfg;
	ecom_store *store;
	ecom_producer *producer;
	ecom_consumer *consumer;
	char topic[300];
	bool topic_made;
	chain_stats stats;
};

/* One event stored alone; *us is the time taken. */
static int
store_one(ecom_store *store, ecom_event *ev, int64_t *us, ecom_err *err)
{
	ecom_put_result result;
	int64_t t0 = ecom_monotonic_us();
	int put = ecom_store_put_batch(store, ev->type, &ev, 1, &result, err);

	*us = ecom_monotonic_us() - t0;
	return put;
}

/* Take an order's events out of the store again: the flow's counts must not see them. */
static int
remove_order(ecom_store *store, const char *order_id, ecom_err *err)
{
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++) {
		int64_t removed;
		ecom_err why;

		if (ecom_store_delete(store, (ecom_event_type)t, order_id, &removed, &why) < 0)
			return ecom_err_set(err, "floor: cannot remove the order it wrote: %s", why.msg);
	}
	return 0;
}

/*
 * One order's work, as the flow does it, one step after the other: each
 * of its five events through Kafka (a round trip) and into the store,
 * then the mark.  Only the services' work: no stage, no validation of
 * what comes back, and not the wait for a produced message's delivery
 * report, which the flow's next hop does not wait for either.  The
 * chain's time is the sum of its steps.  stats NULL: untimed.
 */
static int
chain(ecom_floor_meter *meter, chain_stats *stats, ecom_err *err)
{
	ecom_event events[ECOM_EV_COUNT];
	int64_t t0, step = 0, total = 0, now_ms = ecom_now_us() / 1000, marked;
	const char *id;
	int t, made = 0, written = 0, rc = -1;
	ecom_err ignored;

	if (ecom_event_new_order(&events[0], now_ms, err) < 0)
		return -1;
	for (made = 1; made < ECOM_EV_COUNT; made++) {
		if (ecom_event_next(&events[made - 1], &events[made], now_ms, err) < 0)
			goto out;
	}
	id = events[0].event_id;
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		if (kafka_round_trip(meter->cfg, meter->producer, meter->consumer, meter->topic, &step,
		                     err) < 0)
			goto out;
		total += step;
		if (stats != NULL)
			ecom_latency_add(&stats->round_trips, step);
		written = 1;
		if (store_one(meter->store, &events[t], &step, err) < 0)
			goto out;
		total += step;
		if (stats != NULL)
			ecom_latency_add(&stats->writes, step);
	}
	t0 = ecom_monotonic_us();
	if (ecom_store_mark_fulfilled(meter->store, &id, &now_ms, 1, &marked, err) < 0)
		goto out;
	step = ecom_monotonic_us() - t0;
	total += step;
	if (stats != NULL) {
		ecom_latency_add(&stats->marks, step);
		ecom_latency_add(&stats->chains, total);
	}
	rc = 0;
out:
	/* Untimed, and also after a failure: nothing half-written stays. */
	if (written && remove_order(meter->store, id, rc == 0 ? err : &ignored) < 0)
		rc = -1;
	while (made > 0)
		ecom_event_destroy(&events[--made]);
	return rc;
}

/*
 * The chains run through a topic of their own, named for the process
 * and the meter: a topic just deleted cannot be created again at once.
 */
int
ecom_floor_meter_open(ecom_floor_meter **meter_out, const ecom_config *cfg, ecom_err *err)
{
	static int meters; /* opened by this process, one thread at a time */
	ecom_floor_meter *meter = ecom_xcalloc(1, sizeof(*meter));
	const char *topics[1];

	*meter_out = NULL;
	meter->cfg = cfg;
	chain_stats_init(&meter->stats);
	snprintf(meter->topic, sizeof(meter->topic), "%secom-floor-%ld-%d", cfg->topic_prefix,
	         (long)getpid(), ++meters);
	topics[0] = meter->topic;
	if (ecom_store_open(&meter->store, cfg, err) < 0 ||
	    ecom_producer_new(&meter->producer, cfg, err) < 0)
		goto fail;
	/* Replicated as the flow's topics are: acks=all waits for the same copies. */
	if (ecom_kafka_ensure_topics(ecom_producer_handle(meter->producer), topics, 1, 1,
	                             cfg->replication_factor, cfg->timeout_ms, err) < 0)
		goto fail;
	meter->topic_made = true;
	if (ecom_consumer_new_assign(&meter->consumer, cfg, meter->topic, RD_KAFKA_OFFSET_BEGINNING,
	                             err) < 0 ||
	    chain(meter, NULL, err) < 0)
		goto fail;
	*meter_out = meter;
	return 0;
fail:
	ecom_floor_meter_close(meter);
	return -1;
}

int
ecom_floor_meter_chain(ecom_floor_meter *meter, bool timed, ecom_err *err)
{
	return chain(meter, timed ? &meter->stats : NULL, err);
}

static double
mean_ms(const ecom_latency *lat)
{
	return (double)ecom_latency_mean_us(lat) / 1000.0;
}

void
ecom_floor_meter_times(ecom_floor_meter *meter, ecom_floor_times *times)
{
	chain_stats *stats = &meter->stats;

	times->samples = (int)ecom_latency_count(&stats->chains);
	times->order_ms = mean_ms(&stats->chains);
	times->order_median_ms = (double)ecom_latency_percentile(&stats->chains, 50) / 1000.0;
	ecom_latency_mean_spread(&stats->chains, FLOOR_RESAMPLES, 1, &times->order_p10_ms,
	                         &times->order_p90_ms);
	times->order_p10_ms /= 1000.0;
	times->order_p90_ms /= 1000.0;
	times->round_trip_ms = mean_ms(&stats->round_trips);
	times->write_ms = mean_ms(&stats->writes);
	times->mark_ms = mean_ms(&stats->marks);
	ecom_producer_serve(meter->producer); /* the statistics that came since the last chain */
	times->kafka_producer = *ecom_producer_kafka_stats(meter->producer);
	times->kafka_consumer = *ecom_consumer_kafka_stats(meter->consumer);
}

/*
 * The reader is gone before the topic is deleted: a consumer whose topic
 * vanishes under it can hang in rd_kafka_destroy().
 */
void
ecom_floor_meter_close(ecom_floor_meter *meter)
{
	const char *topics[1];
	ecom_err ignored;

	if (meter == NULL)
		return;
	topics[0] = meter->topic;
	ecom_consumer_destroy(meter->consumer);
	if (meter->topic_made)
		ecom_kafka_delete_topics(ecom_producer_handle(meter->producer), topics, 1,
		                         meter->cfg->timeout_ms, &ignored);
	ecom_producer_destroy(meter->producer);
	ecom_store_close(meter->store);
	chain_stats_free(&meter->stats);
	free(meter);
}

int
ecom_measure_chain(const ecom_config *cfg, int samples, ecom_floor_times *times, ecom_err *err)
{
	ecom_floor_meter *meter;
	int i, rc = 0;

	if (ecom_floor_meter_open(&meter, cfg, err) < 0)
		return -1;
	for (i = 0; i < samples && rc == 0; i++)
		rc = ecom_floor_meter_chain(meter, true, err);
	ecom_floor_meter_times(meter, times);
	ecom_floor_meter_close(meter);
	return rc;
}

/* ---- many in flight: the ceilings ---- */

/* The events of n orders, as the flow makes them: events[t][i] is order i's event of type t. */
typedef struct order_events {
	long n;
	ecom_event *events[ECOM_EV_COUNT];
} order_events;

static void
order_events_free(order_events *oe)
{
	long i;
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++) {
		for (i = 0; oe->events[t] != NULL && i < oe->n; i++)
			ecom_event_destroy(&oe->events[t][i]);
		free(oe->events[t]);
	}
}

static int
order_events_make(order_events *oe, long n, ecom_err *err)
{
	int64_t now_ms = ecom_now_us() / 1000;
	long i;
	int t;

	memset(oe, 0, sizeof(*oe));
	oe->n = n;
	for (t = 0; t < ECOM_EV_COUNT; t++)
		oe->events[t] = ecom_xcalloc((size_t)n, sizeof(ecom_event));
	for (i = 0; i < n; i++) {
		if (ecom_event_new_order(&oe->events[0][i], now_ms, err) < 0)
			return -1;
		for (t = 1; t < ECOM_EV_COUNT; t++) {
			if (ecom_event_next(&oe->events[t - 1][i], &oe->events[t][i], now_ms, err) < 0)
				return -1;
		}
	}
	return 0;
}

typedef struct kafka_reader {
	pthread_t thread;
	const ecom_config *cfg;
	ecom_consumer *consumer;
	long want;
	int64_t done_us; /* monotonic, when the last message came */
	int rc;
	ecom_err err;
} kafka_reader;

static void *
read_all(void *arg)
{
	kafka_reader *r = arg;
	rd_kafka_message_t *msgs[512];
	int64_t deadline = ecom_monotonic_us() + (int64_t)(r->cfg->timeout_ms + 60000) * 1000;
	long got = 0;

	r->rc = 0;
	while (got < r->want) {
		size_t n = 0, i;

		if (ecom_consumer_poll_batch(r->consumer, msgs, 512, 100, &n, NULL, &r->err) < 0) {
			r->rc = -1;
			return NULL;
		}
		for (i = 0; i < n; i++)
			rd_kafka_message_destroy(msgs[i]);
		got += (long)n;
		if (ecom_monotonic_us() > deadline) {
			r->rc = ecom_err_set(&r->err, "kafka ceiling: %ld of %ld messages came back", got,
			                     r->want);
			return NULL;
		}
	}
	r->done_us = ecom_monotonic_us();
	return NULL;
}

int
ecom_measure_kafka_throughput(const ecom_config *cfg, long orders, double *seconds, ecom_err *err)
{
	order_events oe;
	ecom_producer *producer = NULL;
	kafka_reader reader = {.cfg = cfg, .want = orders * ECOM_EV_COUNT};
	char topic[300];
	const char *topics[1] = {topic};
	char **json = NULL;
	size_t *len = NULL;
	long i, k, total = orders * ECOM_EV_COUNT;
	bool reading = false;
	int64_t t0;
	int rc = -1, thread_err;
	ecom_err ignored;

	snprintf(topic, sizeof(topic), "%secom-ceiling-%ld", cfg->topic_prefix, (long)getpid());
	/* The messages first: their making is the stages' work, not Kafka's. */
	if (order_events_make(&oe, orders, err) < 0)
		goto out;
	json = ecom_xcalloc((size_t)total, sizeof(*json));
	len = ecom_xcalloc((size_t)total, sizeof(*len));
	for (k = 0; k < total; k++)
		json[k] = ecom_event_to_json(&oe.events[k % ECOM_EV_COUNT][k / ECOM_EV_COUNT], &len[k]);
	if (ecom_producer_new(&producer, cfg, err) < 0 ||
	    ecom_kafka_ensure_topics(ecom_producer_handle(producer), topics, 1, cfg->partitions,
	                             cfg->replication_factor, cfg->timeout_ms, err) < 0 ||
	    ecom_producer_warm(producer, topic, err) < 0 ||
	    ecom_consumer_new_assign(&reader.consumer, cfg, topic, RD_KAFKA_OFFSET_BEGINNING, err) < 0)
		goto out;
	thread_err = pthread_create(&reader.thread, NULL, read_all, &reader);
	if (thread_err != 0) { /* pthread_create returns its error; errno is not set */
		ecom_err_set(err, "cannot start a thread: %s", strerror(thread_err));
		goto out;
	}
	reading = true;
	t0 = ecom_monotonic_us();
	for (i = 0; i < total; i++) {
		const ecom_event *ev = &oe.events[i % ECOM_EV_COUNT][i / ECOM_EV_COUNT];

		if (ecom_producer_send(producer, topic, ev->event_id, strlen(ev->event_id), json[i],
		                       len[i], NULL, 0, err) < 0)
			goto out;
	}
	if (ecom_producer_flush(producer, err) < 0)
		goto out;
	pthread_join(reader.thread, NULL);
	reading = false;
	if (reader.rc < 0) {
		*err = reader.err;
		goto out;
	}
	*seconds = (double)(reader.done_us - t0) / 1e6;
	rc = 0;
out:
	if (reading) {
		/* A failed send: the reader stops at its deadline. */
		pthread_join(reader.thread, NULL);
	}
	ecom_consumer_destroy(reader.consumer);
	if (producer != NULL)
		ecom_kafka_delete_topics(ecom_producer_handle(producer), topics, 1, cfg->timeout_ms,
		                         &ignored);
	ecom_producer_destroy(producer);
	for (k = 0; json != NULL && k < total; k++)
		bson_free(json[k]);
	free(json);
	free(len);
	order_events_free(&oe);
	return rc;
}

/* The store's writers: one per event type, the last one marking too. */
typedef struct store_writer {
	pthread_t thread;
	const ecom_config *cfg;
	ecom_event_type type;
	order_events *oe;
	/*
	 * Shared, under lock: *go (1 start, -1 give up) opens the gate once
	 * every writer is connected; *created counts the orders whose
	 * ordercreated is written, so no order is marked before it exists.
	 */
	pthread_mutex_t *lock;
	pthread_cond_t *progress;
	int *go;
	int *connected;
	long *created;
	int rc;
	ecom_err err;
} store_writer;

static void *
write_all(void *arg)
{
	store_writer *w = arg;
	ecom_store *store = NULL;
	size_t batch = (size_t)w->cfg->batch_size;
	ecom_event **ptrs = ecom_xcalloc(batch, sizeof(*ptrs));
	ecom_put_result *results = ecom_xcalloc(batch, sizeof(*results));
	const char **ids = ecom_xcalloc(batch, sizeof(*ids));
	int64_t *shipped = ecom_xcalloc(batch, sizeof(*shipped)), marked;
	long from;
	size_t i, n;

	w->rc = ecom_store_open(&store, w->cfg, &w->err);
	pthread_mutex_lock(w->lock);
	(*w->connected)++;
	pthread_cond_broadcast(w->progress);
	while (*w->go == 0)
		pthread_cond_wait(w->progress, w->lock);
	if (*w->go < 0 && w->rc == 0)
		w->rc = -1;
	pthread_mutex_unlock(w->lock);
	for (from = 0; w->rc == 0 && from < w->oe->n; from += (long)n) {
		n = (size_t)(w->oe->n - from) < batch ? (size_t)(w->oe->n - from) : batch;
		for (i = 0; i < n; i++)
			ptrs[i] = &w->oe->events[w->type][from + (long)i];
		w->rc = ecom_store_put_batch(store, w->type, ptrs, n, results, &w->err);
		if (w->rc == 0 && w->type == ECOM_EV_ORDERCREATED) {
			pthread_mutex_lock(w->lock);
			*w->created = from + (long)n;
			pthread_cond_broadcast(w->progress);
			pthread_mutex_unlock(w->lock);
		}
		if (w->rc < 0 || w->type != ECOM_EV_ORDERFULFILLED)
			continue;
		pthread_mutex_lock(w->lock);
		while (*w->created < from + (long)n)
			pthread_cond_wait(w->progress, w->lock);
		pthread_mutex_unlock(w->lock);
		for (i = 0; i < n; i++) {
			ids[i] = ptrs[i]->event_id;
			shipped[i] = ptrs[i]->created_ms;
		}
		w->rc = ecom_store_mark_fulfilled(store, ids, shipped, n, &marked, &w->err);
	}
	if (w->rc < 0 && w->type == ECOM_EV_ORDERCREATED) {
		/* Let a waiting marker go: nothing more will be written. */
		pthread_mutex_lock(w->lock);
		*w->created = w->oe->n;
		pthread_cond_broadcast(w->progress);
		pthread_mutex_unlock(w->lock);
	}
	ecom_store_close(store);
	free(ptrs);
	free(results);
	free(ids);
	free(shipped);
	return NULL;
}

int
ecom_measure_store_throughput(const ecom_config *cfg, long orders, double *seconds, ecom_err *err)
{
	order_events oe;
	store_writer writers[ECOM_EV_COUNT];
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t progress = PTHREAD_COND_INITIALIZER;
	long created = 0;
	int64_t t0;
	int t, started = 0, go = 0, connected = 0, rc = -1, thread_err = 0;

	memset(writers, 0, sizeof(writers));
	if (order_events_make(&oe, orders, err) < 0)
		goto out;
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		store_writer *w = &writers[t];

		w->cfg = cfg;
		w->type = (ecom_event_type)t;
		w->oe = &oe;
		w->lock = &lock;
		w->progress = &progress;
		w->go = &go;
		w->connected = &connected;
		w->created = &created;
		thread_err = pthread_create(&w->thread, NULL, write_all, w);
		if (thread_err != 0)
			break;
		started++;
	}
	/* The writers connect first; the clock starts when the gate opens. */
	pthread_mutex_lock(&lock);
	while (connected < started)
		pthread_cond_wait(&progress, &lock);
	go = started == ECOM_EV_COUNT ? 1 : -1;
	pthread_cond_broadcast(&progress);
	pthread_mutex_unlock(&lock);
	t0 = ecom_monotonic_us();
	for (t = 0; t < started; t++)
		pthread_join(writers[t].thread, NULL);
	*seconds = (double)(ecom_monotonic_us() - t0) / 1e6;
	if (started < ECOM_EV_COUNT) { /* pthread_create returns its error; errno is not set */
		ecom_err_set(err, "cannot start a thread: %s", strerror(thread_err));
		goto out;
	}
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		if (writers[t].rc < 0) {
			*err = writers[t].err;
			goto out;
		}
	}
	rc = 0;
out:
	order_events_free(&oe);
	return rc;
}
