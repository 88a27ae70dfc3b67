/*
 * fuzz_base64.c - the base64 decoder reads peer bytes (EST bodies, SCEP
 * GET messages, JWS): standard and URL-safe alphabets, bounded output.
 */
#include "certgw/core.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t		*out;
	size_t		 outlen;

	if (cg_base64_decode((const char *)data, len, len > 0 && data[0] & 1,
	    4096, &out, &outlen, NULL) == CG_OK)
		cg_free(out);
	return 0;
}
