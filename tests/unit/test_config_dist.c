/*
 * test_config_dist.c - the "redis" and "distribution" sections of the
 * config file: a full file lands field by field, a minimal rule gets every
 * default, each refusal yields the exact "file:line: path: message" text
 * (tables of redis, distribution and rule errors), and with file checks on,
 * the TLS material a rule names is opened: a PKCS#12 made here with its
 * password file, a wrong password, a key that does not match its
 * certificate, trust anchors that are missing or hold no certificate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "certgw/config.h"
#include "ca_test.h"

#define NAME		"certgw.json"
#define CONF_DIR	"/etc/certgw"
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Lines 1-6 of every file below: a valid config with two profiles. */
#define BASE								\
/*  1 */ "{\n"								\
/*  2 */ "  \"listeners\": { \"https\": { \"cert\": \"s.pem\", "	\
	 "\"key\": \"s.key\" } },\n"					\
/*  3 */ "  \"store\": { \"path\": \"certgw.db\" },\n"			\
/*  4 */ "  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" },\n"	\
/*  5 */ "  \"profiles\": { \"device\": { \"validity_days\": 1 },\n"	\
/*  6 */ "                \"server\": { \"validity_days\": 1 } },\n"

static const char full_config[] =
BASE
/*  7 */ "  \"redis\": { \"url\": \"redis://[::1]:6380/3\",\n"
/*  8 */ "    \"password_file\": \"secrets/redis.pass\",\n"
/*  9 */ "    \"key_prefix\": \"gw-1:q.\", \"timeout_ms\": 500 },\n"
/* 10 */ "  \"distribution\": {\n"
/* 11 */ "    \"workers\": 0,\n"
/* 12 */ "    \"rules\": [\n"
/* 13 */ "      { \"name\": \"idm.push-1\",\n"
/* 14 */ "        \"match\": { \"profiles\": [\"device\", \"server\"],\n"
/* 15 */ "          \"protocols\": [\"est\", \"cli\"],\n"
/* 16 */ "          \"san_regex\": \"^[a-z0-9-]+\\\\.corp\\\\.example$\" },\n"
/* 17 */ "        \"url\": \"https://idm.example:8443/t/{tenant}/"
	 "{template}/{process}?s={serial}&p={profile}&r={rule}\",\n"
/* 18 */ "        \"vars\": { \"tenant\": \"acme\", \"template\": "
	 "\"Web Server\", \"process\": \"p_7\" },\n"
/* 19 */ "        \"payload\": \"chain\", \"encoding\": \"pem\",\n"
/* 20 */ "        \"content_type\": \"application/pem-certificate-chain\",\n"
/* 21 */ "        \"tls\": { \"client_p12\": \"tls/idm.p12\",\n"
/* 22 */ "          \"client_p12_password_file\": \"/etc/idm/p12.pass\",\n"
/* 23 */ "          \"ca_file\": \"tls/idm-ca.pem\",\n"
/* 24 */ "          \"insecure_skip_verify\": true },\n"
/* 25 */ "        \"auth\": { \"basic\": { \"user\": \"gw user\",\n"
/* 26 */ "          \"password_file\": \"idm.pass\" } },\n"
/* 27 */ "        \"headers\": { \"X-Tenant\": \"acme\",\n"
/* 28 */ "          \"Accept\": \"application/json\" },\n"
/* 29 */ "        \"timeout_ms\": 600000,\n"
/* 30 */ "        \"retry\": { \"max_attempts\": 1000, "
	 "\"initial_backoff_ms\": 10,\n"
/* 31 */ "          \"max_backoff_ms\": 86400000, \"max_age_s\": 60 } },\n"
/* 32 */ "      { \"name\": \"pem\", \"url\": \"https://h/x\", "
	 "\"encoding\": \"pem\",\n"
/* 33 */ "        \"tls\": { \"client_cert\": \"c.pem\", "
	 "\"client_key\": \"c.key\" } },\n"
/* 34 */ "      { \"name\": \"json\", \"url\": \"https://h/{rule}\", "
	 "\"payload\": \"json\" },\n"
/* 35 */ "      { \"name\": \"der\", \"url\": \"https://h/\", "
	 "\"encoding\": \"der\" },\n"
/* 36 */ "      { \"name\": \"chain64\", \"url\": \"https://h/\", "
	 "\"payload\": \"chain\",\n"
/* 37 */ "        \"encoding\": \"base64\", \"match\": {}, \"tls\": {},\n"
/* 38 */ "        \"auth\": {}, \"vars\": {}, \"headers\": {} },\n"
/* 39 */ "      { \"name\": \"plain\", \"url\": \"https://h/\" }\n"
/* 40 */ "    ]\n"
/* 41 */ "  }\n"
/* 42 */ "}\n";

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
check_full_redis(const struct gw_redis_conf *r)
{
	assert_true(r->enabled);
	/* The brackets are URL syntax, not part of the address. */
	assert_string_equal(r->host, "::1");
	assert_int_equal(r->port, 6380);
	assert_int_equal(r->db, 3);
	assert_string_equal(r->password_file, CONF_DIR "/secrets/redis.pass");
	assert_string_equal(r->key_prefix, "gw-1:q.");
	assert_int_equal(r->timeout_ms, 500);
}

static void
check_full_rule0(const struct gw_dist_rule *r)
{
	assert_string_equal(r->name, "idm.push-1");
	assert_int_equal(r->profiles.n, 2);
	assert_string_equal(r->profiles.v[0], "device");
	assert_string_equal(r->profiles.v[1], "server");
	assert_int_equal(r->protocols.n, 2);
	assert_string_equal(r->protocols.v[0], "est");
	assert_string_equal(r->protocols.v[1], "cli");
	assert_string_equal(r->san_regex, "^[a-z0-9-]+\\.corp\\.example$");
	assert_string_equal(r->url, "https://idm.example:8443/t/{tenant}/"
	    "{template}/{process}?s={serial}&p={profile}&r={rule}");
	assert_int_equal(r->nvars, 3);
	assert_string_equal(r->vars[0].name, "tenant");
	assert_string_equal(r->vars[0].value, "acme");
	assert_string_equal(r->vars[1].name, "template");
	assert_string_equal(r->vars[1].value, "Web Server");
	assert_string_equal(r->vars[2].name, "process");
	assert_string_equal(r->vars[2].value, "p_7");
	assert_int_equal(r->payload, GW_DIST_PAYLOAD_CHAIN);
	assert_int_equal(r->encoding, GW_DIST_ENC_PEM);
	assert_string_equal(r->content_type,
	    "application/pem-certificate-chain");
	assert_string_equal(r->client_p12, CONF_DIR "/tls/idm.p12");
	assert_string_equal(r->client_p12_password_file, "/etc/idm/p12.pass");
	assert_null(r->client_cert);
	assert_null(r->client_key);
	assert_string_equal(r->ca_file, CONF_DIR "/tls/idm-ca.pem");
	assert_true(r->insecure_skip_verify);
	assert_string_equal(r->basic_user, "gw user");
	assert_string_equal(r->basic_password_file, CONF_DIR "/idm.pass");
	assert_int_equal(r->nheaders, 2);
	assert_string_equal(r->headers[0].name, "X-Tenant");
	assert_string_equal(r->headers[0].value, "acme");
	assert_string_equal(r->headers[1].name, "Accept");
	assert_string_equal(r->headers[1].value, "application/json");
	assert_int_equal(r->timeout_ms, 600000);
	assert_int_equal(r->max_attempts, 1000);
	assert_int_equal(r->initial_backoff_ms, 10);
	assert_int_equal(r->max_backoff_ms, 86400000);
	assert_int_equal(r->max_age_s, 60);
}

/* Everything a rule does not say takes its default. */
static void
check_default_rule(const struct gw_dist_rule *r, const char *name)
{
	assert_string_equal(r->name, name);
	assert_int_equal(r->profiles.n, 0);
	assert_int_equal(r->protocols.n, 0);
	assert_null(r->san_regex);
	assert_int_equal(r->nvars, 0);
	assert_null(r->client_p12);
	assert_null(r->client_p12_password_file);
	assert_null(r->client_cert);
	assert_null(r->client_key);
	assert_null(r->ca_file);
	assert_false(r->insecure_skip_verify);
	assert_null(r->basic_user);
	assert_null(r->basic_password_file);
	assert_int_equal(r->nheaders, 0);
	assert_int_equal(r->timeout_ms, 10000);
	assert_int_equal(r->max_attempts, 20);
	assert_int_equal(r->initial_backoff_ms, 1000);
	assert_int_equal(r->max_backoff_ms, 3600000);
	assert_int_equal(r->max_age_s, 604800);
}

static void
check_full_dist(const struct gw_dist_conf *d)
{
	const struct gw_dist_rule	*r;

	assert_true(d->enabled);
	assert_int_equal(d->workers, 0);
	assert_int_equal(d->nrules, 6);
	check_full_rule0(&d->rules[0]);

	r = &d->rules[1];
	assert_string_equal(r->name, "pem");
	assert_int_equal(r->payload, GW_DIST_PAYLOAD_CERT);
	assert_int_equal(r->encoding, GW_DIST_ENC_PEM);
	assert_string_equal(r->content_type, "application/x-pem-file");
	assert_string_equal(r->client_cert, CONF_DIR "/c.pem");
	assert_string_equal(r->client_key, CONF_DIR "/c.key");
	assert_null(r->client_p12);

	r = &d->rules[2];
	check_default_rule(r, "json");
	assert_string_equal(r->url, "https://h/{rule}");
	assert_int_equal(r->payload, GW_DIST_PAYLOAD_JSON);
	assert_int_equal(r->encoding, GW_DIST_ENC_BASE64);
	assert_string_equal(r->content_type, "application/json");

	r = &d->rules[3];
	check_default_rule(r, "der");
	assert_int_equal(r->payload, GW_DIST_PAYLOAD_CERT);
	assert_int_equal(r->encoding, GW_DIST_ENC_DER);
	assert_string_equal(r->content_type, "application/pkix-cert");

	/* Empty objects are the same as leaving the keys out. */
	r = &d->rules[4];
	check_default_rule(r, "chain64");
	assert_int_equal(r->payload, GW_DIST_PAYLOAD_CHAIN);
	assert_int_equal(r->encoding, GW_DIST_ENC_BASE64);
	assert_string_equal(r->content_type, "application/pkix-cert");

	r = &d->rules[5];
	check_default_rule(r, "plain");
	assert_string_equal(r->url, "https://h/");
	assert_int_equal(r->payload, GW_DIST_PAYLOAD_CERT);
	assert_int_equal(r->encoding, GW_DIST_ENC_BASE64);
	assert_string_equal(r->content_type, "application/pkix-cert");
}

static void
test_full(void **state)
{
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(parse(full_config, &c, &err), CG_OK);
	check_full_redis(&c->redis);
	check_full_dist(&c->dist);
	gw_config_free(c);
}

static void
test_defaults(void **state)
{
	static const char minimal[] = BASE
	    "  \"distribution\": { \"rules\": [] },\n"
	    "  \"redis\": { \"url\": \"redis://cache.internal\" }\n}\n";
	static const char absent[] = BASE "  \"threads\": 1\n}\n";
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(parse(minimal, &c, &err), CG_OK);
	assert_true(c->redis.enabled);
	assert_string_equal(c->redis.host, "cache.internal");
	assert_int_equal(c->redis.port, 6379);
	assert_int_equal(c->redis.db, 0);
	assert_null(c->redis.password_file);
	assert_string_equal(c->redis.key_prefix, "certgw:");
	assert_int_equal(c->redis.timeout_ms, 2000);
	assert_true(c->dist.enabled);
	assert_int_equal(c->dist.workers, 2);
	assert_int_equal(c->dist.in_flight, 16);
	assert_int_equal(c->dist.claim_after_ms, 60000);
	assert_int_equal(c->dist.nrules, 0);
	assert_null(c->dist.rules);
	gw_config_free(c);

	/* Neither section: both off, nothing allocated. */
	assert_int_equal(parse(absent, &c, &err), CG_OK);
	assert_false(c->redis.enabled);
	assert_null(c->redis.host);
	assert_null(c->redis.key_prefix);
	assert_false(c->dist.enabled);
	assert_int_equal(c->dist.nrules, 0);
	assert_null(c->dist.rules);
	gw_config_free(c);
}

static void
test_redis_urls(void **state)
{
	static const struct {
		const char	*url;
		const char	*host;
		uint16_t	 port;
		uint32_t	 db;
	} ok[] = {
		{ "redis://127.0.0.1:6379/0", "127.0.0.1", 6379, 0 },
		{ "redis://localhost", "localhost", 6379, 0 },
		{ "REDIS://r-1.example.com:1/15", "r-1.example.com", 1, 15 },
		{ "redis://[2001:db8::7]/", "2001:db8::7", 6379, 0 },
		{ "redis://[::1]:65535", "::1", 65535, 0 },
		{ "redis://h:7000/", "h", 7000, 0 },
	};
	struct gw_config	*c;
	struct cg_err		 err = { 0 };
	char			 text[1024];
	size_t			 i;

	for (i = 0; i < NELEM(ok); i++) {
		snprintf(text, sizeof(text), BASE "  \"redis\": { \"url\": "
		    "\"%s\" }\n}\n", ok[i].url);
		c = NULL;
		assert_int_equal(parse(text, &c, &err), CG_OK);
		assert_string_equal(c->redis.host, ok[i].host);
		assert_int_equal(c->redis.port, ok[i].port);
		assert_int_equal(c->redis.db, ok[i].db);
		gw_config_free(c);
	}
}

/* "distribution" without rules does not need "redis"; with rules it does. */
static void
test_needs_redis(void **state)
{
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };

	assert_int_equal(parse(BASE "  \"distribution\": { \"workers\": 4, "
	    "\"in_flight\": 64, \"claim_after_ms\": 1500 }\n}\n", &c, &err),
	    CG_OK);
	assert_true(c->dist.enabled);
	assert_int_equal(c->dist.workers, 4);
	assert_int_equal(c->dist.in_flight, 64);
	assert_int_equal(c->dist.claim_after_ms, 1500);
	assert_false(c->redis.enabled);
	gw_config_free(c);

	expect_error(BASE
	    /* 7 */ "  \"threads\": 1,\n"
	    /* 8 */ "  \"distribution\": {\n"
	    /* 9 */ "    \"rules\": [ { \"name\": \"a\", "
	    "\"url\": \"https://h/\" } ] }\n}\n",
	    NAME ":8: distribution: rules need a \"redis\" section for their "
	    "queue");
	/* The redis section may come after distribution. */
	assert_int_equal(parse(BASE "  \"distribution\": { \"rules\": [\n"
	    "    { \"name\": \"a\", \"url\": \"https://h/\" } ] },\n"
	    "  \"redis\": { \"url\": \"redis://r\" }\n}\n", &c, &err), CG_OK);
	assert_int_equal(c->dist.nrules, 1);
	gw_config_free(c);
}

/* ------------------------------------------------------- refusals */

struct refusal {
	const char	*body;		/* JSON lines placed in the section */
	const char	*msg;		/* err.msg after "certgw.json:" */
};

/* "redis": { at line 7; the body starts on line 8. */
static const struct refusal redis_refusals[] = {
	{ "\"timeout_ms\": 100",
	  "7: redis.url: missing required key" },
	{ "\"url\": \"rediss://r:6380\"",
	  "8: redis.url: TLS to Redis is not supported yet: use a redis:// "
	  "URL on a trusted network" },
	{ "\"url\": \"http://r:6379\"",
	  "8: redis.url: expected a URL of the form redis://host[:port][/db]" },
	{ "\"url\": \"redis://:s3cret@r:6379\"",
	  "8: redis.url: no user or password in the URL: put the password "
	  "in password_file" },
	{ "\"url\": \"redis://r:0\"",
	  "8: redis.url: expected a port between 1 and 65535" },
	{ "\"url\": \"redis://r:65536\"",
	  "8: redis.url: expected a port between 1 and 65535" },
	{ "\"url\": \"redis://r:/1\"",
	  "8: redis.url: expected a port between 1 and 65535" },
	{ "\"url\": \"redis://r/16\"",
	  "8: redis.url: expected a database number between 0 and 15 after "
	  "the host" },
	{ "\"url\": \"redis://r/x\"",
	  "8: redis.url: expected a database number between 0 and 15 after "
	  "the host" },
	{ "\"url\": \"redis://r?db=1\"",
	  "8: redis.url: expected no query or fragment in the URL" },
	{ "\"url\": \"redis://-r\"",
	  "8: redis.url: expected a host name, an IPv4 address or an "
	  "[IPv6] address after redis://" },
	{ "\"url\": \"redis://300.1.1.1\"",
	  "8: redis.url: expected a host name, an IPv4 address or an "
	  "[IPv6] address after redis://" },
	{ "\"url\": \"redis://::1\"",
	  "8: redis.url: expected a host name, an IPv4 address or an "
	  "[IPv6] address after redis://" },
	{ "\"url\": \"redis://\"",
	  "8: redis.url: expected a host name, an IPv4 address or an "
	  "[IPv6] address after redis://" },
	{ "\"url\": \"redis://[::1\"",
	  "8: redis.url: expected ']' after an IPv6 address" },
	{ "\"url\": \"redis://[1.2.3.4]\"",
	  "8: redis.url: expected an IPv6 address in brackets" },
	{ "\"url\": \"redis://[::1]6379\"",
	  "8: redis.url: expected ':port' after ']'" },
	{ "\"url\": 6379",
	  "8: redis.url: expected a string" },
	{ "\"url\": \"redis://r\",\n\"key_prefix\": \"\"",
	  "9: redis.key_prefix: expected a non-empty string" },
	{ "\"url\": \"redis://r\",\n\"key_prefix\": \"cert gw:\"",
	  "9: redis.key_prefix: expected 1 to 64 characters from A-Z, a-z, "
	  "0-9, ':', '_', '.' and '-'" },
	{ "\"url\": \"redis://r\",\n\"key_prefix\": \"x"
	  "1234567890123456789012345678901234567890123456789012345678901234\"",
	  "9: redis.key_prefix: expected a string of at most 64 bytes" },
	{ "\"url\": \"redis://r\",\n\"timeout_ms\": 99",
	  "9: redis.timeout_ms: expected an integer between 100 and 60000" },
	{ "\"url\": \"redis://r\",\n\"timeout_ms\": 60001",
	  "9: redis.timeout_ms: expected an integer between 100 and 60000" },
	{ "\"url\": \"redis://r\",\n\"host\": \"r\"",
	  "9: redis.host: unknown key" },
	{ "\"url\": \"redis://r\",\n\"password_file\": \"\"",
	  "9: redis.password_file: expected a non-empty string" },
};

/* "distribution": { at line 8; the body starts on line 9. */
static const struct refusal dist_refusals[] = {
	{ "\"workers\": 65",
	  "9: distribution.workers: expected an integer between 0 and 64" },
	{ "\"workers\": -1",
	  "9: distribution.workers: expected an integer between 0 and 64" },
	{ "\"in_flight\": 0",
	  "9: distribution.in_flight: expected an integer between 1 and 256" },
	{ "\"in_flight\": 257",
	  "9: distribution.in_flight: expected an integer between 1 and 256" },
	{ "\"claim_after_ms\": 999",
	  "9: distribution.claim_after_ms: expected an integer between 1000 "
	  "and 86400000" },
	{ "\"rules\": {}",
	  "9: distribution.rules: expected an array of rules" },
	{ "\"rules\": [\n5 ]",
	  "10: distribution.rules[0]: expected an object" },
	{ "\"worker\": 1",
	  "9: distribution.worker: unknown key" },
};

/* A rule's "{" is on line 8; its body starts on line 9. */
static const struct refusal rule_refusals[] = {
	/* name */
	{ "\"url\": \"https://h/\"",
	  "8: distribution.rules[0].name: missing required key" },
	{ "\"name\": \"a b\", \"url\": \"https://h/\"",
	  "9: distribution.rules[0].name: expected a rule name of 1 to 64 "
	  "characters from A-Z, a-z, 0-9, '_', '.' and '-'" },
	{ "\"name\": \"a\", \"url\": \"https://h/\" }, {\n"
	  "\"name\": \"b\", \"url\": \"https://h/\" }, {\n"
	  "\"name\": \"a\", \"url\": \"https://h/\"",
	  "11: distribution.rules[2].name: duplicate rule name 'a' (also "
	  "rules[0])" },
	/* url */
	{ "\"name\": \"a\"",
	  "8: distribution.rules[0].url: missing required key" },
	{ "\"name\": \"a\",\n\"url\": \"http://h/\"",
	  "10: distribution.rules[0].url: plain http:// would send "
	  "certificates and credentials in clear: use https://" },
	{ "\"name\": \"a\",\n\"url\": \"ftp://h/\"",
	  "10: distribution.rules[0].url: expected an https:// URL" },
	{ "\"name\": \"a\",\n\"url\": \"https://u:p@h/\"",
	  "10: distribution.rules[0].url: expected an https:// URL with a "
	  "host, printable ASCII only and no user info (use auth)" },
	{ "\"name\": \"a\",\n\"url\": \"https://h/a b\"",
	  "10: distribution.rules[0].url: expected an https:// URL with a "
	  "host, printable ASCII only and no user info (use auth)" },
	{ "\"name\": \"a\",\n\"url\": \"https://h/{tenant}\"",
	  "10: distribution.rules[0].url: unknown placeholder {tenant}: "
	  "expected serial, profile, rule or a key of vars" },
	{ "\"name\": \"a\",\n\"url\": \"https://h/{serial\"",
	  "10: distribution.rules[0].url: unbalanced '{' in the URL" },
	{ "\"name\": \"a\",\n\"url\": \"https://h/{a{serial}}\"",
	  "10: distribution.rules[0].url: unbalanced '{' in the URL" },
	{ "\"name\": \"a\",\n\"url\": \"https://h/serial}\"",
	  "10: distribution.rules[0].url: unbalanced '}' in the URL" },
	{ "\"name\": \"a\",\n\"url\": \"https://h/{}\"",
	  "10: distribution.rules[0].url: empty placeholder {} in the URL" },
	/* vars */
	{ "\"name\": \"a\", \"url\": \"https://h/{serial}\",\n"
	  "\"vars\": { \"serial\": \"1\" }",
	  "10: distribution.rules[0].vars.serial: 'serial' is set by the "
	  "gateway for each certificate and cannot be a variable" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"vars\": { \"a-b\": \"1\" }",
	  "10: distribution.rules[0].vars.a-b: expected a variable name of "
	  "1 to 32 characters from A-Z, a-z, 0-9 and '_'" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"vars\": { \"a\": 1 }",
	  "10: distribution.rules[0].vars.a: expected a string" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"vars\": { \"a\": \"x\\ny\" }",
	  "10: distribution.rules[0].vars.a: expected no control characters" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"vars\": []",
	  "10: distribution.rules[0].vars: expected an object" },
	/* payload and encoding */
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n\"payload\": \"pem\"",
	  "10: distribution.rules[0].payload: expected \"cert\", \"chain\" "
	  "or \"json\"" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n\"encoding\": \"hex\"",
	  "10: distribution.rules[0].encoding: expected \"base64\", \"der\" "
	  "or \"pem\"" },
	{ "\"name\": \"a\", \"url\": \"https://h/\", \"payload\": \"json\",\n"
	  "\"encoding\": \"base64\"",
	  "10: distribution.rules[0].encoding: payload \"json\" carries the "
	  "certificate as PEM inside the JSON: leave encoding out" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n\"encoding\": \"der\",\n"
	  "\"payload\": \"chain\"",
	  "10: distribution.rules[0].encoding: payload \"chain\" cannot be "
	  "sent as \"der\": use \"pem\" or \"base64\"" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"content_type\": \"pkix-cert\"",
	  "10: distribution.rules[0].content_type: expected a media type "
	  "such as application/pkix-cert" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"content_type\": \"text/plain\\r\\nX: y\"",
	  "10: distribution.rules[0].content_type: expected no control "
	  "characters" },
	/* match */
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"match\": { \"protocols\": [\"est\",\n\"http\"] }",
	  "11: distribution.rules[0].match.protocols[1]: expected est, scep, "
	  "acme or cli, not 'http'" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"match\": { \"protocols\": [] }",
	  "10: distribution.rules[0].match.protocols: expected at least 1 "
	  "entry" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"match\": { \"profiles\": [\"device\",\n\"nope\"] }",
	  "11: distribution.rules[0].match.profiles[1]: unknown profile "
	  "'nope' (not in profiles)" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"match\": { \"san_regex\": \"(a{100}){101}\" }",
	  "10: distribution.rules[0].match.san_regex: the {m,n} bounds in "
	  "the regular expression multiply to more than 10000" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"match\": { \"san_regex\": \"\" }",
	  "10: distribution.rules[0].match.san_regex: expected a non-empty "
	  "string" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"match\": { \"san\": \"x\" }",
	  "10: distribution.rules[0].match.san: unknown key" },
	/* tls */
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"tls\": { \"client_p12\": \"a.p12\",\n\"client_cert\": \"c.pem\","
	  " \"client_key\": \"c.key\" }",
	  "10: distribution.rules[0].tls: expected one client identity: "
	  "client_p12, or client_cert with client_key, not both" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"tls\": { \"client_cert\": \"c.pem\" }",
	  "10: distribution.rules[0].tls: client_cert needs client_key" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"tls\": { \"client_key\": \"c.key\" }",
	  "10: distribution.rules[0].tls: client_key needs client_cert" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"tls\": { \"client_p12_password_file\": \"p\" }",
	  "10: distribution.rules[0].tls: client_p12_password_file needs "
	  "client_p12" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"tls\": {\n\"insecure_skip_verify\": \"yes\" }",
	  "11: distribution.rules[0].tls.insecure_skip_verify: expected true "
	  "or false" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"tls\": {\n\"client_pem\": \"c.pem\" }",
	  "11: distribution.rules[0].tls.client_pem: unknown key" },
	/* auth */
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"auth\": { \"basic\": { \"user\": \"a:b\",\n"
	  "\"password_file\": \"p\" } }",
	  "10: distribution.rules[0].auth.basic.user: expected a user name "
	  "of 1 to 128 characters without ':' or control characters" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"auth\": { \"basic\": { \"user\": \"a\" } }",
	  "10: distribution.rules[0].auth.basic.password_file: missing "
	  "required key" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"auth\": { \"basic\": { \"password_file\": \"p\" } }",
	  "10: distribution.rules[0].auth.basic.user: missing required key" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"auth\": { \"bearer\": {} }",
	  "10: distribution.rules[0].auth.bearer: unknown key" },
	/* headers */
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"headers\": { \"Host\": \"h\" }",
	  "10: distribution.rules[0].headers.Host: Host is set by the "
	  "worker: it comes from url" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"headers\": { \"authorization\": \"Bearer x\" }",
	  "10: distribution.rules[0].headers.authorization: Authorization is "
	  "set by the worker: use auth" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"headers\": { \"Content-Type\": \"text/plain\" }",
	  "10: distribution.rules[0].headers.Content-Type: Content-Type is "
	  "set by the worker: use content_type" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"headers\": { \"Content-Length\": \"1\" }",
	  "10: distribution.rules[0].headers.Content-Length: Content-Length "
	  "is set by the worker: it comes from the body" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"headers\": { \"IDEMPOTENCY-KEY\": \"1\" }",
	  "10: distribution.rules[0].headers.IDEMPOTENCY-KEY: "
	  "Idempotency-Key is set by the worker: the worker sets it for each "
	  "push" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"headers\": { \"X Y\": \"1\" }",
	  "10: distribution.rules[0].headers.X Y: expected a header name of "
	  "1 to 128 token characters (RFC 9110)" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"headers\": { \"X-A\": \"1\\r\\nX-B: 2\" }",
	  "10: distribution.rules[0].headers.X-A: expected no CR, LF or other "
	  "control characters in a header value" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"headers\": { \"X-A\": \"1\",\n\"x-a\": \"2\" }",
	  "11: distribution.rules[0].headers.x-a: duplicate header (also "
	  "'X-A')" },
	/* numbers */
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n\"timeout_ms\": 99",
	  "10: distribution.rules[0].timeout_ms: expected an integer between "
	  "100 and 600000" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"retry\": { \"max_attempts\": 0 }",
	  "10: distribution.rules[0].retry.max_attempts: expected an integer "
	  "between 1 and 1000" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"retry\": { \"initial_backoff_ms\": 5000,\n"
	  "\"max_backoff_ms\": 4999 }",
	  "11: distribution.rules[0].retry.max_backoff_ms: expected at least "
	  "initial_backoff_ms (5000)" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"retry\": { \"max_backoff_ms\": 86400001 }",
	  "10: distribution.rules[0].retry.max_backoff_ms: expected an "
	  "integer between 10 and 86400000" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"retry\": { \"max_age_s\": 59 }",
	  "10: distribution.rules[0].retry.max_age_s: expected an integer "
	  "between 60 and 31536000" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n"
	  "\"retry\": { \"initial_backoff_ms\": 9 }",
	  "10: distribution.rules[0].retry.initial_backoff_ms: expected an "
	  "integer between 10 and 3600000" },
	{ "\"name\": \"a\", \"url\": \"https://h/\",\n\"urls\": []",
	  "10: distribution.rules[0].urls: unknown key" },
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

#define REDIS_LINE	"  \"redis\": { \"url\": \"redis://r\" },\n"

static void
test_redis_refusals(void **state)
{
	run_refusals(BASE "  \"redis\": {\n", "\n  }\n}\n", redis_refusals,
	    NELEM(redis_refusals));
}

static void
test_dist_refusals(void **state)
{
	run_refusals(BASE REDIS_LINE "  \"distribution\": {\n", "\n  }\n}\n",
	    dist_refusals, NELEM(dist_refusals));
}

static void
test_rule_refusals(void **state)
{
	run_refusals(BASE REDIS_LINE "  \"distribution\": { \"rules\": [ {\n",
	    "\n  } ] }\n}\n", rule_refusals, NELEM(rule_refusals));
}

/* Refusals whose text is built: long values, many entries, regerror(). */
static void
test_built_refusals(void **state)
{
	struct cg_buf	 b;
	regex_t		 re;
	char		 why[128], msg[512];
	size_t		 i;

	cg_buf_init(&b, 65536);
	/* 65 rules. */
	assert_int_equal(cg_buf_addstr(&b, BASE REDIS_LINE
	    "  \"distribution\": {\n    \"rules\": [", NULL), CG_OK);
	for (i = 0; i < 65; i++)
		assert_int_equal(cg_buf_printf(&b, NULL,
		    "%s{\"name\": \"r%zu\", \"url\": \"https://h/\"}",
		    i > 0 ? ", " : "", i), CG_OK);
	assert_int_equal(cg_buf_addstr(&b, "] }\n}\n", NULL), CG_OK);
	expect_error((const char *)b.data, NAME ":9: distribution.rules: "
	    "expected at most 64 rules");
	cg_buf_reset(&b);

	/* 33 headers. */
	assert_int_equal(cg_buf_addstr(&b, BASE REDIS_LINE
	    "  \"distribution\": { \"rules\": [ { \"name\": \"a\",\n"
	    "    \"url\": \"https://h/\",\n    \"headers\": {", NULL), CG_OK);
	for (i = 0; i < 33; i++)
		assert_int_equal(cg_buf_printf(&b, NULL, "%s\"X-%zu\": \"v\"",
		    i > 0 ? ", " : "", i), CG_OK);
	assert_int_equal(cg_buf_addstr(&b, "} } ] }\n}\n", NULL), CG_OK);
	expect_error((const char *)b.data, NAME ":10: distribution.rules[0]."
	    "headers: expected at most 32 headers");
	cg_buf_reset(&b);

	/* A header value of 1025 bytes; 1024 is fine. */
	for (i = 1024; i <= 1025; i++) {
		assert_int_equal(cg_buf_printf(&b, NULL, BASE REDIS_LINE
		    "  \"distribution\": { \"rules\": [ { \"name\": \"a\",\n"
		    "    \"url\": \"https://h/\",\n    \"headers\": {\"X\": "
		    "\"%0*d\"} } ] }\n}\n", (int)i, 0), CG_OK);
		if (i == 1025) {
			expect_error((const char *)b.data, NAME ":10: "
			    "distribution.rules[0].headers.X: expected a "
			    "string of at most 1024 bytes");
		} else {
			struct gw_config	*c = NULL;
			struct cg_err		 err = { 0 };

			assert_int_equal(parse((const char *)b.data, &c,
			    &err), CG_OK);
			assert_int_equal(strlen(
			    c->dist.rules[0].headers[0].value), 1024);
			gw_config_free(c);
		}
		cg_buf_reset(&b);
	}

	/* A URL of 2049 bytes, a var value of 257, a regex of 513. */
	assert_int_equal(cg_buf_printf(&b, NULL, BASE REDIS_LINE
	    "  \"distribution\": { \"rules\": [ { \"name\": \"a\",\n"
	    "    \"url\": \"https://h/%0*d\" } ] }\n}\n", 2049 - 10, 0), CG_OK);
	expect_error((const char *)b.data, NAME ":9: distribution.rules[0]."
	    "url: expected a string of at most 2048 bytes");
	cg_buf_reset(&b);
	assert_int_equal(cg_buf_printf(&b, NULL, BASE REDIS_LINE
	    "  \"distribution\": { \"rules\": [ { \"name\": \"a\",\n"
	    "    \"url\": \"https://h/{v}\", \"vars\": {\"v\": \"%0*d\"} } ] }"
	    "\n}\n", 257, 0), CG_OK);
	expect_error((const char *)b.data, NAME ":9: distribution.rules[0]."
	    "vars.v: expected a string of at most 256 bytes");
	cg_buf_reset(&b);
	assert_int_equal(cg_buf_printf(&b, NULL, BASE REDIS_LINE
	    "  \"distribution\": { \"rules\": [ { \"name\": \"a\",\n"
	    "    \"url\": \"https://h/\", \"match\": {\"san_regex\": \"%0*d\"} "
	    "} ] }\n}\n", 513, 0), CG_OK);
	expect_error((const char *)b.data, NAME ":9: distribution.rules[0]."
	    "match.san_regex: expected a string of at most 512 bytes");
	cg_buf_reset(&b);
	cg_buf_cleanup(&b);

	/* A regex that does not compile carries the libc's reason. */
	assert_int_not_equal(regcomp(&re, "^(a|b", REG_EXTENDED | REG_NOSUB),
	    0);
	regerror(regcomp(&re, "^(a|b", REG_EXTENDED | REG_NOSUB), &re, why,
	    sizeof(why));
	snprintf(msg, sizeof(msg), NAME ":10: distribution.rules[0].match."
	    "san_regex: invalid regular expression: %s", why);
	expect_error(BASE REDIS_LINE
	    "  \"distribution\": { \"rules\": [ {\n"
	    "    \"name\": \"a\", \"url\": \"https://h/\",\n"
	    "    \"match\": { \"san_regex\": \"^(a|b\" } } ] }\n}\n", msg);
}

/* The placeholders a rule may use, and a few URLs that are fine. */
static void
test_placeholders(void **state)
{
	static const char *const ok[] = {
		"https://h/{serial}/{profile}/{rule}",
		"https://{tenant}.idm.example/x",
		"https://h/?t={tenant}&x={x_1}",
		"https://h:8443/path#frag",
	};
	struct gw_config	*c;
	struct cg_err		 err = { 0 };
	char			 text[1024];
	size_t			 i;

	for (i = 0; i < NELEM(ok); i++) {
		snprintf(text, sizeof(text), BASE REDIS_LINE
		    "  \"distribution\": { \"rules\": [ { \"name\": \"a\",\n"
		    "    \"vars\": { \"tenant\": \"t\", \"x_1\": \"y\" },\n"
		    "    \"url\": \"%s\" } ] }\n}\n", ok[i]);
		c = NULL;
		assert_int_equal(parse(text, &c, &err), CG_OK);
		assert_string_equal(c->dist.rules[0].url, ok[i]);
		gw_config_free(c);
	}
	/* An empty var is a value (the URL expander drops its segment). */
	c = NULL;
	assert_int_equal(parse(BASE REDIS_LINE
	    "  \"distribution\": { \"rules\": [ { \"name\": \"a\",\n"
	    "    \"vars\": { \"process\": \"\" },\n"
	    "    \"url\": \"https://h/r/{process}\" } ] }\n}\n", &c, &err),
	    CG_OK);
	assert_int_equal(c->dist.rules[0].nvars, 1);
	assert_string_equal(c->dist.rules[0].vars[0].name, "process");
	assert_string_equal(c->dist.rules[0].vars[0].value, "");
	gw_config_free(c);
	/* A var the URL does not use is allowed; one it uses must exist. */
	expect_error(BASE REDIS_LINE
	    "  \"distribution\": { \"rules\": [ { \"name\": \"a\",\n"
	    "    \"vars\": { \"tenant\": \"t\" },\n"
	    "    \"url\": \"https://h/{tenant}/{template}\" } ] }\n}\n",
	    NAME ":10: distribution.rules[0].url: unknown placeholder "
	    "{template}: expected serial, profile, rule or a key of vars");
}

/* ------------------------------------------------------- file checks */

static char tmpdir[PATH_MAX];

static char *
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

static EVP_PKEY *
make_key(void)
{
	EVP_PKEY	*k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

static X509 *
make_cert(EVP_PKEY *k, const char *cn)
{
	X509		*x = X509_new();
	X509_NAME	*n;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	n = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	return x;
}

static void
write_pem_cert(const char *rel, X509 *x)
{
	FILE	*f = fopen(tpath(rel), "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);
}

static void
write_pem_key(const char *rel, EVP_PKEY *k)
{
	FILE	*f = fopen(tpath(rel), "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	assert_int_equal(fclose(f), 0);
}

static void
write_p12(const char *rel, const char *pass, EVP_PKEY *k, X509 *x)
{
	PKCS12	*p12;
	FILE	*f;

	p12 = PKCS12_create(pass, "client", k, x, NULL, 0, 0, 0, 0, 0);
	assert_non_null(p12);
	f = fopen(tpath(rel), "wb");
	assert_non_null(f);
	assert_int_equal(i2d_PKCS12_fp(f, p12), 1);
	assert_int_equal(fclose(f), 0);
	PKCS12_free(p12);
}

/*
 * The directory every file test reads: the base config's files (their
 * contents are not looked at), a client key and certificate, a second key
 * that matches nothing, and keystores with and without the right password.
 */
static int
files_setup(void **state)
{
	EVP_PKEY	*k, *other;
	X509		*x;
	char		 made[PATH_MAX];

	/* Resolved, as gw_config_load() resolves the config's directory. */
	cafx_mkdtemp(made, sizeof(made), "test_config_dist");
	if (realpath(made, tmpdir) == NULL)
		return -1;
	write_text("s.pem", "x\n");
	write_text("s.key", "x\n");
	write_text("ca.pem", "x\n");
	write_text("ca.key", "x\n");
	write_text("redis.pass", "redis-secret\n");
	write_text("basic.pass", "basic-secret\n");
	write_text("p12.pass", "p12-secret\n");
	write_text("wrong.pass", "not-the-secret\n");
	write_text("empty.pass", "\n");
	write_text("garbage.pem", "not a certificate\n");
	assert_int_equal(mkdir(tpath("dir.pem"), 0700), 0);
	k = make_key();
	other = make_key();
	x = make_cert(k, "client");
	write_pem_cert("client.pem", x);
	write_pem_key("client.key", k);
	write_pem_key("other.key", other);
	write_p12("client.p12", "p12-secret", k, x);
	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
	X509_free(x);
	return 0;
}

static int
files_teardown(void **state)
{
	cafx_rm_rf(tmpdir);
	return 0;
}

/* The rule's "tls" object is on line 10 (client_p12 / client_cert). */
#define FILES_HEAD BASE							\
/*  7 */ "  \"redis\": { \"url\": \"redis://r\",\n"			\
/*  8 */ "    \"password_file\": \"redis.pass\" },\n"			\
/*  9 */ "  \"distribution\": { \"rules\": [ { \"name\": \"a\", "	\
	 "\"url\": \"https://h/\",\n"
#define FILES_TAIL " } ] }\n}\n"

static enum cg_code
parse_files(const char *body, struct gw_config **confp, struct cg_err *err)
{
	char	 text[4096];

	snprintf(text, sizeof(text), FILES_HEAD "%s" FILES_TAIL, body);
	return gw_config_parse(NAME, tmpdir, (const uint8_t *)text,
	    strlen(text), true, confp, err);
}

static void
expect_files_error(const char *body, const char *msg)
{
	struct gw_config	*c = (struct gw_config *)1;
	struct cg_err		 err = { 0 };

	assert_int_equal(parse_files(body, &c, &err), CG_EINVAL);
	assert_null(c);
	assert_string_equal(err.msg, msg);
	/* Secrets are never echoed, in the message or in the detail. */
	assert_null(strstr(err.msg, "-secret"));
	assert_null(strstr(err.detail, "-secret"));
}

static void
test_files_ok(void **state)
{
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };
	char			 want[PATH_MAX + 64];

	/* A keystore with its password file, and trust anchors. */
	assert_int_equal(parse_files(
	    /* 10 */ "    \"tls\": { \"client_p12\": \"client.p12\",\n"
	    /* 11 */ "      \"client_p12_password_file\": \"p12.pass\",\n"
	    /* 12 */ "      \"ca_file\": \"client.pem\" },\n"
	    /* 13 */ "    \"auth\": { \"basic\": { \"user\": \"u\", "
	    "\"password_file\": \"basic.pass\" } }", &c, &err), CG_OK);
	assert_string_equal(c->redis.password_file, tpath("redis.pass"));
	assert_string_equal(c->dist.rules[0].client_p12, tpath("client.p12"));
	assert_string_equal(c->dist.rules[0].client_p12_password_file,
	    tpath("p12.pass"));
	assert_string_equal(c->dist.rules[0].ca_file, tpath("client.pem"));
	snprintf(want, sizeof(want), "%s", tpath("basic.pass"));
	assert_string_equal(c->dist.rules[0].basic_password_file, want);
	gw_config_free(c);

	/* A PEM key and certificate that belong together. */
	c = NULL;
	assert_int_equal(parse_files(
	    "    \"tls\": { \"client_cert\": \"client.pem\",\n"
	    "      \"client_key\": \"client.key\" }", &c, &err), CG_OK);
	assert_string_equal(c->dist.rules[0].client_cert, tpath("client.pem"));
	assert_string_equal(c->dist.rules[0].client_key, tpath("client.key"));
	gw_config_free(c);
}

static void
test_files_refused(void **state)
{
	expect_files_error(
	    "    \"tls\": { \"client_p12\": \"client.p12\",\n"
	    "      \"client_p12_password_file\": \"wrong.pass\" }",
	    NAME ":10: distribution.rules[0].tls.client_p12: cannot open "
	    "keystore client.p12: wrong password or not PKCS#12");
	/* Without a password file the keystore's password is missing. */
	expect_files_error(
	    "    \"tls\": { \"client_p12\": \"client.p12\" }",
	    NAME ":10: distribution.rules[0].tls.client_p12: cannot open "
	    "keystore client.p12: wrong password or not PKCS#12");
	expect_files_error(
	    "    \"tls\": { \"client_p12\": \"client.pem\",\n"
	    "      \"client_p12_password_file\": \"p12.pass\" }",
	    NAME ":10: distribution.rules[0].tls.client_p12: cannot open "
	    "keystore client.pem: wrong password or not PKCS#12");
	expect_files_error(
	    "    \"tls\": { \"client_p12\": \"client.p12\",\n"
	    "      \"client_p12_password_file\": \"empty.pass\" }",
	    NAME ":11: distribution.rules[0].tls.client_p12_password_file: "
	    "cannot read the password: the file is empty or too large");
	expect_files_error(
	    "    \"tls\": { \"client_p12\": \"client.p12\",\n"
	    "      \"client_p12_password_file\": \"nope.pass\" }",
	    NAME ":11: distribution.rules[0].tls.client_p12_password_file: "
	    "cannot read file: No such file or directory");
	expect_files_error(
	    "    \"tls\": { \"client_cert\": \"client.pem\",\n"
	    "      \"client_key\": \"other.key\" }",
	    NAME ":11: distribution.rules[0].tls.client_key: client_key does "
	    "not match the certificate in client_cert");
	expect_files_error(
	    "    \"tls\": { \"client_cert\": \"garbage.pem\",\n"
	    "      \"client_key\": \"client.key\" }",
	    NAME ":10: distribution.rules[0].tls.client_cert: cannot load "
	    "certificate garbage.pem: expected PEM");
	expect_files_error(
	    "    \"tls\": { \"client_cert\": \"client.pem\",\n"
	    "      \"client_key\": \"client.pem\" }",
	    NAME ":11: distribution.rules[0].tls.client_key: cannot load "
	    "private key client.pem: expected an unencrypted PEM key");
	expect_files_error(
	    "    \"tls\": {\n      \"ca_file\": \"missing.pem\" }",
	    NAME ":11: distribution.rules[0].tls.ca_file: cannot read file: "
	    "No such file or directory");
	expect_files_error(
	    "    \"tls\": {\n      \"ca_file\": \"dir.pem\" }",
	    NAME ":11: distribution.rules[0].tls.ca_file: cannot read file: "
	    "Is a directory");
	expect_files_error(
	    "    \"tls\": {\n      \"ca_file\": \"client.key\" }",
	    NAME ":11: distribution.rules[0].tls.ca_file: ca_file client.key "
	    "holds no PEM certificate");
	expect_files_error(
	    "    \"auth\": { \"basic\": { \"user\": \"u\",\n"
	    "      \"password_file\": \"nope.pass\" } }",
	    NAME ":11: distribution.rules[0].auth.basic.password_file: cannot "
	    "read file: No such file or directory");
}

static void
test_files_redis(void **state)
{
	struct gw_config	*c = (struct gw_config *)1;
	struct cg_err		 err = { 0 };
	static const char	 text[] = BASE
	    "  \"redis\": { \"url\": \"redis://r\",\n"
	    "    \"password_file\": \"nope.pass\" }\n}\n";

	assert_int_equal(gw_config_parse(NAME, tmpdir, (const uint8_t *)text,
	    strlen(text), true, &c, &err), CG_EINVAL);
	assert_null(c);
	assert_string_equal(err.msg, NAME ":8: redis.password_file: cannot "
	    "read file: No such file or directory");
}

/* check-config's path: gw_config_load() on a file beside its keystore. */
static void
test_files_load(void **state)
{
	struct gw_config	*c = NULL;
	struct cg_err		 err = { 0 };

	write_text("certgw.json", FILES_HEAD
	    "    \"tls\": { \"client_p12\": \"client.p12\",\n"
	    "      \"client_p12_password_file\": \"wrong.pass\" }" FILES_TAIL);
	assert_int_equal(gw_config_load(tpath("certgw.json"), &c, &err),
	    CG_EINVAL);
	assert_string_equal(err.msg, NAME ":10: distribution.rules[0].tls."
	    "client_p12: cannot open keystore client.p12: wrong password or "
	    "not PKCS#12");
	write_text("certgw.json", FILES_HEAD
	    "    \"tls\": { \"client_p12\": \"client.p12\",\n"
	    "      \"client_p12_password_file\": \"p12.pass\" }" FILES_TAIL);
	memset(&err, 0, sizeof(err));
	assert_int_equal(gw_config_load(tpath("certgw.json"), &c, &err),
	    CG_OK);
	assert_string_equal(c->dist.rules[0].client_p12, tpath("client.p12"));
	gw_config_free(c);
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
	check_full_redis(&conf->redis);
	check_full_dist(&conf->dist);
	gw_config_free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_redis_urls),
		cmocka_unit_test(test_needs_redis),
		cmocka_unit_test(test_redis_refusals),
		cmocka_unit_test(test_dist_refusals),
		cmocka_unit_test(test_rule_refusals),
		cmocka_unit_test(test_built_refusals),
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_files_ok),
		cmocka_unit_test(test_files_refused),
		cmocka_unit_test(test_files_redis),
		cmocka_unit_test(test_files_load),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, files_setup, files_teardown);
}
