/*
 * Configuration of every Kafka client: latency-first defaults, the
 * user's properties (-X, the file's kafka: mapping) on top, the checks
 * that only making a client performs, and -X dump and -X list.
 */
#include "ecom_kafka_impl.h"

#include <stdio.h>
#include <string.h>

#include "ecom_redact.h"

/*
 * Defaults for a pipeline with one order in flight: every hop would
 * otherwise pay linger.ms=5 and Nagle.  fetch.wait.max.ms stays Kafka's
 * 500 ms (the broker answers a waiting fetch as soon as data arrives),
 * said here so -X dump shows it; doc/performance-notes.md §4 has why not
 * less.  session.timeout.ms is 10 s, not Kafka's 45: a stage restarted
 * after kill -9 gets its partitions back in seconds; and not the broker's
 * minimum, 6 s, which a group outlives only while its coordinator is
 * there: when the broker that coordinates it dies, the members miss
 * heartbeats until another broker has taken the group over (its fencing,
 * after broker.session.timeout.ms, and more when it was the controller),
 * and a member that misses them for session.timeout.ms leaves and joins
 * again as a new one, and the group stops until the new coordinator has
 * given the old members up, one session later (doc/broker-loss.md).
 *
 * reconnect.backoff.max.ms is the Java client's 1 s, not librdkafka's
 * 10 s: a request queued for a broker that died (a produce to its
 * partitions, a transaction's AddOffsetsToTxn to its coordinator) fails,
 * and goes to the new leader or coordinator, at the next reconnect, which
 * the 10 s bound put up to 4.5 s after the broker had been replaced
 * (doc/broker-loss.md).
 *
 * statistics.interval.ms: librdkafka's own split of each hop (its queue,
 * its send buffer, the broker's round trip) for the reports
 * (ecom_kafka_stats.h); what a document a second costs is in
 * doc/performance-notes.md ("The Kafka hop at W = 1").  A client must be
 * polled to take its documents: ecom-produce, which may wait on its input
 * for hours, turns them off, and so do admin clients.
 */
#define RECONNECT_BACKOFF_MAX_MS "1000"

static const char *const producer_defaults[][2] = {
	{"linger.ms", "0"},
	{"socket.nagle.disable", "true"},
	{"enable.idempotence", "true"},
	{"acks", "all"},
	{"reconnect.backoff.max.ms", RECONNECT_BACKOFF_MAX_MS},
	{"statistics.interval.ms", ECOM_KAFKA_STATS_INTERVAL_MS},
};

/*
 * With more than one order in flight (window > 1) a producer waits up to
 * this long to send its messages as one request: each send would
 * otherwise wake the client's broker thread and the broker once per
 * message.  doc/performance-notes.md §7 has what it costs and saves.
 */
#define WINDOW_LINGER_MS "1"

static const char *const consumer_defaults[][2] = {
	{"fetch.wait.max.ms", "500"},
	{"socket.nagle.disable", "true"},
	{"reconnect.backoff.max.ms", RECONNECT_BACKOFF_MAX_MS},
	{"enable.auto.offset.store", "false"},
	{"enable.auto.commit", "true"},
	{"auto.commit.interval.ms", "1000"},
	{"session.timeout.ms", "10000"},
	{"heartbeat.interval.ms", "1000"},
	{"enable.partition.eof", "true"},
	/* librdkafka's default already, said so that -X dump shows it: an
	 * aborted transaction's events are never read. */
	{"isolation.level", "read_committed"},
	{"statistics.interval.ms", ECOM_KAFKA_STATS_INTERVAL_MS},
};

/*
 * exactly_once: offsets go only through the producer's transactions, so
 * consumers commit nothing themselves; a transaction outlives the
 * producer's own retries (message.timeout.ms, must not exceed it) by a
 * connection timeout, so a broker outage within retry_timeout_ms still
 * ends in a commit.  The broker must allow it (transaction.max.timeout.ms,
 * 15 minutes by default).
 */
static const char *
transaction_timeout(const ecom_config *cfg, char *buf, size_t size)
{
	snprintf(buf, size, "%d", cfg->retry_timeout_ms + 2 * cfg->timeout_ms);
	return buf;
}

/* The value exactly_once gives key instead of the default, or NULL. */
static const char *
exactly_once_value(const ecom_config *cfg, bool producer, const char *key)
{
	if (!ecom_config_exactly_once(cfg))
		return NULL;
	if (!producer && strcmp(key, "enable.auto.commit") == 0)
		return "false";
	return NULL;
}

/*
 * One property.  The value is shown in a message only when the key is a
 * known property and not a secret: a misspelt "sasl.pasword" may hold a
 * password all the same.
 */
int
kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, ecom_err *err)
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

/* A producer default as this configuration has it: linger.ms depends on the window. */
static const char *
producer_default(const ecom_config *cfg, size_t i)
{
	if (cfg->window > 1 && strcmp(producer_defaults[i][0], "linger.ms") == 0)
		return WINDOW_LINGER_MS;
	return producer_defaults[i][1];
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
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_stats_cb(conf, kafka_stats_cb);
	if (kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, err) < 0)
		goto fail;
	for (i = 0; i < n_defaults; i++) {
		const char *eos = exactly_once_value(cfg, defaults == producer_defaults, defaults[i][0]);
		const char *value = defaults == producer_defaults ? producer_default(cfg, i)
		                                                  : defaults[i][1];

		if (kafka_conf_set(conf, defaults[i][0], eos != NULL ? eos : value, err) < 0)
			goto fail;
	}
	if (strcmp(kind, "producer") == 0) {
		char message_timeout[24], txn_timeout[24];

		if (kafka_conf_set(conf, "message.timeout.ms",
		             producer_message_timeout(cfg, message_timeout, sizeof(message_timeout)),
		             err) < 0)
			goto fail;
		if (ecom_config_exactly_once(cfg) &&
		    kafka_conf_set(conf, "transaction.timeout.ms",
		                   transaction_timeout(cfg, txn_timeout, sizeof(txn_timeout)), err) < 0)
			goto fail;
	}
	/* The user's properties win over ours.  Producer-only properties given
	 * to a consumer (and the reverse) are ignored by librdkafka, with a log. */
	for (i = 0; i < cfg->kafka_count; i++)
		if (kafka_conf_set(conf, cfg->kafka[i].key, cfg->kafka[i].value, err) < 0)
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
	char message_timeout[24], txn_timeout[24], txn_id[512];
	size_t i;

	producer_message_timeout(cfg, message_timeout, sizeof(message_timeout));
	fputs("kafka:\n", out);
	/* ecom's defaults, unless given, then what was given. */
	for (i = 0; i < n_p; i++) {
		if (default_of(consumer_defaults, n_c, producer_defaults[i][0]) != NULL ||
		    ecom_config_kafka_get(cfg, producer_defaults[i][0]) != NULL)
			continue;
		dump_property(out, producer_defaults[i][0], producer_default(cfg, i),
		              producer_default(cfg, i) != producer_defaults[i][1] ? "producers: window > 1"
		                                                                 : "producers");
	}
	if (ecom_config_kafka_get(cfg, "message.timeout.ms") == NULL)
		dump_property(out, "message.timeout.ms", message_timeout,
		              "producers: retry_timeout_ms + timeout_ms");
	if (ecom_config_exactly_once(cfg)) {
		if (ecom_config_kafka_get(cfg, "transaction.timeout.ms") == NULL)
			dump_property(out, "transaction.timeout.ms",
			              transaction_timeout(cfg, txn_timeout, sizeof(txn_timeout)),
			              "producers, exactly_once: retry_timeout_ms + 2 x timeout_ms");
		/* Each stage instance's own: STAGE is payment … reconcile, or produce. */
		ecom_config_transactional_id(cfg, "STAGE", txn_id, sizeof(txn_id));
		dump_property(out, "transactional.id", txn_id,
		              "producers, exactly_once: STAGE is the stage or 'produce'");
	}
	for (i = 0; i < n_c; i++) {
		bool both = default_of(producer_defaults, n_p, consumer_defaults[i][0]) != NULL;
		const char *eos = exactly_once_value(cfg, false, consumer_defaults[i][0]);

		if (ecom_config_kafka_get(cfg, consumer_defaults[i][0]) != NULL)
			continue;
		dump_property(out, consumer_defaults[i][0], eos != NULL ? eos : consumer_defaults[i][1],
		              eos != NULL ? "consumers, exactly_once: offsets go in the transactions"
		              : strcmp(consumer_defaults[i][0], "statistics.interval.ms") == 0
		                  ? "ecom-produce: 0 unless given"
		              : both ? NULL : "consumers");
	}
	for (i = 0; i < cfg->kafka_count; i++)
		dump_property(out, cfg->kafka[i].key, cfg->kafka[i].value, "given");
}

void
ecom_kafka_print_properties(void)
{
	rd_kafka_conf_properties_show(stdout);
}

