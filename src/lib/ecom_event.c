/*
 * The five events of the order flow: the field tables, names, dates and
 * money, and the events ecom makes.  See ecom_event.h for the two forms;
 * validation is in ecom_event_validate.c, printing in ecom_event_json.c.
 *
 * Validation is one pass over the parsed document that copies it into the
 * store form: known fields are checked and normalised (dates to BSON
 * dates, money to int64 cents, integers to int32), unknown fields are
 * copied unchanged and in place, so a newer producer's extra fields
 * survive every stage.  Which fields are known is data (the field_spec
 * tables below), shared by the validator and by ecom_event_to_json().
 *
 * Money is int64 cents everywhere inside and in the store (exact, sums
 * exactly, and every MongoDB-protocol server has it: FerretDB 1.24 has
 * no Decimal128 and drops the connection on one); a two-decimal string on
 * the wire, so no consumer ever sees a binary float for a price.
 * Decimal128 is still read on input, from writers that use it.
 */
#include "ecom_event_impl.h"

#include <inttypes.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <uuid/uuid.h>

/* Decimal128 (IEEE 754-2008 BID, as BSON stores it). */
#define DEC128_EXPONENT_BIAS 6176
#define DEC128_COEFF_HIGH_MASK UINT64_C(0x1ffffffffffff) /* 49 bits */

static const char *const event_type_names[ECOM_EV_COUNT] = {
	"ordercreated", "paymentcompleted", "inventoryupdated", "ordershipped", "orderfulfilled",
};

const struct field_spec ecom_event_fields[] = {
	{"eventId", FIELD_UUID, 0, FACT_NONE},
	{"eventType", FIELD_EVENT_TYPE, 0, FACT_NONE},
	{"eventCreatedDate", FIELD_DATE, 0, FACT_CREATED_MS},
	{"payload", FIELD_PAYLOAD, 0, FACT_NONE},
};

const struct field_spec ecom_line_item_fields[] = {
	{"itemInventoryId", FIELD_ITEM_ID, 0, FACT_NONE},
	{"quantity", FIELD_INT, 1, FACT_ITEM_QUANTITY},
	{"itemName", FIELD_STRING, 0, FACT_NONE},
	{"itemDescription", FIELD_STRING, 0, FACT_NONE},
	{"itemPrice", FIELD_MONEY, 0, FACT_ITEM_PRICE},
};

static const struct field_spec ordercreated_fields[] = {
	{"orderCreatedDate", FIELD_DATE, 0, FACT_NONE},
	{"orderShippedDate", FIELD_DATE_OR_NULL, 0, FACT_NONE},
	{"lineItems", FIELD_LINE_ITEMS, 0, FACT_NONE},
	{"orderPrice", FIELD_MONEY, 0, FACT_ORDER_PRICE},
	{"orderIsFulfilled", FIELD_BOOL, 0, FACT_NONE},
};

static const struct field_spec paymentcompleted_fields[] = {
	{"paymentCompletedDate", FIELD_DATE, 0, FACT_NONE},
	{"paymentAmount", FIELD_MONEY, 0, FACT_NONE},
};

static const struct field_spec inventoryupdated_fields[] = {
	{"inventoryUpdateCompletedDate", FIELD_DATE, 0, FACT_NONE},
};

static const struct field_spec ordershipped_fields[] = {
	{"orderShipmentDate", FIELD_DATE, 0, FACT_NONE},
	{"shippingDays", FIELD_INT, 0, FACT_NONE},
};

static const struct field_spec orderfulfilled_fields[] = {
	{"orderFulfillmentDate", FIELD_DATE, 0, FACT_NONE},
};

const struct ecom_payload_spec ecom_payload_specs[ECOM_EV_COUNT] = {
	{ordercreated_fields, SPEC_COUNT(ordercreated_fields)},
	{paymentcompleted_fields, SPEC_COUNT(paymentcompleted_fields)},
	{inventoryupdated_fields, SPEC_COUNT(inventoryupdated_fields)},
	{ordershipped_fields, SPEC_COUNT(ordershipped_fields)},
	{orderfulfilled_fields, SPEC_COUNT(orderfulfilled_fields)},
};

/*
 * The four products of the original application, as its order generator
 * writes them: inventory ids 1 to 4 (numbers there, their decimal text
 * here, so ecom's own form keeps string ids) and its descriptions.
 */
static const struct product {
	const char *inventory_id;
	const char *name;
	const char *description;
	int32_t quantity;
	int64_t price_cents;
} order_products[] = {
	{"1", "widget", "Super awesome widget that does I know not what", 20, 1399},
	{"2", "widget holder", "Super awesome widget holder", 20, 399},
	{"3", "widget stacker", "Super awesome widget stacker", 1, 499},
	{"4", "widget cleaner", "Super awesome widget cleaner", 1, 699},
};

#define SHIPPING_DAYS 2

const char *
ecom_event_type_name(ecom_event_type type)
{
	if ((unsigned)type >= ECOM_EV_COUNT)
		return NULL;
	return event_type_names[type];
}

int
ecom_event_type_from_name(const char *name, ecom_event_type *type)
{
	int t;

	if (name == NULL)
		return -1;
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		if (strcmp(name, event_type_names[t]) == 0) {
			*type = (ecom_event_type)t;
			return 0;
		}
	}
	return -1;
}

/* isdigit() without the locale. */
static int
parse_digits(const char *text, int n, int *value)
{
	int i;

	*value = 0;
	for (i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		*value = *value * 10 + (text[i] - '0');
	}
	return 0;
}

static int
days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

int
ecom_parse_iso8601(const char *text, int64_t *ms)
{
	struct tm tm;
	int year, month, day, hour, minute, second, fraction_ms = 0, digits = 0;
	const char *p;

	/* Each test only runs if the ones before it matched, so none reads past the NUL. */
	if (parse_digits(text, 4, &year) < 0 || text[4] != '-' ||
	    parse_digits(text + 5, 2, &month) < 0 || text[7] != '-' ||
	    parse_digits(text + 8, 2, &day) < 0 || text[10] != 'T' ||
	    parse_digits(text + 11, 2, &hour) < 0 || text[13] != ':' ||
	    parse_digits(text + 14, 2, &minute) < 0 || text[16] != ':' ||
	    parse_digits(text + 17, 2, &second) < 0)
		return -1;
	p = text + 19;
	if (*p == '.') {
		/* Up to nanoseconds are accepted; the store keeps milliseconds. */
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (digits < 3)
				fraction_ms = fraction_ms * 10 + (*p - '0');
		}
		if (digits < 1 || digits > 9)
			return -1;
		for (; digits < 3; digits++)
			fraction_ms *= 10;
	}
	if (*p == 'Z')
		p++;
	else if (strncmp(p, "+00:00", 6) == 0)
		p += 6;
	else
		return -1;
	if (*p != '\0' || month < 1 || month > 12 || day < 1 ||
	    day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59)
		return -1;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_sec = second;
	*ms = (int64_t)timegm(&tm) * 1000 + fraction_ms;
	return 0;
}

/* value (0 to 10^n - 1) as n decimal digits, zero-padded. */
static void
put_digits(char *out, int value, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + value % 10);
		value /= 10;
	}
}

void
ecom_format_iso8601(int64_t ms, char *buf, size_t size)
{
	int64_t seconds = ms / 1000;
	int64_t millis = ms % 1000;
	time_t t;
	struct tm tm;

	/* C division truncates toward zero; dates before 1970 need the floor. */
	if (millis < 0) {
		millis += 1000;
		seconds--;
	}
	t = (time_t)seconds;
	if (size == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return;
	}
	if (size < sizeof("0000-00-00T00:00:00.000Z") || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999) {
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)millis);
		return;
	}
	/* Every event's dates pass here twice a stage: snprintf was most of its cost. */
	put_digits(buf, tm.tm_year + 1900, 4);
	buf[4] = '-';
	put_digits(buf + 5, tm.tm_mon + 1, 2);
	buf[7] = '-';
	put_digits(buf + 8, tm.tm_mday, 2);
	buf[10] = 'T';
	put_digits(buf + 11, tm.tm_hour, 2);
	buf[13] = ':';
	put_digits(buf + 14, tm.tm_min, 2);
	buf[16] = ':';
	put_digits(buf + 17, tm.tm_sec, 2);
	buf[19] = '.';
	put_digits(buf + 20, (int)millis, 3);
	buf[23] = 'Z';
	buf[24] = '\0';
}

void
ecom_format_money(int64_t cents, char *buf, size_t size)
{
	/* Unsigned, so that INT64_MIN has a magnitude. */
	uint64_t magnitude = cents < 0 ? -(uint64_t)cents : (uint64_t)cents;

	snprintf(buf, size, "%s%" PRIu64 ".%02" PRIu64, cents < 0 ? "-" : "", magnitude / 100,
	         magnitude % 100);
}

int
ecom_parse_money(const char *text, int64_t *cents)
{
	const char *p = text;
	int negative = 0, decimals = 0;
	int64_t value = 0;

	if (*p == '-') {
		negative = 1;
		p++;
	}
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		/* Accumulate negatively: INT64_MIN has no positive counterpart. */
		if (__builtin_mul_overflow(value, 10, &value) ||
		    __builtin_sub_overflow(value, *p - '0', &value))
			return -1;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, decimals++) {
			if (decimals == 2 || __builtin_mul_overflow(value, 10, &value) ||
			    __builtin_sub_overflow(value, *p - '0', &value))
				return -1;
		}
		if (decimals == 0)
			return -1;
	}
	if (*p != '\0')
		return -1;
	for (; decimals < 2; decimals++) {
		if (__builtin_mul_overflow(value, 10, &value))
			return -1;
	}
	if (!negative && value == INT64_MIN)
		return -1;
	*cents = negative ? value : -value;
	return 0;
}

/*
 * Exact conversion of any finite Decimal128 with at most two significant
 * decimals ("279.8", "279.800", "2.798E+2"), as another writer of the
 * store may have produced it; decoded by hand because libbson offers only
 * a string conversion.
 */
static int
cents_from_decimal128(const bson_decimal128_t *dec, int64_t *cents)
{
	unsigned __int128 coefficient;
	int exponent;
	int negative = (int)(dec->high >> 63);

	/* Combination bits 11: infinity, NaN, or a non-canonical form nobody writes. */
	if (((dec->high >> 61) & 3) == 3)
		return -1;
	exponent = (int)((dec->high >> 49) & 0x3fff) - DEC128_EXPONENT_BIAS;
	coefficient = ((unsigned __int128)(dec->high & DEC128_COEFF_HIGH_MASK) << 64) | dec->low;
	if (coefficient == 0) {
		*cents = 0;
		return 0;
	}
	for (; exponent < -2; exponent++) {
		if (coefficient % 10 != 0)
			return -1;
		coefficient /= 10;
	}
	for (; exponent > -2; exponent--) {
		coefficient *= 10;
		if (coefficient > INT64_MAX)
			return -1;
	}
	if (coefficient > INT64_MAX)
		return -1;
	*cents = negative ? -(int64_t)coefficient : (int64_t)coefficient;
	return 0;
}

int
ecom_money_from_iter(const bson_iter_t *it, int64_t *cents)
{
	/* Beyond 2^53 a double no longer holds every whole number of cents. */
	const double limit = 9007199254740992.0;
	const char *text;
	uint32_t len;
	double scaled, off;
	int64_t rounded;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_UTF8:
		text = bson_iter_utf8(it, &len);
		if (memchr(text, '\0', len) != NULL)
			return -1;
		return ecom_parse_money(text, cents);
	case BSON_TYPE_DOUBLE:
		/* JSON numbers such as 13.99 arrive as the nearest double: round to
		 * whole cents, but only if the number really had two decimals. */
		scaled = bson_iter_double(it) * 100.0;
		if (!(scaled > -limit && scaled < limit))
			return -1;
		rounded = (int64_t)(scaled + (scaled < 0 ? -0.5 : 0.5));
		off = scaled - (double)rounded;
		if (off > 1e-6 || off < -1e-6)
			return -1;
		*cents = rounded;
		return 0;
	case BSON_TYPE_INT32:
		*cents = (int64_t)bson_iter_int32(it) * 100;
		return 0;
	case BSON_TYPE_INT64:
		return __builtin_mul_overflow(bson_iter_int64(it), 100, cents) ? -1 : 0;
	case BSON_TYPE_DECIMAL128: {
		bson_decimal128_t dec;

		bson_iter_decimal128(it, &dec);
		return cents_from_decimal128(&dec, cents);
	}
	default:
		return -1;
	}
}

/* Money in the store form: int64 is cents there (on the wire, units). */
int
ecom_store_money_from_iter(const bson_iter_t *it, int64_t *cents)
{
	if (BSON_ITER_HOLDS_INT64(it)) {
		*cents = bson_iter_int64(it);
		return 0;
	}
	return ecom_money_from_iter(it, cents);
}

const struct field_spec *
ecom_find_spec(const struct field_spec *specs, size_t count, const char *key)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(specs[i].name, key) == 0)
			return &specs[i];
	}
	return NULL;
}

void
ecom_event_reset(ecom_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	bson_init(&ev->doc);
}

/*
 * Start ev's store-form document up to the open payload.  The documents
 * built here are small and fixed, far from libbson's size limit, so
 * appends cannot fail.
 */
static void
event_begin(ecom_event *ev, ecom_event_type type, const char *event_id, int64_t now_ms,
            bson_t *payload)
{
	ecom_event_reset(ev);
	ev->type = type;
	memcpy(ev->event_id, event_id, ECOM_EVENT_ID_LEN);
	ev->created_ms = now_ms;
	BSON_APPEND_UTF8(&ev->doc, "eventId", ev->event_id);
	BSON_APPEND_UTF8(&ev->doc, "eventType", event_type_names[type]);
	BSON_APPEND_DATE_TIME(&ev->doc, "eventCreatedDate", now_ms);
	BSON_APPEND_DOCUMENT_BEGIN(&ev->doc, "payload", payload);
}

static void
event_end(ecom_event *ev, bson_t *payload)
{
	bson_append_document_end(&ev->doc, payload);
}

static int
check_now(int64_t now_ms, ecom_err *err)
{
	if (now_ms < MIN_DATE_MS || now_ms > MAX_DATE_MS)
		return ecom_err_set(err, "time %" PRId64 " ms is outside the years 0001 to 9999", now_ms);
	return 0;
}

static void
append_money(bson_t *doc, const char *key, int64_t cents)
{
	BSON_APPEND_INT64(doc, key, cents);
}

int
ecom_event_new_order(ecom_event *ev, int64_t now_ms, ecom_err *err)
{
	uuid_t uuid;
	char order_id[ECOM_EVENT_ID_LEN + 1];
	bson_t payload, items, item;
	int64_t order_cents = 0;
	size_t i;

	if (check_now(now_ms, err) < 0) {
		ecom_event_reset(ev);
		return -1;
	}
	uuid_generate_random(uuid);
	uuid_unparse_lower(uuid, order_id);
	event_begin(ev, ECOM_EV_ORDERCREATED, order_id, now_ms, &payload);
	BSON_APPEND_DATE_TIME(&payload, "orderCreatedDate", now_ms);
	BSON_APPEND_NULL(&payload, "orderShippedDate");
	BSON_APPEND_ARRAY_BEGIN(&payload, "lineItems", &items);
	for (i = 0; i < SPEC_COUNT(order_products); i++) {
		const struct product *p = &order_products[i];
		char key_buf[16];
		const char *key;

		bson_uint32_to_string((uint32_t)i, &key, key_buf, sizeof(key_buf));
		BSON_APPEND_DOCUMENT_BEGIN(&items, key, &item);
		BSON_APPEND_UTF8(&item, "itemInventoryId", p->inventory_id);
		BSON_APPEND_INT32(&item, "quantity", p->quantity);
		BSON_APPEND_UTF8(&item, "itemName", p->name);
		BSON_APPEND_UTF8(&item, "itemDescription", p->description);
		append_money(&item, "itemPrice", p->price_cents);
		bson_append_document_end(&items, &item);
		order_cents += p->quantity * p->price_cents;
	}
	bson_append_array_end(&payload, &items);
	append_money(&payload, "orderPrice", order_cents);
	BSON_APPEND_BOOL(&payload, "orderIsFulfilled", false);
	event_end(ev, &payload);
	return 0;
}

int
ecom_event_next(const ecom_event *prev, ecom_event *next, int64_t now_ms, ecom_err *err)
{
	bson_t payload;
	int64_t order_cents = 0;

	/* next must not be prev: it is reset before prev is read. */
	ecom_event_reset(next);
	if (check_now(now_ms, err) < 0)
		return -1;
	switch (prev->type) {
	case ECOM_EV_ORDERCREATED:
		if (ecom_event_money_cents(prev, "orderPrice", &order_cents) < 0)
			return ecom_err_set(err, "order '%s' has no valid 'payload.orderPrice'",
			                    prev->event_id);
		event_begin(next, ECOM_EV_PAYMENTCOMPLETED, prev->event_id, now_ms, &payload);
		BSON_APPEND_DATE_TIME(&payload, "paymentCompletedDate", now_ms);
		append_money(&payload, "paymentAmount", order_cents);
		break;
	case ECOM_EV_PAYMENTCOMPLETED:
		event_begin(next, ECOM_EV_INVENTORYUPDATED, prev->event_id, now_ms, &payload);
		BSON_APPEND_DATE_TIME(&payload, "inventoryUpdateCompletedDate", now_ms);
		break;
	case ECOM_EV_INVENTORYUPDATED:
		event_begin(next, ECOM_EV_ORDERSHIPPED, prev->event_id, now_ms, &payload);
		BSON_APPEND_DATE_TIME(&payload, "orderShipmentDate", now_ms);
		BSON_APPEND_INT32(&payload, "shippingDays", SHIPPING_DAYS);
		break;
	case ECOM_EV_ORDERSHIPPED:
		event_begin(next, ECOM_EV_ORDERFULFILLED, prev->event_id, now_ms, &payload);
		BSON_APPEND_DATE_TIME(&payload, "orderFulfillmentDate", now_ms);
		break;
	case ECOM_EV_ORDERFULFILLED:
		return ecom_err_set(err, "orderfulfilled is the last event");
	default:
		return ecom_err_set(err, "unknown event type %d", (int)prev->type);
	}
	event_end(next, &payload);
	return 0;
}

int
ecom_event_money_cents(const ecom_event *ev, const char *payload_field, int64_t *cents)
{
	bson_iter_t it, fields;

	if (!bson_iter_init_find(&it, &ev->doc, "payload") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
	    !bson_iter_recurse(&it, &fields) || !bson_iter_find(&fields, payload_field))
		return -1;
	return ecom_store_money_from_iter(&fields, cents);
}

void
ecom_event_destroy(ecom_event *ev)
{
	if (ev == NULL)
		return;
	/* A zeroed struct holds no document: bson_destroy() would free the struct itself. */
	if (ev->doc.len != 0)
		bson_destroy(&ev->doc);
	memset(ev, 0, sizeof(*ev));
}

