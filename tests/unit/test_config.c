/*
 * test_config.c - the config loader: a full file lands field by field, a
 * minimal one gets every default, each class of error yields the exact
 * "file:line: path: message" text, the position scanner on its own, file
 * checks against a temporary directory, profile lookups and allocation
 * failures.  It does not open listeners or load keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certgw/config.h"
#include "gw_config_int.h"

#define NAME	"certgw.json"
/* Well-formed cg_passwd_hash() strings (the first is "password"). */
#define HASH1	"pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$" \
		"8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="
#define HASH2	"pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$" \
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define CONF_DIR	"/etc/certgw"

/* Lines are numbered in the comments; error tests assert them. */
static const char full_config[] =
/*  1 */ "{\n"
/*  2 */ "  \"listeners\": {\n"
/*  3 */ "    \"https\": {\n"
/*  4 */ "      \"address\": \"[::1]:8443\",\n"
/*  5 */ "      \"cert\": \"tls/server.pem\",\n"
/*  6 */ "      \"key\": \"/srv/tls/server.key\",\n"
/*  7 */ "      \"key_passphrase_env\": \"TLS_KEY_PASS\",\n"
/*  8 */ "      \"client_ca\": \"ca/clients.pem\",\n"
/*  9 */ "      \"client_cert_policy\": {\n"
/* 10 */ "        \"/healthz\": \"ignore\",\n"
/* 11 */ "        \"/.well-known/est/simpleenroll\": \"require\",\n"
/* 12 */ "        \"/acme/\": \"accept\"\n"
/* 13 */ "      }\n"
/* 14 */ "    },\n"
/* 15 */ "    \"http\": { \"address\": \"0.0.0.0:8080\" }\n"
/* 16 */ "  },\n"
/* 17 */ "  \"threads\": 4,\n"
/* 18 */ "  \"limits\": {\n"
/* 19 */ "    \"max_header_bytes\": 8192, \"max_body_bytes\": 2048,\n"
/* 20 */ "    \"max_connections\": 10, \"read_timeout_s\": 5,\n"
/* 21 */ "    \"write_timeout_s\": 6, \"shutdown_grace_s\": 0\n"
/* 22 */ "  },\n"
/* 23 */ "  \"log\": { \"level\": \"debug\" },\n"
/* 24 */ "  \"store\": { \"path\": \"data/certgw.db\" },\n"
/* 25 */ "  \"ca\": {\n"
/* 26 */ "    \"cert\": \"ca/issuing.pem\", \"key\": \"ca/issuing.key\",\n"
/* 27 */ "    \"chain\": \"ca/chain.pem\", \"key_passphrase_file\": \"pass\",\n"
/* 28 */ "    \"public_base_url\": \"https://pki.example/\",\n"
/* 29 */ "    \"crl_validity_hours\": 48, \"crl_refresh_s\": 60\n"
/* 30 */ "  },\n"
/* 31 */ "  \"profiles\": {\n"
/* 32 */ "    \"server\": {\n"
/* 33 */ "      \"validity_days\": 90,\n"
/* 34 */ "      \"key_types\": [\"ec-p256\", \"rsa\"],\n"
/* 35 */ "      \"rsa_min_bits\": 3072,\n"
/* 36 */ "      \"key_usage\": [\"digitalSignature\", \"keyEncipherment\"],\n"
/* 37 */ "      \"extended_key_usage\": [\"serverAuth\", \"clientAuth\"],\n"
/* 38 */ "      \"san\": {\n"
/* 39 */ "        \"types\": [\"dns\", \"ip\", \"email\"],\n"
/* 40 */ "        \"required\": true,\n"
/* 41 */ "        \"dns_patterns\": [\"*.corp.example\", \".example.net\",\n"
/* 42 */ "                         \"host.example\"],\n"
/* 43 */ "        \"ip_networks\": [\"10.0.0.0/8\", \"::1/128\"],\n"
/* 44 */ "        \"email_patterns\": [\"*@corp.example\"]\n"
/* 45 */ "      },\n"
/* 46 */ "      \"subject\": { \"allowed\": [\"CN\", \"O\"],\n"
/* 47 */ "                   \"required\": [\"CN\"] },\n"
/* 48 */ "      \"crl_urls\": [\"http://crl.example/issuing.crl\"],\n"
/* 49 */ "      \"ocsp_urls\": [\"http://ocsp.example\"],\n"
/* 50 */ "      \"ca_issuers_urls\": [\"https://pki.example/issuing.crt\"],\n"
/* 51 */ "      \"approval\": \"manual\"\n"
/* 52 */ "    },\n"
/* 53 */ "    \"device-1_a\": { \"validity_days\": 30,\n"
/* 54 */ "                    \"reenroll_allow_changes\": true }\n"
/* 55 */ "  },\n"
/* 56 */ "  \"est\": {\n"
/* 57 */ "    \"users\": {\n"
/* 58 */ "      \"est\": { \"password_hash\": \"" HASH1 "\" },\n"
/* 59 */ "      \"ops.Bot-2_x\": { \"password_hash\": \"" HASH2 "\" }\n"
/* 60 */ "    },\n"
/* 61 */ "    \"labels\": {\n"
/* 62 */ "      \"default\": { \"profile\": \"device-1_a\" },\n"
/* 63 */ "      \"servers\": {\n"
/* 64 */ "        \"profile\": \"server\",\n"
/* 65 */ "        \"auth\": [\"cert\"],\n"
/* 66 */ "        \"users\": [\"ops.Bot-2_x\"],\n"
/* 67 */ "        \"client_ca\": \"ca/est-clients.pem\",\n"
/* 68 */ "        \"require_tls_unique\": true,\n"
/* 69 */ "        \"serverkeygen_key\": \"rsa-3072\",\n"
/* 70 */ "        \"retry_after_s\": 300\n"
/* 71 */ "      }\n"
/* 72 */ "    }\n"
/* 73 */ "  }\n"
/* 74 */ "}\n";

static const char minimal_config[] =
    "{\n"
    "  \"listeners\": { \"https\": { \"cert\": \"s.pem\",\n"
    "                               \"key\": \"s.key\" } },\n"
    "  \"store\": { \"path\": \"certgw.db\" },\n"
    "  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" },\n"
    "  \"profiles\": { \"p\": { \"validity_days\": 1 } }\n"
    "}\n";

static enum cg_code
parse(const char *text, struct gw_config **confp, struct cg_err *err)
{
	return gw_config_parse(NAME, CONF_DIR, (const uint8_t *)text,
	    strlen(text), false, confp, err);
}

static void
expect_error(const char *text, const char *msg)
{
	struct gw_config	*conf = (struct gw_config *)1;
	struct cg_err		 err = { 0 };

	assert_int_not_equal(parse(text, &conf, &err), CG_OK);
	assert_null(conf);
	assert_string_equal(err.msg, msg);
}

static bool
strlist_is(const struct ca_strlist *l, const char *const *want, size_t n)
{
	size_t	 i;

	if (l->n != n)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(l->v[i], want[i]) != 0)
			return false;
	return true;
}

#define LIST_IS(l, ...) do {						\
	static const char *const want_[] = { __VA_ARGS__ };		\
	assert_true(strlist_is((l), want_,				\
	    sizeof(want_) / sizeof(want_[0])));				\
} while (0)

/* ------------------------------------------------------ valid files */

static void
check_full_listeners(const struct gw_config *c)
{
	const struct gw_https_conf	*h = &c->https;

	assert_string_equal(c->path, NAME);
	assert_string_equal(c->dir, CONF_DIR);
	assert_string_equal(h->address, "[::1]:8443");
	assert_string_equal(h->cert_file, CONF_DIR "/tls/server.pem");
	assert_string_equal(h->key_file, "/srv/tls/server.key");
	assert_null(h->key_pass_file);
	assert_string_equal(h->key_pass_env, "TLS_KEY_PASS");
	assert_string_equal(h->client_ca_file, CONF_DIR "/ca/clients.pem");
	assert_int_equal(h->ncert_overrides, 3);
	assert_string_equal(h->cert_overrides[0].path, "/healthz");
	assert_int_equal(h->cert_overrides[0].policy, GW_CERT_IGNORE);
	assert_string_equal(h->cert_overrides[1].path,
	    "/.well-known/est/simpleenroll");
	assert_int_equal(h->cert_overrides[1].policy, GW_CERT_REQUIRE);
	assert_string_equal(h->cert_overrides[2].path, "/acme/");
	assert_int_equal(h->cert_overrides[2].policy, GW_CERT_ACCEPT);
	/* A present "http" section is enabled unless it says otherwise. */
	assert_true(c->http.enabled);
	assert_string_equal(c->http.address, "0.0.0.0:8080");
}

static void
check_full_rest(const struct gw_config *c)
{
	assert_int_equal(c->threads, 4);
	assert_int_equal(c->limits.max_header_bytes, 8192);
	assert_int_equal(c->limits.max_body_bytes, 2048);
	assert_int_equal(c->limits.max_connections, 10);
	assert_int_equal(c->limits.read_timeout_s, 5);
	assert_int_equal(c->limits.write_timeout_s, 6);
	assert_int_equal(c->limits.shutdown_grace_s, 0);
	assert_int_equal(c->log_level, CG_LOG_DEBUG);
	assert_string_equal(c->store_path, CONF_DIR "/data/certgw.db");
	assert_string_equal(c->ca.cert_file, CONF_DIR "/ca/issuing.pem");
	assert_string_equal(c->ca.key_file, CONF_DIR "/ca/issuing.key");
	assert_string_equal(c->ca.chain_file, CONF_DIR "/ca/chain.pem");
	assert_string_equal(c->ca.key_pass_file, CONF_DIR "/pass");
	assert_null(c->ca.key_pass_env);
	/* One trailing slash is dropped. */
	assert_string_equal(c->ca.public_base_url, "https://pki.example");
	assert_int_equal(c->ca.crl_validity_s, 48 * 3600);
	assert_int_equal(c->crl_refresh_s, 60);
}

static void
check_full_profiles(const struct gw_config *c)
{
	const struct ca_profile	*p = &c->profiles[0], *d = &c->profiles[1];

	assert_int_equal(c->nprofiles, 2);
	assert_string_equal(p->name, "server");
	assert_int_equal(p->validity_days, 90);
	assert_int_equal(p->key_types,
	    (1u << CA_KEY_EC_P256) | (1u << CA_KEY_RSA));
	assert_int_equal(p->rsa_min_bits, 3072);
	assert_int_equal(p->key_usage,
	    CA_KU_DIGITAL_SIGNATURE | CA_KU_KEY_ENCIPHERMENT);
	assert_int_equal(p->ext_key_usage,
	    CA_EKU_SERVER_AUTH | CA_EKU_CLIENT_AUTH);
	assert_int_equal(p->san_types, CA_SAN_DNS | CA_SAN_IP | CA_SAN_EMAIL);
	assert_true(p->san_required);
	LIST_IS(&p->dns_patterns, "*.corp.example", ".example.net",
	    "host.example");
	LIST_IS(&p->ip_networks, "10.0.0.0/8", "::1/128");
	LIST_IS(&p->email_patterns, "*@corp.example");
	LIST_IS(&p->subject_allowed, "CN", "O");
	LIST_IS(&p->subject_required, "CN");
	LIST_IS(&p->crl_urls, "http://crl.example/issuing.crl");
	LIST_IS(&p->ocsp_urls, "http://ocsp.example");
	LIST_IS(&p->ca_issuers_urls, "https://pki.example/issuing.crt");
	assert_true(p->manual_approval);
	assert_false(p->reenroll_allow_changes);
	assert_string_equal(d->name, "device-1_a");
	assert_int_equal(d->validity_days, 30);
	assert_false(d->manual_approval);
	assert_true(d->reenroll_allow_changes);
}

static void
check_full_est(const struct gw_config *c)
{
	const struct gw_est_conf	*e = &c->est;
	const struct gw_est_label	*d = &e->labels[0], *s = &e->labels[1];

	assert_true(e->enabled);
	assert_int_equal(e->nusers, 2);
	assert_string_equal(e->users[0].name, "est");
	assert_string_equal(e->users[0].password_hash, HASH1);
	assert_string_equal(e->users[1].name, "ops.Bot-2_x");
	assert_string_equal(e->users[1].password_hash, HASH2);
	assert_int_equal(e->nlabels, 2);
	/* Everything a label does not say takes its default. */
	assert_string_equal(d->name, "default");
	assert_string_equal(d->profile, "device-1_a");
	assert_int_equal(d->auth, GW_EST_AUTH_BASIC | GW_EST_AUTH_CERT);
	assert_int_equal(d->users.n, 0);
	assert_null(d->client_ca_file);
	assert_false(d->require_tls_unique);
	assert_int_equal(d->serverkeygen_key, CA_INIT_EC_P256);
	assert_int_equal(d->retry_after_s, 60);
	assert_string_equal(s->name, "servers");
	assert_string_equal(s->profile, "server");
	assert_int_equal(s->auth, GW_EST_AUTH_CERT);
	LIST_IS(&s->users, "ops.Bot-2_x");
	assert_string_equal(s->client_ca_file, CONF_DIR "/ca/est-clients.pem");
	assert_true(s->require_tls_unique);
	assert_int_equal(s->serverkeygen_key, CA_INIT_RSA_3072);
	assert_int_equal(s->retry_after_s, 300);
}

static void
test_full_config(void **state)
{
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(parse(full_config, &conf, &err), CG_OK);
	assert_non_null(conf);
	check_full_listeners(conf);
	check_full_rest(conf);
	check_full_profiles(conf);
	check_full_est(conf);
	gw_config_free(conf);
}

static void
test_defaults(void **state)
{
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };
	const struct ca_profile	*p;

	assert_int_equal(parse(minimal_config, &c, &err), CG_OK);
	assert_string_equal(c->https.address, "127.0.0.1:8443");
	assert_null(c->https.key_pass_file);
	assert_null(c->https.key_pass_env);
	assert_int_equal(c->https.ncert_overrides, 0);
	/* No chain: client certificates are checked against the CA cert. */
	assert_string_equal(c->https.client_ca_file, CONF_DIR "/ca.pem");
	assert_false(c->http.enabled);
	assert_string_equal(c->http.address, "127.0.0.1:8080");
	assert_int_equal(c->threads, 0);
	assert_int_equal(c->limits.max_header_bytes, 16384);
	assert_int_equal(c->limits.max_body_bytes, 1048576);
	assert_int_equal(c->limits.max_connections, 1024);
	assert_int_equal(c->limits.read_timeout_s, 30);
	assert_int_equal(c->limits.write_timeout_s, 30);
	assert_int_equal(c->limits.shutdown_grace_s, 20);
	assert_int_equal(c->log_level, CG_LOG_INFO);
	assert_string_equal(c->store_path, CONF_DIR "/certgw.db");
	assert_null(c->ca.chain_file);
	assert_null(c->ca.public_base_url);
	assert_int_equal(c->ca.crl_validity_s, 24 * 3600);
	assert_int_equal(c->crl_refresh_s, 2);
	assert_int_equal(c->nprofiles, 1);
	p = &c->profiles[0];
	assert_int_equal(p->key_types, (1u << CA_KEY__MAX) - 1);
	assert_int_equal(p->rsa_min_bits, 2048);
	assert_int_equal(p->key_usage, CA_KU_DIGITAL_SIGNATURE);
	assert_int_equal(p->ext_key_usage, 0);
	assert_int_equal(p->san_types, CA_SAN_DNS | CA_SAN_IP);
	assert_false(p->san_required);
	assert_int_equal(p->dns_patterns.n + p->ip_networks.n +
	    p->email_patterns.n + p->subject_required.n + p->crl_urls.n +
	    p->ocsp_urls.n + p->ca_issuers_urls.n, 0);
	LIST_IS(&p->subject_allowed, "CN", "O", "OU", "C", "ST", "L",
	    "emailAddress", "serialNumber");
	assert_false(p->manual_approval);
	assert_false(p->reenroll_allow_changes);
	/* No "est" section: EST is off and nothing is allocated. */
	assert_false(c->est.enabled);
	assert_int_equal(c->est.nusers + c->est.nlabels, 0);
	assert_null(c->est.users);
	assert_null(c->est.labels);
	gw_config_free(c);
}

static void
test_small_defaults(void **state)
{
	static const char text[] =
	    "{\"listeners\": {\"https\": {\"cert\": \"/a\", \"key\": \"/b\"},\n"
	    " \"http\": {\"enabled\": false}},\n"
	    " \"store\": {\"path\": \"/var/lib/certgw/db\"},\n"
	    " \"ca\": {\"cert\": \"/c\", \"key\": \"/k\", \"chain\": \"/ch\",\n"
	    "   \"public_base_url\": \"http://h:8080\"},\n"
	    " \"profiles\": {\"p\": {\"validity_days\": 36600,\n"
	    "   \"subject\": {\"required\": [\"CN\"]},\n"
	    "   \"key_usage\": [], \"approval\": \"auto\"}}}";
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(parse(text, &c, &err), CG_OK);
	assert_false(c->http.enabled);
	assert_string_equal(c->https.client_ca_file, "/ch");
	assert_string_equal(c->store_path, "/var/lib/certgw/db");
	assert_string_equal(c->ca.public_base_url, "http://h:8080");
	assert_int_equal(c->profiles[0].validity_days, 36600);
	assert_int_equal(c->profiles[0].key_usage, 0);
	assert_int_equal(c->profiles[0].subject_allowed.n, 8);
	LIST_IS(&c->profiles[0].subject_required, "CN");
	gw_config_free(c);
}

static void
test_profile_lookup(void **state)
{
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };
	const struct ca_profile	*p;

	assert_int_equal(parse(full_config, &conf, &err), CG_OK);
	p = gw_config_profile(conf, "server");
	assert_ptr_equal(p, &conf->profiles[0]);
	p = gw_config_profile(conf, "device-1_a");
	assert_non_null(p);
	assert_int_equal(p->validity_days, 30);
	assert_null(gw_config_profile(conf, "Server"));
	assert_null(gw_config_profile(conf, "nope"));
	assert_null(gw_config_profile(conf, NULL));
	assert_null(gw_config_profile(NULL, "server"));
	gw_config_free(conf);
	gw_config_free(NULL);
}

/* ------------------------------------------------------------ errors */

static void
test_type_errors(void **state)
{
	expect_error("{\n  \"profiles\": {\n    \"device\": {\n"
	    "      \"validity_days\": \"90\"\n    }\n  }\n}",
	    NAME ":4: profiles.device.validity_days: "
	    "expected a positive integer");
	expect_error("{\n  \"profiles\": {\n    \"device\": {\n"
	    "      \"validity_days\": 40000\n    }\n  }\n}",
	    NAME ":4: profiles.device.validity_days: "
	    "expected an integer between 1 and 36600");
	expect_error("{\n  \"limits\": {\n    \"read_timeout_s\": 5000\n  }\n}",
	    NAME ":3: limits.read_timeout_s: "
	    "expected an integer between 1 and 3600");
	expect_error("{\n  \"limits\": {\n    \"read_timeout_s\": 0\n  }\n}",
	    NAME ":3: limits.read_timeout_s: "
	    "expected an integer between 1 and 3600");
	/* Reals are not integers, even when whole. */
	expect_error("{\n  \"threads\": 2.0\n}",
	    NAME ":2: threads: expected a non-negative integer");
	expect_error("{\n  \"threads\": 257\n}",
	    NAME ":2: threads: expected an integer between 0 and 256");
	expect_error("{\n  \"limits\": 5\n}",
	    NAME ":2: limits: expected an object");
	expect_error("[1]", NAME ":1: expected an object");
	expect_error("{\n \"log\": {\n  \"level\": \"verbose\"\n }\n}",
	    NAME ":3: log.level: expected one of err, warn, info, debug");
	expect_error("{\"store\": {\"path\": 5}}",
	    NAME ":1: store.path: expected a string");
	expect_error("{\"store\": {\"path\": \"\"}}",
	    NAME ":1: store.path: expected a non-empty string");
	expect_error("{\"listeners\": {\"http\": {\n\"enabled\": \"yes\"}}}",
	    NAME ":2: listeners.http.enabled: expected true or false");
}

static void
test_array_errors(void **state)
{
	expect_error("{\n  \"profiles\": {\n    \"server\": {\n"
	    "      \"validity_days\": 90,\n      \"key_types\": [\n"
	    "        \"ec-p256\",\n        \"rsa\",\n        \"ec-p999\"\n"
	    "      ]\n    }\n  }\n}",
	    NAME ":8: profiles.server.key_types[2]: "
	    "unknown key type 'ec-p999'");
	expect_error("{\"profiles\": {\"x\": {\n\"key_types\": \"rsa\"}}}",
	    NAME ":2: profiles.x.key_types: expected an array of strings");
	expect_error("{\"profiles\": {\"x\": {\n\"key_types\": []}}}",
	    NAME ":2: profiles.x.key_types: expected at least 1 entry");
	expect_error("{\"profiles\": {\"x\": {\"key_types\": [\n"
	    "\"rsa\",\n1]}}}",
	    NAME ":3: profiles.x.key_types[1]: expected a string");
	expect_error("{\"profiles\": {\"x\": {\n"
	    "\"key_usage\": [\"signing\"]}}}",
	    NAME ":2: profiles.x.key_usage[0]: unknown key usage 'signing'");
	expect_error("{\"profiles\": {\"x\": {\n"
	    "\"extended_key_usage\": [\"serverAuth\", \"web\"]}}}",
	    NAME ":2: profiles.x.extended_key_usage[1]: "
	    "unknown extended key usage 'web'");
	expect_error("{\"profiles\": {\"x\": {\"validity_days\": 30,\n"
	    "\"extended_key_usage\": [\"OCSPSigning\"]}}}",
	    NAME ":2: profiles.x.extended_key_usage: OCSPSigning is not "
	    "allowed in a profile: any such certificate could sign OCSP "
	    "answers for this CA (use certgw ocsp-signer init)");
	expect_error("{\"profiles\": {\"x\": {\"san\": {\n"
	    "\"dns_patterns\": [\"*.*.example\"]}}}}",
	    NAME ":2: profiles.x.san.dns_patterns[0]: "
	    "invalid DNS pattern '*.*.example'");
	expect_error("{\"profiles\": {\"x\": {\"san\": {\n"
	    "\"ip_networks\": [\"10.0.0.0/33\"]}}}}",
	    NAME ":2: profiles.x.san.ip_networks[0]: "
	    "invalid IP network '10.0.0.0/33'");
	expect_error("{\"profiles\": {\"x\": {\"san\": {\n"
	    "\"email_patterns\": [\"corp.example\"]}}}}",
	    NAME ":2: profiles.x.san.email_patterns[0]: "
	    "invalid email pattern 'corp.example'");
	expect_error("{\"profiles\": {\"x\": {\"san\": {\n"
	    "\"types\": [\"dns\", \"x400\"]}}}}",
	    NAME ":2: profiles.x.san.types[1]: unknown SAN type 'x400'");
	expect_error("{\"profiles\": {\"x\": {\"san\": {\"types\": [],\n"
	    "\"required\": true}}}}",
	    NAME ":2: profiles.x.san.required: "
	    "a SAN is required but no SAN type is allowed");
	expect_error("{\"profiles\": {\"x\": {\n\"crl_urls\": [\"ftp://x\"]}}}",
	    NAME ":2: profiles.x.crl_urls[0]: "
	    "expected an http or https URL, not 'ftp://x'");
	expect_error("{\"profiles\": {\"x\": {\"subject\": {\n"
	    "\"allowed\": [\"CN\", \"XYZ\"]}}}}",
	    NAME ":2: profiles.x.subject.allowed[1]: "
	    "unknown subject attribute 'XYZ'");
	expect_error("{\"profiles\": {\"x\": {\"subject\": {\n"
	    "\"allowed\": [\"CN\"],\n\"required\": [\"CN\",\n\"O\"]}}}}",
	    NAME ":4: profiles.x.subject.required[1]: "
	    "'O' is not in subject.allowed");
}

static void
test_value_errors(void **state)
{
	expect_error("{\"listeners\": {\"https\": {\n"
	    "\"address\": \"localhost\"}}}",
	    NAME ":2: listeners.https.address: expected host:port with a "
	    "port between 1 and 65535 (IPv6 as [addr]:port)");
	expect_error("{\"listeners\": {\"https\": {\n"
	    "\"address\": \"::1:80\"}}}",
	    NAME ":2: listeners.https.address: expected host:port with a "
	    "port between 1 and 65535 (IPv6 as [addr]:port)");
	expect_error("{\"listeners\": {\"http\": {\n"
	    "\"address\": \"h:65536\"}}}",
	    NAME ":2: listeners.http.address: expected host:port with a "
	    "port between 1 and 65535 (IPv6 as [addr]:port)");
	expect_error("{\"listeners\": {\"http\": {\n"
	    "\"address\": \"1.2.3:80\"}}}",
	    NAME ":2: listeners.http.address: expected host:port with a "
	    "port between 1 and 65535 (IPv6 as [addr]:port)");
	expect_error("{\"ca\": {\n\"public_base_url\": \"ftp://h\"}}",
	    NAME ":2: ca.public_base_url: expected an http or https URL "
	    "without query or fragment");
	expect_error("{\"ca\": {\n\"public_base_url\": \"http://u:p@h\"}}",
	    NAME ":2: ca.public_base_url: expected an http or https URL "
	    "without query or fragment");
	expect_error("{\"ca\": {\n\"key_passphrase_env\": \"1BAD\"}}",
	    NAME ":2: ca.key_passphrase_env: "
	    "expected an environment variable name");
	expect_error("{\n  \"ca\": {\n    \"key_passphrase_file\": \"p.txt\",\n"
	    "    \"key_passphrase_env\": \"CA_PASS\"\n  }\n}",
	    NAME ":4: ca.key_passphrase_env: only one of "
	    "key_passphrase_file and key_passphrase_env may be set");
	expect_error("{\"listeners\": {\"https\": {\"client_cert_policy\": {\n"
	    "\"healthz\": \"require\"}}}}",
	    NAME ":2: listeners.https.client_cert_policy.healthz: "
	    "expected a URL path starting with '/'");
	/* A key holding dots is still found for its line. */
	expect_error("{\"listeners\": {\"https\": {\"client_cert_policy\": {\n"
	    "\"/.well-known/est\": \"require\",\n"
	    "\"/.well-known/est/cacerts\": \"maybe\"}}}}",
	    NAME ":3: listeners.https.client_cert_policy./.well-known/est/"
	    "cacerts: expected \"ignore\", \"accept\" or \"require\"");
	expect_error("{\"profiles\": {\n\"Server\": {}}}",
	    NAME ":2: profiles.Server: expected a profile name of 1 to 64 "
	    "characters from a-z, 0-9, '_' and '-'");
	expect_error("{\n  \"profiles\": {}\n}",
	    NAME ":2: profiles: expected at least one profile");
	expect_error("{\"profiles\": {\"x\": {\n\"approval\": \"later\"}}}",
	    NAME ":2: profiles.x.approval: expected \"auto\" or \"manual\"");
	expect_error("{\"profiles\": {\"x\": {\n\"rsa_min_bits\": 1024}}}",
	    NAME ":2: profiles.x.rsa_min_bits: "
	    "expected an integer between 2048 and 16384");
	expect_error("{\"ca\": {\n\"crl_validity_hours\": 8761}}",
	    NAME ":2: ca.crl_validity_hours: "
	    "expected an integer between 1 and 8760");
}

static void
test_unknown_keys(void **state)
{
	expect_error("{\n  \"bogus\": 1\n}", NAME ":2: bogus: unknown key");
	expect_error("{\n  \"listeners\": {\n    \"https\": {\n"
	    "      \"cert\": \"a.pem\",\n      \"certt\": \"b.pem\"\n"
	    "    }\n  }\n}",
	    NAME ":5: listeners.https.certt: unknown key");
	expect_error("{\n  \"limits\": {\n    \"max_connections\": 5,\n"
	    "    \"max_body\": 1\n  }\n}",
	    NAME ":4: limits.max_body: unknown key");
	expect_error("{\n  \"profiles\": {\n    \"x\": {\n"
	    "      \"validity_days\": 1,\n      \"san\": {\n"
	    "        \"types\": [\"dns\"],\n        \"dns\": [\"a.example\"]\n"
	    "      }\n    }\n  }\n}",
	    NAME ":7: profiles.x.san.dns: unknown key");
	/* Sections of modules that do not exist yet are refused. */
	expect_error("{\n\n  \"ldap\": {}\n}",
	    NAME ":3: ldap: unknown key");
	/* Escapes in keys are decoded and control bytes shown as '?'. */
	expect_error("{\n\"a\\u0001b\": 1}", NAME ":2: a?b: unknown key");
	expect_error("{\"log\": {},\n\"\\u00e9t\\u00e9\": 1}",
	    NAME ":2: \xc3\xa9t\xc3\xa9: unknown key");
	expect_error("{\n\"\": 1}", NAME ":2: \"\": unknown key");
}

static void
test_missing_keys(void **state)
{
	expect_error("{\n  \"ca\": {\n    \"cert\": \"ca.pem\"\n  }\n}",
	    NAME ":2: ca.key: missing required key");
	expect_error("{\n  \"listeners\": {\n    \"http\": {}\n  }\n}",
	    NAME ":2: listeners.https: missing required key");
	expect_error("{\n  \"listeners\": {\n    \"https\": {\n"
	    "      \"cert\": \"a\"\n    }\n  }\n}",
	    NAME ":3: listeners.https.key: missing required key");
	expect_error(
	    "{\n"
	    "  \"listeners\": { \"https\": { \"cert\": \"s\",\n"
	    "                               \"key\": \"k\" } },\n"
	    "  \"store\": { \"path\": \"certgw.db\" },\n"
	    "  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" }\n"
	    "}\n",
	    NAME ":1: profiles: missing required key");
	expect_error("{\"profiles\": {\"x\": {\n\"key_types\": [\"rsa\"]}}}",
	    NAME ":1: profiles.x.validity_days: missing required key");
	expect_error("{}", NAME ":1: listeners: missing required key");
}

static void
test_syntax_errors(void **state)
{
	expect_error("{\n  \"threads\": 1,\n"
	    "  \"log\": { \"level\": \"info\" },\n"
	    "  \"threads\": 2\n}",
	    NAME ":4: syntax error: duplicate object key near '\"threads\"'");
	expect_error("{\n  \"threads\": 1,\n"
	    "  \"log\": { \"level\": \"info\" }\n"
	    "  \"store\": {}\n}",
	    NAME ":4: syntax error: '}' expected near '\"store\"'");
	expect_error("{\n\"threads\": 1,\n}",
	    NAME ":3: syntax error: string or '}' expected near '}'");
	expect_error("", NAME ":1: syntax error: '[' or '{' expected near "
	    "end of file");
	expect_error("{} x", NAME ":1: syntax error: end of file expected "
	    "near 'x'");
}

/* {"threads": n nested arrays}, the arrays on line 3. */
static void
nested_arrays(size_t n, char *out, size_t outlen)
{
	size_t	 i, o;

	assert_true(2 * n + 20 < outlen);
	o = (size_t)snprintf(out, outlen, "{\n\"threads\":\n");
	for (i = 0; i < n; i++)
		out[o++] = '[';
	for (i = 0; i < n; i++)
		out[o++] = ']';
	out[o++] = '}';
	out[o] = '\0';
}

static void
test_nesting_limit(void **state)
{
	char			*text, want[256];
	size_t			 i, o = 0;
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };

	/* 33 nested objects, one key per line: key 32 opens level 33. */
	text = malloc(64 * 8);
	assert_non_null(text);
	o += (size_t)snprintf(text + o, 8, "{\n");
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(text + o, 8, "\"a\":{\n");
	for (i = 0; i < 41; i++)
		text[o++] = '}';
	text[o] = '\0';
	assert_int_equal(parse(text, &conf, &err), CG_ETOOBIG);
	assert_null(conf);
	o = (size_t)snprintf(want, sizeof(want), NAME ":33: a");
	for (i = 1; i < 32; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, ".a");
	snprintf(want + o, sizeof(want) - o, ": nesting deeper than 32 levels");
	assert_string_equal(err.msg, want);
	free(text);

	/* Arrays count too; exactly 32 levels pass the scanner. */
	nested_arrays(31, want, sizeof(want));
	expect_error(want, NAME ":2: threads: expected a non-negative integer");
	nested_arrays(32, want, sizeof(want));
	expect_error(want,
	    NAME ":3: threads[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
	    "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nesting deeper "
	    "than 32 levels");
}

static void
test_too_big(void **state)
{
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };
	uint8_t			*big;

	big = calloc(1, GW_CONFIG_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', GW_CONFIG_MAX + 1);
	assert_int_equal(gw_config_parse(NAME, CONF_DIR, big, GW_CONFIG_MAX + 1,
	    false, &conf, &err), CG_ETOOBIG);
	assert_null(conf);
	assert_string_equal(err.msg, NAME ": larger than 1048576 bytes");
	free(big);
}

/* ---------------------------------------------------------------- est */

/* A complete file up to the "est" section; est's own lines start at 10. */
#define EST_HEAD							\
/*  1 */ "{\n"								\
/*  2 */ "  \"listeners\": { \"https\": { \"cert\": \"s\", \"key\": \"k\" } },\n" \
/*  3 */ "  \"store\": { \"path\": \"certgw.db\" },\n"			\
/*  4 */ "  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" },\n"	\
/*  5 */ "  \"profiles\": { \"device\": { \"validity_days\": 1,\n"	\
/*  6 */ "    \"key_types\": [\"ec-p256\", \"rsa\"], \"rsa_min_bits\": 3072 },\n" \
/*  7 */ "    \"edge\": { \"validity_days\": 1, \"key_types\": [\"ec-p384\"] } },\n" \
/*  8 */ "  \"est\": {\n"						\
/*  9 */ "    \"users\": { \"est\": { \"password_hash\": \"" HASH1 "\" } },\n"
#define EST_TAIL	"  }\n}\n"

static void
test_est_ok(void **state)
{
	/* "est" before "profiles": names are resolved after the whole file. */
	static const char early[] =
	    "{\"est\": {\"labels\": {\"a\": {\"profile\": \"late\",\n"
	    "  \"serverkeygen_key\": \"EC-P384\", \"users\": []}}},\n"
	    " \"listeners\": {\"https\": {\"cert\": \"s\", \"key\": \"k\"}},\n"
	    " \"store\": {\"path\": \"db\"}, \"ca\": {\"cert\": \"c\", "
	    "\"key\": \"k\"},\n"
	    " \"profiles\": {\"late\": {\"validity_days\": 1}}}\n";
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(parse(early, &c, &err), CG_OK);
	assert_true(c->est.enabled);
	/* No users at all is allowed (certificate-only EST). */
	assert_int_equal(c->est.nusers, 0);
	assert_int_equal(c->est.nlabels, 1);
	assert_int_equal(c->est.labels[0].serverkeygen_key, CA_INIT_EC_P384);
	assert_int_equal(c->est.labels[0].users.n, 0);
	gw_config_free(c);

	assert_int_equal(parse(EST_HEAD
	    "    \"labels\": { \"x\": { \"profile\": \"edge\",\n"
	    "      \"serverkeygen_key\": \"ec-p384\", \"auth\": [\"basic\"],\n"
	    "      \"users\": [\"est\"], \"retry_after_s\": 86400 } }\n"
	    EST_TAIL, &c, &err), CG_OK);
	assert_int_equal(c->est.labels[0].auth, GW_EST_AUTH_BASIC);
	assert_int_equal(c->est.labels[0].retry_after_s, 86400);
	assert_ptr_equal(gw_config_profile(c, c->est.labels[0].profile),
	    &c->profiles[1]);
	gw_config_free(c);
}

static void
test_est_reference_errors(void **state)
{
	expect_error(EST_HEAD
	    "    \"labels\": {\n"
	    "      \"default\": {\n"
	    "        \"auth\": [\"basic\"],\n"
	    "        \"profile\": \"devices\"\n"
	    "      } }\n" EST_TAIL,
	    NAME ":13: est.labels.default.profile: "
	    "unknown profile 'devices' (not in profiles)");
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"users\": [\"est\",\n"
	    "                \"bob\"] } }\n" EST_TAIL,
	    NAME ":12: est.labels.default.users[1]: "
	    "unknown user 'bob' (not in est.users)");
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"serverkeygen_key\": \"ec-p384\" } }\n" EST_TAIL,
	    NAME ":11: est.labels.default.serverkeygen_key: "
	    "key type 'ec-p384' is not allowed by profile 'device'");
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"serverkeygen_key\": \"rsa-2048\" } }\n" EST_TAIL,
	    NAME ":11: est.labels.default.serverkeygen_key: "
	    "key type 'rsa-2048' is not allowed by profile 'device' "
	    "(rsa_min_bits 3072)");
	/* The default (ec-p256) is checked too, on the label's line. */
	expect_error(EST_HEAD
	    "    \"labels\": {\n"
	    "      \"tls\": { \"profile\": \"edge\" } }\n" EST_TAIL,
	    NAME ":11: est.labels.tls.serverkeygen_key: "
	    "key type 'ec-p256' is not allowed by profile 'edge'");
}

static void
test_est_value_errors(void **state)
{
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"auth\": [\"basic\", \"password\"] } }\n" EST_TAIL,
	    NAME ":11: est.labels.default.auth[1]: "
	    "unknown auth method 'password'");
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"auth\": [] } }\n" EST_TAIL,
	    NAME ":11: est.labels.default.auth: expected at least 1 entry");
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"serverkeygen_key\": \"ed25519\" } }\n" EST_TAIL,
	    NAME ":11: est.labels.default.serverkeygen_key: expected one of "
	    "ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096");
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"retry_after_s\": 0 } }\n" EST_TAIL,
	    NAME ":11: est.labels.default.retry_after_s: "
	    "expected an integer between 1 and 86400");
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"users\": [\"a:b\"] } }\n" EST_TAIL,
	    NAME ":11: est.labels.default.users[0]: invalid user name 'a:b'");
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"require_tls_unique\": 1 } }\n" EST_TAIL,
	    NAME ":11: est.labels.default.require_tls_unique: "
	    "expected true or false");
	expect_error(EST_HEAD
	    "    \"labels\": {\n      \"Default\": { \"profile\": \"device\" } }\n"
	    EST_TAIL,
	    NAME ":11: est.labels.Default: expected a label name of 1 to 64 "
	    "characters from a-z, 0-9, '_' and '-'");
	expect_error(EST_HEAD "    \"labels\": {\n    }\n" EST_TAIL,
	    NAME ":10: est.labels: expected at least one label");
	expect_error(EST_HEAD "    \"labels\": { \"default\": {\n"
	    "      \"auth\": [\"cert\"] } }\n" EST_TAIL,
	    NAME ":10: est.labels.default.profile: missing required key");
	expect_error("{\n  \"est\": {\n    \"users\": {}\n  }\n}",
	    NAME ":2: est.labels: missing required key");
}

static void
test_est_user_errors(void **state)
{
	expect_error("{\"est\": {\"users\": {\"est\": {\n"
	    "\"password_hash\": \"secret\"}}}}",
	    NAME ":2: est.users.est.password_hash: expected a hash made by "
	    "certgw passwd (pbkdf2-sha256$iterations$salt$key)");
	expect_error("{\"est\": {\"users\": {\"est\": {\n"
	    "\"password_hash\": \"pbkdf2-sha256$999$c2FsdHNhbHRzYWx0c2FsdA==$"
	    "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA=\"}}}}",
	    NAME ":2: est.users.est.password_hash: expected a hash made by "
	    "certgw passwd (pbkdf2-sha256$iterations$salt$key)");
	expect_error("{\"est\": {\"users\": {\"est\": {\n"
	    "\"password_hash\": 5}}}}",
	    NAME ":2: est.users.est.password_hash: expected a string");
	expect_error("{\"est\": {\"users\": {\n\"est\": {}}}}",
	    NAME ":2: est.users.est.password_hash: missing required key");
	expect_error("{\"est\": {\"users\": {\n\"a b\": {}}}}",
	    NAME ":2: est.users.a b: expected a user name of 1 to 64 "
	    "characters from A-Z, a-z, 0-9, '.', '_' and '-'");
	expect_error("{\"est\": {\n\"users\": []}}",
	    NAME ":2: est.users: expected an object");
}

static void
test_est_unknown_keys(void **state)
{
	expect_error("{\"est\": {\n\"user\": {}}}",
	    NAME ":2: est.user: unknown key");
	expect_error("{\"est\": {\"users\": {\"est\": {\n"
	    "\"password\": \"x\"}}}}",
	    NAME ":2: est.users.est.password: unknown key");
	expect_error(EST_HEAD
	    "    \"labels\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"serverkeygen\": \"ec-p256\" } }\n" EST_TAIL,
	    NAME ":11: est.labels.default.serverkeygen: unknown key");
	expect_error("{\"profiles\": {\"x\": {\n"
	    "\"reenroll_allow_changes\": \"yes\"}}}",
	    NAME ":2: profiles.x.reenroll_allow_changes: "
	    "expected true or false");
}

/* --------------------------------------------------- position scanner */

static void
test_pos_scanner(void **state)
{
	static const char text[] =
	/* 1 */ "{\"a\": [1, -2.5e+3,\n"
	/* 2 */ " {\"b\": true}],\n"
	/* 3 */ " \"c\": {\"d\":\n"
	/* 4 */ " \"x\\\"y\"},\n"
	/* 5 */ " \"c\\u002ed\": null,\n"
	/* 6 */ " \"s\\ud83d\\ude00\": [\n"
	/* 7 */ "\n"
	/* 8 */ " \"\\n\"]}";
	struct gw_cfg_pos	*pos = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(gw_cfg_pos_scan("t", (const uint8_t *)text,
	    strlen(text), &pos, &err), CG_OK);
	/* root, a, 1, -2.5e+3, {b}, b, c, d, c.d, s.., "\n" */
	assert_int_equal(gw_cfg_pos_count(pos), 11);
	assert_int_equal(gw_cfg_pos_line(pos, ""), 1);
	assert_int_equal(gw_cfg_pos_line(pos, "a"), 1);
	assert_int_equal(gw_cfg_pos_line(pos, "a[1]"), 1);
	assert_int_equal(gw_cfg_pos_line(pos, "a[2]"), 2);
	assert_int_equal(gw_cfg_pos_line(pos, "a[2].b"), 2);
	/* "c.d" is both a key and a path; the longer key wins. */
	assert_int_equal(gw_cfg_pos_line(pos, "c.d"), 5);
	assert_int_equal(gw_cfg_pos_line(pos, "c"), 3);
	assert_int_equal(gw_cfg_pos_line(pos, "s\xf0\x9f\x98\x80"), 6);
	assert_int_equal(gw_cfg_pos_line(pos, "s\xf0\x9f\x98\x80[0]"), 8);
	assert_int_equal(gw_cfg_pos_line(pos, "a[3]"), 0);
	assert_int_equal(gw_cfg_pos_line(pos, "a[x]"), 0);
	assert_int_equal(gw_cfg_pos_line(pos, "zz"), 0);
	assert_int_equal(gw_cfg_pos_line(pos, "a.b"), 0);
	gw_cfg_pos_free(pos);
	gw_cfg_pos_free(NULL);
}

static void
expect_scan_error(const char *text, const char *msg)
{
	struct gw_cfg_pos	*pos = (struct gw_cfg_pos *)1;
	struct cg_err		 err = { 0 };

	assert_int_not_equal(gw_cfg_pos_scan("t", (const uint8_t *)text,
	    strlen(text), &pos, &err), CG_OK);
	assert_null(pos);
	assert_string_equal(err.msg, msg);
}

static void
test_pos_scanner_strict(void **state)
{
	expect_scan_error("[1,\n]", "t:2: syntax error: unexpected character");
	expect_scan_error("{\"a\":1,}", "t:1: syntax error: expected a string "
	    "key");
	expect_scan_error("{\"a\" 1}", "t:1: syntax error: expected ':'");
	expect_scan_error("[01]", "t:1: syntax error: expected ',' or ']'");
	expect_scan_error("[1.]", "t:1: syntax error: bad number");
	expect_scan_error("[-]", "t:1: syntax error: bad number");
	expect_scan_error("[1e]", "t:1: syntax error: bad number");
	expect_scan_error("[tru]", "t:1: syntax error: unexpected character");
	expect_scan_error("[\"\\ud800\"]",
	    "t:1: syntax error: lone high surrogate");
	expect_scan_error("[\"\\udc00\"]",
	    "t:1: syntax error: lone low surrogate");
	expect_scan_error("[\"\\x\"]", "t:1: syntax error: bad escape in "
	    "string");
	expect_scan_error("[\"\\u12g4\"]", "t:1: syntax error: bad \\u escape");
	expect_scan_error("[\"a\nb\"]", "t:1: syntax error: control "
	    "character in string");
	expect_scan_error("[\"abc", "t:1: syntax error: unterminated string");
	expect_scan_error("{\"a\":[1,2}", "t:1: syntax error: expected ',' "
	    "or ']'");
	expect_scan_error("{\n", "t:2: syntax error: unexpected end of input");
	expect_scan_error("[] []", "t:1: syntax error: trailing characters "
	    "after the value");
	expect_scan_error("", "t:1: syntax error: expected a value");
}

/* ------------------------------------------------------------- files */

#define TMPDIR_MAX	1024		/* leaves room for names below it */

static char tmpdir[TMPDIR_MAX];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
write_file(const char *rel, const char *text)
{
	char	 path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
make_dir(const char *rel)
{
	char	 path[TMPDIR_MAX + 256];

	assert_true(strlen(rel) < 200);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(mkdir(path, 0700), 0);
}

static int
files_setup(void **state)
{
	const char	*base = getenv("CERTGW_TEST_TMP");
	char		 tmpl[PATH_MAX], real[PATH_MAX];

	if (base == NULL)
		base = getenv("TMPDIR");
	if (base == NULL)
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(tmpl, sizeof(tmpl), "%s/test_config.XXXXXX", base);
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, real) == NULL ||
	    strlen(real) >= sizeof(tmpdir))
		return -1;
	memcpy(tmpdir, real, strlen(real) + 1);
	return 0;
}

static int
files_teardown(void **state)
{
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char files_config[] =
/* 1 */ "{\n"
/* 2 */ "  \"listeners\": { \"https\": { \"cert\": \"tls/server.pem\",\n"
/* 3 */ "                              \"key\": \"tls/server.key\" } },\n"
/* 4 */ "  \"store\": { \"path\": \"data/certgw.db\" },\n"
/* 5 */ "  \"ca\": {\n"
/* 6 */ "    \"cert\": \"ca/root.pem\",\n"
/* 7 */ "    \"key\": \"ca/root.key\"\n"
/* 8 */ "  },\n"
/* 9 */ "  \"profiles\": { \"p\": { \"validity_days\": 1 } }\n"
/* 10 */ "}\n";

static void
expect_load_error(const char *path, const char *msg)
{
	struct gw_config	*conf = (struct gw_config *)1;
	struct cg_err		 err = { 0 };

	assert_int_not_equal(gw_config_load(path, &conf, &err), CG_OK);
	assert_null(conf);
	assert_string_equal(err.msg, msg);
}

static void
test_files(void **state)
{
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };
	char			 cfg[TMPDIR_MAX + 64], want[TMPDIR_MAX + 64];

	make_dir("tls");
	make_dir("ca");
	make_dir("data");
	write_file("tls/server.pem", "cert\n");
	write_file("tls/server.key", "key\n");
	write_file("ca/root.pem", "cert\n");
	write_file("ca/root.key", "key\n");
	write_file("certgw.json", files_config);
	snprintf(cfg, sizeof(cfg), "%s/certgw.json", tmpdir);

	assert_int_equal(gw_config_load(cfg, &conf, &err), CG_OK);
	assert_string_equal(conf->path, cfg);
	assert_string_equal(conf->dir, tmpdir);
	snprintf(want, sizeof(want), "%s/tls/server.pem", tmpdir);
	assert_string_equal(conf->https.cert_file, want);
	snprintf(want, sizeof(want), "%s/data/certgw.db", tmpdir);
	assert_string_equal(conf->store_path, want);
	snprintf(want, sizeof(want), "%s/ca/root.pem", tmpdir);
	assert_string_equal(conf->https.client_ca_file, want);
	gw_config_free(conf);

	/* A referenced file that is gone is named by its key and line. */
	snprintf(want, sizeof(want), "%s/ca/root.key", tmpdir);
	assert_int_equal(unlink(want), 0);
	memset(&err, 0, sizeof(err));
	conf = (struct gw_config *)1;
	assert_int_equal(gw_config_load(cfg, &conf, &err), CG_EINVAL);
	assert_null(conf);
	assert_string_equal(err.msg, "certgw.json:7: ca.key: cannot read "
	    "file: No such file or directory");
	assert_non_null(strstr(err.detail, want));
	/* Without file checks the same text parses. */
	memset(&err, 0, sizeof(err));
	assert_int_equal(gw_config_parse(cfg, tmpdir,
	    (const uint8_t *)files_config, strlen(files_config), false, &conf,
	    &err), CG_OK);
	gw_config_free(conf);
	write_file("ca/root.key", "key\n");

	snprintf(want, sizeof(want), "%s/data", tmpdir);
	assert_int_equal(rmdir(want), 0);
	expect_load_error(cfg, "certgw.json:4: store.path: cannot use parent "
	    "directory: No such file or directory");
	make_dir("data");

	/* A directory is not a readable file. */
	snprintf(want, sizeof(want), "%s/tls/server.pem", tmpdir);
	assert_int_equal(unlink(want), 0);
	make_dir("tls/server.pem");
	expect_load_error(cfg, "certgw.json:2: listeners.https.cert: cannot "
	    "read file: Is a directory");

	snprintf(cfg, sizeof(cfg), "%s/missing.json", tmpdir);
	expect_load_error(cfg, "missing.json: cannot read file: No such file "
	    "or directory");
}

static void
test_load_relative_name(void **state)
{
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };
	char			 cwd[PATH_MAX], want[TMPDIR_MAX + 64];

	make_dir("rel");
	make_dir("rel/ca");
	write_file("rel/c.json", "{\"listeners\": {\"https\": {\"cert\": "
	    "\"ca/x\", \"key\": \"ca/x\"}}, \"store\": {\"path\": \"db\"},\n"
	    "\"ca\": {\"cert\": \"ca/x\", \"key\": \"ca/x\"},\n"
	    "\"profiles\": {\"p\": {\"validity_days\": 1}}}");
	write_file("rel/ca/x", "x");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	/* A relative config path still yields absolute file names. */
	assert_int_equal(gw_config_load("rel/c.json", &conf, &err), CG_OK);
	assert_int_equal(chdir(cwd), 0);
	snprintf(want, sizeof(want), "%s/rel/ca/x", tmpdir);
	assert_string_equal(conf->ca.cert_file, want);
	assert_string_equal(conf->path, "rel/c.json");
	gw_config_free(conf);
}

/* ---------------------------------------------------- alloc failures */

static void
test_alloc_failures(void **state)
{
	struct gw_config	*conf;
	struct cg_err		 err;
	enum cg_code		 rc = CG_ENOMEM;
	long			 n;

	for (n = 0; n < 100000 && rc != CG_OK; n++) {
		memset(&err, 0, sizeof(err));
		conf = NULL;
		cg_alloc_fail_after(n);
		rc = parse(full_config, &conf, &err);
		cg_alloc_fail_after(-1);
		if (rc != CG_OK) {
			assert_int_equal(rc, CG_ENOMEM);
			assert_null(conf);
			assert_string_equal(err.msg, "out of memory");
		}
	}
	assert_int_equal(rc, CG_OK);
	assert_true(n > 50);
	check_full_profiles(conf);
	check_full_est(conf);
	gw_config_free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_small_defaults),
		cmocka_unit_test(test_profile_lookup),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_array_errors),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_missing_keys),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_est_ok),
		cmocka_unit_test(test_est_reference_errors),
		cmocka_unit_test(test_est_value_errors),
		cmocka_unit_test(test_est_user_errors),
		cmocka_unit_test(test_est_unknown_keys),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_pos_scanner),
		cmocka_unit_test(test_pos_scanner_strict),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_load_relative_name),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, files_setup, files_teardown);
}
