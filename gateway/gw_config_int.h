/*
 * gw_config_int.h - private to the config loader (gateway/gw_config*.c):
 * the position scanner that maps JSON paths to line numbers, the walk
 * context that carries the current path, and the field tables that describe
 * each section.  Nothing outside gateway/gw_config*.c includes this.
 */
#ifndef CERTGW_GW_CONFIG_INT_H
#define CERTGW_GW_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "certgw/config.h"
#include "certgw/core.h"

#define GW_CFG_PATH_MAX		512	/* dotted path shown in a message */
#define GW_CFG_KEY_SHOW		64	/* key bytes shown before "..." */
#define GW_CFG_VALUE_SHOW	48	/* value bytes quoted in a message */
#define GW_CFG_NAME_SHOW	64	/* file name bytes in a message */
#define GW_CFG_STR_MAX		4096	/* any one string value */
#define GW_CFG_URL_MAX		2048	/* one URL */
#define GW_CFG_ENV_MAX		255	/* environment variable name */
#define GW_CFG_LIST_MAX		1024	/* entries in one array */
#define GW_CFG_PROFILES_MAX	256	/* profiles in the file */
#define GW_CFG_OVERRIDES_MAX	64	/* client_cert_policy entries */
#define GW_CFG_ROUTE_PATH_MAX	2048	/* a client_cert_policy path */
#define GW_CFG_FIELDS_MAX	64	/* keys in one field table */
#define GW_CFG_EST_USERS_MAX	1024	/* est.users entries */
#define GW_CFG_EST_LABELS_MAX	64	/* est.labels entries */
#define GW_CFG_EST_NAME_MAX	64	/* a user or label name */
#define GW_CFG_EST_RETRY_MAX	86400	/* est.labels.*.retry_after_s */
#define GW_CFG_ACME_DIRS_MAX	64	/* acme.directories entries */
#define GW_CFG_ACME_NAME_MAX	64	/* a directory or ACME profile name */
#define GW_CFG_ACME_PROFILES_MAX 32	/* profiles of one directory */
#define GW_CFG_ACME_DESC_MAX	256	/* an ACME profile's description */
#define GW_CFG_ACME_CAA_MAX	16	/* caa_identities of one directory */
#define GW_CFG_ACME_RATE_MAX	1000000	/* any rate limit, per hour */
#define GW_CFG_SCEP_SERVICES_MAX 64	/* scep.services entries */
#define GW_CFG_SCEP_NAME_MAX	64	/* a SCEP service name */

/* ------------------------------------------------------ position scanner */

/*
 * The line of every value in a JSON text, kept as a tree of nodes in
 * document order.  jansson keeps no positions, so this walks the same bytes.
 */
struct gw_cfg_pos;

/*
 * Scan len bytes of JSON (no NUL needed) strictly: RFC 8259 grammar, at
 * most GW_CONFIG_DEPTH_MAX nested containers, no recursion.  UTF-8 is not
 * validated here (jansson has done it).  Errors are formatted as
 * "name:line: ..." in err.  On CG_OK *posp is the caller's.
 */
enum cg_code	 gw_cfg_pos_scan(const char *name, const uint8_t *data,
		    size_t len, struct gw_cfg_pos **posp, struct cg_err *err);
void		 gw_cfg_pos_free(struct gw_cfg_pos *pos);
/*
 * The line of the value at a path rendered as the walk renders it
 * ("profiles.server.key_types[2]", "" for the root): for object members
 * the line of the key.  0 when the path is not in the text.
 */
int		 gw_cfg_pos_line(const struct gw_cfg_pos *pos,
		    const char *path);
/* Number of values recorded (for tests). */
size_t		 gw_cfg_pos_count(const struct gw_cfg_pos *pos);
/*
 * Render len bytes for a message: control bytes become '?', and text longer
 * than show bytes is cut (not inside a UTF-8 sequence) and ends in "...".
 * out is always NUL-terminated; returns its length.
 */
size_t		 gw_cfg_render(const char *s, size_t len, size_t show,
		    char *out, size_t outlen);
/* The same for an object key in a path; the empty key is shown as "". */
size_t		 gw_cfg_key_render(const char *key, size_t len, char *out,
		    size_t outlen);

/* ------------------------------------------------------------- the walk */

struct gw_cfg_ctx {
	const char	*name;		/* file name shown in messages */
	const char	*dir;		/* relative paths start here; or NULL */
	bool		 check_files;	/* open the files the config names */
	const struct gw_cfg_pos *pos;	/* line of every path */
	char		 path[GW_CFG_PATH_MAX]; /* path of the value at hand */
	size_t		 pathlen;	/* bytes used in path */
	struct cg_err	*err;		/* the first failure lands here */
};

/* Append ".key" (or "key" at the root) / "[i]"; return the mark to pop to. */
size_t		 gw_cfg_push_key(struct gw_cfg_ctx *ctx, const char *key);
size_t		 gw_cfg_push_index(struct gw_cfg_ctx *ctx, size_t i);
void		 gw_cfg_pop(struct gw_cfg_ctx *ctx, size_t mark);
/*
 * Record "name:line: path: message" (CG_EINVAL) for the value at the
 * current path; the line is that of the path, or of the nearest enclosing
 * value when the path is absent (a missing key).  Returns CG_EINVAL.
 */
enum cg_code	 gw_cfg_fail(struct gw_cfg_ctx *ctx, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Record an allocation failure; returns CG_ENOMEM. */
enum cg_code	 gw_cfg_nomem(struct gw_cfg_ctx *ctx);
/*
 * An object of named entries ({"name": {...}, ...}): the array *arrp of
 * its json_object_size() elements of elsize bytes each, filled in order
 * by fn(ctx, name, value, element) at the path of each name.  *np counts
 * an element before fn runs, so the caller's cleanup frees a half-filled
 * one too.  Between min and max entries; the messages name them with
 * noun ("label": "expected at least one label", "expected at most 16
 * labels").
 */
typedef enum cg_code gw_cfg_named_fn(struct gw_cfg_ctx *ctx,
		    const char *name, json_t *val, void *elem);
enum cg_code	 gw_cfg_named(struct gw_cfg_ctx *ctx, json_t *val,
		    const char *noun, size_t min, size_t max, size_t elsize,
		    void **arrp, size_t *np, gw_cfg_named_fn *fn);
/* A value quoted safely into out for a message (see GW_CFG_VALUE_SHOW). */
const char	*gw_cfg_show(const char *s, char *out, size_t outlen);
/* A name that is one URL path segment: [a-z0-9_-]{1,max}. */
bool		 gw_cfg_segment_is_valid(const char *s, size_t max);

enum gw_cfg_kind {
	GW_CFG_FILE = 0,	/* readable file, resolved against dir */
	GW_CFG_DBFILE,		/* file whose parent directory must exist */
	GW_CFG_ENVNAME,		/* name of an environment variable */
	GW_CFG_ADDRESS,		/* "host:port", "[v6]:port" */
	GW_CFG_BASEURL,		/* http(s) URL, one trailing '/' dropped */
	GW_CFG_STRING,		/* any string of <= GW_CFG_STR_MAX bytes (a
				   profile name, checked after the file) */
	GW_CFG_U32,		/* integer in [min, max], stored times scale */
	GW_CFG_BOOL,		/* true or false */
	GW_CFG_BITS,		/* array of names, OR of bit(name) */
	GW_CFG_LIST,		/* array of strings, each valid(s) */
	GW_CFG_OBJECT,		/* nested fields, same target */
	GW_CFG_CUSTOM,		/* fn handles the value */
	GW_CFG__MAX
};

struct gw_cfg_field;

/* Handle the value at ctx's path; target is the table's struct. */
typedef enum cg_code gw_cfg_fn(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);
/* Map a name to its bit; false when unknown. */
typedef bool gw_cfg_bit_fn(const char *name, uint32_t *bit);
/* Whether one list entry is acceptable. */
typedef bool gw_cfg_valid_fn(const char *s);

struct gw_cfg_field {
	const char	*key;		/* member name */
	enum gw_cfg_kind kind;		/* how the value is checked */
	size_t		 off;		/* destination offset in the target */
	uint32_t	 min;		/* U32: smallest; lists: fewest items */
	uint32_t	 max;		/* U32: largest */
	uint32_t	 scale;		/* U32: stored value = value * scale */
	bool		 required;	/* "missing required key" when absent */
	const char	*excl;		/* key that may not appear with this */
	gw_cfg_fn	*fn;		/* CUSTOM */
	const struct gw_cfg_field *sub;	/* OBJECT: nested table */
	size_t		 nsub;		/* OBJECT: entries in sub */
	gw_cfg_bit_fn	*bit;		/* BITS */
	gw_cfg_valid_fn	*valid;		/* LIST (NULL: any non-empty string) */
	const char	*what;		/* BITS/LIST: "unknown key type" */
};

/*
 * Walk an object member by member, in file order, against a table: unknown
 * keys, wrong types and bad values fail at their path; required keys are
 * checked after the last member.  Destinations already holding a value
 * (defaults) are replaced.
 */
enum cg_code	 gw_cfg_object(struct gw_cfg_ctx *ctx, json_t *obj,
		    const struct gw_cfg_field *fields, size_t nfields,
		    void *target);
/* A copy of a non-empty string value of at most max bytes into *outp. */
enum cg_code	 gw_cfg_string(struct gw_cfg_ctx *ctx, json_t *val,
		    size_t max, char **outp);
/* http:// or https:// with a host, printable ASCII, no user info. */
bool		 gw_cfg_url_is_valid(const char *s);

/* The "profiles" section (gw_config_profile.c); target is the gw_config. */
enum cg_code	 gw_cfg_profiles(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);

/*
 * The "est" section (gw_config_est.c); target is the gw_config.  Names that
 * point elsewhere (profiles, users) are checked afterwards by
 * gw_cfg_est_check(), once the whole file has been read, since "est" may
 * come before "profiles".
 */
enum cg_code	 gw_cfg_est(struct gw_cfg_ctx *ctx, json_t *val, void *target);
enum cg_code	 gw_cfg_est_check(struct gw_cfg_ctx *ctx,
		    const struct gw_config *conf);
/* Free what gw_cfg_est() filled; the struct is zeroed. */
void		 gw_cfg_est_cleanup(struct gw_est_conf *est);

/*
 * The "redis" and "distribution" sections (gw_config_dist.c); target is the
 * gw_config.  A rule's profiles, and that rules have a "redis" section to
 * queue on, are checked by gw_cfg_dist_check() once the whole file has been
 * read.
 */
enum cg_code	 gw_cfg_redis(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);
enum cg_code	 gw_cfg_dist(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);
enum cg_code	 gw_cfg_dist_check(struct gw_cfg_ctx *ctx,
		    const struct gw_config *conf);
/* Free what gw_cfg_redis() and gw_cfg_dist() filled; the structs are zeroed. */
void		 gw_cfg_redis_cleanup(struct gw_redis_conf *redis);
void		 gw_cfg_dist_cleanup(struct gw_dist_conf *dist);

/*
 * The "acme" section (gw_config_acme.c); target is the gw_config.  The
 * profiles its directories name are checked by gw_cfg_acme_check() once
 * the whole file has been read, which also puts the default nonce key file
 * beside the store (whose path may come after "acme").
 */
enum cg_code	 gw_cfg_acme(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);
enum cg_code	 gw_cfg_acme_check(struct gw_cfg_ctx *ctx,
		    struct gw_config *conf);
/* Free what gw_cfg_acme() and gw_cfg_acme_check() filled; zeroed. */
void		 gw_cfg_acme_cleanup(struct gw_acme_conf *acme);

/*
 * The "scep" section (gw_config_scep.c); target is the gw_config.  The
 * profiles its services name are checked by gw_cfg_scep_check() once the
 * whole file has been read.
 */
enum cg_code	 gw_cfg_scep(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);
enum cg_code	 gw_cfg_scep_check(struct gw_cfg_ctx *ctx,
		    const struct gw_config *conf);
/* Free what gw_cfg_scep() filled; the struct is zeroed. */
void		 gw_cfg_scep_cleanup(struct gw_scep_conf *scep);

/*
 * The "ocsp" section (gw_config_ocsp.c); target is the gw_config.  The
 * defaults are set before the file is read; ca_ocsp_config_cleanup()
 * frees what it filled.
 */
void		 gw_cfg_ocsp_defaults(struct gw_config *conf);
enum cg_code	 gw_cfg_ocsp(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);

/*
 * The "notifications" section (gw_config_notify.c); target is the
 * gw_config.  The channels profiles name in "notify" are checked by
 * gw_cfg_notify_check() once the whole file has been read.  The "tls"
 * object of a channel is read by gw_cfg_dist_tls() (gw_config_dist.c),
 * the parser of a distribution rule's "tls", into a struct gw_dist_rule.
 */
enum cg_code	 gw_cfg_notify(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);
enum cg_code	 gw_cfg_notify_check(struct gw_cfg_ctx *ctx,
		    const struct gw_config *conf);
void		 gw_cfg_notify_free(struct gw_notify_conf *nc);
/* A profile's "notify" object (gw_config_notify.c); target is the
   struct ca_profile. */
enum cg_code	 gw_cfg_profile_notify(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);
enum cg_code	 gw_cfg_dist_tls(struct gw_cfg_ctx *ctx, json_t *val,
		    void *target);

#endif /* CERTGW_GW_CONFIG_INT_H */
