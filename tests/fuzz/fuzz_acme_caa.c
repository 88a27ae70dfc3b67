/*
 * fuzz_acme_caa.c - CAA values come from any zone (RFC 8659):
 * acme_caa_parse_issue() on the raw value, then acme_caa_permits() on a
 * record set cut from the input.  Input: a flags byte, a byte that picks
 * the tag, then the value.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../protocols/acme/acme_validate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *const tags[] = { "issue", "issuewild", "iodef",
	    "unknown" };
	static struct acme_vjob job;
	struct acme_caa_issue is;
	struct acme_caa_rr rrs[2];
	char		 detail[ACME_V_DETAIL_MAX];

	if (len < 2)
		return 0;
	(void)acme_caa_parse_issue(data + 2, len - 2, &is);
	if (job.ncaa_ids == 0) {
		job.type = ACME_V_CAA;
		(void)snprintf(job.value, sizeof(job.value), "example.com");
		(void)snprintf(job.caa_ids[0], sizeof(job.caa_ids[0]),
		    "ca.example");
		job.ncaa_ids = 1;
		(void)snprintf(job.account_uri, sizeof(job.account_uri),
		    "https://ca.example/acct/1");
		job.method = "dns-01";
	}
	job.wildcard = data[1] & 0x10;
	rrs[0].flags = data[0];
	rrs[0].tag = tags[data[1] & 3];
	rrs[0].value = data + 2;
	rrs[0].len = len - 2;
	rrs[1].flags = 0;
	rrs[1].tag = tags[(data[1] >> 2) & 3];
	rrs[1].value = data + 2 + (len - 2) / 2;
	rrs[1].len = len - 2 - (len - 2) / 2;
	(void)acme_caa_permits(rrs, 2, "example.com", &job, detail,
	    sizeof(detail));
	return 0;
}
