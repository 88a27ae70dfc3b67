/*
 * gw_route.c - the static route table: validation when a route is added,
 * the per-path client-certificate overrides from the config, and the
 * longest-match lookup the dispatcher uses.  Pure functions over a table;
 * dispatching, replies and policy enforcement live in gw_req.c.
 */
#include "gw_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#define GW_M_ALL	(GW_M_GET | GW_M_HEAD | GW_M_POST | GW_M_PUT | \
			 GW_M_DELETE)
#define GW_ON_ALL	(GW_ON_HTTPS | GW_ON_HTTP)

static const struct {
	unsigned	 bit;		/* GW_M_* */
	const char	*name;		/* as in an Allow header */
} method_names[] = {
	{ GW_M_GET, "GET" },
	{ GW_M_HEAD, "HEAD" },
	{ GW_M_POST, "POST" },
	{ GW_M_PUT, "PUT" },
	{ GW_M_DELETE, "DELETE" },
};

enum gw_cert_policy
gw_cert_override_find(const struct gw_cert_override *ov, size_t nov,
    const char *path, enum gw_cert_policy def)
{
	size_t	 i;

	for (i = 0; i < nov; i++)
		if (ov[i].path != NULL && strcmp(ov[i].path, path) == 0)
			return ov[i].policy;
	return def;
}

static enum cg_code
route_check(const struct gw_route *r, struct cg_err *err)
{
	size_t	 len;

	if (r->path == NULL || r->path[0] != '/')
		return cg_err_set(err, CG_EINVAL, "route path must start "
		    "with '/'");
	len = strlen(r->path);
	if (len >= GW_PATH_MAX)
		return cg_err_set(err, CG_EINVAL, "route path is too long");
	if (r->prefix && r->path[len - 1] != '/')
		return cg_err_set(err, CG_EINVAL, "prefix route %s must end "
		    "in '/'", r->path);
	if (r->fn == NULL)
		return cg_err_set(err, CG_EINVAL, "route %s has no handler",
		    r->path);
	if (r->listeners == 0 || (r->listeners & ~GW_ON_ALL) != 0)
		return cg_err_set(err, CG_EINVAL, "route %s: bad listener "
		    "mask", r->path);
	if (r->methods == 0 || (r->methods & ~GW_M_ALL) != 0)
		return cg_err_set(err, CG_EINVAL, "route %s: bad method mask",
		    r->path);
	if ((unsigned)r->cert >= GW_CERT__MAX)
		return cg_err_set(err, CG_EINVAL, "route %s: bad certificate "
		    "policy", r->path);
	return CG_OK;
}

enum cg_code
gw_routes_add(struct gw_routes *t, const struct gw_route *r,
    const struct gw_cert_override *ov, size_t nov, struct cg_err *err)
{
	const struct gw_route	*o;
	struct gw_route_ent	*e;
	enum cg_code		 rc;
	size_t			 i;

	rc = route_check(r, err);
	if (rc != CG_OK)
		return rc;
	for (i = 0; i < t->n; i++) {
		o = &t->ent[i].r;
		if (o->prefix == r->prefix && strcmp(o->path, r->path) == 0 &&
		    (o->listeners & r->listeners) != 0)
			return cg_err_set(err, CG_ECONFLICT, "route %s is "
			    "already registered", r->path);
	}
	if (t->n >= GW_ROUTES_MAX)
		return cg_err_set(err, CG_ETOOBIG, "more than %d routes",
		    GW_ROUTES_MAX);
	e = &t->ent[t->n++];
	e->r = *r;
	e->tls_cert = gw_cert_override_find(ov, nov, r->path, r->cert);
	return CG_OK;
}

static bool
route_matches(const struct gw_route *r, const char *path, size_t plen)
{
	size_t	 rlen = strlen(r->path);

	if (!r->prefix)
		return rlen == plen && memcmp(r->path, path, plen) == 0;
	return rlen <= plen && memcmp(r->path, path, rlen) == 0;
}

/* Is a better than the current best b for the same path? */
static bool
route_better(const struct gw_route *a, const struct gw_route *b)
{
	size_t	 la, lb;

	if (b == NULL)
		return true;
	la = strlen(a->path);
	lb = strlen(b->path);
	if (la != lb)
		return la > lb;
	return !a->prefix && b->prefix;
}

enum gw_match
gw_routes_match(const struct gw_routes *t, const char *path, enum gw_lsn lsn,
    unsigned method, const struct gw_route_ent **entp, unsigned *allowp)
{
	const struct gw_route_ent *best = NULL;
	unsigned		 on, allowed;
	size_t			 i, plen = strlen(path);

	*entp = NULL;
	*allowp = 0;
	on = lsn == GW_LSN_HTTPS ? GW_ON_HTTPS : GW_ON_HTTP;
	for (i = 0; i < t->n; i++) {
		if ((t->ent[i].r.listeners & on) == 0)
			continue;
		if (!route_matches(&t->ent[i].r, path, plen))
			continue;
		if (route_better(&t->ent[i].r, best != NULL ? &best->r : NULL))
			best = &t->ent[i];
	}
	if (best == NULL)
		return GW_MATCH_NOT_FOUND;
	/* RFC 9110 §9.3.2: HEAD is GET without the body. */
	allowed = best->r.methods;
	if (allowed & GW_M_GET)
		allowed |= GW_M_HEAD;
	if ((method & allowed) == 0) {
		*allowp = allowed;
		return GW_MATCH_METHOD;
	}
	*entp = best;
	return GW_MATCH_OK;
}

enum gw_cert_policy
gw_route_policy(const struct gw_route_ent *e, enum gw_lsn lsn)
{
	return lsn == GW_LSN_HTTPS ? e->tls_cert : e->r.cert;
}

bool
gw_routes_want_client_cert(const struct gw_routes *t)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if ((t->ent[i].r.listeners & GW_ON_HTTPS) != 0 &&
		    t->ent[i].tls_cert != GW_CERT_IGNORE)
			return true;
	return false;
}

void
gw_allow_format(unsigned methods, char *out, size_t outlen)
{
	size_t	 i, used = 0;
	int	 n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if ((methods & method_names[i].bit) == 0)
			continue;
		n = snprintf(out + used, outlen - used, "%s%s",
		    used > 0 ? ", " : "", method_names[i].name);
		if (n < 0 || (size_t)n >= outlen - used)
			return;
		used += (size_t)n;
	}
}

unsigned
gw_method_bit(int evhttp_cmd)
{
	switch (evhttp_cmd) {
	case EVHTTP_REQ_GET:
		return GW_M_GET;
	case EVHTTP_REQ_HEAD:
		return GW_M_HEAD;
	case EVHTTP_REQ_POST:
		return GW_M_POST;
	case EVHTTP_REQ_PUT:
		return GW_M_PUT;
	case EVHTTP_REQ_DELETE:
		return GW_M_DELETE;
	default:
		return 0;
	}
}

int
gw_path_decode(const char *raw, char **pathp)
{
	char	*dec;
	size_t	 len = 0;

	*pathp = NULL;
	if (raw == NULL || raw[0] == '\0')
		raw = "/";
	if (strlen(raw) >= GW_PATH_MAX)
		return 414;
	/* evhttp_uridecode allocates with malloc, not cg_malloc. */
	dec = evhttp_uridecode(raw, 0, &len);
	if (dec == NULL)
		return 503;
	/* "%00" would cut the path short for every strcmp that follows. */
	if (len == 0 || memchr(dec, '\0', len) != NULL || dec[0] != '/') {
		free(dec);
		return 400;
	}
	*pathp = cg_strndup(dec, len);
	free(dec);
	return *pathp != NULL ? 0 : 503;
}
