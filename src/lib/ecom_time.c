#include "ecom_time.h"

#include <errno.h>
#include <time.h>

static int64_t
clock_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
ecom_now_us(void)
{
	return clock_us(CLOCK_REALTIME);
}

int64_t
ecom_monotonic_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

void
ecom_sleep_ms(int64_t ms)
{
	struct timespec left = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	/* A signal cuts the sleep short: the caller looks at its stop flag. */
	if (ms > 0)
		nanosleep(&left, NULL);
}

void
ecom_sleep_until_us(int64_t mono_us, int64_t max_ms)
{
	int64_t now = ecom_monotonic_us(), until = mono_us;
	struct timespec at;

	if (until <= now)
		return;
	if (until - now > max_ms * 1000)
		until = now + max_ms * 1000;
	at.tv_sec = (time_t)(until / 1000000);
	at.tv_nsec = (long)(until % 1000000) * 1000;
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
}
