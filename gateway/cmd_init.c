/*
 * cmd_init.c - `certgw init --dir DIR`: create a CA (root, or root plus an
 * issuing intermediate), the gateway's own TLS certificate issued through
 * the CA core like any other, the store, an EST user with a random password
 * (DIR/secrets/est.password), and a starter certgw.json.  It never
 * overwrites an existing CA, secret or config.
 */
#include "cmd.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define INIT_NAMES_MAX	32	/* --dns/--ip entries */
#define TLS_DAYS	397	/* the gateway's own certificate */
#define EST_USER	"est"	/* the Basic user init creates */
#define EST_PROFILE	"device" /* the starter profile EST issues under */
#define EST_PW_LEN	24	/* random password characters */
#define EST_PW_FILE	"secrets/est.password"
#define SECRETS_DIR	"secrets"

static const char pw_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

struct init_opts {
	const char	*dir;			/* --dir */
	const char	*name;			/* --name */
	const char	*key_type;		/* --key-type */
	bool		 intermediate;		/* --intermediate */
	const char	*https;			/* --https ADDR */
	const char	*http;			/* --http ADDR */
	const char	*public_url;		/* --public-url */
	const char	*pass_file;		/* --passphrase-file */
	const char	*pass_env;		/* --passphrase-env */
	const char	*dns[INIT_NAMES_MAX];	/* --dns */
	size_t		 ndns;			/* entries in dns */
	const char	*ip[INIT_NAMES_MAX];	/* --ip */
	size_t		 nip;			/* entries in ip */
};

static void
init_usage(FILE *f)
{
	fprintf(f,
"usage: certgw init --dir DIR [options]\n"
"\n"
"Create a CA, the gateway's TLS certificate, the store and DIR/certgw.json.\n"
"Refuses to overwrite an existing CA or config.\n"
"\n"
"  --dir DIR              where to create everything (required)\n"
"  --name NAME            CA subject: a CN, or \"CN=...,O=...\" (default\n"
"                         \"certgw Root CA\")\n"
"  --key-type TYPE        ec-p256 (default), ec-p384, rsa-2048, rsa-3072,\n"
"                         rsa-4096; used for every key created\n"
"  --intermediate         create a root and an issuing intermediate; the\n"
"                         gateway signs with the intermediate\n"
"  --dns NAME             DNS name for the gateway's TLS certificate\n"
"                         (repeatable; default localhost)\n"
"  --ip ADDR              IP address for it (repeatable; default 127.0.0.1)\n"
"  --https ADDR           HTTPS listener (default 127.0.0.1:8443)\n"
"  --http ADDR            HTTP listener for CRLs (default 127.0.0.1:8080)\n"
"  --public-url URL       base URL put in certificates for the CRL and CA\n"
"                         certificate (default http://<http address>)\n"
"  --passphrase-file F    encrypt private keys with the first line of F\n"
"  --passphrase-env VAR   encrypt private keys with $VAR\n");
}

static bool
add_name(const char **list, size_t *n, const char *v)
{
	if (*n >= INIT_NAMES_MAX)
		return false;
	list[(*n)++] = v;
	return true;
}

static int
parse_opts(int argc, char **argv, struct init_opts *o)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "intermediate", no_argument, NULL, 'I' },
		{ "dns", required_argument, NULL, 'D' },
		{ "ip", required_argument, NULL, 'P' },
		{ "https", required_argument, NULL, 's' },
		{ "http", required_argument, NULL, 't' },
		{ "public-url", required_argument, NULL, 'u' },
		{ "passphrase-file", required_argument, NULL, 'f' },
		{ "passphrase-env", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	 c;
	bool	 ok = true;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'n': o->name = optarg; break;
		case 'k': o->key_type = optarg; break;
		case 'I': o->intermediate = true; break;
		case 'D': ok = add_name(o->dns, &o->ndns, optarg); break;
		case 'P': ok = add_name(o->ip, &o->nip, optarg); break;
		case 's': o->https = optarg; break;
		case 't': o->http = optarg; break;
		case 'u': o->public_url = optarg; break;
		case 'f': o->pass_file = optarg; break;
		case 'e': o->pass_env = optarg; break;
		case 'h': init_usage(stdout); return -1;
		default: return cmd_usage_error("init", "bad option");
		}
		if (!ok)
			return cmd_usage_error("init", "at most %d --dns/--ip",
			    INIT_NAMES_MAX);
	}
	if (optind != argc)
		return cmd_usage_error("init", "unexpected argument '%s'",
		    argv[optind]);
	if (o->dir == NULL)
		return cmd_usage_error("init", "--dir is required");
	if (o->pass_file != NULL && o->pass_env != NULL)
		return cmd_usage_error("init",
		    "give --passphrase-file or --passphrase-env, not both");
	if (o->ndns == 0 && o->nip == 0) {
		o->dns[o->ndns++] = "localhost";
		o->ip[o->nip++] = "127.0.0.1";
	}
	if (o->name == NULL)
		o->name = "certgw Root CA";
	if (o->key_type == NULL)
		o->key_type = "ec-p256";
	if (o->https == NULL)
		o->https = "127.0.0.1:8443";
	if (o->http == NULL)
		o->http = "127.0.0.1:8080";
	return 0;
}

/* Starter profiles: an admin narrows names and adds patterns later. */
static json_t *
starter_profiles(void)
{
	return json_pack("{s:{s:i, s:[sss], s:i, s:[ss], s:[s], "
	    "s:{s:[ss], s:b, s:[], s:[]}, s:{s:[ssssss], s:[]}, s:s}, "
	    "s:{s:i, s:[sss], s:i, s:[ss], s:[s], "
	    "s:{s:[ssss], s:b}, s:{s:[ssssssss], s:[s]}, s:s}}",
	    "server",
	    "validity_days", 90,
	    "key_types", "ec-p256", "ec-p384", "rsa",
	    "rsa_min_bits", 2048,
	    "key_usage", "digitalSignature", "keyEncipherment",
	    "extended_key_usage", "serverAuth",
	    "san", "types", "dns", "ip", "required", 1,
	    "dns_patterns", "ip_networks",
	    "subject", "allowed", "CN", "O", "OU", "C", "ST", "L",
	    "required",
	    "approval", "auto",
	    "device",
	    "validity_days", 365,
	    "key_types", "ec-p256", "ec-p384", "rsa",
	    "rsa_min_bits", 2048,
	    "key_usage", "digitalSignature", "keyEncipherment",
	    "extended_key_usage", "clientAuth",
	    "san", "types", "dns", "ip", "email", "uri", "required", 0,
	    "subject", "allowed", "CN", "O", "OU", "C", "ST", "L",
	    "emailAddress", "serialNumber", "required", "CN",
	    "approval", "auto");
}

/* "est": the user init made, and the default label on the device profile. */
static json_t *
starter_est(const char *hash)
{
	return json_pack("{s:{s:{s:s}}, s:{s:{s:s, s:[ss]}}}",
	    "users", EST_USER, "password_hash", hash,
	    "labels", "default", "profile", EST_PROFILE,
	    "auth", "basic", "cert");
}

/* Add key_passphrase_file/_env to obj when keys are encrypted. */
static int
add_pass_source(json_t *obj, const struct init_opts *o, const char *abs_file)
{
	if (abs_file != NULL)
		return json_object_set_new(obj, "key_passphrase_file",
		    json_string(abs_file));
	if (o->pass_env != NULL)
		return json_object_set_new(obj, "key_passphrase_env",
		    json_string(o->pass_env));
	return 0;
}

static enum cg_code
write_config(const struct init_opts *o, const struct ca_config *cc,
    const char *abs_pass, const char *est_hash, struct cg_err *err)
{
	json_t		*root, *https, *cajs;
	char		*path = NULL, *text = NULL, *url = NULL, *dump = NULL;
	enum cg_code	 rc;

	url = o->public_url != NULL ? cg_strdup(o->public_url) :
	    cg_asprintf("http://%s", o->http);
	root = json_pack("{s:{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:b}}, "
	    "s:i, s:{s:i, s:i, s:i, s:i, s:i, s:i}, s:{s:s}, s:{s:s}, "
	    "s:{s:s, s:s, s:s, s:s, s:i, s:i}}",
	    "listeners",
	    "https", "address", o->https, "cert", "tls/server.pem",
	    "key", "tls/server.key", "client_ca", "ca/chain.pem",
	    "http", "address", o->http, "enabled", 1,
	    "threads", 0,
	    "limits", "max_header_bytes", 16384, "max_body_bytes", 1048576,
	    "max_connections", 1024, "read_timeout_s", 30,
	    "write_timeout_s", 30, "shutdown_grace_s", 20,
	    "log", "level", "info",
	    "store", "path", "certgw.db",
	    "ca", "cert", cc->cert_file, "key", cc->key_file,
	    "chain", cc->chain_file, "public_base_url", url != NULL ? url : "",
	    "crl_validity_hours", 24, "crl_refresh_s", 2);
	if (root == NULL || url == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "cannot build the config");
		goto out;
	}
	https = json_object_get(json_object_get(root, "listeners"), "https");
	cajs = json_object_get(root, "ca");
	if (add_pass_source(https, o, abs_pass) != 0 ||
	    add_pass_source(cajs, o, abs_pass) != 0 ||
	    json_object_set_new(root, "profiles", starter_profiles()) != 0 ||
	    json_object_set_new(root, "est", starter_est(est_hash)) != 0) {
		rc = cg_err_set(err, CG_ENOMEM, "cannot build the config");
		goto out;
	}
	/* JSON_PRESERVE_ORDER keeps the file in the order documented. */
	dump = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	text = dump != NULL ? cg_asprintf("%s\n", dump) : NULL;
	path = cg_path_join(o->dir, "certgw.json");
	if (text == NULL || path == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = cg_file_write(path, text, strlen(text), 0644, true, err);
out:
	free(dump);
	cg_free(text);
	cg_free(path);
	cg_free(url);
	json_decref(root);
	return rc;
}

/* The gateway's own certificate is issued like any other, and recorded. */
static void
tls_profile(struct ca_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->name = "gateway-tls";
	p->validity_days = TLS_DAYS;
	p->key_types = (1u << CA_KEY__MAX) - 1;
	p->rsa_min_bits = 2048;
	p->key_usage = CA_KU_DIGITAL_SIGNATURE | CA_KU_KEY_ENCIPHERMENT;
	p->ext_key_usage = CA_EKU_SERVER_AUTH;
	p->san_types = CA_SAN_DNS | CA_SAN_IP;
	p->san_required = true;
}

static enum cg_code
issue_tls(const struct init_opts *o, struct ca *ca, struct ca_store *st,
    enum ca_init_key kt, const char *pass, const char *actor,
    struct cg_err *err)
{
	struct ca_profile	 prof;
	struct ca_csr		*csr = NULL;
	struct ca_issued	*is = NULL;
	struct ca_issue_req	 req;
	EVP_PKEY		*key = NULL;
	const char		*sans[2 * INIT_NAMES_MAX];
	char			*bufs[2 * INIT_NAMES_MAX] = { NULL };
	char			*kpath = NULL, *cpath = NULL, *tdir = NULL;
	uint8_t			*der = NULL;
	size_t			 derlen, n = 0, i;
	X509			*certs[16];
	STACK_OF(X509)		*chain = ca_get0_chain(ca);
	enum cg_code		 rc;

	for (i = 0; i < o->ndns; i++) {
		bufs[n] = cg_asprintf("DNS:%s", o->dns[i]);
		sans[n] = bufs[n];
		n++;
	}
	for (i = 0; i < o->nip; i++) {
		bufs[n] = cg_asprintf("IP:%s", o->ip[i]);
		sans[n] = bufs[n];
		n++;
	}
	for (i = 0; i < n; i++)
		if (bufs[i] == NULL) {
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
			goto out;
		}
	rc = ca_key_generate(kt, &key, err);
	if (rc != CG_OK)
		goto out;
	rc = ca_csr_make(key, o->ndns > 0 ? o->dns[0] : o->ip[0], sans, n,
	    &der, &derlen, err);
	if (rc != CG_OK)
		goto out;
	rc = ca_csr_parse(der, derlen, &csr, err);
	if (rc != CG_OK)
		goto out;
	tls_profile(&prof);
	req.csr = csr;
	req.profile = &prof;
	req.protocol = "init";
	req.requester = actor;
	rc = ca_issue(ca, st, &req, &is, err);
	if (rc != CG_OK)
		goto out;
	tdir = cg_path_join(o->dir, "tls");
	kpath = cg_path_join(o->dir, "tls/server.key");
	cpath = cg_path_join(o->dir, "tls/server.pem");
	if (tdir == NULL || kpath == NULL || cpath == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = cg_mkdir_p(tdir, 0700, err);
	if (rc != CG_OK)
		goto out;
	rc = ca_key_write(kpath, key, pass, err);
	if (rc != CG_OK)
		goto out;
	/* server.pem: the leaf, then the CA chain clients need. */
	certs[0] = ca_issued_get0_cert(is);
	if (certs[0] == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; chain != NULL && i < (size_t)sk_X509_num(chain) &&
	    i + 1 < sizeof(certs) / sizeof(certs[0]); i++)
		certs[i + 1] = sk_X509_value(chain, (int)i);
	rc = ca_certs_write(cpath, certs, i + 1, err);
out:
	for (i = 0; i < n; i++)
		cg_free(bufs[i]);
	cg_free(der);
	cg_free(kpath);
	cg_free(cpath);
	cg_free(tdir);
	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	return rc;
}

/* EST_PW_LEN characters from pw_alphabet, unbiased, into out. */
static enum cg_code
est_password_make(char *out, size_t outlen, struct cg_err *err)
{
	/* 248 = 4 * 62: bytes at or above it are dropped, so no bias. */
	const unsigned	 limit = 4 * (sizeof(pw_alphabet) - 1);
	uint8_t		 rnd[2 * EST_PW_LEN];
	size_t		 n = 0, i;
	enum cg_code	 rc = CG_OK;

	assert(outlen > EST_PW_LEN);
	while (n < EST_PW_LEN) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			rc = cg_err_crypto(err, CG_ECRYPTO, "no random bytes");
			break;
		}
		for (i = 0; i < sizeof(rnd) && n < EST_PW_LEN; i++)
			if (rnd[i] < limit)
				out[n++] = pw_alphabet[rnd[i] %
				    (sizeof(pw_alphabet) - 1)];
	}
	out[n] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return rc;
}

/*
 * A random password for the EST user: written to DIR/secrets/est.password
 * (directory 0700, file 0600, never overwritten) and hashed for the config.
 */
static enum cg_code
est_secret_create(const struct init_opts *o, char *pw, size_t pwlen,
    char **hashp, struct cg_err *err)
{
	char		 line[EST_PW_LEN + 2];
	char		*dir = NULL, *path = NULL;
	enum cg_code	 rc;

	*hashp = NULL;
	rc = est_password_make(pw, pwlen, err);
	if (rc != CG_OK)
		goto out;
	rc = cg_passwd_hash(pw, strlen(pw), CG_PASSWD_ITER_DEFAULT, hashp, err);
	if (rc != CG_OK)
		goto out;
	dir = cg_path_join(o->dir, SECRETS_DIR);
	path = cg_path_join(o->dir, EST_PW_FILE);
	if (dir == NULL || path == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = cg_mkdir_p(dir, 0700, err);
	if (rc != CG_OK)
		goto out;
	snprintf(line, sizeof(line), "%s\n", pw);
	rc = cg_file_write(path, line, strlen(line), 0600, true, err);
out:
	OPENSSL_cleanse(line, sizeof(line));
	cg_free(dir);
	cg_free(path);
	return rc;
}

/* Refuse early, before anything is written, when DIR already holds a CA. */
static bool
dir_is_free(const char *dir)
{
	static const char *const taken[] = { "certgw.json", "ca", "tls",
	    "certgw.db", SECRETS_DIR };
	struct stat	 sb;
	char		*p;
	size_t		 i;
	bool		 exists;

	for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		p = cg_path_join(dir, taken[i]);
		exists = p == NULL || stat(p, &sb) == 0;
		if (exists) {
			fprintf(stderr, "certgw init: %s already exists; "
			    "refusing to overwrite an existing CA\n",
			    p != NULL ? p : taken[i]);
			cg_free(p);
			return false;
		}
		cg_free(p);
	}
	return true;
}

static void
print_next_steps(const struct init_opts *o, const struct ca_config *cc,
    const char *est_pw)
{
	printf("created a CA in %s/\n", o->dir);
	printf("  CA certificate:  %s/%s\n", o->dir, cc->cert_file);
	printf("  CA chain:        %s/%s\n", o->dir, cc->chain_file);
	printf("  CA key:          %s/%s (0600%s)\n", o->dir, cc->key_file,
	    o->pass_file != NULL || o->pass_env != NULL ? ", encrypted" : "");
	printf("  TLS certificate: %s/tls/server.pem\n", o->dir);
	printf("  store:           %s/certgw.db\n", o->dir);
	printf("  config:          %s/certgw.json\n", o->dir);
	printf("EST: https://%s/.well-known/est/ user " EST_USER
	    ", password in %s/" EST_PW_FILE "\n", o->https, o->dir);
	/* Shown this once, for the operator to copy; never logged. */
	printf("EST password: %s\n", est_pw);
	printf("next: certgw serve --config %s/certgw.json\n", o->dir);
}

int
cmd_init(int argc, char **argv)
{
	struct init_opts	 o = { 0 };
	struct ca_init_opts	 io = { 0 };
	struct ca_config	 cc = { 0 }, open_cc = { 0 };
	struct cg_err		 err = { 0 };
	struct ca		*ca = NULL;
	struct ca_store		*st = NULL;
	char			*pass = NULL, *abs_pass = NULL, *dbpath = NULL;
	char			*est_hash = NULL, est_pw[EST_PW_LEN + 1];
	char			 actor[CMD_ACTOR_MAX], cwd[PATH_MAX];
	enum ca_init_key	 kt;
	int			 ret = CMD_EXIT_FAIL;

	ret = parse_opts(argc, argv, &o);
	if (ret != 0)
		return ret < 0 ? CMD_EXIT_OK : ret;
	ret = CMD_EXIT_FAIL;
	memset(est_pw, 0, sizeof(est_pw));
	if (!ca_init_key_parse(o.key_type, &kt))
		return cmd_usage_error("init", "unknown key type '%s' "
		    "(ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096)",
		    o.key_type);
	if ((o.pass_file != NULL || o.pass_env != NULL) &&
	    cg_secret_load(o.pass_file, o.pass_env, &pass, &err) != CG_OK)
		return cmd_fail("cannot read the passphrase", &err);
	if (o.pass_file != NULL) {
		abs_pass = o.pass_file[0] == '/' ? cg_strdup(o.pass_file) :
		    getcwd(cwd, sizeof(cwd)) != NULL ?
		    cg_path_join(cwd, o.pass_file) : NULL;
		if (abs_pass == NULL) {
			fprintf(stderr, "certgw init: cannot resolve %s\n",
			    o.pass_file);
			goto out;
		}
	}
	cmd_actor(actor, sizeof(actor));
	if (cg_mkdir_p(o.dir, 0755, &err) != CG_OK) {
		cmd_fail("init", &err);
		goto out;
	}
	if (!dir_is_free(o.dir))
		goto out;
	io.dir = o.dir;
	io.name = o.name;
	io.key_type = kt;
	io.intermediate = o.intermediate;
	io.passphrase = pass;
	if (ca_init_create(&io, &cc, &err) != CG_OK) {
		cmd_fail("cannot create the CA", &err);
		goto out;
	}
	open_cc.cert_file = cg_path_join(o.dir, cc.cert_file);
	open_cc.key_file = cg_path_join(o.dir, cc.key_file);
	open_cc.chain_file = cg_path_join(o.dir, cc.chain_file);
	open_cc.key_pass_file = abs_pass != NULL ? cg_strdup(abs_pass) : NULL;
	open_cc.key_pass_env = o.pass_env != NULL ? cg_strdup(o.pass_env) :
	    NULL;
	open_cc.public_base_url = o.public_url != NULL ?
	    cg_strdup(o.public_url) : cg_asprintf("http://%s", o.http);
	dbpath = cg_path_join(o.dir, "certgw.db");
	if (ca_open(&open_cc, &ca, &err) != CG_OK) {
		cmd_fail("cannot open the new CA", &err);
		goto out;
	}
	if (ca_store_open(dbpath, &st, &err) != CG_OK) {
		cmd_fail("cannot create the store", &err);
		goto out;
	}
	if (issue_tls(&o, ca, st, kt, pass, actor, &err) != CG_OK) {
		cmd_fail("cannot issue the gateway's TLS certificate", &err);
		goto out;
	}
	if (est_secret_create(&o, est_pw, sizeof(est_pw), &est_hash, &err) !=
	    CG_OK) {
		cmd_fail("cannot create the EST password", &err);
		goto out;
	}
	if (write_config(&o, &cc, abs_pass, est_hash, &err) != CG_OK) {
		cmd_fail("cannot write certgw.json", &err);
		goto out;
	}
	if (ca_store_audit_add(st, actor, "init", ca_get0_name(ca), "ok",
	    o.intermediate ? "root+intermediate" : "root", &err) != CG_OK) {
		cmd_fail("cannot write the audit log", &err);
		goto out;
	}
	print_next_steps(&o, &cc, est_pw);
	ret = CMD_EXIT_OK;
out:
	ca_store_close(st);
	ca_free(ca);
	ca_config_cleanup(&cc);
	ca_config_cleanup(&open_cc);
	cg_free(dbpath);
	cg_free(abs_pass);
	cg_secret_free(pass);
	cg_free(est_hash);
	OPENSSL_cleanse(est_pw, sizeof(est_pw));
	return ret;
}
