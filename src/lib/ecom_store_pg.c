/*
 * The PostgreSQL store (libpq): schema cfg->database, one table per event
 * type named like the topic.  Every table is
 *   event_id uuid primary key, event_created_date timestamptz, doc jsonb
 * where doc is the whole event in wire form (unknown fields kept), and
 * ordercreated adds the typed columns the flow updates and counts:
 *   order_price numeric(12,2), order_is_fulfilled boolean,
 *   order_shipped_date timestamptz.
 * doc->'payload' is kept in step with those by mark_fulfilled.
 *
 * A batch travels as one jsonb array parameter (one event: the event
 * itself) and is written by one prepared INSERT … SELECT FROM
 * jsonb_array_elements … ON CONFLICT DO NOTHING RETURNING event_id: one
 * statement, so one transaction and one round trip, and nothing to
 * escape by hand.  Of the forms measured (multi-row VALUES, unnest
 * arrays, COPY, pipeline mode), it is the cheapest or tied with the
 * cheapest at every batch size (doc/store-notes.md, "Write forms").
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ecom_security.h"
#include "ecom_store_impl.h"
#include "ecom_tls.h"

static void pg_notice(void *data, const char *message);

/*
 * The statements of the flow's hot path, prepared once per connection
 * (again after a reconnect): a prepared insert costs the server about
 * 0.6 of the same statement unprepared (doc/store-notes.md, "Write
 * forms").  One event, the batch of one a closed loop writes, has a
 * statement of its own without the array around it.
 */
enum pg_statement {
	STMT_INSERT_ONE = 0,                       /* + type */
	STMT_INSERT_MANY = STMT_INSERT_ONE + ECOM_EV_COUNT, /* + type */
	STMT_COUNT = STMT_INSERT_MANY + ECOM_EV_COUNT,      /* + type */
	STMT_MARK = STMT_COUNT + ECOM_EV_COUNT,
	STMT_COUNT_FULFILLED,
	STMT_TOTAL
};

typedef struct prepared_sql {
	char *sql;
	int nparams;
	bool prepared; /* on the current connection */
} prepared_sql;

typedef struct pg_store {
	ecom_store base;
	PGconn *conn;
	char *create_sql;  /* schema and tables, if absent */
	char *drop_sql;    /* the five tables */
	prepared_sql statements[STMT_TOTAL];
	char *get_sql[ECOM_EV_COUNT];
	char *delete_sql[ECOM_EV_COUNT];
	char *list_sql[ECOM_EV_COUNT];
	char *unfinished_sql;
} pg_store;

static pg_store *
pg_of(ecom_store *store)
{
	return (pg_store *)store;
}

/* libpq's multi-line messages on one line: whitespace runs become one space. */
static void
one_line(const char *text, char *buf, size_t size)
{
	size_t out = 0;
	bool space = false;

	if (size == 0)
		return;
	for (; text != NULL && *text != '\0' && out + 1 < size; text++) {
		if (isspace((unsigned char)*text)) {
			space = out > 0;
			continue;
		}
		if (space && out + 2 < size)
			buf[out++] = ' ';
		space = false;
		buf[out++] = *text;
	}
	buf[out] = '\0';
}

/* The reason a statement failed: the server's primary message, else libpq's. */
static const char *
failure_reason(pg_store *ps, const PGresult *res, char *buf, size_t size)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	one_line(primary ? primary : PQerrorMessage(ps->conn), buf, size);
	return buf;
}

/*
 * What a failed statement means for the caller (ecom_store.c retries
 * transient failures and splits a batch whose data was refused), by the
 * connection's state and the SQLSTATE class.
 */
static enum ecom_err_kind
failure_kind(pg_store *ps, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(ps->conn) == CONNECTION_BAD || state == NULL)
		return ECOM_ERR_TRANSIENT;
	/* 08 connection exception, 40 rollback (serialisation, deadlock), 53
	 * insufficient resources, 57 operator intervention (shutdown, cannot
	 * connect now), 58 system error. */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "40", 2) == 0 ||
	    strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0 ||
	    strncmp(state, "58", 2) == 0)
		return ECOM_ERR_TRANSIENT;
	/* 22 data exception, 23 integrity constraint, 54 program limit exceeded. */
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
	    strncmp(state, "54", 2) == 0)
		return ECOM_ERR_DATA;
	return ECOM_ERR_FAILURE;
}

static int
statement_failed(pg_store *ps, const PGresult *res, const char *what, ecom_err *err)
{
	char reason[512];

	ecom_err_set_kind(err, failure_kind(ps, res), "cannot %s in '%s': %s", what,
	                  ps->base.redacted_uri, failure_reason(ps, res, reason, sizeof(reason)));
	if (err != NULL)
		err->connection_lost = PQstatus(ps->conn) == CONNECTION_BAD;
	return -1;
}

/*
 * Run sql (simple protocol, several statements allowed: they form one
 * implicit transaction) and expect no rows.
 */
static int
run_script(pg_store *ps, const char *sql, const char *what, ecom_err *err)
{
	PGresult *res;
	int ret = 0;

	res = PQexec(ps->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = statement_failed(ps, res, what, err);
	PQclear(res);
	return ret;
}

/* Run a statement with text parameters; *res is set on success (PQclear it). */
static int
run_params(pg_store *ps, const char *sql, int nparams, const char *const *params,
           ExecStatusType expected, PGresult **res, const char *what, ecom_err *err)
{
	*res = PQexecParams(ps->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(*res) != expected) {
		statement_failed(ps, *res, what, err);
		PQclear(*res);
		*res = NULL;
		return -1;
	}
	return 0;
}

/* A statement of the hot path, prepared on this connection at its first use. */
static int
run_prepared(pg_store *ps, enum pg_statement id, const char *const *params,
             ExecStatusType expected, PGresult **res, const char *what, ecom_err *err)
{
	prepared_sql *st = &ps->statements[id];
	char name[16];

	snprintf(name, sizeof(name), "ecom_%d", (int)id);
	if (!st->prepared) {
		*res = PQprepare(ps->conn, name, st->sql, st->nparams, NULL);
		if (PQresultStatus(*res) != PGRES_COMMAND_OK) {
			statement_failed(ps, *res, what, err);
			PQclear(*res);
			*res = NULL;
			return -1;
		}
		PQclear(*res);
		st->prepared = true;
	}
	*res = PQexecPrepared(ps->conn, name, st->nparams, params, NULL, NULL, 0);
	if (PQresultStatus(*res) != expected) {
		statement_failed(ps, *res, what, err);
		PQclear(*res);
		*res = NULL;
		return -1;
	}
	return 0;
}

static void
forget_prepared(pg_store *ps)
{
	int i;

	for (i = 0; i < STMT_TOTAL; i++)
		ps->statements[i].prepared = false;
}

/* One connection option's value as libpq took it ("" when unset), in buf. */
static const char *
pg_conn_option(PGconn *conn, const char *name, char *buf, size_t size)
{
	PQconninfoOption *opts = PQconninfo(conn), *o;

	buf[0] = '\0';
	for (o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, name) == 0 && o->val != NULL)
			snprintf(buf, size, "%s", o->val);
	PQconninfoFree(opts);
	return buf;
}

/*
 * libpq says "certificate verify failed" for an expired certificate too,
 * and the hint would send the user after the CA: when the dates are the
 * reason, the verdict in buf.
 */
static bool
pg_certificate_dates(PGconn *conn, char *buf, size_t size)
{
	char ca[1024], mode[32];
	const char *host = PQhost(conn), *port = PQport(conn);

	if (host == NULL || host[0] == '\0' || host[0] == '/' || port == NULL || port[0] == '\0')
		return false;
	pg_conn_option(conn, "sslrootcert", ca, sizeof(ca));
	pg_conn_option(conn, "sslmode", mode, sizeof(mode));
	return ecom_tls_diagnose(host, port, ECOM_TLS_POSTGRES, ca, strcmp(mode, "verify-full") == 0,
	                         5000, buf, size);
}

/*
 * What to check when the server answered and refused us, by libpq's
 * words (a static phrase, or one written to buf); NULL for anything else.
 * A refusal will not change on a retry, so it is a failure, not an outage.
 */
static const char *
pg_refusal_hint(PGconn *conn, const char *reason, char *buf, size_t size)
{
	if (strstr(reason, "authentication failed") != NULL)
		return "check the user and password in the URI (the server uses its own "
		       "authentication method: pg_hba.conf)";
	if (strstr(reason, "does not match host name") != NULL)
		return "TLS: connect by a host name the server's certificate carries";
	if (strstr(reason, "certificate verify failed") != NULL && pg_certificate_dates(conn, buf, size))
		return buf;
	if (strstr(reason, "certificate verify failed") != NULL ||
	    strstr(reason, "root certificate file") != NULL)
		return "TLS: give the CA that signed the server's certificate as sslrootcert=FILE";
	if (strstr(reason, "no pg_hba.conf entry") != NULL && strstr(reason, "no encryption") != NULL)
		return "the server takes TLS connections only: add sslmode=verify-full and "
		       "sslrootcert=FILE to the URI";
	if (strstr(reason, "no pg_hba.conf entry") != NULL)
		return "the server's pg_hba.conf lets no such connection in";
	/* pg_hba.conf's clientcert=verify-ca or verify-full */
	if (strstr(reason, "requires a valid client certificate") != NULL)
		return "TLS: the server asks for a client certificate: give sslcert=FILE and "
		       "sslkey=FILE in the URI (the certificate signed by a CA the server trusts)";
	if (strstr(reason, "does not exist") != NULL)
		return "check the user and database in the URI";
	return NULL;
}

/* Reconnect if the connection is gone (a server restart), then check it answers. */
static int
pg_ping(ecom_store *store, ecom_err *err)
{
	pg_store *ps = pg_of(store);
	const char *hint;
	char reason[512], verdict[300];

	if (PQstatus(ps->conn) == CONNECTION_BAD) {
		PQreset(ps->conn);
		forget_prepared(ps); /* a new session has none */
		if (PQstatus(ps->conn) != CONNECTION_OK) {
			one_line(PQerrorMessage(ps->conn), reason, sizeof(reason));
			if (PQpass(ps->conn) != NULL && *PQpass(ps->conn) != '\0')
				ecom_redact_text(reason, sizeof(reason), PQpass(ps->conn));
			/* A server that answers and refuses us will not change its mind. */
			hint = pg_refusal_hint(ps->conn, reason, verdict, sizeof(verdict));
			return ecom_err_set_kind(err, hint != NULL ? ECOM_ERR_FAILURE : ECOM_ERR_TRANSIENT,
			                         "cannot connect to '%s': %s%s%s", ps->base.redacted_uri,
			                         reason, hint != NULL ? ": " : "", hint != NULL ? hint : "");
		}
		PQsetNoticeProcessor(ps->conn, pg_notice, NULL);
	}
	return run_script(ps, "SELECT 1", "check the connection", err);
}

/* Canonical UUID text (either case): anything else cannot be a stored id. */
static bool
is_uuid_text(const char *id)
{
	int i;

	for (i = 0; i < ECOM_EVENT_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (id[i] == '\0' || (dash ? id[i] != '-' : !isxdigit((unsigned char)id[i])))
			return false;
	}
	return id[ECOM_EVENT_ID_LEN] == '\0';
}

static void set_statement(pg_store *ps, int id, int nparams, const char *fmt, ...)
    ECOM_PRINTF(4, 5);

static void
set_statement(pg_store *ps, int id, int nparams, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ps->statements[id].sql = bson_strdupv_printf(fmt, ap);
	va_end(ap);
	ps->statements[id].nparams = nparams;
	ps->statements[id].prepared = false;
}

static int
build_statements(pg_store *ps, const char *database, ecom_err *err)
{
	char *schema, *lock_key, *table;
	const char *name;
	int t;

	schema = PQescapeIdentifier(ps->conn, database, strlen(database));
	lock_key = PQescapeLiteral(ps->conn, database, strlen(database));
	if (schema == NULL || lock_key == NULL) {
		PQfreemem(schema);
		PQfreemem(lock_key);
		return ecom_err_set(err, "cannot quote the schema name '%s': %s", database,
		                    PQerrorMessage(ps->conn));
	}

	/*
	 * Stages open their handles at the same moment: the advisory lock
	 * makes concurrent CREATE … IF NOT EXISTS of the same schema wait for
	 * each other instead of failing on the catalogue's unique index.
	 */
	ps->create_sql = bson_strdup_printf(
		"SELECT pg_advisory_xact_lock(hashtext('ecom_store.' || %s));"
		"CREATE SCHEMA IF NOT EXISTS %s;"
		"CREATE TABLE IF NOT EXISTS %s.ordercreated ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL,"
		" doc jsonb NOT NULL, order_price numeric(12,2) NOT NULL,"
		" order_is_fulfilled boolean NOT NULL, order_shipped_date timestamptz);"
		"CREATE TABLE IF NOT EXISTS %s.paymentcompleted ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL, doc jsonb NOT NULL);"
		"CREATE TABLE IF NOT EXISTS %s.inventoryupdated ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL, doc jsonb NOT NULL);"
		"CREATE TABLE IF NOT EXISTS %s.ordershipped ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL, doc jsonb NOT NULL);"
		"CREATE TABLE IF NOT EXISTS %s.orderfulfilled ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL, doc jsonb NOT NULL);",
		lock_key, schema, schema, schema, schema, schema, schema);
	ps->drop_sql = bson_strdup_printf(
		"SELECT pg_advisory_xact_lock(hashtext('ecom_store.' || %s));"
		"DROP TABLE IF EXISTS %s.ordercreated, %s.paymentcompleted, %s.inventoryupdated,"
		" %s.ordershipped, %s.orderfulfilled;",
		lock_key, schema, schema, schema, schema, schema);

	for (t = 0; t < ECOM_EV_COUNT; t++) {
		const char *columns, *values;

		name = ecom_event_type_name((ecom_event_type)t);
		table = bson_strdup_printf("%s.%s", schema, name);
		if (t == ECOM_EV_ORDERCREATED) {
			columns = "event_id, event_created_date, doc, order_price, order_is_fulfilled,"
			          " order_shipped_date";
			values = "(d->>'eventId')::uuid, (d->>'eventCreatedDate')::timestamptz, d,"
			         " (d->'payload'->>'orderPrice')::numeric(12,2),"
			         " coalesce((d->'payload'->>'orderIsFulfilled')::boolean, false),"
			         " (d->'payload'->>'orderShippedDate')::timestamptz";
		} else {
			columns = "event_id, event_created_date, doc";
			values = "(d->>'eventId')::uuid, (d->>'eventCreatedDate')::timestamptz, d";
		}
		set_statement(ps, STMT_INSERT_ONE + t, 1,
		              "INSERT INTO %s (%s) SELECT %s FROM (SELECT $1::jsonb) AS batch(d)"
		              " ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text",
		              table, columns, values);
		set_statement(ps, STMT_INSERT_MANY + t, 1,
		              "INSERT INTO %s (%s) SELECT %s FROM jsonb_array_elements($1::jsonb) AS batch(d)"
		              " ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text",
		              table, columns, values);
		set_statement(ps, STMT_COUNT + t, 0, "SELECT count(*) FROM %s", table);
		ps->get_sql[t] = bson_strdup_printf("SELECT doc::text FROM %s WHERE event_id = $1::uuid",
		                                    table);
		ps->delete_sql[t] = bson_strdup_printf("DELETE FROM %s WHERE event_id = $1::uuid", table);
		ps->list_sql[t] = bson_strdup_printf("SELECT event_id::text FROM %s", table);
		bson_free(table);
	}
	/*
	 * An order already marked with this call's own date counts as marked
	 * by it: the retry of a call whose reply was lost.  Marks of other
	 * calls have other dates (the stage makes them strictly increasing).
	 */
	set_statement(ps, STMT_MARK, 2,
	              "UPDATE %s.ordercreated AS o SET order_is_fulfilled = true,"
	              " order_shipped_date = m.shipped::timestamptz,"
	              " doc = jsonb_set(jsonb_set(o.doc, '{payload,orderIsFulfilled}', 'true'),"
	              "                 '{payload,orderShippedDate}', to_jsonb(m.shipped))"
	              " FROM unnest($1::uuid[], $2::text[]) AS m(id, shipped)"
	              " WHERE o.event_id = m.id"
	              " AND (NOT o.order_is_fulfilled OR o.order_shipped_date = m.shipped::timestamptz)",
	              schema);
	set_statement(ps, STMT_COUNT_FULFILLED, 0,
	              "SELECT count(*) FROM %s.ordercreated WHERE order_is_fulfilled", schema);
	ps->unfinished_sql = bson_strdup_printf(
		"SELECT event_id::text FROM %s.ordercreated"
		" WHERE NOT order_is_fulfilled OR order_shipped_date IS NULL",
		schema);
	PQfreemem(schema);
	PQfreemem(lock_key);
	return 0;
}

/* Server notices ("schema … already exists, skipping") are for --verbose only. */
static void
pg_notice(void *data, const char *message)
{
	char line[512];

	(void)data;
	one_line(message, line, sizeof(line));
	ecom_debugf("postgresql: %s", line);
}

static void pg_close(ecom_store *store);

/*
 * "PostgreSQL 15.18": the server reports server_version at connection
 * ("15.18 (Debian 15.18-0+deb12u1)"); the words after the number are the
 * packager's.
 */
static char *
server_name(PGconn *conn)
{
	const char *version = PQparameterStatus(conn, "server_version");

	if (version == NULL || *version == '\0')
		return bson_strdup("PostgreSQL (version unknown)");
	return bson_strdup_printf("PostgreSQL %.*s", (int)strcspn(version, " "), version);
}

static const ecom_store_ops pg_ops;

/*
 * What the connection gives, from libpq: sslmode=prefer (the default)
 * falls back to plaintext when the server offers no TLS, which is said,
 * or refused with require_tls, when the user gave a CA or a client
 * certificate, or a password that left the machine (the plain dev stack
 * sends one over loopback, where nothing travels).
 */
static int
pg_check_security(pg_store *ps, const ecom_config *cfg, ecom_err *err)
{
	PQconninfoOption *opts = PQconninfo(ps->conn), *o;
	const char *mode = "prefer", *version, *addr = PQhostaddr(ps->conn);
	ecom_conn_facts facts;
	bool gave = PQconnectionUsedPassword(ps->conn) != 0 &&
	            !ecom_host_is_loopback(addr != NULL && *addr != '\0' ? addr : PQhost(ps->conn));
	int rc;

	for (o = opts; o != NULL && o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "sslmode") == 0)
			mode = o->val;
		else if (strcmp(o->keyword, "sslrootcert") == 0 || strcmp(o->keyword, "sslcert") == 0)
			gave = true;
	}
	memset(&facts, 0, sizeof(facts));
	facts.known = true;
	facts.observed = true;
	facts.encrypted = PQsslInUse(ps->conn) != 0;
	facts.verified = facts.encrypted && strncmp(mode, "verify-", 7) == 0;
	facts.host_checked = facts.encrypted && strcmp(mode, "verify-full") == 0;
	snprintf(facts.authentication, sizeof(facts.authentication), "%s",
	         PQconnectionUsedPassword(ps->conn) ? "password" : "none asked by the server");
	version = facts.encrypted ? PQsslAttribute(ps->conn, "protocol") : NULL;
	snprintf(facts.tls_version, sizeof(facts.tls_version), "%s", version != NULL ? version : "");
	PQconninfoFree(opts);
	rc = ecom_security_after_connect(cfg, ps->base.redacted_uri, &facts, gave, err);
	return rc;
}

static int
pg_open(ecom_store **store, const char *uri, const ecom_config *cfg, ecom_err *err)
{
	/*
	 * Later entries override earlier ones, and dbname expands to the
	 * URI's settings where it stands: the timeouts and keepalives before
	 * it are defaults a URI may change; the encoding after it is ours.
	 *
	 * A server that stops answering without closing the connection is
	 * noticed within timeout_ms (unacknowledged data: tcp_user_timeout)
	 * or about 11 s (an idle connection: keepalives), then retried.
	 */
	const char *keywords[] = {"connect_timeout", "tcp_user_timeout", "keepalives_idle",
	                          "keepalives_interval", "keepalives_count", "dbname",
	                          "client_encoding", "fallback_application_name", NULL};
	const char *values[9];
	char timeout[16], user_timeout[16], reason[1024], appname[128], verdict[300];
	const char *hint;
	pg_store *ps;
	int seconds = cfg->timeout_ms <= 0 ? 1 : (cfg->timeout_ms + 999) / 1000;

	snprintf(timeout, sizeof(timeout), "%d", seconds);
	snprintf(user_timeout, sizeof(user_timeout), "%d", cfg->timeout_ms);
	/* "ecom-consume/ecommerce": which command, on which schema, in pg_stat_activity. */
	snprintf(appname, sizeof(appname), "%s/%s", ecom_progname(), cfg->database);
	values[0] = timeout;
	values[1] = user_timeout;
	values[2] = "5";
	values[3] = "2";
	values[4] = "3";
	values[5] = uri;
	values[6] = "UTF8";
	values[7] = appname;
	values[8] = NULL;

	*store = NULL;
	ps = bson_malloc0(sizeof(*ps));
	ps->base.ops = &pg_ops;
	ps->base.kind = ECOM_STORE_POSTGRESQL;
	ps->base.redacted_uri = ecom_redact_uri(uri);
	ps->conn = PQconnectdbParams(keywords, values, 1);
	if (ps->conn == NULL) {
		ecom_err_set(err, "cannot connect to '%s': out of memory", ps->base.redacted_uri);
		goto fail;
	}
	if (PQstatus(ps->conn) != CONNECTION_OK) {
		one_line(PQerrorMessage(ps->conn), reason, sizeof(reason));
		ecom_redact_password_in(reason, sizeof(reason), uri);
		hint = pg_refusal_hint(ps->conn, reason, verdict, sizeof(verdict));
		ecom_err_set_kind(err, hint != NULL ? ECOM_ERR_FAILURE : ECOM_ERR_TRANSIENT,
		                  "cannot connect to '%s': %s%s%s", ps->base.redacted_uri, reason,
		                  hint != NULL ? ": " : "", hint != NULL ? hint : "");
		goto fail;
	}
	if (pg_check_security(ps, cfg, err) < 0)
		goto fail;
	PQsetNoticeProcessor(ps->conn, pg_notice, NULL);
	ps->base.server = server_name(ps->conn);
	if (build_statements(ps, cfg->database, err) < 0 ||
	    run_script(ps, ps->create_sql, "create the tables", err) < 0)
		goto fail;
	*store = &ps->base;
	return 0;
fail:
	pg_close(&ps->base);
	return -1;
}

static void
pg_close(ecom_store *store)
{
	pg_store *ps = pg_of(store);
	int t;

	PQfinish(ps->conn);
	bson_free(ps->create_sql);
	bson_free(ps->drop_sql);
	for (t = 0; t < STMT_TOTAL; t++)
		bson_free(ps->statements[t].sql);
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		bson_free(ps->get_sql[t]);
		bson_free(ps->delete_sql[t]);
		bson_free(ps->list_sql[t]);
	}
	bson_free(ps->unfinished_sql);
	bson_free(ps->base.redacted_uri);
	bson_free(ps->base.server);
	bson_free(ps);
}

static int
compare_ids(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
pg_put_batch(ecom_store *store, ecom_event_type type, ecom_event *const *events, size_t n,
             ecom_put_result *results, ecom_err *err)
{
	pg_store *ps = pg_of(store);
	bson_string_t *batch;
	PGresult *res = NULL;
	const char **inserted = NULL;
	bool *claimed = NULL;
	char what[64];
	size_t i, rows;
	int ret = -1;

	/* One event as itself, more as a JSON array of them. */
	batch = bson_string_new(n == 1 ? NULL : "[");
	for (i = 0; i < n; i++) {
		size_t len;
		char *json = ecom_event_to_json(events[i], &len);

		if (json == NULL) {
			ecom_err_set(err, "cannot serialise event '%s'", events[i]->event_id);
			goto out;
		}
		if (i > 0)
			bson_string_append_c(batch, ',');
		bson_string_append(batch, json);
		bson_free(json);
	}
	if (n > 1)
		bson_string_append_c(batch, ']');

	snprintf(what, sizeof(what), "store %s events", ecom_event_type_name(type));
	if (run_prepared(ps, (n == 1 ? STMT_INSERT_ONE : STMT_INSERT_MANY) + type,
	                 (const char *const *)&batch->str, PGRES_TUPLES_OK, &res, what, err) < 0)
		goto out;

	/*
	 * RETURNING names the ids that were inserted; an id twice in the batch
	 * is inserted once, and counts as new at its first place, as MongoDB's
	 * unordered inserts report it.
	 */
	rows = (size_t)PQntuples(res);
	inserted = bson_malloc0((rows ? rows : 1) * sizeof(*inserted));
	claimed = bson_malloc0((rows ? rows : 1) * sizeof(*claimed));
	for (i = 0; i < rows; i++)
		inserted[i] = PQgetvalue(res, (int)i, 0);
	qsort(inserted, rows, sizeof(*inserted), compare_ids);
	for (i = 0; i < n; i++) {
		const char *id = events[i]->event_id;
		const char **hit = rows ? bsearch(&id, inserted, rows, sizeof(*inserted), compare_ids)
		                        : NULL;

		if (hit != NULL && !claimed[hit - inserted]) {
			results[i].status = ECOM_PUT_NEW;
			claimed[hit - inserted] = true;
		} else {
			results[i].status = ECOM_PUT_DUPLICATE;
		}
	}
	ret = 0;
out:
	bson_free(inserted);
	bson_free(claimed);
	PQclear(res);
	bson_string_free(batch, true);
	return ret;
}

static int
pg_mark_fulfilled(ecom_store *store, const char *const *order_ids, const int64_t *shipped_ms,
                  size_t n, int64_t *marked, ecom_err *err)
{
	pg_store *ps = pg_of(store);
	bson_string_t *ids, *dates;
	const char *params[2];
	PGresult *res = NULL;
	char date[32];
	size_t i, used = 0;
	int ret = -1;

	/* Array literals: UUIDs and ISO dates hold nothing that needs quoting. */
	ids = bson_string_new("{");
	dates = bson_string_new("{");
	for (i = 0; i < n; i++) {
		if (!is_uuid_text(order_ids[i]))
			continue;
		ecom_format_iso8601(shipped_ms[i], date, sizeof(date));
		bson_string_append_printf(ids, "%s%s", used ? "," : "", order_ids[i]);
		bson_string_append_printf(dates, "%s\"%s\"", used ? "," : "", date);
		used++;
	}
	bson_string_append_c(ids, '}');
	bson_string_append_c(dates, '}');
	*marked = 0;
	if (used == 0) {
		ret = 0;
		goto out;
	}
	params[0] = ids->str;
	params[1] = dates->str;
	if (run_prepared(ps, STMT_MARK, params, PGRES_COMMAND_OK, &res, "mark orders fulfilled",
	                 err) < 0)
		goto out;
	*marked = strtoll(PQcmdTuples(res), NULL, 10);
	ret = 0;
out:
	PQclear(res);
	bson_string_free(ids, true);
	bson_string_free(dates, true);
	return ret;
}

static int
count_rows(pg_store *ps, enum pg_statement id, const char *what, int64_t *count, ecom_err *err)
{
	PGresult *res;

	if (run_prepared(ps, id, NULL, PGRES_TUPLES_OK, &res, what, err) < 0)
		return -1;
	*count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

static int
pg_count(ecom_store *store, ecom_event_type type, int64_t *count, ecom_err *err)
{
	char what[64];

	snprintf(what, sizeof(what), "count %s", ecom_event_type_name(type));
	return count_rows(pg_of(store), STMT_COUNT + type, what, count, err);
}

static int
pg_count_fulfilled(ecom_store *store, int64_t *count, ecom_err *err)
{
	return count_rows(pg_of(store), STMT_COUNT_FULFILLED, "count fulfilled orders", count, err);
}

static int
pg_get(ecom_store *store, ecom_event_type type, const char *order_id, bson_t *doc, bool *found,
       ecom_err *err)
{
	pg_store *ps = pg_of(store);
	PGresult *res;
	bson_t wire;
	bson_error_t error;
	ecom_event ev;
	ecom_err parse_err;
	char what[96];
	int ret = -1;

	if (!is_uuid_text(order_id))
		return 0;
	snprintf(what, sizeof(what), "read %s '%s'", ecom_event_type_name(type), order_id);
	if (run_params(ps, ps->get_sql[type], 1, &order_id, PGRES_TUPLES_OK, &res, what, err) < 0)
		return -1;
	if (PQntuples(res) == 0) {
		ret = 0;
		goto out;
	}
	/* doc is wire form: ecom_event turns it into the store form MongoDB returns. */
	if (!bson_init_from_json(&wire, PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), &error)) {
		ecom_err_set(err, "cannot %s in '%s': %s", what, store->redacted_uri, error.message);
		goto out;
	}
	if (ecom_event_from_bson(&wire, &ev, &parse_err) < 0) {
		ecom_err_set(err, "cannot %s in '%s': %s", what, store->redacted_uri, parse_err.msg);
		bson_destroy(&wire);
		goto out;
	}
	bson_concat(doc, &ev.doc);
	*found = true;
	ecom_event_destroy(&ev);
	bson_destroy(&wire);
	ret = 0;
out:
	PQclear(res);
	return ret;
}

static int
pg_delete_one(ecom_store *store, ecom_event_type type, const char *order_id, int64_t *removed,
              ecom_err *err)
{
	pg_store *ps = pg_of(store);
	PGresult *res;
	char what[96];

	*removed = 0;
	if (!is_uuid_text(order_id))
		return 0;
	snprintf(what, sizeof(what), "delete %s '%s'", ecom_event_type_name(type), order_id);
	if (run_params(ps, ps->delete_sql[type], 1, &order_id, PGRES_COMMAND_OK, &res, what, err) < 0)
		return -1;
	*removed = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

static int
pg_reset(ecom_store *store, ecom_err *err)
{
	pg_store *ps = pg_of(store);
	char *sql = bson_strdup_printf("%s%s", ps->drop_sql, ps->create_sql);
	int ret;

	/* One script, so one transaction: the tables are never seen half reset. */
	ret = run_script(ps, sql, "reset the tables", err);
	bson_free(sql);
	return ret;
}

static int
list_rows(pg_store *ps, const char *sql, const char *what, ecom_idlist *ids, ecom_err *err)
{
	PGresult *res;
	int i, rows, ret = 0;

	if (run_params(ps, sql, 0, NULL, PGRES_TUPLES_OK, &res, what, err) < 0)
		return -1;
	rows = PQntuples(res);
	for (i = 0; i < rows && ret == 0; i++)
		ret = ecom_idlist_add(ids, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), err);
	PQclear(res);
	return ret;
}

static int
pg_list_ids(ecom_store *store, ecom_event_type type, ecom_idlist *ids, ecom_err *err)
{
	char what[64];

	snprintf(what, sizeof(what), "list %s", ecom_event_type_name(type));
	return list_rows(pg_of(store), pg_of(store)->list_sql[type], what, ids, err);
}

static int
pg_list_unfinished(ecom_store *store, ecom_idlist *ids, ecom_err *err)
{
	return list_rows(pg_of(store), pg_of(store)->unfinished_sql, "list unfinished orders", ids,
	                 err);
}

static const ecom_store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.ping = pg_ping,
	.put_batch = pg_put_batch,
	.mark_fulfilled = pg_mark_fulfilled,
	.count = pg_count,
	.count_fulfilled = pg_count_fulfilled,
	.get = pg_get,
	.delete_one = pg_delete_one,
	.reset = pg_reset,
	.list_ids = pg_list_ids,
	.list_unfinished = pg_list_unfinished,
};

/*
 * libpq parses the URI; a port it would only refuse when connecting is
 * checked here too.  Its messages may quote the password: redacted.
 */
static int
pg_check_uri(const char *uri, ecom_err *err)
{
	char *reason = NULL, why[512];
	PQconninfoOption *options = PQconninfoParse(uri, &reason), *o;
	int ret = 0;

	if (options == NULL) {
		one_line(reason ? reason : "out of memory", why, sizeof(why));
		PQfreemem(reason);
		ecom_redact_password_in(why, sizeof(why), uri);
		return ecom_err_set(err, "not a valid PostgreSQL URI: %s", why);
	}
	for (o = options; o->keyword != NULL; o++) {
		const char *p;

		if (strcmp(o->keyword, "port") != 0 || o->val == NULL)
			continue;
		/* A list, one per host: digits and commas only. */
		for (p = o->val; *p != '\0'; p++) {
			if (!isdigit((unsigned char)*p) && *p != ',') {
				snprintf(why, sizeof(why), "%s", o->val);
				ecom_redact_password_in(why, sizeof(why), uri);
				ret = ecom_err_set(err, "not a valid PostgreSQL URI: invalid port '%s'", why);
				break;
			}
		}
	}
	PQconninfoFree(options);
	return ret;
}

static const char *
pg_driver_version(void)
{
	static char text[32];

	snprintf(text, sizeof(text), "libpq %d", PQlibVersion());
	return text;
}

const ecom_store_backend ecom_store_pg_backend = {
	.kind = ECOM_STORE_POSTGRESQL,
	.name = "postgresql",
	.open = pg_open,
	.check_uri = pg_check_uri,
	.driver_version = pg_driver_version,
};
