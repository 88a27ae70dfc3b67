/*
 * gw_config_dist.c - the "redis" and "distribution" sections of the config
 * file: where the push queue lives, and the rules that say which issued
 * certificates are sent where, how they are encoded and how the push
 * authenticates.  With check_files the TLS material a rule names is opened
 * here (keystore password, key/certificate pair, trust anchors), so a typo
 * fails check-config rather than the first push hours later.  Secrets are
 * read only to open a keystore and are wiped at once; nothing here stores,
 * logs or shows them.  The push worker itself lives in distribute/.
 */
#include "gw_config_int.h"

#include <arpa/inet.h>
#include <limits.h>
#include <regex.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define REDIS_SCHEME		"redis://"
#define REDIS_PORT_DEFAULT	6379
#define REDIS_DB_MAX		15
#define REDIS_PREFIX_DEFAULT	"certgw:"
#define REDIS_PREFIX_MAX	64
#define REDIS_TIMEOUT_DEFAULT	2000
#define HOST_MAX		253	/* RFC 1035 name without the dot */
#define LABEL_MAX		63	/* one DNS label */

#define DIST_WORKERS_DEFAULT	2
#define DIST_WORKERS_MAX	64
#define DIST_IN_FLIGHT_DEFAULT	16
#define DIST_IN_FLIGHT_MAX	256
#define DIST_RULES_MAX		64
#define DIST_NAME_MAX		64	/* a rule name */
#define DIST_VARS_MAX		32	/* entries in "vars" */
#define DIST_VAR_NAME_MAX	32
#define DIST_VAR_VALUE_MAX	256
#define DIST_HEADERS_MAX	32
#define DIST_HEADER_NAME_MAX	128
#define DIST_HEADER_VALUE_MAX	1024
#define DIST_REGEX_MAX		512
#define DIST_REGEX_REPEAT_MAX	10000	/* product of {m,n} bounds */
#define DIST_CTYPE_MAX		255
#define DIST_USER_MAX		128
#define DIST_PROFILE_NAME_MAX	64
#define DIST_FILE_MAX		(1024 * 1024) /* keystore, PEM file */
#define DIST_SHOW_MAX		64	/* a file's base name in a message */

#define DIST_TIMEOUT_DEFAULT	10000
#define DIST_ATTEMPTS_DEFAULT	20
#define DIST_BACKOFF_DEFAULT	1000
#define DIST_BACKOFF_MAX_DEFAULT 3600000
#define DIST_AGE_DEFAULT	604800

/* "encoding" was not given: resolved after the rule has been read. */
#define ENC_UNSET		GW_DIST_ENC__MAX

static const char *const payload_names[GW_DIST_PAYLOAD__MAX] = {
	[GW_DIST_PAYLOAD_CERT] = "cert",
	[GW_DIST_PAYLOAD_CHAIN] = "chain",
	[GW_DIST_PAYLOAD_JSON] = "json",
};

static const char *const encoding_names[GW_DIST_ENC__MAX] = {
	[GW_DIST_ENC_BASE64] = "base64",
	[GW_DIST_ENC_DER] = "der",
	[GW_DIST_ENC_PEM] = "pem",
};

/* Placeholders the worker fills in itself; "vars" may not redefine them. */
static const char *const builtin_vars[] = { "serial", "profile", "rule" };

/*
 * Request headers the worker (or libcurl under it) writes: letting the
 * file set them would fight the framing, the body type or the credential.
 */
static const struct {
	const char	*name;
	const char	*why;
} reserved_headers[] = {
	{ "Host", "it comes from url" },
	{ "Content-Length", "it comes from the body" },
	{ "Transfer-Encoding", "it comes from the body" },
	{ "Connection", "the worker manages connections" },
	{ "Content-Type", "use content_type" },
	{ "Authorization", "use auth" },
	{ "Idempotency-Key", "the worker sets it for each push" },
};

/* -------------------------------------------------------------- names */

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* 1..max bytes, each alphanumeric or in extra. */
static bool
name_is_valid(const char *s, size_t max, const char *extra)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == max)
			return false;
		if (!is_alnum(s[i]) && strchr(extra, s[i]) == NULL)
			return false;
	}
	return i > 0;
}

static bool
protocol_is_valid(const char *s)
{
	return strcmp(s, "est") == 0 || strcmp(s, "scep") == 0 ||
	    strcmp(s, "acme") == 0 || strcmp(s, "cli") == 0;
}

/* Whether it exists is checked once "profiles" has been read. */
static bool
profile_ref_is_valid(const char *s)
{
	return s[0] != '\0' && strlen(s) <= DIST_PROFILE_NAME_MAX;
}

/* RFC 9110 5.6.2 tchar. */
static bool
is_tchar(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) !=
	    NULL);
}

/* The last path component, made safe for a message. */
static const char *
base_show(const char *path, char *out, size_t outlen)
{
	const char	*slash = strrchr(path, '/');

	if (slash != NULL && slash[1] != '\0')
		path = slash + 1;
	gw_cfg_render(path, strlen(path), DIST_SHOW_MAX, out, outlen);
	return out;
}

/* A string of at most max bytes with no control bytes (tab allowed). */
static bool
text_is_clean(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return false;
	return true;
}

/* -------------------------------------------------------------- redis */

/* A DNS name of letter-digit-hyphen labels, or a dotted IPv4 address. */
static bool
host_is_valid(const char *h, size_t len)
{
	struct in_addr	 a4;
	char		 buf[HOST_MAX + 1];
	size_t		 i, label = 0;
	bool		 numeric = true;

	if (len == 0 || len > HOST_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (h[i] == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(h[i]) && h[i] != '-')
			return false;
		if (h[i] == '-' && label == 0)
			return false;
		if (!(h[i] >= '0' && h[i] <= '9'))
			numeric = false;
		if (++label > LABEL_MAX)
			return false;
	}
	if (label == 0 || h[len - 1] == '-')
		return false;
	if (!numeric)
		return true;
	/* All digits and dots: it must then be a real IPv4 address. */
	memcpy(buf, h, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, &a4) == 1;
}

/* The authority of a redis:// URL: host, [v6] or host:port. */
static enum cg_code
redis_authority(struct gw_cfg_ctx *ctx, const char *a, size_t len,
    struct gw_redis_conf *r)
{
	const char	*host = a, *close, *port = NULL;
	char		 v6[INET6_ADDRSTRLEN];
	struct in6_addr	 a6;
	uint64_t	 p;
	size_t		 hlen, plen = 0;

	if (memchr(a, '@', len) != NULL)
		return gw_cfg_fail(ctx, "no user or password in the URL: put "
		    "the password in password_file");
	if (len > 0 && a[0] == '[') {
		close = memchr(a, ']', len);
		if (close == NULL)
			return gw_cfg_fail(ctx, "expected ']' after an IPv6 "
			    "address");
		host = a + 1;
		hlen = (size_t)(close - host);
		if (hlen == 0 || hlen >= sizeof(v6))
			return gw_cfg_fail(ctx, "expected an IPv6 address "
			    "in brackets");
		memcpy(v6, host, hlen);
		v6[hlen] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return gw_cfg_fail(ctx, "expected an IPv6 address "
			    "in brackets");
		if ((size_t)(close + 1 - a) < len) {
			if (close[1] != ':')
				return gw_cfg_fail(ctx, "expected ':port' "
				    "after ']'");
			port = close + 2;
			plen = len - (size_t)(port - a);
		}
	} else {
		close = memchr(a, ':', len);
		hlen = close != NULL ? (size_t)(close - a) : len;
		if (close != NULL) {
			port = close + 1;
			plen = len - hlen - 1;
		}
		if (!host_is_valid(a, hlen))
			return gw_cfg_fail(ctx, "expected a host name, an "
			    "IPv4 address or an [IPv6] address after "
			    "redis://");
	}
	if (port != NULL && (!cg_parse_u64(port, plen, 65535, &p) || p == 0))
		return gw_cfg_fail(ctx, "expected a port between 1 and 65535");
	r->port = port != NULL ? (uint16_t)p : REDIS_PORT_DEFAULT;
	cg_free(r->host);
	r->host = cg_strndup(host, hlen);
	if (r->host == NULL)
		return gw_cfg_nomem(ctx);
	return CG_OK;
}

/* "url": redis://host[:port][/db]; the URL itself is not kept. */
static enum cg_code
redis_url(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_redis_conf	*r = target;
	const char		*rest, *db;
	char			*s = NULL;
	uint64_t		 n = 0;
	size_t			 alen;
	enum cg_code		 rc;

	rc = gw_cfg_string(ctx, val, GW_CFG_URL_MAX, &s);
	if (rc != CG_OK)
		return rc;
	/*
	 * The URL is never quoted back: a refused one may hold a password.
	 * Scheme names are case-insensitive (RFC 3986 3.1).
	 */
	if (strncasecmp(s, "rediss://", 9) == 0) {
		rc = gw_cfg_fail(ctx, "TLS to Redis is not supported yet: "
		    "use a redis:// URL on a trusted network");
		goto out;
	}
	if (strncasecmp(s, REDIS_SCHEME, strlen(REDIS_SCHEME)) != 0) {
		rc = gw_cfg_fail(ctx, "expected a URL of the form "
		    "redis://host[:port][/db]");
		goto out;
	}
	rest = s + strlen(REDIS_SCHEME);
	alen = strcspn(rest, "/?#");
	rc = redis_authority(ctx, rest, alen, r);
	if (rc != CG_OK)
		goto out;
	db = rest + alen;
	if (*db == '/')
		db++;
	else if (*db != '\0') {
		rc = gw_cfg_fail(ctx, "expected no query or fragment in the "
		    "URL");
		goto out;
	}
	if (*db != '\0' && !cg_parse_u64(db, strlen(db), REDIS_DB_MAX, &n)) {
		rc = gw_cfg_fail(ctx, "expected a database number between 0 "
		    "and %d after the host", REDIS_DB_MAX);
		goto out;
	}
	r->db = (uint32_t)n;
out:
	cg_free(s);
	return rc;
}

static enum cg_code
redis_prefix(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_redis_conf	*r = target;
	char			*s = NULL;
	enum cg_code		 rc;

	rc = gw_cfg_string(ctx, val, REDIS_PREFIX_MAX, &s);
	if (rc == CG_OK && !name_is_valid(s, REDIS_PREFIX_MAX, ":_.-")) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected 1 to %d characters from "
		    "A-Z, a-z, 0-9, ':', '_', '.' and '-'", REDIS_PREFIX_MAX);
	}
	if (rc != CG_OK)
		return rc;
	cg_free(r->key_prefix);
	r->key_prefix = s;
	return CG_OK;
}

#define REDIS_OFF(m)	offsetof(struct gw_redis_conf, m)

static const struct gw_cfg_field redis_fields[] = {
	{ .key = "url", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = redis_url },
	{ .key = "password_file", .kind = GW_CFG_FILE,
	  .off = REDIS_OFF(password_file) },
	{ .key = "key_prefix", .kind = GW_CFG_CUSTOM, .fn = redis_prefix },
	{ .key = "timeout_ms", .kind = GW_CFG_U32,
	  .off = REDIS_OFF(timeout_ms), .min = 100, .max = 60000 },
};

enum cg_code
gw_cfg_redis(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_redis_conf	*r = &((struct gw_config *)target)->redis;
	enum cg_code		 rc;

	r->enabled = true;
	r->port = REDIS_PORT_DEFAULT;
	r->db = 0;
	r->timeout_ms = REDIS_TIMEOUT_DEFAULT;
	rc = gw_cfg_object(ctx, val, redis_fields, NELEM(redis_fields), r);
	if (rc == CG_OK && r->key_prefix == NULL) {
		r->key_prefix = cg_strdup(REDIS_PREFIX_DEFAULT);
		if (r->key_prefix == NULL)
			rc = gw_cfg_nomem(ctx);
	}
	return rc;
}

void
gw_cfg_redis_cleanup(struct gw_redis_conf *r)
{
	cg_free(r->host);
	cg_free(r->password_file);
	cg_free(r->key_prefix);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------ rule: values */

static enum cg_code
rule_name(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;
	char			*s = NULL;
	enum cg_code		 rc;

	rc = gw_cfg_string(ctx, val, DIST_NAME_MAX, &s);
	if (rc == CG_OK && !name_is_valid(s, DIST_NAME_MAX, "_.-")) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected a rule name of 1 to %d "
		    "characters from A-Z, a-z, 0-9, '_', '.' and '-'",
		    DIST_NAME_MAX);
	}
	if (rc != CG_OK)
		return rc;
	cg_free(rule->name);
	rule->name = s;
	return CG_OK;
}

/*
 * glibc compiles a bounded repetition by copying its atom, so nested bounds
 * multiply: "((a{255}){255}){255}" would take gigabytes.  The product of
 * every {m,n} in the text caps that from above, nested or not.
 */
static bool
regex_repeats_ok(const char *s)
{
	uint64_t	 product = 1, m, n;
	const char	*p = s, *end;
	bool		 bracket = false;

	for (; *p != '\0'; p++) {
		if (bracket) {
			/* "[]...]" and "[^]...]" hold a literal ']'. */
			if (*p == ']' && p[-1] != '[' &&
			    !(p[-1] == '^' && p[-2] == '['))
				bracket = false;
			continue;
		}
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '[') {
			bracket = true;
			continue;
		}
		if (*p != '{')
			continue;
		end = p + 1;
		m = 0;
		while (*end >= '0' && *end <= '9' && m <= DIST_REGEX_REPEAT_MAX)
			m = m * 10 + (uint64_t)(*end++ - '0');
		n = m;
		if (*end == ',') {
			end++;
			if (*end >= '0' && *end <= '9')
				n = 0;
			while (*end >= '0' && *end <= '9' &&
			    n <= DIST_REGEX_REPEAT_MAX)
				n = n * 10 + (uint64_t)(*end++ - '0');
		}
		if (n > m)
			m = n;
		if (m > 1)
			product *= m;
		if (product > DIST_REGEX_REPEAT_MAX)
			return false;
	}
	return true;
}

static enum cg_code
rule_san_regex(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;
	regex_t			 re;
	char			*s = NULL, why[128];
	int			 e;
	enum cg_code		 rc;

	rc = gw_cfg_string(ctx, val, DIST_REGEX_MAX, &s);
	if (rc != CG_OK)
		return rc;
	if (strlen(s) != json_string_length(val)) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected no NUL byte in the regular "
		    "expression");
	}
	if (!regex_repeats_ok(s)) {
		cg_free(s);
		return gw_cfg_fail(ctx, "the {m,n} bounds in the regular "
		    "expression multiply to more than %d",
		    DIST_REGEX_REPEAT_MAX);
	}
	e = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
	if (e != 0) {
		regerror(e, &re, why, sizeof(why));
		cg_free(s);
		return gw_cfg_fail(ctx, "invalid regular expression: %s", why);
	}
	regfree(&re);
	cg_free(rule->san_regex);
	rule->san_regex = s;
	return CG_OK;
}

static enum cg_code
rule_url(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;
	char			*s = NULL;
	enum cg_code		 rc;

	/* Placeholders are checked once "vars" has been read too. */
	rc = gw_cfg_string(ctx, val, GW_CFG_URL_MAX, &s);
	if (rc != CG_OK)
		return rc;
	if (strncasecmp(s, "http://", 7) == 0)
		rc = gw_cfg_fail(ctx, "plain http:// would send certificates "
		    "and credentials in clear: use https://");
	else if (strncmp(s, "https://", 8) != 0)
		rc = gw_cfg_fail(ctx, "expected an https:// URL");
	else if (strlen(s) != json_string_length(val) ||
	    !gw_cfg_url_is_valid(s))
		rc = gw_cfg_fail(ctx, "expected an https:// URL with a host, "
		    "printable ASCII only and no user info (use auth)");
	if (rc != CG_OK) {
		cg_free(s);
		return rc;
	}
	cg_free(rule->url);
	rule->url = s;
	return CG_OK;
}

static bool
builtin_var(const char *name)
{
	size_t	 i;

	for (i = 0; i < NELEM(builtin_vars); i++)
		if (strcmp(name, builtin_vars[i]) == 0)
			return true;
	return false;
}

static enum cg_code
var_one(struct gw_cfg_ctx *ctx, const struct gw_dist_rule *rule,
    const char *name, json_t *val, struct gw_kv *kv)
{
	if (!name_is_valid(name, DIST_VAR_NAME_MAX, "_"))
		return gw_cfg_fail(ctx, "expected a variable name of 1 to %d "
		    "characters from A-Z, a-z, 0-9 and '_'",
		    DIST_VAR_NAME_MAX);
	if (builtin_var(name))
		return gw_cfg_fail(ctx, "'%s' is set by the gateway for each "
		    "certificate and cannot be a variable", name);
	/*
	 * "" is a value: the URL expander drops a "/{name}" path segment
	 * whose var is empty, which is how a rule leaves one out.
	 */
	if (!json_is_string(val))
		return gw_cfg_fail(ctx, "expected a string");
	if (json_string_length(val) > DIST_VAR_VALUE_MAX)
		return gw_cfg_fail(ctx, "expected a string of at most %d bytes",
		    DIST_VAR_VALUE_MAX);
	if (!text_is_clean(json_string_value(val), json_string_length(val)))
		return gw_cfg_fail(ctx, "expected no control characters");
	kv->value = cg_strdup(json_string_value(val));
	kv->name = cg_strdup(name);
	if (kv->name == NULL || kv->value == NULL)
		return gw_cfg_nomem(ctx);
	return CG_OK;
}

/* The parser of one "name": "value" entry of a vars or headers object. */
typedef enum cg_code kv_one_fn(struct gw_cfg_ctx *ctx,
		    const struct gw_dist_rule *rule, const char *name,
		    json_t *val, struct gw_kv *kv);

/*
 * An object of at most max string entries into *vp and *np, each checked by
 * one (which sees the entries before it in *vp).  A failed entry is
 * freed here, so *np counts only whole ones.
 */
static enum cg_code
kv_object(struct gw_cfg_ctx *ctx, json_t *val, size_t max, const char *what,
    kv_one_fn *one, const struct gw_dist_rule *rule, struct gw_kv **vp,
    size_t *np)
{
	struct gw_kv	*kv;
	const char	*name;
	json_t		*v;
	size_t		 n, mark;
	enum cg_code	 rc = CG_OK;

	if (!json_is_object(val))
		return gw_cfg_fail(ctx, "expected an object");
	n = json_object_size(val);
	if (n > max)
		return gw_cfg_fail(ctx, "expected at most %zu %s", max, what);
	*vp = cg_calloc(n > 0 ? n : 1, sizeof(**vp));
	if (*vp == NULL)
		return gw_cfg_nomem(ctx);
	json_object_foreach(val, name, v) {
		kv = &(*vp)[*np];
		mark = gw_cfg_push_key(ctx, name);
		rc = one(ctx, rule, name, v, kv);
		gw_cfg_pop(ctx, mark);
		if (rc != CG_OK) {
			cg_free(kv->name);
			cg_free(kv->value);
			kv->name = kv->value = NULL;
			break;
		}
		(*np)++;
	}
	return rc;
}

static enum cg_code
rule_vars(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;

	return kv_object(ctx, val, DIST_VARS_MAX, "variables", var_one, rule,
	    &rule->vars, &rule->nvars);
}

/* name among names, case-sensitively or not. */
static int
name_find(const char *const *names, size_t n, const char *name, bool icase)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (names[i] != NULL && (icase ? strcasecmp(names[i], name) :
		    strcmp(names[i], name)) == 0)
			return (int)i;
	return -1;
}

static enum cg_code
rule_payload(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;
	int			 i = -1;

	if (json_is_string(val))
		i = name_find(payload_names, NELEM(payload_names),
		    json_string_value(val), false);
	if (i < 0)
		return gw_cfg_fail(ctx, "expected \"cert\", \"chain\" or "
		    "\"json\"");
	rule->payload = (enum gw_dist_payload)i;
	return CG_OK;
}

static enum cg_code
rule_encoding(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;
	int			 i = -1;

	if (json_is_string(val))
		i = name_find(encoding_names, NELEM(encoding_names),
		    json_string_value(val), false);
	if (i < 0)
		return gw_cfg_fail(ctx, "expected \"base64\", \"der\" or "
		    "\"pem\"");
	rule->encoding = (enum gw_dist_encoding)i;
	return CG_OK;
}

/* A media type: type/subtype and parameters, printable ASCII. */
static enum cg_code
rule_content_type(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;
	const char		*p;
	char			*s = NULL;
	size_t			 t;
	enum cg_code		 rc;

	rc = gw_cfg_string(ctx, val, DIST_CTYPE_MAX, &s);
	if (rc != CG_OK)
		return rc;
	for (t = 0; is_tchar(s[t]); t++)
		;
	p = s + t;
	if (t == 0 || *p != '/' || !is_tchar(p[1]))
		rc = gw_cfg_fail(ctx, "expected a media type such as "
		    "application/pkix-cert");
	else if (strlen(s) != json_string_length(val) ||
	    !text_is_clean(s, strlen(s)) || strchr(s, '\t') != NULL)
		rc = gw_cfg_fail(ctx, "expected no control characters");
	if (rc != CG_OK) {
		cg_free(s);
		return rc;
	}
	cg_free(rule->content_type);
	rule->content_type = s;
	return CG_OK;
}

static enum cg_code
basic_user(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;
	char			*s = NULL;
	enum cg_code		 rc;

	rc = gw_cfg_string(ctx, val, DIST_USER_MAX, &s);
	if (rc != CG_OK)
		return rc;
	/* RFC 7617 2: the user-id cannot contain a colon. */
	if (strchr(s, ':') != NULL || strlen(s) != json_string_length(val) ||
	    !text_is_clean(s, strlen(s))) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected a user name of 1 to %d "
		    "characters without ':' or control characters",
		    DIST_USER_MAX);
	}
	cg_free(rule->basic_user);
	rule->basic_user = s;
	return CG_OK;
}

static enum cg_code
header_one(struct gw_cfg_ctx *ctx, const struct gw_dist_rule *rule,
    const char *name, json_t *val, struct gw_kv *kv)
{
	char		*s = NULL, show[GW_CFG_VALUE_SHOW + 8];
	size_t		 i;
	enum cg_code	 rc;

	for (i = 0; is_tchar(name[i]); i++)
		;
	if (i == 0 || name[i] != '\0' || i > DIST_HEADER_NAME_MAX)
		return gw_cfg_fail(ctx, "expected a header name of 1 to %d "
		    "token characters (RFC 9110)", DIST_HEADER_NAME_MAX);
	for (i = 0; i < NELEM(reserved_headers); i++)
		if (strcasecmp(name, reserved_headers[i].name) == 0)
			return gw_cfg_fail(ctx, "%s is set by the worker: %s",
			    reserved_headers[i].name, reserved_headers[i].why);
	/* JSON refuses exact duplicates; header names ignore case. */
	for (i = 0; i < rule->nheaders; i++)
		if (strcasecmp(name, rule->headers[i].name) == 0)
			return gw_cfg_fail(ctx, "duplicate header (also '%s')",
			    gw_cfg_show(rule->headers[i].name, show,
			    sizeof(show)));
	rc = gw_cfg_string(ctx, val, DIST_HEADER_VALUE_MAX, &s);
	if (rc != CG_OK)
		return rc;
	if (!text_is_clean(json_string_value(val), json_string_length(val))) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected no CR, LF or other control "
		    "characters in a header value");
	}
	kv->name = cg_strdup(name);
	kv->value = s;
	if (kv->name == NULL) {
		cg_free(s);
		kv->value = NULL;
		return gw_cfg_nomem(ctx);
	}
	return CG_OK;
}

static enum cg_code
rule_headers(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;

	return kv_object(ctx, val, DIST_HEADERS_MAX, "headers", header_one,
	    rule, &rule->headers, &rule->nheaders);
}

/* ------------------------------------------------------- rule: TLS */

/* A file the walk has already found readable, bounded in size. */
static enum cg_code
tls_read(struct gw_cfg_ctx *ctx, const char *path, uint8_t **datap,
    size_t *lenp)
{
	struct cg_err	 local = { 0 };
	enum cg_code	 rc;

	rc = cg_file_read(path, DIST_FILE_MAX, datap, lenp, &local);
	if (rc == CG_ENOMEM)
		return gw_cfg_nomem(ctx);
	if (rc == CG_ETOOBIG)
		rc = gw_cfg_fail(ctx, "file is larger than %d bytes",
		    DIST_FILE_MAX);
	else if (rc != CG_OK)
		rc = gw_cfg_fail(ctx, "cannot read file");
	if (rc != CG_OK)
		cg_err_detail(ctx->err, "file=%s %s", path, local.detail);
	return rc;
}

static void
tls_wipe(uint8_t *data, size_t len)
{
	if (data != NULL)
		OPENSSL_cleanse(data, len);
	cg_free(data);
}

/* The keystore opens with its password and holds a key and a certificate. */
static enum cg_code
tls_p12_check(struct gw_cfg_ctx *ctx, const struct gw_dist_rule *rule)
{
	struct cg_err		 local = { 0 };
	const unsigned char	*p;
	PKCS12			*p12 = NULL;
	EVP_PKEY		*pkey = NULL;
	X509			*cert = NULL;
	uint8_t			*data = NULL;
	char			*pass = NULL, show[DIST_SHOW_MAX + 8];
	size_t			 len = 0, mark;
	enum cg_code		 rc;

	if (rule->client_p12_password_file != NULL) {
		mark = gw_cfg_push_key(ctx, "client_p12_password_file");
		rc = cg_secret_load(rule->client_p12_password_file, NULL, &pass,
		    &local);
		if (rc == CG_ENOMEM)
			rc = gw_cfg_nomem(ctx);
		else if (rc != CG_OK) {
			/* local.msg names the full path: detail only. */
			rc = gw_cfg_fail(ctx, "cannot read the password: the "
			    "file is empty or too large");
			cg_err_detail(ctx->err, "%s", local.msg);
		}
		gw_cfg_pop(ctx, mark);
		if (rc != CG_OK)
			return rc;
	}
	mark = gw_cfg_push_key(ctx, "client_p12");
	rc = tls_read(ctx, rule->client_p12, &data, &len);
	if (rc != CG_OK)
		goto out;
	p = data;
	if (len > LONG_MAX)
		len = LONG_MAX;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	if (p12 == NULL || !PKCS12_parse(p12, pass, &pkey, &cert, NULL)) {
		rc = gw_cfg_fail(ctx, "cannot open keystore %s: wrong password "
		    "or not PKCS#12", base_show(rule->client_p12, show,
		    sizeof(show)));
		goto out;
	}
	if (pkey == NULL || cert == NULL) {
		rc = gw_cfg_fail(ctx, "keystore %s holds no private key and "
		    "certificate pair", base_show(rule->client_p12, show,
		    sizeof(show)));
		goto out;
	}
	rc = CG_OK;
out:
	ERR_clear_error();
	gw_cfg_pop(ctx, mark);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	PKCS12_free(p12);
	tls_wipe(data, len);
	cg_secret_free(pass);
	return rc;
}

/*
 * The first certificate of a PEM file, for the key at hand; *certp stays
 * NULL when the file holds none (not an error here: the caller says why).
 */
static enum cg_code
tls_pem_cert(struct gw_cfg_ctx *ctx, const char *path, X509 **certp)
{
	BIO		*bio;
	uint8_t		*data = NULL;
	size_t		 len = 0;
	enum cg_code	 rc;

	*certp = NULL;
	rc = tls_read(ctx, path, &data, &len);
	if (rc != CG_OK)
		return rc;
	bio = BIO_new_mem_buf(data, len > INT_MAX ? INT_MAX : (int)len);
	if (bio == NULL) {
		cg_free(data);
		return gw_cfg_nomem(ctx);
	}
	*certp = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	ERR_clear_error();
	BIO_free(bio);
	cg_free(data);
	return CG_OK;
}

static enum cg_code
tls_pair_check(struct gw_cfg_ctx *ctx, const struct gw_dist_rule *rule)
{
	BIO		*bio = NULL;
	EVP_PKEY	*pkey = NULL;
	X509		*cert = NULL;
	uint8_t		*data = NULL;
	char		 show[DIST_SHOW_MAX + 8];
	size_t		 len = 0, mark;
	enum cg_code	 rc;

	mark = gw_cfg_push_key(ctx, "client_cert");
	rc = tls_pem_cert(ctx, rule->client_cert, &cert);
	if (rc == CG_OK && cert == NULL)
		rc = gw_cfg_fail(ctx, "cannot load certificate %s: expected "
		    "PEM", base_show(rule->client_cert, show, sizeof(show)));
	gw_cfg_pop(ctx, mark);
	if (rc != CG_OK)
		return rc;
	mark = gw_cfg_push_key(ctx, "client_key");
	rc = tls_read(ctx, rule->client_key, &data, &len);
	if (rc != CG_OK)
		goto out;
	bio = BIO_new_mem_buf(data, len > INT_MAX ? INT_MAX : (int)len);
	if (bio == NULL) {
		rc = gw_cfg_nomem(ctx);
		goto out;
	}
	/* No passphrase key exists for it: never prompt on a terminal. */
	pkey = PEM_read_bio_PrivateKey(bio, NULL, cg_pem_pass_cb, NULL);
	if (pkey == NULL) {
		rc = gw_cfg_fail(ctx, "cannot load private key %s: expected "
		    "an unencrypted PEM key", base_show(rule->client_key, show,
		    sizeof(show)));
		goto out;
	}
	if (X509_check_private_key(cert, pkey) != 1) {
		rc = gw_cfg_fail(ctx, "client_key does not match the "
		    "certificate in client_cert");
		goto out;
	}
	rc = CG_OK;
out:
	ERR_clear_error();
	gw_cfg_pop(ctx, mark);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	tls_wipe(data, len);
	return rc;
}

static enum cg_code
tls_ca_check(struct gw_cfg_ctx *ctx, const struct gw_dist_rule *rule)
{
	X509		*cert = NULL;
	char		 show[DIST_SHOW_MAX + 8];
	size_t		 mark;
	enum cg_code	 rc;

	mark = gw_cfg_push_key(ctx, "ca_file");
	rc = tls_pem_cert(ctx, rule->ca_file, &cert);
	if (rc == CG_OK && cert == NULL)
		rc = gw_cfg_fail(ctx, "ca_file %s holds no PEM certificate",
		    base_show(rule->ca_file, show, sizeof(show)));
	gw_cfg_pop(ctx, mark);
	X509_free(cert);
	return rc;
}

#define RULE_OFF(m)	offsetof(struct gw_dist_rule, m)

static const struct gw_cfg_field tls_fields[] = {
	{ .key = "client_p12", .kind = GW_CFG_FILE,
	  .off = RULE_OFF(client_p12) },
	{ .key = "client_p12_password_file", .kind = GW_CFG_FILE,
	  .off = RULE_OFF(client_p12_password_file) },
	{ .key = "client_cert", .kind = GW_CFG_FILE,
	  .off = RULE_OFF(client_cert) },
	{ .key = "client_key", .kind = GW_CFG_FILE,
	  .off = RULE_OFF(client_key) },
	{ .key = "ca_file", .kind = GW_CFG_FILE, .off = RULE_OFF(ca_file) },
	{ .key = "insecure_skip_verify", .kind = GW_CFG_BOOL,
	  .off = RULE_OFF(insecure_skip_verify) },
};

/*
 * At most one client identity, whole; with check_files, it loads.  Also
 * the "tls" of a notification channel (gw_config_notify.c).
 */
enum cg_code
gw_cfg_dist_tls(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_rule	*rule = target;
	enum cg_code		 rc;

	rc = gw_cfg_object(ctx, val, tls_fields, NELEM(tls_fields), rule);
	if (rc != CG_OK)
		return rc;
	if (rule->client_p12 != NULL &&
	    (rule->client_cert != NULL || rule->client_key != NULL))
		return gw_cfg_fail(ctx, "expected one client identity: "
		    "client_p12, or client_cert with client_key, not both");
	if (rule->client_p12_password_file != NULL && rule->client_p12 == NULL)
		return gw_cfg_fail(ctx, "client_p12_password_file needs "
		    "client_p12");
	if (rule->client_cert != NULL && rule->client_key == NULL)
		return gw_cfg_fail(ctx, "client_cert needs client_key");
	if (rule->client_key != NULL && rule->client_cert == NULL)
		return gw_cfg_fail(ctx, "client_key needs client_cert");
	if (!ctx->check_files)
		return CG_OK;
	if (rule->client_p12 != NULL)
		rc = tls_p12_check(ctx, rule);
	if (rc == CG_OK && rule->client_cert != NULL)
		rc = tls_pair_check(ctx, rule);
	if (rc == CG_OK && rule->ca_file != NULL)
		rc = tls_ca_check(ctx, rule);
	return rc;
}

/* -------------------------------------------------------- rule: table */

static const struct gw_cfg_field match_fields[] = {
	{ .key = "profiles", .kind = GW_CFG_LIST, .off = RULE_OFF(profiles),
	  .min = 1, .valid = profile_ref_is_valid,
	  .what = "invalid profile name" },
	{ .key = "protocols", .kind = GW_CFG_LIST, .off = RULE_OFF(protocols),
	  .min = 1, .valid = protocol_is_valid,
	  .what = "expected est, scep, acme or cli, not" },
	{ .key = "san_regex", .kind = GW_CFG_CUSTOM, .fn = rule_san_regex },
};

static const struct gw_cfg_field basic_fields[] = {
	{ .key = "user", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = basic_user },
	{ .key = "password_file", .kind = GW_CFG_FILE, .required = true,
	  .off = RULE_OFF(basic_password_file) },
};

static const struct gw_cfg_field auth_fields[] = {
	{ .key = "basic", .kind = GW_CFG_OBJECT,
	  .sub = basic_fields, .nsub = NELEM(basic_fields) },
};

static const struct gw_cfg_field retry_fields[] = {
	{ .key = "max_attempts", .kind = GW_CFG_U32,
	  .off = RULE_OFF(max_attempts), .min = 1, .max = 1000 },
	{ .key = "initial_backoff_ms", .kind = GW_CFG_U32,
	  .off = RULE_OFF(initial_backoff_ms), .min = 10, .max = 3600000 },
	{ .key = "max_backoff_ms", .kind = GW_CFG_U32,
	  .off = RULE_OFF(max_backoff_ms), .min = 10, .max = 86400000 },
	{ .key = "max_age_s", .kind = GW_CFG_U32,
	  .off = RULE_OFF(max_age_s), .min = 60, .max = 31536000 },
};

static const struct gw_cfg_field rule_fields[] = {
	{ .key = "name", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = rule_name },
	{ .key = "match", .kind = GW_CFG_OBJECT,
	  .sub = match_fields, .nsub = NELEM(match_fields) },
	{ .key = "url", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = rule_url },
	{ .key = "vars", .kind = GW_CFG_CUSTOM, .fn = rule_vars },
	{ .key = "payload", .kind = GW_CFG_CUSTOM, .fn = rule_payload },
	{ .key = "encoding", .kind = GW_CFG_CUSTOM, .fn = rule_encoding },
	{ .key = "content_type", .kind = GW_CFG_CUSTOM,
	  .fn = rule_content_type },
	{ .key = "tls", .kind = GW_CFG_CUSTOM, .fn = gw_cfg_dist_tls },
	{ .key = "auth", .kind = GW_CFG_OBJECT,
	  .sub = auth_fields, .nsub = NELEM(auth_fields) },
	{ .key = "headers", .kind = GW_CFG_CUSTOM, .fn = rule_headers },
	{ .key = "timeout_ms", .kind = GW_CFG_U32,
	  .off = RULE_OFF(timeout_ms), .min = 100, .max = 600000 },
	{ .key = "retry", .kind = GW_CFG_OBJECT,
	  .sub = retry_fields, .nsub = NELEM(retry_fields) },
};

/* ------------------------------------------------ rule: after the walk */

static bool
var_exists(const struct gw_dist_rule *rule, const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < NELEM(builtin_vars); i++)
		if (strlen(builtin_vars[i]) == len &&
		    memcmp(builtin_vars[i], name, len) == 0)
			return true;
	for (i = 0; i < rule->nvars; i++)
		if (strlen(rule->vars[i].name) == len &&
		    memcmp(rule->vars[i].name, name, len) == 0)
			return true;
	return false;
}

/* Every {name} in url is a variable; braces pair up. */
static enum cg_code
url_template_check(struct gw_cfg_ctx *ctx, const struct gw_dist_rule *rule)
{
	const char	*p = rule->url, *close;
	char		 show[GW_CFG_VALUE_SHOW + 8];
	char		 name[DIST_VAR_NAME_MAX + 1];
	size_t		 len;

	for (; *p != '\0'; p++) {
		if (*p == '}')
			return gw_cfg_fail(ctx, "unbalanced '}' in the URL");
		if (*p != '{')
			continue;
		len = strcspn(p + 1, "{}");
		close = p + 1 + len;
		if (*close != '}')
			return gw_cfg_fail(ctx, "unbalanced '{' in the URL");
		if (len == 0)
			return gw_cfg_fail(ctx, "empty placeholder {} in the "
			    "URL");
		if (len > DIST_VAR_NAME_MAX || !var_exists(rule, p + 1, len)) {
			if (len > DIST_VAR_NAME_MAX)
				len = DIST_VAR_NAME_MAX;
			memcpy(name, p + 1, len);
			name[len] = '\0';
			return gw_cfg_fail(ctx, "unknown placeholder {%s}: "
			    "expected serial, profile, rule or a key of vars",
			    gw_cfg_show(name, show, sizeof(show)));
		}
		p = close;
	}
	return CG_OK;
}

static const char *
content_type_default(const struct gw_dist_rule *rule)
{
	if (rule->payload == GW_DIST_PAYLOAD_JSON)
		return "application/json";
	if (rule->encoding == GW_DIST_ENC_PEM)
		return "application/x-pem-file";
	return "application/pkix-cert";
}

/* Checks that need the whole rule; ctx's path names the rule. */
static enum cg_code
rule_finish(struct gw_cfg_ctx *ctx, struct gw_dist_rule *rule)
{
	size_t		 mark;
	enum cg_code	 rc = CG_OK;

	mark = gw_cfg_push_key(ctx, "encoding");
	if (rule->payload == GW_DIST_PAYLOAD_JSON &&
	    rule->encoding != ENC_UNSET)
		rc = gw_cfg_fail(ctx, "payload \"json\" carries the "
		    "certificate as PEM inside the JSON: leave encoding out");
	else if (rule->payload == GW_DIST_PAYLOAD_CHAIN &&
	    rule->encoding == GW_DIST_ENC_DER)
		rc = gw_cfg_fail(ctx, "payload \"chain\" cannot be sent as "
		    "\"der\": use \"pem\" or \"base64\"");
	gw_cfg_pop(ctx, mark);
	if (rc != CG_OK)
		return rc;
	if (rule->encoding == ENC_UNSET)
		rule->encoding = GW_DIST_ENC_BASE64;
	if (rule->content_type == NULL) {
		rule->content_type = cg_strdup(content_type_default(rule));
		if (rule->content_type == NULL)
			return gw_cfg_nomem(ctx);
	}
	mark = gw_cfg_push_key(ctx, "url");
	rc = url_template_check(ctx, rule);
	gw_cfg_pop(ctx, mark);
	if (rc != CG_OK)
		return rc;
	if (rule->max_backoff_ms < rule->initial_backoff_ms) {
		mark = gw_cfg_push_key(ctx, "retry");
		gw_cfg_push_key(ctx, "max_backoff_ms");
		rc = gw_cfg_fail(ctx, "expected at least initial_backoff_ms "
		    "(%u)", rule->initial_backoff_ms);
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

static enum cg_code
rule_one(struct gw_cfg_ctx *ctx, json_t *val, struct gw_dist_rule *rule)
{
	enum cg_code	 rc;

	rule->payload = GW_DIST_PAYLOAD_CERT;
	rule->encoding = ENC_UNSET;
	rule->timeout_ms = DIST_TIMEOUT_DEFAULT;
	rule->max_attempts = DIST_ATTEMPTS_DEFAULT;
	rule->initial_backoff_ms = DIST_BACKOFF_DEFAULT;
	rule->max_backoff_ms = DIST_BACKOFF_MAX_DEFAULT;
	rule->max_age_s = DIST_AGE_DEFAULT;
	rc = gw_cfg_object(ctx, val, rule_fields, NELEM(rule_fields), rule);
	if (rc == CG_OK)
		rc = rule_finish(ctx, rule);
	return rc;
}

/* ------------------------------------------------------- distribution */

static enum cg_code
dist_rules(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_conf	*d = target;
	struct gw_dist_rule	*rule;
	json_t			*rv;
	char			 show[GW_CFG_VALUE_SHOW + 8];
	size_t			 n, i, j, mark, mark2;
	enum cg_code		 rc = CG_OK;

	if (!json_is_array(val))
		return gw_cfg_fail(ctx, "expected an array of rules");
	n = json_array_size(val);
	if (n > DIST_RULES_MAX)
		return gw_cfg_fail(ctx, "expected at most %d rules",
		    DIST_RULES_MAX);
	if (n == 0)
		return CG_OK;
	d->rules = cg_calloc(n, sizeof(*d->rules));
	if (d->rules == NULL)
		return gw_cfg_nomem(ctx);
	json_array_foreach(val, i, rv) {
		mark = gw_cfg_push_index(ctx, i);
		/* Counted first, so a half-filled rule is freed too. */
		rule = &d->rules[d->nrules++];
		rc = rule_one(ctx, rv, rule);
		for (j = 0; rc == CG_OK && j < i; j++) {
			if (strcmp(d->rules[j].name, rule->name) != 0)
				continue;
			mark2 = gw_cfg_push_key(ctx, "name");
			rc = gw_cfg_fail(ctx, "duplicate rule name '%s' (also "
			    "rules[%zu])", gw_cfg_show(rule->name, show,
			    sizeof(show)), j);
			gw_cfg_pop(ctx, mark2);
		}
		gw_cfg_pop(ctx, mark);
		if (rc != CG_OK)
			break;
	}
	return rc;
}

#define DIST_OFF(m)	offsetof(struct gw_dist_conf, m)

static const struct gw_cfg_field dist_fields[] = {
	{ .key = "workers", .kind = GW_CFG_U32, .off = DIST_OFF(workers),
	  .min = 0, .max = DIST_WORKERS_MAX },
	{ .key = "in_flight", .kind = GW_CFG_U32, .off = DIST_OFF(in_flight),
	  .min = 1, .max = DIST_IN_FLIGHT_MAX },
	{ .key = "claim_after_ms", .kind = GW_CFG_U32,
	  .off = DIST_OFF(claim_after_ms), .min = 1000, .max = 86400000 },
	{ .key = "rules", .kind = GW_CFG_CUSTOM, .fn = dist_rules },
};

enum cg_code
gw_cfg_dist(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_dist_conf	*d = &((struct gw_config *)target)->dist;

	d->enabled = true;
	d->workers = DIST_WORKERS_DEFAULT;
	d->in_flight = DIST_IN_FLIGHT_DEFAULT;
	d->claim_after_ms = 60000;
	return gw_cfg_object(ctx, val, dist_fields, NELEM(dist_fields), d);
}

/* ------------------------------------------------- cross-references */

static enum cg_code
rule_profiles_check(struct gw_cfg_ctx *ctx, const struct gw_config *conf,
    const struct gw_dist_rule *rule)
{
	char		 show[GW_CFG_VALUE_SHOW + 8];
	size_t		 i, mark;
	enum cg_code	 rc = CG_OK;

	for (i = 0; i < rule->profiles.n && rc == CG_OK; i++) {
		if (gw_config_profile(conf, rule->profiles.v[i]) != NULL)
			continue;
		mark = gw_cfg_push_key(ctx, "match");
		gw_cfg_push_key(ctx, "profiles");
		gw_cfg_push_index(ctx, i);
		rc = gw_cfg_fail(ctx, "unknown profile '%s' (not in profiles)",
		    gw_cfg_show(rule->profiles.v[i], show, sizeof(show)));
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

enum cg_code
gw_cfg_dist_check(struct gw_cfg_ctx *ctx, const struct gw_config *conf)
{
	size_t		 i, mark, mark2;
	enum cg_code	 rc = CG_OK;

	if (!conf->dist.enabled)
		return CG_OK;
	mark = gw_cfg_push_key(ctx, "distribution");
	/* The queue is what makes a push survive a restart or an outage. */
	if (conf->dist.nrules > 0 && !conf->redis.enabled)
		rc = gw_cfg_fail(ctx, "rules need a \"redis\" section for "
		    "their queue");
	for (i = 0; i < conf->dist.nrules && rc == CG_OK; i++) {
		mark2 = gw_cfg_push_key(ctx, "rules");
		gw_cfg_push_index(ctx, i);
		rc = rule_profiles_check(ctx, conf, &conf->dist.rules[i]);
		gw_cfg_pop(ctx, mark2);
	}
	gw_cfg_pop(ctx, mark);
	return rc;
}

static void
kv_free(struct gw_kv *kv, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		cg_free(kv[i].name);
		cg_free(kv[i].value);
	}
	cg_free(kv);
}

void
gw_cfg_dist_cleanup(struct gw_dist_conf *d)
{
	struct gw_dist_rule	*r;
	size_t			 i;

	for (i = 0; i < d->nrules; i++) {
		r = &d->rules[i];
		cg_free(r->name);
		ca_strlist_cleanup(&r->profiles);
		ca_strlist_cleanup(&r->protocols);
		cg_free(r->san_regex);
		cg_free(r->url);
		kv_free(r->vars, r->nvars);
		cg_free(r->content_type);
		cg_free(r->client_p12);
		cg_free(r->client_p12_password_file);
		cg_free(r->client_cert);
		cg_free(r->client_key);
		cg_free(r->ca_file);
		cg_free(r->basic_user);
		cg_free(r->basic_password_file);
		kv_free(r->headers, r->nheaders);
	}
	cg_free(d->rules);
	memset(d, 0, sizeof(*d));
}
