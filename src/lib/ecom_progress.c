#include "ecom_progress.h"

#include <stdio.h>
#include <unistd.h>

#include "ecom_log.h"
#include "ecom_metrics.h"

void
ecom_progress_start(ecom_progress *p, int64_t total, int force_off)
{
	p->enabled = !force_off && isatty(STDERR_FILENO);
	p->total = total;
	p->started_us = ecom_monotonic_us();
	p->last_drawn_us = 0;
}

void
ecom_progress_update(ecom_progress *p, int64_t done)
{
	int64_t now = ecom_monotonic_us();
	double seconds;

	if (!p->enabled || (now - p->last_drawn_us < 100000 && done < p->total))
		return;
	p->last_drawn_us = now;
	seconds = (double)(now - p->started_us) / 1e6;
	fprintf(stderr, "\r%s: %lld/%lld orders (%.0f%%), %.0f orders/s, %.1f s   ", ecom_progname(),
	        (long long)done, (long long)p->total,
	        p->total > 0 ? 100.0 * (double)done / (double)p->total : 0.0,
	        seconds > 0 ? (double)done / seconds : 0.0, seconds);
	fflush(stderr);
}

void
ecom_progress_finish(ecom_progress *p)
{
	if (!p->enabled)
		return;
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
}
