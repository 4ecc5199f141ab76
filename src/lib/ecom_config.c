/*
 * Configuration layering: defaults < YAML file < ECOM_* environment < flags.
 *
 * The YAML file is parsed with libyaml's document API so every error can
 * name the file and the line of the offending node.
 */
#include "ecom_config.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <bson/bson.h>
#include <yaml.h>

#include "ecom_alloc.h"
#include "ecom_redact.h"

static void
replace_string(char **slot, const char *value)
{
	free(*slot);
	*slot = ecom_xstrdup(value);
}

void
ecom_config_init(ecom_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->brokers = ecom_xstrdup("127.0.0.1:9092");
	cfg->store = ecom_xstrdup("mongodb");
	cfg->mongodb_uri = ecom_xstrdup("mongodb://127.0.0.1:27017/ecommerce");
	cfg->postgres_uri = ecom_xstrdup("postgresql://127.0.0.1:5432/ecommerce");
	cfg->database = ecom_xstrdup("ecommerce");
	cfg->topic_prefix = ecom_xstrdup("");
	cfg->group = ecom_xstrdup("ecom");
	cfg->dead_letter_topic = ecom_xstrdup("deadletter");
	cfg->partitions = 1;
	cfg->replication_factor = 0;
	cfg->batch_size = 500;
	cfg->timeout_ms = 10000;
	cfg->retry_timeout_ms = 120000;
	cfg->stall_warn_ms = 10000;
	cfg->orders = 10000;
	cfg->window = 1;
	cfg->count_check_every = 100;
	cfg->wire = ecom_xstrdup("ecom");
	cfg->processing_guarantee = ecom_xstrdup("at_least_once");
	cfg->instance_id = ecom_xstrdup("");
}

void
ecom_config_free(ecom_config *cfg)
{
	size_t i;

	free(cfg->brokers);
	free(cfg->store);
	free(cfg->mongodb_uri);
	free(cfg->postgres_uri);
	free(cfg->database);
	free(cfg->topic_prefix);
	free(cfg->group);
	free(cfg->dead_letter_topic);
	free(cfg->wire);
	free(cfg->processing_guarantee);
	free(cfg->instance_id);
	for (i = 0; i < cfg->kafka_count; i++) {
		free(cfg->kafka[i].key);
		free(cfg->kafka[i].value);
	}
	free(cfg->kafka);
	free(cfg->source_file);
	memset(cfg, 0, sizeof(*cfg));
}

/* The store a URI's scheme names; -1 when it is neither. */
static int
uri_store_kind(const char *uri, enum ecom_store_kind *kind)
{
	if (strncmp(uri, "mongodb://", 10) == 0 || strncmp(uri, "mongodb+srv://", 14) == 0)
		*kind = ECOM_STORE_MONGODB;
	else if (strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0)
		*kind = ECOM_STORE_POSTGRESQL;
	else
		return -1;
	return 0;
}

/*
 * What a `store` value selects: a name (*is_uri false) or a URI (true).
 * -1 with the message when it is neither.
 */
static int
classify_store(const char *value, enum ecom_store_kind *kind, bool *is_uri, ecom_err *err)
{
	char *shown;

	*is_uri = false;
	if (strcmp(value, "mongodb") == 0)
		*kind = ECOM_STORE_MONGODB;
	else if (strcmp(value, "postgresql") == 0 || strcmp(value, "postgres") == 0)
		*kind = ECOM_STORE_POSTGRESQL;
	else if (uri_store_kind(value, kind) == 0)
		*is_uri = true;
	else {
		shown = ecom_redact_uri(value); /* a URI with the wrong scheme may hold a password */
		ecom_err_set(err,
		             "store '%s': expected mongodb, postgresql, or a mongodb:// or "
		             "postgresql:// URI",
		             shown);
		bson_free(shown);
		return -1;
	}
	return 0;
}

/*
 * A URI for the given store (by its scheme; its driver checks the rest,
 * ecom_store_check_uris()): anything else is a configuration error,
 * found before connecting.
 */
static int
check_scheme(const char *key, const char *uri, enum ecom_store_kind kind, ecom_err *err)
{
	enum ecom_store_kind scheme;
	char *shown;

	if (uri_store_kind(uri, &scheme) == 0 && scheme == kind)
		return 0;
	shown = ecom_redact_uri(uri);
	ecom_err_set(err, "'%s' must be a %s URI, not '%s'", key,
	             kind == ECOM_STORE_MONGODB ? "mongodb://" : "postgresql://", shown);
	bson_free(shown);
	return -1;
}

int
ecom_parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

int
ecom_parse_double(const char *text, double min, double max, double *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(x) || x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

static int
parse_long(const char *key, const char *value, long min, long max, long *out, ecom_err *err)
{
	if (ecom_parse_long(value, min, max, out) < 0)
		return ecom_err_set(err, "'%s' must be a whole number from %ld to %ld, not '%s'", key,
		                    min, max, value);
	return 0;
}

/* The checks of string keys beyond being a string. */
static int
not_empty(const char *key, const char *value, ecom_err *err)
{
	return *value == '\0' ? ecom_err_set(err, "'%s' must not be empty", key) : 0;
}

static int
store_value(const char *key, const char *value, ecom_err *err)
{
	enum ecom_store_kind kind;
	bool is_uri;

	if (classify_store(value, &kind, &is_uri, err) < 0 ||
	    (is_uri && check_scheme(key, value, kind, err) < 0))
		return -1;
	return 0;
}

static int
mongodb_uri_value(const char *key, const char *value, ecom_err *err)
{
	return check_scheme(key, value, ECOM_STORE_MONGODB, err);
}

static int
postgres_uri_value(const char *key, const char *value, ecom_err *err)
{
	return check_scheme(key, value, ECOM_STORE_POSTGRESQL, err);
}

/* The two wire forms of ecom_wire.h; checked here so the config layer needs no event code. */
static int
wire_value(const char *key, const char *value, ecom_err *err)
{
	if (strcmp(value, "ecom") != 0 && strcmp(value, "spring") != 0)
		return ecom_err_set(err, "'%s' must be 'ecom' or 'spring', not '%s'", key, value);
	return 0;
}

static int
guarantee_value(const char *key, const char *value, ecom_err *err)
{
	if (strcmp(value, "at_least_once") != 0 && strcmp(value, "exactly_once") != 0)
		return ecom_err_set(err, "'%s' must be at_least_once or exactly_once, not '%s'", key,
		                    value);
	return 0;
}

/* Part of a transactional.id: no spaces or quotes to surprise a reader of the broker's logs. */
static int
instance_value(const char *key, const char *value, ecom_err *err)
{
	size_t len = strlen(value);

	if (len > 128 ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len)
		return ecom_err_set(err, "'%s' must be up to 128 letters, digits, '_', '.' or '-', not '%s'",
		                    key, value);
	return 0;
}

/* A name both MongoDB and PostgreSQL accept without quoting surprises. */
static int
database_name(const char *key, const char *value, ecom_err *err)
{
	size_t len = strlen(value);

	if (len == 0 || len > 63 ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != len)
		return ecom_err_set(err, "'%s' must be 1 to 63 letters, digits or '_', not '%s'", key,
		                    value);
	return 0;
}

/*
 * One row per key: YAML name, environment variable, where it goes, and
 * what it accepts (a string's check, or a number's range).
 */
enum key_type { KEY_STRING, KEY_URI, KEY_INT, KEY_LONG, KEY_BOOL }; /* a URI: a string shown redacted */
static const struct config_key {
	const char *name;
	const char *env;
	enum key_type type;
	size_t offset;
	int (*check)(const char *key, const char *value, ecom_err *err); /* strings; NULL: any */
	long min, max;                                                   /* numbers */
} config_keys[] = {
#define STRING(field, env, check) {#field, env, KEY_STRING, offsetof(ecom_config, field), check, 0, 0}
#define URI(field, env, check) {#field, env, KEY_URI, offsetof(ecom_config, field), check, 0, 0}
#define INT(field, env, min, max) {#field, env, KEY_INT, offsetof(ecom_config, field), NULL, min, max}
#define LONG(field, env, min, max) {#field, env, KEY_LONG, offsetof(ecom_config, field), NULL, min, max}
#define BOOL(field, env) {#field, env, KEY_BOOL, offsetof(ecom_config, field), NULL, 0, 1}
    STRING(brokers, "ECOM_KAFKA_BROKERS", not_empty),
    URI(store, "ECOM_STORE", store_value),
    URI(mongodb_uri, "ECOM_MONGODB_URI", mongodb_uri_value),
    URI(postgres_uri, "ECOM_POSTGRES_URI", postgres_uri_value),
    STRING(database, "ECOM_DATABASE", database_name),
    STRING(topic_prefix, "ECOM_TOPIC_PREFIX", NULL),
    STRING(group, "ECOM_GROUP", not_empty),
    STRING(dead_letter_topic, "ECOM_DEAD_LETTER_TOPIC", not_empty),
    INT(partitions, "ECOM_PARTITIONS", 1, 1000),
    /* 0: as many replicas as the cluster has brokers, up to 3; 32767 is
     * the most CreateTopics can ask for (an int16). */
    INT(replication_factor, "ECOM_REPLICATION_FACTOR", 0, 32767),
    INT(batch_size, "ECOM_BATCH_SIZE", 1, 100000),
    INT(timeout_ms, "ECOM_TIMEOUT_MS", 100, 3600000),
    INT(retry_timeout_ms, "ECOM_RETRY_TIMEOUT_MS", 0, 86400000),
    INT(stall_warn_ms, "ECOM_STALL_WARN_MS", 100, 86400000),
    LONG(orders, "ECOM_ORDERS", 1, 100000000),
    INT(window, "ECOM_WINDOW", 1, 100000),
    LONG(count_check_every, "ECOM_COUNT_CHECK_EVERY", 1, 100000000),
    STRING(wire, "ECOM_WIRE", wire_value),
    BOOL(require_tls, "ECOM_REQUIRE_TLS"),
    STRING(processing_guarantee, "ECOM_PROCESSING_GUARANTEE", guarantee_value),
    STRING(instance_id, "ECOM_INSTANCE_ID", instance_value),
#undef STRING
#undef URI
#undef INT
#undef LONG
#undef BOOL
};
#define N_CONFIG_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* YAML's words for true and false, and 1 and 0 for the environment. */
static int
parse_bool(const char *key, const char *value, bool *out, ecom_err *err)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
			*out = strcasecmp(value, yes[i]) == 0;
			return 0;
		}
	}
	return ecom_err_set(err, "'%s' must be true or false, not '%s'", key, value);
}

int
ecom_config_set(ecom_config *cfg, const char *key, const char *value, ecom_err *err)
{
	const struct config_key *k;
	char *field;
	long n;

	for (k = config_keys; k < config_keys + N_CONFIG_KEYS; k++) {
		if (strcmp(k->name, key) == 0)
			break;
	}
	if (k == config_keys + N_CONFIG_KEYS)
		return ecom_err_set(err, "unknown key '%s'", key);
	field = (char *)cfg + k->offset;
	if (k->type == KEY_STRING || k->type == KEY_URI) {
		if (k->check != NULL && k->check(key, value, err) < 0)
			return -1;
		replace_string((char **)(void *)field, value);
		return 0;
	}
	if (k->type == KEY_BOOL)
		return parse_bool(key, value, (bool *)(void *)field, err);
	if (parse_long(key, value, k->min, k->max, &n, err) < 0)
		return -1;
	if (k->type == KEY_INT)
		*(int *)(void *)field = (int)n;
	else
		*(long *)(void *)field = n;
	return 0;
}

int
ecom_config_value(const ecom_config *cfg, const char *key, char *buf, size_t size)
{
	const struct config_key *k;
	const char *field;
	char *shown;

	for (k = config_keys; k < config_keys + N_CONFIG_KEYS; k++) {
		if (strcmp(k->name, key) == 0)
			break;
	}
	if (k == config_keys + N_CONFIG_KEYS)
		return -1;
	field = (const char *)cfg + k->offset;
	switch (k->type) {
	case KEY_STRING:
		snprintf(buf, size, "%s", *(char *const *)(const void *)field);
		break;
	case KEY_URI:
		shown = ecom_redact_uri(*(char *const *)(const void *)field);
		snprintf(buf, size, "%s", shown);
		bson_free(shown);
		break;
	case KEY_INT:
		snprintf(buf, size, "%d", *(const int *)(const void *)field);
		break;
	case KEY_LONG:
		snprintf(buf, size, "%ld", *(const long *)(const void *)field);
		break;
	case KEY_BOOL:
		snprintf(buf, size, "%s", *(const bool *)(const void *)field ? "true" : "false");
		break;
	}
	return 0;
}

static void
set_kafka_property(ecom_config *cfg, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < cfg->kafka_count; i++) {
		if (strcmp(cfg->kafka[i].key, key) == 0) {
			replace_string(&cfg->kafka[i].value, value);
			return;
		}
	}
	cfg->kafka = ecom_xreallocarray(cfg->kafka, cfg->kafka_count + 1, sizeof(*cfg->kafka));
	cfg->kafka[cfg->kafka_count].key = ecom_xstrdup(key);
	cfg->kafka[cfg->kafka_count].value = ecom_xstrdup(value);
	cfg->kafka_count++;
}

const char *
ecom_config_kafka_get(const ecom_config *cfg, const char *key)
{
	size_t i;

	for (i = 0; i < cfg->kafka_count; i++) {
		if (strcmp(cfg->kafka[i].key, key) == 0)
			return cfg->kafka[i].value;
	}
	return NULL;
}

int
ecom_config_set_kafka(ecom_config *cfg, const char *key_eq_value, ecom_err *err)
{
	const char *eq = strchr(key_eq_value, '=');
	char *key;

	if (eq == NULL || eq == key_eq_value)
		return ecom_err_set(err, "'-X %s': expected key=value (see '-X list')", key_eq_value);
	key = ecom_xstrdup(key_eq_value);
	key[eq - key_eq_value] = '\0';
	set_kafka_property(cfg, key, eq + 1);
	free(key);
	return 0;
}

static const char *
scalar_text(yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

static int
load_kafka_mapping(ecom_config *cfg, yaml_document_t *doc, yaml_node_t *map, const char *path,
                   ecom_err *err)
{
	yaml_node_pair_t *pair;

	if (map->type != YAML_MAPPING_NODE)
		return ecom_err_set(err, "%s:%zu: 'kafka' must be a mapping of librdkafka properties",
		                    path, map->start_mark.line + 1);
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(doc, pair->value);

		if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
			return ecom_err_set(err, "%s:%zu: kafka properties must be 'key: value' scalars",
			                    path, k->start_mark.line + 1);
		set_kafka_property(cfg, scalar_text(k), scalar_text(v));
	}
	return 0;
}

int
ecom_config_load_file(ecom_config *cfg, const char *path, ecom_err *err)
{
	FILE *fp = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	yaml_node_pair_t *pair;
	int parser_ready = 0, doc_ready = 0;
	int rc = -1;
	ecom_err inner;

	fp = fopen(path, "r");
	if (fp == NULL) {
		ecom_err_set(err, "cannot read config file '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		ecom_err_set(err, "out of memory");
		goto out;
	}
	parser_ready = 1;
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		ecom_err_set(err, "%s:%zu: not valid YAML: %s", path, parser.problem_mark.line + 1,
		             parser.problem ? parser.problem : "parse error");
		goto out;
	}
	doc_ready = 1;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) { /* an empty file is an empty configuration */
		rc = 0;
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		ecom_err_set(err, "%s:%zu: expected a mapping of 'key: value' lines", path,
		             root->start_mark.line + 1);
		goto out;
	}
	for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&doc, pair->value);

		if (k->type != YAML_SCALAR_NODE) {
			ecom_err_set(err, "%s:%zu: keys must be plain names", path, k->start_mark.line + 1);
			goto out;
		}
		if (strcmp(scalar_text(k), "kafka") == 0) {
			if (load_kafka_mapping(cfg, &doc, v, path, err) < 0)
				goto out;
			continue;
		}
		if (v->type != YAML_SCALAR_NODE) {
			ecom_err_set(err, "%s:%zu: '%s' must be a single value", path,
			             v->start_mark.line + 1, scalar_text(k));
			goto out;
		}
		if (ecom_config_set(cfg, scalar_text(k), scalar_text(v), &inner) < 0) {
			ecom_err_set(err, "%s:%zu: %s", path, k->start_mark.line + 1, inner.msg);
			goto out;
		}
	}
	replace_string(&cfg->source_file, path);
	rc = 0;
out:
	if (doc_ready)
		yaml_document_delete(&doc);
	if (parser_ready)
		yaml_parser_delete(&parser);
	if (fp != NULL)
		fclose(fp);
	return rc;
}

int
ecom_config_load_env(ecom_config *cfg, ecom_err *err)
{
	size_t i;
	ecom_err inner;

	for (i = 0; i < N_CONFIG_KEYS; i++) {
		const char *value = getenv(config_keys[i].env);

		if (value == NULL)
			continue;
		if (ecom_config_set(cfg, config_keys[i].name, value, &inner) < 0)
			return ecom_err_set(err, "environment %s: %s", config_keys[i].env, inner.msg);
	}
	return 0;
}

/* The first default file that exists, or NULL. */
static char *
default_config_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char path[PATH_MAX];

	if (xdg != NULL && *xdg != '\0')
		snprintf(path, sizeof(path), "%s/ecom/ecom.yaml", xdg);
	else if (home != NULL && *home != '\0')
		snprintf(path, sizeof(path), "%s/.config/ecom/ecom.yaml", home);
	else
		path[0] = '\0';
	if (path[0] != '\0' && access(path, F_OK) == 0)
		return ecom_xstrdup(path);
	snprintf(path, sizeof(path), "%s/ecom/ecom.yaml", SYSCONFDIR);
	if (access(path, F_OK) == 0)
		return ecom_xstrdup(path);
	return NULL;
}

int
ecom_config_load(ecom_config *cfg, const char *explicit_path, ecom_err *err)
{
	char *path = NULL;
	const char *env_path = getenv("ECOM_CONFIG");
	int rc;

	/* -c wins over ECOM_CONFIG, which wins over the default files: the
	 * dev stack's env line names its file this way. */
	if (explicit_path == NULL && env_path != NULL && *env_path != '\0')
		explicit_path = env_path;
	if (explicit_path != NULL) {
		if (ecom_config_load_file(cfg, explicit_path, err) < 0)
			return -1;
	} else if ((path = default_config_path()) != NULL) {
		rc = ecom_config_load_file(cfg, path, err);
		free(path);
		if (rc < 0)
			return -1;
	}
	return ecom_config_load_env(cfg, err);
}

int
ecom_config_store(const ecom_config *cfg, enum ecom_store_kind *kind, const char **uri,
                  ecom_err *err)
{
	enum ecom_store_kind k;
	bool is_uri;

	if (classify_store(cfg->store, &k, &is_uri, err) < 0)
		return -1;
	if (kind != NULL)
		*kind = k;
	if (uri != NULL)
		*uri = is_uri ? cfg->store : k == ECOM_STORE_MONGODB ? cfg->mongodb_uri : cfg->postgres_uri;
	return 0;
}

/* A YAML scalar: quoted when plain YAML would read it otherwise. */
static void
dump_scalar(FILE *out, const char *key, const char *value)
{
	const char *p;

	if (*value != '\0' && strpbrk(value, ":#'\"{}[],&*!|>%@`") == NULL && value[0] != ' ' &&
	    value[strlen(value) - 1] != ' ') {
		fprintf(out, "%s: %s\n", key, value);
		return;
	}
	fprintf(out, "%s: \"", key);
	for (p = value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', out);
		fputc(*p, out);
	}
	fputs("\"\n", out);
}

static void
dump_uri(FILE *out, const char *key, const char *uri)
{
	char *shown = ecom_redact_uri(uri);

	dump_scalar(out, key, shown);
	bson_free(shown);
}

void
ecom_config_dump(const ecom_config *cfg, FILE *out)
{
	const struct config_key *k;

	fprintf(out, "# in force: built-in defaults < %s < ECOM_* < flags\n",
	        cfg->source_file ? cfg->source_file : "(no config file)");
	for (k = config_keys; k < config_keys + N_CONFIG_KEYS; k++) {
		const char *field = (const char *)cfg + k->offset;

		switch (k->type) {
		case KEY_STRING:
			dump_scalar(out, k->name, *(char *const *)(const void *)field);
			break;
		case KEY_URI:
			dump_uri(out, k->name, *(char *const *)(const void *)field);
			break;
		case KEY_INT:
			fprintf(out, "%s: %d\n", k->name, *(const int *)(const void *)field);
			break;
		case KEY_LONG:
			fprintf(out, "%s: %ld\n", k->name, *(const long *)(const void *)field);
			break;
		case KEY_BOOL:
			fprintf(out, "%s: %s\n", k->name, *(const bool *)(const void *)field ? "true" : "false");
			break;
		}
	}
}

const char *
ecom_config_yaml_version(void)
{
	static char text[32];

	snprintf(text, sizeof(text), "libyaml %s", yaml_get_version_string());
	return text;
}

char *
ecom_config_store_label(const ecom_config *cfg)
{
	enum ecom_store_kind kind;
	bool is_uri;
	char *redacted, *label;

	if (classify_store(cfg->store, &kind, &is_uri, NULL) < 0 || !is_uri)
		return ecom_xstrdup(cfg->store);
	redacted = ecom_redact_uri(cfg->store);
	label = ecom_xstrdup(redacted);
	bson_free(redacted);
	return label;
}

bool
ecom_config_exactly_once(const ecom_config *cfg)
{
	return strcmp(cfg->processing_guarantee, "exactly_once") == 0;
}

void
ecom_config_transactional_id(const ecom_config *cfg, const char *role, char *buf, size_t size)
{
	char host[256] = "localhost";

	if (cfg->instance_id[0] == '\0' && gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, size, "%s%s-%s-%s", cfg->topic_prefix, cfg->group, role,
	         cfg->instance_id[0] != '\0' ? cfg->instance_id : host);
}

const char *
ecom_config_topic(const ecom_config *cfg, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", cfg->topic_prefix ? cfg->topic_prefix : "", name);
	return buf;
}
