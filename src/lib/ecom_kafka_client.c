/*
 * The core every Kafka client shares: librdkafka's errors said once
 * each, a bounded check at start-up so an unreachable broker is an error
 * within timeout_ms instead of librdkafka's silent retrying, and outages
 * ridden out for up to retry_timeout_ms with one warning when they start
 * and one line when they end.  librdkafka itself reconnects and resends;
 * what this adds is saying so, and the bound.
 */
#include "ecom_kafka_impl.h"

#include <stdio.h>
#include <string.h>

#include "ecom_time.h"

/* While all brokers are down, ask whether they are back this often. */
#define OUTAGE_PROBE_US 1000000

/*
 * librdkafka calls this on its own threads: it only hands the line to
 * ecom_debugf, which reads the level set before any client exists and
 * writes one locked fprintf.  Errors reach kafka_error_cb; the log is for -v.
 */
void
kafka_log_cb(const rd_kafka_t *rk, int level, const char *facility, const char *message)
{
	(void)rk;
	(void)level;
	ecom_debugf("kafka: %s: %s", facility, message);
}

void
kafka_client_init(kafka_client *kc, const ecom_config *cfg)
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
void
kafka_error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
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
	/* At start-up, kafka_client_check_brokers() fails with the reason instead. */
	if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !kc->started)
		return;
	/* Said only if it lasts (kafka_client_check_outage): a broker that has
	 * just restarted drops its connections once more, for a moment. */
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

const char *
kafka_last_error_note(const kafka_client *kc, char *buf, size_t size)
{
	if (kc->last_error[0] == '\0')
		return "";
	snprintf(buf, size, " (last error: %s)", kc->last_error);
	return buf;
}

void
kafka_client_brokers_back(kafka_client *kc)
{
	kc->down_since_us = 0;
	ecom_outage_over(&kc->outage);
}

/*
 * While all brokers are down, every second: are they back?  The first
 * time it has lasted a second, say so; -1 with err once it has lasted
 * past the retry bound.
 */
int
kafka_client_check_outage(kafka_client *kc, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	int64_t now = ecom_monotonic_us();
	char note[900], last[560];

	if (kc->down_since_us == 0 || now - kc->last_probe_us < OUTAGE_PROBE_US)
		return 0;
	kc->last_probe_us = now;
	if (rd_kafka_metadata(kc->rk, 0, NULL, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_metadata_destroy(md);
		kafka_client_brokers_back(kc);
		return 0;
	}
	snprintf(note, sizeof(note), "kafka: all brokers are down ('%s')%s", kc->brokers,
	         kafka_last_error_note(kc, last, sizeof(last)));
	return ecom_outage_trouble(&kc->outage, note, err);
}

/*
 * Start-up: the brokers answer a metadata request within timeout_ms, or
 * the client fails with what librdkafka last saw (refused, TLS, SASL).
 */
int
kafka_client_check_brokers(kafka_client *kc, bool is_consumer, ecom_err *err)
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
	                    kafka_last_error_note(kc, note, sizeof(note)));
}

int
kafka_topic_partitions(kafka_client *kc, const char *topic, const struct rd_kafka_metadata **md,
                       ecom_err *err)
{
	return ecom_kafka_topic_metadata(kc->rk, topic, false, kc->timeout_ms, md, err);
}
