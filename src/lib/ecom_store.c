/*
 * The store interface: argument checks, dispatch to the backend chosen by
 * the configuration, and what both backends share: riding out outages,
 * splitting a batch around an event the server refuses, the audit, the
 * check of the configured URIs.  The backends only provide primitives;
 * this logic is here once, so both stores behave and report alike.
 */
#include "ecom_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecom_store_impl.h"

/* Lists in the audit report are cut here; the counts stay exact. */
#define AUDIT_LIST_MAX 100

static const ecom_store_backend *const backends[] = {
	&ecom_store_mongo_backend,
	&ecom_store_pg_backend,
};

static const ecom_store_backend *
backend_of(enum ecom_store_kind kind)
{
	size_t i;

	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (backends[i]->kind == kind)
			return backends[i];
	}
	return NULL;
}

int
ecom_store_check_uris(const ecom_config *cfg, ecom_err *err)
{
	const struct {
		const char *key, *uri;
		enum ecom_store_kind kind;
	} uris[] = {
		{"mongodb_uri", cfg->mongodb_uri, ECOM_STORE_MONGODB},
		{"postgres_uri", cfg->postgres_uri, ECOM_STORE_POSTGRESQL},
	};
	enum ecom_store_kind kind;
	const char *uri;
	ecom_err why;
	size_t i;

	if (ecom_config_store(cfg, &kind, &uri, err) < 0)
		return -1;
	if (uri == cfg->store && backend_of(kind)->check_uri(uri, &why) < 0)
		return ecom_err_set(err, "'store': %s", why.msg);
	for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		if (backend_of(uris[i].kind)->check_uri(uris[i].uri, &why) < 0)
			return ecom_err_set(err, "'%s': %s", uris[i].key, why.msg);
	}
	return 0;
}

void
ecom_store_driver_versions(char *buf, size_t size)
{
	size_t used = 0, i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]) && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
		                         backends[i]->driver_version());
}

int
ecom_store_open(ecom_store **store, const ecom_config *cfg, ecom_err *err)
{
	enum ecom_store_kind kind;
	const char *uri;
	char what[320];

	*store = NULL;
	if (ecom_config_store(cfg, &kind, &uri, err) < 0)
		return -1;
	if (uri == NULL || *uri == '\0')
		return ecom_err_set(err, "no URI for the %s store", backend_of(kind)->name);
	if (cfg->database == NULL || *cfg->database == '\0')
		return ecom_err_set(err, "no database name");
	if (backend_of(kind)->open(store, uri, cfg, err) < 0)
		return -1;
	snprintf(what, sizeof(what), "store '%s'", (*store)->redacted_uri);
	ecom_outage_init(&(*store)->outage, what, cfg->retry_timeout_ms);
	return 0;
}

void
ecom_store_set_stop(ecom_store *store, ecom_stop_flag *stop)
{
	store->stop = stop;
}

/* ---- riding out outages ---- */

/*
 * A call failed with err: true when it is worth making again.  A
 * transient failure is waited out, with backoff, until the server
 * answers again or the retry bound passes (then err says so).
 */
static bool
try_again(ecom_store *store, ecom_err *err)
{
	ecom_err ping_err;

	if (err->kind != ECOM_ERR_TRANSIENT)
		return false;
	for (;;) {
		if (store->stop != NULL && *store->stop)
			return false;
		if (ecom_outage_trouble(&store->outage, err->msg, err) < 0)
			return false;
		ecom_outage_backoff(&store->outage, store->stop);
		if (store->ops->ping(store, &ping_err) == 0)
			return true;
		/* Back, but refusing us (a changed password, a dropped database): give up. */
		if (ping_err.kind != ECOM_ERR_TRANSIENT) {
			*err = ping_err;
			return false;
		}
	}
}

static void
call_succeeded(ecom_store *store)
{
	ecom_outage_over(&store->outage);
}

void
ecom_store_close(ecom_store *store)
{
	if (store != NULL)
		store->ops->close(store);
}

enum ecom_store_kind
ecom_store_kind_of(const ecom_store *store)
{
	return store->kind;
}

const char *
ecom_store_name(const ecom_store *store)
{
	return store->ops->name;
}

const char *
ecom_store_server(const ecom_store *store)
{
	return store->server != NULL ? store->server : "unknown server";
}

static int
check_type(ecom_event_type type, ecom_err *err)
{
	if ((int)type < 0 || type >= ECOM_EV_COUNT)
		return ecom_err_set(err, "unknown event type %d", (int)type);
	return 0;
}

/*
 * On a server that drops the connection over some values instead of
 * refusing them (FerretDB 1.x; store->drops_over_data), a connection lost
 * right after which the server answers a ping was probably lost over the
 * batch: after this many in a row the batch is treated as refused.  On
 * any other server, and for other transient failures (a deadlock, a
 * server shutting down), the failure is the server's, never the data's:
 * retried within the bound.  A server restarting answers pings before it
 * takes writes, and blaming the data then dead-lettered a good event (an
 * order lost in flight, seen with mongo-java-server on H2).
 */
#define DROPS_BEFORE_BLAMING_THE_DATA 2

static void
reject(ecom_put_result *result, const char *reason)
{
	result->status = ECOM_PUT_REJECTED;
	snprintf(result->reason, sizeof(result->reason), "%.511s", reason);
}

/*
 * One batch, retried through outages; a batch the server refuses is
 * split in halves until the refused events stand alone.  Each part is
 * still one write, one transaction.
 */
static int
put_or_split(ecom_store *store, ecom_event_type type, ecom_event *const *events, size_t n,
             ecom_put_result *results, ecom_err *err)
{
	int drops = 0;
	size_t half;

	for (;;) {
		ecom_err ping_err;

		if (store->ops->put_batch(store, type, events, n, results, err) == 0) {
			call_succeeded(store);
			return 0;
		}
		if (err->kind == ECOM_ERR_DATA)
			break;
		if (store->drops_over_data && err->kind == ECOM_ERR_TRANSIENT && err->connection_lost &&
		    store->ops->ping(store, &ping_err) == 0 && ++drops >= DROPS_BEFORE_BLAMING_THE_DATA)
			break;
		if (!try_again(store, err))
			return -1;
	}
	if (n == 1) {
		reject(&results[0], err->msg);
		return 0;
	}
	half = n / 2;
	if (put_or_split(store, type, events, half, results, err) < 0)
		return -1;
	return put_or_split(store, type, events + half, n - half, results + half, err);
}

int
ecom_store_put_batch(ecom_store *store, ecom_event_type type, ecom_event *const *events, size_t n,
                     ecom_put_result *results, ecom_err *err)
{
	size_t i;

	if (check_type(type, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (events[i]->type != type)
			return ecom_err_set(err, "event '%s' is %s, not %s", events[i]->event_id,
			                    ecom_event_type_name(events[i]->type),
			                    ecom_event_type_name(type));
		results[i].status = ECOM_PUT_NEW;
		results[i].reason[0] = '\0';
	}
	if (n == 0)
		return 0;
	return put_or_split(store, type, events, n, results, err);
}

int
ecom_store_mark_fulfilled(ecom_store *store, const char *const *order_ids, const int64_t *shipped_ms,
                          size_t n, int64_t *marked, ecom_err *err)
{
	int64_t changed = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (order_ids[i] == NULL)
			return ecom_err_set(err, "no order id at place %zu", i);
	}
	if (n > 0) {
		/* A retry is safe: the backends count what this call's shipped dates marked. */
		while (store->ops->mark_fulfilled(store, order_ids, shipped_ms, n, &changed, err) < 0) {
			if (!try_again(store, err))
				return -1;
		}
		call_succeeded(store);
	}
	if (marked != NULL)
		*marked = changed;
	return 0;
}

int
ecom_store_count(ecom_store *store, ecom_event_type type, int64_t *count, ecom_err *err)
{
	if (check_type(type, err) < 0)
		return -1;
	while (store->ops->count(store, type, count, err) < 0) {
		if (!try_again(store, err))
			return -1;
	}
	call_succeeded(store);
	return 0;
}

int
ecom_store_count_fulfilled(ecom_store *store, int64_t *count, ecom_err *err)
{
	while (store->ops->count_fulfilled(store, count, err) < 0) {
		if (!try_again(store, err))
			return -1;
	}
	call_succeeded(store);
	return 0;
}

/*
 * jsonb keeps keys shortest first, and a document written by another
 * tool may have any order: both stores give the envelope back in wire
 * order, then any unknown fields.
 */
static void
envelope_first(const bson_t *stored, bson_t *ordered)
{
	static const char *const envelope[] = {"eventId", "eventType", "eventCreatedDate", "payload"};
	bson_iter_t iter;
	size_t i;

	for (i = 0; i < sizeof(envelope) / sizeof(envelope[0]); i++) {
		if (bson_iter_init_find(&iter, stored, envelope[i]))
			bson_append_iter(ordered, envelope[i], -1, &iter);
	}
	bson_copy_to_excluding_noinit(stored, ordered, "eventId", "eventType", "eventCreatedDate",
	                              "payload", NULL);
}

/*
 * doc follows the mongo-c-driver convention for replies: it may be
 * uninitialised, it is always initialised on return (empty when absent
 * or on error), and the caller destroys it.
 */
int
ecom_store_get(ecom_store *store, ecom_event_type type, const char *order_id, bson_t *doc,
               bool *found, ecom_err *err)
{
	bson_t stored = BSON_INITIALIZER;
	int ret = -1;

	bson_init(doc);
	*found = false;
	if (check_type(type, err) < 0)
		goto out;
	if (order_id == NULL) {
		ecom_err_set(err, "no order id");
		goto out;
	}
	if (store->ops->get(store, type, order_id, &stored, found, err) < 0) {
		*found = false;
		goto out;
	}
	if (*found)
		envelope_first(&stored, doc);
	ret = 0;
out:
	bson_destroy(&stored);
	return ret;
}

int
ecom_store_delete(ecom_store *store, ecom_event_type type, const char *order_id, int64_t *removed,
                  ecom_err *err)
{
	int64_t gone = 0;

	if (check_type(type, err) < 0)
		return -1;
	if (order_id == NULL)
		return ecom_err_set(err, "no order id");
	if (store->ops->delete_one(store, type, order_id, &gone, err) < 0)
		return -1;
	if (removed != NULL)
		*removed = gone;
	return 0;
}

int
ecom_store_reset(ecom_store *store, ecom_err *err)
{
	return store->ops->reset(store, err);
}

static int
compare_ids(const void *a, const void *b)
{
	return memcmp(a, b, ECOM_EVENT_ID_LEN);
}

static void
idlist_sort(ecom_idlist *list)
{
	if (list->len > 1)
		qsort(list->ids, list->len, sizeof(*list->ids), compare_ids);
}

/* Sorted list: remove repeats in place; each id seen more than once goes once into dups. */
static int
idlist_uniq(ecom_idlist *list, ecom_idlist *dups, ecom_err *err)
{
	size_t in, out = 0;

	for (in = 0; in < list->len; in++) {
		if (out > 0 && memcmp(list->ids[out - 1], list->ids[in], ECOM_EVENT_ID_LEN) == 0) {
			if (dups->len == 0 ||
			    memcmp(dups->ids[dups->len - 1], list->ids[in], ECOM_EVENT_ID_LEN) != 0) {
				if (ecom_idlist_add(dups, list->ids[in], ECOM_EVENT_ID_LEN, err) < 0)
					return -1;
			}
			continue;
		}
		if (out != in)
			memcpy(list->ids[out], list->ids[in], sizeof(*list->ids));
		out++;
	}
	list->len = out;
	return 0;
}

/* Sorted, unique lists: the ids of a that are not in b, into diff. */
static int
idlist_minus(const ecom_idlist *a, const ecom_idlist *b, ecom_idlist *diff, ecom_err *err)
{
	size_t i = 0, j = 0;

	while (i < a->len) {
		int cmp = j < b->len ? memcmp(a->ids[i], b->ids[j], ECOM_EVENT_ID_LEN) : -1;

		if (cmp < 0) {
			if (ecom_idlist_add(diff, a->ids[i], ECOM_EVENT_ID_LEN, err) < 0)
				return -1;
			i++;
		} else if (cmp == 0) {
			i++;
			j++;
		} else {
			j++;
		}
	}
	return 0;
}

static void
append_ids(bson_t *parent, const char *key, const ecom_idlist *list)
{
	bson_t array;
	char index[16];
	const char *index_key;
	size_t i;

	bson_append_array_begin(parent, key, -1, &array);
	for (i = 0; i < list->len && i < AUDIT_LIST_MAX; i++) {
		bson_uint32_to_string((uint32_t)i, &index_key, index, sizeof(index));
		bson_append_utf8(&array, index_key, -1, list->ids[i], ECOM_EVENT_ID_LEN);
	}
	bson_append_array_end(parent, &array);
}

/*
 * Where a store in the application's form (MongoDB, wire: spring) differs
 * from ecom's own, for the audit's reader: the same counts and checks
 * mean the same, read through other field names.
 */
static void
append_form(bson_t *report, const ecom_store *store)
{
	bson_t notes;
	char key_buf[16], note[200];
	const char *key;
	uint32_t i = 0;
	int t;
	static const char *const fixed[] = {
	    "the application's documents: an ObjectId _id, orders found by eventId, _class naming "
	    "the Java class",
	    "fulfilment read from payload.orderIsFullfilled (the application's spelling) and "
	    "payload.orderShippedDate",
	    "money stored as doubles, not int64 cents; item ids as numbers",
	};

	if (!store->spring)
		return;
	BSON_APPEND_UTF8(report, "form", "spring");
	BSON_APPEND_ARRAY_BEGIN(report, "form_differences", &notes);
	for (; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		bson_uint32_to_string(i, &key, key_buf, sizeof(key_buf));
		bson_append_utf8(&notes, key, -1, fixed[i], -1);
	}
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		if (!store->no_unique_index[t])
			continue;
		snprintf(note, sizeof(note),
		         "%s: no unique index on eventId (ecom did not create it): a redelivered "
		         "event is stored twice there, and shows under duplicates",
		         ecom_event_type_name((ecom_event_type)t));
		bson_uint32_to_string(i++, &key, key_buf, sizeof(key_buf));
		bson_append_utf8(&notes, key, -1, note, -1);
	}
	bson_append_array_end(report, &notes);
}

int
ecom_store_audit(ecom_store *store, bson_t *report, bool *ok, ecom_err *err)
{
	ecom_idlist ids[ECOM_EV_COUNT], dups[ECOM_EV_COUNT];
	ecom_idlist missing[ECOM_EV_COUNT], orphans[ECOM_EV_COUNT];
	ecom_idlist unfinished = {0}, ignored = {0};
	int64_t counts[ECOM_EV_COUNT], fulfilled;
	bson_t child;
	bool clean;
	int t, ret = -1;

	memset(ids, 0, sizeof(ids));
	memset(dups, 0, sizeof(dups));
	memset(missing, 0, sizeof(missing));
	memset(orphans, 0, sizeof(orphans));
	*ok = false;

	for (t = 0; t < ECOM_EV_COUNT; t++) {
		if (store->ops->count(store, (ecom_event_type)t, &counts[t], err) < 0 ||
		    store->ops->list_ids(store, (ecom_event_type)t, &ids[t], err) < 0)
			goto out;
		idlist_sort(&ids[t]);
		if (idlist_uniq(&ids[t], &dups[t], err) < 0)
			goto out;
	}
	if (store->ops->count_fulfilled(store, &fulfilled, err) < 0 ||
	    store->ops->list_unfinished(store, &unfinished, err) < 0)
		goto out;
	idlist_sort(&unfinished);
	if (idlist_uniq(&unfinished, &ignored, err) < 0)
		goto out;

	clean = unfinished.len == 0;
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		if (t != ECOM_EV_ORDERCREATED &&
		    (idlist_minus(&ids[ECOM_EV_ORDERCREATED], &ids[t], &missing[t], err) < 0 ||
		     idlist_minus(&ids[t], &ids[ECOM_EV_ORDERCREATED], &orphans[t], err) < 0))
			goto out;
		if (missing[t].len || orphans[t].len || dups[t].len)
			clean = false;
	}

	BSON_APPEND_UTF8(report, "store", store->ops->name);
	BSON_APPEND_UTF8(report, "server", ecom_store_server(store));
	BSON_APPEND_DOCUMENT_BEGIN(report, "counts", &child);
	for (t = 0; t < ECOM_EV_COUNT; t++)
		BSON_APPEND_INT64(&child, ecom_event_type_name((ecom_event_type)t), counts[t]);
	bson_append_document_end(report, &child);
	BSON_APPEND_INT64(report, "fulfilled", fulfilled);
	BSON_APPEND_DOCUMENT_BEGIN(report, "missing", &child);
	for (t = ECOM_EV_ORDERCREATED + 1; t < ECOM_EV_COUNT; t++)
		append_ids(&child, ecom_event_type_name((ecom_event_type)t), &missing[t]);
	bson_append_document_end(report, &child);
	BSON_APPEND_DOCUMENT_BEGIN(report, "orphans", &child);
	for (t = ECOM_EV_ORDERCREATED + 1; t < ECOM_EV_COUNT; t++)
		append_ids(&child, ecom_event_type_name((ecom_event_type)t), &orphans[t]);
	bson_append_document_end(report, &child);
	BSON_APPEND_DOCUMENT_BEGIN(report, "duplicates", &child);
	for (t = 0; t < ECOM_EV_COUNT; t++)
		append_ids(&child, ecom_event_type_name((ecom_event_type)t), &dups[t]);
	bson_append_document_end(report, &child);
	append_ids(report, "unfinished", &unfinished);
	append_form(report, store);
	BSON_APPEND_BOOL(report, "ok", clean);
	*ok = clean;
	ret = 0;
out:
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		ecom_idlist_free(&ids[t]);
		ecom_idlist_free(&dups[t]);
		ecom_idlist_free(&missing[t]);
		ecom_idlist_free(&orphans[t]);
	}
	ecom_idlist_free(&unfinished);
	ecom_idlist_free(&ignored);
	return ret;
}
