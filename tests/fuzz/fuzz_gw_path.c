/*
 * fuzz_gw_path.c - the request path is peer bytes: percent-decoding with
 * its limits (gw_path_decode) and the route lookup that follows, over a
 * table shaped like the gateway's built-in routes.
 */
#include <string.h>

#include "gw_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
nop(struct gw_req *req, void *arg)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct gw_route routes[] = {
		{ "/healthz", false, GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET,
		  GW_CERT_IGNORE, nop, NULL, false },
		{ "/whoami", false, GW_ON_HTTPS, GW_M_GET, GW_CERT_ACCEPT,
		  nop, NULL, false },
		{ "/crl/", true, GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET,
		  GW_CERT_IGNORE, nop, NULL, false },
		{ "/.well-known/est/", true, GW_ON_HTTPS, GW_M_GET | GW_M_POST,
		  GW_CERT_REQUIRE, nop, NULL, false },
	};
	static struct gw_routes		 t;
	const struct gw_route_ent	*e;
	char				*raw, *path = NULL, allow[GW_ALLOW_MAX];
	unsigned			 allowed;
	size_t				 i;

	if (t.n == 0)
		for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
			gw_routes_add(&t, &routes[i], NULL, 0, NULL);
	raw = cg_strndup((const char *)data, len);
	if (raw == NULL)
		return 0;
	if (gw_path_decode(raw, &path) == 0) {
		if (gw_routes_match(&t, path, GW_LSN_HTTP, GW_M_POST, &e,
		    &allowed) == GW_MATCH_METHOD)
			gw_allow_format(allowed, allow, sizeof(allow));
		gw_routes_match(&t, path, GW_LSN_HTTPS, GW_M_HEAD, &e,
		    &allowed);
	}
	cg_free(path);
	cg_free(raw);
	return 0;
}
