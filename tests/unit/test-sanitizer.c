/*
 * Is this build instrumented the way the run believes?  configure's
 * --enable-sanitizers list reaches this file as ECOM_SANITIZERS; the
 * sanitizer pass (scripts/sanitize.sh) also says what it expects in
 * ECOM_EXPECT_SANITIZERS.  For each sanitizer expected, its runtime must
 * be linked in and must report a deliberate bug made in a child, whose
 * stderr is the oracle; for each one not expected, its runtime must be
 * absent.  So a plain build put through the pass fails here instead of
 * passing every other test unchecked.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"

#ifndef ECOM_SANITIZERS
#error "ECOM_SANITIZERS must be defined (Makefile.am passes configure's list, empty when off)"
#endif

/* One entry point of each runtime: null unless that runtime is linked. */
extern void __asan_init(void) __attribute__((weak));
extern void __tsan_init(void) __attribute__((weak));
extern void __ubsan_handle_add_overflow(void *data, void *lhs, void *rhs) __attribute__((weak));

/* What this run must have: the pass's word, else configure's. */
static const char *
expected_list(void)
{
	const char *env = getenv("ECOM_EXPECT_SANITIZERS");

	return env != NULL ? env : ECOM_SANITIZERS;
}

/* Whether name is one of the comma-separated list's items. */
static bool
listed(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	while (*p != '\0') {
		size_t item = strcspn(p, ",");

		if (item == len && strncmp(p, name, len) == 0)
			return true;
		p += item;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Run fn in a child with stderr captured; whether it exited 0. */
static bool
child_ran_clean(void (*fn)(void), char *out, size_t size)
{
	int status = child_run(fn, out, size);

	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Left to AddressSanitizer: UBSan's object-size check would report it first. */
__attribute__((no_sanitize_undefined)) static void
read_past_heap_block(void)
{
	volatile size_t past = 8;
	char *block = malloc(8);
	volatile char c;

	if (block == NULL)
		_exit(3);
	memset(block, 'x', 8);
	c = block[past];
	(void)c;
	free(block);
}

static void
overflow_signed_int(void)
{
	volatile int big = INT_MAX;
	volatile int sum;

	sum = big + 1;
	(void)sum;
}

static int shared_counter;

static void *
bump_counter(void *arg)
{
	(void)arg;
	shared_counter++;
	return NULL;
}

/* Two threads write one int with nothing ordering them. */
static void
race_two_threads(void)
{
	pthread_t a, b;

	if (pthread_create(&a, NULL, bump_counter, NULL) != 0 ||
	    pthread_create(&b, NULL, bump_counter, NULL) != 0)
		_exit(3);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
}

static void
configure_list_matches_expected(void **state)
{
	static const char *const names[] = {"address", "undefined", "thread"};
	size_t i;

	(void)state;
	/* A pass that wants address,undefined must not get a thread build, or none. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (listed(expected_list(), names[i]) != listed(ECOM_SANITIZERS, names[i]))
			fail_msg("built with sanitizers '%s', but this run expects '%s'", ECOM_SANITIZERS,
			         expected_list());
	}
}

static void
address_sanitizer(void **state)
{
	char out[8192];

	(void)state;
	if (!listed(expected_list(), "address")) {
		assert_null(__asan_init);
		return;
	}
	assert_non_null(__asan_init);
	assert_false(child_ran_clean(read_past_heap_block, out, sizeof(out)));
	assert_non_null(strstr(out, "AddressSanitizer: heap-buffer-overflow"));
}

static void
undefined_behavior_sanitizer(void **state)
{
	char out[8192];

	(void)state;
	if (!listed(expected_list(), "undefined")) {
		/* AddressSanitizer's and ThreadSanitizer's runtimes may carry UBSan's handlers too. */
		if (expected_list()[0] == '\0')
			assert_null(__ubsan_handle_add_overflow);
		return;
	}
	assert_non_null(__ubsan_handle_add_overflow);
	/* The child dies only with UBSAN_OPTIONS=halt_on_error=1; the report is there either way. */
	(void)child_ran_clean(overflow_signed_int, out, sizeof(out));
	assert_non_null(strstr(out, "runtime error: signed integer overflow"));
}

static void
thread_sanitizer(void **state)
{
	char out[8192];

	(void)state;
	if (!listed(expected_list(), "thread")) {
		assert_null(__tsan_init);
		return;
	}
	assert_non_null(__tsan_init);
	(void)child_ran_clean(race_two_threads, out, sizeof(out));
	assert_non_null(strstr(out, "ThreadSanitizer: data race"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(configure_list_matches_expected),
		cmocka_unit_test(address_sanitizer),
		cmocka_unit_test(undefined_behavior_sanitizer),
		cmocka_unit_test(thread_sanitizer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
