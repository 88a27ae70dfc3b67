/*
 * cg_codec.c - base64 (standard and URL-safe), hex, and checked parsing of
 * integers and durations.  These read peer bytes, so every length is
 * explicit and nothing relies on a terminating NUL beyond what is stated.
 */
#include "certgw/core.h"

#include <string.h>

static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
cg_base64_encode_to(const uint8_t *in, size_t len, char *out, bool url)
{
	const char	*abc = url ? b64url : b64std;
	size_t		 i, o = 0;
	uint32_t	 v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = abc[(v >> 18) & 63];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = abc[(v >> 6) & 63];
		out[o++] = abc[v & 63];
	}
	if (i < len) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = abc[(v >> 18) & 63];
		out[o++] = abc[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = abc[(v >> 6) & 63];
		else if (!url)
			out[o++] = '=';
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

enum cg_code
cg_base64_encode(const uint8_t *in, size_t len, char **outp,
    struct cg_err *err)
{
	char	*out;

	*outp = NULL;
	if (len > (SIZE_MAX / 4) * 3 - 3)
		return cg_err_set(err, CG_ETOOBIG, "input too large");
	out = cg_malloc(((len + 2) / 3) * 4 + 1);
	if (out == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	(void)cg_base64_encode_to(in, len, out, false);
	*outp = out;
	return CG_OK;
}

static int
b64val(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

enum cg_code
cg_base64_decode(const char *in, size_t len, bool url, size_t max,
    uint8_t **outp, size_t *outlenp, struct cg_err *err)
{
	uint8_t		*out;
	size_t		 i, o = 0, npad = 0, nsym = 0;
	uint32_t	 acc = 0;
	int		 v;
	unsigned char	 c;
	enum cg_code	 rc;

	*outp = NULL;
	*outlenp = 0;
	out = cg_malloc(len / 4 * 3 + 3);
	if (out == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=' && !url) {
			npad++;
			continue;
		}
		v = b64val(c, url);
		if (v < 0 || npad > 0) {
			rc = cg_err_set(err, CG_EINVAL, "invalid base64");
			goto fail;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++nsym % 4 == 0) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	switch (nsym % 4) {
	case 0:
		break;
	case 2:
		out[o++] = (uint8_t)(acc >> 4);
		break;
	case 3:
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
		break;
	default:
		rc = cg_err_set(err, CG_EINVAL, "truncated base64");
		goto fail;
	}
	if (npad > 2 || (npad > 0 && (nsym + npad) % 4 != 0)) {
		rc = cg_err_set(err, CG_EINVAL, "bad base64 padding");
		goto fail;
	}
	if (o > max) {
		rc = cg_err_set(err, CG_ETOOBIG, "decoded data exceeds %zu bytes",
		    max);
		goto fail;
	}
	*outp = out;
	*outlenp = o;
	return CG_OK;
fail:
	cg_free(out);
	return rc;
}

void
cg_hex_encode(const uint8_t *in, size_t len, char *out, bool upper)
{
	const char	*digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t		 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int
cg_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
cg_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t	 v = 0;
	size_t		 i;
	unsigned	 d;

	if (len == 0 || len > 20)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool
cg_parse_duration(const char *s, int64_t *secs)
{
	size_t		 len = strlen(s);
	uint64_t	 n, mult = 1;

	if (len == 0)
		return false;
	switch (s[len - 1]) {
	case 's':
		len--;
		break;
	case 'm':
		mult = 60;
		len--;
		break;
	case 'h':
		mult = 3600;
		len--;
		break;
	case 'd':
		mult = 86400;
		len--;
		break;
	case 'w':
		mult = 7 * 86400;
		len--;
		break;
	default:
		break;
	}
	if (!cg_parse_u64(s, len, (uint64_t)INT64_MAX / mult, &n) || n == 0)
		return false;
	*secs = (int64_t)(n * mult);
	return true;
}
