/*
 * librdkafka set-up shared by every command: latency-first defaults, the
 * user's properties on top, bounded checks so an unreachable broker is an
 * error within timeout_ms instead of librdkafka's silent retrying.
 */
#include "ecom_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * Defaults for a pipeline with one order in flight: every hop would
 * otherwise pay linger.ms=5, Nagle, and up to fetch.wait.max.ms=500.
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
	{"fetch.wait.max.ms", "5"},
	{"socket.nagle.disable", "true"},
	{"enable.auto.offset.store", "false"},
	{"enable.auto.commit", "true"},
	{"auto.commit.interval.ms", "1000"},
	{"session.timeout.ms", "6000"},
	{"heartbeat.interval.ms", "1000"},
	{"enable.partition.eof", "true"},
};

struct ecom_producer {
	rd_kafka_t *rk;
	int timeout_ms;
	/* Written by the delivery report callback, read after flush. */
	long failed;
	char first_failure[512];
};

struct ecom_consumer {
	rd_kafka_t *rk;
	int timeout_ms;
	/* Partitions currently at their end, for -e. */
	int *eof_by_partition;
	int partitions_at_eof;
	int max_partitions;
};

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *facility, const char *message)
{
	(void)rk;
	/* librdkafka is chatty about brokers it cannot reach yet; our bounded
	 * checks report that.  Show its warnings only when asked (-v). */
	if (level <= 3 || ecom_log_level() >= ECOM_LOG_DEBUG)
		ecom_debugf("kafka: %s: %s", facility, message);
}

static int
conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, ecom_err *err)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		return ecom_err_set(err, "kafka property '%s=%s': %s (see '-X list')", key, value,
		                    errstr);
	return 0;
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
	if (conf_set(conf, "bootstrap.servers", cfg->brokers, err) < 0)
		goto fail;
	for (i = 0; i < n_defaults; i++)
		if (conf_set(conf, defaults[i][0], defaults[i][1], err) < 0)
			goto fail;
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

void
ecom_kafka_print_properties(void)
{
	rd_kafka_conf_properties_show(stdout);
}

int
ecom_kafka_check_brokers(rd_kafka_t *rk, const ecom_config *cfg, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t rc;

	rc = rd_kafka_metadata(rk, 0, NULL, &md, cfg->timeout_ms);
	if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
		return ecom_err_set(err,
		                    "cannot reach kafka broker '%s' within %d ms: %s (is it running? "
		                    "check -b or ECOM_KAFKA_BROKERS)",
		                    cfg->brokers, cfg->timeout_ms, rd_kafka_err2str(rc));
	rd_kafka_metadata_destroy(md);
	return 0;
}

/* Run one admin request and wait for its result event. */
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

/* Wait until the metadata shows every topic with leaders (or none of them). */
static int
wait_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int want_present, int timeout_ms,
            ecom_err *err)
{
	int64_t deadline = monotonic_ms() + timeout_ms;

	for (;;) {
		const struct rd_kafka_metadata *md = NULL;
		size_t i, matched = 0;
		int t;

		if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			for (i = 0; i < n; i++) {
				int found = 0;

				for (t = 0; t < md->topic_cnt; t++) {
					if (strcmp(md->topics[t].topic, topics[i]) != 0)
						continue;
					if (md->topics[t].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
					    md->topics[t].partition_cnt > 0 &&
					    md->topics[t].partitions[0].leader >= 0)
						found = 1;
				}
				if (found == want_present)
					matched++;
			}
			rd_kafka_metadata_destroy(md);
			if (matched == n)
				return 0;
		}
		if (monotonic_ms() > deadline)
			return ecom_err_set(err, "topics not %s after %d ms",
			                    want_present ? "ready" : "gone", timeout_ms);
		rd_kafka_poll(rk, 50);
	}
}

int
ecom_kafka_ensure_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                         int timeout_ms, ecom_err *err)
{
	rd_kafka_NewTopic_t **new_topics = calloc(n, sizeof(*new_topics));
	rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *options = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_topic_result_t **results;
	char errstr[512];
	size_t i, n_results;
	int rc = -1;

	for (i = 0; i < n; i++) {
		/* -1: the broker's default replication factor, 1 on a dev broker,
		 * 3 on a cluster set up as documented. */
		new_topics[i] = rd_kafka_NewTopic_new(topics[i], partitions, -1, errstr, sizeof(errstr));
		if (new_topics[i] == NULL) {
			ecom_err_set(err, "topic '%s': %s", topics[i], errstr);
			goto out;
		}
	}
	options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof(errstr));
	rd_kafka_CreateTopics(rk, new_topics, n, options, queue);
	ev = admin_wait(queue, RD_KAFKA_EVENT_CREATETOPICS_RESULT, timeout_ms);
	if (ev == NULL) {
		ecom_err_set(err, "creating topics: no answer from the broker within %d ms", timeout_ms);
		goto out;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "creating topics: %s", rd_kafka_event_error_string(ev));
		goto out;
	}
	results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev),
	                                              &n_results);
	for (i = 0; i < n_results; i++) {
		rd_kafka_resp_err_t code = rd_kafka_topic_result_error(results[i]);

		if (code != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			ecom_err_set(err, "cannot create topic '%s': %s",
			             rd_kafka_topic_result_name(results[i]),
			             rd_kafka_topic_result_error_string(results[i]));
			goto out;
		}
	}
	rc = wait_topics(rk, topics, n, 1, timeout_ms, err);
out:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (options != NULL)
		rd_kafka_AdminOptions_destroy(options);
	for (i = 0; i < n; i++)
		if (new_topics[i] != NULL)
			rd_kafka_NewTopic_destroy(new_topics[i]);
	free(new_topics);
	rd_kafka_queue_destroy(queue);
	return rc;
}

int
ecom_kafka_delete_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int timeout_ms,
                         ecom_err *err)
{
	rd_kafka_DeleteTopic_t **del = calloc(n, sizeof(*del));
	rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *options;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_topic_result_t **results;
	char errstr[512];
	size_t i, n_results;
	int rc = -1;

	for (i = 0; i < n; i++)
		del[i] = rd_kafka_DeleteTopic_new(topics[i]);
	options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
	rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof(errstr));
	rd_kafka_DeleteTopics(rk, del, n, options, queue);
	ev = admin_wait(queue, RD_KAFKA_EVENT_DELETETOPICS_RESULT, timeout_ms);
	if (ev == NULL) {
		ecom_err_set(err, "deleting topics: no answer from the broker within %d ms", timeout_ms);
		goto out;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "deleting topics: %s", rd_kafka_event_error_string(ev));
		goto out;
	}
	results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev),
	                                              &n_results);
	for (i = 0; i < n_results; i++) {
		rd_kafka_resp_err_t code = rd_kafka_topic_result_error(results[i]);

		if (code != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    code != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
			ecom_err_set(err, "cannot delete topic '%s': %s",
			             rd_kafka_topic_result_name(results[i]),
			             rd_kafka_topic_result_error_string(results[i]));
			goto out;
		}
	}
	rc = wait_topics(rk, topics, n, 0, timeout_ms, err);
out:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(options);
	rd_kafka_DeleteTopic_destroy_array(del, n);
	free(del);
	rd_kafka_queue_destroy(queue);
	return rc;
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

		code = rd_kafka_query_watermark_offsets(rk, topic, md->topics[0].partitions[p].id, &low,
		                                        &high, timeout_ms);
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

static void
delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	ecom_producer *p = opaque;

	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (p->failed++ == 0)
		snprintf(p->first_failure, sizeof(p->first_failure), "delivery to '%s' failed: %s",
		         rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

int
ecom_producer_new(ecom_producer **out, const ecom_config *cfg, ecom_err *err)
{
	ecom_producer *p = calloc(1, sizeof(*p));
	rd_kafka_conf_t *conf = NULL;
	char errstr[512];

	if (ecom_kafka_conf(cfg, "producer", &conf, err) < 0)
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
	rd_kafka_conf_set_opaque(conf, p);
	p->timeout_ms = cfg->timeout_ms;
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (p->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		ecom_err_set(err, "cannot create kafka producer: %s", errstr);
		goto fail;
	}
	if (ecom_kafka_check_brokers(p->rk, cfg, err) < 0)
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
	return p->rk;
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
		code = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
		                         RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
		                         RD_KAFKA_V_VALUE((void *)value, len),
		                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                         RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
		if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		/* Let delivery reports drain the local queue, then retry. */
		rd_kafka_poll(p->rk, 100);
	}
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* On failure the headers were not handed over. */
		if (hdrs != NULL)
			rd_kafka_headers_destroy(hdrs);
		return ecom_err_set(err, "cannot produce to '%s': %s", topic, rd_kafka_err2str(code));
	}
	rd_kafka_poll(p->rk, 0);
	return 0;
}

int
ecom_producer_flush(ecom_producer *p, int timeout_ms, ecom_err *err)
{
	rd_kafka_resp_err_t code = rd_kafka_flush(p->rk, timeout_ms);

	if (p->failed > 0) {
		ecom_err_set(err, "%s (%ld message%s not delivered)", p->first_failure, p->failed,
		             p->failed == 1 ? "" : "s");
		p->failed = 0;
		return -1;
	}
	if (code == RD_KAFKA_RESP_ERR__TIMED_OUT)
		return ecom_err_set(err,
		                    "%d message%s not acknowledged by the broker within %d ms",
		                    rd_kafka_outq_len(p->rk), rd_kafka_outq_len(p->rk) == 1 ? "" : "s",
		                    timeout_ms);
	return 0;
}

void
ecom_producer_destroy(ecom_producer *p)
{
	if (p == NULL)
		return;
	if (p->rk != NULL)
		rd_kafka_destroy(p->rk);
	free(p);
}

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t code, rd_kafka_topic_partition_list_t *parts,
             void *opaque)
{
	ecom_consumer *c = opaque;

	/* Partition EOF bookkeeping starts over with every new assignment. */
	memset(c->eof_by_partition, 0, sizeof(int) * (size_t)c->max_partitions);
	c->partitions_at_eof = 0;
	if (code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
		rd_kafka_assign(rk, parts);
	else
		rd_kafka_assign(rk, NULL);
}

static ecom_consumer *
consumer_alloc(const ecom_config *cfg)
{
	ecom_consumer *c = calloc(1, sizeof(*c));

	c->timeout_ms = cfg->timeout_ms;
	c->max_partitions = 1024;
	c->eof_by_partition = calloc((size_t)c->max_partitions, sizeof(int));
	return c;
}

static int
consumer_start(ecom_consumer *c, rd_kafka_conf_t *conf, const ecom_config *cfg, ecom_err *err)
{
	char errstr[512];

	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (c->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		return ecom_err_set(err, "cannot create kafka consumer: %s", errstr);
	}
	rd_kafka_poll_set_consumer(c->rk);
	return ecom_kafka_check_brokers(c->rk, cfg, err);
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
	if (consumer_start(c, conf, cfg, err) < 0)
		goto fail;
	subscription = rd_kafka_topic_partition_list_new((int)n);
	for (i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(subscription, topics[i], RD_KAFKA_PARTITION_UA);
	code = rd_kafka_subscribe(c->rk, subscription);
	rd_kafka_topic_partition_list_destroy(subscription);
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
	rd_kafka_topic_t *rkt = NULL;
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
	if (consumer_start(c, conf, cfg, err) < 0)
		goto fail;
	rkt = rd_kafka_topic_new(c->rk, topic, NULL);
	code = rd_kafka_metadata(c->rk, 0, rkt, &md, cfg->timeout_ms);
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "topic '%s': %s", topic, rd_kafka_err2str(code));
		goto fail;
	}
	if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    md->topics[0].partition_cnt == 0) {
		ecom_err_set(err, "topic '%s' does not exist", topic);
		goto fail;
	}
	assignment = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (p = 0; p < md->topics[0].partition_cnt; p++)
		rd_kafka_topic_partition_list_add(assignment, topic, md->topics[0].partitions[p].id)
		    ->offset = start_offset;
	code = rd_kafka_assign(c->rk, assignment);
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "cannot read '%s': %s", topic, rd_kafka_err2str(code));
		goto fail;
	}
	rd_kafka_topic_partition_list_destroy(assignment);
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	*out = c;
	return 0;
fail:
	if (assignment != NULL)
		rd_kafka_topic_partition_list_destroy(assignment);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	if (rkt != NULL)
		rd_kafka_topic_destroy(rkt);
	ecom_consumer_destroy(c);
	return -1;
}

rd_kafka_t *
ecom_consumer_handle(ecom_consumer *c)
{
	return c->rk;
}

static int
assignment_size(ecom_consumer *c)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	int size = 0;

	if (rd_kafka_assignment(c->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		size = parts->cnt;
		rd_kafka_topic_partition_list_destroy(parts);
	}
	return size;
}

/* Returns 1 if m was a message to hand out, 0 if it was consumed here, -1 on a fatal error. */
static int
classify(ecom_consumer *c, rd_kafka_message_t *m, ecom_err *err)
{
	int partition = m->partition;

	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (partition >= 0 && partition < c->max_partitions && c->eof_by_partition[partition]) {
			c->eof_by_partition[partition] = 0;
			c->partitions_at_eof--;
		}
		return 1;
	}
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		if (partition >= 0 && partition < c->max_partitions && !c->eof_by_partition[partition]) {
			c->eof_by_partition[partition] = 1;
			c->partitions_at_eof++;
		}
		return 0;
	}
	if (m->err == RD_KAFKA_RESP_ERR__FATAL || m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
	    m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
		ecom_err_set(err, "kafka: %s", rd_kafka_message_errstr(m));
		return -1;
	}
	/* Transient (broker restarting, topic being created): librdkafka retries. */
	ecom_debugf("kafka: %s", rd_kafka_message_errstr(m));
	return 0;
}

int
ecom_consumer_poll_batch(ecom_consumer *c, rd_kafka_message_t **msgs, size_t max, int timeout_ms,
                         size_t *n, bool *eof, ecom_err *err)
{
	rd_kafka_message_t *m;
	size_t count = 0;
	int wait_ms = timeout_ms;

	while (count < max) {
		int kind;

		m = rd_kafka_consumer_poll(c->rk, wait_ms);
		if (m == NULL)
			break;
		kind = classify(c, m, err);
		if (kind < 0) {
			rd_kafka_message_destroy(m);
			goto fail;
		}
		if (kind == 0) {
			rd_kafka_message_destroy(m);
			if (count == 0 && c->partitions_at_eof > 0 &&
			    c->partitions_at_eof >= assignment_size(c))
				break;
			continue;
		}
		msgs[count++] = m;
		wait_ms = 0; /* take what is already here, wait no more */
	}
	*n = count;
	if (eof != NULL) {
		int assigned = c->partitions_at_eof > 0 ? assignment_size(c) : -1;

		*eof = count == 0 && assigned > 0 && c->partitions_at_eof >= assigned;
	}
	return 0;
fail:
	while (count > 0)
		rd_kafka_message_destroy(msgs[--count]);
	*n = 0;
	return -1;
}

int
ecom_consumer_store(ecom_consumer *c, rd_kafka_message_t *const *msgs, size_t n, ecom_err *err)
{
	rd_kafka_topic_partition_list_t *offsets;
	rd_kafka_resp_err_t code;
	size_t i;

	if (n == 0)
		return 0;
	offsets = rd_kafka_topic_partition_list_new((int)n);
	for (i = 0; i < n; i++) {
		const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
		rd_kafka_topic_partition_t *tp =
		    rd_kafka_topic_partition_list_find(offsets, topic, msgs[i]->partition);

		/* rd_kafka_offsets_store stores what it is given: the next offset to read. */
		if (tp == NULL)
			tp = rd_kafka_topic_partition_list_add(offsets, topic, msgs[i]->partition);
		if (msgs[i]->offset + 1 > tp->offset)
			tp->offset = msgs[i]->offset + 1;
	}
	code = rd_kafka_offsets_store(c->rk, offsets);
	rd_kafka_topic_partition_list_destroy(offsets);
	/* __STATE: the partition was revoked meanwhile; its next owner re-reads. */
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR__STATE)
		return ecom_err_set(err, "cannot store offsets: %s", rd_kafka_err2str(code));
	return 0;
}

int
ecom_consumer_commit(ecom_consumer *c, ecom_err *err)
{
	rd_kafka_resp_err_t code = rd_kafka_commit(c->rk, NULL, 0);

	if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR__NO_OFFSET)
		return ecom_err_set(err, "cannot commit offsets: %s", rd_kafka_err2str(code));
	return 0;
}

void
ecom_consumer_destroy(ecom_consumer *c)
{
	if (c == NULL)
		return;
	if (c->rk != NULL) {
		rd_kafka_consumer_close(c->rk);
		rd_kafka_destroy(c->rk);
	}
	free(c->eof_by_partition);
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
