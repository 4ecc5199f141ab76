/*
 * Inside the stage loop: what a kind of stage plugs into it.  Private to
 * ecom_stage.c and the files of the kinds (ecom_reconcile.c), as
 * ecom_store_impl.h is to the store's backends.
 *
 * The loop does what every stage does: poll a batch, decode, write it,
 * hand it to its kind, keep its offsets until what it produced is
 * acknowledged.  A kind says what to do with a stored batch (forward the
 * next events, or mark orders complete and start new ones) and when its
 * work is done.
 */
#ifndef ECOM_STAGE_IMPL_H
#define ECOM_STAGE_IMPL_H

#include <librdkafka/rdkafka.h>

#include "ecom_kafka.h"
#include "ecom_stage.h"

#define ECOM_TOPIC_MAX 256
#define ECOM_GROUP_MAX 512

typedef struct ecom_stage_loop ecom_stage_loop;

typedef struct ecom_stage_hooks {
	const char *name;      /* "payment" … */
	ecom_event_type output; /* the topic it produces to */
	/* Once the clients are open, before the first poll (may be NULL). */
	int (*start)(ecom_stage_loop *loop, ecom_err *err);
	/* After the loop, whatever its end (may be NULL). */
	void (*finish)(ecom_stage_loop *loop);
	/* Before each poll (may be NULL). */
	int (*before_poll)(ecom_stage_loop *loop, ecom_err *err);
	/* True once the stage's work is done (may be NULL: never). */
	bool (*done)(const ecom_stage_loop *loop);
	/*
	 * The batch is stored and its refusals dead-lettered: produce what
	 * follows.  *mark_us is the phase clock (ecom_stage_phase_done).
	 */
	int (*handle_batch)(ecom_stage_loop *loop, size_t n, int64_t *mark_us, ecom_err *err);
	/* The batch is done, at now_us on the wall clock (may be NULL). */
	void (*batch_done)(ecom_stage_loop *loop, size_t n, int64_t now_us);
	/* After each poll, with or without messages (may be NULL). */
	void (*after_poll)(ecom_stage_loop *loop);
	/*
	 * exactly_once: the transaction holding what the kind produced since
	 * the last call was committed, or aborted (nothing of it is visible;
	 * the batch is read again) (may be NULL).
	 */
	void (*txn_ended)(ecom_stage_loop *loop, bool committed);
} ecom_stage_hooks;

struct ecom_stage_loop {
	const ecom_config *cfg;
	const ecom_stage_opts *opts;
	const ecom_stage_hooks *hooks;
	ecom_stage_stats *stats;
	void *state; /* the kind's own */
	ecom_store *store;
	ecom_producer *producer;
	ecom_consumer *consumer;
	char topics[ECOM_EV_COUNT + 1][ECOM_TOPIC_MAX]; /* the five, then the dead-letter topic */
	ecom_event_type input;
	size_t batch_max;
	/* The current batch: batch_max entries each. */
	rd_kafka_message_t **msgs;
	ecom_event *events;
	ecom_event **event_ptrs;
	rd_kafka_message_t **event_msgs; /* the message each event came in */
	ecom_put_result *results;
	int64_t *sent_us;  /* when the previous stage produced it; 0 if unknown */
	int64_t *order_us; /* when its order was (meant to be) created */
	/* Time a hook spent on the driver's business during this batch: not the batch's latency. */
	int64_t batch_excluded_us;
	/* The batch holds an event of the driver's warm-up: its phases are in no statistic. */
	bool batch_in_warmup;
	bool ready; /* the consumer has its partitions */
	bool exactly_once; /* each batch one transaction (processing_guarantee) */
};

/* Serialise ev and produce it to topic, its order's start in a header. */
int ecom_stage_send_event(ecom_stage_loop *loop, const char *topic, const ecom_event *ev,
                          int64_t order_us, ecom_err *err);
/* Add the time since *mark_us to the phase's latency, and restart the clock. */
void ecom_stage_phase_done(ecom_stage_loop *loop, ecom_phase phase, int64_t *mark_us);
/* The consumer group of a stage: "<prefix><group>-<stage>". */
void ecom_stage_group(const ecom_config *cfg, ecom_stage_kind kind, char *buf, size_t size);

/* The kinds' hooks. */
extern const ecom_stage_hooks ecom_reconcile_hooks;

#endif
