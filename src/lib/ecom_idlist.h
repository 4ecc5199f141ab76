/* A growable list of order ids (canonical UUID text), for the audit. */
#ifndef ECOM_IDLIST_H
#define ECOM_IDLIST_H

#include <stddef.h>

#include "ecom_event.h"
#include "ecom_log.h"

typedef struct ecom_idlist {
	char (*ids)[ECOM_EVENT_ID_LEN + 1];
	size_t len;
	size_t cap;
} ecom_idlist;

/* Appends id if it is a canonical-length string; other values are ignored. */
int ecom_idlist_add(ecom_idlist *list, const char *id, size_t id_len, ecom_err *err);
void ecom_idlist_free(ecom_idlist *list);

#endif
