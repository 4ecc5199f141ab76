/*
 * librdkafka set-up shared by every command: latency-first defaults, the
 * user's properties on top, bounded checks so an unreachable broker is an
 * error within timeout_ms at start-up instead of librdkafka's silent
 * retrying, and, once running, outages ridden out for up to
 * retry_timeout_ms with one warning when they start and one line when
 * they end.  librdkafka itself reconnects and resends; what this file
 * adds is saying so, and the bound.
 */
#include "ecom_kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecom_redact.h"
#include "ecom_retry.h"
#include "ecom_time.h"

/* How long a cluster may take to tell every broker of a new topic. */
#define TOPIC_PROPAGATION_MS 2000

/*
 * Defaults for a pipeline with one order in flight: every hop would
 * otherwise pay linger.ms=5 and Nagle.  fetch.wait.max.ms stays Kafka's
 * 500 ms, said here so -X dump shows it: the broker answers a waiting
 * fetch as soon as data arrives (fetch.min.bytes=1), so the wait costs no
 * latency, and an idle consumer asks twice a second instead of 200 times
 * (at 5 ms, idle fetching took half the stages' CPU and slowed three
 * brokers at W = 256 by 2 to 2.5 times; doc/performance-notes.md §4).
 * session.timeout.ms is the broker's minimum so a stage restarted after
 * kill -9 gets its partitions back in seconds, not 45 s.
 */
static const char *const producer_defaults[][2] = {
	{"linger.ms", "0"},
	{"socket.nagle.disable", "true"},
	{"enable.idempotence", "true"},
	{"acks", "all"},
};

static const char *const consumer_defaults[][2] = {
	{"fetch.wait.max.ms", "500"},
	{"socket.nagle.disable", "true"},
	{"enable.auto.offset.store", "false"},
	{"enable.auto.commit", "true"},
	{"auto.commit.interval.ms", "1000"},
	{"session.timeout.ms", "6000"},
	{"heartbeat.interval.ms", "1000"},
	{"enable.partition.eof", "true"},
};

/*
 * What a client's error callback saw: the last error for messages, and
 * the outage that "all brokers down" started.  Callbacks run in the
 * thread that polls the client, so nothing here needs a lock.
 */
typedef struct kafka_client {
	rd_kafka_t *rk;
	char brokers[256];
	char last_error[512];
	char last_warned[512];
	ecom_outage outage;
	int64_t down_since_us; /* monotonic: all brokers down since; 0 when not */
	int64_t last_probe_us; /* monotonic: the last check whether the brokers are back */
	ecom_stop_flag *stop;
	int timeout_ms;
	bool started; /* past the start-up check */
	char group[256]; /* consumers in a group: its name, for messages */
	bool announce_rebalances;
	bool assigned; /* the group has given this consumer its partitions (maybe none) */
	int64_t assigned_nothing_us; /* monotonic: the group gave it no partition, since; else 0 */
} kafka_client;

struct ecom_producer {
	kafka_client kc; /* first: the callbacks' opaque */
	size_t max_message_bytes;
	/* Written by the delivery report callback, read after flush. */
	long failed;
	char first_failure[512];
};

/* -e: where a partition ends, as of when reading started. */
struct partition_end {
	int32_t partition;
	int64_t offset; /* the high watermark then: the offset after the last message */
	bool reached;
};

struct ecom_consumer {
	kafka_client kc; /* first: the callbacks' opaque */
	struct partition_end *end; /* NULL unless reading to the end */
	int end_count;
	int ended;
	/* Offsets of processed messages, held until what they produced is acknowledged. */
	rd_kafka_topic_partition_list_t *deferred;
	int64_t deferred_since_us; /* monotonic; 0 when none is held */
	rd_kafka_topic_partition_list_t *subscription; /* NULL unless in a group */
	int64_t empty_checked_us; /* monotonic: when an empty assignment was last questioned */
};

static int topic_partitions(kafka_client *kc, const char *topic, const struct rd_kafka_metadata **md,
                            ecom_err *err);

/* The consumer lag is asked for with this bound. */
#define LAG_TIMEOUT_MS 2000
/* While all brokers are down, ask whether they are back this often. */
#define OUTAGE_PROBE_US 1000000
/* An empty assignment is questioned after this long, and at most this often. */
#define EMPTY_RECHECK_US 5000000

static void
log_cb(const rd_kafka_t *rk, int level, const char *facility, const char *message)
{
	(void)rk;
	/* Errors reach error_cb below, which says them once; the log is for -v. */
	(void)level;
	ecom_debugf("kafka: %s: %s", facility, message);
}

static void
client_init(kafka_client *kc, const ecom_config *cfg)
{
	snprintf(kc->brokers, sizeof(kc->brokers), "%s", cfg->brokers);
	ecom_outage_init(&kc->outage, "kafka", cfg->retry_timeout_ms);
	kc->timeout_ms = cfg->timeout_ms;
}

/*
 * librdkafka's errors, as kcat shows them, but each once: a broker that
 * cannot be reached is reported as an outage (all brokers down) with its
 * reason, other errors (authentication, TLS, a fatal producer error) as
 * they come.  Single-broker disconnects are routine (idle connections are
 * closed, a broker of a cluster restarts): -v shows them.
 */
static void
error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
	kafka_client *kc = opaque;
	char fatal[512];

	if (kc == NULL) /* ecom_kafka_check_config()'s short-lived clients */
		return;
	if (code == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		snprintf(kc->last_error, sizeof(kc->last_error), "fatal error: %.480s", fatal);
		ecom_errorf("kafka: %s", kc->last_error);
		return;
	}
	/* At start-up, client_check_brokers() fails with the reason instead. */
	if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !kc->started)
		return;
	/* Said only if it lasts (client_check_outage): a broker that has just
	 * restarted drops its connections once more, for a moment. */
	if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		if (kc->down_since_us == 0)
			kc->down_since_us = ecom_monotonic_us();
		return;
	}
	snprintf(kc->last_error, sizeof(kc->last_error), "%s", reason);
	if (code == RD_KAFKA_RESP_ERR__TRANSPORT || code == RD_KAFKA_RESP_ERR__RESOLVE) {
		ecom_debugf("kafka: %s", reason);
		return;
	}
	/* "…(after 5ms in state X, 1 identical error(s) suppressed)" is the same error. */
	if (strncmp(kc->last_warned, reason, strcspn(reason, "(")) != 0) {
		snprintf(kc->last_warned, sizeof(kc->last_warned), "%s", reason);
		ecom_warnf("kafka: %s", reason);
	}
}

/* ", last error: …" for messages, or "". */
static const char *
last_error_note(const kafka_client *kc, char *buf, size_t size)
{
	if (kc->last_error[0] == '\0')
		return "";
	snprintf(buf, size, " (last error: %s)", kc->last_error);
	return buf;
}

/* The brokers answer again: end the outage, saying so if it was said. */
static void
client_brokers_back(kafka_client *kc)
{
	kc->down_since_us = 0;
	ecom_outage_over(&kc->outage);
}

/*
 * While all brokers are down, every second: are they back?  The first
 * time it has lasted a second, say so; -1 with err once it has lasted
 * past the retry bound.
 */
static int
client_check_outage(kafka_client *kc, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	int64_t now = ecom_monotonic_us();
	char note[900], last[560];

	if (kc->down_since_us == 0 || now - kc->last_probe_us < OUTAGE_PROBE_US)
		return 0;
	kc->last_probe_us = now;
	if (rd_kafka_metadata(kc->rk, 0, NULL, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_metadata_destroy(md);
		client_brokers_back(kc);
		return 0;
	}
	snprintf(note, sizeof(note), "kafka: all brokers are down ('%s')%s", kc->brokers,
	         last_error_note(kc, last, sizeof(last)));
	return ecom_outage_trouble(&kc->outage, note, err);
}

/*
 * One property.  The value is shown in a message only when the key is a
 * known property and not a secret: a misspelt "sasl.pasword" may hold a
 * password all the same.
 */
static int
conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, ecom_err *err)
{
	char errstr[512];
	rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr));

	if (res == RD_KAFKA_CONF_OK)
		return 0;
	if (res == RD_KAFKA_CONF_UNKNOWN || ecom_redact_is_secret_property(key)) {
		ecom_redact_text(errstr, sizeof(errstr), value); /* some messages quote it */
		return ecom_err_set(err, "kafka property '%s': %s (see '-X list')", key, errstr);
	}
	return ecom_err_set(err, "kafka property '%s=%s': %s (see '-X list')", key, value, errstr);
}

/* librdkafka resends until a message times out: not before our bound. */
static const char *
producer_message_timeout(const ecom_config *cfg, char *buf, size_t size)
{
	snprintf(buf, size, "%d", cfg->retry_timeout_ms + cfg->timeout_ms);
	return buf;
}

int
ecom_kafka_conf(const ecom_config *cfg, const char *kind, rd_kafka_conf_t **out, ecom_err *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *const(*defaults)[2];
	size_t n_defaults, i;

	if (strcmp(kind, "producer") == 0) {
		defaults = producer_defaults;
		n_defaults = sizeof(producer_defaults) / sizeof(producer_defaults[0]);
	} else {
		defaults = consumer_defaults;
		n_defaults = sizeof(consumer_defaults) / sizeof(consumer_defaults[0]);
	}
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	if (conf_set(conf, "bootstrap.servers", cfg->brokers, err) < 0)
		goto fail;
	for (i = 0; i < n_defaults; i++)
		if (conf_set(conf, defaults[i][0], defaults[i][1], err) < 0)
			goto fail;
	if (strcmp(kind, "producer") == 0) {
		char message_timeout[24];

		if (conf_set(conf, "message.timeout.ms",
		             producer_message_timeout(cfg, message_timeout, sizeof(message_timeout)),
		             err) < 0)
			goto fail;
	}
	/* The user's properties win over ours.  Producer-only properties given
	 * to a consumer (and the reverse) are ignored by librdkafka, with a log. */
	for (i = 0; i < cfg->kafka_count; i++)
		if (conf_set(conf, cfg->kafka[i].key, cfg->kafka[i].value, err) < 0)
			goto fail;
	*out = conf;
	return 0;
fail:
	rd_kafka_conf_destroy(conf);
	return -1;
}

/*
 * Some properties are only refused when a client is made
 * (ssl.ca.location naming no file, an unknown sasl.mechanism): make one
 * of each kind, and drop it at once.
 */
int
ecom_kafka_check_config(const ecom_config *cfg, ecom_err *err)
{
	static const char *const kinds[] = {"producer", "consumer"};
	static const char *const mechanisms[] = {"GSSAPI", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512",
	                                         "OAUTHBEARER"};
	char errstr[512];
	size_t i, m;

	/* librdkafka checks the mechanism only when SASL is on: check it always. */
	for (i = 0; i < cfg->kafka_count; i++) {
		if (strcmp(cfg->kafka[i].key, "sasl.mechanism") != 0 &&
		    strcmp(cfg->kafka[i].key, "sasl.mechanisms") != 0)
			continue;
		for (m = 0; m < sizeof(mechanisms) / sizeof(mechanisms[0]); m++) {
			if (strcmp(cfg->kafka[i].value, mechanisms[m]) == 0)
				break;
		}
		if (m == sizeof(mechanisms) / sizeof(mechanisms[0]))
			return ecom_err_set(err,
			                    "kafka property '%s=%s': expected GSSAPI, PLAIN, SCRAM-SHA-256, "
			                    "SCRAM-SHA-512 or OAUTHBEARER",
			                    cfg->kafka[i].key, cfg->kafka[i].value);
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		rd_kafka_conf_t *conf;
		rd_kafka_t *rk;

		if (ecom_kafka_conf(cfg, kinds[i], &conf, err) < 0)
			return -1;
		rk = rd_kafka_new(i == 0 ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, errstr,
		                  sizeof(errstr));
		if (rk == NULL) {
			rd_kafka_conf_destroy(conf);
			return ecom_err_set(err, "kafka configuration: %s (see '-X list')", errstr);
		}
		rd_kafka_destroy(rk);
	}
	return 0;
}

const char *
ecom_kafka_version(void)
{
	return rd_kafka_version_str();
}

/* The value of key in a list of defaults, or NULL. */
static const char *
default_of(const char *const (*defaults)[2], size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(defaults[i][0], key) == 0)
			return defaults[i][1];
	}
	return NULL;
}

static void
dump_property(FILE *out, const char *key, const char *value, const char *note)
{
	fprintf(out, "  %s: \"%s\"%s%s\n", key, ecom_redact_is_secret_property(key) ? "***" : value,
	        note ? "  # " : "", note ? note : "");
}

void
ecom_kafka_dump(const ecom_config *cfg, FILE *out)
{
	size_t n_p = sizeof(producer_defaults) / sizeof(producer_defaults[0]);
	size_t n_c = sizeof(consumer_defaults) / sizeof(consumer_defaults[0]);
	char message_timeout[24];
	size_t i;

	producer_message_timeout(cfg, message_timeout, sizeof(message_timeout));
	fputs("kafka:\n", out);
	/* ecom's defaults, unless given, then what was given. */
	for (i = 0; i < n_p; i++) {
		if (default_of(consumer_defaults, n_c, producer_defaults[i][0]) != NULL ||
		    ecom_config_kafka_get(cfg, producer_defaults[i][0]) != NULL)
			continue;
		dump_property(out, producer_defaults[i][0], producer_defaults[i][1], "producers");
	}
	if (ecom_config_kafka_get(cfg, "message.timeout.ms") == NULL)
		dump_property(out, "message.timeout.ms", message_timeout,
		              "producers: retry_timeout_ms + timeout_ms");
	for (i = 0; i < n_c; i++) {
		bool both = default_of(producer_defaults, n_p, consumer_defaults[i][0]) != NULL;

		if (ecom_config_kafka_get(cfg, consumer_defaults[i][0]) != NULL)
			continue;
		dump_property(out, consumer_defaults[i][0], consumer_defaults[i][1],
		              both ? NULL : "consumers");
	}
	for (i = 0; i < cfg->kafka_count; i++)
		dump_property(out, cfg->kafka[i].key, cfg->kafka[i].value, "given");
}

void
ecom_kafka_print_properties(void)
{
	rd_kafka_conf_properties_show(stdout);
}

/*
 * Start-up: the brokers answer a metadata request within timeout_ms, or
 * the client fails with what librdkafka last saw (refused, TLS, SASL).
 */
static int
client_check_brokers(kafka_client *kc, bool is_consumer, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_message_t *m;
	rd_kafka_resp_err_t rc;
	char note[600];

	rc = rd_kafka_metadata(kc->rk, 0, NULL, &md, kc->timeout_ms);
	if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_metadata_destroy(md);
		kc->started = true;
		return 0;
	}
	/* Serve the queued errors, for the reason. */
	if (is_consumer) {
		while ((m = rd_kafka_consumer_poll(kc->rk, 0)) != NULL)
			rd_kafka_message_destroy(m);
	} else {
		rd_kafka_poll(kc->rk, 0);
	}
	return ecom_err_set(err,
	                    "cannot reach kafka broker '%s' within %d ms: %s%s (is it running? "
	                    "check -b or ECOM_KAFKA_BROKERS)",
	                    kc->brokers, kc->timeout_ms, rd_kafka_err2str(rc),
	                    last_error_note(kc, note, sizeof(note)));
}

/* Wait for the result event of an admin request already made on queue (NULL: no answer in time). */
static rd_kafka_event_t *
admin_wait(rd_kafka_queue_t *queue, rd_kafka_event_type_t type, int timeout_ms)
{
	rd_kafka_event_t *ev;

	for (;;) {
		ev = rd_kafka_queue_poll(queue, timeout_ms + 2000);
		if (ev == NULL || rd_kafka_event_type(ev) == type)
			return ev;
		rd_kafka_event_destroy(ev);
	}
}

/* Options for an admin request that the broker must answer within timeout_ms. */
static rd_kafka_AdminOptions_t *
admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op, int timeout_ms)
{
	rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(rk, op);
	char errstr[512];

	rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof(errstr));
	return options;
}

/*
 * Wait for the answer to a CreateTopics or DeleteTopics request made on
 * queue and check it topic by topic; `harmless` is the per-topic error
 * that means the work was already done (the topic exists, or is gone).
 */
static int
await_topics_result(rd_kafka_queue_t *queue, rd_kafka_event_type_t type,
                    rd_kafka_resp_err_t harmless, int timeout_ms, ecom_err *err)
{
	const char *doing = type == RD_KAFKA_EVENT_CREATETOPICS_RESULT ? "creating" : "deleting";
	const char *verb = type == RD_KAFKA_EVENT_CREATETOPICS_RESULT ? "create" : "delete";
	const rd_kafka_topic_result_t **results;
	rd_kafka_event_t *ev = admin_wait(queue, type, timeout_ms);
	size_t i, n_results;
	int rc = -1;

	if (ev == NULL)
		return ecom_err_set(err, "%s topics: no answer from the broker within %d ms", doing,
		                    timeout_ms);
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "%s topics: %s", doing, rd_kafka_event_error_string(ev));
		goto out;
	}
	if (type == RD_KAFKA_EVENT_CREATETOPICS_RESULT)
		results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev),
		                                              &n_results);
	else
		results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev),
		                                              &n_results);
	for (i = 0; i < n_results; i++) {
		rd_kafka_resp_err_t code = rd_kafka_topic_result_error(results[i]);

		if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != harmless) {
			ecom_err_set(err, "cannot %s topic '%s': %s", verb,
			             rd_kafka_topic_result_name(results[i]),
			             rd_kafka_topic_result_error_string(results[i]));
			goto out;
		}
	}
	rc = 0;
out:
	rd_kafka_event_destroy(ev);
	return rc;
}

/* How many of the topics md shows with leaders (want_present 1) or does not show (0). */
static size_t
topics_matching(const struct rd_kafka_metadata *md, const char *const *topics, size_t n,
                int want_present)
{
	size_t i, matched = 0;
	int t;

	for (i = 0; i < n; i++) {
		int found = 0;

		for (t = 0; t < md->topic_cnt; t++) {
			if (strcmp(md->topics[t].topic, topics[i]) != 0)
				continue;
			if (md->topics[t].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
			    md->topics[t].partition_cnt > 0 && md->topics[t].partitions[0].leader >= 0)
				found = 1;
		}
		if (found == want_present)
			matched++;
	}
	return matched;
}

/* Wait until the metadata shows every topic with leaders (or none of them). */
static int
wait_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int want_present, int timeout_ms,
            ecom_err *err)
{
	int64_t deadline = ecom_monotonic_us() + (int64_t)timeout_ms * 1000;

	for (;;) {
		const struct rd_kafka_metadata *md = NULL;

		if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			size_t matched = topics_matching(md, topics, n, want_present);

			rd_kafka_metadata_destroy(md);
			if (matched == n)
				return 0;
		}
		if (ecom_monotonic_us() > deadline)
			return ecom_err_set(err, "topics not %s after %d ms",
			                    want_present ? "ready" : "gone", timeout_ms);
		rd_kafka_poll(rk, 50);
	}
}

int
ecom_kafka_default_replication(rd_kafka_t *rk, int timeout_ms, int *replication_factor,
                               ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t code;

	code = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR)
		return ecom_err_set(err, "cannot count the cluster's brokers within %d ms: %s",
		                    timeout_ms, rd_kafka_err2str(code));
	/* Three copies survive the loss of one broker with min.insync.replicas=2. */
	*replication_factor = md->broker_cnt < 3 ? md->broker_cnt : 3;
	if (*replication_factor < 1)
		*replication_factor = 1;
	rd_kafka_metadata_destroy(md);
	return 0;
}

static int
create_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
              int replication_factor, int timeout_ms, ecom_err *err)
{
	rd_kafka_NewTopic_t **new_topics = calloc(n, sizeof(*new_topics));
	rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *options = NULL;
	char errstr[512];
	size_t i;
	int rc = -1;

	if (replication_factor == 0 &&
	    ecom_kafka_default_replication(rk, timeout_ms, &replication_factor, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		new_topics[i] = rd_kafka_NewTopic_new(topics[i], partitions, replication_factor, errstr,
		                                      sizeof(errstr));
		if (new_topics[i] == NULL) {
			ecom_err_set(err, "topic '%s': %s", topics[i], errstr);
			goto out;
		}
	}
	options = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms);
	rd_kafka_CreateTopics(rk, new_topics, n, options, queue);
	if (await_topics_result(queue, RD_KAFKA_EVENT_CREATETOPICS_RESULT,
	                        RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, timeout_ms, err) == 0)
		rc = wait_topics(rk, topics, n, 1, timeout_ms, err);
out:
	if (options != NULL)
		rd_kafka_AdminOptions_destroy(options);
	for (i = 0; i < n; i++)
		if (new_topics[i] != NULL)
			rd_kafka_NewTopic_destroy(new_topics[i]);
	free(new_topics);
	rd_kafka_queue_destroy(queue);
	return rc;
}

/*
 * Topics that all exist already need no CreateTopics request: a cluster
 * whose administrator made them may not let us create topics, and
 * librdkafka's mock cluster (the unit tests) has no CreateTopics at all.
 */
int
ecom_kafka_ensure_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                         int replication_factor, int timeout_ms, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;

	if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		size_t present = topics_matching(md, topics, n, 1);

		rd_kafka_metadata_destroy(md);
		if (present == n)
			return 0;
	}
	return create_topics(rk, topics, n, partitions, replication_factor, timeout_ms, err);
}

int
ecom_kafka_delete_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int timeout_ms,
                         ecom_err *err)
{
	rd_kafka_DeleteTopic_t **del = calloc(n, sizeof(*del));
	rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *options;
	size_t i;
	int rc = -1;

	for (i = 0; i < n; i++)
		del[i] = rd_kafka_DeleteTopic_new(topics[i]);
	options = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms);
	rd_kafka_DeleteTopics(rk, del, n, options, queue);
	if (await_topics_result(queue, RD_KAFKA_EVENT_DELETETOPICS_RESULT,
	                        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, timeout_ms, err) == 0)
		rc = wait_topics(rk, topics, n, 0, timeout_ms, err);
	rd_kafka_AdminOptions_destroy(options);
	rd_kafka_DeleteTopic_destroy_array(del, n);
	free(del);
	rd_kafka_queue_destroy(queue);
	return rc;
}

/*
 * A partition's low and high watermarks.  Errors a partition shows while
 * its leader is being chosen (a topic created a moment ago, a broker of
 * a cluster lost) pass within seconds: they are asked again, with
 * backoff, until timeout_ms has gone by.  Seen on one broker under load:
 * "Not leader for partition" for a topic a reset had just created.
 */
static rd_kafka_resp_err_t
partition_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                     int64_t *low, int64_t *high)
{
	int64_t deadline_us = ecom_monotonic_us() + (int64_t)timeout_ms * 1000, backoff_ms = 50;
	rd_kafka_resp_err_t code;

	for (;;) {
		code = rd_kafka_query_watermark_offsets(rk, topic, partition, low, high, timeout_ms);
		switch (code) {
		case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
		case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
		case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
		case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
		case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
		case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
		case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
		case RD_KAFKA_RESP_ERR__TRANSPORT:
			break;
		default:
			return code;
		}
		if (ecom_monotonic_us() + backoff_ms * 1000 > deadline_us)
			return code;
		ecom_sleep_ms(backoff_ms);
		if (backoff_ms < 1000)
			backoff_ms *= 2;
	}
}

int
ecom_kafka_topic_size(rd_kafka_t *rk, const char *topic, int timeout_ms, int64_t *size,
                      ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t code;
	int64_t total = 0;
	int p, rc = -1;

	code = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "topic '%s': %s", topic, rd_kafka_err2str(code));
		goto out;
	}
	if (md->topic_cnt != 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
		*size = 0;
		rc = 0;
		goto out;
	}
	for (p = 0; p < md->topics[0].partition_cnt; p++) {
		int64_t low, high;

		code = partition_watermarks(rk, topic, md->topics[0].partitions[p].id, timeout_ms, &low,
		                            &high);
		if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
			ecom_err_set(err, "topic '%s' partition %d: %s", topic,
			             md->topics[0].partitions[p].id, rd_kafka_err2str(code));
			goto out;
		}
		total += high;
	}
	*size = total;
	rc = 0;
out:
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return rc;
}

/*
 * Messages of topic not yet committed by group.  A client of its own in
 * that group (which never subscribes, so never joins it) asks the
 * group's coordinator with OffsetFetch.  Not the ListConsumerGroupOffsets
 * admin call: librdkafka 2.0.2 crashes in it when the coordinator has
 * just moved, as after a broker restart (librdkafka issue #5040).
 */
int
ecom_kafka_group_lag(const ecom_config *cfg, const char *group, const char *topic, int64_t *lag,
                     ecom_err *err)
{
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_t *rkt = NULL;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_resp_err_t code;
	char errstr[512];
	int64_t total = 0;
	/* A question asked while things are stuck: answer soon or not at all. */
	int timeout_ms = cfg->timeout_ms < LAG_TIMEOUT_MS ? cfg->timeout_ms : LAG_TIMEOUT_MS;
	int p, rc = -1;

	if (ecom_kafka_conf(cfg, "consumer", &conf, err) < 0)
		return -1;
	if (conf_set(conf, "group.id", group, err) < 0 ||
	    conf_set(conf, "enable.auto.commit", "false", err) < 0) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		return ecom_err_set(err, "cannot create kafka consumer: %s", errstr);
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	code = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 ||
	    md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "topic '%s': %s", topic,
		             rd_kafka_err2str(code != RD_KAFKA_RESP_ERR_NO_ERROR ? code
		                                                                 : md->topics[0].err));
		goto out;
	}
	parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (p = 0; p < md->topics[0].partition_cnt; p++)
		rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[p].id);
	code = rd_kafka_committed(rk, parts, timeout_ms);
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "offsets of group '%s': %s", group, rd_kafka_err2str(code));
		goto out;
	}
	for (p = 0; p < parts->cnt; p++) {
		int64_t low, high, committed = parts->elems[p].offset;

		code = partition_watermarks(rk, topic, parts->elems[p].partition, timeout_ms, &low, &high);
		if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
			ecom_err_set(err, "topic '%s': %s", topic, rd_kafka_err2str(code));
			goto out;
		}
		/* A group without a commit there starts at the earliest offset. */
		total += high - (committed >= 0 ? committed : low);
	}
	*lag = total;
	rc = 0;
out:
	if (parts != NULL)
		rd_kafka_topic_partition_list_destroy(parts);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return rc;
}

/* ---- ecom-consume -L: the cluster as kcat -L shows it ---- */

static int
broker_by_id(const void *a, const void *b)
{
	const struct rd_kafka_metadata_broker *x = *(const struct rd_kafka_metadata_broker *const *)a;
	const struct rd_kafka_metadata_broker *y = *(const struct rd_kafka_metadata_broker *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

static int
topic_by_name(const void *a, const void *b)
{
	const struct rd_kafka_metadata_topic *x = *(const struct rd_kafka_metadata_topic *const *)a;
	const struct rd_kafka_metadata_topic *y = *(const struct rd_kafka_metadata_topic *const *)b;

	return strcmp(x->topic, y->topic);
}

static int
partition_by_id(const void *a, const void *b)
{
	const struct rd_kafka_metadata_partition *x =
	    *(const struct rd_kafka_metadata_partition *const *)a;
	const struct rd_kafka_metadata_partition *y =
	    *(const struct rd_kafka_metadata_partition *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

static void
append_int_array(bson_t *doc, const char *name, const int32_t *values, int n)
{
	bson_t array;
	char buf[16];
	const char *key;
	int i;

	bson_append_array_begin(doc, name, -1, &array);
	for (i = 0; i < n; i++) {
		bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
		bson_append_int32(&array, key, -1, values[i]);
	}
	bson_append_array_end(doc, &array);
}

/*
 * Each topic's effective min.insync.replicas into min_isr[i] (-1 where the
 * cluster does not say, with one warning): it decides whether acks=all
 * writes go on when a broker is lost, and kcat -L does not show it.
 * Asked of `broker`, the one that has just answered: librdkafka would ask
 * the controller the metadata names, which on KRaft is any broker, and
 * for a while after a broker is lost can be that one.
 */
static void
read_min_isr(rd_kafka_t *rk, int32_t broker, const struct rd_kafka_metadata_topic **topics, int n,
             int timeout_ms, int *min_isr)
{
	rd_kafka_ConfigResource_t **resources = calloc((size_t)n, sizeof(*resources));
	rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *options =
	    rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	const rd_kafka_ConfigResource_t **results;
	rd_kafka_event_t *ev;
	char errstr[512], why[512] = "";
	size_t n_results, r, c, n_configs;
	int i;

	for (i = 0; i < n; i++) {
		min_isr[i] = -1;
		resources[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topics[i]->topic);
	}
	rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof(errstr));
	if (broker >= 0)
		rd_kafka_AdminOptions_set_broker(options, broker, errstr, sizeof(errstr));
	rd_kafka_DescribeConfigs(rk, resources, (size_t)n, options, queue);
	ev = admin_wait(queue, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, timeout_ms);
	if (ev == NULL) {
		snprintf(why, sizeof(why), "no answer within %d ms", timeout_ms);
	} else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(why, sizeof(why), "%s", rd_kafka_event_error_string(ev));
	} else {
		results = rd_kafka_DescribeConfigs_result_resources(
		    rd_kafka_event_DescribeConfigs_result(ev), &n_results);
		for (r = 0; r < n_results; r++) {
			const rd_kafka_ConfigEntry_t **configs;

			for (i = 0; i < n; i++)
				if (strcmp(topics[i]->topic, rd_kafka_ConfigResource_name(results[r])) == 0)
					break;
			if (i == n)
				continue;
			if (rd_kafka_ConfigResource_error(results[r]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
				snprintf(why, sizeof(why), "'%s': %s", topics[i]->topic,
				         rd_kafka_ConfigResource_error_string(results[r]));
				continue;
			}
			configs = rd_kafka_ConfigResource_configs(results[r], &n_configs);
			for (c = 0; c < n_configs; c++) {
				const char *value = rd_kafka_ConfigEntry_value(configs[c]);

				if (strcmp(rd_kafka_ConfigEntry_name(configs[c]), "min.insync.replicas") == 0 &&
				    value != NULL)
					min_isr[i] = atoi(value);
			}
		}
	}
	if (why[0] != '\0')
		ecom_warnf("cannot read the topics' min.insync.replicas: %s", why);
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(options);
	rd_kafka_ConfigResource_destroy_array(resources, (size_t)n);
	free(resources);
	rd_kafka_queue_destroy(queue);
}

static void
append_topic(bson_t *doc, const struct rd_kafka_metadata_topic *t, int min_isr)
{
	const struct rd_kafka_metadata_partition **parts;
	bson_t array, child;
	char buf[16];
	const char *key;
	int p;

	BSON_APPEND_UTF8(doc, "topic", t->topic);
	if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		BSON_APPEND_UTF8(doc, "error", rd_kafka_err2str(t->err));
	parts = calloc((size_t)t->partition_cnt + 1, sizeof(*parts));
	for (p = 0; p < t->partition_cnt; p++)
		parts[p] = &t->partitions[p];
	qsort(parts, (size_t)t->partition_cnt, sizeof(*parts), partition_by_id);
	bson_append_array_begin(doc, "partitions", -1, &array);
	for (p = 0; p < t->partition_cnt; p++) {
		bson_uint32_to_string((uint32_t)p, &key, buf, sizeof(buf));
		bson_append_document_begin(&array, key, -1, &child);
		BSON_APPEND_INT32(&child, "partition", parts[p]->id);
		BSON_APPEND_INT32(&child, "leader", parts[p]->leader);
		append_int_array(&child, "replicas", parts[p]->replicas, parts[p]->replica_cnt);
		append_int_array(&child, "isr", parts[p]->isrs, parts[p]->isr_cnt);
		if (parts[p]->err != RD_KAFKA_RESP_ERR_NO_ERROR)
			BSON_APPEND_UTF8(&child, "error", rd_kafka_err2str(parts[p]->err));
		bson_append_document_end(&array, &child);
	}
	bson_append_array_end(doc, &array);
	if (min_isr >= 0)
		BSON_APPEND_INT32(doc, "min_insync_replicas", min_isr);
	free(parts);
}

int
ecom_kafka_describe(rd_kafka_t *rk, const char *topic, int timeout_ms, ecom_kafka_emit_fn emit,
                    void *arg, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	const struct rd_kafka_metadata_broker **brokers = NULL;
	const struct rd_kafka_metadata_topic **topics = NULL;
	int *min_isr = NULL;
	int64_t deadline_us = ecom_monotonic_us() + (int64_t)TOPIC_PROPAGATION_MS * 1000;
	rd_kafka_resp_err_t code;
	bson_t doc, array, child;
	char buf[16];
	const char *key;
	int i, n_topics = 0, rc = -1;

	/* Every topic, filtered here: asking for one by name could create it.
	 * A topic just created may be unknown to the broker asked, for a
	 * moment, on a cluster (see topic_partitions). */
	for (;;) {
		code = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
		if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
			ecom_err_set(err, "cannot read the cluster's metadata within %d ms: %s",
			             timeout_ms, rd_kafka_err2str(code));
			goto out;
		}
		topics = calloc((size_t)md->topic_cnt + 1, sizeof(*topics));
		for (i = 0; i < md->topic_cnt; i++)
			if (topic == NULL || strcmp(md->topics[i].topic, topic) == 0)
				topics[n_topics++] = &md->topics[i];
		if (topic == NULL || n_topics > 0)
			break;
		if (md->broker_cnt <= 1 || ecom_monotonic_us() > deadline_us) {
			ecom_err_set(err, "topic '%s' does not exist", topic);
			goto out;
		}
		free(topics);
		topics = NULL;
		rd_kafka_metadata_destroy(md);
		md = NULL;
		usleep(100000);
	}
	qsort(topics, (size_t)n_topics, sizeof(*topics), topic_by_name);

	brokers = calloc((size_t)md->broker_cnt + 1, sizeof(*brokers));
	for (i = 0; i < md->broker_cnt; i++)
		brokers[i] = &md->brokers[i];
	qsort(brokers, (size_t)md->broker_cnt, sizeof(*brokers), broker_by_id);
	bson_init(&doc);
	bson_append_array_begin(&doc, "brokers", -1, &array);
	for (i = 0; i < md->broker_cnt; i++) {
		bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
		bson_append_document_begin(&array, key, -1, &child);
		BSON_APPEND_INT32(&child, "id", brokers[i]->id);
		BSON_APPEND_UTF8(&child, "host", brokers[i]->host);
		BSON_APPEND_INT32(&child, "port", brokers[i]->port);
		bson_append_document_end(&array, &child);
	}
	bson_append_array_end(&doc, &array);
	i = emit(&doc, arg, err);
	bson_destroy(&doc);
	if (i < 0)
		goto out;

	min_isr = calloc((size_t)n_topics + 1, sizeof(*min_isr));
	if (n_topics > 0)
		read_min_isr(rk, md->orig_broker_id, topics, n_topics, timeout_ms, min_isr);
	for (i = 0; i < n_topics; i++) {
		int emitted;

		bson_init(&doc);
		append_topic(&doc, topics[i], min_isr[i]);
		emitted = emit(&doc, arg, err);
		bson_destroy(&doc);
		if (emitted < 0)
			goto out;
	}
	rc = 0;
out:
	free(min_isr);
	free(brokers);
	free(topics);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	return rc;
}

static void
delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	ecom_producer *p = opaque;

	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* An acknowledgement: whatever was wrong with the brokers is over. */
		client_brokers_back(&p->kc);
		return;
	}
	if (p->failed++ == 0)
		snprintf(p->first_failure, sizeof(p->first_failure), "delivery to '%s' failed: %s",
		         rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

int
ecom_producer_new(ecom_producer **out, const ecom_config *cfg, ecom_err *err)
{
	ecom_producer *p = calloc(1, sizeof(*p));
	rd_kafka_conf_t *conf = NULL;
	char errstr[512], max_bytes[32];
	size_t size = sizeof(max_bytes);

	client_init(&p->kc, cfg);
	if (ecom_kafka_conf(cfg, "producer", &conf, err) < 0)
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
	rd_kafka_conf_set_opaque(conf, p);
	p->max_message_bytes = 1000000;
	if (rd_kafka_conf_get(conf, "message.max.bytes", max_bytes, &size) == RD_KAFKA_CONF_OK)
		p->max_message_bytes = (size_t)strtoul(max_bytes, NULL, 10);
	p->kc.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (p->kc.rk == NULL) {
		rd_kafka_conf_destroy(conf);
		ecom_err_set(err, "cannot create kafka producer: %s", errstr);
		goto fail;
	}
	if (client_check_brokers(&p->kc, false, err) < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	ecom_producer_destroy(p);
	return -1;
}

rd_kafka_t *
ecom_producer_handle(ecom_producer *p)
{
	return p->kc.rk;
}

void
ecom_producer_set_stop(ecom_producer *p, ecom_stop_flag *stop)
{
	p->kc.stop = stop;
}

size_t
ecom_producer_max_message_bytes(const ecom_producer *p)
{
	return p->max_message_bytes;
}

int
ecom_producer_warm(ecom_producer *p, const char *topic, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;

	if (topic_partitions(&p->kc, topic, &md, err) < 0)
		return -1;
	rd_kafka_metadata_destroy(md);
	return 0;
}

int
ecom_producer_send(ecom_producer *p, const char *topic, const char *key, const void *value,
                   size_t len, const char *const *headers, size_t n_headers, ecom_err *err)
{
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_resp_err_t code;
	size_t i;

	if (n_headers > 0) {
		hdrs = rd_kafka_headers_new(n_headers);
		for (i = 0; i < n_headers; i++)
			rd_kafka_header_add(hdrs, headers[2 * i], -1, headers[2 * i + 1], -1);
	}
	for (;;) {
		code = rd_kafka_producev(p->kc.rk, RD_KAFKA_V_TOPIC(topic),
		                         RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
		                         RD_KAFKA_V_VALUE((void *)value, len),
		                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                         RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
		if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		/* Let delivery reports drain the local queue (bounded by
		 * message.timeout.ms while the brokers are away), then retry. */
		rd_kafka_poll(p->kc.rk, 100);
	}
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* On failure the headers were not handed over. */
		if (hdrs != NULL)
			rd_kafka_headers_destroy(hdrs);
		return ecom_err_set(err, "cannot produce to '%s': %s", topic, rd_kafka_err2str(code));
	}
	rd_kafka_poll(p->kc.rk, 0);
	return 0;
}

int
ecom_producer_send_event(ecom_producer *p, const char *topic, const char *order_id,
                         const char *json, size_t len, int64_t order_us, ecom_err *err)
{
	char sent_text[24], order_text[24];
	const char *headers[4] = {ECOM_HDR_SENT_US, sent_text, ECOM_HDR_ORDER_START_US, order_text};

	snprintf(sent_text, sizeof(sent_text), "%" PRId64, ecom_now_us());
	snprintf(order_text, sizeof(order_text), "%" PRId64, order_us);
	return ecom_producer_send(p, topic, order_id, json, len, headers, 2, err);
}

int
ecom_producer_all_acked(ecom_producer *p, ecom_err *err)
{
	rd_kafka_poll(p->kc.rk, 0); /* serve the delivery reports that came */
	if (p->failed > 0) {
		ecom_err_set(err, "%s (%ld message%s not delivered)", p->first_failure, p->failed,
		             p->failed == 1 ? "" : "s");
		p->failed = 0;
		return -1;
	}
	return rd_kafka_outq_len(p->kc.rk) == 0;
}

/* Flush in slices this long, to see a stop request and say what is slow. */
#define FLUSH_SLICE_MS 100

int
ecom_producer_flush(ecom_producer *p, ecom_err *err)
{
	int64_t started = ecom_monotonic_us();
	char reason[1400], note[600];
	int waiting;

	/*
	 * librdkafka resends through a broker restart by itself; this waits
	 * for it, says so once the wait passes timeout_ms, and gives up at
	 * the retry bound.
	 */
	while ((waiting = rd_kafka_outq_len(p->kc.rk)) > 0) {
		rd_kafka_flush(p->kc.rk, FLUSH_SLICE_MS);
		if (p->failed > 0)
			break;
		if (rd_kafka_outq_len(p->kc.rk) == 0)
			break;
		if (p->kc.stop != NULL && *p->kc.stop)
			return ecom_err_set(err, "stopped with %d message%s not acknowledged by the broker",
			                    waiting, waiting == 1 ? "" : "s");
		if (ecom_monotonic_us() - started < (int64_t)p->kc.timeout_ms * 1000)
			continue;
		snprintf(reason, sizeof(reason), "kafka: %d message%s not acknowledged by '%s'%s",
		         waiting, waiting == 1 ? "" : "s", p->kc.brokers,
		         last_error_note(&p->kc, note, sizeof(note)));
		if (ecom_outage_trouble(&p->kc.outage, reason, err) < 0)
			return -1;
	}
	if (p->failed > 0) {
		ecom_err_set(err, "%s (%ld message%s not delivered)", p->first_failure, p->failed,
		             p->failed == 1 ? "" : "s");
		p->failed = 0;
		return -1;
	}
	return 0;
}

void
ecom_producer_destroy(ecom_producer *p)
{
	if (p == NULL)
		return;
	if (p->kc.rk != NULL)
		rd_kafka_destroy(p->kc.rk);
	free(p);
}

/* "ordercreated [0,2,4]" (or "nothing") into buf. */
static void
describe_partitions(const rd_kafka_topic_partition_list_t *parts, char *buf, size_t size)
{
	size_t used = 0;
	int i;

	snprintf(buf, size, "nothing");
	for (i = 0; i < parts->cnt && used < size; i++) {
		bool new_topic = i == 0 || strcmp(parts->elems[i - 1].topic, parts->elems[i].topic) != 0;

		if (new_topic)
			used += (size_t)snprintf(buf + used, size - used, "%s%s [", i ? "] " : "",
			                         parts->elems[i].topic);
		else
			used += (size_t)snprintf(buf + used, size - used, ",");
		if (used < size)
			used += (size_t)snprintf(buf + used, size - used, "%" PRId32,
			                         parts->elems[i].partition);
	}
	if (parts->cnt > 0 && used < size)
		snprintf(buf + used, size - used, "]");
}

/*
 * Rebalances are said, for a user watching several instances share the
 * partitions: "consumer group 'ecom-payment': assigned ordercreated [0,2,4]".
 */
static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t code, rd_kafka_topic_partition_list_t *parts,
             void *opaque)
{
	const kafka_client *kc = opaque;
	char list[512];

	describe_partitions(parts, list, sizeof(list));
	if (code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		((kafka_client *)opaque)->assigned = true;
		((kafka_client *)opaque)->assigned_nothing_us = parts->cnt == 0 ? ecom_monotonic_us() : 0;
		if (kc->announce_rebalances)
			ecom_infof("consumer group '%s': assigned %s", kc->group, list);
		else
			ecom_debugf("consumer group '%s': assigned %s", kc->group, list);
		rd_kafka_assign(rk, parts);
	} else {
		ecom_debugf("consumer group '%s': revoked %s", kc->group, list);
		rd_kafka_assign(rk, NULL);
	}
}

static ecom_consumer *
consumer_alloc(const ecom_config *cfg)
{
	ecom_consumer *c = calloc(1, sizeof(*c));

	client_init(&c->kc, cfg);
	return c;
}

static int
consumer_start(ecom_consumer *c, rd_kafka_conf_t *conf, ecom_err *err)
{
	char errstr[512];

	c->kc.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (c->kc.rk == NULL) {
		rd_kafka_conf_destroy(conf);
		return ecom_err_set(err, "cannot create kafka consumer: %s", errstr);
	}
	rd_kafka_poll_set_consumer(c->kc.rk);
	return client_check_brokers(&c->kc, true, err);
}

/*
 * The partitions of an existing topic; destroy *md after use.  On a
 * cluster the broker asked may not know yet a topic created a moment ago
 * (by this process or another): there "unknown" is asked again for up to
 * TOPIC_PROPAGATION_MS before it counts as "does not exist".
 */
static int
topic_partitions(kafka_client *kc, const char *topic, const struct rd_kafka_metadata **md,
                 ecom_err *err)
{
	int64_t deadline_us = ecom_monotonic_us() + (int64_t)TOPIC_PROPAGATION_MS * 1000;

	for (;;) {
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(kc->rk, topic, NULL);
		rd_kafka_resp_err_t code = rd_kafka_metadata(kc->rk, 0, rkt, md, kc->timeout_ms);
		bool cluster;

		rd_kafka_topic_destroy(rkt);
		if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
			*md = NULL;
			return ecom_err_set(err, "topic '%s': %s", topic, rd_kafka_err2str(code));
		}
		if ((*md)->topic_cnt == 1 && (*md)->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
		    (*md)->topics[0].partition_cnt > 0)
			return 0;
		cluster = (*md)->broker_cnt > 1;
		rd_kafka_metadata_destroy(*md);
		*md = NULL;
		if (!cluster || ecom_monotonic_us() > deadline_us)
			return ecom_err_set(err, "topic '%s' does not exist", topic);
		usleep(100000);
	}
}

int
ecom_consumer_new(ecom_consumer **out, const ecom_config *cfg, const char *group,
                  const char *const *topics, size_t n, const char *offset_reset, ecom_err *err)
{
	ecom_consumer *c = consumer_alloc(cfg);
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_topic_partition_list_t *subscription = NULL;
	rd_kafka_resp_err_t code;
	size_t i;

	if (ecom_kafka_conf(cfg, "consumer", &conf, err) < 0)
		goto fail;
	if (conf_set(conf, "group.id", group, err) < 0 ||
	    conf_set(conf, "auto.offset.reset", offset_reset, err) < 0) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_opaque(conf, c);
	snprintf(c->kc.group, sizeof(c->kc.group), "%s", group);
	if (consumer_start(c, conf, err) < 0)
		goto fail;
	/* A topic that does not exist would be waited for in silence. */
	for (i = 0; i < n; i++) {
		const struct rd_kafka_metadata *md;

		if (topic_partitions(&c->kc, topics[i], &md, err) < 0)
			goto fail;
		rd_kafka_metadata_destroy(md);
	}
	subscription = rd_kafka_topic_partition_list_new((int)n);
	for (i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(subscription, topics[i], RD_KAFKA_PARTITION_UA);
	code = rd_kafka_subscribe(c->kc.rk, subscription);
	c->subscription = subscription;
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "cannot subscribe: %s", rd_kafka_err2str(code));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ecom_consumer_destroy(c);
	return -1;
}

int
ecom_consumer_new_assign(ecom_consumer **out, const ecom_config *cfg, const char *topic,
                         int64_t start_offset, ecom_err *err)
{
	ecom_consumer *c = consumer_alloc(cfg);
	rd_kafka_conf_t *conf = NULL;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *assignment = NULL;
	rd_kafka_resp_err_t code;
	char group[64];
	int p;

	if (ecom_kafka_conf(cfg, "consumer", &conf, err) < 0)
		goto fail;
	/* No group offsets are used or committed: reading is not consuming. */
	snprintf(group, sizeof(group), "ecom-reader-%ld", (long)getpid());
	if (conf_set(conf, "group.id", group, err) < 0 ||
	    conf_set(conf, "enable.auto.commit", "false", err) < 0) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	rd_kafka_conf_set_opaque(conf, c);
	if (consumer_start(c, conf, err) < 0 || topic_partitions(&c->kc, topic, &md, err) < 0)
		goto fail;
	assignment = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (p = 0; p < md->topics[0].partition_cnt; p++)
		rd_kafka_topic_partition_list_add(assignment, topic, md->topics[0].partitions[p].id)
		    ->offset = start_offset;
	code = rd_kafka_assign(c->kc.rk, assignment);
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "cannot read '%s': %s", topic, rd_kafka_err2str(code));
		goto fail;
	}
	rd_kafka_topic_partition_list_destroy(assignment);
	rd_kafka_metadata_destroy(md);
	*out = c;
	return 0;
fail:
	if (assignment != NULL)
		rd_kafka_topic_partition_list_destroy(assignment);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	ecom_consumer_destroy(c);
	return -1;
}

void
ecom_consumer_announce_rebalances(ecom_consumer *c)
{
	c->kc.announce_rebalances = true;
}

bool
ecom_consumer_assigned(const ecom_consumer *c)
{
	return c->kc.assigned;
}

bool
ecom_consumer_brokers_down(const ecom_consumer *c)
{
	return c->kc.down_since_us != 0;
}

void
ecom_consumer_set_stop(ecom_consumer *c, ecom_stop_flag *stop)
{
	c->kc.stop = stop;
}

int
ecom_consumer_read_to_end(ecom_consumer *c, const char *topic, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	int p, rc = -1;

	if (topic_partitions(&c->kc, topic, &md, err) < 0)
		return -1;
	c->end_count = md->topics[0].partition_cnt;
	c->end = calloc((size_t)c->end_count, sizeof(*c->end));
	c->ended = 0;
	for (p = 0; p < c->end_count; p++) {
		int64_t low, high;
		int32_t id = md->topics[0].partitions[p].id;
		rd_kafka_resp_err_t code =
		    partition_watermarks(c->kc.rk, topic, id, c->kc.timeout_ms, &low, &high);

		if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
			ecom_err_set(err, "topic '%s' partition %d: %s", topic, id,
			             rd_kafka_err2str(code));
			goto out;
		}
		c->end[p].partition = id;
		c->end[p].offset = high;
		c->end[p].reached = high <= low; /* nothing there to read */
		c->ended += c->end[p].reached;
	}
	rc = 0;
out:
	rd_kafka_metadata_destroy(md);
	return rc;
}

/* The end of m's partition, when reading to the end; NULL otherwise. */
static struct partition_end *
end_of(ecom_consumer *c, int32_t partition)
{
	int i;

	for (i = 0; i < c->end_count; i++) {
		if (c->end[i].partition == partition)
			return &c->end[i];
	}
	return NULL;
}

static void
mark_reached(ecom_consumer *c, struct partition_end *end, int64_t next_offset)
{
	if (end != NULL && !end->reached && next_offset >= end->offset) {
		end->reached = true;
		c->ended++;
	}
}

/*
 * What to do with what the consumer returned: 1, a message to hand out;
 * 0, nothing to hand out (an end of partition, a message past the end
 * being read to, an error librdkafka recovers from by itself); -1, a
 * fatal error, in err.
 */
enum polled { POLLED_FATAL = -1, POLLED_NOTHING = 0, POLLED_MESSAGE = 1 };

static enum polled
take_polled(ecom_consumer *c, rd_kafka_message_t *m, ecom_err *err)
{
	struct partition_end *end = c->end != NULL ? end_of(c, m->partition) : NULL;

	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		client_brokers_back(&c->kc);
		if (end != NULL && m->offset >= end->offset)
			return POLLED_NOTHING; /* produced after reading started */
		mark_reached(c, end, m->offset + 1);
		return POLLED_MESSAGE;
	}
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		mark_reached(c, end, m->offset);
		return POLLED_NOTHING;
	}
	if (m->err == RD_KAFKA_RESP_ERR__FATAL || m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
	    m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
		ecom_err_set(err, "kafka: %s", rd_kafka_message_errstr(m));
		return POLLED_FATAL;
	}
	/* Transient (broker restarting, topic being created): librdkafka retries. */
	ecom_debugf("kafka: %s", rd_kafka_message_errstr(m));
	return POLLED_NOTHING;
}

/*
 * A group gives a member no partition only when it has more members than
 * the topic has partitions.  On a cluster, a topic deleted and created
 * again a moment before (a reset) can be missing from the metadata its
 * group's leader assigned from, and librdkafka 2.0 then kept the empty
 * assignment for minutes (seen: 0 of 6 partitions for the group's only
 * member, the flow stalled).  So after EMPTY_RECHECK_US with nothing,
 * count the group's members and the topics' partitions, and with no more
 * members than partitions join again.
 */
static void
rejoin_if_wrongly_empty(ecom_consumer *c)
{
	const struct rd_kafka_group_list *groups = NULL;
	int64_t now = ecom_monotonic_us();
	int members = 0, partitions = 0, i;

	if (c->subscription == NULL || c->kc.assigned_nothing_us == 0 ||
	    now - c->kc.assigned_nothing_us < EMPTY_RECHECK_US ||
	    now - c->empty_checked_us < EMPTY_RECHECK_US)
		return;
	c->empty_checked_us = now;
	if (rd_kafka_list_groups(c->kc.rk, c->kc.group, &groups, LAG_TIMEOUT_MS) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	/* Mid-rebalance the count means nothing: ask again next time. */
	if (groups->group_cnt == 1 && strcmp(groups->groups[0].state, "Stable") == 0)
		members = groups->groups[0].member_cnt;
	rd_kafka_group_list_destroy(groups);
	for (i = 0; members > 0 && i < c->subscription->cnt; i++) {
		const struct rd_kafka_metadata *md = NULL;
		ecom_err ignored;

		if (topic_partitions(&c->kc, c->subscription->elems[i].topic, &md, &ignored) == 0) {
			if (md->topics[0].partition_cnt > partitions)
				partitions = md->topics[0].partition_cnt;
			rd_kafka_metadata_destroy(md);
		}
	}
	if (members == 0 || partitions < members)
		return;
	ecom_warnf("consumer group '%s': assigned nothing, although its %d member(s) share %d "
	           "partition(s); joining the group again",
	           c->kc.group, members, partitions);
	c->kc.assigned_nothing_us = 0;
	rd_kafka_unsubscribe(c->kc.rk);
	rd_kafka_subscribe(c->kc.rk, c->subscription);
}

int
ecom_consumer_poll_batch(ecom_consumer *c, rd_kafka_message_t **msgs, size_t max, int timeout_ms,
                         size_t *n, bool *eof, ecom_err *err)
{
	rd_kafka_message_t *m;
	size_t count = 0;
	int wait_ms = timeout_ms;

	while (count < max && !(c->end != NULL && c->ended == c->end_count)) {
		enum polled what;

		m = rd_kafka_consumer_poll(c->kc.rk, wait_ms);
		if (m == NULL)
			break;
		what = take_polled(c, m, err);
		if (what == POLLED_FATAL) {
			rd_kafka_message_destroy(m);
			goto fail;
		}
		if (what == POLLED_NOTHING) {
			rd_kafka_message_destroy(m);
			continue;
		}
		msgs[count++] = m;
		wait_ms = 0; /* take what is already here, wait no more */
	}
	if (count == 0 && client_check_outage(&c->kc, err) < 0)
		goto fail;
	if (count == 0)
		rejoin_if_wrongly_empty(c);
	*n = count;
	if (eof != NULL)
		*eof = c->end != NULL && c->ended == c->end_count;
	return 0;
fail:
	while (count > 0)
		rd_kafka_message_destroy(msgs[--count]);
	*n = 0;
	return -1;
}

/* The next offset to read after msgs, per partition, into list. */
static void
add_next_offsets(rd_kafka_topic_partition_list_t *list, rd_kafka_message_t *const *msgs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
		rd_kafka_topic_partition_t *tp =
		    rd_kafka_topic_partition_list_find(list, topic, msgs[i]->partition);

		/* rd_kafka_offsets_store stores what it is given: the next offset to read. */
		if (tp == NULL)
			tp = rd_kafka_topic_partition_list_add(list, topic, msgs[i]->partition);
		if (msgs[i]->offset + 1 > tp->offset)
			tp->offset = msgs[i]->offset + 1;
	}
}

static int
store_offsets(ecom_consumer *c, rd_kafka_topic_partition_list_t *offsets, ecom_err *err)
{
	rd_kafka_resp_err_t code = rd_kafka_offsets_store(c->kc.rk, offsets);

	/* __STATE: the partition was revoked meanwhile; its next owner re-reads. */
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR__STATE)
		return ecom_err_set(err, "cannot store offsets: %s", rd_kafka_err2str(code));
	return 0;
}

int
ecom_consumer_store(ecom_consumer *c, rd_kafka_message_t *const *msgs, size_t n, ecom_err *err)
{
	rd_kafka_topic_partition_list_t *offsets;
	int rc;

	if (n == 0)
		return 0;
	offsets = rd_kafka_topic_partition_list_new((int)n);
	add_next_offsets(offsets, msgs, n);
	rc = store_offsets(c, offsets, err);
	rd_kafka_topic_partition_list_destroy(offsets);
	return rc;
}

void
ecom_consumer_defer(ecom_consumer *c, rd_kafka_message_t *const *msgs, size_t n)
{
	if (n == 0)
		return;
	if (c->deferred == NULL)
		c->deferred = rd_kafka_topic_partition_list_new((int)n);
	if (c->deferred_since_us == 0)
		c->deferred_since_us = ecom_monotonic_us();
	add_next_offsets(c->deferred, msgs, n);
}

int64_t
ecom_consumer_deferred_since(const ecom_consumer *c)
{
	return c->deferred_since_us;
}

int
ecom_consumer_store_deferred(ecom_consumer *c, ecom_err *err)
{
	int rc;

	if (c->deferred_since_us == 0)
		return 0;
	rc = store_offsets(c, c->deferred, err);
	rd_kafka_topic_partition_list_destroy(c->deferred);
	c->deferred = NULL;
	c->deferred_since_us = 0;
	return rc;
}

int
ecom_consumer_commit(ecom_consumer *c, ecom_err *err)
{
	rd_kafka_resp_err_t code = rd_kafka_commit(c->kc.rk, NULL, 0);

	if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR__NO_OFFSET)
		return ecom_err_set(err, "cannot commit offsets: %s", rd_kafka_err2str(code));
	return 0;
}

void
ecom_consumer_destroy(ecom_consumer *c)
{
	if (c == NULL)
		return;
	if (c->kc.rk != NULL) {
		rd_kafka_consumer_close(c->kc.rk);
		rd_kafka_destroy(c->kc.rk);
	}
	free(c->end);
	if (c->deferred != NULL)
		rd_kafka_topic_partition_list_destroy(c->deferred);
	if (c->subscription != NULL)
		rd_kafka_topic_partition_list_destroy(c->subscription);
	free(c);
}

int64_t
ecom_message_header_int(const rd_kafka_message_t *m, const char *name)
{
	rd_kafka_headers_t *hdrs = NULL;
	const void *value;
	size_t size;
	char buf[32];

	if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	if (rd_kafka_header_get_last(hdrs, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    value == NULL || size == 0 || size >= sizeof(buf))
		return -1;
	memcpy(buf, value, size);
	buf[size] = '\0';
	return strtoll(buf, NULL, 10);
}
