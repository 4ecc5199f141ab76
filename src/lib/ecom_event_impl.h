/*
 * Inside the event module (ecom_event.c, ecom_event_validate.c,
 * ecom_event_json.c, ecom_wire.c): the field tables that say which fields
 * each event has, and the conversions they share.  Not for other callers.
 */
#ifndef ECOM_EVENT_IMPL_H
#define ECOM_EVENT_IMPL_H

#include "ecom_event.h"

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

enum field_kind {
	FIELD_UUID,
	FIELD_EVENT_TYPE,
	FIELD_DATE,
	FIELD_DATE_OR_NULL,
	FIELD_MONEY,
	FIELD_INT, /* a whole number of at least field_spec.min */
	FIELD_BOOL,
	FIELD_STRING,
	FIELD_ITEM_ID, /* a string, or a whole number as the original application writes it */
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

struct ecom_payload_spec {
	const struct field_spec *fields;
	size_t count;
};

extern const struct field_spec ecom_event_fields[4];
extern const struct field_spec ecom_line_item_fields[5];
extern const struct ecom_payload_spec ecom_payload_specs[ECOM_EV_COUNT];

const struct field_spec *ecom_find_spec(const struct field_spec *specs, size_t count, const char *key);

/* Money of a JSON value (units) and of a store-form value (an int64 is cents); -1 if not money. */
int ecom_money_from_iter(const bson_iter_t *it, int64_t *cents);
int ecom_store_money_from_iter(const bson_iter_t *it, int64_t *cents);

/* An empty event, safe to destroy, that owns no memory. */
void ecom_event_reset(ecom_event *ev);

/* One JSON object into *doc (initialised here, destroy it); the error says what is wrong. */
int ecom_event_parse_json(const char *json, size_t len, bson_t *doc, ecom_err *err);
/* Validate a parsed wire-form document (an int64 amount is units). */
int ecom_event_from_wire_bson(const bson_t *doc, ecom_event *ev, ecom_err *err);

#endif
