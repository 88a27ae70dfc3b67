/*
 * cmd_common.c - helpers shared by the local admin subcommands: locating and
 * loading the config, opening the CA and the store, and reporting errors in
 * one consistent form.  Subcommand logic lives in the cmd_<name>.c files.
 */
#include "cmd.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

bool cmd_verbose;

bool
cmd_json_print(json_t *o)
{
	bool	 ok;

	ok = o != NULL && json_dumpf(o, stdout, JSON_INDENT(2)) == 0;
	printf("\n");
	return ok;
}

int
cmd_sub(const char *cmd, const struct cmd *subs, size_t n, int argc,
    char **argv)
{
	char	 choices[256];
	size_t	 i, w = 0, len = 0;

	for (i = 0; argc >= 2 && i < n; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	choices[0] = '\0';
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(choices + len, len < sizeof(choices) ?
		    sizeof(choices) - len : 0, "%s%s", i == 0 ? "" :
		    i + 1 == n ? " or " : ", ", subs[i].name);
		if (strlen(subs[i].name) > w)
			w = strlen(subs[i].name);
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: certgw %s ", cmd);
		for (i = 0; i < n; i++)
			printf("%s%s", i == 0 ? "" : "|", subs[i].name);
		printf(" ...\n");
		for (i = 0; i < n; i++)
			printf("  %-*s  %s\n", (int)w, subs[i].name,
			    subs[i].help);
		return CMD_EXIT_OK;
	}
	return cmd_usage_error(cmd, "expected %s", choices);
}

void
cmd_actor(char *out, size_t outlen)
{
	struct passwd	 pw, *res = NULL;
	char		 buf[1024];

	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 &&
	    res != NULL)
		snprintf(out, outlen, "cli:%s", pw.pw_name);
	else
		snprintf(out, outlen, "cli:uid%ld", (long)geteuid());
}

int
cmd_fail(const char *what, const struct cg_err *err)
{
	fprintf(stderr, "certgw: %s: %s\n", what,
	    err->msg[0] != '\0' ? err->msg : cg_code_str(err->code));
	if (cmd_verbose && err->detail[0] != '\0')
		fprintf(stderr, "certgw: detail: %s\n", err->detail);
	return CMD_EXIT_FAIL;
}

int
cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "certgw %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'certgw %s --help')\n", cmd);
	return CMD_EXIT_USAGE;
}

static char *
config_path(const char *config, const char *dir)
{
	const char	*env;

	if (config != NULL)
		return cg_strdup(config);
	if (dir != NULL)
		return cg_path_join(dir, "certgw.json");
	env = getenv("CERTGW_CONFIG");
	if (env != NULL && env[0] != '\0')
		return cg_strdup(env);
	return cg_strdup("certgw.json");
}

bool
cmd_ctx_open(struct cmd_ctx *ctx, const char *config, const char *dir,
    unsigned need)
{
	struct cg_err	 err = { 0 };
	char		*path;

	memset(ctx, 0, sizeof(*ctx));
	cmd_actor(ctx->actor, sizeof(ctx->actor));
	path = config_path(config, dir);
	if (path == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		return false;
	}
	if (gw_config_load(path, &ctx->conf, &err) != CG_OK) {
		fprintf(stderr, "certgw: %s\n", err.msg);
		if (cmd_verbose && err.detail[0] != '\0')
			fprintf(stderr, "certgw: detail: %s\n", err.detail);
		cg_free(path);
		return false;
	}
	cg_free(path);
	if ((need & CMD_NEED_STORE) &&
	    ca_store_open(ctx->conf->store_path, &ctx->st, &err) != CG_OK) {
		cmd_fail("cannot open the store", &err);
		goto fail;
	}
	if ((need & CMD_NEED_CA) && ca_open(&ctx->conf->ca, &ctx->ca, &err) !=
	    CG_OK) {
		cmd_fail("cannot open the CA", &err);
		goto fail;
	}
	/* Certificates issued here are distributed like those of serve. */
	if ((need & CMD_NEED_CA) && ctx->conf->dist.nrules > 0) {
		if (dist_rules_new(&ctx->conf->dist, &ctx->rules, &err) !=
		    CG_OK) {
			cmd_fail("cannot load the distribution rules", &err);
			goto fail;
		}
		ctx->hook.rules = ctx->rules;
		ctx->hook.ca = ctx->ca;
		ca_set_outbox_hook(ctx->ca, dist_outbox_hook, &ctx->hook);
	}
	return true;
fail:
	cmd_ctx_close(ctx);
	return false;
}

void
cmd_ctx_close(struct cmd_ctx *ctx)
{
	ca_free(ctx->ca);
	dist_rules_free(ctx->rules);
	ca_store_close(ctx->st);
	gw_config_free(ctx->conf);
	memset(ctx, 0, sizeof(*ctx));
}
