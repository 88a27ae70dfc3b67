/*
 * test_dist.c - the distribution core: jobs made from a real issued
 * certificate and parsed back (and every way a job read from Redis can be
 * wrong), rule matching on profile, protocol and SAN or CN regexes, the
 * outbox hook inside a real issuance transaction (and an issuance it
 * aborts), URL templates, and every payload decoded again with OpenSSL.
 * The rules are built by hand, not by the config parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "ca_test.h"
#include "certgw/dist.h"

#define T_NOW		INT64_C(1700000000)
#define T_RULE		"idm.main"

/* One issued certificate shared by the tests that only read it. */
struct dist_fx {
	struct ca_fx		 ca;
	struct ca_profile	 profile;
	struct ca_cert_rec	*rec;		/* as the store recorded it */
	char			*json;		/* its job for T_RULE */
	struct dist_job		*job;		/* json parsed */
};

static struct dist_fx	*gfx;

/* ------------------------------------------------------------ helpers */

static void
die_err(const char *what, const struct cg_err *err)
{
	cafx_die(what, err);
}

/* Issue one certificate for key with cn and sans under profile p. */
static char *
issue_one(struct ca_fx *fx, const struct ca_profile *p, const char *cn,
    const char *const *sans, size_t n, const char *proto, struct cg_err *err,
    enum cg_code want)
{
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	struct ca_csr		*csr;
	EVP_PKEY		*key;
	char			*serial = NULL;

	key = cafx_key("ec-p256");
	csr = cafx_csr(key, cn, sans, n);
	req = (struct ca_issue_req){ csr, p, proto, "tester" };
	assert_int_equal(ca_issue(fx->ca, fx->st, &req, &is, err), want);
	if (is != NULL) {
		serial = cg_strdup(is->serial);
		assert_non_null(serial);
	}
	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	return serial;
}

static int
group_setup(void **state)
{
	static const char *const sans[] = { "DNS:www.example.com",
	    "IP:192.0.2.1" };
	struct cg_err	 err = { 0 };
	char		*serial;

	gfx = cg_calloc(1, sizeof(*gfx));
	assert_non_null(gfx);
	cafx_create(&gfx->ca, CA_INIT_EC_P256, true, NULL);
	cafx_profile_server(&gfx->profile);
	serial = issue_one(&gfx->ca, &gfx->profile, "www.example.com", sans, 2,
	    "est", &err, CG_OK);
	if (ca_store_cert_get(gfx->ca.st, serial, &gfx->rec, &err) != CG_OK)
		die_err("ca_store_cert_get", &err);
	cg_free(serial);
	if (dist_job_make(gfx->rec, ca_get0_chain(gfx->ca.ca), T_RULE, 0,
	    T_NOW, &gfx->json, &err) != CG_OK)
		die_err("dist_job_make", &err);
	if (dist_job_parse(gfx->json, strlen(gfx->json), &gfx->job,
	    &err) != CG_OK)
		die_err("dist_job_parse", &err);
	return 0;
}

static int
group_teardown(void **state)
{
	dist_job_free(gfx->job);
	cg_free(gfx->json);
	ca_cert_rec_free(gfx->rec);
	ca_profile_cleanup(&gfx->profile);
	cafx_destroy(&gfx->ca);
	cg_free(gfx);
	return 0;
}

static void
der_of_x509(X509 *x, uint8_t **derp, size_t *lenp)
{
	unsigned char	*p = NULL;
	int		 n;

	n = i2d_X509(x, &p);
	assert_true(n > 0);
	*derp = p;
	*lenp = (size_t)n;
}

/* Whether d is the DER of x. */
static bool
der_is(const struct dist_der *d, X509 *x)
{
	uint8_t	*der;
	size_t	 len;
	bool	 same;

	der_of_x509(x, &der, &len);
	same = d->len == len && memcmp(d->der, der, len) == 0;
	OPENSSL_free(der);
	return same;
}

/* Base64 decoded by OpenSSL, not by certgw. */
static uint8_t *
b64_openssl(const char *s, size_t len, size_t *outlen)
{
	uint8_t	*out;
	int	 n, pad = 0;

	assert_true(len % 4 == 0 && len > 0);
	out = cg_malloc(len);
	assert_non_null(out);
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	assert_true(n > 0);
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	*outlen = (size_t)(n - pad);
	return out;
}

/* Every certificate in a PEM text, in order. */
static STACK_OF(X509) *
pem_certs(const char *s, size_t len)
{
	STACK_OF(X509)	*sk = sk_X509_new_null();
	BIO		*bio;
	X509		*x;

	assert_non_null(sk);
	bio = BIO_new_mem_buf(s, (int)len);
	assert_non_null(bio);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		assert_true(sk_X509_push(sk, x) > 0);
	BIO_free(bio);
	return sk;
}

/* The leaf of the shared job, decoded by OpenSSL. */
static X509 *
leaf_x509(void)
{
	const unsigned char	*p = gfx->rec->der;
	X509			*x;

	x = d2i_X509(NULL, &p, (long)gfx->rec->der_len);
	assert_non_null(x);
	return x;
}

/* ---------------------------------------------------------------- jobs */

static void
test_job_roundtrip(void **state)
{
	const struct ca_cert_rec *rec = gfx->rec;
	STACK_OF(X509)	*chain = ca_get0_chain(gfx->ca.ca);
	struct dist_job	*j = gfx->job, *j2 = NULL;
	struct cg_err	 err = { 0 };
	const unsigned char *p;
	char		*id, *json2 = NULL, *hex;
	BIGNUM		*bn;
	X509		*x;
	int		 i;

	id = cg_asprintf("%s.%s.0", rec->serial, T_RULE);
	assert_string_equal(j->id, id);
	cg_free(id);
	assert_string_equal(j->rule, T_RULE);
	assert_string_equal(j->serial, rec->serial);
	assert_int_equal(j->redelivery, 0);
	assert_int_equal(j->cert.len, rec->der_len);
	assert_memory_equal(j->cert.der, rec->der, rec->der_len);
	/* Issuing CA first, then the root. */
	assert_int_equal(sk_X509_num(chain), 2);
	assert_int_equal(j->nchain, 2);
	for (i = 0; i < 2; i++)
		assert_true(der_is(&j->chain[i], sk_X509_value(chain, i)));
	assert_true(der_is(&j->chain[0], ca_get0_cert(gfx->ca.ca)));
	assert_string_equal(j->subject, rec->subject);
	assert_string_equal(j->subject, "CN=www.example.com");
	assert_int_equal(j->nsans, 2);
	assert_string_equal(j->sans[0], "DNS:www.example.com");
	assert_string_equal(j->sans[1], "IP:192.0.2.1");
	assert_int_equal(j->not_before, rec->not_before);
	assert_int_equal(j->not_after, rec->not_after);
	assert_string_equal(j->profile, "server");
	assert_string_equal(j->protocol, "est");
	assert_string_equal(j->requester, "tester");
	assert_int_equal(j->issued_at, rec->issued_at);
	assert_int_equal(j->attempt, 0);
	assert_int_equal(j->created_at, T_NOW);
	assert_null(j->last_error);

	/* The cert decodes, and its serial is the job's. */
	p = j->cert.der;
	x = d2i_X509(NULL, &p, (long)j->cert.len);
	assert_non_null(x);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(bn);
	hex = BN_bn2hex(bn);
	assert_string_equal(hex[0] == '0' ? hex + 1 : hex, j->serial);
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);

	/* Parsed and written again: the same bytes. */
	assert_int_equal(dist_job_to_json(j, &json2, &err), CG_OK);
	assert_string_equal(json2, gfx->json);
	assert_non_null(strstr(gfx->json, "{\"v\":1,\"id\":\""));
	cg_free(json2);

	/* A redelivery is another id, and only that. */
	assert_int_equal(dist_job_make(rec, chain, T_RULE, 3, T_NOW, &json2,
	    &err), CG_OK);
	assert_int_equal(dist_job_parse(json2, strlen(json2), &j2, &err),
	    CG_OK);
	id = cg_asprintf("%s.%s.3", rec->serial, T_RULE);
	assert_string_equal(j2->id, id);
	assert_int_equal(j2->redelivery, 3);
	cg_free(id);
	dist_job_free(j2);
	cg_free(json2);

	/* No chain at all is a job too. */
	assert_int_equal(dist_job_make(rec, NULL, "x", 0, T_NOW, &json2,
	    &err), CG_OK);
	assert_int_equal(dist_job_parse(json2, strlen(json2), &j2, &err),
	    CG_OK);
	assert_int_equal(j2->nchain, 0);
	assert_non_null(strstr(json2, "\"chain\":[]"));
	dist_job_free(j2);
	cg_free(json2);
}

static void
test_job_make_refuses(void **state)
{
	struct ca_cert_rec	 rec = *gfx->rec;
	struct cg_err		 err = { 0 };
	char			*json = NULL;

	/* A name the config could not hold never reaches the outbox. */
	assert_int_equal(dist_job_make(&rec, NULL, "bad rule", 0, T_NOW,
	    &json, &err), CG_EINVAL);
	assert_string_equal(err.msg, "job: \"rule\" must be 1 to 64 of "
	    "[A-Za-z0-9_.-]");
	assert_null(json);
	cg_err_clear(&err);
	rec.profile = "";
	assert_int_equal(dist_job_make(&rec, NULL, T_RULE, 0, T_NOW, &json,
	    &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "\"profile\""));
	cg_err_clear(&err);
	rec = *gfx->rec;
	rec.sans = "bogus";
	assert_int_equal(dist_job_make(&rec, NULL, T_RULE, 0, T_NOW, &json,
	    &err), CG_EINVAL);
	assert_string_equal(err.msg, "SAN text does not start with a type");
	cg_err_clear(&err);
	rec = *gfx->rec;
	rec.serial = "0";
	assert_int_equal(dist_job_make(&rec, NULL, T_RULE, 0, T_NOW, &json,
	    &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "\"serial\""));
	/* Leading zeros are the store's to drop; the job is canonical. */
	cg_err_clear(&err);
	rec = *gfx->rec;
	rec.serial = cg_asprintf("00%s", gfx->rec->serial);
	assert_non_null(rec.serial);
	assert_int_equal(dist_job_make(&rec, NULL, T_RULE, 0, T_NOW, &json,
	    &err), CG_OK);
	assert_non_null(strstr(json, gfx->rec->serial));
	assert_null(strstr(json, rec.serial));
	cg_free(rec.serial);
	cg_free(json);
}

static void
test_job_retry_and_rule(void **state)
{
	struct dist_job	*j = NULL, *j2 = NULL;
	struct cg_err	 err = { 0 };
	char		*json = NULL, *id;

	assert_int_equal(dist_job_parse(gfx->json, strlen(gfx->json), &j,
	    &err), CG_OK);
	assert_int_equal(dist_job_retry(j, "HTTP 503\n\x01\xc3\xa9 busy",
	    &json, &err), CG_OK);
	assert_int_equal(dist_job_parse(json, strlen(json), &j2, &err),
	    CG_OK);
	assert_int_equal(j2->attempt, 1);
	assert_string_equal(j2->last_error, "HTTP 503???? busy");
	assert_string_equal(j2->id, gfx->job->id);
	assert_int_equal(j2->created_at, T_NOW);
	cg_free(json);
	assert_int_equal(dist_job_retry(j2, NULL, &json, &err), CG_OK);
	assert_non_null(strstr(json, "\"attempt\":2,"));
	assert_non_null(strstr(json, "\"last_error\":\"\""));
	cg_free(json);
	dist_job_free(j2);

	j->attempt = DIST_ATTEMPT_MAX;
	assert_int_equal(dist_job_retry(j, "x", &json, &err), CG_ETOOBIG);
	assert_null(json);
	cg_err_clear(&err);

	assert_int_equal(dist_job_set_rule(j, "other-rule", &err), CG_OK);
	id = cg_asprintf("%s.other-rule.0", j->serial);
	assert_string_equal(j->id, id);
	cg_free(id);
	assert_int_equal(dist_job_set_rule(j, "no/slash", &err), CG_EINVAL);
	assert_string_equal(j->rule, "other-rule");
	dist_job_free(j);
}

/* The shared job with key set to val (JSON text) or removed (val NULL). */
static char *
mutate(const char *key, const char *val)
{
	json_t	*o, *v;
	char	*s, *out;

	o = json_loads(gfx->json, 0, NULL);
	assert_non_null(o);
	if (val == NULL)
		assert_int_equal(json_object_del(o, key), 0);
	else {
		v = json_loads(val, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		assert_int_equal(json_object_set_new(o, key, v), 0);
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(s);
	out = cg_strdup(s);
	free(s);
	json_decref(o);
	return out;
}

static void
expect_refusal(const char *json, size_t len, enum cg_code code,
    const char *msg)
{
	struct dist_job	*j = (struct dist_job *)1;
	struct cg_err	 err = { 0 };

	if (dist_job_parse(json, len, &j, &err) != code ||
	    strstr(err.msg, msg) == NULL) {
		print_error("input %.200s\nwanted %s '%s', got %s '%s'\n",
		    json, cg_code_str(code), msg, cg_code_str(err.code),
		    err.msg);
		fail();
	}
	assert_null(j);
}

static void
refuse_text(const char *json, const char *msg)
{
	expect_refusal(json, strlen(json), CG_EINVAL, msg);
}

static void
refuse_mutation(const char *key, const char *val, const char *msg)
{
	char	*json = mutate(key, val);

	expect_refusal(json, strlen(json), CG_EINVAL, msg);
	cg_free(json);
}

/* base64 of bytes, as a JSON string literal. */
static char *
b64_lit(const uint8_t *p, size_t n)
{
	char	*b64, *lit;

	assert_int_equal(cg_base64_encode(p, n, &b64, NULL), CG_OK);
	lit = cg_asprintf("\"%s\"", b64);
	cg_free(b64);
	assert_non_null(lit);
	return lit;
}

static void
test_job_parse_refusals(void **state)
{
	static const struct {
		const char	*key;
		const char	*val;		/* NULL: key removed */
		const char	*msg;
	} muts[] = {
		{ "v", "2", "job: version 2 is not 1" },
		{ "v", "\"1\"", "job: \"v\" is not an integer" },
		{ "v", "1.0", "job: \"v\" is not an integer" },
		{ "v", NULL, "job: no \"v\"" },
		{ "rule", "\"bad rule\"", "job: \"rule\" must be 1 to 64 of" },
		{ "rule", "\"\"", "job: \"rule\" must be 1 to 64 bytes" },
		{ "rule", "7", "job: \"rule\" is not a string" },
		{ "serial", "\"abc\"", "job: \"serial\" must be 1 to 40 "
		    "upper-case hex digits" },
		{ "serial", "\"0ABC\"", "without a leading zero" },
		{ "serial", "\"" "1234567890ABCDEF1234567890ABCDEF12345678"
		    "9" "\"", "job: \"serial\" must be 1 to 40 bytes" },
		{ "id", "\"x\"", "job: \"id\" is not \"<serial>.<rule>."
		    "<redelivery>\"" },
		{ "id", NULL, "job: no \"id\"" },
		{ "cert", "\"!!!!\"", "job: \"cert\" is not base64" },
		{ "cert", "\"aGVsbG8=\"", "job: \"cert\" is not one DER "
		    "certificate" },
		{ "cert", "12", "job: \"cert\" is not a string" },
		{ "cert", "\"\"", "job: \"cert\" is empty" },
		{ "cert", NULL, "job: no \"cert\"" },
		{ "chain", "\"x\"", "job: \"chain\" is not an array" },
		{ "chain", "[\"AAAA\"]", "job: \"chain\"[0] is not one DER" },
		{ "chain", "[1]", "job: \"chain\"[0] is not a string" },
		{ "sans", "[\"www.example.com\"]", "job: \"sans\" entries "
		    "must be \"TYPE:value\"" },
		{ "sans", "[\"dns:a\"]", "job: \"sans\" entries" },
		{ "sans", "\"DNS:a\"", "job: \"sans\" is not an array" },
		{ "subject", "null", "job: \"subject\" is not a string" },
		{ "not_before", "-1", "job: \"not_before\" out of range" },
		{ "not_before", "4102444800000", "job: \"not_before\" out of "
		    "range" },
		{ "not_after", "0", "job: \"not_before\" and \"not_after\" "
		    "must be times in order" },
		{ "not_after", "1e9", "job: \"not_after\" is not an integer" },
		{ "profile", "\"\"", "job: \"profile\" must be 1 to 256 "
		    "bytes" },
		{ "protocol", NULL, "job: no \"protocol\"" },
		{ "requester", "null", "job: \"requester\" is not a string" },
		{ "issued_at", "true", "job: \"issued_at\" is not an integer" },
		{ "attempt", "1000001", "job: \"attempt\" out of range" },
		{ "attempt", "-1", "job: \"attempt\" out of range" },
		{ "created_at", NULL, "job: no \"created_at\"" },
		{ "last_error", "5", "job: \"last_error\" is not a string" },
		{ "extra", "1", "job: unknown key \"extra\"" },
		{ "Serial", "\"1\"", "job: unknown key \"Serial\"" },
	};
	const struct ca_cert_rec *rec = gfx->rec;
	struct cg_buf	 b;
	json_t		*o;
	char		*json, *val, *id, *big;
	uint8_t		*der;
	size_t		 i;

	for (i = 0; i < sizeof(muts) / sizeof(muts[0]); i++)
		refuse_mutation(muts[i].key, muts[i].val, muts[i].msg);

	/* Not a job at all. */
	expect_refusal("", 0, CG_EINVAL, "job: not JSON");
	refuse_text("{\"v\":1", "job: not JSON");
	refuse_text("[1,2]", "job: not a JSON object");
	refuse_text("{}", "job: no \"v\"");
	refuse_text("{\"v\":1,\"v\":1}", "job: not JSON");
	refuse_text("{\"v\":1} x", "job: not JSON");
	refuse_text("{\"v\":1,\"rule\":\"a\\u0000b\"}", "job: not JSON");
	/* The length given, not the NUL, is where the input ends. */
	expect_refusal(gfx->json, strlen(gfx->json) - 1, CG_EINVAL,
	    "job: not JSON");

	/* A serial that is well-formed but not the certificate's. */
	o = json_loads(gfx->json, 0, NULL);
	assert_non_null(o);
	id = cg_asprintf("1234ABCD.%s.0", T_RULE);
	assert_int_equal(json_object_set_new(o, "serial",
	    json_string("1234ABCD")), 0);
	assert_int_equal(json_object_set_new(o, "id", json_string(id)), 0);
	cg_free(id);
	val = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	json = cg_strdup(val);
	free(val);
	expect_refusal(json, strlen(json), CG_EINVAL, "job: \"cert\" has "
	    "another serial number than \"serial\"");
	cg_free(json);

	/* Ids: another rule, another serial, a padded or signed counter. */
	id = cg_asprintf("\"%s.other.0\"", rec->serial);
	refuse_mutation("id", id, "job: \"id\" is not");
	cg_free(id);
	id = cg_asprintf("\"%s.%s.01\"", rec->serial, T_RULE);
	refuse_mutation("id", id, "job: \"id\" does not end in a redelivery "
	    "counter");
	cg_free(id);
	id = cg_asprintf("\"%s.%s.-1\"", rec->serial, T_RULE);
	refuse_mutation("id", id, "redelivery counter");
	cg_free(id);
	id = cg_asprintf("\"%s.%s.4294967296\"", rec->serial, T_RULE);
	refuse_mutation("id", id, "redelivery counter");
	cg_free(id);

	/* The certificate with a byte after it is not one certificate. */
	der = cg_malloc(rec->der_len + 1);
	assert_non_null(der);
	memcpy(der, rec->der, rec->der_len);
	der[rec->der_len] = 0;
	val = b64_lit(der, rec->der_len + 1);
	refuse_mutation("cert", val, "job: \"cert\" is not one DER "
	    "certificate");
	cg_free(val);
	/* ... nor is it cut short. */
	val = b64_lit(der, rec->der_len - 1);
	refuse_mutation("cert", val, "job: \"cert\" is not one DER "
	    "certificate");
	cg_free(val);
	cg_free(der);
	/* A length in the long form where the short one fits is not DER. */
	der = cg_malloc(rec->der_len + 1);
	assert_non_null(der);
	assert_true(rec->der[1] == 0x82);	/* SEQUENCE, 2 length bytes */
	der[0] = 0x30;
	der[1] = 0x83;
	der[2] = 0x00;
	memcpy(der + 3, rec->der + 2, rec->der_len - 2);
	val = b64_lit(der, rec->der_len + 1);
	refuse_mutation("cert", val, "job: \"cert\" is not one DER "
	    "certificate");
	cg_free(val);
	cg_free(der);
	/* A CSR has the outer shape of a certificate, not the inner. */
	{
		EVP_PKEY	*k = cafx_key("ec-p256");
		struct ca_csr	*csr = cafx_csr(k, "not-a-cert", NULL, 0);
		unsigned char	*cd = NULL;
		int		 cl;

		cl = i2d_X509_REQ(ca_csr_get0_req(csr), &cd);
		assert_true(cl > 0);
		val = b64_lit(cd, (size_t)cl);
		refuse_mutation("cert", val, "job: \"cert\" is not one DER "
		    "certificate");
		cg_free(val);
		OPENSSL_free(cd);
		ca_csr_free(csr);
		EVP_PKEY_free(k);
	}

	/* Nine chain certificates. */
	cg_buf_init(&b, 1024 * 1024);
	assert_int_equal(cg_buf_addstr(&b, "[", NULL), CG_OK);
	val = b64_lit(gfx->job->chain[0].der, gfx->job->chain[0].len);
	for (i = 0; i < DIST_CHAIN_MAX + 1; i++)
		assert_int_equal(cg_buf_printf(&b, NULL, "%s%s", i > 0 ?
		    "," : "", val), CG_OK);
	assert_int_equal(cg_buf_addstr(&b, "]", NULL), CG_OK);
	cg_free(val);
	refuse_mutation("chain", (char *)b.data, "job: more than 8 "
	    "certificates in \"chain\"");
	cg_buf_cleanup(&b);

	/* Bounded strings. */
	big = cg_malloc(DIST_SUBJECT_MAX + 4);
	assert_non_null(big);
	memset(big, 'a', DIST_SUBJECT_MAX + 3);
	big[0] = '"';
	big[DIST_SUBJECT_MAX + 2] = '"';
	big[DIST_SUBJECT_MAX + 3] = '\0';
	refuse_mutation("subject", big, "job: \"subject\" must be 0 to 4096 "
	    "bytes");
	big[DIST_ERROR_MAX + 2] = '"';
	big[DIST_ERROR_MAX + 3] = '\0';
	refuse_mutation("last_error", big, "job: \"last_error\" must be 0 to "
	    "1024 bytes");
	cg_free(big);

	/* Too big to be a job, before any parsing. */
	big = cg_malloc(CA_STORE_PAYLOAD_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', CA_STORE_PAYLOAD_MAX + 1);
	expect_refusal(big, CA_STORE_PAYLOAD_MAX + 1, CG_ETOOBIG,
	    "job: more than 262144 bytes");
	cg_free(big);
}

/* ------------------------------------------------------------ matching */

struct names {
	char	 s[256];
};

static enum cg_code
collect(void *arg, const struct gw_dist_rule *rule, struct cg_err *err)
{
	struct names	*n = arg;
	size_t		 len = strlen(n->s);

	snprintf(n->s + len, sizeof(n->s) - len, "%s%s", len > 0 ? "," : "",
	    rule->name);
	return CG_OK;
}

static void
strlist(struct ca_strlist *l, const char *csv)
{
	char	*dup, *p, *tok;

	if (csv == NULL)
		return;
	dup = cg_strdup(csv);
	assert_non_null(dup);
	for (p = dup; (tok = strsep(&p, ",")) != NULL; )
		assert_int_equal(ca_strlist_add(l, tok, NULL), CG_OK);
	cg_free(dup);
}

/* A rule filled by hand, as the config parser would. */
static void
rule_init(struct gw_dist_rule *r, const char *name, const char *profiles,
    const char *protocols, const char *regex)
{
	memset(r, 0, sizeof(*r));
	r->name = (char *)name;
	strlist(&r->profiles, profiles);
	strlist(&r->protocols, protocols);
	r->san_regex = (char *)regex;
	r->url = (char *)"https://idm.example/c/{serial}";
}

static void
rule_cleanup(struct gw_dist_rule *r)
{
	ca_strlist_cleanup(&r->profiles);
	ca_strlist_cleanup(&r->protocols);
}

static void
test_match_table(void **state)
{
	static const struct {
		const char	*name;
		const char	*profiles;
		const char	*protocols;
		const char	*regex;
	} rules[] = {
		{ "all", NULL, NULL, NULL },
		{ "est-only", NULL, "est", NULL },
		{ "servers", "server,web", NULL, NULL },
		{ "www", NULL, NULL, "^www\\.example\\.com$" },
		{ "net", NULL, NULL, "^192\\.0\\.2\\.[0-9]+$" },
		{ "devices", NULL, NULL, "^device-[0-9]+$" },
		{ "combo", "server", "cli", "example" },
		{ "never", "nope", NULL, NULL },
		{ "mail", NULL, "est,scep", "@corp\\.example$" },
	};
	static const struct {
		const char	*profile;
		const char	*protocol;
		const char	*sans;
		const char	*subject;
		const char	*want;
	} recs[] = {
		{ "server", "est", "DNS:www.example.com,IP:192.0.2.7",
		    "CN=www.example.com", "all,est-only,servers,www,net" },
		{ "device", "cli", "", "CN=device-42,O=Acme\\, Inc.",
		    "all,devices" },
		{ "server", "cli", "URI:https://x.example/a,b,email:a@b",
		    "", "all,servers,combo" },
		/* No SANs: some CN, even in a multi-valued RDN. */
		{ "web", "scep", "", "OU=y+CN=device-7,O=x",
		    "all,servers,devices" },
		/* SANs present: the CN is not looked at. */
		{ "device", "est", "DNS:foo.example.net", "CN=device-1",
		    "all,est-only" },
		/* The CN as OpenSSL escapes it: \XX bytes, \, and \+. */
		{ "device", "acme", "", "CN=device-\\31\\32", "all,devices" },
		{ "device", "acme", "", "CN=device-1\\,2", "all" },
		/* The value is matched, not "DNS:..."; anchors hold. */
		{ "x", "scep", "DNS:mail.corp.example,email:bob@corp.example",
		    "", "all,mail" },
		{ "x", "acme", "DNS:www.example.com.evil", "", "all" },
		{ "web", "est", "", "", "all,est-only,servers" },
	};
	struct gw_dist_rule	 r[sizeof(rules) / sizeof(rules[0])];
	struct gw_dist_conf	 conf;
	struct dist_rules	*dr = NULL;
	struct ca_cert_rec	 rec;
	struct cg_err		 err = { 0 };
	struct names		 got;
	size_t			 i;

	memset(&conf, 0, sizeof(conf));
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		rule_init(&r[i], rules[i].name, rules[i].profiles,
		    rules[i].protocols, rules[i].regex);
	conf.enabled = true;
	conf.rules = r;
	conf.nrules = sizeof(rules) / sizeof(rules[0]);
	assert_int_equal(dist_rules_new(&conf, &dr, &err), CG_OK);
	assert_int_equal(dist_rules_count(dr), conf.nrules);
	assert_ptr_equal(dist_rules_get0(dr, 3), &r[3]);
	assert_null(dist_rules_get0(dr, conf.nrules));
	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		memset(&rec, 0, sizeof(rec));
		rec.serial = (char *)"1A2B";
		rec.profile = (char *)recs[i].profile;
		rec.protocol = (char *)recs[i].protocol;
		rec.sans = (char *)recs[i].sans;
		rec.subject = (char *)recs[i].subject;
		memset(&got, 0, sizeof(got));
		assert_int_equal(dist_rules_match(dr, &rec, collect, &got,
		    &err), CG_OK);
		if (strcmp(got.s, recs[i].want) != 0) {
			print_error("rec %zu: wanted %s, got %s\n", i,
			    recs[i].want, got.s);
			fail();
		}
	}
	dist_rules_free(dr);

	/* A regex that does not compile names its rule. */
	r[2].san_regex = (char *)"([a-z";
	assert_int_equal(dist_rules_new(&conf, &dr, &err), CG_EINVAL);
	assert_null(dr);
	assert_non_null(strstr(err.msg, "distribution rule 'servers': bad "
	    "san_regex: "));
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		rule_cleanup(&r[i]);

	/* No rules at all match nothing. */
	memset(&conf, 0, sizeof(conf));
	assert_int_equal(dist_rules_new(&conf, &dr, NULL), CG_OK);
	memset(&got, 0, sizeof(got));
	assert_int_equal(dist_rules_match(dr, gfx->rec, collect, &got, NULL),
	    CG_OK);
	assert_string_equal(got.s, "");
	dist_rules_free(dr);
}

static void
test_sans_split(void **state)
{
	struct cg_err	 err = { 0 };
	struct cg_buf	 b;
	char		**v;
	size_t		 n, i;

	assert_int_equal(dist_sans_split("", &v, &n, &err), CG_OK);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(dist_sans_split("DNS:a,IP:1.2.3.4,email:x@y,"
	    "URI:https://h/p?a=1,b=2", &v, &n, &err), CG_OK);
	assert_int_equal(n, 4);
	assert_string_equal(v[0], "DNS:a");
	assert_string_equal(v[1], "IP:1.2.3.4");
	assert_string_equal(v[2], "email:x@y");
	assert_string_equal(v[3], "URI:https://h/p?a=1,b=2");
	assert_string_equal(dist_san_value(v[3]), "https://h/p?a=1,b=2");
	assert_string_equal(dist_san_value("plain"), "plain");
	for (i = 0; i < n; i++)
		cg_free(v[i]);
	cg_free(v);
	assert_int_equal(dist_sans_split("a,DNS:b", &v, &n, &err), CG_EINVAL);
	assert_string_equal(err.msg, "SAN text does not start with a type");
	cg_err_clear(&err);

	cg_buf_init(&b, 4096);
	for (i = 0; i < DIST_SANS_MAX + 1; i++)
		assert_int_equal(cg_buf_printf(&b, NULL, "%sDNS:h%zu",
		    i > 0 ? "," : "", i), CG_OK);
	assert_int_equal(dist_sans_split((char *)b.data, &v, &n, &err),
	    CG_ETOOBIG);
	assert_string_equal(err.msg, "more than 100 SANs");
	cg_buf_cleanup(&b);
}

/* ------------------------------------------------------------ the hook */

static size_t
outbox_count(struct ca_store *st)
{
	size_t	 n = 999;

	assert_int_equal(ca_store_outbox_count(st, &n, NULL), CG_OK);
	return n;
}

/*
 * The outbox rows as written, read straight from the database, each
 * payload parsed as a worker would: "rule=<id>;..." in row order.
 */
static void
outbox_rows(const struct ca_fx *fx, char *out, size_t outlen)
{
	struct dist_job	*j;
	struct cg_err	 err = { 0 };
	sqlite3_stmt	*stmt;
	sqlite3		*db;
	const char	*payload, *rule, *serial;
	char		 path[PATH_MAX + 16];
	size_t		 len;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/certgw.db", fx->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT rule, serial, payload "
	    "FROM outbox ORDER BY id", -1, &stmt, NULL), SQLITE_OK);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		rule = (const char *)sqlite3_column_text(stmt, 0);
		serial = (const char *)sqlite3_column_text(stmt, 1);
		payload = (const char *)sqlite3_column_text(stmt, 2);
		if (dist_job_parse(payload, strlen(payload), &j, &err) !=
		    CG_OK)
			die_err("dist_job_parse", &err);
		assert_string_equal(j->rule, rule);
		assert_string_equal(j->serial, serial);
		assert_int_equal(j->nchain, 1);	/* root-only CA */
		len = strlen(out);
		snprintf(out + len, outlen - len, "%s=%s;", rule, j->id);
		dist_job_free(j);
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

static void
test_hook_real_store(void **state)
{
	static const char *const sans[] = { "DNS:host.example.com" };
	struct gw_dist_rule	 r[4];
	struct gw_dist_conf	 conf;
	struct dist_rules	*dr = NULL;
	struct dist_hook	 hook;
	struct ca_profile	 p;
	struct ca_fx		 fx;
	struct cg_err		 err = { 0 };
	char			*serial, rows[1024], *want;
	size_t			 i;

	cafx_create(&fx, CA_INIT_EC_P256, false, NULL);
	cafx_profile_server(&p);
	rule_init(&r[0], "idm-a", "server", NULL, NULL);
	rule_init(&r[1], "never", NULL, "scep", NULL);
	rule_init(&r[2], "idm.b", NULL, "est", "^host\\.");
	rule_init(&r[3], "dns-other", NULL, NULL, "^other\\.");
	memset(&conf, 0, sizeof(conf));
	conf.rules = r;
	conf.nrules = 4;
	assert_int_equal(dist_rules_new(&conf, &dr, &err), CG_OK);
	hook.rules = dr;
	hook.ca = fx.ca;
	ca_set_outbox_hook(fx.ca, dist_outbox_hook, &hook);

	/* Two of four rules match: two rows with the certificate. */
	serial = issue_one(&fx, &p, NULL, sans, 1, "est", &err, CG_OK);
	assert_int_equal(cafx_cert_count(fx.st), 1);
	assert_int_equal(outbox_count(fx.st), 2);
	outbox_rows(&fx, rows, sizeof(rows));
	want = cg_asprintf("idm-a=%s.idm-a.0;idm.b=%s.idm.b.0;", serial,
	    serial);
	assert_string_equal(rows, want);
	cg_free(want);
	cg_free(serial);

	/* A cli request: only idm-a matches, one more row. */
	serial = issue_one(&fx, &p, NULL, sans, 1, "cli", &err, CG_OK);
	assert_non_null(serial);
	cg_free(serial);
	assert_int_equal(outbox_count(fx.st), 3);
	assert_int_equal(cafx_cert_count(fx.st), 2);

	/*
	 * The second matching rule cannot make a job (a name the config
	 * would refuse): the hook fails after the first row, and the
	 * issuance leaves nothing, neither certificate nor row.
	 */
	r[2].name = (char *)"bad name";
	serial = issue_one(&fx, &p, NULL, sans, 1, "est", &err, CG_EINVAL);
	assert_null(serial);
	assert_string_equal(err.msg, "job: \"rule\" must be 1 to 64 of "
	    "[A-Za-z0-9_.-]");
	assert_int_equal(cafx_cert_count(fx.st), 2);
	assert_int_equal(outbox_count(fx.st), 3);
	cg_err_clear(&err);

	/* Without rules the hook adds nothing and lets issuance through. */
	hook.rules = NULL;
	serial = issue_one(&fx, &p, NULL, sans, 1, "est", &err, CG_OK);
	cg_free(serial);
	assert_int_equal(cafx_cert_count(fx.st), 3);
	assert_int_equal(outbox_count(fx.st), 3);

	ca_set_outbox_hook(fx.ca, NULL, NULL);
	dist_rules_free(dr);
	for (i = 0; i < 4; i++)
		rule_cleanup(&r[i]);
	ca_profile_cleanup(&p);
	cafx_destroy(&fx);
}

/* ---------------------------------------------------------------- URLs */

static void
test_url_expand(void **state)
{
	struct gw_kv	 vars[] = {
		{ (char *)"template", (char *)"DeviceCert" },
		{ (char *)"tenant", (char *)"acme" },
		{ (char *)"empty", (char *)"" },
		{ (char *)"odd", (char *)"a b/c?d&e=\xc3\xa9~-._%" },
		{ (char *)"rule", (char *)"not-this" },
		{ (char *)"long", NULL },
	};
	static const struct {
		const char	*tpl;
		const char	*want;		/* NULL: an error */
		const char	*msg;		/* the error */
	} cases[] = {
		{ "https://idm.example/register/{template}/{process}"
		    "?tenantId={tenant}",
		    "https://idm.example/register/DeviceCert?tenantId=acme",
		    NULL },
		{ "https://idm.example/register/{template}/{empty}/x",
		    "https://idm.example/register/DeviceCert/x", NULL },
		{ "https://idm.example/a/{process}#frag",
		    "https://idm.example/a#frag", NULL },
		{ "https://idm.example/{process}/{empty}",
		    "https://idm.example", NULL },
		{ "https://idm.example/c/{serial}?p={profile}&r={rule}",
		    "https://idm.example/c/%S?p=server&r=idm.main", NULL },
		{ "https://idm.example/v/{odd}",
		    "https://idm.example/v/a%20b%2Fc%3Fd%26e%3D%C3%A9~-._%25",
		    NULL },
		{ "https://idm.example/x?t={empty}",
		    "https://idm.example/x?t=", NULL },
		{ "https://idm.example:8443/{template}",
		    "https://idm.example:8443/DeviceCert", NULL },
		{ "https://idm.example/x?t={process}", NULL,
		    "URL template: {process} is not set" },
		{ "https://idm.example/x/{process}.json", NULL,
		    "URL template: {process} is not set" },
		{ "https://idm.example/x/a{process}", NULL,
		    "URL template: {process} is not set" },
		{ "https://{process}/x", NULL,
		    "URL template: {process} is not set" },
		{ "https://idm.example/{serial", NULL,
		    "URL template: '{' at offset 20 does not open a {name}" },
		{ "https://idm.example/{bad name}", NULL,
		    "URL template: '{' at offset 20 does not open a {name}" },
		{ "https://idm.example/}", NULL,
		    "URL template: '}' at offset 20 closes nothing" },
		{ "https://idm.example/{}", NULL,
		    "URL template: empty {} at offset 20" },
		{ "https://idm.example/{long}", NULL,
		    "URL longer than 4096 bytes" },
	};
	struct gw_dist_rule	 r;
	struct cg_err		 err = { 0 };
	char			*url, *want, *big;
	const char		*pct;
	size_t			 i;

	big = cg_malloc(DIST_URL_MAX);
	assert_non_null(big);
	memset(big, 'x', DIST_URL_MAX - 1);
	big[DIST_URL_MAX - 1] = '\0';
	vars[5].value = big;
	memset(&r, 0, sizeof(r));
	r.name = (char *)T_RULE;
	r.vars = vars;
	r.nvars = sizeof(vars) / sizeof(vars[0]);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.url = (char *)cases[i].tpl;
		url = (char *)1;
		cg_err_clear(&err);
		if (cases[i].want == NULL) {
			assert_int_not_equal(dist_url_expand(&r, gfx->job,
			    &url, &err), CG_OK);
			assert_null(url);
			if (strcmp(err.msg, cases[i].msg) != 0) {
				print_error("%s: wanted '%s', got '%s'\n",
				    cases[i].tpl, cases[i].msg, err.msg);
				fail();
			}
			continue;
		}
		if (dist_url_expand(&r, gfx->job, &url, &err) != CG_OK)
			die_err(cases[i].tpl, &err);
		pct = strstr(cases[i].want, "%S");
		want = pct == NULL ? cg_strdup(cases[i].want) :
		    cg_asprintf("%.*s%s%s", (int)(pct - cases[i].want),
		    cases[i].want, gfx->job->serial, pct + 2);
		assert_string_equal(url, want);
		cg_free(want);
		cg_free(url);
	}
	/* Exactly the limit is fine. */
	big[DIST_URL_MAX - strlen("https://h/")] = '\0';
	r.url = (char *)"https://h/{long}";
	assert_int_equal(dist_url_expand(&r, gfx->job, &url, &err), CG_OK);
	assert_int_equal(strlen(url), DIST_URL_MAX);
	cg_free(url);
	cg_free(big);
}

/* ------------------------------------------------------------ payloads */

static char *
build(enum gw_dist_payload pl, enum gw_dist_encoding enc, const char *ct,
    size_t *lenp, const char **ctp)
{
	struct gw_dist_rule	 r;
	struct cg_err		 err = { 0 };
	struct cg_buf		 b;
	char			*out;

	memset(&r, 0, sizeof(r));
	r.name = (char *)T_RULE;
	r.payload = pl;
	r.encoding = enc;
	r.content_type = (char *)ct;
	cg_buf_init(&b, 1024 * 1024);
	if (dist_payload_build(&r, gfx->job, &b, ctp, &err) != CG_OK)
		die_err("dist_payload_build", &err);
	out = (char *)cg_buf_steal(&b, lenp);
	assert_non_null(out);
	cg_buf_cleanup(&b);
	return out;
}

/* The n certificates a payload should carry: leaf, then the chain. */
static void
check_certs(STACK_OF(X509) *sk, int n)
{
	STACK_OF(X509)	*chain = ca_get0_chain(gfx->ca.ca);
	X509		*leaf = leaf_x509();
	int		 i;

	assert_int_equal(sk_X509_num(sk), n);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), leaf), 0);
	for (i = 1; i < n; i++)
		assert_int_equal(X509_cmp(sk_X509_value(sk, i),
		    sk_X509_value(chain, i - 1)), 0);
	X509_free(leaf);
}

static void
check_base64_lines(const char *s, int n)
{
	STACK_OF(X509)	*sk = sk_X509_new_null();
	const unsigned char *p;
	const char	*nl;
	uint8_t		*der;
	size_t		 len, dlen;
	X509		*x;

	assert_non_null(sk);
	for (;;) {
		nl = strchr(s, '\n');
		len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		der = b64_openssl(s, len, &dlen);
		p = der;
		x = d2i_X509(NULL, &p, (long)dlen);
		assert_non_null(x);
		assert_ptr_equal(p, der + dlen);
		assert_true(sk_X509_push(sk, x) > 0);
		cg_free(der);
		if (nl == NULL)
			break;
		s = nl + 1;
	}
	check_certs(sk, n);
	sk_X509_pop_free(sk, X509_free);
}

static void
test_payload_table(void **state)
{
	STACK_OF(X509)	*sk;
	const struct dist_job *j = gfx->job;
	const char	*ct;
	char		*out, *json_out[GW_DIST_ENC__MAX], tb[32];
	json_t		*o, *a;
	size_t		 len;
	int		 nall = 1 + (int)j->nchain;
	int		 e;

	/* cert, base64: one line, the leaf. */
	out = build(GW_DIST_PAYLOAD_CERT, GW_DIST_ENC_BASE64, NULL, &len, &ct);
	assert_string_equal(ct, "application/pkix-cert");
	assert_null(strchr(out, '\n'));
	check_base64_lines(out, 1);
	cg_free(out);

	/* cert, der: the bytes as issued. */
	out = build(GW_DIST_PAYLOAD_CERT, GW_DIST_ENC_DER, NULL, &len, &ct);
	assert_string_equal(ct, "application/pkix-cert");
	assert_int_equal(len, gfx->rec->der_len);
	assert_memory_equal(out, gfx->rec->der, len);
	cg_free(out);

	/* cert, pem: one block. */
	out = build(GW_DIST_PAYLOAD_CERT, GW_DIST_ENC_PEM, NULL, &len, &ct);
	assert_string_equal(ct, "application/x-pem-file");
	assert_true(strncmp(out, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	sk = pem_certs(out, len);
	check_certs(sk, 1);
	sk_X509_pop_free(sk, X509_free);
	cg_free(out);

	/* chain, base64: a line per certificate, no trailing newline. */
	out = build(GW_DIST_PAYLOAD_CHAIN, GW_DIST_ENC_BASE64, NULL, &len,
	    &ct);
	assert_string_equal(ct, "application/pkix-cert");
	assert_int_not_equal(out[len - 1], '\n');
	check_base64_lines(out, nall);
	cg_free(out);

	/* chain, pem: leaf, issuing CA, root. */
	out = build(GW_DIST_PAYLOAD_CHAIN, GW_DIST_ENC_PEM, NULL, &len, &ct);
	assert_string_equal(ct, "application/x-pem-file");
	sk = pem_certs(out, len);
	assert_int_equal(nall, 3);
	check_certs(sk, nall);
	sk_X509_pop_free(sk, X509_free);
	cg_free(out);

	/* json, under every encoding: the same document. */
	for (e = 0; e < GW_DIST_ENC__MAX; e++) {
		json_out[e] = build(GW_DIST_PAYLOAD_JSON,
		    (enum gw_dist_encoding)e, NULL, &len, &ct);
		assert_string_equal(ct, "application/json");
		assert_string_equal(json_out[e], json_out[0]);
	}
	o = json_loads(json_out[0], 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 10);
	assert_string_equal(json_string_value(json_object_get(o, "serial")),
	    gfx->rec->serial);
	assert_string_equal(json_string_value(json_object_get(o, "subject")),
	    "CN=www.example.com");
	a = json_object_get(o, "sans");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
	    "DNS:www.example.com");
	assert_string_equal(json_string_value(json_array_get(a, 1)),
	    "IP:192.0.2.1");
	cg_time_fmt(gfx->rec->not_before, tb, sizeof(tb));
	assert_string_equal(json_string_value(json_object_get(o,
	    "not_before")), tb);
	cg_time_fmt(gfx->rec->not_after, tb, sizeof(tb));
	assert_string_equal(json_string_value(json_object_get(o,
	    "not_after")), tb);
	assert_int_equal(strlen(tb), 20);
	assert_int_equal(tb[19], 'Z');
	assert_string_equal(json_string_value(json_object_get(o, "profile")),
	    "server");
	assert_string_equal(json_string_value(json_object_get(o,
	    "protocol")), "est");
	assert_string_equal(json_string_value(json_object_get(o,
	    "requester")), "tester");
	sk = pem_certs(json_string_value(json_object_get(o, "pem")),
	    json_string_length(json_object_get(o, "pem")));
	check_certs(sk, 1);
	sk_X509_pop_free(sk, X509_free);
	/* chain_pem: the CA chain alone; put the leaf first to compare. */
	sk = pem_certs(json_string_value(json_object_get(o, "chain_pem")),
	    json_string_length(json_object_get(o, "chain_pem")));
	assert_int_equal(sk_X509_num(sk), nall - 1);
	assert_true(sk_X509_unshift(sk, leaf_x509()) > 0);
	check_certs(sk, nall);
	sk_X509_pop_free(sk, X509_free);
	json_decref(o);
	for (e = 0; e < GW_DIST_ENC__MAX; e++)
		cg_free(json_out[e]);

	/* The rule's Content-Type wins. */
	out = build(GW_DIST_PAYLOAD_CERT, GW_DIST_ENC_DER,
	    "application/x-x509-user-cert", &len, &ct);
	assert_string_equal(ct, "application/x-x509-user-cert");
	cg_free(out);
}

static void
test_payload_refusals(void **state)
{
	struct gw_dist_rule	 r;
	struct cg_err		 err = { 0 };
	struct cg_buf		 b;
	const char		*ct = "x";

	memset(&r, 0, sizeof(r));
	r.name = (char *)"chains";
	r.payload = GW_DIST_PAYLOAD_CHAIN;
	r.encoding = GW_DIST_ENC_DER;
	cg_buf_init(&b, 1024 * 1024);
	assert_int_equal(dist_payload_build(&r, gfx->job, &b, &ct, &err),
	    CG_EINVAL);
	assert_string_equal(err.msg, "payload: rule 'chains' asks for a chain "
	    "as DER, which holds one certificate");
	assert_null(ct);
	assert_int_equal(b.len, 0);
	cg_buf_cleanup(&b);
	assert_null(dist_payload_default_type(GW_DIST_PAYLOAD__MAX,
	    GW_DIST_ENC_PEM));
	assert_null(dist_payload_default_type(GW_DIST_PAYLOAD_CERT,
	    GW_DIST_ENC__MAX));

	/* The caller's ceiling holds for every kind. */
	cg_err_clear(&err);
	r.payload = GW_DIST_PAYLOAD_JSON;
	cg_buf_init(&b, 100);
	assert_int_equal(dist_payload_build(&r, gfx->job, &b, &ct, &err),
	    CG_ETOOBIG);
	cg_buf_cleanup(&b);
	cg_err_clear(&err);
	r.payload = GW_DIST_PAYLOAD_CHAIN;
	r.encoding = GW_DIST_ENC_PEM;
	cg_buf_init(&b, gfx->rec->der_len);
	assert_int_equal(dist_payload_build(&r, gfx->job, &b, &ct, &err),
	    CG_ETOOBIG);
	cg_buf_cleanup(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_roundtrip),
		cmocka_unit_test(test_job_make_refuses),
		cmocka_unit_test(test_job_retry_and_rule),
		cmocka_unit_test(test_job_parse_refusals),
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_sans_split),
		cmocka_unit_test(test_hook_real_store),
		cmocka_unit_test(test_url_expand),
		cmocka_unit_test(test_payload_table),
		cmocka_unit_test(test_payload_refusals),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
