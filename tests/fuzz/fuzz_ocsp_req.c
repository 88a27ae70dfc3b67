/*
 * fuzz_ocsp_req.c - ca_ocsp_respond() reads OCSP requests straight from
 * the network (POST bodies, GET paths once base64-decoded).  Each input is
 * answered as it is, and, when OpenSSL can parse it, once more with every
 * CertID's issuer hashes replaced by this run's CA, so that the store
 * look-ups, the nonce echo and the signing are reached too.  The CA, its
 * store and one issued, revoked certificate are made once per process in
 * a temporary directory.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ocsp.h>

#include "certgw/ca.h"
#include "certgw/store.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static char		 fuzz_dir[PATH_MAX];
static struct ca	*fuzz_ca;
static struct ca_store	*fuzz_st;
static struct ca_ocsp	*fuzz_ocsp;

static void
die(const char *what, const struct cg_err *err)
{
	fprintf(stderr, "fuzz_ocsp_req: %s: %s (%s)\n", what, err->msg,
	    err->detail);
	abort();
}

static void
cleanup(void)
{
	char	*cmd;

	ca_ocsp_free(fuzz_ocsp);
	ca_store_close(fuzz_st);
	ca_free(fuzz_ca);
	/* The directory holds only what init and the store made. */
	cmd = cg_asprintf("rm -rf '%s'", fuzz_dir);
	if (cmd != NULL && system(cmd) != 0)
		fprintf(stderr, "fuzz_ocsp_req: cannot remove %s\n", fuzz_dir);
	cg_free(cmd);
}

/* One certificate, so that some serial is known, then revoked. */
static void
issue_one(void)
{
	struct ca_profile	 p;
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	struct ca_csr		*csr = NULL;
	struct cg_err		 err = { 0 };
	EVP_PKEY		*key = NULL;
	uint8_t			*der = NULL;
	size_t			 len = 0;

	memset(&p, 0, sizeof(p));
	p.name = "fuzz";
	p.validity_days = 30;
	p.key_types = 1u << CA_KEY_EC_P256;
	p.key_usage = CA_KU_DIGITAL_SIGNATURE;
	if (ca_key_generate(CA_INIT_EC_P256, &key, &err) != CG_OK ||
	    ca_csr_make(key, "fuzz", NULL, 0, &der, &len, &err) != CG_OK ||
	    ca_csr_parse(der, len, &csr, &err) != CG_OK)
		die("csr", &err);
	req.csr = csr;
	req.profile = &p;
	req.protocol = "cli";
	req.requester = "fuzz";
	if (ca_issue(fuzz_ca, fuzz_st, &req, &is, &err) != CG_OK ||
	    ca_revoke(fuzz_ca, fuzz_st, is->serial, CA_REASON_SUPERSEDED,
	    "fuzz", &err) != CG_OK)
		die("issue", &err);
	ca_issued_free(is);
	ca_csr_free(csr);
	cg_free(der);
	EVP_PKEY_free(key);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ca_init_opts	 o;
	struct ca_config	 rel, conf;
	struct cg_err		 err = { 0 };
	const char		*tmp = getenv("TMPDIR");
	char			*db;

	(void)argc;
	(void)argv;
	cg_log_set_level(CG_LOG_ERR);
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz_ocsp.XXXXXX",
	    tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	memset(&o, 0, sizeof(o));
	memset(&rel, 0, sizeof(rel));
	memset(&conf, 0, sizeof(conf));
	o.dir = fuzz_dir;
	o.name = "CN=fuzz CA";
	o.key_type = CA_INIT_EC_P256;
	if (ca_init_create(&o, &rel, &err) != CG_OK)
		die("init", &err);
	conf.cert_file = cg_path_join(fuzz_dir, rel.cert_file);
	conf.key_file = cg_path_join(fuzz_dir, rel.key_file);
	conf.crl_validity_s = 3600;
	db = cg_asprintf("%s/certgw.db", fuzz_dir);
	if (db == NULL || ca_open(&conf, &fuzz_ca, &err) != CG_OK ||
	    ca_store_open(db, &fuzz_st, &err) != CG_OK ||
	    ca_ocsp_open(fuzz_ca, NULL, &fuzz_ocsp, &err) != CG_OK)
		die("open", &err);
	cg_free(db);
	ca_config_cleanup(&rel);
	ca_config_cleanup(&conf);
	issue_one();
	atexit(cleanup);
	return 0;
}

static void
answer(const uint8_t *data, size_t len)
{
	struct ca_ocsp_result	 res;
	uint8_t			*out = NULL;
	size_t			 outlen = 0;

	(void)ca_ocsp_respond(fuzz_ocsp, fuzz_st, data, len, cg_now(), &out,
	    &outlen, &res, NULL);
	cg_free(out);
}

/*
 * The same serials and request extensions (the nonce among them) in a
 * new request whose CertIDs name this run's CA, alternately by SHA-1 and
 * SHA-256; NULL when OpenSSL cannot parse the input.
 */
static uint8_t *
rehome(const uint8_t *data, size_t len, size_t *outlenp)
{
	const unsigned char	*p = data;
	unsigned char		*q;
	OCSP_REQUEST		*req, *nreq = NULL;
	OCSP_CERTID		*cid, *nid;
	ASN1_INTEGER		*serial;
	X509			*cacert = ca_get0_cert(fuzz_ca);
	uint8_t			*out = NULL;
	int			 i, n, olen;

	req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	if (req == NULL || (nreq = OCSP_REQUEST_new()) == NULL)
		goto out;
	n = OCSP_request_onereq_count(req);
	for (i = 0; i < n && i <= CA_OCSP_CERTIDS_MAX; i++) {
		cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
		serial = NULL;
		if (OCSP_id_get0_info(NULL, NULL, NULL, &serial, cid) != 1 ||
		    serial == NULL)
			continue;
		nid = OCSP_cert_id_new(i % 2 ? EVP_sha256() : EVP_sha1(),
		    X509_get_subject_name(cacert),
		    X509_get0_pubkey_bitstr(cacert), serial);
		if (nid != NULL && OCSP_request_add0_id(nreq, nid) == NULL)
			OCSP_CERTID_free(nid);
	}
	n = OCSP_REQUEST_get_ext_count(req);
	for (i = 0; i < n; i++)
		(void)OCSP_REQUEST_add_ext(nreq, OCSP_REQUEST_get_ext(req, i),
		    -1);
	olen = i2d_OCSP_REQUEST(nreq, NULL);
	if (olen > 0 && (out = cg_malloc((size_t)olen)) != NULL) {
		q = out;
		if (i2d_OCSP_REQUEST(nreq, &q) == olen) {
			*outlenp = (size_t)olen;
		} else {
			cg_free(out);
			out = NULL;
		}
	}
out:
	OCSP_REQUEST_free(nreq);
	OCSP_REQUEST_free(req);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t	*again;
	size_t	 alen = 0;

	answer(data, len);
	if (len > CA_OCSP_REQ_MAX)
		return 0;
	again = rehome(data, len, &alen);
	if (again != NULL)
		answer(again, alen);
	cg_free(again);
	return 0;
}
