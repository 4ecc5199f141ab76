/*
 * The MongoDB store (mongo-c-driver 1.23): database cfg->database, one
 * collection per event type with a unique index on eventId.  Works against
 * mongod, mongo-java-server and FerretDB alike: only plain commands and
 * operators all three implement, no transactions or retryable writes.
 * What one server needs beyond that is a detour named for it
 * (mongo_java_server, ferretdb_1) and listed in doc/comparison.md.
 *
 * A document is the event in store form with _id = eventId.  A batch is
 * one unordered bulk insert, and a duplicate-key error on an event means
 * it was already there: the same "first write wins" as an upsert with
 * $setOnInsert, and the same as PostgreSQL's ON CONFLICT DO NOTHING, but
 * an index lookup on FerretDB 1.24 (SQLite), where an upsert scans the
 * whole collection (even by _id: its query does not match its index), so
 * 1,000 new events take 0.2 s instead of tens of seconds
 * (doc/store-notes.md).  _id = eventId makes get, delete and the
 * lookups of mark_fulfilled the cheapest query FerretDB has.
 *
 * Updates are sent as multi-updates ({multi: true}), which changes
 * nothing as _id matches one document at most: FerretDB 1.24 keeps a
 * SQLite connection per single-document update that matched until the
 * command ends, and hangs the database once one command holds its pool
 * of 100.
 *
 * One mongoc_client_t per handle (a single-threaded client), so each stage
 * thread owns its own connection and nothing here is shared but
 * mongoc_init(), done once per process.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "ecom_security.h"
#include "ecom_wire.h"

#include "ecom_store_mongo_impl.h"

static pthread_once_t mongo_init_once = PTHREAD_ONCE_INIT;

/*
 * The driver's default log handler writes some levels to stdout, which
 * carries the commands' data: send everything to stderr, with the
 * command's prefix.  Warnings such as FerretDB's missing endSessions are
 * routine, so only errors show without --verbose.
 */
static void
mongo_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
	(void)data;
	if (level <= MONGOC_LOG_LEVEL_CRITICAL)
		ecom_warnf("mongo-c-driver %s: %s", domain, message);
	else
		ecom_debugf("mongo-c-driver %s: %s", domain, message);
}

static void
mongo_init(void)
{
	mongoc_log_set_handler(mongo_log, NULL);
	mongoc_init();
}

mongo_store *
mongo_of(ecom_store *store)
{
	return (mongo_store *)store;
}

/*
 * mongo-java-server only: unique indexes on {_id, payload.orderIsFulfilled}
 * and {_id, payload.orderShippedDate}, one per filter of its mark
 * (mongo_mark_fulfilled()).  Its planner takes an index only when the
 * filter's keys equal the index's and its values are plain
 * (AbstractUniqueIndex.canHandle), and it keeps unique indexes only (a
 * non-unique one is accepted and ignored): without these the mark scans
 * the collection (doc/store-notes.md).  Unique holds trivially with _id in them.
 * mongod answers its one filter from the _id index and gets neither.
 */
static int
create_mark_indexes(mongo_store *ms, ecom_err *err)
{
	const char *const fields[] = {FULFILLED_FIELD(ms), "payload.orderShippedDate"};
	const char *const names[] = {ms->base.spring ? SPRING_MARK_INDEX_NAME : MARK_INDEX_NAME,
	                             ms->base.spring ? SPRING_SHIPPED_INDEX_NAME : SHIPPED_INDEX_NAME};
	size_t i;

	for (i = 0; i < 2; i++) {
		bson_t *cmd;
		bson_error_t error;
		bool done;

		cmd = BCON_NEW("createIndexes", BCON_UTF8(ecom_event_type_name(ECOM_EV_ORDERCREATED)),
		               "indexes", "[", "{", "key", "{", ID_FIELD(ms), BCON_INT32(1), fields[i],
		               BCON_INT32(1), "}", "name", BCON_UTF8(names[i]), "unique",
		               BCON_BOOL(true), "}", "]");
		done = mongoc_database_command_simple(ms->db, cmd, NULL, NULL, &error);
		bson_destroy(cmd);
		if (!done)
			return ecom_err_set(err, "cannot create the index %s of 'ordercreated' in '%s': %s",
			                    names[i], ms->base.redacted_uri, error.message);
	}
	return 0;
}

/* Is there a collection of type already, and has it a unique index on eventId? */
static int
find_collection(mongo_store *ms, ecom_event_type type, bool *exists, bool *unique,
                ecom_err *err)
{
	mongoc_cursor_t *cursor;
	const bson_t *index;
	bson_error_t error;
	bson_iter_t it;

	*exists = *unique = false;
	cursor = mongoc_collection_find_indexes_with_opts(ms->coll[type], NULL);
	while (mongoc_cursor_next(cursor, &index)) {
		*exists = true;
		if (bson_iter_init_find(&it, index, "unique") && bson_iter_as_bool(&it) &&
		    bson_iter_init_find(&it, index, "key") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
		    bson_iter_recurse(&it, &it) && bson_iter_next(&it) &&
		    strcmp(bson_iter_key(&it), "eventId") == 0 && !bson_iter_next(&it))
			*unique = true;
	}
	/* mongod says code 26 for an absent collection; others list nothing. */
	if (mongoc_cursor_error(cursor, &error) && error.code != MONGO_NAMESPACE_NOT_FOUND) {
		mongoc_cursor_destroy(cursor);
		return ecom_err_set(err, "cannot list the indexes of '%s' in '%s': %s",
		                    ecom_event_type_name(type), ms->base.redacted_uri, error.message);
	}
	mongoc_cursor_destroy(cursor);
	return 0;
}

/*
 * A unique index on eventId in every collection: ecom's idempotence.  In
 * the application's form (wire: spring) only in the collections ecom
 * creates: a database the application wrote is read as it is, and one
 * holding a duplicate could not take the index anyway.
 */
/*
 * The first command that needs a login (ping and hello do not) is
 * refused with Unauthorized (13) when the URI gives none, by a server
 * that asks for one (mongod with --auth, FerretDB with authentication):
 * say what to give.  NULL for anything else.
 */
static const char *
mongo_login_hint(const bson_error_t *error, const mongoc_uri_t *uri)
{
	if (error->domain == MONGOC_ERROR_SERVER && error->code == 13 &&
	    mongoc_uri_get_username(uri) == NULL)
		return "the server asks for a login: give user:password@ in the URI "
		       "(and authSource=DB when the user is in another database)";
	return NULL;
}

static int
create_indexes(mongo_store *ms, ecom_err *err)
{
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++) {
		bson_t *cmd;
		bson_error_t error;
		bool done, exists = false, unique = false;

		ms->base.no_unique_index[t] = false;
		if (ms->base.spring &&
		    find_collection(ms, (ecom_event_type)t, &exists, &unique, err) < 0)
			return -1;
		if (exists) {
			ms->base.no_unique_index[t] = !unique;
			continue;
		}
		/* createIndexes also creates the collection; both are no-ops when present. */
		cmd = BCON_NEW("createIndexes", BCON_UTF8(ecom_event_type_name((ecom_event_type)t)),
		               "indexes", "[", "{", "key", "{", "eventId", BCON_INT32(1), "}",
		               "name", BCON_UTF8("eventId_1"), "unique", BCON_BOOL(true), "}", "]");
		done = mongoc_database_command_simple(ms->db, cmd, NULL, NULL, &error);
		bson_destroy(cmd);
		if (!done) {
			const char *hint = mongo_login_hint(&error, ms->uri);

			return ecom_err_set(err, "cannot create the index on eventId of '%s' in '%s': %s%s%s",
			                    ecom_event_type_name((ecom_event_type)t), ms->base.redacted_uri,
			                    error.message, hint != NULL ? ": " : "",
			                    hint != NULL ? hint : "");
		}
	}
	if (ms->base.spring && ms->base.no_unique_index[ECOM_EV_ORDERCREATED])
		return 0;
	return ms->mongo_java_server ? create_mark_indexes(ms, err) : 0;
}

/* The string at key in doc, or fallback. */
static const char *
utf8_at(const bson_t *doc, const char *key, const char *fallback)
{
	bson_iter_t iter;

	if (bson_iter_init(&iter, doc) && bson_iter_find_descendant(&iter, key, &iter) &&
	    BSON_ITER_HOLDS_UTF8(&iter))
		return bson_iter_utf8(&iter, NULL);
	return fallback;
}

/*
 * Who the server is, from buildInfo: ms->base.server (ecom_store_server())
 * and the detours' flags.
 *
 * - mongo-java-server says "version": "5.0.0" and nothing else; the dev
 *   stack's launcher (scripts/mongo-java-server/Launcher.java) adds
 *   {"mongoJavaServer": {"version", "backend"}}.
 * - FerretDB adds "ferretdbVersion": "v1.24.2+sqlite" as the dev stack's
 *   launcher sets it (the backend as semver build metadata); "unknown"
 *   from another embedding.  2.x is another engine (PostgreSQL with
 *   DocumentDB) that behaves as MongoDB here: no detour.
 * - mongod has a "gitVersion"; a server with none of the three is named
 *   for the version it claims, and not called MongoDB.
 */
static void
read_server(mongo_store *ms)
{
	bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
	bson_t reply;
	bson_iter_t iter;

	if (!mongoc_client_command_simple(ms->client, "admin", cmd, NULL, &reply, NULL)) {
		ms->base.server = bson_strdup("MongoDB-protocol server (no buildInfo)");
	} else if (bson_iter_init_find(&iter, &reply, "mongoJavaServer")) {
		ms->mongo_java_server = true;
		ms->base.server = bson_strdup_printf(
			"mongo-java-server %s (%s)", utf8_at(&reply, "mongoJavaServer.version", "unknown"),
			utf8_at(&reply, "mongoJavaServer.backend", "unknown backend"));
	} else if (bson_iter_init_find(&iter, &reply, "ferretdbVersion")) {
		const char *version = utf8_at(&reply, "ferretdbVersion", "unknown");
		const char *build;
		size_t len;

		if (*version == 'v')
			version++;
		ms->ferretdb_1 = !(version[0] >= '2' && version[0] <= '9' && version[1] == '.');
		ms->base.drops_over_data = ms->ferretdb_1;
		len = strcspn(version, "+");
		build = version[len] == '+' ? version + len + 1 : "";
		if (strcmp(build, "sqlite") == 0)
			build = "SQLite";
		else if (strcmp(build, "postgresql") == 0)
			build = "PostgreSQL";
		ms->base.server = bson_strdup_printf("FerretDB %.*s%s%s%s", (int)len, version,
		                                     *build ? " (" : "", build, *build ? ")" : "");
	} else if (bson_iter_init_find(&iter, &reply, "gitVersion")) {
		ms->base.server =
			bson_strdup_printf("MongoDB %s", utf8_at(&reply, "version", "(version unknown)"));
	} else {
		ms->base.server = bson_strdup_printf("MongoDB-protocol server (says MongoDB %s)",
		                                     utf8_at(&reply, "version", "unknown"));
	}
	bson_destroy(&reply);
	bson_destroy(cmd);
}

int64_t
mongo_reply_count(const bson_t *reply, const char *key)
{
	bson_iter_t iter;

	if (bson_iter_init_find(&iter, reply, key) && BSON_ITER_HOLDS_NUMBER(&iter))
		return bson_iter_as_int64(&iter);
	return 0;
}

static void mongo_close(ecom_store *store);

static const ecom_store_ops mongo_ops;

/*
 * What a failed command means for the caller: the driver's network and
 * server-selection errors and the server's shutting-down and
 * not-primary codes may pass; a document the driver or the server finds
 * invalid is the data's fault; the rest (a refused login, …) is final.
 */
enum ecom_err_kind
mongo_failure_kind(const bson_error_t *error)
{
	switch (error->domain) {
	case MONGOC_ERROR_STREAM:
	case MONGOC_ERROR_SERVER_SELECTION:
	case MONGOC_ERROR_WRITE_CONCERN:
		return ECOM_ERR_TRANSIENT;
	case MONGOC_ERROR_BSON:
		return ECOM_ERR_DATA;
	case MONGOC_ERROR_CLIENT:
		return error->code == MONGOC_ERROR_CLIENT_TOO_BIG ? ECOM_ERR_DATA : ECOM_ERR_FAILURE;
	case MONGOC_ERROR_SERVER:
		switch (error->code) {
		case 6:     /* HostUnreachable */
		case 7:     /* HostNotFound */
		case 89:    /* NetworkTimeout */
		case 91:    /* ShutdownInProgress */
		case 189:   /* PrimarySteppedDown */
		case 262:   /* ExceededTimeLimit */
		case 9001:  /* SocketException */
		case 10107: /* NotWritablePrimary */
		case 11600: /* InterruptedAtShutdown */
		case 11602: /* InterruptedDueToReplStateChange */
		case 13435: /* NotPrimaryNoSecondaryOk */
		case 13436: /* NotPrimaryOrSecondary */
			return ECOM_ERR_TRANSIENT;
		case 2:     /* BadValue */
		case 14:    /* TypeMismatch */
		case 22:    /* InvalidBSON */
		case 52:    /* DollarPrefixedFieldName */
		case 56:    /* EmptyFieldName */
		case 57:    /* DottedFieldName */
		case 10334: /* BSONObjectTooLarge */
		case 17280: /* KeyTooLong */
			return ECOM_ERR_DATA;
		default:
			return ECOM_ERR_FAILURE;
		}
	default:
		return ECOM_ERR_FAILURE;
	}
}

static void
drop_client(mongo_store *ms)
{
	int t;

	for (t = 0; t < ECOM_EV_COUNT; t++) {
		mongoc_collection_destroy(ms->coll[t]);
		ms->coll[t] = NULL;
	}
	mongoc_database_destroy(ms->db);
	ms->db = NULL;
	mongoc_client_destroy(ms->client);
	ms->client = NULL;
}

/*
 * What to check when the server answered and refused us (TLS, a login),
 * by the driver's words; NULL for anything else.  A refusal will not
 * change on a retry, so it is a failure, not an outage.
 */
#define PLAINTEXT_HINT \
	"if the server takes TLS connections only, add tls=true and tlsCAFile=FILE to the URI"

static const char *
mongo_refusal_hint(const char *reason, const mongoc_uri_t *uri)
{
	if (strstr(reason, "mismatch") != NULL)
		return "TLS: connect by a host name the server's certificate carries";
	if (strstr(reason, "certificate verify failed") != NULL)
		return "TLS: give the CA that signed the server's certificate as tlsCAFile=FILE";
	if (strstr(reason, "TLS handshake failed") != NULL)
		return "TLS: check tls=true, tlsCAFile and the server's TLS settings";
	if (strstr(reason, "Authentication failed") != NULL)
		return "check the user, password and authSource in the URI";
	/* mongo-java-server has no authentication, and no SASL command */
	if (strstr(reason, "no such command: 'saslStart'") != NULL)
		return "the server has no authentication: give no user and password in the URI";
	/* Without TLS, a TLS-only server closes the connection at once. */
	if (strstr(reason, "Server closed connection") != NULL && !mongoc_uri_get_tls(uri))
		return PLAINTEXT_HINT;
	return NULL;
}

static int
server_ping(mongo_store *ms, ecom_err *err)
{
	bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
	bson_error_t error;
	const char *hint;
	int ret = 0;

	if (!mongoc_client_command_simple(ms->client, "admin", ping, NULL, NULL, &error)) {
		size_t len = strlen(error.message);
		enum ecom_err_kind kind;

		hint = mongo_refusal_hint(error.message, ms->uri);
		kind = hint != NULL ? ECOM_ERR_FAILURE : mongo_failure_kind(&error);
		/* With a login in the URI the driver says it in other words
		 * (FerretDB); whether it is retried stays the driver's kind. */
		if (hint == NULL && strstr(error.message, "connection closed") != NULL &&
		    !mongoc_uri_get_tls(ms->uri))
			hint = PLAINTEXT_HINT;
		/* "Authentication failed.": no full stop before the hint */
		if (hint != NULL && len > 0 && error.message[len - 1] == '.')
			error.message[len - 1] = '\0';
		ret = ecom_err_set_kind(err, kind, "cannot connect to '%s': %s%s%s",
		                        ms->base.redacted_uri, error.message, hint != NULL ? ": " : "",
		                        hint != NULL ? hint : "");
	}
	bson_destroy(ping);
	return ret;
}

/* A client, its database and collections, and a first ping. */
static int
connect_client(mongo_store *ms, ecom_err *err)
{
	bson_error_t error;
	int t;

	ms->client = mongoc_client_new_from_uri_with_error(ms->uri, &error);
	if (ms->client == NULL)
		return ecom_err_set(err, "cannot connect to '%s': %s", ms->base.redacted_uri,
		                    error.message);
	mongoc_client_set_error_api(ms->client, MONGOC_ERROR_API_VERSION_2);
	ms->db = mongoc_client_get_database(ms->client, ms->database);
	for (t = 0; t < ECOM_EV_COUNT; t++)
		ms->coll[t] = mongoc_client_get_collection(ms->client, ms->database,
		                                           ecom_event_type_name((ecom_event_type)t));
	return server_ping(ms, err);
}

/*
 * After a lost connection, a fresh client: the old one would wait out
 * its five-second cooldown before it tried the server again.
 */
static int
mongo_ping(ecom_store *store, ecom_err *err)
{
	mongo_store *ms = mongo_of(store);

	if (server_ping(ms, err) == 0)
		return 0;
	if (err->kind != ECOM_ERR_TRANSIENT)
		return -1;
	drop_client(ms);
	return connect_client(ms, err);
}

/*
 * The driver connects as the URI says or not at all: its facts are the
 * URI's.  A CA without tls=true, or a password to a host off the
 * machine, is said, or refused with require_tls.
 */
static int
mongo_check_security(mongo_store *ms, const ecom_config *cfg, ecom_err *err)
{
	const mongoc_host_list_t *hosts = mongoc_uri_get_hosts(ms->uri);
	ecom_conn_facts facts;
	bool gave = (mongoc_uri_get_password(ms->uri) != NULL &&
	             !(hosts != NULL && ecom_host_is_loopback(hosts->host))) ||
	            mongoc_uri_get_option_as_utf8(ms->uri, MONGOC_URI_TLSCAFILE, NULL) != NULL ||
	            mongoc_uri_get_option_as_utf8(ms->uri, MONGOC_URI_TLSCERTIFICATEKEYFILE, NULL) != NULL;

	ecom_uri_conn_facts(ECOM_STORE_MONGODB, mongoc_uri_get_string(ms->uri), &facts);
	return ecom_security_after_connect(cfg, ms->base.redacted_uri, &facts, gave, err);
}

static int
mongo_open(ecom_store **store, const char *uri_text, const ecom_config *cfg, ecom_err *err)
{
	mongo_store *ms;
	bson_error_t error;
	int ret = -1;

	pthread_once(&mongo_init_once, mongo_init);
	ms = bson_malloc0(sizeof(*ms));
	ms->base.ops = &mongo_ops;
	ms->base.kind = ECOM_STORE_MONGODB;
	ms->base.redacted_uri = ecom_redact_uri(uri_text);
	ms->database = bson_strdup(cfg->database);
	ms->base.spring = ecom_config_wire(cfg) == ECOM_WIRE_SPRING;

	ms->uri = mongoc_uri_new_with_error(uri_text, &error);
	if (ms->uri == NULL) {
		ecom_redact_password_in(error.message, sizeof(error.message), uri_text);
		ecom_err_set(err, "invalid MongoDB URI '%s': %s", ms->base.redacted_uri, error.message);
		goto out;
	}
	/* Bound the first contact by timeout_ms unless the URI says otherwise. */
	if (mongoc_uri_get_option_as_int32(ms->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0) == 0)
		mongoc_uri_set_option_as_int32(ms->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
		                               cfg->timeout_ms);
	if (mongoc_uri_get_option_as_int32(ms->uri, MONGOC_URI_CONNECTTIMEOUTMS, 0) == 0)
		mongoc_uri_set_option_as_int32(ms->uri, MONGOC_URI_CONNECTTIMEOUTMS, cfg->timeout_ms);
	if (mongoc_uri_get_appname(ms->uri) == NULL)
		mongoc_uri_set_appname(ms->uri, "ecom");

	if (connect_client(ms, err) < 0 || mongo_check_security(ms, cfg, err) < 0)
		goto out;
	read_server(ms);
	if (create_indexes(ms, err) < 0)
		goto out;
	*store = &ms->base;
	ms = NULL;
	ret = 0;
out:
	if (ms != NULL)
		mongo_close(&ms->base);
	return ret;
}

static void
mongo_close(ecom_store *store)
{
	mongo_store *ms = mongo_of(store);

	drop_client(ms);
	mongoc_uri_destroy(ms->uri);
	bson_free(ms->database);
	bson_free(ms->base.redacted_uri);
	bson_free(ms->base.server);
	bson_free(ms);
}

/*
 * A bulk whose failures are all per event (writeErrors, no write-concern
 * error): a duplicate key (11000) means the event was already there;
 * any other code, that the server refused that event.  op_event[k] is
 * the event of the bulk's k-th insert.  False when the reply holds
 * anything else, for the caller to treat as the whole bulk's failure.
 */
static bool
per_event_errors(const bson_t *reply, const size_t *op_event, size_t n_ops,
                 ecom_put_result *results)
{
	bson_iter_t iter, array, entry;
	bool any = false;

	if (bson_iter_init_find(&iter, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&iter) &&
	    bson_iter_recurse(&iter, &array) && bson_iter_next(&array))
		return false;
	if (!bson_iter_init_find(&iter, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
	    !bson_iter_recurse(&iter, &array))
		return false;
	while (bson_iter_next(&array)) {
		int64_t index = -1, code = -1;
		const char *message = "refused";

		if (!BSON_ITER_HOLDS_DOCUMENT(&array) || !bson_iter_recurse(&array, &entry))
			return false;
		while (bson_iter_next(&entry)) {
			if (strcmp(bson_iter_key(&entry), "index") == 0 && BSON_ITER_HOLDS_NUMBER(&entry))
				index = bson_iter_as_int64(&entry);
			else if (strcmp(bson_iter_key(&entry), "code") == 0 &&
			         BSON_ITER_HOLDS_NUMBER(&entry))
				code = bson_iter_as_int64(&entry);
			else if (strcmp(bson_iter_key(&entry), "errmsg") == 0 &&
			         BSON_ITER_HOLDS_UTF8(&entry))
				message = bson_iter_utf8(&entry, NULL);
		}
		if (index < 0 || (uint64_t)index >= n_ops || code < 0)
			return false;
		/*
		 * Already stored: a duplicate on _id or eventId, not on an index
		 * someone else added.  mongod names the index in the message;
		 * FerretDB 1.x names none, and is taken at its word.  On
		 * mongo-java-server a duplicate on a mark index (they hold _id)
		 * is one on _id.
		 */
		if (code == MONGO_DUPLICATE_KEY &&
		    (strstr(message, "index: ") == NULL || strstr(message, "index: _id_ ") != NULL ||
		     strstr(message, "index: eventId_1 ") != NULL ||
		     strstr(message, "index: " MARK_INDEX_NAME " ") != NULL ||
		     strstr(message, "index: " SHIPPED_INDEX_NAME " ") != NULL ||
		     strstr(message, "index: " SPRING_MARK_INDEX_NAME " ") != NULL ||
		     strstr(message, "index: " SPRING_SHIPPED_INDEX_NAME " ") != NULL)) {
			results[op_event[index]].status = ECOM_PUT_DUPLICATE;
		} else {
			results[op_event[index]].status = ECOM_PUT_REJECTED;
			snprintf(results[op_event[index]].reason, sizeof(results[op_event[index]].reason),
			         "the server refused it: %s (code %" PRId64 ")", message, code);
		}
		any = true;
	}
	return any;
}

/* The fields under iter into out, Decimal128 values as their decimal text. */
static void
copy_decimals_as_text(bson_iter_t *iter, bson_t *out)
{
	while (bson_iter_next(iter)) {
		const char *key = bson_iter_key(iter);
		bson_iter_t child_iter;
		bson_t child;
		bson_decimal128_t dec;
		char text[BSON_DECIMAL128_STRING];

		if (BSON_ITER_HOLDS_DECIMAL128(iter)) {
			bson_iter_decimal128(iter, &dec);
			bson_decimal128_to_string(&dec, text);
			bson_append_utf8(out, key, -1, text, -1);
		} else if (BSON_ITER_HOLDS_DOCUMENT(iter) && bson_iter_recurse(iter, &child_iter)) {
			bson_append_document_begin(out, key, -1, &child);
			copy_decimals_as_text(&child_iter, &child);
			bson_append_document_end(out, &child);
		} else if (BSON_ITER_HOLDS_ARRAY(iter) && bson_iter_recurse(iter, &child_iter)) {
			bson_append_array_begin(out, key, -1, &child);
			copy_decimals_as_text(&child_iter, &child);
			bson_append_array_end(out, &child);
		} else {
			bson_append_iter(out, key, -1, iter);
		}
	}
}

/*
 * The document stored for ev: _id = eventId, then the event.  FerretDB 1.x
 * drops the connection on a Decimal128; the events' own money is int64
 * cents, but an unknown field may be one: there it is stored as its
 * decimal text (still exact).
 */
static void
document_of(const mongo_store *ms, const ecom_event *ev, bson_t *doc)
{
	bson_iter_t iter;

	if (ms->base.spring) {
		ecom_wire_spring_document(ev, doc);
		return;
	}
	bson_init(doc);
	BSON_APPEND_UTF8(doc, "_id", ev->event_id);
	if (ms->ferretdb_1 && bson_iter_init(&iter, &ev->doc))
		copy_decimals_as_text(&iter, doc);
	else
		bson_concat(doc, &ev->doc);
}

static int
mongo_put_batch(ecom_store *store, ecom_event_type type, ecom_event *const *events, size_t n,
                ecom_put_result *results, ecom_err *err)
{
	mongo_store *ms = mongo_of(store);
	mongoc_bulk_operation_t *bulk;
	bson_t *bulk_opts;
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	size_t *op_event, i, n_ops = 0;
	int ret = -1;

	bulk_opts = BCON_NEW("ordered", BCON_BOOL(false));
	bulk = mongoc_collection_create_bulk_operation_with_opts(ms->coll[type], bulk_opts);
	op_event = bson_malloc(n * sizeof(*op_event));
	for (i = 0; i < n; i++) {
		bson_t doc;
		bool added;

		document_of(ms, events[i], &doc);
		added = mongoc_bulk_operation_insert_with_opts(bulk, &doc, NULL, &error);
		bson_destroy(&doc);
		/* The driver checks keys and sizes: a document it refuses is this event's fault. */
		if (!added) {
			results[i].status = ECOM_PUT_REJECTED;
			snprintf(results[i].reason, sizeof(results[i].reason), "the driver refused it: %.480s",
			         error.message);
			continue;
		}
		results[i].status = ECOM_PUT_NEW;
		op_event[n_ops++] = i;
	}
	if (n_ops == 0) {
		ret = 0;
		goto out;
	}
	bson_destroy(&reply);
	/* A duplicate of an event stored earlier in this batch hits the index too: not new. */
	if (mongoc_bulk_operation_execute(bulk, &reply, &error) == 0 &&
	    (mongo_failure_kind(&error) == ECOM_ERR_TRANSIENT ||
	     !per_event_errors(&reply, op_event, n_ops, results))) {
		ecom_err_set_kind(err, mongo_failure_kind(&error), "cannot store %s events in '%s': %s",
		                  ecom_event_type_name(type), store->redacted_uri, error.message);
		if (err != NULL)
			err->connection_lost = error.domain == MONGOC_ERROR_STREAM;
		goto out;
	}
	ret = 0;
out:
	bson_free(op_event);
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(bulk_opts);
	return ret;
}

static int
count_matching(mongo_store *ms, ecom_event_type type, const bson_t *filter, int64_t *count,
               ecom_err *err)
{
	bson_error_t error;
	int64_t n;

	n = mongoc_collection_count_documents(ms->coll[type], filter, NULL, NULL, NULL, &error);
	if (n < 0)
		return ecom_err_set_kind(err, mongo_failure_kind(&error), "cannot count %s in '%s': %s",
		                         ecom_event_type_name(type), ms->base.redacted_uri, error.message);
	*count = n;
	return 0;
}

static int
mongo_count(ecom_store *store, ecom_event_type type, int64_t *count, ecom_err *err)
{
	bson_t filter = BSON_INITIALIZER;

	return count_matching(mongo_of(store), type, &filter, count, err);
}

static int
mongo_count_fulfilled(ecom_store *store, int64_t *count, ecom_err *err)
{
	bson_t *filter = BCON_NEW(FULFILLED_FIELD(mongo_of(store)), BCON_BOOL(true));
	int ret;

	ret = count_matching(mongo_of(store), ECOM_EV_ORDERCREATED, filter, count, err);
	bson_destroy(filter);
	return ret;
}

static int
mongo_get(ecom_store *store, ecom_event_type type, const char *order_id, bson_t *doc, bool *found,
          ecom_err *err)
{
	mongo_store *ms = mongo_of(store);
	mongoc_cursor_t *cursor;
	const bson_t *hit;
	bson_t *filter, *opts;
	bson_error_t error;
	int ret = 0;

	filter = BCON_NEW(ID_FIELD(ms), BCON_UTF8(order_id));
	opts = BCON_NEW("projection", "{", "_id", BCON_INT32(0), "}", "limit", BCON_INT64(1));
	cursor = mongoc_collection_find_with_opts(ms->coll[type], filter, opts, NULL);
	if (mongoc_cursor_next(cursor, &hit)) {
		bson_concat(doc, hit);
		*found = true;
	} else if (mongoc_cursor_error(cursor, &error)) {
		ret = ecom_err_set(err, "cannot read %s '%s' from '%s': %s", ecom_event_type_name(type),
		                   order_id, store->redacted_uri, error.message);
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(opts);
	bson_destroy(filter);
	return ret;
}

static int
mongo_delete_one(ecom_store *store, ecom_event_type type, const char *order_id, int64_t *removed,
                 ecom_err *err)
{
	mongo_store *ms = mongo_of(store);
	bson_t *selector;
	bson_t reply;
	bson_error_t error;
	int ret = 0;

	selector = BCON_NEW(ID_FIELD(ms), BCON_UTF8(order_id));
	if (!mongoc_collection_delete_one(ms->coll[type], selector, NULL, &reply, &error))
		ret = ecom_err_set(err, "cannot delete %s '%s' from '%s': %s", ecom_event_type_name(type),
		                   order_id, store->redacted_uri, error.message);
	else
		*removed = mongo_reply_count(&reply, "deletedCount");
	bson_destroy(&reply);
	bson_destroy(selector);
	return ret;
}

static int
mongo_reset(ecom_store *store, ecom_err *err)
{
	mongo_store *ms = mongo_of(store);
	bson_error_t error;
	int t;

	/*
	 * mongod says code 26 for a collection that is not there;
	 * mongo-java-server says only "ns not found" (as mongod did before 3.2).
	 */
	for (t = 0; t < ECOM_EV_COUNT; t++) {
		if (!mongoc_collection_drop_with_opts(ms->coll[t], NULL, &error) &&
		    error.code != MONGO_NAMESPACE_NOT_FOUND && strcmp(error.message, "ns not found") != 0)
			return ecom_err_set(err, "cannot drop '%s' in '%s': %s",
			                    ecom_event_type_name((ecom_event_type)t), store->redacted_uri,
			                    error.message);
	}
	return create_indexes(ms, err);
}

/* eventId of every document matching filter. */
static int
list_event_ids(mongo_store *ms, ecom_event_type type, const bson_t *filter, ecom_idlist *ids,
               ecom_err *err)
{
	mongoc_cursor_t *cursor;
	const bson_t *hit;
	bson_t *opts;
	bson_error_t error;
	bson_iter_t iter;
	int ret = 0;

	opts = BCON_NEW("projection", "{", "_id", BCON_INT32(0), "eventId", BCON_INT32(1), "}");
	cursor = mongoc_collection_find_with_opts(ms->coll[type], filter, opts, NULL);
	while (mongoc_cursor_next(cursor, &hit)) {
		uint32_t len;
		const char *id;

		if (!bson_iter_init_find(&iter, hit, "eventId") || !BSON_ITER_HOLDS_UTF8(&iter))
			continue;
		id = bson_iter_utf8(&iter, &len);
		if (ecom_idlist_add(ids, id, len, err) < 0) {
			ret = -1;
			goto out;
		}
	}
	if (mongoc_cursor_error(cursor, &error))
		ret = ecom_err_set(err, "cannot list %s in '%s': %s", ecom_event_type_name(type),
		                   ms->base.redacted_uri, error.message);
out:
	mongoc_cursor_destroy(cursor);
	bson_destroy(opts);
	return ret;
}

static int
mongo_list_ids(ecom_store *store, ecom_event_type type, ecom_idlist *ids, ecom_err *err)
{
	bson_t filter = BSON_INITIALIZER;

	return list_event_ids(mongo_of(store), type, &filter, ids, err);
}

static int
mongo_list_unfinished(ecom_store *store, ecom_idlist *ids, ecom_err *err)
{
	bson_t *filter;
	int ret;

	/* {field: null} matches a null and an absent field alike. */
	filter = BCON_NEW("$or", "[", "{", FULFILLED_FIELD(mongo_of(store)), "{", "$ne", BCON_BOOL(true),
	                  "}", "}", "{", "payload.orderShippedDate", BCON_NULL, "}", "]");
	ret = list_event_ids(mongo_of(store), ECOM_EV_ORDERCREATED, filter, ids, err);
	bson_destroy(filter);
	return ret;
}

static const ecom_store_ops mongo_ops = {
	.name = "mongodb",
	.close = mongo_close,
	.ping = mongo_ping,
	.put_batch = mongo_put_batch,
	.mark_fulfilled = mongo_mark_fulfilled,
	.count = mongo_count,
	.count_fulfilled = mongo_count_fulfilled,
	.get = mongo_get,
	.delete_one = mongo_delete_one,
	.reset = mongo_reset,
	.list_ids = mongo_list_ids,
	.list_unfinished = mongo_list_unfinished,
};

/* The driver parses the URI; its own log line would repeat the message (see mongo_log). */
static int
mongo_check_uri(const char *uri_text, ecom_err *err)
{
	bson_error_t error;
	mongoc_uri_t *uri;

	pthread_once(&mongo_init_once, mongo_init);
	uri = mongoc_uri_new_with_error(uri_text, &error);
	if (uri == NULL) {
		ecom_redact_password_in(error.message, sizeof(error.message), uri_text);
		return ecom_err_set(err, "not a valid MongoDB URI: %s", error.message);
	}
	mongoc_uri_destroy(uri);
	return 0;
}

static const char *
mongo_driver_version(void)
{
	static char text[48];

	snprintf(text, sizeof(text), "libmongoc %s", mongoc_get_version());
	return text;
}

const ecom_store_backend ecom_store_mongo_backend = {
	.kind = ECOM_STORE_MONGODB,
	.name = "mongodb",
	.open = mongo_open,
	.check_uri = mongo_check_uri,
	.driver_version = mongo_driver_version,
};
