/*
 * dist_payload.c - the body a rule pushes: the leaf or the chain as DER,
 * base64 or PEM, or a JSON document with the certificate's metadata and
 * PEM.  Built from the job alone; the certificates are the job's DER as
 * issued, never re-encoded.
 */
#include "certgw/dist.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define PEM_LINE	64	/* base64 characters per PEM line (RFC 7468) */
#define PEM_TMP_MAX	(2 * CA_STORE_PAYLOAD_MAX)	/* PEM of a job */
#define TIME_TEXT	32	/* "2026-11-23T10:00:00Z" and room */

const char *
dist_payload_default_type(enum gw_dist_payload payload,
    enum gw_dist_encoding encoding)
{
	if (payload == GW_DIST_PAYLOAD_JSON)
		return "application/json";
	if ((payload != GW_DIST_PAYLOAD_CERT &&
	    payload != GW_DIST_PAYLOAD_CHAIN) ||
	    (encoding != GW_DIST_ENC_BASE64 && encoding != GW_DIST_ENC_DER &&
	    encoding != GW_DIST_ENC_PEM) ||
	    (payload == GW_DIST_PAYLOAD_CHAIN && encoding == GW_DIST_ENC_DER))
		return NULL;
	/* What the config loader writes into a rule that names none. */
	if (encoding == GW_DIST_ENC_PEM)
		return "application/x-pem-file";
	return "application/pkix-cert";
}

static enum cg_code
add_base64(struct cg_buf *out, const struct dist_der *d, struct cg_err *err)
{
	char		*b64;
	enum cg_code	 rc;

	rc = cg_base64_encode(d->der, d->len, &b64, err);
	if (rc != CG_OK)
		return rc;
	rc = cg_buf_addstr(out, b64, err);
	cg_free(b64);
	return rc;
}

static enum cg_code
add_pem(struct cg_buf *out, const struct dist_der *d, struct cg_err *err)
{
	char		*b64;
	size_t		 i, n, len;
	enum cg_code	 rc;

	rc = cg_base64_encode(d->der, d->len, &b64, err);
	if (rc != CG_OK)
		return rc;
	len = strlen(b64);
	rc = cg_buf_addstr(out, "-----BEGIN CERTIFICATE-----\n", err);
	for (i = 0; rc == CG_OK && i < len; i += n) {
		n = len - i < PEM_LINE ? len - i : PEM_LINE;
		rc = cg_buf_add(out, b64 + i, n, err);
		if (rc == CG_OK)
			rc = cg_buf_addstr(out, "\n", err);
	}
	if (rc == CG_OK)
		rc = cg_buf_addstr(out, "-----END CERTIFICATE-----\n", err);
	cg_free(b64);
	return rc;
}

/* The issuing CA chain as PEM, into a fresh string ("" when empty). */
static enum cg_code
chain_pem(const struct dist_job *job, char **outp, struct cg_err *err)
{
	struct cg_buf	 b;
	size_t		 i;
	enum cg_code	 rc = CG_OK;

	cg_buf_init(&b, PEM_TMP_MAX);
	for (i = 0; rc == CG_OK && i < job->nchain; i++)
		rc = add_pem(&b, &job->chain[i], err);
	if (rc == CG_OK) {
		*outp = b.len > 0 ? (char *)cg_buf_steal(&b, NULL) :
		    cg_strdup("");
		if (*outp == NULL)
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	cg_buf_cleanup(&b);
	return rc;
}

static enum cg_code
leaf_pem(const struct dist_job *job, char **outp, struct cg_err *err)
{
	struct cg_buf	 b;
	enum cg_code	 rc;

	cg_buf_init(&b, PEM_TMP_MAX);
	rc = add_pem(&b, &job->cert, err);
	if (rc == CG_OK) {
		*outp = (char *)cg_buf_steal(&b, NULL);
		if (*outp == NULL)
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	cg_buf_cleanup(&b);
	return rc;
}

static int
set_time(json_t *o, const char *key, int64_t t)
{
	char	 s[TIME_TEXT];

	cg_time_fmt(t, s, sizeof(s));
	return json_object_set_new(o, key, json_string(s));
}

static enum cg_code
build_json(const struct dist_job *job, struct cg_buf *out,
    struct cg_err *err)
{
	json_t		*o, *a;
	char		*leaf = NULL, *chain = NULL, *s = NULL;
	size_t		 i;
	int		 bad = 0;
	enum cg_code	 rc;

	rc = leaf_pem(job, &leaf, err);
	if (rc == CG_OK)
		rc = chain_pem(job, &chain, err);
	if (rc != CG_OK) {
		cg_free(leaf);
		return rc;
	}
	o = json_object();
	a = json_array();
	for (i = 0; a != NULL && i < job->nsans; i++)
		bad |= json_array_append_new(a, json_string(job->sans[i]));
	/* Field order is fixed so receivers and tests see stable bytes. */
	bad |= o == NULL || a == NULL;
	bad |= json_object_set_new(o, "serial", json_string(job->serial));
	bad |= json_object_set_new(o, "subject", json_string(job->subject));
	bad |= json_object_set_new(o, "sans", a);
	bad |= set_time(o, "not_before", job->not_before);
	bad |= set_time(o, "not_after", job->not_after);
	bad |= json_object_set_new(o, "profile", json_string(job->profile));
	bad |= json_object_set_new(o, "protocol",
	    json_string(job->protocol));
	bad |= json_object_set_new(o, "requester",
	    json_string(job->requester));
	bad |= json_object_set_new(o, "pem", json_string(leaf));
	bad |= json_object_set_new(o, "chain_pem", json_string(chain));
	if (!bad)
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s == NULL)
		rc = cg_err_set(err, CG_ENOMEM, "payload: cannot build JSON");
	else
		rc = cg_buf_addstr(out, s, err);
	free(s);
	json_decref(o);
	cg_free(leaf);
	cg_free(chain);
	return rc;
}

enum cg_code
dist_payload_build(const struct gw_dist_rule *rule,
    const struct dist_job *job, struct cg_buf *out, const char **content_type,
    struct cg_err *err)
{
	const char	*ct;
	size_t		 i;
	enum cg_code	 rc = CG_OK;

	if (content_type != NULL)
		*content_type = NULL;
	if (rule == NULL || job == NULL || job->cert.der == NULL)
		return cg_err_set(err, CG_EINVAL, "payload: no rule or job");
	ct = dist_payload_default_type(rule->payload, rule->encoding);
	if (ct == NULL)
		return cg_err_set(err, CG_EINVAL, "payload: rule '%s' asks for "
		    "a chain as DER, which holds one certificate",
		    rule->name != NULL ? rule->name : "");
	if (rule->content_type != NULL && rule->content_type[0] != '\0')
		ct = rule->content_type;
	if (rule->payload == GW_DIST_PAYLOAD_JSON)
		rc = build_json(job, out, err);
	else if (rule->encoding == GW_DIST_ENC_DER)
		rc = cg_buf_add(out, job->cert.der, job->cert.len, err);
	else if (rule->encoding == GW_DIST_ENC_BASE64) {
		rc = add_base64(out, &job->cert, err);
		for (i = 0; rc == CG_OK && rule->payload ==
		    GW_DIST_PAYLOAD_CHAIN && i < job->nchain; i++) {
			rc = cg_buf_addstr(out, "\n", err);
			if (rc == CG_OK)
				rc = add_base64(out, &job->chain[i], err);
		}
	} else {
		rc = add_pem(out, &job->cert, err);
		for (i = 0; rc == CG_OK && rule->payload ==
		    GW_DIST_PAYLOAD_CHAIN && i < job->nchain; i++)
			rc = add_pem(out, &job->chain[i], err);
	}
	if (rc == CG_OK && content_type != NULL)
		*content_type = ct;
	return rc;
}
