/* Unit tests: configuration layering, YAML errors with file:line, -X. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecom_config.h"

static char *
write_temp(const char *text)
{
	char *path = strdup("/tmp/ecom-test-config-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
file_values_are_read(void **state)
{
	ecom_config cfg;
	ecom_err err;
	char *path = write_temp("# comment\nbrokers: 10.0.0.1:9093\nbatch_size: 42\n"
	                        "kafka:\n  linger.ms: 7\n");

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_load_file(&cfg, path, &err), 0);
	assert_string_equal(cfg.brokers, "10.0.0.1:9093");
	assert_int_equal(cfg.batch_size, 42);
	assert_int_equal(cfg.kafka_count, 1);
	assert_string_equal(cfg.kafka[0].key, "linger.ms");
	assert_string_equal(cfg.kafka[0].value, "7");
	ecom_config_free(&cfg);
	unlink(path);
	free(path);
}

static void
environment_overrides_file(void **state)
{
	ecom_config cfg;
	ecom_err err;
	char *path = write_temp("brokers: from-file:1\nwindow: 3\n");

	(void)state;
	setenv("ECOM_KAFKA_BROKERS", "from-env:2", 1);
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_load(&cfg, path, &err), 0);
	assert_string_equal(cfg.brokers, "from-env:2");
	assert_int_equal(cfg.window, 3);
	unsetenv("ECOM_KAFKA_BROKERS");
	ecom_config_free(&cfg);
	unlink(path);
	free(path);
}

static void
unknown_key_names_file_and_line(void **state)
{
	ecom_config cfg;
	ecom_err err;
	char *path = write_temp("brokers: a:1\n\nbrokerz: b:2\n");
	char expected[256];

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_load_file(&cfg, path, &err), -1);
	snprintf(expected, sizeof(expected), "%s:3: unknown key 'brokerz'", path);
	assert_string_equal(err.msg, expected);
	ecom_config_free(&cfg);
	unlink(path);
	free(path);
}

static void
broken_yaml_names_file_and_line(void **state)
{
	ecom_config cfg;
	ecom_err err;
	char *path = write_temp("brokers: a:1\nwindow: [1, 2\n");

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_load_file(&cfg, path, &err), -1);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "not valid YAML"));
	ecom_config_free(&cfg);
	unlink(path);
	free(path);
}

static void
bad_number_is_rejected_with_its_range(void **state)
{
	ecom_config cfg;
	ecom_err err;

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_set(&cfg, "window", "0", &err), -1);
	assert_string_equal(err.msg, "'window' must be a whole number from 1 to 100000, not '0'");
	assert_int_equal(ecom_config_set(&cfg, "orders", "12x", &err), -1);
	ecom_config_free(&cfg);
}

static void
missing_explicit_file_is_an_error(void **state)
{
	ecom_config cfg;
	ecom_err err;

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_load(&cfg, "/nonexistent/ecom.yaml", &err), -1);
	assert_string_equal(err.msg,
	                    "cannot read config file '/nonexistent/ecom.yaml': No such file or directory");
	ecom_config_free(&cfg);
}

static void
kafka_property_needs_key_and_value(void **state)
{
	ecom_config cfg;
	ecom_err err;

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_set_kafka(&cfg, "linger.ms", &err), -1);
	assert_non_null(strstr(err.msg, "expected key=value"));
	assert_int_equal(ecom_config_set_kafka(&cfg, "linger.ms=3", &err), 0);
	assert_int_equal(ecom_config_set_kafka(&cfg, "linger.ms=4", &err), 0);
	assert_int_equal(cfg.kafka_count, 1);
	assert_string_equal(cfg.kafka[0].value, "4");
	ecom_config_free(&cfg);
}

static void
store_names_and_uris_select_the_backend(void **state)
{
	ecom_config cfg;
	ecom_err err;
	enum ecom_store_kind kind;
	const char *uri;

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_store(&cfg, &kind, &uri, &err), 0);
	assert_int_equal(kind, ECOM_STORE_MONGODB);
	assert_string_equal(uri, cfg.mongodb_uri);
	assert_int_equal(ecom_config_set(&cfg, "store", "postgresql://u@h/db", &err), 0);
	assert_int_equal(ecom_config_store(&cfg, &kind, &uri, &err), 0);
	assert_int_equal(kind, ECOM_STORE_POSTGRESQL);
	assert_string_equal(uri, "postgresql://u@h/db");
	assert_int_equal(ecom_config_set(&cfg, "store", "mysql://h", &err), -1);
	assert_non_null(strstr(err.msg, "store 'mysql://h'"));
	ecom_config_free(&cfg);
}

static void
replication_factor_defaults_to_the_cluster_and_is_checked(void **state)
{
	ecom_config cfg;
	ecom_err err;
	char *path = write_temp("replication_factor: 2\n");

	(void)state;
	ecom_config_init(&cfg);
	/* 0: min(3, brokers in the cluster), decided when topics are created. */
	assert_int_equal(cfg.replication_factor, 0);
	assert_int_equal(ecom_config_load_file(&cfg, path, &err), 0);
	assert_int_equal(cfg.replication_factor, 2);
	setenv("ECOM_REPLICATION_FACTOR", "3", 1);
	assert_int_equal(ecom_config_load(&cfg, path, &err), 0);
	assert_int_equal(cfg.replication_factor, 3);
	setenv("ECOM_REPLICATION_FACTOR", "-1", 1);
	assert_int_equal(ecom_config_load(&cfg, path, &err), -1);
	assert_string_equal(err.msg, "environment ECOM_REPLICATION_FACTOR: 'replication_factor' must "
	                             "be a whole number from 0 to 32767, not '-1'");
	unsetenv("ECOM_REPLICATION_FACTOR");
	assert_int_equal(ecom_config_set(&cfg, "replication_factor", "32768", &err), -1);
	assert_string_equal(err.msg,
	                    "'replication_factor' must be a whole number from 0 to 32767, not '32768'");
	assert_int_equal(ecom_config_set(&cfg, "replication_factor", "three", &err), -1);
	assert_int_equal(ecom_config_set(&cfg, "replication_factor", "32767", &err), 0);
	assert_int_equal(cfg.replication_factor, 32767);
	assert_int_equal(ecom_config_set(&cfg, "replication_factor", "0", &err), 0);
	assert_int_equal(cfg.replication_factor, 0);
	ecom_config_free(&cfg);
	unlink(path);
	free(path);
}

static void
database_name_must_be_safe(void **state)
{
	ecom_config cfg;
	ecom_err err;

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_set(&cfg, "database", "bad name;", &err), -1);
	assert_int_equal(ecom_config_set(&cfg, "database", "test_01", &err), 0);
	ecom_config_free(&cfg);
}

static void
require_tls_takes_true_or_false(void **state)
{
	ecom_config cfg;
	ecom_err err;
	char buf[16];

	(void)state;
	ecom_config_init(&cfg);
	assert_false(cfg.require_tls);
	assert_int_equal(ecom_config_set(&cfg, "require_tls", "true", &err), 0);
	assert_true(cfg.require_tls);
	assert_int_equal(ecom_config_value(&cfg, "require_tls", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "true");
	assert_int_equal(ecom_config_set(&cfg, "require_tls", "0", &err), 0);
	assert_false(cfg.require_tls);
	assert_int_equal(ecom_config_set(&cfg, "require_tls", "Yes", &err), 0);
	assert_true(cfg.require_tls);
	assert_int_equal(ecom_config_set(&cfg, "require_tls", "sometimes", &err), -1);
	assert_string_equal(err.msg, "'require_tls' must be true or false, not 'sometimes'");
	assert_int_equal(ecom_config_set(&cfg, "require_tls", "", &err), -1);
	ecom_config_free(&cfg);
}

static void
processing_guarantee_is_one_of_two(void **state)
{
	ecom_config cfg;
	ecom_err err;

	(void)state;
	ecom_config_init(&cfg);
	assert_false(ecom_config_exactly_once(&cfg));
	assert_int_equal(ecom_config_set(&cfg, "processing_guarantee", "exactly-once", &err), -1);
	assert_non_null(strstr(err.msg, "at_least_once or exactly_once"));
	assert_int_equal(ecom_config_set(&cfg, "processing_guarantee", "exactly_once", &err), 0);
	assert_true(ecom_config_exactly_once(&cfg));
	assert_int_equal(ecom_config_set(&cfg, "processing_guarantee", "at_least_once", &err), 0);
	assert_false(ecom_config_exactly_once(&cfg));
	ecom_config_free(&cfg);
}

static void
ecom_config_names_the_file_when_c_is_not_given(void **state)
{
	char path[] = "/tmp/ecom-test-config-XXXXXX";
	ecom_config cfg;
	ecom_err err;
	FILE *fp;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	fputs("window: 7\n", fp);
	fclose(fp);
	setenv("ECOM_CONFIG", path, 1);
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_load(&cfg, NULL, &err), 0);
	assert_int_equal(cfg.window, 7);
	ecom_config_free(&cfg);
	/* -c wins over ECOM_CONFIG */
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_load(&cfg, "/nonexistent/ecom.yaml", &err), -1);
	ecom_config_free(&cfg);
	/* a missing ECOM_CONFIG file is an error, as a missing -c file is */
	setenv("ECOM_CONFIG", "/nonexistent/env.yaml", 1);
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_load(&cfg, NULL, &err), -1);
	assert_string_equal(err.msg,
	                    "cannot read config file '/nonexistent/env.yaml': No such file or directory");
	ecom_config_free(&cfg);
	unsetenv("ECOM_CONFIG");
	unlink(path);
}

static void
transactional_id_names_group_role_and_instance(void **state)
{
	ecom_config cfg;
	ecom_err err;
	char id[256], host[256] = "";

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_set(&cfg, "topic_prefix", "t1-", &err), 0);
	assert_int_equal(ecom_config_set(&cfg, "instance_id", "2", &err), 0);
	ecom_config_transactional_id(&cfg, "payment", id, sizeof(id));
	assert_string_equal(id, "t1-ecom-payment-2");
	assert_int_equal(ecom_config_set(&cfg, "instance_id", "a b", &err), -1);
	/* Empty: the host's name, so a restarted process gets the same id. */
	assert_int_equal(ecom_config_set(&cfg, "instance_id", "", &err), 0);
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	ecom_config_transactional_id(&cfg, "reconcile", id, sizeof(id));
	assert_true(strncmp(id, "t1-ecom-reconcile-", 18) == 0);
	assert_string_equal(id + 18, host);
	ecom_config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(file_values_are_read),
		cmocka_unit_test(environment_overrides_file),
		cmocka_unit_test(unknown_key_names_file_and_line),
		cmocka_unit_test(broken_yaml_names_file_and_line),
		cmocka_unit_test(bad_number_is_rejected_with_its_range),
		cmocka_unit_test(missing_explicit_file_is_an_error),
		cmocka_unit_test(kafka_property_needs_key_and_value),
		cmocka_unit_test(store_names_and_uris_select_the_backend),
		cmocka_unit_test(database_name_must_be_safe),
		cmocka_unit_test(replication_factor_defaults_to_the_cluster_and_is_checked),
		cmocka_unit_test(require_tls_takes_true_or_false),
		cmocka_unit_test(ecom_config_names_the_file_when_c_is_not_given),
		cmocka_unit_test(processing_guarantee_is_one_of_two),
		cmocka_unit_test(transactional_id_names_group_role_and_instance),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
