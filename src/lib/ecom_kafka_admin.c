/*
 * Admin work on a client of its own: topics created and deleted, a
 * topic's size, a group's lag, and the metadata of a topic that may be
 * new to the broker asked.
 */
#include "ecom_kafka_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecom_alloc.h"
#include "ecom_time.h"

/* A producer-type client that sends nothing: it only asks. */
struct ecom_kafka_admin {
	kafka_client kc; /* first: the callbacks' opaque */
};

int
ecom_kafka_admin_new(ecom_kafka_admin **out, const ecom_config *cfg, ecom_err *err)
{
	ecom_kafka_admin *a = ecom_xcalloc(1, sizeof(*a));
	rd_kafka_conf_t *conf = NULL;
	char errstr[512];

	kafka_client_init(&a->kc, cfg);
	if (ecom_kafka_conf(cfg, "producer", &conf, err) < 0)
		goto fail;
	rd_kafka_conf_set_opaque(conf, a);
	/* Nobody polls an admin client between its questions: its statistics would pile up. */
	if (kafka_conf_set(conf, "statistics.interval.ms", "0", err) < 0) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	a->kc.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (a->kc.rk == NULL) {
		rd_kafka_conf_destroy(conf);
		ecom_err_set(err, "cannot create kafka client: %s", errstr);
		goto fail;
	}
	if (kafka_client_check_brokers(&a->kc, false, err) < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	ecom_kafka_admin_destroy(a);
	return -1;
}

rd_kafka_t *
ecom_kafka_admin_handle(ecom_kafka_admin *a)
{
	return a->kc.rk;
}

void
ecom_kafka_admin_destroy(ecom_kafka_admin *a)
{
	if (a == NULL)
		return;
	if (a->kc.rk != NULL)
		rd_kafka_destroy(a->kc.rk);
	free(a);
}

/* Whether md knows topic: asked by name, with partitions; in a list of every topic, listed. */
static bool
topic_known(const struct rd_kafka_metadata *md, const char *topic, bool all_topics)
{
	int i;

	if (!all_topics)
		return md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
		       md->topics[0].partition_cnt > 0;
	for (i = 0; i < md->topic_cnt; i++)
		if (strcmp(md->topics[i].topic, topic) == 0)
			return true;
	return false;
}

/*
 * On a cluster the broker asked may not know yet a topic created a
 * moment ago (by this process or another): there "unknown" is asked
 * again for up to TOPIC_PROPAGATION_MS before it counts as "does not
 * exist".  One broker knows at once.
 */
int
ecom_kafka_topic_metadata(rd_kafka_t *rk, const char *topic, bool all_topics, int timeout_ms,
                          const struct rd_kafka_metadata **md, ecom_err *err)
{
	int64_t deadline_us = ecom_monotonic_us() + (int64_t)TOPIC_PROPAGATION_MS * 1000;

	for (;;) {
		rd_kafka_topic_t *rkt = all_topics ? NULL : rd_kafka_topic_new(rk, topic, NULL);
		rd_kafka_resp_err_t code = rd_kafka_metadata(rk, all_topics, rkt, md, timeout_ms);
		bool cluster;

		if (rkt != NULL)
			rd_kafka_topic_destroy(rkt);
		if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
			*md = NULL;
			if (all_topics)
				return ecom_err_set(err, "cannot read the cluster's metadata within %d ms: %s",
				                    timeout_ms, rd_kafka_err2str(code));
			return ecom_err_set(err, "topic '%s': %s", topic, rd_kafka_err2str(code));
		}
		if (topic == NULL || topic_known(*md, topic, all_topics))
			return 0;
		cluster = (*md)->broker_cnt > 1;
		rd_kafka_metadata_destroy(*md);
		*md = NULL;
		if (!cluster || ecom_monotonic_us() > deadline_us)
			return ecom_err_set(err, "topic '%s' does not exist", topic);
		usleep(100000);
	}
}

/* Wait for the result event of an admin request already made on queue (NULL: no answer in time). */
rd_kafka_event_t *
ecom_kafka_admin_wait(rd_kafka_queue_t *queue, rd_kafka_event_type_t type, int timeout_ms)
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
	rd_kafka_event_t *ev = ecom_kafka_admin_wait(queue, type, timeout_ms);
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
	rd_kafka_NewTopic_t **new_topics = ecom_xcalloc(n, sizeof(*new_topics));
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
	rd_kafka_DeleteTopic_t **del = ecom_xcalloc(n, sizeof(*del));
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
 * backoff, until timeout_ms has gone by, saying so once past
 * WATERMARK_QUIET_MS.  Callers that start a stage give the outage bound
 * (retry_timeout_ms): a stage restarted while a broker of a cluster is
 * down must wait for the new leader, not exit.
 */
#define WATERMARK_QUIET_MS 5000
rd_kafka_resp_err_t
kafka_partition_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                           int64_t *low, int64_t *high)
{
	int64_t start_us = ecom_monotonic_us(), backoff_ms = 50;
	int64_t deadline_us = start_us + (int64_t)timeout_ms * 1000;
	rd_kafka_resp_err_t code;
	bool said = false;

	for (;;) {
		/* Each query gets what is left of the bound, not the whole of it. */
		int64_t left_ms = (deadline_us - ecom_monotonic_us()) / 1000;

		code = rd_kafka_query_watermark_offsets(rk, topic, partition, low, high,
		                                        left_ms > 0 ? (int)left_ms : 1);
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
		if (!said && ecom_monotonic_us() - start_us > WATERMARK_QUIET_MS * 1000LL) {
			ecom_warnf("topic '%s' partition %" PRId32 ": %s for %d s; asking again, for up to %d s",
			           topic, partition, rd_kafka_err2str(code), WATERMARK_QUIET_MS / 1000,
			           timeout_ms / 1000);
			said = true;
		}
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

		code = kafka_partition_watermarks(rk, topic, md->topics[0].partitions[p].id, timeout_ms,
		                                  &low, &high);
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
/*
 * The events a read_committed reader gets from parts' offsets up to
 * the end its reads reach (the last stable offset): transactions' commit
 * and abort markers, and what aborted transactions wrote, take offsets
 * but are no events.  parts' offsets are where to start; a partition
 * whose end is not reached by deadline_us counts the offsets left to
 * ends[] as events, an upper bound.
 */
static int64_t
count_committed_events(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, const int64_t *ends,
                       int64_t deadline_us)
{
	int64_t total = 0, *next = ecom_xcalloc((size_t)parts->cnt, sizeof(*next));
	int p, open = parts->cnt;

	for (p = 0; p < parts->cnt; p++)
		next[p] = parts->elems[p].offset;
	if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
		open = 0, deadline_us = 0;
	while (open > 0 && ecom_monotonic_us() < deadline_us) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

		if (m == NULL)
			continue;
		for (p = 0; p < parts->cnt && parts->elems[p].partition != m->partition; p++)
			;
		if (p < parts->cnt && next[p] < ends[p]) {
			if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				/* One produced after ends[] was taken is not waiting then. */
				if (m->offset < ends[p])
					total++;
				next[p] = m->offset + 1;
			} else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				next[p] = ends[p];
			}
			if (next[p] >= ends[p])
				open--;
		}
		rd_kafka_message_destroy(m);
	}
	for (p = 0; p < parts->cnt; p++)
		if (next[p] < ends[p])
			total += ends[p] - next[p];
	rd_kafka_assign(rk, NULL);
	free(next);
	return total;
}

/* Offsets behind beyond which a partition's are counted, not read (group_lag). */
#define LAG_READ_MAX_OFFSETS 1000

int
ecom_kafka_group_lag(const ecom_config *cfg, const char *group, const char *topic, int64_t *lag,
                     ecom_err *err)
{
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_t *rkt = NULL;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *parts = NULL, *behind = NULL;
	rd_kafka_resp_err_t code;
	char errstr[512];
	int64_t *ends = NULL, total = 0;
	/* A question asked while things are stuck: answer soon or not at all. */
	int timeout_ms = cfg->timeout_ms < LAG_TIMEOUT_MS ? cfg->timeout_ms : LAG_TIMEOUT_MS;
	int p, rc = -1;

	if (ecom_kafka_conf(cfg, "consumer", &conf, err) < 0)
		return -1;
	/* What the next stage can read: committed data, the end of a partition reported. */
	if (kafka_conf_set(conf, "group.id", group, err) < 0 ||
	    kafka_conf_set(conf, "enable.auto.commit", "false", err) < 0 ||
	    kafka_conf_set(conf, "isolation.level", "read_committed", err) < 0 ||
	    kafka_conf_set(conf, "enable.partition.eof", "true", err) < 0) {
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
	behind = rd_kafka_topic_partition_list_new(parts->cnt);
	ends = ecom_xcalloc((size_t)parts->cnt + 1, sizeof(*ends));
	for (p = 0; p < parts->cnt; p++) {
		int64_t low, high, committed = parts->elems[p].offset;

		/* Under read_committed, high is the last stable offset. */
		code = kafka_partition_watermarks(rk, topic, parts->elems[p].partition, timeout_ms, &low,
		                                  &high);
		if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
			ecom_err_set(err, "topic '%s': %s", topic, rd_kafka_err2str(code));
			goto out;
		}
		/* A group without a commit there starts at the earliest offset. */
		if (committed < 0 || committed < low)
			committed = low;
		/* Far behind, a few markers change nothing: the offsets count, unread. */
		if (high - committed > LAG_READ_MAX_OFFSETS)
			total += high - committed;
		else if (high > committed) {
			rd_kafka_topic_partition_list_add(behind, topic, parts->elems[p].partition)->offset =
			    committed;
			ends[behind->cnt - 1] = high;
		}
	}
	/*
	 * Offsets behind are not all events: under exactly_once each committed
	 * transaction leaves a marker, and the group's offset stops before it.
	 * Read them, as the stage would, and count what a reader gets.
	 */
	if (behind->cnt > 0)
		total += count_committed_events(rk, behind, ends,
		                                ecom_monotonic_us() + (int64_t)timeout_ms * 1000);
	*lag = total;
	rc = 0;
out:
	free(ends);
	if (behind != NULL)
		rd_kafka_topic_partition_list_destroy(behind);
	if (parts != NULL)
		rd_kafka_topic_partition_list_destroy(parts);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}
