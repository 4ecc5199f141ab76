/*
 * Kafka clients set up from the configuration: this header, and the
 * admin, producer and consumer headers it includes.
 *
 * The clients start from the defaults in ecom_kafka_conf.c
 * (producer_defaults, consumer_defaults; -X dump shows them), under the
 * file's and -X properties: sent at once (linger.ms=0), the producer
 * idempotent (acks=all), and consumers that read committed data
 * (isolation.level=read_committed), store offsets only when told
 * (enable.auto.offset.store=false) and commit the stored ones; under
 * exactly_once, consumers commit nothing in the background and the
 * stages' producers are transactional (ecom_producer_new_transactional).
 *
 * Clients check at once that the brokers answer (within timeout_ms, else
 * -1 with what librdkafka saw: refused, TLS, SASL).  Once running, they
 * ride out an outage for up to retry_timeout_ms: a warning when all
 * brokers are down, a line when they are back, an error after the bound.
 */
#ifndef ECOM_KAFKA_H
#define ECOM_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "ecom_config.h"
#include "ecom_kafka_stats.h"
#include "ecom_log.h"

/*
 * How often producers and consumers take librdkafka's statistics
 * (statistics.interval.ms; -X statistics.interval.ms=N wins, 0 turns
 * them off).  Each document sums the interval before it, so a run keeps
 * all of them but the last partial one.
 */
#define ECOM_KAFKA_STATS_INTERVAL_MS "1000"

/* Headers the stages put on every event they produce (µs since the epoch). */
#define ECOM_HDR_SENT_US "ecom-sent-us"         /* when this message was produced */
#define ECOM_HDR_ORDER_START_US "ecom-order-us" /* when its order was created */
#define ECOM_HDR_DLQ_REASON "ecom-error"        /* dead letters: why */
#define ECOM_HDR_DLQ_TOPIC "ecom-source-topic"  /* dead letters: where from */
#define ECOM_HDR_DLQ_TRUNCATED "ecom-truncated"  /* dead letters: the original length, when cut */

/*
 * Apply cfg->kafka on top of the defaults; -1 with the property named on
 * an unknown or bad one.  kind: "producer" or "consumer".
 */
int ecom_kafka_conf(const ecom_config *cfg, const char *kind, rd_kafka_conf_t **conf,
                    ecom_err *err);
/* The properties make a client: those refused only then (a missing CA file) too. */
int ecom_kafka_check_config(const ecom_config *cfg, ecom_err *err);
/* librdkafka's version, "2.0.2". */
const char *ecom_kafka_version(void);
/*
 * -X dump's "kafka:" mapping: the properties ecom sets and those given,
 * secrets shown as "***", each marked when it is for producers or
 * consumers only.
 */
void ecom_kafka_dump(const ecom_config *cfg, FILE *out);
/* Print librdkafka's property list (-X list). */
void ecom_kafka_print_properties(void);

#include "ecom_kafka_admin.h"
#include "ecom_kafka_consumer.h"
#include "ecom_kafka_producer.h"

#endif
