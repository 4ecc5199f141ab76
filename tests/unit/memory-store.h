/*
 * An ecom_store kept in memory, for unit tests of the stage loop without
 * a database server (tests only; the library never builds it).
 *
 * It answers like the real stores where the stage loop can tell: one
 * document per order id and event type, put_batch says NEW or DUPLICATE
 * per event (a repeat within one batch is a DUPLICATE too), and
 * mark_fulfilled counts an order when it was unmarked or is marked with
 * this call's own shipped date (mongo_mark_fulfilled, pg_mark_fulfilled).
 * On request it refuses one order's events, fails the next calls of an
 * operation as a server that went away would (ECOM_ERR_TRANSIENT), or
 * answers slowly, as a loaded or paused server would.
 *
 * Every function is safe to call from the test's thread while a stage
 * runs in another.  ecom_store_close() frees it.
 */
#ifndef MEMORY_STORE_H
#define MEMORY_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "ecom_config.h"
#include "ecom_event.h"
#include "ecom_store.h"

/* The operations whose calls can be failed and are counted. */
typedef enum memory_op {
	MEMORY_PUT_BATCH = 0,
	MEMORY_MARK_FULFILLED,
	MEMORY_COUNT, /* count and count_fulfilled */
	MEMORY_OP_COUNT
} memory_op;

/* How a refused event is refused. */
typedef enum memory_refusal {
	/* As MongoDB does: that event is REJECTED with the reason, the rest of its batch stored. */
	MEMORY_REFUSE_EVENT = 0,
	/* As PostgreSQL does: the whole batch fails with ECOM_ERR_DATA, nothing written;
	 * ecom_store.c splits it until the event stands alone. */
	MEMORY_REFUSE_BATCH,
	/* As FerretDB 1.x does on some values: the connection is lost over any batch
	 * holding the event, while ping answers; the store says it drops over data,
	 * and ecom_store.c splits the batch after the drops repeat. */
	MEMORY_REFUSE_DROP,
} memory_refusal;

/* A new, empty store; cfg gives the retry bound.  Never NULL. */
ecom_store *memory_store_new(const ecom_config *cfg);

/* Refuse every event of order_id with reason, the way `how` says. */
void memory_store_refuse(ecom_store *store, const char *order_id, const char *reason,
                         memory_refusal how);
/*
 * The next `times` calls of op fail with ECOM_ERR_TRANSIENT, the
 * connection lost, while ping still answers: a server restarting.
 * ecom_store.c retries each (this store does not drop over data).
 */
void memory_store_fail(ecom_store *store, memory_op op, int times);
/* While down, every call and ping fail with ECOM_ERR_TRANSIENT: a server away. */
void memory_store_set_down(ecom_store *store, bool down);

/*
 * Every later call of op sleeps ms before it does anything (0: no more);
 * the calls of the other operations and the test's own (plant, counts)
 * are not held up meanwhile.
 */
void memory_store_delay(ecom_store *store, memory_op op, int ms);
/* The next call of op alone sleeps ms: a server stalled once (SIGSTOP and SIGCONT). */
void memory_store_stall(ecom_store *store, memory_op op, int ms);
/* Once that stall is over: true, with when it began and ended on the wall clock (µs). */
bool memory_store_stalled(ecom_store *store, memory_op op, int64_t *began_us, int64_t *ended_us);

/* Put ev as a stage would, without counting a call: a test playing another stage. */
void memory_store_plant(ecom_store *store, const ecom_event *ev);

/* Documents of one type. */
int64_t memory_store_count_of(ecom_store *store, ecom_event_type type);
/* ordercreated documents marked fulfilled. */
int64_t memory_store_fulfilled(ecom_store *store);
/* Whether that order is marked fulfilled. */
bool memory_store_is_fulfilled(ecom_store *store, const char *order_id);
/* Calls of op so far, failed ones included; and how many failed. */
int64_t memory_store_calls(ecom_store *store, memory_op op);
int64_t memory_store_failures(ecom_store *store, memory_op op);
/* Events put_batch was given of one type (each repeat counted), and how many it stored as NEW. */
int64_t memory_store_events_given(ecom_store *store, ecom_event_type type);
int64_t memory_store_events_new(ecom_store *store, ecom_event_type type);

#endif
