/*
 * Whether a server's certificate failed for its dates, when the client
 * library says no more than "certificate verify failed" (libpq 15,
 * librdkafka 2.0 do, for an expired certificate as for one from an
 * unknown CA, and their advice is to give the CA): one TLS handshake of
 * our own to the same endpoint, with the same CA and host name, that
 * only reads OpenSSL's verdict.  It sends nothing after the
 * handshake, no password, and never trusts what it sees: it is called
 * after the library has refused the connection, for the message only.
 */
#ifndef ECOM_TLS_H
#define ECOM_TLS_H

#include <stdbool.h>
#include <stddef.h>

enum ecom_tls_preamble {
	ECOM_TLS_DIRECT,   /* TLS from the first byte (Kafka, MongoDB) */
	ECOM_TLS_POSTGRES, /* PostgreSQL's SSLRequest first */
};

/*
 * The certificate host:port presents, checked against ca_file (a PEM
 * file or a directory; NULL or "" for the system's CAs) and, when
 * check_host, against host: when it has expired or is not valid yet,
 * true and a phrase in buf such as "the server's certificate has expired
 * (not valid after Dec  6 23:27:40 2026 GMT): it must be renewed on the
 * server (or this machine's clock is wrong)".  False, and buf "", for
 * anything else: it verifies, fails for another reason (an unknown CA,
 * another host name: the library's words say those), the handshake
 * failed, or it had not ended within timeout_ms (the whole probe: the
 * connection, PostgreSQL's SSLRequest and the handshake).
 */
bool ecom_tls_diagnose(const char *host, const char *port, enum ecom_tls_preamble preamble,
                       const char *ca_file, bool check_host, int timeout_ms, char *buf,
                       size_t size);

/* The phrase for an X509 verification result (X509_V_ERR_*): true for the dates' two. */
bool ecom_tls_verdict(long verify_result, const char *not_before, const char *not_after,
                      char *buf, size_t size);

#endif
