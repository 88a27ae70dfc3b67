/*
 * test_config_acme.c - the "acme" section of the config file: a full
 * section lands field by field, a minimal one gets every default, each
 * refusal yields the exact "file:line: path: message" text (tables for the
 * server-wide keys, directory names and directory bodies), base URLs and
 * resolvers that must pass, and with file checks on, where the nonce key
 * file may live.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certgw/config.h"
#include "ca_test.h"

#define NAME		"certgw.json"
#define CONF_DIR	"/etc/certgw"
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Lines 1-7 of every file below: a valid config with three profiles. */
#define BASE								\
/*  1 */ "{\n"								\
/*  2 */ "  \"listeners\": { \"https\": { \"cert\": \"s.pem\", "	\
	 "\"key\": \"s.key\" } },\n"					\
/*  3 */ "  \"store\": { \"path\": \"data/certgw.db\" },\n"		\
/*  4 */ "  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" },\n"	\
/*  5 */ "  \"profiles\": { \"server\": { \"validity_days\": 90 },\n"	\
/*  6 */ "    \"shortlived\": { \"validity_days\": 7, "		\
	 "\"san\": { \"types\": [\"ip\"] } },\n"			\
/*  7 */ "    \"mail\": { \"validity_days\": 1, "			\
	 "\"san\": { \"types\": [\"email\"] } } },\n"

static const char full_config[] =
BASE
/*  8 */ "  \"acme\": {\n"
/*  9 */ "    \"base_url\": \"https://acme.example.com:8443\",\n"
/* 10 */ "    \"nonce_key_file\": \"keys/nonce.key\",\n"
/* 11 */ "    \"nonce_lifetime_s\": 600, \"order_lifetime_s\": 2592000, "
	 "\"retry_after_s\": 0,\n"
/* 12 */ "    \"validation\": { \"http_port\": 8080, "
	 "\"tls_alpn_port\": 65535,\n"
/* 13 */ "      \"resolver\": \"[2001:db8::53]:5353\", "
	 "\"timeout_ms\": 100, \"in_flight\": 4096 },\n"
/* 14 */ "    \"directories\": {\n"
/* 15 */ "      \"default\": {\n"
/* 16 */ "        \"profile\": \"server\",\n"
/* 17 */ "        \"profiles\": { \"short\": { \"profile\": \"shortlived\", "
	 "\"description\": \"7-day certs\" },\n"
/* 18 */ "          \"Std.v1_x-2\": { \"profile\": \"server\" } },\n"
/* 19 */ "        \"challenges\": [\"dns-01\", \"http-01\"],\n"
/* 20 */ "        \"eab_required\": true,\n"
/* 21 */ "        \"terms_of_service\": \"https://acme.example.com/tos.pdf\","
	 "\n"
/* 22 */ "        \"website\": \"http://www.example.com\",\n"
/* 23 */ "        \"caa_identities\": [\"certgw.example\", "
	 "\"ca.corp.example\"], \"caa_check\": true,\n"
/* 24 */ "        \"manual_approval\": true,\n"
/* 25 */ "        \"authz_reuse_s\": 0,\n"
/* 26 */ "        \"rate_limits\": { \"orders_per_account\": 10, "
	 "\"orders_per_ip\": 20,\n"
/* 27 */ "          \"accounts_per_ip\": 3, \"failed_validations\": 1000000 }"
	 "\n"
/* 28 */ "      },\n"
/* 29 */ "      \"internal_2-x\": { \"profile\": \"shortlived\", "
	 "\"challenges\": [\"tls-alpn-01\"] }\n"
/* 30 */ "    }\n"
/* 31 */ "  }\n"
/* 32 */ "}\n";

#define MINIMAL_ACME \
	"  \"acme\": { \"directories\": { \"default\": " \
	"{ \"profile\": \"server\" } } }\n}\n"

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
	if (strcmp(err.msg, msg) != 0)
		print_error("config:\n%s\n", text);
	assert_string_equal(err.msg, msg);
}

/* ------------------------------------------------------ valid files */

static void
check_full_server(const struct gw_acme_conf *a)
{
	assert_true(a->enabled);
	assert_string_equal(a->base_url, "https://acme.example.com:8443");
	assert_string_equal(a->nonce_key_file, CONF_DIR "/keys/nonce.key");
	assert_int_equal(a->nonce_lifetime_s, 600);
	assert_int_equal(a->order_lifetime_s, 2592000);
	assert_int_equal(a->retry_after_s, 0);
	assert_int_equal(a->http_port, 8080);
	assert_int_equal(a->tls_alpn_port, 65535);
	assert_string_equal(a->resolver, "[2001:db8::53]:5353");
	assert_int_equal(a->validation_timeout_ms, 100);
	assert_int_equal(a->validation_in_flight, 4096);
	assert_int_equal(a->ndirs, 2);
}

static void
check_full_dirs(const struct gw_acme_conf *a)
{
	const struct gw_acme_dir	*d = &a->dirs[0];

	assert_string_equal(d->name, "default");
	assert_string_equal(d->profile, "server");
	assert_int_equal(d->nprofiles, 2);
	assert_string_equal(d->profiles[0].name, "short");
	assert_string_equal(d->profiles[0].profile, "shortlived");
	assert_string_equal(d->profiles[0].description, "7-day certs");
	assert_string_equal(d->profiles[1].name, "Std.v1_x-2");
	assert_string_equal(d->profiles[1].profile, "server");
	/* Left out, the description is empty, not absent. */
	assert_string_equal(d->profiles[1].description, "");
	assert_int_equal(d->challenges,
	    GW_ACME_CHALL_DNS01 | GW_ACME_CHALL_HTTP01);
	assert_true(d->eab_required);
	assert_string_equal(d->terms_of_service,
	    "https://acme.example.com/tos.pdf");
	assert_string_equal(d->website, "http://www.example.com");
	assert_int_equal(d->caa_identities.n, 2);
	assert_string_equal(d->caa_identities.v[0], "certgw.example");
	assert_string_equal(d->caa_identities.v[1], "ca.corp.example");
	assert_true(d->caa_check);
	assert_true(d->manual_approval);
	assert_int_equal(d->authz_reuse_s, 0);
	assert_int_equal(d->limits.orders_per_account, 10);
	assert_int_equal(d->limits.orders_per_ip, 20);
	assert_int_equal(d->limits.accounts_per_ip, 3);
	assert_int_equal(d->limits.failed_validations, 1000000);

	d = &a->dirs[1];
	assert_string_equal(d->name, "internal_2-x");
	assert_string_equal(d->profile, "shortlived");
	assert_int_equal(d->nprofiles, 0);
	assert_int_equal(d->challenges, GW_ACME_CHALL_TLSALPN01);
}

static void
test_full(void **state)
{
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(parse(full_config, &c, &err), CG_OK);
	check_full_server(&c->acme);
	check_full_dirs(&c->acme);
	gw_config_free(c);
}

static void
test_defaults(void **state)
{
	static const char absent[] = BASE "  \"threads\": 1\n}\n";
	const struct gw_acme_dir	*d;
	struct gw_config		*c = NULL;
	struct cg_err			 err = { 0 };

	assert_int_equal(parse(BASE MINIMAL_ACME, &c, &err), CG_OK);
	assert_true(c->acme.enabled);
	assert_null(c->acme.base_url);
	/* Beside the store, which is in data/. */
	assert_string_equal(c->acme.nonce_key_file,
	    CONF_DIR "/data/acme-nonce.key");
	assert_int_equal(c->acme.nonce_lifetime_s, 3600);
	assert_int_equal(c->acme.order_lifetime_s, 604800);
	assert_int_equal(c->acme.retry_after_s, 1);
	assert_int_equal(c->acme.http_port, 80);
	assert_int_equal(c->acme.tls_alpn_port, 443);
	assert_null(c->acme.resolver);
	assert_int_equal(c->acme.validation_timeout_ms, 10000);
	assert_int_equal(c->acme.validation_in_flight, 256);
	assert_int_equal(c->acme.ndirs, 1);
	d = &c->acme.dirs[0];
	assert_string_equal(d->name, "default");
	assert_string_equal(d->profile, "server");
	assert_int_equal(d->nprofiles, 0);
	assert_int_equal(d->challenges, GW_ACME_CHALL_ALL);
	assert_false(d->eab_required);
	assert_null(d->terms_of_service);
	assert_null(d->website);
	assert_int_equal(d->caa_identities.n, 0);
	assert_false(d->caa_check);
	assert_false(d->manual_approval);
	assert_int_equal(d->authz_reuse_s, 2592000);
	assert_int_equal(d->limits.orders_per_account, 0);
	assert_int_equal(d->limits.orders_per_ip, 0);
	assert_int_equal(d->limits.accounts_per_ip, 0);
	assert_int_equal(d->limits.failed_validations, 0);
	gw_config_free(c);

	/* No section: ACME off, nothing allocated. */
	assert_int_equal(parse(absent, &c, &err), CG_OK);
	assert_false(c->acme.enabled);
	assert_int_equal(c->acme.ndirs, 0);
	assert_null(c->acme.dirs);
	assert_null(c->acme.nonce_key_file);
	gw_config_free(c);
}

/* Profiles are checked once the whole file is read: order is free. */
static void
test_before_profiles(void **state)
{
	static const char text[] =
	    "{\n"
	    "  \"acme\": { \"directories\": { \"default\": {\n"
	    "    \"profile\": \"late\",\n"
	    "    \"profiles\": { \"x\": { \"profile\": \"late\" } } } } },\n"
	    "  \"listeners\": { \"https\": { \"cert\": \"s.pem\", "
	    "\"key\": \"s.key\" } },\n"
	    "  \"store\": { \"path\": \"/var/lib/certgw/certgw.db\" },\n"
	    "  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" },\n"
	    "  \"profiles\": { \"late\": { \"validity_days\": 1 } }\n"
	    "}\n";
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(parse(text, &c, &err), CG_OK);
	assert_string_equal(c->acme.dirs[0].profile, "late");
	assert_string_equal(c->acme.dirs[0].profiles[0].profile, "late");
	assert_string_equal(c->acme.nonce_key_file,
	    "/var/lib/certgw/acme-nonce.key");
	gw_config_free(c);
}

/* Base URLs and resolvers that pass, and what is kept of them. */
static void
test_good_values(void **state)
{
	static const char *const urls[] = {
		"https://acme.example.com",
		"https://ACME.Example:1",
		"https://10.0.0.1:443",
		"https://[::1]",
		"https://[2001:db8::1]:8443",
		"https://localhost",
	};
	static const char *const resolvers[] = {
		"127.0.0.1",
		"127.0.0.1:5353",
		"[::1]",
		"[2001:db8::53]:53",
		"10.0.0.53:65535",
	};
	struct gw_config	*c;
	struct cg_err		 err = { 0 };
	char			 text[2048];
	size_t			 i;

	for (i = 0; i < NELEM(urls); i++) {
		snprintf(text, sizeof(text), BASE "  \"acme\": { \"base_url\": "
		    "\"%s\",\n  \"directories\": { \"d\": { \"profile\": "
		    "\"server\" } } }\n}\n", urls[i]);
		c = NULL;
		assert_int_equal(parse(text, &c, &err), CG_OK);
		assert_string_equal(c->acme.base_url, urls[i]);
		gw_config_free(c);
	}
	for (i = 0; i < NELEM(resolvers); i++) {
		snprintf(text, sizeof(text), BASE "  \"acme\": { "
		    "\"validation\": { \"resolver\": \"%s\" },\n  "
		    "\"directories\": { \"d\": { \"profile\": \"server\" } "
		    "} }\n}\n", resolvers[i]);
		c = NULL;
		assert_int_equal(parse(text, &c, &err), CG_OK);
		assert_string_equal(c->acme.resolver, resolvers[i]);
		gw_config_free(c);
	}
}

/* ------------------------------------------------------- refusals */

struct refusal {
	const char	*body;		/* JSON lines placed in the section */
	const char	*msg;		/* err.msg after "certgw.json:" */
};

#define URL_HOST "expected https://host[:port] with a DNS name, an IPv4 " \
	"address or an [IPv6] address and a port between 1 and 65535"
#define URL_PATH "expected no path, query, fragment or trailing '/' after " \
	"the host: resources live below /acme/"
#define RESOLVER "expected an IPv4 address or an [IPv6] address, with an " \
	"optional :port between 1 and 65535"

/* "acme": { at line 8; the body starts on line 9. */
static const struct refusal acme_refusals[] = {
	{ "\"nonce_lifetime_s\": 3600",
	  "8: acme.directories: missing required key" },
	{ "\"directories\": {}",
	  "9: acme.directories: expected at least one directory" },
	{ "\"directories\": []",
	  "9: acme.directories: expected an object" },
	{ "\"nonce_key\": \"k\"",
	  "9: acme.nonce_key: unknown key" },
	/* base_url */
	{ "\"base_url\": \"http://acme.example\"",
	  "9: acme.base_url: ACME is served over TLS only (RFC 8555 6.1): "
	  "use https://" },
	{ "\"base_url\": \"ftp://acme.example\"",
	  "9: acme.base_url: expected https://host[:port]" },
	{ "\"base_url\": \"HTTPS://acme.example\"",
	  "9: acme.base_url: expected https://host[:port]" },
	{ "\"base_url\": \"https://h/\"", "9: acme.base_url: " URL_PATH },
	{ "\"base_url\": \"https://h/acme\"", "9: acme.base_url: " URL_PATH },
	{ "\"base_url\": \"https://h?x=1\"", "9: acme.base_url: " URL_PATH },
	{ "\"base_url\": \"https://h#f\"", "9: acme.base_url: " URL_PATH },
	{ "\"base_url\": \"https://\"", "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://u:p@h\"", "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://h:0\"", "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://h:65536\"", "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://h:\"", "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://h:0443\"", "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://h:+443\"", "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://-h.example\"",
	  "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://h_1.example\"",
	  "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://*.example\"",
	  "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://300.1.1.1\"",
	  "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://::1\"", "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://[::1\"", "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://[1.2.3.4]\"",
	  "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"https://[::1]8443\"",
	  "9: acme.base_url: " URL_HOST },
	{ "\"base_url\": \"\"",
	  "9: acme.base_url: expected a non-empty string" },
	/* files and numbers */
	{ "\"nonce_key_file\": \"\"",
	  "9: acme.nonce_key_file: expected a non-empty string" },
	{ "\"nonce_lifetime_s\": 59",
	  "9: acme.nonce_lifetime_s: expected an integer between 60 and "
	  "86400" },
	{ "\"nonce_lifetime_s\": 86401",
	  "9: acme.nonce_lifetime_s: expected an integer between 60 and "
	  "86400" },
	{ "\"order_lifetime_s\": 59",
	  "9: acme.order_lifetime_s: expected an integer between 60 and "
	  "2592000" },
	{ "\"order_lifetime_s\": 2592001",
	  "9: acme.order_lifetime_s: expected an integer between 60 and "
	  "2592000" },
	{ "\"retry_after_s\": 3601",
	  "9: acme.retry_after_s: expected an integer between 0 and 3600" },
	{ "\"retry_after_s\": \"1\"",
	  "9: acme.retry_after_s: expected a non-negative integer" },
	/* validation */
	{ "\"validation\": {\n\"http_port\": 0 }",
	  "10: acme.validation.http_port: expected an integer between 1 and "
	  "65535" },
	{ "\"validation\": {\n\"http_port\": 65536 }",
	  "10: acme.validation.http_port: expected an integer between 1 and "
	  "65535" },
	{ "\"validation\": {\n\"http_port\": \"80\" }",
	  "10: acme.validation.http_port: expected a positive integer" },
	{ "\"validation\": {\n\"tls_alpn_port\": -443 }",
	  "10: acme.validation.tls_alpn_port: expected an integer between 1 "
	  "and 65535" },
	{ "\"validation\": {\n\"timeout_ms\": 99 }",
	  "10: acme.validation.timeout_ms: expected an integer between 100 "
	  "and 120000" },
	{ "\"validation\": {\n\"timeout_ms\": 120001 }",
	  "10: acme.validation.timeout_ms: expected an integer between 100 "
	  "and 120000" },
	{ "\"validation\": {\n\"in_flight\": 0 }",
	  "10: acme.validation.in_flight: expected an integer between 1 and "
	  "4096" },
	{ "\"validation\": {\n\"in_flight\": 4097 }",
	  "10: acme.validation.in_flight: expected an integer between 1 and "
	  "4096" },
	{ "\"validation\": {\n\"port\": 80 }",
	  "10: acme.validation.port: unknown key" },
	{ "\"validation\": [ 80 ]",
	  "9: acme.validation: expected an object" },
	{ "\"validation\": {\n\"resolver\": \"dns.example\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"::1\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"127.0.0.1:\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"127.0.0.1:0\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"127.0.0.1:65536\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"127.0.0.1:53:53\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"127.1\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"1.2.3.4.5\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \" 1.2.3.4\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"[::1]53\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"[::1]:\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"[::1\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"[]:53\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"[fe80::1%eth0]:53\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": \"[10.0.0.1]:53\" }",
	  "10: acme.validation.resolver: " RESOLVER },
	{ "\"validation\": {\n\"resolver\": 53 }",
	  "10: acme.validation.resolver: expected a string" },
};

#define NAME_MSG "expected a directory name of 1 to 64 characters from " \
	"a-z, 0-9, '_' and '-'"

/* "directories": { at line 8; the first name is on line 9. */
static const struct refusal name_refusals[] = {
	{ "\"Default\": { \"profile\": \"server\" }",
	  "9: acme.directories.Default: " NAME_MSG },
	{ "\"a/b\": { \"profile\": \"server\" }",
	  "9: acme.directories.a/b: " NAME_MSG },
	{ "\"a.b\": { \"profile\": \"server\" }",
	  "9: acme.directories.a.b: " NAME_MSG },
	{ "\"\": { \"profile\": \"server\" }",
	  "9: acme.directories.\"\": " NAME_MSG },
	{ "\"x1234567890123456789012345678901234567890123456789012345678901234"
	  "\": { \"profile\": \"server\" }",
	  "9: acme.directories.x12345678901234567890123456789012345678901234"
	  "5678901234567890123...: " NAME_MSG },
	{ "\"ok\": { \"profile\": \"server\" },\n"
	  "\"new-order\": { \"profile\": \"server\" }",
	  "10: acme.directories.new-order: 'new-order' is the name of an "
	  "ACME resource and cannot be a directory name" },
	{ "\"directory\": { \"profile\": \"server\" }",
	  "9: acme.directories.directory: 'directory' is the name of an "
	  "ACME resource and cannot be a directory name" },
	{ "\"renewal-info\": { \"profile\": \"server\" }",
	  "9: acme.directories.renewal-info: 'renewal-info' is the name of "
	  "an ACME resource and cannot be a directory name" },
	{ "\"cert\": { \"profile\": \"server\" }",
	  "9: acme.directories.cert: 'cert' is the name of an ACME resource "
	  "and cannot be a directory name" },
	{ "\"acct\": { \"profile\": \"server\" }",
	  "9: acme.directories.acct: 'acct' is the name of an ACME resource "
	  "and cannot be a directory name" },
	{ "\"d\": [ \"server\" ]",
	  "9: acme.directories.d: expected an object" },
};

#define D "acme.directories.default."
#define NOT_IN_PROFILES "unknown profile 'nope' (not in profiles)"
#define NO_SANS "profile 'mail' allows neither dns nor ip SANs "	\
	"(san.types), which is what ACME identifiers become"

/* The directory's "{" is on line 8; its body starts on line 9. */
static const struct refusal dir_refusals[] = {
	/* profile */
	{ "\"challenges\": [\"http-01\"]",
	  "8: " D "profile: missing required key" },
	{ "\"profile\": \"nope\"", "9: " D "profile: " NOT_IN_PROFILES },
	{ "\"profile\": \"mail\"", "9: " D "profile: " NO_SANS },
	{ "\"profile\": \"\"", "9: " D "profile: expected a non-empty string" },
	{ "\"profile\": 1", "9: " D "profile: expected a string" },
	/* profiles */
	{ "\"profile\": \"server\",\n"
	  "\"profiles\": { \"a b\": { \"profile\": \"server\" } }",
	  "10: " D "profiles.a b: expected a profile name of 1 to 64 "
	  "characters from A-Z, a-z, 0-9, '_', '.' and '-'" },
	{ "\"profile\": \"server\",\n"
	  "\"profiles\": { \"x\": { \"description\": \"d\" } }",
	  "10: " D "profiles.x.profile: missing required key" },
	{ "\"profile\": \"server\",\n"
	  "\"profiles\": { \"x\": { \"profile\": \"nope\" } }",
	  "10: " D "profiles.x.profile: " NOT_IN_PROFILES },
	{ "\"profile\": \"server\",\n"
	  "\"profiles\": { \"ok\": { \"profile\": \"server\" },\n"
	  "\"x\": { \"profile\": \"mail\" } }",
	  "11: " D "profiles.x.profile: " NO_SANS },
	{ "\"profile\": \"server\",\n"
	  "\"profiles\": { \"x\": { \"profile\": \"server\",\n"
	  "\"description\": 7 } }",
	  "11: " D "profiles.x.description: expected a string" },
	{ "\"profile\": \"server\",\n"
	  "\"profiles\": { \"x\": { \"profile\": \"server\",\n"
	  "\"description\": \"a\\nb\" } }",
	  "11: " D "profiles.x.description: expected no control "
	  "characters" },
	{ "\"profile\": \"server\",\n"
	  "\"profiles\": { \"x\": { \"profile\": \"server\",\n"
	  "\"desc\": \"\" } }",
	  "11: " D "profiles.x.desc: unknown key" },
	{ "\"profile\": \"server\",\n\"profiles\": [ \"server\" ]",
	  "10: " D "profiles: expected an object" },
	/* challenges */
	{ "\"profile\": \"server\",\n\"challenges\": []",
	  "10: " D "challenges: expected at least 1 entry: a directory "
	  "without challenges can validate nothing" },
	{ "\"profile\": \"server\",\n\"challenges\": \"http-01\"",
	  "10: " D "challenges: expected an array of strings" },
	{ "\"profile\": \"server\",\n\"challenges\": [\"http-01\",\n"
	  "\"dns-01\",\n\"http-01\"]",
	  "12: " D "challenges[2]: duplicate challenge type 'http-01'" },
	{ "\"profile\": \"server\",\n\"challenges\": [\"http-01\",\n"
	  "\"HTTP-01\"]",
	  "11: " D "challenges[1]: unknown challenge type 'HTTP-01': "
	  "expected http-01, dns-01 or tls-alpn-01" },
	{ "\"profile\": \"server\",\n\"challenges\": [\"dns-01\", 1]",
	  "10: " D "challenges[1]: expected a string" },
	/* meta */
	{ "\"profile\": \"server\",\n\"eab_required\": \"yes\"",
	  "10: " D "eab_required: expected true or false" },
	{ "\"profile\": \"server\",\n\"terms_of_service\": \"ftp://h/tos\"",
	  "10: " D "terms_of_service: expected an http or https URL with a "
	  "host, printable ASCII only and no user info" },
	{ "\"profile\": \"server\",\n\"website\": \"https://u:p@h/\"",
	  "10: " D "website: expected an http or https URL with a host, "
	  "printable ASCII only and no user info" },
	{ "\"profile\": \"server\",\n\"website\": \"\"",
	  "10: " D "website: expected a non-empty string" },
	/* CAA */
	{ "\"profile\": \"server\",\n\"caa_identities\": [\"ok.example\",\n"
	  "\"*.example\"]",
	  "11: " D "caa_identities[1]: expected a DNS name, not '*.example'" },
	{ "\"profile\": \"server\",\n\"caa_identities\": [\".example\"]",
	  "10: " D "caa_identities[0]: expected a DNS name, not '.example'" },
	{ "\"profile\": \"server\",\n\"caa_identities\": [\"a..example\"]",
	  "10: " D "caa_identities[0]: expected a DNS name, not "
	  "'a..example'" },
	{ "\"profile\": \"server\",\n\"caa_identities\": [\"-a.example\"]",
	  "10: " D "caa_identities[0]: expected a DNS name, not "
	  "'-a.example'" },
	{ "\"profile\": \"server\",\n\"caa_identities\": [\"\"]",
	  "10: " D "caa_identities[0]: expected a DNS name, not ''" },
	{ "\"profile\": \"server\",\n\"caa_check\": true",
	  "10: " D "caa_check: caa_check needs caa_identities: the issuer "
	  "domains CAA records name for this CA" },
	{ "\"profile\": \"server\", \"caa_identities\": [],\n"
	  "\"caa_check\": true",
	  "10: " D "caa_check: caa_check needs caa_identities: the issuer "
	  "domains CAA records name for this CA" },
	/* numbers */
	{ "\"profile\": \"server\",\n\"authz_reuse_s\": 31536001",
	  "10: " D "authz_reuse_s: expected an integer between 0 and "
	  "31536000" },
	{ "\"profile\": \"server\",\n\"manual_approval\": 1",
	  "10: " D "manual_approval: expected true or false" },
	{ "\"profile\": \"server\",\n\"ari\": { \"window_start_percent\": 50 }",
	  "10: " D "ari: the ARI window follows the certificate's profile: "
	  "set profiles.<name>.renew_before_days instead" },
	{ "\"profile\": \"server\",\n"
	  "\"rate_limits\": { \"orders_per_ip\": -1 }",
	  "10: " D "rate_limits.orders_per_ip: expected an integer between 0 "
	  "and 1000000" },
	{ "\"profile\": \"server\",\n"
	  "\"rate_limits\": { \"accounts_per_ip\": 1000001 }",
	  "10: " D "rate_limits.accounts_per_ip: expected an integer between "
	  "0 and 1000000" },
	{ "\"profile\": \"server\",\n"
	  "\"rate_limits\": { \"per_hour\": 1 }",
	  "10: " D "rate_limits.per_hour: unknown key" },
	{ "\"profile\": \"server\",\n\"eab\": true",
	  "10: " D "eab: unknown key" },
};

static void
run_refusals(const char *head, const char *tail,
    const struct refusal *r, size_t n)
{
	char	 text[4096], msg[512];
	size_t	 i;

	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "%s%s%s", head, r[i].body, tail);
		snprintf(msg, sizeof(msg), NAME ":%s", r[i].msg);
		expect_error(text, msg);
	}
}

static void
test_acme_refusals(void **state)
{
	run_refusals(BASE "  \"acme\": {\n", "\n  }\n}\n", acme_refusals,
	    NELEM(acme_refusals));
}

static void
test_name_refusals(void **state)
{
	run_refusals(BASE "  \"acme\": { \"directories\": {\n", "\n  } }\n}\n",
	    name_refusals, NELEM(name_refusals));
}

static void
test_dir_refusals(void **state)
{
	run_refusals(BASE "  \"acme\": { \"directories\": { \"default\": {\n",
	    "\n  } } }\n}\n", dir_refusals, NELEM(dir_refusals));
}

/* Refusals whose text is built: long values and many entries. */
static void
test_built_refusals(void **state)
{
	struct cg_buf	 b;
	size_t		 i;

	/* A description of 256 bytes passes; 257 do not. */
	cg_buf_init(&b, 65536);
	assert_int_equal(cg_buf_addstr(&b, BASE "  \"acme\": { "
	    "\"directories\": { \"default\": { \"profile\": \"server\",\n"
	    "  \"profiles\": { "
	    "\"x\": { \"profile\": \"server\", \"description\": \"", NULL),
	    CG_OK);
	for (i = 0; i < 257; i++)
		assert_int_equal(cg_buf_addstr(&b, "d", NULL), CG_OK);
	assert_int_equal(cg_buf_addstr(&b, "\" } } } } }\n}\n", NULL), CG_OK);
	expect_error((const char *)b.data, NAME ":9: " D "profiles.x."
	    "description: expected a string of at most 256 bytes");
	cg_buf_cleanup(&b);

	/* 16 CAA identities pass; 17 do not. */
	cg_buf_init(&b, 65536);
	assert_int_equal(cg_buf_addstr(&b, BASE "  \"acme\": { "
	    "\"directories\": { \"default\": { \"profile\": \"server\",\n"
	    "  \"caa_identities\": [ \"a.example\"", NULL), CG_OK);
	for (i = 1; i < 17; i++)
		assert_int_equal(cg_buf_printf(&b, NULL,
		    ", \"i%zu.example\"", i), CG_OK);
	assert_int_equal(cg_buf_addstr(&b, " ] } } }\n}\n", NULL), CG_OK);
	expect_error((const char *)b.data, NAME ":9: " D "caa_identities: "
	    "expected at most 16 entries");
	cg_buf_cleanup(&b);

	/* 64 directories pass; 65 do not. */
	cg_buf_init(&b, 65536);
	assert_int_equal(cg_buf_addstr(&b, BASE "  \"acme\": { "
	    "\"directories\": {\n", NULL), CG_OK);
	for (i = 0; i < 65; i++)
		assert_int_equal(cg_buf_printf(&b, NULL, "%s\"d%zu\": { "
		    "\"profile\": \"server\" }", i > 0 ? ", " : "", i), CG_OK);
	assert_int_equal(cg_buf_addstr(&b, " } }\n}\n", NULL), CG_OK);
	expect_error((const char *)b.data, NAME ":8: acme.directories: "
	    "expected at most 64 directories");
	cg_buf_cleanup(&b);
}

/* The edges of each limit pass. */
static void
test_limits_ok(void **state)
{
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };
	struct cg_buf		 b;
	size_t			 i;

	cg_buf_init(&b, 65536);
	assert_int_equal(cg_buf_addstr(&b, BASE "  \"acme\": {\n"
	    "  \"nonce_lifetime_s\": 86400, \"order_lifetime_s\": 60,\n"
	    "  \"retry_after_s\": 3600,\n"
	    "  \"validation\": { \"http_port\": 1, \"timeout_ms\": 120000,\n"
	    "    \"in_flight\": 1 },\n"
	    "  \"directories\": { \"d\": { \"profile\": \"server\",\n"
	    "  \"authz_reuse_s\": 31536000,\n"
	    "  \"caa_identities\": [ \"a.example\"", NULL), CG_OK);
	for (i = 1; i < 16; i++)
		assert_int_equal(cg_buf_printf(&b, NULL,
		    ", \"i%zu.example\"", i), CG_OK);
	assert_int_equal(cg_buf_addstr(&b, " ],\n  \"profiles\": { \"x\": { "
	    "\"profile\": \"server\", \"description\": \"", NULL), CG_OK);
	for (i = 0; i < 256; i++)
		assert_int_equal(cg_buf_addstr(&b, "d", NULL), CG_OK);
	assert_int_equal(cg_buf_addstr(&b, "\" } } } } }\n}\n", NULL), CG_OK);
	assert_int_equal(parse((const char *)b.data, &c, &err), CG_OK);
	assert_int_equal(c->acme.nonce_lifetime_s, 86400);
	assert_int_equal(c->acme.order_lifetime_s, 60);
	assert_int_equal(c->acme.retry_after_s, 3600);
	assert_int_equal(c->acme.http_port, 1);
	assert_int_equal(c->acme.validation_timeout_ms, 120000);
	assert_int_equal(c->acme.validation_in_flight, 1);
	assert_int_equal(c->acme.dirs[0].authz_reuse_s, 31536000);
	assert_int_equal(c->acme.dirs[0].caa_identities.n, 16);
	assert_int_equal(strlen(c->acme.dirs[0].profiles[0].description), 256);
	gw_config_free(c);
	cg_buf_cleanup(&b);
}

/* ------------------------------------------------------- file checks */

static char	 tmpdir[PATH_MAX];

static const char *
tpath(const char *rel)
{
	static char	 path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

static void
write_text(const char *rel, const char *text)
{
	FILE	*f = fopen(tpath(rel), "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int
files_setup(void **state)
{
	char	 made[PATH_MAX];

	cafx_mkdtemp(made, sizeof(made), "test_config_acme");
	if (realpath(made, tmpdir) == NULL)
		return -1;
	write_text("s.pem", "x\n");
	write_text("s.key", "x\n");
	write_text("ca.pem", "x\n");
	write_text("ca.key", "x\n");
	write_text("old-nonce.key", "k\n");
	if (mkdir(tpath("data"), 0700) != 0 || mkdir(tpath("keys"), 0700) != 0)
		return -1;
	return 0;
}

static int
files_teardown(void **state)
{
	cafx_rm_rf(tmpdir);
	return 0;
}

/* acme's "nonce_key_file" (when given) is on line 9. */
static enum cg_code
parse_files(const char *key, struct gw_config **confp, struct cg_err *err)
{
	char	 text[4096], line[512];

	line[0] = '\0';
	if (key != NULL)
		snprintf(line, sizeof(line), "\"nonce_key_file\": \"%s\",",
		    key);
	snprintf(text, sizeof(text), BASE "  \"acme\": {\n%s\n"
	    "  \"directories\": { \"d\": { \"profile\": \"server\" } } }\n}\n",
	    line);
	return gw_config_parse(NAME, tmpdir, (const uint8_t *)text,
	    strlen(text), true, confp, err);
}

static void
test_nonce_file(void **state)
{
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };

	/* Beside the store; neither has to exist yet. */
	assert_int_equal(parse_files(NULL, &c, &err), CG_OK);
	assert_string_equal(c->acme.nonce_key_file,
	    tpath("data/acme-nonce.key"));
	gw_config_free(c);
	/* A file that does not exist yet, in a directory that does. */
	assert_int_equal(parse_files("keys/new.key", &c, &err), CG_OK);
	assert_string_equal(c->acme.nonce_key_file, tpath("keys/new.key"));
	gw_config_free(c);
	/* One that exists. */
	assert_int_equal(parse_files("old-nonce.key", &c, &err), CG_OK);
	assert_string_equal(c->acme.nonce_key_file, tpath("old-nonce.key"));
	gw_config_free(c);

	c = (struct gw_config *)1;
	assert_int_equal(parse_files("nope/nonce.key", &c, &err), CG_EINVAL);
	assert_null(c);
	assert_string_equal(err.msg, NAME ":9: acme.nonce_key_file: cannot "
	    "use parent directory: No such file or directory");
	memset(&err, 0, sizeof(err));
	assert_int_equal(parse_files("keys", &c, &err), CG_EINVAL);
	assert_string_equal(err.msg, NAME ":9: acme.nonce_key_file: cannot "
	    "use file: not a regular file");
	memset(&err, 0, sizeof(err));
	assert_int_equal(parse_files("data/certgw.db", &c, &err), CG_EINVAL);
	assert_string_equal(err.msg, NAME ":9: acme.nonce_key_file: the "
	    "store file cannot be the nonce key file");
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
	assert_true(n > 30);
	check_full_server(&conf->acme);
	check_full_dirs(&conf->acme);
	gw_config_free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_before_profiles),
		cmocka_unit_test(test_good_values),
		cmocka_unit_test(test_acme_refusals),
		cmocka_unit_test(test_name_refusals),
		cmocka_unit_test(test_dir_refusals),
		cmocka_unit_test(test_built_refusals),
		cmocka_unit_test(test_limits_ok),
		cmocka_unit_test(test_nonce_file),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, files_setup, files_teardown);
}
