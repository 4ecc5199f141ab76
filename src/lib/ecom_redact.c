/*
 * Secrets out of messages (see ecom_redact.h).  Everything here works on
 * the text alone, before any driver has parsed it: a URI a driver
 * refuses must be redacted too.
 */
#include "ecom_redact.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void replace_all(char *text, size_t size, const char *needle, size_t len);

/* A secret in a text: [start, end). */
typedef struct span {
	size_t start;
	size_t end;
} span;

#define MAX_SECRETS 8

static const char *
last_at(const char *text, size_t len)
{
	const char *at = NULL, *p;

	for (p = text; p < text + len; p++) {
		if (*p == '@')
			at = p;
	}
	return at;
}

/* The password of a URI's user information, if any. */
static bool
userinfo_password(const char *text, span *secret)
{
	const char *scheme_end = strstr(text, "://"), *auth, *at, *colon;

	if (scheme_end == NULL)
		return false;
	auth = scheme_end + 3;
	/*
	 * The host cannot hold '@': the last one in the authority ends the
	 * user information.  With none there, a password with a raw '/' may
	 * have cut the authority short: look on up to the query.
	 */
	at = last_at(auth, strcspn(auth, "/?#"));
	if (at == NULL)
		at = last_at(auth, strcspn(auth, "?#"));
	if (at == NULL)
		return false;
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon == NULL)
		return false;
	secret->start = (size_t)(colon + 1 - text);
	secret->end = (size_t)(at - text);
	return true;
}

/*
 * Values of "password=" options: in a URI's query (until '&' or '#'), or
 * in a libpq key=value string (quoted or up to a blank).
 */
static size_t
password_options(const char *text, bool in_uri, span *secrets, size_t max)
{
	const char *p = text;
	size_t n = 0;

	while (n < max && (p = strcasestr(p, "password")) != NULL) {
		const char *q = p + 8;
		bool at_key_start = p == text || (in_uri ? (p[-1] == '?' || p[-1] == '&')
		                                         : (p[-1] == ' ' || p[-1] == '\t'));
		size_t start, end;

		p++;
		if (!in_uri)
			q += strspn(q, " \t");
		if (!at_key_start || *q != '=')
			continue;
		q++;
		if (!in_uri)
			q += strspn(q, " \t");
		start = (size_t)(q - text);
		if (in_uri) {
			end = start + strcspn(q, "&#");
		} else if (*q == '\'') {
			end = start + 1;
			while (text[end] != '\0' && text[end] != '\'')
				end += text[end] == '\\' && text[end + 1] != '\0' ? 2 : 1;
			if (text[end] == '\'')
				end++;
		} else {
			end = start + strcspn(q, " \t");
		}
		secrets[n].start = start;
		secrets[n].end = end;
		n++;
	}
	return n;
}

static int
compare_spans(const void *a, const void *b)
{
	const span *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/* Every secret of a URI or key=value string, in order of position. */
static size_t
find_secrets(const char *text, span *secrets, size_t max)
{
	bool in_uri = strstr(text, "://") != NULL;
	size_t n = 0;

	if (in_uri && userinfo_password(text, &secrets[0]))
		n = 1;
	n += password_options(text, in_uri, secrets + n, max - n);
	qsort(secrets, n, sizeof(*secrets), compare_spans);
	return n;
}

char *
ecom_redact_uri(const char *uri)
{
	span secrets[MAX_SECRETS];
	bson_string_t *out;
	size_t n, i, pos = 0;

	if (uri == NULL)
		return bson_strdup("");
	n = find_secrets(uri, secrets, MAX_SECRETS);
	out = bson_string_new(NULL);
	for (i = 0; i < n; i++) {
		if (secrets[i].start < pos) /* overlapping: already hidden */
			continue;
		bson_string_append_printf(out, "%.*s***", (int)(secrets[i].start - pos), uri + pos);
		pos = secrets[i].end;
	}
	bson_string_append(out, uri + pos);
	return bson_string_free(out, false);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
ecom_redact_text(char *text, size_t size, const char *secret)
{
	replace_all(text, size, secret, strlen(secret));
}

/* Every occurrence of needle (len > 0) in text replaced by "***", within size bytes. */
static void
replace_all(char *text, size_t size, const char *needle, size_t len)
{
	size_t pos = 0;
	char *hit;

	if (len == 0)
		return;
	while ((hit = memmem(text + pos, strlen(text + pos), needle, len)) != NULL) {
		size_t at = (size_t)(hit - text), tail = strlen(hit + len) + 1;

		if (at + 3 + tail > size) /* a short secret grew the text: cut its end off */
			tail = at + 3 < size ? size - at - 3 : 0;
		if (at + 3 >= size) {
			text[at] = '\0';
			return;
		}
		memmove(hit + 3, hit + len, tail);
		memcpy(hit, "***", 3);
		text[size - 1] = '\0';
		pos = at + 3;
	}
}

void
ecom_redact_password_in(char *text, size_t size, const char *uri)
{
	span secrets[MAX_SECRETS];
	size_t n, i;

	if (uri == NULL || size == 0)
		return;
	n = find_secrets(uri, secrets, MAX_SECRETS);
	for (i = 0; i < n; i++) {
		size_t len = secrets[i].end - secrets[i].start, j, k = 0;
		const char *raw = uri + secrets[i].start;
		char decoded[512];

		/* Messages quote it as written, or as the driver decoded it. */
		replace_all(text, size, raw, len);
		for (j = 0; j < len && k + 1 < sizeof(decoded); j++) {
			int hi, lo;

			if (raw[j] == '%' && j + 2 < len && (hi = hex_value(raw[j + 1])) >= 0 &&
			    (lo = hex_value(raw[j + 2])) >= 0) {
				decoded[k++] = (char)(hi * 16 + lo);
				j += 2;
			} else {
				decoded[k++] = raw[j];
			}
		}
		decoded[k] = '\0';
		if (k != len || memcmp(decoded, raw, len) != 0)
			replace_all(text, size, decoded, k);
	}
}

bool
ecom_redact_is_secret_property(const char *key)
{
	/* sasl.password, ssl.key.password, ssl.keystore.password, …,
	 * sasl.oauthbearer.client.secret, ssl.key.pem, ssl_key (the PEM itself). */
	return strstr(key, "password") != NULL || strstr(key, "secret") != NULL ||
	       strcmp(key, "ssl.key.pem") == 0 || strcmp(key, "ssl_key") == 0 ||
	       strcmp(key, "sasl.oauthbearer.config") == 0;
}
