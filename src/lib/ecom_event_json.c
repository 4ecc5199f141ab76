/*
 * Store form to ecom's wire form (JSON with ISO-8601 dates and money as
 * two-decimal strings), led by the same field tables as validation.
 */
#include "ecom_event_impl.h"
#include "ecom_json.h"

#include <string.h>


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
			ok = wire_copy_document(type, &elements, index, ecom_line_item_fields,
			                        SPEC_COUNT(ecom_line_item_fields), &items);
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
		const struct field_spec *spec = ecom_find_spec(specs, count, key);
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
			if (ecom_store_money_from_iter(in, &value) < 0)
				break;
			ecom_format_money(value, text, sizeof(text));
			ok = bson_append_utf8(out, key, -1, text, -1);
			continue;
		case FIELD_PAYLOAD:
			if (!BSON_ITER_HOLDS_DOCUMENT(in))
				break;
			ok = wire_copy_document(type, in, key, ecom_payload_specs[type].fields,
			                        ecom_payload_specs[type].count, out);
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
	    wire_copy(ev->type, &it, ecom_event_fields, SPEC_COUNT(ecom_event_fields), &wire))
		json = ecom_json_relaxed(&wire, len);
	bson_destroy(&wire);
	return json;
}
