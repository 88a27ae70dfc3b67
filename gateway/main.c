/*
 * main.c - the certgw command: global options, then one subcommand from
 * the table below.  Each subcommand lives in gateway/cmd_<name>.c.
 */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

#include "certgw/core.h"

static const struct cmd commands[] = {
	{ "version", cmd_version, "print the version" },
};

static void
usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: certgw COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'certgw COMMAND --help' describes each command.\n");
}

int
main(int argc, char **argv)
{
	size_t	 i;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CMD_EXIT_USAGE : 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "certgw: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CMD_EXIT_USAGE;
}
