#include "ecom_json.h"

#include <inttypes.h>
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

/*
 * The relaxed extended JSON writer.  Strings of plain printable ASCII,
 * 32-bit and 64-bit integers, booleans, nulls, documents and arrays are
 * written here; every other value and every string that needs escaping
 * is written by libbson itself, so the text stays libbson's.
 */
typedef struct relaxed_buf {
	char *data;
	size_t len, size;
} relaxed_buf;

/* libbson stops at this depth; deeper documents are left to it whole. */
#define RELAXED_MAX_DEPTH 100

static void
relaxed_reserve(relaxed_buf *b, size_t more)
{
	if (b->len + more + 1 <= b->size)
		return;
	while (b->len + more + 1 > b->size)
		b->size *= 2;
	b->data = bson_realloc(b->data, b->size); /* aborts when out of memory */
}

static void
relaxed_put(relaxed_buf *b, const char *text, size_t len)
{
	relaxed_reserve(b, len);
	memcpy(b->data + b->len, text, len);
	b->len += len;
}

static bool
plain_ascii(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* A quoted string; false where libbson would refuse it. */
static bool
relaxed_string(relaxed_buf *b, const char *text, size_t len)
{
	char *escaped;

	relaxed_put(b, "\"", 1);
	if (plain_ascii(text, len)) {
		relaxed_put(b, text, len);
	} else {
		/* libbson's visit takes invalid UTF-8 for a corrupt document. */
		if (!bson_utf8_validate(text, len, true))
			return false;
		escaped = bson_utf8_escape_for_json(text, (ssize_t)len);
		if (escaped == NULL)
			return false;
		relaxed_put(b, escaped, strlen(escaped));
		bson_free(escaped);
	}
	relaxed_put(b, "\"", 1);
	return true;
}

/* One value as libbson writes it, cut out of '{ "v" : VALUE }'. */
static bool
relaxed_by_libbson(relaxed_buf *b, const bson_iter_t *it)
{
	bson_t one = BSON_INITIALIZER;
	char *json;
	size_t len;
	static const char head[] = "{ \"v\" : ", tail[] = " }";

	bson_append_iter(&one, "v", 1, it);
	json = bson_as_relaxed_extended_json(&one, &len);
	bson_destroy(&one);
	if (json == NULL)
		return false;
	if (len < sizeof(head) - 1 + sizeof(tail) - 1 ||
	    memcmp(json, head, sizeof(head) - 1) != 0) {
		bson_free(json);
		return false;
	}
	relaxed_put(b, json + sizeof(head) - 1, len - (sizeof(head) - 1) - (sizeof(tail) - 1));
	bson_free(json);
	return true;
}

static bool relaxed_document(relaxed_buf *b, const bson_t *doc, bool is_array, int depth);

static bool
relaxed_value(relaxed_buf *b, const bson_iter_t *it, int depth)
{
	char number[24];
	const uint8_t *data;
	const char *text;
	uint32_t len;
	bson_t child;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_UTF8:
		text = bson_iter_utf8(it, &len);
		return relaxed_string(b, text, len);
	case BSON_TYPE_INT32:
		relaxed_put(b, number,
		            (size_t)snprintf(number, sizeof(number), "%" PRId32, bson_iter_int32(it)));
		return true;
	case BSON_TYPE_INT64:
		relaxed_put(b, number,
		            (size_t)snprintf(number, sizeof(number), "%" PRId64, bson_iter_int64(it)));
		return true;
	case BSON_TYPE_BOOL:
		if (bson_iter_bool(it))
			relaxed_put(b, "true", 4);
		else
			relaxed_put(b, "false", 5);
		return true;
	case BSON_TYPE_NULL:
		relaxed_put(b, "null", 4);
		return true;
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY:
		if (BSON_ITER_HOLDS_DOCUMENT(it))
			bson_iter_document(it, &len, &data);
		else
			bson_iter_array(it, &len, &data);
		return bson_init_static(&child, data, len) &&
		       relaxed_document(b, &child, BSON_ITER_HOLDS_ARRAY(it), depth + 1);
	default:
		return relaxed_by_libbson(b, it);
	}
}

static bool
relaxed_document(relaxed_buf *b, const bson_t *doc, bool is_array, int depth)
{
	bson_iter_t it;
	bool first = true;

	if (depth > RELAXED_MAX_DEPTH || !bson_iter_init(&it, doc))
		return false;
	relaxed_put(b, is_array ? "[ " : "{ ", 2);
	while (bson_iter_next(&it)) {
		if (!first)
			relaxed_put(b, ", ", 2);
		first = false;
		if (!is_array) {
			if (!relaxed_string(b, bson_iter_key(&it), bson_iter_key_len(&it)))
				return false;
			relaxed_put(b, " : ", 3);
		}
		if (!relaxed_value(b, &it, depth))
			return false;
	}
	/* A document cut short: libbson's visit stops there too, and says so. */
	if (it.err_off != 0)
		return false;
	/* libbson's own quirk: an empty top-level document is "{ }", a nested one "{  }". */
	if (first && depth == 0)
		relaxed_put(b, "}", 1);
	else
		relaxed_put(b, is_array ? " ]" : " }", 2);
	return true;
}

char *
ecom_json_relaxed(const bson_t *doc, size_t *len)
{
	relaxed_buf b = {.size = 512};

	b.data = bson_malloc(b.size);
	if (!relaxed_document(&b, doc, false, 0)) {
		/* Whatever is odd (a corrupt or deep document), libbson says what it makes of it. */
		bson_free(b.data);
		return bson_as_relaxed_extended_json(doc, len);
	}
	b.data[b.len] = '\0';
	if (len != NULL)
		*len = b.len;
	return b.data;
}
