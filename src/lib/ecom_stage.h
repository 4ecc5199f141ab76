/*
 * The one stage loop every stage runs: poll a batch → validate → bulk
 * idempotent write → produce what follows → store the offsets for
 * commit once the broker has acknowledged what was produced (the loop
 * does not wait for that; it settles the offsets when it comes).
 *
 * payment, inventory, shipping and fulfillment read one topic and write
 * the next; reconcile, the terminal stage (ecom_reconcile.h), reads
 * orderfulfilled, marks orders complete, checks counts and starts the
 * next orders.
 */
#ifndef ECOM_STAGE_H
#define ECOM_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "ecom_config.h"
#include "ecom_event.h"
#include "ecom_kafka_stats.h"
#include "ecom_log.h"
#include "ecom_metrics.h"
#include "ecom_store.h"

typedef enum ecom_stage_kind {
	ECOM_STAGE_PAYMENT = 0, /* ordercreated → paymentcompleted */
	ECOM_STAGE_INVENTORY,   /* paymentcompleted → inventoryupdated */
	ECOM_STAGE_SHIPPING,    /* inventoryupdated → ordershipped */
	ECOM_STAGE_FULFILLMENT, /* ordershipped → orderfulfilled */
	ECOM_STAGE_RECONCILE,   /* orderfulfilled → mark, check, next ordercreated */
	ECOM_STAGE_COUNT
} ecom_stage_kind;

/* "payment" … "reconcile". */
const char *ecom_stage_name(ecom_stage_kind kind);
/* Any of the five names; -1 otherwise. */
int ecom_stage_from_name(const char *name, ecom_stage_kind *kind);
/* The event type a stage consumes. */
ecom_event_type ecom_stage_input(ecom_stage_kind kind);

/*
 * Where a stage's time goes, per batch (one event at window 1).  The sum
 * is about the hop: from the previous stage's produce to this stage done.
 */
typedef enum ecom_phase {
	ECOM_PHASE_POLL_WAIT = 0, /* previous stage's produce → the message polled here (per message) */
	ECOM_PHASE_DECODE,        /* JSON parsed and validated */
	ECOM_PHASE_STORE,         /* the bulk write */
	ECOM_PHASE_MARK,          /* reconcile: the fulfilment mark and the count check */
	ECOM_PHASE_PRODUCE,       /* the next events serialised and queued */
	ECOM_PHASE_FLUSH,         /* waiting for the broker to acknowledge them */
	ECOM_PHASE_OFFSETS,       /* offsets stored for the next commit */
	/* exactly_once: the transaction's own time, begin → committed; it spans
	 * the batch's produce (and its dead letters), so it overlaps those phases. */
	ECOM_PHASE_COMMIT,
	ECOM_PHASE_COUNT
} ecom_phase;

/* "poll_wait", "decode", "store", "mark", "produce", "flush", "offsets", "transaction". */
const char *ecom_phase_name(ecom_phase phase);

typedef struct ecom_stage_stats {
	int64_t consumed;     /* messages read */
	int64_t stored;       /* events newly stored */
	int64_t duplicates;   /* events already stored */
	int64_t rejected;     /* events the store refused (dead-lettered) */
	int64_t dead_letters; /* messages sent to the dead-letter topic */
	int64_t produced;     /* next events produced */
	int64_t aborted;      /* exactly_once: transactions aborted, their batches read again */
	ecom_latency hop;     /* previous event produced → this stage done with it */
	ecom_latency phases[ECOM_PHASE_COUNT];
	/* librdkafka's statistics of the stage's producer and consumer, when it ends. */
	ecom_kafka_stats kafka_producer, kafka_consumer;
	/* The terminal stage's alone (ecom_reconcile.h). */
	int64_t fulfilled;        /* orders this run marked fulfilled */
	int64_t fulfilled_before; /* orders fulfilled before this run began (a resume) */
	int64_t issued;           /* orders this run created */
	int64_t started_us;   /* wall clock when this run began driving; 0 if it did not */
	int64_t ended_us;     /* wall clock of this run's last fulfilment; 0 if none */
	int64_t started_mono_us; /* monotonic: when this run began; 0 if it did not */
	int64_t ended_mono_us;   /* monotonic: when it ended, after its last count, flush and commit */
	int64_t paused_us;    /* time the driver took between orders, not the run's */
	ecom_latency end_to_end; /* order (meant to be) created → fulfilled */
	/* An open loop's. */
	ecom_latency send_lag; /* order created − meant to be created */
	bool open_loop;
	bool exactly_once;     /* processing_guarantee in force */
	bool sustainable;      /* the backlog stayed within its bound */
	int64_t backlog_peak;  /* most orders created and not yet fulfilled */
	int64_t backlog_max;   /* the bound it was held to */
	int64_t warmup_orders; /* fulfilled orders left out of the statistics */
} ecom_stage_stats;

void ecom_stage_stats_init(ecom_stage_stats *stats);
void ecom_stage_stats_free(ecom_stage_stats *stats);

struct ecom_reconcile_opts;

typedef struct ecom_stage_opts {
	ecom_stage_kind kind;
	ecom_stop_flag *stop;     /* set to stop after the current batch */
	bool announce_rebalances; /* say which partitions this process was given */
	/* Called once the stage has its partitions (may be NULL). */
	void (*on_ready)(void *arg);
	void *ready_arg;
	/*
	 * A store to use instead of opening the one cfg names (may be NULL):
	 * borrowed, never closed here; its stop is set to `stop`.  The unit
	 * tests hand the stage an in-memory store this way.
	 */
	ecom_store *store;
	/*
	 * A driver's warm-up (may be NULL): events of orders meant to start
	 * before this wall-clock time are left out of the statistics.
	 */
	const atomic_llong *stats_from_us;
	/* The terminal stage's own options: required for reconcile, unused otherwise. */
	const struct ecom_reconcile_opts *terminal;
} ecom_stage_opts;

/*
 * Run until *stop or, for reconcile, until its orders are fulfilled.
 * Returns 0, or -1 with err filled on a runtime failure (a broker or
 * store down longer than retry_timeout_ms, a count mismatch: err says
 * which, with both counts).  stats (may be NULL) is filled as it goes.
 */
int ecom_stage_run(const ecom_config *cfg, const ecom_stage_opts *opts, ecom_stage_stats *stats,
                   ecom_err *err);

/* Create the five topics and the dead-letter topic where absent. */
int ecom_stage_create_topics(const ecom_config *cfg, ecom_err *err);
/* Delete them and create them again, empty (reset). */
int ecom_stage_recreate_topics(const ecom_config *cfg, ecom_err *err);

#endif
