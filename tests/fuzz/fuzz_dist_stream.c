/*
 * fuzz_dist_stream.c - push workers read stream entries from Redis, which
 * anyone with access to it can write: any reply, decoded by hiredis from
 * RESP bytes, must be parsed into an entry or refused, never crash, and
 * an accepted entry must respect the bounds the worker relies on.
 *
 * hiredis 0.14 allocates an array of the announced size before reading
 * its elements, so "*5000000000" alone exhausts memory inside hiredis,
 * not in our parser; inputs announcing more than ARRAY_MAX elements are
 * skipped.  (Redis is trusted not to do that; see docs/distribution.md.)
 */
#include <stdlib.h>

#include "../../distribute/dist_stream.c"

#define ARRAY_MAX	4096

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* True when some "*N" or "$N" header announces more than ARRAY_MAX. */
static bool
announces_too_much(const uint8_t *data, size_t len)
{
	size_t		 i, j;
	uint64_t	 n;

	for (i = 0; i < len; i++) {
		if (data[i] != '*' && data[i] != '$')
			continue;
		n = 0;
		for (j = i + 1; j < len && data[j] >= '0' && data[j] <= '9';
		    j++) {
			n = n * 10 + (uint64_t)(data[j] - '0');
			if (n > ARRAY_MAX * 16)
				return true;
		}
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	redisReader		*rd;
	void			*reply = NULL;
	const char		*why;
	struct dist_entry	 e;
	int			 lenient;

	if (len > 65536 || announces_too_much(data, len))
		return 0;
	rd = redisReaderCreate();
	if (rd == NULL)
		return 0;
	if (redisReaderFeed(rd, (const char *)data, len) != REDIS_OK ||
	    redisReaderGetReply(rd, &reply) != REDIS_OK || reply == NULL) {
		redisReaderFree(rd);
		return 0;
	}
	for (lenient = 0; lenient <= 1; lenient++) {
		if (entry_parse(reply, lenient, &e, &why) == ENT_OK) {
			if (e.job == NULL || e.rule == NULL ||
			    strlen(e.job) != e.len ||
			    e.len > CA_STORE_PAYLOAD_MAX ||
			    strlen(e.rule) > DIST_RULE_NAME_MAX ||
			    strlen(e.id) >= sizeof(e.id))
				abort();
			dist_entries_free(NULL, 0);
			cg_free(e.job);
			cg_free(e.rule);
			cg_free(e.reason);
		}
	}
	freeReplyObject(reply);
	redisReaderFree(rd);
	return 0;
}
