/*
 * fuzz_store_id.c - libFuzzer target for the store's certificate id parser
 * (serials and SHA-256 thumbprints that arrive from the CLI, the admin API
 * and protocol requests).  Checks the parser's output invariants; it does
 * not open a database.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certgw/store.h"
#include "ca_store_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ca_store_id	 id;
	struct cg_err		 err = { 0 };
	size_t			 n;

	if (ca_store_id_parse((const char *)data, len, &id, &err) != CG_OK)
		return 0;
	n = strlen(id.serial);
	if (n == 0 || n > len || (n > 1 && id.serial[0] == '0') ||
	    strspn(id.serial, "0123456789ABCDEF") != n)
		abort();
	if (id.sha256[0] != '\0' && strlen(id.sha256) != 64)
		abort();
	return 0;
}
