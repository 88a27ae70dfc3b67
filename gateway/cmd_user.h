/*
 * cmd_user.h - private to `certgw user` (gateway/cmd_user.c, its
 * certificate subcommands in cmd_user_cert.c and its rules in
 * cmd_user_rule.c): the option parser and the helpers they share.
 */
#ifndef CERTGW_CMD_USER_H
#define CERTGW_CMD_USER_H

#include <stdbool.h>

#include <jansson.h>

#include "cmd.h"

/* Every option any user subcommand takes; each checks its own. */
struct uopts {
	const char	*email;
	const char	*org;
	const char	*role;
	const char	*thumbprint;
	const char	*cn;
	const char	*profile;
	const char	*out;
	const char	*password_file;
	const char	*key_type;
	const char	*issuer;
	const char	*subject;
	const char	*position;
	const char	*config;
	const char	*dir;
	bool		 json;
	bool		 thumb_only;
	bool		 force;
	int		 nargs;		/* positional arguments */
	char		**args;
};

#define UOPT_EMAIL	0x01
#define UOPT_ORG	0x02
#define UOPT_ROLE	0x04
#define UOPT_THUMB	0x08
#define UOPT_CN		0x10
#define UOPT_JSON	0x20
#define UOPT_THUMBONLY	0x40
#define UOPT_PROFILE	0x80
#define UOPT_OUT	0x100
#define UOPT_PWFILE	0x200
#define UOPT_KEYTYPE	0x400
#define UOPT_FORCE	0x800
#define UOPT_ISSUER	0x1000
#define UOPT_SUBJECT	0x2000
#define UOPT_POSITION	0x4000

/* A list subcommand's rows: printed as text, or gathered in arr. */
struct ulist_state {
	bool		 json;
	json_t		*arr;
};

/*
 * Parse argv for subcommand sub, which allows the options in allowed and
 * exactly nargs positional arguments; prints the usage for --help.
 * CMD_EXIT_OK to go on, -1 after --help, else the exit code.
 */
int	uopts_parse(int argc, char **argv, const char *sub,
	    unsigned allowed, int nargs, const char *usage, struct uopts *o);

/* An "ok" audit row for the CLI's actor; a failure to write it is printed. */
void	user_audit(struct cmd_ctx *ctx, const char *action,
	    const char *target, const char *detail);

/* The identity called name, or a message saying there is none. */
bool	user_ident_get(struct cmd_ctx *ctx, const char *cmd,
	    const char *name, struct ca_identity **ip);

/* The subcommands cmd_user() dispatches to in cmd_user_cert.c. */
int	user_import_cert(int argc, char **argv);
int	user_issue(int argc, char **argv);

/* `user rule add|list|remove`, in cmd_user_rule.c. */
int	user_rule(int argc, char **argv);

#endif /* CERTGW_CMD_USER_H */
