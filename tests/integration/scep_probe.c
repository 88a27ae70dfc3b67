/*
 * scep_probe.c - a SCEP (RFC 8894) client for the protocol tests.  It
 * builds one PKIMessage (PKCSReq, RenewalReq, CertPoll, GetCert or GetCRL)
 * with OpenSSL's CMS API, spoils it on request (a flipped byte, a foreign
 * key, a weak algorithm, a reused transactionID or nonce, junk), sends it
 * by GET or POST with libcurl and reads the CertRep as a careful client
 * would.  It prints what it saw as key=value lines for
 * tests/integration/test_scep_protocol.sh to assert on, and itself checks
 * only the reply's integrity (RA signature, transactionID, nonces).  The
 * message building and CertRep reading it shares with certgw-bench scep
 * are in tests/common/scep_cl.c; what is here is the spoiling, the
 * options and the printing.
 */
#include <certgw/core.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "scep_cl.h"

#define PROBE_FILE_MAX		(1024 * 1024)	/* --replay file */
#define PROBE_BODY_MAX		(1024 * 1024)	/* HTTP reply accepted */
#define PROBE_GARBAGE_MAX	(1024 * 1024)	/* --garbage ceiling */
#define PROBE_TEXT_MAX		200		/* text reply bytes printed */
#define PROBE_TIMEOUT_S		30		/* one HTTP exchange */
#define PROBE_RSA_BITS		2048		/* client keys it makes */
#define PROBE_SERIAL_MAX	64		/* --serial hex digits */
#define PROBE_OFFSET_MAX	(20 * 365 * 86400) /* --time-offset, s */
#define PROBE_CN_MAX		64		/* --cn characters */
#define EX_PROBE_USAGE		2

enum probe_op {
	OP_PKCSREQ,
	OP_RENEWALREQ,
	OP_CERTPOLL,
	OP_GETCERT,
	OP_GETCRL,
	OP__MAX
};

static const struct {
	const char	*name;		/* --op */
	const char	*type;		/* messageType, decimal */
} ops[OP__MAX] = {
	[OP_PKCSREQ] = { "pkcsreq", "19" },
	[OP_RENEWALREQ] = { "renewalreq", "17" },
	[OP_CERTPOLL] = { "certpoll", "20" },
	[OP_GETCERT] = { "getcert", "21" },
	[OP_GETCRL] = { "getcrl", "22" },
};

/* Ways to spoil a message that is otherwise well made. */
enum probe_tamper {
	TAMPER_NONE,
	TAMPER_CIPHER,		/* ciphertext changed before signing */
	TAMPER_SIGNED,		/* signed content changed after signing */
	TAMPER_KEY,		/* signed by a key the certificate lacks */
	TAMPER__MAX
};

static const char *const tamper_names[TAMPER__MAX] = {
	[TAMPER_NONE] = "none",
	[TAMPER_CIPHER] = "cipher",
	[TAMPER_SIGNED] = "signed",
	[TAMPER_KEY] = "key",
};

struct opts {
	const char		*url;		/* service URL, no query */
	enum probe_op		 op;		/* what to send */
	const char		*ra_file;	/* RA certificate (PEM) */
	const char		*key_file;	/* client key; made if absent */
	const char		*cert_file;	/* signer; NULL: self-signed */
	const char		*to_file;	/* recipient; NULL: the RA */
	const char		*issuer_file;	/* the CA: poll, get */
	const char		*serial;	/* getcert/getcrl, hex */
	const char		*cn;		/* CSR, self-signed subject */
	const char		*challenge;	/* challengePassword or NULL */
	const char		*tid;		/* NULL: random */
	const char		*nonce;		/* hex; NULL: random */
	const char		*md;		/* signature digest */
	const char		*cipher;	/* envelope cipher */
	enum probe_tamper	 tamper;	/* how to spoil the message */
	const char		*save_file;	/* write the message sent */
	const char		*replay_file;	/* send this message as is */
	const char		*out_cert;	/* SUCCESS: certificates, PEM */
	const char		*out_crl;	/* SUCCESS: CRL, PEM */
	const char		*cacert;	/* HTTPS trust anchors */
	size_t			 garbage;	/* send this many junk bytes */
	int64_t			 time_offset;	/* signingTime = now + this; 0:
						   OpenSSL's own */
	bool			 get;		/* GET instead of POST */
};

struct probe {
	const struct opts	*o;		/* what was asked */
	EVP_PKEY		*key;		/* the client's key */
	X509			*cert;		/* signer, reply recipient */
	X509			*ra;		/* must sign the reply */
	char			 tid[SCL_TID_MAX + 1]; /* sent */
	uint8_t			 nonce[SCL_NONCE_LEN]; /* senderNonce sent */
	uint8_t			*msg;		/* what is sent (OPENSSL_) */
	size_t			 msg_len;	/* its length */
};

struct http_reply {
	long			 status;	/* HTTP status */
	char			 ctype[128];	/* Content-Type or "" */
	struct cg_buf		 body;		/* at most PROBE_BODY_MAX */
};

/* ------------------------------------------------------------ inputs */

/* Write a new key file, mode 0600, refusing to replace one. */
static bool
key_save(const char *path, EVP_PKEY *k)
{
	FILE	*f;
	int	 fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		scl_warn("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || ok != 1) {
		scl_warn("%s: cannot write the key", path);
		return false;
	}
	return true;
}

/* The key in path, or a new one saved there; in memory without a path. */
static EVP_PKEY *
key_get(const char *path)
{
	EVP_PKEY	*k;
	FILE		*f;

	if (path == NULL)
		return scl_rsa_key(PROBE_RSA_BITS);
	if ((f = fopen(path, "r")) == NULL) {
		if (errno != ENOENT) {
			scl_warn("%s: %s", path, strerror(errno));
			return NULL;
		}
		k = scl_rsa_key(PROBE_RSA_BITS);
		if (k != NULL && !key_save(path, k)) {
			EVP_PKEY_free(k);
			k = NULL;
		}
		return k;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		scl_warn("%s: no PEM private key", path);
	return k;
}

/* "0A1b..." into bytes; exactly n of them. */
static bool
hex_decode(const char *s, uint8_t *out, size_t n)
{
	size_t	 i;
	char	 pair[3] = { 0 };
	char	*end;

	if (strlen(s) != 2 * n)
		return false;
	for (i = 0; i < n; i++) {
		pair[0] = s[2 * i];
		pair[1] = s[2 * i + 1];
		if (strspn(pair, "0123456789abcdefABCDEF") != 2)
			return false;
		out[i] = (uint8_t)strtoul(pair, &end, 16);
	}
	return true;
}

/* ----------------------------------------------------------- building */

/*
 * For TAMPER_KEY: a certificate with the signer's issuer and serial (so
 * the SignerInfo names the real one) for an unrelated key.  The message
 * carries only the real certificate, whose key cannot verify it.
 */
static X509 *
impostor_make(X509 *real, EVP_PKEY *other)
{
	X509	*x;

	if ((x = X509_dup(real)) == NULL || X509_set_pubkey(x, other) != 1 ||
	    X509_sign(x, other, EVP_sha256()) <= 0) {
		scl_warn("cannot make the impostor certificate");
		X509_free(x);
		return NULL;
	}
	return x;
}

/* What the envelope carries for the operation asked. */
static uint8_t *
inner_make(const struct probe *p, size_t *lenp)
{
	const struct opts	*o = p->o;
	X509			*ca = NULL;
	X509_NAME		*subj = NULL;
	ASN1_INTEGER		*serial = NULL;
	BIGNUM			*bn = NULL;
	uint8_t			*der = NULL;

	if (o->op == OP_PKCSREQ || o->op == OP_RENEWALREQ)
		return scl_csr(p->key, o->cn, o->challenge, lenp);
	if ((ca = scl_cert_read(o->issuer_file)) == NULL)
		return NULL;
	if (o->op == OP_CERTPOLL) {
		subj = X509_NAME_new();
		if (subj == NULL || X509_NAME_add_entry_by_txt(subj, "CN",
		    MBSTRING_UTF8, (const unsigned char *)o->cn, -1, -1, 0) !=
		    1) {
			scl_warn("cannot make the subject");
			goto out;
		}
	} else if (BN_hex2bn(&bn, o->serial) != (int)strlen(o->serial) ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		scl_warn("--serial %s is not hex", o->serial);
		goto out;
	}
	der = scl_names(X509_get_subject_name(ca), subj, serial, lenp);
out:
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_NAME_free(subj);
	X509_free(ca);
	return der;
}

static bool
message_build(struct probe *p)
{
	const struct opts	*o = p->o;
	struct scl_msg		 m = {
		.type = ops[o->op].type, .to = p->ra, .cipher = o->cipher,
		.signer = p->cert, .key = p->key, .md = o->md, .tid = p->tid,
		.nonce = p->nonce, .spoil_cipher = o->tamper == TAMPER_CIPHER,
		.spoil_signed = o->tamper == TAMPER_SIGNED,
		.signing_time = o->time_offset != 0 ? cg_now() +
		    o->time_offset : 0,
	};
	EVP_PKEY		*other = NULL;
	X509			*fake = NULL;
	uint8_t			*inner = NULL;
	size_t			 ilen = 0;
	bool			 ok = false;

	if (o->to_file != NULL && (m.to = scl_cert_read(o->to_file)) == NULL)
		return false;
	if ((inner = inner_make(p, &ilen)) == NULL)
		goto out;
	if (o->tamper == TAMPER_KEY) {
		/* Sign as the impostor, carry only the real certificate. */
		other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (other == NULL || (fake = impostor_make(p->cert, other)) ==
		    NULL)
			goto out;
		m.signer = fake;
		m.key = other;
		m.carry = p->cert;
	}
	m.inner = inner;
	m.inner_len = ilen;
	ok = (p->msg = scl_message(&m, &p->msg_len)) != NULL;
out:
	if (inner != NULL)
		OPENSSL_clear_free(inner, ilen);	/* challenge */
	X509_free(fake);
	EVP_PKEY_free(other);
	if (m.to != p->ra)
		X509_free(m.to);
	return ok;
}

/* ------------------------------------------------------- replay, junk */

/* A message saved before: its tid, nonce and signer, to check the reply. */
static bool
replay_load(struct probe *p)
{
	CMS_ContentInfo		*cms = NULL;
	CMS_SignerInfo		*si;
	STACK_OF(X509)		*certs = NULL;
	const ASN1_STRING	*tid, *nonce;
	const unsigned char	*q;
	uint8_t			*data = NULL;
	size_t			 len = 0;
	int			 i;
	bool			 ok = false;

	if (cg_file_read(p->o->replay_file, PROBE_FILE_MAX, &data, &len,
	    NULL) != CG_OK || len == 0) {
		scl_warn("%s: cannot read", p->o->replay_file);
		goto out;
	}
	if ((p->msg = OPENSSL_memdup(data, len)) == NULL)
		goto out;
	p->msg_len = len;
	q = p->msg;
	if ((cms = d2i_CMS_ContentInfo(NULL, &q, (long)len)) == NULL ||
	    (si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0)) ==
	    NULL)
		goto out;
	tid = scl_attr_get(si, SCL_OID_TRANS_ID, V_ASN1_PRINTABLESTRING);
	nonce = scl_attr_get(si, SCL_OID_SENDER_NONCE, V_ASN1_OCTET_STRING);
	if (tid == NULL || ASN1_STRING_length(tid) > SCL_TID_MAX ||
	    nonce == NULL || ASN1_STRING_length(nonce) != SCL_NONCE_LEN)
		goto out;
	memcpy(p->tid, ASN1_STRING_get0_data(tid),
	    (size_t)ASN1_STRING_length(tid));
	p->tid[ASN1_STRING_length(tid)] = '\0';
	memcpy(p->nonce, ASN1_STRING_get0_data(nonce), SCL_NONCE_LEN);
	certs = CMS_get1_certs(cms);
	for (i = 0; certs != NULL && i < sk_X509_num(certs); i++) {
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0 &&
		    X509_up_ref(sk_X509_value(certs, i)) == 1) {
			p->cert = sk_X509_value(certs, i);
			break;
		}
	}
	ok = p->cert != NULL;
out:
	if (!ok)
		scl_warn("%s: not a PKIMessage this probe can replay",
		    p->o->replay_file);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	cg_free(data);
	return ok;
}

/* n bytes that no DER reader accepts: a SEQUENCE claiming too much. */
static bool
garbage_make(struct probe *p)
{
	if ((p->msg = OPENSSL_malloc(p->o->garbage)) == NULL)
		return false;
	memset(p->msg, 'G', p->o->garbage);
	p->msg[0] = 0x30;
	if (p->o->garbage > 1)
		p->msg[1] = 0x84;	/* four length bytes: 'GGGG' */
	p->msg_len = p->o->garbage;
	return true;
}

/* --------------------------------------------------------------- HTTP */

static bool
http_send(const struct probe *p, struct http_reply *r)
{
	CURL			*c;
	struct curl_slist	*hdrs = NULL;
	char			 ebuf[CURL_ERROR_SIZE] = "";
	char			*url = NULL, *ct = NULL;
	CURLcode		 rc = CURLE_FAILED_INIT;

	if ((c = curl_easy_init()) == NULL || (url = scl_op_url(c, p->o->url,
	    p->msg, p->msg_len, p->o->get)) == NULL)
		goto out;
	if (!p->o->get)
		hdrs = scl_post_headers(false);
	scl_http_setup(c, url, p->o->get ? NULL : p->msg, p->msg_len, hdrs,
	    p->o->cacert, &r->body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)PROBE_TIMEOUT_S);
	if ((rc = curl_easy_perform(c)) != CURLE_OK)
		goto out;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
out:
	if (rc != CURLE_OK)
		scl_warn("HTTP: %s", ebuf[0] != '\0' ? ebuf :
		    curl_easy_strerror(rc));
	curl_slist_free_all(hdrs);
	cg_free(url);
	curl_easy_cleanup(c);
	return rc == CURLE_OK;
}

/* A text answer, printable bytes only, on one line. */
static void
text_print(const struct cg_buf *b)
{
	size_t	 i;

	fputs("body=", stdout);
	for (i = 0; i < b->len && i < PROBE_TEXT_MAX; i++)
		putchar(b->data[i] >= 0x20 && b->data[i] < 0x7f ?
		    b->data[i] : '.');
	putchar('\n');
}

/* ------------------------------------------------------- the CertRep */

/* RFC 8894 §3.2.1: the reply must answer our transaction and nonce. */
static bool
attrs_check(const struct scl_rep *r)
{
	const char	*fail;

	printf("digest=%s\n", OBJ_nid2sn(r->digest_nid));
	printf("message_type=%d\n", r->msg_type);
	puts(r->tid_ok ? "transaction_id=ok" : "transaction_id=mismatch");
	puts(r->rnonce_ok ? "recipient_nonce=ok" : "recipient_nonce=mismatch");
	printf("sender_nonce=%s\n", r->snonce_ok ? "ok" : "bad");
	printf("pki_status=%s\n", r->status == SCL_STATUS_SUCCESS ?
	    "SUCCESS" : r->status == SCL_STATUS_FAILURE ? "FAILURE" :
	    r->status == SCL_STATUS_PENDING ? "PENDING" : "bad");
	if (r->status == SCL_STATUS_FAILURE) {
		fail = scl_fail_name(r->fail_info);
		printf("fail_info=%s\n", fail != NULL ? fail : "bad");
	}
	return r->tid_ok && r->rnonce_ok && r->msg_type == SCL_TYPE_CERTREP &&
	    (r->status == SCL_STATUS_SUCCESS ||
	    r->status == SCL_STATUS_FAILURE || r->status == SCL_STATUS_PENDING);
}

static bool
pem_out(const char *path, const STACK_OF(X509) *certs, X509_CRL *crl)
{
	BIO	*b;
	int	 i;
	bool	 ok;

	if ((b = BIO_new_file(path, "w")) == NULL) {
		scl_warn("%s: cannot write", path);
		return false;
	}
	ok = true;
	for (i = 0; certs != NULL && i < sk_X509_num(certs); i++)
		ok = ok && PEM_write_bio_X509(b, sk_X509_value(certs, i)) == 1;
	if (crl != NULL)
		ok = ok && PEM_write_bio_X509_CRL(b, crl) == 1;
	if (BIO_free(b) != 1 || !ok) {
		scl_warn("%s: cannot write", path);
		return false;
	}
	return true;
}

static void
serial_print(const char *key, const ASN1_INTEGER *ai)
{
	BIGNUM	*bn = ASN1_INTEGER_to_BN(ai, NULL);
	char	*h = bn != NULL ? BN_bn2hex(bn) : NULL;

	printf("%s%s", key, h != NULL ? h : "?");
	OPENSSL_free(h);
	BN_free(bn);
}

/* The degenerate PKCS#7 inside a SUCCESS: what it holds, saved. */
static bool
certs_only_read(const struct probe *p, const uint8_t *der, size_t len)
{
	STACK_OF(X509)		*certs;
	STACK_OF(X509_CRL)	*crls;
	STACK_OF(X509_REVOKED)	*rev;
	PKCS7			*p7;
	X509			*x;
	X509_CRL		*crl = NULL;
	int			 i;
	bool			 ok;

	if ((p7 = scl_certs_only(der, len)) == NULL) {
		scl_warn("the envelope does not hold a certs-only PKCS#7");
		return false;
	}
	certs = p7->d.sign->cert;
	crls = p7->d.sign->crl;
	printf("certs=%d\n", certs != NULL ? sk_X509_num(certs) : 0);
	if (certs != NULL && sk_X509_num(certs) > 0) {
		x = sk_X509_value(certs, 0);
		serial_print("cert_serial=", X509_get0_serialNumber(x));
		printf("\ncert_key=%s\n", EVP_PKEY_eq(X509_get0_pubkey(x),
		    p->key) == 1 ? "match" : "other");
	}
	printf("crls=%d\n", crls != NULL ? sk_X509_CRL_num(crls) : 0);
	if (crls != NULL && sk_X509_CRL_num(crls) > 0) {
		crl = sk_X509_CRL_value(crls, 0);
		rev = X509_CRL_get_REVOKED(crl);
		fputs("crl_revoked=", stdout);
		for (i = 0; rev != NULL && i < sk_X509_REVOKED_num(rev); i++)
			serial_print(i > 0 ? "," : "",
			    X509_REVOKED_get0_serialNumber(
			    sk_X509_REVOKED_value(rev, i)));
		putchar('\n');
	}
	ok = (p->o->out_cert == NULL || pem_out(p->o->out_cert, certs,
	    NULL)) && (p->o->out_crl == NULL || crl == NULL ||
	    pem_out(p->o->out_crl, NULL, crl));
	PKCS7_free(p7);
	return ok;
}

/* SUCCESS: the envelope to us, its cipher, and what it holds. */
static bool
envelope_read(const struct probe *p, const uint8_t *der, size_t len)
{
	uint8_t			*plain = NULL;
	size_t			 plen = 0;
	int			 nid = NID_undef;
	enum scl_env_code	 rc;
	bool			 ok;

	rc = scl_envelope_open(der, len, p->key, p->cert, &nid, &plain,
	    &plen);
	if (rc == SCL_ENV_NOT_ENVELOPED) {
		scl_warn("SUCCESS without an EnvelopedData");
		return false;
	}
	printf("cipher=%s\n", OBJ_nid2sn(nid));
	if (rc != SCL_ENV_OK) {
		scl_warn("cannot decrypt the reply");
		return false;
	}
	ok = certs_only_read(p, plain, plen);
	OPENSSL_free(plain);
	return ok;
}

/*
 * The CertRep (RFC 8894 §3.3.2): signed by the RA certificate we were
 * given and nothing else, answering our transactionID and senderNonce.
 */
static bool
reply_read(const struct probe *p, const struct http_reply *r)
{
	struct scl_rep		 rep;
	enum scl_rep_code	 rc;
	bool			 ok = false;

	if (strcasecmp(r->ctype, "application/x-pki-message") != 0) {
		scl_warn("the reply is not application/x-pki-message");
		return false;
	}
	rc = scl_rep_read(r->body.data, r->body.len, p->ra, p->tid, p->nonce,
	    &rep);
	if (rc == SCL_REP_MALFORMED)
		scl_warn("the reply is not a SignedData with one signer");
	if (rc == SCL_REP_BAD_SIGNATURE) {
		puts("signature=bad");
		scl_warn("the reply is not signed by the RA");
	}
	if (rc != SCL_REP_OK)
		goto out;
	puts("signature=ok");
	if (!attrs_check(&rep)) {
		scl_warn("the reply's attributes do not answer the request");
		goto out;
	}
	ok = rep.status != SCL_STATUS_SUCCESS || (rep.content_len > 0 &&
	    envelope_read(p, rep.content, rep.content_len));
out:
	scl_rep_free(&rep);
	return ok;
}

/* ---------------------------------------------------------- the run */

static int
usage(void)
{
	fprintf(stderr, "usage: scep_probe --url URL --ra RA.pem "
	    "[--op pkcsreq|renewalreq|certpoll|getcert|getcrl]\n"
	    "\t[--key FILE] [--cert FILE] [--cn NAME] [--challenge PW]\n"
	    "\t[--issuer CA.pem] [--serial HEX] [--tid TID] [--nonce HEX]\n"
	    "\t[--md SHA256] [--cipher AES-256-CBC] [--to CERT.pem]\n"
	    "\t[--tamper cipher|signed|key] [--get] [--save FILE]\n"
	    "\t[--replay FILE] [--garbage N] [--out-cert FILE]\n"
	    "\t[--out-crl FILE] [--cacert FILE] [--time-offset SECONDS]\n");
	return EX_PROBE_USAGE;
}

static bool
name_find(const char *s, const char *const *names, size_t n, int *out)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (names[i] != NULL && strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	return false;
}

static bool
op_find(const char *s, enum probe_op *out)
{
	int	 i;

	for (i = 0; i < OP__MAX; i++) {
		if (strcmp(s, ops[i].name) == 0) {
			*out = (enum probe_op)i;
			return true;
		}
	}
	return false;
}

/* What must go together, checked before any key is made. */
static bool
opts_check(const struct opts *o)
{
	if (o->url == NULL || o->ra_file == NULL)
		return false;
	if (o->garbage > 0 || o->replay_file != NULL)
		return o->garbage == 0 || o->replay_file == NULL;
	if (strlen(o->cn) > PROBE_CN_MAX || (o->tid != NULL &&
	    (strlen(o->tid) == 0 || strlen(o->tid) > SCL_TID_MAX)))
		return false;
	if (o->op == OP_GETCERT || o->op == OP_GETCRL)
		return o->issuer_file != NULL && o->serial != NULL &&
		    strlen(o->serial) <= PROBE_SERIAL_MAX;
	return o->op != OP_CERTPOLL || o->issuer_file != NULL;
}

static bool
opts_parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ra", required_argument, NULL, 'r' },
		{ "op", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "cn", required_argument, NULL, 'n' },
		{ "challenge", required_argument, NULL, 'p' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "serial", required_argument, NULL, 's' },
		{ "tid", required_argument, NULL, 't' },
		{ "nonce", required_argument, NULL, 'N' },
		{ "md", required_argument, NULL, 'm' },
		{ "cipher", required_argument, NULL, 'C' },
		{ "to", required_argument, NULL, 'T' },
		{ "tamper", required_argument, NULL, 'X' },
		{ "get", no_argument, NULL, 'g' },
		{ "save", required_argument, NULL, 'S' },
		{ "replay", required_argument, NULL, 'R' },
		{ "garbage", required_argument, NULL, 'G' },
		{ "out-cert", required_argument, NULL, 'O' },
		{ "out-crl", required_argument, NULL, 'L' },
		{ "cacert", required_argument, NULL, 'A' },
		{ "time-offset", required_argument, NULL, 'Z' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t	 n;
	int		 ch, t;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': o->url = optarg; break;
		case 'r': o->ra_file = optarg; break;
		case 'o':
			if (!op_find(optarg, &o->op))
				return false;
			break;
		case 'k': o->key_file = optarg; break;
		case 'c': o->cert_file = optarg; break;
		case 'n': o->cn = optarg; break;
		case 'p': o->challenge = optarg; break;
		case 'i': o->issuer_file = optarg; break;
		case 's': o->serial = optarg; break;
		case 't': o->tid = optarg; break;
		case 'N': o->nonce = optarg; break;
		case 'm': o->md = optarg; break;
		case 'C': o->cipher = optarg; break;
		case 'T': o->to_file = optarg; break;
		case 'X':
			if (!name_find(optarg, tamper_names, TAMPER__MAX, &t))
				return false;
			o->tamper = (enum probe_tamper)t;
			break;
		case 'g': o->get = true; break;
		case 'S': o->save_file = optarg; break;
		case 'R': o->replay_file = optarg; break;
		case 'G':
			if (!cg_parse_u64(optarg, strlen(optarg),
			    PROBE_GARBAGE_MAX, &n) || n == 0)
				return false;
			o->garbage = (size_t)n;
			break;
		case 'O': o->out_cert = optarg; break;
		case 'L': o->out_crl = optarg; break;
		case 'A': o->cacert = optarg; break;
		case 'Z':
			t = optarg[0] == '-';
			if (!cg_parse_u64(optarg + t, strlen(optarg + t),
			    PROBE_OFFSET_MAX, &n))
				return false;
			o->time_offset = t ? -(int64_t)n : (int64_t)n;
			break;
		default:
			return false;
		}
	}
	return optind == argc && opts_check(o);
}

/* The message to send: built, replayed or junk. */
static bool
message_get(struct probe *p)
{
	const struct opts	*o = p->o;
	uint8_t			 rnd[16];

	if (o->garbage > 0)
		return garbage_make(p);
	if (o->replay_file != NULL)
		return (p->key = key_get(o->key_file)) != NULL &&
		    replay_load(p);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    RAND_bytes(p->nonce, sizeof(p->nonce)) != 1) {
		scl_warn("no random bytes");
		return false;
	}
	cg_hex_encode(rnd, sizeof(rnd), p->tid, true);
	if (o->tid != NULL)
		snprintf(p->tid, sizeof(p->tid), "%s", o->tid);
	if (o->nonce != NULL && !hex_decode(o->nonce, p->nonce,
	    sizeof(p->nonce))) {
		scl_warn("--nonce takes %d hex digits", 2 * SCL_NONCE_LEN);
		return false;
	}
	if ((p->key = key_get(o->key_file)) == NULL)
		return false;
	p->cert = o->cert_file != NULL ? scl_cert_read(o->cert_file) :
	    scl_self_signed(p->key, o->cn);
	if (p->cert == NULL)
		return false;
	if (X509_check_private_key(p->cert, p->key) != 1) {
		scl_warn("--cert does not belong to --key");
		return false;
	}
	return message_build(p);
}

static bool
message_save(const struct probe *p)
{
	struct cg_err	 err = { 0 };

	if (cg_file_write(p->o->save_file, p->msg, p->msg_len, 0600, false,
	    &err) != CG_OK) {
		scl_warn("%s: %s", p->o->save_file, err.msg);
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	struct opts		 o = {
		.cn = "scep-probe", .md = "SHA256", .cipher = "AES-256-CBC",
	};
	struct probe		 p;
	struct http_reply	 r;
	OSSL_PROVIDER		*prov_default, *prov_legacy;
	int			 rc = 1;

	scl_prog = "scep_probe";
	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	cg_buf_init(&r.body, PROBE_BODY_MAX);
	if (!opts_parse(argc, argv, &o))
		return usage();
	p.o = &o;
	/* DES and other legacy algorithms, to send what servers refuse. */
	prov_default = OSSL_PROVIDER_load(NULL, "default");
	prov_legacy = OSSL_PROVIDER_load(NULL, "legacy");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	if ((p.ra = scl_cert_read(o.ra_file)) == NULL || !message_get(&p))
		goto out;
	if (o.save_file != NULL && !message_save(&p))
		goto out;
	printf("tid=%s\n", p.tid);
	if (!http_send(&p, &r))
		goto out;
	printf("http=%ld\ncontent_type=%s\n", r.status, r.ctype);
	if (r.status != 200 || o.garbage > 0) {
		text_print(&r.body);
		rc = 0;
	} else {
		rc = reply_read(&p, &r) ? 0 : 1;
	}
out:
	fflush(stdout);
	cg_buf_cleanup(&r.body);
	OPENSSL_free(p.msg);
	X509_free(p.cert);
	X509_free(p.ra);
	EVP_PKEY_free(p.key);
	curl_global_cleanup();
	if (prov_legacy != NULL)
		OSSL_PROVIDER_unload(prov_legacy);
	if (prov_default != NULL)
		OSSL_PROVIDER_unload(prov_default);
	return rc;
}
