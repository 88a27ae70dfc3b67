/*
 * test_config_scep.c - the "scep" section of the config file: a full
 * section lands field by field, a minimal one gets every default, each
 * refusal yields the exact "file:line: path: message" text, and with file
 * checks on, the RA files must be readable.
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
#include <unistd.h>

#include "certgw/config.h"

#define NAME		"certgw.json"
#define CONF_DIR	"/etc/certgw"
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Lines 1-5 of every file below: a valid config with two profiles. */
#define BASE								\
/*  1 */ "{\n"								\
/*  2 */ "  \"listeners\": { \"https\": { \"cert\": \"s.pem\", "	\
	 "\"key\": \"s.key\" } },\n"					\
/*  3 */ "  \"store\": { \"path\": \"data/certgw.db\" },\n"		\
/*  4 */ "  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" },\n"	\
/*  5 */ "  \"profiles\": { \"device\": { \"validity_days\": 90 }, "	\
	 "\"vpn\": { \"validity_days\": 7 } },\n"

static const char full_config[] =
BASE
/*  6 */ "  \"scep\": {\n"
/*  7 */ "    \"ra_cert\": \"scep/ra.pem\", \"ra_key\": \"scep/ra.key\",\n"
/*  8 */ "    \"ra_key_passphrase_env\": \"RA_PASS\",\n"
/*  9 */ "    \"next_ca_cert\": \"/srv/next-ca.pem\",\n"
/* 10 */ "    \"services\": {\n"
/* 11 */ "      \"default\": {\n"
/* 12 */ "        \"profile\": \"device\",\n"
/* 13 */ "        \"challenge\": { \"static_file\": \"scep/challenge\", "
	 "\"dynamic\": true },\n"
/* 14 */ "        \"renewal\": false, \"revoke_renewed\": true, "
	 "\"challenge_ttl_s\": 60\n"
/* 15 */ "      },\n"
/* 16 */ "      \"vpn_2-x\": { \"profile\": \"vpn\", "
	 "\"challenge\": { \"static_env\": \"VPN_CHALLENGE\" } },\n"
/* 17 */ "      \"renew\": { \"profile\": \"vpn\", \"renewal_only\": true,"
	 " \"revoke_renewed\": true }\n"
/* 18 */ "    }\n"
/* 19 */ "  }\n"
/* 20 */ "}\n";

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

static void
test_full(void **state)
{
	const struct gw_scep_service	*sv;
	struct gw_config		*conf = NULL;
	struct cg_err			 err = { 0 };

	if (parse(full_config, &conf, &err) != CG_OK)
		fail_msg("%s", err.msg);
	assert_true(conf->scep.enabled);
	assert_string_equal(conf->scep.ra_cert_file, CONF_DIR "/scep/ra.pem");
	assert_string_equal(conf->scep.ra_key_file, CONF_DIR "/scep/ra.key");
	assert_null(conf->scep.ra_key_pass_file);
	assert_string_equal(conf->scep.ra_key_pass_env, "RA_PASS");
	assert_string_equal(conf->scep.next_ca_file, "/srv/next-ca.pem");
	assert_int_equal(conf->scep.nservices, 3);

	sv = &conf->scep.services[0];
	assert_string_equal(sv->name, "default");
	assert_string_equal(sv->profile, "device");
	assert_string_equal(sv->challenge_file, CONF_DIR "/scep/challenge");
	assert_null(sv->challenge_env);
	assert_true(sv->dynamic);
	assert_false(sv->renewal_only);
	assert_false(sv->renewal);
	assert_true(sv->revoke_renewed);
	assert_int_equal(sv->challenge_ttl_s, 60);

	sv = &conf->scep.services[1];
	assert_string_equal(sv->name, "vpn_2-x");
	assert_string_equal(sv->profile, "vpn");
	assert_null(sv->challenge_file);
	assert_string_equal(sv->challenge_env, "VPN_CHALLENGE");
	assert_false(sv->dynamic);
	/* Defaults. */
	assert_true(sv->renewal);
	assert_false(sv->revoke_renewed);
	assert_int_equal(sv->challenge_ttl_s, 3600);

	sv = &conf->scep.services[2];
	assert_string_equal(sv->name, "renew");
	assert_true(sv->renewal_only);
	assert_true(sv->renewal);
	assert_false(sv->dynamic);
	assert_null(sv->challenge_file);
	assert_null(sv->challenge_env);
	gw_config_free(conf);
}

static void
test_defaults(void **state)
{
	static const char text[] = BASE
	    "  \"scep\": { \"ra_cert\": \"ra.pem\", \"ra_key\": \"ra.key\",\n"
	    "    \"services\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"challenge\": { \"dynamic\": true } } } }\n}\n";
	static const char no_ra[] = BASE
	    "  \"scep\": { \"services\": { \"default\": {\n"
	    "      \"profile\": \"device\", \"renewal_only\": true } } }\n}\n";
	static const char none[] = BASE "  \"log\": {}\n}\n";
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };

	if (parse(text, &conf, &err) != CG_OK)
		fail_msg("%s", err.msg);
	assert_true(conf->scep.enabled);
	assert_null(conf->scep.ra_key_pass_file);
	assert_null(conf->scep.ra_key_pass_env);
	assert_null(conf->scep.next_ca_file);
	assert_int_equal(conf->scep.nservices, 1);
	assert_true(conf->scep.services[0].dynamic);
	assert_true(conf->scep.services[0].renewal);
	assert_false(conf->scep.services[0].revoke_renewed);
	assert_false(conf->scep.services[0].renewal_only);
	assert_int_equal(conf->scep.services[0].challenge_ttl_s, 3600);
	gw_config_free(conf);

	/* No RA at all: the CA answers SCEP itself. */
	if (parse(no_ra, &conf, &err) != CG_OK)
		fail_msg("%s", err.msg);
	assert_true(conf->scep.enabled);
	assert_null(conf->scep.ra_cert_file);
	assert_null(conf->scep.ra_key_file);
	gw_config_free(conf);

	/* Without the section, SCEP is off and nothing is set. */
	if (parse(none, &conf, &err) != CG_OK)
		fail_msg("%s", err.msg);
	assert_false(conf->scep.enabled);
	assert_int_equal(conf->scep.nservices, 0);
	gw_config_free(conf);
}

/* "scep" before "profiles": the profile is looked up after the file. */
static void
test_before_profiles(void **state)
{
	static const char text[] = "{\n"
	    "  \"scep\": { \"ra_cert\": \"ra.pem\", \"ra_key\": \"ra.key\",\n"
	    "    \"services\": { \"default\": { \"profile\": \"device\",\n"
	    "      \"challenge\": { \"dynamic\": true } } } },\n"
	    "  \"listeners\": { \"https\": { \"cert\": \"s.pem\", "
	    "\"key\": \"s.key\" } },\n"
	    "  \"store\": { \"path\": \"data/certgw.db\" },\n"
	    "  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" },\n"
	    "  \"profiles\": { \"device\": { \"validity_days\": 90 } }\n}\n";
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };

	if (parse(text, &conf, &err) != CG_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(conf->scep.services[0].profile, "device");
	gw_config_free(conf);
}

/* Each refusal: the section body at line 6 and the message expected. */
static const struct {
	const char	*body;
	const char	*msg;
} refusals[] = {
	{ "\"scep\": []",
	  NAME ":6: scep: expected an object" },
	{ "\"scep\": { \"ra_key\": \"k\", \"services\": {} }",
	  NAME ":6: scep.services: expected at least one service" },
	{ "\"scep\": { \"ra_key\": \"k\",\n \"services\": { \"d\": "
	  "{ \"profile\": \"device\", \"renewal_only\": true } } }",
	  NAME ":6: scep.ra_cert: an RA needs both ra_cert and ra_key; leave "
	  "out every ra_* key to let the CA answer SCEP itself" },
	{ "\"scep\": { \"ra_cert\": \"c\",\n \"services\": { \"d\": "
	  "{ \"profile\": \"device\", \"renewal_only\": true } } }",
	  NAME ":6: scep.ra_key: an RA needs both ra_cert and ra_key; leave "
	  "out every ra_* key to let the CA answer SCEP itself" },
	{ "\"scep\": { \"ra_key_passphrase_env\": \"P\",\n \"services\": "
	  "{ \"d\": { \"profile\": \"device\", \"renewal_only\": true } } }",
	  NAME ":6: scep.ra_cert: an RA needs both ra_cert and ra_key; leave "
	  "out every ra_* key to let the CA answer SCEP itself" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\" }",
	  NAME ":6: scep.services: missing required key" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"ra_key_passphrase_file\": \"p\", \"ra_key_passphrase_env\": "
	  "\"P\",\n \"services\": {} }",
	  NAME ":7: scep.ra_key_passphrase_env: only one of "
	  "ra_key_passphrase_file and ra_key_passphrase_env may be set" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"ra_key_passphrase_env\": \"1BAD\", \"services\": {} }",
	  NAME ":7: scep.ra_key_passphrase_env: expected an environment "
	  "variable name" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\", \"extra\": 1, "
	  "\"services\": {} }",
	  NAME ":6: scep.extra: unknown key" },
	{ "\"scep\": { \"ra_cert\": \"\", \"ra_key\": \"k\", "
	  "\"services\": {} }",
	  NAME ":6: scep.ra_cert: expected a non-empty string" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"Default\": { \"profile\": \"device\" } } }",
	  NAME ":7: scep.services.Default: expected a service name of 1 to 64 "
	  "characters from a-z, 0-9, '_' and '-'" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"a/b\": { \"profile\": \"device\" } } }",
	  NAME ":7: scep.services.a/b: expected a service name of 1 to 64 "
	  "characters from a-z, 0-9, '_' and '-'" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"challenge\": "
	  "{ \"dynamic\": true } } } }",
	  NAME ":7: scep.services.d.profile: missing required key" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"nope\",\n"
	  " \"challenge\": { \"dynamic\": true } } } }",
	  NAME ":7: scep.services.d.profile: unknown profile 'nope' (not in "
	  "profiles)" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\" } } }",
	  NAME ":7: scep.services.d.challenge: expected static_file, "
	  "static_env or \"dynamic\": true (or \"renewal_only\": true for a "
	  "service that only renews)" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\",\n"
	  " \"challenge\": { \"dynamic\": false } } } }",
	  NAME ":8: scep.services.d.challenge: expected static_file, "
	  "static_env or \"dynamic\": true (or \"renewal_only\": true for a "
	  "service that only renews)" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\",\n"
	  " \"challenge\": { \"static_file\": \"f\", \"static_env\": \"E\" } "
	  "} } }",
	  NAME ":8: scep.services.d.challenge.static_env: only one of "
	  "static_file and static_env may be set" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\",\n"
	  " \"challenge\": { \"dynamic\": 1 } } } }",
	  NAME ":8: scep.services.d.challenge.dynamic: expected true or "
	  "false" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\",\n"
	  " \"challenge\": { \"other\": true } } } }",
	  NAME ":8: scep.services.d.challenge.other: unknown key" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\",\n"
	  " \"renewal_only\": true, \"challenge\": { \"dynamic\": true } } } }",
	  NAME ":8: scep.services.d.renewal_only: a renewal-only service "
	  "takes no challenge: remove \"challenge\" or renewal_only" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\",\n"
	  " \"renewal_only\": true, \"renewal\": false } } }",
	  NAME ":8: scep.services.d.renewal: a renewal-only service must "
	  "allow renewal" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\",\n"
	  " \"renewal_only\": true, \"challenge_ttl_s\": 59 } } }",
	  NAME ":8: scep.services.d.challenge_ttl_s: expected an integer "
	  "between 60 and 2592000" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\",\n"
	  " \"renewal_only\": true, \"challenge_ttl_s\": 2592001 } } }",
	  NAME ":8: scep.services.d.challenge_ttl_s: expected an integer "
	  "between 60 and 2592000" },
	{ "\"scep\": { \"ra_cert\": \"c\", \"ra_key\": \"k\",\n"
	  " \"services\": { \"d\": { \"profile\": \"device\",\n"
	  " \"renewal_only\": true, \"revoke_renewed\": \"yes\" } } }",
	  NAME ":8: scep.services.d.revoke_renewed: expected true or false" },
};

static void
test_refusals(void **state)
{
	char	 text[2048];
	size_t	 i;

	for (i = 0; i < NELEM(refusals); i++) {
		snprintf(text, sizeof(text), "%s  %s\n}\n", BASE,
		    refusals[i].body);
		expect_error(text, refusals[i].msg);
	}
}

/* 64 services at most, names of 64 characters at most. */
static void
test_limits(void **state)
{
	char		*text, name[80];
	size_t		 len, cap = 64 * 1024, i;
	struct gw_config *conf = NULL;
	struct cg_err	 err = { 0 };

	text = malloc(cap);
	assert_non_null(text);
	len = (size_t)snprintf(text, cap, "%s  \"scep\": { \"ra_cert\": \"c\", "
	    "\"ra_key\": \"k\", \"services\": {\n", BASE);
	memset(name, 'n', 64);
	name[64] = '\0';
	for (i = 0; i < 64; i++) {
		snprintf(name + 60, sizeof(name) - 60, "%04zu", i);
		len += (size_t)snprintf(text + len, cap - len, "%s\"%s\": "
		    "{ \"profile\": \"vpn\", \"renewal_only\": true }",
		    i > 0 ? ", " : "", name);
	}
	snprintf(text + len, cap - len, " } }\n}\n");
	if (parse(text, &conf, &err) != CG_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(conf->scep.nservices, 64);
	assert_int_equal(strlen(conf->scep.services[63].name), 64);
	gw_config_free(conf);
	/* One more is refused. */
	snprintf(text + len, cap - len, ", \"x\": { \"profile\": \"vpn\", "
	    "\"renewal_only\": true } } }\n}\n");
	expect_error(text, NAME ":6: scep.services: expected at most 64 "
	    "services");
	free(text);
}

/* With file checks on, the RA files must exist; relative to the file. */
static void
test_files(void **state)
{
	static const char text[] = BASE
	    "  \"scep\": { \"ra_cert\": \"ra.pem\",\n"
	    "    \"ra_key\": \"ra.key\",\n"
	    "    \"services\": { \"d\": { \"profile\": \"device\",\n"
	    "      \"renewal_only\": true } } }\n}\n";
	static const char *const files[] = {
		"s.pem", "s.key", "ca.pem", "ca.key", "ra.pem",
	};
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };
	char			 dir[PATH_MAX], p[PATH_MAX + 16];
	const char		*base = getenv("TMPDIR");
	size_t			 i;
	FILE			*f;

	snprintf(dir, sizeof(dir), "%s/test_config_scep.XXXXXX",
	    base != NULL ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/data", dir);
	assert_int_equal(cg_mkdir_p(p, 0700, NULL), CG_OK);
	for (i = 0; i < NELEM(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		f = fopen(p, "w");
		assert_non_null(f);
		fclose(f);
	}
	assert_int_equal(gw_config_parse(NAME, dir, (const uint8_t *)text,
	    strlen(text), true, &conf, &err), CG_EINVAL);
	assert_string_equal(err.msg, NAME ":7: scep.ra_key: cannot read file: "
	    "No such file or directory");
	assert_null(strstr(err.msg, dir));
	cg_err_clear(&err);
	snprintf(p, sizeof(p), "%s/ra.key", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	if (gw_config_parse(NAME, dir, (const uint8_t *)text, strlen(text),
	    true, &conf, &err) != CG_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(conf->scep.ra_key_file, p);
	gw_config_free(conf);
	for (i = 0; i < NELEM(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/ra.key", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/data", dir);
	rmdir(p);
	rmdir(dir);
}

/* Every allocation failure is reported, and nothing leaks (ASan). */
static void
test_alloc_failures(void **state)
{
	struct gw_config	*conf;
	struct cg_err		 err;
	enum cg_code		 rc;
	long			 n;

	for (n = 0;; n++) {
		memset(&err, 0, sizeof(err));
		conf = NULL;
		cg_alloc_fail_after(n);
		rc = parse(full_config, &conf, &err);
		cg_alloc_fail_after(-1);
		if (rc == CG_OK) {
			gw_config_free(conf);
			break;
		}
		assert_int_equal(rc, CG_ENOMEM);
		assert_null(conf);
	}
	assert_true(n > 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_before_profiles),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
