/*
 * What every command shares: its life from argv to exit status
 * (ecom_cli_main), the common options, and the order settings apply in:
 * defaults < config file (-c) < ECOM_* environment < flags.
 *
 * A command describes itself in an ecom_command (its synopsis, its option
 * table and the work) and its main() is `return ecom_cli_main(argc, argv,
 * &command);`.  --help is written from the same tables getopt reads, as
 * git's parse-options does, so an option cannot be taken but not shown.
 */
#ifndef ECOM_CLI_H
#define ECOM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "ecom_config.h"
#include "ecom_log.h"

/* Ids of long-only options; a command numbers its own from ECOM_OPT_COMMAND. */
enum ecom_cli_long_only {
	ECOM_OPT_STORE = 1000,
	ECOM_OPT_WIRE = 1001,
	ECOM_OPT_REQUIRE_TLS,
	ECOM_OPT_EXACTLY_ONCE,
	ECOM_OPT_COMMAND = 1100,
};

/*
 * One option: its id (the short letter, or an ECOM_OPT_* number for a
 * long-only one), its long name (NULL for a short-only one), the name of
 * its argument (NULL for a flag), its help line, and the configuration key
 * whose value in force --help shows as its default (NULL for none), in
 * place of "{}" in the help line or else after it, "(default …)".
 * A table ends with an entry whose id is 0.
 */
typedef struct ecom_option {
	int id;
	const char *name;
	const char *arg;
	const char *help;
	const char *default_key;
} ecom_option;

/* The options as taken so far; commands only pass it to ecom_cli_set(). */
typedef struct ecom_cli ecom_cli;

/* Remember a config key set by a command's own flag (e.g. "orders"). */
void ecom_cli_set(ecom_cli *cli, const char *key, const char *value);

/*
 * For the default: of a command's option switch: an option in the table
 * that the switch does not handle is the program's fault.  Says so and
 * returns -1, which makes the command exit 2.
 */
int ecom_cli_unhandled_option(const ecom_option *options, int id);

/* A command, for ecom_cli_main(). */
typedef struct ecom_command {
	/* Its SYNOPSIS lines, '\n' between them, each starting with the command's name. */
	const char *synopsis;
	/* What it does, a sentence or two ('\n' where a line breaks). */
	const char *description;
	/* Its own options, up to an entry whose id is 0. */
	const ecom_option *options;
	/*
	 * One of its own options: 0, or -1 after ecom_usagef().  Options that
	 * are settings go to the configuration with ecom_cli_set(); every id
	 * of the table has its case, the default is ecom_cli_unhandled_option().
	 */
	int (*option)(ecom_cli *cli, int id, const char *arg);
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
