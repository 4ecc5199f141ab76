/*
 * CPU time (src/lib/ecom_cpu.c, ecom_cpu_stack.c), no services needed.
 * The oracles are the burners' own clocks: CLOCK_THREAD_CPUTIME_ID in a
 * thread, getrusage() in a child sent back through a pipe.  The dev
 * stack is faked: a directory with ports.env and pid files naming this
 * test's children, which re-execute this program with the stack's mark
 * on their command lines, as the real servers have it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "ecom_cpu.h"

#define BURN_US 200000

static int64_t
clock_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Spin until the clock (this thread's or this process's CPU) has moved by us. */
static void
burn(clockid_t clock, int64_t us)
{
	int64_t end = clock_us(clock) + us;
	volatile unsigned spin = 0;

	while (clock_us(clock) < end)
		for (int i = 0; i < 10000; i++)
			spin++;
}

static int64_t
rusage_us(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

/* Within 10 % of the oracle. */
static void
assert_near(int64_t measured, int64_t oracle)
{
	if (llabs(measured - oracle) * 10 > oracle)
		fail_msg("measured %lld µs, oracle %lld µs", (long long)measured, (long long)oracle);
}

/* ---- a thread burning a known amount, kept alive until released ---- */

typedef struct burner {
	const char *name;
	pid_t tid;
	int64_t oracle_us; /* its CPU clock when done: all its time */
	int64_t rusage_delta_us;
	int64_t clock_delta_us;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, release;
} burner;

static void *
burner_main(void *arg)
{
	burner *b = arg;
	int64_t ru0, clock0, ru_end;
	ecom_err err = {0};

	pthread_setname_np(pthread_self(), b->name);
	b->tid = gettid();
	assert_int_equal(ecom_cpu_thread_self_us(&ru0, &err), 0);
	clock0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
	burn(CLOCK_THREAD_CPUTIME_ID, BURN_US);
	b->clock_delta_us = clock_us(CLOCK_THREAD_CPUTIME_ID) - clock0;
	assert_int_equal(ecom_cpu_thread_self_us(&ru_end, &err), 0);
	b->rusage_delta_us = ru_end - ru0;
	pthread_mutex_lock(&b->lock);
	b->oracle_us = clock_us(CLOCK_THREAD_CPUTIME_ID);
	b->done = 1;
	pthread_cond_broadcast(&b->cond);
	while (!b->release)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static void
burner_start(burner *b, pthread_t *thread, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	assert_int_equal(pthread_create(thread, NULL, burner_main, b), 0);
	pthread_mutex_lock(&b->lock);
	while (!b->done)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

static void
burner_stop(burner *b, pthread_t thread)
{
	pthread_mutex_lock(&b->lock);
	b->release = 1;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(thread, NULL);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
}

static void
thread_and_process_figures_match_the_threads_own_clock(void **state)
{
	ecom_err err = {0};
	burner b;
	pthread_t thread;
	int64_t process0, process1, by_tid, by_name;
	int threads = 0;

	(void)state;
	assert_int_equal(ecom_cpu_process_us(&process0, &err), 0);
	burner_start(&b, &thread, "cpu-burner");
	assert_int_equal(ecom_cpu_process_us(&process1, &err), 0);
	assert_int_equal(ecom_cpu_thread_us(b.tid, &by_tid, &err), 0);
	assert_int_equal(ecom_cpu_threads_named_us("cpu-burn", &by_name, &threads, &err), 0);
	burner_stop(&b, thread);

	assert_near(b.rusage_delta_us, b.clock_delta_us);
	assert_near(by_tid, b.oracle_us);
	assert_near(by_name, b.oracle_us);
	assert_int_equal(threads, 1);
	/* The main thread only waited: the process's growth is the burner's. */
	assert_near(process1 - process0, b.oracle_us);
}

static void
snapshot_counts_threads_named_rdk_as_librdkafkas(void **state)
{
	ecom_err err = {0};
	ecom_cpu_snapshot before, after, used;
	burner b;
	pthread_t thread;

	(void)state;
	assert_int_equal(ecom_cpu_snapshot_take(&before, NULL, &err), 0);
	assert_int_equal(before.rdkafka_threads, 0);
	burner_start(&b, &thread, "rdk:broker1");
	assert_int_equal(ecom_cpu_snapshot_take(&after, NULL, &err), 0);
	burner_stop(&b, thread);
	ecom_cpu_snapshot_diff(&before, &after, &used);

	assert_int_equal(used.rdkafka_threads, 1);
	assert_near(used.rdkafka_us, b.oracle_us);
	assert_near(used.process_us, b.oracle_us);
	assert_true(used.taken_us > 0);
	assert_int_equal(used.proc_count, 0);
}

static void
quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

/* The prefix is librdkafka's own naming: its threads, and only they, carry it. */
static void
librdkafkas_threads_carry_its_prefix(void **state)
{
	ecom_err err = {0};
	ecom_cpu_snapshot before, during;
	char why[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	int all_before, all_during;
	int64_t us, deadline;

	(void)state;
	assert_int_equal(ecom_cpu_snapshot_take(&before, NULL, &err), 0);
	assert_int_equal(ecom_cpu_threads_named_us("", &us, &all_before, &err), 0);
	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", why, sizeof(why)),
	                 RD_KAFKA_CONF_OK);
	/* No broker there: quiet about it. */
	rd_kafka_conf_set_log_cb(conf, quiet_log);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	assert_non_null(rk);
	/* A new thread names itself once running: wait until every new one has. */
	deadline = clock_us(CLOCK_MONOTONIC) + 5000000;
	do {
		assert_int_equal(ecom_cpu_snapshot_take(&during, NULL, &err), 0);
		assert_int_equal(ecom_cpu_threads_named_us("", &us, &all_during, &err), 0);
	} while ((during.rdkafka_threads < 2 || all_during - all_before != during.rdkafka_threads) &&
	         clock_us(CLOCK_MONOTONIC) < deadline && usleep(10000) == 0);
	rd_kafka_destroy(rk);

	assert_int_equal(before.rdkafka_threads, 0);
	/* Its main thread and at least one broker thread, nothing else new. */
	assert_true(during.rdkafka_threads >= 2);
	assert_int_equal(all_during - all_before, during.rdkafka_threads);
}

static void
unknown_thread_is_an_error(void **state)
{
	ecom_err err = {0};
	int64_t us;

	(void)state;
	assert_int_equal(ecom_cpu_thread_us(1, &us, &err), -1);
	assert_non_null(strstr(err.msg, "not a thread of this process"));
}

/* ---- other processes ---- */

static void
child_pid_figure_matches_the_childs_getrusage(void **state)
{
	ecom_err err = {0};
	int report[2], hold[2], status;
	int64_t child_says = 0, measured = 0, two = 0;
	pid_t pid, pids[2];

	(void)state;
	assert_int_equal(pipe(report), 0);
	assert_int_equal(pipe(hold), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char byte;
		int64_t used;

		burn(CLOCK_PROCESS_CPUTIME_ID, BURN_US);
		used = rusage_us(RUSAGE_SELF);
		if (write(report[1], &used, sizeof(used)) != sizeof(used))
			_exit(1);
		/* Alive until the parent has looked. */
		close(hold[1]);
		_exit(read(hold[0], &byte, 1) < 0);
	}
	close(report[1]);
	close(hold[0]);
	assert_int_equal(read(report[0], &child_says, sizeof(child_says)), sizeof(child_says));
	assert_int_equal(ecom_cpu_pid_us(pid, &measured, &err), 0);
	pids[0] = pids[1] = pid;
	assert_int_equal(ecom_cpu_pids_us(pids, 2, &two, &err), 0);
	close(hold[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(report[0]);

	assert_near(measured, child_says);
	assert_int_equal(two, 2 * measured);
	/* Reaped: gone, and said so. */
	assert_int_equal(ecom_cpu_pid_us(pid, &measured, &err), -1);
	assert_non_null(strstr(err.msg, "is not running"));
	assert_int_equal(ecom_cpu_pids_us(pids, 2, &two, &err), -1);
	assert_int_equal(ecom_cpu_pid_us(0, &measured, &err), -1);
}

/* ---- a fake dev stack: servers are this program run with --serve ---- */

typedef struct fake_server {
	pid_t pid;
	int hold;   /* its stdin: 'g' starts the burn, EOF ends it */
	int report; /* its stdout: a byte when ready, then the CPU it used */
	bool kids;
} fake_server;

/*
 * The server side.  It burns, and with kids also one child it reaps (its
 * time goes to cutime) and one that stays alive: PostgreSQL's backends.
 * Each reports the CPU it used after 'g'.
 */
static int
serve(int64_t burn_us, bool kids)
{
	char byte = 'r';
	int64_t self0, used;
	pid_t reaped, live = -1;

	if (write(1, &byte, 1) != 1 || read(0, &byte, 1) != 1)
		return 0;
	self0 = rusage_us(RUSAGE_SELF);
	burn(CLOCK_PROCESS_CPUTIME_ID, burn_us);
	if (kids) {
		reaped = fork();
		if (reaped == 0) {
			burn(CLOCK_PROCESS_CPUTIME_ID, burn_us);
			_exit(0);
		}
		waitpid(reaped, NULL, 0);
		live = fork();
		if (live == 0) {
			burn(CLOCK_PROCESS_CPUTIME_ID, burn_us);
			used = rusage_us(RUSAGE_SELF);
			if (write(1, &used, sizeof(used)) != sizeof(used))
				_exit(1);
			while (read(0, &byte, 1) > 0)
				;
			_exit(0);
		}
	}
	used = rusage_us(RUSAGE_SELF) - self0 + rusage_us(RUSAGE_CHILDREN);
	if (write(1, &used, sizeof(used)) != sizeof(used))
		return 1;
	while (read(0, &byte, 1) > 0)
		;
	if (live > 0)
		waitpid(live, NULL, 0);
	return 0;
}

static void
server_start(fake_server *s, const char *mark, int64_t burn_us, bool kids)
{
	int hold[2], report[2];
	char burn_text[32], byte;

	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	snprintf(burn_text, sizeof(burn_text), "%lld", (long long)burn_us);
	s->kids = kids;
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		dup2(hold[0], 0);
		dup2(report[1], 1);
		execl("/proc/self/exe", "test-cpu", "--serve", mark, burn_text, kids ? "kids" : "none",
		      (char *)NULL);
		_exit(127);
	}
	close(hold[0]);
	close(report[1]);
	s->hold = hold[1];
	s->report = report[0];
	/* Ready: the mark is on its command line now. */
	assert_int_equal(read(s->report, &byte, 1), 1);
}

/* Start the burn and wait for it: the CPU the server and its kids used. */
static int64_t
server_burn(fake_server *s)
{
	int64_t total = 0, one;
	int i;

	assert_int_equal(write(s->hold, "g", 1), 1);
	for (i = 0; i < (s->kids ? 2 : 1); i++) {
		assert_int_equal(read(s->report, &one, sizeof(one)), sizeof(one));
		total += one;
	}
	return total;
}

static void
server_stop(fake_server *s)
{
	close(s->hold);
	close(s->report);
	assert_int_equal(waitpid(s->pid, NULL, 0), s->pid);
}

static void
write_file(const char *dir, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
write_pid(const char *dir, const char *rel, pid_t pid)
{
	char text[64];

	snprintf(text, sizeof(text), "%ld\n", (long)pid);
	write_file(dir, rel, text);
}

static void
make_dirs(const char *dir, const char *const *rels)
{
	char path[512];

	for (; *rels != NULL; rels++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *rels);
		assert_int_equal(mkdir(path, 0755), 0);
	}
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
remove_tree(const char *dir)
{
	assert_int_equal(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* A stack directory with one broker, mongodb and postgresql, no pid files. */
static void
fake_stack(char *dir, size_t size)
{
	static const char *const dirs[] = {"kafka", "mongodb", "postgres", "postgres/data", NULL};

	snprintf(dir, size, "/tmp/test-cpu-XXXXXX");
	assert_non_null(mkdtemp(dir));
	make_dirs(dir, dirs);
	write_file(dir, "ports.env",
	           "KAFKA_BROKERS_COUNT=1\nKAFKA_PORT=21001\nKAFKA_CONTROLLER_PORT=21002\n"
	           "MONGO_PORT=21003\nPG_PORT=21004\n");
}

static void
mark_of(char *mark, size_t size, const char *dir, const char *rel)
{
	snprintf(mark, size, "%s/%s", dir, rel);
}

static void
fake_stack_is_found_and_each_server_tree_measured(void **state)
{
	char dir[64], mark[128];
	ecom_err err = {0};
	fake_server kafka, mongo, pg;
	ecom_cpu_services svc;
	ecom_cpu_snapshot before, after, used, later;
	int64_t kafka_says, mongo_says, pg_says;
	const ecom_cpu_where where = {
	    .brokers = "127.0.0.1:21001",
	    .mongodb_uri = "mongodb://ecom:pw@localhost:21003/ecommerce?w=1",
	    .postgres_uri = "postgresql://ecom:ecom@127.0.0.1:21004/ecommerce",
	};
	ecom_cpu_where here = where;

	(void)state;
	fake_stack(dir, sizeof(dir));
	here.devstack_dir = dir;
	mark_of(mark, sizeof(mark), dir, "kafka/server.properties");
	server_start(&kafka, mark, BURN_US, false);
	mark_of(mark, sizeof(mark), dir, "mongodb/data");
	server_start(&mongo, mark, BURN_US, false);
	mark_of(mark, sizeof(mark), dir, "postgres/data");
	server_start(&pg, mark, BURN_US, true);
	write_pid(dir, "kafka/kafka.pid", kafka.pid);
	write_pid(dir, "mongodb/mongodb.pid", mongo.pid);
	/* postmaster.pid: the pid on the first of several lines */
	snprintf(mark, sizeof(mark), "%ld\n%s\n1700000000\n21004\n", (long)pg.pid, dir);
	write_file(dir, "postgres/data/postmaster.pid", mark);

	assert_int_equal(ecom_cpu_services_find(&svc, &here, &err), 0);
	for (int k = 0; k < ECOM_CPU_KINDS; k++) {
		assert_int_equal(svc.state[k], ECOM_CPU_FOUND);
		assert_string_equal(svc.note[k], "");
	}
	assert_int_equal(svc.count, 3);
	assert_int_equal(svc.procs[0].pid, kafka.pid);
	assert_string_equal(svc.procs[0].name, "kafka");
	assert_int_equal(svc.procs[1].pid, mongo.pid);
	assert_int_equal(svc.procs[2].pid, pg.pid);
	assert_string_equal(svc.procs[2].name, "postgresql");

	assert_int_equal(ecom_cpu_snapshot_take(&before, &svc, &err), 0);
	kafka_says = server_burn(&kafka);
	mongo_says = server_burn(&mongo);
	pg_says = server_burn(&pg);
	assert_int_equal(ecom_cpu_snapshot_take(&after, &svc, &err), 0);
	ecom_cpu_snapshot_diff(&before, &after, &used);
	assert_near(ecom_cpu_kind_us(&used, &svc, ECOM_CPU_KAFKA), kafka_says);
	assert_near(ecom_cpu_kind_us(&used, &svc, ECOM_CPU_MONGODB), mongo_says);
	/* The postmaster, a child it reaped and one still alive. */
	assert_near(ecom_cpu_kind_us(&used, &svc, ECOM_CPU_POSTGRESQL), pg_says);

	/* A server gone by the second snapshot is not measured. */
	server_stop(&mongo);
	assert_int_equal(ecom_cpu_snapshot_take(&later, &svc, &err), 0);
	assert_int_equal(later.proc_us[1], -1);
	ecom_cpu_snapshot_diff(&before, &later, &used);
	assert_int_equal(ecom_cpu_kind_us(&used, &svc, ECOM_CPU_MONGODB), -1);
	assert_true(ecom_cpu_kind_us(&used, &svc, ECOM_CPU_KAFKA) >= 0);

	server_stop(&kafka);
	server_stop(&pg);
	remove_tree(dir);
}

static void
brokers_of_a_cluster_are_found_in_their_node_dirs(void **state)
{
	static const char *const dirs[] = {"kafka", "kafka/controller", "kafka/kafka-1",
	                                   "kafka/kafka-2", "kafka/kafka-3", NULL};
	char dir[64], mark[128];
	ecom_err err = {0};
	fake_server controller, one, three;
	ecom_cpu_services svc;
	ecom_cpu_where where = {.brokers = "127.0.0.1:21001, localhost:21005,[::1]:21007"};
	pid_t dead;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-cpu-XXXXXX");
	assert_non_null(mkdtemp(dir));
	make_dirs(dir, dirs);
	write_file(dir, "ports.env",
	           "KAFKA_BROKERS_COUNT=3\nKAFKA_PORT=21001\nKAFKA_CONTROLLER_PORT=21002\n"
	           "KAFKA_PORT_2=21005\nKAFKA_PORT_3=21007\nMONGO_PORT=\nPG_PORT=\n");
	/* The dedicated KRaft controller is Kafka's too. */
	mark_of(mark, sizeof(mark), dir, "kafka/controller/server.properties");
	server_start(&controller, mark, 0, false);
	mark_of(mark, sizeof(mark), dir, "kafka/kafka-1/server.properties");
	server_start(&one, mark, 0, false);
	mark_of(mark, sizeof(mark), dir, "kafka/kafka-3/server.properties");
	server_start(&three, mark, 0, false);
	dead = fork();
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	write_pid(dir, "kafka/controller/kafka.pid", controller.pid);
	write_pid(dir, "kafka/kafka-1/kafka.pid", one.pid);
	write_pid(dir, "kafka/kafka-2/kafka.pid", dead);
	write_pid(dir, "kafka/kafka-3/kafka.pid", three.pid);
	where.devstack_dir = dir;

	assert_int_equal(ecom_cpu_services_find(&svc, &where, &err), 0);
	assert_int_equal(svc.state[ECOM_CPU_KAFKA], ECOM_CPU_FOUND);
	assert_int_equal(svc.state[ECOM_CPU_MONGODB], ECOM_CPU_UNUSED);
	assert_int_equal(svc.count, 3);
	assert_string_equal(svc.procs[0].name, "controller");
	assert_int_equal(svc.procs[0].pid, controller.pid);
	assert_string_equal(svc.procs[1].name, "kafka-1");
	assert_int_equal(svc.procs[1].pid, one.pid);
	assert_string_equal(svc.procs[2].name, "kafka-3");
	assert_int_equal(svc.procs[2].pid, three.pid);
	/* The missing broker is named, so a report can say its figure is partial. */
	assert_non_null(strstr(svc.note[ECOM_CPU_KAFKA], "kafka-2: pid "));
	assert_non_null(strstr(svc.note[ECOM_CPU_KAFKA], "is not running"));
	assert_null(strstr(svc.note[ECOM_CPU_KAFKA], "controller"));

	server_stop(&controller);
	server_stop(&one);
	server_stop(&three);
	remove_tree(dir);
}

static void
bad_pid_files_say_not_running(void **state)
{
	char dir[64];
	ecom_err err = {0};
	ecom_cpu_services svc;
	ecom_cpu_where where = {
	    .brokers = "127.0.0.1:21001",
	    .mongodb_uri = "mongodb://127.0.0.1:21003",
	    .postgres_uri = "postgresql://ecom:ecom@127.0.0.1:21004/ecommerce",
	};

	(void)state;
	fake_stack(dir, sizeof(dir));
	where.devstack_dir = dir;
	write_file(dir, "kafka/kafka.pid", "garbage\n");
	/* Alive, but not started from the stack: a recycled pid. */
	write_pid(dir, "mongodb/mongodb.pid", getpid());

	assert_int_equal(ecom_cpu_services_find(&svc, &where, &err), 0);
	assert_int_equal(svc.count, 0);
	assert_int_equal(svc.state[ECOM_CPU_KAFKA], ECOM_CPU_NOT_RUNNING);
	assert_non_null(strstr(svc.note[ECOM_CPU_KAFKA], "holds no pid ('garbage')"));
	assert_int_equal(svc.state[ECOM_CPU_MONGODB], ECOM_CPU_NOT_RUNNING);
	assert_non_null(strstr(svc.note[ECOM_CPU_MONGODB], "the pid is another program's"));
	assert_int_equal(svc.state[ECOM_CPU_POSTGRESQL], ECOM_CPU_NOT_RUNNING);
	assert_non_null(strstr(svc.note[ECOM_CPU_POSTGRESQL], "no pid file"));

	write_file(dir, "kafka/kafka.pid", "");
	write_file(dir, "mongodb/mongodb.pid", "-5\n");
	write_file(dir, "postgres/data/postmaster.pid", "99999999999999999999\n");
	assert_int_equal(ecom_cpu_services_find(&svc, &where, &err), 0);
	for (int k = 0; k < ECOM_CPU_KINDS; k++) {
		assert_int_equal(svc.state[k], ECOM_CPU_NOT_RUNNING);
		assert_non_null(strstr(svc.note[k], "holds no pid"));
	}
	remove_tree(dir);
}

/* The state and note find gives one URI of a kind, on the fake stack in dir. */
static enum ecom_cpu_state
found(const char *dir, enum ecom_cpu_kind kind, const char *uri, char *note, size_t size)
{
	ecom_err err = {0};
	ecom_cpu_services svc;
	ecom_cpu_where where = {.devstack_dir = dir};

	if (kind == ECOM_CPU_KAFKA)
		where.brokers = uri;
	else if (kind == ECOM_CPU_MONGODB)
		where.mongodb_uri = uri;
	else
		where.postgres_uri = uri;
	assert_int_equal(ecom_cpu_services_find(&svc, &where, &err), 0);
	snprintf(note, size, "%s", svc.note[kind]);
	return svc.state[kind];
}

static void
uris_elsewhere_are_not_measured_here(void **state)
{
	static const struct {
		enum ecom_cpu_kind kind;
		const char *uri, *note;
	} cases[] = {
	    {ECOM_CPU_KAFKA, "kafka.example.com:9092", "'kafka.example.com' is another machine"},
	    {ECOM_CPU_KAFKA, "127.0.0.1:21001,10.1.2.3:9092", "'10.1.2.3' is another machine"},
	    {ECOM_CPU_KAFKA, "127.0.0.1:1", "port 1 is not the kafka of the dev stack"},
	    {ECOM_CPU_KAFKA, "127.0.0.1:x", "cannot tell which machine"},
	    {ECOM_CPU_MONGODB, "mongodb+srv://cluster0.example.net/db", "cannot tell which machine"},
	    {ECOM_CPU_MONGODB, "mongodb://u:p@[2001:db8::1]:27017/db", "'2001:db8::1' is another"},
	    {ECOM_CPU_MONGODB, "mongodb://localhost/db", "port 27017 is not the mongodb"},
	    {ECOM_CPU_POSTGRESQL, "postgresql://ecom:s3cret@db.example.com:21004/x",
	     "'db.example.com' is another machine"},
	    {ECOM_CPU_POSTGRESQL, "host=127.0.0.1 port=9", "port 9 is not the postgresql"},
	    {ECOM_CPU_POSTGRESQL, "service=ecom", "cannot tell which machine"},
	    /* One port per host: the first one's is the default. */
	    {ECOM_CPU_POSTGRESQL, "postgres://ecom@127.0.0.1,localhost:21004/x", "port 5432 is not"},
	    {ECOM_CPU_POSTGRESQL, "postgresql://ecom:s3cret@127.0.0.1:21004/x?sslmode=nonsense=",
	     "cannot tell which machine"},
	};
	char dir[64], note[256];

	(void)state;
	fake_stack(dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(found(dir, cases[i].kind, cases[i].uri, note, sizeof(note)),
		                 ECOM_CPU_NOT_HERE);
		assert_non_null(strstr(note, "not measured here: "));
		if (strstr(note, cases[i].note) == NULL)
			fail_msg("'%s' gave '%s'", cases[i].uri, note);
		assert_null(strstr(note, "s3cret"));
	}
	/* Loopback, but no stack there, or none of that service. */
	assert_int_equal(found("/nonexistent/stack", ECOM_CPU_KAFKA, "127.0.0.1:9092", note,
	                       sizeof(note)),
	                 ECOM_CPU_NOT_HERE);
	assert_non_null(strstr(note, "no dev stack in '/nonexistent/stack'"));
	write_file(dir, "ports.env", "KAFKA_PORT=21001\nMONGO_PORT=\nPG_PORT=21004\n");
	assert_int_equal(found(dir, ECOM_CPU_MONGODB, "mongodb://127.0.0.1:21003", note, sizeof(note)),
	                 ECOM_CPU_NOT_HERE);
	assert_non_null(strstr(note, "runs no mongodb"));
	/* libpq takes a host the URI lacks from PGHOST. */
	setenv("PGHOST", "db.example.com", 1);
	assert_int_equal(found(dir, ECOM_CPU_POSTGRESQL, "postgresql:///x", note, sizeof(note)),
	                 ECOM_CPU_NOT_HERE);
	unsetenv("PGHOST");
	assert_non_null(strstr(note, "'db.example.com' is another machine"));
	/* No URI: not used, nothing to say. */
	assert_int_equal(found(dir, ECOM_CPU_KAFKA, NULL, note, sizeof(note)), ECOM_CPU_UNUSED);
	assert_string_equal(note, "");
	remove_tree(dir);
}

static void
local_uri_forms_point_at_the_stack(void **state)
{
	static const struct {
		enum ecom_cpu_kind kind;
		const char *uri;
	} cases[] = {
	    {ECOM_CPU_KAFKA, "PLAINTEXT://127.0.0.1:21001"},
	    {ECOM_CPU_KAFKA, "[::1]:21001"},
	    {ECOM_CPU_KAFKA, "127.1.2.3:21001"},
	    {ECOM_CPU_MONGODB, "mongodb://localhost:21003,127.0.0.1:21003/?replicaSet=rs"},
	    {ECOM_CPU_POSTGRESQL, "host=localhost port=21004 dbname=ecommerce"},
	    {ECOM_CPU_POSTGRESQL, "postgresql:///ecommerce?host=/tmp/run&port=21004"},
	    {ECOM_CPU_POSTGRESQL, "postgres://ecom@127.0.0.1:21004,localhost:21004/x"},
	    {ECOM_CPU_POSTGRESQL, "host=db.example.com hostaddr=127.0.0.1 port=21004"},
	};
	char dir[64], note[256], with_slash[128];

	(void)state;
	fake_stack(dir, sizeof(dir));
	/* No pid files: past the URI check, the state is "not running". */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (found(dir, cases[i].kind, cases[i].uri, note, sizeof(note)) != ECOM_CPU_NOT_RUNNING)
			fail_msg("'%s' gave '%s'", cases[i].uri, note);
	}
	/* The stack directory from the environment, as devstack.sh takes it. */
	snprintf(with_slash, sizeof(with_slash), "%s/", dir);
	setenv("ECOM_DEVSTACK_DIR", with_slash, 1);
	assert_int_equal(found(NULL, ECOM_CPU_KAFKA, "127.0.0.1:21001", note, sizeof(note)),
	                 ECOM_CPU_NOT_RUNNING);
	unsetenv("ECOM_DEVSTACK_DIR");
	snprintf(with_slash, sizeof(with_slash), "kafka: no pid file '%s/kafka/kafka.pid'", dir);
	assert_string_equal(note, with_slash);
	remove_tree(dir);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(thread_and_process_figures_match_the_threads_own_clock),
		cmocka_unit_test(snapshot_counts_threads_named_rdk_as_librdkafkas),
		cmocka_unit_test(librdkafkas_threads_carry_its_prefix),
		cmocka_unit_test(unknown_thread_is_an_error),
		cmocka_unit_test(child_pid_figure_matches_the_childs_getrusage),
		cmocka_unit_test(fake_stack_is_found_and_each_server_tree_measured),
		cmocka_unit_test(brokers_of_a_cluster_are_found_in_their_node_dirs),
		cmocka_unit_test(bad_pid_files_say_not_running),
		cmocka_unit_test(uris_elsewhere_are_not_measured_here),
		cmocka_unit_test(local_uri_forms_point_at_the_stack),
	};

	/* A fake server of the fake dev stack (server_start). */
	if (argc == 5 && strcmp(argv[1], "--serve") == 0)
		return serve(atoll(argv[3]), strcmp(argv[4], "kids") == 0);
	/* libpq's defaults from the environment would change the URIs' hosts and ports. */
	unsetenv("PGHOST");
	unsetenv("PGHOSTADDR");
	unsetenv("PGPORT");
	unsetenv("PGSERVICE");
	return cmocka_run_group_tests_name("cpu", tests, NULL, NULL);
}
