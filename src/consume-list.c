/*
 * ecom-consume -L: the cluster as kcat -L shows it, one JSON line for
 * the brokers, then one per topic with its partitions' leaders,
 * replicas and ISR, and the topic's min.insync.replicas.
 */
#include "consume-list.h"

#include <bson/bson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_alloc.h"
#include "ecom_json.h"
#include "ecom_kafka.h"


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
	rd_kafka_ConfigResource_t **resources = ecom_xcalloc((size_t)n, sizeof(*resources));
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
	ev = ecom_kafka_admin_wait(queue, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, timeout_ms);
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
	parts = ecom_xcalloc((size_t)t->partition_cnt + 1, sizeof(*parts));
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


/* {"brokers": [{"id", "host", "port"}, ...]}, sorted by id, to out. */
static void
print_brokers(const struct rd_kafka_metadata *md, FILE *out)
{
	const struct rd_kafka_metadata_broker **brokers =
	    ecom_xcalloc((size_t)md->broker_cnt + 1, sizeof(*brokers));
	bson_t doc, array, child;
	char buf[16];
	const char *key;
	int i;

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
	ecom_json_print(out, &doc);
	bson_destroy(&doc);
	free(brokers);
}

/*
 * Every topic is asked for and filtered here: asking for one by name
 * could create it.  A write error on out is reported when stdout is
 * closed, as for every command.
 */
static int
describe(rd_kafka_t *rk, const char *topic, int timeout_ms, FILE *out, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	const struct rd_kafka_metadata_topic **topics = NULL;
	int *min_isr = NULL;
	bson_t doc;
	int i, n_topics = 0;

	if (ecom_kafka_topic_metadata(rk, topic, true, timeout_ms, &md, err) < 0)
		return -1;
	topics = ecom_xcalloc((size_t)md->topic_cnt + 1, sizeof(*topics));
	for (i = 0; i < md->topic_cnt; i++)
		if (topic == NULL || strcmp(md->topics[i].topic, topic) == 0)
			topics[n_topics++] = &md->topics[i];
	qsort(topics, (size_t)n_topics, sizeof(*topics), topic_by_name);
	print_brokers(md, out);
	min_isr = ecom_xcalloc((size_t)n_topics + 1, sizeof(*min_isr));
	if (n_topics > 0)
		read_min_isr(rk, md->orig_broker_id, topics, n_topics, timeout_ms, min_isr);
	for (i = 0; i < n_topics; i++) {
		bson_init(&doc);
		append_topic(&doc, topics[i], min_isr[i]);
		ecom_json_print(out, &doc);
		bson_destroy(&doc);
	}
	free(min_isr);
	free(topics);
	rd_kafka_metadata_destroy(md);
	return 0;
}

int
ecom_consume_list(const ecom_config *cfg, const char *topic, FILE *out, ecom_err *err)
{
	ecom_kafka_admin *client = NULL;
	int rc;

	if (ecom_kafka_admin_new(&client, cfg, err) < 0)
		return -1;
	rc = describe(ecom_kafka_admin_handle(client), topic, cfg->timeout_ms, out, err);
	ecom_kafka_admin_destroy(client);
	return rc;
}
