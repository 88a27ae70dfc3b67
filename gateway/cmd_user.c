/*
 * cmd_user.c - `certgw user`: the identities that authenticate to the
 * gateway with client certificates (add, list, show, enable, disable,
 * role), their one-to-one mappings (add-cert by thumbprint or common
 * name, import-cert of a certificate file, remove-cert), certificates
 * issued to them as PKCS#12 (issue) and the many-to-one rules (rule add,
 * list, remove).  Every change is audited.  Who a certificate is at
 * request time is decided in ca/, not here.
 */
#include "cmd.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

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

/*
 * Parse argv for subcommand sub, which allows the options in allowed and
 * exactly nargs positional arguments; prints the usage for --help.
 * CMD_EXIT_OK to go on, -1 after --help, else the exit code.
 */
static int
uopts_parse(int argc, char **argv, const char *sub, unsigned allowed,
    int nargs, const char *usage, struct uopts *o)
{
	static const struct option longopts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "org", required_argument, NULL, 'o' },
		{ "role", required_argument, NULL, 'r' },
		{ "thumbprint", required_argument, NULL, 't' },
		{ "cn", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "thumbprint-only", no_argument, NULL, 'T' },
		{ "profile", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'O' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "subject", required_argument, NULL, 's' },
		{ "position", required_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct {
		int		 ch;
		unsigned	 bit;
	} bits[] = {
		{ 'e', UOPT_EMAIL }, { 'o', UOPT_ORG }, { 'r', UOPT_ROLE },
		{ 't', UOPT_THUMB }, { 'n', UOPT_CN }, { 'j', UOPT_JSON },
		{ 'T', UOPT_THUMBONLY }, { 'p', UOPT_PROFILE },
		{ 'O', UOPT_OUT }, { 'P', UOPT_PWFILE },
		{ 'k', UOPT_KEYTYPE }, { 'f', UOPT_FORCE },
		{ 'i', UOPT_ISSUER }, { 's', UOPT_SUBJECT },
		{ 'N', UOPT_POSITION },
	};
	char	 cmd[64];
	size_t	 i;
	int	 c;

	snprintf(cmd, sizeof(cmd), "user %s", sub);
	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
			if (bits[i].ch == c && !(allowed & bits[i].bit))
				return cmd_usage_error(cmd, "option not "
				    "taken here: %s", argv[optind - 1]);
		switch (c) {
		case 'e': o->email = optarg; break;
		case 'o': o->org = optarg; break;
		case 'r': o->role = optarg; break;
		case 't': o->thumbprint = optarg; break;
		case 'n': o->cn = optarg; break;
		case 'j': o->json = true; break;
		case 'T': o->thumb_only = true; break;
		case 'p': o->profile = optarg; break;
		case 'O': o->out = optarg; break;
		case 'P': o->password_file = optarg; break;
		case 'k': o->key_type = optarg; break;
		case 'f': o->force = true; break;
		case 'i': o->issuer = optarg; break;
		case 's': o->subject = optarg; break;
		case 'N': o->position = optarg; break;
		case 'c': o->config = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'h':
			printf("usage: certgw user %s\n", usage);
			return -1;
		default:
			return cmd_usage_error(cmd, "bad option");
		}
	}
	if (argc - optind != nargs)
		return cmd_usage_error(cmd, "expected %d argument%s", nargs,
		    nargs == 1 ? "" : "s");
	o->nargs = nargs;
	o->args = argv + optind;
	return CMD_EXIT_OK;
}

static void
audit(struct cmd_ctx *ctx, const char *action, const char *target,
    const char *detail)
{
	struct cg_err	 err = { 0 };

	if (ca_store_audit_add(ctx->st, ctx->actor, action, target, "ok",
	    detail, &err) != CG_OK)
		cmd_fail("audit", &err);
}

/* ---------------------------------------------------------------- add */

static int
user_add(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	 in;
	struct cg_err		 err = { 0 };
	enum ca_role		 role = CA_ROLE_NONE;
	int64_t			 id = 0;
	int			 ret;

	ret = uopts_parse(argc, argv, "add", UOPT_EMAIL | UOPT_ORG | UOPT_ROLE,
	    1, "add NAME [--email E] [--org O] "
	    "[--role none|auditor|operator|admin]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (o.role != NULL && !ca_role_parse(o.role, &role))
		return cmd_usage_error("user add", "--role: expected none, "
		    "auditor, operator or admin");
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	memset(&in, 0, sizeof(in));
	in.name = o.args[0];
	in.email = (char *)(o.email != NULL ? o.email : "");
	in.org = (char *)(o.org != NULL ? o.org : "");
	in.role = role;
	if (ca_store_identity_add(ctx.st, &in, &id, &err) != CG_OK) {
		ret = cmd_fail("user add", &err);
	} else {
		audit(&ctx, "user-add", in.name, ca_role_name(role));
		printf("added identity %s (id %lld, role %s)\n", in.name,
		    (long long)id, ca_role_name(role));
		ret = CMD_EXIT_OK;
	}
	cmd_ctx_close(&ctx);
	return ret;
}

/* --------------------------------------------------------------- list */

static json_t *
ident_json(const struct ca_identity *i)
{
	char	 ca[32], ua[32];

	cg_time_fmt(i->created_at, ca, sizeof(ca));
	cg_time_fmt(i->updated_at, ua, sizeof(ua));
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "id",
	    (json_int_t)i->id, "name", i->name, "email", i->email, "org",
	    i->org, "role", ca_role_name(i->role), "disabled", i->disabled,
	    "created_at", ca, "updated_at", ua);
}

struct list_state {
	bool		 json;
	json_t		*arr;
};

static enum cg_code
list_row(void *arg, const struct ca_identity *i)
{
	struct list_state	*ls = arg;
	json_t			*o;

	if (ls->json) {
		o = ident_json(i);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	printf("%-24s  %-8s  %-8s  %-24s  %s\n", i->name,
	    ca_role_name(i->role), i->disabled ? "disabled" : "enabled",
	    i->email[0] != '\0' ? i->email : "-",
	    i->org[0] != '\0' ? i->org : "-");
	return CG_OK;
}

static int
user_list(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct list_state	 ls = { 0 };
	struct cg_err		 err = { 0 };
	int			 ret;

	ret = uopts_parse(argc, argv, "list", UOPT_JSON, 0, "list [--json]",
	    &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ls.json = o.json;
	if (ls.json && (ls.arr = json_array()) == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		ret = CMD_EXIT_FAIL;
		goto out;
	}
	if (!ls.json)
		printf("%-24s  %-8s  %-8s  %-24s  %s\n", "NAME", "ROLE",
		    "STATE", "EMAIL", "ORG");
	if (ca_store_identity_list(ctx.st, list_row, &ls, &err) != CG_OK)
		ret = cmd_fail("user list", &err);
	else if (ls.json && !cmd_json_print(ls.arr))
		ret = CMD_EXIT_FAIL;
out:
	json_decref(ls.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

/* --------------------------------------------------------------- show */

static enum cg_code
map_row(void *arg, const struct ca_ident_map *m)
{
	struct list_state	*ls = arg;
	char			 na[32];
	json_t			*o;

	cg_time_fmt(m->not_after, na, sizeof(na));
	if (ls->json) {
		o = json_pack("{s:I, s:s, s:s, s:b, s:s, s:s, s:s?, s:s}",
		    "id", (json_int_t)m->id, "kind", ca_map_kind_name(m->kind),
		    "value", m->value, "pinned", m->pinned, "subject",
		    m->subject, "issuer", m->issuer, "not_after",
		    m->not_after != 0 ? na : NULL, "source", m->source);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	printf("  mapping %lld: %s %s%s (%s)%s%s\n", (long long)m->id,
	    ca_map_kind_name(m->kind), m->value, m->pinned ? ", pinned" : "",
	    m->source, m->subject[0] != '\0' ? "\n    subject " : "",
	    m->subject);
	return CG_OK;
}

static int
user_show(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct list_state	 ls = { 0 };
	struct cg_err		 err = { 0 };
	json_t			*obj = NULL;
	int			 ret;

	ret = uopts_parse(argc, argv, "show", UOPT_JSON, 1,
	    "show NAME [--json]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (ca_store_identity_get(ctx.st, o.args[0], 0, &i, &err) != CG_OK) {
		cmd_fail("user show", &err);
		goto out;
	}
	ls.json = o.json;
	if (ls.json) {
		obj = ident_json(i);
		ls.arr = json_array();
		if (obj == NULL || ls.arr == NULL ||
		    json_object_set(obj, "mappings", ls.arr) != 0) {
			fprintf(stderr, "certgw: out of memory\n");
			goto out;
		}
	} else {
		printf("name:     %s\nrole:     %s\nstate:    %s\n"
		    "email:    %s\norg:      %s\n", i->name,
		    ca_role_name(i->role), i->disabled ? "disabled" :
		    "enabled", i->email, i->org);
	}
	if (ca_store_map_list(ctx.st, i->id, map_row, &ls, &err) != CG_OK) {
		cmd_fail("user show", &err);
		goto out;
	}
	ret = ls.json && !cmd_json_print(obj) ? CMD_EXIT_FAIL : CMD_EXIT_OK;
out:
	json_decref(ls.arr);
	json_decref(obj);
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

/* ------------------------------------------- enable, disable, role */

static int
user_change(struct uopts *o, const char *sub, const bool *disabled,
    const enum ca_role *role)
{
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct cg_err		 err = { 0 };
	char			 cmd[32];
	int			 ret = CMD_EXIT_FAIL;

	snprintf(cmd, sizeof(cmd), "user %s", sub);
	if (!cmd_ctx_open(&ctx, o->config, o->dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (ca_store_identity_get(ctx.st, o->args[0], 0, &i, &err) != CG_OK ||
	    ca_store_identity_update(ctx.st, i->name, role != NULL ? *role :
	    i->role, disabled != NULL ? *disabled : i->disabled, cg_now(),
	    &err) != CG_OK) {
		cmd_fail(cmd, &err);
		goto out;
	}
	audit(&ctx, disabled != NULL ? (*disabled ? "user-disable" :
	    "user-enable") : "user-role", i->name, role != NULL ?
	    ca_role_name(*role) : NULL);
	printf("%s: %s\n", i->name, disabled != NULL ? (*disabled ?
	    "disabled" : "enabled") : ca_role_name(*role));
	ret = CMD_EXIT_OK;
out:
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

static int
user_disable(int argc, char **argv)
{
	struct uopts	 o;
	bool		 yes = true;
	int		 ret;

	ret = uopts_parse(argc, argv, "disable", 0, 1, "disable NAME", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	return user_change(&o, "disable", &yes, NULL);
}

static int
user_enable(int argc, char **argv)
{
	struct uopts	 o;
	bool		 no = false;
	int		 ret;

	ret = uopts_parse(argc, argv, "enable", 0, 1, "enable NAME", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	return user_change(&o, "enable", &no, NULL);
}

static int
user_role(int argc, char **argv)
{
	struct uopts	 o;
	enum ca_role	 role;
	int		 ret;

	ret = uopts_parse(argc, argv, "role", 0, 2,
	    "role NAME none|auditor|operator|admin", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!ca_role_parse(o.args[1], &role))
		return cmd_usage_error("user role", "expected none, auditor, "
		    "operator or admin");
	return user_change(&o, "role", NULL, &role);
}

/* ------------------------------------------------------------ add-cert */

/*
 * A thumbprint as an admin pastes it (any case, ':' or ' ' between
 * bytes) into lower-case hex; 40 digits are SHA-1, 64 SHA-256.
 */
static bool
thumb_parse(const char *s, char *out, size_t cap, enum ca_map_kind *kp)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++) {
		if (*s == ':' || *s == ' ')
			continue;
		if (!isxdigit((unsigned char)*s) || n + 1 >= cap)
			return false;
		out[n++] = (char)tolower((unsigned char)*s);
	}
	out[n] = '\0';
	if (n == 64)
		*kp = CA_MAP_SHA256;
	else if (n == 40)
		*kp = CA_MAP_SHA1;
	else
		return false;
	return true;
}

static int
user_add_cert(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct ca_ident_map	 m;
	struct cg_err		 err = { 0 };
	char			 hex[72];
	int64_t			 id = 0;
	int			 ret;

	ret = uopts_parse(argc, argv, "add-cert", UOPT_THUMB | UOPT_CN, 1,
	    "add-cert NAME --thumbprint HEX | --cn CN", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	memset(&m, 0, sizeof(m));
	if ((o.thumbprint == NULL) == (o.cn == NULL))
		return cmd_usage_error("user add-cert", "give --thumbprint or "
		    "--cn, not both");
	if (o.thumbprint != NULL && !thumb_parse(o.thumbprint, hex,
	    sizeof(hex), &m.kind))
		return cmd_usage_error("user add-cert", "--thumbprint: "
		    "expected a SHA-256 (64 hex digits) or SHA-1 (40) "
		    "thumbprint");
	if (o.cn != NULL) {
		m.kind = CA_MAP_CN;
		m.value = (char *)o.cn;
	} else {
		m.value = hex;
	}
	m.source = "manual";
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (ca_store_identity_get(ctx.st, o.args[0], 0, &i, &err) != CG_OK)
		goto fail;
	m.identity_id = i->id;
	if (ca_store_map_add(ctx.st, &m, &id, &err) != CG_OK)
		goto fail;
	audit(&ctx, "user-map", i->name, m.value);
	printf("mapped %s %s to %s (mapping %lld)\n",
	    ca_map_kind_name(m.kind), m.value, i->name, (long long)id);
	printf("note: this does not make the certificate trusted; it must "
	    "still chain to a trusted CA\n(`certgw trust add CA.pem`), or be "
	    "imported with `certgw user import-cert` if it is self-signed\n");
	ret = CMD_EXIT_OK;
	goto out;
fail:
	cmd_fail("user add-cert", &err);
out:
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

/* ------------------------------------------------- shared by the rest */

/* The identity called name, or a message saying there is none. */
static bool
ident_get(struct cmd_ctx *ctx, const char *cmd, const char *name,
    struct ca_identity **ip)
{
	struct cg_err	 err = { 0 };

	if (ca_store_identity_get(ctx->st, name, 0, ip, &err) == CG_OK)
		return true;
	if (err.code == CG_ENOTFOUND)
		fprintf(stderr, "certgw: %s: no identity %s (add it with "
		    "`certgw user add %s`)\n", cmd, name, name);
	else
		cmd_fail(cmd, &err);
	return false;
}

/* Where a certificate came from, as a mapping row records it. */
static void
map_from_cert(struct ca_ident_map *m, X509 *x, char *subject, char *issuer,
    size_t cap)
{
	cmd_name_text(X509_get_subject_name(x), subject, cap);
	cmd_name_text(X509_get_issuer_name(x), issuer, cap);
	m->subject = subject;
	m->issuer = issuer;
	m->not_after = cmd_asn1_time(X509_get0_notAfter(x));
}

/* The subject's common name as UTF-8 into out; false when there is none. */
static bool
cert_cn(X509 *x, char *out, size_t cap)
{
	X509_NAME	*n = X509_get_subject_name(x);
	unsigned char	*utf8 = NULL;
	int		 idx, len;

	idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	if (idx < 0)
		return false;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(n, idx)));
	if (len <= 0 || (size_t)len >= cap || memchr(utf8, '\0', len)) {
		OPENSSL_free(utf8);
		return false;
	}
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	OPENSSL_free(utf8);
	return true;
}

/* --------------------------------------------------------- import-cert */

/*
 * Does leaf (with the file's other certificates as intermediates) chain
 * to a CA trusted for client certificates, now, for TLS client use?
 * Prints why not.
 */
static bool
import_verify(struct cmd_ctx *ctx, X509 *leaf, STACK_OF(X509) *extra)
{
	X509_STORE	*store = NULL;
	X509_STORE_CTX	*vctx = NULL;
	struct cg_err	 err = { 0 };
	char		 issuer[CA_IDENT_DN_MAX + 1];
	bool		 ok = false;
	int		 e;

	if (cmd_client_trust_store(ctx->conf, ctx->st, &store, &err) !=
	    CG_OK) {
		cmd_fail("import-cert", &err);
		return false;
	}
	if ((vctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(vctx, store, leaf, extra) != 1 ||
	    X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT) != 1) {
		fprintf(stderr, "certgw: import-cert: cannot verify the "
		    "certificate\n");
		goto out;
	}
	if (X509_verify_cert(vctx) == 1) {
		ok = true;
		goto out;
	}
	e = X509_STORE_CTX_get_error(vctx);
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
		cmd_name_text(X509_get_issuer_name(leaf), issuer,
		    sizeof(issuer));
		fprintf(stderr, "certgw: import-cert: the issuing CA \"%s\" "
		    "is not trusted; trust it first with: certgw trust add "
		    "CA.pem\n", issuer);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		fprintf(stderr, "certgw: import-cert: a certificate of its "
		    "chain (depth %d) has expired\n",
		    X509_STORE_CTX_get_error_depth(vctx));
		break;
	default:
		fprintf(stderr, "certgw: import-cert: the certificate does not "
		    "verify: %s\n", X509_verify_cert_error_string(e));
		break;
	}
out:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return ok;
}

/*
 * The mappings import-cert makes, with their audit row, in one
 * transaction: a pinned SHA-256 one for a self-signed certificate, else
 * SHA-256 and (unless thumb_only) the common name.
 */
static enum cg_code
import_tx(struct cmd_ctx *ctx, const struct ca_identity *i, X509 *x,
    bool self, bool thumb_only, const char *cn, int64_t *ids,
    struct cg_err *err)
{
	struct ca_ident_map	 m;
	char			 subject[CA_IDENT_DN_MAX + 1];
	char			 issuer[CA_IDENT_DN_MAX + 1];
	char			 sha[65];
	unsigned char		*der = NULL;
	int			 len;
	enum cg_code		 rc;

	if (!cmd_cert_sha256(x, sha) || (len = i2d_X509(x, &der)) <= 0)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode the "
		    "certificate");
	memset(&m, 0, sizeof(m));
	m.identity_id = i->id;
	m.kind = CA_MAP_SHA256;
	m.value = sha;
	m.pinned = self;
	m.der = der;
	m.der_len = (size_t)len;
	m.source = "import";
	map_from_cert(&m, x, subject, issuer, sizeof(subject));
	if ((rc = ca_store_begin(ctx->st, err)) != CG_OK)
		goto out;
	rc = ca_store_map_add(ctx->st, &m, &ids[0], err);
	if (rc == CG_OK && !self && !thumb_only) {
		/* By name: a renewed certificate from that CA maps too. */
		m.kind = CA_MAP_CN;
		m.value = (char *)cn;
		m.der = NULL;
		m.der_len = 0;
		rc = ca_store_map_add(ctx->st, &m, &ids[1], err);
	}
	if (rc == CG_OK)
		rc = ca_store_audit_add(ctx->st, ctx->actor, "user-import-cert",
		    i->name, "ok", sha, err);
	if (rc == CG_OK)
		rc = ca_store_commit(ctx->st, err);
	if (rc != CG_OK)
		ca_store_rollback(ctx->st);
out:
	OPENSSL_free(der);
	return rc;
}

static int
user_import_cert(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct cg_err		 err = { 0 };
	STACK_OF(X509)		*certs = NULL, *extra = NULL;
	X509			*x;
	char			 cn[CA_IDENT_DN_MAX + 1];
	char			 sha[65];
	int64_t			 ids[2] = { 0, 0 };
	bool			 self;
	int			 ret;

	ret = uopts_parse(argc, argv, "import-cert", UOPT_THUMBONLY, 2,
	    "import-cert NAME FILE [--thumbprint-only]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cmd_cert_file_load("import-cert", o.args[1], &certs))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	cn[0] = '\0';
	x = sk_X509_value(certs, 0);
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		goto out_certs;
	if (!ident_get(&ctx, "import-cert", o.args[0], &i))
		goto out;
	if (X509_get_extension_flags(x) & EXFLAG_CA) {
		fprintf(stderr, "certgw: import-cert: %s is a CA certificate; "
		    "a CA is trusted with `certgw trust add`\n", o.args[1]);
		goto out;
	}
	if (X509_cmp_time(X509_get0_notAfter(x), NULL) <= 0) {
		fprintf(stderr, "certgw: import-cert: the certificate has "
		    "expired\n");
		goto out;
	}
	if (X509_cmp_time(X509_get0_notBefore(x), NULL) > 0) {
		fprintf(stderr, "certgw: import-cert: the certificate is not "
		    "valid yet\n");
		goto out;
	}
	/* Self-signed: nothing vouches for it but its thumbprint. */
	self = X509_self_signed(x, 1) == 1;
	if (!self) {
		if ((extra = sk_X509_dup(certs)) == NULL) {
			fprintf(stderr, "certgw: out of memory\n");
			goto out;
		}
		(void)sk_X509_shift(extra);
		if (!import_verify(&ctx, x, extra))
			goto out;
		if (!o.thumb_only && !cert_cn(x, cn, sizeof(cn))) {
			fprintf(stderr, "certgw: import-cert: the certificate "
			    "has no common name to map; use "
			    "--thumbprint-only\n");
			goto out;
		}
	}
	if (import_tx(&ctx, i, x, self, o.thumb_only, cn, ids, &err) !=
	    CG_OK) {
		cmd_fail("import-cert", &err);
		goto out;
	}
	(void)cmd_cert_sha256(x, sha);
	if (self)
		printf("pinned self-signed certificate sha256 %s to %s "
		    "(mapping %lld); it is trusted for %s alone\n", sha,
		    i->name, (long long)ids[0], i->name);
	else if (o.thumb_only)
		printf("mapped sha256 %s to %s (mapping %lld)\n", sha,
		    i->name, (long long)ids[0]);
	else
		printf("mapped sha256 %s (mapping %lld) and cn %s (mapping "
		    "%lld) to %s\n", sha, (long long)ids[0], cn,
		    (long long)ids[1], i->name);
	ret = CMD_EXIT_OK;
out:
	sk_X509_free(extra);
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
out_certs:
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

/* -------------------------------------------------------------- issue */

#define ISSUE_PASSWORD_LEN	24
#define ISSUE_P12_MAX		(256 * 1024)

/* Does the profile name sn among the subject attributes it allows? */
static bool
profile_allows_attr(const struct ca_profile *p, const char *sn)
{
	size_t	 k;

	for (k = 0; k < p->subject_allowed.n; k++)
		if (strcmp(p->subject_allowed.v[k], sn) == 0)
			return true;
	return false;
}

/*
 * A request for key: subject CN=cn, and with email an emailAddress
 * attribute (attr) and an email SAN (san).  It is the CLI's own request
 * for its own key: the signature only has to be valid.
 */
static enum cg_code
issue_csr(EVP_PKEY *key, const char *cn, const char *email, bool attr,
    bool san, struct ca_csr **csrp, struct cg_err *err)
{
	X509_REQ		*req;
	X509_NAME		*name;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES		*gens = NULL;
	GENERAL_NAME		*gn;
	ASN1_IA5STRING		*ia5;
	unsigned char		*der = NULL;
	int			 len;
	enum cg_code		 rc = CG_ECRYPTO;

	*csrp = NULL;
	if ((req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_pubkey(req, key) != 1)
		goto out;
	name = X509_REQ_get_subject_name(req);
	if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1)
		goto out;
	if (email != NULL && attr && X509_NAME_add_entry_by_NID(name,
	    NID_pkcs9_emailAddress, MBSTRING_ASC, (const unsigned char *)email,
	    -1, -1, 0) != 1)
		goto out;
	if (email != NULL && san) {
		gens = GENERAL_NAMES_new();
		gn = GENERAL_NAME_new();
		ia5 = ASN1_IA5STRING_new();
		if (gens == NULL || gn == NULL || ia5 == NULL ||
		    ASN1_STRING_set(ia5, email, -1) != 1) {
			GENERAL_NAME_free(gn);
			ASN1_IA5STRING_free(ia5);
			goto out;
		}
		GENERAL_NAME_set0_value(gn, GEN_EMAIL, ia5);
		if (!sk_GENERAL_NAME_push(gens, gn)) {
			GENERAL_NAME_free(gn);
			goto out;
		}
		if (X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0,
		    X509V3_ADD_DEFAULT) != 1 ||
		    X509_REQ_add_extensions(req, exts) != 1)
			goto out;
	}
	if (X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    (len = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	rc = ca_csr_parse(der, (size_t)len, csrp, err);
out:
	if (rc == CG_ECRYPTO)
		cg_err_crypto(err, CG_ECRYPTO, "cannot make the request");
	OPENSSL_free(der);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return rc;
}

/*
 * The request for the identity: with its email address where the
 * profile takes one, else without (and says so).
 */
static enum cg_code
issue_request(const struct ca_profile *p, const struct ca_identity *i,
    EVP_PKEY *key, struct ca_csr **csrp, struct cg_err *err)
{
	struct cg_err	 perr = { 0 };
	bool		 attr, san;
	enum cg_code	 rc;

	attr = profile_allows_attr(p, "emailAddress");
	san = (p->san_types & CA_SAN_EMAIL) != 0;
	if (i->email[0] != '\0' && (attr || san)) {
		rc = issue_csr(key, i->name, i->email, attr, san, csrp, err);
		if (rc != CG_OK)
			return rc;
		if (ca_policy_check(p, *csrp, &perr) == CG_OK)
			return CG_OK;
		ca_csr_free(*csrp);
		*csrp = NULL;
		fprintf(stderr, "certgw: user issue: note: profile %s refuses "
		    "the email address (%s); issuing without it\n", p->name,
		    perr.msg);
	}
	return issue_csr(key, i->name, NULL, false, false, csrp, err);
}

/*
 * The key is issued, then the file written, then the mapping made: a
 * failure after the issuance says what to revoke or map by hand.
 */
static int
issue_finish(struct cmd_ctx *ctx, const struct uopts *o,
    const struct ca_identity *i, EVP_PKEY *key, struct ca_issued *is,
    const char *out, const char *pw)
{
	struct ca_ident_map	 m;
	struct cg_buf		 p12;
	struct cg_err		 err = { 0 };
	X509			*x;
	char			 subject[CA_IDENT_DN_MAX + 1];
	char			 issuer[CA_IDENT_DN_MAX + 1];
	int64_t			 mapid = 0;
	int			 ret = CMD_EXIT_FAIL;

	cg_buf_init(&p12, ISSUE_P12_MAX);
	if ((x = ca_issued_get0_cert(is)) == NULL ||
	    ca_pkcs12_make(key, x, ca_get0_chain(ctx->ca), pw, i->name, &p12,
	    &err) != CG_OK ||
	    cg_file_write(out, p12.data, p12.len, 0600, !o->force, &err) !=
	    CG_OK) {
		cmd_fail("user issue", &err);
		fprintf(stderr, "certgw: user issue: certificate %s was issued "
		    "but its key is lost; revoke it with `certgw cert revoke "
		    "%s`\n", is->serial, is->serial);
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.identity_id = i->id;
	m.kind = CA_MAP_SHA256;
	m.value = is->sha256;
	m.der = is->der;
	m.der_len = is->der_len;
	m.source = "issue";
	map_from_cert(&m, x, subject, issuer, sizeof(subject));
	if (ca_store_begin(ctx->st, &err) != CG_OK ||
	    ca_store_map_add(ctx->st, &m, &mapid, &err) != CG_OK ||
	    ca_store_audit_add(ctx->st, ctx->actor, "user-issue", i->name,
	    "ok", is->serial, &err) != CG_OK ||
	    ca_store_commit(ctx->st, &err) != CG_OK) {
		ca_store_rollback(ctx->st);
		cmd_fail("user issue", &err);
		fprintf(stderr, "certgw: user issue: %s holds certificate %s, "
		    "not mapped; map it with `certgw user add-cert %s "
		    "--thumbprint %s`\n", out, is->serial, i->name,
		    is->sha256);
		goto out;
	}
	printf("issued certificate %s (profile %s) to %s, mapped by sha256 "
	    "%s (mapping %lld)\n", is->serial, o->profile, i->name,
	    is->sha256, (long long)mapid);
	printf("wrote %s (mode 0600): key, certificate and CA chain\n", out);
	if (o->password_file == NULL) {
		printf("password: %s\n", pw);
		printf("This password is shown only once and is not stored; "
		    "give it to %s apart from the file.\n", i->name);
	}
	ret = CMD_EXIT_OK;
out:
	cg_buf_cleanup(&p12);
	return ret;
}

static int
user_issue(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	struct ca_csr		*csr = NULL;
	struct cg_err		 err = { 0 };
	const struct ca_profile	*prof;
	enum ca_init_key	 kt = CA_INIT_EC_P256;
	struct stat		 sb;
	EVP_PKEY		*key = NULL;
	char			 rnd[ISSUE_PASSWORD_LEN + 1];
	char			*pw = NULL, *out = NULL;
	int			 ret;

	ret = uopts_parse(argc, argv, "issue", UOPT_PROFILE | UOPT_OUT |
	    UOPT_PWFILE | UOPT_KEYTYPE | UOPT_FORCE, 1, "issue NAME --profile "
	    "P [--out NAME.p12] [--password-file F]\n"
	    "       [--key-type ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096] "
	    "[--force]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (o.profile == NULL)
		return cmd_usage_error("user issue", "--profile is required");
	if (o.key_type != NULL && !ca_init_key_parse(o.key_type, &kt))
		return cmd_usage_error("user issue", "--key-type: expected "
		    "ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096");
	out = o.out != NULL ? cg_strdup(o.out) : cg_asprintf("%s.p12",
	    o.args[0]);
	if (out == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		return CMD_EXIT_FAIL;
	}
	ret = CMD_EXIT_FAIL;
	/* Refused before a key is made or anything issued. */
	if (!o.force && stat(out, &sb) == 0) {
		fprintf(stderr, "certgw: user issue: %s exists already; use "
		    "--force to replace it\n", out);
		goto out_free;
	}
	if (o.password_file != NULL) {
		if (cg_secret_load(o.password_file, NULL, &pw, &err) != CG_OK) {
			cmd_fail("user issue", &err);
			goto out_free;
		}
	} else if (ca_password_random(rnd, sizeof(rnd), &err) != CG_OK) {
		cmd_fail("user issue", &err);
		goto out_free;
	}
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_CA | CMD_NEED_STORE))
		goto out_free;
	if ((prof = gw_config_profile(ctx.conf, o.profile)) == NULL) {
		fprintf(stderr, "certgw: user issue: no profile '%s' in the "
		    "config\n", o.profile);
		goto out;
	}
	if (!ident_get(&ctx, "user issue", o.args[0], &i))
		goto out;
	if (i->disabled)
		fprintf(stderr, "certgw: user issue: note: %s is disabled and "
		    "authenticates nobody until `certgw user enable %s`\n",
		    i->name, i->name);
	if (ca_key_generate(kt, &key, &err) != CG_OK ||
	    issue_request(prof, i, key, &csr, &err) != CG_OK) {
		cmd_fail("user issue", &err);
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.csr = csr;
	req.profile = prof;
	req.protocol = "cli";
	req.requester = ctx.actor;
	if (ca_issue(ctx.ca, ctx.st, &req, &is, &err) != CG_OK) {
		cmd_fail("user issue: refused", &err);
		goto out;
	}
	ret = issue_finish(&ctx, &o, i, key, is, out, pw != NULL ? pw : rnd);
out:
	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
out_free:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	cg_secret_free(pw);
	cg_free(out);
	return ret;
}

/* --------------------------------------------------------- remove-cert */

struct find_map {
	int64_t		 id;
	bool		 found;
	char		 value[CA_IDENT_DN_MAX + 1];
};

static enum cg_code
find_map_row(void *arg, const struct ca_ident_map *m)
{
	struct find_map	*f = arg;

	if (m->id == f->id) {
		f->found = true;
		snprintf(f->value, sizeof(f->value), "%s %s",
		    ca_map_kind_name(m->kind), m->value);
	}
	return CG_OK;
}

static int
user_remove_cert(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct find_map		 f = { 0 };
	struct cg_err		 err = { 0 };
	uint64_t		 id;
	int			 ret;

	ret = uopts_parse(argc, argv, "remove-cert", 0, 2,
	    "remove-cert NAME MAPPING_ID", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cg_parse_u64(o.args[1], strlen(o.args[1]), INT64_MAX, &id) ||
	    id == 0)
		return cmd_usage_error("user remove-cert", "MAPPING_ID: "
		    "expected the number `certgw user show` gives");
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (!ident_get(&ctx, "user remove-cert", o.args[0], &i))
		goto out;
	f.id = (int64_t)id;
	if (ca_store_map_list(ctx.st, i->id, find_map_row, &f, &err) != CG_OK) {
		cmd_fail("user remove-cert", &err);
		goto out;
	}
	if (!f.found) {
		fprintf(stderr, "certgw: user remove-cert: %s has no mapping "
		    "%llu\n", i->name, (unsigned long long)id);
		goto out;
	}
	if (ca_store_map_delete(ctx.st, f.id, &err) != CG_OK) {
		cmd_fail("user remove-cert", &err);
		goto out;
	}
	audit(&ctx, "user-unmap", i->name, f.value);
	printf("removed mapping %llu (%s) from %s\n", (unsigned long long)id,
	    f.value, i->name);
	ret = CMD_EXIT_OK;
out:
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

/* -------------------------------------------------------------- rules */

/*
 * "O=Sales,OU=East": attributes OpenSSL knows, each with a value, as
 * ca_ident_rule_matches reads them.
 */
static bool
rule_subject_ok(const char *s)
{
	const char	*p, *comma, *eq;
	char		 sn[64];
	size_t		 n;

	for (p = s; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		eq = memchr(p, '=', n);
		if (eq == NULL || eq == p || eq == p + n - 1 ||
		    (size_t)(eq - p) >= sizeof(sn))
			return false;
		memcpy(sn, p, (size_t)(eq - p));
		sn[eq - p] = '\0';
		if (OBJ_txt2nid(sn) == NID_undef)
			return false;
	}
	return true;
}

static int
rule_add(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct ca_ident_rule	 r;
	struct cg_err		 err = { 0 };
	uint64_t		 pos = 0;
	int64_t			 id = 0;
	char			 detail[2 * CA_IDENT_DN_MAX + 32];
	int			 ret;

	ret = uopts_parse(argc, argv, "rule add", UOPT_ISSUER | UOPT_SUBJECT |
	    UOPT_POSITION, 1, "rule add NAME [--issuer DN] [--subject "
	    "\"O=Sales,OU=East\"] [--position N]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if ((o.issuer == NULL || o.issuer[0] == '\0') &&
	    (o.subject == NULL || o.subject[0] == '\0'))
		return cmd_usage_error("user rule add", "give --issuer, "
		    "--subject or both: a rule with neither would match "
		    "every certificate");
	if (o.issuer != NULL && strlen(o.issuer) > CA_IDENT_DN_MAX)
		return cmd_usage_error("user rule add", "--issuer: longer "
		    "than %d characters", CA_IDENT_DN_MAX);
	if (o.subject != NULL && o.subject[0] != '\0' &&
	    (strlen(o.subject) > CA_IDENT_DN_MAX ||
	    !rule_subject_ok(o.subject)))
		return cmd_usage_error("user rule add", "--subject: expected "
		    "attributes like \"O=Sales,OU=East\"");
	if (o.position != NULL && (!cg_parse_u64(o.position,
	    strlen(o.position), INT32_MAX, &pos) || pos == 0))
		return cmd_usage_error("user rule add", "--position: expected "
		    "1, 2, ...");
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (!ident_get(&ctx, "user rule add", o.args[0], &i))
		goto out;
	memset(&r, 0, sizeof(r));
	r.identity_id = i->id;
	r.position = (int64_t)pos;
	r.issuer = (char *)(o.issuer != NULL ? o.issuer : "");
	r.subject = (char *)(o.subject != NULL ? o.subject : "");
	if (ca_store_rule_add(ctx.st, &r, &id, &err) != CG_OK) {
		cmd_fail("user rule add", &err);
		goto out;
	}
	snprintf(detail, sizeof(detail), "issuer \"%s\" subject \"%s\"",
	    r.issuer, r.subject);
	audit(&ctx, "user-rule-add", i->name, detail);
	printf("added rule %lld for %s%s\n", (long long)id, i->name,
	    pos > 0 ? " at the position asked" : " last");
	ret = CMD_EXIT_OK;
out:
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

static enum cg_code
rule_row(void *arg, const struct ca_ident_rule *r)
{
	struct list_state	*ls = arg;
	char			 ca[32];
	json_t			*o;

	if (ls->json) {
		cg_time_fmt(r->created_at, ca, sizeof(ca));
		o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}", "id",
		    (json_int_t)r->id, "position", (json_int_t)r->position,
		    "identity", r->identity, "issuer", r->issuer, "subject",
		    r->subject, "created_at", ca);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	printf("%-4lld  %-5lld  %-24s  issuer %s\n%37s subject %s\n",
	    (long long)r->position, (long long)r->id, r->identity,
	    r->issuer[0] != '\0' ? r->issuer : "(any)", "",
	    r->subject[0] != '\0' ? r->subject : "(any)");
	return CG_OK;
}

static int
rule_list(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct list_state	 ls = { 0 };
	struct cg_err		 err = { 0 };
	int			 ret;

	ret = uopts_parse(argc, argv, "rule list", UOPT_JSON, 0,
	    "rule list [--json]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ls.json = o.json;
	if (ls.json && (ls.arr = json_array()) == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		ret = CMD_EXIT_FAIL;
		goto out;
	}
	if (!ls.json)
		printf("%-4s  %-5s  %-24s  %s\n", "POS", "ID", "IDENTITY",
		    "MATCHES");
	if (ca_store_rule_list(ctx.st, rule_row, &ls, &err) != CG_OK)
		ret = cmd_fail("user rule list", &err);
	else if (ls.json && !cmd_json_print(ls.arr))
		ret = CMD_EXIT_FAIL;
out:
	json_decref(ls.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

static int
rule_remove(int argc, char **argv)
{
	struct uopts	 o;
	struct cmd_ctx	 ctx;
	struct cg_err	 err = { 0 };
	uint64_t	 id;
	int		 ret;

	ret = uopts_parse(argc, argv, "rule remove", 0, 1, "rule remove ID",
	    &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cg_parse_u64(o.args[0], strlen(o.args[0]), INT64_MAX, &id) ||
	    id == 0)
		return cmd_usage_error("user rule remove", "ID: expected the "
		    "number `certgw user rule list` shows");
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (ca_store_rule_delete(ctx.st, (int64_t)id, &err) != CG_OK) {
		if (err.code == CG_ENOTFOUND)
			fprintf(stderr, "certgw: user rule remove: no rule "
			    "with id %llu\n", (unsigned long long)id);
		else
			cmd_fail("user rule remove", &err);
		ret = CMD_EXIT_FAIL;
	} else {
		audit(&ctx, "user-rule-remove", o.args[0], NULL);
		printf("removed rule %llu; the rules after it moved up\n",
		    (unsigned long long)id);
	}
	cmd_ctx_close(&ctx);
	return ret;
}

static int
user_rule(int argc, char **argv)
{
	static const struct cmd subs[] = {
		{ "add", rule_add, "map certificates by issuer and subject" },
		{ "list", rule_list, "the rules in the order they are tried" },
		{ "remove", rule_remove, "remove one" },
	};

	return cmd_sub("user rule", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}

int
cmd_user(int argc, char **argv)
{
	static const struct cmd subs[] = {
		{ "add", user_add, "add an identity (user or device)" },
		{ "list", user_list, "the identities" },
		{ "show", user_show, "one identity and its mappings" },
		{ "disable", user_disable, "stop an identity authenticating" },
		{ "enable", user_enable, "let it authenticate again" },
		{ "role", user_role, "set its admin API role" },
		{ "add-cert", user_add_cert,
		    "map a certificate to it by thumbprint or common name" },
		{ "import-cert", user_import_cert,
		    "map a certificate file to it (pinned if self-signed)" },
		{ "remove-cert", user_remove_cert,
		    "remove one of its mappings" },
		{ "issue", user_issue,
		    "issue it a key and certificate as PKCS#12" },
		{ "rule", user_rule,
		    "many-to-one rules: add, list, remove" },
	};

	return cmd_sub("user", subs, sizeof(subs) / sizeof(subs[0]), argc,
	    argv);
}
