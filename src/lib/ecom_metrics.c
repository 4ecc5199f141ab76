#include "ecom_metrics.h"

#include <stdlib.h>
#include <sys/resource.h>

void
ecom_latency_init(ecom_latency *lat)
{
	lat->samples_us = NULL;
	lat->count = lat->capacity = 0;
	lat->sorted = 1;
}

void
ecom_latency_free(ecom_latency *lat)
{
	free(lat->samples_us);
	ecom_latency_init(lat);
}

int
ecom_latency_add(ecom_latency *lat, int64_t us)
{
	if (lat->count == lat->capacity) {
		size_t capacity = lat->capacity ? lat->capacity * 2 : 1024;
		int64_t *grown = realloc(lat->samples_us, capacity * sizeof(*grown));

		if (grown == NULL)
			return -1;
		lat->samples_us = grown;
		lat->capacity = capacity;
	}
	lat->samples_us[lat->count++] = us < 0 ? 0 : us;
	lat->sorted = 0;
	return 0;
}

int
ecom_latency_merge(ecom_latency *dst, const ecom_latency *src)
{
	size_t i;

	for (i = 0; i < src->count; i++)
		if (ecom_latency_add(dst, src->samples_us[i]) < 0)
			return -1;
	return 0;
}

static int
compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int64_t
ecom_latency_percentile(ecom_latency *lat, double p)
{
	size_t rank;

	if (lat->count == 0)
		return 0;
	if (!lat->sorted) {
		qsort(lat->samples_us, lat->count, sizeof(int64_t), compare_int64);
		lat->sorted = 1;
	}
	/* Nearest rank: the smallest sample with at least p% of samples <= it. */
	rank = (size_t)((p / 100.0) * (double)lat->count + 0.999999999);
	if (rank < 1)
		rank = 1;
	if (rank > lat->count)
		rank = lat->count;
	return lat->samples_us[rank - 1];
}

int64_t
ecom_latency_max(ecom_latency *lat)
{
	return ecom_latency_percentile(lat, 100.0);
}

int64_t
ecom_latency_mean_us(const ecom_latency *lat)
{
	int64_t sum = 0;
	size_t i;

	if (lat->count == 0)
		return 0;
	for (i = 0; i < lat->count; i++)
		sum += lat->samples_us[i];
	return (sum + (int64_t)lat->count / 2) / (int64_t)lat->count;
}

long
ecom_peak_rss_kib(void)
{
	struct rusage usage;

	if (getrusage(RUSAGE_SELF, &usage) != 0)
		return -1;
	return usage.ru_maxrss; /* KiB on Linux */
}
