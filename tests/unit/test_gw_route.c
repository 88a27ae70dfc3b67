/*
 * test_gw_route.c - the gateway's route table: validation on add, longest
 * match, exact versus prefix, method masks (405 with Allow, HEAD with GET),
 * listener masks, per-path client-certificate overrides, request path
 * decoding, the file-safe CA name used in /crl/<name>.crl and when the
 * served CRL is rebuilt.  No sockets, no loops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <event2/http.h>

#include "gw_int.h"

static void
h_a(struct gw_req *req, void *arg)
{
}

static void
h_b(struct gw_req *req, void *arg)
{
}

static struct gw_route
mk(const char *path, bool prefix, unsigned on, unsigned methods,
    enum gw_cert_policy cert)
{
	struct gw_route	 r = { path, prefix, on, methods, cert, h_a, NULL,
	    false };

	return r;
}

static void
add_ok(struct gw_routes *t, struct gw_route r)
{
	struct cg_err	 err = { 0 };

	assert_int_equal(gw_routes_add(t, &r, NULL, 0, &err), CG_OK);
}

/* Match and return the matched route's path, or NULL. */
static const char *
match(const struct gw_routes *t, const char *path, enum gw_lsn lsn,
    unsigned method, enum gw_match want)
{
	const struct gw_route_ent *e = NULL;
	unsigned		 allow = 0;

	assert_int_equal(gw_routes_match(t, path, lsn, method, &e, &allow),
	    want);
	return e != NULL ? e->r.path : NULL;
}

static void
test_longest_prefix_wins(void **state)
{
	struct gw_routes	 t = { 0 };

	add_ok(&t, mk("/a/", true, GW_ON_HTTPS, GW_M_GET, GW_CERT_IGNORE));
	add_ok(&t, mk("/a/b/", true, GW_ON_HTTPS, GW_M_GET, GW_CERT_IGNORE));
	add_ok(&t, mk("/", true, GW_ON_HTTPS, GW_M_GET, GW_CERT_IGNORE));
	assert_string_equal(match(&t, "/a/b/c", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_OK), "/a/b/");
	assert_string_equal(match(&t, "/a/x", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_OK), "/a/");
	assert_string_equal(match(&t, "/a/b/", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_OK), "/a/b/");
	/* "/a/b" is not under the prefix "/a/b/". */
	assert_string_equal(match(&t, "/a/b", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_OK), "/a/");
	assert_string_equal(match(&t, "/zzz", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_OK), "/");
}

static void
test_exact_versus_prefix(void **state)
{
	struct gw_routes		 t = { 0 };
	struct gw_route			 r;
	struct cg_err			 err = { 0 };
	const struct gw_route_ent	*e;
	unsigned			 allow;

	add_ok(&t, mk("/crl", false, GW_ON_HTTPS, GW_M_GET, GW_CERT_IGNORE));
	add_ok(&t, mk("/crl/", true, GW_ON_HTTPS, GW_M_GET, GW_CERT_IGNORE));
	assert_string_equal(match(&t, "/crl", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_OK), "/crl");
	assert_null(match(&t, "/crlx", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_NOT_FOUND));
	assert_null(match(&t, "/crl/x/../..", GW_LSN_HTTP, GW_M_GET,
	    GW_MATCH_NOT_FOUND));
	/* An exact route of the same text beats the prefix route. */
	r = mk("/crl/", false, GW_ON_HTTPS, GW_M_GET, GW_CERT_IGNORE);
	r.fn = h_b;
	assert_int_equal(gw_routes_add(&t, &r, NULL, 0, &err), CG_OK);
	assert_int_equal(gw_routes_match(&t, "/crl/", GW_LSN_HTTPS, GW_M_GET,
	    &e, &allow), GW_MATCH_OK);
	assert_false(e->r.prefix);
	assert_ptr_equal(e->r.fn, h_b);
	assert_int_equal(gw_routes_match(&t, "/crl/ca.crl", GW_LSN_HTTPS,
	    GW_M_GET, &e, &allow), GW_MATCH_OK);
	assert_true(e->r.prefix);
	/* An exact route never matches a longer path. */
	assert_null(match(&t, "/", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_NOT_FOUND));
}

static void
test_method_mask(void **state)
{
	struct gw_routes		 t = { 0 };
	const struct gw_route_ent	*e;
	unsigned			 allow;
	char				 text[GW_ALLOW_MAX];

	add_ok(&t, mk("/healthz", false, GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET,
	    GW_CERT_IGNORE));
	add_ok(&t, mk("/up", false, GW_ON_HTTPS, GW_M_POST | GW_M_PUT,
	    GW_CERT_IGNORE));
	assert_int_equal(gw_routes_match(&t, "/healthz", GW_LSN_HTTP,
	    GW_M_POST, &e, &allow), GW_MATCH_METHOD);
	assert_null(e);
	assert_int_equal(allow, GW_M_GET | GW_M_HEAD);
	gw_allow_format(allow, text, sizeof(text));
	assert_string_equal(text, "GET, HEAD");
	/* HEAD works wherever GET does. */
	assert_string_equal(match(&t, "/healthz", GW_LSN_HTTP, GW_M_HEAD,
	    GW_MATCH_OK), "/healthz");
	/* A method no route can have (OPTIONS, PATCH, ...) is 405 too. */
	assert_null(match(&t, "/healthz", GW_LSN_HTTPS, 0, GW_MATCH_METHOD));
	/* Without GET there is no HEAD. */
	assert_int_equal(gw_routes_match(&t, "/up", GW_LSN_HTTPS, GW_M_HEAD,
	    &e, &allow), GW_MATCH_METHOD);
	gw_allow_format(allow, text, sizeof(text));
	assert_string_equal(text, "POST, PUT");
	assert_string_equal(match(&t, "/up", GW_LSN_HTTPS, GW_M_PUT,
	    GW_MATCH_OK), "/up");
	assert_int_equal(gw_method_bit(EVHTTP_REQ_DELETE), GW_M_DELETE);
	assert_int_equal(gw_method_bit(EVHTTP_REQ_OPTIONS), 0);
}

static void
test_listener_mask(void **state)
{
	struct gw_routes	 t = { 0 };

	add_ok(&t, mk("/whoami", false, GW_ON_HTTPS, GW_M_GET,
	    GW_CERT_ACCEPT));
	add_ok(&t, mk("/est/", true, GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET,
	    GW_CERT_IGNORE));
	add_ok(&t, mk("/est/secure/", true, GW_ON_HTTPS, GW_M_GET,
	    GW_CERT_REQUIRE));
	assert_string_equal(match(&t, "/whoami", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_OK), "/whoami");
	/* Invisible on the other listener: 404, not 405. */
	assert_null(match(&t, "/whoami", GW_LSN_HTTP, GW_M_GET,
	    GW_MATCH_NOT_FOUND));
	assert_null(match(&t, "/whoami", GW_LSN_HTTP, GW_M_POST,
	    GW_MATCH_NOT_FOUND));
	/* The longest route on *this* listener wins. */
	assert_string_equal(match(&t, "/est/secure/x", GW_LSN_HTTPS, GW_M_GET,
	    GW_MATCH_OK), "/est/secure/");
	assert_string_equal(match(&t, "/est/secure/x", GW_LSN_HTTP, GW_M_GET,
	    GW_MATCH_OK), "/est/");
}

static void
test_cert_overrides(void **state)
{
	struct gw_cert_override		 ov[] = {
		{ "/healthz", GW_CERT_REQUIRE },
		{ "/whoami", GW_CERT_IGNORE },
		{ "/est/", GW_CERT_ACCEPT },
	};
	struct gw_routes		 t = { 0 };
	struct gw_route			 r;
	struct cg_err			 err = { 0 };
	const struct gw_route_ent	*e;
	unsigned			 allow;

	r = mk("/healthz", false, GW_ON_HTTPS | GW_ON_HTTP, GW_M_GET,
	    GW_CERT_IGNORE);
	assert_int_equal(gw_routes_add(&t, &r, ov, 3, &err), CG_OK);
	r = mk("/whoami", false, GW_ON_HTTPS, GW_M_GET, GW_CERT_ACCEPT);
	assert_int_equal(gw_routes_add(&t, &r, ov, 3, &err), CG_OK);
	r = mk("/crl", false, GW_ON_HTTPS, GW_M_GET, GW_CERT_IGNORE);
	assert_int_equal(gw_routes_add(&t, &r, ov, 3, &err), CG_OK);
	/* The override replaces the policy of the exact path, on HTTPS. */
	assert_int_equal(gw_routes_match(&t, "/healthz", GW_LSN_HTTPS,
	    GW_M_GET, &e, &allow), GW_MATCH_OK);
	assert_int_equal(gw_route_policy(e, GW_LSN_HTTPS), GW_CERT_REQUIRE);
	assert_int_equal(gw_route_policy(e, GW_LSN_HTTP), GW_CERT_IGNORE);
	assert_int_equal(gw_routes_match(&t, "/whoami", GW_LSN_HTTPS,
	    GW_M_GET, &e, &allow), GW_MATCH_OK);
	assert_int_equal(gw_route_policy(e, GW_LSN_HTTPS), GW_CERT_IGNORE);
	assert_int_equal(gw_routes_match(&t, "/crl", GW_LSN_HTTPS, GW_M_GET,
	    &e, &allow), GW_MATCH_OK);
	assert_int_equal(gw_route_policy(e, GW_LSN_HTTPS), GW_CERT_IGNORE);
	/* Overrides match exactly, never by prefix. */
	assert_int_equal(gw_cert_override_find(ov, 3, "/est/x",
	    GW_CERT_IGNORE), GW_CERT_IGNORE);
	assert_int_equal(gw_cert_override_find(ov, 3, "/est/",
	    GW_CERT_IGNORE), GW_CERT_ACCEPT);
	/* /healthz now requires a certificate: a CertificateRequest. */
	assert_true(gw_routes_want_client_cert(&t));
}

static void
test_want_client_cert(void **state)
{
	struct gw_cert_override	 off[] = { { "/whoami", GW_CERT_IGNORE } };
	struct gw_routes	 t = { 0 };
	struct gw_route		 r;
	struct cg_err		 err = { 0 };

	add_ok(&t, mk("/healthz", false, GW_ON_HTTPS, GW_M_GET,
	    GW_CERT_IGNORE));
	/* A plain-only route asking for certificates cannot get any. */
	add_ok(&t, mk("/plain", false, GW_ON_HTTP, GW_M_GET,
	    GW_CERT_REQUIRE));
	assert_false(gw_routes_want_client_cert(&t));
	r = mk("/whoami", false, GW_ON_HTTPS, GW_M_GET, GW_CERT_ACCEPT);
	assert_int_equal(gw_routes_add(&t, &r, off, 1, &err), CG_OK);
	assert_false(gw_routes_want_client_cert(&t));
	r = mk("/x", false, GW_ON_HTTPS, GW_M_GET, GW_CERT_ACCEPT);
	assert_int_equal(gw_routes_add(&t, &r, off, 1, &err), CG_OK);
	assert_true(gw_routes_want_client_cert(&t));
}

static void
expect_add(struct gw_routes *t, struct gw_route r, enum cg_code want)
{
	struct cg_err	 err = { 0 };

	assert_int_equal(gw_routes_add(t, &r, NULL, 0, &err), want);
	if (want != CG_OK)
		assert_true(err.msg[0] != '\0');
}

static void
test_add_validation(void **state)
{
	struct gw_routes	*t;
	struct gw_route		 r;
	char			 paths[GW_ROUTES_MAX + 1][16];
	size_t			 i;

	t = cg_calloc(1, sizeof(*t));
	assert_non_null(t);
	expect_add(t, mk("healthz", false, GW_ON_HTTPS, GW_M_GET,
	    GW_CERT_IGNORE), CG_EINVAL);
	expect_add(t, mk("/est", true, GW_ON_HTTPS, GW_M_GET,
	    GW_CERT_IGNORE), CG_EINVAL);
	expect_add(t, mk("/a", false, 0, GW_M_GET, GW_CERT_IGNORE),
	    CG_EINVAL);
	expect_add(t, mk("/a", false, 0x10, GW_M_GET, GW_CERT_IGNORE),
	    CG_EINVAL);
	expect_add(t, mk("/a", false, GW_ON_HTTP, 0, GW_CERT_IGNORE),
	    CG_EINVAL);
	expect_add(t, mk("/a", false, GW_ON_HTTP, GW_M_GET, GW_CERT__MAX),
	    CG_EINVAL);
	r = mk("/a", false, GW_ON_HTTP, GW_M_GET, GW_CERT_IGNORE);
	r.fn = NULL;
	expect_add(t, r, CG_EINVAL);
	assert_int_equal(t->n, 0);
	expect_add(t, mk("/a", false, GW_ON_HTTP, GW_M_GET, GW_CERT_IGNORE),
	    CG_OK);
	/* Same path on the same listener twice is a conflict... */
	expect_add(t, mk("/a", false, GW_ON_HTTP | GW_ON_HTTPS, GW_M_POST,
	    GW_CERT_IGNORE), CG_ECONFLICT);
	/* ...on another listener it is a different route. */
	expect_add(t, mk("/a", false, GW_ON_HTTPS, GW_M_POST,
	    GW_CERT_REQUIRE), CG_OK);
	for (i = t->n; i < GW_ROUTES_MAX; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/r%zu", i);
		expect_add(t, mk(paths[i], false, GW_ON_HTTP, GW_M_GET,
		    GW_CERT_IGNORE), CG_OK);
	}
	expect_add(t, mk("/full", false, GW_ON_HTTP, GW_M_GET,
	    GW_CERT_IGNORE), CG_ETOOBIG);
	cg_free(t);
}

static void
expect_path(const char *raw, int status, const char *want)
{
	char	*path = NULL;

	assert_int_equal(gw_path_decode(raw, &path), status);
	if (want == NULL) {
		assert_null(path);
		return;
	}
	assert_non_null(path);
	assert_string_equal(path, want);
	cg_free(path);
}

static void
test_path_decode(void **state)
{
	char	*huge, *path = NULL;

	expect_path("/healthz", 0, "/healthz");
	expect_path("", 0, "/");
	expect_path(NULL, 0, "/");
	expect_path("/crl/certgw%20Root%20CA.crl", 0,
	    "/crl/certgw Root CA.crl");
	/* '+' is not a space in a path. */
	expect_path("/a+b", 0, "/a+b");
	/* A NUL byte would hide the rest of the path from strcmp. */
	expect_path("/healthz%00/../admin", 400, NULL);
	expect_path("healthz", 400, NULL);
	expect_path("%2fhealthz", 0, "/healthz");
	huge = cg_malloc(GW_PATH_MAX + 1);
	assert_non_null(huge);
	memset(huge, 'a', GW_PATH_MAX);
	huge[0] = '/';
	huge[GW_PATH_MAX] = '\0';
	expect_path(huge, 414, NULL);
	huge[GW_PATH_MAX - 1] = '\0';
	assert_int_equal(gw_path_decode(huge, &path), 0);
	assert_int_equal(strlen(path), GW_PATH_MAX - 1);
	cg_free(path);
	cg_free(huge);
}

static void
test_crl_file_name(void **state)
{
	char	 out[GW_CRL_NAME_MAX];
	char	 tiny[8];
	char	 longcn[200];

	gw_crl_file_name("certgw Root CA", out, sizeof(out));
	assert_string_equal(out, "certgw-root-ca");
	gw_crl_file_name("  ../Corp: Issuing CA #2!  ", out, sizeof(out));
	assert_string_equal(out, "corp-issuing-ca-2");
	/* UTF-8 bytes are not file-safe ASCII. */
	gw_crl_file_name("\xc3\x9cml\xc3\xa4ut CA", out, sizeof(out));
	assert_string_equal(out, "ml-ut-ca");
	gw_crl_file_name("", out, sizeof(out));
	assert_string_equal(out, "ca");
	gw_crl_file_name("/// ***", out, sizeof(out));
	assert_string_equal(out, "ca");
	/* Truncation never leaves a dangling '-'. */
	gw_crl_file_name("abcdef ghi", tiny, sizeof(tiny));
	assert_string_equal(tiny, "abcdef");
	memset(longcn, 'x', sizeof(longcn) - 1);
	longcn[sizeof(longcn) - 1] = '\0';
	gw_crl_file_name(longcn, out, sizeof(out));
	assert_int_equal(strlen(out), GW_CRL_NAME_MAX - 1);
}

static void
test_crl_stale(void **state)
{
	const int64_t	 day = 86400, now = 1800000000;

	/* Fresh, nothing revoked since: keep it. */
	assert_null(gw_crl_stale(7, 7, now + day, day, now));
	/* A revocation (any process) bumps the generation. */
	assert_string_equal(gw_crl_stale(8, 7, now + day, day, now),
	    "revocation");
	/* Exactly a quarter left is still fine; less is not. */
	assert_null(gw_crl_stale(7, 7, now + day / 4, day, now));
	assert_string_equal(gw_crl_stale(7, 7, now + day / 4 - 1, day, now),
	    "next_update");
	assert_string_equal(gw_crl_stale(7, 7, now - 10, day, now),
	    "next_update");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_prefix_wins),
		cmocka_unit_test(test_exact_versus_prefix),
		cmocka_unit_test(test_method_mask),
		cmocka_unit_test(test_listener_mask),
		cmocka_unit_test(test_cert_overrides),
		cmocka_unit_test(test_want_client_cert),
		cmocka_unit_test(test_add_validation),
		cmocka_unit_test(test_path_decode),
		cmocka_unit_test(test_crl_file_name),
		cmocka_unit_test(test_crl_stale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
