/*
 * Unit tests: the latency histogram against exact nearest-rank
 * percentiles the test computes from its own sorted copy of the values.
 */
#include <malloc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ecom_metrics.h"
#include "ecom_report.h"

/* p% as an exact fraction num/den, so the oracle's rank has no rounding. */
static const struct {
	double p;
	uint64_t num, den;
} percentiles[] = {
	{0.001, 1, 100000}, {1, 1, 100}, {33.3, 333, 1000}, {50, 1, 2}, {90, 9, 10},
	{99, 99, 100},      {99.9, 999, 1000}, {99.99, 9999, 10000}, {100, 1, 1},
};

/* A fixed pseudo-random sequence (xorshift64*): the same values every run. */
static uint64_t
next_random(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ULL;
}

static int
compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Every percentile within 3 significant digits of the exact one, never below. */
static void
assert_close_to_exact(const ecom_latency *lat, int64_t *values, size_t n)
{
	size_t k;

	qsort(values, n, sizeof(*values), compare_int64);
	assert_int_equal(ecom_latency_count(lat), n);
	assert_int_equal(ecom_latency_min(lat), values[0]);
	assert_int_equal(ecom_latency_max(lat), values[n - 1]);
	for (k = 0; k < sizeof(percentiles) / sizeof(percentiles[0]); k++) {
		uint64_t rank = (n * percentiles[k].num + percentiles[k].den - 1) / percentiles[k].den;
		int64_t exact = values[(rank < 1 ? 1 : rank) - 1];
		int64_t got = ecom_latency_percentile(lat, percentiles[k].p);

		if (got < exact || (got - exact) * 1000 > exact)
			fail_msg("p%g: %lld, the exact nearest-rank value is %lld", percentiles[k].p,
			         (long long)got, (long long)exact);
	}
}

static void
empty_latency_reports_zero(void **state)
{
	ecom_latency lat;

	(void)state;
	ecom_latency_init(&lat);
	assert_int_equal(ecom_latency_percentile(&lat, 50), 0);
	assert_int_equal(ecom_latency_min(&lat), 0);
	assert_int_equal(ecom_latency_max(&lat), 0);
	assert_int_equal(ecom_latency_mean_us(&lat), 0);
	assert_int_equal(ecom_latency_count(&lat), 0);
	ecom_latency_free(&lat);
}

static void
percentiles_use_nearest_rank(void **state)
{
	ecom_latency lat;
	int i;

	(void)state;
	ecom_latency_init(&lat);
	for (i = 100; i >= 1; i--) /* unsorted on purpose */
		ecom_latency_add(&lat, i);
	/* Below 2,048 µs every value has a bucket of its own: exact. */
	assert_int_equal(ecom_latency_percentile(&lat, 50), 50);
	assert_int_equal(ecom_latency_percentile(&lat, 90), 90);
	assert_int_equal(ecom_latency_percentile(&lat, 99), 99);
	assert_int_equal(ecom_latency_percentile(&lat, 99.9), 100);
	assert_int_equal(ecom_latency_max(&lat), 100);
	assert_int_equal(ecom_latency_min(&lat), 1);
	ecom_latency_free(&lat);
}

static void
uniform_set_within_precision(void **state)
{
	enum { N = 100000 };
	int64_t *values = malloc(N * sizeof(*values));
	ecom_latency lat;
	size_t i;

	(void)state;
	assert_non_null(values);
	ecom_latency_init(&lat);
	for (i = 0; i < N; i++) {
		values[i] = (int64_t)(N - i); /* 100000 .. 1 µs */
		ecom_latency_add(&lat, values[i]);
	}
	assert_close_to_exact(&lat, values, N);
	ecom_latency_free(&lat);
	free(values);
}

static void
heavy_tail_within_precision(void **state)
{
	enum { N = 1000000 };
	int64_t *values = malloc(N * sizeof(*values));
	uint64_t x = 88172645463325252ULL;
	ecom_latency lat;
	size_t i;

	(void)state;
	assert_non_null(values);
	ecom_latency_init(&lat);
	for (i = 0; i < N; i++) {
		/* Pareto with alpha 1 from 200 µs: a tail up to about an hour. */
		double u = (double)((next_random(&x) >> 40) + 1) / (double)(1 << 24);

		values[i] = (int64_t)(200.0 / u);
		ecom_latency_add(&lat, values[i]);
	}
	assert_int_equal(ecom_latency_clamped(&lat), 0);
	assert_close_to_exact(&lat, values, N);
	ecom_latency_free(&lat);
	free(values);
}

static void
single_value_is_every_percentile(void **state)
{
	static const int64_t singles[] = {0, 7, 2047, 2048, 2049, 123456789, ECOM_LATENCY_HIGHEST_US};
	size_t s, k;

	(void)state;
	for (s = 0; s < sizeof(singles) / sizeof(singles[0]); s++) {
		ecom_latency lat;

		ecom_latency_init(&lat);
		ecom_latency_add(&lat, singles[s]);
		for (k = 0; k < sizeof(percentiles) / sizeof(percentiles[0]); k++)
			assert_int_equal(ecom_latency_percentile(&lat, percentiles[k].p), singles[s]);
		assert_int_equal(ecom_latency_mean_us(&lat), singles[s]);
		ecom_latency_free(&lat);
	}
}

/* Each magnitude's first and last values and their neighbours, every rank. */
static void
bucket_boundaries_within_precision(void **state)
{
	int64_t values[6 * ECOM_LATENCY_MAGNITUDES + 2];
	ecom_latency lat;
	size_t n = 0, i;
	int m;

	(void)state;
	ecom_latency_init(&lat);
	values[n++] = 0;
	values[n++] = 1;
	for (m = 1; m < ECOM_LATENCY_MAGNITUDES; m++) {
		int64_t low = (int64_t)1024 << m, high = ((int64_t)2048 << m) - 1;

		values[n++] = low - 1;
		values[n++] = low;
		values[n++] = low + 1;
		values[n++] = high - 1;
		values[n++] = high;
		if (high + 1 <= ECOM_LATENCY_HIGHEST_US)
			values[n++] = high + 1;
	}
	for (i = 0; i < n; i++)
		ecom_latency_add(&lat, values[i]);
	assert_int_equal(ecom_latency_clamped(&lat), 0);
	assert_close_to_exact(&lat, values, n);
	/* Every rank k, asked as the percentile 100·k/n (values is sorted now). */
	for (i = 1; i <= n; i++) {
		int64_t exact = values[i - 1];
		int64_t got = ecom_latency_percentile(&lat, 100.0 * (double)i / (double)n);

		if (got < exact || (got - exact) * 1000 > exact)
			fail_msg("rank %zu of %zu: %lld, exact %lld", i, n, (long long)got,
			         (long long)exact);
	}
	ecom_latency_free(&lat);
}

typedef struct walk_check {
	int64_t last_value;
	uint64_t last_cumulative;
	uint64_t buckets;
} walk_check;

static int
check_bucket(int64_t value_us, uint64_t count, uint64_t cumulative, void *arg)
{
	walk_check *walk = arg;

	assert_true(count > 0);
	assert_true(walk->buckets == 0 || value_us > walk->last_value);
	assert_int_equal(cumulative, walk->last_cumulative + count);
	walk->last_value = value_us;
	walk->last_cumulative = cumulative;
	walk->buckets++;
	return 0;
}

static int
stop_at_second(int64_t value_us, uint64_t count, uint64_t cumulative, void *arg)
{
	(void)value_us;
	(void)count;
	return cumulative >= 2 ? *(int *)arg : 0;
}

static void
buckets_walk_in_order(void **state)
{
	ecom_latency lat;
	walk_check walk = {0, 0, 0};
	int stop = 42;

	(void)state;
	ecom_latency_init(&lat);
	/* 2048 and 2049 share a bucket 2 µs wide; 2047 and 4096 have their own. */
	ecom_latency_add(&lat, 4096);
	ecom_latency_add(&lat, 2049);
	ecom_latency_add(&lat, 2047);
	ecom_latency_add(&lat, 2048);
	assert_int_equal(ecom_latency_for_each_bucket(&lat, check_bucket, &walk), 0);
	assert_int_equal(walk.buckets, 3);
	assert_int_equal(walk.last_cumulative, 4);
	assert_int_equal(walk.last_value, 4096); /* the bucket's top, but never above max */
	assert_int_equal(ecom_latency_percentile(&lat, 50), 2049);
	assert_int_equal(ecom_latency_for_each_bucket(&lat, stop_at_second, &stop), 42);
	ecom_latency_free(&lat);
}

static void
zero_and_negative_count_as_zero(void **state)
{
	ecom_latency lat;

	(void)state;
	ecom_latency_init(&lat);
	ecom_latency_add(&lat, 0);
	ecom_latency_add(&lat, -5); /* clocks of two hosts can disagree */
	ecom_latency_add(&lat, INT64_MIN);
	assert_int_equal(ecom_latency_count(&lat), 3);
	assert_int_equal(ecom_latency_min(&lat), 0);
	assert_int_equal(ecom_latency_max(&lat), 0);
	assert_int_equal(ecom_latency_percentile(&lat, 50), 0);
	assert_int_equal(ecom_latency_mean_us(&lat), 0);
	ecom_latency_free(&lat);
}

static void
huge_values_are_clamped_and_counted(void **state)
{
	ecom_latency lat;

	(void)state;
	ecom_latency_init(&lat);
	ecom_latency_add(&lat, ECOM_LATENCY_HIGHEST_US);
	ecom_latency_add(&lat, ECOM_LATENCY_HIGHEST_US + 1);
	ecom_latency_add(&lat, INT64_MAX);
	assert_int_equal(ecom_latency_count(&lat), 3);
	assert_int_equal(ecom_latency_clamped(&lat), 2);
	assert_int_equal(ecom_latency_min(&lat), ECOM_LATENCY_HIGHEST_US);
	assert_int_equal(ecom_latency_max(&lat), INT64_MAX);
	/* As the header says: clamped values count as the highest in the buckets and the mean. */
	assert_int_equal(ecom_latency_percentile(&lat, 100), ECOM_LATENCY_HIGHEST_US);
	assert_int_equal(ecom_latency_mean_us(&lat), ECOM_LATENCY_HIGHEST_US);
	/* An hour is in range. */
	assert_true(ECOM_LATENCY_HIGHEST_US >= (int64_t)3600 * 1000000);
	ecom_latency_free(&lat);
}

static void
mean_is_exact(void **state)
{
	/* Values that share buckets: a mean from the buckets would be off. */
	static const int64_t set[] = {1000000, 1000001, 1000003, 5000017, 3, 999999999};
	ecom_latency lat;
	int64_t sum = 0;
	size_t i;

	(void)state;
	ecom_latency_init(&lat);
	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		ecom_latency_add(&lat, set[i]);
		sum += set[i];
	}
	/* 1008000023 / 6 = 168000003.83: rounded to the nearest µs. */
	assert_int_equal(sum, 1008000023);
	assert_int_equal(ecom_latency_mean_us(&lat), 168000004);
	ecom_latency_free(&lat);

	ecom_latency_init(&lat);
	ecom_latency_add(&lat, 1);
	ecom_latency_add(&lat, 2);
	assert_int_equal(ecom_latency_mean_us(&lat), 2); /* 1.5: halves round up */
	ecom_latency_add(&lat, 2);
	assert_int_equal(ecom_latency_mean_us(&lat), 2); /* 1.67 */
	ecom_latency_add(&lat, 1);
	ecom_latency_add(&lat, 1);
	assert_int_equal(ecom_latency_mean_us(&lat), 1); /* 1.4 */
	ecom_latency_free(&lat);
}

typedef struct bucket_list {
	int64_t values[4096];
	uint64_t counts[4096];
	size_t n;
} bucket_list;

static int
collect_bucket(int64_t value_us, uint64_t count, uint64_t cumulative, void *arg)
{
	bucket_list *list = arg;

	(void)cumulative;
	assert_true(list->n < 4096);
	list->values[list->n] = value_us;
	list->counts[list->n++] = count;
	return 0;
}

static void
assert_same_histogram(const ecom_latency *a, const ecom_latency *b)
{
	static bucket_list la, lb;
	size_t i;

	la.n = lb.n = 0;
	ecom_latency_for_each_bucket(a, collect_bucket, &la);
	ecom_latency_for_each_bucket(b, collect_bucket, &lb);
	assert_int_equal(la.n, lb.n);
	for (i = 0; i < la.n; i++) {
		assert_int_equal(la.values[i], lb.values[i]);
		assert_int_equal(la.counts[i], lb.counts[i]);
	}
	assert_int_equal(ecom_latency_count(a), ecom_latency_count(b));
	assert_int_equal(ecom_latency_min(a), ecom_latency_min(b));
	assert_int_equal(ecom_latency_max(a), ecom_latency_max(b));
	assert_int_equal(ecom_latency_mean_us(a), ecom_latency_mean_us(b));
	assert_int_equal(ecom_latency_clamped(a), ecom_latency_clamped(b));
	for (i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++)
		assert_int_equal(ecom_latency_percentile(a, percentiles[i].p),
		                 ecom_latency_percentile(b, percentiles[i].p));
}

static void
merge_equals_adding_both(void **state)
{
	ecom_latency a, b, both, empty;
	uint64_t x = 2463534242ULL;
	int i;

	(void)state;
	ecom_latency_init(&a);
	ecom_latency_init(&b);
	ecom_latency_init(&both);
	ecom_latency_init(&empty);
	for (i = 0; i < 3000; i++) {
		int64_t v = (int64_t)(next_random(&x) >> (20 + i % 44));

		ecom_latency_add(i % 3 ? &a : &b, v);
		ecom_latency_add(&both, v);
	}
	ecom_latency_add(&b, INT64_MAX); /* clamped ones merge too */
	ecom_latency_add(&both, INT64_MAX);
	ecom_latency_merge(&a, &b);
	assert_same_histogram(&a, &both);
	ecom_latency_merge(&a, &empty); /* nothing to add */
	assert_same_histogram(&a, &both);
	ecom_latency_merge(&empty, &both); /* into nothing */
	assert_same_histogram(&empty, &both);
	ecom_latency_free(&a);
	ecom_latency_free(&b);
	ecom_latency_free(&both);
	ecom_latency_free(&empty);
}

static void
memory_is_bounded(void **state)
{
	ecom_latency lat;
	struct mallinfo2 before, after;
	uint64_t x = 1181783497276652981ULL;
	size_t bytes, small;
	int i;

	(void)state;
	/* Values under 2,048 µs need only the first magnitude's counters. */
	ecom_latency_init(&lat);
	for (i = 0; i < 2048; i++)
		ecom_latency_add(&lat, i);
	small = ecom_latency_bytes(&lat);
	assert_true(small <= sizeof(lat) + 2048 * sizeof(uint64_t));
	/* Every magnitude, and a clamped value: all the counters there can be. */
	for (i = 0; i < 63; i++)
		ecom_latency_add(&lat, (int64_t)1 << i);
	bytes = ecom_latency_bytes(&lat);
	assert_true(bytes > small);
	assert_true(bytes <= 200 * 1024);
	assert_true(sizeof(lat) <= 512);

	before = mallinfo2();
	for (i = 0; i < 10000000; i++)
		ecom_latency_add(&lat, (int64_t)(next_random(&x) >> (i % 64)));
	after = mallinfo2();
	assert_int_equal(ecom_latency_count(&lat), 2048 + 63 + 10000000);
	assert_int_equal(ecom_latency_bytes(&lat), bytes);
	/* The allocator's own count: nothing was allocated by the ten million adds. */
	assert_int_equal(after.uordblks, before.uordblks);
	assert_int_equal(after.hblkhd, before.hblkhd);
	ecom_latency_free(&lat);
	assert_int_equal(ecom_latency_bytes(&lat), sizeof(lat));
}

/* The report's latency object: each key from its own percentile. */
static void
report_gives_each_percentile(void **state)
{
	/* Sorted ranks 1-5000 at 100 µs, to 9000 at 200, 9900 at 300, 9990 at 400, 9999 at 500. */
	static const struct {
		const char *key;
		double ms;
	} expected[] = {
		{"p50_ms", 0.1}, {"p90_ms", 0.2}, {"p99_ms", 0.3},
		{"p999_ms", 0.4}, {"p9999_ms", 0.5}, {"max_ms", 2.0},
	};
	ecom_latency lat;
	bson_t report = BSON_INITIALIZER;
	bson_iter_t it;
	char path[32];
	double got;
	size_t k;
	int r;

	(void)state;
	ecom_latency_init(&lat);
	for (r = 10000; r >= 1; r--)
		ecom_latency_add(&lat, r <= 5000 ? 100 : r <= 9000 ? 200 : r <= 9900 ? 300
		                       : r <= 9990 ? 400 : r <= 9999 ? 500 : 2000);
	ecom_report_latency(&report, "lat", &lat);
	assert_true(bson_iter_init_find(&it, &report, "lat"));
	assert_true(bson_iter_init(&it, &report) && bson_iter_find_descendant(&it, "lat.count", &it));
	assert_int_equal(bson_iter_as_int64(&it), 10000);
	for (k = 0; k < sizeof(expected) / sizeof(expected[0]); k++) {
		snprintf(path, sizeof(path), "lat.%s", expected[k].key);
		if (!bson_iter_init(&it, &report) || !bson_iter_find_descendant(&it, path, &it))
			fail_msg("no %s in the report", path);
		got = bson_iter_double(&it);
		if (got < expected[k].ms - 1e-9 || got > expected[k].ms + 1e-9)
			fail_msg("%s: %g, expected %g", path, got, expected[k].ms);
	}
	bson_destroy(&report);
	ecom_latency_free(&lat);
}

/*
 * The spread of the mean against the theory's: for n values of standard
 * deviation sd, the mean's 10th and 90th percentiles lie about 1.2816
 * standard errors (sd / sqrt(n)) either side of it.
 */
static void
mean_spread_matches_the_standard_error(void **state)
{
	ecom_latency lat;
	double lo, hi, mean = 0, var = 0, se;
	int64_t v;
	int n = 400;

	(void)state;
	ecom_latency_init(&lat);
	for (v = 1; v <= n; v++)
		ecom_latency_add(&lat, v * 100); /* 100 µs .. 40 ms, all within one bucket's precision */
	for (v = 1; v <= n; v++)
		mean += (double)(v * 100) / n;
	for (v = 1; v <= n; v++)
		var += ((double)(v * 100) - mean) * ((double)(v * 100) - mean) / n;
	se = sqrt(var / n);
	ecom_latency_mean_spread(&lat, 2000, 7, &lo, &hi);
	if (fabs(lo - (mean - 1.2816 * se)) > 0.15 * se || fabs(hi - (mean + 1.2816 * se)) > 0.15 * se)
		fail_msg("spread [%.1f, %.1f] µs, expected about [%.1f, %.1f]", lo, hi,
		         mean - 1.2816 * se, mean + 1.2816 * se);
	/* The same seed, the same draws; one value, no spread; none, zeros. */
	{
		double lo2, hi2;

		ecom_latency_mean_spread(&lat, 2000, 7, &lo2, &hi2);
		assert_true(lo2 == lo && hi2 == hi);
	}
	ecom_latency_free(&lat);
	ecom_latency_init(&lat);
	ecom_latency_mean_spread(&lat, 100, 1, &lo, &hi);
	assert_true(lo == 0 && hi == 0);
	for (v = 0; v < 50; v++)
		ecom_latency_add(&lat, 777);
	ecom_latency_mean_spread(&lat, 100, 1, &lo, &hi);
	assert_true(lo == hi && fabs(lo - 777) <= 1);
	ecom_latency_free(&lat);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_latency_reports_zero),
		cmocka_unit_test(percentiles_use_nearest_rank),
		cmocka_unit_test(uniform_set_within_precision),
		cmocka_unit_test(heavy_tail_within_precision),
		cmocka_unit_test(single_value_is_every_percentile),
		cmocka_unit_test(bucket_boundaries_within_precision),
		cmocka_unit_test(buckets_walk_in_order),
		cmocka_unit_test(zero_and_negative_count_as_zero),
		cmocka_unit_test(huge_values_are_clamped_and_counted),
		cmocka_unit_test(mean_is_exact),
		cmocka_unit_test(merge_equals_adding_both),
		cmocka_unit_test(memory_is_bounded),
		cmocka_unit_test(report_gives_each_percentile),
		cmocka_unit_test(mean_spread_matches_the_standard_error),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
