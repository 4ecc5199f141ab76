/*
 * What ecom_store.c shares with its two backends (ecom_store_mongo.c,
 * ecom_store_pg.c): the table of backend operations and the part of the
 * handle every backend starts with.  Not installed, not for commands.
 */
#ifndef ECOM_STORE_IMPL_H
#define ECOM_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecom_idlist.h"
#include "ecom_redact.h"
#include "ecom_retry.h"
#include "ecom_store.h"

/*
 * Backend operations.  Arguments are checked by ecom_store.c; every
 * function returns 0 or fills err (naming the store's redacted URI where
 * the server is the subject) and returns -1.  err->kind tells
 * ecom_store.c what to do: ECOM_ERR_TRANSIENT when the server may be back
 * soon (lost connection, restart), ECOM_ERR_DATA when it refused the data
 * of a batch as a whole (a smaller batch may pass); retries and splits
 * are done there, once for both backends.
 */
typedef struct ecom_store_ops {
	const char *name; /* "mongodb", "postgresql" */
	void (*close)(ecom_store *store);
	/* Reconnect if the connection is gone, then check the server answers. */
	int (*ping)(ecom_store *store, ecom_err *err);
	/*
	 * results[i].status: NEW, DUPLICATE, or REJECTED with a reason when
	 * the server refused that one event (MongoDB reports that per event).
	 */
	int (*put_batch)(ecom_store *store, ecom_event_type type, ecom_event *const *events, size_t n,
	                 ecom_put_result *results, ecom_err *err);
	/*
	 * *marked counts the orders now marked with the shipped_ms given here:
	 * those this call marked, and those an earlier attempt of the same
	 * call marked before its reply was lost.
	 */
	int (*mark_fulfilled)(ecom_store *store, const char *const *order_ids, const int64_t *shipped_ms,
	                      size_t n, int64_t *marked, ecom_err *err);
	int (*count)(ecom_store *store, ecom_event_type type, int64_t *count, ecom_err *err);
	int (*count_fulfilled)(ecom_store *store, int64_t *count, ecom_err *err);
	/*
	 * doc is initialised by the caller and empty; filled when found, in
	 * any order of the top-level fields (ecom_store.c puts them in order).
	 */
	int (*get)(ecom_store *store, ecom_event_type type, const char *order_id, bson_t *doc,
	           bool *found, ecom_err *err);
	int (*delete_one)(ecom_store *store, ecom_event_type type, const char *order_id,
	                  int64_t *removed, ecom_err *err);
	int (*reset)(ecom_store *store, ecom_err *err);
	/* Audit primitives: one id per stored document (so duplicates show). */
	int (*list_ids)(ecom_store *store, ecom_event_type type, ecom_idlist *ids, ecom_err *err);
	/* ordercreated ids not fulfilled or without orderShippedDate. */
	int (*list_unfinished)(ecom_store *store, ecom_idlist *ids, ecom_err *err);
} ecom_store_ops;

/* Every backend handle begins with this. */
struct ecom_store {
	const ecom_store_ops *ops;
	enum ecom_store_kind kind;
	char *redacted_uri;           /* bson_malloc'd, for messages */
	char *server;                 /* bson_malloc'd, ecom_store_server(); NULL until known */
	ecom_outage outage;           /* filled by ecom_store.c */
	ecom_stop_flag *stop;  /* stop retrying once set; may be NULL */
	/*
	 * The server may drop the connection over a batch's data instead of
	 * refusing it (FerretDB 1.x): then drops that repeat while the server
	 * answers a ping are the data's fault (ecom_store.c).  Elsewhere a
	 * lost connection is the server's, never the data's.
	 */
	bool drops_over_data;
	/*
	 * MongoDB with `wire: spring`: documents in the application's form
	 * (ecom_wire_spring_document()), found by eventId.  no_unique_index[t]:
	 * the collection was there without a unique index on eventId (the
	 * application made it), so a redelivered event is stored twice there.
	 */
	bool spring;
	bool no_unique_index[ECOM_EV_COUNT];
};

/*
 * A backend, as ecom_store.c finds it by kind.  open connects to uri,
 * checks the server answers within cfg->timeout_ms, creates what is
 * absent; on success *store is a handle whose base is filled in.
 * check_uri parses uri as the driver will, without connecting; err's
 * message (redacted) says what is wrong.
 */
typedef struct ecom_store_backend {
	enum ecom_store_kind kind;
	const char *name;
	int (*open)(ecom_store **store, const char *uri, const ecom_config *cfg, ecom_err *err);
	int (*check_uri)(const char *uri, ecom_err *err);
	const char *(*driver_version)(void); /* "libmongoc 1.23.1" */
} ecom_store_backend;

extern const ecom_store_backend ecom_store_mongo_backend;
extern const ecom_store_backend ecom_store_pg_backend;

#endif
