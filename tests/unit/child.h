/*
 * A test's function run in a forked child, its standard error captured:
 * for what ends a process (an allocation refused, a sanitizer's report).
 */
#ifndef TEST_CHILD_H
#define TEST_CHILD_H

#include <stddef.h>

/* Run fn in a child (exit 0 if it returns); out gets its stderr. The wait status. */
int child_run(void (*fn)(void), char *out, size_t size);

#endif
