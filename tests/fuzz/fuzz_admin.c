/*
 * fuzz_admin.c - the admin API's parsers of peer bytes (gw_admin.c): the
 * query string (admin_query_parse), the JSON body (admin_body_parse) and
 * the path matcher (admin_path_match) against the endpoint shapes.  The
 * first byte picks the parser.
 */
#include <string.h>

#include "gw_admin.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *const keys[] = { "status", "profile", "q", "limit",
	    NULL };
	static const char *const members[] = { "name", "email", "role",
	    "disabled", NULL };
	static const char *const patterns[] = { "certificates",
	    "certificates/{serial}/revoke", "identities/{name}/mappings/{id}",
	    "a/b/c/d/e/f" };
	static char		 params[ADMIN_PARAMS_MAX][ADMIN_SEG_MAX + 1];
	struct admin_query	 aq;
	struct cg_err		 err;
	json_t			*o = NULL;
	size_t			 n, i;
	char			*s;

	if (len == 0)
		return 0;
	s = cg_strndup((const char *)data + 1, len - 1);
	if (s == NULL)
		return 0;
	cg_err_clear(&err);
	switch (data[0] % 3) {
	case 0:
		if (admin_query_parse(s, keys, &aq, &err) == CG_OK)
			for (i = 0; keys[i] != NULL; i++)
				(void)admin_query_get(&aq, keys[i]);
		break;
	case 1:
		if (admin_body_parse(data + 1, len - 1, members, &o, &err) ==
		    CG_OK)
			json_decref(o);
		break;
	default:
		for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
			(void)admin_path_match(patterns[i], s, params, &n);
		break;
	}
	cg_free(s);
	return 0;
}
