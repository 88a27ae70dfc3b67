/*
 * fuzz_acme_path.c - the unauthenticated parts of ACME URLs: the path
 * below /acme/ (acme_path_parse) and the RFC 9773 certificate identifier
 * of renewal-info (acme_certid_decode).  The first byte picks which.  A
 * parsed path must name a known resource, and its directory and id must
 * hold only the characters the parser allows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/acme/acme_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
check_chars(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    strchr(extra, *s) != NULL))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct acme_path	 p;
	uint8_t			 aki[ACME_AKI_MAX], ser[ACME_SERIAL_DER_MAX];
	size_t			 akilen, serlen;
	char			*s;

	if (len == 0 || len > 4096)
		return 0;
	s = malloc(len);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, len - 1);
	s[len - 1] = '\0';
	if (data[0] & 1) {
		if (acme_certid_decode(s, len - 1, aki, &akilen, ser,
		    &serlen) == CG_OK && (akilen == 0 || serlen == 0 ||
		    akilen > ACME_AKI_MAX || serlen > ACME_SERIAL_DER_MAX))
			abort();
	} else if (acme_path_parse(s, &p)) {
		if ((unsigned)p.res >= ACME_R__MAX ||
		    strlen(p.dir) > CA_ACME_ID_MAX ||
		    strlen(p.arg) > ACME_ARG_MAX)
			abort();
		check_chars(p.dir, "-_");
		check_chars(p.arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.");
		if (strcmp(acme_res_name(p.res), "?") == 0)
			abort();
	}
	free(s);
	return 0;
}
