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

#include "ecom_store.h"

/* A growable list of order ids (canonical UUID text), for the audit. */
typedef struct ecom_idlist {
	char (*ids)[ECOM_EVENT_ID_LEN + 1];
	size_t len;
	size_t cap;
} ecom_idlist;

/* Appends id if it is a canonical-length string; other values are ignored. */
int ecom_idlist_add(ecom_idlist *list, const char *id, size_t id_len, ecom_err *err);
void ecom_idlist_free(ecom_idlist *list);

/*
 * Backend operations.  Arguments are checked by ecom_store.c; every
 * function returns 0 or fills err (naming the store's redacted URI where
 * the server is the subject) and returns -1.
 */
typedef struct ecom_store_ops {
	const char *name; /* "mongodb", "postgresql" */
	void (*close)(ecom_store *store);
	int (*put_batch)(ecom_store *store, ecom_event_type type, ecom_event *const *events, size_t n,
	                 bool *is_new, ecom_err *err);
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
	char *redacted_uri; /* bson_malloc'd, for messages */
	char *server;       /* bson_malloc'd, ecom_store_server(); NULL until known */
};

/*
 * Backend constructors: connect to uri, check the server answers within
 * cfg->timeout_ms, create what is absent.  On success *store is a handle
 * whose base is filled in.
 */
int ecom_store_mongo_open(ecom_store **store, const char *uri, const ecom_config *cfg, ecom_err *err);
int ecom_store_pg_open(ecom_store **store, const char *uri, const ecom_config *cfg, ecom_err *err);

#endif
