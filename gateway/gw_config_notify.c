/*
 * gw_config_notify.c - the "notifications" section of the config file
 * (when the scheduler runs and the channels: webhooks and SMTP e-mail),
 * the "notify" object of a profile (when its certificates are due, how
 * often a holder is told, on which channels), and the template and
 * address rules both of them and gateway/gw_notify.c share.  A channel's
 * "tls" is a distribution rule's "tls", read by the same parser
 * (gw_cfg_dist_tls) into the same struct.  Nothing here sends anything.
 */
#include "gw_config_int.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "certgw/notify.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define RUN_AT_DEFAULT		(6 * 60)	/* 06:00 UTC */
#define USER_MAX		128		/* SMTP AUTH user name */
#define VAR_SHOW_MAX		32		/* a placeholder shown */

static const char *const type_names[GW_NOTIFY__MAX] = {
	[GW_NOTIFY_WEBHOOK] = "webhook",
	[GW_NOTIFY_EMAIL] = "email",
};

static const char *const var_names[] = {
	"subject", "not_after", "days_left", "serial", "holder", "profile",
};

#define SUBJECT_DEFAULT \
	"Certificate {serial} expires in {days_left} days"
#define BODY_DEFAULT \
	"The certificate {serial} of {holder}\n" \
	"  subject:   {subject}\n" \
	"  profile:   {profile}\n" \
	"  not after: {not_after}\n" \
	"expires in {days_left} days.  Renew it before then.\n"

/* ------------------------------------------------------------ templates */

/* The value of placeholder name (len bytes), or NULL when unknown. */
static const char *
var_value(const struct gw_notify_vars *v, const char *name, size_t len)
{
	const char *const vals[] = { v->subject, v->not_after, v->days_left,
	    v->serial, v->holder, v->profile };
	size_t		 i;

	for (i = 0; i < NELEM(var_names); i++)
		if (strlen(var_names[i]) == len &&
		    memcmp(var_names[i], name, len) == 0)
			return vals[i] != NULL ? vals[i] : "";
	return NULL;
}

bool
gw_notify_template_check(const char *t, char *why, size_t whylen)
{
	static const struct gw_notify_vars none = { 0 };
	const char	*p, *close;
	char		 name[VAR_SHOW_MAX + 1];
	size_t		 len;

	for (p = t; *p != '\0'; p++) {
		if (*p == '}') {
			snprintf(why, whylen, "unbalanced '}'");
			return false;
		}
		if (*p != '{')
			continue;
		len = strcspn(p + 1, "{}");
		close = p + 1 + len;
		if (*close != '}') {
			snprintf(why, whylen, "unbalanced '{'");
			return false;
		}
		if (var_value(&none, p + 1, len) == NULL) {
			if (len > VAR_SHOW_MAX)
				len = VAR_SHOW_MAX;
			memcpy(name, p + 1, len);
			name[len] = '\0';
			gw_cfg_render(name, len, VAR_SHOW_MAX, name,
			    sizeof(name));
			snprintf(why, whylen, "unknown variable {%s}: expected "
			    "subject, not_after, days_left, serial, holder or "
			    "profile", name);
			return false;
		}
		p = close;
	}
	return true;
}

enum cg_code
gw_notify_expand(const char *t, const struct gw_notify_vars *v,
    struct cg_buf *out, struct cg_err *err)
{
	const char	*p = t, *val;
	size_t		 lit, len;
	enum cg_code	 rc = CG_OK;

	while (rc == CG_OK && *p != '\0') {
		lit = strcspn(p, "{");
		if (lit > 0)
			rc = cg_buf_add(out, p, lit, err);
		p += lit;
		if (rc != CG_OK || *p == '\0')
			break;
		len = strcspn(p + 1, "{}");
		val = p[1 + len] == '}' ? var_value(v, p + 1, len) : NULL;
		if (val == NULL)
			return cg_err_set(err, CG_EINVAL, "notify: bad "
			    "template placeholder");
		rc = cg_buf_addstr(out, val, err);
		p += len + 2;
	}
	return rc;
}

bool
gw_notify_addr_is_valid(const char *s)
{
	const char	*at, *p;
	size_t		 len;

	len = strnlen(s, GW_NOTIFY_ADDR_MAX + 1);
	at = strrchr(s, '@');
	if (len > GW_NOTIFY_ADDR_MAX || at == NULL || at == s ||
	    at[1] == '\0' || at[1] == '.' || at[1] == '-')
		return false;
	for (p = s; p < at; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("\"(),:;<>@[\\]", *p) != NULL)
			return false;
	for (p = at + 1; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return false;
		if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
			return false;
	}
	return true;
}

const struct gw_notify_channel *
gw_notify_channel_find(const struct gw_notify_conf *nc, const char *ref)
{
	size_t	 i;

	if (nc == NULL || ref == NULL)
		return NULL;
	for (i = 0; i < nc->nchannels; i++)
		if (strcmp(nc->channels[i].ref, ref) == 0)
			return &nc->channels[i];
	return NULL;
}

/* ------------------------------------------------------------- values */

/* "smtp://host[:port][/helo-domain]" or smtps://; no user info. */
static bool
smtp_url_is_valid(const char *s)
{
	const char	*p;
	size_t		 host = 0;

	if (strncmp(s, "smtp://", 7) == 0)
		p = s + 7;
	else if (strncmp(s, "smtps://", 8) == 0)
		p = s + 8;
	else
		return false;
	if (*p == '[') {
		for (p++; *p != ']'; p++, host++)
			if (!((*p >= '0' && *p <= '9') ||
			    (*p >= 'a' && *p <= 'f') ||
			    (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
				return false;
		p++;
	} else {
		for (; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.';
		    p++, host++)
			;
	}
	if (host == 0 || host > 253)
		return false;
	if (*p == ':') {
		for (p++, host = 0; *p >= '0' && *p <= '9'; p++, host++)
			;
		if (host == 0 || host > 5)
			return false;
	}
	if (*p == '/')
		for (p++; (*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
		    *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.'; p++)
			;
	return *p == '\0';
}

static enum cg_code
channel_type(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_channel	*ch = target;
	const char			*s;
	int				 i;

	s = json_is_string(val) ? json_string_value(val) : "";
	for (i = 0; i < GW_NOTIFY__MAX; i++)
		if (strcmp(s, type_names[i]) == 0)
			break;
	if (i == GW_NOTIFY__MAX)
		return gw_cfg_fail(ctx, "expected \"webhook\" or \"email\"");
	ch->type = (enum gw_notify_type)i;
	return CG_OK;
}

static enum cg_code
channel_url(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_channel	*ch = target;
	char				*s = NULL;
	enum cg_code			 rc;

	rc = gw_cfg_string(ctx, val, GW_CFG_URL_MAX, &s);
	if (rc != CG_OK)
		return rc;
	/* The payload names a certificate and its holder: never in clear. */
	if (strncmp(s, "https://", 8) != 0 || !gw_cfg_url_is_valid(s)) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected an https:// URL");
	}
	cg_free(ch->url);
	ch->url = s;
	return CG_OK;
}

static enum cg_code
channel_smtp_url(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_channel	*ch = target;
	char				*s = NULL;
	enum cg_code			 rc;

	rc = gw_cfg_string(ctx, val, GW_CFG_URL_MAX, &s);
	if (rc != CG_OK)
		return rc;
	if (!smtp_url_is_valid(s)) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected smtp://host[:port] or "
		    "smtps://host[:port]");
	}
	cg_free(ch->smtp_url);
	ch->smtp_url = s;
	return CG_OK;
}

static enum cg_code
channel_from(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_channel	*ch = target;
	char				*s = NULL;
	enum cg_code			 rc;

	rc = gw_cfg_string(ctx, val, GW_NOTIFY_ADDR_MAX + 1, &s);
	if (rc == CG_OK && !gw_notify_addr_is_valid(s))
		rc = gw_cfg_fail(ctx, "expected an e-mail address "
		    "(local@domain)");
	if (rc != CG_OK) {
		cg_free(s);
		return rc;
	}
	cg_free(ch->from);
	ch->from = s;
	return CG_OK;
}

static enum cg_code
template_value(struct gw_cfg_ctx *ctx, json_t *val, size_t max,
    bool one_line, char **outp)
{
	char		*s = NULL, why[160];
	enum cg_code	 rc;

	rc = gw_cfg_string(ctx, val, max, &s);
	if (rc != CG_OK)
		return rc;
	if (one_line && strpbrk(s, "\r\n") != NULL)
		rc = gw_cfg_fail(ctx, "expected one line");
	else if (strlen(s) != json_string_length(val))
		rc = gw_cfg_fail(ctx, "expected no NUL characters");
	else if (!gw_notify_template_check(s, why, sizeof(why)))
		rc = gw_cfg_fail(ctx, "%s", why);
	if (rc != CG_OK) {
		cg_free(s);
		return rc;
	}
	cg_free(*outp);
	*outp = s;
	return CG_OK;
}

static enum cg_code
channel_subject(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_channel	*ch = target;

	return template_value(ctx, val, GW_NOTIFY_SUBJECT_MAX, true,
	    &ch->subject);
}

static enum cg_code
channel_body(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_channel	*ch = target;

	return template_value(ctx, val, GW_NOTIFY_BODY_MAX, false, &ch->body);
}

static enum cg_code
channel_username(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_channel	*ch = target;
	char				*s = NULL;
	size_t				 i;
	enum cg_code			 rc;

	rc = gw_cfg_string(ctx, val, USER_MAX, &s);
	if (rc != CG_OK)
		return rc;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			break;
	if (s[i] != '\0' || i != json_string_length(val)) {
		cg_free(s);
		return gw_cfg_fail(ctx, "expected no control characters");
	}
	cg_free(ch->username);
	ch->username = s;
	return CG_OK;
}

static enum cg_code
channel_tls(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_channel	*ch = target;

	return gw_cfg_dist_tls(ctx, val, &ch->tls);
}

#define CH_OFF(m)	offsetof(struct gw_notify_channel, m)

static const struct gw_cfg_field channel_fields[] = {
	{ .key = "type", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = channel_type },
	{ .key = "url", .kind = GW_CFG_CUSTOM, .fn = channel_url },
	{ .key = "smtp_url", .kind = GW_CFG_CUSTOM, .fn = channel_smtp_url },
	{ .key = "from", .kind = GW_CFG_CUSTOM, .fn = channel_from },
	{ .key = "to", .kind = GW_CFG_LIST, .off = CH_OFF(to), .min = 1,
	  .valid = gw_notify_addr_is_valid,
	  .what = "expected an e-mail address, not" },
	{ .key = "subject", .kind = GW_CFG_CUSTOM, .fn = channel_subject },
	{ .key = "body", .kind = GW_CFG_CUSTOM, .fn = channel_body },
	{ .key = "username", .kind = GW_CFG_CUSTOM, .fn = channel_username },
	{ .key = "password_file", .kind = GW_CFG_FILE,
	  .off = CH_OFF(password_file) },
	{ .key = "starttls", .kind = GW_CFG_BOOL, .off = CH_OFF(starttls) },
	{ .key = "tls", .kind = GW_CFG_CUSTOM, .fn = channel_tls },
	{ .key = "timeout_ms", .kind = GW_CFG_U32,
	  .off = CH_OFF(tls.timeout_ms), .min = 100, .max = 600000 },
};

/* Keys that belong to the other type; ctx's path names the channel. */
static enum cg_code
channel_keys_check(struct gw_cfg_ctx *ctx, json_t *val,
    const struct gw_notify_channel *ch)
{
	static const char *const email_only[] = { "smtp_url", "from", "to",
	    "subject", "body", "username", "password_file", "starttls" };
	const char	*other = ch->type == GW_NOTIFY_WEBHOOK ? "email" :
			    "webhook";
	size_t		 i, mark;
	enum cg_code	 rc = CG_OK;

	if (ch->type == GW_NOTIFY_WEBHOOK) {
		for (i = 0; i < NELEM(email_only) && rc == CG_OK; i++) {
			if (json_object_get(val, email_only[i]) == NULL)
				continue;
			mark = gw_cfg_push_key(ctx, email_only[i]);
			rc = gw_cfg_fail(ctx, "only for %s channels", other);
			gw_cfg_pop(ctx, mark);
		}
	} else if (json_object_get(val, "url") != NULL) {
		mark = gw_cfg_push_key(ctx, "url");
		rc = gw_cfg_fail(ctx, "only for %s channels (an email channel "
		    "has smtp_url)", other);
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

static enum cg_code
channel_finish(struct gw_cfg_ctx *ctx, json_t *val,
    struct gw_notify_channel *ch)
{
	enum cg_code	 rc;

	rc = channel_keys_check(ctx, val, ch);
	if (rc != CG_OK)
		return rc;
	if (ch->type == GW_NOTIFY_WEBHOOK) {
		if (ch->url == NULL)
			return gw_cfg_fail(ctx, "a webhook channel needs "
			    "\"url\"");
		return CG_OK;
	}
	if (ch->smtp_url == NULL)
		return gw_cfg_fail(ctx, "an email channel needs \"smtp_url\"");
	if (ch->from == NULL)
		return gw_cfg_fail(ctx, "an email channel needs \"from\"");
	if (ch->to.n > GW_NOTIFY_TO_MAX)
		return gw_cfg_fail(ctx, "expected at most %d addresses in "
		    "\"to\"", GW_NOTIFY_TO_MAX);
	if ((ch->username == NULL) != (ch->password_file == NULL))
		return gw_cfg_fail(ctx, "username and password_file go "
		    "together");
	if (ch->subject == NULL)
		ch->subject = cg_strdup(SUBJECT_DEFAULT);
	if (ch->body == NULL)
		ch->body = cg_strdup(BODY_DEFAULT);
	if (ch->subject == NULL || ch->body == NULL)
		return gw_cfg_nomem(ctx);
	return CG_OK;
}

static enum cg_code
channel_one(struct gw_cfg_ctx *ctx, const char *name, json_t *val,
    void *elem)
{
	struct gw_notify_channel	*ch = elem;
	enum cg_code			 rc;

	if (!gw_cfg_segment_is_valid(name, GW_NOTIFY_NAME_MAX))
		return gw_cfg_fail(ctx, "expected a channel name of 1 to %d "
		    "characters from a-z, 0-9, '_' and '-'",
		    GW_NOTIFY_NAME_MAX);
	ch->name = cg_strdup(name);
	if (ch->name == NULL)
		return gw_cfg_nomem(ctx);
	ch->starttls = true;
	ch->tls.timeout_ms = GW_NOTIFY_TIMEOUT_DEFAULT;
	rc = gw_cfg_object(ctx, val, channel_fields, NELEM(channel_fields),
	    ch);
	if (rc == CG_OK)
		rc = channel_finish(ctx, val, ch);
	if (rc != CG_OK)
		return rc;
	ch->ref = cg_asprintf("%s:%s", type_names[ch->type], ch->name);
	ch->tls.name = cg_strdup(ch->ref != NULL ? ch->ref : "");
	if (ch->ref == NULL || ch->tls.name == NULL)
		return gw_cfg_nomem(ctx);
	return CG_OK;
}

static enum cg_code
channels(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_conf	*nc = target;
	void			*arr = NULL;
	enum cg_code		 rc;

	rc = gw_cfg_named(ctx, val, "channel", 1, GW_NOTIFY_CHANNELS_MAX,
	    sizeof(*nc->channels), &arr, &nc->nchannels, channel_one);
	nc->channels = arr;
	return rc;
}

/* "HH:MM", 24-hour, UTC. */
static enum cg_code
run_at(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_notify_conf	*nc = target;
	const char		*s;
	unsigned		 h, m;

	s = json_is_string(val) ? json_string_value(val) : "";
	if (json_string_length(val) != 5 || s[2] != ':' ||
	    s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return gw_cfg_fail(ctx, "expected \"HH:MM\" (UTC, 00:00 to "
		    "23:59)");
	h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if (h > 23)
		return gw_cfg_fail(ctx, "expected \"HH:MM\" (UTC, 00:00 to "
		    "23:59)");
	nc->run_at_min = h * 60 + m;
	return CG_OK;
}

static const struct gw_cfg_field notify_fields[] = {
	{ .key = "run_at", .kind = GW_CFG_CUSTOM, .fn = run_at },
	{ .key = "channels", .kind = GW_CFG_CUSTOM, .required = true,
	  .fn = channels },
};

enum cg_code
gw_cfg_notify(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct gw_config	*conf = target;

	if (conf->notify == NULL) {
		conf->notify = cg_calloc(1, sizeof(*conf->notify));
		if (conf->notify == NULL)
			return gw_cfg_nomem(ctx);
	}
	conf->notify->enabled = true;
	conf->notify->run_at_min = RUN_AT_DEFAULT;
	return gw_cfg_object(ctx, val, notify_fields, NELEM(notify_fields),
	    conf->notify);
}

/* --------------------------------------------------- a profile's notify */

/* "webhook:<name>" or "email:<name>"; whether it exists is checked later. */
static bool
channel_ref_is_valid(const char *s)
{
	const char	*colon = strchr(s, ':');
	size_t		 i;

	if (colon == NULL)
		return false;
	for (i = 0; i < GW_NOTIFY__MAX; i++)
		if (strlen(type_names[i]) == (size_t)(colon - s) &&
		    strncmp(s, type_names[i], (size_t)(colon - s)) == 0)
			return gw_cfg_segment_is_valid(colon + 1,
			    GW_NOTIFY_NAME_MAX);
	return false;
}

#define PROF_OFF(m)	offsetof(struct ca_profile, m)

static const struct gw_cfg_field profile_notify_fields[] = {
	{ .key = "days_before", .kind = GW_CFG_U32,
	  .off = PROF_OFF(notify_days_before), .min = 1,
	  .max = GW_NOTIFY_DAYS_MAX },
	{ .key = "every_days", .kind = GW_CFG_U32,
	  .off = PROF_OFF(notify_every_days), .min = 1,
	  .max = GW_NOTIFY_EVERY_MAX },
	{ .key = "channels", .kind = GW_CFG_LIST, .required = true,
	  .off = PROF_OFF(notify_channels), .min = 1,
	  .valid = channel_ref_is_valid,
	  .what = "expected \"webhook:<name>\" or \"email:<name>\", not" },
};

enum cg_code
gw_cfg_profile_notify(struct gw_cfg_ctx *ctx, json_t *val, void *target)
{
	struct ca_profile	*p = target;
	enum cg_code		 rc;
	size_t			 i, j, mark;
	char			 show[GW_CFG_VALUE_SHOW + 8];

	p->notify_days_before = GW_NOTIFY_DAYS_DEFAULT;
	p->notify_every_days = GW_NOTIFY_EVERY_DEFAULT;
	rc = gw_cfg_object(ctx, val, profile_notify_fields,
	    NELEM(profile_notify_fields), p);
	for (i = 0; rc == CG_OK && i < p->notify_channels.n; i++)
		for (j = 0; rc == CG_OK && j < i; j++) {
			if (strcmp(p->notify_channels.v[i],
			    p->notify_channels.v[j]) != 0)
				continue;
			mark = gw_cfg_push_key(ctx, "channels");
			gw_cfg_push_index(ctx, i);
			rc = gw_cfg_fail(ctx, "channel '%s' is listed twice",
			    gw_cfg_show(p->notify_channels.v[i], show,
			    sizeof(show)));
			gw_cfg_pop(ctx, mark);
		}
	return rc;
}

/* ------------------------------------------------- cross-references */

static enum cg_code
profile_refs_check(struct gw_cfg_ctx *ctx, const struct gw_config *conf,
    const struct ca_profile *p)
{
	const struct gw_notify_conf	*nc = conf->notify;
	const char			*ref;
	char				 show[GW_CFG_VALUE_SHOW + 8];
	size_t				 i, mark;
	enum cg_code			 rc = CG_OK;

	for (i = 0; i < p->notify_channels.n && rc == CG_OK; i++) {
		ref = p->notify_channels.v[i];
		if (gw_notify_channel_find(nc, ref) != NULL)
			continue;
		mark = gw_cfg_push_key(ctx, "profiles");
		gw_cfg_push_key(ctx, p->name);
		gw_cfg_push_key(ctx, "notify");
		gw_cfg_push_key(ctx, "channels");
		gw_cfg_push_index(ctx, i);
		rc = gw_cfg_fail(ctx, "profile '%s': unknown channel '%s' "
		    "(expected a %s channel in notifications.channels)",
		    p->name, gw_cfg_show(ref, show, sizeof(show)),
		    strncmp(ref, "email:", 6) == 0 ? "type \"email\"" :
		    "type \"webhook\"");
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

enum cg_code
gw_cfg_notify_check(struct gw_cfg_ctx *ctx, const struct gw_config *conf)
{
	size_t		 i;
	enum cg_code	 rc = CG_OK;

	for (i = 0; i < conf->nprofiles && rc == CG_OK; i++)
		rc = profile_refs_check(ctx, conf, &conf->profiles[i]);
	return rc;
}

void
gw_cfg_notify_free(struct gw_notify_conf *nc)
{
	struct gw_notify_channel	*ch;
	size_t				 i;

	if (nc == NULL)
		return;
	for (i = 0; i < nc->nchannels; i++) {
		ch = &nc->channels[i];
		cg_free(ch->name);
		cg_free(ch->ref);
		cg_free(ch->url);
		cg_free(ch->smtp_url);
		cg_free(ch->from);
		ca_strlist_cleanup(&ch->to);
		cg_free(ch->subject);
		cg_free(ch->body);
		cg_free(ch->username);
		cg_free(ch->password_file);
		/* What gw_cfg_dist_tls() and channel_one() filled. */
		cg_free(ch->tls.name);
		cg_free(ch->tls.client_p12);
		cg_free(ch->tls.client_p12_password_file);
		cg_free(ch->tls.client_cert);
		cg_free(ch->tls.client_key);
		cg_free(ch->tls.ca_file);
	}
	cg_free(nc->channels);
	cg_free(nc);
}
