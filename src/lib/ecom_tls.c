/*
 * One TLS handshake, for the reason a certificate did not verify: see
 * ecom_tls.h.  OpenSSL verifies as the libraries do (the same CA, the
 * host name), but with SSL_VERIFY_NONE, so that the handshake runs to its
 * end and SSL_get_verify_result() says what failed.
 */
#include "ecom_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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

/* A TCP connection to host:port within timeout_ms, -1 if none. */
static int
connect_within(const char *host, const char *port, int timeout_ms)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct pollfd pfd;
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
		if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, timeout_ms) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	/* blocking from here, each read and write bounded */
	if (fcntl(fd, F_SETFL, 0) != 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* PostgreSQL's SSLRequest; true when the server agrees to TLS. */
static bool
postgres_starttls(int fd)
{
	static const unsigned char request[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	char answer;

	return write(fd, request, sizeof(request)) == (ssize_t)sizeof(request) &&
	       read(fd, &answer, 1) == 1 && answer == 'S';
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
	int fd;

	buf[0] = '\0';
	fd = connect_within(host, port, timeout_ms);
	if (fd < 0)
		return false;
	if (preamble == ECOM_TLS_POSTGRES && !postgres_starttls(fd))
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
	if (SSL_connect(ssl) != 1)
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
