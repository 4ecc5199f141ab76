/*
 * Secrets out of messages (src/lib/ecom_redact.c): no service needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <bson/bson.h>
#include <cmocka.h>

#include "ecom_redact.h"

static void
uri_passwords_are_hidden(void **state)
{
	static const struct {
		const char *uri, *redacted;
	} cases[] = {
		{"mongodb://127.0.0.1:27018/ecommerce", "mongodb://127.0.0.1:27018/ecommerce"},
		{"mongodb://user:secret@127.0.0.1:27018/ecommerce",
		 "mongodb://user:***@127.0.0.1:27018/ecommerce"},
		{"mongodb://user@127.0.0.1/x", "mongodb://user@127.0.0.1/x"},
		{"mongodb://u:p@h1:1,h2:2/db?replicaSet=rs", "mongodb://u:***@h1:1,h2:2/db?replicaSet=rs"},
		{"postgresql://ecom:ecom@127.0.0.1:5432/ecommerce",
		 "postgresql://ecom:***@127.0.0.1:5432/ecommerce"},
		{"postgres://ecom:p%40ss@host", "postgres://ecom:***@host"},
		{"postgresql://ecom:pa/ss@host/db", "postgresql://ecom:***@host/db"},
		{"postgresql://host/db?user=ecom&password=secret&sslmode=off",
		 "postgresql://host/db?user=ecom&password=***&sslmode=off"},
		{"host=127.0.0.1 password=secret dbname=x", "host=127.0.0.1 password=*** dbname=x"},
		{"host=h password = 'sec ret' user=u", "host=h password = *** user=u"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *redacted = ecom_redact_uri(cases[i].uri);

		assert_string_equal(redacted, cases[i].redacted);
		bson_free(redacted);
	}
}

static void
password_in_a_driver_message_is_hidden(void **state)
{
	char text[256];

	(void)state;
	snprintf(text, sizeof(text), "invalid percent-encoded token: \"s%%zzcret\"");
	ecom_redact_password_in(text, sizeof(text), "postgresql://u:s%zzcret@h/db");
	assert_string_equal(text, "invalid percent-encoded token: \"***\"");
	/* As written, and as the driver decoded it. */
	snprintf(text, sizeof(text), "user u with password p@ss failed, p%%40ss");
	ecom_redact_password_in(text, sizeof(text), "mongodb://u:p%40ss@h/db");
	assert_string_equal(text, "user u with password *** failed, ***");
	snprintf(text, sizeof(text), "option password=hunter2 refused");
	ecom_redact_password_in(text, sizeof(text), "postgresql://h/db?password=hunter2");
	assert_string_equal(text, "option password=*** refused");
	/* A URI without a password leaves the text alone. */
	snprintf(text, sizeof(text), "connection refused");
	ecom_redact_password_in(text, sizeof(text), "postgresql://u@h/db");
	assert_string_equal(text, "connection refused");
}

static void
short_secret_in_a_full_buffer_is_cut_not_overrun(void **state)
{
	char text[8] = "a-b-c-d";

	(void)state;
	ecom_redact_text(text, sizeof(text), "b");
	assert_string_equal(text, "a-***-c");
	ecom_redact_text(text, sizeof(text), "***"); /* the stars themselves: no endless loop */
	assert_string_equal(text, "a-***-c");
}

static void
secret_kafka_properties_are_known(void **state)
{
	(void)state;
	assert_true(ecom_redact_is_secret_property("sasl.password"));
	assert_true(ecom_redact_is_secret_property("ssl.key.password"));
	assert_true(ecom_redact_is_secret_property("ssl.keystore.password"));
	assert_true(ecom_redact_is_secret_property("sasl.oauthbearer.client.secret"));
	assert_true(ecom_redact_is_secret_property("ssl.key.pem"));
	assert_false(ecom_redact_is_secret_property("linger.ms"));
	assert_false(ecom_redact_is_secret_property("sasl.username"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uri_passwords_are_hidden),
		cmocka_unit_test(password_in_a_driver_message_is_hidden),
		cmocka_unit_test(short_secret_in_a_full_buffer_is_cut_not_overrun),
		cmocka_unit_test(secret_kafka_properties_are_known),
	};

	return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
