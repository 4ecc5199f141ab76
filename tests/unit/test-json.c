/*
 * Unit tests: ecom_json_relaxed() against libbson's own
 * bson_as_relaxed_extended_json(), the oracle, on every BSON type an
 * event can carry, on strings that need escaping, and on documents
 * libbson refuses or that are cut short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecom_json.h"

/* Both writers on doc: the same text, or both NULL. */
static void
assert_same_as_libbson(const bson_t *doc)
{
	size_t want_len = 0, got_len = 0;
	char *want = bson_as_relaxed_extended_json(doc, &want_len);
	char *got = ecom_json_relaxed(doc, &got_len);

	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(got_len, want_len);
	assert_int_equal(strlen(got), got_len);
	bson_free(want);
	bson_free(got);
}

static void
assert_json_same_as_libbson(const char *json)
{
	bson_error_t error;
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &error);

	if (doc == NULL)
		fail_msg("fixture: %s: %s", json, error.message);
	assert_same_as_libbson(doc);
	bson_destroy(doc);
}

static void
plain_values_match_libbson(void **state)
{
	static const char *const docs[] = {
	    "{}",
	    "{\"a\":[]}",
	    "{\"a\":{}}",
	    "{\"a\":[{},[],[[]]]}",
	    "{\"i\":1,\"n\":-2147483648,\"m\":2147483647,\"t\":true,\"f\":false,\"z\":null}",
	    "{\"l\":{\"$numberLong\":\"-9223372036854775808\"},\"h\":{\"$numberLong\":\"9223372036854775807\"}}",
	    "{\"eventId\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"payload\":{\"lineItems\":"
	    "[{\"quantity\":2,\"itemPrice\":\"13.99\"}],\"orderShippedDate\":null}}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		assert_json_same_as_libbson(docs[i]);
}

static void
other_types_are_written_by_libbson(void **state)
{
	(void)state;
	assert_json_same_as_libbson(
	    "{\"d\":2.5,\"e\":1.0,\"big\":1e300,\"nan\":{\"$numberDouble\":\"NaN\"},"
	    "\"date\":{\"$date\":\"2020-01-01T00:00:00Z\"},\"o\":{\"$oid\":\"5f1d7f2b9c9d440000a1b2c3\"},"
	    "\"dec\":{\"$numberDecimal\":\"1.10\"},"
	    "\"bin\":{\"$binary\":{\"base64\":\"AAE=\",\"subType\":\"00\"}},"
	    "\"re\":{\"$regularExpression\":{\"pattern\":\"a\\\"b\",\"options\":\"i\"}},"
	    "\"ts\":{\"$timestamp\":{\"t\":1,\"i\":2}},\"min\":{\"$minKey\":1},\"max\":{\"$maxKey\":1},"
	    "\"in\":[1.5,{\"$date\":\"1969-12-31T23:59:59Z\"}]}");
}

static void
strings_that_need_escaping_match_libbson(void **state)
{
	bson_t doc = BSON_INITIALIZER;
	static const char nul_inside[] = {'a', '\0', 'b'};

	(void)state;
	assert_json_same_as_libbson("{\"s\":\"he\\\"llo\\\\ \\n\\r\\t\\b\\f\\u0001\\u001f \\u007f\"}");
	assert_json_same_as_libbson("{\"k\\\"ey\":\"v\",\"caf\\u00e9\":\"\\u00fc \\u20ac \\ud83d\\ude00\"}");
	/* A NUL inside a string, which JSON text cannot make. */
	bson_append_utf8(&doc, "nul", -1, nul_inside, (int)sizeof(nul_inside));
	assert_same_as_libbson(&doc);
	bson_destroy(&doc);
}

static void
invalid_utf8_is_refused_as_libbson_refuses_it(void **state)
{
	bson_t doc = BSON_INITIALIZER;

	(void)state;
	bson_append_utf8(&doc, "ok", -1, "fine", -1);
	bson_append_utf8(&doc, "bad", -1, "\xff\xfe", 2);
	assert_same_as_libbson(&doc);
	bson_destroy(&doc);
	bson_init(&doc);
	bson_append_utf8(&doc, "\xc3", -1, "bad key", -1);
	assert_same_as_libbson(&doc);
	bson_destroy(&doc);
}

static void
deep_documents_match_libbson(void **state)
{
	bson_t *levels[260];
	int depth, i;

	(void)state;
	for (depth = 50; depth <= 250; depth += 100) {
		levels[0] = bson_new();
		for (i = 1; i <= depth; i++) {
			levels[i] = bson_new();
			bson_append_int32(levels[i], "x", 1, i);
		}
		/* Innermost first: each level holds the one below it. */
		for (i = depth; i > 0; i--)
			bson_append_document(levels[i - 1], "d", 1, levels[i]);
		assert_same_as_libbson(levels[0]);
		for (i = 0; i <= depth; i++)
			bson_destroy(levels[i]);
	}
}

static void
corrupt_documents_match_libbson(void **state)
{
	bson_t *doc = BCON_NEW("a", BCON_INT32(1), "s", BCON_UTF8("text"), "c",
	                       "{", "d", BCON_INT32(2), "}");
	uint8_t *copy = bson_malloc(doc->len);
	bson_t cut;

	(void)state;
	memcpy(copy, bson_get_data(doc), doc->len);
	/* The string's length says more bytes than the document holds. */
	copy[4 + 1 + 2 + 4 + 1 + 2] = 0x7f;
	if (bson_init_static(&cut, copy, doc->len))
		assert_same_as_libbson(&cut);
	bson_free(copy);
	bson_destroy(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(plain_values_match_libbson),
	    cmocka_unit_test(other_types_are_written_by_libbson),
	    cmocka_unit_test(strings_that_need_escaping_match_libbson),
	    cmocka_unit_test(invalid_utf8_is_refused_as_libbson_refuses_it),
	    cmocka_unit_test(deep_documents_match_libbson),
	    cmocka_unit_test(corrupt_documents_match_libbson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
