/*
 * cmd.h - private to the certgw command line: the subcommand table entry,
 * exit codes and the helpers shared by gateway/cmd_*.c (opening the local
 * config, CA and store; printing errors).  Not used by `serve`'s loops.
 */
#ifndef CERTGW_CMD_H
#define CERTGW_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include "certgw/ca.h"
#include "certgw/config.h"
#include "certgw/core.h"
#include "certgw/dist.h"
#include "certgw/store.h"

#define CMD_EXIT_OK	0
#define CMD_EXIT_FAIL	1	/* the operation was refused or failed */
#define CMD_EXIT_USAGE	2	/* bad command line */

#define CMD_ACTOR_MAX	128	/* "cli:<user>" */

typedef int cmd_fn(int argc, char **argv);

struct cmd {
	const char	*name;		/* the subcommand word */
	cmd_fn		*fn;		/* argv[0] is the subcommand */
	const char	*help;		/* one line for 'certgw --help' */
};

/* What a local admin command works on. */
struct cmd_ctx {
	struct gw_config *conf;		/* the loaded config */
	struct ca	*ca;		/* opened when asked for */
	struct ca_store	*st;		/* opened when asked for */
	struct dist_rules *rules;	/* distribution rules, with the CA */
	struct dist_hook hook;		/* the CA's outbox hook argument */
	char		 actor[CMD_ACTOR_MAX]; /* "cli:<user>" for the audit log */
};

#define CMD_NEED_CA	0x1
#define CMD_NEED_STORE	0x2

/*
 * Find the config (--config FILE, else --dir DIR/certgw.json, else
 * $CERTGW_CONFIG, else ./certgw.json), load it and open what need asks
 * for.  Prints the error and returns false on failure.
 */
bool	cmd_ctx_open(struct cmd_ctx *ctx, const char *config, const char *dir,
	    unsigned need);
void	cmd_ctx_close(struct cmd_ctx *ctx);
/* Print "certgw: <what>: <msg>" (and detail at --verbose) to stderr. */
int	cmd_fail(const char *what, const struct cg_err *err);
/* Print a usage error and return CMD_EXIT_USAGE. */
int	cmd_usage_error(const char *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Run the subcommand argv[1] names from subs (n entries) with argv + 1,
 * or print "usage: certgw <cmd> a|b|c ..." and each entry's help for
 * --help/-h, or report a usage error naming the choices.
 */
int	cmd_sub(const char *cmd, const struct cmd *subs, size_t n, int argc,
	    char **argv);
/* The current user as "cli:<name>" into out. */
void	cmd_actor(char *out, size_t outlen);
/*
 * Print o (NULL: nothing) to stdout as indented JSON and a newline, for
 * --json output; false when o is NULL or cannot be written.  Does not
 * take o's reference.
 */
struct json_t;
bool	cmd_json_print(struct json_t *o);
/*
 * A key and certificate for the gateway's own use (the SCEP RA, the OCSP
 * signer): a new key_type key, a CSR for "<CA CN><cn_suffix>", issued by
 * ctx's CA under profile (recorded and audited by ca_issue), written as
 * key_file (PKCS#8 PEM, 0600) and cert_file (PEM) under dir, all relative
 * to the config's directory.  Existing files are refused before anything
 * is issued, unless force.  Prints what went wrong; on CMD_EXIT_OK *isp
 * is the caller's (ca_issued_free).
 */
struct cmd_keycert {
	const char		*cmd;		/* "scep ra-init", messages */
	const char		*dir;		/* "scep" */
	const char		*key_file;	/* "scep/ra.key" */
	const char		*cert_file;	/* "scep/ra.pem" */
	const char		*cn_suffix;	/* " SCEP RA" */
	enum ca_init_key	 key_type;
	const struct ca_profile	*profile;	/* built in */
	bool			 force;
};
int	cmd_keycert_make(struct cmd_ctx *ctx, const struct cmd_keycert *kc,
	    struct ca_issued **isp);
/* Whether --verbose was given (shows err->detail). */
extern bool cmd_verbose;

/*
 * Certificate files (gateway/cmd_trust.c).  Read the certificates of
 * path (ca_cert_file_parse: PEM or DER, no private key); prints
 * "certgw: <what>: <path>: <why>" and returns false on failure.
 * *certsp is the caller's (sk_X509_pop_free).
 */
bool		cmd_cert_file_load(const char *what, const char *path,
		    STACK_OF(X509) **certsp);
/* A name as RFC 2253 text ("" when longer than cap - 1). */
void		cmd_name_text(const X509_NAME *n, char *out, size_t cap);

int	cmd_version(int argc, char **argv);
int	cmd_init(int argc, char **argv);
int	cmd_serve(int argc, char **argv);
int	cmd_worker(int argc, char **argv);
int	cmd_dist(int argc, char **argv);
int	cmd_check_config(int argc, char **argv);
int	cmd_issue(int argc, char **argv);
int	cmd_cert(int argc, char **argv);
int	cmd_crl(int argc, char **argv);
int	cmd_audit(int argc, char **argv);
int	cmd_pending(int argc, char **argv);
int	cmd_passwd(int argc, char **argv);
int	cmd_acme(int argc, char **argv);
int	cmd_scep(int argc, char **argv);
int	cmd_user(int argc, char **argv);
int	cmd_trust(int argc, char **argv);
int	cmd_holding(int argc, char **argv);
int	cmd_ocsp_signer(int argc, char **argv);
int	cmd_notify(int argc, char **argv);

/*
 * The admin API client (cmd_remote.c).  cmd_remote_options() takes the
 * leading global options (--server, --cert, --key, --cacert, --verbose)
 * off argv; cmd_remote_active() says whether cmd goes to the server
 * (--server given, or $CERTGW_SERVER for all but local-only commands);
 * cmd_remote() runs it there, argv[0] the command.
 */
int	cmd_remote_options(int *argcp, char ***argvp);
bool	cmd_remote_active(const char *cmd);
int	cmd_remote(int argc, char **argv);

#endif /* CERTGW_CMD_H */
