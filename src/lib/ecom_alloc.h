/*
 * The one allocation policy: an allocation that fails ends the process
 * with a message, as git's xmalloc does.  A few bytes that cannot be had
 * leave nothing sensible to do, and a caller that checks every result is
 * a caller that forgets one.  Use these, never bare malloc and friends.
 */
#ifndef ECOM_ALLOC_H
#define ECOM_ALLOC_H

#include <stddef.h>

void *ecom_xmalloc(size_t size);
/* Zeroed; nmemb * size checked for overflow. */
void *ecom_xcalloc(size_t nmemb, size_t size);
void *ecom_xrealloc(void *ptr, size_t size);
/* ptr grown to nmemb elements of size; the product checked for overflow. */
void *ecom_xreallocarray(void *ptr, size_t nmemb, size_t size);
char *ecom_xstrdup(const char *s);

#endif
