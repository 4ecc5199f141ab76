/*
 * What each connection gives (encrypted, the peer's certificate verified,
 * how we logged in), for the reports and -X dump, and the rule against a
 * silent downgrade: a connection that carries a password, a CA or a
 * client certificate and ends up unencrypted is said on stderr once, or
 * refused with require_tls.  Never a secret in any of it.
 */
#ifndef ECOM_SECURITY_H
#define ECOM_SECURITY_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdio.h>

#include "ecom_config.h"

typedef struct ecom_conn_facts {
	bool known;             /* filled in */
	bool observed;          /* from the live connection, not only the settings */
	bool encrypted;
	bool verified;          /* the peer's certificate checked against a CA */
	bool host_checked;      /* and its host name against the one connected to */
	char authentication[64]; /* "SCRAM-SHA-512", "password", "none" */
	char tls_version[32];   /* "TLSv1.3", or "" when unknown or unencrypted */
} ecom_conn_facts;

/* Kafka's, from the librdkafka properties (librdkafka never downgrades). */
void ecom_kafka_conn_facts(const ecom_config *cfg, ecom_conn_facts *facts);
/* The store's, from its URI alone (for -X dump; before any connection). */
void ecom_store_uri_conn_facts(const ecom_config *cfg, ecom_conn_facts *facts);
void ecom_uri_conn_facts(enum ecom_store_kind kind, const char *uri, ecom_conn_facts *facts);

/* The facts of the last store connection this process opened (thread-safe). */
void ecom_security_note_store(const ecom_conn_facts *facts);

/*
 * "connections": {"kafka": {...}, "store": {...}} in report: the store's
 * as the last connection opened found them, else as its URI asks.
 */
void ecom_report_connections(bson_t *report, const ecom_config *cfg);
/* -X dump: the same, as the settings ask, in comment lines. */
void ecom_security_dump(const ecom_config *cfg, FILE *out);

/*
 * Before connecting: with require_tls, refuse settings that cannot be
 * encrypted (-1, err); without it, say once when a password would travel
 * unencrypted.
 */
int ecom_security_check(const ecom_config *cfg, ecom_err *err);
/* A host name or address that never leaves the machine (or a socket path). */
bool ecom_host_is_loopback(const char *host);

/*
 * After connecting a store: unencrypted although the user gave a password,
 * a CA or a client certificate (gave_credentials): refused with
 * require_tls (-1, err), else said once.  what names the endpoint.
 */
int ecom_security_after_connect(const ecom_config *cfg, const char *what,
                                const ecom_conn_facts *facts, bool gave_credentials,
                                ecom_err *err);

#endif
