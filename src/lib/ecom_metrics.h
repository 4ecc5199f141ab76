/* Latency samples and their percentiles; process memory. */
#ifndef ECOM_METRICS_H
#define ECOM_METRICS_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "ecom_time.h"

/*
 * Every sample is kept (microseconds): 10,000 orders × 5 stages is a few
 * hundred KiB, and exact percentiles beat a histogram's buckets here.
 * Not thread-safe: each stage owns its own.
 */
typedef struct ecom_latency {
	int64_t *samples_us;
	size_t count;
	size_t capacity;
	int sorted;
} ecom_latency;

void ecom_latency_init(ecom_latency *lat);
void ecom_latency_free(ecom_latency *lat);
int ecom_latency_add(ecom_latency *lat, int64_t us);
/* Append all of src to dst. */
int ecom_latency_merge(ecom_latency *dst, const ecom_latency *src);
/* Nearest-rank percentile (0 < p <= 100) in µs; 0 when empty. */
int64_t ecom_latency_percentile(ecom_latency *lat, double p);
int64_t ecom_latency_max(ecom_latency *lat);
/* Arithmetic mean in µs; 0 when empty. */
int64_t ecom_latency_mean_us(const ecom_latency *lat);

/* Peak resident set size of this process, KiB. */
long ecom_peak_rss_kib(void);

#endif
