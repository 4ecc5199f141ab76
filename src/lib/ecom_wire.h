/*
 * The two wire forms an event travels in, and the conversion between them.
 *
 * "ecom": ecom's own form (ecom_event.h): eventType in the message, ISO
 * dates, money as two-decimal strings.
 *
 * "spring": the form of the Spring Boot application ecom reimplements
 * (Spring Kafka's JsonSerializer over its Java classes):
 *   {"id": null, "eventId": "<uuid>", "eventCreatedDate": <epoch ms>,
 *    "payload": {…}}
 * with no eventType (the topic, or the __TypeId__ header naming the Java
 * class, says it), dates as epoch milliseconds, money as doubles
 * (371.58000000000004), item ids as numbers, shippingDays as a double,
 * and the application's spellings orderIsFullfilled and
 * inventoryUpdateCompleDate.
 *
 * Reading takes either form; writing writes the configured one (config
 * key `wire`, --wire).  A double is taken as money when it is within a
 * thousandth of a cent of a whole number of cents: that accepts the
 * binary noise of the application's sums (371.58000000000004) and
 * refuses any amount with a sub-cent digit (371.585).
 */
#ifndef ECOM_WIRE_H
#define ECOM_WIRE_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "ecom_config.h"
#include "ecom_event.h"
#include "ecom_kafka.h"
#include "ecom_log.h"

typedef enum ecom_wire { ECOM_WIRE_ECOM = 0, ECOM_WIRE_SPRING } ecom_wire;

/* The header that names the application's Java class of the value. */
#define ECOM_HDR_SPRING_TYPE "__TypeId__"

/* "ecom" or "spring"; -1 for anything else. */
int ecom_wire_from_name(const char *name, ecom_wire *wire);
const char *ecom_wire_name(ecom_wire wire);
/* The form cfg's `wire` key selects (checked when it was set). */
ecom_wire ecom_config_wire(const ecom_config *cfg);

/* "com.dbm.main.mongo.model.OrderCreatedEvent" …; -1 for an unknown class. */
const char *ecom_wire_type_id(ecom_event_type type);
int ecom_wire_type_from_id(const char *type_id, size_t len, ecom_event_type *type);

/* A header's value by name, or NULL; for ecom_event_from_wire(). */
typedef const char *(*ecom_header_lookup)(const void *ctx, const char *name, size_t *len);

/*
 * One message in either form into ecom's event.  A message without
 * eventType is the application's: its type comes from the __TypeId__
 * header, else from the topic's name (its last component matching one
 * of the five), else from `expected` (ECOM_EV_COUNT: none).  *form, if
 * not NULL, says which form it was.  The error names the field.
 */
int ecom_event_from_wire(const char *payload, size_t len, const char *topic,
                         ecom_header_lookup header, const void *ctx, ecom_event_type expected,
                         ecom_event *ev, ecom_wire *form, ecom_err *err);
/* The same for a consumed message: its payload, topic and headers. */
int ecom_event_from_message(const rd_kafka_message_t *m, ecom_event_type expected, ecom_event *ev,
                            ecom_err *err);

/* The application's JSON of one event of type into ecom's event. */
int ecom_event_from_spring_json(const char *json, size_t len, ecom_event_type type,
                                ecom_event *ev, ecom_err *err);

/*
 * ev in the wire form given: one line of JSON (free with bson_free()), or
 * NULL if ev cannot be written.  *type_id, if not NULL, gets the value of
 * the __TypeId__ header the form needs, or NULL for ecom's form.
 */
char *ecom_event_to_wire(const ecom_event *ev, ecom_wire wire, size_t *len,
                         const char **type_id);

/*
 * ev as Spring Data MongoDB stores the application's event: a new
 * ObjectId _id, eventId, eventCreatedDate and the payload's dates as
 * BSON dates, money as doubles, the application's names and item ids,
 * and _class naming the Java class.  doc is initialised here.
 */
void ecom_wire_spring_document(const ecom_event *ev, bson_t *doc);

/*
 * Queue ev on topic in the wire form given, keyed by its order id, with
 * ecom's timing headers and, in the application's form, __TypeId__.  The
 * key stays the order id in both forms: ecom's topics may have many
 * partitions, and one order's events must keep to one; the application
 * ignores keys.
 */
int ecom_wire_send_event(ecom_producer *p, ecom_wire wire, const char *topic, const ecom_event *ev,
                         int64_t order_us, ecom_err *err);
/* The same with ev's text already in that form (a line passed on as it is). */
int ecom_wire_send_text(ecom_producer *p, ecom_wire wire, const char *topic, const ecom_event *ev,
                        const char *text, size_t len, int64_t order_us, ecom_err *err);

#endif
