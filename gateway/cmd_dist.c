/*
 * cmd_dist.c - `certgw dist status|dead|retry|redeliver`: the admin's view
 * of distribution.  status reads the outbox (store) and the queue (Redis);
 * dead lists dead letters; retry puts dead letters back with their attempt
 * count reset; redeliver sends an issued certificate again on purpose,
 * with a new idempotency key.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certgw/dist.h"
#include "certgw/dist_queue.h"

#define DIST_LIST_MAX	1024	/* dead letters shown or retried at once */

static void
dist_usage(FILE *f)
{
	fprintf(f,
"usage: certgw dist status [--config FILE | --dir DIR]\n"
"       certgw dist dead [--rule R] [--config FILE | --dir DIR]\n"
"       certgw dist retry (ID | --all-dead) [--config FILE | --dir DIR]\n"
"       certgw dist redeliver SERIAL [--rule R] [--config FILE | --dir DIR]\n"
"\n"
"status     jobs waiting in the outbox and in Redis (queued, being pushed,\n"
"           delayed for a retry, dead) and the counters per rule\n"
"dead       the dead letters: id, rule, serial, reason\n"
"retry      put dead letter ID (or all of them) back in the queue, with\n"
"           the attempt count reset\n"
"redeliver  push an issued certificate again to every rule it matches\n"
"           (or only to --rule R), with a new Idempotency-Key\n");
}

static uint64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

static void
counter_print(void *arg, const char *name, long long n)
{
	printf("  %-40s %lld\n", name, n);
}

static int
dist_status(struct cmd_ctx *ctx)
{
	struct dist_queue_stats	 qs;
	struct dist_redis	*r = NULL;
	struct cg_err		 err = { 0 };
	size_t			 outbox = 0;
	int64_t			 age = 0;

	if (ca_store_outbox_count(ctx->st, &outbox, &err) != CG_OK ||
	    ca_store_outbox_oldest(ctx->st, cg_now(), &age, &err) != CG_OK)
		return cmd_fail("cannot read the outbox", &err);
	printf("outbox:   %zu not yet in Redis (oldest %llds)\n", outbox,
	    (long long)age);
	if (!redis_open(ctx, &r))
		return CMD_EXIT_FAIL;
	if (dist_queue_stats(r, wall_ms(), &qs, &err) != CG_OK) {
		dist_redis_close(r);
		return cmd_fail("cannot read the queue", &err);
	}
	printf("queued:   %zu (oldest %llus)\n", qs.jobs,
	    (unsigned long long)(qs.oldest_ms / 1000));
	printf("pushing:  %zu\n", qs.pending);
	printf("delayed:  %zu\n", qs.delayed);
	printf("dead:     %zu\n", qs.dead);
	printf("counters:\n");
	if (dist_redis_counters(r, counter_print, NULL, &err) != CG_OK) {
		dist_redis_close(r);
		return cmd_fail("cannot read the counters", &err);
	}
	dist_redis_close(r);
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
	struct dist_job	*job = NULL;
	struct cg_err	 err = { 0 };
	char		*json = NULL;
	bool		 ok = false;

	if (dist_job_parse(e->job, e->len, &job, &err) != CG_OK) {
		fprintf(stderr, "certgw: %s: unreadable job: %s\n", e->id,
		    err.msg);
		return false;
	}
	job->attempt = 0;
	cg_free(job->last_error);
	job->last_error = NULL;
	job->created_at = cg_now();
	if (dist_job_to_json(job, &json, &err) == CG_OK &&
	    dist_dead_requeue(r, e->id, json, &err) == CG_OK) {
		printf("%s\t%s\tqueued again\n", e->id, job->rule);
		ok = true;
	} else {
		fprintf(stderr, "certgw: %s: %s\n", e->id, err.msg);
	}
	cg_free(json);
	dist_job_free(job);
	return ok;
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx	 ctx;
	const char	*config = NULL, *dir = NULL, *rule = NULL, *sub;
	bool		 all = false;
	unsigned	 need;
	int		 c, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		dist_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CMD_EXIT_USAGE : CMD_EXIT_OK;
	}
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "c:d:r:ah", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'r': rule = optarg; break;
		case 'a': all = true; break;
		case 'h': dist_usage(stdout); return CMD_EXIT_OK;
		default: return cmd_usage_error("dist", "bad option");
		}
	}
	if (strcmp(sub, "status") == 0 || strcmp(sub, "dead") == 0) {
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
	    strcmp(sub, "status") == 0 ? CMD_NEED_STORE : 0;
	if (!cmd_ctx_open(&ctx, config, dir, need))
		return CMD_EXIT_FAIL;
	if (strcmp(sub, "status") == 0)
		rc = dist_status(&ctx);
	else if (strcmp(sub, "dead") == 0)
		rc = dist_dead(&ctx, rule);
	else if (strcmp(sub, "retry") == 0)
		rc = dist_retry(&ctx, all ? NULL : argv[optind], all);
	else
		rc = dist_redeliver(&ctx, argv[optind], rule);
	cmd_ctx_close(&ctx);
	return rc;
}
