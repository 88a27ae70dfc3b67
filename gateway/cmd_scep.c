/*
 * cmd_scep.c - `certgw scep challenge new|list` and `certgw scep ra-init`:
 * the admin's side of SCEP (RFC 8894).  `challenge new` makes a one-time
 * challenge password for a service with dynamic challenges, stores only
 * its SHA-256 and prints the text once; it is never logged, audited or
 * shown again.  `challenge list` shows the challenges and who spent them,
 * never a hash.  `ra-init` makes the RA key and a certificate issued by
 * the CA through ca_issue(), and writes them beside the config.  The
 * protocol itself lives in protocols/scep/.
 */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define CHALLENGE_BYTES		16	/* 128 bits, 32 hex characters */
#define CHALLENGE_TEXT		(2 * CHALLENGE_BYTES)
#define TTL_MIN			60
#define TTL_MAX			2592000	/* 30 days */
#define DETAIL_MAX		(CA_SCEP_REGEX_MAX + 256)
#define RA_DAYS_DEFAULT		730
#define RA_DIR			"scep"
#define RA_KEY_FILE		"scep/ra.key"
#define RA_CERT_FILE		"scep/ra.pem"

struct list_state {
	bool		 json;		/* --json */
	json_t		*arr;		/* rows collected for --json */
	int64_t		 now;		/* to tell expired from unused */
};

/* ------------------------------------------------------------ helpers */

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

static const struct gw_scep_service *
service_find(const struct gw_config *conf, const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->scep.nservices; i++)
		if (strcmp(conf->scep.services[i].name, name) == 0)
			return &conf->scep.services[i];
	return NULL;
}

/* "1h", "30m", "3600" within [TTL_MIN, TTL_MAX]. */
static bool
ttl_parse(const char *s, uint32_t *out)
{
	int64_t	 v;

	if (!cg_parse_duration(s, &v) || v < TTL_MIN || v > TTL_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* A POSIX ERE that compiles, as the server will compile it. */
static bool
regex_check(const char *re)
{
	regex_t	 rx;
	char	 why[128];
	int	 rc;

	if (strlen(re) > CA_SCEP_REGEX_MAX) {
		cmd_usage_error("scep challenge new", "--subject-regex: at "
		    "most %d bytes", CA_SCEP_REGEX_MAX);
		return false;
	}
	rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		regerror(rc, &rx, why, sizeof(why));
		cmd_usage_error("scep challenge new", "--subject-regex: not a "
		    "POSIX extended regular expression: %s", why);
		return false;
	}
	regfree(&rx);
	return true;
}

/* --------------------------------------------------- challenge new */

/* The challenge's row and its audit row together, or neither. */
static int
challenge_record(struct cmd_ctx *ctx, const struct ca_scep_challenge *c,
    int64_t *idp)
{
	struct cg_err	 err = { 0 };
	char		 detail[DETAIL_MAX], target[32], exp[32];

	cg_time_fmt(c->expires_at, exp, sizeof(exp));
	snprintf(detail, sizeof(detail), "service=%s expires=%s "
	    "subject_regex=%s", c->service, exp, c->subject_regex);
	if (ca_store_begin(ctx->st, &err) != CG_OK)
		return cmd_fail("cannot record the challenge", &err);
	if (ca_store_scep_challenge_add(ctx->st, c, idp, &err) != CG_OK)
		goto fail;
	snprintf(target, sizeof(target), "%lld", (long long)*idp);
	if (ca_store_audit_add(ctx->st, ctx->actor, "scep-challenge-new",
	    target, "ok", detail, &err) != CG_OK ||
	    ca_store_commit(ctx->st, &err) != CG_OK)
		goto fail;
	return CMD_EXIT_OK;
fail:
	ca_store_rollback(ctx->st);
	return cmd_fail("cannot record the challenge", &err);
}

/* Print it once; jansson's copy of the text is wiped before it is freed. */
static int
challenge_print(const char *text, const struct ca_scep_challenge *c,
    int64_t id, bool json)
{
	json_t	*o, *t;
	char	 exp[32];
	bool	 ok;

	cg_time_fmt(c->expires_at, exp, sizeof(exp));
	if (!json) {
		printf("challenge: %s\nexpires: %s\n", text, exp);
		return CMD_EXIT_OK;
	}
	o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "service",
	    c->service, "expires", exp);
	t = json_string(text);
	if (o == NULL || t == NULL || json_object_set(o, "challenge", t) != 0)
		ok = false;
	else
		ok = cmd_json_print(o);
	if (t != NULL)
		OPENSSL_cleanse((char *)json_string_value(t),
		    json_string_length(t));
	json_decref(t);
	json_decref(o);
	if (!ok) {
		fprintf(stderr, "certgw: cannot print the challenge\n");
		return CMD_EXIT_FAIL;
	}
	return CMD_EXIT_OK;
}

/*
 * The text is what the client types as its challengePassword; the store
 * keeps the lower-case hex SHA-256 of exactly those bytes.
 */
static int
challenge_make(struct cmd_ctx *ctx, const struct gw_scep_service *sv,
    uint32_t ttl, const char *re, bool json)
{
	struct ca_scep_challenge c;
	uint8_t			 rnd[CHALLENGE_BYTES];
	uint8_t			 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	char			 text[CHALLENGE_TEXT + 1];
	char			 hash[CA_SCEP_HASH_LEN + 1];
	int64_t			 id = 0;
	int			 ret = CMD_EXIT_FAIL;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		fprintf(stderr, "certgw: the random generator failed\n");
		goto out;
	}
	cg_hex_encode(rnd, sizeof(rnd), text, false);
	if (EVP_Digest(text, CHALLENGE_TEXT, md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen * 2 != CA_SCEP_HASH_LEN) {
		fprintf(stderr, "certgw: cannot hash the challenge\n");
		goto out;
	}
	cg_hex_encode(md, mdlen, hash, false);
	memset(&c, 0, sizeof(c));
	c.service = sv->name;
	c.hash = hash;
	c.subject_regex = (char *)re;
	c.created_at = cg_now();
	c.expires_at = c.created_at + ttl;
	ret = challenge_record(ctx, &c, &id);
	if (ret == CMD_EXIT_OK)
		ret = challenge_print(text, &c, id, json);
out:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(text, sizeof(text));
	return ret;
}

static int
challenge_new(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 't' },
		{ "subject-regex", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct gw_scep_service	*sv;
	struct cmd_ctx			 ctx;
	const char			*config = NULL, *dir = NULL;
	const char			*service = "default", *re = "";
	const char			*ttltext = NULL;
	uint32_t			 ttl = 0;
	bool				 json = false;
	int				 c, ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': service = optarg; break;
		case 't': ttltext = optarg; break;
		case 'r': re = optarg; break;
		case 'j': json = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw scep challenge new [--service S] "
			    "[--ttl 1h|30m|3600]\n"
			    "        [--subject-regex RE] [--json] "
			    "[-c|--config F | --dir D]\n"
			    "Prints a one-time challenge password (32 hex "
			    "characters) for a SCEP client.\nIt is shown this "
			    "once only; the store keeps its SHA-256.\n");
			return CMD_EXIT_OK;
		default:
			return cmd_usage_error("scep challenge new",
			    "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("scep challenge new", "unexpected "
		    "argument '%s'", argv[optind]);
	if (ttltext != NULL && !ttl_parse(ttltext, &ttl))
		return cmd_usage_error("scep challenge new", "--ttl: expected "
		    "a duration between %d seconds and 30 days (90, 30m, "
		    "12h, 7d)", TTL_MIN);
	/* Checked before anything is opened, so a typo writes nothing. */
	if (!regex_check(re))
		return CMD_EXIT_USAGE;
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (!ctx.conf->scep.enabled) {
		fprintf(stderr, "certgw scep challenge new: %s has no \"scep\" "
		    "section (see docs/configuration.md)\n", ctx.conf->path);
		goto out;
	}
	sv = service_find(ctx.conf, service);
	if (sv == NULL) {
		fprintf(stderr, "certgw scep challenge new: no SCEP service "
		    "'%s' in %s (see scep.services)\n", service,
		    ctx.conf->path);
		goto out;
	}
	if (!sv->dynamic) {
		fprintf(stderr, "certgw scep challenge new: SCEP service '%s' "
		    "does not take one-time challenges: set \"challenge\": "
		    "{\"dynamic\": true} in scep.services.%s\n", sv->name,
		    sv->name);
		goto out;
	}
	ret = challenge_make(&ctx, sv, ttl != 0 ? ttl : sv->challenge_ttl_s,
	    re, json);
out:
	cmd_ctx_close(&ctx);
	return ret;
}

/* -------------------------------------------------- challenge list */

static const char *
chall_state(const struct ca_scep_challenge *c, int64_t now)
{
	if (c->used_at != 0)
		return "used";
	return c->expires_at <= now ? "expired" : "unused";
}

static enum cg_code
list_row(void *arg, const struct ca_scep_challenge *c)
{
	struct list_state	*ls = arg;
	char			 ca[32], ea[32], ua[32];
	char			*svc, *by, *re;
	json_t			*o;
	enum cg_code		 rc = CG_OK;

	svc = safe_dup(c->service);
	by = safe_dup(c->used_by);
	re = safe_dup(c->subject_regex);
	if (svc == NULL || by == NULL || re == NULL) {
		rc = CG_ENOMEM;
		goto out;
	}
	cg_time_fmt(c->created_at, ca, sizeof(ca));
	cg_time_fmt(c->expires_at, ea, sizeof(ea));
	cg_time_fmt(c->used_at, ua, sizeof(ua));
	if (ls->json) {
		o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?}",
		    "id", (json_int_t)c->id, "service", svc, "state",
		    chall_state(c, ls->now), "created_at", ca, "expires_at",
		    ea, "used_at", c->used_at != 0 ? ua : NULL, "used_by",
		    c->used_at != 0 ? by : NULL, "subject_regex",
		    re[0] != '\0' ? re : NULL);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			rc = CG_ENOMEM;
		goto out;
	}
	printf("%-6lld  %-12s  %-7s  %-20s  %-20s  %-20s  %-20s  %s\n",
	    (long long)c->id, svc, chall_state(c, ls->now), ca, ea,
	    c->used_at != 0 ? ua : "-", c->used_at != 0 ? by : "-",
	    re[0] != '\0' ? re : "-");
out:
	cg_free(svc);
	cg_free(by);
	cg_free(re);
	return rc;
}

static int
challenge_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct list_state	 ls = { 0 };
	struct cmd_ctx		 ctx;
	struct cg_err		 err = { 0 };
	const char		*config = NULL, *dir = NULL, *service = NULL;
	int			 c, ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': service = optarg; break;
		case 'j': ls.json = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw scep challenge list "
			    "[--service S] [--json]\n"
			    "        [-c|--config F | --dir D]\n");
			return CMD_EXIT_OK;
		default:
			return cmd_usage_error("scep challenge list",
			    "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("scep challenge list", "unexpected "
		    "argument '%s'", argv[optind]);
	/* Challenges outlive config edits: list them even without "scep". */
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ls.arr = json_array();
	ls.now = cg_now();
	if (!ls.json)
		printf("%-6s  %-12s  %-7s  %-20s  %-20s  %-20s  %-20s  %s\n",
		    "ID", "SERVICE", "STATE", "CREATED", "EXPIRES", "USED",
		    "USED_BY", "SUBJECT_REGEX");
	if (ls.arr == NULL || ca_store_scep_challenge_list(ctx.st, service,
	    list_row, &ls, &err) != CG_OK) {
		cmd_fail("cannot list SCEP challenges", &err);
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

/* ------------------------------------------------------------ ra-init */

/* The RA's profile: built in, so no config edit can widen it. */
static void
ra_profile(struct ca_profile *p, uint32_t days)
{
	memset(p, 0, sizeof(*p));
	p->name = "scep-ra";
	p->validity_days = days;
	p->key_types = 1u << CA_KEY_RSA;
	p->rsa_min_bits = 2048;
	/* Clients verify replies (digitalSignature) and encrypt requests
	 * to the RA (keyEncipherment); certmonger checks the first. */
	p->key_usage = CA_KU_DIGITAL_SIGNATURE | CA_KU_KEY_ENCIPHERMENT;
}

static void
ra_snippet(const struct cmd_ctx *ctx)
{
	if (ctx->conf->scep.enabled) {
		printf("%s has a \"scep\" section: point ra_cert and ra_key at "
		    "these files if it does not already\n", ctx->conf->path);
		return;
	}
	printf("add to %s (services name the profile they issue under):\n"
	    "  \"scep\": {\n"
	    "    \"ra_cert\": \"%s\",\n"
	    "    \"ra_key\": \"%s\",\n"
	    "    \"services\": {\n"
	    "      \"default\": { \"profile\": \"device\", "
	    "\"challenge\": { \"dynamic\": true } }\n"
	    "    }\n"
	    "  }\n", ctx->conf->path, RA_CERT_FILE, RA_KEY_FILE);
}

static int
ra_run(struct cmd_ctx *ctx, uint32_t days, enum ca_init_key kt, bool force)
{
	struct ca_profile	 prof;
	struct ca_issued	*is = NULL;
	const struct cmd_keycert kc = {
		.cmd = "scep ra-init", .dir = RA_DIR, .key_file = RA_KEY_FILE,
		.cert_file = RA_CERT_FILE, .cn_suffix = " SCEP RA",
		.key_type = kt, .profile = &prof, .force = force,
	};
	int			 ret;

	ra_profile(&prof, days);
	ret = cmd_keycert_make(ctx, &kc, &is);
	if (ret == CMD_EXIT_OK)
		ra_snippet(ctx);
	ca_issued_free(is);
	return ret;
}

static int
ra_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "days", required_argument, NULL, 'D' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx	 ctx;
	const char	*config = NULL, *dir = NULL;
	uint64_t	 days = RA_DAYS_DEFAULT;
	enum ca_init_key kt = CA_INIT_RSA_3072;
	bool		 force = false;
	int		 c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			if (!cg_parse_u64(optarg, strlen(optarg),
			    CA_VALIDITY_DAYS_MAX, &days) || days == 0)
				return cmd_usage_error("scep ra-init",
				    "--days: expected 1 to %d",
				    CA_VALIDITY_DAYS_MAX);
			break;
		case 'k':
			/* Clients encrypt requests to the RA, and many can
			   only use RSA. */
			if (!ca_init_key_parse(optarg, &kt) ||
			    (kt != CA_INIT_RSA_2048 && kt != CA_INIT_RSA_3072 &&
			    kt != CA_INIT_RSA_4096))
				return cmd_usage_error("scep ra-init",
				    "--key-type: expected rsa-2048, rsa-3072 "
				    "or rsa-4096");
			break;
		case 'f': force = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw scep ra-init [--days N] "
			    "[--key-type rsa-2048|rsa-3072|rsa-4096] "
			    "[--force]\n    [-c|--config F | --dir D]\n"
			    "Makes the SCEP RA key (default RSA-3072) and its "
			    "certificate, issued by the CA, as\n%s and %s "
			    "beside the config (default %d days, never past "
			    "the CA).\n", RA_KEY_FILE, RA_CERT_FILE,
			    RA_DAYS_DEFAULT);
			return CMD_EXIT_OK;
		default: return cmd_usage_error("scep ra-init", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("scep ra-init", "unexpected argument "
		    "'%s'", argv[optind]);
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_CA | CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = ra_run(&ctx, (uint32_t)days, kt, force);
	cmd_ctx_close(&ctx);
	return ret;
}

/* ---------------------------------------------------------- dispatch */

static const struct cmd challenge_subs[] = {
	{ "new", challenge_new, "make a one-time challenge password" },
	{ "list", challenge_list, "the challenges and who used them" },
};

static int
scep_challenge(int argc, char **argv)
{
	return cmd_sub("scep challenge", challenge_subs,
	    sizeof(challenge_subs) / sizeof(challenge_subs[0]), argc, argv);
}

static const struct cmd scep_subs[] = {
	{ "challenge", scep_challenge, "one-time challenge passwords" },
	{ "ra-init", ra_init, "make the RA key and certificate" },
};

int
cmd_scep(int argc, char **argv)
{
	return cmd_sub("scep", scep_subs,
	    sizeof(scep_subs) / sizeof(scep_subs[0]), argc, argv);
}
