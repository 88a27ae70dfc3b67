/*
 * test_passwd.c - the config's password hashes (gateway/core/cg_passwd.c):
 * hash and verify round trips, wrong passwords, the shape checks on stored
 * strings, iteration bounds, fresh salts, and a known PBKDF2 vector.  It
 * does not test any protocol's use of the hashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "certgw/core.h"

#define FAST_ITER	1000	/* the smallest count: quick tests */

static char *
hash_of(const char *pw, uint32_t iter)
{
	struct cg_err	 err = { 0 };
	char		*h = NULL;

	assert_int_equal(cg_passwd_hash(pw, strlen(pw), iter, &h, &err), CG_OK);
	assert_non_null(h);
	return h;
}

static void
test_round_trip(void **state)
{
	struct cg_err	 err = { 0 };
	char		*h, want[32];

	h = hash_of("correct horse", FAST_ITER);
	snprintf(want, sizeof(want), "pbkdf2-sha256$%d$", FAST_ITER);
	assert_memory_equal(h, want, strlen(want));
	/* scheme$iter$24 chars of salt$44 chars of key */
	assert_int_equal(strlen(h), strlen(want) + 24 + 1 + 44);
	assert_null(strchr(h, '\n'));
	assert_true(cg_passwd_hash_is_valid(h));
	assert_int_equal(cg_passwd_verify("correct horse", 13, h, &err), CG_OK);
	cg_free(h);

	/* Bytes after pwlen are not part of the password. */
	h = hash_of("abc", FAST_ITER);
	assert_int_equal(cg_passwd_verify("abcdef", 3, h, &err), CG_OK);
	cg_free(h);
}

static void
test_wrong_password(void **state)
{
	struct cg_err	 err = { 0 };
	char		*h;

	h = hash_of("s3cret", FAST_ITER);
	assert_int_equal(cg_passwd_verify("s3creT", 6, h, &err), CG_EAUTH);
	assert_string_equal(err.msg, "wrong password");
	memset(&err, 0, sizeof(err));
	assert_int_equal(cg_passwd_verify("s3cret ", 7, h, &err), CG_EAUTH);
	memset(&err, 0, sizeof(err));
	assert_int_equal(cg_passwd_verify("s3cre", 5, h, &err), CG_EAUTH);
	memset(&err, 0, sizeof(err));
	assert_int_equal(cg_passwd_verify("", 0, h, &err), CG_EAUTH);
	assert_int_equal(cg_passwd_verify(NULL, 0, h, NULL), CG_EAUTH);
	cg_free(h);
}

/* Salt "AAAA..." (16 zero bytes) and a key of 32 zero bytes. */
#define ZSALT	"AAAAAAAAAAAAAAAAAAAAAA=="
#define ZKEY	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"pbkdf2-sha256",
		"pbkdf2-sha256$1000$" ZSALT,
		"pbkdf2-sha1$1000$" ZSALT "$" ZKEY,
		"PBKDF2-SHA256$1000$" ZSALT "$" ZKEY,
		"pbkdf2-sha256$$" ZSALT "$" ZKEY,
		"pbkdf2-sha256$abc$" ZSALT "$" ZKEY,
		"pbkdf2-sha256$-1000$" ZSALT "$" ZKEY,
		"pbkdf2-sha256$+1000$" ZSALT "$" ZKEY,
		"pbkdf2-sha256$01000$" ZSALT "$" ZKEY,
		/* salt: short, long, bad alphabet, whitespace, no padding */
		"pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAA$" ZKEY,
		"pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAAAAAAAA$" ZKEY,
		"pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAA-==$" ZKEY,
		"pbkdf2-sha256$1000$AAAAAAAAAA AAAAAAAAAAA==$" ZKEY,
		"pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAAAA$" ZKEY,
		/* non-zero trailing bits: decodes, but not canonical */
		"pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAB==$" ZKEY,
		/* key: 31 bytes, missing, extra field, trailing newline */
		"pbkdf2-sha256$1000$" ZSALT
		    "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
		"pbkdf2-sha256$1000$" ZSALT "$",
		"pbkdf2-sha256$1000$" ZSALT "$" ZKEY "$",
		"pbkdf2-sha256$1000$" ZSALT "$" ZKEY "\n",
		" pbkdf2-sha256$1000$" ZSALT "$" ZKEY,
	};
	struct cg_err	 err = { 0 };
	size_t		 i;

	assert_true(cg_passwd_hash_is_valid("pbkdf2-sha256$1000$" ZSALT "$"
	    ZKEY));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cg_passwd_hash_is_valid(bad[i]))
			fail_msg("accepted malformed hash #%zu '%s'", i,
			    bad[i]);
		memset(&err, 0, sizeof(err));
		assert_int_equal(cg_passwd_verify("x", 1, bad[i], &err),
		    CG_EINVAL);
		assert_string_equal(err.msg, "malformed password hash");
	}
	assert_false(cg_passwd_hash_is_valid(NULL));
	assert_int_equal(cg_passwd_verify("x", 1, NULL, NULL), CG_EINVAL);
}

static void
test_too_long_hash(void **state)
{
	char	 big[CG_PASSWD_HASH_MAX + 32];

	/* Leading zeros are refused anyway; this is about the length cap. */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "pbkdf2-sha256$1000$", 19);
	assert_false(cg_passwd_hash_is_valid(big));
}

static void
test_iteration_bounds(void **state)
{
	struct cg_err	 err = { 0 };
	char		*h = (char *)1;

	assert_int_equal(cg_passwd_hash("pw", 2, 999, &h, &err), CG_EINVAL);
	assert_null(h);
	assert_string_equal(err.msg,
	    "iterations must be between 1000 and 10000000");
	memset(&err, 0, sizeof(err));
	assert_int_equal(cg_passwd_hash("pw", 2, 10000001, &h, &err),
	    CG_EINVAL);
	assert_null(h);
	assert_int_equal(cg_passwd_hash("pw", 2, 0, &h, NULL), CG_EINVAL);

	/* Stored counts obey the same bounds. */
	assert_true(cg_passwd_hash_is_valid("pbkdf2-sha256$10000000$" ZSALT
	    "$" ZKEY));
	assert_false(cg_passwd_hash_is_valid("pbkdf2-sha256$999$" ZSALT "$"
	    ZKEY));
	assert_false(cg_passwd_hash_is_valid("pbkdf2-sha256$10000001$" ZSALT
	    "$" ZKEY));
	assert_false(cg_passwd_hash_is_valid("pbkdf2-sha256$"
	    "18446744073709551617$" ZSALT "$" ZKEY));

	/* A count other than the default lands in the string and is used. */
	h = hash_of("pw", 1234);
	assert_non_null(strstr(h, "$1234$"));
	assert_int_equal(cg_passwd_verify("pw", 2, h, NULL), CG_OK);
	cg_free(h);
}

static void
test_empty_and_long_password(void **state)
{
	struct cg_err	 err = { 0 };
	char		*h = (char *)1, big[CG_PASSWD_MAX + 1];

	assert_int_equal(cg_passwd_hash("", 0, FAST_ITER, &h, &err), CG_EINVAL);
	assert_null(h);
	assert_string_equal(err.msg, "empty password");
	memset(big, 'p', sizeof(big));
	assert_int_equal(cg_passwd_hash(big, sizeof(big), FAST_ITER, &h, NULL),
	    CG_ETOOBIG);
	assert_null(h);
	/* Exactly the maximum is fine. */
	assert_int_equal(cg_passwd_hash(big, CG_PASSWD_MAX, FAST_ITER, &h,
	    NULL), CG_OK);
	assert_int_equal(cg_passwd_verify(big, CG_PASSWD_MAX, h, NULL), CG_OK);
	assert_int_equal(cg_passwd_verify(big, sizeof(big), h, NULL), CG_EAUTH);
	cg_free(h);
}

static void
test_salts_differ(void **state)
{
	char	*a, *b;

	a = hash_of("same password", FAST_ITER);
	b = hash_of("same password", FAST_ITER);
	assert_string_not_equal(a, b);
	/* Different salts, so the keys differ too. */
	assert_string_not_equal(strrchr(a, '$'), strrchr(b, '$'));
	assert_int_equal(cg_passwd_verify("same password", 13, a, NULL), CG_OK);
	assert_int_equal(cg_passwd_verify("same password", 13, b, NULL), CG_OK);
	cg_free(a);
	cg_free(b);
}

/*
 * An independent check of the construction: PBKDF2-HMAC-SHA256 of
 * "password" with the 16-byte salt "saltsaltsaltsalt" and 1000 iterations,
 * as computed by Python's hashlib.pbkdf2_hmac.
 */
static void
test_known_vector(void **state)
{
	static const char	 h[] = "pbkdf2-sha256$1000$"
	    "c2FsdHNhbHRzYWx0c2FsdA==$"
	    "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA=";

	assert_true(cg_passwd_hash_is_valid(h));
	assert_int_equal(cg_passwd_verify("password", 8, h, NULL), CG_OK);
	assert_int_equal(cg_passwd_verify("passwore", 8, h, NULL), CG_EAUTH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_too_long_hash),
		cmocka_unit_test(test_iteration_bounds),
		cmocka_unit_test(test_empty_and_long_password),
		cmocka_unit_test(test_salts_differ),
		cmocka_unit_test(test_known_vector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
