/*
 * mongo-write-forms: what each way of writing flow events to a
 * MongoDB-protocol server costs, for doc/store-notes.md ("MongoDB-protocol
 * write forms").
 *
 *   mongo-write-forms [-u URI] [-p SERVER_PID] [-r ROUNDS1,ROUNDS16,ROUNDS256]
 *                     [-k REPS_SMALL,REPS_LARGE] [-m ROWS] [-w WARMUP]
 *
 * URI defaults to $ECOM_MONGODB_URI (scripts/devstack.sh).  The events
 * come from libecomutil (ecom_event_new_order, ecom_event_next) and are
 * written as the store writes them: the store form with _id = eventId,
 * into five collections with the store's unique index eventId_1, one
 * database per form, dropped at the end.  Forms, each with write concern
 * {w: 1} and {w: 1, j: true}:
 *
 *   insert_one   mongoc_collection_insert_one, batch of 1 only
 *   bulk         an unordered bulk insert (the store's put_batch), batches
 *                of 1, 16 and 256
 *
 * Forms run interleaved (a block of batches each per round, a different
 * form first every round), after WARMUP rounds (default 100) that are not
 * counted: a JVM server compiles its hot paths meanwhile.  With -p, the server's CPU time (the sum of
 * /proc/PID/task/TID/schedstat over its threads, read at block edges) is
 * charged to the block's form.
 *
 * Then, on an ordercreated collection of 10 and of ROWS (default 10,000)
 * documents: the store's mark (update, filter {_id, payload.orderIsFulfilled:
 * false}), the same update by {_id} alone, a find by _id,
 * count_documents({}) and count_documents({payload.orderIsFulfilled:
 * true}) and estimated_document_count (the count command without a
 * query), REPS_SMALL (default 200) and REPS_LARGE (default 10) times,
 * after 20 and 2 untimed rounds; a marked order is unmarked again,
 * untimed, before the next round.
 *
 * Output: Markdown tables on stdout.  Exit 0, or 1 on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "ecom_time.h"
#include "ecom_event.h"

#define MAX_BATCH 256

enum form_kind { F_ONE_W1, F_ONE_J, F_BULK_W1, F_BULK_J, F_COUNT };
static int warmup_rounds = 100;

static const char *const form_names[F_COUNT] = {"insert_one {w:1}", "insert_one {w:1,j:true}",
                                                "bulk {w:1}", "bulk {w:1,j:true}"};

typedef struct form {
	enum form_kind kind;
	mongoc_client_t *client;
	char dbname[64];
	mongoc_database_t *db;
	mongoc_collection_t *coll[ECOM_EV_COUNT];
	mongoc_write_concern_t *wc;
	double *wall, *client_cpu;
	int n;
	double server_ms;
	int batches_measured;
} form;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("mongo-write-forms: ", stderr);
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

/* CPU time of all threads of pid so far, ms (schedstat, ns); 0 without a pid. */
static double
server_cpu_ms(int pid)
{
	char path[320];
	DIR *dir;
	struct dirent *de;
	unsigned long long total = 0;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (dir == NULL)
		die("cannot read '%s': %s", path, strerror(errno));
	while ((de = readdir(dir)) != NULL) {
		FILE *f;
		unsigned long long ns;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", pid, de->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue; /* the thread ended */
		if (fscanf(f, "%llu", &ns) == 1)
			total += ns;
		fclose(f);
	}
	closedir(dir);
	return (double)total / 1e6;
}

static void
command_ok(mongoc_database_t *db, bson_t *cmd, const char *what)
{
	bson_error_t error;

	if (!mongoc_database_command_simple(db, cmd, NULL, NULL, &error))
		die("%s: %s", what, error.message);
	bson_destroy(cmd);
}

static void
create_collections(mongoc_database_t *db)
{
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++)
		command_ok(db,
		           BCON_NEW("createIndexes", BCON_UTF8(ecom_event_type_name((ecom_event_type)t)),
		                    "indexes", "[", "{", "key", "{", "eventId", BCON_INT32(1), "}", "name",
		                    BCON_UTF8("eventId_1"), "unique", BCON_BOOL(true), "}", "]"),
		           "createIndexes");
}

static mongoc_client_t *
client_new(const char *uri_text)
{
	bson_error_t error;
	mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_text, &error);
	mongoc_client_t *client;

	if (uri == NULL)
		die("bad URI: %s", error.message);
	client = mongoc_client_new_from_uri_with_error(uri, &error);
	if (client == NULL)
		die("cannot make a client: %s", error.message);
	mongoc_client_set_appname(client, "mongo-write-forms");
	mongoc_uri_destroy(uri);
	return client;
}

static void
form_open(form *f, enum form_kind kind, const char *uri, int max_samples)
{
	int t;

	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->client = client_new(uri);
	snprintf(f->dbname, sizeof(f->dbname), "mwf_%d_%d", (int)getpid(), (int)kind);
	f->db = mongoc_client_get_database(f->client, f->dbname);
	if (!mongoc_database_drop(f->db, NULL)) {
		/* absent: fine */
	}
	create_collections(f->db);
	for (t = 0; t < ECOM_EV_COUNT; t++)
		f->coll[t] = mongoc_database_get_collection(f->db, ecom_event_type_name((ecom_event_type)t));
	f->wc = mongoc_write_concern_new();
	mongoc_write_concern_set_w(f->wc, 1);
	if (kind == F_ONE_J || kind == F_BULK_J)
		mongoc_write_concern_set_journal(f->wc, true);
	f->wall = bson_malloc0((size_t)max_samples * sizeof(double));
	f->client_cpu = bson_malloc0((size_t)max_samples * sizeof(double));
}

static void
form_close(form *f)
{
	bson_error_t error;
	int t;

	if (!mongoc_database_drop(f->db, &error))
		die("cannot drop '%s': %s", f->dbname, error.message);
	for (t = 0; t < ECOM_EV_COUNT; t++)
		mongoc_collection_destroy(f->coll[t]);
	mongoc_database_destroy(f->db);
	mongoc_write_concern_destroy(f->wc);
	mongoc_client_destroy(f->client);
	bson_free(f->wall);
	bson_free(f->client_cpu);
}

static void
document_of(const ecom_event *ev, bson_t *doc)
{
	bson_init(doc);
	BSON_APPEND_UTF8(doc, "_id", ev->event_id);
	bson_concat(doc, &ev->doc);
}

static int64_t
reply_int(const bson_t *reply, const char *key)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it))
		return bson_iter_as_int64(&it);
	return -1;
}

/* Write errors in a bulk reply, all of them duplicate keys (else exit). */
static int
duplicate_keys(const bson_t *reply)
{
	bson_iter_t it, errors;
	int n = 0;

	if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &errors))
		return 0;
	while (bson_iter_next(&errors)) {
		bson_iter_t code;

		if (!BSON_ITER_HOLDS_DOCUMENT(&errors) || !bson_iter_recurse(&errors, &code) ||
		    !bson_iter_find(&code, "code") || bson_iter_as_int64(&code) != 11000)
			die("bulk: a write error that is not a duplicate key");
		n++;
	}
	return n;
}

/* Write one batch; the number of documents the server says it inserted. */
static int64_t
write_batch(form *f, int t, ecom_event *const *events, int n)
{
	bson_error_t error;
	bson_t reply, opts = BSON_INITIALIZER;
	int64_t inserted;
	int i;

	mongoc_write_concern_append(f->wc, &opts);
	if (f->kind == F_ONE_W1 || f->kind == F_ONE_J) {
		bson_t doc;

		if (n != 1)
			die("insert_one writes batches of 1");
		document_of(events[0], &doc);
		/* insertedCount is 1 on a duplicate too on mongo-java-server 1.47.0: the error counts */
		if (!mongoc_collection_insert_one(f->coll[t], &doc, &opts, &reply, &error)) {
			if (error.code != 11000)
				die("insert_one: %s", error.message);
			inserted = 0;
		} else {
			inserted = 1;
		}
		bson_destroy(&doc);
	} else {
		mongoc_bulk_operation_t *bulk;

		BSON_APPEND_BOOL(&opts, "ordered", false);
		bulk = mongoc_collection_create_bulk_operation_with_opts(f->coll[t], &opts);
		for (i = 0; i < n; i++) {
			bson_t doc;

			document_of(events[i], &doc);
			if (!mongoc_bulk_operation_insert_with_opts(bulk, &doc, NULL, &error))
				die("bulk insert: %s", error.message);
			bson_destroy(&doc);
		}
		/*
		 * New documents are those without a duplicate-key write error, as
		 * the store counts them: mongo-java-server 1.47.0 puts every
		 * document of the insert in n (so in nInserted), duplicates too.
		 */
		if (mongoc_bulk_operation_execute(bulk, &reply, &error) == 0 &&
		    error.code != 11000)
			die("bulk: %s", error.message);
		inserted = n - duplicate_keys(&reply);
		mongoc_bulk_operation_destroy(bulk);
	}
	bson_destroy(&reply);
	bson_destroy(&opts);
	return inserted;
}

/* Flow events of one type for batches of n (as in pg-write-forms.c). */
typedef struct event_source {
	ecom_event events[2][MAX_BATCH];
	ecom_event *batch[MAX_BATCH];
	int current;
	int n;
	int type;
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

static void
run_size(form **forms, int nforms, int n, int rounds, int block, int server_pid)
{
	event_source *src = bson_malloc0((size_t)nforms * sizeof(*src));
	int r, i, b, k;

	for (k = 0; k < nforms; k++) {
		src[k].n = n;
		src[k].type = -1;
		forms[k]->n = 0;
		forms[k]->server_ms = 0;
		forms[k]->batches_measured = 0;
	}
	/* Each form writes its own events (same shapes), a block of batches per turn. */
	for (r = -warmup_rounds; r < rounds; r += block) {
		for (i = 0; i < nforms; i++) {
			int which = ((r + warmup_rounds) / block + i) % nforms;
			form *f = forms[which];
			double s0 = server_cpu_ms(server_pid), s1;

			for (b = 0; b < block; b++) {
				double w0, c0, w1, c1;
				int64_t got;

				source_next(&src[which]);
				c0 = thread_cpu_ms();
				w0 = mono_ms();
				got = write_batch(f, src[which].type, src[which].batch, n);
				w1 = mono_ms();
				c1 = thread_cpu_ms();
				if (got != n)
					die("%s: %lld of %d inserted", form_names[f->kind], (long long)got, n);
				if (r >= 0) {
					f->wall[f->n] = w1 - w0;
					f->client_cpu[f->n] = c1 - c0;
					f->n++;
				}
			}
			s1 = server_cpu_ms(server_pid);
			if (r >= 0) {
				f->server_ms += s1 - s0;
				f->batches_measured += block;
			}
		}
	}
	for (k = 0; k < nforms; k++) {
		form *f = forms[k];
		double w50, w99, c50;

		/* the last batch again: nothing is new */
		if (write_batch(f, src[k].type, src[k].batch, n) != 0)
			die("%s: a batch written before was inserted again", form_names[f->kind]);
		source_free(&src[k]);
		w50 = quantile(f->wall, f->n, 0.5);
		w99 = quantile(f->wall, f->n, 0.99);
		c50 = quantile(f->client_cpu, f->n, 0.5);
		if (server_pid > 0)
			printf("| %s | %d | %d | %.3f | %.3f | %.1f | %.3f | %.1f | %.3f |\n",
			       form_names[f->kind], n, f->n, w50, w99, w50 * 1000.0 / n,
			       f->server_ms / f->batches_measured,
			       f->server_ms / f->batches_measured * 1000.0 / n, c50);
		else
			printf("| %s | %d | %d | %.3f | %.3f | %.1f | – | – | %.3f |\n",
			       form_names[f->kind], n, f->n, w50, w99, w50 * 1000.0 / n, c50);
	}
	fflush(stdout);
	bson_free(src);
}

/* ---- mark and counts ------------------------------------------------ */

enum op_kind {
	OP_MARK,
	OP_MARK_ID,
	OP_FIND_ID,
	OP_COUNT,
	OP_COUNT_FULFILLED,
	OP_ESTIMATED,
	OP_COUNT_OF
};
static const char *const op_names[OP_COUNT_OF] = {
	"mark: update {_id, payload.orderIsFulfilled: false}",
	"update by {_id} alone",
	"find by {_id}",
	"count_documents({})",
	"count_documents({payload.orderIsFulfilled: true})",
	"estimated_document_count (count command, no query)",
};

static void
run_mark_and_count(const char *uri, int rows, int reps, int warm, int server_pid)
{
	mongoc_client_t *client = client_new(uri);
	mongoc_database_t *db;
	mongoc_collection_t *coll;
	char dbname[64];
	char (*ids)[ECOM_EVENT_ID_LEN + 1];
	double *wall[OP_COUNT_OF], server[OP_COUNT_OF] = {0};
	int loaded = 0, i, k;
	bson_error_t error;

	snprintf(dbname, sizeof(dbname), "mwf_%d_mark", (int)getpid());
	db = mongoc_client_get_database(client, dbname);
	mongoc_database_drop(db, NULL);
	create_collections(db);
	coll = mongoc_database_get_collection(db, "ordercreated");
	ids = bson_malloc0((size_t)rows * sizeof(*ids));
	while (loaded < rows) {
		int n = rows - loaded < MAX_BATCH ? rows - loaded : MAX_BATCH;
		bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
		mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, opts);
		bson_t reply;

		for (i = 0; i < n; i++) {
			ecom_event ev;
			ecom_err err;
			bson_t doc;

			if (ecom_event_new_order(&ev, (ecom_now_us() / 1000), &err) < 0)
				die("cannot build an order: %s", err.msg);
			document_of(&ev, &doc);
			mongoc_bulk_operation_insert_with_opts(bulk, &doc, NULL, NULL);
			memcpy(ids[loaded + i], ev.event_id, sizeof(ids[0]));
			bson_destroy(&doc);
			ecom_event_destroy(&ev);
		}
		if (!mongoc_bulk_operation_execute(bulk, &reply, &error))
			die("load: %s", error.message);
		bson_destroy(&reply);
		mongoc_bulk_operation_destroy(bulk);
		bson_destroy(opts);
		loaded += n;
	}
	for (k = 0; k < OP_COUNT_OF; k++)
		wall[k] = bson_malloc0((size_t)reps * sizeof(double));

	for (i = -warm; i < reps; i++) {
		const char *id = ids[(size_t)(i + warm) * 7919 % (size_t)rows];

		for (k = 0; k < OP_COUNT_OF; k++) {
			int op = (i + warm + k) % OP_COUNT_OF;
			bson_t *filter = NULL, *update = NULL, reply;
			double w0, s0, w1, s1;
			int64_t got = -1, want = 1;
			bool ok = true;

			switch (op) {
			case OP_MARK:
				filter = BCON_NEW("_id", BCON_UTF8(id), "payload.orderIsFulfilled",
				                  BCON_BOOL(false));
				break;
			case OP_MARK_ID:
			case OP_FIND_ID: filter = BCON_NEW("_id", BCON_UTF8(id)); break;
			case OP_COUNT:
			case OP_ESTIMATED: filter = bson_new(); want = rows; break;
			case OP_COUNT_FULFILLED:
				filter = BCON_NEW("payload.orderIsFulfilled", BCON_BOOL(true));
				want = 0;
				break;
			default: break;
			}
			if (op == OP_MARK || op == OP_MARK_ID)
				update = BCON_NEW("$set", "{", "payload.orderIsFulfilled", BCON_BOOL(true),
				                  "payload.orderShippedDate", BCON_DATE_TIME((ecom_now_us() / 1000)), "}");
			s0 = server_cpu_ms(server_pid);
			w0 = mono_ms();
			if (update != NULL) {
				ok = mongoc_collection_update_many(coll, filter, update, NULL, &reply, &error);
				if (ok)
					got = reply_int(&reply, "modifiedCount");
				bson_destroy(&reply);
			} else if (op == OP_FIND_ID) {
				mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
				const bson_t *doc;

				got = 0;
				while (mongoc_cursor_next(cur, &doc))
					got++;
				ok = !mongoc_cursor_error(cur, &error);
				mongoc_cursor_destroy(cur);
			} else if (op == OP_ESTIMATED) {
				got = mongoc_collection_estimated_document_count(coll, NULL, NULL, NULL, &error);
				ok = got >= 0;
			} else {
				got = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &error);
				ok = got >= 0;
			}
			w1 = mono_ms();
			s1 = server_cpu_ms(server_pid);
			if (!ok)
				die("%s: %s", op_names[op], error.message);
			if (got != want)
				die("%s: %lld, want %lld", op_names[op], (long long)got, (long long)want);
			if (i >= 0) {
				wall[op][i] = w1 - w0;
				server[op] += s1 - s0;
			}
			/* unmark, untimed, so every round marks an unmarked order */
			if (update != NULL) {
				bson_t *unmark = BCON_NEW("$set", "{", "payload.orderIsFulfilled",
				                          BCON_BOOL(false), "payload.orderShippedDate",
				                          BCON_NULL, "}");
				bson_t *by_id = BCON_NEW("_id", BCON_UTF8(id));

				if (!mongoc_collection_update_many(coll, by_id, unmark, NULL, NULL, &error))
					die("unmark: %s", error.message);
				bson_destroy(unmark);
				bson_destroy(by_id);
				bson_destroy(update);
			}
			bson_destroy(filter);
		}
	}
	for (k = 0; k < OP_COUNT_OF; k++) {
		double w50 = quantile(wall[k], reps, 0.5), w99 = quantile(wall[k], reps, 0.99);

		if (server_pid > 0)
			printf("| %d | %s | %d | %.3f | %.3f | %.3f |\n", rows, op_names[k], reps, w50, w99,
			       server[k] / reps);
		else
			printf("| %d | %s | %d | %.3f | %.3f | – |\n", rows, op_names[k], reps, w50, w99);
		bson_free(wall[k]);
	}
	fflush(stdout);
	if (!mongoc_database_drop(db, &error))
		die("cannot drop '%s': %s", dbname, error.message);
	bson_free(ids);
	mongoc_collection_destroy(coll);
	mongoc_database_destroy(db);
	mongoc_client_destroy(client);
}

/* "FerretDB v1.24.2" or "MongoDB 3.6.0" (mongo-java-server reports a MongoDB version). */
static void
print_server(const char *uri)
{
	mongoc_client_t *client = client_new(uri);
	bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
	bson_t reply;
	bson_iter_t it;
	bson_error_t error;

	if (!mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &error))
		die("buildInfo: %s", error.message);
	printf("Server: buildInfo version %s",
	       bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it)
	           ? bson_iter_utf8(&it, NULL)
	           : "?");
	if (bson_iter_init_find(&it, &reply, "ferretdbVersion") && BSON_ITER_HOLDS_UTF8(&it))
		printf(", ferretdbVersion %s", bson_iter_utf8(&it, NULL));
	printf("\n\n");
	bson_destroy(&reply);
	bson_destroy(cmd);
	mongoc_client_destroy(client);
}

/* The driver's warnings, but not the one FerretDB causes at every client close (no endSessions). */
static void
driver_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
	(void)data;
	if (level <= MONGOC_LOG_LEVEL_WARNING && strstr(message, "endSessions") == NULL)
		fprintf(stderr, "mongo-write-forms: %s: %s\n", domain, message);
}

static void
usage(FILE *out)
{
	fputs("usage: mongo-write-forms [-u URI] [-p SERVER_PID] [-r ROUNDS1,ROUNDS16,ROUNDS256]\n"
	      "                         [-k REPS_SMALL,REPS_LARGE] [-m ROWS] [-w WARMUP]\n",
	      out);
}

int
main(int argc, char **argv)
{
	const char *uri = getenv("ECOM_MONGODB_URI");
	int rounds[3] = {2000, 500, 100}, reps[2] = {200, 10};
	int rows = 10000, server_pid = 0, opt, k, max_rounds;
	form forms[F_COUNT];
	form *all[F_COUNT], *bulks[2];

	while ((opt = getopt(argc, argv, "u:p:r:k:m:w:h")) != -1) {
		switch (opt) {
		case 'u': uri = optarg; break;
		case 'p': server_pid = atoi(optarg); break;
		case 'r':
			if (sscanf(optarg, "%d,%d,%d", &rounds[0], &rounds[1], &rounds[2]) != 3 ||
			    rounds[0] < 1 || rounds[1] < 1 || rounds[2] < 1) {
				fprintf(stderr, "mongo-write-forms: bad -r '%s'\n", optarg);
				return 2;
			}
			break;
		case 'k':
			if (sscanf(optarg, "%d,%d", &reps[0], &reps[1]) != 2 || reps[0] < 1 || reps[1] < 1) {
				fprintf(stderr, "mongo-write-forms: bad -k '%s'\n", optarg);
				return 2;
			}
			break;
		case 'm': rows = atoi(optarg); break;
		case 'w': warmup_rounds = atoi(optarg) < 0 ? 0 : atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (uri == NULL || *uri == '\0') {
		fprintf(stderr, "mongo-write-forms: no URI: set ECOM_MONGODB_URI or use -u\n");
		return 2;
	}
	if (rows < 10) {
		fprintf(stderr, "mongo-write-forms: -m needs at least 10 rows\n");
		return 2;
	}
	mongoc_init();
	mongoc_log_set_handler(driver_log, NULL);
	print_server(uri);
	max_rounds = rounds[0] > rounds[1] ? rounds[0] : rounds[1];
	max_rounds = max_rounds > rounds[2] ? max_rounds : rounds[2];
	for (k = 0; k < F_COUNT; k++) {
		form_open(&forms[k], (enum form_kind)k, uri, max_rounds + MAX_BATCH);
		all[k] = &forms[k];
	}
	bulks[0] = &forms[F_BULK_W1];
	bulks[1] = &forms[F_BULK_J];
	printf("Per batch, ms; per event, µs; server CPU: %s\n\n",
	       server_pid > 0 ? "all its threads, charged per block of batches" : "not measured (no -p)");
	printf("| form | batch | batches | wall p50 | wall p99 | wall p50/event | server CPU mean |"
	       " server CPU/event | client CPU p50 |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	fflush(stdout);
	run_size(all, F_COUNT, 1, rounds[0], 10, server_pid);
	run_size(bulks, 2, 16, rounds[1], 5, server_pid);
	run_size(bulks, 2, 256, rounds[2], 1, server_pid);
	for (k = 0; k < F_COUNT; k++)
		form_close(&forms[k]);

	printf("\nMark and counts, ms (server CPU: mean)\n\n");
	printf("| documents | operation | runs | wall p50 | wall p99 | server CPU |\n");
	printf("|---:|---|---:|---:|---:|---:|\n");
	run_mark_and_count(uri, 10, reps[0], 20, server_pid);
	run_mark_and_count(uri, rows, reps[1], 2, server_pid);
	mongoc_cleanup();
	return fflush(stdout) == 0 ? 0 : 1;
}
