/* A one-line progress report on stderr, only when stderr is a terminal. */
#ifndef ECOM_PROGRESS_H
#define ECOM_PROGRESS_H

#include <stdint.h>

typedef struct ecom_progress {
	int enabled;
	int64_t total;
	int64_t started_us;
	int64_t last_drawn_us;
} ecom_progress;

/* enabled when stderr is a TTY and not forced off (force_off: --no-progress). */
void ecom_progress_start(ecom_progress *p, int64_t total, int force_off);
/* Redraw at most ten times a second. */
void ecom_progress_update(ecom_progress *p, int64_t done);
/* Clear the line so the next message starts clean. */
void ecom_progress_finish(ecom_progress *p);

#endif
