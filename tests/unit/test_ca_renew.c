/*
 * test_ca_renew.c - the renewal window: ca_profile_renew_start() with a
 * profile's renew_before_days, with the default (a third of the
 * validity, at least a day) and without a profile; the ACME renewal-info
 * window starting at the same instant (so ARI and `certgw cert list
 * --status update-needed` agree); and the config checks of
 * renew_before_days.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "certgw/ca.h"
#include "certgw/config.h"
#include "certgw/store.h"

/* The ARI window function is static: test it where it lives. */
#include "../../protocols/acme/acme_revoke.c"

#define DAY	INT64_C(86400)
#define T0	INT64_C(1800000000)	/* an arbitrary notBefore */

static struct ca_profile
profile(uint32_t validity, uint32_t before)
{
	struct ca_profile	 p;

	memset(&p, 0, sizeof(p));
	p.name = "p";
	p.validity_days = validity;
	p.renew_before_days = before;
	return p;
}

static void
test_explicit(void **state)
{
	struct ca_profile	 p = profile(90, 10);

	(void)state;
	assert_int_equal(ca_profile_renew_before_days(&p, T0, T0 + 90 * DAY),
	    10);
	assert_int_equal(ca_profile_renew_start(&p, T0, T0 + 90 * DAY),
	    T0 + 80 * DAY);
	p = profile(30, 29);
	assert_int_equal(ca_profile_renew_start(&p, T0, T0 + 30 * DAY),
	    T0 + DAY);
}

static void
test_default(void **state)
{
	struct ca_profile	 p = profile(90, 0);

	(void)state;
	/* A third of validity_days, rounded down: 30 of 90, 33 of 100. */
	assert_int_equal(ca_profile_renew_start(&p, T0, T0 + 90 * DAY),
	    T0 + 60 * DAY);
	p = profile(100, 0);
	assert_int_equal(ca_profile_renew_before_days(&p, T0, T0 + 100 * DAY),
	    33);
	/* At least one day: 2 / 3 rounds to 0. */
	p = profile(2, 0);
	assert_int_equal(ca_profile_renew_before_days(&p, T0, T0 + 2 * DAY),
	    1);
	assert_int_equal(ca_profile_renew_start(&p, T0, T0 + 2 * DAY),
	    T0 + DAY);
	/* The profile's validity decides, not the certificate's lifetime. */
	p = profile(90, 0);
	assert_int_equal(ca_profile_renew_start(&p, T0, T0 + 200 * DAY),
	    T0 + 170 * DAY);
}

static void
test_no_profile(void **state)
{
	(void)state;
	/* A profile no longer configured: a third of the lifetime. */
	assert_int_equal(ca_profile_renew_before_days(NULL, T0,
	    T0 + 90 * DAY + 60), 30);
	assert_int_equal(ca_profile_renew_start(NULL, T0, T0 + 90 * DAY),
	    T0 + 60 * DAY);
	assert_int_equal(ca_profile_renew_before_days(NULL, T0, T0), 1);
	assert_int_equal(ca_profile_renew_before_days(NULL, T0 + DAY, T0), 1);
}

static void
test_clamped(void **state)
{
	struct ca_profile	 p = profile(365, 60);

	(void)state;
	/* A window longer than the certificate: due from notBefore. */
	assert_int_equal(ca_profile_renew_start(&p, T0, T0 + 30 * DAY), T0);
	assert_int_equal(ca_profile_renew_start(NULL, T0, T0 + 3600), T0);
	p = profile(1, 0);
	assert_int_equal(ca_profile_renew_start(&p, T0, T0 + DAY), T0);
}

/* ARI starts exactly where update-needed starts, and ends before notAfter. */
static void
test_ari_agrees(void **state)
{
	static const uint32_t	 v[][2] = {
		{ 90, 0 }, { 90, 10 }, { 30, 29 }, { 1, 0 }, { 365, 60 },
		{ 7, 0 }, { 3650, 1 },
	};
	static const int64_t	 life[] = { 1, 7, 30, 90, 365 };
	struct ca_profile	 p;
	struct ca_cert_rec	 rec;
	int64_t			 s, e;
	size_t			 i, k;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	rec.status = CA_CERT_VALID;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		p = profile(v[i][0], v[i][1]);
		for (k = 0; k < sizeof(life) / sizeof(life[0]); k++) {
			rec.not_before = T0 - 60;
			rec.not_after = T0 + life[k] * DAY;
			ari_window(&p, &rec, T0, &s, &e);
			assert_int_equal(s, ca_profile_renew_start(&p,
			    rec.not_before, rec.not_after));
			assert_true(e > s);
			assert_true(e < rec.not_after);
			ari_window(NULL, &rec, T0, &s, &e);
			assert_int_equal(s, ca_profile_renew_start(NULL,
			    rec.not_before, rec.not_after));
			assert_true(e > s && e < rec.not_after);
		}
	}
	/* 90-day default: day 60 to day 75. */
	p = profile(90, 0);
	rec.not_before = T0;
	rec.not_after = T0 + 90 * DAY;
	ari_window(&p, &rec, T0, &s, &e);
	assert_int_equal(s, T0 + 60 * DAY);
	assert_int_equal(e, T0 + 75 * DAY);
	/* Revoked: due now, the window already past. */
	rec.status = CA_CERT_REVOKED;
	ari_window(&p, &rec, T0 + DAY, &s, &e);
	assert_true(s < e && e < T0 + DAY);
}

/* ------------------------------------------------------------- config */

#define CONF_HEAD							\
	"{\n"								\
	"  \"listeners\": { \"https\": { \"cert\": \"s.pem\",\n"	\
	"                               \"key\": \"s.key\" } },\n"	\
	"  \"store\": { \"path\": \"certgw.db\" },\n"			\
	"  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" },\n"	\
	"  \"profiles\": {\n"

static enum cg_code
parse(const char *text, struct gw_config **confp, struct cg_err *err)
{
	return gw_config_parse("c.json", "/nonexistent", (const uint8_t *)text,
	    strlen(text), false, confp, err);
}

static void
expect_error(const char *text, const char *msg)
{
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };

	assert_int_not_equal(parse(text, &conf, &err), CG_OK);
	assert_null(conf);
	assert_string_equal(err.msg, msg);
}

static void
test_config(void **state)
{
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };

	(void)state;
	assert_int_equal(parse(CONF_HEAD
	    "    \"a\": { \"validity_days\": 30, \"renew_before_days\": 10 },\n"
	    "    \"b\": { \"validity_days\": 30 }\n"
	    "  }\n}\n", &conf, &err), CG_OK);
	assert_int_equal(gw_config_profile(conf, "a")->renew_before_days, 10);
	/* Unset stays 0: ca_profile_renew_start() applies the default. */
	assert_int_equal(gw_config_profile(conf, "b")->renew_before_days, 0);
	gw_config_free(conf);

	expect_error(CONF_HEAD
	    "    \"a\": { \"validity_days\": 30, \"renew_before_days\": 30 }\n"
	    "  }\n}\n",
	    "c.json:7: profiles.a.renew_before_days: expected an integer "
	    "between 1 and 29 (less than validity_days) for profile 'a'");
	expect_error(CONF_HEAD
	    "    \"short\": { \"renew_before_days\": 1,\n"
	    "      \"validity_days\": 1 }\n"
	    "  }\n}\n",
	    "c.json:7: profiles.short.renew_before_days: profile 'short' is "
	    "valid for one day: leave renew_before_days out");
	expect_error(CONF_HEAD
	    "    \"a\": { \"validity_days\": 30, \"renew_before_days\": 0 }\n"
	    "  }\n}\n",
	    "c.json:7: profiles.a.renew_before_days: expected an integer "
	    "between 1 and 36599");
	expect_error(CONF_HEAD
	    "    \"a\": { \"validity_days\": 30,\n"
	    "      \"renew_before_days\": \"9\" }\n"
	    "  }\n}\n",
	    "c.json:8: profiles.a.renew_before_days: expected a positive "
	    "integer");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explicit),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_no_profile),
		cmocka_unit_test(test_clamped),
		cmocka_unit_test(test_ari_agrees),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
