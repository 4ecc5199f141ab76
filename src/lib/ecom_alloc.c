#include "ecom_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_log.h"

static void
out_of_memory(size_t size)
{
	/* No ecom_errorf: it may want memory itself. */
	fprintf(stderr, "%s: out of memory (%zu bytes)\n", ecom_progname(), size);
	exit(1);
}

void *
ecom_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		out_of_memory(size);
	return p;
}

void *
ecom_xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	p = calloc(nmemb, size);
	if (p == NULL)
		out_of_memory(nmemb * size);
	return p;
}

void *
ecom_xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		out_of_memory(size);
	return p;
}

void *
ecom_xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > (size_t)-1 / size)
		out_of_memory((size_t)-1);
	return ecom_xrealloc(ptr, nmemb * size);
}

char *
ecom_xstrdup(const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = ecom_xmalloc(len);

	memcpy(p, s, len);
	return p;
}
