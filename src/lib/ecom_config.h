/*
 * Configuration: built-in defaults < YAML file < ECOM_* environment < flags.
 *
 * The file is -c FILE, else $XDG_CONFIG_HOME/ecom/ecom.yaml (or
 * ~/.config/ecom/ecom.yaml), else /etc/ecom/ecom.yaml; a missing default
 * file is fine, a missing -c file is an error.  Every key is listed in
 * ecom.yaml(5) with its variable and default.
 */
#ifndef ECOM_CONFIG_H
#define ECOM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ecom_log.h"

enum ecom_store_kind { ECOM_STORE_MONGODB = 0, ECOM_STORE_POSTGRESQL = 1 };

/* librdkafka properties passed through (-X, the file's "kafka:" mapping). */
typedef struct ecom_kv {
	char *key;
	char *value;
} ecom_kv;

typedef struct ecom_config {
	char *brokers;          /* brokers, ECOM_KAFKA_BROKERS: "127.0.0.1:9092" */
	char *store;            /* store, ECOM_STORE: "mongodb", "postgresql" or a URI */
	char *mongodb_uri;      /* mongodb_uri, ECOM_MONGODB_URI */
	char *postgres_uri;     /* postgres_uri, ECOM_POSTGRES_URI */
	char *database;         /* database, ECOM_DATABASE: "ecommerce" (PostgreSQL: schema) */
	char *topic_prefix;     /* topic_prefix, ECOM_TOPIC_PREFIX: "" */
	char *group;            /* group, ECOM_GROUP: consumer group prefix, "ecom" */
	char *dead_letter_topic;/* dead_letter_topic, ECOM_DEAD_LETTER_TOPIC: "deadletter" */
	int partitions;         /* partitions, ECOM_PARTITIONS: 1 */
	int replication_factor; /* replication_factor, ECOM_REPLICATION_FACTOR: 0 = min(3, brokers) */
	int batch_size;         /* batch_size, ECOM_BATCH_SIZE: 500 */
	int timeout_ms;         /* timeout_ms, ECOM_TIMEOUT_MS: 10000, bound on connecting */
	int retry_timeout_ms;   /* retry_timeout_ms, ECOM_RETRY_TIMEOUT_MS: 120000, bound on riding out an outage */
	int stall_warn_ms;      /* stall_warn_ms, ECOM_STALL_WARN_MS: 10000, warn when no order completes */
	long orders;            /* orders, ECOM_ORDERS: 10000 */
	int window;             /* window, ECOM_WINDOW: 1 */
	long count_check_every; /* count_check_every, ECOM_COUNT_CHECK_EVERY: 100 */
	char *wire;             /* wire, ECOM_WIRE: "ecom" or "spring", the form events are written in */
	bool require_tls;       /* require_tls, ECOM_REQUIRE_TLS: false, refuse unencrypted connections */
	char *processing_guarantee; /* processing_guarantee, ECOM_PROCESSING_GUARANTEE: "at_least_once" or "exactly_once" */
	char *instance_id;      /* instance_id, ECOM_INSTANCE_ID: "" = this host's name */
	ecom_kv *kafka;         /* kafka: {…} and -X */
	size_t kafka_count;
	char *source_file;      /* the file that was read, or NULL */
} ecom_config;

/* Built-in defaults. */
void ecom_config_init(ecom_config *cfg);
void ecom_config_free(ecom_config *cfg);

/*
 * Read the file (explicit path or NULL for the default search), then the
 * environment.  Errors name the file and line.  Returns 0 or -1.
 */
int ecom_config_load(ecom_config *cfg, const char *explicit_path, ecom_err *err);
/* Only the file, only the environment (for tests and layering). */
int ecom_config_load_file(ecom_config *cfg, const char *path, ecom_err *err);
int ecom_config_load_env(ecom_config *cfg, ecom_err *err);

/* Set one key by its YAML name ("batch_size", "brokers" …); -1 on an unknown key or bad value. */
int ecom_config_set(ecom_config *cfg, const char *key, const char *value, ecom_err *err);
/*
 * The value of key in force as text, as -X dump shows it (a URI without
 * its password), into buf; -1 for an unknown key.
 */
int ecom_config_value(const ecom_config *cfg, const char *key, char *buf, size_t size);
/* The value of a librdkafka property given (-X, the file), or NULL. */
const char *ecom_config_kafka_get(const ecom_config *cfg, const char *key);
/* -X key=value: add or replace a librdkafka property. */
int ecom_config_set_kafka(ecom_config *cfg, const char *key_eq_value, ecom_err *err);

/*
 * -X dump: every key with its value in force, as YAML the -c option
 * reads, passwords shown as "***"; a first comment line names the layers.
 */
void ecom_config_dump(const ecom_config *cfg, FILE *out);

/* Which store the configuration selects, and its URI. */
int ecom_config_store(const ecom_config *cfg, enum ecom_store_kind *kind, const char **uri, ecom_err *err);

/* The store as messages and reports name it: "mongodb", or its URI without password; free(). */
char *ecom_config_store_label(const ecom_config *cfg);

/* "libyaml 0.2.5", for --version. */
const char *ecom_config_yaml_version(void);

/* text as a whole number from min to max; -1 if it is not one (no message). */
int ecom_parse_long(const char *text, long min, long max, long *out);
/* A finite decimal number from min to max, the whole text; -1 otherwise. */
int ecom_parse_double(const char *text, double min, double max, double *out);

/* processing_guarantee is exactly_once: each batch is one Kafka transaction. */
bool ecom_config_exactly_once(const ecom_config *cfg);
/*
 * A transactional.id stable across restarts of one instance and
 * distinct between instances: "<prefix><group>-<role>-<instance>", the
 * instance being instance_id, else this host's name.
 */
void ecom_config_transactional_id(const ecom_config *cfg, const char *role, char *buf,
                                  size_t size);

/* Topic name with the configured prefix, into buf; returns buf. */
const char *ecom_config_topic(const ecom_config *cfg, const char *name, char *buf, size_t size);

#endif
