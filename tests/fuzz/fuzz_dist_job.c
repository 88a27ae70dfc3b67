/*
 * fuzz_dist_job.c - dist_job_parse() reads distribution jobs back from
 * the outbox and from Redis, where anything may have written them.  A job
 * it accepts must serialize again and parse to the same bytes, and must
 * be safe to expand into a URL and to turn into every payload.
 */
#include <stdlib.h>
#include <string.h>

#include "certgw/dist.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
use_job(const struct dist_job *job)
{
	static struct gw_kv	 vars[] = {
		{ (char *)"template", (char *)"DeviceCert" },
		{ (char *)"tenant", (char *)"acme" },
	};
	struct gw_dist_rule	 r;
	struct cg_buf		 b;
	const char		*ct;
	char			*url = NULL;
	int			 p, e;

	memset(&r, 0, sizeof(r));
	r.name = (char *)"fuzz";
	r.url = (char *)"https://idm.example/register/{template}/{process}/"
	    "{serial}?tenant={tenant}&profile={profile}&rule={rule}";
	r.vars = vars;
	r.nvars = 2;
	if (dist_url_expand(&r, job, &url, NULL) != CG_OK || url == NULL ||
	    strlen(url) > DIST_URL_MAX)
		abort();
	cg_free(url);
	for (p = 0; p < GW_DIST_PAYLOAD__MAX; p++) {
		for (e = 0; e < GW_DIST_ENC__MAX; e++) {
			r.payload = (enum gw_dist_payload)p;
			r.encoding = (enum gw_dist_encoding)e;
			cg_buf_init(&b, 4 * CA_STORE_PAYLOAD_MAX);
			if (dist_payload_build(&r, job, &b, &ct, NULL) !=
			    CG_OK && !(p == GW_DIST_PAYLOAD_CHAIN &&
			    e == GW_DIST_ENC_DER))
				abort();
			cg_buf_cleanup(&b);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct dist_job	*job = NULL, *again = NULL;
	char		*json = NULL, *json2 = NULL;

	if (dist_job_parse((const char *)data, len, &job, NULL) != CG_OK)
		return 0;
	/* What was read can be written, and reads back the same. */
	if (dist_job_to_json(job, &json, NULL) != CG_OK ||
	    dist_job_parse(json, strlen(json), &again, NULL) != CG_OK ||
	    dist_job_to_json(again, &json2, NULL) != CG_OK ||
	    strcmp(json, json2) != 0)
		abort();
	use_job(job);
	cg_free(json);
	cg_free(json2);
	dist_job_free(again);
	dist_job_free(job);
	return 0;
}
