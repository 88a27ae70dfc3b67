/*
 * dist_job.c - the distribution job: built from a certificate record in
 * the issuance transaction (by the outbox hook, also here), written as
 * JSON to the outbox, relayed to Redis and parsed back by push workers,
 * which may run elsewhere and trust nothing they read.  One set of limits
 * serves both directions, so a job that was written can always be read.
 */
#include "certgw/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>

/* Every key a version 1 job may hold, in the order they are written. */
static const char *const job_keys[] = {
	"v", "id", "rule", "serial", "cert", "chain", "subject", "sans",
	"not_before", "not_after", "profile", "protocol", "requester",
	"issued_at", "attempt", "created_at", "last_error",
};

/* ------------------------------------------------------------ checks */

static bool
rule_name_ok(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == DIST_RULE_NAME_MAX)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	}
	return i > 0;
}

/* Upper-case hex without a leading zero: the one spelling of a serial. */
static bool
serial_ok(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == DIST_SERIAL_MAX)
			return false;
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	}
	return i > 0 && s[0] != '0';
}

static bool
text_ok(const char *s, size_t min, size_t max)
{
	size_t	 n;

	if (s == NULL)
		return false;
	n = strnlen(s, max + 1);
	return n >= min && n <= max;
}

static bool
time_ok(int64_t t)
{
	return t >= 0 && t <= DIST_TIME_MAX;
}

static bool
san_ok(const char *s)
{
	return text_ok(s, 1, DIST_SAN_VALUE_MAX) && dist_san_value(s) != s;
}

/* The id a job with this serial, rule and counter must carry. */
static char *
job_id(const char *serial, const char *rule, uint32_t n)
{
	return cg_asprintf("%s.%s.%u", serial, rule, (unsigned)n);
}

/*
 * Everything dist_job_parse() checks except decoding the certificates:
 * what dist_job_to_json() refuses to write.
 */
static enum cg_code
job_check(const struct dist_job *j, struct cg_err *err)
{
	char	*id;
	bool	 same;
	size_t	 i;

	if (j->rule == NULL || !rule_name_ok(j->rule))
		return cg_err_set(err, CG_EINVAL, "job: \"rule\" must be 1 "
		    "to %d of [A-Za-z0-9_.-]", DIST_RULE_NAME_MAX);
	if (j->serial == NULL || !serial_ok(j->serial))
		return cg_err_set(err, CG_EINVAL, "job: \"serial\" must be 1 "
		    "to %d upper-case hex digits without a leading zero",
		    DIST_SERIAL_MAX);
	if (j->id == NULL)
		return cg_err_set(err, CG_EINVAL, "job: no \"id\"");
	id = job_id(j->serial, j->rule, j->redelivery);
	if (id == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	same = strcmp(id, j->id) == 0;
	cg_free(id);
	if (!same)
		return cg_err_set(err, CG_EINVAL, "job: \"id\" is not "
		    "\"<serial>.<rule>.<redelivery>\"");
	if (j->cert.der == NULL || j->cert.len == 0 ||
	    j->cert.len > DIST_DER_MAX)
		return cg_err_set(err, CG_EINVAL, "job: \"cert\" must hold 1 "
		    "to %d bytes", DIST_DER_MAX);
	if (j->nchain > DIST_CHAIN_MAX)
		return cg_err_set(err, CG_EINVAL, "job: more than %d "
		    "certificates in \"chain\"", DIST_CHAIN_MAX);
	for (i = 0; i < j->nchain; i++)
		if (j->chain[i].der == NULL || j->chain[i].len == 0 ||
		    j->chain[i].len > DIST_DER_MAX)
			return cg_err_set(err, CG_EINVAL, "job: \"chain\" "
			    "entries must hold 1 to %d bytes", DIST_DER_MAX);
	if (!text_ok(j->subject, 0, DIST_SUBJECT_MAX))
		return cg_err_set(err, CG_EINVAL, "job: \"subject\" must be "
		    "at most %d bytes", DIST_SUBJECT_MAX);
	if (j->nsans > DIST_SANS_MAX)
		return cg_err_set(err, CG_EINVAL, "job: more than %d "
		    "\"sans\"", DIST_SANS_MAX);
	for (i = 0; i < j->nsans; i++)
		if (!san_ok(j->sans[i]))
			return cg_err_set(err, CG_EINVAL, "job: \"sans\" "
			    "entries must be \"TYPE:value\" (DNS, IP, email, "
			    "URI), at most %d bytes", DIST_SAN_VALUE_MAX);
	if (!time_ok(j->not_before) || !time_ok(j->not_after) ||
	    j->not_after < j->not_before)
		return cg_err_set(err, CG_EINVAL, "job: \"not_before\" and "
		    "\"not_after\" must be times in order");
	if (!text_ok(j->profile, 1, DIST_TEXT_MAX) ||
	    !text_ok(j->protocol, 1, DIST_TEXT_MAX))
		return cg_err_set(err, CG_EINVAL, "job: \"profile\" and "
		    "\"protocol\" must be 1 to %d bytes", DIST_TEXT_MAX);
	if (!text_ok(j->requester, 0, DIST_TEXT_MAX))
		return cg_err_set(err, CG_EINVAL, "job: \"requester\" must be "
		    "at most %d bytes", DIST_TEXT_MAX);
	if (!time_ok(j->issued_at) || !time_ok(j->created_at))
		return cg_err_set(err, CG_EINVAL, "job: \"issued_at\" and "
		    "\"created_at\" must be times");
	if (j->attempt > DIST_ATTEMPT_MAX)
		return cg_err_set(err, CG_EINVAL, "job: \"attempt\" above %d",
		    DIST_ATTEMPT_MAX);
	if (j->last_error != NULL && !text_ok(j->last_error, 0,
	    DIST_ERROR_MAX))
		return cg_err_set(err, CG_EINVAL, "job: \"last_error\" must "
		    "be at most %d bytes", DIST_ERROR_MAX);
	return CG_OK;
}

/* ------------------------------------------------------------- free */

static void
der_cleanup(struct dist_der *d)
{
	cg_free(d->der);
	d->der = NULL;
	d->len = 0;
}

void
dist_job_free(struct dist_job *j)
{
	size_t	 i;

	if (j == NULL)
		return;
	cg_free(j->id);
	cg_free(j->rule);
	cg_free(j->serial);
	der_cleanup(&j->cert);
	for (i = 0; j->chain != NULL && i < j->nchain; i++)
		der_cleanup(&j->chain[i]);
	cg_free(j->chain);
	cg_free(j->subject);
	for (i = 0; j->sans != NULL && i < j->nsans; i++)
		cg_free(j->sans[i]);
	cg_free(j->sans);
	cg_free(j->profile);
	cg_free(j->protocol);
	cg_free(j->requester);
	cg_free(j->last_error);
	cg_free(j);
}

/* ---------------------------------------------------------- writing */

/* json_object_set_new() with a string; jansson refuses bad UTF-8. */
static enum cg_code
set_str(json_t *o, const char *key, const char *s, struct cg_err *err)
{
	if (json_object_set_new(o, key, json_string(s)) != 0)
		return cg_err_set(err, CG_EINVAL, "job: \"%s\" is not UTF-8",
		    key);
	return CG_OK;
}

static enum cg_code
set_int(json_t *o, const char *key, int64_t v, struct cg_err *err)
{
	if (json_object_set_new(o, key, json_integer((json_int_t)v)) != 0)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

static json_t *
der_json(const struct dist_der *d)
{
	json_t	*s;
	char	*b64 = NULL;

	if (cg_base64_encode(d->der, d->len, &b64, NULL) != CG_OK)
		return NULL;
	s = json_string(b64);
	cg_free(b64);
	return s;
}

enum cg_code
dist_job_to_json(const struct dist_job *j, char **jsonp, struct cg_err *err)
{
	json_t		*o = NULL, *a;
	char		*s = NULL;
	size_t		 i;
	enum cg_code	 rc;

	*jsonp = NULL;
	rc = job_check(j, err);
	if (rc != CG_OK)
		return rc;
	o = json_object();
	if (o == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = set_int(o, "v", DIST_JOB_VERSION, err);
	if (rc == CG_OK)
		rc = set_str(o, "id", j->id, err);
	if (rc == CG_OK)
		rc = set_str(o, "rule", j->rule, err);
	if (rc == CG_OK)
		rc = set_str(o, "serial", j->serial, err);
	if (rc == CG_OK && json_object_set_new(o, "cert",
	    der_json(&j->cert)) != 0)
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	if (rc == CG_OK) {
		a = json_array();
		for (i = 0; a != NULL && i < j->nchain; i++)
			if (json_array_append_new(a,
			    der_json(&j->chain[i])) != 0) {
				json_decref(a);
				a = NULL;
			}
		if (json_object_set_new(o, "chain", a) != 0)
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	if (rc == CG_OK)
		rc = set_str(o, "subject", j->subject, err);
	if (rc == CG_OK) {
		a = json_array();
		for (i = 0; a != NULL && i < j->nsans; i++)
			if (json_array_append_new(a,
			    json_string(j->sans[i])) != 0) {
				json_decref(a);
				a = NULL;
			}
		if (json_object_set_new(o, "sans", a) != 0)
			rc = cg_err_set(err, CG_EINVAL,
			    "job: \"sans\" is not UTF-8");
	}
	if (rc == CG_OK)
		rc = set_int(o, "not_before", j->not_before, err);
	if (rc == CG_OK)
		rc = set_int(o, "not_after", j->not_after, err);
	if (rc == CG_OK)
		rc = set_str(o, "profile", j->profile, err);
	if (rc == CG_OK)
		rc = set_str(o, "protocol", j->protocol, err);
	if (rc == CG_OK)
		rc = set_str(o, "requester", j->requester, err);
	if (rc == CG_OK)
		rc = set_int(o, "issued_at", j->issued_at, err);
	if (rc == CG_OK)
		rc = set_int(o, "attempt", j->attempt, err);
	if (rc == CG_OK)
		rc = set_int(o, "created_at", j->created_at, err);
	if (rc == CG_OK && j->last_error != NULL)
		rc = set_str(o, "last_error", j->last_error, err);
	if (rc != CG_OK)
		goto out;
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	if (strlen(s) > CA_STORE_PAYLOAD_MAX) {
		rc = cg_err_set(err, CG_ETOOBIG, "job: more than %d bytes",
		    CA_STORE_PAYLOAD_MAX);
		goto out;
	}
	*jsonp = cg_strdup(s);
	if (*jsonp == NULL)
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
out:
	free(s);
	json_decref(o);
	return rc;
}

/* ------------------------------------------------- from a record */

/* The store's spelling of a serial: upper-case, no leading zeros. */
static char *
serial_canon(const char *s)
{
	char	*out;
	size_t	 i;

	while (*s == '0')
		s++;
	out = cg_strndup(s, strnlen(s, DIST_SERIAL_MAX + 1));
	for (i = 0; out != NULL && out[i] != '\0'; i++)
		if (out[i] >= 'a' && out[i] <= 'f')
			out[i] = (char)(out[i] - 'a' + 'A');
	return out;
}

static enum cg_code
der_of(X509 *x, struct dist_der *d, struct cg_err *err)
{
	unsigned char	*p;
	int		 n;

	n = i2d_X509(x, NULL);
	if (n <= 0)
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot encode a chain certificate");
	d->der = cg_malloc((size_t)n);
	if (d->der == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	p = d->der;
	if (i2d_X509(x, &p) != n)
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot encode a chain certificate");
	d->len = (size_t)n;
	return CG_OK;
}

enum cg_code
dist_job_from_rec(const struct ca_cert_rec *rec, STACK_OF(X509) *chain,
    const char *rule, unsigned redelivery, int64_t now,
    struct dist_job **jobp, struct cg_err *err)
{
	struct dist_job	*j;
	enum cg_code	 rc;
	int		 i, n;

	*jobp = NULL;
	if (rec == NULL || rec->serial == NULL || rec->der == NULL ||
	    rule == NULL)
		return cg_err_set(err, CG_EINVAL, "job: incomplete record");
	j = cg_calloc(1, sizeof(*j));
	if (j == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	n = chain != NULL ? sk_X509_num(chain) : 0;
	if (n > DIST_CHAIN_MAX) {
		rc = cg_err_set(err, CG_EINVAL, "job: more than %d "
		    "certificates in the CA chain", DIST_CHAIN_MAX);
		goto fail;
	}
	j->rule = cg_strdup(rule);
	j->serial = serial_canon(rec->serial);
	j->redelivery = (uint32_t)redelivery;
	j->subject = cg_strdup(rec->subject != NULL ? rec->subject : "");
	j->profile = cg_strdup(rec->profile != NULL ? rec->profile : "");
	j->protocol = cg_strdup(rec->protocol != NULL ? rec->protocol : "");
	j->requester = cg_strdup(rec->requester != NULL ?
	    rec->requester : "");
	j->cert.der = cg_malloc(rec->der_len);
	if (n > 0)
		j->chain = cg_calloc((size_t)n, sizeof(*j->chain));
	if (j->rule == NULL || j->serial == NULL || j->subject == NULL ||
	    j->profile == NULL || j->protocol == NULL ||
	    j->requester == NULL || j->cert.der == NULL ||
	    (n > 0 && j->chain == NULL)) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto fail;
	}
	j->id = job_id(j->serial, j->rule, j->redelivery);
	if (j->id == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(j->cert.der, rec->der, rec->der_len);
	j->cert.len = rec->der_len;
	for (i = 0; i < n; i++) {
		rc = der_of(sk_X509_value(chain, i), &j->chain[i], err);
		j->nchain++;
		if (rc != CG_OK)
			goto fail;
	}
	rc = dist_sans_split(rec->sans, &j->sans, &j->nsans, err);
	if (rc != CG_OK)
		goto fail;
	j->not_before = rec->not_before;
	j->not_after = rec->not_after;
	j->issued_at = rec->issued_at;
	j->created_at = now;
	j->attempt = 0;
	rc = job_check(j, err);
	if (rc != CG_OK)
		goto fail;
	*jobp = j;
	return CG_OK;
fail:
	dist_job_free(j);
	return rc;
}

enum cg_code
dist_job_make(const struct ca_cert_rec *rec, STACK_OF(X509) *chain,
    const char *rule, unsigned redelivery, int64_t now, char **jsonp,
    struct cg_err *err)
{
	struct dist_job	*j;
	enum cg_code	 rc;

	*jsonp = NULL;
	rc = dist_job_from_rec(rec, chain, rule, redelivery, now, &j, err);
	if (rc != CG_OK)
		return rc;
	rc = dist_job_to_json(j, jsonp, err);
	dist_job_free(j);
	return rc;
}

enum cg_code
dist_job_set_rule(struct dist_job *j, const char *rule, struct cg_err *err)
{
	char	*r, *id;

	if (rule == NULL || !rule_name_ok(rule))
		return cg_err_set(err, CG_EINVAL, "job: \"rule\" must be 1 "
		    "to %d of [A-Za-z0-9_.-]", DIST_RULE_NAME_MAX);
	r = cg_strdup(rule);
	id = job_id(j->serial, rule, j->redelivery);
	if (r == NULL || id == NULL) {
		cg_free(r);
		cg_free(id);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	cg_free(j->rule);
	cg_free(j->id);
	j->rule = r;
	j->id = id;
	return CG_OK;
}

enum cg_code
dist_job_retry(struct dist_job *j, const char *last_error, char **jsonp,
    struct cg_err *err)
{
	char	*e;
	size_t	 i, n;

	*jsonp = NULL;
	if (j->attempt >= DIST_ATTEMPT_MAX)
		return cg_err_set(err, CG_ETOOBIG, "job: %d attempts already",
		    DIST_ATTEMPT_MAX);
	if (last_error == NULL)
		last_error = "";
	n = strnlen(last_error, DIST_ERROR_MAX);
	e = cg_strndup(last_error, n);
	if (e == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	/* Peer text ends up here: keep it printable and valid UTF-8. */
	for (i = 0; i < n; i++)
		if ((unsigned char)e[i] < 0x20 || (unsigned char)e[i] >= 0x7f)
			e[i] = '?';
	cg_free(j->last_error);
	j->last_error = e;
	j->attempt++;
	return dist_job_to_json(j, jsonp, err);
}

/* ----------------------------------------------------------- parsing */

static enum cg_code
get_str(json_t *o, const char *key, size_t min, size_t max, char **outp,
    struct cg_err *err)
{
	json_t	*v = json_object_get(o, key);
	size_t	 n;

	if (v == NULL)
		return cg_err_set(err, CG_EINVAL, "job: no \"%s\"", key);
	if (!json_is_string(v))
		return cg_err_set(err, CG_EINVAL, "job: \"%s\" is not a "
		    "string", key);
	n = json_string_length(v);
	/* jansson refuses \u0000 unless asked; be sure anyway. */
	if (n < min || n > max || strlen(json_string_value(v)) != n)
		return cg_err_set(err, CG_EINVAL, "job: \"%s\" must be %zu "
		    "to %zu bytes", key, min, max);
	*outp = cg_strndup(json_string_value(v), n);
	if (*outp == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

static enum cg_code
get_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *outp,
    struct cg_err *err)
{
	json_t		*v = json_object_get(o, key);
	json_int_t	 i;

	if (v == NULL)
		return cg_err_set(err, CG_EINVAL, "job: no \"%s\"", key);
	if (!json_is_integer(v))
		return cg_err_set(err, CG_EINVAL, "job: \"%s\" is not an "
		    "integer", key);
	i = json_integer_value(v);
	if (i < min || i > max)
		return cg_err_set(err, CG_EINVAL, "job: \"%s\" out of range",
		    key);
	*outp = (int64_t)i;
	return CG_OK;
}

/*
 * A worker parses every job it pushes, and d2i_X509() costs more than the
 * rest of a push together (OpenSSL 3 decodes the public key through its
 * provider decoders).  A job needs its certificates as bytes only, so it
 * checks their shape instead: DER, definite lengths, one Certificate
 * SEQUENCE { TBSCertificate, AlgorithmIdentifier, BIT STRING } and
 * nothing after it, the TBSCertificate starting with an optional [0]
 * version, the serial INTEGER and the five SEQUENCEs signature, issuer,
 * validity, subject and subjectPublicKeyInfo.  That tells a certificate
 * from a CSR, a CRL or a key; whoever reads the fields later (the
 * receiver) decodes it for real.
 */
struct der_rd {
	const uint8_t	*p;
	size_t		 len;
};

/* Take one TLV with tag (one byte, low-tag-number form) into *val. */
static bool
der_get(struct der_rd *r, uint8_t tag, struct der_rd *val)
{
	size_t	 n, i, hdr;

	if (r->len < 2 || r->p[0] != tag)
		return false;
	if (r->p[1] < 0x80) {
		n = r->p[1];
		hdr = 2;
	} else {
		i = r->p[1] & 0x7f;
		/* DER: the shortest form, no indefinite length, <= 4 bytes. */
		if (i == 0 || i > 4 || r->len < 2 + i || r->p[2] == 0)
			return false;
		for (n = 0, hdr = 0; hdr < i; hdr++)
			n = n << 8 | r->p[2 + hdr];
		if (n < 0x80)
			return false;
		hdr = 2 + i;
	}
	if (n > r->len - hdr)
		return false;
	val->p = r->p + hdr;
	val->len = n;
	r->p += hdr + n;
	r->len -= hdr + n;
	return true;
}

/*
 * Whether der is one certificate in the shape above; with serial, also
 * whether its serial number is serial (upper-case hex, no leading zero).
 */
static bool
cert_shape_ok(const uint8_t *der, size_t len, const char *serial)
{
	static const char	 hex[] = "0123456789ABCDEF";
	struct der_rd		 in = { der, len }, cert, tbs, x, sn;
	size_t			 i, k;
	char			 buf[2 * 32 + 1];
	int			 j;

	if (!der_get(&in, 0x30, &cert) || in.len != 0 ||
	    !der_get(&cert, 0x30, &tbs) || !der_get(&cert, 0x30, &x) ||
	    !der_get(&cert, 0x03, &x) || cert.len != 0)
		return false;
	if (tbs.len > 0 && tbs.p[0] == 0xa0 && !der_get(&tbs, 0xa0, &x))
		return false;
	if (!der_get(&tbs, 0x02, &sn) || sn.len == 0 || sn.len > 32)
		return false;
	for (j = 0; j < 5; j++)
		if (!der_get(&tbs, 0x30, &x))
			return false;
	if (serial == NULL)
		return true;
	/* A negative serial is never one of ours. */
	if (sn.p[0] & 0x80)
		return false;
	for (i = 0; i < sn.len && sn.p[i] == 0; i++)
		;
	for (k = 0; i < sn.len; i++) {
		if (k == 0 && sn.p[i] < 0x10)
			buf[k++] = hex[sn.p[i] & 0xf];
		else {
			buf[k++] = hex[sn.p[i] >> 4];
			buf[k++] = hex[sn.p[i] & 0xf];
		}
	}
	if (k == 0)
		buf[k++] = '0';
	buf[k] = '\0';
	return strcmp(buf, serial) == 0;
}

/* Decode one base64 certificate and check that it is one certificate. */
static enum cg_code
get_der(json_t *v, const char *what, struct dist_der *d, struct cg_err *err)
{
	enum cg_code	 rc;

	if (!json_is_string(v))
		return cg_err_set(err, CG_EINVAL, "job: %s is not a string",
		    what);
	rc = cg_base64_decode(json_string_value(v), json_string_length(v),
	    false, DIST_DER_MAX, &d->der, &d->len, NULL);
	if (rc != CG_OK)
		return cg_err_set(err, CG_EINVAL, "job: %s is not base64 of "
		    "at most %d bytes", what, DIST_DER_MAX);
	if (d->len == 0)
		return cg_err_set(err, CG_EINVAL, "job: %s is empty", what);
	if (!cert_shape_ok(d->der, d->len, NULL))
		return cg_err_set(err, CG_EINVAL, "job: %s is not one DER "
		    "certificate", what);
	return CG_OK;
}

static enum cg_code
parse_keys(json_t *o, struct cg_err *err)
{
	const char	*key;
	json_t		*v;
	size_t		 i;

	json_object_foreach(o, key, v) {
		for (i = 0; i < sizeof(job_keys) / sizeof(job_keys[0]); i++)
			if (strcmp(key, job_keys[i]) == 0)
				break;
		if (i == sizeof(job_keys) / sizeof(job_keys[0])) {
			/* Name it, but not more than a little of it. */
			return cg_err_set(err, CG_EINVAL, "job: unknown key "
			    "\"%.32s\"", key);
		}
	}
	return CG_OK;
}

static enum cg_code
parse_chain(json_t *o, struct dist_job *j, struct cg_err *err)
{
	json_t		*a = json_object_get(o, "chain");
	char		 what[32];
	size_t		 i, n;
	enum cg_code	 rc;

	if (a == NULL)
		return cg_err_set(err, CG_EINVAL, "job: no \"chain\"");
	if (!json_is_array(a))
		return cg_err_set(err, CG_EINVAL,
		    "job: \"chain\" is not an array");
	n = json_array_size(a);
	if (n > DIST_CHAIN_MAX)
		return cg_err_set(err, CG_EINVAL, "job: more than %d "
		    "certificates in \"chain\"", DIST_CHAIN_MAX);
	if (n == 0)
		return CG_OK;
	j->chain = cg_calloc(n, sizeof(*j->chain));
	if (j->chain == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "\"chain\"[%zu]", i);
		j->nchain++;
		rc = get_der(json_array_get(a, i), what, &j->chain[i],
		    err);
		if (rc != CG_OK)
			return rc;
	}
	return CG_OK;
}

static enum cg_code
parse_sans(json_t *o, struct dist_job *j, struct cg_err *err)
{
	json_t	*a = json_object_get(o, "sans"), *v;
	size_t	 i, n;

	if (a == NULL)
		return cg_err_set(err, CG_EINVAL, "job: no \"sans\"");
	if (!json_is_array(a))
		return cg_err_set(err, CG_EINVAL,
		    "job: \"sans\" is not an array");
	n = json_array_size(a);
	if (n > DIST_SANS_MAX)
		return cg_err_set(err, CG_EINVAL, "job: more than %d "
		    "\"sans\"", DIST_SANS_MAX);
	if (n == 0)
		return CG_OK;
	j->sans = cg_calloc(n, sizeof(*j->sans));
	if (j->sans == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		v = json_array_get(a, i);
		if (!json_is_string(v) ||
		    json_string_length(v) > DIST_SAN_VALUE_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    !san_ok(json_string_value(v)))
			return cg_err_set(err, CG_EINVAL, "job: \"sans\" "
			    "entries must be \"TYPE:value\" (DNS, IP, email, "
			    "URI), at most %d bytes", DIST_SAN_VALUE_MAX);
		j->sans[i] = cg_strdup(json_string_value(v));
		if (j->sans[i] == NULL)
			return cg_err_set(err, CG_ENOMEM, "out of memory");
		j->nsans++;
	}
	return CG_OK;
}

/* The counter at the end of "<serial>.<rule>.<n>", as job_check wants. */
static enum cg_code
parse_redelivery(struct dist_job *j, struct cg_err *err)
{
	size_t		 sl = strlen(j->serial), rl = strlen(j->rule);
	const char	*n;
	uint64_t	 v;

	if (strncmp(j->id, j->serial, sl) != 0 || j->id[sl] != '.' ||
	    strncmp(j->id + sl + 1, j->rule, rl) != 0 ||
	    j->id[sl + 1 + rl] != '.')
		return cg_err_set(err, CG_EINVAL, "job: \"id\" is not "
		    "\"<serial>.<rule>.<redelivery>\"");
	n = j->id + sl + rl + 2;
	/* One spelling per number, so one id per delivery. */
	if (!cg_parse_u64(n, strlen(n), UINT32_MAX, &v) ||
	    (n[0] == '0' && n[1] != '\0'))
		return cg_err_set(err, CG_EINVAL, "job: \"id\" does not end "
		    "in a redelivery counter");
	j->redelivery = (uint32_t)v;
	return CG_OK;
}

static enum cg_code
parse_obj(json_t *o, struct dist_job *j, struct cg_err *err)
{
	json_t		*v;
	int64_t		 ver, attempt;
	enum cg_code	 rc;

	rc = parse_keys(o, err);
	if (rc == CG_OK)
		rc = get_int(o, "v", 0, INT32_MAX, &ver, err);
	if (rc == CG_OK && ver != DIST_JOB_VERSION)
		rc = cg_err_set(err, CG_EINVAL, "job: version %lld is not %d",
		    (long long)ver, DIST_JOB_VERSION);
	if (rc == CG_OK)
		rc = get_str(o, "rule", 1, DIST_RULE_NAME_MAX, &j->rule, err);
	if (rc == CG_OK && !rule_name_ok(j->rule))
		rc = cg_err_set(err, CG_EINVAL, "job: \"rule\" must be 1 "
		    "to %d of [A-Za-z0-9_.-]", DIST_RULE_NAME_MAX);
	if (rc == CG_OK)
		rc = get_str(o, "serial", 1, DIST_SERIAL_MAX, &j->serial, err);
	if (rc == CG_OK && !serial_ok(j->serial))
		rc = cg_err_set(err, CG_EINVAL, "job: \"serial\" must be 1 "
		    "to %d upper-case hex digits without a leading zero",
		    DIST_SERIAL_MAX);
	if (rc == CG_OK)
		rc = get_str(o, "id", 1, DIST_ID_MAX, &j->id, err);
	if (rc == CG_OK)
		rc = parse_redelivery(j, err);
	if (rc == CG_OK) {
		v = json_object_get(o, "cert");
		rc = v != NULL ? get_der(v, "\"cert\"", &j->cert, err) :
		    cg_err_set(err, CG_EINVAL, "job: no \"cert\"");
	}
	if (rc == CG_OK && !cert_shape_ok(j->cert.der, j->cert.len,
	    j->serial))
		rc = cg_err_set(err, CG_EINVAL, "job: \"cert\" has another "
		    "serial number than \"serial\"");
	if (rc == CG_OK)
		rc = parse_chain(o, j, err);
	if (rc == CG_OK)
		rc = get_str(o, "subject", 0, DIST_SUBJECT_MAX, &j->subject,
		    err);
	if (rc == CG_OK)
		rc = parse_sans(o, j, err);
	if (rc == CG_OK)
		rc = get_int(o, "not_before", 0, DIST_TIME_MAX,
		    &j->not_before, err);
	if (rc == CG_OK)
		rc = get_int(o, "not_after", 0, DIST_TIME_MAX, &j->not_after,
		    err);
	if (rc == CG_OK)
		rc = get_str(o, "profile", 1, DIST_TEXT_MAX, &j->profile, err);
	if (rc == CG_OK)
		rc = get_str(o, "protocol", 1, DIST_TEXT_MAX, &j->protocol,
		    err);
	if (rc == CG_OK)
		rc = get_str(o, "requester", 0, DIST_TEXT_MAX, &j->requester,
		    err);
	if (rc == CG_OK)
		rc = get_int(o, "issued_at", 0, DIST_TIME_MAX, &j->issued_at,
		    err);
	if (rc == CG_OK)
		rc = get_int(o, "attempt", 0, DIST_ATTEMPT_MAX, &attempt,
		    err);
	if (rc == CG_OK) {
		j->attempt = (uint32_t)attempt;
		rc = get_int(o, "created_at", 0, DIST_TIME_MAX,
		    &j->created_at, err);
	}
	if (rc == CG_OK && json_object_get(o, "last_error") != NULL)
		rc = get_str(o, "last_error", 0, DIST_ERROR_MAX,
		    &j->last_error, err);
	/* What is left: the relations between fields. */
	if (rc == CG_OK)
		rc = job_check(j, err);
	return rc;
}

enum cg_code
dist_job_parse(const char *json, size_t len, struct dist_job **jobp,
    struct cg_err *err)
{
	struct dist_job	*j;
	json_error_t	 jerr;
	json_t		*o;
	enum cg_code	 rc;

	*jobp = NULL;
	if (len > CA_STORE_PAYLOAD_MAX)
		return cg_err_set(err, CG_ETOOBIG, "job: more than %d bytes",
		    CA_STORE_PAYLOAD_MAX);
	o = json_loadb(json != NULL ? json : "", len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (o == NULL) {
		rc = cg_err_set(err, CG_EINVAL, "job: not JSON");
		cg_err_detail(err, "line %d column %d: %s", jerr.line,
		    jerr.column, jerr.text);
		return rc;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		return cg_err_set(err, CG_EINVAL, "job: not a JSON object");
	}
	j = cg_calloc(1, sizeof(*j));
	if (j == NULL) {
		json_decref(o);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	rc = parse_obj(o, j, err);
	json_decref(o);
	if (rc != CG_OK) {
		dist_job_free(j);
		return rc;
	}
	*jobp = j;
	return CG_OK;
}

/* ------------------------------------------------------------ the hook */

struct hook_ctx {
	const struct dist_hook	*hook;
	struct ca_store		*st;
	const struct ca_cert_rec *rec;
	struct dist_job		*job;	/* built at the first match */
};

static enum cg_code
hook_one(void *arg, const struct gw_dist_rule *rule, struct cg_err *err)
{
	struct hook_ctx	*hc = arg;
	char		*json = NULL;
	enum cg_code	 rc;

	if (hc->job == NULL)
		rc = dist_job_from_rec(hc->rec, hc->hook->ca != NULL ?
		    ca_get0_chain(hc->hook->ca) : NULL, rule->name, 0,
		    cg_now(), &hc->job, err);
	else
		rc = dist_job_set_rule(hc->job, rule->name, err);
	if (rc == CG_OK)
		rc = dist_job_to_json(hc->job, &json, err);
	if (rc == CG_OK)
		rc = ca_store_outbox_add(hc->st, rule->name, hc->rec->serial,
		    json, err);
	cg_free(json);
	return rc;
}

enum cg_code
dist_outbox_hook(void *arg, struct ca_store *st,
    const struct ca_cert_rec *rec, struct cg_err *err)
{
	const struct dist_hook	*hook = arg;
	struct hook_ctx		 hc;
	enum cg_code		 rc;

	if (hook == NULL || hook->rules == NULL)
		return CG_OK;
	memset(&hc, 0, sizeof(hc));
	hc.hook = hook;
	hc.st = st;
	hc.rec = rec;
	rc = dist_rules_match(hook->rules, rec, hook_one, &hc, err);
	dist_job_free(hc.job);
	return rc;
}
