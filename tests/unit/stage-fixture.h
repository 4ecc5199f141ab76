/*
 * What the unit tests of the stage loop on librdkafka's mock cluster
 * share (test-stage.c, test-open-loop.c): the cluster, and stderr
 * captured for the whole run so a test can check what its stage said.
 *
 * Each stage's lines are marked with its log context, the test's name
 * ("test-stage: t3: …"); what was captured is copied to the test's log
 * as the run goes.
 */
#ifndef STAGE_FIXTURE_H
#define STAGE_FIXTURE_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h */
#include <stdbool.h>
#include <stdint.h>

#include "ecom_time.h"

/* Poll cond every 10 ms for up to ms; true once it holds. */
#define EVENTUALLY_WITHIN(ms, cond)                                                          \
	({                                                                                       \
		int64_t until_ = ecom_monotonic_us() + (int64_t)(ms) * 1000;                         \
		bool holds_;                                                                         \
		while (!(holds_ = (cond)) && ecom_monotonic_us() < until_)                           \
			ecom_sleep_ms(10);                                                               \
		holds_;                                                                              \
	})

/*
 * A mock cluster of one broker, in a client of its own (*host) that
 * logs nothing; NULL if it cannot be made.
 */
rd_kafka_mock_cluster_t *mock_cluster_new(rd_kafka_t **host);
void mock_cluster_destroy(rd_kafka_mock_cluster_t *mock, rd_kafka_t *host);

/* From now on stderr goes to a file, until capture_release(). */
void capture_stderr(void);
/* Bytes captured so far: where a test's part begins. */
long capture_size(void);
/* What was captured from offset `from` on; free() it. */
char *capture_since(long from);
/* Copy what was captured since the last copy to the real stderr (the test's log). */
void capture_copy_to_log(void);
/* Copy the rest and give stderr back. */
void capture_release(void);
/* The stage whose log context is `name` said a line with `fragment` in it, since `from`. */
bool capture_said(const char *name, long from, const char *fragment);

#endif
