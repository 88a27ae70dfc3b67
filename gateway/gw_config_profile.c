/*
 * gw_config_profile.c - the "profiles" section of the config file: one
 * struct ca_profile per entry, named with the ca_*_parse() helpers and
 * checked with the ca/ pattern validators, defaults filled in.  What a CSR
 * may hold under a profile is decided in ca/ at issuance, not here.
 */
#include "gw_config_int.h"

#include <stddef.h>
#include <string.h>

#include "certgw/ca.h"

#define PROFILE_NAME_MAX	64	/* [a-z0-9_-]{1,64} */
#define PROFILE_RSA_MIN		2048	/* smallest rsa_min_bits */
#define PROFILE_RSA_MAX		16384	/* largest rsa_min_bits */
#define EMAIL_LOCAL_MAX		64	/* RFC 5321 4.5.3.1.1 */

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Subject attributes a profile allows when it does not say. */
static const char *const subject_default[] = {
	"CN", "O", "OU", "C", "ST", "L", "emailAddress", "serialNumber",
};

/* -------------------------------------------------------------- names */

static bool
key_type_bit(const char *s, uint32_t *bit)
{
	enum ca_key_type	 t;

	if (!ca_key_type_parse(s, &t))
		return false;
	*bit = UINT32_C(1) << t;
	return true;
}

/*
 * "*@corp.example", "*@.corp.example" or "alice@corp.example": a local
 * part ("*" for any) and a domain in ca_dns_pattern syntax.
 */
static bool
email_pattern_is_valid(const char *s)
{
	const char	*at = strrchr(s, '@'), *p;

	if (at == NULL || at == s || (size_t)(at - s) > EMAIL_LOCAL_MAX)
		return false;
	for (p = s; p < at; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("\"(),:;<>@[\\]", *p) != NULL)
			return false;
	}
	return ca_dns_pattern_is_valid(at + 1);
}

static bool
strlist_has(const struct ca_strlist *l, const char *s)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

static enum cg_code
subject_defaults(struct gw_cfg_ctx *ctx, struct ca_profile *p)
{
	size_t	 i;

	ca_strlist_cleanup(&p->subject_allowed);
	for (i = 0; i < NELEM(subject_default); i++)
		if (ca_strlist_add(&p->subject_allowed, subject_default[i],
		    NULL) != CG_OK)
			return gw_cfg_nomem(ctx);
	return CG_OK;
}

/* ----------------------------------------------------------- sections */

static const struct gw_cfg_field san_fields[] = {
	{ .key = "types", .kind = GW_CFG_BITS,
	  .off = offsetof(struct ca_profile, san_types),
	  .bit = ca_san_type_parse, .what = "unknown SAN type" },
	{ .key = "required", .kind = GW_CFG_BOOL,
	  .off = offsetof(struct ca_profile, san_required) },
	{ .key = "dns_patterns", .kind = GW_CFG_LIST,
	  .off = offsetof(struct ca_profile, dns_patterns),
	  .valid = ca_dns_pattern_is_valid, .what = "invalid DNS pattern" },
	{ .key = "ip_networks", .kind = GW_CFG_LIST,
	  .off = offsetof(struct ca_profile, ip_networks),
	  .valid = ca_ip_network_is_valid, .what = "invalid IP network" },
	{ .key = "email_patterns", .kind = GW_CFG_LIST,
	  .off = offsetof(struct ca_profile, email_patterns),
	  .valid = email_pattern_is_valid, .what = "invalid email pattern" },
};

static enum cg_code
san_section(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct ca_profile	*p = target;
	size_t			 mark;
	enum cg_code		 rc;

	rc = gw_cfg_object(ctx, val, san_fields, NELEM(san_fields), p);
	if (rc == CG_OK && p->san_required && p->san_types == 0) {
		/* No certificate could ever be issued. */
		mark = gw_cfg_push_key(ctx, "required");
		rc = gw_cfg_fail(ctx, "a SAN is required but no SAN type is "
		    "allowed");
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

static const struct gw_cfg_field subject_fields[] = {
	{ .key = "allowed", .kind = GW_CFG_LIST,
	  .off = offsetof(struct ca_profile, subject_allowed),
	  .valid = ca_subject_attr_is_valid,
	  .what = "unknown subject attribute" },
	{ .key = "required", .kind = GW_CFG_LIST,
	  .off = offsetof(struct ca_profile, subject_required),
	  .valid = ca_subject_attr_is_valid,
	  .what = "unknown subject attribute" },
};

/* Every required attribute must also be allowed. */
static enum cg_code
subject_check(struct gw_cfg_ctx *ctx, const struct ca_profile *p)
{
	char		 show[GW_CFG_VALUE_SHOW + 8];
	size_t		 i, mark, mark2;
	enum cg_code	 rc = CG_OK;

	for (i = 0; i < p->subject_required.n && rc == CG_OK; i++) {
		if (strlist_has(&p->subject_allowed, p->subject_required.v[i]))
			continue;
		mark = gw_cfg_push_key(ctx, "required");
		mark2 = gw_cfg_push_index(ctx, i);
		rc = gw_cfg_fail(ctx, "'%s' is not in subject.allowed",
		    gw_cfg_show(p->subject_required.v[i], show, sizeof(show)));
		gw_cfg_pop(ctx, mark2);
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

static enum cg_code
subject_section(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct ca_profile	*p = target;
	enum cg_code		 rc;

	rc = gw_cfg_object(ctx, val, subject_fields, NELEM(subject_fields), p);
	if (rc == CG_OK && json_object_get(val, "allowed") == NULL)
		rc = subject_defaults(ctx, p);
	if (rc == CG_OK)
		rc = subject_check(ctx, p);
	return rc;
}

static enum cg_code
approval(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct ca_profile	*p = target;
	const char		*s;

	s = json_is_string(val) ? json_string_value(val) : "";
	if (strcmp(s, "auto") == 0)
		p->manual_approval = false;
	else if (strcmp(s, "manual") == 0)
		p->manual_approval = true;
	else
		return gw_cfg_fail(ctx, "expected \"auto\" or \"manual\"");
	return CG_OK;
}

#define URL_LIST(k, member) { .key = (k), .kind = GW_CFG_LIST,		\
	.off = offsetof(struct ca_profile, member),			\
	.valid = gw_cfg_url_is_valid,					\
	.what = "expected an http or https URL, not" }

static const struct gw_cfg_field profile_fields[] = {
	{ .key = "validity_days", .kind = GW_CFG_U32,
	  .off = offsetof(struct ca_profile, validity_days),
	  .min = 1, .max = CA_VALIDITY_DAYS_MAX, .required = true },
	{ .key = "key_types", .kind = GW_CFG_BITS,
	  .off = offsetof(struct ca_profile, key_types), .min = 1,
	  .bit = key_type_bit, .what = "unknown key type" },
	{ .key = "rsa_min_bits", .kind = GW_CFG_U32,
	  .off = offsetof(struct ca_profile, rsa_min_bits),
	  .min = PROFILE_RSA_MIN, .max = PROFILE_RSA_MAX },
	{ .key = "key_usage", .kind = GW_CFG_BITS,
	  .off = offsetof(struct ca_profile, key_usage),
	  .bit = ca_ku_parse, .what = "unknown key usage" },
	{ .key = "extended_key_usage", .kind = GW_CFG_BITS,
	  .off = offsetof(struct ca_profile, ext_key_usage),
	  .bit = ca_eku_parse, .what = "unknown extended key usage" },
	{ .key = "san", .kind = GW_CFG_CUSTOM, .fn = san_section },
	{ .key = "subject", .kind = GW_CFG_CUSTOM, .fn = subject_section },
	URL_LIST("crl_urls", crl_urls),
	URL_LIST("ocsp_urls", ocsp_urls),
	URL_LIST("ca_issuers_urls", ca_issuers_urls),
	{ .key = "approval", .kind = GW_CFG_CUSTOM, .fn = approval },
	{ .key = "reenroll_allow_changes", .kind = GW_CFG_BOOL,
	  .off = offsetof(struct ca_profile, reenroll_allow_changes) },
	{ .key = "notify", .kind = GW_CFG_CUSTOM, .fn = gw_cfg_profile_notify },
	{ .key = "renew_before_days", .kind = GW_CFG_U32,
	  .off = offsetof(struct ca_profile, renew_before_days),
	  .min = 1, .max = CA_VALIDITY_DAYS_MAX - 1 },
};

/* One profile; ctx's path names it and p is zeroed. */
static enum cg_code
profile_one(struct gw_cfg_ctx *ctx, const char *name, json_t *val,
    void *elem)
{
	struct ca_profile	*p = elem;
	size_t			 mark;
	enum cg_code		 rc;

	if (!gw_cfg_segment_is_valid(name, PROFILE_NAME_MAX))
		return gw_cfg_fail(ctx, "expected a profile name of 1 to %d "
		    "characters from a-z, 0-9, '_' and '-'", PROFILE_NAME_MAX);
	p->name = cg_strdup(name);
	if (p->name == NULL)
		return gw_cfg_nomem(ctx);
	p->key_types = (UINT32_C(1) << CA_KEY__MAX) - 1;
	p->rsa_min_bits = PROFILE_RSA_MIN;
	p->key_usage = CA_KU_DIGITAL_SIGNATURE;
	p->ext_key_usage = 0;
	p->san_types = CA_SAN_DNS | CA_SAN_IP;
	p->san_required = false;
	p->manual_approval = false;
	p->reenroll_allow_changes = false;
	rc = gw_cfg_object(ctx, val, profile_fields, NELEM(profile_fields), p);
	if (rc == CG_OK && json_object_get(val, "subject") == NULL)
		rc = subject_defaults(ctx, p);
	/*
	 * Every certificate with OCSPSigning from this CA may answer for all
	 * of its certificates (RFC 6960 4.2.2.2): only `certgw ocsp-signer
	 * init` makes one, never a profile clients can enroll under.
	 */
	if (rc == CG_OK && (p->ext_key_usage & CA_EKU_OCSP_SIGNING) != 0) {
		mark = gw_cfg_push_key(ctx, "extended_key_usage");
		rc = gw_cfg_fail(ctx, "OCSPSigning is not allowed in a profile: "
		    "any such certificate could sign OCSP answers for this CA "
		    "(use certgw ocsp-signer init)");
		gw_cfg_pop(ctx, mark);
	}
	/* A window as long as the lifetime would be due from issuance. */
	if (rc == CG_OK && p->renew_before_days >= p->validity_days &&
	    p->renew_before_days > 0) {
		mark = gw_cfg_push_key(ctx, "renew_before_days");
		if (p->validity_days < 2)
			rc = gw_cfg_fail(ctx, "profile '%s' is valid for one "
			    "day: leave renew_before_days out", p->name);
		else
			rc = gw_cfg_fail(ctx, "expected an integer between 1 "
			    "and %u (less than validity_days) for profile "
			    "'%s'", p->validity_days - 1, p->name);
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

enum cg_code
gw_cfg_profiles(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_config	*conf = target;
	void			*arr = NULL;
	enum cg_code		 rc;

	/* Stored even on failure: the config's cleanup frees what was read. */
	rc = gw_cfg_named(ctx, val, "profile", 1, GW_CFG_PROFILES_MAX,
	    sizeof(*conf->profiles), &arr, &conf->nprofiles, profile_one);
	conf->profiles = arr;
	return rc;
}
