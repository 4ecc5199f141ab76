/*
 * Unit tests of ecom_event: building, chaining, parsing, validating and
 * printing the five events, and the date and money helpers under them.
 *
 * JSON fixtures are written with single quotes for legibility; json()
 * turns them into real JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <uuid/uuid.h>

#include "ecom_event.h"

#define ORDER_ID "3f0c2a9e-6f1b-4c1e-9a57-2d0b8a1e4c11"
#define DATE "2026-11-27T08:00:00.123Z"
#define DATE_MS INT64_C(1795766400123)

/* A valid event of each type, in wire form; 20 × 13.99 + 1 × 6.99 = 286.79. */
static const char *const valid_events[ECOM_EV_COUNT] = {
	"{'eventId':'" ORDER_ID "','eventType':'ordercreated','eventCreatedDate':'" DATE "',"
	"'payload':{'orderCreatedDate':'" DATE "','orderShippedDate':null,"
	"'lineItems':[{'itemInventoryId':'1','quantity':20,'itemName':'widget',"
	"'itemDescription':'Super awesome widget that does I know not what','itemPrice':'13.99'},"
	"{'itemInventoryId':'4','quantity':1,'itemName':'widget cleaner',"
	"'itemDescription':'Super awesome widget cleaner','itemPrice':'6.99'}],"
	"'orderPrice':'286.79','orderIsFulfilled':false}}",

	"{'eventId':'" ORDER_ID "','eventType':'paymentcompleted','eventCreatedDate':'" DATE "',"
	"'payload':{'paymentCompletedDate':'" DATE "','paymentAmount':'286.79'}}",

	"{'eventId':'" ORDER_ID "','eventType':'inventoryupdated','eventCreatedDate':'" DATE "',"
	"'payload':{'inventoryUpdateCompletedDate':'" DATE "'}}",

	"{'eventId':'" ORDER_ID "','eventType':'ordershipped','eventCreatedDate':'" DATE "',"
	"'payload':{'orderShipmentDate':'" DATE "','shippingDays':2}}",

	"{'eventId':'" ORDER_ID "','eventType':'orderfulfilled','eventCreatedDate':'" DATE "',"
	"'payload':{'orderFulfillmentDate':'" DATE "'}}",
};

/* Single-quoted fixture to JSON; free with free(). */
static char *
json(const char *single_quoted)
{
	char *text = strdup(single_quoted);
	char *p;

	assert_non_null(text);
	for (p = text; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return text;
}

/* A valid event of type with the first `from` replaced by `to`, as JSON. */
static char *
event_json_with(ecom_event_type type, const char *from, const char *to)
{
	const char *fixture = valid_events[type];
	const char *at = strstr(fixture, from);
	size_t head, size;
	char *edited, *result;

	assert_non_null(at);
	head = (size_t)(at - fixture);
	size = strlen(fixture) - strlen(from) + strlen(to) + 1;
	edited = malloc(size);
	assert_non_null(edited);
	snprintf(edited, size, "%.*s%s%s", (int)head, fixture, to, at + strlen(from));
	result = json(edited);
	free(edited);
	return result;
}

static void
parse_ok(const char *text, ecom_event *ev)
{
	ecom_err err = {0};

	if (ecom_event_from_json(text, strlen(text), ev, &err) < 0)
		fail_msg("unexpected error: %s\ninput: %s", err.msg, text);
}

static void
parse_fixture_ok(const char *single_quoted, ecom_event *ev)
{
	char *text = json(single_quoted);

	parse_ok(text, ev);
	free(text);
}

/* from_json() of text fails with exactly expected, and ev is left safe to destroy. */
static void
assert_rejected(const char *text, const char *expected)
{
	ecom_event ev;
	ecom_err err = {0};

	assert_int_equal(ecom_event_from_json(text, strlen(text), &ev, &err), -1);
	assert_string_equal(err.msg, expected);
	ecom_event_destroy(&ev);
}

static void
assert_edit_rejected(ecom_event_type type, const char *from, const char *to, const char *expected)
{
	char *text = event_json_with(type, from, to);

	assert_rejected(text, expected);
	free(text);
}

static void
assert_edit_accepted(ecom_event_type type, const char *from, const char *to)
{
	char *text = event_json_with(type, from, to);
	ecom_event ev;

	parse_ok(text, &ev);
	ecom_event_destroy(&ev);
	free(text);
}

/* The value at a dotted path of doc ("payload.lineItems.0.quantity"). */
static void
find_path(const bson_t *doc, const char *path, bson_iter_t *it)
{
	bson_iter_t root;

	assert_true(bson_iter_init(&root, doc));
	if (!bson_iter_find_descendant(&root, path, it))
		fail_msg("no field '%s'", path);
}

static char *
to_json(const ecom_event *ev)
{
	char *text = ecom_event_to_json(ev, NULL);

	assert_non_null(text);
	return text;
}

static int64_t
money_at(const ecom_event *ev, const char *payload_field)
{
	int64_t cents = -1;

	assert_int_equal(ecom_event_money_cents(ev, payload_field, &cents), 0);
	return cents;
}

/* from_json(to_json(ev)) has the very same store document. */
static void
assert_round_trip(const ecom_event *ev)
{
	char *text = to_json(ev);
	ecom_event again;

	parse_ok(text, &again);
	if (!bson_equal(&ev->doc, &again.doc)) {
		char *a = bson_as_canonical_extended_json(&ev->doc, NULL);
		char *b = bson_as_canonical_extended_json(&again.doc, NULL);

		fail_msg("round trip changed the document\nbefore: %s\nafter:  %s", a, b);
	}
	assert_int_equal(again.type, ev->type);
	assert_string_equal(again.event_id, ev->event_id);
	assert_int_equal(again.created_ms, ev->created_ms);
	ecom_event_destroy(&again);
	bson_free(text);
}

/* dst = src without the field at path; the field must exist. */
static void
copy_without(const bson_t *src, const char *path, bson_t *dst)
{
	const char *dot = strchr(path, '.');
	size_t seg_len = dot ? (size_t)(dot - path) : strlen(path);
	bson_iter_t it;
	int found = 0;

	assert_true(bson_iter_init(&it, src));
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);

		if (strlen(key) != seg_len || strncmp(key, path, seg_len) != 0) {
			assert_true(bson_append_iter(dst, key, -1, &it));
			continue;
		}
		found = 1;
		if (dot != NULL) {
			uint32_t len;
			const uint8_t *data;
			bson_t inner, child;
			int is_array = BSON_ITER_HOLDS_ARRAY(&it);

			if (is_array)
				bson_iter_array(&it, &len, &data);
			else
				bson_iter_document(&it, &len, &data);
			assert_true(bson_init_static(&inner, data, len));
			if (is_array)
				bson_append_array_begin(dst, key, -1, &child);
			else
				bson_append_document_begin(dst, key, -1, &child);
			copy_without(&inner, dot + 1, &child);
			if (is_array)
				bson_append_array_end(dst, &child);
			else
				bson_append_document_end(dst, &child);
		}
	}
	if (!found)
		fail_msg("fixture has no field '%.*s'", (int)seg_len, path);
}

static void
new_order_has_four_items_and_price_371_58(void **state)
{
	static const struct {
		const char *name;
		int32_t quantity;
		int64_t price_cents;
	} expected[] = {
		{"widget", 20, 1399},
		{"widget holder", 20, 399},
		{"widget stacker", 1, 499},
		{"widget cleaner", 1, 699},
	};
	ecom_event ev;
	ecom_err err = {0};
	bson_iter_t it, items;
	uuid_t uuid;
	char *text;
	int n = 0;

	(void)state;
	assert_int_equal(ecom_event_new_order(&ev, DATE_MS, &err), 0);
	assert_int_equal(ev.type, ECOM_EV_ORDERCREATED);
	assert_int_equal(ev.created_ms, DATE_MS);
	assert_int_equal(uuid_parse(ev.event_id, uuid), 0);
	assert_int_equal(money_at(&ev, "orderPrice"), 37158);

	find_path(&ev.doc, "payload.lineItems", &it);
	assert_true(BSON_ITER_HOLDS_ARRAY(&it));
	assert_true(bson_iter_recurse(&it, &items));
	while (bson_iter_next(&items)) {
		bson_iter_t field;

		assert_true(n < 4);
		assert_true(bson_iter_recurse(&items, &field));
		assert_true(bson_iter_find(&field, "quantity"));
		assert_int_equal(bson_iter_int32(&field), expected[n].quantity);
		assert_true(bson_iter_recurse(&items, &field));
		assert_true(bson_iter_find(&field, "itemName"));
		assert_string_equal(bson_iter_utf8(&field, NULL), expected[n].name);
		n++;
	}
	assert_int_equal(n, 4);
	find_path(&ev.doc, "payload.orderShippedDate", &it);
	assert_true(BSON_ITER_HOLDS_NULL(&it));
	find_path(&ev.doc, "payload.orderIsFulfilled", &it);
	assert_false(bson_iter_bool(&it));

	text = to_json(&ev);
	assert_non_null(strstr(text, "\"orderPrice\" : \"371.58\""));
	assert_non_null(strstr(text, "\"eventCreatedDate\" : \"" DATE "\""));
	bson_free(text);
	assert_round_trip(&ev);
	ecom_event_destroy(&ev);
}

static void
new_orders_have_fresh_ids_and_stable_inventory_ids(void **state)
{
	ecom_event a, b;
	ecom_err err = {0};
	bson_iter_t ia, ib;

	(void)state;
	assert_int_equal(ecom_event_new_order(&a, DATE_MS, &err), 0);
	assert_int_equal(ecom_event_new_order(&b, DATE_MS, &err), 0);
	assert_string_not_equal(a.event_id, b.event_id);
	find_path(&a.doc, "payload.lineItems.2.itemInventoryId", &ia);
	find_path(&b.doc, "payload.lineItems.2.itemInventoryId", &ib);
	assert_string_equal(bson_iter_utf8(&ia, NULL), bson_iter_utf8(&ib, NULL));
	/* The original application's third product, as its generator writes it. */
	assert_string_equal(bson_iter_utf8(&ia, NULL), "3");
	find_path(&a.doc, "payload.lineItems.2.itemDescription", &ia);
	assert_string_equal(bson_iter_utf8(&ia, NULL), "Super awesome widget stacker");
	find_path(&a.doc, "payload.lineItems.0.itemDescription", &ia);
	assert_string_equal(bson_iter_utf8(&ia, NULL), "Super awesome widget that does I know not what");
	ecom_event_destroy(&a);
	ecom_event_destroy(&b);
}

static void
next_chain_keeps_event_id_through_all_five_and_ends_at_orderfulfilled(void **state)
{
	ecom_event events[ECOM_EV_COUNT], after_last;
	ecom_err err = {0};
	int t;

	(void)state;
	assert_int_equal(ecom_event_new_order(&events[0], DATE_MS, &err), 0);
	for (t = 1; t < ECOM_EV_COUNT; t++) {
		if (ecom_event_next(&events[t - 1], &events[t], DATE_MS + t, &err) < 0)
			fail_msg("next after %s: %s", ecom_event_type_name(events[t - 1].type), err.msg);
		assert_int_equal(events[t].type, t);
		assert_string_equal(events[t].event_id, events[0].event_id);
		assert_int_equal(events[t].created_ms, DATE_MS + t);
		assert_round_trip(&events[t]);
	}
	assert_int_equal(ecom_event_next(&events[ECOM_EV_ORDERFULFILLED], &after_last, DATE_MS, &err),
	                 -1);
	assert_string_equal(err.msg, "orderfulfilled is the last event");
	ecom_event_destroy(&after_last);
	for (t = 0; t < ECOM_EV_COUNT; t++)
		ecom_event_destroy(&events[t]);
}

static void
payment_amount_equals_order_price(void **state)
{
	ecom_event order, payment;
	ecom_err err = {0};

	(void)state;
	parse_fixture_ok(valid_events[ECOM_EV_ORDERCREATED], &order);
	assert_int_equal(ecom_event_next(&order, &payment, DATE_MS, &err), 0);
	assert_int_equal(money_at(&payment, "paymentAmount"), 28679);
	assert_int_equal(money_at(&payment, "paymentAmount"), money_at(&order, "orderPrice"));
	ecom_event_destroy(&order);
	ecom_event_destroy(&payment);
}

static void
json_round_trip_is_identical_for_every_type(void **state)
{
	int t;

	(void)state;
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		ecom_event ev;

		parse_fixture_ok(valid_events[t], &ev);
		assert_round_trip(&ev);
		ecom_event_destroy(&ev);
	}
}

static void
wire_form_has_iso_dates_and_two_decimal_strings(void **state)
{
	ecom_event ev;
	char *text;

	(void)state;
	parse_fixture_ok("{'eventId':'" ORDER_ID "','eventType':'paymentcompleted',"
	                 "'eventCreatedDate':{'$date':'" DATE "'},"
	                 "'payload':{'paymentCompletedDate':'2026-11-27T08:00:00Z',"
	                 "'paymentAmount':279.8}}",
	                 &ev);
	text = to_json(&ev);
	assert_string_equal(text, "{ \"eventId\" : \"" ORDER_ID "\", \"eventType\" : \"paymentcompleted\", "
	                          "\"eventCreatedDate\" : \"" DATE "\", \"payload\" : { "
	                          "\"paymentCompletedDate\" : \"2026-11-27T08:00:00.000Z\", "
	                          "\"paymentAmount\" : \"279.80\" } }");
	bson_free(text);
	ecom_event_destroy(&ev);
}

static void
store_form_has_bson_dates_and_int64_cents(void **state)
{
	ecom_event ev, again;
	ecom_err err = {0};
	bson_iter_t it;

	(void)state;
	parse_fixture_ok(valid_events[ECOM_EV_ORDERCREATED], &ev);
	find_path(&ev.doc, "eventCreatedDate", &it);
	assert_true(BSON_ITER_HOLDS_DATE_TIME(&it));
	assert_int_equal(bson_iter_date_time(&it), DATE_MS);
	find_path(&ev.doc, "payload.orderPrice", &it);
	assert_true(BSON_ITER_HOLDS_INT64(&it));
	assert_int_equal(bson_iter_int64(&it), 28679);
	find_path(&ev.doc, "payload.lineItems.0.quantity", &it);
	assert_true(BSON_ITER_HOLDS_INT32(&it));

	/* What a store reads back validates as it is. */
	assert_int_equal(ecom_event_from_bson(&ev.doc, &again, &err), 0);
	assert_true(bson_equal(&ev.doc, &again.doc));
	ecom_event_destroy(&again);
	ecom_event_destroy(&ev);
}

static void
unknown_fields_are_kept_in_place(void **state)
{
	static const char *const top_keys[] = {"traceId", "eventId", "eventType", "eventCreatedDate",
	                                       "payload", "source"};
	ecom_event ev;
	bson_iter_t it;
	char *text;
	size_t n = 0;

	(void)state;
	parse_fixture_ok(
	    "{'traceId':'t-1','eventId':'" ORDER_ID "','eventType':'ordercreated',"
	    "'eventCreatedDate':'" DATE "','payload':{'orderCreatedDate':'" DATE "',"
	    "'giftWrap':{'paper':'red','why':1},'orderShippedDate':null,"
	    "'lineItems':[{'itemInventoryId':'1','quantity':2,'colour':'blue','itemName':'widget',"
	    "'itemDescription':'Super awesome widget that does I know not what','itemPrice':'13.99'}],"
	    "'orderPrice':'27.98',"
	    "'orderIsFulfilled':false,'audit':{'$date':'2020-01-01T00:00:00Z'}},'source':[1,2.5,'x']}",
	    &ev);

	assert_true(bson_iter_init(&it, &ev.doc));
	while (bson_iter_next(&it)) {
		assert_true(n < sizeof(top_keys) / sizeof(top_keys[0]));
		assert_string_equal(bson_iter_key(&it), top_keys[n++]);
	}
	assert_int_equal(n, sizeof(top_keys) / sizeof(top_keys[0]));
	find_path(&ev.doc, "traceId", &it);
	assert_string_equal(bson_iter_utf8(&it, NULL), "t-1");
	find_path(&ev.doc, "payload.giftWrap.paper", &it);
	assert_string_equal(bson_iter_utf8(&it, NULL), "red");
	find_path(&ev.doc, "payload.lineItems.0.colour", &it);
	assert_string_equal(bson_iter_utf8(&it, NULL), "blue");
	/* An unknown field is not a known date: its type is left as it came. */
	find_path(&ev.doc, "payload.audit", &it);
	assert_true(BSON_ITER_HOLDS_DATE_TIME(&it));
	find_path(&ev.doc, "source.1", &it);
	assert_true(BSON_ITER_HOLDS_DOUBLE(&it));

	text = to_json(&ev);
	assert_non_null(strstr(text, "\"traceId\" : \"t-1\""));
	assert_non_null(strstr(text, "\"colour\" : \"blue\""));
	assert_non_null(strstr(text, "\"audit\" : { \"$date\" : \"2020-01-01T00:00:00Z\" }"));
	bson_free(text);
	assert_round_trip(&ev);
	ecom_event_destroy(&ev);
}

static void
event_type_may_come_after_payload(void **state)
{
	ecom_event ev;

	(void)state;
	parse_fixture_ok("{'payload':{'shippingDays':3,'orderShipmentDate':'" DATE "'},"
	                 "'eventCreatedDate':'" DATE "','eventId':'" ORDER_ID "',"
	                 "'eventType':'ordershipped'}",
	                 &ev);
	assert_int_equal(ev.type, ECOM_EV_ORDERSHIPPED);
	assert_round_trip(&ev);
	ecom_event_destroy(&ev);
}

static void
each_missing_required_field_is_named(void **state)
{
	static const struct {
		ecom_event_type type;
		const char *path;
	} cases[] = {
		{ECOM_EV_ORDERCREATED, "eventId"},
		{ECOM_EV_ORDERCREATED, "eventType"},
		{ECOM_EV_ORDERCREATED, "eventCreatedDate"},
		{ECOM_EV_ORDERCREATED, "payload"},
		{ECOM_EV_ORDERCREATED, "payload.orderCreatedDate"},
		{ECOM_EV_ORDERCREATED, "payload.orderShippedDate"},
		{ECOM_EV_ORDERCREATED, "payload.lineItems"},
		{ECOM_EV_ORDERCREATED, "payload.lineItems.0.itemInventoryId"},
		{ECOM_EV_ORDERCREATED, "payload.lineItems.0.quantity"},
		{ECOM_EV_ORDERCREATED, "payload.lineItems.0.itemName"},
		{ECOM_EV_ORDERCREATED, "payload.lineItems.1.itemDescription"},
		{ECOM_EV_ORDERCREATED, "payload.lineItems.1.itemPrice"},
		{ECOM_EV_ORDERCREATED, "payload.orderPrice"},
		{ECOM_EV_ORDERCREATED, "payload.orderIsFulfilled"},
		{ECOM_EV_PAYMENTCOMPLETED, "eventId"},
		{ECOM_EV_PAYMENTCOMPLETED, "eventType"},
		{ECOM_EV_PAYMENTCOMPLETED, "eventCreatedDate"},
		{ECOM_EV_PAYMENTCOMPLETED, "payload"},
		{ECOM_EV_PAYMENTCOMPLETED, "payload.paymentCompletedDate"},
		{ECOM_EV_PAYMENTCOMPLETED, "payload.paymentAmount"},
		{ECOM_EV_INVENTORYUPDATED, "eventId"},
		{ECOM_EV_INVENTORYUPDATED, "eventType"},
		{ECOM_EV_INVENTORYUPDATED, "eventCreatedDate"},
		{ECOM_EV_INVENTORYUPDATED, "payload"},
		{ECOM_EV_INVENTORYUPDATED, "payload.inventoryUpdateCompletedDate"},
		{ECOM_EV_ORDERSHIPPED, "eventId"},
		{ECOM_EV_ORDERSHIPPED, "eventType"},
		{ECOM_EV_ORDERSHIPPED, "eventCreatedDate"},
		{ECOM_EV_ORDERSHIPPED, "payload"},
		{ECOM_EV_ORDERSHIPPED, "payload.orderShipmentDate"},
		{ECOM_EV_ORDERSHIPPED, "payload.shippingDays"},
		{ECOM_EV_ORDERFULFILLED, "eventId"},
		{ECOM_EV_ORDERFULFILLED, "eventType"},
		{ECOM_EV_ORDERFULFILLED, "eventCreatedDate"},
		{ECOM_EV_ORDERFULFILLED, "payload"},
		{ECOM_EV_ORDERFULFILLED, "payload.orderFulfillmentDate"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *fixture = json(valid_events[cases[i].type]);
		bson_t full, cut = BSON_INITIALIZER;
		bson_error_t error;
		char expected[128], *text;

		assert_true(bson_init_from_json(&full, fixture, -1, &error));
		copy_without(&full, cases[i].path, &cut);
		text = bson_as_relaxed_extended_json(&cut, NULL);
		snprintf(expected, sizeof(expected), "missing field '%s'", cases[i].path);
		assert_rejected(text, expected);
		bson_free(text);
		bson_destroy(&cut);
		bson_destroy(&full);
		free(fixture);
	}
}

static void
malformed_json_is_rejected(void **state)
{
	static const char *const inputs[] = {
		"", "   ", "{", "{\"eventId\":}", "not json", "42", "\"text\"", "[1, 2]", " [{}]",
		"{} {}", "{\"a\":1} x",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		ecom_event ev;
		ecom_err err = {0};

		assert_int_equal(ecom_event_from_json(inputs[i], strlen(inputs[i]), &ev, &err), -1);
		if (strncmp(err.msg, "not a JSON object: ", 19) != 0)
			fail_msg("input '%s': %s", inputs[i], err.msg);
		ecom_event_destroy(&ev);
	}
	assert_rejected("", "not a JSON object: empty input");
	assert_rejected("[1]", "not a JSON object: got an array");
	assert_rejected("{} {}", "not a JSON object: more than one JSON value");
}

static void
json_is_read_only_up_to_len(void **state)
{
	char *text = json(valid_events[ECOM_EV_ORDERFULFILLED]);
	size_t len = strlen(text);
	char *padded = malloc(len + 8);
	ecom_event ev;
	ecom_err err = {0};

	(void)state;
	assert_non_null(padded);
	/* A Kafka payload is not NUL-terminated. */
	memcpy(padded, text, len);
	memcpy(padded + len, "garbage", 8);
	assert_int_equal(ecom_event_from_json(padded, len, &ev, &err), 0);
	ecom_event_destroy(&ev);
	free(padded);
	free(text);
}

static void
wrong_event_type_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderfulfilled'", "'orderlost'",
	                     "field 'eventType': unknown event type \"orderlost\"");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderfulfilled'", "'OrderFulfilled'",
	                     "field 'eventType': unknown event type \"OrderFulfilled\"");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderfulfilled'", "'orderfulfilled\\u0000x'",
	                     "field 'eventType': unknown event type \"orderfulfilled\\u0000x\"");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderfulfilled'", "4",
	                     "field 'eventType': expected an event type name, got 4");
	/* The type decides the payload: an inventoryupdated payload is no fulfilment. */
	assert_edit_rejected(ECOM_EV_INVENTORYUPDATED, "'inventoryupdated'", "'orderfulfilled'",
	                     "missing field 'payload.orderFulfillmentDate'");
}

static void
bad_date_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate':'" DATE "'",
	                     "'eventCreatedDate':'yesterday'",
	                     "field 'eventCreatedDate': expected an ISO-8601 UTC date, got \"yesterday\"");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderFulfillmentDate':'" DATE "'",
	                     "'orderFulfillmentDate':'2026-11-27T08:00:00+01:00'",
	                     "field 'payload.orderFulfillmentDate': expected an ISO-8601 UTC date, "
	                     "got \"2026-11-27T08:00:00+01:00\"");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderFulfillmentDate':'" DATE "'",
	                     "'orderFulfillmentDate':1795766400123",
	                     "field 'payload.orderFulfillmentDate': expected an ISO-8601 UTC date, "
	                     "got 1795766400123");
	assert_edit_rejected(ECOM_EV_ORDERCREATED, "'orderShippedDate':null",
	                     "'orderShippedDate':'soon'",
	                     "field 'payload.orderShippedDate': expected null or an ISO-8601 UTC "
	                     "date, got \"soon\"");
	/* Outside the four-digit years the wire form could not print it. */
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderFulfillmentDate':'" DATE "'",
	                     "'orderFulfillmentDate':{'$date':{'$numberLong':'253402300800000'}}",
	                     "field 'payload.orderFulfillmentDate': expected an ISO-8601 UTC date, "
	                     "got a date");
	assert_edit_accepted(ECOM_EV_ORDERCREATED, "'orderShippedDate':null",
	                     "'orderShippedDate':'2026-11-29T10:00:00Z'");
	assert_edit_accepted(ECOM_EV_ORDERFULFILLED, "'orderFulfillmentDate':'" DATE "'",
	                     "'orderFulfillmentDate':{'$date':{'$numberLong':'1795766400123'}}");
}

static void
long_offending_value_is_cut_and_escaped(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderfulfilled'",
	                     "'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ'",
	                     "field 'eventType': unknown event type "
	                     "\"abcdefghijklmnopqrstuvwxyz0123456789ABCD...\"");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderfulfilled'", "'a\\\"b\\n'",
	                     "field 'eventType': unknown event type \"a\\\"b\\u000a\"");
}

static void
money_with_three_decimals_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", "'286.799'",
	                     "field 'payload.paymentAmount': expected an amount with at most two "
	                     "decimals, got \"286.799\"");
	assert_edit_rejected(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", "286.799",
	                     "field 'payload.paymentAmount': expected an amount with at most two "
	                     "decimals, got 286.799");
	assert_edit_rejected(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", "{'$numberDecimal':'286.799'}",
	                     "field 'payload.paymentAmount': expected an amount with at most two "
	                     "decimals, got 286.799");
	assert_edit_rejected(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", "true",
	                     "field 'payload.paymentAmount': expected an amount with at most two "
	                     "decimals, got true");
}

/*
 * What a store cannot hold is refused up front, naming the field, so the
 * event is dead-lettered alone instead of failing its whole batch there.
 */
static void
amount_beyond_numeric_12_2_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", "'10000000000.00'",
	                     "field 'payload.paymentAmount': expected an amount below "
	                     "10000000000.00, got \"10000000000.00\"");
	assert_edit_accepted(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", "'9999999999.99'");
}

static void
year_0000_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderFulfillmentDate':'" DATE "'",
	                     "'orderFulfillmentDate':'0000-06-01T00:00:00Z'",
	                     "field 'payload.orderFulfillmentDate': expected an ISO-8601 UTC date, "
	                     "got \"0000-06-01T00:00:00Z\"");
	assert_edit_accepted(ECOM_EV_ORDERFULFILLED, "'orderFulfillmentDate':'" DATE "'",
	                     "'orderFulfillmentDate':'0001-01-01T00:00:00Z'");
}

static void
nul_in_any_string_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'",
	                     "'note':'a\\u0000b','eventCreatedDate'",
	                     "field 'note': expected a string without NUL characters, got "
	                     "\"a\\u0000b\"");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'",
	                     "'tags':[['x\\u0000']],'eventCreatedDate'",
	                     "field 'tags.0.0': expected a string without NUL characters, got "
	                     "\"x\\u0000\"");
}

/* A path longer than the message keeps (127 bytes) is cut there, and its inner fields still checked. */
static void
long_field_paths_are_cut_in_messages(void **state)
{
	char key[61], from_edit[400], path[128];
	char expected[300];

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	/* 'k…k' (60) . 'k…k' (60) . 'k…k' (60) . '0': 183 bytes, cut to 127. */
	snprintf(from_edit, sizeof(from_edit), "'%s':{'%s':{'%s':['x\\u0000']}},'eventCreatedDate'",
	         key, key, key);
	snprintf(path, sizeof(path), "%s.%s.%s.0", key, key, key);
	snprintf(expected, sizeof(expected),
	         "field '%s': expected a string without NUL characters, got \"x\\u0000\"", path);
	assert_int_equal(strlen(path), 127);
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'", from_edit, expected);
}

static void
keys_mongodb_refuses_are_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'",
	                     "'$where':'1','eventCreatedDate'",
	                     "field '$where': key starts with '$' (MongoDB refuses it)");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'",
	                     "'a.b':1,'eventCreatedDate'",
	                     "field 'a.b': key contains '.' (MongoDB refuses it)");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'",
	                     "'':1,'eventCreatedDate'", "field '': empty key (MongoDB refuses it)");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'",
	                     "'_id':'mine','eventCreatedDate'",
	                     "field '_id': reserved (the store sets it to eventId)");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'orderFulfillmentDate'",
	                     "'extra':{'in':{'$gt':1}},'orderFulfillmentDate'",
	                     "field 'payload.extra.in.$gt': key starts with '$' (MongoDB refuses "
	                     "it)");
	/* _id is only reserved at the top. */
	assert_edit_accepted(ECOM_EV_ORDERFULFILLED, "'orderFulfillmentDate'",
	                     "'extra':{'_id':1},'orderFulfillmentDate'");
}

static void
non_finite_number_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'",
	                     "'score':{'$numberDouble':'NaN'},'eventCreatedDate'",
	                     "field 'score': expected a finite number, got nan");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'",
	                     "'score':[{'$numberDouble':'-Infinity'}],'eventCreatedDate'",
	                     "field 'score.0': expected a finite number, got -inf");
}

/* MongoDB's limit of 100 levels is the JSON reader's too. */
static void
nesting_beyond_100_levels_is_rejected(void **state)
{
	char deep[1024] = "'deep':", *text;
	ecom_event ev;
	ecom_err err = {0};
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		strcat(deep, "[");
	for (i = 0; i < 100; i++)
		strcat(deep, "]");
	strcat(deep, ",'eventCreatedDate'");
	text = event_json_with(ECOM_EV_ORDERFULFILLED, "'eventCreatedDate'", deep);
	assert_int_equal(ecom_event_from_json(text, strlen(text), &ev, &err), -1);
	assert_non_null(strstr(err.msg, "LEVELS_EXCEEDED"));
	free(text);
}

static void
negative_amount_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", "'-1.05'",
	                     "field 'payload.paymentAmount': expected a non-negative amount, "
	                     "got \"-1.05\"");
}

static void
money_as_number_13_99_is_exact(void **state)
{
	ecom_event ev;
	bson_iter_t it;
	char *text = event_json_with(ECOM_EV_ORDERCREATED, "'13.99'", "13.99");

	(void)state;
	parse_ok(text, &ev);
	find_path(&ev.doc, "payload.lineItems.0.itemPrice", &it);
	assert_int_equal(bson_iter_int64(&it), 1399);
	assert_int_equal(money_at(&ev, "orderPrice"), 28679);
	ecom_event_destroy(&ev);
	free(text);
}

static void
money_in_any_exact_form_is_accepted(void **state)
{
	static const char *const forms[] = {
		"'286.79'", "286.79", "{'$numberDecimal':'286.79'}", "{'$numberDecimal':'286.7900'}",
		"{'$numberDecimal':'2.8679E+2'}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char *text = event_json_with(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", forms[i]);
		ecom_event ev;

		parse_ok(text, &ev);
		assert_int_equal(money_at(&ev, "paymentAmount"), 28679);
		ecom_event_destroy(&ev);
		free(text);
	}
	assert_edit_accepted(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", "5");
	assert_edit_accepted(ECOM_EV_PAYMENTCOMPLETED, "'286.79'", "{'$numberLong':'5'}");
}

static void
order_price_mismatch_names_both_amounts(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERCREATED, "'286.79'", "'286.78'",
	                     "field 'payload.orderPrice': 286.78 does not equal the line items' "
	                     "total 286.79");
}

static void
line_items_must_be_a_non_empty_array_of_valid_items(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERCREATED, "'quantity':20", "'quantity':0",
	                     "field 'payload.lineItems.0.quantity': expected a whole number of at "
	                     "least 1, got 0");
	assert_edit_rejected(ECOM_EV_ORDERCREATED, "'quantity':20", "'quantity':2.5",
	                     "field 'payload.lineItems.0.quantity': expected a whole number of at "
	                     "least 1, got 2.5");
	assert_edit_rejected(ECOM_EV_ORDERCREATED, "'itemName':'widget'", "'itemName':7",
	                     "field 'payload.lineItems.0.itemName': expected a string, got 7");
	assert_edit_rejected(ECOM_EV_ORDERCREATED, "'orderIsFulfilled':false",
	                     "'orderIsFulfilled':'no'",
	                     "field 'payload.orderIsFulfilled': expected true or false, got \"no\"");
	assert_rejected("{\"eventId\":\"" ORDER_ID "\",\"eventType\":\"ordercreated\","
	                "\"eventCreatedDate\":\"" DATE "\",\"payload\":{\"orderCreatedDate\":\"" DATE
	                "\",\"orderShippedDate\":null,\"lineItems\":[],\"orderPrice\":\"0\","
	                "\"orderIsFulfilled\":false}}",
	                "field 'payload.lineItems': expected a non-empty array of line items, got []");
	assert_rejected("{\"eventId\":\"" ORDER_ID "\",\"eventType\":\"ordercreated\","
	                "\"eventCreatedDate\":\"" DATE "\",\"payload\":{\"orderCreatedDate\":\"" DATE
	                "\",\"orderShippedDate\":null,\"lineItems\":[5],\"orderPrice\":\"0\","
	                "\"orderIsFulfilled\":false}}",
	                "field 'payload.lineItems.0': expected a line item document, got 5");
	assert_edit_rejected(ECOM_EV_ORDERSHIPPED, "'shippingDays':2", "'shippingDays':-1",
	                     "field 'payload.shippingDays': expected a whole number of at least 0, "
	                     "got -1");
	assert_edit_rejected(ECOM_EV_ORDERSHIPPED, "'payload':{", "'payload':7,'x':{",
	                     "field 'payload': expected a document, got 7");
}

static void
whole_number_as_double_is_stored_as_int32(void **state)
{
	ecom_event ev;
	bson_iter_t it;
	char *text = event_json_with(ECOM_EV_ORDERSHIPPED, "'shippingDays':2", "'shippingDays':2.0");

	(void)state;
	parse_ok(text, &ev);
	find_path(&ev.doc, "payload.shippingDays", &it);
	assert_true(BSON_ITER_HOLDS_INT32(&it));
	assert_int_equal(bson_iter_int32(&it), 2);
	ecom_event_destroy(&ev);
	free(text);
}

static void
duplicate_required_field_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERSHIPPED, "'shippingDays':2",
	                     "'shippingDays':2,'shippingDays':3",
	                     "duplicate field 'payload.shippingDays'");
}

static void
uppercase_uuid_is_lowercased(void **state)
{
	ecom_event ev;
	bson_iter_t it;
	char *text = event_json_with(ECOM_EV_ORDERFULFILLED, ORDER_ID,
	                             "3F0C2A9E-6F1B-4C1E-9A57-2D0B8A1E4C11");

	(void)state;
	parse_ok(text, &ev);
	assert_string_equal(ev.event_id, ORDER_ID);
	find_path(&ev.doc, "eventId", &it);
	assert_string_equal(bson_iter_utf8(&it, NULL), ORDER_ID);
	ecom_event_destroy(&ev);
	free(text);
}

static void
invalid_uuid_is_rejected(void **state)
{
	(void)state;
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'" ORDER_ID "'", "'order-1'",
	                     "field 'eventId': expected a UUID, got \"order-1\"");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'" ORDER_ID "'",
	                     "'3f0c2a9e-6f1b-4c1e-9a57-2d0b8a1e4c1g'",
	                     "field 'eventId': expected a UUID, got "
	                     "\"3f0c2a9e-6f1b-4c1e-9a57-2d0b8a1e4c1g\"");
	assert_edit_rejected(ECOM_EV_ORDERFULFILLED, "'" ORDER_ID "'", "null",
	                     "field 'eventId': expected a UUID, got null");
}

static void
date_parse_and_format_edge_cases(void **state)
{
	static const struct {
		const char *text;
		const char *formatted;
	} good[] = {
		{"2026-11-27T08:00:00.123Z", "2026-11-27T08:00:00.123Z"},
		{"2026-11-27T08:00:00Z", "2026-11-27T08:00:00.000Z"},
		{"2026-11-27T08:00:00.1Z", "2026-11-27T08:00:00.100Z"},
		{"2026-11-27T08:00:00.123456789Z", "2026-11-27T08:00:00.123Z"},
		{"2026-11-27T08:00:00.999999999Z", "2026-11-27T08:00:00.999Z"},
		{"2026-11-27T08:00:00+00:00", "2026-11-27T08:00:00.000Z"},
		{"2028-02-29T00:00:00Z", "2028-02-29T00:00:00.000Z"},
		{"2000-02-29T12:34:56Z", "2000-02-29T12:34:56.000Z"},
		{"1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"},
		{"1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"},
		{"9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"},
	};
	static const char *const bad[] = {
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-27T24:00:00Z",
		"2026-11-27T08:60:00Z", "2026-11-27T08:00:60Z", "2026-11-27T08:00:00",
		"2026-11-27T08:00:00.Z", "2026-11-27T08:00:00.1234567890Z", "2026-11-27T08:00:00+01:00",
		"2026-11-27T08:00:00-00:00", "2026-11-27 08:00:00Z", "2026-11-27t08:00:00z",
		"2026-11-27T08:00:00ZZ", "2026-11-27", "26-11-27T08:00:00Z", "", "yesterday",
	};
	char buf[32];
	int64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (ecom_parse_iso8601(good[i].text, &ms) < 0)
			fail_msg("rejected '%s'", good[i].text);
		ecom_format_iso8601(ms, buf, sizeof(buf));
		assert_string_equal(buf, good[i].formatted);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ecom_parse_iso8601(bad[i], &ms) == 0)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(ecom_parse_iso8601(DATE, &ms), 0);
	assert_int_equal(ms, DATE_MS);
	assert_int_equal(ecom_parse_iso8601("2028-02-29T00:00:00Z", &ms), 0);
	assert_int_equal(ms, INT64_C(1835395200000));
	ecom_format_iso8601(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	ecom_format_iso8601(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
}

/* Dates across years 1 to 9999 as strftime writes them, and a short buffer cut as snprintf cuts. */
static void
date_format_matches_strftime(void **state)
{
	const int64_t first = INT64_C(-62135596800000), last = INT64_C(253402300799999);
	uint64_t x = 88172645463325252ULL;
	char buf[32], want[32], shorter[10];
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		int64_t ms;
		time_t t;
		struct tm tm;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		ms = i == 0 ? first : i == 1 ? last : first + (int64_t)(x % (uint64_t)(last - first));
		t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
		assert_non_null(gmtime_r(&t, &tm));
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
		/* %Y does not pad years below 1000: pad it here. */
		snprintf(buf, sizeof(buf), "%04d%s.%03dZ", tm.tm_year + 1900, strchr(want, '-'),
		         (int)(ms - (int64_t)t * 1000));
		memcpy(want, buf, sizeof(want));
		ecom_format_iso8601(ms, buf, sizeof(buf));
		assert_string_equal(buf, want);
	}
	ecom_format_iso8601(0, shorter, sizeof(shorter));
	assert_string_equal(shorter, "1970-01-0");
}

static void
money_parse_and_format(void **state)
{
	static const struct {
		const char *text;
		int64_t cents;
	} good[] = {
		{"0.05", 5},
		{"1.5", 150},
		{"279.8", 27980},
		{"279.80", 27980},
		{"5", 500},
		{"0", 0},
		{"-1.05", -105},
		{"92233720368547758.07", INT64_MAX},
		{"-92233720368547758.08", INT64_MIN},
	};
	static const char *const bad[] = {
		"13.999", "", "-", ".", "1.", ".5", "1,5", " 1", "1 ", "+1", "abc", "1e2", "0x10",
		"92233720368547758.08", "--1",
	};
	static const struct {
		int64_t cents;
		const char *text;
	} formatted[] = {
		{5, "0.05"},    {-105, "-1.05"},   {0, "0.00"},
		{27980, "279.80"}, {-5, "-0.05"}, {INT64_MIN, "-92233720368547758.08"},
	};
	char buf[32];
	int64_t cents;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (ecom_parse_money(good[i].text, &cents) < 0)
			fail_msg("rejected '%s'", good[i].text);
		assert_int_equal(cents, good[i].cents);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ecom_parse_money(bad[i], &cents) == 0)
			fail_msg("accepted '%s'", bad[i]);
	}
	for (i = 0; i < sizeof(formatted) / sizeof(formatted[0]); i++) {
		ecom_format_money(formatted[i].cents, buf, sizeof(buf));
		assert_string_equal(buf, formatted[i].text);
	}
}

static void
event_type_names_round_trip(void **state)
{
	ecom_event_type type;
	int t;

	(void)state;
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		assert_int_equal(ecom_event_type_from_name(ecom_event_type_name((ecom_event_type)t), &type),
		                 0);
		assert_int_equal(type, t);
	}
	assert_string_equal(ecom_event_type_name(ECOM_EV_ORDERSHIPPED), "ordershipped");
	assert_int_equal(ecom_event_type_from_name("orderlost", &type), -1);
	assert_null(ecom_event_type_name(ECOM_EV_COUNT));
}

static void
destroy_is_safe_on_zeroed_failed_and_destroyed_events(void **state)
{
	ecom_event ev;
	ecom_err err = {0};
	int64_t cents;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ecom_event_destroy(&ev);
	assert_int_equal(ecom_event_money_cents(&ev, "orderPrice", &cents), -1);
	assert_int_equal(ecom_event_from_json("{", 1, &ev, &err), -1);
	ecom_event_destroy(&ev);
	assert_int_equal(ecom_event_new_order(&ev, DATE_MS, &err), 0);
	ecom_event_destroy(&ev);
	ecom_event_destroy(&ev);
}

static void
corrupt_bson_is_rejected(void **state)
{
	/* {"a": "x"} with the string's length claiming 200 bytes. */
	static const uint8_t bytes[] = {0x0e, 0, 0, 0, 0x02, 'a', 0, 200, 0, 0, 0, 'x', 0, 0};
	bson_t doc;
	ecom_event ev;
	ecom_err err = {0};

	(void)state;
	assert_true(bson_init_static(&doc, bytes, sizeof(bytes)));
	assert_int_equal(ecom_event_from_bson(&doc, &ev, &err), -1);
	assert_non_null(strstr(err.msg, "corrupt BSON"));
	ecom_event_destroy(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_order_has_four_items_and_price_371_58),
		cmocka_unit_test(new_orders_have_fresh_ids_and_stable_inventory_ids),
		cmocka_unit_test(next_chain_keeps_event_id_through_all_five_and_ends_at_orderfulfilled),
		cmocka_unit_test(payment_amount_equals_order_price),
		cmocka_unit_test(json_round_trip_is_identical_for_every_type),
		cmocka_unit_test(wire_form_has_iso_dates_and_two_decimal_strings),
		cmocka_unit_test(store_form_has_bson_dates_and_int64_cents),
		cmocka_unit_test(unknown_fields_are_kept_in_place),
		cmocka_unit_test(event_type_may_come_after_payload),
		cmocka_unit_test(each_missing_required_field_is_named),
		cmocka_unit_test(malformed_json_is_rejected),
		cmocka_unit_test(json_is_read_only_up_to_len),
		cmocka_unit_test(wrong_event_type_is_rejected),
		cmocka_unit_test(bad_date_is_rejected),
		cmocka_unit_test(long_offending_value_is_cut_and_escaped),
		cmocka_unit_test(money_with_three_decimals_is_rejected),
		cmocka_unit_test(negative_amount_is_rejected),
		cmocka_unit_test(amount_beyond_numeric_12_2_is_rejected),
		cmocka_unit_test(year_0000_is_rejected),
		cmocka_unit_test(nul_in_any_string_is_rejected),
		cmocka_unit_test(long_field_paths_are_cut_in_messages),
		cmocka_unit_test(keys_mongodb_refuses_are_rejected),
		cmocka_unit_test(non_finite_number_is_rejected),
		cmocka_unit_test(nesting_beyond_100_levels_is_rejected),
		cmocka_unit_test(money_as_number_13_99_is_exact),
		cmocka_unit_test(money_in_any_exact_form_is_accepted),
		cmocka_unit_test(order_price_mismatch_names_both_amounts),
		cmocka_unit_test(line_items_must_be_a_non_empty_array_of_valid_items),
		cmocka_unit_test(whole_number_as_double_is_stored_as_int32),
		cmocka_unit_test(duplicate_required_field_is_rejected),
		cmocka_unit_test(uppercase_uuid_is_lowercased),
		cmocka_unit_test(invalid_uuid_is_rejected),
		cmocka_unit_test(date_parse_and_format_edge_cases),
		cmocka_unit_test(date_format_matches_strftime),
		cmocka_unit_test(money_parse_and_format),
		cmocka_unit_test(event_type_names_round_trip),
		cmocka_unit_test(destroy_is_safe_on_zeroed_failed_and_destroyed_events),
		cmocka_unit_test(corrupt_bson_is_rejected),
	};

	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
