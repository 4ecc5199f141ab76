/*
 * Riding out a broker or a store that stopped answering.  One warning
 * when the trouble starts, one line when it is over, and a bound
 * (retry_timeout_ms) after which the caller gives up with the reason:
 *
 *   ecom-consume: cannot store paymentcompleted events in
 *       'postgresql://ecom:***@…': server closed the connection
 *       unexpectedly; retrying for up to 120 s
 *   ecom-consume: store 'postgresql://ecom:***@…': back after 4.2 s
 */
#ifndef ECOM_RETRY_H
#define ECOM_RETRY_H

#include <signal.h>
#include <stdint.h>

#include "ecom_log.h"

typedef struct ecom_outage {
	char what[320];      /* what is back: "kafka", "store '…'" */
	int64_t bound_ms;    /* give up after this long */
	int64_t started_us;  /* monotonic start of the trouble; 0 while all is well */
	int64_t backoff_ms;  /* the next wait */
} ecom_outage;

void ecom_outage_init(ecom_outage *o, const char *what, int64_t bound_ms);
/*
 * Something failed for a reason that may pass (reason names what and
 * why).  The first call of an outage warns.  0 while the bound has not
 * passed; -1 once it has, with err saying what failed and for how long.
 */
int ecom_outage_trouble(ecom_outage *o, const char *reason, ecom_err *err);
/* Wait the next backoff step (50 ms, doubling to 1 s); returns early once *stop is set. */
void ecom_outage_backoff(ecom_outage *o, ecom_stop_flag *stop);
/* All is well again: if an outage was reported, say it is over and after how long. */
void ecom_outage_over(ecom_outage *o);

#endif
