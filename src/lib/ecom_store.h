/*
 * One interface over the two stores the project compares.
 *
 * MongoDB (mongo-c-driver): database cfg->database, one collection per
 * event type named like the topic, _id = eventId plus a unique index on
 * eventId; writes are unordered bulk inserts where a duplicate key means
 * "already stored" (the effect of an upsert with $setOnInsert, without
 * the full collection scan FerretDB 1.24 makes for every upsert).
 * PostgreSQL (libpq): schema cfg->database, one table per event type,
 * primary key on the order id, INSERT … ON CONFLICT DO NOTHING, one
 * transaction per batch.
 *
 * Every write is idempotent: storing the same event twice stores it once.
 *
 * A store that stops answering (a restart, a lost connection) is retried
 * with backoff for up to cfg->retry_timeout_ms, with one warning when it
 * starts and one line when it is back; put_batch, mark_fulfilled and
 * the two counts ride that out and fail only after the bound (open, get,
 * delete, reset and the audit fail on the first error).
 */
#ifndef ECOM_STORE_H
#define ECOM_STORE_H

#include <bson/bson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecom_config.h"
#include "ecom_event.h"
#include "ecom_log.h"

typedef struct ecom_store ecom_store;

/*
 * Connect to the store cfg selects, check it answers within
 * cfg->timeout_ms, and create the collections/tables and indexes if
 * absent.  Errors name the URI (without its password).
 */
int ecom_store_open(ecom_store **store, const ecom_config *cfg, ecom_err *err);
void ecom_store_close(ecom_store *store);
/*
 * The configured URIs parse as their drivers will parse them (a bad port,
 * a bad option): a configuration error, found before connecting.
 */
int ecom_store_check_uris(const ecom_config *cfg, ecom_err *err);
/* "libmongoc 1.23.1, libpq 150010" into buf, for --version. */
void ecom_store_driver_versions(char *buf, size_t size);
/* Stop retrying (fail at once) when *stop is set, e.g. by SIGTERM. */
void ecom_store_set_stop(ecom_store *store, ecom_stop_flag *stop);

enum ecom_store_kind ecom_store_kind_of(const ecom_store *store);
/* "mongodb" or "postgresql". */
const char *ecom_store_name(const ecom_store *store);

/* What became of one event of a batch. */
typedef enum ecom_put_status {
	ECOM_PUT_NEW = 0,   /* stored by this call */
	ECOM_PUT_DUPLICATE, /* it was already there: left as it was */
	ECOM_PUT_REJECTED,  /* the server refused this event's data; reason says why */
} ecom_put_status;

typedef struct ecom_put_result {
	ecom_put_status status;
	char reason[512];
} ecom_put_result;

/*
 * The server behind the store as it names itself, read once at open:
 * "mongo-java-server 1.47.0 (memory)", "mongo-java-server 1.47.0 (H2)",
 * "FerretDB 1.24.2 (SQLite)", "MongoDB 7.0.14" (buildInfo), "PostgreSQL
 * 15.18" (server_version).  Reports carry it, so every figure says what
 * produced it.  A MongoDB-protocol server that names neither itself nor a
 * git version is "MongoDB-protocol server (says MongoDB 5.0.0)".
 */
const char *ecom_store_server(const ecom_store *store);

/*
 * Store n events of one type (all of type `type`) in one bulk write, one
 * transaction on PostgreSQL, and say what became of each in results[i].
 * An event the server refuses for its data costs only itself: the batch
 * is split until that event stands alone, it is marked
 * ECOM_PUT_REJECTED, and the others are stored.  -1 only when the store
 * failed for another reason (unreachable beyond the retry bound, a
 * refused login, a dropped table); then nothing of the batch is known to
 * be written, and writing it again is safe.
 */
int ecom_store_put_batch(ecom_store *store, ecom_event_type type, ecom_event *const *events,
                         size_t n, ecom_put_result *results, ecom_err *err);

/*
 * Mark orders complete: on their ordercreated document set
 * payload.orderIsFulfilled = true and payload.orderShippedDate = shipped_ms.
 * *marked (may be NULL) counts the orders this call marked: an order
 * marked by an earlier call is not counted again, one already marked with
 * the same shipped_ms (an attempt of this call whose reply was lost) is.
 * Callers give every call later dates than the one before.
 */
int ecom_store_mark_fulfilled(ecom_store *store, const char *const *order_ids,
                              const int64_t *shipped_ms, size_t n, int64_t *marked, ecom_err *err);

/* Documents of one type. */
int ecom_store_count(ecom_store *store, ecom_event_type type, int64_t *count, ecom_err *err);
/* ordercreated documents with orderIsFulfilled true. */
int ecom_store_count_fulfilled(ecom_store *store, int64_t *count, ecom_err *err);

/*
 * The flow itself never reads an event back: ecom_store_get serves the
 * tests and inspection by hand; ecom_store_delete also removes the orders
 * ecom-bench's floor measurement wrote (ecom_measure_chain).
 *
 * One event by order id, store form (dates as BSON dates); *found false if absent.
 */
int ecom_store_get(ecom_store *store, ecom_event_type type, const char *order_id, bson_t *doc,
                   bool *found, ecom_err *err);
/* Remove one event by order id; *removed counts what went (0 or 1). */
int ecom_store_delete(ecom_store *store, ecom_event_type type, const char *order_id,
                      int64_t *removed, ecom_err *err);

/* Drop the five collections/tables (and recreate them empty). */
int ecom_store_reset(ecom_store *store, ecom_err *err);

/*
 * Audit the store: fills report (initialised by the caller) with
 *   {"store": "mongodb", "server": "mongo-java-server 1.47.0 (memory)",
 *    "counts": {"ordercreated": N, …},
 *    "fulfilled": N, "missing": {"paymentcompleted": [ids…], …},
 *    "orphans": {…: [ids without an ordercreated]}, "duplicates": {…: [ids]},
 *    "unfinished": [ids not fulfilled or without orderShippedDate],
 *    "ok": true|false}
 * Lists are cut at 100 ids; the counts are exact.  *ok is false on any
 * missing, orphan, duplicate or unfinished order.
 */
int ecom_store_audit(ecom_store *store, bson_t *report, bool *ok, ecom_err *err);

#endif
