/* Latency histograms and their percentiles; process memory. */
#ifndef ECOM_METRICS_H
#define ECOM_METRICS_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "ecom_time.h"

/*
 * A log-linear histogram of latencies in µs, as HdrHistogram keeps them,
 * with 3 significant digits: memory stays bounded however many orders a
 * run has (an open loop of hours keeps every stage's figures), where
 * keeping every sample grew with the run.
 *
 * Magnitude 0 counts 0 .. 2047 µs one by one; magnitude m >= 1 counts
 * [1024 << m, 2048 << m) in 1024 sub-buckets of 2^m µs each, so a bucket
 * is never wider than 1/1024 of the values in it.  22 magnitudes reach
 * ECOM_LATENCY_HIGHEST_US (about 71.6 minutes).  A magnitude's counters are
 * allocated the first time a value falls in it (ecom_xcalloc: no failure).
 *
 * A value above ECOM_LATENCY_HIGHEST_US is clamped: counted in the top
 * bucket and in the sum as ECOM_LATENCY_HIGHEST_US, and in
 * ecom_latency_clamped(); ecom_latency_max() still gives it as it came.
 * A negative value counts as 0 (the clocks of two hosts can disagree).
 *
 * count, sum, min and max are kept exactly, so the mean is exact.
 * Not thread-safe: each stage owns its own.
 */
#define ECOM_LATENCY_SUB_BUCKETS 2048
#define ECOM_LATENCY_MAGNITUDES 22
#define ECOM_LATENCY_HIGHEST_US (((int64_t)ECOM_LATENCY_SUB_BUCKETS << (ECOM_LATENCY_MAGNITUDES - 1)) - 1)

typedef struct ecom_latency {
	/* [0]: 2048 counters; [m >= 1]: 1024 counters, or NULL until used. */
	uint64_t *counts[ECOM_LATENCY_MAGNITUDES];
	uint64_t count;
	uint64_t clamped;
	int64_t sum_us;
	int64_t min_us;
	int64_t max_us;
} ecom_latency;

void ecom_latency_init(ecom_latency *lat);
void ecom_latency_free(ecom_latency *lat);
void ecom_latency_add(ecom_latency *lat, int64_t us);
/* Add all of src's values to dst. */
void ecom_latency_merge(ecom_latency *dst, const ecom_latency *src);
/*
 * Nearest-rank percentile (0 < p <= 100) in µs; 0 when empty.  The value
 * of rank ceil(p% × count) is found in its bucket and reported as the
 * bucket's highest equivalent value (its top, as HdrHistogram's
 * getValueAtPercentile does), but never above max: never below the exact
 * percentile, and above it by less than 1/1024 of it.
 */
int64_t ecom_latency_percentile(const ecom_latency *lat, double p);
/* Exact smallest and largest values added; 0 when empty. */
int64_t ecom_latency_min(const ecom_latency *lat);
int64_t ecom_latency_max(const ecom_latency *lat);
/* Arithmetic mean in µs, rounded to the nearest; 0 when empty. */
int64_t ecom_latency_mean_us(const ecom_latency *lat);
uint64_t ecom_latency_count(const ecom_latency *lat);
/* How many values were above ECOM_LATENCY_HIGHEST_US. */
uint64_t ecom_latency_clamped(const ecom_latency *lat);
/* Bytes the histogram holds: the struct and the counters allocated. */
size_t ecom_latency_bytes(const ecom_latency *lat);

/*
 * Calls fn for every non-empty bucket in increasing order of value, with
 * the bucket's highest equivalent value (as the percentile gives it), its
 * count and the count of every value up to it.  A non-zero return from fn
 * stops the walk and is returned; 0 otherwise.
 */
typedef int (*ecom_latency_bucket_fn)(int64_t value_us, uint64_t count, uint64_t cumulative,
                                      void *arg);
int ecom_latency_for_each_bucket(const ecom_latency *lat, ecom_latency_bucket_fn fn, void *arg);

/*
 * The next of a seeded sequence of random numbers (splitmix64): the same
 * seed gives the same draws on every machine, so a schedule or a
 * resampling can be repeated.
 */
uint64_t ecom_random_next(uint64_t *state);

/*
 * How much the mean would move with other samples like these: the 10th
 * and 90th percentiles, in µs, of the mean over `resamples` bootstrap
 * resamples (each as many values, drawn with replacement from the
 * histogram; seed fixes the draws).  Both 0 when empty.
 */
void ecom_latency_mean_spread(const ecom_latency *lat, int resamples, uint64_t seed,
                              double *p10_us, double *p90_us);

/* Peak resident set size of this process, KiB. */
long ecom_peak_rss_kib(void);

#endif
