/*
 * No secret in any message, report or dead letter: passwords in store
 * URIs and in secret librdkafka properties are shown as "***".
 */
#ifndef ECOM_REDACT_H
#define ECOM_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/* uri with its password (user info, or a password= option) as "***"; free with bson_free(). */
char *ecom_redact_uri(const char *uri);
/*
 * Every occurrence in text (of size bytes) of uri's password, as written
 * and percent-decoded, replaced by "***": for messages a driver made
 * from a URI it could not parse.
 */
void ecom_redact_password_in(char *text, size_t size, const char *uri);
/* Every occurrence of secret in text (of size bytes) replaced by "***". */
void ecom_redact_text(char *text, size_t size, const char *secret);
/* A librdkafka property whose value is a secret (sasl.password, ssl.key.password, …). */
bool ecom_redact_is_secret_property(const char *key);

#endif
