#include "ecom_cli.h"

#include "ecom_alloc.h"
#include "ecom_exit.h"
#include "ecom_kafka.h"
#include "ecom_security.h"

#include <bson/bson.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_store.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

/* Help lines: the description starts in this column and wraps before WIDTH. */
#define HELP_COLUMN 25
#define HELP_WIDTH 80

typedef struct ecom_cli_setting {
	const char *key; /* config key, or NULL for a -X property */
	const char *value;
} ecom_cli_setting;

struct ecom_cli {
	const char *config_path;
	ecom_cli_setting settings[64];
	size_t n_settings;
	bool help;
	bool version;
	bool list_kafka_properties;
	bool dump_config; /* -X dump */
	int verbosity; /* -1 quiet, 0 normal, 1 verbose */
	bool too_many;
};

/* Every command's options, shown after its own. */
static const ecom_option common_options[] = {
	{'b', "brokers", "LIST", "Kafka bootstrap brokers", "brokers"},
	{'c', "config", "FILE", "read configuration from FILE", NULL},
	{'d', "database", "NAME", "MongoDB database / PostgreSQL schema", "database"},
	{ECOM_OPT_STORE, "store", "STORE", "mongodb, postgresql, or a mongodb:// or postgresql:// URI",
	 "store"},
	{ECOM_OPT_WIRE, "wire", "FORM",
	 "write events in ecom's form or the Spring Boot application's: ecom or spring", "wire"},
	{ECOM_OPT_EXACTLY_ONCE, "exactly-once", NULL,
	 "produce and commit offsets in Kafka transactions\n(processing_guarantee: {})",
	 "processing_guarantee"},
	{'X', NULL, "KEY=VALUE",
	 "set a librdkafka property; -X list shows them all,\n-X dump the configuration in force",
	 NULL},
	{ECOM_OPT_REQUIRE_TLS, "require-tls", NULL, "refuse connections that could be unencrypted", NULL},
	{'q', "quiet", NULL, "print errors only", NULL},
	{'v', "verbose", NULL, "print debugging messages", NULL},
	{'h', "help", NULL, "print this help and exit", NULL},
	{'V', "version", NULL, "print the version and exit", NULL},
	{0, NULL, NULL, NULL, NULL},
};

static bool
is_short(int id)
{
	return id > 0 && id < 256;
}

static size_t
count_options(const ecom_option *options)
{
	size_t n = 0;

	while (options != NULL && options[n].id != 0)
		n++;
	return n;
}

void
ecom_cli_set(ecom_cli *cli, const char *key, const char *value)
{
	if (cli->n_settings == sizeof(cli->settings) / sizeof(cli->settings[0])) {
		cli->too_many = true;
		return;
	}
	cli->settings[cli->n_settings].key = key;
	cli->settings[cli->n_settings].value = value;
	cli->n_settings++;
}

int
ecom_cli_unhandled_option(const ecom_option *options, int id)
{
	size_t i, n = count_options(options);

	for (i = 0; i < n && options[i].id != id; i++)
		;
	if (i < n && options[i].name != NULL)
		ecom_errorf("internal error: option '--%s' has no case in the option switch",
		            options[i].name);
	else if (is_short(id))
		ecom_errorf("internal error: option '-%c' has no case in the option switch", id);
	else
		ecom_errorf("internal error: option %d has no case in the option switch", id);
	return -1;
}

/* One of the common options: true when taken. */
static bool
common_option(ecom_cli *cli, int opt, const char *arg)
{
	switch (opt) {
	case 'b':
		ecom_cli_set(cli, "brokers", arg);
		return true;
	case 'c':
		cli->config_path = arg;
		return true;
	case 'd':
		ecom_cli_set(cli, "database", arg);
		return true;
	case ECOM_OPT_STORE:
		ecom_cli_set(cli, "store", arg);
		return true;
	case ECOM_OPT_WIRE:
		ecom_cli_set(cli, "wire", arg);
		return true;
	case ECOM_OPT_REQUIRE_TLS:
		ecom_cli_set(cli, "require_tls", "true");
		return true;
	case ECOM_OPT_EXACTLY_ONCE:
		ecom_cli_set(cli, "processing_guarantee", "exactly_once");
		return true;
	case 'X':
		if (strcmp(arg, "list") == 0)
			cli->list_kafka_properties = true;
		else if (strcmp(arg, "dump") == 0)
			cli->dump_config = true;
		else
			ecom_cli_set(cli, NULL, arg);
		return true;
	case 'h':
		cli->help = true;
		return true;
	case 'V':
		cli->version = true;
		return true;
	case 'q':
		cli->verbosity = -1;
		return true;
	case 'v':
		cli->verbosity = 1;
		return true;
	default:
		return false;
	}
}

/* After getopt returned '?' or ':': "unknown option '-x'" and the --help hint. */
static void
bad_option(int opt, char **argv)
{
	char shortopt[3] = {'-', (char)optopt, '\0'};
	/* argv names long options as typed; optopt names a short one inside a cluster. */
	const char *name = opt == ':' || optopt == 0 ? argv[optind - 1] : shortopt;

	if (opt == ':')
		ecom_usagef("option '%s' needs a value", name);
	else
		ecom_usagef("unknown option '%s'", name);
}

/*
 * text from column col on, its words wrapped before HELP_WIDTH into
 * HELP_COLUMN; a '\n' in text breaks the line there.
 */
static void
print_wrapped(FILE *out, const char *text, size_t col)
{
	const char *p = text;

	while (*p != '\0') {
		size_t word = strcspn(p, " \n");

		if (col > HELP_COLUMN && col + 1 + word > HELP_WIDTH) {
			fprintf(out, "\n%*s", HELP_COLUMN, "");
			col = HELP_COLUMN;
		} else if (col > HELP_COLUMN) {
			fputc(' ', out);
			col++;
		}
		fwrite(p, 1, word, out);
		col += word;
		p += word;
		if (*p == '\n') {
			fprintf(out, "\n%*s", HELP_COLUMN, "");
			col = HELP_COLUMN;
		}
		p += strspn(p, " \n");
	}
	fputc('\n', out);
}

/*
 * "  -g, --generate N       create N new orders", wrapped; the default in
 * force from cfg replaces "{}" in the help line, or follows it as "(default …)".
 */
static void
print_option(FILE *out, const ecom_option *o, const ecom_config *cfg)
{
	char left[128], text[1024], value[512];
	const char *mark;
	int n;

	if (is_short(o->id) && o->name != NULL)
		n = snprintf(left, sizeof(left), "  -%c, --%s", o->id, o->name);
	else if (is_short(o->id))
		n = snprintf(left, sizeof(left), "  -%c", o->id);
	else
		n = snprintf(left, sizeof(left), "      --%s", o->name);
	if (o->arg != NULL && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->arg);
	mark = strstr(o->help, "{}");
	if (o->default_key == NULL || ecom_config_value(cfg, o->default_key, value, sizeof(value)) < 0)
		snprintf(text, sizeof(text), "%s", o->help);
	else if (mark != NULL)
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(mark - o->help), o->help, value, mark + 2);
	else
		snprintf(text, sizeof(text), "%s (default %s)", o->help, value);
	fputs(left, out);
	if (strlen(left) + 2 > HELP_COLUMN)
		fprintf(out, "\n%*s", HELP_COLUMN, "");
	else
		fprintf(out, "%*s", HELP_COLUMN - (int)strlen(left), "");
	print_wrapped(out, text, HELP_COLUMN);
}

/* The synopsis as "usage: …" lines, the description, the command's options and the common ones. */
static void
usage(FILE *out, const ecom_command *command, const ecom_config *cfg)
{
	const char *line = command->synopsis;
	const ecom_option *o;
	bool first = true;

	while (*line != '\0') {
		size_t len = strcspn(line, "\n");

		fprintf(out, "%s%.*s\n", first ? "usage: " : "       ", (int)len, line);
		first = false;
		line += len + (line[len] == '\n');
	}
	fprintf(out, "\n%s\n\n", command->description);
	for (o = command->options; o != NULL && o->id != 0; o++)
		print_option(out, o, cfg);
	for (o = common_options; o->id != 0; o++)
		print_option(out, o, cfg);
}

/* "ecom-produce (ecom) 0.1.0" and the library versions, on stdout. */
static void
print_version(void)
{
	char stores[128];

	ecom_store_driver_versions(stores, sizeof(stores));
	printf("%s (ecom) %s\n", ecom_progname(), PACKAGE_VERSION);
	printf("librdkafka %s, %s, libbson %s, %s\n", ecom_kafka_version(), stores,
	       bson_get_version(), ecom_config_yaml_version());
}

/*
 * After the getopt loop: --help (usage to stdout, with the defaults in
 * force: cfg is loaded from the file and the environment for it),
 * --version, -X list, and operands where none are taken.  True when the
 * command is done, with its exit status in *status; false when it goes on.
 */
static bool
early_exit(const ecom_cli *cli, int argc, char **argv, const ecom_command *command,
           ecom_config *cfg, int *status)
{
	ecom_err ignored;

	if (cli->help) {
		/* The defaults in force; a broken config file still gets the built-in ones. */
		if (ecom_config_load(cfg, cli->config_path, &ignored) < 0) {
			ecom_config_free(cfg);
			ecom_config_init(cfg);
		}
		usage(stdout, command, cfg);
	} else if (cli->version) {
		print_version();
	} else if (cli->list_kafka_properties) {
		ecom_kafka_print_properties();
	} else if (optind < argc) {
		ecom_usagef("unexpected argument '%s'", argv[optind]);
		*status = ECOM_EXIT_USAGE;
		return true;
	} else {
		return false;
	}
	*status = ECOM_EXIT_OK;
	return true;
}

/* Load file and environment into cfg, then apply the flags. -1: usage/config error. */
static int
configure(ecom_cli *cli, ecom_config *cfg, ecom_err *err)
{
	size_t i;
	ecom_err inner;

	if (cli->verbosity < 0)
		ecom_log_set_level(ECOM_LOG_QUIET);
	else if (cli->verbosity > 0)
		ecom_log_set_level(ECOM_LOG_DEBUG);
	if (cli->too_many)
		return ecom_err_set(err, "too many options");
	if (ecom_config_load(cfg, cli->config_path, err) < 0)
		return -1;
	for (i = 0; i < cli->n_settings; i++) {
		const ecom_cli_setting *s = &cli->settings[i];

		if (s->key == NULL) {
			if (ecom_config_set_kafka(cfg, s->value, err) < 0)
				return -1;
		} else if (ecom_config_set(cfg, s->key, s->value, &inner) < 0) {
			return ecom_err_set(err, "%s", inner.msg);
		}
	}
	/* A bad librdkafka property or store URI is a configuration error,
	 * found now rather than when (or if) the first client is made. */
	if (ecom_kafka_check_config(cfg, err) < 0 || ecom_store_check_uris(cfg, err) < 0 ||
	    ecom_security_check(cfg, err) < 0)
		return -1;
	return 0;
}

static ecom_stop_flag *stop_flag;

static void
on_stop_signal(int signo)
{
	(void)signo;
	if (stop_flag != NULL)
		*stop_flag = 1;
}

/* SIGINT and SIGTERM set *flag (stop after the current batch); SIGPIPE is ignored. */
static void
catch_stop_signals(ecom_stop_flag *flag)
{
	struct sigaction sa;

	/* A closed pipe shows up as a write error we report, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	stop_flag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/*
 * getopt's tables from the common options and the command's own: the
 * short options (leading ':': a missing argument is reported as ':' and
 * getopt stays quiet) and the long ones, zero-terminated; free() both.
 * -1 when two options share an id or a name, which is the program's fault.
 */
static int
getopt_tables(const ecom_option *own, char **shortopts, struct option **longopts)
{
	const ecom_option *tables[2] = {common_options, own};
	size_t n_all = count_options(common_options) + count_options(own), n_long = 0, len = 1;
	const ecom_option **seen = ecom_xcalloc(n_all + 1, sizeof(*seen));
	struct option *all = ecom_xcalloc(n_all + 1, sizeof(*all));
	char *letters = ecom_xcalloc(2 * n_all + 2, 1); /* ':', then a letter and ':' each */
	size_t t, i, j, n_seen = 0;
	int rc = -1;

	letters[0] = ':';
	for (t = 0; t < 2; t++) {
		for (i = 0; i < count_options(tables[t]); i++) {
			const ecom_option *o = &tables[t][i];

			for (j = 0; j < n_seen; j++) {
				if (seen[j]->id == o->id ||
				    (o->name && seen[j]->name && strcmp(seen[j]->name, o->name) == 0)) {
					ecom_errorf("internal error: two options with id %d or name '%s'",
					            o->id, o->name ? o->name : "");
					goto out;
				}
			}
			seen[n_seen++] = o;
			if (is_short(o->id)) {
				letters[len++] = (char)o->id;
				if (o->arg != NULL)
					letters[len++] = ':';
			}
			if (o->name != NULL) {
				all[n_long].name = o->name;
				all[n_long].has_arg = o->arg != NULL ? required_argument : no_argument;
				all[n_long].val = o->id;
				n_long++;
			}
		}
	}
	*shortopts = letters;
	*longopts = all;
	letters = NULL;
	all = NULL;
	rc = 0;
out:
	free(letters);
	free(all);
	free(seen);
	return rc;
}

static ecom_stop_flag stop_requested;

/*
 * glibc gives each thread that allocates concurrently an arena of its own,
 * up to eight per core, and keeps what each arena once held.  ecom-bench
 * runs every stage's clients (about fifty threads) in one process, and
 * --compare and --sweep run one flow after another in it: each run's
 * threads landed in other arenas, and the peak grew by 5-15 MiB a run
 * (doc/performance-notes.md, §11).  Two arenas hold the threads of one
 * process on a machine the broker and the store share; a user's
 * MALLOC_ARENA_MAX or glibc.malloc.arena_max tunable is left as it is.
 */
static void
bound_malloc_arenas(void)
{
	const char *tunables = getenv("GLIBC_TUNABLES");

	if (getenv("MALLOC_ARENA_MAX") != NULL ||
	    (tunables != NULL && strstr(tunables, "glibc.malloc.arena_max") != NULL))
		return;
	(void)mallopt(M_ARENA_MAX, 2);
}

int
ecom_cli_main(int argc, char **argv, const ecom_command *command)
{
	struct option *longopts = NULL;
	char *shortopts = NULL;
	ecom_cli cli;
	ecom_config cfg;
	ecom_err err;
	int opt, status = ECOM_EXIT_USAGE;

	bound_malloc_arenas();
	ecom_log_init(argv[0]);
	ecom_config_init(&cfg);
	memset(&cli, 0, sizeof(cli));
	if (getopt_tables(command->options, &shortopts, &longopts) < 0)
		goto out;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (common_option(&cli, opt, optarg))
			continue;
		if (opt == '?' || opt == ':') {
			bad_option(opt, argv);
			goto out;
		}
		if (command->option(&cli, opt, optarg) < 0)
			goto out;
	}
	if (early_exit(&cli, argc, argv, command, &cfg, &status))
		goto out;
	/* -X dump shows the configuration whatever else the command lacks. */
	if (!cli.dump_config && command->check != NULL && command->check() < 0)
		goto out;
	if (configure(&cli, &cfg, &err) < 0) {
		ecom_usagef("%s", err.msg);
		goto out;
	}
	if (cli.dump_config) {
		ecom_config_dump(&cfg, stdout);
		ecom_kafka_dump(&cfg, stdout);
		ecom_security_dump(&cfg, stdout);
		status = ECOM_EXIT_OK;
		goto out;
	}
	catch_stop_signals(&stop_requested);
	status = command->run(&cfg, &stop_requested);
out:
	free(shortopts);
	free(longopts);
	ecom_config_free(&cfg);
	if (ecom_close_stdout() < 0 && status == ECOM_EXIT_OK)
		status = ECOM_EXIT_FAILURE;
	return status;
}
