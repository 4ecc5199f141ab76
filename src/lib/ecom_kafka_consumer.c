/*
 * The consumer: in a group (subscribed, its rebalances said), or a
 * reader without one (every partition assigned from an offset, maybe up
 * to the end as of now); offsets stored only when told, or held until
 * what the messages produced is acknowledged.
 */
#include "ecom_kafka_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecom_alloc.h"
#include "ecom_time.h"

/* An empty assignment is questioned after this long, and at most this often. */
#define EMPTY_RECHECK_US 5000000

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
 * An assignment that cannot be taken or given up is kept for
 * ecom_consumer_poll_batch() to fail with: the callback cannot.
 */
static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t code, rd_kafka_topic_partition_list_t *parts,
             void *opaque)
{
	kafka_client *kc = opaque;
	bool assign = code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
	rd_kafka_resp_err_t rc;
	char list[512];

	describe_partitions(parts, list, sizeof(list));
	if (!assign)
		ecom_debugf("consumer group '%s': revoked %s", kc->group, list);
	rc = rd_kafka_assign(rk, assign ? parts : NULL);
	if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
		bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

		snprintf(kc->rebalance_failed, sizeof(kc->rebalance_failed),
		         "consumer group '%s': cannot %s %.300s: %s%s", kc->group,
		         assign ? "take the partitions assigned," : "give up the partitions revoked,",
		         list, rd_kafka_err2str(rc),
		         cooperative ? " (ecom takes whole assignments: set "
		                       "partition.assignment.strategy to range or roundrobin)"
		                     : "");
		return;
	}
	if (!assign)
		return;
	kc->assigned = true;
	kc->assigned_nothing_us = parts->cnt == 0 ? ecom_monotonic_us() : 0;
	if (kc->announce_rebalances)
		ecom_infof("consumer group '%s': assigned %s", kc->group, list);
	else
		ecom_debugf("consumer group '%s': assigned %s", kc->group, list);
}

static ecom_consumer *
consumer_alloc(const ecom_config *cfg)
{
	ecom_consumer *c = ecom_xcalloc(1, sizeof(*c));

	kafka_client_init(&c->kc, cfg);
	ecom_latency_init(&c->local_queue);
	atomic_init(&c->queued_us, 0);
	return c;
}

/*
 * On a librdkafka thread (the broker's, which has just read a fetch
 * response), when the queue polled goes from empty to not: no librdkafka
 * call and no lock here, only the time.  The latest such moment is kept:
 * a statistics document or an error that came first was served by the
 * poll before the message came.
 */
static void
queue_event_cb(rd_kafka_t *rk, void *opaque)
{
	ecom_consumer *c = opaque;

	(void)rk;
	atomic_store_explicit(&c->queued_us, ecom_monotonic_us(), memory_order_relaxed);
}

void
kafka_consumer_queue_served(ecom_consumer *c)
{
	atomic_store_explicit(&c->queued_us, 0, memory_order_relaxed);
}

/* The first message of a batch, just polled: how long it waited in the queue. */
static void
count_local_queue(ecom_consumer *c)
{
	int64_t queued = atomic_exchange_explicit(&c->queued_us, 0, memory_order_relaxed);
	int64_t waited = ecom_monotonic_us() - queued;

	/* 0: the queue was not empty when it came, so its arrival is not known. */
	if (queued > 0 && waited >= 0)
		ecom_latency_add(&c->local_queue, waited);
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
	c->queue = rd_kafka_queue_get_consumer(c->kc.rk);
	if (c->queue != NULL)
		rd_kafka_queue_cb_event_enable(c->queue, queue_event_cb, c);
	return kafka_client_check_brokers(&c->kc, true, err);
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
	if (kafka_conf_set(conf, "group.id", group, err) < 0 ||
	    kafka_conf_set(conf, "auto.offset.reset", offset_reset, err) < 0) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_opaque(conf, c);
	snprintf(c->kc.group, sizeof(c->kc.group), "%s", group);
	{
		char value[16];
		size_t size = sizeof(value);

		c->commits_itself =
		    rd_kafka_conf_get(conf, "enable.auto.commit", value, &size) == RD_KAFKA_CONF_OK &&
		    strcmp(value, "false") == 0;
	}
	if (consumer_start(c, conf, err) < 0)
		goto fail;
	/* A topic that does not exist would be waited for in silence. */
	for (i = 0; i < n; i++) {
		const struct rd_kafka_metadata *md;

		if (kafka_topic_partitions(&c->kc, topics[i], &md, err) < 0)
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
	if (kafka_conf_set(conf, "group.id", group, err) < 0 ||
	    kafka_conf_set(conf, "enable.auto.commit", "false", err) < 0) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	rd_kafka_conf_set_opaque(conf, c);
	if (consumer_start(c, conf, err) < 0 || kafka_topic_partitions(&c->kc, topic, &md, err) < 0)
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

const ecom_kafka_stats *
ecom_consumer_kafka_stats(ecom_consumer *c)
{
	ecom_kafka_stats *s = &c->kc.stats;

	s->local_queue.count = (int64_t)ecom_latency_count(&c->local_queue);
	s->local_queue.mean_us = ecom_latency_mean_us(&c->local_queue);
	s->local_queue.p99_us = ecom_latency_percentile(&c->local_queue, 99);
	s->local_queue.max_us = ecom_latency_max(&c->local_queue);
	return s;
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

	if (kafka_topic_partitions(&c->kc, topic, &md, err) < 0)
		return -1;
	c->end_count = md->topics[0].partition_cnt;
	c->end = ecom_xcalloc((size_t)c->end_count, sizeof(*c->end));
	c->ended = 0;
	for (p = 0; p < c->end_count; p++) {
		int64_t low, high;
		int32_t id = md->topics[0].partitions[p].id;
		rd_kafka_resp_err_t code =
		    kafka_partition_watermarks(c->kc.rk, topic, id, c->kc.retry_timeout_ms, &low, &high);

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
		kafka_client_brokers_back(&c->kc);
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

/* Out of the group, the stage would sit idle: fail with the reason instead. */
int
kafka_consumer_rejoin(ecom_consumer *c, ecom_err *err)
{
	rd_kafka_resp_err_t code = rd_kafka_unsubscribe(c->kc.rk);

	if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
		code = rd_kafka_subscribe(c->kc.rk, c->subscription);
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR)
		return ecom_err_set(err, "consumer group '%s': cannot join again: %s", c->kc.group,
		                    rd_kafka_err2str(code));
	return 0;
}

/*
 * A group gives a member no partition only when it has more members than
 * the topic has partitions.  On a cluster, a topic deleted and created
 * again a moment before (a reset) can be missing from the metadata its
 * group's leader assigned from, and librdkafka 2.0 then keeps the empty
 * assignment for minutes.  So after EMPTY_RECHECK_US with nothing,
 * count the group's members and the topics' partitions, and with no more
 * members than partitions join again.
 */
static int
rejoin_if_wrongly_empty(ecom_consumer *c, ecom_err *err)
{
	const struct rd_kafka_group_list *groups = NULL;
	int64_t now = ecom_monotonic_us();
	int members = 0, partitions = 0, i;

	if (c->subscription == NULL || c->kc.assigned_nothing_us == 0 ||
	    now - c->kc.assigned_nothing_us < EMPTY_RECHECK_US ||
	    now - c->empty_checked_us < EMPTY_RECHECK_US)
		return 0;
	c->empty_checked_us = now;
	if (rd_kafka_list_groups(c->kc.rk, c->kc.group, &groups, LAG_TIMEOUT_MS) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	/* Mid-rebalance the count means nothing: ask again next time. */
	if (groups->group_cnt == 1 && strcmp(groups->groups[0].state, "Stable") == 0)
		members = groups->groups[0].member_cnt;
	rd_kafka_group_list_destroy(groups);
	for (i = 0; members > 0 && i < c->subscription->cnt; i++) {
		const struct rd_kafka_metadata *md = NULL;
		ecom_err ignored;

		if (kafka_topic_partitions(&c->kc, c->subscription->elems[i].topic, &md, &ignored) == 0) {
			if (md->topics[0].partition_cnt > partitions)
				partitions = md->topics[0].partition_cnt;
			rd_kafka_metadata_destroy(md);
		}
	}
	if (members == 0 || partitions < members)
		return 0;
	ecom_warnf("consumer group '%s': assigned nothing, although its %d member(s) share %d "
	           "partition(s); joining the group again",
	           c->kc.group, members, partitions);
	c->kc.assigned_nothing_us = 0;
	return kafka_consumer_rejoin(c, err);
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
			/* An end of partition or an error came into the empty queue
			 * first: a message behind it did not, and is not timed. */
			if (count == 0)
				kafka_consumer_queue_served(c);
			rd_kafka_message_destroy(m);
			continue;
		}
		if (count == 0)
			count_local_queue(c);
		msgs[count++] = m;
		wait_ms = 0; /* take what is already here, wait no more */
	}
	/* Full, with messages perhaps left: the next batch's first did not
	 * necessarily come into an empty queue. */
	if (count == max)
		kafka_consumer_queue_served(c);
	if (c->kc.rebalance_failed[0] != '\0') {
		ecom_err_set(err, "%s", c->kc.rebalance_failed);
		goto fail;
	}
	if (count == 0 && (kafka_client_check_outage(&c->kc, err) < 0 ||
	                   rejoin_if_wrongly_empty(c, err) < 0))
		goto fail;
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
	/* No background commit (exactly_once turns it off for the stages, whose
	 * offsets go in transactions): ecom-persist's stored offsets are
	 * committed now, without waiting, as the background would. */
	if (c->commits_itself && code == RD_KAFKA_RESP_ERR_NO_ERROR)
		rd_kafka_commit(c->kc.rk, NULL, 1);
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

rd_kafka_topic_partition_list_t *
ecom_consumer_next_offsets(rd_kafka_message_t *const *msgs, size_t n)
{
	rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new((int)n);

	add_next_offsets(offsets, msgs, n);
	return offsets;
}

rd_kafka_consumer_group_metadata_t *
ecom_consumer_group_metadata(ecom_consumer *c)
{
	return rd_kafka_consumer_group_metadata(c->kc.rk);
}

/*
 * After an aborted transaction: back to the group's committed offsets
 * (a partition without one to its beginning, as auto.offset.reset
 * earliest would), so that the batch is read again.  Messages already
 * fetched past them are dropped by the seek.
 */
int
ecom_consumer_rewind(ecom_consumer *c, ecom_err *err)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_error_t *e;
	rd_kafka_resp_err_t code;
	int i, rc = -1;

	code = rd_kafka_assignment(c->kc.rk, &parts);
	if (code == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt == 0) {
		rc = 0; /* nothing assigned: the next owner reads from the committed offsets */
		goto out;
	}
	if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
		code = rd_kafka_committed(c->kc.rk, parts, c->kc.timeout_ms);
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ecom_err_set(err, "consumer group '%s': cannot read the committed offsets to rewind to: %s",
		             c->kc.group, rd_kafka_err2str(code));
		goto out;
	}
	for (i = 0; i < parts->cnt; i++)
		if (parts->elems[i].offset < 0)
			parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
	e = rd_kafka_seek_partitions(c->kc.rk, parts, c->kc.timeout_ms);
	if (e != NULL) {
		ecom_err_set(err, "consumer group '%s': cannot rewind: %s", c->kc.group,
		             rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		goto out;
	}
	for (i = 0; i < parts->cnt; i++) {
		if (parts->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			ecom_err_set(err, "consumer group '%s': cannot rewind %s [%" PRId32 "]: %s",
			             c->kc.group, parts->elems[i].topic, parts->elems[i].partition,
			             rd_kafka_err2str(parts->elems[i].err));
			goto out;
		}
	}
	rc = 0;
out:
	if (parts != NULL)
		rd_kafka_topic_partition_list_destroy(parts);
	return rc;
}

int
ecom_kafka_count_committed(const ecom_config *cfg, const char *topic, int64_t *count,
                           ecom_err *err)
{
	ecom_consumer *c = NULL;
	rd_kafka_message_t *msgs[256];
	bool eof = false;
	size_t n, i;
	int rc = -1;

	*count = 0;
	if (ecom_consumer_new_assign(&c, cfg, topic, RD_KAFKA_OFFSET_BEGINNING, err) < 0 ||
	    ecom_consumer_read_to_end(c, topic, err) < 0)
		goto out;
	while (!eof) {
		if (ecom_consumer_poll_batch(c, msgs, 256, 1000, &n, &eof, err) < 0)
			goto out;
		for (i = 0; i < n; i++)
			rd_kafka_message_destroy(msgs[i]);
		*count += (int64_t)n;
	}
	rc = 0;
out:
	ecom_consumer_destroy(c);
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
	if (c->queue != NULL) {
		rd_kafka_queue_cb_event_enable(c->queue, NULL, NULL);
		rd_kafka_queue_destroy(c->queue);
	}
	if (c->kc.rk != NULL) {
		rd_kafka_consumer_close(c->kc.rk);
		rd_kafka_destroy(c->kc.rk);
	}
	ecom_latency_free(&c->local_queue);
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
