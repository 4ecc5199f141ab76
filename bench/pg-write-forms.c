/*
 * pg-write-forms: what each way of writing a batch of flow events into
 * PostgreSQL costs, for doc/store-notes.md ("PostgreSQL write forms").
 *
 *   pg-write-forms [-u URI] [-r ROUNDS1,ROUNDS16,ROUNDS256] [-m ROWS] [-k MARKS]
 *
 * URI defaults to $ECOM_POSTGRES_URI (scripts/devstack.sh).  Every form
 * writes the same events (built by libecomutil: ecom_event_new_order,
 * ecom_event_next, ecom_event_to_json) into its own copy of the store's
 * five tables (the schema of src/lib/ecom_store_pg.c), in a private
 * schema per form that is dropped at the end, with ON CONFLICT (event_id)
 * DO NOTHING and the new ids returned, one transaction per batch:
 *
 *   json       today's store: unprepared INSERT … SELECT FROM
 *              jsonb_array_elements($1::jsonb) … RETURNING (PQexecParams)
 *   json-prep  the same statement, prepared once (PQexecPrepared)
 *   values     prepared multi-row VALUES ($1,$2,$3),($4,$5,$6)…, one
 *              statement per batch size
 *   unnest     prepared INSERT … SELECT FROM unnest($1::uuid[],
 *              $2::timestamptz[], $3::jsonb[])
 *   copy       BEGIN; COPY into a temp table (ON COMMIT DELETE ROWS);
 *              INSERT … SELECT FROM it ON CONFLICT … RETURNING; COMMIT
 *              (three round trips)
 *   copy-delete  the same with DELETE FROM the temp table before COMMIT
 *              instead of ON COMMIT DELETE ROWS (which truncates it)
 *   pipeline   libpq pipeline mode: one prepared single-row insert per
 *              event, one Sync per batch (an implicit transaction)
 *
 * Each form has its own connection, so its backend's CPU time
 * (/proc/PID/schedstat, nanoseconds; the pid from PQbackendPID) is read
 * before and after each batch.  Forms run interleaved, one batch each per
 * round, starting with a different form every round, so load from other
 * processes falls on all of them alike.  A round writes the events of one
 * type: rounds cycle through the five types, a new group of orders every
 * five rounds.
 *
 * Then, on a table of ROWS ordercreated rows (default 10,000): the store's
 * mark statement (unprepared and prepared), count(*) and the count of
 * fulfilled orders, MARKS times each (default 500), interleaved.
 *
 * Output: Markdown tables on stdout.  Exit 0, or 1 on any failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bson/bson.h>
#include <libpq-fe.h>

#include "ecom_event.h"
#include "ecom_time.h"

#define N_SIZES 3
static const int batch_sizes[N_SIZES] = {1, 16, 256};
#define MAX_BATCH 256
#define WARMUP_ROUNDS 10

enum form_kind { F_JSON, F_JSON_PREP, F_VALUES, F_UNNEST, F_COPY, F_COPY_DELETE, F_PIPELINE, F_COUNT };
static const char *const form_names[F_COUNT] = {"json", "json-prep",   "values",  "unnest",
                                                "copy", "copy-delete", "pipeline"};
static const char *const form_descriptions[F_COUNT] = {
	"today's: unprepared `INSERT … SELECT FROM jsonb_array_elements($1::jsonb)`",
	"the same, prepared",
	"prepared multi-row `VALUES`",
	"prepared `unnest($1::uuid[], $2::timestamptz[], $3::jsonb[])`",
	"`COPY` to a temp table (`ON COMMIT DELETE ROWS`) + `INSERT … SELECT`, one transaction",
	"the same, the temp table emptied by `DELETE` before `COMMIT` instead",
	"pipeline mode, one prepared single-row insert per event, one Sync",
};

typedef struct sample {
	double wall_ms;
	double server_ms;
	double client_ms;
} sample;

typedef struct form {
	enum form_kind kind;
	PGconn *conn;
	int backend_pid;
	char *schema; /* quoted */
	char *json_sql[ECOM_EV_COUNT];
	char *copy_insert_sql[ECOM_EV_COUNT];
	sample *samples;
	int n_samples;
} form;

/* One event's columns as text parameters. */
typedef struct row {
	char *json;
	char created[32];
	char price[32];
	const char *fulfilled;
	char shipped[32];
	bool has_shipped;
} row;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("pg-write-forms: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double
thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of a process so far, ms: schedstat's first field (ns) when the kernel has it. */
static double
process_cpu_ms(int pid)
{
	char path[64];
	FILE *f;
	unsigned long long ns = 0;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		die("cannot read '%s': %s", path, strerror(errno));
	if (fscanf(f, "%llu", &ns) != 1)
		die("cannot parse '%s'", path);
	fclose(f);
	return (double)ns / 1e6;
}

static void
check(PGconn *conn, PGresult *res, ExecStatusType want, const char *what)
{
	if (PQresultStatus(res) != want)
		die("%s: %s", what, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
}

static void
exec_ok(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		die("%s: %s", what, PQresultErrorMessage(res));
	PQclear(res);
}

static void
prepare(PGconn *conn, const char *name, const char *sql)
{
	PGresult *res = PQprepare(conn, name, sql, 0, NULL);

	check(conn, res, PGRES_COMMAND_OK, name);
	PQclear(res);
}

static const char *
extra_columns(int type)
{
	return type == ECOM_EV_ORDERCREATED ? ", order_price, order_is_fulfilled, order_shipped_date" : "";
}

static int
n_columns(int type)
{
	return type == ECOM_EV_ORDERCREATED ? 6 : 3;
}

/* The DDL of build_statements() in src/lib/ecom_store_pg.c, in schema s. */
static void
create_tables(PGconn *conn, const char *s)
{
	char *sql = bson_strdup_printf(
		"DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s;"
		"CREATE TABLE %s.ordercreated ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL,"
		" doc jsonb NOT NULL, order_price numeric(12,2) NOT NULL,"
		" order_is_fulfilled boolean NOT NULL, order_shipped_date timestamptz);"
		"CREATE TABLE %s.paymentcompleted ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL, doc jsonb NOT NULL);"
		"CREATE TABLE %s.inventoryupdated ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL, doc jsonb NOT NULL);"
		"CREATE TABLE %s.ordershipped ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL, doc jsonb NOT NULL);"
		"CREATE TABLE %s.orderfulfilled ("
		" event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL, doc jsonb NOT NULL);",
		s, s, s, s, s, s, s);

	exec_ok(conn, sql, "create the tables");
	bson_free(sql);
}

/* Today's insert_sql, copied from build_statements(). */
static char *
json_insert_sql(const char *s, int t)
{
	const char *name = ecom_event_type_name((ecom_event_type)t);

	if (t == ECOM_EV_ORDERCREATED)
		return bson_strdup_printf(
			"INSERT INTO %s.%s (event_id, event_created_date, doc, order_price,"
			" order_is_fulfilled, order_shipped_date)"
			" SELECT (d->>'eventId')::uuid, (d->>'eventCreatedDate')::timestamptz, d,"
			" (d->'payload'->>'orderPrice')::numeric(12,2),"
			" coalesce((d->'payload'->>'orderIsFulfilled')::boolean, false),"
			" (d->'payload'->>'orderShippedDate')::timestamptz"
			" FROM jsonb_array_elements($1::jsonb) AS batch(d)"
			" ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text",
			s, name);
	return bson_strdup_printf("INSERT INTO %s.%s (event_id, event_created_date, doc)"
	                          " SELECT (d->>'eventId')::uuid, (d->>'eventCreatedDate')::timestamptz, d"
	                          " FROM jsonb_array_elements($1::jsonb) AS batch(d)"
	                          " ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text",
	                          s, name);
}

static char *
values_insert_sql(const char *s, int t, int n)
{
	static const char *const casts[6] = {"uuid",    "timestamptz", "jsonb",
	                                     "numeric", "boolean",     "timestamptz"};
	bson_string_t *sql = bson_string_new(NULL);
	int cols = n_columns(t), i, c, p = 1;

	bson_string_append_printf(sql, "INSERT INTO %s.%s (event_id, event_created_date, doc%s) VALUES ",
	                          s, ecom_event_type_name((ecom_event_type)t), extra_columns(t));
	for (i = 0; i < n; i++) {
		bson_string_append(sql, i ? ",(" : "(");
		for (c = 0; c < cols; c++)
			bson_string_append_printf(sql, "%s$%d::%s", c ? "," : "", p++, casts[c]);
		bson_string_append_c(sql, ')');
	}
	bson_string_append(sql, " ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text");
	return bson_string_free(sql, false);
}

static char *
unnest_insert_sql(const char *s, int t)
{
	return bson_strdup_printf(
		"INSERT INTO %s.%s (event_id, event_created_date, doc%s)"
		" SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::jsonb[]%s)"
		" ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text",
		s, ecom_event_type_name((ecom_event_type)t), extra_columns(t),
		t == ECOM_EV_ORDERCREATED ? ", $4::numeric(12,2)[], $5::boolean[], $6::timestamptz[]" : "");
}

static void
statement_name(char *buf, size_t size, const char *kind, int t, int n)
{
	snprintf(buf, size, "%s_%d_%d", kind, t, n);
}

/* Statements outside the timed batches run outside pipeline mode. */
static void
leave_pipeline(form *f)
{
	if (f->kind == F_PIPELINE && PQexitPipelineMode(f->conn) != 1)
		die("cannot leave pipeline mode: %s", PQerrorMessage(f->conn));
}

static void
enter_pipeline(form *f)
{
	if (f->kind == F_PIPELINE && PQenterPipelineMode(f->conn) != 1)
		die("cannot enter pipeline mode: %s", PQerrorMessage(f->conn));
}

static void
form_open(form *f, enum form_kind kind, const char *uri, int max_samples)
{
	char name[64];
	int t, i;

	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->conn = PQconnectdb(uri);
	if (PQstatus(f->conn) != CONNECTION_OK)
		die("cannot connect: %s", PQerrorMessage(f->conn));
	f->backend_pid = PQbackendPID(f->conn);
	exec_ok(f->conn, "SET client_min_messages = warning", "set client_min_messages");
	snprintf(name, sizeof(name), "pgwf_%d_%s", (int)getpid(), form_names[kind]);
	for (i = 0; name[i]; i++)
		if (name[i] == '-')
			name[i] = '_';
	f->schema = PQescapeIdentifier(f->conn, name, strlen(name));
	create_tables(f->conn, f->schema);
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		f->json_sql[t] = json_insert_sql(f->schema, t);
		switch (kind) {
		case F_JSON_PREP:
			statement_name(name, sizeof(name), "json", t, 0);
			prepare(f->conn, name, f->json_sql[t]);
			break;
		case F_VALUES:
			for (i = 0; i < N_SIZES; i++) {
				char *sql = values_insert_sql(f->schema, t, batch_sizes[i]);

				statement_name(name, sizeof(name), "values", t, batch_sizes[i]);
				prepare(f->conn, name, sql);
				bson_free(sql);
			}
			break;
		case F_PIPELINE: {
			char *sql = values_insert_sql(f->schema, t, 1);

			statement_name(name, sizeof(name), "values", t, 1);
			prepare(f->conn, name, sql);
			bson_free(sql);
			break;
		}
		case F_UNNEST: {
			char *sql = unnest_insert_sql(f->schema, t);

			statement_name(name, sizeof(name), "unnest", t, 0);
			prepare(f->conn, name, sql);
			bson_free(sql);
			break;
		}
		case F_COPY:
		case F_COPY_DELETE: {
			const char *tn = ecom_event_type_name((ecom_event_type)t);

			f->copy_insert_sql[t] = bson_strdup_printf(
				"INSERT INTO %s.%s SELECT event_id, event_created_date, doc%s FROM stage"
				" ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text;%s COMMIT",
				f->schema, tn, extra_columns(t),
				kind == F_COPY_DELETE ? " DELETE FROM stage;" : "");
			break;
		}
		default:
			break;
		}
	}
	/*
	 * COPY's staging table: one for all five types (the three typed
	 * columns NULL but for ordercreated), so each commit empties one
	 * table, as a store connection that writes one type would.
	 */
	if (kind == F_COPY || kind == F_COPY_DELETE) {
		char *sql = bson_strdup_printf(
			"CREATE TEMP TABLE stage (event_id uuid, event_created_date timestamptz,"
			" doc jsonb, order_price numeric(12,2), order_is_fulfilled boolean,"
			" order_shipped_date timestamptz)%s",
			kind == F_COPY ? " ON COMMIT DELETE ROWS" : "");

		exec_ok(f->conn, sql, "create the staging table");
		bson_free(sql);
	}
	enter_pipeline(f);
	f->samples = bson_malloc0((size_t)max_samples * sizeof(*f->samples));
}

static void
form_close(form *f)
{
	char *sql;
	int t;

	leave_pipeline(f);
	sql = bson_strdup_printf("DROP SCHEMA %s CASCADE", f->schema);
	exec_ok(f->conn, sql, "drop the schema");
	bson_free(sql);
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		bson_free(f->json_sql[t]);
		bson_free(f->copy_insert_sql[t]);
	}
	PQfreemem(f->schema);
	PQfinish(f->conn);
	bson_free(f->samples);
}

/* The columns of one event as text, as a store would derive them from ecom_event. */
static void
row_fill(row *r, const ecom_event *ev)
{
	bson_iter_t it;
	int64_t cents;

	r->json = ecom_event_to_json(ev, NULL);
	if (r->json == NULL)
		die("cannot serialise event '%s'", ev->event_id);
	ecom_format_iso8601(ev->created_ms, r->created, sizeof(r->created));
	if (ev->type != ECOM_EV_ORDERCREATED)
		return;
	if (ecom_event_money_cents(ev, "orderPrice", &cents) < 0)
		die("event '%s' has no orderPrice", ev->event_id);
	ecom_format_money(cents, r->price, sizeof(r->price));
	r->fulfilled = bson_iter_init(&it, &ev->doc) &&
	                       bson_iter_find_descendant(&it, "payload.orderIsFulfilled", &it) &&
	                       BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it)
	                   ? "true"
	                   : "false";
	r->has_shipped = bson_iter_init(&it, &ev->doc) &&
	                 bson_iter_find_descendant(&it, "payload.orderShippedDate", &it) &&
	                 BSON_ITER_HOLDS_DATE_TIME(&it);
	if (r->has_shipped)
		ecom_format_iso8601(bson_iter_date_time(&it), r->shipped, sizeof(r->shipped));
}

static void
rows_free(row *rows, int n)
{
	int i;

	for (i = 0; i < n; i++)
		bson_free(rows[i].json);
}

/* The text parameters of one row, in column order; NULL for SQL NULL. */
static int
row_params(const row *r, int t, const char **params)
{
	params[0] = NULL; /* event id, filled by the caller */
	params[1] = r->created;
	params[2] = r->json;
	if (t != ECOM_EV_ORDERCREATED)
		return 3;
	params[3] = r->price;
	params[4] = r->fulfilled;
	params[5] = r->has_shipped ? r->shipped : NULL;
	return 6;
}

/* An element of a text array literal: quoted, with " and \ escaped. */
static void
append_array_element(bson_string_t *s, const char *value, bool first)
{
	const char *p;

	if (!first)
		bson_string_append_c(s, ',');
	if (value == NULL) {
		bson_string_append(s, "NULL");
		return;
	}
	bson_string_append_c(s, '"');
	for (p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			bson_string_append_c(s, '\\');
		bson_string_append_c(s, *p);
	}
	bson_string_append_c(s, '"');
}

/* A field of COPY's text format: backslash, tab, newline and CR escaped; NULL is \N. */
static void
append_copy_field(bson_string_t *s, const char *value, bool first)
{
	const char *p;

	if (!first)
		bson_string_append_c(s, '\t');
	if (value == NULL) {
		bson_string_append(s, "\\N");
		return;
	}
	for (p = value; *p; p++) {
		switch (*p) {
		case '\\': bson_string_append(s, "\\\\"); break;
		case '\t': bson_string_append(s, "\\t"); break;
		case '\n': bson_string_append(s, "\\n"); break;
		case '\r': bson_string_append(s, "\\r"); break;
		default: bson_string_append_c(s, *p);
		}
	}
}

/* Rows of a result that returned new ids. */
static int
returned_rows(PGconn *conn, PGresult *res, const char *what)
{
	int n;

	check(conn, res, PGRES_TUPLES_OK, what);
	n = PQntuples(res);
	PQclear(res);
	return n;
}

/* Write one batch of type t in form f; the number of new ids the server returned. */
static int
write_batch(form *f, int t, ecom_event *const *events, int n)
{
	static const char *params[MAX_BATCH * 6];
	row rows[MAX_BATCH];
	char name[64];
	PGresult *res;
	int i, c, cols, got = 0;

	memset(rows, 0, sizeof(rows[0]) * (size_t)n);
	for (i = 0; i < n; i++)
		row_fill(&rows[i], events[i]);
	cols = n_columns(t);

	switch (f->kind) {
	case F_JSON:
	case F_JSON_PREP: {
		bson_string_t *array = bson_string_new("[");
		const char *param;

		for (i = 0; i < n; i++) {
			if (i)
				bson_string_append_c(array, ',');
			bson_string_append(array, rows[i].json);
		}
		bson_string_append_c(array, ']');
		param = array->str;
		if (f->kind == F_JSON) {
			res = PQexecParams(f->conn, f->json_sql[t], 1, NULL, &param, NULL, NULL, 0);
		} else {
			statement_name(name, sizeof(name), "json", t, 0);
			res = PQexecPrepared(f->conn, name, 1, &param, NULL, NULL, 0);
		}
		got = returned_rows(f->conn, res, form_names[f->kind]);
		bson_string_free(array, true);
		break;
	}
	case F_VALUES:
		for (i = 0; i < n; i++) {
			row_params(&rows[i], t, &params[i * cols]);
			params[i * cols] = events[i]->event_id;
		}
		statement_name(name, sizeof(name), "values", t, n);
		res = PQexecPrepared(f->conn, name, n * cols, params, NULL, NULL, 0);
		got = returned_rows(f->conn, res, "values");
		break;
	case F_UNNEST: {
		bson_string_t *arrays[6];
		const char *one[6];

		for (c = 0; c < cols; c++)
			arrays[c] = bson_string_new("{");
		for (i = 0; i < n; i++) {
			row_params(&rows[i], t, one);
			one[0] = events[i]->event_id;
			for (c = 0; c < cols; c++)
				append_array_element(arrays[c], one[c], i == 0);
		}
		for (c = 0; c < cols; c++) {
			bson_string_append_c(arrays[c], '}');
			params[c] = arrays[c]->str;
		}
		statement_name(name, sizeof(name), "unnest", t, 0);
		res = PQexecPrepared(f->conn, name, cols, params, NULL, NULL, 0);
		got = returned_rows(f->conn, res, "unnest");
		for (c = 0; c < cols; c++)
			bson_string_free(arrays[c], true);
		break;
	}
	case F_COPY:
	case F_COPY_DELETE: {
		bson_string_t *data = bson_string_new(NULL);
		const char *one[6];
		char *sql = bson_strdup_printf("BEGIN; COPY stage (event_id, event_created_date, doc%s)"
		                               " FROM STDIN",
		                               extra_columns(t));

		for (i = 0; i < n; i++) {
			row_params(&rows[i], t, one);
			one[0] = events[i]->event_id;
			for (c = 0; c < cols; c++)
				append_copy_field(data, one[c], c == 0);
			bson_string_append_c(data, '\n');
		}
		/* Round trip 1: BEGIN and COPY's start. */
		if (PQsendQuery(f->conn, sql) != 1)
			die("copy: %s", PQerrorMessage(f->conn));
		bson_free(sql);
		res = PQgetResult(f->conn);
		check(f->conn, res, PGRES_COMMAND_OK, "begin");
		PQclear(res);
		res = PQgetResult(f->conn);
		check(f->conn, res, PGRES_COPY_IN, "copy");
		PQclear(res);
		/* Round trip 2: the rows. */
		if (PQputCopyData(f->conn, data->str, (int)data->len) != 1 ||
		    PQputCopyEnd(f->conn, NULL) != 1)
			die("copy: %s", PQerrorMessage(f->conn));
		res = PQgetResult(f->conn);
		check(f->conn, res, PGRES_COMMAND_OK, "copy end");
		PQclear(res);
		if ((res = PQgetResult(f->conn)) != NULL)
			die("copy: unexpected result");
		bson_string_free(data, true);
		/* Round trip 3: INSERT … RETURNING and COMMIT in one simple query. */
		if (PQsendQuery(f->conn, f->copy_insert_sql[t]) != 1)
			die("copy insert: %s", PQerrorMessage(f->conn));
		got = returned_rows(f->conn, PQgetResult(f->conn), "copy insert");
		while ((res = PQgetResult(f->conn)) != NULL) {
			check(f->conn, res, PGRES_COMMAND_OK, "commit");
			PQclear(res);
		}
		break;
	}
	case F_PIPELINE:
		statement_name(name, sizeof(name), "values", t, 1);
		for (i = 0; i < n; i++) {
			const char *one[6];

			row_params(&rows[i], t, one);
			one[0] = events[i]->event_id;
			if (PQsendQueryPrepared(f->conn, name, cols, one, NULL, NULL, 0) != 1)
				die("pipeline: %s", PQerrorMessage(f->conn));
		}
		if (PQpipelineSync(f->conn) != 1)
			die("pipeline sync: %s", PQerrorMessage(f->conn));
		for (i = 0; i < n; i++) {
			got += returned_rows(f->conn, PQgetResult(f->conn), "pipeline insert");
			if ((res = PQgetResult(f->conn)) != NULL)
				die("pipeline: unexpected result");
		}
		res = PQgetResult(f->conn);
		check(f->conn, res, PGRES_PIPELINE_SYNC, "pipeline sync");
		PQclear(res);
		break;
	default:
		break;
	}
	rows_free(rows, n);
	return got;
}

/* Flow events of one type for batches of n: rounds cycle ordercreated … orderfulfilled. */
typedef struct event_source {
	ecom_event events[2][MAX_BATCH];
	ecom_event *batch[MAX_BATCH];
	int current; /* which of events[] holds the batch */
	int n;
	int type; /* type of the current batch, -1 before the first */
} event_source;

static void
source_next(event_source *src)
{
	ecom_err err;
	int i, from = src->current, to = 1 - src->current;

	if (src->type < 0 || src->type == ECOM_EV_ORDERFULFILLED) {
		for (i = 0; i < src->n; i++) {
			if (src->type >= 0)
				ecom_event_destroy(&src->events[from][i]);
			if (ecom_event_new_order(&src->events[to][i], (ecom_now_us() / 1000), &err) < 0)
				die("cannot build an order: %s", err.msg);
		}
		src->type = ECOM_EV_ORDERCREATED;
	} else {
		for (i = 0; i < src->n; i++) {
			if (ecom_event_next(&src->events[from][i], &src->events[to][i], (ecom_now_us() / 1000),
			                    &err) < 0)
				die("cannot build the next event: %s", err.msg);
			ecom_event_destroy(&src->events[from][i]);
		}
		src->type++;
	}
	src->current = to;
	for (i = 0; i < src->n; i++)
		src->batch[i] = &src->events[to][i];
}

static void
source_free(event_source *src)
{
	int i;

	if (src->type >= 0)
		for (i = 0; i < src->n; i++)
			ecom_event_destroy(&src->events[src->current][i]);
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of n values, sorted in place. */
static double
quantile(double *v, int n, double q)
{
	int rank;

	qsort(v, (size_t)n, sizeof(*v), compare_doubles);
	rank = (int)(q * n + 0.999999);
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static double
sum(const double *v, int n)
{
	double s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* Distinct inserting transactions in a form's five tables: one per batch if the form keeps its word. */
static long
count_transactions(form *f)
{
	char *sql = bson_strdup_printf(
		"SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM %s.ordercreated"
		" UNION ALL SELECT xmin::text FROM %s.paymentcompleted"
		" UNION ALL SELECT xmin::text FROM %s.inventoryupdated"
		" UNION ALL SELECT xmin::text FROM %s.ordershipped"
		" UNION ALL SELECT xmin::text FROM %s.orderfulfilled) AS t",
		f->schema, f->schema, f->schema, f->schema, f->schema);
	PGresult *res;
	long n;

	leave_pipeline(f);
	res = PQexec(f->conn, sql);
	check(f->conn, res, PGRES_TUPLES_OK, "count transactions");
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	bson_free(sql);
	enter_pipeline(f);
	return n;
}

static void
truncate_tables(form *f)
{
	char *sql = bson_strdup_printf("TRUNCATE %s.ordercreated, %s.paymentcompleted,"
	                               " %s.inventoryupdated, %s.ordershipped, %s.orderfulfilled",
	                               f->schema, f->schema, f->schema, f->schema, f->schema);

	leave_pipeline(f);
	exec_ok(f->conn, sql, "truncate");
	enter_pipeline(f);
	bson_free(sql);
}

static void
run_size(form *forms, int n, int rounds)
{
	event_source src;
	double *v = bson_malloc((size_t)rounds * sizeof(*v));
	int r, k, i, written;

	memset(&src, 0, sizeof(src));
	src.n = n;
	src.type = -1;
	for (k = 0; k < F_COUNT; k++) {
		truncate_tables(&forms[k]);
		forms[k].n_samples = 0;
	}
	for (r = -WARMUP_ROUNDS; r < rounds; r++) {
		source_next(&src);
		for (i = 0; i < F_COUNT; i++) {
			form *f = &forms[((r + WARMUP_ROUNDS) + i) % F_COUNT];
			double w0, c0, s0, w1, c1, s1;

			s0 = process_cpu_ms(f->backend_pid);
			c0 = thread_cpu_ms();
			w0 = mono_ms();
			written = write_batch(f, src.type, src.batch, n);
			w1 = mono_ms();
			c1 = thread_cpu_ms();
			s1 = process_cpu_ms(f->backend_pid);
			if (written != n)
				die("%s: %d of %d events new in a batch of fresh ones", form_names[f->kind],
				    written, n);
			if (r >= 0)
				f->samples[f->n_samples++] =
					(sample){.wall_ms = w1 - w0, .server_ms = s1 - s0, .client_ms = c1 - c0};
		}
	}
	/* The last batch again: nothing is new, and RETURNING says so. */
	for (k = 0; k < F_COUNT; k++) {
		long tx;

		written = write_batch(&forms[k], src.type, src.batch, n);
		if (written != 0)
			die("%s: %d events new in a batch written before", form_names[k], written);
		tx = count_transactions(&forms[k]);
		if (tx != rounds + WARMUP_ROUNDS)
			die("%s: %ld inserting transactions for %d batches", form_names[k], tx,
			    rounds + WARMUP_ROUNDS);
	}
	source_free(&src);

	for (k = 0; k < F_COUNT; k++) {
		form *f = &forms[k];
		double wall50, wall99, srv50, srv_mean, cli50;

		for (i = 0; i < f->n_samples; i++)
			v[i] = f->samples[i].wall_ms;
		wall50 = quantile(v, f->n_samples, 0.5);
		wall99 = quantile(v, f->n_samples, 0.99);
		for (i = 0; i < f->n_samples; i++)
			v[i] = f->samples[i].server_ms;
		srv_mean = sum(v, f->n_samples) / f->n_samples;
		srv50 = quantile(v, f->n_samples, 0.5);
		for (i = 0; i < f->n_samples; i++)
			v[i] = f->samples[i].client_ms;
		cli50 = quantile(v, f->n_samples, 0.5);
		printf("| %-11s | %3d | %5d | %8.3f | %8.3f | %8.1f | %8.3f | %8.3f | %8.1f | %7.3f |\n",
		       form_names[k], n, f->n_samples, wall50, wall99, wall50 * 1000.0 / n, srv50,
		       srv_mean, srv_mean * 1000.0 / n, cli50);
	}
	fflush(stdout);
	bson_free(v);
}

/* ---- mark and counts at ROWS orders -------------------------------- */

typedef struct timed_stmt {
	const char *label;
	const char *sql;   /* unprepared, or NULL */
	const char *name;  /* prepared statement, or NULL */
	int nparams;
	double *wall, *server;
	int n;
} timed_stmt;

static PGresult *
run_timed(PGconn *conn, int pid, timed_stmt *ts, const char *const *params)
{
	double w0, s0, w1, s1;
	PGresult *res;

	s0 = process_cpu_ms(pid);
	w0 = mono_ms();
	if (ts->name)
		res = PQexecPrepared(conn, ts->name, ts->nparams, params, NULL, NULL, 0);
	else
		res = PQexecParams(conn, ts->sql, ts->nparams, NULL, params, NULL, NULL, 0);
	w1 = mono_ms();
	s1 = process_cpu_ms(pid);
	ts->wall[ts->n] = w1 - w0;
	ts->server[ts->n] = s1 - s0;
	ts->n++;
	return res;
}

static void
run_mark_and_count(const char *uri, int rows, int marks)
{
	PGconn *conn = PQconnectdb(uri);
	char name[64], *schema, *sql, *mark_sql, *count_sql, *count_f_sql;
	ecom_event *orders;
	char (*ids)[ECOM_EVENT_ID_LEN + 1];
	timed_stmt st[6];
	int pid, i, k, loaded = 0;
	ecom_err err;

	if (PQstatus(conn) != CONNECTION_OK)
		die("cannot connect: %s", PQerrorMessage(conn));
	pid = PQbackendPID(conn);
	exec_ok(conn, "SET client_min_messages = warning", "set client_min_messages");
	snprintf(name, sizeof(name), "pgwf_%d_mark", (int)getpid());
	schema = PQescapeIdentifier(conn, name, strlen(name));
	create_tables(conn, schema);

	/* ROWS unfulfilled orders, loaded in batches of 256 through unnest. */
	orders = bson_malloc0(MAX_BATCH * sizeof(*orders));
	ids = bson_malloc0((size_t)rows * sizeof(*ids));
	sql = unnest_insert_sql(schema, ECOM_EV_ORDERCREATED);
	prepare(conn, "load", sql);
	bson_free(sql);
	while (loaded < rows) {
		int n = rows - loaded < MAX_BATCH ? rows - loaded : MAX_BATCH;
		bson_string_t *arrays[6];
		const char *params[6];
		int c;

		for (c = 0; c < 6; c++)
			arrays[c] = bson_string_new("{");
		for (i = 0; i < n; i++) {
			row r = {0};

			if (ecom_event_new_order(&orders[i], (ecom_now_us() / 1000), &err) < 0)
				die("cannot build an order: %s", err.msg);
			row_fill(&r, &orders[i]);
			row_params(&r, ECOM_EV_ORDERCREATED, params);
			params[0] = orders[i].event_id;
			for (c = 0; c < 6; c++)
				append_array_element(arrays[c], params[c], i == 0);
			memcpy(ids[loaded + i], orders[i].event_id, sizeof(ids[0]));
			rows_free(&r, 1);
			ecom_event_destroy(&orders[i]);
		}
		for (c = 0; c < 6; c++) {
			bson_string_append_c(arrays[c], '}');
			params[c] = arrays[c]->str;
		}
		if (returned_rows(conn, PQexecPrepared(conn, "load", 6, params, NULL, NULL, 0),
		                  "load") != n)
			die("load: not every order was new");
		for (c = 0; c < 6; c++)
			bson_string_free(arrays[c], true);
		loaded += n;
	}
	bson_free(orders);
	sql = bson_strdup_printf("ANALYZE %s.ordercreated", schema);
	exec_ok(conn, sql, "analyze");
	bson_free(sql);

	/* mark_sql, copied from build_statements(). */
	mark_sql = bson_strdup_printf(
		"UPDATE %s.ordercreated AS o SET order_is_fulfilled = true,"
		" order_shipped_date = m.shipped::timestamptz,"
		" doc = jsonb_set(jsonb_set(o.doc, '{payload,orderIsFulfilled}', 'true'),"
		"                 '{payload,orderShippedDate}', to_jsonb(m.shipped))"
		" FROM unnest($1::uuid[], $2::text[]) AS m(id, shipped)"
		" WHERE o.event_id = m.id AND NOT o.order_is_fulfilled",
		schema);
	count_sql = bson_strdup_printf("SELECT count(*) FROM %s.ordercreated", schema);
	count_f_sql =
		bson_strdup_printf("SELECT count(*) FROM %s.ordercreated WHERE order_is_fulfilled", schema);
	prepare(conn, "mark", mark_sql);
	prepare(conn, "count", count_sql);
	prepare(conn, "count_fulfilled", count_f_sql);
	st[0] = (timed_stmt){"mark of 1 order, unprepared", mark_sql, NULL, 2, NULL, NULL, 0};
	st[1] = (timed_stmt){"mark of 1 order, prepared", NULL, "mark", 2, NULL, NULL, 0};
	st[2] = (timed_stmt){"`count(*)`, unprepared", count_sql, NULL, 0, NULL, NULL, 0};
	st[3] = (timed_stmt){"`count(*)`, prepared", NULL, "count", 0, NULL, NULL, 0};
	st[4] = (timed_stmt){"count of fulfilled, unprepared", count_f_sql, NULL, 0, NULL, NULL, 0};
	st[5] = (timed_stmt){"count of fulfilled, prepared", NULL, "count_fulfilled", 0, NULL, NULL, 0};
	for (k = 0; k < 6; k++) {
		st[k].wall = bson_malloc0((size_t)marks * sizeof(double));
		st[k].server = bson_malloc0((size_t)marks * sizeof(double));
	}
	if (2 * marks > rows)
		die("-k %d marks two orders per round: at most %d for %d rows", marks, rows / 2, rows);

	/* As the flow does: mark an order, then count both; the two mark forms take turns. */
	for (i = 0; i < marks; i++) {
		for (k = 0; k < 2; k++) {
			timed_stmt *m = &st[(i + k) % 2];
			char idarr[64], datearr[64], date[32];
			const char *params[2];
			PGresult *res;

			ecom_format_iso8601((ecom_now_us() / 1000), date, sizeof(date));
			snprintf(idarr, sizeof(idarr), "{%s}", ids[2 * i + k]);
			snprintf(datearr, sizeof(datearr), "{\"%s\"}", date);
			params[0] = idarr;
			params[1] = datearr;
			res = run_timed(conn, pid, m, params);
			check(conn, res, PGRES_COMMAND_OK, m->label);
			if (strcmp(PQcmdTuples(res), "1") != 0)
				die("%s: %s rows marked, want 1", m->label, PQcmdTuples(res));
			PQclear(res);
		}
		for (k = 2; k < 6; k++) {
			timed_stmt *c = &st[2 + (i + k) % 4];
			PGresult *res = run_timed(conn, pid, c, NULL);
			long want = strstr(c->label, "fulfilled") ? 2L * (i + 1) : rows, got;

			check(conn, res, PGRES_TUPLES_OK, c->label);
			got = strtol(PQgetvalue(res, 0, 0), NULL, 10);
			if (got != want)
				die("%s: %ld, want %ld", c->label, got, want);
			PQclear(res);
		}
	}
	printf("\n%d ordercreated rows, %d rounds (2 marks, then each count); ms\n\n", rows, marks);
	printf("| statement | wall p50 | wall p99 | server CPU p50 | server CPU mean |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (k = 0; k < 6; k++) {
		double w50, w99, s50, smean;

		smean = sum(st[k].server, st[k].n) / st[k].n;
		s50 = quantile(st[k].server, st[k].n, 0.5);
		w50 = quantile(st[k].wall, st[k].n, 0.5);
		w99 = quantile(st[k].wall, st[k].n, 0.99);
		printf("| %s | %.3f | %.3f | %.3f | %.3f |\n", st[k].label, w50, w99, s50, smean);
		bson_free(st[k].wall);
		bson_free(st[k].server);
	}
	sql = bson_strdup_printf("DROP SCHEMA %s CASCADE", schema);
	exec_ok(conn, sql, "drop the schema");
	bson_free(sql);
	bson_free(mark_sql);
	bson_free(count_sql);
	bson_free(count_f_sql);
	bson_free(ids);
	PQfreemem(schema);
	PQfinish(conn);
}

static void
usage(FILE *out)
{
	fputs("usage: pg-write-forms [-u URI] [-r ROUNDS1,ROUNDS16,ROUNDS256] [-m ROWS] [-k MARKS]\n",
	      out);
}

int
main(int argc, char **argv)
{
	const char *uri = getenv("ECOM_POSTGRES_URI");
	int rounds[N_SIZES] = {2000, 500, 100};
	int rows = 10000, marks = 500, opt, s, k, max_rounds = 0;
	form forms[F_COUNT];

	while ((opt = getopt(argc, argv, "u:r:m:k:h")) != -1) {
		switch (opt) {
		case 'u': uri = optarg; break;
		case 'r':
			if (sscanf(optarg, "%d,%d,%d", &rounds[0], &rounds[1], &rounds[2]) != 3 ||
			    rounds[0] < 1 || rounds[1] < 1 || rounds[2] < 1) {
				fprintf(stderr, "pg-write-forms: bad -r '%s'\n", optarg);
				return 2;
			}
			break;
		case 'm': rows = atoi(optarg); break;
		case 'k': marks = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (uri == NULL || *uri == '\0') {
		fprintf(stderr, "pg-write-forms: no URI: set ECOM_POSTGRES_URI or use -u\n");
		return 2;
	}
	if (rows < 2 || marks < 1) {
		fprintf(stderr, "pg-write-forms: -m needs at least 2 rows, -k at least 1 mark\n");
		return 2;
	}
	for (s = 0; s < N_SIZES; s++)
		if (rounds[s] > max_rounds)
			max_rounds = rounds[s];

	for (k = 0; k < F_COUNT; k++)
		form_open(&forms[k], (enum form_kind)k, uri, max_rounds);
	printf("Forms:\n\n");
	for (k = 0; k < F_COUNT; k++)
		printf("- `%s`: %s\n", form_names[k], form_descriptions[k]);
	printf("\nPer batch, ms (server CPU: the form's backend, /proc/PID/schedstat); "
	       "per event, µs\n\n");
	printf("| form | batch | batches | wall p50 | wall p99 | wall p50/event | server CPU p50 |"
	       " server CPU mean | server CPU/event | client CPU p50 |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	fflush(stdout);
	for (s = 0; s < N_SIZES; s++)
		run_size(forms, batch_sizes[s], rounds[s]);
	for (k = 0; k < F_COUNT; k++)
		form_close(&forms[k]);

	run_mark_and_count(uri, rows, marks);
	return fflush(stdout) == 0 ? 0 : 1;
}
