/*
 * CPU time: of this process, of its threads by name (librdkafka names its
 * own "rdk:…"), of other processes by pid, and of the dev stack's
 * services when the run's URIs point at them, so that a report can say
 * what the harness, the broker and the store each cost.
 *
 * Figures are microseconds of user + system time.  getrusage() gives
 * this process and the calling thread to the microsecond; /proc gives
 * other threads and processes in clock ticks (sysconf(_SC_CLK_TCK)), so
 * those are exact to one tick only.
 *
 * Usage, around a run:
 *
 *	ecom_cpu_where where = {.brokers = cfg->brokers, .postgres_uri = uri};
 *	ecom_cpu_services svc;
 *	ecom_cpu_snapshot before, after, used;
 *	ecom_cpu_services_find(&svc, &where, &err);     // once, just before
 *	ecom_cpu_snapshot_take(&before, &svc, &err);    // start of the run
 *	... run ...
 *	ecom_cpu_snapshot_take(&after, &svc, &err);     // before closing Kafka handles
 *	ecom_cpu_snapshot_diff(&before, &after, &used);
 *	broker_us = ecom_cpu_kind_us(&used, &svc, ECOM_CPU_KAFKA); // -1: see svc.note[]
 *
 * ecom's own share is used.process_us − used.rdkafka_us.  Per stage in
 * one process: ecom_cpu_thread_self_us() at each stage thread's start
 * and end, or threads named with a common prefix, summed by it.
 */
#ifndef ECOM_CPU_H
#define ECOM_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ecom_config.h"
#include "ecom_log.h"

/* The prefix of the names librdkafka gives its threads. */
#define ECOM_CPU_RDKAFKA_PREFIX "rdk:"

/* This process, every thread that ever ran in it (RUSAGE_SELF). */
int ecom_cpu_process_us(int64_t *us, ecom_err *err);
/* The calling thread (RUSAGE_THREAD). */
int ecom_cpu_thread_self_us(int64_t *us, ecom_err *err);
/* Thread tid of this process (/proc/self/task/TID/stat). */
int ecom_cpu_thread_us(pid_t tid, int64_t *us, ecom_err *err);
/*
 * The live threads of this process whose name starts with prefix (""
 * for all), summed; *threads (may be NULL) counts them.  A thread that
 * ended is no longer counted: its time stays in ecom_cpu_process_us().
 */
int ecom_cpu_threads_named_us(const char *prefix, int64_t *us, int *threads, ecom_err *err);
/* Process pid, all its threads, not its children (/proc/PID/stat). */
int ecom_cpu_pid_us(pid_t pid, int64_t *us, ecom_err *err);
/* The sum over n pids; -1 naming the first that is not running. */
int ecom_cpu_pids_us(const pid_t *pids, size_t n, int64_t *us, ecom_err *err);

/* ---- the dev stack's services ---- */

enum ecom_cpu_kind { ECOM_CPU_KAFKA = 0, ECOM_CPU_MONGODB, ECOM_CPU_POSTGRESQL, ECOM_CPU_KINDS };

enum ecom_cpu_state {
	ECOM_CPU_UNUSED = 0,  /* no URI given: the run does not use it */
	ECOM_CPU_FOUND,       /* measured: its processes are in procs[] */
	ECOM_CPU_NOT_HERE,    /* the URI names another machine or not the dev stack */
	ECOM_CPU_NOT_RUNNING, /* the dev stack's pid file is missing, stale or garbled */
};

/* Where the run's services are; the URIs as the run uses them. */
typedef struct ecom_cpu_where {
	const char *devstack_dir; /* NULL: $ECOM_DEVSTACK_DIR, else /tmp/ecom-devstack-UID */
	const char *brokers;      /* "127.0.0.1:9092,…"; NULL: not looked for */
	const char *mongodb_uri;  /* NULL: not looked for */
	const char *postgres_uri; /* NULL: not looked for */
} ecom_cpu_where;

#define ECOM_CPU_PROCS_MAX 12

/* One server process and, measured with it, all its descendants. */
typedef struct ecom_cpu_proc {
	enum ecom_cpu_kind kind;
	char name[16];                 /* "kafka", "kafka-2", "mongodb", "postgresql" */
	pid_t pid;
	unsigned long long start_tick; /* a restarted server is not the same one */
} ecom_cpu_proc;

typedef struct ecom_cpu_services {
	enum ecom_cpu_state state[ECOM_CPU_KINDS];
	/* Why a kind is not measured ("not measured here: …"), or what is
	 * missing from it (a stopped broker of three); "" otherwise. */
	char note[ECOM_CPU_KINDS][256];
	ecom_cpu_proc procs[ECOM_CPU_PROCS_MAX];
	int count;
} ecom_cpu_services;

/* "kafka", "mongodb", "postgresql". */
const char *ecom_cpu_kind_name(enum ecom_cpu_kind kind);

/*
 * Fill s with the dev stack's servers behind the URIs in where: only
 * when every host a URI names is this machine's loopback (or a Unix
 * socket) on a port the stack's ports.env gives that service, and the
 * pid file names a live process started from the stack's directory.
 * Anything else is a state and a note, not a failure; -1 only when the
 * state directory cannot be read.  A server restarted after this call
 * is -1 in every snapshot: call it just before the first.
 */
int ecom_cpu_services_find(ecom_cpu_services *s, const ecom_cpu_where *where, ecom_err *err);
/* The same for a run of cfg: its brokers and the store it writes to. */
int ecom_cpu_services_of_run(ecom_cpu_services *s, const ecom_config *cfg, ecom_err *err);

/* ---- snapshots ---- */

typedef struct ecom_cpu_snapshot {
	int64_t taken_us;   /* monotonic clock; in a difference, the interval */
	int64_t process_us; /* ecom_cpu_process_us() */
	int64_t rdkafka_us; /* live threads named ECOM_CPU_RDKAFKA_PREFIX */
	int rdkafka_threads; /* how many; in a difference, the later count */
	/*
	 * procs[i] of the services with all its descendants: its own time,
	 * that of the children it reaped (cutime, cstime) and that of its
	 * live descendants, so a PostgreSQL backend that exits between two
	 * snapshots still counts.  -1: not measured (gone, restarted).
	 */
	int64_t proc_us[ECOM_CPU_PROCS_MAX];
	int proc_count;
} ecom_cpu_snapshot;

/*
 * Everything at once: this process, its librdkafka threads, and the
 * services' process trees (services may be NULL).  One pass over /proc
 * when there are services.  Take the second snapshot while the Kafka
 * handles are still open: the time of a thread that ended moves from
 * rdkafka_us to the rest of the process.
 */
int ecom_cpu_snapshot_take(ecom_cpu_snapshot *snap, const ecom_cpu_services *services,
                           ecom_err *err);
/* after − before, field by field; a proc not measured in either is -1. */
void ecom_cpu_snapshot_diff(const ecom_cpu_snapshot *before, const ecom_cpu_snapshot *after,
                            ecom_cpu_snapshot *delta);
/* The store's part of a difference: the MongoDB-protocol server's or PostgreSQL's; -1 if none. */
int64_t ecom_cpu_store_us(const ecom_cpu_snapshot *delta, const ecom_cpu_services *services);
/* A difference's sum over the procs of one kind (all brokers); -1 if none measured. */
int64_t ecom_cpu_kind_us(const ecom_cpu_snapshot *delta, const ecom_cpu_services *services,
                         enum ecom_cpu_kind kind);

#endif
