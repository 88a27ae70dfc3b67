/*
 * fuzz_dist_stats.c - dist_metrics_add() reads the field names and values
 * of the Redis stats hash, which anything with access to Redis can write.
 * The input is records separated by '\n', each "<field>\t<value>" (a
 * record without a tab has an empty value).  Whatever the bytes, every
 * record is either counted into a rule or ignored, the rule table stays
 * bounded and its names valid, and the quantile estimate returns a bound
 * of the table.
 */
#include <stdlib.h>
#include <string.h>

#include "certgw/dist_queue.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static bool
is_bound(uint64_t ms)
{
	size_t	 i;

	if (ms == DIST_LATENCY_INF)
		return true;
	for (i = 0; i < DIST_LATENCY_NBOUNDS; i++)
		if (ms == dist_latency_bounds_ms[i])
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const double	 qs[] = { 0.001, 0.5, 0.9, 0.99, 1.0 };
	const struct dist_rule_metrics *rm;
	struct dist_metrics	*m;
	const char		*p = (const char *)data, *end = p + len;
	const char		*nl, *tab;
	size_t			 i, j, k, records = 0, ok = 0, full = 0;
	uint64_t		 ms;

	if (len > 65536)
		return 0;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		tab = memchr(p, '\t', (size_t)(nl - p));
		if (tab == NULL)
			tab = nl;
		records++;
		switch (dist_metrics_add(m, p, (size_t)(tab - p),
		    tab < nl ? tab + 1 : nl, tab < nl ?
		    (size_t)(nl - tab - 1) : 0)) {
		case CG_OK:
			ok++;
			break;
		case CG_ETOOBIG:
			full++;
			break;
		default:
			break;
		}
		p = nl + 1;
	}
	if (ok + full + m->ignored != records ||
	    m->n > DIST_METRICS_RULES_MAX || (full > 0) != m->truncated)
		abort();
	for (i = 0; i < m->n; i++) {
		rm = &m->rules[i];
		if (strnlen(rm->rule, sizeof(rm->rule)) > DIST_RULE_NAME_MAX ||
		    strchr(rm->rule, ':') != NULL)
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(m->rules[j].rule, rm->rule) == 0)
				abort();
		if (rm->delivered > INT64_MAX || rm->sum_ms > INT64_MAX)
			abort();
		for (k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
			if (dist_latency_quantile(rm, qs[k], &ms) !=
			    (dist_latency_count(rm) > 0) ||
			    (dist_latency_count(rm) > 0 && !is_bound(ms)))
				abort();
	}
	free(m);
	return 0;
}
