/* The in-memory store of the unit tests (see memory-store.h). */
#include "memory-store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_store_impl.h"
#include "ecom_time.h"

typedef struct entry {
	char id[ECOM_EVENT_ID_LEN + 1];
	bson_t *doc;        /* the store form, as given: a pointer, as entries move when they grow */
	bool fulfilled;     /* ordercreated: payload.orderIsFulfilled */
	int64_t shipped_ms; /* ordercreated: payload.orderShippedDate; -1 while null */
} entry;

typedef struct collection {
	entry *entries;
	size_t len, cap;
	int64_t given, fresh; /* events put_batch was given, and stored as NEW */
} collection;

typedef struct memory_store {
	ecom_store base;
	pthread_mutex_t lock;
	collection coll[ECOM_EV_COUNT];
	char refused_id[ECOM_EVENT_ID_LEN + 1];
	char refusal[256];
	memory_refusal refuse_how;
	bool down;
	int fail_next[MEMORY_OP_COUNT];
	int64_t calls[MEMORY_OP_COUNT];
	int64_t failures[MEMORY_OP_COUNT];
	int delay_ms[MEMORY_OP_COUNT]; /* every call sleeps this long */
	int stall_ms[MEMORY_OP_COUNT]; /* the next call sleeps this long, once */
	int64_t stall_began_us[MEMORY_OP_COUNT], stall_ended_us[MEMORY_OP_COUNT]; /* wall clock */
} memory_store;

static memory_store *
memory_of(ecom_store *store)
{
	return (memory_store *)store;
}

static entry *
find(collection *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->len; i++) {
		if (strcmp(c->entries[i].id, id) == 0)
			return &c->entries[i];
	}
	return NULL;
}

/* Store ev's document; the caller holds the lock and knows the id is new. */
static void
insert(collection *c, const ecom_event *ev)
{
	entry *e;
	bson_iter_t iter;

	if (c->len == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->entries = realloc(c->entries, c->cap * sizeof(*c->entries));
		if (c->entries == NULL)
			abort();
	}
	e = &c->entries[c->len++];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", ev->event_id);
	e->doc = bson_copy(&ev->doc);
	e->shipped_ms = -1;
	if (bson_iter_init(&iter, &ev->doc) &&
	    bson_iter_find_descendant(&iter, "payload.orderIsFulfilled", &iter) &&
	    BSON_ITER_HOLDS_BOOL(&iter))
		e->fulfilled = bson_iter_bool(&iter);
	if (bson_iter_init(&iter, &ev->doc) &&
	    bson_iter_find_descendant(&iter, "payload.orderShippedDate", &iter) &&
	    BSON_ITER_HOLDS_DATE_TIME(&iter))
		e->shipped_ms = bson_iter_date_time(&iter);
}

static void
clear(collection *c)
{
	size_t i;

	for (i = 0; i < c->len; i++)
		bson_destroy(c->entries[i].doc);
	free(c->entries);
	memset(c, 0, sizeof(*c));
}

/* A call of op begins: -1 with a transient error when it is to fail. */
static int
begin_call(memory_store *ms, memory_op op, const char *what, ecom_err *err)
{
	ms->calls[op]++;
	if (ms->down) {
		ms->failures[op]++;
		return ecom_err_set_kind(err, ECOM_ERR_TRANSIENT, "cannot %s in '%s': server down (planted)",
		                         what, ms->base.redacted_uri);
	}
	if (ms->fail_next[op] == 0)
		return 0;
	ms->fail_next[op]--;
	ms->failures[op]++;
	ecom_err_set_kind(err, ECOM_ERR_TRANSIENT, "cannot %s in '%s': connection lost (planted)", what,
	                  ms->base.redacted_uri);
	if (err != NULL)
		err->connection_lost = true;
	return -1;
}

/*
 * A slow or stalled server: the call sleeps before it takes the lock, so
 * the test's own calls (a stage it plays) go on meanwhile.
 */
static void
slow_down(memory_store *ms, memory_op op)
{
	int sleep_ms, stall_ms;
	int64_t began;

	pthread_mutex_lock(&ms->lock);
	sleep_ms = ms->delay_ms[op];
	stall_ms = ms->stall_ms[op];
	ms->stall_ms[op] = 0;
	pthread_mutex_unlock(&ms->lock);
	if (sleep_ms > 0)
		ecom_sleep_ms(sleep_ms);
	if (stall_ms == 0)
		return;
	began = ecom_now_us();
	ecom_sleep_ms(stall_ms);
	pthread_mutex_lock(&ms->lock);
	ms->stall_began_us[op] = began;
	ms->stall_ended_us[op] = ecom_now_us();
	pthread_mutex_unlock(&ms->lock);
}

static void
memory_close(ecom_store *store)
{
	memory_store *ms = memory_of(store);
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++)
		clear(&ms->coll[t]);
	pthread_mutex_destroy(&ms->lock);
	bson_free(ms->base.redacted_uri);
	bson_free(ms->base.server);
	free(ms);
}

static int
memory_ping(ecom_store *store, ecom_err *err)
{
	memory_store *ms = memory_of(store);
	int ret = 0;

	pthread_mutex_lock(&ms->lock);
	if (ms->down)
		ret = ecom_err_set_kind(err, ECOM_ERR_TRANSIENT, "cannot reach '%s': server down (planted)",
		                        ms->base.redacted_uri);
	pthread_mutex_unlock(&ms->lock);
	return ret;
}

static int
memory_put_batch(ecom_store *store, ecom_event_type type, ecom_event *const *events, size_t n,
                 ecom_put_result *results, ecom_err *err)
{
	memory_store *ms = memory_of(store);
	collection *c = &ms->coll[type];
	char what[64];
	size_t i;
	int ret = -1;

	slow_down(ms, MEMORY_PUT_BATCH);
	pthread_mutex_lock(&ms->lock);
	snprintf(what, sizeof(what), "store %s events", ecom_event_type_name(type));
	if (begin_call(ms, MEMORY_PUT_BATCH, what, err) < 0)
		goto out;
	if (ms->refused_id[0] != '\0' && ms->refuse_how != MEMORY_REFUSE_EVENT) {
		for (i = 0; i < n; i++) {
			if (strcmp(events[i]->event_id, ms->refused_id) != 0)
				continue;
			if (ms->refuse_how == MEMORY_REFUSE_BATCH) {
				ecom_err_set_kind(err, ECOM_ERR_DATA, "%s", ms->refusal);
			} else {
				ecom_err_set_kind(err, ECOM_ERR_TRANSIENT, "%s", ms->refusal);
				err->connection_lost = true;
			}
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		c->given++;
		if (strcmp(events[i]->event_id, ms->refused_id) == 0) {
			results[i].status = ECOM_PUT_REJECTED;
			snprintf(results[i].reason, sizeof(results[i].reason), "%s", ms->refusal);
		} else if (find(c, events[i]->event_id) != NULL) {
			results[i].status = ECOM_PUT_DUPLICATE;
		} else {
			insert(c, events[i]);
			c->fresh++;
			results[i].status = ECOM_PUT_NEW;
		}
	}
	ret = 0;
out:
	pthread_mutex_unlock(&ms->lock);
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

static int
memory_mark_fulfilled(ecom_store *store, const char *const *order_ids, const int64_t *shipped_ms,
                      size_t n, int64_t *marked, ecom_err *err)
{
	memory_store *ms = memory_of(store);
	size_t i;
	int ret = -1;

	slow_down(ms, MEMORY_MARK_FULFILLED);
	pthread_mutex_lock(&ms->lock);
	*marked = 0;
	if (begin_call(ms, MEMORY_MARK_FULFILLED, "mark orders fulfilled", err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		entry *e = find(&ms->coll[ECOM_EV_ORDERCREATED], order_ids[i]);

		/* An order twice in one call counts once; an order marked by an
		 * earlier call (another date) not at all. */
		if (e == NULL || seen_before(order_ids, i) ||
		    (e->fulfilled && e->shipped_ms != shipped_ms[i]))
			continue;
		e->fulfilled = true;
		e->shipped_ms = shipped_ms[i];
		(*marked)++;
	}
	ret = 0;
out:
	pthread_mutex_unlock(&ms->lock);
	return ret;
}

static int
memory_count(ecom_store *store, ecom_event_type type, int64_t *count, ecom_err *err)
{
	memory_store *ms = memory_of(store);
	int ret = -1;

	slow_down(ms, MEMORY_COUNT);
	pthread_mutex_lock(&ms->lock);
	if (begin_call(ms, MEMORY_COUNT, "count", err) == 0) {
		*count = (int64_t)ms->coll[type].len;
		ret = 0;
	}
	pthread_mutex_unlock(&ms->lock);
	return ret;
}

static int64_t
fulfilled_locked(memory_store *ms)
{
	collection *c = &ms->coll[ECOM_EV_ORDERCREATED];
	int64_t n = 0;
	size_t i;

	for (i = 0; i < c->len; i++)
		n += c->entries[i].fulfilled;
	return n;
}

static int
memory_count_fulfilled(ecom_store *store, int64_t *count, ecom_err *err)
{
	memory_store *ms = memory_of(store);
	int ret = -1;

	slow_down(ms, MEMORY_COUNT);
	pthread_mutex_lock(&ms->lock);
	if (begin_call(ms, MEMORY_COUNT, "count fulfilled orders", err) == 0) {
		*count = fulfilled_locked(ms);
		ret = 0;
	}
	pthread_mutex_unlock(&ms->lock);
	return ret;
}

/* The stored document, with the mark on an ordercreated as the real stores write it. */
static int
memory_get(ecom_store *store, ecom_event_type type, const char *order_id, bson_t *doc, bool *found,
           ecom_err *err)
{
	memory_store *ms = memory_of(store);
	entry *e;
	bson_iter_t iter;
	bson_t payload;

	(void)err;
	pthread_mutex_lock(&ms->lock);
	e = find(&ms->coll[type], order_id);
	*found = e != NULL;
	if (e != NULL && type == ECOM_EV_ORDERCREATED && bson_iter_init_find(&iter, e->doc, "payload") &&
	    BSON_ITER_HOLDS_DOCUMENT(&iter)) {
		const uint8_t *data;
		uint32_t len;
		bson_t stored;

		bson_copy_to_excluding_noinit(e->doc, doc, "payload", NULL);
		bson_iter_document(&iter, &len, &data);
		bson_init_static(&stored, data, len);
		bson_append_document_begin(doc, "payload", -1, &payload);
		bson_copy_to_excluding_noinit(&stored, &payload, "orderIsFulfilled", "orderShippedDate",
		                              NULL);
		BSON_APPEND_BOOL(&payload, "orderIsFulfilled", e->fulfilled);
		if (e->shipped_ms >= 0)
			BSON_APPEND_DATE_TIME(&payload, "orderShippedDate", e->shipped_ms);
		else
			BSON_APPEND_NULL(&payload, "orderShippedDate");
		bson_append_document_end(doc, &payload);
	} else if (e != NULL) {
		bson_concat(doc, e->doc);
	}
	pthread_mutex_unlock(&ms->lock);
	return 0;
}

static int
memory_delete_one(ecom_store *store, ecom_event_type type, const char *order_id, int64_t *removed,
                  ecom_err *err)
{
	memory_store *ms = memory_of(store);
	collection *c = &ms->coll[type];
	entry *e;

	(void)err;
	pthread_mutex_lock(&ms->lock);
	e = find(c, order_id);
	*removed = e != NULL;
	if (e != NULL) {
		bson_destroy(e->doc);
		*e = c->entries[--c->len];
	}
	pthread_mutex_unlock(&ms->lock);
	return 0;
}

static int
memory_reset(ecom_store *store, ecom_err *err)
{
	memory_store *ms = memory_of(store);
	int t;

	(void)err;
	pthread_mutex_lock(&ms->lock);
	for (t = 0; t < ECOM_EV_COUNT; t++)
		clear(&ms->coll[t]);
	pthread_mutex_unlock(&ms->lock);
	return 0;
}

static int
memory_list_ids(ecom_store *store, ecom_event_type type, ecom_idlist *ids, ecom_err *err)
{
	memory_store *ms = memory_of(store);
	collection *c = &ms->coll[type];
	size_t i;
	int ret = 0;

	pthread_mutex_lock(&ms->lock);
	for (i = 0; i < c->len && ret == 0; i++)
		ret = ecom_idlist_add(ids, c->entries[i].id, strlen(c->entries[i].id), err);
	pthread_mutex_unlock(&ms->lock);
	return ret;
}

static int
memory_list_unfinished(ecom_store *store, ecom_idlist *ids, ecom_err *err)
{
	memory_store *ms = memory_of(store);
	collection *c = &ms->coll[ECOM_EV_ORDERCREATED];
	size_t i;
	int ret = 0;

	pthread_mutex_lock(&ms->lock);
	for (i = 0; i < c->len && ret == 0; i++) {
		if (!c->entries[i].fulfilled || c->entries[i].shipped_ms < 0)
			ret = ecom_idlist_add(ids, c->entries[i].id, strlen(c->entries[i].id), err);
	}
	pthread_mutex_unlock(&ms->lock);
	return ret;
}

static const ecom_store_ops memory_ops = {
	.name = "memory",
	.close = memory_close,
	.ping = memory_ping,
	.put_batch = memory_put_batch,
	.mark_fulfilled = memory_mark_fulfilled,
	.count = memory_count,
	.count_fulfilled = memory_count_fulfilled,
	.get = memory_get,
	.delete_one = memory_delete_one,
	.reset = memory_reset,
	.list_ids = memory_list_ids,
	.list_unfinished = memory_list_unfinished,
};

ecom_store *
memory_store_new(const ecom_config *cfg)
{
	memory_store *ms = calloc(1, sizeof(*ms));

	if (ms == NULL)
		abort();
	pthread_mutex_init(&ms->lock, NULL);
	ms->base.ops = &memory_ops;
	/* kind: the enum names only the two real stores, and the stage never asks. */
	ms->base.redacted_uri = bson_strdup("memory:");
	ms->base.server = bson_strdup("in-memory test store");
	/* What ecom_store_open() does for the real ones. */
	ecom_outage_init(&ms->base.outage, "store 'memory:'", cfg->retry_timeout_ms);
	return &ms->base;
}

void
memory_store_refuse(ecom_store *store, const char *order_id, const char *reason,
                    memory_refusal how)
{
	memory_store *ms = memory_of(store);

	pthread_mutex_lock(&ms->lock);
	snprintf(ms->refused_id, sizeof(ms->refused_id), "%s", order_id);
	snprintf(ms->refusal, sizeof(ms->refusal), "%s", reason);
	ms->refuse_how = how;
	ms->base.drops_over_data = how == MEMORY_REFUSE_DROP;
	pthread_mutex_unlock(&ms->lock);
}

void
memory_store_fail(ecom_store *store, memory_op op, int times)
{
	memory_store *ms = memory_of(store);

	pthread_mutex_lock(&ms->lock);
	ms->fail_next[op] = times;
	pthread_mutex_unlock(&ms->lock);
}

void
memory_store_set_down(ecom_store *store, bool down)
{
	memory_store *ms = memory_of(store);

	pthread_mutex_lock(&ms->lock);
	ms->down = down;
	pthread_mutex_unlock(&ms->lock);
}

void
memory_store_delay(ecom_store *store, memory_op op, int ms)
{
	memory_store *m = memory_of(store);

	pthread_mutex_lock(&m->lock);
	m->delay_ms[op] = ms;
	pthread_mutex_unlock(&m->lock);
}

void
memory_store_stall(ecom_store *store, memory_op op, int ms)
{
	memory_store *m = memory_of(store);

	pthread_mutex_lock(&m->lock);
	m->stall_ms[op] = ms;
	m->stall_began_us[op] = m->stall_ended_us[op] = 0;
	pthread_mutex_unlock(&m->lock);
}

bool
memory_store_stalled(ecom_store *store, memory_op op, int64_t *began_us, int64_t *ended_us)
{
	memory_store *m = memory_of(store);

	pthread_mutex_lock(&m->lock);
	*began_us = m->stall_began_us[op];
	*ended_us = m->stall_ended_us[op];
	pthread_mutex_unlock(&m->lock);
	return *ended_us > 0;
}

void
memory_store_plant(ecom_store *store, const ecom_event *ev)
{
	memory_store *ms = memory_of(store);

	pthread_mutex_lock(&ms->lock);
	if (find(&ms->coll[ev->type], ev->event_id) == NULL)
		insert(&ms->coll[ev->type], ev);
	pthread_mutex_unlock(&ms->lock);
}

int64_t
memory_store_count_of(ecom_store *store, ecom_event_type type)
{
	memory_store *ms = memory_of(store);
	int64_t n;

	pthread_mutex_lock(&ms->lock);
	n = (int64_t)ms->coll[type].len;
	pthread_mutex_unlock(&ms->lock);
	return n;
}

int64_t
memory_store_fulfilled(ecom_store *store)
{
	memory_store *ms = memory_of(store);
	int64_t n;

	pthread_mutex_lock(&ms->lock);
	n = fulfilled_locked(ms);
	pthread_mutex_unlock(&ms->lock);
	return n;
}

bool
memory_store_is_fulfilled(ecom_store *store, const char *order_id)
{
	memory_store *ms = memory_of(store);
	entry *e;
	bool fulfilled;

	pthread_mutex_lock(&ms->lock);
	e = find(&ms->coll[ECOM_EV_ORDERCREATED], order_id);
	fulfilled = e != NULL && e->fulfilled;
	pthread_mutex_unlock(&ms->lock);
	return fulfilled;
}

static int64_t
read_counter(memory_store *ms, const int64_t *counter)
{
	int64_t n;

	pthread_mutex_lock(&ms->lock);
	n = *counter;
	pthread_mutex_unlock(&ms->lock);
	return n;
}

int64_t
memory_store_calls(ecom_store *store, memory_op op)
{
	return read_counter(memory_of(store), &memory_of(store)->calls[op]);
}

int64_t
memory_store_failures(ecom_store *store, memory_op op)
{
	return read_counter(memory_of(store), &memory_of(store)->failures[op]);
}

int64_t
memory_store_events_given(ecom_store *store, ecom_event_type type)
{
	return read_counter(memory_of(store), &memory_of(store)->coll[type].given);
}

int64_t
memory_store_events_new(ecom_store *store, ecom_event_type type)
{
	return read_counter(memory_of(store), &memory_of(store)->coll[type].fresh);
}
