/*
 * ecom's event and the Spring Boot application's wire form (ecom_wire.h).
 *
 * Reading converts the application's document into ecom's store form
 * (dates as BSON dates, money as int64 cents) and hands it to the one
 * validator, so both forms are checked by the same rules.  Writing
 * converts the store form into the application's document and prints it
 * as Jackson does: compact, doubles in their shortest form ("371.58",
 * "5.0"), which libbson's printer ("371.57999999999998408") is not.
 */
#include "ecom_wire.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_event_impl.h"
#include "ecom_time.h"

#define SPRING_PACKAGE "com.dbm.main.mongo.model."

/* A double is money when within this many cents of a whole number of cents (see ecom_wire.h). */
#define CENT_TOLERANCE 1e-3
/* Beyond 2^53 cents a double no longer holds every whole number of cents. */
#define DOUBLE_CENTS_LIMIT 9007199254740992.0
/* A __TypeId__ is quoted in messages up to this many bytes. */
#define TYPE_ID_QUOTE 100

static const char *const type_ids[ECOM_EV_COUNT] = {
	SPRING_PACKAGE "OrderCreatedEvent",     SPRING_PACKAGE "PaymentCompletedEvent",
	SPRING_PACKAGE "InventoryUpdatedEvent", SPRING_PACKAGE "OrderShippedEvent",
	SPRING_PACKAGE "OrderFulfillmentEvent",
};

/* The application's spellings of two payload fields. */
static const struct rename {
	ecom_event_type type;
	const char *spring;
	const char *ecom;
} renames[] = {
	{ECOM_EV_ORDERCREATED, "orderIsFullfilled", "orderIsFulfilled"},
	{ECOM_EV_INVENTORYUPDATED, "inventoryUpdateCompleDate", "inventoryUpdateCompletedDate"},
};

int
ecom_wire_from_name(const char *name, ecom_wire *wire)
{
	if (strcmp(name, "ecom") == 0)
		*wire = ECOM_WIRE_ECOM;
	else if (strcmp(name, "spring") == 0)
		*wire = ECOM_WIRE_SPRING;
	else
		return -1;
	return 0;
}

const char *
ecom_wire_name(ecom_wire wire)
{
	return wire == ECOM_WIRE_SPRING ? "spring" : "ecom";
}

ecom_wire
ecom_config_wire(const ecom_config *cfg)
{
	ecom_wire wire = ECOM_WIRE_ECOM;

	if (cfg->wire != NULL)
		(void)ecom_wire_from_name(cfg->wire, &wire);
	return wire;
}

const char *
ecom_wire_type_id(ecom_event_type type)
{
	return (unsigned)type < ECOM_EV_COUNT ? type_ids[type] : NULL;
}

int
ecom_wire_type_from_id(const char *type_id, size_t len, ecom_event_type *type)
{
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++) {
		if (strlen(type_ids[t]) == len && memcmp(type_ids[t], type_id, len) == 0) {
			*type = (ecom_event_type)t;
			return 0;
		}
	}
	return -1;
}

static const char *
rename_field(ecom_event_type type, const char *key, bool to_ecom)
{
	size_t i;

	for (i = 0; i < SPEC_COUNT(renames); i++) {
		if (renames[i].type == type && strcmp(to_ecom ? renames[i].spring : renames[i].ecom, key) == 0)
			return to_ecom ? renames[i].ecom : renames[i].spring;
	}
	return key;
}

/* The shortest text that reads back as d, as Java prints it: "371.58", "5.0". */
static void
format_double(double d, char *buf, size_t size)
{
	int precision;

	for (precision = 1; precision <= 17; precision++) {
		snprintf(buf, size, "%.*g", precision, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (strpbrk(buf, ".eEn") == NULL)
		snprintf(buf + strlen(buf), size - strlen(buf), ".0");
}

/* ---- application → ecom ---- */

/* Where a field is, for messages: "payload.lineItems.0.itemPrice". */
struct spring_read {
	ecom_event_type type;
	ecom_err *err;
	char path[128];
};

static int
read_error(struct spring_read *r, const char *expected, const bson_iter_t *it)
{
	char got[64];

	if (BSON_ITER_HOLDS_DOUBLE(it))
		format_double(bson_iter_double(it), got, sizeof(got));
	else if (BSON_ITER_HOLDS_INT64(it))
		snprintf(got, sizeof(got), "%" PRId64, bson_iter_int64(it));
	else
		snprintf(got, sizeof(got), "%" PRId32, bson_iter_int32(it));
	return ecom_err_set(r->err, "field '%s': expected %s, got %s", r->path, expected, got);
}

static bool
holds_number(const bson_iter_t *it)
{
	return BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it) || BSON_ITER_HOLDS_DOUBLE(it);
}

/* Epoch milliseconds into a BSON date; a number out of range is refused. */
static int
read_date(struct spring_read *r, const bson_iter_t *in, const char *key, bson_t *out)
{
	double d;
	int64_t ms;

	if (BSON_ITER_HOLDS_DOUBLE(in)) {
		d = bson_iter_double(in);
		ms = d >= -9e15 && d <= 9e15 ? (int64_t)d : INT64_MAX;
		if ((double)ms != d)
			ms = INT64_MAX;
	} else {
		ms = BSON_ITER_HOLDS_INT32(in) ? bson_iter_int32(in) : bson_iter_int64(in);
	}
	if (ms < MIN_DATE_MS || ms > MAX_DATE_MS)
		return read_error(r, "epoch milliseconds in the years 0001 to 9999", in);
	bson_append_date_time(out, key, -1, ms);
	return 0;
}

/* A double (or a whole number of units) into int64 cents, in the range ecom's money has. */
static int
read_money(struct spring_read *r, const bson_iter_t *in, const char *key, bson_t *out)
{
	double scaled, rounded;
	int64_t cents;

	if (BSON_ITER_HOLDS_DOUBLE(in)) {
		scaled = bson_iter_double(in) * 100.0;
		if (!(scaled > -DOUBLE_CENTS_LIMIT && scaled < DOUBLE_CENTS_LIMIT))
			return read_error(r, "an amount below 10000000000.00", in);
		rounded = nearbyint(scaled);
		if (fabs(scaled - rounded) > CENT_TOLERANCE)
			return read_error(r, "an amount in whole cents", in);
		cents = (int64_t)rounded;
	} else {
		cents = BSON_ITER_HOLDS_INT32(in) ? bson_iter_int32(in) : bson_iter_int64(in);
		if (__builtin_mul_overflow(cents, 100, &cents))
			return read_error(r, "an amount below 10000000000.00", in);
	}
	if (cents < 0)
		return read_error(r, "a non-negative amount", in);
	if (cents > MAX_MONEY_CENTS)
		return read_error(r, "an amount below 10000000000.00", in);
	bson_append_int64(out, key, -1, cents);
	return 0;
}

static int read_fields(struct spring_read *r, bson_iter_t *in, const struct field_spec *specs,
                       size_t count, bool payload, bson_t *out);

/* The document or array under in, converted by read_fields(), as out's member key. */
static int
read_child(struct spring_read *r, const bson_iter_t *in, const char *key,
           const struct field_spec *specs, size_t count, bool payload, bson_t *out)
{
	bson_iter_t fields;
	bson_t child;
	bool array = BSON_ITER_HOLDS_ARRAY(in);
	int rc;

	bson_iter_recurse(in, &fields);
	if (array)
		bson_append_array_begin(out, key, -1, &child);
	else
		bson_append_document_begin(out, key, -1, &child);
	rc = read_fields(r, &fields, specs, count, payload, &child);
	if (array)
		bson_append_array_end(out, &child);
	else
		bson_append_document_end(out, &child);
	return rc;
}

/* One field the tables know, in the application's form, into the store form. */
static int
read_known(struct spring_read *r, const struct field_spec *spec, const bson_iter_t *in,
           const char *key, bson_t *out)
{
	const struct ecom_payload_spec *ps = &ecom_payload_specs[r->type];

	switch (spec->kind) {
	case FIELD_DATE:
	case FIELD_DATE_OR_NULL:
		if (holds_number(in))
			return read_date(r, in, key, out);
		break;
	case FIELD_MONEY:
		if (holds_number(in))
			return read_money(r, in, key, out);
		break;
	case FIELD_PAYLOAD:
		if (BSON_ITER_HOLDS_DOCUMENT(in))
			return read_child(r, in, key, ps->fields, ps->count, true, out);
		break;
	case FIELD_LINE_ITEMS:
		if (BSON_ITER_HOLDS_ARRAY(in))
			return read_child(r, in, key, NULL, 0, false, out);
		break;
	default:
		break;
	}
	/* Anything else is the validator's to judge, under ecom's name. */
	bson_append_iter(out, key, -1, in);
	return 0;
}

/*
 * Copy the fields under in to out, converting those of specs; specs NULL
 * is the line items array, whose documents take the line item table.
 * The top level (specs == ecom_event_fields) drops a null "id" (Spring
 * Data's, always null on the wire) and gains eventType after eventId.
 */
static int
read_fields(struct spring_read *r, bson_iter_t *in, const struct field_spec *specs, size_t count,
            bool payload, bson_t *out)
{
	bool top = specs == ecom_event_fields, typed = false;
	size_t outer = strlen(r->path);
	int rc = 0;

	while (rc == 0 && bson_iter_next(in)) {
		const char *key = payload ? rename_field(r->type, bson_iter_key(in), true) : bson_iter_key(in);
		const struct field_spec *spec = specs ? ecom_find_spec(specs, count, key) : NULL;

		snprintf(r->path + outer, sizeof(r->path) - outer, "%s%s", outer ? "." : "",
		         bson_iter_key(in));
		if (top && strcmp(key, "id") == 0 && BSON_ITER_HOLDS_NULL(in))
			continue;
		if (specs == NULL && BSON_ITER_HOLDS_DOCUMENT(in))
			rc = read_child(r, in, key, ecom_line_item_fields,
			                SPEC_COUNT(ecom_line_item_fields), false, out);
		else if (spec != NULL)
			rc = read_known(r, spec, in, key, out);
		else
			bson_append_iter(out, key, -1, in);
		if (top && strcmp(key, "eventId") == 0 && !typed)
			typed = bson_append_utf8(out, "eventType", -1, ecom_event_type_name(r->type), -1);
	}
	/* Without an eventId the validator is to say that, not that eventType is missing. */
	if (top && !typed)
		bson_append_utf8(out, "eventType", -1, ecom_event_type_name(r->type), -1);
	r->path[outer] = '\0';
	return rc;
}

static int
event_from_spring_bson(const bson_t *doc, ecom_event_type type, ecom_event *ev, ecom_err *err)
{
	struct spring_read r = {.type = type, .err = err};
	bson_t store = BSON_INITIALIZER;
	bson_iter_t it;
	int rc = -1;

	ecom_event_reset(ev);
	if (!bson_iter_init(&it, doc))
		ecom_err_set(err, "corrupt BSON document");
	else if (read_fields(&r, &it, ecom_event_fields, SPEC_COUNT(ecom_event_fields), false,
	                     &store) == 0)
		rc = ecom_event_from_bson(&store, ev, err);
	bson_destroy(&store);
	return rc;
}

int
ecom_event_from_spring_json(const char *json, size_t len, ecom_event_type type, ecom_event *ev,
                            ecom_err *err)
{
	bson_t parsed;
	int rc = -1;

	ecom_event_reset(ev);
	if (ecom_event_parse_json(json, len, &parsed, err) == 0)
		rc = event_from_spring_bson(&parsed, type, ev, err);
	bson_destroy(&parsed);
	return rc;
}

/* ---- either form, from a message ---- */

/* The type a message without eventType has: its header, its topic, or what the caller expects. */
static int
spring_type(const char *topic, ecom_header_lookup header, const void *ctx,
            ecom_event_type expected, ecom_event_type *type, ecom_err *err)
{
	size_t id_len = 0, topic_len = topic ? strlen(topic) : 0, i;
	const char *id = header != NULL ? header(ctx, ECOM_HDR_SPRING_TYPE, &id_len) : NULL;
	int t;

	if (id != NULL) {
		if (ecom_wire_type_from_id(id, id_len, type) == 0)
			return 0;
		for (i = 0; i < id_len && i < TYPE_ID_QUOTE; i++) {
			if (id[i] < 0x20 || id[i] == 0x7f || id[i] == '\'')
				return ecom_err_set(err, "header '" ECOM_HDR_SPRING_TYPE "': unknown class");
		}
		return ecom_err_set(err, "header '" ECOM_HDR_SPRING_TYPE "': unknown class '%.*s%s'",
		                    (int)i, id, id_len > i ? "..." : "");
	}
	/* A prefixed topic ("run1-ordercreated") ends with the name. */
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		size_t n = strlen(ecom_event_type_name((ecom_event_type)t));

		if (topic_len >= n &&
		    strcmp(topic + topic_len - n, ecom_event_type_name((ecom_event_type)t)) == 0) {
			*type = (ecom_event_type)t;
			return 0;
		}
	}
	if ((unsigned)expected < ECOM_EV_COUNT) {
		*type = expected;
		return 0;
	}
	return ecom_err_set(err, "missing field 'eventType' (and no '" ECOM_HDR_SPRING_TYPE
	                         "' header or topic to tell the type)");
}

int
ecom_event_from_wire(const char *payload, size_t len, const char *topic,
                     ecom_header_lookup header, const void *ctx, ecom_event_type expected,
                     ecom_event *ev, ecom_wire *form, ecom_err *err)
{
	bson_t parsed;
	bson_iter_t it;
	ecom_event_type type = ECOM_EV_COUNT;
	int rc = -1;

	ecom_event_reset(ev);
	if (payload == NULL) /* an empty message */
		len = 0;
	if (ecom_event_parse_json(payload ? payload : "", len, &parsed, err) < 0)
		goto out;
	if (bson_iter_init_find(&it, &parsed, "eventType")) {
		if (form != NULL)
			*form = ECOM_WIRE_ECOM;
		rc = ecom_event_from_wire_bson(&parsed, ev, err);
		goto out;
	}
	if (form != NULL)
		*form = ECOM_WIRE_SPRING;
	if (spring_type(topic, header, ctx, expected, &type, err) == 0)
		rc = event_from_spring_bson(&parsed, type, ev, err);
out:
	bson_destroy(&parsed);
	return rc;
}

static const char *
message_header(const void *ctx, const char *name, size_t *len)
{
	rd_kafka_message_t *m = (rd_kafka_message_t *)ctx; /* librdkafka takes it non-const */
	rd_kafka_headers_t *hdrs;
	const void *value;

	if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    rd_kafka_header_get_last(hdrs, name, &value, len) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    value == NULL)
		return NULL;
	return value;
}

int
ecom_event_from_message(const rd_kafka_message_t *m, ecom_event_type expected, ecom_event *ev,
                        ecom_err *err)
{
	const char *topic = m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : NULL;

	return ecom_event_from_wire(m->payload, m->len, topic, message_header, m, expected, ev, NULL,
	                            err);
}

/* ---- ecom → application ---- */

/* "1" to a number, as the application's ids are; anything else stays text. */
static void
write_item_id(const bson_iter_t *in, const char *key, bson_t *out)
{
	uint32_t len;
	const char *text = BSON_ITER_HOLDS_UTF8(in) ? bson_iter_utf8(in, &len) : NULL;
	uint32_t i;

	if (text != NULL && len > 0 && len <= 18 && (text[0] != '0' || len == 1)) {
		for (i = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++)
			;
		if (i == len) {
			bson_append_int64(out, key, -1, strtoll(text, NULL, 10));
			return;
		}
	}
	bson_append_iter(out, key, -1, in);
}

/* How the application's form is written: on the wire (dates as epoch ms) or in MongoDB (dates). */
struct spring_write {
	ecom_event_type type;
	bool store;
};

static void write_fields(const struct spring_write *w, bson_iter_t *in,
                         const struct field_spec *specs, size_t count, bool payload, bson_t *out);

static void
write_child(const struct spring_write *w, const bson_iter_t *in, const char *key,
            const struct field_spec *specs, size_t count, bool payload, bson_t *out)
{
	bson_iter_t fields;
	bson_t child;
	bool array = BSON_ITER_HOLDS_ARRAY(in);

	bson_iter_recurse(in, &fields);
	if (array)
		bson_append_array_begin(out, key, -1, &child);
	else
		bson_append_document_begin(out, key, -1, &child);
	write_fields(w, &fields, specs, count, payload, &child);
	if (array)
		bson_append_array_end(out, &child);
	else
		bson_append_document_end(out, &child);
}

static void
write_known(const struct spring_write *w, const struct field_spec *spec, const bson_iter_t *in,
            const char *key, bson_t *out)
{
	const struct ecom_payload_spec *ps = &ecom_payload_specs[w->type];
	int64_t cents;

	if ((spec->kind == FIELD_DATE || spec->kind == FIELD_DATE_OR_NULL) &&
	    BSON_ITER_HOLDS_DATE_TIME(in) && !w->store)
		bson_append_int64(out, key, -1, bson_iter_date_time(in));
	else if (spec->kind == FIELD_MONEY && ecom_store_money_from_iter(in, &cents) == 0)
		bson_append_double(out, key, -1, (double)cents / 100.0);
	else if (spec->kind == FIELD_INT && strcmp(spec->name, "shippingDays") == 0 &&
	         BSON_ITER_HOLDS_INT32(in)) /* a double in the application's class */
		bson_append_double(out, key, -1, bson_iter_int32(in));
	else if (spec->kind == FIELD_ITEM_ID)
		write_item_id(in, key, out);
	else if (spec->kind == FIELD_PAYLOAD && BSON_ITER_HOLDS_DOCUMENT(in))
		write_child(w, in, key, ps->fields, ps->count, true, out);
	else if (spec->kind == FIELD_LINE_ITEMS && BSON_ITER_HOLDS_ARRAY(in))
		write_child(w, in, key, NULL, 0, false, out);
	else
		bson_append_iter(out, key, -1, in);
}

/*
 * The mirror of read_fields(): the top level loses eventType and, on the
 * wire, starts with "id" (Spring Data's _id, null until stored).
 */
static void
write_fields(const struct spring_write *w, bson_iter_t *in, const struct field_spec *specs,
             size_t count, bool payload, bson_t *out)
{
	bool top = specs == ecom_event_fields;

	if (top && !w->store) {
		bson_iter_t copy = *in;

		if (bson_iter_find(&copy, "id"))
			bson_append_iter(out, "id", -1, &copy);
		else
			bson_append_null(out, "id", -1);
	}
	while (bson_iter_next(in)) {
		const char *key = bson_iter_key(in);
		const struct field_spec *spec = specs ? ecom_find_spec(specs, count, key) : NULL;
		const char *name = payload ? rename_field(w->type, key, false) : key;

		if (top && (strcmp(key, "eventType") == 0 || strcmp(key, "id") == 0))
			continue;
		if (specs == NULL && BSON_ITER_HOLDS_DOCUMENT(in))
			write_child(w, in, key, ecom_line_item_fields, SPEC_COUNT(ecom_line_item_fields), false,
			            out);
		else if (spec != NULL)
			write_known(w, spec, in, name, out);
		else
			bson_append_iter(out, name, -1, in);
	}
}

static void print_value(bson_string_t *s, const bson_iter_t *it);

static void
print_members(bson_string_t *s, const bson_iter_t *parent, bool array)
{
	bson_iter_t it;
	bool first = true;
	char *key;

	bson_string_append_c(s, array ? '[' : '{');
	bson_iter_recurse(parent, &it);
	while (bson_iter_next(&it)) {
		if (!first)
			bson_string_append_c(s, ',');
		first = false;
		if (!array) {
			key = bson_utf8_escape_for_json(bson_iter_key(&it), -1);
			bson_string_append_printf(s, "\"%s\":", key);
			bson_free(key);
		}
		print_value(s, &it);
	}
	bson_string_append_c(s, array ? ']' : '}');
}

/* Compact JSON, as Jackson writes it; types JSON has no word for in libbson's relaxed form. */
static void
print_value(bson_string_t *s, const bson_iter_t *it)
{
	char buf[64], *text;
	uint32_t len;
	bson_t one = BSON_INITIALIZER;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_UTF8:
		text = (char *)bson_iter_utf8(it, &len);
		text = bson_utf8_escape_for_json(text, (ssize_t)len);
		bson_string_append_printf(s, "\"%s\"", text);
		bson_free(text);
		break;
	case BSON_TYPE_DOUBLE:
		format_double(bson_iter_double(it), buf, sizeof(buf));
		bson_string_append(s, buf);
		break;
	case BSON_TYPE_INT32:
		bson_string_append_printf(s, "%" PRId32, bson_iter_int32(it));
		break;
	case BSON_TYPE_INT64:
		bson_string_append_printf(s, "%" PRId64, bson_iter_int64(it));
		break;
	case BSON_TYPE_BOOL:
		bson_string_append(s, bson_iter_bool(it) ? "true" : "false");
		break;
	case BSON_TYPE_NULL:
		bson_string_append(s, "null");
		break;
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY:
		print_members(s, it, BSON_ITER_HOLDS_ARRAY(it));
		break;
	default:
		/* "{ "v" : <value> }": keep the value. */
		bson_append_iter(&one, "v", 1, it);
		text = bson_as_relaxed_extended_json(&one, NULL);
		if (text != NULL && strlen(text) > 10) {
			text[strlen(text) - 2] = '\0';
			bson_string_append(s, text + 8);
		}
		bson_free(text);
		break;
	}
	bson_destroy(&one);
}

static char *
spring_json(const ecom_event *ev, size_t *len)
{
	struct spring_write w = {.type = ev->type, .store = false};
	bson_t spring = BSON_INITIALIZER, wrapper = BSON_INITIALIZER;
	bson_iter_t it, top;
	bson_string_t *s;

	if (!bson_iter_init(&it, &ev->doc)) {
		bson_destroy(&spring);
		bson_destroy(&wrapper);
		return NULL;
	}
	write_fields(&w, &it, ecom_event_fields, SPEC_COUNT(ecom_event_fields), false, &spring);
	/* print_members() prints what an iterator holds: wrap the document once. */
	bson_append_document(&wrapper, "d", 1, &spring);
	s = bson_string_new(NULL);
	if (bson_iter_init_find(&top, &wrapper, "d"))
		print_members(s, &top, false);
	bson_destroy(&spring);
	bson_destroy(&wrapper);
	if (len != NULL)
		*len = s->len;
	return bson_string_free(s, false);
}

void
ecom_wire_spring_document(const ecom_event *ev, bson_t *doc)
{
	struct spring_write w = {.type = ev->type, .store = true};
	bson_iter_t it;
	bson_oid_t oid;

	bson_init(doc);
	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(doc, "_id", &oid);
	if ((unsigned)ev->type < ECOM_EV_COUNT && bson_iter_init(&it, &ev->doc)) {
		write_fields(&w, &it, ecom_event_fields, SPEC_COUNT(ecom_event_fields), false, doc);
		BSON_APPEND_UTF8(doc, "_class", type_ids[ev->type]);
	}
}

char *
ecom_event_to_wire(const ecom_event *ev, ecom_wire wire, size_t *len, const char **type_id)
{
	if (type_id != NULL)
		*type_id = wire == ECOM_WIRE_SPRING ? ecom_wire_type_id(ev->type) : NULL;
	if ((unsigned)ev->type >= ECOM_EV_COUNT)
		return NULL;
	if (wire == ECOM_WIRE_SPRING)
		return spring_json(ev, len);
	return ecom_event_to_json(ev, len);
}

int
ecom_wire_send_text(ecom_producer *p, ecom_wire wire, const char *topic, const ecom_event *ev,
                    const char *text, size_t len, int64_t order_us, ecom_err *err)
{
	char sent_text[24], order_text[24];
	const char *headers[6] = {ECOM_HDR_SENT_US, sent_text, ECOM_HDR_ORDER_START_US, order_text,
	                          ECOM_HDR_SPRING_TYPE, ecom_wire_type_id(ev->type)};

	if (wire == ECOM_WIRE_ECOM)
		return ecom_producer_send_event(p, topic, ev->event_id, text, len, order_us, err);
	/* ecom's timing headers beside __TypeId__: the application's listeners ignore them. */
	snprintf(sent_text, sizeof(sent_text), "%" PRId64, ecom_now_us());
	snprintf(order_text, sizeof(order_text), "%" PRId64, order_us);
	return ecom_producer_send(p, topic, ev->event_id, strlen(ev->event_id), text, len, headers, 3,
	                          err);
}

int
ecom_wire_send_event(ecom_producer *p, ecom_wire wire, const char *topic, const ecom_event *ev,
                     int64_t order_us, ecom_err *err)
{
	size_t len;
	char *json = ecom_event_to_wire(ev, wire, &len, NULL);
	int rc;

	if (json == NULL)
		return ecom_err_set(err, "cannot serialise event '%s'", ev->event_id);
	rc = ecom_wire_send_text(p, wire, topic, ev, json, len, order_us, err);
	bson_free(json);
	return rc;
}
