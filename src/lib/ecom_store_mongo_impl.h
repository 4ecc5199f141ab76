/*
 * Inside the MongoDB store: its handle, shared by the file of its
 * connection, writes and reads (ecom_store_mongo.c) and the file of its
 * fulfilment mark (ecom_store_mongo_mark.c).
 */
#ifndef ECOM_STORE_MONGO_IMPL_H
#define ECOM_STORE_MONGO_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "ecom_store_impl.h"

/* Server error code of a duplicate key on a unique index. */
#define MONGO_DUPLICATE_KEY 11000
/* Server error code of a drop of a collection that does not exist. */
#define MONGO_NAMESPACE_NOT_FOUND 26

typedef struct mongo_store {
	ecom_store base;
	mongoc_uri_t *uri;    /* kept to reconnect */
	char *database;
	mongoc_client_t *client;
	mongoc_database_t *db;
	mongoc_collection_t *coll[ECOM_EV_COUNT];
	/*
	 * FerretDB 1.x (SQLite) needs two detours: it has no Decimal128 (see
	 * document_of()) and it scans and decodes every document for any
	 * filter but {_id: value} (see mongo_mark_fulfilled()).
	 */
	bool ferretdb_1;
	/*
	 * mongo-java-server uses an index only for a filter with exactly the
	 * index's keys and plain values: the mark gets two indexes and two
	 * filters of that shape (see create_mark_indexes(), mongo_mark_fulfilled()).
	 */
	bool mongo_java_server;
} mongo_store;

/* The indexes that serve the mark's two filters on mongo-java-server. */
#define MARK_INDEX_NAME "_id_1_payload.orderIsFulfilled_1"
#define SHIPPED_INDEX_NAME "_id_1_payload.orderShippedDate_1"
/* The same in the application's form (wire: spring), where eventId finds an order. */
#define SPRING_MARK_INDEX_NAME "eventId_1_payload.orderIsFullfilled_1"
#define SPRING_SHIPPED_INDEX_NAME "eventId_1_payload.orderShippedDate_1"

/* The field that finds an order's document, and the one that says it is fulfilled. */
#define ID_FIELD(ms) ((ms)->base.spring ? "eventId" : "_id")
#define FULFILLED_FIELD(ms) \
	((ms)->base.spring ? "payload.orderIsFullfilled" : "payload.orderIsFulfilled")

mongo_store *mongo_of(ecom_store *store);
/* What a failed command means for the caller (ecom_err_kind). */
enum ecom_err_kind mongo_failure_kind(const bson_error_t *error);
/* An integer field of a command's reply; 0 when absent. */
int64_t mongo_reply_count(const bson_t *reply, const char *key);
/* The store's mark_fulfilled (ecom_store_mongo_mark.c). */
int mongo_mark_fulfilled(ecom_store *store, const char *const *order_ids, const int64_t *shipped_ms,
                         size_t n, int64_t *marked, ecom_err *err);

#endif
