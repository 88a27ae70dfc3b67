/*
 * acme_path.c - the untrusted parts of ACME URLs, as pure functions: the
 * path below /acme/ split into directory, resource and id, and the RFC
 * 9773 certificate identifier of renewal-info and "replaces".  No state,
 * no store; the fuzz target drives them directly.
 */
#include "acme_int.h"

#include <string.h>

/* How each resource's path looks below a directory's prefix. */
static const struct {
	const char	*name;		/* first segment */
	bool		 id;		/* an id segment follows */
	const char	*sub;		/* a segment after the id, or NULL */
} shapes[ACME_R__MAX] = {
	[ACME_R_DIRECTORY] = { "directory", false, NULL },
	[ACME_R_NEW_NONCE] = { "new-nonce", false, NULL },
	[ACME_R_NEW_ACCOUNT] = { "new-account", false, NULL },
	[ACME_R_NEW_ORDER] = { "new-order", false, NULL },
	[ACME_R_REVOKE] = { "revoke-cert", false, NULL },
	[ACME_R_KEY_CHANGE] = { "key-change", false, NULL },
	[ACME_R_RENEWAL_INFO] = { "renewal-info", true, NULL },
	[ACME_R_ACCOUNT] = { "acct", true, NULL },
	[ACME_R_ACCOUNT_ORDERS] = { "acct", true, "orders" },
	[ACME_R_ORDER] = { "order", true, NULL },
	[ACME_R_FINALIZE] = { "order", true, "finalize" },
	[ACME_R_AUTHZ] = { "authz", true, NULL },
	[ACME_R_CHALL] = { "chall", true, NULL },
	[ACME_R_CERT] = { "cert", true, NULL },
};

const char *
acme_res_name(enum acme_res r)
{
	return (unsigned)r < ACME_R__MAX ? shapes[r].name : "?";
}

/* base64url letters, and '.' (challenge and certificate ids). */
static bool
seg_is_id(const char *s, size_t len, size_t max)
{
	size_t	 i;

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++) {
		char	 c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.'))
			return false;
	}
	return true;
}

/* A directory name as the config allows: [a-z0-9_-]{1,64}. */
static bool
seg_is_dir(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > CA_ACME_ID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_'))
			return false;
	return true;
}

static bool
seg_eq(const char *s, size_t len, const char *want)
{
	return want != NULL && strlen(want) == len &&
	    memcmp(s, want, len) == 0;
}

/* Split "a/b/c" into at most 4 non-empty segments. */
static bool
split(const char *p, const char *seg[4], size_t len[4], size_t *np)
{
	size_t	 n = 0;

	while (*p != '\0') {
		const char	*e = strchr(p, '/');
		size_t		 l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l == 0 || n == 4)
			return false;
		seg[n] = p;
		len[n++] = l;
		p += l;
		if (*p == '/' && *++p == '\0')
			return false;
	}
	*np = n;
	return n > 0;
}

static bool
res_match(const char *const seg[], const size_t len[], size_t n,
    struct acme_path *out)
{
	size_t	 r, max;

	for (r = 0; r < ACME_R__MAX; r++) {
		size_t	 want = 1 + shapes[r].id + (shapes[r].sub != NULL);

		if (n != want || !seg_eq(seg[0], len[0], shapes[r].name))
			continue;
		if (shapes[r].sub != NULL &&
		    !seg_eq(seg[2], len[2], shapes[r].sub))
			continue;
		if (shapes[r].id) {
			max = r == ACME_R_RENEWAL_INFO ? ACME_ARG_MAX :
			    CA_ACME_ID_MAX;
			if (!seg_is_id(seg[1], len[1], max))
				return false;
			memcpy(out->arg, seg[1], len[1]);
			out->arg[len[1]] = '\0';
		}
		out->res = (enum acme_res)r;
		return true;
	}
	return false;
}

bool
acme_path_parse(const char *rest, struct acme_path *out)
{
	const char	*seg[4];
	size_t		 len[4], n;

	memset(out, 0, sizeof(*out));
	if (!split(rest, seg, len, &n))
		return false;
	/* Directory names may not be resource names (the config says so),
	   so a resource first means the default directory. */
	if (res_match(seg, len, n, out))
		return true;
	if (n < 2 || !seg_is_dir(seg[0], len[0]) ||
	    !res_match(seg + 1, len + 1, n - 1, out))
		return false;
	memcpy(out->dir, seg[0], len[0]);
	out->dir[len[0]] = '\0';
	return true;
}

enum cg_code
acme_certid_decode(const char *s, size_t len, uint8_t aki[ACME_AKI_MAX],
    size_t *akilenp, uint8_t serial[ACME_SERIAL_DER_MAX], size_t *serlenp)
{
	const char	*dot = memchr(s, '.', len);
	size_t		 alen;

	*akilenp = *serlenp = 0;
	if (dot == NULL)
		return CG_EINVAL;
	alen = (size_t)(dot - s);
	if (acme_b64url_decode_to(s, alen, aki, ACME_AKI_MAX, akilenp) !=
	    CG_OK || *akilenp == 0 ||
	    acme_b64url_decode_to(dot + 1, len - alen - 1, serial,
	    ACME_SERIAL_DER_MAX, serlenp) != CG_OK || *serlenp == 0) {
		*akilenp = *serlenp = 0;
		return CG_EINVAL;
	}
	return CG_OK;
}
