/*
 * CPU time of the real dev stack's servers (src/lib/ecom_cpu_stack.c):
 * the URIs scripts/devstack.sh exports find its broker, MongoDB-protocol
 * server and PostgreSQL; the broker's time grows while orders go through
 * it, and a PostgreSQL backend that ended between two snapshots still
 * counts.  Needs the dev stack (ECOM_* and ECOM_DEVSTACK_DIR as for `up`).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "ecom_cpu.h"
#include "ecom_time.h"

extern char **environ;

static void
find_stack(ecom_cpu_services *svc)
{
	ecom_err err = {0};
	const ecom_cpu_where where = {
	    .brokers = getenv("ECOM_KAFKA_BROKERS"),
	    .mongodb_uri = getenv("ECOM_MONGODB_URI"),
	    .postgres_uri = getenv("ECOM_POSTGRES_URI"),
	};

	assert_int_equal(ecom_cpu_services_find(svc, &where, &err), 0);
	for (int k = 0; k < ECOM_CPU_KINDS; k++) {
		if (svc->state[k] != ECOM_CPU_FOUND)
			fail_msg("%s: state %d: %s", ecom_cpu_kind_name((enum ecom_cpu_kind)k),
			         (int)svc->state[k], svc->note[k]);
	}
}

/* Run a command of the build (on PATH under make check), stdout discarded. */
static void
run(char *const argv[])
{
	posix_spawn_file_actions_t actions;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&actions);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s exited with status %d", argv[0], status);
}

static void
broker_cpu_grows_while_orders_go_through(void **state)
{
	ecom_err err = {0};
	ecom_cpu_services svc;
	ecom_cpu_snapshot before, after, used;
	char prefix[64], topic[128];
	char *produce[] = {"ecom-produce", "--generate", "200", NULL};
	char *consume[] = {"ecom-consume", "-t", topic, "-e", "-n", "200", NULL};

	(void)state;
	snprintf(prefix, sizeof(prefix), "cpu%ldx%lld-", (long)getpid(), (long long)ecom_now_us());
	setenv("ECOM_TOPIC_PREFIX", prefix, 1);
	snprintf(topic, sizeof(topic), "%sordercreated", prefix);
	find_stack(&svc);

	assert_int_equal(ecom_cpu_snapshot_take(&before, &svc, &err), 0);
	run(produce);
	run(consume);
	assert_int_equal(ecom_cpu_snapshot_take(&after, &svc, &err), 0);
	ecom_cpu_snapshot_diff(&before, &after, &used);

	assert_true(ecom_cpu_kind_us(&used, &svc, ECOM_CPU_KAFKA) > 0);
	assert_true(ecom_cpu_kind_us(&used, &svc, ECOM_CPU_MONGODB) >= 0);
	assert_true(ecom_cpu_kind_us(&used, &svc, ECOM_CPU_POSTGRESQL) >= 0);
	unsetenv("ECOM_TOPIC_PREFIX");
}

static bool
process_gone(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	return access(path, F_OK) != 0;
}

static void
ended_postgresql_backend_still_counts(void **state)
{
	ecom_err err = {0};
	ecom_cpu_services svc;
	ecom_cpu_snapshot before, after, used;
	PGconn *conn;
	PGresult *res;
	pid_t backend;
	int64_t backend_us = 0, deadline;

	(void)state;
	find_stack(&svc);
	assert_int_equal(ecom_cpu_snapshot_take(&before, &svc, &err), 0);
	conn = PQconnectdb(getenv("ECOM_POSTGRES_URI"));
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	backend = (pid_t)PQbackendPID(conn);
	res = PQexec(conn, "SELECT count(*) FROM generate_series(1, 3000000)");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	/* The oracle: the backend read on its own, before it ends. */
	assert_int_equal(ecom_cpu_pid_us(backend, &backend_us, &err), 0);
	PQfinish(conn);
	deadline = ecom_monotonic_us() + 10 * 1000000;
	while (!process_gone(backend) && ecom_monotonic_us() < deadline)
		ecom_sleep_ms(10);
	assert_true(process_gone(backend));
	assert_int_equal(ecom_cpu_snapshot_take(&after, &svc, &err), 0);
	ecom_cpu_snapshot_diff(&before, &after, &used);

	assert_true(backend_us > 0);
	if (ecom_cpu_kind_us(&used, &svc, ECOM_CPU_POSTGRESQL) < backend_us)
		fail_msg("postgresql used %lld µs, its ended backend alone %lld µs",
		         (long long)ecom_cpu_kind_us(&used, &svc, ECOM_CPU_POSTGRESQL),
		         (long long)backend_us);
}

int
main(void)
{
	const char *brokers = getenv("ECOM_KAFKA_BROKERS");
	const char *required = getenv("ECOM_REQUIRE_STACK");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(broker_cpu_grows_while_orders_go_through),
		cmocka_unit_test(ended_postgresql_backend_still_counts),
	};

	/* As test-kafka: one TAP skip without the stack, a failure when required. */
	if (brokers == NULL || *brokers == '\0') {
		if (required != NULL && strcmp(required, "1") == 0) {
			printf("1..1\nnot ok 1 - ECOM_KAFKA_BROKERS is unset: start scripts/devstack.sh up\n");
			return 1;
		}
		printf("1..0 # SKIP no dev stack (ECOM_KAFKA_BROKERS unset)\n");
		return 0;
	}
	return cmocka_run_group_tests_name("cpu-stack", tests, NULL, NULL);
}
