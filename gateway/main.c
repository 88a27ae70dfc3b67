/*
 * main.c - the certgw command: global options, then one subcommand from
 * the table below.  Each subcommand lives in gateway/cmd_<name>.c.
 */
#include "cmd.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "certgw/core.h"

static const struct cmd commands[] = {
	{ "init", cmd_init, "create a CA, TLS certificate, store and config" },
	{ "serve", cmd_serve, "run the gateway (HTTPS and HTTP listeners)" },
	{ "dist", cmd_dist, "distribution queue: status, dead, retry, redeliver" },
	{ "worker", cmd_worker, "push distribution jobs from Redis (no gateway)" },
	{ "check-config", cmd_check_config, "validate a configuration file" },
	{ "issue", cmd_issue, "issue a certificate from a CSR file" },
	{ "cert", cmd_cert, "list, show and revoke issued certificates" },
	{ "crl", cmd_crl, "sign and print the current CRL" },
	{ "pending", cmd_pending, "list, approve and reject pending requests" },
	{ "acme", cmd_acme, "ACME external account binding keys (eab)" },
	{ "scep", cmd_scep, "SCEP one-time challenges and the RA certificate" },
	{ "user", cmd_user, "identities and the certificates mapped to them" },
	{ "trust", cmd_trust, "CAs trusted for client certificates" },
	{ "holding", cmd_holding, "unknown client certificates to review" },
	{ "ocsp-signer", cmd_ocsp_signer, "delegated OCSP signing certificate" },
	{ "notify", cmd_notify, "expiry notifications: run now, list sent" },
	{ "passwd", cmd_passwd, "print a salted hash of a password" },
	{ "audit", cmd_audit, "show the audit log" },
	{ "version", cmd_version, "print the version" },
};

static void
usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: certgw [--verbose] COMMAND [OPTIONS]\n\n"
	    "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nAdmin commands take --config FILE or --dir DIR (default "
	    "$CERTGW_CONFIG,\nthen ./certgw.json).  'certgw COMMAND --help' "
	    "describes each command.\n");
	fprintf(f, "With --server https://HOST:PORT [--cert F --key F --cacert "
	    "F] (or\n$CERTGW_SERVER, $CERTGW_CLIENT_CERT, $CERTGW_CLIENT_KEY, "
	    "$CERTGW_CACERT)\ncert, pending, holding, user, trust, dist, audit\n"
	    "and whoami use the gateway's admin API instead "
	    "(docs/admin-api.md).\n");
}

int
main(int argc, char **argv)
{
	size_t	 i;

	signal(SIGPIPE, SIG_IGN);
	/* Admin commands speak through their output; serve sets its level
	 * from the config. */
	cg_log_set_level(CG_LOG_WARN);
	while (argc >= 2 && (strcmp(argv[1], "--verbose") == 0 ||
	    strcmp(argv[1], "-v") == 0)) {
		cmd_verbose = true;
		cg_log_set_level(CG_LOG_DEBUG);
		argc--;
		argv++;
	}
	/* --server URL and its TLS options, in any order with --verbose. */
	if (cmd_remote_options(&argc, &argv) != CMD_EXIT_OK)
		return CMD_EXIT_USAGE;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CMD_EXIT_USAGE : CMD_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	if (cmd_remote_active(argv[1]))
		return cmd_remote(argc - 1, argv + 1);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "certgw: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CMD_EXIT_USAGE;
}
