/*
 * gw_config_acme.c - the "acme" section of the config file (RFC 8555): the
 * server-wide settings (public base URL, nonce key, lifetimes, how the
 * validation authority reaches clients) and the directories, each naming
 * the profile it issues under, the challenges it offers, what its meta
 * object says and how hard it limits clients.  Nothing here talks ACME;
 * the protocol lives in protocols/acme/.
 */
#include "gw_config_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "certgw/ca.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define ACME_NONCE_FILE_DEFAULT	"acme-nonce.key" /* beside the store */
#define ACME_NONCE_LIFE_DEFAULT	3600
#define ACME_ORDER_LIFE_DEFAULT	604800		/* 7 days */
#define ACME_RETRY_DEFAULT	1
#define ACME_HTTP_PORT_DEFAULT	80
#define ACME_ALPN_PORT_DEFAULT	443
#define ACME_VTIMEOUT_DEFAULT	10000
#define ACME_IN_FLIGHT_DEFAULT	256
#define ACME_IN_FLIGHT_MAX	4096
#define ACME_REUSE_DEFAULT	2592000		/* 30 days */
#define ACME_REUSE_MAX		31536000	/* a year */
#define ACME_HOST_MAX		253		/* RFC 1035 name, no dot */
#define ACME_PORT_TEXT_MAX	5		/* "65535" */

static const struct {
	const char	*name;
	unsigned	 bit;
} challenge_names[] = {
	{ "http-01", GW_ACME_CHALL_HTTP01 },
	{ "dns-01", GW_ACME_CHALL_DNS01 },
	{ "tls-alpn-01", GW_ACME_CHALL_TLSALPN01 },
};

/*
 * The resources of a directory are paths below /acme/<name>/, and the
 * default directory's are below /acme/: a directory named like one of them
 * would shadow it (or be shadowed) in the route table.
 */
static const char *const reserved_dirs[] = {
	"directory", "new-nonce", "new-account", "new-order", "revoke-cert",
	"key-change", "renewal-info", "acct", "order", "authz", "chall",
	"cert",
};

/* -------------------------------------------------------------- names */

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static bool
dir_name_is_reserved(const char *s)
{
	size_t	 i;

	for (i = 0; i < NELEM(reserved_dirs); i++)
		if (strcmp(s, reserved_dirs[i]) == 0)
			return true;
	return false;
}

/* ACME profile names go into JSON only: [A-Za-z0-9_.-]{1,64}. */
static bool
acme_profile_name_is_valid(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == GW_CFG_ACME_NAME_MAX)
			return false;
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' &&
		    s[i] != '-')
			return false;
	}
	return i > 0;
}

/* A host name: LDH labels, no wildcard, no leading or trailing dot. */
static bool
dns_name_is_valid(const char *s)
{
	return s[0] != '*' && s[0] != '.' && ca_dns_pattern_is_valid(s);
}

/* A host for a URL: a DNS name, or a dotted IPv4 address. */
static bool
url_host_is_valid(const char *h, size_t len)
{
	struct in_addr	 a4;
	char		 buf[ACME_HOST_MAX + 1];
	size_t		 i;

	if (len == 0 || len > ACME_HOST_MAX)
		return false;
	memcpy(buf, h, len);
	buf[len] = '\0';
	for (i = 0; i < len; i++)
		if (!(buf[i] >= '0' && buf[i] <= '9') && buf[i] != '.')
			return dns_name_is_valid(buf);
	/* All digits and dots: only a real IPv4 address will do. */
	return inet_pton(AF_INET, buf, &a4) == 1;
}

/* "1".."65535", no sign, no leading zero. */
static bool
port_text_is_valid(const char *s, size_t len)
{
	uint64_t	 p;

	if (len == 0 || len > ACME_PORT_TEXT_MAX || s[0] == '0')
		return false;
	return cg_parse_u64(s, len, 65535, &p) && p > 0;
}

/* "[v6]" at s (len bytes up to and including ']'): the address is valid. */
static bool
bracket_v6_is_valid(const char *s, size_t len)
{
	struct in6_addr	 a6;
	char		 v6[INET6_ADDRSTRLEN];

	if (len < 3 || s[0] != '[' || s[len - 1] != ']' ||
	    len - 2 >= sizeof(v6))
		return false;
	memcpy(v6, s + 1, len - 2);
	v6[len - 2] = '\0';
	return inet_pton(AF_INET6, v6, &a6) == 1;
}

/* ------------------------------------------------------ server values */

/*
 * "base_url": the scheme and authority every URL in a directory starts
 * with.  Resources hang below /acme/, so a path here would be ambiguous,
 * and a trailing '/' would double the one each resource path begins with.
 */
static enum cg_code
base_url(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_acme_conf	*a = target;
	const char		*auth, *close, *colon;
	char			*s = NULL;
	size_t			 alen, hlen;
	bool			 ok;
	enum cg_code		 rc;

	rc = gw_cfg_string(ctx, val, GW_CFG_URL_MAX, &s);
	if (rc != CG_OK)
		return rc;
	if (strncmp(s, "http://", 7) == 0) {
		cg_free(s);
		return gw_cfg_fail(ctx, "ACME is served over TLS only "
		    "(RFC 8555 6.1): use https://");
	}
	if (strncmp(s, "https://", 8) != 0 ||
	    strlen(s) != json_string_length(val)) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected https://host[:port]");
	}
	auth = s + 8;
	alen = strcspn(auth, "/?#");
	if (auth[alen] != '\0') {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected no path, query, fragment or "
		    "trailing '/' after the host: resources live below "
		    "/acme/");
	}
	if (auth[0] == '[') {
		close = strchr(auth, ']');
		hlen = close != NULL ? (size_t)(close - auth) + 1 : alen;
		ok = close != NULL && bracket_v6_is_valid(auth, hlen);
	} else {
		colon = strchr(auth, ':');
		hlen = colon != NULL ? (size_t)(colon - auth) : alen;
		ok = url_host_is_valid(auth, hlen);
	}
	/* After the host: nothing, or ':' and a port. */
	if (ok && hlen < alen)
		ok = auth[hlen] == ':' &&
		    port_text_is_valid(auth + hlen + 1, alen - hlen - 1);
	if (!ok) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected https://host[:port] with a "
		    "DNS name, an IPv4 address or an [IPv6] address and a "
		    "port between 1 and 65535");
	}
	cg_free(a->base_url);
	a->base_url = s;
	return CG_OK;
}

/* "ip", "ip:port", "[v6]" or "[v6]:port": addresses only, never names. */
static bool
resolver_is_valid(const char *s)
{
	struct in_addr	 a4;
	const char	*close, *colon;
	char		 v4[INET_ADDRSTRLEN];
	size_t		 len = strlen(s), hlen;

	if (s[0] == '[') {
		close = strchr(s, ']');
		if (close == NULL)
			return false;
		hlen = (size_t)(close - s) + 1;
		if (!bracket_v6_is_valid(s, hlen))
			return false;
	} else {
		colon = strchr(s, ':');
		hlen = colon != NULL ? (size_t)(colon - s) : len;
		if (hlen == 0 || hlen >= sizeof(v4))
			return false;
		memcpy(v4, s, hlen);
		v4[hlen] = '\0';
		if (inet_pton(AF_INET, v4, &a4) != 1)
			return false;
	}
	if (hlen == len)
		return true;
	return s[hlen] == ':' && port_text_is_valid(s + hlen + 1,
	    len - hlen - 1);
}

static enum cg_code
resolver(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_acme_conf	*a = target;
	char			*s = NULL;
	enum cg_code		 rc;

	rc = gw_cfg_string(ctx, val, INET6_ADDRSTRLEN + 8, &s);
	if (rc != CG_OK)
		return rc;
	if (strlen(s) != json_string_length(val) || !resolver_is_valid(s)) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected an IPv4 address or an [IPv6] "
		    "address, with an optional :port between 1 and 65535");
	}
	cg_free(a->resolver);
	a->resolver = s;
	return CG_OK;
}

static enum cg_code
port(struct gw_cfg_ctx *ctx, json_t *val, uint16_t *out)
{
	json_int_t	 v;

	if (!json_is_integer(val))
		return gw_cfg_fail(ctx, "expected a positive integer");
	v = json_integer_value(val);
	if (v < 1 || v > 65535)
		return gw_cfg_fail(ctx, "expected an integer between 1 and "
		    "65535");
	*out = (uint16_t)v;
	return CG_OK;
}

static enum cg_code
http_port(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	return port(ctx, val, &((struct gw_acme_conf *)target)->http_port);
}

static enum cg_code
tls_alpn_port(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	return port(ctx, val,
	    &((struct gw_acme_conf *)target)->tls_alpn_port);
}

/* ---------------------------------------------------- directory values */

/* Shown to clients in meta.profiles: short, one line, "" allowed. */
static enum cg_code
aprof_description(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_acme_profile	*p = target;
	const char		*s;
	char			*copy;
	size_t			 len, i;

	if (!json_is_string(val))
		return gw_cfg_fail(ctx, "expected a string");
	s = json_string_value(val);
	len = json_string_length(val);
	if (len > GW_CFG_ACME_DESC_MAX)
		return gw_cfg_fail(ctx, "expected a string of at most %d bytes",
		    GW_CFG_ACME_DESC_MAX);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return gw_cfg_fail(ctx, "expected no control "
			    "characters");
	copy = cg_strndup(s, len);
	if (copy == NULL)
		return gw_cfg_nomem(ctx);
	cg_free(p->description);
	p->description = copy;
	return CG_OK;
}

static const struct gw_cfg_field aprof_fields[] = {
	{ .key = "profile", .kind = GW_CFG_STRING, .required = true,
	  .off = offsetof(struct gw_acme_profile, profile) },
	{ .key = "description", .kind = GW_CFG_CUSTOM,
	  .fn = aprof_description },
};

static enum cg_code
aprof_one(struct gw_cfg_ctx *ctx, const char *name, json_t *val, void *elem)
{
	struct gw_acme_profile	*p = elem;
	enum cg_code		 rc;

	if (!acme_profile_name_is_valid(name))
		return gw_cfg_fail(ctx, "expected a profile name of 1 to %d "
		    "characters from A-Z, a-z, 0-9, '_', '.' and '-'",
		    GW_CFG_ACME_NAME_MAX);
	p->name = cg_strdup(name);
	if (p->name == NULL)
		return gw_cfg_nomem(ctx);
	rc = gw_cfg_object(ctx, val, aprof_fields, NELEM(aprof_fields), p);
	if (rc == CG_OK && p->description == NULL) {
		p->description = cg_strdup("");
		if (p->description == NULL)
			rc = gw_cfg_nomem(ctx);
	}
	return rc;
}

static enum cg_code
dir_profiles(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_acme_dir	*d = target;
	void			*arr = NULL;
	enum cg_code		 rc;

	/* Stored even on failure: the config's cleanup frees what was read. */
	rc = gw_cfg_named(ctx, val, "profile", 0, GW_CFG_ACME_PROFILES_MAX,
	    sizeof(*d->profiles), &arr, &d->nprofiles, aprof_one);
	d->profiles = arr;
	return rc;
}

/* A list of challenge types, each once: a repeat is a typo to point at. */
static enum cg_code
dir_challenges(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_acme_dir	*d = target;
	const char		*s;
	char			 show[GW_CFG_VALUE_SHOW + 8];
	json_t			*el;
	unsigned		 bits = 0, bit;
	size_t			 i, j, mark;
	enum cg_code		 rc = CG_OK;

	if (!json_is_array(val))
		return gw_cfg_fail(ctx, "expected an array of strings");
	if (json_array_size(val) == 0)
		return gw_cfg_fail(ctx, "expected at least 1 entry: a "
		    "directory without challenges can validate nothing");
	json_array_foreach(val, i, el) {
		mark = gw_cfg_push_index(ctx, i);
		s = json_is_string(el) ? json_string_value(el) : NULL;
		bit = 0;
		for (j = 0; s != NULL && j < NELEM(challenge_names); j++)
			if (strcmp(s, challenge_names[j].name) == 0)
				bit = challenge_names[j].bit;
		if (s == NULL)
			rc = gw_cfg_fail(ctx, "expected a string");
		else if (bit == 0)
			rc = gw_cfg_fail(ctx, "unknown challenge type '%s': "
			    "expected http-01, dns-01 or tls-alpn-01",
			    gw_cfg_show(s, show, sizeof(show)));
		else if (bits & bit)
			rc = gw_cfg_fail(ctx, "duplicate challenge type '%s'",
			    s);
		gw_cfg_pop(ctx, mark);
		if (rc != CG_OK)
			return rc;
		bits |= bit;
	}
	d->challenges = bits;
	return CG_OK;
}

/* terms_of_service and website: shown to clients, so http(s) only. */
static enum cg_code
meta_url(struct gw_cfg_ctx *ctx, json_t *val, char **dst)
{
	char		*s = NULL;
	enum cg_code	 rc;

	rc = gw_cfg_string(ctx, val, GW_CFG_URL_MAX, &s);
	if (rc != CG_OK)
		return rc;
	if (strlen(s) != json_string_length(val) || !gw_cfg_url_is_valid(s)) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected an http or https URL with a "
		    "host, printable ASCII only and no user info");
	}
	cg_free(*dst);
	*dst = s;
	return CG_OK;
}

static enum cg_code
dir_tos(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	return meta_url(ctx, val,
	    &((struct gw_acme_dir *)target)->terms_of_service);
}

static enum cg_code
dir_website(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	return meta_url(ctx, val, &((struct gw_acme_dir *)target)->website);
}

#define DIR_OFF(m)	offsetof(struct gw_acme_dir, m)

/*
 * "ari" once set the renewal window per directory.  The window is now the
 * profile's renew_before_days, so that ARI and `cert list --status
 * update-needed` agree; say where it went instead of ignoring it.
 */
static enum cg_code
dir_ari(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	return gw_cfg_fail(ctx, "the ARI window follows the certificate's "
	    "profile: set profiles.<name>.renew_before_days instead");
}

static const struct gw_cfg_field rate_fields[] = {
	{ .key = "orders_per_account", .kind = GW_CFG_U32,
	  .off = DIR_OFF(limits.orders_per_account), .min = 0,
	  .max = GW_CFG_ACME_RATE_MAX },
	{ .key = "orders_per_ip", .kind = GW_CFG_U32,
	  .off = DIR_OFF(limits.orders_per_ip), .min = 0,
	  .max = GW_CFG_ACME_RATE_MAX },
	{ .key = "accounts_per_ip", .kind = GW_CFG_U32,
	  .off = DIR_OFF(limits.accounts_per_ip), .min = 0,
	  .max = GW_CFG_ACME_RATE_MAX },
	{ .key = "failed_validations", .kind = GW_CFG_U32,
	  .off = DIR_OFF(limits.failed_validations), .min = 0,
	  .max = GW_CFG_ACME_RATE_MAX },
};

static const struct gw_cfg_field dir_fields[] = {
	{ .key = "profile", .kind = GW_CFG_STRING, .required = true,
	  .off = offsetof(struct gw_acme_dir, profile) },
	{ .key = "profiles", .kind = GW_CFG_CUSTOM, .fn = dir_profiles },
	{ .key = "challenges", .kind = GW_CFG_CUSTOM, .fn = dir_challenges },
	{ .key = "eab_required", .kind = GW_CFG_BOOL,
	  .off = DIR_OFF(eab_required) },
	{ .key = "terms_of_service", .kind = GW_CFG_CUSTOM, .fn = dir_tos },
	{ .key = "website", .kind = GW_CFG_CUSTOM, .fn = dir_website },
	{ .key = "caa_identities", .kind = GW_CFG_LIST,
	  .off = DIR_OFF(caa_identities), .valid = dns_name_is_valid,
	  .what = "expected a DNS name, not" },
	{ .key = "caa_check", .kind = GW_CFG_BOOL, .off = DIR_OFF(caa_check) },
	{ .key = "manual_approval", .kind = GW_CFG_BOOL,
	  .off = DIR_OFF(manual_approval) },
	{ .key = "authz_reuse_s", .kind = GW_CFG_U32,
	  .off = DIR_OFF(authz_reuse_s), .min = 0, .max = ACME_REUSE_MAX },
	{ .key = "ari", .kind = GW_CFG_CUSTOM, .fn = dir_ari },
	{ .key = "rate_limits", .kind = GW_CFG_OBJECT,
	  .sub = rate_fields, .nsub = NELEM(rate_fields) },
};

/* Checks that need the whole directory; ctx's path names it. */
static enum cg_code
dir_finish(struct gw_cfg_ctx *ctx, const struct gw_acme_dir *d)
{
	size_t		 mark;
	enum cg_code	 rc = CG_OK;

	if (d->caa_identities.n > GW_CFG_ACME_CAA_MAX) {
		mark = gw_cfg_push_key(ctx, "caa_identities");
		rc = gw_cfg_fail(ctx, "expected at most %d entries",
		    GW_CFG_ACME_CAA_MAX);
		gw_cfg_pop(ctx, mark);
	} else if (d->caa_check && d->caa_identities.n == 0) {
		/* RFC 8659: a CAA record names issuers; we must know ours. */
		mark = gw_cfg_push_key(ctx, "caa_check");
		rc = gw_cfg_fail(ctx, "caa_check needs caa_identities: the "
		    "issuer domains CAA records name for this CA");
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

static enum cg_code
dir_one(struct gw_cfg_ctx *ctx, const char *name, json_t *val, void *elem)
{
	struct gw_acme_dir	*d = elem;
	enum cg_code		 rc;

	if (!gw_cfg_segment_is_valid(name, GW_CFG_ACME_NAME_MAX))
		return gw_cfg_fail(ctx, "expected a directory name of 1 to %d "
		    "characters from a-z, 0-9, '_' and '-'",
		    GW_CFG_ACME_NAME_MAX);
	if (dir_name_is_reserved(name))
		return gw_cfg_fail(ctx, "'%s' is the name of an ACME resource "
		    "and cannot be a directory name", name);
	d->name = cg_strdup(name);
	if (d->name == NULL)
		return gw_cfg_nomem(ctx);
	d->challenges = GW_ACME_CHALL_ALL;
	d->authz_reuse_s = ACME_REUSE_DEFAULT;
	rc = gw_cfg_object(ctx, val, dir_fields, NELEM(dir_fields), d);
	if (rc == CG_OK)
		rc = dir_finish(ctx, d);
	return rc;
}

static enum cg_code
acme_dirs(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_acme_conf	*a = target;
	void			*arr = NULL;
	enum cg_code		 rc;

	/* Counted here: gw_cfg_named() would say "directorys". */
	if (json_is_object(val) && json_object_size(val) > GW_CFG_ACME_DIRS_MAX)
		return gw_cfg_fail(ctx, "expected at most %d directories",
		    GW_CFG_ACME_DIRS_MAX);
	/* Stored even on failure: the config's cleanup frees what was read. */
	rc = gw_cfg_named(ctx, val, "directory", 1, GW_CFG_ACME_DIRS_MAX,
	    sizeof(*a->dirs), &arr, &a->ndirs, dir_one);
	a->dirs = arr;
	return rc;
}

/* ------------------------------------------------------------ section */

#define ACME_OFF(m)	offsetof(struct gw_acme_conf, m)

static const struct gw_cfg_field validation_fields[] = {
	{ .key = "http_port", .kind = GW_CFG_CUSTOM, .fn = http_port },
	{ .key = "tls_alpn_port", .kind = GW_CFG_CUSTOM, .fn = tls_alpn_port },
	{ .key = "resolver", .kind = GW_CFG_CUSTOM, .fn = resolver },
	{ .key = "timeout_ms", .kind = GW_CFG_U32,
	  .off = ACME_OFF(validation_timeout_ms), .min = 100, .max = 120000 },
	{ .key = "in_flight", .kind = GW_CFG_U32,
	  .off = ACME_OFF(validation_in_flight), .min = 1,
	  .max = ACME_IN_FLIGHT_MAX },
};

static const struct gw_cfg_field acme_fields[] = {
	{ .key = "base_url", .kind = GW_CFG_CUSTOM, .fn = base_url },
	{ .key = "nonce_key_file", .kind = GW_CFG_DBFILE,
	  .off = ACME_OFF(nonce_key_file) },
	{ .key = "nonce_lifetime_s", .kind = GW_CFG_U32,
	  .off = ACME_OFF(nonce_lifetime_s), .min = 60, .max = 86400 },
	{ .key = "order_lifetime_s", .kind = GW_CFG_U32,
	  .off = ACME_OFF(order_lifetime_s), .min = 60, .max = 2592000 },
	{ .key = "retry_after_s", .kind = GW_CFG_U32,
	  .off = ACME_OFF(retry_after_s), .min = 0, .max = 3600 },
	{ .key = "validation", .kind = GW_CFG_OBJECT,
	  .sub = validation_fields, .nsub = NELEM(validation_fields) },
	{ .key = "directories", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = acme_dirs },
};

enum cg_code
gw_cfg_acme(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_acme_conf	*a = &((struct gw_config *)target)->acme;

	a->enabled = true;
	a->nonce_lifetime_s = ACME_NONCE_LIFE_DEFAULT;
	a->order_lifetime_s = ACME_ORDER_LIFE_DEFAULT;
	a->retry_after_s = ACME_RETRY_DEFAULT;
	a->http_port = ACME_HTTP_PORT_DEFAULT;
	a->tls_alpn_port = ACME_ALPN_PORT_DEFAULT;
	a->validation_timeout_ms = ACME_VTIMEOUT_DEFAULT;
	a->validation_in_flight = ACME_IN_FLIGHT_DEFAULT;
	return gw_cfg_object(ctx, val, acme_fields, NELEM(acme_fields), a);
}

/* ------------------------------------------------- cross-references */

/*
 * A CA profile an ACME name issues under: it exists, and it takes the SAN
 * types ACME identifiers become (RFC 8555 dns, RFC 8738 ip).  ctx's path
 * names the "profile" key.
 */
static enum cg_code
profile_check(struct gw_cfg_ctx *ctx, const struct gw_config *conf,
    const char *name)
{
	const struct ca_profile	*p;
	char			 show[GW_CFG_VALUE_SHOW + 8];

	p = gw_config_profile(conf, name);
	if (p == NULL)
		return gw_cfg_fail(ctx, "unknown profile '%s' (not in "
		    "profiles)", gw_cfg_show(name, show, sizeof(show)));
	if (!(p->san_types & (CA_SAN_DNS | CA_SAN_IP)))
		return gw_cfg_fail(ctx, "profile '%s' allows neither dns nor "
		    "ip SANs (san.types), which is what ACME identifiers "
		    "become",
		    gw_cfg_show(name, show, sizeof(show)));
	return CG_OK;
}

static enum cg_code
dir_check(struct gw_cfg_ctx *ctx, const struct gw_config *conf,
    const struct gw_acme_dir *d)
{
	size_t		 i, mark;
	enum cg_code	 rc;

	mark = gw_cfg_push_key(ctx, "profile");
	rc = profile_check(ctx, conf, d->profile);
	gw_cfg_pop(ctx, mark);
	for (i = 0; i < d->nprofiles && rc == CG_OK; i++) {
		mark = gw_cfg_push_key(ctx, "profiles");
		gw_cfg_push_key(ctx, d->profiles[i].name);
		gw_cfg_push_key(ctx, "profile");
		rc = profile_check(ctx, conf, d->profiles[i].profile);
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

/*
 * The nonce key file: by default beside the store.  It need not exist (the
 * server makes it), but what is there must be a file it can replace.
 */
static enum cg_code
nonce_file_finish(struct gw_cfg_ctx *ctx, struct gw_config *conf)
{
	struct gw_acme_conf	*a = &conf->acme;
	struct stat		 st;
	const char		*slash;
	char			 ebuf[128];
	size_t			 n;

	if (a->nonce_key_file == NULL) {
		slash = strrchr(conf->store_path, '/');
		n = slash != NULL ? (size_t)(slash - conf->store_path) : 0;
		a->nonce_key_file = slash == NULL ?
		    cg_strdup(ACME_NONCE_FILE_DEFAULT) :
		    cg_asprintf("%.*s/%s", (int)n, conf->store_path,
		    ACME_NONCE_FILE_DEFAULT);
		if (a->nonce_key_file == NULL)
			return gw_cfg_nomem(ctx);
	}
	if (strcmp(a->nonce_key_file, conf->store_path) == 0)
		return gw_cfg_fail(ctx, "the store file cannot be the nonce "
		    "key file");
	if (!ctx->check_files)
		return CG_OK;
	if (stat(a->nonce_key_file, &st) != 0) {
		if (errno == ENOENT)
			return CG_OK;
		gw_cfg_fail(ctx, "cannot use file: %s",
		    strerror_r(errno, ebuf, sizeof(ebuf)));
	} else if (!S_ISREG(st.st_mode)) {
		gw_cfg_fail(ctx, "cannot use file: not a regular file");
	} else {
		return CG_OK;
	}
	cg_err_detail(ctx->err, "file=%s", a->nonce_key_file);
	return CG_EINVAL;
}

enum cg_code
gw_cfg_acme_check(struct gw_cfg_ctx *ctx, struct gw_config *conf)
{
	size_t		 i, mark, mark2;
	enum cg_code	 rc = CG_OK;

	if (!conf->acme.enabled)
		return CG_OK;
	mark = gw_cfg_push_key(ctx, "acme");
	for (i = 0; i < conf->acme.ndirs && rc == CG_OK; i++) {
		mark2 = gw_cfg_push_key(ctx, "directories");
		gw_cfg_push_key(ctx, conf->acme.dirs[i].name);
		rc = dir_check(ctx, conf, &conf->acme.dirs[i]);
		gw_cfg_pop(ctx, mark2);
	}
	if (rc == CG_OK) {
		mark2 = gw_cfg_push_key(ctx, "nonce_key_file");
		rc = nonce_file_finish(ctx, conf);
		gw_cfg_pop(ctx, mark2);
	}
	gw_cfg_pop(ctx, mark);
	return rc;
}

void
gw_cfg_acme_cleanup(struct gw_acme_conf *a)
{
	struct gw_acme_dir	*d;
	size_t			 i, j;

	cg_free(a->base_url);
	cg_free(a->nonce_key_file);
	cg_free(a->resolver);
	for (i = 0; i < a->ndirs; i++) {
		d = &a->dirs[i];
		cg_free(d->name);
		cg_free(d->profile);
		for (j = 0; j < d->nprofiles; j++) {
			cg_free(d->profiles[j].name);
			cg_free(d->profiles[j].profile);
			cg_free(d->profiles[j].description);
		}
		cg_free(d->profiles);
		cg_free(d->terms_of_service);
		cg_free(d->website);
		ca_strlist_cleanup(&d->caa_identities);
	}
	cg_free(a->dirs);
	memset(a, 0, sizeof(*a));
}
