/*
 * ca_test.h - fixtures shared by the CA and store unit tests: temporary
 * directories, a freshly initialised CA with its store, test keys and CSRs.
 * Header-only (static functions) so each test program stays one file; not a
 * test by itself and not used outside tests/unit.
 */
#ifndef CERTGW_CA_TEST_H
#define CERTGW_CA_TEST_H

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certgw/ca.h"
#include "certgw/core.h"
#include "certgw/store.h"

struct ca_fx {
	char		 dir[PATH_MAX];		/* temporary directory */
	struct ca_config conf;			/* absolute paths */
	struct ca	*ca;			/* opened CA */
	struct ca_store	*st;			/* open store */
};

static inline const char *
cafx_tmp_base(void)
{
	const char	*base = getenv("CERTGW_TEST_TMP");

	if (base != NULL && cg_mkdir_p(base, 0700, NULL) == CG_OK)
		return base;
	base = getenv("TMPDIR");
	return base != NULL ? base : "/tmp";
}

static inline void
cafx_mkdtemp(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "%s/%s.XXXXXX", cafx_tmp_base(), tag);
	assert_non_null(mkdtemp(buf));
}

/* rm -r for the flat trees the tests make (DIR, DIR/ca). */
static inline void
cafx_rm_rf(const char *dir)
{
	char		*p;
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;

	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		p = cg_asprintf("%s/%s", dir, de->d_name);
		assert_non_null(p);
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			cafx_rm_rf(p);
		else
			unlink(p);
		cg_free(p);
	}
	closedir(d);
	rmdir(dir);
}

static inline void
cafx_die(const char *what, const struct cg_err *err)
{
	print_error("%s: %s [%s] (%s)\n", what, err->msg,
	    cg_code_str(err->code), err->detail);
	fail();
}

/* Turn the relative paths ca_init_create() gives into absolute ones. */
static inline void
cafx_conf_abs(const char *dir, const struct ca_config *rel,
    struct ca_config *abs)
{
	memset(abs, 0, sizeof(*abs));
	abs->cert_file = cg_path_join(dir, rel->cert_file);
	abs->key_file = cg_path_join(dir, rel->key_file);
	abs->chain_file = cg_path_join(dir, rel->chain_file);
	assert_non_null(abs->cert_file);
	assert_non_null(abs->key_file);
	assert_non_null(abs->chain_file);
}

/* A CA in a fresh directory, opened, with a store next to it. */
static inline void
cafx_create(struct ca_fx *fx, enum ca_init_key kt, bool intermediate,
    const char *base_url)
{
	struct ca_init_opts	 o;
	struct ca_config	 rel;
	struct cg_err		 err = { 0 };
	char			 db[PATH_MAX + 16];

	memset(fx, 0, sizeof(*fx));
	memset(&rel, 0, sizeof(rel));
	cafx_mkdtemp(fx->dir, sizeof(fx->dir), "test_ca");
	memset(&o, 0, sizeof(o));
	o.dir = fx->dir;
	o.name = "CN=Test CA, O=certgw tests";
	o.key_type = kt;
	o.intermediate = intermediate;
	if (ca_init_create(&o, &rel, &err) != CG_OK)
		cafx_die("ca_init_create", &err);
	cafx_conf_abs(fx->dir, &rel, &fx->conf);
	ca_config_cleanup(&rel);
	if (base_url != NULL)
		fx->conf.public_base_url = cg_strdup(base_url);
	fx->conf.crl_validity_s = 3600;
	if (ca_open(&fx->conf, &fx->ca, &err) != CG_OK)
		cafx_die("ca_open", &err);
	snprintf(db, sizeof(db), "%s/certgw.db", fx->dir);
	if (ca_store_open(db, &fx->st, &err) != CG_OK)
		cafx_die("ca_store_open", &err);
}

static inline void
cafx_destroy(struct ca_fx *fx)
{
	ca_store_close(fx->st);
	ca_free(fx->ca);
	ca_config_cleanup(&fx->conf);
	cafx_rm_rf(fx->dir);
	memset(fx, 0, sizeof(*fx));
}

/* "ec-p256", "ec-p384", "ec-p521", "rsa-<bits>", "ed25519". */
static inline EVP_PKEY *
cafx_key(const char *kind)
{
	EVP_PKEY	*k = NULL;

	if (strcmp(kind, "ec-p256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(kind, "ec-p384") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(kind, "ec-p521") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	else if (strcmp(kind, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (strncmp(kind, "rsa-", 4) == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)strtoul(kind + 4, NULL, 10));
	assert_non_null(k);
	return k;
}

static inline struct ca_csr *
cafx_csr(EVP_PKEY *key, const char *cn, const char *const *sans, size_t n)
{
	struct cg_err	 err = { 0 };
	struct ca_csr	*csr = NULL;
	uint8_t		*der = NULL;
	size_t		 len = 0;

	if (ca_csr_make(key, cn, sans, n, &der, &len, &err) != CG_OK)
		cafx_die("ca_csr_make", &err);
	if (ca_csr_parse(der, len, &csr, &err) != CG_OK)
		cafx_die("ca_csr_parse", &err);
	cg_free(der);
	return csr;
}

static inline void
cafx_list(struct ca_strlist *l, const char *const *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		assert_int_equal(ca_strlist_add(l, v[i], NULL), CG_OK);
}

static inline enum cg_code
cafx_count_cb(void *arg, const struct ca_cert_rec *rec)
{
	(void)rec;
	(*(size_t *)arg)++;
	return CG_OK;
}

/* Certificates in the store, any status. */
static inline size_t
cafx_cert_count(struct ca_store *st)
{
	struct ca_cert_filter	 f;
	struct cg_err		 err = { 0 };
	size_t			 n = 0;

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.now = cg_now();
	if (ca_store_cert_list(st, &f, cafx_count_cb, &n, &err) != CG_OK)
		cafx_die("ca_store_cert_list", &err);
	return n;
}

/* A server profile: every key type, DNS and IP SANs below example.com. */
static inline void
cafx_profile_server(struct ca_profile *p)
{
	static const char *const dns[] = { ".example.com" };
	static const char *const crl[] = { "http://crl.example.com/ca.crl" };
	static const char *const ocsp[] = { "http://ocsp.example.com" };

	memset(p, 0, sizeof(*p));
	p->name = cg_strdup("server");
	p->validity_days = 90;
	p->key_types = (1u << CA_KEY__MAX) - 1;
	p->rsa_min_bits = 2048;
	p->key_usage = CA_KU_DIGITAL_SIGNATURE | CA_KU_KEY_ENCIPHERMENT;
	p->ext_key_usage = CA_EKU_SERVER_AUTH | CA_EKU_CLIENT_AUTH;
	p->san_types = CA_SAN_DNS | CA_SAN_IP;
	p->san_required = true;
	cafx_list(&p->dns_patterns, dns, 1);
	cafx_list(&p->crl_urls, crl, 1);
	cafx_list(&p->ocsp_urls, ocsp, 1);
}

#endif /* CERTGW_CA_TEST_H */
