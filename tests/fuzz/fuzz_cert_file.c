/*
 * fuzz_cert_file.c - ca_cert_file_parse() reads the certificate files an
 * admin was handed by someone else (`certgw user import-cert`, `certgw
 * trust add`): PEM with text around it or DER, never a private key.
 *
 * Invariants: an accepted file gives 1 to CA_CERT_FILE_MAX_CERTS
 * certificates that encode again; PEM naming a private key is never
 * accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "certgw/ca.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	STACK_OF(X509)	*certs = NULL;
	unsigned char	*der;
	int		 i, n, dlen;

	if (ca_cert_file_parse(data, len, &certs, NULL) != CG_OK) {
		if (certs != NULL)
			abort();
		return 0;
	}
	n = sk_X509_num(certs);
	if (n < 1 || n > CA_CERT_FILE_MAX_CERTS)
		abort();
	/* One DER certificate is taken whole; anything else was PEM. */
	if (memmem(data, len, "PRIVATE KEY-----", 16) != NULL &&
	    !(n == 1 && len > 0 && data[0] == 0x30))
		abort();
	for (i = 0; i < n; i++) {
		der = NULL;
		dlen = i2d_X509(sk_X509_value(certs, i), &der);
		if (dlen <= 0)
			abort();
		OPENSSL_free(der);
	}
	sk_X509_pop_free(certs, X509_free);
	return 0;
}
