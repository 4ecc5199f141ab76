/* The options of a run's load (ecom_load.h). */
#include "ecom_load.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void
ecom_load_args_init(ecom_load_args *load)
{
	memset(load, 0, sizeof(*load));
	load->open.seed = 1;
}

static int
take_seconds(const char *name, const char *value, double min, double *out, ecom_err *err)
{
	if (ecom_parse_double(value, min, ECOM_LOAD_MAX_DURATION_S, out) < 0)
		return ecom_err_set(err, "--%s '%s': expected seconds, from %g to %.0f", name, value, min,
		                    ECOM_LOAD_MAX_DURATION_S);
	return 0;
}

int
ecom_load_option(ecom_load_args *load, const char *name, const char *value, ecom_err *err)
{
	ecom_open_loop *open = &load->open;
	long backlog;

	if (strcmp(name, "rate") == 0) {
		if (ecom_parse_double(value, 0.001, ECOM_LOAD_MAX_RATE, &open->rate) < 0)
			return ecom_err_set(err, "--rate '%s': expected orders per second, from 0.001 to %.0f",
			                    value, ECOM_LOAD_MAX_RATE);
		return 0;
	}
	if (load->open_option == NULL)
		load->open_option = strcmp(name, "duration") == 0   ? "--duration"
		                    : strcmp(name, "arrivals") == 0 ? "--arrivals"
		                    : strcmp(name, "warmup") == 0   ? "--warmup"
		                                                    : "--max-backlog";
	if (strcmp(name, "duration") == 0)
		return take_seconds(name, value, 0.001, &load->duration_s, err);
	load->open_option_given = true;
	if (strcmp(name, "arrivals") == 0) {
		if (ecom_arrivals_from_name(value, &open->arrivals) < 0)
			return ecom_err_set(err, "--arrivals '%s': expected constant or poisson", value);
		return 0;
	}
	if (strcmp(name, "warmup") == 0)
		return take_seconds(name, value, 0, &open->warmup_s, err);
	if (strcmp(name, "max-backlog") == 0) {
		if (ecom_parse_long(value, 1, ECOM_LOAD_MAX_ORDERS, &backlog) < 0)
			return ecom_err_set(err, "--max-backlog '%s': expected a number from 1 to %ld", value,
			                    ECOM_LOAD_MAX_ORDERS);
		open->backlog_max = backlog;
		return 0;
	}
	return ecom_err_set(err, "--%s is not an option of the load (a bug)", name);
}

int
ecom_load_check(ecom_load_args *load, ecom_config *cfg, ecom_err *err)
{
	char orders[32];
	double n;

	if (load->open.rate <= 0) {
		if (load->duration_s > 0 || load->open_option_given)
			return ecom_err_set(err, "%s is an open loop's: it goes with --rate",
			                    load->open_option);
		return 0;
	}
	if (load->window_given)
		return ecom_err_set(err, "-w is a closed loop's; an open loop (--rate) has no window");
	if (load->duration_s > 0 && load->orders_given)
		return ecom_err_set(err, "give the orders or --duration S, not both");
	if (load->duration_s <= 0)
		return 0;
	n = ceil(load->open.rate * load->duration_s);
	if (n > (double)ECOM_LOAD_MAX_ORDERS)
		return ecom_err_set(err, "--rate %g for --duration %g is more than %ld orders",
		                    load->open.rate, load->duration_s, ECOM_LOAD_MAX_ORDERS);
	snprintf(orders, sizeof(orders), "%.0f", n);
	return ecom_config_set(cfg, "orders", orders, err);
}

int
ecom_load_take(ecom_load_args *load, const char *name, const char *value)
{
	ecom_err err;

	if (ecom_load_option(load, name, value, &err) < 0) {
		ecom_usagef("%s", err.msg);
		return -1;
	}
	return 0;
}
