/*
 * fuzz_est_body.c - est_body_decode() reads EST simpleenroll,
 * simplereenroll and serverkeygen bodies straight from peers: bounded
 * base64 with any line breaks, the Content-Transfer-Encoding check and the
 * PKCS#10 parse.  The first byte picks the header value.
 */
#include "certgw/est.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *const ctes[] = { NULL, "base64", " BASE64 ",
	    "binary" };
	struct ca_csr	*csr;

	if (len == 0)
		return 0;
	if (est_body_decode(data + 1, len - 1, ctes[data[0] % 4], &csr,
	    NULL) == CG_OK)
		ca_csr_free(csr);
	return 0;
}
