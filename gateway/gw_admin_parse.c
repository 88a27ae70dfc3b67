/*
 * gw_admin_parse.c - the admin API's parsers of peer bytes: the query
 * string, the JSON body and the path against an endpoint's shape.  Pure
 * functions, bounded by the limits in gw_admin.h; fuzzed by
 * tests/fuzz/fuzz_admin.c.
 */
#include "gw_admin.h"

#include <ctype.h>
#include <string.h>

static bool
key_allowed(const char *key, const char *const *allowed)
{
	for (; *allowed != NULL; allowed++)
		if (strcmp(key, *allowed) == 0)
			return true;
	return false;
}

/* Percent-decode s[0..len) into out (cap bytes with the NUL). */
static enum cg_code
query_decode(const char *s, size_t len, char *out, size_t cap,
    struct cg_err *err)
{
	size_t	 i, n = 0;
	int	 hi, lo, c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= len)
				return cg_err_set(err, CG_EINVAL, "bad percent "
				    "escape in the query");
			hi = cg_hex_digit(s[i + 1]);
			lo = cg_hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0)
				return cg_err_set(err, CG_EINVAL, "bad percent "
				    "escape in the query");
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return cg_err_set(err, CG_EINVAL, "control character "
			    "in the query");
		if (n + 1 >= cap)
			return cg_err_set(err, CG_ETOOBIG, "query value longer "
			    "than %zu bytes", cap - 1);
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return CG_OK;
}

enum cg_code
admin_query_parse(const char *q, const char *const *allowed,
    struct admin_query *out, struct cg_err *err)
{
	const char	*p, *amp, *eq;
	size_t		 klen, i;
	enum cg_code	 rc;

	memset(out, 0, sizeof(*out));
	if (q == NULL || q[0] == '\0')
		return CG_OK;
	if (strnlen(q, ADMIN_QUERY_MAX + 1) > ADMIN_QUERY_MAX)
		return cg_err_set(err, CG_ETOOBIG, "query longer than %d "
		    "bytes", ADMIN_QUERY_MAX);
	for (p = q; *p != '\0'; p = *amp != '\0' ? amp + 1 : amp) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		if (amp == p)
			continue;
		eq = memchr(p, '=', (size_t)(amp - p));
		klen = (size_t)((eq != NULL ? eq : amp) - p);
		if (klen == 0 || klen > ADMIN_QKEY_MAX)
			return cg_err_set(err, CG_EINVAL, "bad query "
			    "parameter name");
		if (out->n >= ADMIN_QPARAMS_MAX)
			return cg_err_set(err, CG_ETOOBIG, "more than %d query "
			    "parameters", ADMIN_QPARAMS_MAX);
		memcpy(out->key[out->n], p, klen);
		out->key[out->n][klen] = '\0';
		for (i = 0; i < klen; i++)
			if (!islower((unsigned char)p[i]) && p[i] != '_')
				return cg_err_set(err, CG_EINVAL, "bad query "
				    "parameter name");
		if (!key_allowed(out->key[out->n], allowed))
			return cg_err_set(err, CG_EINVAL, "unknown query "
			    "parameter '%s'", out->key[out->n]);
		for (i = 0; i < out->n; i++)
			if (strcmp(out->key[i], out->key[out->n]) == 0)
				return cg_err_set(err, CG_EINVAL, "query "
				    "parameter '%s' given twice", out->key[i]);
		if (eq != NULL) {
			rc = query_decode(eq + 1, (size_t)(amp - eq - 1),
			    out->val[out->n], sizeof(out->val[out->n]), err);
			if (rc != CG_OK)
				return rc;
		}
		out->n++;
	}
	return CG_OK;
}

const char *
admin_query_get(const struct admin_query *aq, const char *key)
{
	size_t	 i;

	for (i = 0; i < aq->n; i++)
		if (strcmp(aq->key[i], key) == 0)
			return aq->val[i];
	return NULL;
}

enum cg_code
admin_body_parse(const uint8_t *body, size_t len, const char *const *allowed,
    json_t **objp, struct cg_err *err)
{
	json_error_t	 jerr;
	const char	*key;
	json_t		*o, *v;
	size_t		 i;

	*objp = NULL;
	if (len > ADMIN_BODY_MAX)
		return cg_err_set(err, CG_ETOOBIG, "body larger than %d bytes",
		    ADMIN_BODY_MAX);
	for (i = 0; i < len; i++)
		if (!isspace(body[i]))
			break;
	if (i == len) {
		*objp = json_object();
		return *objp != NULL ? CG_OK : cg_err_set(err, CG_ENOMEM,
		    "out of memory");
	}
	o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return cg_err_set(err, CG_EINVAL, "body is not JSON: line %d: "
		    "%.120s", jerr.line, jerr.text);
	if (!json_is_object(o)) {
		json_decref(o);
		return cg_err_set(err, CG_EINVAL, "body must be a JSON object");
	}
	json_object_foreach(o, key, v) {
		if (!key_allowed(key, allowed)) {
			/* The key came from the client: keep it short. */
			cg_err_set(err, CG_EINVAL, "unknown member '%.64s'",
			    key);
			json_decref(o);
			return CG_EINVAL;
		}
	}
	*objp = o;
	return CG_OK;
}

/* The next '/'-separated segment of *sp into its length; advances *sp. */
static const char *
seg_next(const char **sp, size_t *lenp)
{
	const char	*s = *sp, *slash;

	slash = strchr(s, '/');
	*lenp = slash != NULL ? (size_t)(slash - s) : strlen(s);
	*sp = slash != NULL ? slash + 1 : s + *lenp;
	return s;
}

bool
admin_path_match(const char *pattern, const char *path,
    char params[ADMIN_PARAMS_MAX][ADMIN_SEG_MAX + 1], size_t *nparamsp)
{
	const char	*ps, *xs;
	size_t		 plen, xlen, n = 0, segs = 0;
	bool		 pdone, xdone;

	*nparamsp = 0;
	for (;;) {
		ps = seg_next(&pattern, &plen);
		xs = seg_next(&path, &xlen);
		/* Empty segments ("a//b", a trailing '/') match nothing. */
		if (xlen == 0 || xlen > ADMIN_SEG_MAX || plen == 0)
			return false;
		if (plen >= 2 && ps[0] == '{' && ps[plen - 1] == '}') {
			if (n >= ADMIN_PARAMS_MAX)
				return false;
			memcpy(params[n], xs, xlen);
			params[n][xlen] = '\0';
			n++;
		} else if (plen != xlen || memcmp(ps, xs, plen) != 0) {
			return false;
		}
		pdone = ps[plen] == '\0';
		xdone = xs[xlen] == '\0';
		if (pdone != xdone)
			return false;
		if (pdone)
			break;
		if (++segs >= ADMIN_SEGS_MAX)
			return false;
	}
	*nparamsp = n;
	return true;
}
