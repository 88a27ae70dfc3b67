/*
 * cmd_notify.c - `certgw notify run|list`: one run of the expiry
 * notifications now (what `certgw serve` does every day at
 * notifications.run_at), optionally at another clock (--now, for tests and
 * for a look ahead with --dry-run), and the record of what was sent.  The
 * work is gw_notify_run() (gateway/gw_notify.c); the lease in the store
 * keeps this run from racing a gateway's scheduler.
 */
#include "cmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "certgw/notify.h"

#define LIST_DEFAULT	50
#define LIST_MAX	100000

struct run_out {
	bool		 json;
	json_t		*arr;		/* events, for --json */
	bool		 oom;
};

/* Holders, subjects and details may come from clients: printable only. */
static void
safe_copy(const char *s, char *out, size_t outlen)
{
	size_t	 i;

	snprintf(out, outlen, "%s", s != NULL ? s : "");
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 ||
		    (unsigned char)out[i] == 0x7f)
			out[i] = '?';
}

static void
run_report(void *arg, const struct gw_notify_event *ev)
{
	struct run_out	*ro = arg;
	json_t		*o;
	char		 na[32], detail[512];
	char		 holder[CA_NOTIFY_TEXT_MAX + 1];

	cg_time_fmt(ev->not_after, na, sizeof(na));
	if (ro->json) {
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}",
		    "status", ev->status, "holder", ev->holder,
		    "channel", ev->channel, "serial", ev->serial,
		    "profile", ev->profile, "not_after", na,
		    "days_left", (json_int_t)ev->days_left,
		    "email", ev->email, "detail", ev->detail);
		if (o == NULL || json_array_append_new(ro->arr, o) != 0)
			ro->oom = true;
		return;
	}
	safe_copy(ev->holder, holder, sizeof(holder));
	safe_copy(ev->detail, detail, sizeof(detail));
	printf("%-7s  %-24s  %-16s  %-20s  %3" PRId64 "d  %s%s%s\n",
	    ev->status, holder, ev->channel, na, ev->days_left, ev->serial,
	    detail[0] != '\0' ? "  " : "", detail);
}

static json_t *
stats_json(const struct gw_notify_stats *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "certs", (json_int_t)s->certs, "holders", (json_int_t)s->holders,
	    "due", (json_int_t)s->due, "sent", (json_int_t)s->sent,
	    "failed", (json_int_t)s->failed, "skipped", (json_int_t)s->skipped,
	    "already", (json_int_t)s->already);
}

static void
run_usage(FILE *f)
{
	fprintf(f,
"usage: certgw notify run [--now 2027-01-01T06:00:00Z] [--dry-run] [--json]\n"
"        [--config F | --dir D]\n"
"\n"
"Notify every holder whose certificate is due, once per channel per\n"
"every_days, as the scheduler of certgw serve does at notifications.run_at.\n"
"\n"
"  --now T     decide as if the time were T (UTC); for tests and previews\n"
"  --dry-run   show who is due on which channel; send and record nothing\n"
"  --json      print the notifications and counts as JSON\n");
}

static int
notify_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "now", required_argument, NULL, 'n' },
		{ "dry-run", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct gw_notify_opts	 o;
	struct gw_notify_stats	 s;
	struct run_out		 ro = { 0 };
	struct cmd_ctx		 ctx;
	struct cg_err		 err = { 0 };
	const char		*config = NULL, *dir = NULL;
	json_t			*out = NULL;
	char			 detail[256], now[32];
	enum cg_code		 rc;
	int			 c, ret = CMD_EXIT_FAIL;

	memset(&o, 0, sizeof(o));
	o.now = cg_now();
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!gw_notify_time_parse(optarg, &o.now))
				return cmd_usage_error("notify run", "--now "
				    "expects a UTC time like "
				    "2027-01-01T06:00:00Z");
			break;
		case 'r': o.dry_run = true; break;
		case 'j': ro.json = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			run_usage(stdout);
			return CMD_EXIT_OK;
		default: return cmd_usage_error("notify run", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("notify run", "unexpected argument '%s'",
		    argv[optind]);
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (ctx.conf->notify == NULL) {
		fprintf(stderr, "certgw: notify run: the config has no "
		    "\"notifications\" section\n");
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "certgw: notify run: cannot initialise "
		    "libcurl\n");
		goto out;
	}
	if ((ro.arr = json_array()) == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		goto out;
	}
	o.report = run_report;
	o.report_arg = &ro;
	rc = gw_notify_run(ctx.conf, ctx.st, &o, &s, &err);
	if (rc == CG_ECONFLICT) {
		/* Another gateway or run is at it: nothing is lost. */
		if (ro.json) {
			out = json_pack("{s:s, s:s}", "result", "lease_held",
			    "detail", err.msg);
			cmd_json_print(out);
		} else
			printf("notify: %s; nothing done\n", err.msg);
		ret = CMD_EXIT_OK;
		goto out;
	}
	if (rc != CG_OK) {
		cmd_fail("notify run", &err);
		goto out;
	}
	if (!o.dry_run) {
		snprintf(detail, sizeof(detail), "sent=%zu failed=%zu "
		    "skipped=%zu due=%zu", s.sent, s.failed, s.skipped, s.due);
		if (ca_store_audit_add(ctx.st, ctx.actor, "notify run", "",
		    "ok", detail, &err) != CG_OK) {
			cmd_fail("cannot write the audit log", &err);
			goto out;
		}
	}
	cg_time_fmt(o.now, now, sizeof(now));
	if (ro.json) {
		out = json_pack("{s:s, s:s, s:b, s:O, s:o}", "result", "done",
		    "now", now, "dry_run", o.dry_run, "notifications", ro.arr,
		    "counts", stats_json(&s));
		if (out == NULL || ro.oom || !cmd_json_print(out)) {
			fprintf(stderr, "certgw: cannot print JSON\n");
			goto out;
		}
	} else
		printf("notify: %s%zu holder%s due at %s: %zu sent, %zu "
		    "failed, %zu skipped, %zu already notified\n", o.dry_run ?
		    "dry run: " : "", s.due, s.due == 1 ? "" : "s", now,
		    s.sent, s.failed, s.skipped, s.already);
	ret = s.failed > 0 ? CMD_EXIT_FAIL : CMD_EXIT_OK;
out:
	json_decref(out);
	json_decref(ro.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

struct list_out {
	bool		 json;
	json_t		*arr;
};

static enum cg_code
list_row(void *arg, const struct ca_notify_rec *r)
{
	struct list_out	*lo = arg;
	json_t		*o;
	char		 na[32], at[32], holder[CA_NOTIFY_TEXT_MAX + 1];
	char		 detail[CA_STORE_TEXT_MAX + 1];

	cg_time_fmt(r->not_after, na, sizeof(na));
	cg_time_fmt(r->sent_at, at, sizeof(at));
	if (lo->json) {
		o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		    "id", (json_int_t)r->id, "sent_at", at, "status",
		    r->status, "holder", r->holder, "channel", r->channel,
		    "serial", r->serial, "not_after", na, "detail", r->detail);
		if (o == NULL || json_array_append_new(lo->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	safe_copy(r->holder, holder, sizeof(holder));
	safe_copy(r->detail, detail, sizeof(detail));
	printf("%-6" PRId64 "  %-20s  %-7s  %-24s  %-16s  %s%s%s\n", r->id, at,
	    r->status, holder, r->channel, r->serial,
	    detail[0] != '\0' ? "  " : "", detail);
	return CG_OK;
}

static int
notify_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct list_out	 lo = { 0 };
	struct cmd_ctx	 ctx;
	struct cg_err	 err = { 0 };
	const char	*config = NULL, *dir = NULL;
	uint64_t	 limit = LIST_DEFAULT;
	int		 c, ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (!cg_parse_u64(optarg, strlen(optarg), LIST_MAX,
			    &limit) || limit == 0)
				return cmd_usage_error("notify list", "--limit "
				    "is 1 to %d", LIST_MAX);
			break;
		case 'j': lo.json = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw notify list [--limit N] [--json] "
			    "[--config F | --dir D]\n\n"
			    "The newest notifications (default %d), newest "
			    "first.\n", LIST_DEFAULT);
			return CMD_EXIT_OK;
		default: return cmd_usage_error("notify list", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("notify list", "unexpected argument "
		    "'%s'", argv[optind]);
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if ((lo.arr = json_array()) == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		goto out;
	}
	if (!lo.json)
		printf("%-6s  %-20s  %-7s  %-24s  %-16s  %s\n", "ID", "SENT_AT",
		    "STATUS", "HOLDER", "CHANNEL", "SERIAL  DETAIL");
	if (ca_store_notify_list(ctx.st, (size_t)limit, list_row, &lo, &err) !=
	    CG_OK) {
		cmd_fail("cannot list notifications", &err);
		goto out;
	}
	if (lo.json && !cmd_json_print(lo.arr)) {
		fprintf(stderr, "certgw: cannot print JSON\n");
		goto out;
	}
	ret = CMD_EXIT_OK;
out:
	json_decref(lo.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

static const struct cmd notify_subs[] = {
	{ "run", notify_run, "notify the holders of certificates due now" },
	{ "list", notify_list, "show the notifications sent, newest first" },
};

int
cmd_notify(int argc, char **argv)
{
	return cmd_sub("notify", notify_subs,
	    sizeof(notify_subs) / sizeof(notify_subs[0]), argc, argv);
}
