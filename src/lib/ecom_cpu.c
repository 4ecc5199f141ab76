/*
 * CPU time from getrusage() and /proc (see ecom_cpu.h).  The dev stack's
 * layout (pid files, ports.env, the marks on command lines) is the one
 * scripts/devstack.sh writes and checks in pid_is_ours().
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ecom_alloc.h"
#include "ecom_cpu.h"
#include "ecom_time.h"

/* What /proc/PID/stat says that matters here. */
typedef struct proc_stat {
	char comm[64];
	pid_t pid;
	pid_t ppid;
	unsigned long long utime, stime, cutime, cstime, start;
} proc_stat;

static int64_t
ticks_to_us(unsigned long long ticks)
{
	static long hz;

	if (hz <= 0)
		hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	return (int64_t)(ticks * 1000000ULL / (unsigned long long)hz);
}

/* The whole of a small /proc file, NUL-terminated; -1 with errno. */
static ssize_t
read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/*
 * Parse a stat file.  0; 1 when it is gone (the process or thread ended);
 * -1 when it does not parse.  The name is between the first '(' and the
 * last ')': a name may hold either.
 */
static int
stat_read(const char *path, proc_stat *st)
{
	char buf[1024];
	char *open_paren, *close_paren;
	long long cutime, cstime;
	size_t len;

	if (read_small(path, buf, sizeof(buf)) < 0)
		return (errno == ENOENT || errno == ESRCH) ? 1 : -1;
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (open_paren == NULL || close_paren == NULL || close_paren < open_paren)
		return -1;
	st->pid = (pid_t)strtol(buf, NULL, 10);
	len = (size_t)(close_paren - open_paren - 1);
	if (len >= sizeof(st->comm))
		len = sizeof(st->comm) - 1;
	memcpy(st->comm, open_paren + 1, len);
	st->comm[len] = '\0';
	if (sscanf(close_paren + 1,
	           " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld"
	           " %*d %*d %*d %*d %llu",
	           &st->ppid, &st->utime, &st->stime, &cutime, &cstime, &st->start) != 6)
		return -1;
	st->cutime = cutime > 0 ? (unsigned long long)cutime : 0;
	st->cstime = cstime > 0 ? (unsigned long long)cstime : 0;
	return 0;
}

int
ecom_cpu_process_us(int64_t *us, ecom_err *err)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return ecom_err_set(err, "getrusage: %s", strerror(errno));
	*us = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	      ru.ru_stime.tv_usec;
	return 0;
}

int
ecom_cpu_thread_self_us(int64_t *us, ecom_err *err)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return ecom_err_set(err, "getrusage: %s", strerror(errno));
	*us = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	      ru.ru_stime.tv_usec;
	return 0;
}

int
ecom_cpu_thread_us(pid_t tid, int64_t *us, ecom_err *err)
{
	char path[64];
	proc_stat st;
	int rc;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", (long)tid);
	rc = stat_read(path, &st);
	if (rc == 1)
		return ecom_err_set(err, "thread %ld is not a thread of this process", (long)tid);
	if (rc < 0)
		return ecom_err_set(err, "cannot read '%s'", path);
	*us = ticks_to_us(st.utime + st.stime);
	return 0;
}

int
ecom_cpu_threads_named_us(const char *prefix, int64_t *us, int *threads, ecom_err *err)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *d;
	unsigned long long ticks = 0;
	size_t plen = strlen(prefix);
	int count = 0;

	if (dir == NULL)
		return ecom_err_set(err, "cannot read '/proc/self/task': %s", strerror(errno));
	while ((d = readdir(dir)) != NULL) {
		char path[300];
		proc_stat st;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", d->d_name);
		/* A thread that ended during the walk is skipped: its time is
		 * in the process's figure. */
		if (stat_read(path, &st) != 0 || strncmp(st.comm, prefix, plen) != 0)
			continue;
		ticks += st.utime + st.stime;
		count++;
	}
	closedir(dir);
	*us = ticks_to_us(ticks);
	if (threads != NULL)
		*threads = count;
	return 0;
}

int
ecom_cpu_pid_us(pid_t pid, int64_t *us, ecom_err *err)
{
	char path[64];
	proc_stat st;
	int rc;

	if (pid <= 0)
		return ecom_err_set(err, "%ld is not a process id", (long)pid);
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	rc = stat_read(path, &st);
	if (rc == 1)
		return ecom_err_set(err, "process %ld is not running", (long)pid);
	if (rc < 0)
		return ecom_err_set(err, "cannot read '%s'", path);
	*us = ticks_to_us(st.utime + st.stime);
	return 0;
}

int
ecom_cpu_pids_us(const pid_t *pids, size_t n, int64_t *us, ecom_err *err)
{
	int64_t sum = 0, one;
	size_t i;

	for (i = 0; i < n; i++) {
		if (ecom_cpu_pid_us(pids[i], &one, err) != 0)
			return -1;
		sum += one;
	}
	*us = sum;
	return 0;
}

const char *
ecom_cpu_kind_name(enum ecom_cpu_kind kind)
{
	switch (kind) {
	case ECOM_CPU_KAFKA:
		return "kafka";
	case ECOM_CPU_MONGODB:
		return "mongodb";
	case ECOM_CPU_POSTGRESQL:
		return "postgresql";
	default:
		return "?";
	}
}

/* ---- snapshots ---- */

/* Every process on the machine, sorted by pid, for the services' trees. */
typedef struct proc_table {
	proc_stat *p;
	size_t n;
} proc_table;

static int
by_pid(const void *a, const void *b)
{
	pid_t x = ((const proc_stat *)a)->pid, y = ((const proc_stat *)b)->pid;

	return (x > y) - (x < y);
}

static int
proc_table_read(proc_table *t, ecom_err *err)
{
	DIR *dir = opendir("/proc");
	struct dirent *d;
	size_t cap = 0;

	t->p = NULL;
	t->n = 0;
	if (dir == NULL)
		return ecom_err_set(err, "cannot read '/proc': %s", strerror(errno));
	while ((d = readdir(dir)) != NULL) {
		char path[300];

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		if (t->n == cap) {
			cap = cap ? cap * 2 : 256;
			t->p = ecom_xreallocarray(t->p, cap, sizeof(*t->p));
		}
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		if (stat_read(path, &t->p[t->n]) == 0)
			t->n++;
	}
	closedir(dir);
	qsort(t->p, t->n, sizeof(*t->p), by_pid);
	return 0;
}

static const proc_stat *
proc_table_find(const proc_table *t, pid_t pid)
{
	proc_stat key = {.pid = pid};

	return bsearch(&key, t->p, t->n, sizeof(*t->p), by_pid);
}

static bool
descends_from(const proc_table *t, const proc_stat *p, pid_t root)
{
	int depth;

	/* Bounded: a parent may exit and its pid be reused mid-walk. */
	for (depth = 0; depth < 64 && p != NULL && p->ppid > 1; depth++) {
		if (p->ppid == root)
			return true;
		p = proc_table_find(t, p->ppid);
	}
	return false;
}

/*
 * A server with its descendants: the reaped ones are in its cutime and
 * cstime, the live ones are added here; -1 when it is gone or restarted.
 */
static int64_t
tree_us(const proc_table *t, const ecom_cpu_proc *proc)
{
	const proc_stat *root = proc_table_find(t, proc->pid);
	unsigned long long ticks;
	size_t i;

	if (root == NULL || root->start != proc->start_tick)
		return -1;
	ticks = root->utime + root->stime + root->cutime + root->cstime;
	for (i = 0; i < t->n; i++) {
		const proc_stat *p = &t->p[i];

		if (descends_from(t, p, proc->pid))
			ticks += p->utime + p->stime + p->cutime + p->cstime;
	}
	return ticks_to_us(ticks);
}

int
ecom_cpu_snapshot_take(ecom_cpu_snapshot *snap, const ecom_cpu_services *services,
                       ecom_err *err)
{
	proc_table table = {0};
	int i;

	memset(snap, 0, sizeof(*snap));
	snap->taken_us = ecom_monotonic_us();
	if (ecom_cpu_process_us(&snap->process_us, err) != 0 ||
	    ecom_cpu_threads_named_us(ECOM_CPU_RDKAFKA_PREFIX, &snap->rdkafka_us,
	                              &snap->rdkafka_threads, err) != 0)
		return -1;
	if (services == NULL || services->count == 0)
		return 0;
	if (proc_table_read(&table, err) != 0)
		return -1;
	snap->proc_count = services->count;
	for (i = 0; i < services->count; i++)
		snap->proc_us[i] = tree_us(&table, &services->procs[i]);
	free(table.p);
	return 0;
}

void
ecom_cpu_snapshot_diff(const ecom_cpu_snapshot *before, const ecom_cpu_snapshot *after,
                       ecom_cpu_snapshot *delta)
{
	int i;

	memset(delta, 0, sizeof(*delta));
	delta->taken_us = after->taken_us - before->taken_us;
	delta->process_us = after->process_us - before->process_us;
	delta->rdkafka_us = after->rdkafka_us - before->rdkafka_us;
	delta->rdkafka_threads = after->rdkafka_threads;
	delta->proc_count = after->proc_count < before->proc_count ? after->proc_count
	                                                           : before->proc_count;
	for (i = 0; i < delta->proc_count; i++) {
		if (before->proc_us[i] < 0 || after->proc_us[i] < 0)
			delta->proc_us[i] = -1;
		else
			delta->proc_us[i] = after->proc_us[i] - before->proc_us[i];
	}
}

int64_t
ecom_cpu_kind_us(const ecom_cpu_snapshot *delta, const ecom_cpu_services *services,
                 enum ecom_cpu_kind kind)
{
	int64_t sum = -1;
	int i;

	for (i = 0; i < delta->proc_count && i < services->count; i++) {
		if (services->procs[i].kind != kind || delta->proc_us[i] < 0)
			continue;
		sum = (sum < 0 ? 0 : sum) + delta->proc_us[i];
	}
	return sum;
}

int64_t
ecom_cpu_store_us(const ecom_cpu_snapshot *delta, const ecom_cpu_services *services)
{
	int64_t us = ecom_cpu_kind_us(delta, services, ECOM_CPU_MONGODB);

	return us >= 0 ? us : ecom_cpu_kind_us(delta, services, ECOM_CPU_POSTGRESQL);
}
