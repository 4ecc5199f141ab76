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
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * A request to stop, set by a signal handler or another thread and read
 * by every loop that can wait: a lock-free atomic, so that both are
 * well defined in C11 (a volatile sig_atomic_t is only right between a
 * handler and the one thread it interrupts).
 */
typedef atomic_int ecom_stop_flag;

#define ECOM_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* What kind of failure an ecom_err describes, where a caller can act on it. */
enum ecom_err_kind {
	ECOM_ERR_FAILURE = 0, /* give up: bad input, a refused login, a missing table */
	ECOM_ERR_TRANSIENT,   /* may pass: a lost connection, a server restarting */
	ECOM_ERR_DATA,        /* the server refused the data: a smaller batch may pass */
};

typedef struct ecom_err {
	char msg[1024];
	enum ecom_err_kind kind;
	/* The failure took the connection with it (set by the store backends). */
	bool connection_lost;
} ecom_err;

/* Fill err (may be NULL) and return -1, so callers can `return ecom_err_set(...)`. */
int ecom_err_set(ecom_err *err, const char *fmt, ...) ECOM_PRINTF(2, 3);
/* The same, with a kind other than ECOM_ERR_FAILURE. */
int ecom_err_set_kind(ecom_err *err, enum ecom_err_kind kind, const char *fmt, ...)
    ECOM_PRINTF(3, 4);

enum ecom_log_level { ECOM_LOG_QUIET = 0, ECOM_LOG_INFO = 1, ECOM_LOG_DEBUG = 2 };

/* Name used as the prefix of every message; call first thing in main(). */
void ecom_log_init(const char *progname);
/*
 * What this thread is working on, put after the name in its messages
 * ("ecom-bench: payment: …"); NULL for none.  The string must outlive
 * the thread's messages.
 */
void ecom_log_set_context(const char *context);
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
 * Standard output carries data, and every command treats a write to it
 * that fails the same way: it stops writing and finishes early.  When
 * the reader went away (EPIPE: `ecom-consume -t T | head -1`), that is
 * the reader's choice, not a failure: no message, status unchanged.  Any
 * other failure (a full disk) is reported by ecom_close_stdout() and is
 * a runtime failure.  SIGPIPE is ignored (ecom_cli_catch_stop_signals),
 * so that a closed pipe shows up as EPIPE here.
 */
/*
 * Each non-empty line of standard input, without its line end, to take
 * (numbered from 1), until the input ends, *stop is set (a signal
 * interrupting the read is no error then) or take returns -1.  0, or -1
 * with err filled (by take, or naming the read error).
 */
int ecom_each_stdin_line(ecom_stop_flag *stop,
                         int (*take)(void *arg, long lineno, char *line, size_t len, ecom_err *err),
                         void *arg, ecom_err *err);

/* True once a write to stdout failed: stop producing output. */
bool ecom_stdout_failed(void);
/* Flush and close stdout; -1 (after a message) on a failure other than EPIPE. */
int ecom_close_stdout(void);

#endif
