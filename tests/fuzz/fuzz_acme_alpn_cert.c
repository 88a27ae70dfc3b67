/*
 * fuzz_acme_alpn_cert.c - acme_tlsalpn01_check_cert() reads the DER
 * certificate a tls-alpn-01 peer shows (RFC 8737): the X.509 parse, the
 * subjectAltName and the acmeIdentifier extension.  The first byte picks
 * a DNS name or an IP identifier; the digest is that of a fixed key
 * authorization, so the corpus certificates can pass.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../../protocols/acme/acme_validate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static uint8_t	 digest[32];
	static bool	 init;
	char		 detail[128];
	bool		 ip;

	if (!init) {
		acme_tlsalpn01_digest("token.thumbprint", digest);
		init = true;
	}
	if (len == 0)
		return 0;
	ip = data[0] & 1;
	(void)acme_tlsalpn01_check_cert(data + 1, len - 1,
	    ip ? "192.0.2.1" : "example.com", ip, digest, detail,
	    sizeof(detail));
	return 0;
}
