#include "ecom_retry.h"

#include <stdio.h>
#include <string.h>

#include "ecom_time.h"

#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 1000
/* Sleep in slices this long, so a stop request is seen at once. */
#define BACKOFF_SLICE_MS 50

void
ecom_outage_init(ecom_outage *o, const char *what, int64_t bound_ms)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->what, sizeof(o->what), "%s", what);
	o->bound_ms = bound_ms;
	o->backoff_ms = BACKOFF_FIRST_MS;
}

int
ecom_outage_trouble(ecom_outage *o, const char *reason, ecom_err *err)
{
	int64_t now = ecom_monotonic_us();
	char why[sizeof(err->msg)];

	/* reason may be err->msg itself (ecom_store.c): copied before err is written. */
	snprintf(why, sizeof(why), "%s", reason);
	reason = why;

	if (o->started_us == 0) {
		o->started_us = now;
		o->backoff_ms = BACKOFF_FIRST_MS;
		ecom_warnf("%s; retrying for up to %.0f s", reason, (double)o->bound_ms / 1000.0);
		return 0;
	}
	if (now - o->started_us < o->bound_ms * 1000)
		return 0;
	return ecom_err_set(err, "%s (gave up after %.1f s of retrying; see retry_timeout_ms)",
	                    reason, (double)(now - o->started_us) / 1e6);
}

void
ecom_outage_backoff(ecom_outage *o, ecom_stop_flag *stop)
{
	int64_t slept;

	for (slept = 0; slept < o->backoff_ms && !(stop != NULL && *stop); slept += BACKOFF_SLICE_MS)
		ecom_sleep_ms(BACKOFF_SLICE_MS);
	o->backoff_ms = o->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : o->backoff_ms * 2;
}

void
ecom_outage_over(ecom_outage *o)
{
	if (o->started_us == 0)
		return;
	ecom_infof("%s: back after %.1f s", o->what,
	           (double)(ecom_monotonic_us() - o->started_us) / 1e6);
	o->started_us = 0;
	o->backoff_ms = BACKOFF_FIRST_MS;
}
