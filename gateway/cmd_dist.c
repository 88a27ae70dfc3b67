/*
 * cmd_dist.c - `certgw dist status|metrics|dead|retry|redeliver`: the
 * admin's view of distribution.  status reads the outbox (store), the
 * queue and the per-rule counters and latency histogram (Redis), as text
 * or JSON; metrics prints the same in the Prometheus text format, for the
 * node_exporter textfile collector; dead lists dead letters; retry puts
 * dead letters back with their attempt count reset; redeliver sends an
 * issued certificate again on purpose, with a new idempotency key.
 */
#include "cmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "certgw/dist.h"
#include "certgw/dist_queue.h"

#define DIST_LIST_MAX	1024	/* dead letters shown or retried at once */

static void
dist_usage(FILE *f)
{
	fprintf(f,
"usage: certgw dist status [--json] [--config FILE | --dir DIR]\n"
"       certgw dist metrics [--config FILE | --dir DIR]\n"
"       certgw dist dead [--rule R] [--config FILE | --dir DIR]\n"
"       certgw dist retry (ID | --all-dead) [--config FILE | --dir DIR]\n"
"       certgw dist redeliver SERIAL [--rule R] [--config FILE | --dir DIR]\n"
"\n"
"status     jobs waiting in the outbox and in Redis (queued, being pushed,\n"
"           delayed for a retry, dead), the counters per rule and the\n"
"           delivery latency per rule (p50, p90, p99); --json: as JSON\n"
"metrics    the same in the Prometheus text format (version 0.0.4)\n"
"dead       the dead letters: id, rule, serial, reason\n"
"retry      put dead letter ID (or all of them) back in the queue, with\n"
"           the attempt count reset\n"
"redeliver  push an issued certificate again to every rule it matches\n"
"           (or only to --rule R), with a new Idempotency-Key\n");
}

static bool
redis_open(const struct cmd_ctx *ctx, struct dist_redis **rp)
{
	struct cg_err	 err = { 0 };

	if (!ctx->conf->redis.enabled) {
		fprintf(stderr, "certgw: the config has no redis section\n");
		return false;
	}
	if (dist_redis_connect(&ctx->conf->redis, rp, &err) != CG_OK) {
		cmd_fail("cannot reach Redis", &err);
		return false;
	}
	return true;
}

/* Everything status and metrics show, read before anything is printed. */
struct dist_view {
	size_t			 outbox;	/* jobs not yet in Redis */
	int64_t			 outbox_age;	/* s, of the oldest of them */
	struct dist_queue_stats	 qs;
	struct dist_metrics	*m;
};

static void
view_free(struct dist_view *v)
{
	cg_free(v->m);
	v->m = NULL;
}

/* Fill *v from the store and Redis; prints the error and false if not. */
static bool
view_read(struct cmd_ctx *ctx, struct dist_view *v)
{
	struct dist_redis	*r = NULL;
	struct cg_err		 err = { 0 };
	bool			 ok = false;

	memset(v, 0, sizeof(*v));
	if (ca_store_outbox_count(ctx->st, &v->outbox, &err) != CG_OK ||
	    ca_store_outbox_oldest(ctx->st, cg_now(), &v->outbox_age, &err) !=
	    CG_OK) {
		cmd_fail("cannot read the outbox", &err);
		return false;
	}
	if ((v->m = cg_calloc(1, sizeof(*v->m))) == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		return false;
	}
	if (!redis_open(ctx, &r))
		goto out;
	if (dist_queue_stats(r, cg_wall_ms(), &v->qs, &err) != CG_OK)
		cmd_fail("cannot read the queue", &err);
	else if (dist_metrics_read(r, v->m, &err) != CG_OK)
		cmd_fail("cannot read the counters", &err);
	else
		ok = true;
out:
	dist_redis_close(r);
	if (!ok)
		view_free(v);
	return ok;
}

/* Fields of the stats hash that were not understood, or rules left out. */
static void
view_warn(const struct dist_view *v)
{
	if (v->m->ignored > 0)
		fprintf(stderr, "certgw: %zu field%s of the stats hash not "
		    "understood, ignored\n", v->m->ignored,
		    v->m->ignored == 1 ? "" : "s");
	if (v->m->truncated)
		fprintf(stderr, "certgw: more than %d rules in the stats hash;"
		    " the rest are left out\n", DIST_METRICS_RULES_MAX);
}

/* ms as "25ms", "1s", "2.5s"; a quantile: "<=" that, ">60s", or "-". */
static void
fmt_ms(char *buf, size_t len, uint64_t ms)
{
	if (ms < 1000)
		snprintf(buf, len, "%" PRIu64 "ms", ms);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 "s", ms / 1000,
		    ms % 1000);
}

static void
fmt_quantile(char *buf, size_t len, const struct dist_rule_metrics *rm,
    double q)
{
	char		 b[32];
	uint64_t	 ms;

	if (!dist_latency_quantile(rm, q, &ms)) {
		snprintf(buf, len, "-");
		return;
	}
	if (ms == DIST_LATENCY_INF) {
		fmt_ms(b, sizeof(b),
		    dist_latency_bounds_ms[DIST_LATENCY_NBOUNDS - 1]);
		snprintf(buf, len, ">%s", b);
	} else {
		fmt_ms(b, sizeof(b), ms);
		snprintf(buf, len, "<=%s", b);
	}
}

static void
status_text(const struct dist_view *v)
{
	const struct dist_rule_metrics	*rm;
	char				 name[DIST_RULE_NAME_MAX + 16];
	char				 p50[40], p90[40], p99[40];
	size_t				 i;

	printf("outbox:   %zu not yet in Redis (oldest %llds)\n", v->outbox,
	    (long long)v->outbox_age);
	printf("queued:   %zu (oldest %llus)\n", v->qs.jobs,
	    (unsigned long long)(v->qs.oldest_ms / 1000));
	printf("pushing:  %zu\n", v->qs.pending);
	printf("delayed:  %zu\n", v->qs.delayed);
	printf("dead:     %zu\n", v->qs.dead);
	/* As before the latency came: scripts may read these lines. */
	printf("counters:\n");
	for (i = 0; i < v->m->n; i++) {
		rm = &v->m->rules[i];
		snprintf(name, sizeof(name), "%s:delivered", rm->rule);
		printf("  %-40s %" PRIu64 "\n", name, rm->delivered);
		snprintf(name, sizeof(name), "%s:retried", rm->rule);
		printf("  %-40s %" PRIu64 "\n", name, rm->retried);
		snprintf(name, sizeof(name), "%s:dead", rm->rule);
		printf("  %-40s %" PRIu64 "\n", name, rm->dead);
	}
	printf("rules:    (latency: from entering the queue to the 2xx)\n");
	if (v->m->n > 0)
		printf("  %-24s %10s %8s %6s %9s %9s %9s\n", "RULE",
		    "DELIVERED", "RETRIED", "DEAD", "P50", "P90", "P99");
	for (i = 0; i < v->m->n; i++) {
		rm = &v->m->rules[i];
		fmt_quantile(p50, sizeof(p50), rm, 0.5);
		fmt_quantile(p90, sizeof(p90), rm, 0.9);
		fmt_quantile(p99, sizeof(p99), rm, 0.99);
		printf("  %-24s %10" PRIu64 " %8" PRIu64 " %6" PRIu64
		    " %9s %9s %9s\n", rm->rule[0] != '\0' ? rm->rule :
		    "(none)", rm->delivered, rm->retried, rm->dead, p50, p90,
		    p99);
	}
}

static bool
status_json(const struct dist_view *v)
{
	json_t	*o;
	bool	 ok;

	o = dist_status_json(v->outbox, v->outbox_age, &v->qs, v->m);
	ok = cmd_json_print(o);
	json_decref(o);
	return ok;
}

static int
dist_status(struct cmd_ctx *ctx, bool json)
{
	struct dist_view	 v;
	bool			 ok = true;

	if (!view_read(ctx, &v))
		return CMD_EXIT_FAIL;
	view_warn(&v);
	if (json)
		ok = status_json(&v);
	else
		status_text(&v);
	view_free(&v);
	if (!ok) {
		fprintf(stderr, "certgw: cannot write the status as JSON\n");
		return CMD_EXIT_FAIL;
	}
	return CMD_EXIT_OK;
}

/* --------------------------------------------------- Prometheus format */

/* ms as seconds without trailing zeros: 5 -> 0.005, 2500 -> 2.5. */
static void
fmt_secs(char *buf, size_t len, uint64_t ms)
{
	size_t	 n;

	snprintf(buf, len, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

/*
 * A label value, escaped as the text format wants: backslash, double
 * quote and line feed.  Rule names from the config never hold them; the
 * stats hash is read leniently enough that this stays a cheap guard.
 */
static void
prom_label(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", stdout);
		else if (*s == '"')
			fputs("\\\"", stdout);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void
prom_head(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
prom_gauge(const char *name, const char *help, const char *value)
{
	prom_head(name, "gauge", help);
	printf("%s %s\n", name, value);
}

static void
prom_outcome(const struct dist_rule_metrics *rm, const char *outcome,
    uint64_t n)
{
	printf("certgw_dist_deliveries_total{rule=\"");
	prom_label(rm->rule);
	printf("\",outcome=\"%s\"} %" PRIu64 "\n", outcome, n);
}

static void
prom_histogram(const struct dist_rule_metrics *rm)
{
	const char	*name = "certgw_dist_delivery_latency_seconds";
	char		 le[32];
	uint64_t	 cum = 0;
	size_t		 i;

	for (i = 0; i < DIST_LATENCY_NBUCKETS; i++) {
		/* Stored per bucket; Prometheus buckets are cumulative. */
		cum = rm->buckets[i] > UINT64_MAX - cum ? UINT64_MAX :
		    cum + rm->buckets[i];
		if (i < DIST_LATENCY_NBOUNDS)
			fmt_secs(le, sizeof(le), dist_latency_bounds_ms[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		printf("%s_bucket{rule=\"", name);
		prom_label(rm->rule);
		printf("\",le=\"%s\"} %" PRIu64 "\n", le, cum);
	}
	fmt_secs(le, sizeof(le), rm->sum_ms);
	printf("%s_sum{rule=\"", name);
	prom_label(rm->rule);
	printf("\"} %s\n", le);
	printf("%s_count{rule=\"", name);
	prom_label(rm->rule);
	printf("\"} %" PRIu64 "\n", cum);
}

static void
metrics_print(const struct dist_view *v)
{
	const struct dist_rule_metrics	*rm;
	char				 num[32];
	size_t				 i;

	prom_head("certgw_dist_deliveries_total", "counter",
	    "Jobs the push workers settled, by rule and outcome: delivered "
	    "(2xx), retried (delayed for another attempt), dead "
	    "(dead-lettered).");
	for (i = 0; i < v->m->n; i++) {
		rm = &v->m->rules[i];
		prom_outcome(rm, "delivered", rm->delivered);
		prom_outcome(rm, "retried", rm->retried);
		prom_outcome(rm, "dead", rm->dead);
	}
	snprintf(num, sizeof(num), "%zu", v->qs.jobs);
	prom_gauge("certgw_dist_queue_jobs", "Entries in the Redis job stream, "
	    "waiting or being pushed.", num);
	snprintf(num, sizeof(num), "%zu", v->qs.pending);
	prom_gauge("certgw_dist_queue_pending", "Jobs a worker has read and "
	    "not settled yet.", num);
	snprintf(num, sizeof(num), "%zu", v->qs.delayed);
	prom_gauge("certgw_dist_queue_delayed", "Jobs waiting for a retry.",
	    num);
	snprintf(num, sizeof(num), "%zu", v->qs.dead);
	prom_gauge("certgw_dist_queue_dead", "Dead letters in the Redis dead "
	    "stream.", num);
	snprintf(num, sizeof(num), "%zu", v->outbox);
	prom_gauge("certgw_dist_outbox_jobs", "Jobs in the store's outbox "
	    "not yet relayed to Redis.", num);
	snprintf(num, sizeof(num), "%lld", (long long)(v->outbox_age > 0 ?
	    v->outbox_age : 0));
	prom_gauge("certgw_dist_outbox_oldest_seconds", "Age of the oldest "
	    "job in the outbox; 0 when it is empty.", num);
	fmt_secs(num, sizeof(num), v->qs.oldest_ms);
	prom_gauge("certgw_dist_oldest_job_seconds", "Age of the oldest "
	    "entry in the Redis job stream; 0 when it is empty.", num);
	prom_head("certgw_dist_delivery_latency_seconds", "histogram",
	    "Time from a job entering the Redis job stream to the "
	    "receiver's 2xx, by rule.");
	for (i = 0; i < v->m->n; i++)
		prom_histogram(&v->m->rules[i]);
}

static int
dist_metrics(struct cmd_ctx *ctx)
{
	struct dist_view	 v;

	/* All read first: a failure prints nothing half-way. */
	if (!view_read(ctx, &v))
		return CMD_EXIT_FAIL;
	view_warn(&v);
	metrics_print(&v);
	view_free(&v);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "certgw: cannot write the metrics\n");
		return CMD_EXIT_FAIL;
	}
	return CMD_EXIT_OK;
}

/* The serial of a job's JSON, or "-". */
static void
job_serial(const struct dist_entry *e, char *out, size_t len)
{
	struct dist_job	*job = NULL;

	snprintf(out, len, "-");
	if (e->job != NULL && dist_job_parse(e->job, e->len, &job, NULL) ==
	    CG_OK)
		snprintf(out, len, "%s", job->serial);
	dist_job_free(job);
}

static int
dist_dead(struct cmd_ctx *ctx, const char *rule)
{
	struct dist_entry	*v = NULL;
	struct dist_redis	*r = NULL;
	struct cg_err		 err = { 0 };
	char			 serial[64];
	size_t			 n = 0, i;

	if (!redis_open(ctx, &r))
		return CMD_EXIT_FAIL;
	if (dist_dead_list(r, DIST_LIST_MAX, &v, &n, &err) != CG_OK) {
		dist_redis_close(r);
		return cmd_fail("cannot list dead letters", &err);
	}
	for (i = 0; i < n; i++) {
		if (rule != NULL && strcmp(v[i].rule, rule) != 0)
			continue;
		job_serial(&v[i], serial, sizeof(serial));
		printf("%s\t%s\t%s\t%s\n", v[i].id, v[i].rule, serial,
		    v[i].reason != NULL ? v[i].reason : "-");
	}
	dist_entries_free(v, n);
	dist_redis_close(r);
	return CMD_EXIT_OK;
}

/* Requeue one dead letter with its attempts reset. */
static bool
requeue(struct dist_redis *r, const struct dist_entry *e)
{
	struct cg_err	 err = { 0 };
	char		 rule[DIST_RULE_NAME_MAX + 1];

	if (dist_dead_retry(r, e, rule, sizeof(rule), &err) != CG_OK) {
		fprintf(stderr, "certgw: %s: %s\n", e->id, err.msg);
		return false;
	}
	printf("%s\t%s\tqueued again\n", e->id, rule);
	return true;
}

static int
dist_retry(struct cmd_ctx *ctx, const char *id, bool all)
{
	struct dist_entry	*v = NULL;
	struct dist_redis	*r = NULL;
	struct cg_err		 err = { 0 };
	size_t			 n = 0, i, done = 0;
	bool			 found = false, ok = true;

	if (!redis_open(ctx, &r))
		return CMD_EXIT_FAIL;
	if (dist_dead_list(r, DIST_LIST_MAX, &v, &n, &err) != CG_OK) {
		dist_redis_close(r);
		return cmd_fail("cannot list dead letters", &err);
	}
	for (i = 0; i < n; i++) {
		if (!all && strcmp(v[i].id, id) != 0)
			continue;
		found = true;
		if (requeue(r, &v[i]))
			done++;
		else
			ok = false;
	}
	dist_entries_free(v, n);
	dist_redis_close(r);
	if (!all && !found) {
		fprintf(stderr, "certgw: no dead letter %s\n", id);
		return CMD_EXIT_FAIL;
	}
	if (all)
		printf("%zu dead letter%s queued again\n", done,
		    done == 1 ? "" : "s");
	return ok ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}

struct redeliver {
	struct cmd_ctx		*ctx;
	struct dist_redis	*r;
	const struct ca_cert_rec *rec;
	const char		*only;	/* --rule, or NULL */
	size_t			 sent;
	bool			 failed;
};

static enum cg_code
redeliver_rule(struct redeliver *rd, const char *rule)
{
	struct cg_err	 err = { 0 };
	char		*json = NULL;
	uint32_t	 n = 0;

	if (dist_redis_next_redelivery(rd->r, rd->rec->serial, rule, &n,
	    &err) != CG_OK || dist_job_make(rd->rec, ca_get0_chain(rd->ctx->ca),
	    rule, n, cg_now(), &json, &err) != CG_OK ||
	    dist_redis_add_job(rd->r, json, rule, &err) != CG_OK) {
		fprintf(stderr, "certgw: rule %s: %s\n", rule, err.msg);
		rd->failed = true;
	} else {
		printf("%s\t%s\tqueued (%s.%s.%u)\n", rd->rec->serial, rule,
		    rd->rec->serial, rule, n);
		rd->sent++;
	}
	cg_free(json);
	return CG_OK;
}

static int
dist_redeliver(struct cmd_ctx *ctx, const char *serial, const char *only)
{
	struct redeliver	 rd;
	struct ca_cert_rec	*rec = NULL;
	struct cg_err		 err = { 0 };
	const struct gw_dist_rule *rules = ctx->conf->dist.rules;
	size_t			 i;
	bool			 known = only == NULL;

	for (i = 0; only != NULL && i < ctx->conf->dist.nrules; i++)
		if (strcmp(rules[i].name, only) == 0)
			known = true;
	if (!known) {
		fprintf(stderr, "certgw: no rule %s in the config\n", only);
		return CMD_EXIT_FAIL;
	}
	if (ca_store_cert_get(ctx->st, serial, &rec, &err) != CG_OK)
		return cmd_fail("no such certificate", &err);
	memset(&rd, 0, sizeof(rd));
	rd.ctx = ctx;
	rd.rec = rec;
	rd.only = only;
	if (!redis_open(ctx, &rd.r)) {
		ca_cert_rec_free(rec);
		return CMD_EXIT_FAIL;
	}
	if (only != NULL) {
		redeliver_rule(&rd, only);
	} else {
		for (i = 0; i < ctx->conf->dist.nrules; i++)
			if (dist_rule_matches(ctx->rules, i, rec))
				redeliver_rule(&rd, rules[i].name);
	}
	dist_redis_close(rd.r);
	ca_cert_rec_free(rec);
	if (rd.sent == 0 && !rd.failed) {
		fprintf(stderr, "certgw: certificate %s matches no rule\n",
		    serial);
		return CMD_EXIT_FAIL;
	}
	return rd.failed ? CMD_EXIT_FAIL : CMD_EXIT_OK;
}

int
cmd_dist(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "rule", required_argument, NULL, 'r' },
		{ "all-dead", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx	 ctx;
	const char	*config = NULL, *dir = NULL, *rule = NULL, *sub;
	bool		 all = false, json = false;
	unsigned	 need;
	int		 c, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		dist_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CMD_EXIT_USAGE : CMD_EXIT_OK;
	}
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "c:d:r:ajh", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'r': rule = optarg; break;
		case 'a': all = true; break;
		case 'j': json = true; break;
		case 'h': dist_usage(stdout); return CMD_EXIT_OK;
		default: return cmd_usage_error("dist", "bad option");
		}
	}
	if (json && strcmp(sub, "status") != 0)
		return cmd_usage_error("dist", "--json is for status only");
	if (strcmp(sub, "status") == 0 || strcmp(sub, "metrics") == 0 ||
	    strcmp(sub, "dead") == 0) {
		if (optind != argc || all)
			return cmd_usage_error("dist", "unexpected argument");
	} else if (strcmp(sub, "retry") == 0) {
		if ((all && optind != argc) || (!all && optind + 1 != argc))
			return cmd_usage_error("dist", "retry takes an ID or "
			    "--all-dead");
	} else if (strcmp(sub, "redeliver") == 0) {
		if (optind + 1 != argc || all)
			return cmd_usage_error("dist", "redeliver takes one "
			    "SERIAL");
	} else {
		return cmd_usage_error("dist", "unknown subcommand '%s'", sub);
	}
	need = strcmp(sub, "redeliver") == 0 ? CMD_NEED_STORE | CMD_NEED_CA :
	    strcmp(sub, "status") == 0 || strcmp(sub, "metrics") == 0 ?
	    CMD_NEED_STORE : 0;
	if (!cmd_ctx_open(&ctx, config, dir, need))
		return CMD_EXIT_FAIL;
	if (strcmp(sub, "status") == 0)
		rc = dist_status(&ctx, json);
	else if (strcmp(sub, "metrics") == 0)
		rc = dist_metrics(&ctx);
	else if (strcmp(sub, "dead") == 0)
		rc = dist_dead(&ctx, rule);
	else if (strcmp(sub, "retry") == 0)
		rc = dist_retry(&ctx, all ? NULL : argv[optind], all);
	else
		rc = dist_redeliver(&ctx, argv[optind], rule);
	cmd_ctx_close(&ctx);
	return rc;
}
