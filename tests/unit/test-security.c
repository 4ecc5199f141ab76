/*
 * Connection facts from the settings (ecom_security.c): what Kafka's
 * properties and the store URIs ask for, checked against hand-written
 * expectations, and require_tls refusing what could be unencrypted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecom_config.h"
#include "ecom_security.h"
#include "ecom_tls.h"

#include "ecom_time.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static void
kafka_set(ecom_config *cfg, const char *kv)
{
	ecom_err err;

	assert_int_equal(ecom_config_set_kafka(cfg, kv, &err), 0);
}

static void
kafka_facts_follow_security_protocol(void **state)
{
	ecom_config cfg;
	ecom_conn_facts f;

	(void)state;
	ecom_config_init(&cfg);
	ecom_kafka_conn_facts(&cfg, &f);
	assert_false(f.encrypted);
	assert_false(f.verified);
	assert_string_equal(f.authentication, "none");

	kafka_set(&cfg, "security.protocol=SASL_SSL");
	kafka_set(&cfg, "sasl.mechanism=PLAIN");
	ecom_kafka_conn_facts(&cfg, &f);
	assert_true(f.encrypted);
	assert_true(f.verified);
	assert_true(f.host_checked);
	assert_false(f.observed);
	assert_string_equal(f.authentication, "PLAIN");

	kafka_set(&cfg, "ssl.endpoint.identification.algorithm=none");
	ecom_kafka_conn_facts(&cfg, &f);
	assert_true(f.verified);
	assert_false(f.host_checked);

	kafka_set(&cfg, "enable.ssl.certificate.verification=false");
	ecom_kafka_conn_facts(&cfg, &f);
	assert_true(f.encrypted);
	assert_false(f.verified);

	kafka_set(&cfg, "security.protocol=ssl");
	kafka_set(&cfg, "ssl.certificate.location=/x/client.pem");
	ecom_kafka_conn_facts(&cfg, &f);
	assert_string_equal(f.authentication, "TLS client certificate");
	ecom_config_free(&cfg);
}

static void
store_facts_follow_the_uri(void **state)
{
	ecom_conn_facts f;

	(void)state;
	ecom_uri_conn_facts(ECOM_STORE_POSTGRESQL, "postgresql://u:p@db.example/x", &f);
	assert_true(f.known);
	assert_false(f.encrypted); /* prefer: only if the server offers TLS */
	assert_string_equal(f.authentication, "password");
	ecom_uri_conn_facts(ECOM_STORE_POSTGRESQL, "postgresql://u@db.example/x?sslmode=require", &f);
	assert_true(f.encrypted);
	assert_false(f.verified);
	ecom_uri_conn_facts(ECOM_STORE_POSTGRESQL,
	                    "postgresql://u@db.example/x?sslmode=verify-full&sslrootcert=/ca.pem", &f);
	assert_true(f.encrypted);
	assert_true(f.verified);
	assert_true(f.host_checked);

	ecom_uri_conn_facts(ECOM_STORE_MONGODB, "mongodb://h:1/x", &f);
	assert_false(f.encrypted);
	assert_string_equal(f.authentication, "none");
	ecom_uri_conn_facts(ECOM_STORE_MONGODB, "mongodb+srv://u:p@cluster0.example.net/x", &f);
	assert_true(f.encrypted); /* +srv implies TLS */
	assert_true(f.host_checked);
	assert_string_equal(f.authentication, "SCRAM (negotiated)");
	ecom_uri_conn_facts(ECOM_STORE_MONGODB, "mongodb://h:1/x?tls=true&tlsAllowInvalidHostnames=true", &f);
	assert_true(f.verified);
	assert_false(f.host_checked);
	ecom_uri_conn_facts(ECOM_STORE_MONGODB, "mongodb://h:1/x?tls=true&tlsInsecure=true", &f);
	assert_false(f.verified);
}

static void
require_tls_refuses_what_could_be_unencrypted(void **state)
{
	ecom_config cfg;
	ecom_err err;

	(void)state;
	ecom_config_init(&cfg);
	assert_int_equal(ecom_config_set(&cfg, "require_tls", "true", &err), 0);
	assert_int_equal(ecom_config_set(&cfg, "store", "mongodb://h:1/x?tls=true", &err), 0);
	assert_int_equal(ecom_security_check(&cfg, &err), -1);
	assert_string_equal(err.msg, "require_tls: kafka's security.protocol is plaintext, which is not "
	                             "encrypted: use SSL or SASL_SSL");
	kafka_set(&cfg, "security.protocol=SSL");
	assert_int_equal(ecom_security_check(&cfg, &err), 0);
	assert_int_equal(ecom_config_set(&cfg, "store", "postgresql://u:p@h/x", &err), 0);
	assert_int_equal(ecom_security_check(&cfg, &err), -1);
	assert_string_equal(err.msg, "require_tls: the store's URI allows an unencrypted connection: add "
	                             "sslmode=verify-full and sslrootcert=FILE (or sslmode=require)");
	assert_int_equal(ecom_config_set(&cfg, "store", "postgresql://u:p@h/x?sslmode=verify-ca", &err), 0);
	assert_int_equal(ecom_security_check(&cfg, &err), 0);
	ecom_config_free(&cfg);
}

static void
loopback_hosts_are_known(void **state)
{
	(void)state;
	assert_true(ecom_host_is_loopback("127.0.0.1"));
	assert_true(ecom_host_is_loopback("127.1.2.3"));
	assert_true(ecom_host_is_loopback("::1"));
	assert_true(ecom_host_is_loopback("localhost"));
	assert_true(ecom_host_is_loopback("/var/run/postgresql"));
	assert_false(ecom_host_is_loopback("10.0.0.1"));
	assert_false(ecom_host_is_loopback("db.example"));
	assert_false(ecom_host_is_loopback("1270.0.0.1"));
	assert_false(ecom_host_is_loopback(""));
	assert_false(ecom_host_is_loopback(NULL));
}

/* X509_V_ERR_* by their numbers in OpenSSL's x509_vfy.h, not its macros */
static void
tls_verdict_names_the_dates_only(void **state)
{
	char buf[300];

	(void)state;
	assert_true(ecom_tls_verdict(10, "Dec  5 00:00:00 2026 GMT", "Dec  6 00:00:00 2026 GMT", buf,
	                             sizeof(buf)));
	assert_string_equal(buf, "the server's certificate has expired (not valid after Dec  6 "
	                         "00:00:00 2026 GMT): it must be renewed on the server (or this "
	                         "machine's clock is wrong)");
	assert_true(ecom_tls_verdict(9, "Dec  5 00:00:00 2036 GMT", "Dec  6 00:00:00 2036 GMT", buf,
	                             sizeof(buf)));
	assert_non_null(strstr(buf, "not valid yet (not before Dec  5 00:00:00 2036 GMT)"));
	/* an unknown CA, a host name, none: the libraries' words stand */
	assert_false(ecom_tls_verdict(20, "a", "b", buf, sizeof(buf)));
	assert_string_equal(buf, "");
	assert_false(ecom_tls_verdict(62, "a", "b", buf, sizeof(buf)));
	assert_false(ecom_tls_verdict(0, "a", "b", buf, sizeof(buf)));
}

/* A TCP socket bound to a free port of 127.0.0.1, and that port in port. */
static int
loopback_socket(char *port, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, size, "%u", ntohs(sa.sin_port));
	return fd;
}

/* Nothing listening: no verdict, at once, and buf empty. */
static void
tls_diagnose_without_a_server_gives_none(void **state)
{
	char port[16], buf[300] = "x";

	(void)state;
	close(loopback_socket(port, sizeof(port))); /* the port was free a moment ago: now nothing listens */
	assert_false(ecom_tls_diagnose("127.0.0.1", port, ECOM_TLS_POSTGRES, NULL, true, 2000, buf,
	                               sizeof(buf)));
	assert_string_equal(buf, "");
}

/*
 * A server that answers a TLS record one byte at a time, a byte every
 * 100 ms, each in time for any per-read timeout: the probe must still
 * end at its own deadline, not when the record does.
 */
static void *
dribbling_server(void *arg)
{
	static const unsigned char header[5] = { 0x16, 0x03, 0x03, 0x40, 0x00 }; /* a 16 KiB handshake record */
	int listener = *(int *)arg, fd, i;
	char hello[512];

	fd = accept(listener, NULL, NULL);
	if (fd < 0)
		return NULL;
	(void)!read(fd, hello, sizeof(hello));
	for (i = 0; i < 80; i++) {
		if (send(fd, i < 5 ? &header[i] : (const unsigned char *)"\0", 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(100 * 1000);
	}
	close(fd);
	return NULL;
}

static void
tls_diagnose_ends_at_its_deadline(void **state)
{
	char port[16], buf[300] = "x";
	pthread_t server;
	int64_t t0, took_ms;
	int listener;

	(void)state;
	listener = loopback_socket(port, sizeof(port));
	assert_int_equal(listen(listener, 1), 0);
	assert_int_equal(pthread_create(&server, NULL, dribbling_server, &listener), 0);
	t0 = ecom_monotonic_us();
	assert_false(ecom_tls_diagnose("127.0.0.1", port, ECOM_TLS_DIRECT, NULL, false, 500, buf,
	                               sizeof(buf)));
	took_ms = (ecom_monotonic_us() - t0) / 1000;
	assert_string_equal(buf, "");
	/* 500 ms, and room for a loaded machine; the record alone takes 8 s */
	assert_true(took_ms < 4000);
	pthread_join(server, NULL);
	close(listener);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kafka_facts_follow_security_protocol),
		cmocka_unit_test(store_facts_follow_the_uri),
		cmocka_unit_test(require_tls_refuses_what_could_be_unencrypted),
		cmocka_unit_test(loopback_hosts_are_known),
		cmocka_unit_test(tls_verdict_names_the_dates_only),
		cmocka_unit_test(tls_diagnose_without_a_server_gives_none),
		cmocka_unit_test(tls_diagnose_ends_at_its_deadline),
	};

	return cmocka_run_group_tests_name("security", tests, NULL, NULL);
}
