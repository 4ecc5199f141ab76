/*
 * Clocks, the one place the library reads them.  Wall-clock time is for
 * what a report or an event says ("start", eventCreatedDate); monotonic
 * time is for durations, which must not jump with the wall clock.
 */
#ifndef ECOM_TIME_H
#define ECOM_TIME_H

#include <stdint.h>

/* Microseconds since the epoch. */
int64_t ecom_now_us(void);
/* Microseconds on a clock that never goes back. */
int64_t ecom_monotonic_us(void);
/* Sleep for ms milliseconds (0 returns at once). */
void ecom_sleep_ms(int64_t ms);
/* Sleep until the monotonic clock reads mono_us, or a signal comes: at most max_ms. */
void ecom_sleep_until_us(int64_t mono_us, int64_t max_ms);

#endif
