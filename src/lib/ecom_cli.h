/*
 * What every command shares: its life from argv to exit status
 * (ecom_cli_main), the common options, and the order settings apply in:
 * defaults < config file (-c) < ECOM_* environment < flags.
 *
 * A command describes itself in an ecom_command (its own options, usage,
 * and the work) and its main() is `return ecom_cli_main(argc, argv,
 * &command);`.
 */
#ifndef ECOM_CLI_H
#define ECOM_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ecom_config.h"
#include "ecom_log.h"

/* Leading ':': getopt reports a missing argument as ':' and stays quiet. */
#define ECOM_CLI_SHORTOPTS ":b:c:d:hqvVX:"

enum ecom_cli_long_only {
	ECOM_OPT_STORE = 1000,
	ECOM_OPT_COMMAND = 1100, /* commands number their own long-only options from here */
};

#define ECOM_CLI_LONGOPTS                                                   \
	{"brokers", required_argument, NULL, 'b'},                          \
	    {"config", required_argument, NULL, 'c'},                       \
	    {"database", required_argument, NULL, 'd'},                     \
	    {"help", no_argument, NULL, 'h'},                               \
	    {"quiet", no_argument, NULL, 'q'},                              \
	    {"verbose", no_argument, NULL, 'v'},                            \
	    {"version", no_argument, NULL, 'V'},                            \
	    {"store", required_argument, NULL, ECOM_OPT_STORE}

/*
 * The common part of every usage text, after the command's own lines;
 * defaults are those in force (after the config file and ECOM_*).
 */
void ecom_cli_usage_common(FILE *out, const ecom_config *cfg);

typedef struct ecom_cli_setting {
	const char *key; /* config key, or NULL for a -X property */
	const char *value;
} ecom_cli_setting;

typedef struct ecom_cli {
	const char *config_path;
	ecom_cli_setting settings[64];
	size_t n_settings;
	bool help;
	bool version;
	bool list_kafka_properties;
	bool dump_config; /* -X dump */
	int verbosity; /* -1 quiet, 0 normal, 1 verbose */
	bool too_many;
} ecom_cli;

void ecom_cli_init(ecom_cli *cli);
/* 1 when opt was one of the common options (and taken), 0 otherwise. */
int ecom_cli_option(ecom_cli *cli, int opt, const char *arg);
/* Remember a config key set by a command's own flag (e.g. "orders"). */
void ecom_cli_set(ecom_cli *cli, const char *key, const char *value);
/* After getopt returned '?' or ':': "unknown option '-x'" and the --help hint. */
void ecom_cli_bad_option(int opt, char **argv);
/*
 * After the getopt loop: --help (usage to stdout, with the defaults in
 * force: cfg is loaded from the file and the environment for it),
 * --version, -X list, and operands where none are taken.  True when the
 * command is done, with its exit status in *status; false when it goes on.
 */
bool ecom_cli_early_exit(const ecom_cli *cli, int argc, char **argv,
                         void (*usage)(FILE *out, const ecom_config *cfg), ecom_config *cfg,
                         int *status);
/* Load file and environment into cfg, then apply the flags. -1: usage/config error. */
int ecom_cli_configure(ecom_cli *cli, ecom_config *cfg, ecom_err *err);
/* SIGINT and SIGTERM set *flag (stop after the current batch); SIGPIPE is ignored. */
void ecom_cli_catch_stop_signals(ecom_stop_flag *flag);

/* "ecom-produce (ecom) 0.1.0" and the library versions, on stdout. */
void ecom_cli_print_version(void);

/* A command, for ecom_cli_main(). */
typedef struct ecom_command {
	const char *shortopts;         /* its own short options, getopt's syntax ("g:t:") */
	const struct option *longopts; /* its own long options, up to a zeroed entry */
	/* Its SYNOPSIS and options, ending with ecom_cli_usage_common(). */
	void (*usage)(FILE *out, const ecom_config *cfg);
	/*
	 * One of its own options: 0, or -1 after ecom_usagef().  Options that
	 * are settings go to the configuration with ecom_cli_set().
	 */
	int (*option)(ecom_cli *cli, int opt, const char *arg);
	/* The options taken together (may be NULL): 0, or -1 after ecom_usagef(). */
	int (*check)(void);
	/*
	 * The work, with the configuration built; *stop is set by SIGINT and
	 * SIGTERM.  Says what went wrong itself and returns an exit status.
	 */
	int (*run)(ecom_config *cfg, ecom_stop_flag *stop);
} ecom_command;

/*
 * A command's whole life: messages prefixed with its name, the options
 * (common and its own), --help, --version, -X list, the configuration
 * (a bad one is a usage error, 2), the signals, the work, and stdout
 * closed and checked.  Returns the exit status.
 */
int ecom_cli_main(int argc, char **argv, const ecom_command *command);

#endif
