/*
 * Validation: one pass over a parsed document that copies it into the
 * store form.  Known fields (the tables in ecom_event.c) are checked and
 * normalised (dates to BSON dates, money to int64 cents, integers to
 * int32); unknown fields are copied unchanged and in place, so a newer
 * producer's extra fields survive every stage.
 */
#include "ecom_event_impl.h"

#include <float.h>
#include <inttypes.h>
#include <string.h>
#include <sys/types.h>
#include <uuid/uuid.h>

/* An offending value is quoted in messages up to this many characters. */
#define VALUE_QUOTE_CHARS 40
/* Each quoted character takes at most 6 bytes (\u00XX), plus quotes and "...". */
#define VALUE_TEXT_SIZE (VALUE_QUOTE_CHARS * 6 + 8)

/* What bson_init_from_json() reads JSON with: libbson's default chunk. */
#define JSON_READ_CHUNK 16384

/* State of one validation pass. */
struct validation {
	ecom_err *err;
	ecom_event_type type;
	char event_id[ECOM_EVENT_ID_LEN + 1];
	int64_t facts[FACT_COUNT];
	int64_t line_items_cents;
	char path[128]; /* dotted path of the field being checked, for messages */
	size_t path_len;
	/* A BSON int64 amount is cents in the store form, units in JSON input. */
	int int64_money_is_cents;
};

static int
int_from_iter(const bson_iter_t *it, int64_t *value)
{
	double d;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
		*value = bson_iter_int32(it);
		return 0;
	case BSON_TYPE_INT64:
		*value = bson_iter_int64(it);
		return 0;
	case BSON_TYPE_DOUBLE:
		/* Some JSON writers print every number as a double: 20.0 is 20. */
		d = bson_iter_double(it);
		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
			return -1;
		*value = (int64_t)d;
		return (double)*value == d ? 0 : -1;
	default:
		return -1;
	}
}

static int
date_from_iter(const bson_iter_t *it, int64_t *ms)
{
	const char *text;
	uint32_t len;

	if (BSON_ITER_HOLDS_DATE_TIME(it)) {
		*ms = bson_iter_date_time(it);
		return *ms >= MIN_DATE_MS && *ms <= MAX_DATE_MS ? 0 : -1;
	}
	if (!BSON_ITER_HOLDS_UTF8(it))
		return -1;
	text = bson_iter_utf8(it, &len);
	if (memchr(text, '\0', len) != NULL || ecom_parse_iso8601(text, ms) < 0)
		return -1;
	return *ms >= MIN_DATE_MS && *ms <= MAX_DATE_MS ? 0 : -1;
}

/* A string for a message: quoted, escaped, cut to VALUE_QUOTE_CHARS characters. */
static void
quote_text(const char *text, size_t len, char *buf, size_t size)
{
	size_t in, out = 0;
	int chars = 0;

	buf[out++] = '"';
	for (in = 0; in < len && out + 7 < size; in++) {
		unsigned char c = (unsigned char)text[in];

		/* Count UTF-8 lead bytes, so a character is never cut in half. */
		if ((c & 0xc0) != 0x80 && chars++ == VALUE_QUOTE_CHARS)
			break;
		if (c == '"' || c == '\\') {
			buf[out++] = '\\';
			buf[out++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			out += (size_t)snprintf(buf + out, size - out, "\\u%04x", c);
		} else {
			buf[out++] = (char)c;
		}
	}
	if (in < len)
		out += (size_t)snprintf(buf + out, size - out, "...");
	snprintf(buf + out, size - out, "\"");
}

/* The offending value, as a message shows it after "got". */
static void
describe_value(const bson_iter_t *it, char *buf, size_t size)
{
	const char *text;
	uint32_t len;
	const uint8_t *data;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_UTF8:
		text = bson_iter_utf8(it, &len);
		quote_text(text, len, buf, size);
		break;
	case BSON_TYPE_DOUBLE:
		snprintf(buf, size, "%.15g", bson_iter_double(it));
		break;
	case BSON_TYPE_INT32:
		snprintf(buf, size, "%" PRId32, bson_iter_int32(it));
		break;
	case BSON_TYPE_INT64:
		snprintf(buf, size, "%" PRId64, bson_iter_int64(it));
		break;
	case BSON_TYPE_BOOL:
		snprintf(buf, size, "%s", bson_iter_bool(it) ? "true" : "false");
		break;
	case BSON_TYPE_NULL:
		snprintf(buf, size, "null");
		break;
	case BSON_TYPE_DECIMAL128: {
		bson_decimal128_t dec;
		char dec_text[BSON_DECIMAL128_STRING];

		bson_iter_decimal128(it, &dec);
		bson_decimal128_to_string(&dec, dec_text);
		snprintf(buf, size, "%s", dec_text);
		break;
	}
	case BSON_TYPE_DATE_TIME:
		snprintf(buf, size, "a date");
		break;
	case BSON_TYPE_DOCUMENT:
		bson_iter_document(it, &len, &data);
		snprintf(buf, size, "%s", len <= 5 ? "{}" : "a document");
		break;
	case BSON_TYPE_ARRAY:
		bson_iter_array(it, &len, &data);
		snprintf(buf, size, "%s", len <= 5 ? "[]" : "an array");
		break;
	default:
		snprintf(buf, size, "a value of BSON type 0x%02x", (unsigned)bson_iter_type(it));
		break;
	}
}

/* Pushed for every field checked, valid or not: copied by hand, as snprintf cost more than the check. */
static size_t
path_push(struct validation *v, const char *name)
{
	size_t outer = v->path_len, len = outer, room = sizeof(v->path) - 1;

	if (outer > 0 && len < room)
		v->path[len++] = '.';
	for (; *name != '\0' && len < room; name++)
		v->path[len++] = *name;
	v->path[len] = '\0';
	v->path_len = len;
	return outer;
}

static void
path_pop(struct validation *v, size_t outer)
{
	v->path_len = outer;
	v->path[outer] = '\0';
}

static int
field_error(struct validation *v, const bson_iter_t *it, const char *expected)
{
	char got[VALUE_TEXT_SIZE];

	describe_value(it, got, sizeof(got));
	return ecom_err_set(v->err, "field '%s': expected %s, got %s", v->path, expected, got);
}

/* libbson refuses appends only past its 2 GiB document limit. */
static int
append_result(struct validation *v, bool appended)
{
	if (appended)
		return 0;
	return ecom_err_set(v->err, "field '%s': document too large", v->path);
}


static int copy_fields(struct validation *v, bson_iter_t *in, const struct field_spec *specs,
                       size_t count, bson_t *out);

static bool
has_nul(const bson_iter_t *it)
{
	uint32_t len;
	const char *text = bson_iter_utf8(it, &len);

	return memchr(text, '\0', len) != NULL;
}

/*
 * A field the schema does not know is kept as it is, if both stores can
 * hold it: MongoDB refuses empty keys and keys with '.' or a leading '$';
 * PostgreSQL refuses NUL in text and has no NaN or infinity in JSON.
 * Checked here, so such an event is refused with the field's name instead
 * of failing its whole batch in the store.  (MongoDB's other limit, 100
 * levels of nesting, is libbson's JSON reader's too.)
 */
static int check_free_key(struct validation *v, const char *key);

static int
check_free_value(struct validation *v, bson_iter_t *in)
{
	bson_iter_t child;
	double d;
	int rc = 0;

	switch (bson_iter_type(in)) {
	case BSON_TYPE_UTF8:
		if (has_nul(in))
			return field_error(v, in, "a string without NUL characters");
		return 0;
	case BSON_TYPE_DOUBLE:
		d = bson_iter_double(in);
		if (d != d || d > DBL_MAX || d < -DBL_MAX)
			return field_error(v, in, "a finite number");
		return 0;
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY:
		if (!bson_iter_recurse(in, &child))
			return ecom_err_set(v->err, "field '%s': corrupt BSON", v->path);
		while (rc == 0 && bson_iter_next(&child)) {
			size_t outer = path_push(v, bson_iter_key(&child));

			if (BSON_ITER_HOLDS_DOCUMENT(in))
				rc = check_free_key(v, bson_iter_key(&child));
			if (rc == 0)
				rc = check_free_value(v, &child);
			path_pop(v, outer);
		}
		return rc;
	default:
		return 0;
	}
}

/* v->path already ends with key. */
static int
check_free_key(struct validation *v, const char *key)
{
	if (*key == '\0')
		return ecom_err_set(v->err, "field '%s': empty key (MongoDB refuses it)", v->path);
	if (*key == '$')
		return ecom_err_set(v->err, "field '%s': key starts with '$' (MongoDB refuses it)",
		                    v->path);
	if (strchr(key, '.') != NULL)
		return ecom_err_set(v->err, "field '%s': key contains '.' (MongoDB refuses it)",
		                    v->path);
	return 0;
}

static int
convert_uuid(struct validation *v, const struct field_spec *spec, const bson_iter_t *in, bson_t *out)
{
	const char *text;
	uint32_t len;
	uuid_t uuid;

	if (!BSON_ITER_HOLDS_UTF8(in))
		return field_error(v, in, "a UUID");
	text = bson_iter_utf8(in, &len);
	if (len != ECOM_EVENT_ID_LEN || memchr(text, '\0', len) != NULL || uuid_parse(text, uuid) != 0)
		return field_error(v, in, "a UUID");
	/* One spelling per order, so ids compare and index as plain strings. */
	uuid_unparse_lower(uuid, v->event_id);
	return append_result(v, bson_append_utf8(out, spec->name, -1, v->event_id, -1));
}

static int
event_type_from_iter(struct validation *v, const bson_iter_t *in, ecom_event_type *type)
{
	char got[VALUE_TEXT_SIZE];
	const char *name;
	uint32_t len;

	if (!BSON_ITER_HOLDS_UTF8(in))
		return field_error(v, in, "an event type name");
	name = bson_iter_utf8(in, &len);
	/* "ordercreated\u0000x" must not pass for "ordercreated". */
	if (memchr(name, '\0', len) != NULL || ecom_event_type_from_name(name, type) < 0) {
		describe_value(in, got, sizeof(got));
		return ecom_err_set(v->err, "field '%s': unknown event type %s", v->path, got);
	}
	return 0;
}

static int
convert_event_type(struct validation *v, const struct field_spec *spec, const bson_iter_t *in,
                   bson_t *out)
{
	ecom_event_type type;

	if (event_type_from_iter(v, in, &type) < 0)
		return -1;
	return append_result(v, bson_append_utf8(out, spec->name, -1, ecom_event_type_name(type), -1));
}

static int
convert_date(struct validation *v, const struct field_spec *spec, const bson_iter_t *in, bson_t *out)
{
	int64_t ms;

	if (spec->kind == FIELD_DATE_OR_NULL && BSON_ITER_HOLDS_NULL(in))
		return append_result(v, bson_append_null(out, spec->name, -1));
	if (date_from_iter(in, &ms) < 0)
		return field_error(v, in,
		                   spec->kind == FIELD_DATE_OR_NULL ? "null or an ISO-8601 UTC date"
		                                                    : "an ISO-8601 UTC date");
	v->facts[spec->fact] = ms;
	return append_result(v, bson_append_date_time(out, spec->name, -1, ms));
}

static int
convert_money(struct validation *v, const struct field_spec *spec, const bson_iter_t *in, bson_t *out)
{
	int64_t cents;

	if ((v->int64_money_is_cents ? ecom_store_money_from_iter(in, &cents)
	                             : ecom_money_from_iter(in, &cents)) < 0)
		return field_error(v, in, "an amount with at most two decimals");
	/* Every amount in these events is a price or a total. */
	if (cents < 0)
		return field_error(v, in, "a non-negative amount");
	if (cents > MAX_MONEY_CENTS)
		return field_error(v, in, "an amount below 10000000000.00");
	v->facts[spec->fact] = cents;
	return append_result(v, bson_append_int64(out, spec->name, -1, cents));
}

static int
convert_int(struct validation *v, const struct field_spec *spec, const bson_iter_t *in, bson_t *out)
{
	int64_t value;
	char expected[64];

	if (int_from_iter(in, &value) < 0 || value < spec->min) {
		snprintf(expected, sizeof(expected), "a whole number of at least %" PRId64, spec->min);
		return field_error(v, in, expected);
	}
	v->facts[spec->fact] = value;
	if (value >= INT32_MIN && value <= INT32_MAX)
		return append_result(v, bson_append_int32(out, spec->name, -1, (int32_t)value));
	return append_result(v, bson_append_int64(out, spec->name, -1, value));
}

static int
check_order_price(struct validation *v)
{
	char order_price[32], total[32];
	size_t outer;
	int rc = 0;

	if (v->facts[FACT_ORDER_PRICE] != v->line_items_cents) {
		ecom_format_money(v->facts[FACT_ORDER_PRICE], order_price, sizeof(order_price));
		ecom_format_money(v->line_items_cents, total, sizeof(total));
		outer = path_push(v, "orderPrice");
		rc = ecom_err_set(v->err, "field '%s': %s does not equal the line items' total %s",
		                  v->path, order_price, total);
		path_pop(v, outer);
	}
	return rc;
}

static int
convert_payload(struct validation *v, const struct field_spec *spec, const bson_iter_t *in,
                bson_t *out)
{
	bson_iter_t fields;
	bson_t payload;
	int rc;

	if (!BSON_ITER_HOLDS_DOCUMENT(in) || !bson_iter_recurse(in, &fields))
		return field_error(v, in, "a document");
	if (!bson_append_document_begin(out, spec->name, -1, &payload))
		return append_result(v, false);
	rc = copy_fields(v, &fields, ecom_payload_specs[v->type].fields, ecom_payload_specs[v->type].count,
	                 &payload);
	if (!bson_append_document_end(out, &payload) && rc == 0)
		rc = append_result(v, false);
	if (rc == 0 && v->type == ECOM_EV_ORDERCREATED)
		rc = check_order_price(v);
	return rc;
}

static int
convert_line_item(struct validation *v, const bson_iter_t *in, const char *key, bson_t *items)
{
	bson_iter_t fields;
	bson_t item;
	int64_t line_cents;
	int rc;

	if (!BSON_ITER_HOLDS_DOCUMENT(in) || !bson_iter_recurse(in, &fields))
		return field_error(v, in, "a line item document");
	if (!bson_append_document_begin(items, key, -1, &item))
		return append_result(v, false);
	rc = copy_fields(v, &fields, ecom_line_item_fields, SPEC_COUNT(ecom_line_item_fields), &item);
	if (!bson_append_document_end(items, &item) && rc == 0)
		rc = append_result(v, false);
	if (rc == 0 &&
	    (__builtin_mul_overflow(v->facts[FACT_ITEM_QUANTITY], v->facts[FACT_ITEM_PRICE],
	                            &line_cents) ||
	     __builtin_add_overflow(v->line_items_cents, line_cents, &v->line_items_cents)))
		rc = ecom_err_set(v->err, "field '%s': amount out of range", v->path);
	return rc;
}

static int
convert_line_items(struct validation *v, const struct field_spec *spec, const bson_iter_t *in,
                   bson_t *out)
{
	bson_iter_t elements;
	bson_t items;
	uint32_t index = 0;
	int rc = 0;

	if (!BSON_ITER_HOLDS_ARRAY(in) || !bson_iter_recurse(in, &elements))
		return field_error(v, in, "a non-empty array of line items");
	if (!bson_append_array_begin(out, spec->name, -1, &items))
		return append_result(v, false);
	v->line_items_cents = 0;
	while (rc == 0 && bson_iter_next(&elements)) {
		char key_buf[16];
		const char *key;
		size_t outer;

		/* Renumbered, so the array's keys are "0", "1", … whatever came in. */
		bson_uint32_to_string(index++, &key, key_buf, sizeof(key_buf));
		outer = path_push(v, key);
		rc = convert_line_item(v, &elements, key, &items);
		path_pop(v, outer);
	}
	if (!bson_append_array_end(out, &items) && rc == 0)
		rc = append_result(v, false);
	if (rc == 0 && elements.err_off != 0)
		rc = ecom_err_set(v->err, "field '%s': corrupt BSON", v->path);
	if (rc == 0 && index == 0)
		rc = field_error(v, in, "a non-empty array of line items");
	return rc;
}

static int
convert_field(struct validation *v, const struct field_spec *spec, const bson_iter_t *in, bson_t *out)
{
	switch (spec->kind) {
	case FIELD_UUID:
		return convert_uuid(v, spec, in, out);
	case FIELD_EVENT_TYPE:
		return convert_event_type(v, spec, in, out);
	case FIELD_DATE:
	case FIELD_DATE_OR_NULL:
		return convert_date(v, spec, in, out);
	case FIELD_MONEY:
		return convert_money(v, spec, in, out);
	case FIELD_INT:
		return convert_int(v, spec, in, out);
	case FIELD_BOOL:
		if (!BSON_ITER_HOLDS_BOOL(in))
			return field_error(v, in, "true or false");
		return append_result(v, bson_append_iter(out, spec->name, -1, in));
	case FIELD_ITEM_ID:
		/* The original application's ids are numbers: kept as they are. */
		if (BSON_ITER_HOLDS_INT32(in) || BSON_ITER_HOLDS_INT64(in))
			return append_result(v, bson_append_iter(out, spec->name, -1, in));
		/* fall through */
	case FIELD_STRING:
		if (!BSON_ITER_HOLDS_UTF8(in))
			return field_error(v, in, spec->kind == FIELD_ITEM_ID ? "a string or a whole number" : "a string");
		if (has_nul(in))
			return field_error(v, in, "a string without NUL characters");
		return append_result(v, bson_append_iter(out, spec->name, -1, in));
	case FIELD_PAYLOAD:
		return convert_payload(v, spec, in, out);
	case FIELD_LINE_ITEMS:
		return convert_line_items(v, spec, in, out);
	}
	return ecom_err_set(v->err, "field '%s': no rule to check it", v->path);
}

/*
 * Copy the document under in to out in input order, converting the fields
 * of specs (at most 32) and keeping all others as they are.
 */
static int
copy_fields(struct validation *v, bson_iter_t *in, const struct field_spec *specs, size_t count,
            bson_t *out)
{
	uint32_t seen = 0;
	size_t i, outer;
	int rc;

	while (bson_iter_next(in)) {
		const char *key = bson_iter_key(in);
		const struct field_spec *spec = ecom_find_spec(specs, count, key);
		uint32_t bit;

		if (spec == NULL) {
			bool top_level = v->path_len == 0;

			outer = path_push(v, key);
			if (top_level && strcmp(key, "_id") == 0)
				rc = ecom_err_set(v->err, "field '_id': reserved (the store sets it to eventId)");
			else
				rc = check_free_key(v, key);
			if (rc == 0)
				rc = check_free_value(v, in);
			path_pop(v, outer);
			if (rc < 0 || append_result(v, bson_append_iter(out, key, -1, in)) < 0)
				return -1;
			continue;
		}
		bit = UINT32_C(1) << (spec - specs);
		outer = path_push(v, spec->name);
		/* A second copy could disagree with the first; neither can be trusted. */
		if (seen & bit)
			rc = ecom_err_set(v->err, "duplicate field '%s'", v->path);
		else
			rc = convert_field(v, spec, in, out);
		path_pop(v, outer);
		if (rc < 0)
			return -1;
		seen |= bit;
	}
	/* from_bson() may be handed bytes from anywhere. */
	if (in->err_off != 0) {
		if (v->path_len == 0)
			return ecom_err_set(v->err, "corrupt BSON document");
		return ecom_err_set(v->err, "field '%s': corrupt BSON", v->path);
	}
	for (i = 0; i < count; i++) {
		if (!(seen & (UINT32_C(1) << i))) {
			path_push(v, specs[i].name);
			return ecom_err_set(v->err, "missing field '%s'", v->path);
		}
	}
	return 0;
}

static int
event_from_bson(const bson_t *doc, ecom_event *ev, int int64_money_is_cents, ecom_err *err)
{
	struct validation v;
	bson_iter_t it;
	int rc = -1;

	ecom_event_reset(ev);
	memset(&v, 0, sizeof(v));
	v.err = err;
	v.int64_money_is_cents = int64_money_is_cents;
	if (!bson_iter_init(&it, doc)) {
		ecom_err_set(err, "corrupt BSON document");
		goto out;
	}
	/* The payload's fields depend on the type, which may come after it. */
	if (!bson_iter_find(&it, "eventType")) {
		ecom_err_set(err, it.err_off != 0 ? "corrupt BSON document" : "missing field 'eventType'");
		goto out;
	}
	path_push(&v, "eventType");
	if (event_type_from_iter(&v, &it, &v.type) < 0)
		goto out;
	path_pop(&v, 0);
	if (!bson_iter_init(&it, doc) ||
	    copy_fields(&v, &it, ecom_event_fields, SPEC_COUNT(ecom_event_fields), &ev->doc) < 0)
		goto out;
	ev->type = v.type;
	memcpy(ev->event_id, v.event_id, sizeof(ev->event_id));
	ev->created_ms = v.facts[FACT_CREATED_MS];
	rc = 0;
out:
	if (rc < 0) {
		bson_destroy(&ev->doc);
		ecom_event_reset(ev);
	}
	return rc;
}

int
ecom_event_from_bson(const bson_t *doc, ecom_event *ev, ecom_err *err)
{
	return event_from_bson(doc, ev, 1, err);
}

/* libbson's messages start with a capital; ours do not.  Keep "JSON" as is. */
static void
lower_first(char *msg)
{
	if (msg[0] >= 'A' && msg[0] <= 'Z' && !(msg[1] >= 'A' && msg[1] <= 'Z'))
		msg[0] = (char)(msg[0] - 'A' + 'a');
}

int
ecom_event_parse_json(const char *json, size_t len, bson_t *doc, ecom_err *err)
{
	bson_json_reader_t *reader;
	bson_t extra = BSON_INITIALIZER;
	bson_error_t error;
	size_t i;
	int rc = -1;

	bson_init(doc);
	/* libbson would take a top-level array as a document keyed "0", "1", … */
	for (i = 0; i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\r' || json[i] == '\n');
	     i++)
		;
	if (i < len && json[i] == '[')
		return ecom_err_set(err, "not a JSON object: got an array");

	reader = bson_json_data_reader_new(false, JSON_READ_CHUNK);
	bson_json_data_reader_ingest(reader, (const uint8_t *)json, len);
	switch (bson_json_reader_read(reader, doc, &error)) {
	case 1:
		break;
	case 0:
		ecom_err_set(err, "not a JSON object: empty input");
		goto out;
	default:
		lower_first(error.message);
		ecom_err_set(err, "not a JSON object: %s", error.message);
		goto out;
	}
	/* One message is one event; a second object would be dropped silently. */
	if (bson_json_reader_read(reader, &extra, &error) != 0) {
		ecom_err_set(err, "not a JSON object: more than one JSON value");
		goto out;
	}
	rc = 0;
out:
	bson_json_reader_destroy(reader);
	bson_destroy(&extra);
	return rc;
}

int
ecom_event_from_wire_bson(const bson_t *doc, ecom_event *ev, ecom_err *err)
{
	return event_from_bson(doc, ev, 0, err);
}

int
ecom_event_from_json(const char *json, size_t len, ecom_event *ev, ecom_err *err)
{
	bson_t parsed;
	int rc = -1;

	ecom_event_reset(ev);
	if (ecom_event_parse_json(json, len, &parsed, err) == 0)
		rc = event_from_bson(&parsed, ev, 0, err);
	bson_destroy(&parsed);
	return rc;
}
