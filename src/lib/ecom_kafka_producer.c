/*
 * The producer: messages queued without waiting, their acknowledgements
 * checked later (ecom_producer_all_acked, ecom_producer_flush), through
 * an outage up to the retry bound.  Under exactly_once it is
 * transactional: the first send begins a transaction, and
 * ecom_producer_commit() ends it with the consumed offsets (the pattern
 * of librdkafka's examples/transactions.c).
 */
#include "ecom_kafka_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_alloc.h"
#include "ecom_time.h"

struct ecom_producer {
	kafka_client kc; /* first: the callbacks' opaque */
	size_t max_message_bytes;
	/* Written by the delivery report callback, read after flush. */
	long failed;
	char first_failure[512];
	/* exactly_once */
	bool transactional;
	bool in_txn;
	bool txn_needs_abort; /* a send was refused: the transaction must be aborted */
	int64_t txn_began_us; /* monotonic */
	int retry_timeout_ms;
	char txn_id[256];
};

static void
delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	ecom_producer *p = opaque;

	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* An acknowledgement: whatever was wrong with the brokers is over. */
		kafka_client_brokers_back(&p->kc);
		return;
	}
	if (p->failed++ == 0)
		snprintf(p->first_failure, sizeof(p->first_failure), "delivery to '%s' failed: %s",
		         rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

static int producer_make(ecom_producer **out, const ecom_config *cfg, const char *txn_id,
                         ecom_err *err);

int
ecom_producer_new(ecom_producer **out, const ecom_config *cfg, ecom_err *err)
{
	return producer_make(out, cfg, NULL, err);
}

static int init_transactions(ecom_producer *p, ecom_err *err);

int
ecom_producer_new_transactional(ecom_producer **out, const ecom_config *cfg, const char *txn_id,
                                ecom_err *err)
{
	if (producer_make(out, cfg, txn_id, err) < 0)
		return -1;
	if (init_transactions(*out, err) < 0) {
		ecom_producer_destroy(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int
producer_make(ecom_producer **out, const ecom_config *cfg, const char *txn_id, ecom_err *err)
{
	ecom_producer *p = ecom_xcalloc(1, sizeof(*p));
	rd_kafka_conf_t *conf = NULL;
	char errstr[512], max_bytes[32];
	size_t size = sizeof(max_bytes);

	kafka_client_init(&p->kc, cfg);
	p->retry_timeout_ms = cfg->retry_timeout_ms;
	if (ecom_kafka_conf(cfg, "producer", &conf, err) < 0)
		goto fail;
	if (txn_id != NULL) {
		p->transactional = true;
		snprintf(p->txn_id, sizeof(p->txn_id), "%s", txn_id);
		if (kafka_conf_set(conf, "transactional.id", txn_id, err) < 0) {
			rd_kafka_conf_destroy(conf);
			goto fail;
		}
	}
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
	if (kafka_client_check_brokers(&p->kc, false, err) < 0)
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

	if (kafka_topic_partitions(&p->kc, topic, &md, err) < 0)
		return -1;
	rd_kafka_metadata_destroy(md);
	return 0;
}

/* Headers as librdkafka takes them, or NULL for none. */
static rd_kafka_headers_t *
make_headers(const char *const *headers, size_t n_headers)
{
	rd_kafka_headers_t *hdrs;
	size_t i;

	if (n_headers == 0)
		return NULL;
	hdrs = rd_kafka_headers_new(n_headers);
	for (i = 0; i < n_headers; i++)
		rd_kafka_header_add(hdrs, headers[2 * i], -1, headers[2 * i + 1], -1);
	return hdrs;
}

static bool
stop_requested(const ecom_producer *p)
{
	return p->kc.stop != NULL && *p->kc.stop;
}

int
ecom_producer_send(ecom_producer *p, const char *topic, const void *key, size_t key_len,
                   const void *value, size_t len, const char *const *headers, size_t n_headers,
                   ecom_err *err)
{
	rd_kafka_headers_t *hdrs;
	size_t key_size = key != NULL ? key_len : 0;
	rd_kafka_resp_err_t code;
	int waiting;

	if (p->transactional && !p->in_txn && ecom_producer_begin(p, err) < 0)
		return -1;
	hdrs = make_headers(headers, n_headers);
	for (;;) {
		code = rd_kafka_producev(p->kc.rk, RD_KAFKA_V_TOPIC(topic),
		                         RD_KAFKA_V_KEY(key, key_size),
		                         RD_KAFKA_V_VALUE((void *)value, len),
		                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                         RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
		if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL || stop_requested(p))
			break;
		/* Let delivery reports drain the local queue, then retry: while the
		 * brokers are away that lasts up to message.timeout.ms, so a stop
		 * request is looked at every round. */
		rd_kafka_poll(p->kc.rk, 100);
	}
	if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* On failure the headers were not handed over. */
		if (hdrs != NULL)
			rd_kafka_headers_destroy(hdrs);
		/* A transaction in an abortable state refuses messages (__STATE). */
		if (p->transactional && code != RD_KAFKA_RESP_ERR__QUEUE_FULL &&
		    code != RD_KAFKA_RESP_ERR__FATAL)
			p->txn_needs_abort = true;
		if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return ecom_err_set(err, "cannot produce to '%s': %s", topic,
			                    rd_kafka_err2str(code));
		waiting = rd_kafka_outq_len(p->kc.rk);
		return ecom_err_set(err,
		                    "cannot produce to '%s': stopped with the local queue full "
		                    "(%d message%s not acknowledged by the broker)",
		                    topic, waiting, waiting == 1 ? "" : "s");
	}
	rd_kafka_poll(p->kc.rk, 0);
	return 0;
}

/* value in decimal into buf (at least 21 bytes): two per message, where snprintf showed. */
static void
format_int64(int64_t value, char *buf)
{
	char digits[20];
	uint64_t magnitude = value < 0 ? -(uint64_t)value : (uint64_t)value;
	size_t n = 0, i = 0;

	do {
		digits[n++] = (char)('0' + magnitude % 10);
		magnitude /= 10;
	} while (magnitude > 0);
	if (value < 0)
		buf[i++] = '-';
	while (n > 0)
		buf[i++] = digits[--n];
	buf[i] = '\0';
}

int
ecom_producer_send_event(ecom_producer *p, const char *topic, const char *order_id,
                         const char *json, size_t len, int64_t order_us, ecom_err *err)
{
	char sent_text[24], order_text[24];
	const char *headers[4] = {ECOM_HDR_SENT_US, sent_text, ECOM_HDR_ORDER_START_US, order_text};

	format_int64(ecom_now_us(), sent_text);
	format_int64(order_us, order_text);
	return ecom_producer_send(p, topic, order_id,
	                          order_id != NULL ? strlen(order_id) : 0, json, len, headers, 2, err);
}

void
ecom_producer_serve(ecom_producer *p)
{
	rd_kafka_poll(p->kc.rk, 0);
}

const ecom_kafka_stats *
ecom_producer_kafka_stats(const ecom_producer *p)
{
	return &p->kc.stats;
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
		if (stop_requested(p))
			return ecom_err_set(err, "stopped with %d message%s not acknowledged by the broker",
			                    waiting, waiting == 1 ? "" : "s");
		if (ecom_monotonic_us() - started < (int64_t)p->kc.timeout_ms * 1000)
			continue;
		snprintf(reason, sizeof(reason), "kafka: %d message%s not acknowledged by '%s'%s",
		         waiting, waiting == 1 ? "" : "s", p->kc.brokers,
		         kafka_last_error_note(&p->kc, note, sizeof(note)));
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

/* ---- transactions (exactly_once) ---- */

/* What to do after a transactional call. */
enum txn_next { TXN_DONE, TXN_RETRY, TXN_ABORT, TXN_FATAL };

static bool
is_fencing(rd_kafka_resp_err_t code)
{
	return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
	       code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

/*
 * Sort a transactional call's error (consumed): retriable ones are
 * tried again up to the retry bound, abortable ones abort the
 * transaction, fatal ones (fencing above all) end the stage with the
 * reason in err.
 */
static enum txn_next
txn_result(ecom_producer *p, const char *call, rd_kafka_error_t *e, int64_t started_us,
           ecom_err *err)
{
	rd_kafka_resp_err_t code;
	char fatal[512];
	enum txn_next next;

	if (e == NULL)
		return TXN_DONE;
	code = rd_kafka_error_code(e);
	if (rd_kafka_error_is_fatal(e) || is_fencing(code)) {
		if (code == RD_KAFKA_RESP_ERR__FATAL)
			code = rd_kafka_fatal_error(p->kc.rk, fatal, sizeof(fatal));
		if (is_fencing(code))
			ecom_err_set(err,
			             "fenced: another instance with transactional.id '%s' took over "
			             "(%s: %s)",
			             p->txn_id, call, rd_kafka_error_string(e));
		else
			ecom_err_set(err, "kafka: %s: fatal transaction error: %s", call,
			             rd_kafka_error_string(e));
		next = TXN_FATAL;
	} else if (rd_kafka_error_txn_requires_abort(e)) {
		/* KIP-447: the group moved on while this batch was in hand (a zombie). */
		if (code == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
		    code == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
		    code == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID)
			ecom_err_set(err,
			             "fenced by the consumer group: its partitions went to another "
			             "member (%s: %s)",
			             call, rd_kafka_error_string(e));
		else
			ecom_err_set(err, "%s: %s", call, rd_kafka_error_string(e));
		next = TXN_ABORT;
	} else if (rd_kafka_error_is_retriable(e) &&
	           ecom_monotonic_us() - started_us < (int64_t)p->retry_timeout_ms * 1000) {
		ecom_debugf("kafka: %s: %s; trying again", call, rd_kafka_error_string(e));
		next = TXN_RETRY;
	} else {
		ecom_err_set(err, "kafka: %s: %s", call, rd_kafka_error_string(e));
		next = TXN_FATAL;
	}
	rd_kafka_error_destroy(e);
	return next;
}

/* Once, at start: fences any earlier producer with this transactional.id. */
static int
init_transactions(ecom_producer *p, ecom_err *err)
{
	int64_t started = ecom_monotonic_us();
	enum txn_next next;

	do {
		next = txn_result(p, "init_transactions",
		                  rd_kafka_init_transactions(p->kc.rk, p->kc.timeout_ms), started, err);
	} while (next == TXN_RETRY);
	return next == TXN_DONE ? 0 : -1;
}

bool
ecom_producer_transactional(const ecom_producer *p)
{
	return p->transactional;
}

bool
ecom_producer_in_transaction(const ecom_producer *p)
{
	return p->in_txn;
}

bool
ecom_producer_txn_needs_abort(const ecom_producer *p)
{
	return p->in_txn && p->txn_needs_abort;
}

int64_t
ecom_producer_txn_began_us(const ecom_producer *p)
{
	return p->txn_began_us;
}

int
ecom_producer_begin(ecom_producer *p, ecom_err *err)
{
	if (!p->transactional || p->in_txn)
		return 0;
	/* begin_transaction is local: its only errors are fatal or a misuse. */
	if (txn_result(p, "begin_transaction", rd_kafka_begin_transaction(p->kc.rk),
	               ecom_monotonic_us(), err) != TXN_DONE)
		return -1;
	p->in_txn = true;
	p->txn_needs_abort = false;
	p->txn_began_us = ecom_monotonic_us();
	return 0;
}

int
ecom_producer_abort(ecom_producer *p, ecom_err *err)
{
	int64_t started = ecom_monotonic_us();
	enum txn_next next;

	if (!p->in_txn)
		return 0;
	do {
		next = txn_result(p, "abort_transaction", rd_kafka_abort_transaction(p->kc.rk, -1),
		                  started, err);
	} while (next == TXN_RETRY);
	if (next != TXN_DONE)
		return -1;
	p->in_txn = false;
	p->txn_needs_abort = false;
	p->failed = 0; /* the aborted messages' failures are the abort's */
	return 0;
}

int
ecom_producer_commit(ecom_producer *p, const rd_kafka_topic_partition_list_t *offsets,
                     const rd_kafka_consumer_group_metadata_t *group, ecom_err *err)
{
	int64_t started = ecom_monotonic_us();
	enum txn_next next = TXN_DONE;
	ecom_err why, ignored;

	if (!p->in_txn && (offsets == NULL || offsets->cnt == 0))
		return 0;
	if (ecom_producer_begin(p, err) < 0)
		return -1;
	if (p->txn_needs_abort) {
		ecom_err_set(&why, "a message was refused");
		next = TXN_ABORT;
	}
	while (next == TXN_DONE && offsets != NULL && offsets->cnt > 0) {
		next = txn_result(p, "send_offsets_to_transaction",
		                  rd_kafka_send_offsets_to_transaction(p->kc.rk, offsets, group,
		                                                       p->kc.timeout_ms),
		                  started, &why);
		if (next == TXN_RETRY)
			next = TXN_DONE;
		else
			break;
	}
	while (next == TXN_DONE) {
		/* -1: up to the rest of transaction.timeout.ms, which outlasts the retry bound. */
		next = txn_result(p, "commit_transaction", rd_kafka_commit_transaction(p->kc.rk, -1),
		                  started, &why);
		if (next == TXN_DONE) {
			p->in_txn = false;
			return 0;
		}
		if (next == TXN_RETRY)
			next = TXN_DONE;
	}
	if (next == TXN_FATAL) {
		*err = why;
		return -1;
	}
	/* Abortable: nothing of the transaction is visible; the caller redoes it. */
	if (ecom_producer_abort(p, &ignored) < 0) {
		ecom_err_set(err, "%s; and the abort failed: %s", why.msg, ignored.msg);
		return -1;
	}
	*err = why;
	return 1;
}

void
ecom_producer_destroy(ecom_producer *p)
{
	ecom_err ignored;

	if (p == NULL)
		return;
	/* A transaction left open (a failure mid-batch) would hold its
	 * partitions' read_committed readers until it timed out. */
	if (p->kc.rk != NULL && p->in_txn && rd_kafka_fatal_error(p->kc.rk, NULL, 0) == 0)
		(void)ecom_producer_abort(p, &ignored);
	if (p->kc.rk != NULL)
		rd_kafka_destroy(p->kc.rk);
	free(p);
}

