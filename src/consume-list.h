/*
 * ecom-consume -L: the cluster's brokers and partitions as JSON lines.
 */
#ifndef ECOM_CONSUME_LIST_H
#define ECOM_CONSUME_LIST_H

#include <stdio.h>

#include "ecom_config.h"
#include "ecom_log.h"

/*
 * The cluster as kcat -L shows it, one JSON document a line to out:
 * first {"brokers": [{"id", "host", "port"}, ...]}, then, sorted by name,
 * one per topic (every topic, internal ones included, or only `topic`):
 * {"topic", "partitions": [{"partition", "leader", "replicas", "isr"}, ...],
 * "min_insync_replicas"}, with "error" on a topic or partition the
 * metadata reports one for.  min_insync_replicas is the topic's effective
 * configuration, left out (with a warning) when the cluster does not say.
 * On a client of its own that reads nothing.  -1 when `topic` does not
 * exist or the cluster does not answer within cfg->timeout_ms.
 */
int ecom_consume_list(const ecom_config *cfg, const char *topic, FILE *out, ecom_err *err);

#endif
