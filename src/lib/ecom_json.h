/*
 * The one style of JSON the commands print on standard output: compact,
 * one object per line (so both `jq` and `jq -s` read it), keys in the
 * order they were added, numbers with at most 15 significant digits.
 * Values that are not plain JSON (dates, ObjectIds, Decimal128 …) are
 * written as MongoDB relaxed extended JSON, as libbson writes them.
 */
#ifndef ECOM_JSON_H
#define ECOM_JSON_H

#include <bson/bson.h>
#include <stdio.h>

/* doc as one line of compact JSON, no newline; free with bson_free(). */
char *ecom_json_compact(const bson_t *doc, size_t *len);
/*
 * doc as libbson's bson_as_relaxed_extended_json() writes it, byte for
 * byte, or NULL where that gives NULL; free with bson_free().  The event
 * wire form is written this way: libbson appends one character at a time.
 */
char *ecom_json_relaxed(const bson_t *doc, size_t *len);
/* doc as one line on out, then a newline; -1 on a write error (errno set). */
int ecom_json_print(FILE *out, const bson_t *doc);

#endif
