#include "ecom_metrics.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ecom_alloc.h"

#define HALF (ECOM_LATENCY_SUB_BUCKETS / 2)

void
ecom_latency_init(ecom_latency *lat)
{
	memset(lat, 0, sizeof(*lat));
}

void
ecom_latency_free(ecom_latency *lat)
{
	for (int m = 0; m < ECOM_LATENCY_MAGNITUDES; m++)
		free(lat->counts[m]);
	ecom_latency_init(lat);
}

static size_t
magnitude_len(int m)
{
	return m == 0 ? ECOM_LATENCY_SUB_BUCKETS : HALF;
}

/* The magnitude and the counter's index in it of a value in range. */
static void
locate(int64_t us, int *m, size_t *i)
{
	if (us < ECOM_LATENCY_SUB_BUCKETS) {
		*m = 0;
		*i = (size_t)us;
		return;
	}
	/* The highest bit set is 11 or above; each step above halves the resolution. */
	*m = 63 - __builtin_clzll((unsigned long long)us) - 10;
	*i = (size_t)(us >> *m) - HALF;
}

/* The highest value counted in counter i of magnitude m. */
static int64_t
highest_equivalent(int m, size_t i)
{
	if (m == 0)
		return (int64_t)i;
	return ((int64_t)(i + HALF + 1) << m) - 1;
}

static uint64_t *
counters(ecom_latency *lat, int m)
{
	if (lat->counts[m] == NULL)
		lat->counts[m] = ecom_xcalloc(magnitude_len(m), sizeof(uint64_t));
	return lat->counts[m];
}

void
ecom_latency_add(ecom_latency *lat, int64_t us)
{
	int64_t kept;
	size_t i;
	int m;

	if (us < 0)
		us = 0; /* the clocks of two hosts can disagree */
	kept = us;
	if (us > ECOM_LATENCY_HIGHEST_US) {
		kept = ECOM_LATENCY_HIGHEST_US;
		lat->clamped++;
	}
	locate(kept, &m, &i);
	counters(lat, m)[i]++;
	if (lat->count == 0 || us < lat->min_us)
		lat->min_us = us;
	if (lat->count == 0 || us > lat->max_us)
		lat->max_us = us;
	lat->count++;
	lat->sum_us += kept;
}

void
ecom_latency_merge(ecom_latency *dst, const ecom_latency *src)
{
	if (src->count == 0)
		return;
	for (int m = 0; m < ECOM_LATENCY_MAGNITUDES; m++) {
		const uint64_t *from = src->counts[m];

		if (from == NULL)
			continue;
		for (size_t i = 0; i < magnitude_len(m); i++)
			if (from[i] != 0)
				counters(dst, m)[i] += from[i];
	}
	if (dst->count == 0 || src->min_us < dst->min_us)
		dst->min_us = src->min_us;
	if (dst->count == 0 || src->max_us > dst->max_us)
		dst->max_us = src->max_us;
	dst->count += src->count;
	dst->clamped += src->clamped;
	dst->sum_us += src->sum_us;
}

int
ecom_latency_for_each_bucket(const ecom_latency *lat, ecom_latency_bucket_fn fn, void *arg)
{
	uint64_t cumulative = 0;

	for (int m = 0; m < ECOM_LATENCY_MAGNITUDES; m++) {
		const uint64_t *c = lat->counts[m];

		if (c == NULL)
			continue;
		for (size_t i = 0; i < magnitude_len(m); i++) {
			int64_t value;
			int rc;

			if (c[i] == 0)
				continue;
			cumulative += c[i];
			value = highest_equivalent(m, i);
			if (value > lat->max_us)
				value = lat->max_us;
			rc = fn(value, c[i], cumulative, arg);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

typedef struct rank_walk {
	uint64_t rank;
	int64_t value;
} rank_walk;

static int
stop_at_rank(int64_t value_us, uint64_t count, uint64_t cumulative, void *arg)
{
	rank_walk *walk = arg;

	(void)count;
	if (cumulative < walk->rank)
		return 0;
	walk->value = value_us;
	return 1;
}

int64_t
ecom_latency_percentile(const ecom_latency *lat, double p)
{
	rank_walk walk = {0, 0};
	double exact;

	if (lat->count == 0)
		return 0;
	/* Nearest rank: ceil(p% × count), less a rounding error of p's binary form. */
	exact = p / 100.0 * (double)lat->count;
	exact -= exact * 1e-12;
	walk.rank = exact > 0 ? (uint64_t)exact : 0;
	if ((double)walk.rank < exact)
		walk.rank++;
	if (walk.rank < 1)
		walk.rank = 1;
	if (walk.rank > lat->count)
		walk.rank = lat->count;
	ecom_latency_for_each_bucket(lat, stop_at_rank, &walk);
	return walk.value;
}

int64_t
ecom_latency_min(const ecom_latency *lat)
{
	return lat->count ? lat->min_us : 0;
}

int64_t
ecom_latency_max(const ecom_latency *lat)
{
	return lat->count ? lat->max_us : 0;
}

int64_t
ecom_latency_mean_us(const ecom_latency *lat)
{
	if (lat->count == 0)
		return 0;
	return (lat->sum_us + (int64_t)(lat->count / 2)) / (int64_t)lat->count;
}

uint64_t
ecom_latency_count(const ecom_latency *lat)
{
	return lat->count;
}

uint64_t
ecom_latency_clamped(const ecom_latency *lat)
{
	return lat->clamped;
}

size_t
ecom_latency_bytes(const ecom_latency *lat)
{
	size_t bytes = sizeof(*lat);

	for (int m = 0; m < ECOM_LATENCY_MAGNITUDES; m++)
		if (lat->counts[m] != NULL)
			bytes += magnitude_len(m) * sizeof(uint64_t);
	return bytes;
}

long
ecom_peak_rss_kib(void)
{
	struct rusage usage;

	if (getrusage(RUSAGE_SELF, &usage) != 0)
		return -1;
	return usage.ru_maxrss; /* KiB on Linux */
}

/* The histogram as (value, cumulative count) pairs, for drawing from it. */
typedef struct bucket_list {
	int64_t *value;
	uint64_t *cumulative;
	size_t n, cap;
} bucket_list;

static int
list_bucket(int64_t value_us, uint64_t count, uint64_t cumulative, void *arg)
{
	bucket_list *l = arg;

	(void)count;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->value = ecom_xreallocarray(l->value, l->cap, sizeof(*l->value));
		l->cumulative = ecom_xreallocarray(l->cumulative, l->cap, sizeof(*l->cumulative));
	}
	l->value[l->n] = value_us;
	l->cumulative[l->n++] = cumulative;
	return 0;
}

uint64_t
ecom_random_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The value at rank r (0-based) of the list. */
static int64_t
value_at_rank(const bucket_list *l, uint64_t r)
{
	size_t lo = 0, hi = l->n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (l->cumulative[mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return l->value[lo];
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void
ecom_latency_mean_spread(const ecom_latency *lat, int resamples, uint64_t seed, double *p10_us,
                         double *p90_us)
{
	bucket_list l = {0};
	uint64_t n = ecom_latency_count(lat), state = seed, i;
	double *means;
	int k;

	*p10_us = *p90_us = 0;
	if (n == 0 || resamples < 1)
		return;
	ecom_latency_for_each_bucket(lat, list_bucket, &l);
	means = ecom_xcalloc((size_t)resamples, sizeof(*means));
	for (k = 0; k < resamples; k++) {
		double sum = 0;

		for (i = 0; i < n; i++)
			sum += (double)value_at_rank(&l, ecom_random_next(&state) % n);
		means[k] = sum / (double)n;
	}
	qsort(means, (size_t)resamples, sizeof(*means), compare_double);
	*p10_us = means[(size_t)resamples / 10];
	*p90_us = means[(size_t)resamples * 9 / 10];
	free(means);
	free(l.value);
	free(l.cumulative);
}
