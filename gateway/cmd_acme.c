/*
 * cmd_acme.c - `certgw acme eab new|list|delete`: the admin's side of
 * external account binding (RFC 8555 7.3.4).  `new` makes a key id and an
 * HMAC key for one ACME directory, records them in the store and prints
 * them once, in the form certbot (--eab-kid, --eab-hmac-key) and lego
 * (--kid, --hmac) take; the key is never logged, never audited and never
 * shown again.  `list` shows the keys and what they are bound to, never the
 * key itself; `delete` removes one, which also withdraws the account it
 * made from ordering.  newAccount binds a key to the account it creates
 * (protocols/acme/).
 */
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#define EAB_KID_PREFIX		"kid-"
#define EAB_KID_RAND		16	/* bytes: 128 bits, 22 characters */
#define EAB_KEY_LEN		32	/* HMAC-SHA256 key bytes (RFC 2104) */
#define EAB_IDS_MAX		100	/* patterns per key */
#define EAB_PATTERN_MAX		255	/* bytes in one pattern */
#define EAB_PREFIX_TEXT		4	/* "/128" added to an address */
#define EAB_DETAIL_MAX		1024	/* audit detail bytes */

struct eab_list_state {
	bool		 json;		/* --json */
	json_t		*arr;		/* rows collected for --json */
	size_t		 count;		/* rows seen */
};

/* ------------------------------------------------------------ helpers */

/*
 * base64url without padding (RFC 4648 5, RFC 7515 2) into a fresh string:
 * what certbot and lego decode an EAB key from.  The intermediate is wiped,
 * as the bytes may be a key.
 */
static char *
b64url(const uint8_t *in, size_t len)
{
	struct cg_err	 err = { 0 };
	char		*s, *out;
	size_t		 i, n;

	if (cg_base64_encode(in, len, &s, &err) != CG_OK)
		return NULL;
	n = strcspn(s, "=");
	out = cg_strndup(s, n);
	OPENSSL_cleanse(s, strlen(s));
	cg_free(s);
	for (i = 0; out != NULL && i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return out;
}

static void
secret_free(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	cg_free(s);
}

/* Printable ASCII for the terminal; the store's text may be anything. */
static char *
safe_dup(const char *s)
{
	char	*d;
	size_t	 i;

	d = cg_strdup(s == NULL ? "" : s);
	for (i = 0; d != NULL && d[i] != '\0'; i++)
		if ((unsigned char)d[i] < 0x20 || (unsigned char)d[i] >= 0x7f)
			d[i] = '?';
	return d;
}

/* The directory of that name in the config, or NULL. */
static const struct gw_acme_dir *
dir_find(const struct gw_config *conf, const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->acme.ndirs; i++)
		if (strcmp(conf->acme.dirs[i].name, name) == 0)
			return &conf->acme.dirs[i];
	return NULL;
}

/*
 * "--identifiers a,b,c": each a DNS pattern ("host.example", "*.example",
 * ".example") or an IP network (CIDR), into a JSON array.  Checked before
 * anything is opened, so a typo writes nothing.
 */
static bool
identifiers_parse(const char *list, json_t **arrp)
{
	json_t		*arr;
	const char	*p = list, *comma;
	char		 pat[EAB_PATTERN_MAX + EAB_PREFIX_TEXT + 1];
	size_t		 len;

	*arrp = arr = json_array();
	if (arr == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		return false;
	}
	if (list == NULL)
		return true;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len > EAB_PATTERN_MAX) {
			cmd_usage_error("acme eab new", "--identifiers: "
			    "expected comma-separated patterns of 1 to %d "
			    "characters", EAB_PATTERN_MAX);
			return false;
		}
		memcpy(pat, p, len);
		pat[len] = '\0';
		/*
		 * An address alone is its own network: written with its
		 * prefix length, since newOrder matches IP identifiers
		 * against CIDRs only.
		 */
		if (ca_ip_network_is_valid(pat) && strchr(pat, '/') == NULL)
			snprintf(pat + len, sizeof(pat) - len, "/%d",
			    strchr(pat, ':') != NULL ? 128 : 32);
		else if (!ca_dns_pattern_is_valid(pat) &&
		    !ca_ip_network_is_valid(pat)) {
			cmd_usage_error("acme eab new", "--identifiers: "
			    "'%.*s' is neither a DNS pattern (host.example, "
			    "*.example, .example) nor an IP network "
			    "(10.0.0.0/8, 2001:db8::/32)", (int)len, p);
			return false;
		}
		if (json_array_size(arr) == EAB_IDS_MAX) {
			cmd_usage_error("acme eab new", "--identifiers: at "
			    "most %d patterns", EAB_IDS_MAX);
			return false;
		}
		if (json_array_append_new(arr, json_string(pat)) != 0) {
			fprintf(stderr, "certgw: out of memory\n");
			return false;
		}
		if (comma == NULL)
			return true;
		p = comma + 1;
	}
}

/* Open the config and the store; the config must have an "acme" section. */
static bool
acme_open(struct cmd_ctx *ctx, const char *name, const char *config,
    const char *dir)
{
	if (!cmd_ctx_open(ctx, config, dir, CMD_NEED_STORE))
		return false;
	if (!ctx->conf->acme.enabled) {
		fprintf(stderr, "certgw %s: %s has no \"acme\" section: add "
		    "one with the directory the key is for (see "
		    "docs/configuration.md)\n", name, ctx->conf->path);
		cmd_ctx_close(ctx);
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- new */

/* Record e and its audit row together: no key without its audit trail. */
static int
eab_record(struct cmd_ctx *ctx, const struct ca_acme_eab *e)
{
	struct cg_err	 err = { 0 };
	char		 detail[EAB_DETAIL_MAX];

	snprintf(detail, sizeof(detail), "directory=%s identifiers=%s",
	    e->directory, e->identifiers);
	if (ca_store_begin(ctx->st, &err) != CG_OK)
		return cmd_fail("cannot record the EAB key", &err);
	if (ca_store_acme_eab_insert(ctx->st, e, &err) != CG_OK ||
	    ca_store_audit_add(ctx->st, ctx->actor, "acme-eab-new", e->kid,
	    "ok", detail, &err) != CG_OK ||
	    ca_store_commit(ctx->st, &err) != CG_OK) {
		ca_store_rollback(ctx->st);
		return cmd_fail("cannot record the EAB key", &err);
	}
	return CMD_EXIT_OK;
}

/* Print the pair; the JSON copy of the key is wiped before it is freed. */
static int
eab_print(const char *kid, const char *key, bool json)
{
	json_t	*o, *k;
	bool	 ok;

	if (!json) {
		printf("kid: %s\nhmac_key: %s\n", kid, key);
		return CMD_EXIT_OK;
	}
	o = json_object();
	k = json_string(key);
	if (o == NULL || k == NULL || json_object_set_new(o, "kid",
	    json_string(kid)) != 0 || json_object_set(o, "hmac_key", k) != 0) {
		ok = false;
	} else
		ok = cmd_json_print(o);
	/* jansson keeps its own copy; nothing else would wipe it. */
	if (k != NULL)
		OPENSSL_cleanse((char *)json_string_value(k),
		    json_string_length(k));
	json_decref(k);
	json_decref(o);
	if (!ok) {
		fprintf(stderr, "certgw: cannot print the key\n");
		return CMD_EXIT_FAIL;
	}
	return CMD_EXIT_OK;
}

static int
eab_new(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "directory", required_argument, NULL, 'D' },
		{ "identifiers", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca_acme_eab	 e;
	struct cmd_ctx		 ctx;
	json_t			*ids = NULL;
	uint8_t			 rnd[EAB_KID_RAND], key[EAB_KEY_LEN];
	const char		*config = NULL, *dir = NULL;
	const char		*directory = "default", *idlist = NULL;
	char			*kidr = NULL, *kid = NULL, *keytext = NULL;
	char			*idtext = NULL;
	bool			 json = false;
	int			 c, ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'D': directory = optarg; break;
		case 'i': idlist = optarg; break;
		case 'j': json = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw acme eab new [--directory NAME] "
			    "[--identifiers PATTERN,...] [--json]\n"
			    "        [-c|--config F | --dir D]\n"
			    "Prints a key id and an HMAC key (base64url) for "
			    "an ACME client's external\naccount binding.  The "
			    "key is shown this once only.\n");
			return CMD_EXIT_OK;
		default: return cmd_usage_error("acme eab new", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("acme eab new", "unexpected argument "
		    "'%s'", argv[optind]);
	if (!identifiers_parse(idlist, &ids)) {
		json_decref(ids);
		return idlist != NULL ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
	}
	if (!acme_open(&ctx, "acme eab new", config, dir)) {
		json_decref(ids);
		return CMD_EXIT_FAIL;
	}
	if (dir_find(ctx.conf, directory) == NULL) {
		fprintf(stderr, "certgw acme eab new: no ACME directory '%s' "
		    "in %s (see acme.directories)\n", directory,
		    ctx.conf->path);
		goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    RAND_bytes(key, sizeof(key)) != 1) {
		fprintf(stderr, "certgw: the random generator failed\n");
		goto out;
	}
	kidr = b64url(rnd, sizeof(rnd));
	kid = kidr != NULL ? cg_asprintf(EAB_KID_PREFIX "%s", kidr) : NULL;
	keytext = b64url(key, sizeof(key));
	idtext = json_dumps(ids, JSON_COMPACT);
	if (kid == NULL || keytext == NULL || idtext == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		goto out;
	}
	memset(&e, 0, sizeof(e));
	e.kid = kid;
	e.directory = (char *)directory;
	e.key = key;
	e.key_len = sizeof(key);
	e.identifiers = idtext;
	e.account_id = (char *)"";
	e.created_at = cg_now();
	ret = eab_record(&ctx, &e);
	if (ret == CMD_EXIT_OK)
		ret = eab_print(kid, keytext, json);
out:
	OPENSSL_cleanse(key, sizeof(key));
	secret_free(keytext);
	cg_free(kidr);
	cg_free(kid);
	free(idtext);
	json_decref(ids);
	cmd_ctx_close(&ctx);
	return ret;
}

/* --------------------------------------------------------------- list */

static json_t *
eab_json(const struct ca_acme_eab *e, const char *account)
{
	json_t	*o, *ids;
	char	 ca[32], ba[32];

	/* The store keeps the text the CLI wrote; show it as JSON again. */
	ids = json_loads(e->identifiers, 0, NULL);
	if (ids == NULL)
		ids = json_string(e->identifiers);
	cg_time_fmt(e->created_at, ca, sizeof(ca));
	cg_time_fmt(e->bound_at, ba, sizeof(ba));
	o = json_pack("{s:s, s:s, s:o, s:s?, s:s, s:s?}",
	    "kid", e->kid, "directory", e->directory, "identifiers", ids,
	    "account", account[0] != '\0' ? account : NULL,
	    "created_at", ca, "bound_at", e->bound_at != 0 ? ba : NULL);
	return o;
}

static enum cg_code
list_row(void *arg, const struct ca_acme_eab *e)
{
	struct eab_list_state	*ls = arg;
	char			*kid, *dir, *ids, *acct;
	char			 ca[32], ba[32];
	json_t			*o;
	enum cg_code		 rc = CG_OK;

	ls->count++;
	kid = safe_dup(e->kid);
	dir = safe_dup(e->directory);
	ids = safe_dup(e->identifiers);
	acct = safe_dup(e->account_id);
	if (kid == NULL || dir == NULL || ids == NULL || acct == NULL) {
		rc = CG_ENOMEM;
		goto out;
	}
	if (ls->json) {
		o = eab_json(e, acct);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			rc = CG_ENOMEM;
		goto out;
	}
	cg_time_fmt(e->created_at, ca, sizeof(ca));
	if (e->bound_at != 0)
		cg_time_fmt(e->bound_at, ba, sizeof(ba));
	printf("%-26s  %-12s  %-20s  %-20s  %-24s  %s\n", kid, dir, ca,
	    e->bound_at != 0 ? ba : "-", acct[0] != '\0' ? acct : "-", ids);
out:
	cg_free(kid);
	cg_free(dir);
	cg_free(ids);
	cg_free(acct);
	return rc;
}

static int
eab_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "directory", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct eab_list_state	 ls = { 0 };
	struct cmd_ctx		 ctx;
	struct cg_err		 err = { 0 };
	const char		*config = NULL, *dir = NULL, *directory = NULL;
	int			 c, ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'D': directory = optarg; break;
		case 'j': ls.json = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw acme eab list [--directory NAME] "
			    "[--json] [-c|--config F | --dir D]\n");
			return CMD_EXIT_OK;
		default: return cmd_usage_error("acme eab list", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("acme eab list", "unexpected argument "
		    "'%s'", argv[optind]);
	/* Keys outlive config edits: list them even without "acme". */
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ls.arr = json_array();
	if (!ls.json)
		printf("%-26s  %-12s  %-20s  %-20s  %-24s  %s\n", "KID",
		    "DIRECTORY", "CREATED", "BOUND", "ACCOUNT", "IDENTIFIERS");
	if (ls.arr == NULL || ca_store_acme_eab_list(ctx.st, directory,
	    list_row, &ls, &err) != CG_OK) {
		cmd_fail("cannot list EAB keys", &err);
		goto out;
	}
	if (ls.json && !cmd_json_print(ls.arr))
		goto out;
	ret = CMD_EXIT_OK;
out:
	json_decref(ls.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

/* ------------------------------------------------------------- delete */

static int
eab_delete_one(struct cmd_ctx *ctx, const char *kid)
{
	struct ca_acme_eab	*e = NULL;
	struct cg_err		 err = { 0 };
	char			 detail[EAB_DETAIL_MAX];
	char			*shown;
	bool			 bound;
	enum cg_code		 rc;
	int			 ret = CMD_EXIT_FAIL;

	if (ca_store_begin(ctx->st, &err) != CG_OK)
		return cmd_fail("cannot delete the EAB key", &err);
	rc = ca_store_acme_eab_get(ctx->st, kid, &e, &err);
	if (rc == CG_ENOTFOUND || rc == CG_EINVAL) {
		shown = safe_dup(kid);
		fprintf(stderr, "certgw acme eab delete: no EAB key '%s' (see "
		    "'certgw acme eab list')\n", shown != NULL ? shown : "?");
		cg_free(shown);
		goto out;
	}
	if (rc != CG_OK) {
		cmd_fail("cannot delete the EAB key", &err);
		goto out;
	}
	bound = e->account_id != NULL && e->account_id[0] != '\0';
	snprintf(detail, sizeof(detail), "directory=%s account=%s",
	    e->directory, bound ? e->account_id : "-");
	if (ca_store_acme_eab_delete(ctx->st, kid, &err) != CG_OK ||
	    ca_store_audit_add(ctx->st, ctx->actor, "acme-eab-delete", kid,
	    "ok", detail, &err) != CG_OK ||
	    ca_store_commit(ctx->st, &err) != CG_OK) {
		cmd_fail("cannot delete the EAB key", &err);
		goto out;
	}
	printf("deleted %s%s\n", e->kid, bound ? " (the account it "
	    "created can no longer place orders)" : "");
	ret = CMD_EXIT_OK;
out:
	if (ret != CMD_EXIT_OK)
		ca_store_rollback(ctx->st);
	ca_acme_eab_free(e);
	return ret;
}

static int
eab_delete(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx	 ctx;
	const char	*config = NULL, *dir = NULL;
	int		 c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw acme eab delete KID "
			    "[-c|--config F | --dir D]\n");
			return CMD_EXIT_OK;
		default:
			return cmd_usage_error("acme eab delete", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error("acme eab delete", "expected one key id "
		    "(see 'certgw acme eab list')");
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = eab_delete_one(&ctx, argv[optind]);
	cmd_ctx_close(&ctx);
	return ret;
}

/* ---------------------------------------------------------- dispatch */

static const struct cmd eab_subs[] = {
	{ "new", eab_new, "make a key id and HMAC key for an ACME client" },
	{ "list", eab_list, "the keys, their directory and bound account" },
	{ "delete", eab_delete, "remove one key" },
};

static int
acme_eab(int argc, char **argv)
{
	return cmd_sub("acme eab", eab_subs,
	    sizeof(eab_subs) / sizeof(eab_subs[0]), argc, argv);
}

static const struct cmd acme_subs[] = {
	{ "eab", acme_eab, "external account binding keys (RFC 8555 7.3.4)" },
};

int
cmd_acme(int argc, char **argv)
{
	return cmd_sub("acme", acme_subs,
	    sizeof(acme_subs) / sizeof(acme_subs[0]), argc, argv);
}
