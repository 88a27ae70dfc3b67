/*
 * cmd.h - private to the certgw command line: the subcommand table entry,
 * exit codes and helpers shared by gateway/cmd_*.c.
 */
#ifndef CERTGW_CMD_H
#define CERTGW_CMD_H

#include <stdio.h>

#define CMD_EXIT_OK	0
#define CMD_EXIT_FAIL	1	/* the operation was refused or failed */
#define CMD_EXIT_USAGE	2	/* bad command line */

typedef int cmd_fn(int argc, char **argv);

struct cmd {
	const char	*name;		/* the subcommand word */
	cmd_fn		*fn;		/* argv[0] is the subcommand */
	const char	*help;		/* one line for 'certgw --help' */
};

int	cmd_version(int argc, char **argv);

#endif /* CERTGW_CMD_H */
