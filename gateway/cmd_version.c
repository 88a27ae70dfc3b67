/*
 * cmd_version.c - `certgw version`: the build's version and the versions of
 * the libraries it runs with.
 */
#include "cmd.h"

#include <openssl/crypto.h>

int
cmd_version(int argc, char **argv)
{
	printf("certgw %s\n%s\n", CERTGW_VERSION,
	    OpenSSL_version(OPENSSL_VERSION));
	return CMD_EXIT_OK;
}
