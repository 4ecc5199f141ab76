/*
 * The five events of the order flow.  See ecom_event.h for the two forms.
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
#include "ecom_event.h"

#include <float.h>
#include <inttypes.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <uuid/uuid.h>

/*
 * The representable dates are years 0001 to 9999: the wire form has a
 * four-digit year, so a wider BSON date could not be printed and read
 * back, and PostgreSQL has no year 0 (ISO 8601's 0000 is its 1 BC).
 */
#define MIN_DATE_MS INT64_C(-62135596800000) /* 0001-01-01T00:00:00.000Z */
#define MAX_DATE_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */

/*
 * Money fits PostgreSQL's numeric(12,2): below ten thousand million.
 * One bound for every amount, so an event either store takes, the other
 * takes too.
 */
#define MAX_MONEY_CENTS INT64_C(999999999999) /* 9999999999.99 */

/* An offending value is quoted in messages up to this many characters. */
#define VALUE_QUOTE_CHARS 40
/* Each quoted character takes at most 6 bytes (\u00XX), plus quotes and "...". */
#define VALUE_TEXT_SIZE (VALUE_QUOTE_CHARS * 6 + 8)

/* What bson_init_from_json() reads JSON with: libbson's default chunk. */
#define JSON_READ_CHUNK 16384

/* Decimal128 (IEEE 754-2008 BID, as BSON stores it). */
#define DEC128_EXPONENT_BIAS 6176
#define DEC128_COEFF_HIGH_MASK UINT64_C(0x1ffffffffffff) /* 49 bits */

static const char *const event_type_names[ECOM_EV_COUNT] = {
	"ordercreated", "paymentcompleted", "inventoryupdated", "ordershipped", "orderfulfilled",
};

enum field_kind {
	FIELD_UUID,
	FIELD_EVENT_TYPE,
	FIELD_DATE,
	FIELD_DATE_OR_NULL,
	FIELD_MONEY,
	FIELD_INT, /* a whole number of at least field_spec.min */
	FIELD_BOOL,
	FIELD_STRING,
	FIELD_PAYLOAD,
	FIELD_LINE_ITEMS,
};

/* Values a later check needs, recorded while validating.  Slot 0 takes the rest. */
enum fact {
	FACT_NONE = 0,
	FACT_CREATED_MS,
	FACT_ORDER_PRICE,
	FACT_ITEM_QUANTITY,
	FACT_ITEM_PRICE,
	FACT_COUNT
};

struct field_spec {
	const char *name;
	enum field_kind kind;
	int64_t min;
	enum fact fact;
};

#define SPEC_COUNT(specs) (sizeof(specs) / sizeof((specs)[0]))

static const struct field_spec event_fields[] = {
	{"eventId", FIELD_UUID, 0, FACT_NONE},
	{"eventType", FIELD_EVENT_TYPE, 0, FACT_NONE},
	{"eventCreatedDate", FIELD_DATE, 0, FACT_CREATED_MS},
	{"payload", FIELD_PAYLOAD, 0, FACT_NONE},
};

static const struct field_spec line_item_fields[] = {
	{"itemInventoryId", FIELD_STRING, 0, FACT_NONE},
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

static const struct payload_spec {
	const struct field_spec *fields;
	size_t count;
} payload_specs[ECOM_EV_COUNT] = {
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
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)millis);
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

static int
money_from_iter(const bson_iter_t *it, int64_t *cents)
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
static int
store_money_from_iter(const bson_iter_t *it, int64_t *cents)
{
	if (BSON_ITER_HOLDS_INT64(it)) {
		*cents = bson_iter_int64(it);
		return 0;
	}
	return money_from_iter(it, cents);
}

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

static size_t
path_push(struct validation *v, const char *name)
{
	size_t outer = v->path_len;
	int n = snprintf(v->path + outer, sizeof(v->path) - outer, "%s%s", outer > 0 ? "." : "", name);

	if (n > 0)
		v->path_len = outer + (size_t)n < sizeof(v->path) ? outer + (size_t)n : sizeof(v->path) - 1;
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

static const struct field_spec *
find_spec(const struct field_spec *specs, size_t count, const char *key)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(specs[i].name, key) == 0)
			return &specs[i];
	}
	return NULL;
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
	return append_result(v, bson_append_utf8(out, spec->name, -1, event_type_names[type], -1));
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

	if ((v->int64_money_is_cents ? store_money_from_iter(in, &cents)
	                             : money_from_iter(in, &cents)) < 0)
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
	rc = copy_fields(v, &fields, payload_specs[v->type].fields, payload_specs[v->type].count,
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
	rc = copy_fields(v, &fields, line_item_fields, SPEC_COUNT(line_item_fields), &item);
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
	case FIELD_STRING:
		if (!BSON_ITER_HOLDS_UTF8(in))
			return field_error(v, in, "a string");
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
		const struct field_spec *spec = find_spec(specs, count, key);
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

/* An empty event, safe to destroy, that owns no memory. */
static void
event_reset(ecom_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	bson_init(&ev->doc);
}

static int
event_from_bson(const bson_t *doc, ecom_event *ev, int int64_money_is_cents, ecom_err *err)
{
	struct validation v;
	bson_iter_t it;
	int rc = -1;

	event_reset(ev);
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
	    copy_fields(&v, &it, event_fields, SPEC_COUNT(event_fields), &ev->doc) < 0)
		goto out;
	ev->type = v.type;
	memcpy(ev->event_id, v.event_id, sizeof(ev->event_id));
	ev->created_ms = v.facts[FACT_CREATED_MS];
	rc = 0;
out:
	if (rc < 0) {
		bson_destroy(&ev->doc);
		event_reset(ev);
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
ecom_event_from_json(const char *json, size_t len, ecom_event *ev, ecom_err *err)
{
	bson_json_reader_t *reader;
	bson_t parsed = BSON_INITIALIZER, extra = BSON_INITIALIZER;
	bson_error_t error;
	size_t i;
	int rc = -1;

	event_reset(ev);
	/* libbson would take a top-level array as a document keyed "0", "1", … */
	for (i = 0; i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\r' || json[i] == '\n');
	     i++)
		;
	if (i < len && json[i] == '[')
		return ecom_err_set(err, "not a JSON object: got an array");

	reader = bson_json_data_reader_new(false, JSON_READ_CHUNK);
	bson_json_data_reader_ingest(reader, (const uint8_t *)json, len);
	switch (bson_json_reader_read(reader, &parsed, &error)) {
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
	rc = event_from_bson(&parsed, ev, 0, err);
out:
	bson_json_reader_destroy(reader);
	bson_destroy(&extra);
	bson_destroy(&parsed);
	return rc;
}

static bool wire_copy(ecom_event_type type, bson_iter_t *in, const struct field_spec *specs,
                      size_t count, bson_t *out);

/* The document under in, converted by wire_copy(), as out's member key. */
static bool
wire_copy_document(ecom_event_type type, const bson_iter_t *in, const char *key,
                   const struct field_spec *specs, size_t count, bson_t *out)
{
	bson_iter_t fields;
	bson_t child;
	bool ok;

	if (!bson_iter_recurse(in, &fields) || !bson_append_document_begin(out, key, -1, &child))
		return false;
	ok = wire_copy(type, &fields, specs, count, &child);
	return bson_append_document_end(out, &child) && ok;
}

static bool
wire_copy_line_items(ecom_event_type type, const bson_iter_t *in, const char *key, bson_t *out)
{
	bson_iter_t elements;
	bson_t items;
	bool ok = true;

	if (!bson_iter_recurse(in, &elements) || !bson_append_array_begin(out, key, -1, &items))
		return false;
	while (ok && bson_iter_next(&elements)) {
		const char *index = bson_iter_key(&elements);

		if (BSON_ITER_HOLDS_DOCUMENT(&elements))
			ok = wire_copy_document(type, &elements, index, line_item_fields,
			                        SPEC_COUNT(line_item_fields), &items);
		else
			ok = bson_append_iter(&items, index, -1, &elements);
	}
	return bson_append_array_end(out, &items) && ok;
}

/*
 * Store form to wire form, led by the same field tables as validation:
 * only known dates and amounts become strings, so an unknown field that
 * is a date stays {"$date": …} and reads back as the same BSON date.
 */
static bool
wire_copy(ecom_event_type type, bson_iter_t *in, const struct field_spec *specs, size_t count,
          bson_t *out)
{
	bool ok = true;

	while (ok && bson_iter_next(in)) {
		const char *key = bson_iter_key(in);
		const struct field_spec *spec = find_spec(specs, count, key);
		char text[64]; /* wider than any date needs: -O3 counts every int as 11 digits */
		int64_t value;

		if (spec == NULL) {
			ok = bson_append_iter(out, key, -1, in);
			continue;
		}
		switch (spec->kind) {
		case FIELD_DATE:
		case FIELD_DATE_OR_NULL:
			if (!BSON_ITER_HOLDS_DATE_TIME(in))
				break;
			ecom_format_iso8601(bson_iter_date_time(in), text, sizeof(text));
			ok = bson_append_utf8(out, key, -1, text, -1);
			continue;
		case FIELD_MONEY:
			if (store_money_from_iter(in, &value) < 0)
				break;
			ecom_format_money(value, text, sizeof(text));
			ok = bson_append_utf8(out, key, -1, text, -1);
			continue;
		case FIELD_PAYLOAD:
			if (!BSON_ITER_HOLDS_DOCUMENT(in))
				break;
			ok = wire_copy_document(type, in, key, payload_specs[type].fields,
			                        payload_specs[type].count, out);
			continue;
		case FIELD_LINE_ITEMS:
			if (!BSON_ITER_HOLDS_ARRAY(in))
				break;
			ok = wire_copy_line_items(type, in, key, out);
			continue;
		default:
			break;
		}
		ok = bson_append_iter(out, key, -1, in);
	}
	return ok;
}

char *
ecom_event_to_json(const ecom_event *ev, size_t *len)
{
	bson_t wire = BSON_INITIALIZER;
	bson_iter_t it;
	char *json = NULL;

	if ((unsigned)ev->type < ECOM_EV_COUNT && bson_iter_init(&it, &ev->doc) &&
	    wire_copy(ev->type, &it, event_fields, SPEC_COUNT(event_fields), &wire))
		json = bson_as_relaxed_extended_json(&wire, len);
	bson_destroy(&wire);
	return json;
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
	event_reset(ev);
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
		event_reset(ev);
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
	event_reset(next);
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
	return store_money_from_iter(&fields, cents);
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
