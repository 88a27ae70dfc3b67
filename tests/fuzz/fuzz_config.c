/*
 * fuzz_config.c - the config loader reads a file an operator (or anyone
 * who can write it) controls: jansson, the position scanner and the schema
 * walk, without touching referenced files.  The scanner is also run on its
 * own, since gw_config_parse() only reaches it after jansson accepts.
 */
#include "certgw/config.h"
#include "gw_config_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct gw_config	*conf;
	struct gw_cfg_pos	*pos;
	struct cg_err		 err = { 0 };

	if (gw_config_parse("fuzz.json", "/nonexistent", data, len, false,
	    &conf, &err) == CG_OK)
		gw_config_free(conf);
	if (gw_cfg_pos_scan("fuzz.json", data, len, &pos, NULL) == CG_OK) {
		gw_cfg_pos_line(pos, "profiles.a.key_types[0]");
		gw_cfg_pos_free(pos);
	}
	return 0;
}
