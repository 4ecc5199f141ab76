/*
 * Connection facts and the rule against a silent downgrade (see
 * ecom_security.h).  Kafka's facts come from the settings: librdkafka
 * connects as security.protocol says or not at all.  The store's come
 * from the live connection where the driver tells (libpq's PQsslInUse),
 * else from the URI, which libmongoc likewise never falls back from.
 */
#include "ecom_security.h"

#include <libpq-fe.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "ecom_log.h"

static pthread_mutex_t last_store_lock = PTHREAD_MUTEX_INITIALIZER;
static ecom_conn_facts last_store;
/* Each warning once per process, however many connections repeat it. */
static atomic_flag warned_kafka = ATOMIC_FLAG_INIT;
static atomic_flag warned_store = ATOMIC_FLAG_INIT;

static const char *
kafka_prop(const ecom_config *cfg, const char *key, const char *fallback)
{
	const char *v = ecom_config_kafka_get(cfg, key);

	return v != NULL && *v != '\0' ? v : fallback;
}

static bool
is_false(const char *v)
{
	return strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0;
}

void
ecom_kafka_conn_facts(const ecom_config *cfg, ecom_conn_facts *f)
{
	const char *protocol = kafka_prop(cfg, "security.protocol", "plaintext");
	const char *mechanism = kafka_prop(cfg, "sasl.mechanisms", kafka_prop(cfg, "sasl.mechanism", "GSSAPI"));
	bool sasl = strncasecmp(protocol, "sasl_", 5) == 0;

	memset(f, 0, sizeof(*f));
	f->known = true;
	f->encrypted = strcasecmp(protocol, "ssl") == 0 || strcasecmp(protocol, "sasl_ssl") == 0;
	f->verified = f->encrypted && !is_false(kafka_prop(cfg, "enable.ssl.certificate.verification", "true"));
	f->host_checked = f->verified &&
	                  strcasecmp(kafka_prop(cfg, "ssl.endpoint.identification.algorithm", "https"), "none") != 0;
	if (sasl)
		snprintf(f->authentication, sizeof(f->authentication), "%s", mechanism);
	else if (f->encrypted && (ecom_config_kafka_get(cfg, "ssl.certificate.location") != NULL ||
	                          ecom_config_kafka_get(cfg, "ssl.keystore.location") != NULL))
		snprintf(f->authentication, sizeof(f->authentication), "TLS client certificate");
	else
		snprintf(f->authentication, sizeof(f->authentication), "none");
}

static const char *
conninfo_value(const PQconninfoOption *opts, const char *key)
{
	for (; opts != NULL && opts->keyword != NULL; opts++) {
		if (strcmp(opts->keyword, key) == 0)
			return opts->val != NULL && *opts->val != '\0' ? opts->val : NULL;
	}
	return NULL;
}

/* libpq's sslmode, as the URI (or the environment, PGSSLMODE) sets it. */
static void
pg_uri_facts(const char *uri, ecom_conn_facts *f)
{
	PQconninfoOption *opts = PQconninfoParse(uri, NULL);
	const char *mode;

	if (opts == NULL)
		return;
	mode = conninfo_value(opts, "sslmode");
	if (mode == NULL)
		mode = getenv("PGSSLMODE") != NULL ? getenv("PGSSLMODE") : "prefer";
	f->known = true;
	f->encrypted = strcmp(mode, "require") == 0 || strncmp(mode, "verify-", 7) == 0;
	f->verified = strncmp(mode, "verify-", 7) == 0;
	f->host_checked = strcmp(mode, "verify-full") == 0;
	snprintf(f->authentication, sizeof(f->authentication), "%s",
	         conninfo_value(opts, "password") != NULL ? "password"
	         : conninfo_value(opts, "sslcert") != NULL ? "TLS client certificate or as the server asks"
	                                                    : "as the server asks");
	PQconninfoFree(opts);
}

static void
mongo_uri_facts(const char *uri_text, ecom_conn_facts *f)
{
	mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_text, NULL);
	const char *mechanism;

	if (uri == NULL)
		return;
	f->known = true;
	f->encrypted = mongoc_uri_get_tls(uri);
	f->verified = f->encrypted &&
	              !mongoc_uri_get_option_as_bool(uri, MONGOC_URI_TLSALLOWINVALIDCERTIFICATES, false) &&
	              !mongoc_uri_get_option_as_bool(uri, MONGOC_URI_TLSINSECURE, false);
	f->host_checked = f->verified &&
	                  !mongoc_uri_get_option_as_bool(uri, MONGOC_URI_TLSALLOWINVALIDHOSTNAMES, false);
	mechanism = mongoc_uri_get_auth_mechanism(uri);
	if (mechanism != NULL)
		snprintf(f->authentication, sizeof(f->authentication), "%s", mechanism);
	else if (mongoc_uri_get_username(uri) != NULL)
		snprintf(f->authentication, sizeof(f->authentication), "SCRAM (negotiated)");
	else
		snprintf(f->authentication, sizeof(f->authentication), "none");
	mongoc_uri_destroy(uri);
}

void
ecom_uri_conn_facts(enum ecom_store_kind kind, const char *uri, ecom_conn_facts *f)
{
	memset(f, 0, sizeof(*f));
	if (uri == NULL || *uri == '\0')
		return;
	if (kind == ECOM_STORE_POSTGRESQL)
		pg_uri_facts(uri, f);
	else
		mongo_uri_facts(uri, f);
}

void
ecom_store_uri_conn_facts(const ecom_config *cfg, ecom_conn_facts *f)
{
	enum ecom_store_kind kind = ECOM_STORE_MONGODB;
	const char *uri = NULL;

	if (ecom_config_store(cfg, &kind, &uri, NULL) < 0)
		uri = NULL;
	ecom_uri_conn_facts(kind, uri, f);
}

void
ecom_security_note_store(const ecom_conn_facts *facts)
{
	pthread_mutex_lock(&last_store_lock);
	last_store = *facts;
	pthread_mutex_unlock(&last_store_lock);
}

static void
append_facts(bson_t *parent, const char *name, const ecom_conn_facts *f)
{
	bson_t child;

	bson_append_document_begin(parent, name, -1, &child);
	BSON_APPEND_BOOL(&child, "encrypted", f->encrypted);
	BSON_APPEND_BOOL(&child, "certificate_verified", f->verified);
	BSON_APPEND_BOOL(&child, "host_name_checked", f->host_checked);
	BSON_APPEND_UTF8(&child, "authentication", f->authentication);
	if (f->tls_version[0] != '\0')
		BSON_APPEND_UTF8(&child, "tls_version", f->tls_version);
	BSON_APPEND_UTF8(&child, "from", f->observed ? "the connection" : "the settings");
	bson_append_document_end(parent, &child);
}

void
ecom_report_connections(bson_t *report, const ecom_config *cfg)
{
	ecom_conn_facts kafka, store;
	bson_t child;

	ecom_kafka_conn_facts(cfg, &kafka);
	pthread_mutex_lock(&last_store_lock);
	store = last_store;
	pthread_mutex_unlock(&last_store_lock);
	if (!store.known)
		ecom_store_uri_conn_facts(cfg, &store);
	bson_append_document_begin(report, "connections", -1, &child);
	append_facts(&child, "kafka", &kafka);
	if (store.known)
		append_facts(&child, "store", &store);
	bson_append_document_end(report, &child);
}

static void
dump_facts(FILE *out, const char *name, const ecom_conn_facts *f)
{
	fprintf(out, "#   %s: %s, %s, %s, authentication %s\n", name,
	        f->encrypted ? "encrypted" : "NOT encrypted",
	        f->verified ? "certificate verified" : "certificate NOT verified",
	        f->host_checked ? "host name checked" : "host name NOT checked", f->authentication);
}

void
ecom_security_dump(const ecom_config *cfg, FILE *out)
{
	ecom_conn_facts kafka, store;

	ecom_kafka_conn_facts(cfg, &kafka);
	ecom_store_uri_conn_facts(cfg, &store);
	fprintf(out, "# connections, as the settings ask (require_tls: %s):\n",
	        cfg->require_tls ? "true" : "false");
	dump_facts(out, "kafka", &kafka);
	if (store.known)
		dump_facts(out, "store", &store);
	if (store.known && !store.encrypted && cfg->require_tls == false) {
		enum ecom_store_kind kind;

		if (ecom_config_store(cfg, &kind, NULL, NULL) == 0 && kind == ECOM_STORE_POSTGRESQL)
			fprintf(out, "#   (sslmode prefer or allow: encrypted only when the server offers TLS)\n");
	}
}

int
ecom_security_check(const ecom_config *cfg, ecom_err *err)
{
	ecom_conn_facts kafka, store;
	enum ecom_store_kind kind;
	const char *protocol = kafka_prop(cfg, "security.protocol", "plaintext");

	ecom_kafka_conn_facts(cfg, &kafka);
	ecom_store_uri_conn_facts(cfg, &store);
	if (cfg->require_tls && !kafka.encrypted)
		return ecom_err_set(err,
		                    "require_tls: kafka's security.protocol is %s, which is not encrypted: "
		                    "use SSL or SASL_SSL",
		                    protocol);
	/* Before any password leaves: libpq's prefer and allow may fall back. */
	if (cfg->require_tls && store.known && !store.encrypted)
		return ecom_err_set(err,
		                    "require_tls: the store's URI allows an unencrypted connection: add %s",
		                    ecom_config_store(cfg, &kind, NULL, NULL) == 0 &&
		                            kind == ECOM_STORE_POSTGRESQL
		                        ? "sslmode=verify-full and sslrootcert=FILE (or sslmode=require)"
		                        : "tls=true (and tlsCAFile=FILE for a private CA)");
	if (!kafka.encrypted && ecom_config_kafka_get(cfg, "sasl.password") != NULL &&
	    !atomic_flag_test_and_set(&warned_kafka))
		ecom_warnf("kafka: the SASL password goes unencrypted (security.protocol %s): use SASL_SSL, "
		           "or require_tls: true to refuse",
		           protocol);
	return 0;
}

bool
ecom_host_is_loopback(const char *host)
{
	if (host == NULL || *host == '\0')
		return false;
	return host[0] == '/' || strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	       strncmp(host, "127.", 4) == 0;
}

int
ecom_security_after_connect(const ecom_config *cfg, const char *what, const ecom_conn_facts *facts,
                            bool gave_credentials, ecom_err *err)
{
	ecom_security_note_store(facts);
	if (facts->encrypted)
		return 0;
	if (cfg->require_tls)
		return ecom_err_set(err,
		                    "refusing the unencrypted connection to '%s' (require_tls): ask for TLS "
		                    "in the URI (PostgreSQL: sslmode=verify-full; MongoDB: tls=true)",
		                    what);
	if (gave_credentials && !atomic_flag_test_and_set(&warned_store))
		ecom_warnf("the connection to '%s' is NOT encrypted although a password, CA or client "
		           "certificate was given: ask for TLS in the URI (PostgreSQL: sslmode=verify-full; "
		           "MongoDB: tls=true), or set require_tls: true to refuse",
		           what);
	return 0;
}
