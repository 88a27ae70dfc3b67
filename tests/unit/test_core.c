/*
 * test_core.c - the core helpers: errors (first set wins, detail kept out of
 * msg), bounded buffers, base64 (RFC 4648 vectors, RFC 8951 whitespace,
 * URL-safe), checked integer and duration parsing, logfmt quoting, files
 * written with exact modes, and allocation failure injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "certgw/core.h"

static void
test_err_first_wins(void **state)
{
	struct cg_err	 err = { 0 };

	assert_int_equal(cg_err_set(&err, CG_EINVAL, "first %d", 1),
	    CG_EINVAL);
	assert_int_equal(cg_err_set(&err, CG_EIO, "second"), CG_EIO);
	assert_int_equal(err.code, CG_EINVAL);
	assert_string_equal(err.msg, "first 1");
	assert_int_equal(cg_err_set(NULL, CG_ENOMEM, "x"), CG_ENOMEM);
	cg_err_clear(&err);
	assert_int_equal(err.code, CG_OK);
	assert_string_equal(cg_code_str(CG_EDENIED), "edenied");
	assert_string_equal(cg_code_str((enum cg_code)999), "unknown");
}

static void
test_err_openssl_goes_to_detail(void **state)
{
	struct cg_err	 err = { 0 };

	/* Provoke an OpenSSL error: an unknown digest fetch. */
	assert_null(EVP_MD_fetch(NULL, "no-such-digest", NULL));
	cg_err_crypto(&err, CG_ECRYPTO, "cannot hash\nreally");
	assert_string_equal(err.msg, "cannot hash really");
	assert_non_null(strstr(err.detail, "openssl:"));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_buf_limit(void **state)
{
	struct cg_buf	 b;
	struct cg_err	 err = { 0 };
	uint8_t		*p;
	size_t		 len;

	cg_buf_init(&b, 10);
	assert_int_equal(cg_buf_addstr(&b, "hello", &err), CG_OK);
	assert_int_equal(cg_buf_printf(&b, &err, "%d", 12345), CG_OK);
	assert_int_equal(b.len, 10);
	assert_int_equal(cg_buf_add(&b, "x", 1, &err), CG_ETOOBIG);
	assert_int_equal(b.len, 10);
	assert_string_equal((char *)b.data, "hello12345");
	p = cg_buf_steal(&b, &len);
	assert_int_equal(len, 10);
	assert_null(b.data);
	cg_free(p);
	cg_buf_cleanup(&b);
}

static void
check_b64(const char *plain, const char *enc)
{
	struct cg_err	 err = { 0 };
	char		*out;
	uint8_t		*dec;
	size_t		 len;

	assert_int_equal(cg_base64_encode((const uint8_t *)plain,
	    strlen(plain), &out, &err), CG_OK);
	assert_string_equal(out, enc);
	assert_int_equal(cg_base64_decode(out, strlen(out), false, 100, &dec,
	    &len, &err), CG_OK);
	assert_int_equal(len, strlen(plain));
	assert_memory_equal(dec, plain, len);
	cg_free(out);
	cg_free(dec);
}

static void
test_base64(void **state)
{
	struct cg_err	 err = { 0 };
	uint8_t		*dec;
	size_t		 len;
	const char	*wrapped = "Zm9v\r\nYmFy\n";

	/* RFC 4648 section 10 test vectors. */
	check_b64("", "");
	check_b64("f", "Zg==");
	check_b64("fo", "Zm8=");
	check_b64("foo", "Zm9v");
	check_b64("foob", "Zm9vYg==");
	check_b64("fooba", "Zm9vYmE=");
	check_b64("foobar", "Zm9vYmFy");
	/* RFC 8951: line breaks, CRLF or LF, are tolerated. */
	assert_int_equal(cg_base64_decode(wrapped, strlen(wrapped), false, 100,
	    &dec, &len, &err), CG_OK);
	assert_int_equal(len, 6);
	assert_memory_equal(dec, "foobar", 6);
	cg_free(dec);
	/* Junk, bad padding, truncation, data after padding, limits. */
	assert_int_equal(cg_base64_decode("Zm9v!", 5, false, 100, &dec, &len,
	    NULL), CG_EINVAL);
	assert_int_equal(cg_base64_decode("Zg=", 3, false, 100, &dec, &len,
	    NULL), CG_EINVAL);
	assert_int_equal(cg_base64_decode("Z", 1, false, 100, &dec, &len,
	    NULL), CG_EINVAL);
	assert_int_equal(cg_base64_decode("Zg==Zg==", 8, false, 100, &dec,
	    &len, NULL), CG_EINVAL);
	assert_int_equal(cg_base64_decode("Zm9vYmFy", 8, false, 5, &dec, &len,
	    NULL), CG_ETOOBIG);
	assert_null(dec);
	/* URL-safe, unpadded (RFC 7515). */
	assert_int_equal(cg_base64_decode("-_8", 3, true, 100, &dec, &len,
	    &err), CG_OK);
	assert_int_equal(len, 2);
	assert_int_equal(dec[0], 0xfb);
	assert_int_equal(dec[1], 0xff);
	cg_free(dec);
	assert_int_equal(cg_base64_decode("+/8=", 4, true, 100, &dec, &len,
	    NULL), CG_EINVAL);
}

static void
test_parse_u64(void **state)
{
	uint64_t	 v;

	assert_true(cg_parse_u64("0", 1, 10, &v));
	assert_int_equal(v, 0);
	assert_true(cg_parse_u64("18446744073709551615", 20, UINT64_MAX, &v));
	assert_true(v == UINT64_MAX);
	assert_false(cg_parse_u64("18446744073709551616", 20, UINT64_MAX, &v));
	assert_false(cg_parse_u64("11", 2, 10, &v));
	assert_false(cg_parse_u64("9", 1, 5, &v));
	assert_false(cg_parse_u64("", 0, 10, &v));
	assert_false(cg_parse_u64("-1", 2, 10, &v));
	assert_false(cg_parse_u64("1 ", 2, 10, &v));
	/* Only len bytes are read: no reliance on a NUL. */
	assert_true(cg_parse_u64("12junk", 2, 100, &v));
	assert_int_equal(v, 12);
}

static void
test_duration(void **state)
{
	int64_t	 s;

	assert_true(cg_parse_duration("90", &s));
	assert_int_equal(s, 90);
	assert_true(cg_parse_duration("30m", &s));
	assert_int_equal(s, 1800);
	assert_true(cg_parse_duration("1h", &s));
	assert_int_equal(s, 3600);
	assert_true(cg_parse_duration("30d", &s));
	assert_int_equal(s, 30 * 86400);
	assert_true(cg_parse_duration("2w", &s));
	assert_int_equal(s, 14 * 86400);
	assert_false(cg_parse_duration("0d", &s));
	assert_false(cg_parse_duration("d", &s));
	assert_false(cg_parse_duration("1y", &s));
	assert_false(cg_parse_duration("99999999999999999999d", &s));
}

static void
test_logfmt_quote(void **state)
{
	char	 out[64];

	assert_string_equal(cg_logfmt_quote("plain", out, sizeof(out)),
	    "plain");
	assert_string_equal(cg_logfmt_quote("CN=a b", out, sizeof(out)),
	    "\"CN=a b\"");
	assert_string_equal(cg_logfmt_quote("x\"y\n", out, sizeof(out)),
	    "\"x\\\"y\\x0a\"");
	assert_string_equal(cg_logfmt_quote("", out, sizeof(out)), "\"\"");
	/* Truncation keeps the string terminated and quoted. */
	cg_logfmt_quote("a b c d e f g h i j k l m n o p q r s t u v w x y z "
	    "a b c d e f g h", out, 20);
	assert_true(strlen(out) < 20);
	assert_int_equal(out[strlen(out) - 1], '"');
}

static void
test_files(void **state)
{
	char		 dir[] = "/tmp/certgw-core-XXXXXX";
	char		*p, *sub, *secret, cmd[128];
	struct stat	 sb;
	struct cg_err	 err = { 0 };
	uint8_t		*data;
	size_t		 len;

	assert_non_null(mkdtemp(dir));
	p = cg_path_join(dir, "key.pem");
	sub = cg_path_join(dir, "a/b/c");
	assert_int_equal(cg_file_write(p, "s3cret\nrest", 11, 0600, true,
	    &err), CG_OK);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(cg_file_write(p, "x", 1, 0600, true, NULL),
	    CG_ECONFLICT);
	assert_int_equal(cg_file_read(p, 100, &data, &len, &err), CG_OK);
	assert_int_equal(len, 11);
	cg_free(data);
	assert_int_equal(cg_file_read(p, 5, &data, &len, NULL), CG_ETOOBIG);
	assert_int_equal(cg_secret_load(p, NULL, &secret, &err), CG_OK);
	assert_string_equal(secret, "s3cret");
	cg_secret_free(secret);
	setenv("CERTGW_TEST_SECRET", "fromenv\r\n", 1);
	assert_int_equal(cg_secret_load(NULL, "CERTGW_TEST_SECRET", &secret,
	    &err), CG_OK);
	assert_string_equal(secret, "fromenv");
	cg_secret_free(secret);
	assert_int_equal(cg_secret_load(NULL, "CERTGW_NO_SUCH_VAR", &secret,
	    NULL), CG_ENOTFOUND);
	/* Atomic replace keeps the requested mode despite the umask. */
	assert_int_equal(cg_file_write(p, "new", 3, 0644, false, &err), CG_OK);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(cg_mkdir_p(sub, 0700, &err), CG_OK);
	assert_int_equal(stat(sub, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(cg_file_read("/nonexistent/x", 10, &data, &len, NULL),
	    CG_ENOTFOUND);
	cg_free(p);
	cg_free(sub);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_alloc_injection(void **state)
{
	char	*a, *b;

	cg_alloc_fail_after(1);
	a = cg_strdup("one");
	b = cg_strdup("two");
	cg_alloc_fail_after(-1);
	assert_non_null(a);
	assert_null(b);
	cg_free(a);
	a = cg_asprintf("%s-%d", "x", 7);
	assert_string_equal(a, "x-7");
	cg_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_first_wins),
		cmocka_unit_test(test_err_openssl_goes_to_detail),
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_logfmt_quote),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_alloc_injection),
	};

	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
