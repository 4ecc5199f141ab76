/*
 * The store interface: argument checks, dispatch to the backend chosen by
 * the configuration, and what both backends share (the audit, URI
 * redaction).  The backends only provide primitives; the audit's logic is
 * here once, so both stores give the same report for the same history.
 */
#include "ecom_store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecom_store_impl.h"

/* Lists in the audit report are cut here; the counts stay exact. */
#define AUDIT_LIST_MAX 100

int
ecom_store_open(ecom_store **store, const ecom_config *cfg, ecom_err *err)
{
	enum ecom_store_kind kind;
	const char *uri;

	*store = NULL;
	if (ecom_config_store(cfg, &kind, &uri, err) < 0)
		return -1;
	if (uri == NULL || *uri == '\0')
		return ecom_err_set(err, "no URI for the %s store",
		                    kind == ECOM_STORE_MONGODB ? "mongodb" : "postgresql");
	if (cfg->database == NULL || *cfg->database == '\0')
		return ecom_err_set(err, "no database name");
	if (kind == ECOM_STORE_MONGODB)
		return ecom_store_mongo_open(store, uri, cfg, err);
	return ecom_store_pg_open(store, uri, cfg, err);
}

void
ecom_store_close(ecom_store *store)
{
	if (store != NULL)
		store->ops->close(store);
}

enum ecom_store_kind
ecom_store_kind(const ecom_store *store)
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

int
ecom_store_put_batch(ecom_store *store, ecom_event_type type, ecom_event *const *events, size_t n,
                     bool *is_new, ecom_err *err)
{
	size_t i;

	if (check_type(type, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (events[i]->type != type)
			return ecom_err_set(err, "event '%s' is %s, not %s", events[i]->event_id,
			                    ecom_event_type_name(events[i]->type),
			                    ecom_event_type_name(type));
	}
	if (n == 0)
		return 0;
	return store->ops->put_batch(store, type, events, n, is_new, err);
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
	if (n > 0 && store->ops->mark_fulfilled(store, order_ids, shipped_ms, n, &changed, err) < 0)
		return -1;
	if (marked != NULL)
		*marked = changed;
	return 0;
}

int
ecom_store_count(ecom_store *store, ecom_event_type type, int64_t *count, ecom_err *err)
{
	if (check_type(type, err) < 0)
		return -1;
	return store->ops->count(store, type, count, err);
}

int
ecom_store_count_fulfilled(ecom_store *store, int64_t *count, ecom_err *err)
{
	return store->ops->count_fulfilled(store, count, err);
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

/* ---- id lists ---- */

int
ecom_idlist_add(ecom_idlist *list, const char *id, size_t id_len, ecom_err *err)
{
	if (id_len != ECOM_EVENT_ID_LEN)
		return 0;
	if (list->len == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 1024;
		void *grown = realloc(list->ids, cap * sizeof(*list->ids));

		if (grown == NULL)
			return ecom_err_set(err, "out of memory");
		list->ids = grown;
		list->cap = cap;
	}
	memcpy(list->ids[list->len], id, ECOM_EVENT_ID_LEN);
	list->ids[list->len][ECOM_EVENT_ID_LEN] = '\0';
	list->len++;
	return 0;
}

void
ecom_idlist_free(ecom_idlist *list)
{
	free(list->ids);
	list->ids = NULL;
	list->len = list->cap = 0;
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

/* ---- URI redaction ---- */

/* text[start, end) replaced by "***"; text (bson_malloc'd) is freed. */
static char *
splice_stars(char *text, size_t start, size_t end)
{
	size_t len = strlen(text);
	char *spliced = bson_malloc(len - (end - start) + 4);

	memcpy(spliced, text, start);
	memcpy(spliced + start, "***", 3);
	memcpy(spliced + start + 3, text + end, len - end + 1);
	bson_free(text);
	return spliced;
}

/* Values of "password=" options: in a URI's query (until '&') or a key=value string. */
static char *
redact_password_options(char *text, bool in_uri)
{
	size_t pos = 0;

	for (;;) {
		char *found = NULL, *p;
		size_t start, end;

		for (p = text + pos; (p = strcasestr(p, "password")) != NULL; p++) {
			const char *q = p + 8;
			bool at_key_start = p == text || (in_uri ? (p[-1] == '?' || p[-1] == '&')
			                                         : (p[-1] == ' ' || p[-1] == '\t'));

			if (!in_uri)
				q += strspn(q, " \t");
			if (at_key_start && *q == '=') {
				found = (char *)q + 1;
				break;
			}
		}
		if (found == NULL)
			return text;
		if (!in_uri)
			found += strspn(found, " \t");
		start = (size_t)(found - text);
		if (in_uri) {
			end = start + strcspn(found, "&#");
		} else if (*found == '\'') {
			end = start + 1;
			while (text[end] != '\0' && text[end] != '\'')
				end += text[end] == '\\' && text[end + 1] != '\0' ? 2 : 1;
			if (text[end] == '\'')
				end++;
		} else {
			end = start + strcspn(found, " \t");
		}
		text = splice_stars(text, start, end);
		pos = start + 3;
	}
}

static char *
last_at(char *text, size_t len)
{
	char *at = NULL, *p;

	for (p = text; p < text + len; p++) {
		if (*p == '@')
			at = p;
	}
	return at;
}

char *
ecom_store_redact_uri(const char *uri)
{
	char *text, *scheme_end;

	if (uri == NULL)
		return bson_strdup("");
	text = bson_strdup(uri);
	scheme_end = strstr(text, "://");
	if (scheme_end != NULL) {
		size_t start = (size_t)(scheme_end - text) + 3;
		char *at, *colon;

		/*
		 * The host cannot hold '@': the last one in the authority ends the
		 * user information.  With none there, a password with a raw '/'
		 * may have cut the authority short: look on up to the query.
		 */
		at = last_at(text + start, strcspn(text + start, "/?#"));
		if (at == NULL)
			at = last_at(text + start, strcspn(text + start, "?#"));
		if (at != NULL) {
			colon = memchr(text + start, ':', (size_t)(at - (text + start)));
			if (colon != NULL)
				text = splice_stars(text, (size_t)(colon + 1 - text), (size_t)(at - text));
		}
		return redact_password_options(text, true);
	}
	return redact_password_options(text, false);
}
