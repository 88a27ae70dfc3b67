/*
 * gw_config_val.c - the table-driven walk of the config file: the current
 * JSON path, "file:line: path: message" errors, and the checks for each kind
 * of value (files, addresses, URLs, ranged integers, name lists).
 * Which keys exist where is decided by the tables in gw_config.c and
 * gw_config_profile.c, not here.
 */
#include "gw_config_int.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certgw/ca.h"

#define ADDRESS_MAX	300		/* "host:port" text */
#define HOST_MAX	253		/* RFC 1035 name without the dot */

typedef enum cg_code kind_fn(struct gw_cfg_ctx *ctx,
		    const struct gw_cfg_field *f, json_t *val, void *dst,
		    void *target);

/* ---------------------------------------------------------------- paths */

static void
path_append(struct gw_cfg_ctx *ctx, const char *sep, const char *seg)
{
	size_t	 room = sizeof(ctx->path) - ctx->pathlen;

	snprintf(ctx->path + ctx->pathlen, room, "%s%s", sep, seg);
	ctx->pathlen += strlen(ctx->path + ctx->pathlen);
}

enum cg_code
gw_cfg_named(struct gw_cfg_ctx *ctx, json_t *val, const char *noun,
    size_t min, size_t max, size_t elsize, void **arrp, size_t *np,
    gw_cfg_named_fn *fn)
{
	const char	*name;
	json_t		*ev;
	size_t		 n, mark;
	enum cg_code	 rc = CG_OK;

	if (!json_is_object(val))
		return gw_cfg_fail(ctx, "expected an object");
	n = json_object_size(val);
	if (n < min)
		return gw_cfg_fail(ctx, "expected at least one %s", noun);
	if (n > max)
		return gw_cfg_fail(ctx, "expected at most %zu %ss", max, noun);
	*arrp = cg_calloc(n > 0 ? n : 1, elsize);
	if (*arrp == NULL)
		return gw_cfg_nomem(ctx);
	json_object_foreach(val, name, ev) {
		mark = gw_cfg_push_key(ctx, name);
		rc = fn(ctx, name, ev, (char *)*arrp + (*np)++ * elsize);
		gw_cfg_pop(ctx, mark);
		if (rc != CG_OK)
			break;
	}
	return rc;
}

size_t
gw_cfg_push_key(struct gw_cfg_ctx *ctx, const char *key)
{
	char	 seg[GW_CFG_KEY_SHOW + 8];
	size_t	 mark = ctx->pathlen;

	gw_cfg_key_render(key, strlen(key), seg, sizeof(seg));
	path_append(ctx, mark > 0 ? "." : "", seg);
	return mark;
}

size_t
gw_cfg_push_index(struct gw_cfg_ctx *ctx, size_t i)
{
	char	 seg[32];
	size_t	 mark = ctx->pathlen;

	snprintf(seg, sizeof(seg), "[%zu]", i);
	path_append(ctx, "", seg);
	return mark;
}

void
gw_cfg_pop(struct gw_cfg_ctx *ctx, size_t mark)
{
	assert(mark <= ctx->pathlen);
	ctx->pathlen = mark;
	ctx->path[mark] = '\0';
}

/* The line of the current path, or of the nearest enclosing value. */
static int
current_line(const struct gw_cfg_ctx *ctx)
{
	char	 path[GW_CFG_PATH_MAX];
	size_t	 n = ctx->pathlen;
	int	 line;

	memcpy(path, ctx->path, n + 1);
	for (;;) {
		line = gw_cfg_pos_line(ctx->pos, path);
		if (line > 0 || n == 0)
			break;
		while (n > 0 && path[n - 1] != '.' && path[n - 1] != '[')
			n--;
		if (n > 0)
			n--;
		path[n] = '\0';
	}
	return line > 0 ? line : 1;
}

enum cg_code
gw_cfg_fail(struct gw_cfg_ctx *ctx, const char *fmt, ...)
{
	char	 what[200];
	va_list	 ap;
	int	 line;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	line = current_line(ctx);
	if (ctx->pathlen == 0)
		return cg_err_set(ctx->err, CG_EINVAL, "%s:%d: %s", ctx->name,
		    line, what);
	return cg_err_set(ctx->err, CG_EINVAL, "%s:%d: %s: %s", ctx->name,
	    line, ctx->path, what);
}

enum cg_code
gw_cfg_nomem(struct gw_cfg_ctx *ctx)
{
	return cg_err_set(ctx->err, CG_ENOMEM, "out of memory");
}

bool
gw_cfg_segment_is_valid(const char *s, size_t max)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == max)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			return false;
	}
	return i > 0;
}

const char *
gw_cfg_show(const char *s, char *out, size_t outlen)
{
	gw_cfg_render(s, strlen(s), GW_CFG_VALUE_SHOW, out, outlen);
	return out;
}

/* --------------------------------------------------------------- checks */

enum cg_code
gw_cfg_string(struct gw_cfg_ctx *ctx, json_t *val, size_t max, char **outp)
{
	size_t	 len;

	*outp = NULL;
	if (!json_is_string(val))
		return gw_cfg_fail(ctx, "expected a string");
	len = json_string_length(val);
	if (len == 0)
		return gw_cfg_fail(ctx, "expected a non-empty string");
	if (len > max)
		return gw_cfg_fail(ctx,
		    "expected a string of at most %zu bytes", max);
	*outp = cg_strndup(json_string_value(val), len);
	if (*outp == NULL)
		return gw_cfg_nomem(ctx);
	return CG_OK;
}

bool
gw_cfg_url_is_valid(const char *s)
{
	const char	*rest, *p;
	size_t		 host;

	if (strlen(s) > GW_CFG_URL_MAX)
		return false;
	if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else
		return false;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	/* RFC 3986 3.2: the authority ends at '/', '?' or '#'. */
	host = strcspn(rest, "/?#");
	/* User info would put a credential in the file; refuse it. */
	return host > 0 && memchr(rest, '@', host) == NULL;
}

static bool
host_is_valid(const char *h, size_t len)
{
	struct in_addr	 a4;
	char		 buf[HOST_MAX + 1];
	size_t		 i;
	bool		 numeric = true;

	if (len == 0 || len > HOST_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if ((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' &&
		    h[i] <= 'Z') || h[i] == '-')
			numeric = false;
		else if (!(h[i] >= '0' && h[i] <= '9') && h[i] != '.')
			return false;
	}
	if (!numeric)
		return true;
	memcpy(buf, h, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, &a4) == 1;
}

/* "host:port", "a.b.c.d:port" or "[v6]:port", port 1..65535. */
static bool
address_is_valid(const char *s)
{
	const char	*colon, *close;
	char		 v6[INET6_ADDRSTRLEN];
	struct in6_addr	 a6;
	uint64_t	 port;
	size_t		 n;

	if (s[0] == '[') {
		close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return false;
		n = (size_t)(close - s - 1);
		if (n == 0 || n >= sizeof(v6))
			return false;
		memcpy(v6, s + 1, n);
		v6[n] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return false;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || !host_is_valid(s, (size_t)(colon - s)))
			return false;
	}
	return cg_parse_u64(colon + 1, strlen(colon + 1), 65535, &port) &&
	    port > 0;
}

static bool
envname_is_valid(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z'))
			continue;
		if (i > 0 && s[i] >= '0' && s[i] <= '9')
			continue;
		return false;
	}
	return i > 0;
}

/* The file exists, is a regular file and we may read it. */
static enum cg_code
file_check(struct gw_cfg_ctx *ctx, const char *path)
{
	struct stat	 st;
	char		 ebuf[128];
	const char	*why = NULL;
	int		 fd;

	/* O_NONBLOCK: a FIFO must not hang the check. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		why = strerror_r(errno, ebuf, sizeof(ebuf));
	else if (fstat(fd, &st) != 0)
		why = strerror_r(errno, ebuf, sizeof(ebuf));
	else if (S_ISDIR(st.st_mode))
		why = strerror_r(EISDIR, ebuf, sizeof(ebuf));
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	if (fd >= 0)
		close(fd);
	if (why == NULL)
		return CG_OK;
	gw_cfg_fail(ctx, "cannot read file: %s", why);
	cg_err_detail(ctx->err, "file=%s", path);
	return CG_EINVAL;
}

/* The directory that will hold path exists. */
static enum cg_code
parent_check(struct gw_cfg_ctx *ctx, const char *path)
{
	struct stat	 st;
	char		 dir[PATH_MAX], ebuf[128];
	const char	*slash, *why = NULL;
	size_t		 n;

	slash = strrchr(path, '/');
	if (slash == NULL) {
		memcpy(dir, ".", 2);
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return gw_cfg_fail(ctx, "path is too long");
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (stat(dir, &st) != 0)
		why = strerror_r(errno, ebuf, sizeof(ebuf));
	else if (!S_ISDIR(st.st_mode))
		why = strerror_r(ENOTDIR, ebuf, sizeof(ebuf));
	if (why == NULL)
		return CG_OK;
	gw_cfg_fail(ctx, "cannot use parent directory: %s", why);
	cg_err_detail(ctx->err, "dir=%s", dir);
	return CG_EINVAL;
}

/* ---------------------------------------------------------------- kinds */

static void
string_set(void *dst, char *s)
{
	char	**sp = dst;

	cg_free(*sp);
	*sp = s;
}

/* FILE and DBFILE: resolve against the config's directory, then check. */
static enum cg_code
kind_file(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val, void *dst, void *target)
{
	char		*raw = NULL, *path = NULL;
	enum cg_code	 rc;

	rc = gw_cfg_string(ctx, val, PATH_MAX - 1, &raw);
	if (rc != CG_OK)
		goto out;
	path = cg_path_join(ctx->dir, raw);
	if (path == NULL) {
		rc = gw_cfg_nomem(ctx);
		goto out;
	}
	if (ctx->check_files) {
		rc = f->kind == GW_CFG_DBFILE ? parent_check(ctx, path) :
		    file_check(ctx, path);
		if (rc != CG_OK)
			goto out;
	}
	string_set(dst, path);
	path = NULL;
	rc = CG_OK;
out:
	cg_free(path);
	cg_free(raw);
	return rc;
}

/* ENVNAME, ADDRESS, BASEURL: a string that must pass a syntax check. */
static enum cg_code
kind_syntax(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val, void *dst, void *target)
{
	char		*s = NULL;
	size_t		 len;
	enum cg_code	 rc;

	rc = gw_cfg_string(ctx, val, GW_CFG_URL_MAX, &s);
	if (rc != CG_OK)
		goto out;
	if (f->kind == GW_CFG_ENVNAME && (strlen(s) > GW_CFG_ENV_MAX ||
	    !envname_is_valid(s))) {
		rc = gw_cfg_fail(ctx, "expected an environment variable name");
		goto out;
	}
	if (f->kind == GW_CFG_ADDRESS && (strlen(s) > ADDRESS_MAX ||
	    !address_is_valid(s))) {
		rc = gw_cfg_fail(ctx, "expected host:port with a port between "
		    "1 and 65535 (IPv6 as [addr]:port)");
		goto out;
	}
	if (f->kind == GW_CFG_BASEURL && (!gw_cfg_url_is_valid(s) ||
	    strpbrk(s, "?#") != NULL)) {
		rc = gw_cfg_fail(ctx, "expected an http or https URL without "
		    "query or fragment");
		goto out;
	}
	len = strlen(s);
	if (f->kind == GW_CFG_BASEURL && s[len - 1] == '/')
		s[len - 1] = '\0';
	string_set(dst, s);
	s = NULL;
	rc = CG_OK;
out:
	cg_free(s);
	return rc;
}

static enum cg_code
kind_u32(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val, void *dst, void *target)
{
	json_int_t	 v;
	uint32_t	*up = dst;

	/* Only JSON integers: 30.0 and "30" are refused. */
	if (!json_is_integer(val))
		return gw_cfg_fail(ctx, f->min > 0 ?
		    "expected a positive integer" :
		    "expected a non-negative integer");
	v = json_integer_value(val);
	if (v < (json_int_t)f->min || v > (json_int_t)f->max)
		return gw_cfg_fail(ctx, "expected an integer between %u and %u",
		    f->min, f->max);
	*up = (uint32_t)v * (f->scale > 0 ? f->scale : 1);
	return CG_OK;
}

static enum cg_code
kind_bool(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val, void *dst, void *target)
{
	bool	*bp = dst;

	if (!json_is_boolean(val))
		return gw_cfg_fail(ctx, "expected true or false");
	*bp = json_is_true(val);
	return CG_OK;
}

/* The shape shared by BITS and LIST: an array of bounded strings. */
static enum cg_code
array_check(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val)
{
	size_t	 n;

	if (!json_is_array(val))
		return gw_cfg_fail(ctx, "expected an array of strings");
	n = json_array_size(val);
	if (n < f->min)
		return gw_cfg_fail(ctx, "expected at least %u %s", f->min,
		    f->min == 1 ? "entry" : "entries");
	if (n > GW_CFG_LIST_MAX)
		return gw_cfg_fail(ctx, "expected at most %d entries",
		    GW_CFG_LIST_MAX);
	return CG_OK;
}

/* One array element as a string; ctx's path is that of the element. */
static enum cg_code
element_string(struct gw_cfg_ctx *ctx, json_t *el, const char **sp)
{
	*sp = NULL;
	if (!json_is_string(el))
		return gw_cfg_fail(ctx, "expected a string");
	if (json_string_length(el) > GW_CFG_STR_MAX)
		return gw_cfg_fail(ctx, "expected a string of at most %d bytes",
		    GW_CFG_STR_MAX);
	*sp = json_string_value(el);
	return CG_OK;
}

static enum cg_code
kind_bits(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val, void *dst, void *target)
{
	char		 show[GW_CFG_VALUE_SHOW + 8];
	const char	*s;
	json_t		*el;
	uint32_t	 bits = 0, bit = 0, *up = dst;
	size_t		 i, mark;
	enum cg_code	 rc;

	rc = array_check(ctx, f, val);
	json_array_foreach(val, i, el) {
		if (rc != CG_OK)
			break;
		mark = gw_cfg_push_index(ctx, i);
		rc = element_string(ctx, el, &s);
		if (rc == CG_OK && !f->bit(s, &bit))
			rc = gw_cfg_fail(ctx, "%s '%s'", f->what,
			    gw_cfg_show(s, show, sizeof(show)));
		if (rc == CG_OK)
			bits |= bit;
		gw_cfg_pop(ctx, mark);
	}
	if (rc == CG_OK)
		*up = bits;
	return rc;
}

static enum cg_code
kind_list(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val, void *dst, void *target)
{
	char		 show[GW_CFG_VALUE_SHOW + 8];
	const char	*s;
	json_t		*el;
	size_t		 i, mark;
	enum cg_code	 rc;

	rc = array_check(ctx, f, val);
	if (rc == CG_OK)
		ca_strlist_cleanup(dst);	/* replace any default */
	json_array_foreach(val, i, el) {
		if (rc != CG_OK)
			break;
		mark = gw_cfg_push_index(ctx, i);
		rc = element_string(ctx, el, &s);
		if (rc == CG_OK && (s[0] == '\0' ||
		    (f->valid != NULL && !f->valid(s))))
			rc = gw_cfg_fail(ctx, "%s '%s'", f->what,
			    gw_cfg_show(s, show, sizeof(show)));
		if (rc == CG_OK && ca_strlist_add(dst, s, NULL) != CG_OK)
			rc = gw_cfg_nomem(ctx);
		gw_cfg_pop(ctx, mark);
	}
	return rc;
}

static enum cg_code
kind_object(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val, void *dst, void *target)
{
	return gw_cfg_object(ctx, val, f->sub, f->nsub, target);
}

/* STRING: kept as it is; what it names is checked by the caller. */
static enum cg_code
kind_string(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val, void *dst, void *target)
{
	char		*s = NULL;
	enum cg_code	 rc;

	rc = gw_cfg_string(ctx, val, GW_CFG_STR_MAX, &s);
	if (rc == CG_OK)
		string_set(dst, s);
	return rc;
}

static enum cg_code
kind_custom(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *f,
    json_t *val, void *dst, void *target)
{
	return f->fn(ctx, val, target);
}

static kind_fn *const kinds[GW_CFG__MAX] = {
	[GW_CFG_FILE] = kind_file,
	[GW_CFG_DBFILE] = kind_file,
	[GW_CFG_ENVNAME] = kind_syntax,
	[GW_CFG_ADDRESS] = kind_syntax,
	[GW_CFG_BASEURL] = kind_syntax,
	[GW_CFG_STRING] = kind_string,
	[GW_CFG_U32] = kind_u32,
	[GW_CFG_BOOL] = kind_bool,
	[GW_CFG_BITS] = kind_bits,
	[GW_CFG_LIST] = kind_list,
	[GW_CFG_OBJECT] = kind_object,
	[GW_CFG_CUSTOM] = kind_custom,
};

/* ---------------------------------------------------------------- walk */

static size_t
field_find(const struct gw_cfg_field *fields, size_t nfields,
    const char *key)
{
	size_t	 i;

	for (i = 0; i < nfields; i++)
		if (strcmp(fields[i].key, key) == 0)
			break;
	return i;
}

/* One member; ctx's path already names it. */
static enum cg_code
member(struct gw_cfg_ctx *ctx, const struct gw_cfg_field *fields,
    size_t nfields, const char *key, json_t *val, void *target,
    uint64_t *seen)
{
	const struct gw_cfg_field	*f;
	size_t				 i, j;

	i = field_find(fields, nfields, key);
	if (i == nfields)
		return gw_cfg_fail(ctx, "unknown key");
	f = &fields[i];
	if (f->excl != NULL) {
		j = field_find(fields, nfields, f->excl);
		if (j < nfields && (*seen & (UINT64_C(1) << j)))
			return gw_cfg_fail(ctx,
			    "only one of %s and %s may be set", f->excl,
			    f->key);
	}
	*seen |= UINT64_C(1) << i;
	assert((unsigned)f->kind < GW_CFG__MAX && kinds[f->kind] != NULL);
	return kinds[f->kind](ctx, f, val, (char *)target + f->off, target);
}

enum cg_code
gw_cfg_object(struct gw_cfg_ctx *ctx, json_t *obj,
    const struct gw_cfg_field *fields, size_t nfields, void *target)
{
	const char	*key;
	json_t		*val;
	uint64_t	 seen = 0;
	size_t		 i, mark;
	enum cg_code	 rc = CG_OK;

	assert(nfields <= GW_CFG_FIELDS_MAX);
	if (!json_is_object(obj))
		return gw_cfg_fail(ctx, "expected an object");
	json_object_foreach(obj, key, val) {
		mark = gw_cfg_push_key(ctx, key);
		rc = member(ctx, fields, nfields, key, val, target, &seen);
		gw_cfg_pop(ctx, mark);
		if (rc != CG_OK)
			return rc;
	}
	for (i = 0; i < nfields; i++) {
		if (!fields[i].required || (seen & (UINT64_C(1) << i)))
			continue;
		mark = gw_cfg_push_key(ctx, fields[i].key);
		rc = gw_cfg_fail(ctx, "missing required key");
		gw_cfg_pop(ctx, mark);
		break;
	}
	return rc;
}
