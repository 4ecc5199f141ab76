#include "ecom_json.h"

#include <math.h>
#include <string.h>

static void append_document(bson_string_t *out, const bson_t *doc, bool is_array);

static void
append_string(bson_string_t *out, const char *text, uint32_t len)
{
	char *escaped = bson_utf8_escape_for_json(text, (ssize_t)len);

	bson_string_append_c(out, '"');
	bson_string_append(out, escaped != NULL ? escaped : "");
	bson_string_append_c(out, '"');
	bson_free(escaped);
}

/* libbson's extended JSON of one value, with the blanks outside strings taken out. */
static void
append_extended(bson_string_t *out, const bson_iter_t *it)
{
	bson_t one = BSON_INITIALIZER;
	char *json, *p;
	bool in_string = false, escaped = false;
	size_t len;

	bson_append_iter(&one, "v", 1, it);
	json = bson_as_relaxed_extended_json(&one, &len);
	bson_destroy(&one);
	if (json == NULL) {
		bson_string_append(out, "null");
		return;
	}
	/* "{ "v" : VALUE }": the value starts after the first ':' and ends before the last '}'. */
	p = strchr(json, ':') + 1;
	json[len - 1] = '\0';
	for (; *p != '\0'; p++) {
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (*p == '\\')
				escaped = true;
			else if (*p == '"')
				in_string = false;
		} else if (*p == '"') {
			in_string = true;
		} else if (*p == ' ') {
			continue;
		}
		bson_string_append_c(out, *p);
	}
	bson_free(json);
}

static void
append_value(bson_string_t *out, const bson_iter_t *it)
{
	const uint8_t *data;
	uint32_t len;
	const char *text;
	double d;
	bson_t child;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_UTF8:
		text = bson_iter_utf8(it, &len);
		append_string(out, text, len);
		break;
	case BSON_TYPE_INT32:
		bson_string_append_printf(out, "%d", bson_iter_int32(it));
		break;
	case BSON_TYPE_INT64:
		bson_string_append_printf(out, "%lld", (long long)bson_iter_int64(it));
		break;
	case BSON_TYPE_DOUBLE:
		d = bson_iter_double(it);
		if (isfinite(d))
			bson_string_append_printf(out, "%.15g", d);
		else
			bson_string_append(out, "null");
		break;
	case BSON_TYPE_BOOL:
		bson_string_append(out, bson_iter_bool(it) ? "true" : "false");
		break;
	case BSON_TYPE_NULL:
		bson_string_append(out, "null");
		break;
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY:
		if (BSON_ITER_HOLDS_DOCUMENT(it))
			bson_iter_document(it, &len, &data);
		else
			bson_iter_array(it, &len, &data);
		if (bson_init_static(&child, data, len))
			append_document(out, &child, BSON_ITER_HOLDS_ARRAY(it));
		else
			bson_string_append(out, "null");
		break;
	default:
		append_extended(out, it);
		break;
	}
}

static void
append_document(bson_string_t *out, const bson_t *doc, bool is_array)
{
	bson_iter_t it;
	bool first = true;

	bson_string_append_c(out, is_array ? '[' : '{');
	if (bson_iter_init(&it, doc)) {
		while (bson_iter_next(&it)) {
			if (!first)
				bson_string_append_c(out, ',');
			first = false;
			if (!is_array) {
				append_string(out, bson_iter_key(&it), (uint32_t)bson_iter_key_len(&it));
				bson_string_append_c(out, ':');
			}
			append_value(out, &it);
		}
	}
	bson_string_append_c(out, is_array ? ']' : '}');
}

char *
ecom_json_compact(const bson_t *doc, size_t *len)
{
	bson_string_t *out = bson_string_new(NULL);

	append_document(out, doc, false);
	if (len != NULL)
		*len = out->len;
	return bson_string_free(out, false);
}

int
ecom_json_print(FILE *out, const bson_t *doc)
{
	size_t len;
	char *json = ecom_json_compact(doc, &len);
	int rc = 0;

	if (fwrite(json, 1, len, out) != len || putc('\n', out) == EOF)
		rc = -1;
	bson_free(json);
	return rc;
}
