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
#include "ecom_tls.h"

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

/*
 * Served, like error_cb, by the polls of the thread that polls the
 * client, so the sums need no lock.  A document that cannot be read is
 * counted (stats.unreadable) and said with -v; it stops nothing.
 */
int
kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	kafka_client *kc = opaque;
	ecom_err err;

	if (kc == NULL)
		return 0;
	if (ecom_kafka_stats_add_json(&kc->stats, json, len, &err) < 0)
		ecom_debugf("%s", err.msg);
	/* A consumer's opaque is its ecom_consumer, whose first member is kc. */
	if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER)
		kafka_consumer_queue_served((ecom_consumer *)kc);
	return 0; /* librdkafka frees json */
}

void
kafka_client_init(kafka_client *kc, const ecom_config *cfg)
{
	snprintf(kc->brokers, sizeof(kc->brokers), "%s", cfg->brokers);
	ecom_outage_init(&kc->outage, "kafka", cfg->retry_timeout_ms);
	kc->timeout_ms = cfg->timeout_ms;
	kc->retry_timeout_ms = cfg->retry_timeout_ms;
}

/*
 * The broker answered and refused us: a failed SASL login or TLS
 * handshake, or a connection dropped before the first answer, which
 * librdkafka says is most likely a security.protocol the listener does
 * not speak, or by a TLS alert that the broker wanted a client
 * certificate it did not get (or did not accept).
 */
static bool
kafka_is_client_cert_alert(const char *reason)
{
	return strstr(reason, "alert bad certificate") != NULL ||
	       strstr(reason, "alert certificate required") != NULL;
}

static bool
kafka_is_refusal(int code, const char *reason)
{
	return code == RD_KAFKA_RESP_ERR__AUTHENTICATION || code == RD_KAFKA_RESP_ERR__SSL ||
	       (code == RD_KAFKA_RESP_ERR__TRANSPORT &&
	        (strstr(reason, "security.protocol") != NULL || kafka_is_client_cert_alert(reason)));
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
	/* A refused login or certificate will not pass on a retry: the
	 * start-up check stops at once, and says it. */
	if (!kc->started && kafka_is_refusal(code, reason)) {
		kc->refused = code;
		snprintf(kc->last_error, sizeof(kc->last_error), "%s", reason);
		return;
	}
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

/* One property of the client's configuration, "" when unset. */
static const char *
kafka_conf_value(kafka_client *kc, const char *name, char *buf, size_t size)
{
	buf[0] = '\0';
	if (rd_kafka_conf_get(rd_kafka_conf(kc->rk), name, buf, &size) != RD_KAFKA_CONF_OK)
		buf[0] = '\0';
	return buf;
}

/*
 * "sasl_ssl://localhost:9093/bootstrap: SSL handshake failed: ...": the
 * broker's host and port, from librdkafka's words; false if not there.
 */
static bool
kafka_error_endpoint(const char *reason, char *host, size_t host_size, char *port,
                     size_t port_size)
{
	const char *start = strstr(reason, "://"), *end, *colon;

	if (start == NULL)
		return false;
	start += 3;
	end = start + strcspn(start, "/ ");
	colon = end;
	while (colon > start && *colon != ':')
		colon--;
	if (colon == start || *start == '[' || (size_t)(colon - start) >= host_size ||
	    (size_t)(end - colon - 1) >= port_size || end == colon + 1)
		return false;
	snprintf(host, host_size, "%.*s", (int)(colon - start), start);
	snprintf(port, port_size, "%.*s", (int)(end - colon - 1), colon + 1);
	return true;
}

/*
 * librdkafka says "certificate verify failed" and advises ssl.ca.location
 * for an expired certificate too: when the dates are the reason, say so.
 */
static bool
kafka_certificate_dates(kafka_client *kc, char *verdict, size_t size)
{
	char host[256], port[16], ca[1024], algorithm[16];

	if (strstr(kc->last_error, "certificate verify failed") == NULL ||
	    !kafka_error_endpoint(kc->last_error, host, sizeof(host), port, sizeof(port)))
		return false;
	kafka_conf_value(kc, "ssl.ca.location", ca, sizeof(ca));
	kafka_conf_value(kc, "ssl.endpoint.identification.algorithm", algorithm, sizeof(algorithm));
	if (strcmp(ca, "probe") == 0)
		ca[0] = '\0';
	return ecom_tls_diagnose(host, port, ECOM_TLS_DIRECT, ca, strcmp(algorithm, "https") == 0,
	                         kc->timeout_ms < 5000 ? kc->timeout_ms : 5000, verdict, size);
}

/* A property has a value (its length asked only: a PEM may be long). */
static bool
kafka_conf_is_set(kafka_client *kc, const char *name)
{
	size_t size = 0;

	return rd_kafka_conf_get(rd_kafka_conf(kc->rk), name, NULL, &size) == RD_KAFKA_CONF_OK &&
	       size > 1;
}

/* A refused connection, with what to check; never a secret. */
static int
kafka_refused_error(kafka_client *kc, ecom_err *err)
{
	char protocol[32], mechanism[64], user[128], verdict[300];

	kafka_conf_value(kc, "security.protocol", protocol, sizeof(protocol));
	kafka_conf_value(kc, "sasl.mechanisms", mechanism, sizeof(mechanism));
	kafka_conf_value(kc, "sasl.username", user, sizeof(user));
	if (kc->refused == RD_KAFKA_RESP_ERR__AUTHENTICATION)
		return ecom_err_set(err,
		                    "kafka broker '%s' refused the login (%s, mechanism %s, user '%s'): "
		                    "%s: check sasl.username, sasl.password and sasl.mechanism",
		                    kc->brokers, protocol, mechanism, user, kc->last_error);
	if (kc->refused == RD_KAFKA_RESP_ERR__SSL && kafka_certificate_dates(kc, verdict, sizeof(verdict)))
		return ecom_err_set(err, "TLS with kafka broker '%s' failed (%s): %s: %s", kc->brokers,
		                    protocol, kc->last_error, verdict);
	if (kc->refused == RD_KAFKA_RESP_ERR__TRANSPORT && kafka_is_client_cert_alert(kc->last_error)) {
		/* a client certificate given, in any of librdkafka's forms? */
		if (!kafka_conf_is_set(kc, "ssl.certificate.location") &&
		    !kafka_conf_is_set(kc, "ssl.keystore.location") &&
		    !kafka_conf_is_set(kc, "ssl.certificate.pem"))
			return ecom_err_set(err,
			                    "TLS with kafka broker '%s' failed (%s): %s: the broker asks for "
			                    "a client certificate and none was given: set "
			                    "ssl.certificate.location and ssl.key.location (or "
			                    "ssl.keystore.location)",
			                    kc->brokers, protocol, kc->last_error);
		return ecom_err_set(err,
		                    "TLS with kafka broker '%s' failed (%s): %s: the broker did not "
		                    "accept the client certificate: check ssl.certificate.location and "
		                    "ssl.key.location, and that the broker trusts the CA that signed it",
		                    kc->brokers, protocol, kc->last_error);
	}
	if (kc->refused == RD_KAFKA_RESP_ERR__SSL)
		return ecom_err_set(err,
		                    "TLS with kafka broker '%s' failed (%s): %s: check ssl.ca.location "
		                    "(the CA that signed the broker's certificate) and that the "
		                    "certificate names the host you connect to",
		                    kc->brokers, protocol, kc->last_error);
	return ecom_err_set(err,
	                    "kafka broker '%s' closed the connection before answering (security.protocol "
	                    "%s): %s: check that security.protocol is what the broker's listener speaks",
	                    kc->brokers, protocol, kc->last_error);
}

/* Serve the queued errors, for the reason (a consumer here has no subscription yet). */
static void
kafka_serve_errors(kafka_client *kc, bool is_consumer)
{
	rd_kafka_message_t *m;

	if (is_consumer) {
		while ((m = rd_kafka_consumer_poll(kc->rk, 0)) != NULL)
			rd_kafka_message_destroy(m);
	} else {
		rd_kafka_poll(kc->rk, 0);
	}
}

/* The start-up check asks in slices this long, to stop at a refusal. */
#define STARTUP_SLICE_MS 250

/*
 * Start-up: the brokers answer a metadata request within timeout_ms, or
 * the client fails with what librdkafka last saw (refused, TLS, SASL);
 * a refused login or handshake ends it at once.
 */
int
kafka_client_check_brokers(kafka_client *kc, bool is_consumer, ecom_err *err)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t rc;
	int64_t deadline = ecom_monotonic_us() + (int64_t)kc->timeout_ms * 1000;
	int64_t left_ms;
	char note[600];

	for (;;) {
		left_ms = (deadline - ecom_monotonic_us()) / 1000;
		if (left_ms < 1)
			left_ms = 1;
		rc = rd_kafka_metadata(kc->rk, 0, NULL, &md,
		                       (int)(left_ms < STARTUP_SLICE_MS ? left_ms : STARTUP_SLICE_MS));
		if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_metadata_destroy(md);
			kc->started = true;
			return 0;
		}
		kafka_serve_errors(kc, is_consumer);
		if (kc->refused != 0)
			return kafka_refused_error(kc, err);
		if (ecom_monotonic_us() >= deadline)
			break;
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
