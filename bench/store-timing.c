/*
 * store-timing: the figures in doc/store-notes.md, measured on the servers
 * at $ECOM_MONGODB_URI and $ECOM_POSTGRES_URI (scripts/devstack.sh).
 *
 *   store-timing [-n DOCS] [-r RUNS] [-j]
 *
 * For each backend, in a scratch database dropped afterwards: a put_batch
 * of 1 new event, a put_batch of 1,000 new events, then, with DOCS
 * ordercreated documents (default 10,000, half of them fulfilled), count,
 * count_fulfilled, a put_batch of 1 and a mark_fulfilled of that order,
 * a put_batch of 256 events of which 128 are stored already, and a full
 * audit; on MongoDB also the count command for comparison.  Each figure is the
 * median of RUNS runs (default 7; 51 for the single upsert), in ms.
 *
 * -j measures instead what a write concern with j: true costs on the
 * MongoDB-protocol server against {w: 1} (what the store sends: nothing,
 * so the server's default, {w: 1} on a standalone mongod): one insert of
 * one new order, and an unordered bulk insert of 256, with each write
 * concern in turn, RUNS times (the writes alternate, so both see the
 * same load and collection size).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <mongoc/mongoc.h>

#include "ecom_config.h"
#include "ecom_event.h"
#include "ecom_store.h"
#include "ecom_time.h"

#define BULK 1000
#define DUP_BATCH 256

/* What became of each event of a put_batch, when only success matters. */
static ecom_put_result scratch[BULK];
#define SINGLE_RUNS 51

/* Wall-clock time in ms, for event dates. */
static int64_t
wall_ms(void)
{
	return ecom_now_us() / 1000;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *samples, int n)
{
	qsort(samples, (size_t)n, sizeof(*samples), compare_doubles);
	return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2.0;
}

static void
report(const char *store, const char *what, double *samples, int n)
{
	double lo, hi;

	qsort(samples, (size_t)n, sizeof(*samples), compare_doubles);
	lo = samples[0];
	hi = samples[n - 1];
	printf("%-10s %-34s median %9.2f ms  (min %.2f, max %.2f, %d runs)\n", store, what,
	       median(samples, n), lo, hi, n);
	fflush(stdout);
}

static void
die(const char *what, const ecom_err *err)
{
	fprintf(stderr, "store-timing: %s: %s\n", what, err->msg);
	exit(1);
}

/* n new orders, into events[0..n) and the pointer array batch. */
static void
new_orders(ecom_event *events, ecom_event **batch, int n)
{
	ecom_err err;
	int i;

	for (i = 0; i < n; i++) {
		if (ecom_event_new_order(&events[i], wall_ms(), &err) < 0)
			die("new order", &err);
		batch[i] = &events[i];
	}
}

static void
destroy_events(ecom_event *events, int n)
{
	int i;

	for (i = 0; i < n; i++)
		ecom_event_destroy(&events[i]);
}

/* ev, a new order, as it is once fulfilled. */
static void
fulfil(ecom_event *ev)
{
	bson_t doc = BSON_INITIALIZER, payload;
	bson_iter_t iter, fields;
	ecom_err err;

	bson_copy_to_excluding_noinit(&ev->doc, &doc, "payload", NULL);
	if (!bson_iter_init_find(&iter, &ev->doc, "payload") || !bson_iter_recurse(&iter, &fields))
		abort();
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "payload", &payload);
	while (bson_iter_next(&fields)) {
		const char *key = bson_iter_key(&fields);

		if (strcmp(key, "orderIsFulfilled") == 0)
			BSON_APPEND_BOOL(&payload, key, true);
		else if (strcmp(key, "orderShippedDate") == 0)
			BSON_APPEND_DATE_TIME(&payload, key, ev->created_ms + 1000);
		else
			bson_append_iter(&payload, key, -1, &fields);
	}
	bson_append_document_end(&doc, &payload);
	ecom_event_destroy(ev);
	if (ecom_event_from_bson(&doc, ev, &err) < 0)
		die("fulfilled order", &err);
	bson_destroy(&doc);
}

static double
timed_put(ecom_store *store, ecom_event **batch, int n)
{
	ecom_err err;
	double start = now_ms();

	if (ecom_store_put_batch(store, ECOM_EV_ORDERCREATED, batch, (size_t)n, scratch, &err) < 0)
		die("put_batch", &err);
	return now_ms() - start;
}

static void
drop_database(enum ecom_store_kind kind, const char *uri, const char *database)
{
	if (kind == ECOM_STORE_MONGODB) {
		mongoc_client_t *client = mongoc_client_new(uri);
		mongoc_database_t *db = mongoc_client_get_database(client, database);

		mongoc_database_drop(db, NULL);
		mongoc_database_destroy(db);
		mongoc_client_destroy(client);
	} else {
		PGconn *conn = PQconnectdb(uri);
		char sql[256];

		snprintf(sql, sizeof(sql), "SET client_min_messages = warning;"
		                           "DROP SCHEMA IF EXISTS \"%s\" CASCADE",
		         database);
		PQclear(PQexec(conn, sql));
		PQfinish(conn);
	}
}

/* MongoDB's count command (what a server may answer from metadata), for comparison. */
static double
timed_count_command(const char *uri, const char *database, bool fulfilled, int64_t *n)
{
	mongoc_client_t *client = mongoc_client_new(uri);
	mongoc_database_t *db = mongoc_client_get_database(client, database);
	bson_t *cmd;
	bson_t reply;
	bson_error_t error;
	bson_iter_t iter;
	double start, took;

	if (fulfilled)
		cmd = BCON_NEW("count", BCON_UTF8("ordercreated"), "query", "{",
		               "payload.orderIsFulfilled", BCON_BOOL(true), "}");
	else
		cmd = BCON_NEW("count", BCON_UTF8("ordercreated"));
	/* The first command connects: not part of the figure. */
	mongoc_database_command_simple(db, cmd, NULL, NULL, NULL);
	start = now_ms();
	if (!mongoc_database_command_simple(db, cmd, NULL, &reply, &error)) {
		fprintf(stderr, "store-timing: count command: %s\n", error.message);
		exit(1);
	}
	took = now_ms() - start;
	*n = bson_iter_init_find(&iter, &reply, "n") ? bson_iter_as_int64(&iter) : -1;
	bson_destroy(&reply);
	bson_destroy(cmd);
	mongoc_database_destroy(db);
	mongoc_client_destroy(client);
	return took;
}

static void
measure(enum ecom_store_kind kind, const char *uri, int docs, int runs)
{
	const char *name = kind == ECOM_STORE_MONGODB ? "mongodb" : "postgresql";
	ecom_event *events = calloc(BULK, sizeof(*events));
	ecom_event **batch = calloc(BULK, sizeof(*batch));
	double *samples = calloc((size_t)(runs > SINGLE_RUNS ? runs : SINGLE_RUNS), sizeof(double));
	double *put_samples = calloc((size_t)runs, sizeof(double));
	char database[64], timeout[16], label[64];
	ecom_config cfg;
	ecom_store *store;
	ecom_err err;
	int64_t n, stored = 0;
	int i, r;

	snprintf(database, sizeof(database), "t_timing_%ld_%ld", (long)getpid(), (long)time(NULL));
	snprintf(timeout, sizeof(timeout), "%d", 10000);
	ecom_config_init(&cfg);
	if (ecom_config_set(&cfg, kind == ECOM_STORE_MONGODB ? "mongodb_uri" : "postgres_uri", uri,
	                    &err) < 0 ||
	    ecom_config_set(&cfg, "store", name, &err) < 0 ||
	    ecom_config_set(&cfg, "database", database, &err) < 0 ||
	    ecom_config_set(&cfg, "timeout_ms", timeout, &err) < 0)
		die("config", &err);
	if (ecom_store_open(&store, &cfg, &err) < 0)
		die("open", &err);

	/* One new event per put_batch. */
	for (r = 0; r < SINGLE_RUNS; r++) {
		new_orders(events, batch, 1);
		samples[r] = timed_put(store, batch, 1);
		destroy_events(events, 1);
	}
	stored += SINGLE_RUNS;
	report(name, "put_batch of 1 new event", samples, SINGLE_RUNS);

	/* 1,000 new events per put_batch; the collection grows by as many each run. */
	for (r = 0; r < runs; r++) {
		new_orders(events, batch, BULK);
		samples[r] = timed_put(store, batch, BULK);
		destroy_events(events, BULK);
	}
	stored += (int64_t)runs * BULK;
	report(name, "put_batch of 1,000 new events", samples, runs);

	/*
	 * Exactly `docs` ordercreated documents, every other one stored
	 * fulfilled already (marking them one by one would take long on
	 * FerretDB, and is measured below).
	 */
	if (ecom_store_reset(store, &err) < 0)
		die("reset", &err);
	for (stored = 0; stored < docs; stored += BULK) {
		int chunk = docs - stored < BULK ? (int)(docs - stored) : BULK;

		new_orders(events, batch, chunk);
		for (i = 0; i < chunk; i += 2)
			fulfil(&events[i]);
		if (ecom_store_put_batch(store, ECOM_EV_ORDERCREATED, batch, (size_t)chunk, scratch, &err) < 0)
			die("put_batch", &err);
		destroy_events(events, chunk);
	}
	for (r = 0; r < runs; r++) {
		double start = now_ms();

		if (ecom_store_count(store, ECOM_EV_ORDERCREATED, &n, &err) < 0)
			die("count", &err);
		samples[r] = now_ms() - start;
	}
	if (n != docs)
		fprintf(stderr, "store-timing: count says %lld, not %d\n", (long long)n, docs);
	report(name, "count (ordercreated)", samples, runs);
	for (r = 0; r < runs; r++) {
		double start = now_ms();

		if (ecom_store_count_fulfilled(store, &n, &err) < 0)
			die("count_fulfilled", &err);
		samples[r] = now_ms() - start;
	}
	report(name, "count_fulfilled", samples, runs);
	if (kind == ECOM_STORE_MONGODB) {
		for (r = 0; r < runs; r++)
			samples[r] = timed_count_command(uri, database, false, &n);
		report(name, "count command, no query", samples, runs);
		for (r = 0; r < runs; r++)
			samples[r] = timed_count_command(uri, database, true, &n);
		report(name, "count command, orderIsFulfilled", samples, runs);
	}
	/* One order, put then marked: the reconcile stage's write per order. */
	for (r = 0; r < runs; r++) {
		const char *id;
		int64_t shipped = wall_ms(), marked = 0;
		double start;

		new_orders(events, batch, 1);
		put_samples[r] = timed_put(store, batch, 1);
		id = events[0].event_id;
		start = now_ms();
		if (ecom_store_mark_fulfilled(store, &id, &shipped, 1, &marked, &err) < 0)
			die("mark_fulfilled", &err);
		samples[r] = now_ms() - start;
		if (marked != 1)
			fprintf(stderr, "store-timing: marked %lld, not 1\n", (long long)marked);
		destroy_events(events, 1);
	}
	report(name, "mark_fulfilled of 1 order", samples, runs);
	snprintf(label, sizeof(label), "put_batch of 1 new event at %d", docs);
	report(name, label, put_samples, runs);
	/*
	 * An unordered bulk insert where half the events are stored already:
	 * what a stage does with a batch the broker delivers again.
	 */
	for (r = 0; r < runs; r++) {
		ecom_put_result results[DUP_BATCH];
		double start;

		new_orders(events, batch, DUP_BATCH);
		if (ecom_store_put_batch(store, ECOM_EV_ORDERCREATED, batch, DUP_BATCH / 2, scratch,
		                         &err) < 0)
			die("put_batch", &err);
		start = now_ms();
		if (ecom_store_put_batch(store, ECOM_EV_ORDERCREATED, batch, DUP_BATCH, results, &err) < 0)
			die("put_batch with duplicates", &err);
		samples[r] = now_ms() - start;
		for (i = 0; i < DUP_BATCH; i++) {
			if ((results[i].status == ECOM_PUT_NEW) != (i >= DUP_BATCH / 2))
				fprintf(stderr, "store-timing: event %d of the batch: status %d\n", i,
				        (int)results[i].status);
		}
		destroy_events(events, DUP_BATCH);
	}
	snprintf(label, sizeof(label), "put_batch of %d, %d stored, at %d", DUP_BATCH, DUP_BATCH / 2,
	         docs);
	report(name, label, samples, runs);
	for (r = 0; r < runs; r++) {
		bson_t audit = BSON_INITIALIZER;
		bool ok;
		double start = now_ms();

		if (ecom_store_audit(store, &audit, &ok, &err) < 0)
			die("audit", &err);
		samples[r] = now_ms() - start;
		bson_destroy(&audit);
	}
	report(name, "audit (ordercreated only)", samples, runs);

	ecom_store_close(store);
	drop_database(kind, uri, database);
	ecom_config_free(&cfg);
	free(put_samples);
	free(samples);
	free(batch);
	free(events);
}

/* One insert of n new orders, unordered, with write concern wc; its time in ms. */
static double
timed_insert(mongoc_collection_t *coll, int n, const bson_t *wc_opts)
{
	ecom_event *events = calloc((size_t)n, sizeof(*events));
	ecom_event **batch = calloc((size_t)n, sizeof(*batch));
	mongoc_bulk_operation_t *bulk;
	bson_t opts = BSON_INITIALIZER, reply;
	bson_error_t error;
	ecom_err err;
	double start;
	int i;

	new_orders(events, batch, n);
	bson_concat(&opts, wc_opts);
	BSON_APPEND_BOOL(&opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
	for (i = 0; i < n; i++) {
		bson_t doc = BSON_INITIALIZER;

		BSON_APPEND_UTF8(&doc, "_id", events[i].event_id);
		bson_concat(&doc, &events[i].doc);
		mongoc_bulk_operation_insert_with_opts(bulk, &doc, NULL, NULL);
		bson_destroy(&doc);
	}
	start = now_ms();
	if (mongoc_bulk_operation_execute(bulk, &reply, &error) == 0) {
		snprintf(err.msg, sizeof(err.msg), "%s", error.message);
		die("insert", &err);
	}
	start = now_ms() - start;
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&opts);
	destroy_events(events, n);
	free(batch);
	free(events);
	return start;
}

static void
measure_write_concern(const char *uri, int runs)
{
	static const int sizes[] = {1, 256};
	mongoc_client_t *client = mongoc_client_new(uri);
	mongoc_collection_t *coll;
	bson_t *w1 = BCON_NEW("writeConcern", "{", "w", BCON_INT32(1), "}");
	bson_t *j = BCON_NEW("writeConcern", "{", "w", BCON_INT32(1), "j", BCON_BOOL(true), "}");
	double *s_w1 = calloc((size_t)runs, sizeof(double));
	double *s_j = calloc((size_t)runs, sizeof(double));
	char database[64], label[64];
	size_t k;
	int r;

	snprintf(database, sizeof(database), "t_wc_%ld_%ld", (long)getpid(), (long)time(NULL));
	coll = mongoc_client_get_collection(client, database, "ordercreated");
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (r = 0; r < runs; r++) {
			s_w1[r] = timed_insert(coll, sizes[k], w1);
			s_j[r] = timed_insert(coll, sizes[k], j);
		}
		snprintf(label, sizeof(label), "insert of %d, {w: 1}", sizes[k]);
		report("mongodb", label, s_w1, runs);
		snprintf(label, sizeof(label), "insert of %d, {w: 1, j: true}", sizes[k]);
		report("mongodb", label, s_j, runs);
	}
	mongoc_collection_destroy(coll);
	drop_database(ECOM_STORE_MONGODB, uri, database);
	mongoc_client_destroy(client);
	bson_destroy(w1);
	bson_destroy(j);
	free(s_w1);
	free(s_j);
}

int
main(int argc, char **argv)
{
	const char *mongodb_uri = getenv("ECOM_MONGODB_URI");
	const char *postgres_uri = getenv("ECOM_POSTGRES_URI");
	int docs = 10000, runs = 7, c;
	bool write_concern = false;

	ecom_log_init(argv[0]);
	mongoc_init();
	while ((c = getopt(argc, argv, "n:r:j")) != -1) {
		switch (c) {
		case 'j':
			write_concern = true;
			break;
		case 'n':
			docs = atoi(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: store-timing [-n DOCS] [-r RUNS] [-j]\n");
			return 2;
		}
	}
	if (write_concern) {
		if (mongodb_uri == NULL || *mongodb_uri == '\0') {
			fprintf(stderr, "store-timing: -j needs ECOM_MONGODB_URI\n");
			return 2;
		}
		measure_write_concern(mongodb_uri, runs);
		return 0;
	}
	if (docs < 1 || runs < 1 || optind != argc) {
		fprintf(stderr, "usage: store-timing [-n DOCS] [-r RUNS]\n");
		return 2;
	}
	if ((mongodb_uri == NULL || *mongodb_uri == '\0') &&
	    (postgres_uri == NULL || *postgres_uri == '\0')) {
		fprintf(stderr, "store-timing: set ECOM_MONGODB_URI and/or ECOM_POSTGRES_URI: "
		                "eval \"$(scripts/devstack.sh up)\"\n");
		return 2;
	}
	if (mongodb_uri != NULL && *mongodb_uri != '\0')
		measure(ECOM_STORE_MONGODB, mongodb_uri, docs, runs);
	if (postgres_uri != NULL && *postgres_uri != '\0')
		measure(ECOM_STORE_POSTGRESQL, postgres_uri, docs, runs);
	return 0;
}
