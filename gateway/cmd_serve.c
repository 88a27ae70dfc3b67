/*
 * cmd_serve.c - `certgw serve --config FILE` and `certgw check-config FILE`:
 * the daemon's entry point (all the work is in gw_server_*) and the
 * validator admins run before a reload.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "certgw/acme.h"
#include "certgw/est.h"
#include "certgw/scep.h"
#include "certgw/gw.h"
#include "certgw/notify.h"

#include "gw_admin.h"

static void
serve_usage(FILE *f)
{
	fprintf(f,
"usage: certgw serve --config FILE\n"
"\n"
"Run the gateway in the foreground: the HTTPS and HTTP listeners, one event\n"
"loop per core.  Logs go to stderr, one logfmt line per request.\n"
"SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0.\n"
"SIGHUP: reload profiles and the log level from FILE.\n"
"\n"
"  --config FILE   the configuration (default $CERTGW_CONFIG or ./certgw.json)\n");
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct gw_server	*srv = NULL;
	struct acme_server	*acme = NULL;
	struct scep_server	*scep = NULL;
	struct gw_notifier	*notifier = NULL;
	struct cg_err		 err = { 0 };
	const char		*config = NULL;
	int			 c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			return CMD_EXIT_OK;
		default:
			return cmd_usage_error("serve", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("serve", "unexpected argument '%s'",
		    argv[optind]);
	if (config == NULL)
		config = getenv("CERTGW_CONFIG") != NULL ?
		    getenv("CERTGW_CONFIG") : "certgw.json";
	if (gw_server_new(config, &srv, &err) != CG_OK) {
		cg_log_err_struct(__func__, "start", &err);
		return cmd_fail("cannot start", &err);
	}
	if (gw_server_config(srv)->est.enabled &&
	    est_register(srv, &err) != CG_OK) {
		cg_log_err_struct(__func__, "est", &err);
		gw_server_free(srv);
		return cmd_fail("cannot start EST", &err);
	}
	if (gw_server_config(srv)->acme.enabled &&
	    acme_register(srv, &acme, &err) != CG_OK) {
		cg_log_err_struct(__func__, "acme", &err);
		gw_server_free(srv);
		return cmd_fail("cannot start ACME", &err);
	}
	if (gw_server_config(srv)->scep.enabled &&
	    scep_register(srv, &scep, &err) != CG_OK) {
		cg_log_err_struct(__func__, "scep", &err);
		acme_server_free(acme);
		gw_server_free(srv);
		return cmd_fail("cannot start SCEP", &err);
	}
	/* The admin API: identities with a role, client certificates. */
	if (admin_register(srv, &err) != CG_OK) {
		cg_log_err_struct(__func__, "admin", &err);
		scep_server_free(scep);
		acme_server_free(acme);
		gw_server_free(srv);
		return cmd_fail("cannot start the admin API", &err);
	}
	/* Its own thread and store handle: never on an event loop. */
	if (gw_notifier_start(gw_server_config(srv), &notifier, &err) !=
	    CG_OK) {
		cg_log_err_struct(__func__, "notify", &err);
		scep_server_free(scep);
		acme_server_free(acme);
		gw_server_free(srv);
		return cmd_fail("cannot start the notification scheduler", &err);
	}
	if (gw_server_run(srv, &err) != CG_OK) {
		cg_log_err_struct(__func__, "run", &err);
		gw_notifier_stop(notifier);
		scep_server_free(scep);
		acme_server_free(acme);
		gw_server_free(srv);
		return CMD_EXIT_FAIL;
	}
	/* The loops are done; the validator goes before the store does. */
	gw_notifier_stop(notifier);
	scep_server_free(scep);
	acme_server_free(acme);
	gw_server_free(srv);
	return CMD_EXIT_OK;
}

int
cmd_check_config(int argc, char **argv)
{
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: certgw check-config FILE\n\n"
		    "Validate a configuration file: syntax, every key and "
		    "value, and the\nfiles it names.  Errors name the line and "
		    "the JSON path.\n");
		return CMD_EXIT_OK;
	}
	if (argc != 2)
		return cmd_usage_error("check-config", "expected one FILE");
	if (gw_config_load(argv[1], &conf, &err) != CG_OK) {
		fprintf(stderr, "%s\n", err.msg);
		if (cmd_verbose && err.detail[0] != '\0')
			fprintf(stderr, "detail: %s\n", err.detail);
		return CMD_EXIT_FAIL;
	}
	printf("%s: ok (%zu profile%s)\n", argv[1], conf->nprofiles,
	    conf->nprofiles == 1 ? "" : "s");
	gw_config_free(conf);
	return CMD_EXIT_OK;
}
