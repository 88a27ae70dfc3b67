/*
 * scep_probe.c - a SCEP (RFC 8894) client for the protocol tests.  It
 * builds one PKIMessage (PKCSReq, RenewalReq, CertPoll, GetCert or GetCRL)
 * with OpenSSL's CMS API, spoils it on request (a flipped byte, a foreign
 * key, a weak algorithm, a reused transactionID or nonce, junk), sends it
 * by GET or POST with libcurl and reads the CertRep as a careful client
 * would.  It prints what it saw as key=value lines for
 * tests/integration/test_scep_protocol.sh to assert on, and itself checks
 * only the reply's integrity (RA signature, transactionID, nonces).  It is
 * written apart from protocols/scep/ on purpose: a second reading of the
 * RFC, not the server's own code talking to itself.
 */
#include <certgw/core.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#define PROBE_FILE_MAX		(1024 * 1024)	/* --replay file */
#define PROBE_BODY_MAX		(1024 * 1024)	/* HTTP reply accepted */
#define PROBE_GARBAGE_MAX	(1024 * 1024)	/* --garbage ceiling */
#define PROBE_TEXT_MAX		200		/* text reply bytes printed */
#define PROBE_TIMEOUT_S		30		/* one HTTP exchange */
#define PROBE_TID_MAX		128		/* transactionID characters */
#define PROBE_NONCE_LEN		16		/* nonce bytes */
#define PROBE_RSA_BITS		2048		/* client keys it makes */
#define PROBE_SERIAL_MAX	64		/* --serial hex digits */
#define PROBE_CN_MAX		64		/* --cn characters */
#define EX_PROBE_USAGE		2

/* RFC 8894 §3.2.1: the signed attributes, under id-VeriSign pki. */
#define OID_MESSAGE_TYPE	"2.16.840.1.113733.1.9.2"
#define OID_PKI_STATUS		"2.16.840.1.113733.1.9.3"
#define OID_FAIL_INFO		"2.16.840.1.113733.1.9.4"
#define OID_SENDER_NONCE	"2.16.840.1.113733.1.9.5"
#define OID_RECIP_NONCE		"2.16.840.1.113733.1.9.6"
#define OID_TRANS_ID		"2.16.840.1.113733.1.9.7"

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

/* failInfo names as RFC 8894 §3.2.1.4 spells them, by value. */
static const char *const fail_names[] = {
	"badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId",
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
	bool			 get;		/* GET instead of POST */
};

struct probe {
	const struct opts	*o;		/* what was asked */
	EVP_PKEY		*key;		/* the client's key */
	X509			*cert;		/* signer, reply recipient */
	X509			*ra;		/* must sign the reply */
	char			 tid[PROBE_TID_MAX + 1]; /* sent */
	uint8_t			 nonce[PROBE_NONCE_LEN]; /* senderNonce sent */
	uint8_t			*msg;		/* what is sent (OPENSSL_) */
	size_t			 msg_len;	/* its length */
};

struct http_reply {
	long			 status;	/* HTTP status */
	char			 ctype[128];	/* Content-Type or "" */
	struct cg_buf		 body;		/* at most PROBE_BODY_MAX */
};

static void	 warnp(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

/* A complaint on stderr, with OpenSSL's queue when it has something. */
static void
warnp(const char *fmt, ...)
{
	va_list	 ap;

	fputs("scep_probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
}

/* ------------------------------------------------------------ inputs */

static X509 *
pem_cert_read(const char *path)
{
	FILE	*f;
	X509	*x;

	if ((f = fopen(path, "r")) == NULL) {
		warnp("%s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		warnp("%s: no PEM certificate", path);
	return x;
}

static EVP_PKEY *
key_make(void)
{
	EVP_PKEY	*k;

	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)PROBE_RSA_BITS);
	if (k == NULL)
		warnp("cannot make an RSA key");
	return k;
}

/* Write a new key file, mode 0600, refusing to replace one. */
static bool
key_save(const char *path, EVP_PKEY *k)
{
	FILE	*f;
	int	 fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		warnp("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || ok != 1) {
		warnp("%s: cannot write the key", path);
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
		return key_make();
	if ((f = fopen(path, "r")) == NULL) {
		if (errno != ENOENT) {
			warnp("%s: %s", path, strerror(errno));
			return NULL;
		}
		if ((k = key_make()) != NULL && !key_save(path, k)) {
			EVP_PKEY_free(k);
			k = NULL;
		}
		return k;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		warnp("%s: no PEM private key", path);
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

/* A self-signed certificate for the first request (RFC 8894 §2.3). */
static X509 *
self_signed(EVP_PKEY *key, const char *cn)
{
	X509		*x;
	X509_NAME	*name;
	BIGNUM		*bn = NULL;
	uint8_t		 serial[8];
	bool		 ok;

	if ((x = X509_new()) == NULL || RAND_bytes(serial, sizeof(serial)) !=
	    1)
		goto fail;
	serial[0] = (serial[0] & 0x7f) | 0x01;
	name = X509_get_subject_name(x);
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = bn != NULL &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	    X509_set_version(x, X509_VERSION_3) == 1 &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_set_issuer_name(x, name) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL &&
	    X509_set_pubkey(x, key) == 1 &&
	    X509_sign(x, key, EVP_sha256()) > 0;
	BN_free(bn);
	if (ok)
		return x;
fail:
	warnp("cannot make a self-signed certificate");
	X509_free(x);
	return NULL;
}

/* A PKCS#10 for key, CN=cn, with the challengePassword when not NULL. */
static uint8_t *
csr_make(EVP_PKEY *key, const char *cn, const char *challenge,
    size_t *lenp)
{
	X509_REQ	*req;
	unsigned char	*der = NULL;
	int		 len = -1;
	bool		 ok;

	if ((req = X509_REQ_new()) == NULL)
		goto out;
	ok = X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_REQ_set_pubkey(req, key) == 1 &&
	    (challenge == NULL || X509_REQ_add1_attr_by_NID(req,
	    NID_pkcs9_challengePassword, MBSTRING_ASC,
	    (const unsigned char *)challenge, -1) == 1) &&
	    X509_REQ_sign(req, key, EVP_sha256()) > 0;
	if (ok)
		len = i2d_X509_REQ(req, &der);
out:
	X509_REQ_free(req);
	if (len <= 0) {
		warnp("cannot make the CSR");
		return NULL;
	}
	*lenp = (size_t)len;
	return der;
}

/*
 * IssuerAndSubject (CertPoll, RFC 8894 §3.3.3) or IssuerAndSerialNumber
 * (GetCert, GetCRL, §3.3.4): SEQUENCE { Name, Name or INTEGER }.
 */
static uint8_t *
names_make(const X509_NAME *issuer, const X509_NAME *subject,
    const ASN1_INTEGER *serial, size_t *lenp)
{
	unsigned char	*a = NULL, *b = NULL;
	uint8_t		*der = NULL, *p;
	int		 alen, blen, total = -1;

	alen = i2d_X509_NAME(issuer, &a);
	blen = subject != NULL ? i2d_X509_NAME(subject, &b) :
	    i2d_ASN1_INTEGER(serial, &b);
	if (alen > 0 && blen > 0)
		total = ASN1_object_size(1, alen + blen, V_ASN1_SEQUENCE);
	if (total > 0 && (der = OPENSSL_malloc((size_t)total)) != NULL) {
		p = der;
		ASN1_put_object(&p, 1, alen + blen, V_ASN1_SEQUENCE,
		    V_ASN1_UNIVERSAL);
		memcpy(p, a, (size_t)alen);
		memcpy(p + alen, b, (size_t)blen);
		*lenp = (size_t)total;
	} else {
		warnp("cannot encode the request names");
	}
	OPENSSL_free(a);
	OPENSSL_free(b);
	return der;
}

/*
 * Flip the high bit of the last byte of the next-to-last ciphertext
 * block.  In CBC that flips the high bit of the last plaintext byte, the
 * padding length, which becomes 0x80 or more: never valid for an 8- or
 * 16-byte block, so the decryption fails every time, not 255 in 256.
 */
static bool
ciphertext_spoil(CMS_ContentInfo *env, int bs)
{
	ASN1_OCTET_STRING	**ct = CMS_get0_content(env);
	uint8_t			 *copy;
	int			  len, ok;

	if (ct == NULL || *ct == NULL || bs < 8 ||
	    (len = ASN1_STRING_length(*ct)) < 2 * bs)
		return false;
	if ((copy = OPENSSL_memdup(ASN1_STRING_get0_data(*ct), (size_t)len)) ==
	    NULL)
		return false;
	copy[len - bs - 1] ^= 0x80;
	ok = ASN1_OCTET_STRING_set(*ct, copy, len);
	OPENSSL_free(copy);
	return ok == 1;
}

/* The pkcsPKIEnvelope (RFC 8894 §3.2.2): inner encrypted to `to`. */
static uint8_t *
envelope_make(const struct probe *p, const uint8_t *inner, size_t ilen,
    X509 *to, size_t *lenp)
{
	STACK_OF(X509)	*recips = NULL;
	EVP_CIPHER	*c = NULL;
	CMS_ContentInfo	*env = NULL;
	BIO		*in = NULL;
	unsigned char	*der = NULL;
	int		 len = -1;

	if ((recips = sk_X509_new_null()) == NULL ||
	    sk_X509_push(recips, to) <= 0 ||
	    (in = BIO_new_mem_buf(inner, (int)ilen)) == NULL)
		goto out;
	if ((c = EVP_CIPHER_fetch(NULL, p->o->cipher, NULL)) == NULL) {
		warnp("cipher %s unavailable", p->o->cipher);
		goto out;
	}
	if ((env = CMS_encrypt(recips, in, c, CMS_BINARY)) == NULL)
		goto out;
	if (p->o->tamper == TAMPER_CIPHER &&
	    !ciphertext_spoil(env, EVP_CIPHER_get_block_size(c)))
		goto out;
	len = i2d_CMS_ContentInfo(env, &der);
out:
	if (len <= 0)
		warnp("cannot make the envelope");
	else
		*lenp = (size_t)len;
	CMS_ContentInfo_free(env);
	BIO_free(in);
	EVP_CIPHER_free(c);
	sk_X509_free(recips);
	return len > 0 ? der : NULL;
}

static bool
attr_add(CMS_SignerInfo *si, const char *oid, int type, const void *data,
    size_t len)
{
	ASN1_OBJECT	*obj;
	int		 ok;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return false;
	ok = CMS_signed_add1_attr_by_OBJ(si, obj, type, data, (int)len);
	ASN1_OBJECT_free(obj);
	return ok == 1;
}

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
		warnp("cannot make the impostor certificate");
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The SignedData (RFC 8894 §3.2) around env, with the SCEP attributes. */
static uint8_t *
message_sign(struct probe *p, const uint8_t *env, size_t elen,
    size_t *lenp)
{
	CMS_ContentInfo	*cms = NULL;
	CMS_SignerInfo	*si;
	EVP_MD		*md = NULL;
	EVP_PKEY	*other = NULL, *skey = p->key;
	X509		*fake = NULL, *scert = p->cert;
	BIO		*in = NULL;
	unsigned char	*der = NULL;
	const char	*type = ops[p->o->op].type;
	unsigned	 flags = CMS_BINARY | CMS_NOSMIMECAP;
	int		 len = -1;

	if ((md = EVP_MD_fetch(NULL, p->o->md, NULL)) == NULL) {
		warnp("digest %s unavailable", p->o->md);
		goto out;
	}
	if (p->o->tamper == TAMPER_KEY) {
		other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (other == NULL || (fake = impostor_make(p->cert, other)) ==
		    NULL)
			goto out;
		skey = other;
		scert = fake;
		flags |= CMS_NOCERTS;
	}
	if ((in = BIO_new_mem_buf(env, (int)elen)) == NULL ||
	    (cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL |
	    CMS_BINARY)) == NULL ||
	    (si = CMS_add1_signer(cms, scert, skey, md, flags)) == NULL)
		goto out;
	if (fake != NULL && CMS_add1_cert(cms, p->cert) != 1)
		goto out;
	if (!attr_add(si, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, type,
	    strlen(type)) ||
	    !attr_add(si, OID_TRANS_ID, V_ASN1_PRINTABLESTRING, p->tid,
	    strlen(p->tid)) ||
	    !attr_add(si, OID_SENDER_NONCE, V_ASN1_OCTET_STRING, p->nonce,
	    sizeof(p->nonce)))
		goto out;
	if (CMS_final(cms, in, NULL, CMS_BINARY) == 1)
		len = i2d_CMS_ContentInfo(cms, &der);
out:
	if (len <= 0)
		warnp("cannot sign the message");
	else
		*lenp = (size_t)len;
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	X509_free(fake);
	EVP_PKEY_free(other);
	EVP_MD_free(md);
	return len > 0 ? der : NULL;
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
		return csr_make(p->key, o->cn, o->challenge, lenp);
	if ((ca = pem_cert_read(o->issuer_file)) == NULL)
		return NULL;
	if (o->op == OP_CERTPOLL) {
		subj = X509_NAME_new();
		if (subj == NULL || X509_NAME_add_entry_by_txt(subj, "CN",
		    MBSTRING_UTF8, (const unsigned char *)o->cn, -1, -1, 0) !=
		    1) {
			warnp("cannot make the subject");
			goto out;
		}
	} else if (BN_hex2bn(&bn, o->serial) != (int)strlen(o->serial) ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		warnp("--serial %s is not hex", o->serial);
		goto out;
	}
	der = names_make(X509_get_subject_name(ca), subj, serial, lenp);
out:
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_NAME_free(subj);
	X509_free(ca);
	return der;
}

/* Flip a byte of the ciphertext inside the signed message. */
static bool
signed_spoil(struct probe *p, const uint8_t *env, size_t elen)
{
	uint8_t	*at;

	at = memmem(p->msg, p->msg_len, env, elen);
	if (at == NULL) {
		warnp("the envelope is not in the message");
		return false;
	}
	at[elen - 1] ^= 0x01;
	return true;
}

static bool
message_build(struct probe *p)
{
	X509		*to = p->ra;
	uint8_t		*inner = NULL, *env = NULL;
	size_t		 ilen = 0, elen = 0;
	bool		 ok = false;

	if (p->o->to_file != NULL && (to = pem_cert_read(p->o->to_file)) ==
	    NULL)
		return false;
	if ((inner = inner_make(p, &ilen)) == NULL ||
	    (env = envelope_make(p, inner, ilen, to, &elen)) == NULL ||
	    (p->msg = message_sign(p, env, elen, &p->msg_len)) == NULL)
		goto out;
	ok = p->o->tamper != TAMPER_SIGNED || signed_spoil(p, env, elen);
out:
	if (inner != NULL)
		OPENSSL_clear_free(inner, ilen);	/* challenge */
	OPENSSL_free(env);
	if (to != p->ra)
		X509_free(to);
	return ok;
}

/* ------------------------------------------------------- replay, junk */

static const ASN1_STRING *
attr_get(CMS_SignerInfo *si, const char *oid, int type)
{
	const ASN1_STRING	*s;
	ASN1_OBJECT		*obj;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return NULL;
	s = CMS_signed_get0_data_by_OBJ(si, obj, -3, type);
	ASN1_OBJECT_free(obj);
	return s;
}

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
		warnp("%s: cannot read", p->o->replay_file);
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
	tid = attr_get(si, OID_TRANS_ID, V_ASN1_PRINTABLESTRING);
	nonce = attr_get(si, OID_SENDER_NONCE, V_ASN1_OCTET_STRING);
	if (tid == NULL || ASN1_STRING_length(tid) > PROBE_TID_MAX ||
	    nonce == NULL || ASN1_STRING_length(nonce) != PROBE_NONCE_LEN)
		goto out;
	memcpy(p->tid, ASN1_STRING_get0_data(tid),
	    (size_t)ASN1_STRING_length(tid));
	p->tid[ASN1_STRING_length(tid)] = '\0';
	memcpy(p->nonce, ASN1_STRING_get0_data(nonce), PROBE_NONCE_LEN);
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
		warnp("%s: not a PKIMessage this probe can replay",
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

static size_t
body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct cg_buf	*b = arg;

	if (cg_buf_add(b, data, size * n, NULL) != CG_OK)
		return 0;
	return size * n;
}

/* The PKIOperation URL; for GET with the message, base64 and escaped. */
static char *
url_make(CURL *c, const struct probe *p)
{
	char	*b64 = NULL, *esc = NULL, *url = NULL;

	if (!p->o->get)
		return cg_asprintf("%s?operation=PKIOperation", p->o->url);
	if (cg_base64_encode(p->msg, p->msg_len, &b64, NULL) == CG_OK &&
	    (esc = curl_easy_escape(c, b64, 0)) != NULL)
		url = cg_asprintf("%s?operation=PKIOperation&message=%s",
		    p->o->url, esc);
	curl_free(esc);
	cg_free(b64);
	return url;
}

static bool
http_send(const struct probe *p, struct http_reply *r)
{
	CURL			*c;
	struct curl_slist	*hdrs = NULL;
	char			 ebuf[CURL_ERROR_SIZE] = "";
	char			*url = NULL, *ct = NULL;
	CURLcode		 rc = CURLE_FAILED_INIT;

	if ((c = curl_easy_init()) == NULL || (url = url_make(c, p)) == NULL)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)PROBE_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	if (p->o->cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, p->o->cacert);
	if (!p->o->get) {
		hdrs = curl_slist_append(NULL,
		    "Content-Type: application/x-pki-message");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->msg);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)p->msg_len);
	}
	if ((rc = curl_easy_perform(c)) != CURLE_OK)
		goto out;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
out:
	if (rc != CURLE_OK)
		warnp("HTTP: %s", ebuf[0] != '\0' ? ebuf :
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

/* The one-character PrintableString attribute oid, or -1. */
static int
digit_attr(CMS_SignerInfo *si, const char *oid)
{
	const ASN1_STRING	*s = attr_get(si, oid, V_ASN1_PRINTABLESTRING);
	const unsigned char	*d;

	if (s == NULL || ASN1_STRING_length(s) != 1)
		return -1;
	d = ASN1_STRING_get0_data(s);
	return d[0] >= '0' && d[0] <= '9' ? d[0] - '0' : -1;
}

/* RFC 8894 §3.2.1: the reply must answer our transaction and nonce. */
static bool
attrs_check(const struct probe *p, CMS_SignerInfo *si, int *statusp)
{
	const ASN1_STRING	*tid, *rn, *sn;
	X509_ALGOR		*dig = NULL;
	const ASN1_OBJECT	*obj;
	int			 fail;
	bool			 ok = true;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	X509_ALGOR_get0(&obj, NULL, NULL, dig);
	printf("digest=%s\n", OBJ_nid2sn(OBJ_obj2nid(obj)));
	printf("message_type=%d\n", digit_attr(si, OID_MESSAGE_TYPE));
	tid = attr_get(si, OID_TRANS_ID, V_ASN1_PRINTABLESTRING);
	if (tid == NULL || (size_t)ASN1_STRING_length(tid) != strlen(p->tid) ||
	    memcmp(ASN1_STRING_get0_data(tid), p->tid, strlen(p->tid)) != 0) {
		puts("transaction_id=mismatch");
		ok = false;
	} else
		puts("transaction_id=ok");
	rn = attr_get(si, OID_RECIP_NONCE, V_ASN1_OCTET_STRING);
	if (rn == NULL || ASN1_STRING_length(rn) != PROBE_NONCE_LEN ||
	    memcmp(ASN1_STRING_get0_data(rn), p->nonce, PROBE_NONCE_LEN) !=
	    0) {
		puts("recipient_nonce=mismatch");
		ok = false;
	} else
		puts("recipient_nonce=ok");
	sn = attr_get(si, OID_SENDER_NONCE, V_ASN1_OCTET_STRING);
	printf("sender_nonce=%s\n", sn != NULL && ASN1_STRING_length(sn) ==
	    PROBE_NONCE_LEN ? "ok" : "bad");
	*statusp = digit_attr(si, OID_PKI_STATUS);
	printf("pki_status=%s\n", *statusp == 0 ? "SUCCESS" : *statusp == 2 ?
	    "FAILURE" : *statusp == 3 ? "PENDING" : "bad");
	if (*statusp == 2) {
		fail = digit_attr(si, OID_FAIL_INFO);
		printf("fail_info=%s\n", fail >= 0 && fail < (int)(sizeof(
		    fail_names) / sizeof(fail_names[0])) ? fail_names[fail] :
		    "bad");
	}
	return ok && digit_attr(si, OID_MESSAGE_TYPE) == 3 &&
	    (*statusp == 0 || *statusp == 2 || *statusp == 3);
}

static bool
pem_out(const char *path, const STACK_OF(X509) *certs, X509_CRL *crl)
{
	BIO	*b;
	int	 i;
	bool	 ok;

	if ((b = BIO_new_file(path, "w")) == NULL) {
		warnp("%s: cannot write", path);
		return false;
	}
	ok = true;
	for (i = 0; certs != NULL && i < sk_X509_num(certs); i++)
		ok = ok && PEM_write_bio_X509(b, sk_X509_value(certs, i)) == 1;
	if (crl != NULL)
		ok = ok && PEM_write_bio_X509_CRL(b, crl) == 1;
	if (BIO_free(b) != 1 || !ok) {
		warnp("%s: cannot write", path);
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
	const unsigned char	*q = der;
	X509			*x;
	X509_CRL		*crl = NULL;
	int			 i;
	bool			 ok = false;

	p7 = d2i_PKCS7(NULL, &q, (long)len);
	if (p7 == NULL || q != der + len || !PKCS7_type_is_signed(p7)) {
		warnp("the envelope does not hold a certs-only PKCS#7");
		goto out;
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
out:
	PKCS7_free(p7);
	return ok;
}

/* SUCCESS: the envelope to us, its cipher, and what it holds. */
static bool
envelope_read(const struct probe *p, const uint8_t *der, size_t len)
{
	const unsigned char	*q = der;
	PKCS7			*legacy = NULL;
	CMS_ContentInfo		*env = NULL;
	BIO			*out = NULL;
	char			*plain;
	long			 plen;
	bool			 ok = false;

	/* OpenSSL 3.0's CMS has no getter for the content cipher. */
	legacy = d2i_PKCS7(NULL, &q, (long)len);
	if (legacy == NULL || !PKCS7_type_is_enveloped(legacy)) {
		warnp("SUCCESS without an EnvelopedData");
		goto out;
	}
	printf("cipher=%s\n", OBJ_nid2sn(OBJ_obj2nid(
	    legacy->d.enveloped->enc_data->algorithm->algorithm)));
	q = der;
	if ((env = d2i_CMS_ContentInfo(NULL, &q, (long)len)) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL ||
	    CMS_decrypt(env, p->key, p->cert, NULL, out, CMS_BINARY) != 1) {
		warnp("cannot decrypt the reply");
		goto out;
	}
	plen = BIO_get_mem_data(out, &plain);
	ok = plen > 0 && certs_only_read(p, (const uint8_t *)plain,
	    (size_t)plen);
out:
	BIO_free(out);
	CMS_ContentInfo_free(env);
	PKCS7_free(legacy);
	return ok;
}

/*
 * The CertRep (RFC 8894 §3.3.2): signed by the RA certificate we were
 * given and nothing else, answering our transactionID and senderNonce.
 */
static bool
reply_read(const struct probe *p, const struct http_reply *r)
{
	STACK_OF(X509)		*ra = NULL;
	CMS_ContentInfo		*cms = NULL;
	CMS_SignerInfo		*si;
	BIO			*out = NULL;
	const unsigned char	*q = r->body.data;
	char			*content;
	long			 clen;
	int			 status = -1;
	bool			 ok = false;

	if (strcasecmp(r->ctype, "application/x-pki-message") != 0) {
		warnp("the reply is not application/x-pki-message");
		return false;
	}
	cms = d2i_CMS_ContentInfo(NULL, &q, (long)r->body.len);
	if (cms == NULL || q != r->body.data + r->body.len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		warnp("the reply is not a SignedData with one signer");
		goto out;
	}
	if ((ra = sk_X509_new_null()) == NULL || sk_X509_push(ra, p->ra) <= 0 ||
	    (out = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	/* CMS_NOINTERN: only the RA certificate may have signed it. */
	if (CMS_verify(cms, ra, NULL, NULL, out, CMS_NOINTERN |
	    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
		puts("signature=bad");
		warnp("the reply is not signed by the RA");
		goto out;
	}
	puts("signature=ok");
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	if (!attrs_check(p, si, &status)) {
		warnp("the reply's attributes do not answer the request");
		goto out;
	}
	clen = BIO_get_mem_data(out, &content);
	if (status != 0) {
		ok = true;
		goto out;
	}
	ok = clen > 0 && envelope_read(p, (const uint8_t *)content,
	    (size_t)clen);
out:
	BIO_free(out);
	sk_X509_free(ra);
	CMS_ContentInfo_free(cms);
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
	    "\t[--out-crl FILE] [--cacert FILE]\n");
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
	    (strlen(o->tid) == 0 || strlen(o->tid) > PROBE_TID_MAX)))
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
		warnp("no random bytes");
		return false;
	}
	cg_hex_encode(rnd, sizeof(rnd), p->tid, true);
	if (o->tid != NULL)
		snprintf(p->tid, sizeof(p->tid), "%s", o->tid);
	if (o->nonce != NULL && !hex_decode(o->nonce, p->nonce,
	    sizeof(p->nonce))) {
		warnp("--nonce takes %d hex digits", 2 * PROBE_NONCE_LEN);
		return false;
	}
	if ((p->key = key_get(o->key_file)) == NULL)
		return false;
	p->cert = o->cert_file != NULL ? pem_cert_read(o->cert_file) :
	    self_signed(p->key, o->cn);
	if (p->cert == NULL)
		return false;
	if (X509_check_private_key(p->cert, p->key) != 1) {
		warnp("--cert does not belong to --key");
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
		warnp("%s: %s", p->o->save_file, err.msg);
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
	if ((p.ra = pem_cert_read(o.ra_file)) == NULL || !message_get(&p))
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
