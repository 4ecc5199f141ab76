/* A growable list of order ids, for the audit (see ecom_idlist.h). */
#include "ecom_idlist.h"

#include "ecom_alloc.h"

#include <stdlib.h>
#include <string.h>

int
ecom_idlist_add(ecom_idlist *list, const char *id, size_t id_len, ecom_err *err)
{
	(void)err; /* an allocation that fails ends the process (ecom_alloc.h) */
	if (id_len != ECOM_EVENT_ID_LEN)
		return 0;
	if (list->len == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 1024;

		list->ids = ecom_xreallocarray(list->ids, cap, sizeof(*list->ids));
		list->cap = cap;
	}
	memcpy(list->ids[list->len], id, ECOM_EVENT_ID_LEN);
	list->ids[list->len][ECOM_EVENT_ID_LEN] = '\0';
	list->len++;
	return 0;
}

void
ecom_idlist_free(ecom_idlist *list)
{
	free(list->ids);
	list->ids = NULL;
	list->len = list->cap = 0;
}
