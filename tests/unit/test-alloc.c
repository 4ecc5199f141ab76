/*
 * The allocation policy (src/lib/ecom_alloc.c): what cannot be had ends
 * the process with a message and status 1.  Each case runs in a child,
 * whose stderr and exit status are the oracle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"
#include "ecom_alloc.h"
#include "ecom_log.h"

/* fn's exit status in a child, what it printed in out. */
static int
in_child(void (*fn)(void), char *out, size_t size)
{
	int status = child_run(fn, out, size);

	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
ask_too_much(void)
{
	ecom_log_init("test-alloc");
	(void)ecom_xmalloc(SIZE_MAX);
}

static void
ask_overflowing_array(void)
{
	ecom_log_init("test-alloc");
	(void)ecom_xreallocarray(NULL, SIZE_MAX / 2, 4);
}

static void
ask_little(void)
{
	char *s;

	ecom_log_init("test-alloc");
	s = ecom_xstrdup("order");
	if (strcmp(s, "order") != 0)
		_exit(3);
	free(s);
}

static void
failed_allocation_ends_with_message_and_status_1(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(in_child(ask_too_much, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "test-alloc: out of memory"));
	assert_int_equal(in_child(ask_overflowing_array, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "test-alloc: out of memory"));
}

static void
successful_allocation_is_quiet(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(in_child(ask_little, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(failed_allocation_ends_with_message_and_status_1),
		cmocka_unit_test(successful_allocation_is_quiet),
	};

	return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
