/*
 * One TLS handshake, for the reason a certificate did not verify: see
 * ecom_tls.h.  OpenSSL verifies as the libraries do (the same CA, the
 * host name), but with SSL_VERIFY_NONE, so that the handshake runs to its
 * end and SSL_get_verify_result() says what failed.
 */
#include "ecom_tls.h"

#include "ecom_time.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

bool
ecom_tls_verdict(long verify_result, const char *not_before, const char *not_after,
                 char *buf, size_t size)
{
	buf[0] = '\0';
	switch (verify_result) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		snprintf(buf, size,
		         "the server's certificate has expired (not valid after %s): it must be "
		         "renewed on the server (or this machine's clock is wrong)",
		         not_after);
		return true;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(buf, size,
		         "the server's certificate is not valid yet (not before %s): check this "
		         "machine's clock and the server's",
		         not_before);
		return true;
	default: /* the libraries' words say the others well enough */
		return false;
	}
}

/* What is left of the probe's time, in ms for poll(); 0 once it is up. */
static int
left_ms(int64_t deadline_us)
{
	int64_t left = deadline_us - ecom_monotonic_us();

	return left > 0 ? (int)((left + 999) / 1000) : 0;
}

/* Wait until fd is ready for events, or the deadline; true when ready. */
static bool
wait_ready(int fd, short events, int64_t deadline_us)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int left;

	while ((left = left_ms(deadline_us)) > 0) {
		int n = poll(&pfd, 1, left);

		if (n > 0)
			return true;
		if (n == 0 || errno != EINTR)
			return false;
	}
	return false;
}

/* A TCP connection to host:port (non-blocking) before the deadline, -1 if none. */
static int
connect_by(const char *host, const char *port, int64_t deadline_us)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, soerr;
	socklen_t len = sizeof(soerr);

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_ready(fd, POLLOUT, deadline_us) &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* PostgreSQL's SSLRequest; true when the server agrees to TLS. */
static bool
postgres_starttls(int fd, int64_t deadline_us)
{
	static const unsigned char request[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	char answer;

	return wait_ready(fd, POLLOUT, deadline_us) &&
	       write(fd, request, sizeof(request)) == (ssize_t)sizeof(request) &&
	       wait_ready(fd, POLLIN, deadline_us) && read(fd, &answer, 1) == 1 && answer == 'S';
}

/* The TLS handshake on the non-blocking fd, before the deadline. */
static bool
handshake_by(SSL *ssl, int fd, int64_t deadline_us)
{
	for (;;) {
		int rc = SSL_connect(ssl);

		if (rc == 1)
			return true;
		switch (SSL_get_error(ssl, rc)) {
		case SSL_ERROR_WANT_READ:
			if (!wait_ready(fd, POLLIN, deadline_us))
				return false;
			break;
		case SSL_ERROR_WANT_WRITE:
			if (!wait_ready(fd, POLLOUT, deadline_us))
				return false;
			break;
		default:
			return false;
		}
	}
}

static void
asn1_time_text(const ASN1_TIME *t, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n = 0;

	buf[0] = '\0';
	if (bio == NULL)
		return;
	if (ASN1_TIME_print(bio, t) == 1)
		n = BIO_read(bio, buf, (int)size - 1);
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

bool
ecom_tls_diagnose(const char *host, const char *port, enum ecom_tls_preamble preamble,
                  const char *ca_file, bool check_host, int timeout_ms, char *buf, size_t size)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *cert = NULL;
	struct stat st;
	char not_before[64] = "", not_after[64] = "";
	bool found = false;
	int64_t deadline_us = ecom_monotonic_us() + (int64_t)timeout_ms * 1000;
	int fd;

	buf[0] = '\0';
	fd = connect_by(host, port, deadline_us);
	if (fd < 0)
		return false;
	if (preamble == ECOM_TLS_POSTGRES && !postgres_starttls(fd, deadline_us))
		goto out;
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		goto out;
	if (ca_file != NULL && ca_file[0] != '\0') {
		bool dir = stat(ca_file, &st) == 0 && S_ISDIR(st.st_mode);
		if (SSL_CTX_load_verify_locations(ctx, dir ? NULL : ca_file, dir ? ca_file : NULL) != 1)
			goto out;
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1)
		goto out;
	SSL_set_tlsext_host_name(ssl, host);
	if (check_host && SSL_set1_host(ssl, host) != 1)
		goto out;
	if (!handshake_by(ssl, fd, deadline_us))
		goto out;
	cert = SSL_get1_peer_certificate(ssl);
	if (cert == NULL)
		goto out;
	asn1_time_text(X509_get0_notBefore(cert), not_before, sizeof(not_before));
	asn1_time_text(X509_get0_notAfter(cert), not_after, sizeof(not_after));
	found = ecom_tls_verdict(SSL_get_verify_result(ssl), not_before, not_after, buf, size);
	SSL_shutdown(ssl);
out:
	X509_free(cert);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	ERR_clear_error();
	return found;
}
