/*
 * Messages to stderr, prefixed with the command's name, and the error
 * buffer that library functions fill instead of exiting.
 *
 * Library functions return 0 on success and -1 on failure after filling
 * an ecom_err; only main() prints it and chooses the exit status.
 */
#ifndef ECOM_LOG_H
#define ECOM_LOG_H

#include <stdarg.h>

#define ECOM_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef struct ecom_err {
	char msg[1024];
} ecom_err;

/* Fill err (may be NULL) and return -1, so callers can `return ecom_err_set(...)`. */
int ecom_err_set(ecom_err *err, const char *fmt, ...) ECOM_PRINTF(2, 3);

enum ecom_log_level { ECOM_LOG_QUIET = 0, ECOM_LOG_INFO = 1, ECOM_LOG_DEBUG = 2 };

/* Name used as the prefix of every message; call first thing in main(). */
void ecom_log_init(const char *progname);
const char *ecom_progname(void);
void ecom_log_set_level(enum ecom_log_level level);
enum ecom_log_level ecom_log_level(void);

/* "prog: message" on stderr. errorf always prints; warnf too unless -q. */
void ecom_errorf(const char *fmt, ...) ECOM_PRINTF(1, 2);
void ecom_warnf(const char *fmt, ...) ECOM_PRINTF(1, 2);
void ecom_infof(const char *fmt, ...) ECOM_PRINTF(1, 2);
void ecom_debugf(const char *fmt, ...) ECOM_PRINTF(1, 2);
/* A usage error: the message, then "try 'prog --help'". */
void ecom_usagef(const char *fmt, ...) ECOM_PRINTF(1, 2);

/*
 * Flush and close stdout; on failure (full disk, closed pipe) report it.
 * Returns 0 or -1.
 */
int ecom_close_stdout(void);

#endif
