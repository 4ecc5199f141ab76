#include "ecom_cli.h"

#include "ecom_exit.h"
#include "ecom_kafka.h"

#include <bson/bson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecom_store.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

void
ecom_cli_init(ecom_cli *cli)
{
	memset(cli, 0, sizeof(*cli));
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
ecom_cli_option(ecom_cli *cli, int opt, const char *arg)
{
	switch (opt) {
	case 'b':
		ecom_cli_set(cli, "brokers", arg);
		return 1;
	case 'c':
		cli->config_path = arg;
		return 1;
	case 'd':
		ecom_cli_set(cli, "database", arg);
		return 1;
	case ECOM_OPT_STORE:
		ecom_cli_set(cli, "store", arg);
		return 1;
	case 'X':
		if (strcmp(arg, "list") == 0)
			cli->list_kafka_properties = true;
		else if (strcmp(arg, "dump") == 0)
			cli->dump_config = true;
		else
			ecom_cli_set(cli, NULL, arg);
		return 1;
	case 'h':
		cli->help = true;
		return 1;
	case 'V':
		cli->version = true;
		return 1;
	case 'q':
		cli->verbosity = -1;
		return 1;
	case 'v':
		cli->verbosity = 1;
		return 1;
	default:
		return 0;
	}
}

void
ecom_cli_bad_option(int opt, char **argv)
{
	char shortopt[3] = {'-', (char)optopt, '\0'};
	/* argv names long options as typed; optopt names a short one inside a cluster. */
	const char *name = opt == ':' || optopt == 0 ? argv[optind - 1] : shortopt;

	if (opt == ':')
		ecom_usagef("option '%s' needs a value", name);
	else
		ecom_usagef("unknown option '%s'", name);
}

void
ecom_cli_usage_common(FILE *out, const ecom_config *cfg)
{
	fprintf(out,
	        "  -b, --brokers LIST     Kafka bootstrap brokers (default %s)\n"
	        "  -c, --config FILE      read configuration from FILE\n"
	        "  -d, --database NAME    MongoDB database / PostgreSQL schema (default %s)\n"
	        "      --store STORE      mongodb, postgresql, or a mongodb:// or postgresql:// URI\n"
	        "                         (default %s)\n"
	        "  -X KEY=VALUE           set a librdkafka property; -X list shows them all,\n"
	        "                         -X dump the configuration in force\n"
	        "  -q, --quiet            print errors only\n"
	        "  -v, --verbose          print debugging messages\n"
	        "  -h, --help             print this help and exit\n"
	        "  -V, --version          print the version and exit\n",
	        cfg->brokers, cfg->database, cfg->store);
}

bool
ecom_cli_early_exit(const ecom_cli *cli, int argc, char **argv,
                    void (*usage)(FILE *out, const ecom_config *cfg), ecom_config *cfg,
                    int *status)
{
	ecom_err ignored;

	if (cli->help) {
		/* The defaults in force; a broken config file still gets the built-in ones. */
		if (ecom_config_load(cfg, cli->config_path, &ignored) < 0) {
			ecom_config_free(cfg);
			ecom_config_init(cfg);
		}
		usage(stdout, cfg);
	} else if (cli->version) {
		ecom_cli_print_version();
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

int
ecom_cli_configure(ecom_cli *cli, ecom_config *cfg, ecom_err *err)
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
	if (ecom_kafka_check_config(cfg, err) < 0 || ecom_store_check_uris(cfg, err) < 0)
		return -1;
	return 0;
}

void
ecom_cli_print_version(void)
{
	char stores[128];

	ecom_store_driver_versions(stores, sizeof(stores));
	printf("%s (ecom) %s\n", ecom_progname(), PACKAGE_VERSION);
	printf("librdkafka %s, %s, libbson %s, %s\n", ecom_kafka_version(), stores,
	       bson_get_version(), ecom_config_yaml_version());
}

static ecom_stop_flag *stop_flag;

static void
on_stop_signal(int signo)
{
	(void)signo;
	if (stop_flag != NULL)
		*stop_flag = 1;
}

void
ecom_cli_catch_stop_signals(ecom_stop_flag *flag)
{
	struct sigaction sa;

	/* A closed pipe shows up as a write error we report, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	if (flag == NULL) /* nothing to finish: the default handlers are right */
		return;
	stop_flag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* The common long options, then the command's own. */
static struct option *
merged_longopts(const struct option *own)
{
	static const struct option common[] = {ECOM_CLI_LONGOPTS};
	size_t n_common = sizeof(common) / sizeof(common[0]), n_own = 0;
	struct option *all;

	while (own != NULL && own[n_own].name != NULL)
		n_own++;
	all = calloc(n_common + n_own + 1, sizeof(*all));
	if (all == NULL)
		return NULL;
	memcpy(all, common, sizeof(common));
	if (n_own > 0)
		memcpy(all + n_common, own, n_own * sizeof(*own));
	return all;
}

static ecom_stop_flag stop_requested;

int
ecom_cli_main(int argc, char **argv, const ecom_command *command)
{
	struct option *longopts = merged_longopts(command->longopts);
	char shortopts[128];
	ecom_cli cli;
	ecom_config cfg;
	ecom_err err;
	int opt, status = ECOM_EXIT_USAGE;

	ecom_log_init(argv[0]);
	ecom_config_init(&cfg);
	ecom_cli_init(&cli);
	snprintf(shortopts, sizeof(shortopts), "%s%s", ECOM_CLI_SHORTOPTS,
	         command->shortopts ? command->shortopts : "");
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ecom_cli_option(&cli, opt, optarg))
			continue;
		if (opt == '?' || opt == ':') {
			ecom_cli_bad_option(opt, argv);
			goto out;
		}
		if (command->option(&cli, opt, optarg) < 0)
			goto out;
	}
	if (ecom_cli_early_exit(&cli, argc, argv, command->usage, &cfg, &status))
		goto out;
	/* -X dump shows the configuration whatever else the command lacks. */
	if (!cli.dump_config && command->check != NULL && command->check() < 0)
		goto out;
	if (ecom_cli_configure(&cli, &cfg, &err) < 0) {
		ecom_usagef("%s", err.msg);
		goto out;
	}
	if (cli.dump_config) {
		ecom_config_dump(&cfg, stdout);
		ecom_kafka_dump(&cfg, stdout);
		status = ECOM_EXIT_OK;
		goto out;
	}
	ecom_cli_catch_stop_signals(&stop_requested);
	status = command->run(&cfg, &stop_requested);
out:
	free(longopts);
	ecom_config_free(&cfg);
	if (ecom_close_stdout() < 0 && status == ECOM_EXIT_OK)
		status = ECOM_EXIT_FAILURE;
	return status;
}
