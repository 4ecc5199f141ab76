/*
 * Unit tests of ecom_wire: the Spring Boot application's wire form and
 * ecom's, on the application's own messages (tests/data/spring-wire, as
 * kcat captured them from its topics) and on ecom's generated orders.
 *
 * Oracles: the captured JSON itself (application → ecom → application
 * must give it back), the figures the issue gives (371.58 is 37158
 * cents, ids 1 to 4, 5.0 shipping days), and ecom's own event (ecom →
 * application → ecom must give it back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "ecom_wire.h"

#define ORDER_ID "3f0c2a9e-6f1b-4c1e-9a57-2d0b8a1e4c11"
#define CAPTURED_PER_TOPIC 5

/* The headers of one message, for ecom_event_from_wire(). */
typedef struct headers {
	const char *names[4];
	const char *values[4];
	size_t n;
} headers;

static const char *
lookup(const void *ctx, const char *name, size_t *len)
{
	const headers *h = ctx;
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (strcmp(h->names[i], name) == 0) {
			*len = strlen(h->values[i]);
			return h->values[i];
		}
	}
	return NULL;
}

/* One kcat -J envelope: topic, headers, key and the payload string. */
typedef struct envelope {
	bson_t doc;
	const char *topic;
	const char *payload;
	uint32_t payload_len;
	bool key_null;
	headers hdrs;
} envelope;

static void
envelope_parse(const char *line, envelope *e)
{
	bson_error_t error;
	bson_iter_t it, h;

	memset(e, 0, sizeof(*e));
	if (!bson_init_from_json(&e->doc, line, -1, &error))
		fail_msg("envelope: %s", error.message);
	assert_true(bson_iter_init_find(&it, &e->doc, "topic"));
	e->topic = bson_iter_utf8(&it, NULL);
	assert_true(bson_iter_init_find(&it, &e->doc, "payload"));
	e->payload = bson_iter_utf8(&it, &e->payload_len);
	assert_true(bson_iter_init_find(&it, &e->doc, "key"));
	e->key_null = BSON_ITER_HOLDS_NULL(&it);
	assert_true(bson_iter_init_find(&it, &e->doc, "headers"));
	assert_true(bson_iter_recurse(&it, &h));
	while (bson_iter_next(&h) && e->hdrs.n < 4) {
		e->hdrs.names[e->hdrs.n] = bson_iter_utf8(&h, NULL);
		assert_true(bson_iter_next(&h));
		e->hdrs.values[e->hdrs.n++] = bson_iter_utf8(&h, NULL);
	}
}

static FILE *
open_capture(ecom_event_type type)
{
	const char *srcdir = getenv("ECOM_SRCDIR");
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/spring-wire/%s.jsonl", srcdir ? srcdir : ".",
	         ecom_event_type_name(type));
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	return f;
}

static double
number(const bson_iter_t *it)
{
	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
		return bson_iter_int32(it);
	case BSON_TYPE_INT64:
		return (double)bson_iter_int64(it);
	default:
		return bson_iter_double(it);
	}
}

static bool
is_number(const bson_iter_t *it)
{
	return BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it) || BSON_ITER_HOLDS_DOUBLE(it);
}

/*
 * The same JSON: the same members in any order, numbers compared as
 * numbers.  A double is the same number when it is the same amount to
 * the 1e-12th: 371.58000000000004 (the application's sum) and 371.58
 * (ecom's exact cents, printed) are the same money.
 */
static void
assert_same_json(const bson_t *a, const bson_t *b, const char *where)
{
	bson_iter_t ia, ib;
	uint32_t na = 0, nb = 0;

	assert_true(bson_iter_init(&ib, b));
	while (bson_iter_next(&ib))
		nb++;
	assert_true(bson_iter_init(&ia, a));
	while (bson_iter_next(&ia)) {
		const char *key = bson_iter_key(&ia);

		na++;
		if (!bson_iter_init_find(&ib, b, key))
			fail_msg("%s: '%s' missing", where, key);
		if (is_number(&ia) && is_number(&ib)) {
			double x = number(&ia), y = number(&ib);

			if (fabs(x - y) > 1e-12 * fmax(1.0, fabs(x)))
				fail_msg("%s: '%s' %.17g != %.17g", where, key, x, y);
			/* 5.0 stays a double, 20 stays an integer. */
			assert_int_equal(BSON_ITER_HOLDS_DOUBLE(&ia), BSON_ITER_HOLDS_DOUBLE(&ib));
		} else if ((BSON_ITER_HOLDS_DOCUMENT(&ia) && BSON_ITER_HOLDS_DOCUMENT(&ib)) ||
		           (BSON_ITER_HOLDS_ARRAY(&ia) && BSON_ITER_HOLDS_ARRAY(&ib))) {
			uint32_t la, lb;
			const uint8_t *da, *db;
			bson_t ca, cb;

			if (BSON_ITER_HOLDS_ARRAY(&ia)) {
				bson_iter_array(&ia, &la, &da);
				bson_iter_array(&ib, &lb, &db);
			} else {
				bson_iter_document(&ia, &la, &da);
				bson_iter_document(&ib, &lb, &db);
			}
			assert_true(bson_init_static(&ca, da, la));
			assert_true(bson_init_static(&cb, db, lb));
			assert_same_json(&ca, &cb, key);
		} else {
			const bson_value_t *va = bson_iter_value(&ia), *vb = bson_iter_value(&ib);

			assert_int_equal(va->value_type, vb->value_type);
			if (va->value_type == BSON_TYPE_UTF8)
				assert_string_equal(va->value.v_utf8.str, vb->value.v_utf8.str);
			else if (va->value_type == BSON_TYPE_BOOL)
				assert_int_equal(va->value.v_bool, vb->value.v_bool);
		}
	}
	if (na != nb)
		fail_msg("%s: %u members, then %u", where, na, nb);
}

static void
parse_json(const char *text, ssize_t len, bson_t *doc)
{
	bson_error_t error;

	if (!bson_init_from_json(doc, text, len, &error))
		fail_msg("not JSON (%s): %s", error.message, text);
}

static int64_t
path_int64(const ecom_event *ev, const char *path)
{
	bson_iter_t it, found;

	assert_true(bson_iter_init(&it, &ev->doc));
	if (!bson_iter_find_descendant(&it, path, &found))
		fail_msg("no '%s'", path);
	if (BSON_ITER_HOLDS_DATE_TIME(&found))
		return bson_iter_date_time(&found);
	return (int64_t)number(&found);
}

/* What the converted event must hold, by the captured message's own values. */
static void
check_converted(const ecom_event *ev, const bson_t *app)
{
	bson_iter_t it;
	int64_t cents;

	assert_true(bson_iter_init_find(&it, app, "eventCreatedDate"));
	assert_int_equal(ev->created_ms, bson_iter_int64(&it));
	switch (ev->type) {
	case ECOM_EV_ORDERCREATED:
		assert_int_equal(ecom_event_money_cents(ev, "orderPrice", &cents), 0);
		assert_int_equal(cents, 37158);
		assert_int_equal(path_int64(ev, "payload.lineItems.3.itemInventoryId"), 4);
		assert_int_equal(path_int64(ev, "payload.lineItems.0.itemPrice"), 1399);
		assert_true(bson_iter_init(&it, &ev->doc));
		assert_true(bson_iter_find_descendant(&it, "payload.orderIsFulfilled", &it));
		assert_false(bson_iter_bool(&it));
		break;
	case ECOM_EV_PAYMENTCOMPLETED:
		assert_int_equal(ecom_event_money_cents(ev, "paymentAmount", &cents), 0);
		assert_int_equal(cents, 37158);
		break;
	case ECOM_EV_INVENTORYUPDATED:
		assert_true(bson_iter_init(&it, (const bson_t *)app));
		assert_true(bson_iter_find_descendant(&it, "payload.inventoryUpdateCompleDate", &it));
		assert_int_equal(path_int64(ev, "payload.inventoryUpdateCompletedDate"),
		                 bson_iter_int64(&it));
		break;
	case ECOM_EV_ORDERSHIPPED:
		assert_int_equal(path_int64(ev, "payload.shippingDays"), 5);
		break;
	default:
		break;
	}
}

static void
captured_messages_convert_both_ways(void **state)
{
	int t;

	(void)state;
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		FILE *f = open_capture((ecom_event_type)t);
		char line[8192];
		int n = 0;

		while (fgets(line, sizeof(line), f) != NULL) {
			envelope e;
			ecom_event ev, again;
			ecom_wire form;
			ecom_err err = {0};
			const char *type_id;
			bson_t app, back;
			size_t len;
			char *text;

			envelope_parse(line, &e);
			assert_true(e.key_null);
			if (ecom_event_from_wire(e.payload, e.payload_len, e.topic, lookup, &e.hdrs,
			                         ECOM_EV_COUNT, &ev, &form, &err) < 0)
				fail_msg("%s: %s", e.topic, err.msg);
			assert_int_equal(form, ECOM_WIRE_SPRING);
			assert_int_equal(ev.type, t);
			parse_json(e.payload, e.payload_len, &app);
			check_converted(&ev, &app);

			/* application → ecom → application */
			text = ecom_event_to_wire(&ev, ECOM_WIRE_SPRING, &len, &type_id);
			assert_non_null(text);
			assert_string_equal(type_id, e.hdrs.values[0]);
			assert_null(strstr(text, "\" : ")); /* compact, as Jackson writes */
			parse_json(text, (ssize_t)len, &back);
			assert_same_json(&app, &back, e.topic);

			/* ecom → application → ecom */
			if (ecom_event_from_spring_json(text, len, ev.type, &again, &err) < 0)
				fail_msg("%s back: %s", e.topic, err.msg);
			assert_true(bson_equal(&ev.doc, &again.doc));
			assert_string_equal(ev.event_id, again.event_id);
			assert_int_equal(ev.created_ms, again.created_ms);

			bson_free(text);
			bson_destroy(&app);
			bson_destroy(&back);
			bson_destroy(&e.doc);
			ecom_event_destroy(&ev);
			ecom_event_destroy(&again);
			n++;
		}
		fclose(f);
		assert_int_equal(n, CAPTURED_PER_TOPIC);
	}
}

/* Every captured message with its header alone, and with its topic alone, gets its type. */
static void
type_comes_from_header_else_topic(void **state)
{
	FILE *f = open_capture(ECOM_EV_ORDERSHIPPED);
	char line[8192];
	envelope e;
	ecom_event ev;
	ecom_err err = {0};
	headers none = {{NULL}, {NULL}, 0};
	headers other = {{"__TypeId__"}, {"com.dbm.main.mongo.model.OrderCreatedEvent"}, 1};

	(void)state;
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	envelope_parse(line, &e);
	/* The topic alone: a prefixed topic ends with the name. */
	assert_int_equal(ecom_event_from_wire(e.payload, e.payload_len, "run1-ordershipped", lookup,
	                                      &none, ECOM_EV_COUNT, &ev, NULL, &err),
	                 0);
	assert_int_equal(ev.type, ECOM_EV_ORDERSHIPPED);
	ecom_event_destroy(&ev);
	/* The header wins over the topic; the payload then does not fit the class. */
	assert_int_equal(ecom_event_from_wire(e.payload, e.payload_len, "ordershipped", lookup, &other,
	                                      ECOM_EV_COUNT, &ev, NULL, &err),
	                 -1);
	assert_string_equal(err.msg, "missing field 'payload.orderCreatedDate'");
	/* Neither: the caller's expected type. */
	assert_int_equal(ecom_event_from_wire(e.payload, e.payload_len, NULL, NULL, NULL,
	                                      ECOM_EV_ORDERSHIPPED, &ev, NULL, &err),
	                 0);
	ecom_event_destroy(&ev);
	assert_int_equal(ecom_event_from_wire(e.payload, e.payload_len, "orders", lookup, &none,
	                                      ECOM_EV_COUNT, &ev, NULL, &err),
	                 -1);
	assert_string_equal(err.msg, "missing field 'eventType' (and no '__TypeId__' header or "
	                             "topic to tell the type)");
	bson_destroy(&e.doc);
}

/* One of each of ecom's events: generated, then chained. */
static void
make_chain(ecom_event chain[ECOM_EV_COUNT])
{
	ecom_err err = {0};
	int t;

	assert_int_equal(ecom_event_new_order(&chain[0], INT64_C(1795811045385), &err), 0);
	for (t = 1; t < ECOM_EV_COUNT; t++)
		assert_int_equal(ecom_event_next(&chain[t - 1], &chain[t], INT64_C(1795811046000) + t, &err),
		                 0);
}

/*
 * ecom → application → ecom gives the same event; the one change is the
 * one the application's form makes: item ids "1" to "4" become the
 * numbers 1 to 4, which read back as numbers and then stay as they are.
 */
static void
ecom_events_convert_both_ways(void **state)
{
	ecom_event chain[ECOM_EV_COUNT];
	int t;

	(void)state;
	make_chain(chain);
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		ecom_event once, twice;
		ecom_err err = {0};
		const char *type_id;
		size_t len, len2;
		char *text = ecom_event_to_wire(&chain[t], ECOM_WIRE_SPRING, &len, &type_id), *text2;

		assert_non_null(text);
		assert_non_null(strstr(type_id, "com.dbm.main.mongo.model."));
		assert_null(strstr(text, "eventType"));
		assert_non_null(strstr(text, "{\"id\":null,\"eventId\":\""));
		if (ecom_event_from_spring_json(text, len, chain[t].type, &once, &err) < 0)
			fail_msg("%s: %s", text, err.msg);
		assert_string_equal(once.event_id, chain[t].event_id);
		assert_int_equal(once.created_ms, chain[t].created_ms);
		if (t == ECOM_EV_ORDERCREATED) {
			assert_non_null(strstr(text, "\"itemInventoryId\":1,"));
			assert_non_null(strstr(text, "\"orderPrice\":371.58,\"orderIsFullfilled\":false"));
			assert_int_equal(path_int64(&once, "payload.lineItems.1.itemInventoryId"), 2);
		} else {
			assert_true(bson_equal(&once.doc, &chain[t].doc));
		}
		if (t == ECOM_EV_ORDERSHIPPED)
			assert_non_null(strstr(text, "\"shippingDays\":2.0}"));
		if (t == ECOM_EV_INVENTORYUPDATED)
			assert_non_null(strstr(text, "\"inventoryUpdateCompleDate\":1795811046002}"));
		/* And from there on, exactly. */
		text2 = ecom_event_to_wire(&once, ECOM_WIRE_SPRING, &len2, NULL);
		assert_string_equal(text, text2);
		assert_int_equal(ecom_event_from_spring_json(text2, len2, once.type, &twice, &err), 0);
		assert_true(bson_equal(&once.doc, &twice.doc));
		bson_free(text);
		bson_free(text2);
		ecom_event_destroy(&once);
		ecom_event_destroy(&twice);
	}
	for (t = 0; t < ECOM_EV_COUNT; t++)
		ecom_event_destroy(&chain[t]);
}

/* ecom's own form still reads, through the same entry point, and says so. */
static void
ecom_form_reads_through_the_same_entry(void **state)
{
	ecom_event chain[ECOM_EV_COUNT], ev;
	ecom_wire form;
	ecom_err err = {0};
	size_t len;
	char *text;

	(void)state;
	make_chain(chain);
	text = ecom_event_to_wire(&chain[1], ECOM_WIRE_ECOM, &len, NULL);
	assert_int_equal(ecom_event_from_wire(text, len, "ordercreated", NULL, NULL, ECOM_EV_COUNT, &ev,
	                                      &form, &err),
	                 0);
	assert_int_equal(form, ECOM_WIRE_ECOM);
	assert_true(bson_equal(&ev.doc, &chain[1].doc));
	bson_free(text);
	ecom_event_destroy(&ev);
	for (int t = 0; t < ECOM_EV_COUNT; t++)
		ecom_event_destroy(&chain[t]);
}

/* The application's first payment with `from` replaced by `to`. */
static const char payment[] =
    "{\"id\":null,\"eventId\":\"" ORDER_ID "\",\"eventCreatedDate\":1795811045904,"
    "\"payload\":{\"paymentCompletedDate\":1795811045904,\"paymentAmount\":371.58000000000004}}";

static int
convert_edited(ecom_event_type type, const char *json, const char *from, const char *to,
               ecom_err *err)
{
	char text[2048];
	const char *at = strstr(json, from);
	ecom_event ev;
	int rc;

	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
	rc = ecom_event_from_spring_json(text, strlen(text), type, &ev, err);
	ecom_event_destroy(&ev);
	return rc;
}

static void
bad_conversions_are_refused_naming_the_field(void **state)
{
	static const struct {
		const char *from, *to, *message;
	} cases[] = {
		{"371.58000000000004", "371.585",
		 "field 'payload.paymentAmount': expected an amount in whole cents, got 371.585"},
		{"371.58000000000004", "371.5801",
		 "field 'payload.paymentAmount': expected an amount in whole cents, got 371.5801"},
		{"371.58000000000004", "1e300",
		 "field 'payload.paymentAmount': expected an amount below 10000000000.00, got 1e+300"},
		{"371.58000000000004", "10000000000.0",
		 "field 'payload.paymentAmount': expected an amount below 10000000000.00, got 1e+10"},
		{"\"eventCreatedDate\":1795811045904", "\"eventCreatedDate\":253402300800000",
		 "field 'eventCreatedDate': expected epoch milliseconds in the years 0001 to 9999, got "
		 "253402300800000"},
		{"\"paymentCompletedDate\":1795811045904", "\"paymentCompletedDate\":-62135596800001",
		 "field 'payload.paymentCompletedDate': expected epoch milliseconds in the years 0001 to "
		 "9999, got -62135596800001"},
		{"\"paymentCompletedDate\":1795811045904", "\"paymentCompletedDate\":1.5",
		 "field 'payload.paymentCompletedDate': expected epoch milliseconds in the years 0001 to "
		 "9999, got 1.5"},
		{"\"eventId\":\"" ORDER_ID "\",", "", "missing field 'eventId'"},
		{"\"eventId\":\"" ORDER_ID "\",", "\"eventId\":\"x\",\"eventId\":\"" ORDER_ID "\",",
		 "field 'eventId': expected a UUID, got \"x\""},
		{"\"paymentAmount\":371.58000000000004", "\"paymentAmount\":\"a lot\"",
		 "field 'payload.paymentAmount': expected an amount with at most two decimals, got \"a lot\""},
		{"371.58000000000004", "-1.0",
		 "field 'payload.paymentAmount': expected a non-negative amount, got -1.0"},
	};
	ecom_err err = {0};
	size_t i;

	(void)state;
	/* The captured amount itself, and float noise on either side, are taken. */
	assert_int_equal(convert_edited(ECOM_EV_PAYMENTCOMPLETED, payment, "371.58000000000004",
	                                "371.57999999999996", &err),
	                 0);
	assert_int_equal(convert_edited(ECOM_EV_PAYMENTCOMPLETED, payment, "371.58000000000004",
	                                "371.58000000000004", &err),
	                 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    convert_edited(ECOM_EV_PAYMENTCOMPLETED, payment, cases[i].from, cases[i].to, &err),
		    -1);
		assert_string_equal(err.msg, cases[i].message);
	}
}

static void
bad_line_items_and_headers_are_refused(void **state)
{
	FILE *f = open_capture(ECOM_EV_ORDERCREATED);
	char line[8192];
	envelope e;
	ecom_event ev;
	ecom_err err = {0};
	headers unknown = {{"__TypeId__"}, {"com.dbm.main.mongo.model.OrderCancelledEvent"}, 1};
	headers control = {{"__TypeId__"}, {"x\ny"}, 1};

	(void)state;
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	envelope_parse(line, &e);
	assert_int_equal(convert_edited(ECOM_EV_ORDERCREATED, e.payload, "\"itemPrice\":3.99",
	                                "\"itemPrice\":3.999", &err),
	                 -1);
	assert_string_equal(err.msg, "field 'payload.lineItems.1.itemPrice': expected an amount in "
	                             "whole cents, got 3.999");
	assert_int_equal(convert_edited(ECOM_EV_ORDERCREATED, e.payload, "\"itemInventoryId\":2",
	                                "\"itemInventoryId\":2.5", &err),
	                 -1);
	assert_string_equal(err.msg, "field 'payload.lineItems.1.itemInventoryId': expected a string or "
	                             "a whole number, got 2.5");
	assert_int_equal(ecom_event_from_wire(e.payload, e.payload_len, "ordercreated", lookup,
	                                      &unknown, ECOM_EV_COUNT, &ev, NULL, &err),
	                 -1);
	assert_string_equal(err.msg, "header '__TypeId__': unknown class "
	                             "'com.dbm.main.mongo.model.OrderCancelledEvent'");
	assert_int_equal(ecom_event_from_wire(e.payload, e.payload_len, "ordercreated", lookup,
	                                      &control, ECOM_EV_COUNT, &ev, NULL, &err),
	                 -1);
	assert_string_equal(err.msg, "header '__TypeId__': unknown class");
	bson_destroy(&e.doc);
}

static void
names_and_type_ids_round_trip(void **state)
{
	ecom_wire wire;
	ecom_event_type type;
	int t;

	(void)state;
	assert_int_equal(ecom_wire_from_name("spring", &wire), 0);
	assert_int_equal(wire, ECOM_WIRE_SPRING);
	assert_string_equal(ecom_wire_name(wire), "spring");
	assert_int_equal(ecom_wire_from_name("ecom", &wire), 0);
	assert_int_equal(wire, ECOM_WIRE_ECOM);
	assert_int_equal(ecom_wire_from_name("Spring", &wire), -1);
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		const char *id = ecom_wire_type_id((ecom_event_type)t);

		assert_int_equal(ecom_wire_type_from_id(id, strlen(id), &type), 0);
		assert_int_equal(type, t);
	}
	assert_string_equal(ecom_wire_type_id(ECOM_EV_ORDERFULFILLED),
	                    "com.dbm.main.mongo.model.OrderFulfillmentEvent");
	assert_int_equal(ecom_wire_type_from_id("com.dbm.main.mongo.model.OrderCreatedEventX", 43, &type),
	                 -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(captured_messages_convert_both_ways),
		cmocka_unit_test(type_comes_from_header_else_topic),
		cmocka_unit_test(ecom_events_convert_both_ways),
		cmocka_unit_test(ecom_form_reads_through_the_same_entry),
		cmocka_unit_test(bad_conversions_are_refused_naming_the_field),
		cmocka_unit_test(bad_line_items_and_headers_are_refused),
		cmocka_unit_test(names_and_type_ids_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
