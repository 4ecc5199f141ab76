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
