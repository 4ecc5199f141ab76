/*
 * The MongoDB store's fulfilment mark: payload.orderIsFulfilled and
 * payload.orderShippedDate set on each order's ordercreated document,
 * counting only orders this call changed (ecom_store.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ecom_store_mongo_impl.h"

/* Which orders an update of the mark matches, besides its _id. */
typedef enum mark_filter {
	MARK_BY_ID,             /* any: the caller looked it up (FerretDB 1.x) */
	MARK_UNMARKED_OR_OURS,  /* not fulfilled yet, or marked with this very date */
	MARK_UNMARKED,          /* not fulfilled yet */
	MARK_OURS,              /* marked with this very date */
} mark_filter;

/*
 * Queue the update that marks one order.  "This very date" is an earlier
 * attempt of this call whose reply was lost: the stage gives every call
 * its own dates.
 */
static bool
queue_mark(const mongo_store *ms, mongoc_bulk_operation_t *bulk, const char *order_id,
           int64_t shipped_ms, mark_filter filter, bson_error_t *error)
{
	const char *id = ID_FIELD(ms), *fulfilled = FULFILLED_FIELD(ms);
	bson_t *selector, *update;
	bool added;

	switch (filter) {
	case MARK_UNMARKED_OR_OURS:
		selector = BCON_NEW(id, BCON_UTF8(order_id), "$or", "[", "{", fulfilled, BCON_BOOL(false),
		                    "}", "{", "payload.orderShippedDate", BCON_DATE_TIME(shipped_ms), "}",
		                    "]");
		break;
	case MARK_UNMARKED:
		selector = BCON_NEW(id, BCON_UTF8(order_id), fulfilled, BCON_BOOL(false));
		break;
	case MARK_OURS:
		selector = BCON_NEW(id, BCON_UTF8(order_id), "payload.orderShippedDate",
		                    BCON_DATE_TIME(shipped_ms));
		break;
	default:
		selector = BCON_NEW(id, BCON_UTF8(order_id));
		break;
	}
	update = BCON_NEW("$set", "{", fulfilled, BCON_BOOL(true), "payload.orderShippedDate",
	                  BCON_DATE_TIME(shipped_ms), "}");
	added = mongoc_bulk_operation_update_many_with_opts(bulk, selector, update, NULL, error);
	bson_destroy(selector);
	bson_destroy(update);
	return added;
}

/*
 * On FerretDB 1.x: is the order stored and not yet fulfilled, or marked
 * with shipped_ms by an earlier attempt of this call?  A lookup by _id
 * alone, the one filter FerretDB does not decode the whole collection
 * for.
 */
static int
is_unmarked(mongo_store *ms, const char *order_id, int64_t shipped_ms, bool *unmarked,
            ecom_err *err)
{
	mongoc_cursor_t *cursor;
	const bson_t *hit;
	bson_t *filter, *opts;
	bson_error_t error;
	bson_iter_t iter;
	int ret = 0;

	*unmarked = false;
	filter = BCON_NEW(ID_FIELD(ms), BCON_UTF8(order_id));
	opts = BCON_NEW("projection", "{", FULFILLED_FIELD(ms), BCON_INT32(1),
	                "payload.orderShippedDate", BCON_INT32(1), "}", "limit", BCON_INT64(1));
	cursor = mongoc_collection_find_with_opts(ms->coll[ECOM_EV_ORDERCREATED], filter, opts, NULL);
	if (mongoc_cursor_next(cursor, &hit)) {
		bson_iter_t shipped;

		*unmarked = (bson_iter_init(&iter, hit) &&
		             bson_iter_find_descendant(&iter, FULFILLED_FIELD(ms), &iter) &&
		             BSON_ITER_HOLDS_BOOL(&iter) && !bson_iter_bool(&iter)) ||
		            (bson_iter_init(&shipped, hit) &&
		             bson_iter_find_descendant(&shipped, "payload.orderShippedDate", &shipped) &&
		             BSON_ITER_HOLDS_DATE_TIME(&shipped) &&
		             bson_iter_date_time(&shipped) == shipped_ms);
	} else if (mongoc_cursor_error(cursor, &error)) {
		ret = ecom_err_set_kind(err, mongo_failure_kind(&error),
		                        "cannot read ordercreated '%s' from '%s': %s", order_id,
		                        ms->base.redacted_uri, error.message);
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(opts);
	bson_destroy(filter);
	return ret;
}

static bool
seen_before(const char *const *order_ids, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++) {
		if (strcmp(order_ids[j], order_ids[i]) == 0)
			return true;
	}
	return false;
}

/*
 * One bulk of the mark's updates, each order once, with the given
 * filters in turn (a second filter only on mongo-java-server, see
 * mongo_mark_fulfilled()).  *matched and *modified are the bulk's
 * nMatched and nModified.  On FerretDB 1.x only the orders its lookup
 * finds unmarked (or marked by this call) are queued, and updated by _id.
 */
static int
run_mark_bulk(mongo_store *ms, const char *const *order_ids, const int64_t *shipped_ms, size_t n,
              const mark_filter *filters, size_t n_filters, int64_t *matched, int64_t *modified,
              ecom_err *err)
{
	mongoc_bulk_operation_t *bulk;
	bson_t *bulk_opts;
	bson_t reply;
	bson_error_t error;
	size_t i, f, queued = 0;
	int ret = -1;

	/* Ordered: on mongo-java-server the second filter must see the first's updates. */
	bulk_opts = BCON_NEW("ordered", BCON_BOOL(n_filters > 1));
	bulk = mongoc_collection_create_bulk_operation_with_opts(ms->coll[ECOM_EV_ORDERCREATED],
	                                                         bulk_opts);
	bson_init(&reply);
	*matched = *modified = 0;
	for (f = 0; f < n_filters; f++) {
		for (i = 0; i < n; i++) {
			bool unmarked = true;

			if (seen_before(order_ids, i))
				continue;
			if (filters[f] == MARK_BY_ID &&
			    is_unmarked(ms, order_ids[i], shipped_ms[i], &unmarked, err) < 0)
				goto out;
			if (!unmarked)
				continue;
			if (!queue_mark(ms, bulk, order_ids[i], shipped_ms[i], filters[f], &error)) {
				ecom_err_set(err, "cannot mark '%s' fulfilled in '%s': %s", order_ids[i],
				             ms->base.redacted_uri, error.message);
				goto out;
			}
			queued++;
		}
	}
	if (queued == 0) {
		ret = 0;
		goto out;
	}
	bson_destroy(&reply);
	if (mongoc_bulk_operation_execute(bulk, &reply, &error) == 0) {
		ecom_err_set_kind(err, mongo_failure_kind(&error), "cannot mark orders fulfilled in '%s': %s",
		                  ms->base.redacted_uri, error.message);
		goto out;
	}
	*matched = mongo_reply_count(&reply, "nMatched");
	*modified = mongo_reply_count(&reply, "nModified");
	ret = 0;
out:
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(bulk_opts);
	return ret;
}

/*
 * Mark the orders fulfilled; *marked counts those this call marked (an
 * earlier, lost attempt of it included).  An order twice in one call is
 * marked once.
 *
 * mongod: one unordered bulk of {_id, unmarked or marked with this call's
 * date} → $set, atomic per order; *marked is its nMatched.
 *
 * mongo-java-server: that filter would scan the collection (an $or; see
 * create_mark_indexes()), so each order gets two updates whose filters
 * its indexes serve, in one ordered bulk: {_id, unmarked} → $set, then
 * {_id, marked with this call's date} → the same $set, which changes
 * nothing.  The first matches and modifies the orders it marks, the
 * second matches every order this call marked and modifies none: *marked
 * = nMatched − nModified.  Each update is atomic per order, and no other
 * call's dates can match the second.
 *
 * FerretDB 1.x decodes every document of the collection for any filter
 * but {_id} (2.5 s an order at 10,000 documents) and is not atomic there
 * anyway (it reads, then writes): each order is looked up by _id and those
 * still unmarked are updated by _id (0.3 to 0.5 s at 10,000).
 */
int
mongo_mark_fulfilled(ecom_store *store, const char *const *order_ids, const int64_t *shipped_ms,
                     size_t n, int64_t *marked, ecom_err *err)
{
	static const mark_filter ferretdb[] = {MARK_BY_ID}, mongod[] = {MARK_UNMARKED_OR_OURS},
	                         mongo_java_server[] = {MARK_UNMARKED, MARK_OURS};
	mongo_store *ms = mongo_of(store);
	int64_t matched, modified;

	*marked = 0;
	if (ms->ferretdb_1)
		return run_mark_bulk(ms, order_ids, shipped_ms, n, ferretdb, 1, marked, &modified, err);
	if (!ms->mongo_java_server)
		return run_mark_bulk(ms, order_ids, shipped_ms, n, mongod, 1, marked, &modified, err);
	if (run_mark_bulk(ms, order_ids, shipped_ms, n, mongo_java_server, 2, &matched, &modified,
	                  err) < 0)
		return -1;
	*marked = matched - modified;
	return 0;
}
