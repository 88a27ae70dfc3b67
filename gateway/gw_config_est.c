/*
 * gw_config_est.c - the "est" section of the config file (RFC 7030): Basic
 * users with their password hashes, and labels, each naming the profile it
 * issues under, how clients authenticate and what serverkeygen makes.
 * Passwords are never checked here, only the shape of their hashes; the
 * EST protocol itself lives in protocols/est/.
 */
#include "gw_config_int.h"

#include <stddef.h>
#include <string.h>

#include "certgw/ca.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define EST_RETRY_DEFAULT	60	/* Retry-After seconds on 202 */

/* What each serverkeygen key type is, in profile terms. */
static const struct est_key {
	const char	*name;		/* as written in the file */
	enum ca_key_type type;		/* the profile's key_types bit */
	uint32_t	 rsa_bits;	/* RSA modulus, or 0 */
} est_keys[CA_INIT__MAX] = {
	[CA_INIT_EC_P256] = { "ec-p256", CA_KEY_EC_P256, 0 },
	[CA_INIT_EC_P384] = { "ec-p384", CA_KEY_EC_P384, 0 },
	[CA_INIT_RSA_2048] = { "rsa-2048", CA_KEY_RSA, 2048 },
	[CA_INIT_RSA_3072] = { "rsa-3072", CA_KEY_RSA, 3072 },
	[CA_INIT_RSA_4096] = { "rsa-4096", CA_KEY_RSA, 4096 },
};

/* -------------------------------------------------------------- names */

/* Basic user names: [A-Za-z0-9._-]{1,64} (no ':' per RFC 7617 2). */
static bool
user_name_is_valid(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == GW_CFG_EST_NAME_MAX)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '_' || s[i] == '-'))
			return false;
	}
	return i > 0;
}

static bool
auth_bit(const char *s, uint32_t *bit)
{
	if (strcmp(s, "basic") == 0)
		*bit = GW_EST_AUTH_BASIC;
	else if (strcmp(s, "cert") == 0)
		*bit = GW_EST_AUTH_CERT;
	else
		return false;
	return true;
}

/* ------------------------------------------------------------- users */

static enum cg_code
password_hash(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_est_user	*u = target;
	char			*s = NULL;
	enum cg_code		 rc;

	rc = gw_cfg_string(ctx, val, CG_PASSWD_HASH_MAX, &s);
	if (rc != CG_OK)
		return rc;
	/* The hash is not shown: it is a secret's close relative. */
	if (!cg_passwd_hash_is_valid(s)) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected a hash made by certgw passwd "
		    "(pbkdf2-sha256$iterations$salt$key)");
	}
	cg_free(u->password_hash);
	u->password_hash = s;
	return CG_OK;
}

static const struct gw_cfg_field user_fields[] = {
	{ .key = "password_hash", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = password_hash },
};

static enum cg_code
user_one(struct gw_cfg_ctx *ctx, const char *name, json_t *val, void *elem)
{
	struct gw_est_user	*u = elem;

	if (!user_name_is_valid(name))
		return gw_cfg_fail(ctx, "expected a user name of 1 to %d "
		    "characters from A-Z, a-z, 0-9, '.', '_' and '-'",
		    GW_CFG_EST_NAME_MAX);
	u->name = cg_strdup(name);
	if (u->name == NULL)
		return gw_cfg_nomem(ctx);
	return gw_cfg_object(ctx, val, user_fields, NELEM(user_fields), u);
}

static enum cg_code
est_users(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_est_conf	*est = target;
	void			*arr = NULL;
	enum cg_code		 rc;

	/* Stored even on failure: the config's cleanup frees what was read. */
	rc = gw_cfg_named(ctx, val, "user", 0, GW_CFG_EST_USERS_MAX,
	    sizeof(*est->users), &arr, &est->nusers, user_one);
	est->users = arr;
	return rc;
}

/* ------------------------------------------------------------ labels */

static enum cg_code
label_keygen(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_est_label	*l = target;

	if (!json_is_string(val) ||
	    !ca_init_key_parse(json_string_value(val), &l->serverkeygen_key))
		return gw_cfg_fail(ctx, "expected one of ec-p256, ec-p384, "
		    "rsa-2048, rsa-3072, rsa-4096");
	return CG_OK;
}

#define LABEL_OFF(m)	offsetof(struct gw_est_label, m)

static const struct gw_cfg_field label_fields[] = {
	{ .key = "profile", .kind = GW_CFG_STRING, .required = true,
	  .off = offsetof(struct gw_est_label, profile) },
	{ .key = "auth", .kind = GW_CFG_BITS, .off = LABEL_OFF(auth),
	  .min = 1, .bit = auth_bit,
	  .what = "unknown auth method" },
	{ .key = "users", .kind = GW_CFG_LIST, .off = LABEL_OFF(users),
	  .valid = user_name_is_valid, .what = "invalid user name" },
	{ .key = "client_ca", .kind = GW_CFG_FILE,
	  .off = LABEL_OFF(client_ca_file) },
	{ .key = "require_tls_unique", .kind = GW_CFG_BOOL,
	  .off = LABEL_OFF(require_tls_unique) },
	{ .key = "serverkeygen_key", .kind = GW_CFG_CUSTOM,
	  .fn = label_keygen },
	{ .key = "retry_after_s", .kind = GW_CFG_U32,
	  .off = LABEL_OFF(retry_after_s), .min = 1,
	  .max = GW_CFG_EST_RETRY_MAX },
};

static enum cg_code
label_one(struct gw_cfg_ctx *ctx, const char *name, json_t *val, void *elem)
{
	struct gw_est_label	*l = elem;

	if (!gw_cfg_segment_is_valid(name, GW_CFG_EST_NAME_MAX))
		return gw_cfg_fail(ctx, "expected a label name of 1 to %d "
		    "characters from a-z, 0-9, '_' and '-'",
		    GW_CFG_EST_NAME_MAX);
	l->name = cg_strdup(name);
	if (l->name == NULL)
		return gw_cfg_nomem(ctx);
	l->auth = GW_EST_AUTH_BASIC | GW_EST_AUTH_CERT;
	l->require_tls_unique = false;
	l->serverkeygen_key = CA_INIT_EC_P256;
	l->retry_after_s = EST_RETRY_DEFAULT;
	return gw_cfg_object(ctx, val, label_fields, NELEM(label_fields), l);
}

static enum cg_code
est_labels(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_est_conf	*est = target;
	void			*arr = NULL;
	enum cg_code		 rc;

	/* Stored even on failure: the config's cleanup frees what was read. */
	rc = gw_cfg_named(ctx, val, "label", 1, GW_CFG_EST_LABELS_MAX,
	    sizeof(*est->labels), &arr, &est->nlabels, label_one);
	est->labels = arr;
	return rc;
}

static const struct gw_cfg_field est_fields[] = {
	{ .key = "users", .kind = GW_CFG_CUSTOM, .fn = est_users },
	{ .key = "labels", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = est_labels },
};

enum cg_code
gw_cfg_est(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_config	*conf = target;

	conf->est.enabled = true;
	return gw_cfg_object(ctx, val, est_fields, NELEM(est_fields),
	    &conf->est);
}

/* ------------------------------------------------- cross-references */

static bool
user_exists(const struct gw_est_conf *est, const char *name)
{
	size_t	 i;

	for (i = 0; i < est->nusers; i++)
		if (strcmp(est->users[i].name, name) == 0)
			return true;
	return false;
}

/* The label's users all exist in est.users; ctx's path names the label. */
static enum cg_code
label_users_check(struct gw_cfg_ctx *ctx, const struct gw_est_conf *est,
    const struct gw_est_label *l)
{
	char		 show[GW_CFG_VALUE_SHOW + 8];
	size_t		 i, mark, mark2;
	enum cg_code	 rc = CG_OK;

	for (i = 0; i < l->users.n && rc == CG_OK; i++) {
		if (user_exists(est, l->users.v[i]))
			continue;
		mark = gw_cfg_push_key(ctx, "users");
		mark2 = gw_cfg_push_index(ctx, i);
		rc = gw_cfg_fail(ctx, "unknown user '%s' (not in est.users)",
		    gw_cfg_show(l->users.v[i], show, sizeof(show)));
		gw_cfg_pop(ctx, mark2);
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

/* serverkeygen must make a key the label's own profile would accept. */
static enum cg_code
label_keygen_check(struct gw_cfg_ctx *ctx, const struct gw_est_label *l,
    const struct ca_profile *p)
{
	const struct est_key	*k = &est_keys[l->serverkeygen_key];
	char			 show[GW_CFG_VALUE_SHOW + 8];
	size_t			 mark;
	enum cg_code		 rc = CG_OK;

	mark = gw_cfg_push_key(ctx, "serverkeygen_key");
	if (!(p->key_types & (UINT32_C(1) << k->type)))
		rc = gw_cfg_fail(ctx, "key type '%s' is not allowed by "
		    "profile '%s'", k->name,
		    gw_cfg_show(p->name, show, sizeof(show)));
	else if (k->rsa_bits > 0 && k->rsa_bits < p->rsa_min_bits)
		rc = gw_cfg_fail(ctx, "key type '%s' is not allowed by "
		    "profile '%s' (rsa_min_bits %u)", k->name,
		    gw_cfg_show(p->name, show, sizeof(show)), p->rsa_min_bits);
	gw_cfg_pop(ctx, mark);
	return rc;
}

static enum cg_code
label_check(struct gw_cfg_ctx *ctx, const struct gw_config *conf,
    const struct gw_est_label *l)
{
	const struct ca_profile	*p;
	char			 show[GW_CFG_VALUE_SHOW + 8];
	size_t			 mark;
	enum cg_code		 rc;

	p = gw_config_profile(conf, l->profile);
	if (p == NULL) {
		mark = gw_cfg_push_key(ctx, "profile");
		rc = gw_cfg_fail(ctx, "unknown profile '%s' (not in profiles)",
		    gw_cfg_show(l->profile, show, sizeof(show)));
		gw_cfg_pop(ctx, mark);
		return rc;
	}
	rc = label_users_check(ctx, &conf->est, l);
	if (rc == CG_OK)
		rc = label_keygen_check(ctx, l, p);
	return rc;
}

enum cg_code
gw_cfg_est_check(struct gw_cfg_ctx *ctx, const struct gw_config *conf)
{
	size_t		 i, mark;
	enum cg_code	 rc = CG_OK;

	if (!conf->est.enabled)
		return CG_OK;
	for (i = 0; i < conf->est.nlabels && rc == CG_OK; i++) {
		mark = gw_cfg_push_key(ctx, "est");
		gw_cfg_push_key(ctx, "labels");
		gw_cfg_push_key(ctx, conf->est.labels[i].name);
		rc = label_check(ctx, conf, &conf->est.labels[i]);
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

void
gw_cfg_est_cleanup(struct gw_est_conf *est)
{
	size_t	 i;

	for (i = 0; i < est->nusers; i++) {
		cg_free(est->users[i].name);
		cg_free(est->users[i].password_hash);
	}
	cg_free(est->users);
	for (i = 0; i < est->nlabels; i++) {
		cg_free(est->labels[i].name);
		cg_free(est->labels[i].profile);
		ca_strlist_cleanup(&est->labels[i].users);
		cg_free(est->labels[i].client_ca_file);
	}
	cg_free(est->labels);
	memset(est, 0, sizeof(*est));
}
