/* Unit tests: nearest-rank percentiles over latency samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ecom_metrics.h"

static void
empty_latency_reports_zero(void **state)
{
	ecom_latency lat;

	(void)state;
	ecom_latency_init(&lat);
	assert_int_equal(ecom_latency_percentile(&lat, 50), 0);
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
	assert_int_equal(ecom_latency_percentile(&lat, 50), 50);
	assert_int_equal(ecom_latency_percentile(&lat, 90), 90);
	assert_int_equal(ecom_latency_percentile(&lat, 99), 99);
	assert_int_equal(ecom_latency_max(&lat), 100);
	ecom_latency_free(&lat);
}

static void
single_sample_is_every_percentile(void **state)
{
	ecom_latency lat;

	(void)state;
	ecom_latency_init(&lat);
	ecom_latency_add(&lat, 7);
	assert_int_equal(ecom_latency_percentile(&lat, 1), 7);
	assert_int_equal(ecom_latency_percentile(&lat, 99), 7);
	ecom_latency_free(&lat);
}

static void
merge_keeps_all_samples(void **state)
{
	ecom_latency a, b;

	(void)state;
	ecom_latency_init(&a);
	ecom_latency_init(&b);
	ecom_latency_add(&a, 1);
	ecom_latency_add(&b, 3);
	ecom_latency_add(&b, 2);
	assert_int_equal(ecom_latency_merge(&a, &b), 0);
	assert_int_equal(a.count, 3);
	assert_int_equal(ecom_latency_max(&a), 3);
	ecom_latency_free(&a);
	ecom_latency_free(&b);
}

static void
negative_samples_clamp_to_zero(void **state)
{
	ecom_latency lat;

	(void)state;
	ecom_latency_init(&lat);
	ecom_latency_add(&lat, -5); /* clocks of two hosts can disagree */
	assert_int_equal(ecom_latency_max(&lat), 0);
	ecom_latency_free(&lat);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_latency_reports_zero),
		cmocka_unit_test(percentiles_use_nearest_rank),
		cmocka_unit_test(single_sample_is_every_percentile),
		cmocka_unit_test(merge_keeps_all_samples),
		cmocka_unit_test(negative_samples_clamp_to_zero),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
