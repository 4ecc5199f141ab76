/*
 * The five events of the order flow: build, parse, validate, serialise.
 *
 * Wire form (Kafka, stdin/stdout): one JSON object per event,
 *   {"eventId": "<uuid>", "eventType": "ordercreated",
 *    "eventCreatedDate": "2026-11-27T08:00:00.123Z", "payload": {…}}
 * with dates as UTC ISO-8601 strings (millisecond precision) and money
 * as decimal strings with two places ("279.80").  On input, dates may
 * also be extended-JSON {"$date": …} and money a JSON number or string
 * with at most two decimal places.
 *
 * Store form (ecom_event.doc, what the stores write): the same document
 * with dates as BSON dates and money as int64 cents (37158 is 371.58;
 * exact, and FerretDB has no Decimal128).  Unknown fields, at
 * the top level and in the payload, are kept in both forms.
 *
 * libbson does all JSON parsing and printing.  The Spring Boot
 * application's wire form, and reading either form from a message, are
 * in ecom_wire.h.
 */
#ifndef ECOM_EVENT_H
#define ECOM_EVENT_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecom_log.h"

typedef enum ecom_event_type {
	ECOM_EV_ORDERCREATED = 0,
	ECOM_EV_PAYMENTCOMPLETED,
	ECOM_EV_INVENTORYUPDATED,
	ECOM_EV_ORDERSHIPPED,
	ECOM_EV_ORDERFULFILLED,
	ECOM_EV_COUNT
} ecom_event_type;

#define ECOM_EVENT_ID_LEN 36 /* canonical lower-case UUID text */

typedef struct ecom_event {
	ecom_event_type type;
	char event_id[ECOM_EVENT_ID_LEN + 1];
	int64_t created_ms; /* eventCreatedDate, ms since the epoch */
	bson_t doc;         /* store form, see above */
} ecom_event;

/* "ordercreated" … "orderfulfilled": also the topic and collection names. */
const char *ecom_event_type_name(ecom_event_type type);
/* -1 if name is not one of the five. */
int ecom_event_type_from_name(const char *name, ecom_event_type *type);

/*
 * Parse and validate one JSON text.  The error names the field
 * ("missing field 'payload.paymentAmount'", "field 'eventCreatedDate': not
 * an ISO-8601 date") or the JSON problem; callers add the input line.
 * On success *ev must later be passed to ecom_event_destroy().
 */
int ecom_event_from_json(const char *json, size_t len, ecom_event *ev, ecom_err *err);
/*
 * Validate a document already in BSON: the store form (an int64 amount is
 * cents) or the wire form parsed by libbson.
 */
int ecom_event_from_bson(const bson_t *doc, ecom_event *ev, ecom_err *err);

/* Wire-form JSON (one line, no newline); free with bson_free(). */
char *ecom_event_to_json(const ecom_event *ev, size_t *len);

/* A new order: fresh UUID, the four line items of the original, orderPrice 371.58 (summed from the items) */
int ecom_event_new_order(ecom_event *ev, int64_t now_ms, ecom_err *err);
/*
 * The event the next stage emits after prev (ordercreated → paymentcompleted
 * → … → orderfulfilled), same eventId; paymentAmount is the order's price
 * carried along.  -1 for orderfulfilled, which has no successor.
 */
int ecom_event_next(const ecom_event *prev, ecom_event *next, int64_t now_ms, ecom_err *err);

/* Money of a field in the payload, in cents (e.g. "orderPrice"); -1 if absent. */
int ecom_event_money_cents(const ecom_event *ev, const char *payload_field, int64_t *cents);

void ecom_event_destroy(ecom_event *ev);

/* Helpers shared with the stores and tests. */
/* "2026-11-27T08:00:00.123Z" into buf (at least 25 bytes). */
void ecom_format_iso8601(int64_t ms, char *buf, size_t size);
int ecom_parse_iso8601(const char *text, int64_t *ms);
/* "279.80" ⇄ 27980; parse accepts "279.8", "279", "-1.05"; at most two decimals. */
void ecom_format_money(int64_t cents, char *buf, size_t size);
int ecom_parse_money(const char *text, int64_t *cents);

#endif
