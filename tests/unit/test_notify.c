/*
 * test_notify.c - expiry notifications: when a certificate is due, the
 * scheduler's next run, --now parsing, templates and addresses, the
 * message builder (no header injection, RFC 2047, CRLF), the claims and
 * the lease in the store, the "notify" config, and whole runs with a fake
 * clock and a fake sender: the earliest certificate of an identity wins,
 * every_days holds, a failed send is tried again, a held lease stops a
 * second run, and two runs at once send once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ca_test.h"
#include "certgw/config.h"
#include "certgw/notify.h"

#define DAY	GW_DAY_S
#define T0	INT64_C(1800000000)	/* 2027-01-15T08:00:00Z */

/* ---------------------------------------------------------- the clock */

static void
test_due(void **state)
{
	(void)state;
	/* 30 days before T0 + 40 days: due from T0 + 10 days. */
	assert_false(gw_notify_due(T0, T0 + 40 * DAY, 30));
	assert_false(gw_notify_due(T0 + 10 * DAY - 1, T0 + 40 * DAY, 30));
	assert_true(gw_notify_due(T0 + 10 * DAY, T0 + 40 * DAY, 30));
	assert_true(gw_notify_due(T0 + 40 * DAY - 1, T0 + 40 * DAY, 30));
	/* Expired: nobody is told any more. */
	assert_false(gw_notify_due(T0 + 40 * DAY, T0 + 40 * DAY, 30));
	/* No notifications configured. */
	assert_false(gw_notify_due(T0 + 39 * DAY, T0 + 40 * DAY, 0));
}

static void
test_next_run(void **state)
{
	int64_t	 midnight = T0 - T0 % DAY;

	(void)state;
	/* T0 is 08:00 UTC. */
	assert_int_equal(T0 - midnight, 8 * 3600);
	assert_int_equal(gw_notify_next_run(T0, 9 * 60), midnight + 9 * 3600);
	assert_int_equal(gw_notify_next_run(T0, 6 * 60),
	    midnight + DAY + 6 * 3600);
	/* Exactly at run_at: the next day, so one run per day. */
	assert_int_equal(gw_notify_next_run(T0, 8 * 60), midnight + DAY +
	    8 * 3600);
	assert_int_equal(gw_notify_next_run(T0 - 1, 8 * 60), T0);
	assert_int_equal(gw_notify_next_run(midnight, 0), midnight + DAY);
	assert_int_equal(gw_notify_next_run(midnight, 23 * 60 + 59),
	    midnight + 23 * 3600 + 59 * 60);
}

static void
test_time_parse(void **state)
{
	static const char *const bad[] = { "", "2027-01-15",
	    "2027-01-15 08:00:00Z", "2027-01-15T08:00:00",
	    "2027-01-15T08:00:00+00:00",
	    "2027-13-01T00:00:00Z", "2027-02-29T00:00:00Z",
	    "2027-01-32T00:00:00Z", "2027-01-15T24:00:00Z",
	    "2027-01-15T08:60:00Z", "1969-12-31T23:59:59Z",
	    "2027-01-15T08:00:0aZ", "2027-01-15T08:00:00Zx" };
	int64_t		 t;
	size_t		 i;

	(void)state;
	assert_true(gw_notify_time_parse("2027-01-15T08:00:00Z", &t));
	assert_int_equal(t, T0);
	assert_true(gw_notify_time_parse("1970-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
	assert_true(gw_notify_time_parse("2028-02-29T23:59:59Z", &t));
	assert_int_equal(t, INT64_C(1835481599));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(gw_notify_time_parse(bad[i], &t));
	assert_false(gw_notify_time_parse(NULL, &t));
}

/* ------------------------------------------------- templates, addresses */

static void
test_template(void **state)
{
	const struct gw_notify_vars v = {
		.subject = "CN=alice", .not_after = "2027-02-01T00:00:00Z",
		.days_left = "3", .serial = "1A", .holder = "identity:alice",
		.profile = "short",
	};
	struct cg_buf	 b;
	struct cg_err	 err = { 0 };
	char		 why[200];

	(void)state;
	assert_true(gw_notify_template_check("plain text", why, sizeof(why)));
	assert_true(gw_notify_template_check("{subject}{not_after}{days_left}"
	    "{serial}{holder}{profile}", why, sizeof(why)));
	assert_false(gw_notify_template_check("{colour}", why, sizeof(why)));
	assert_string_equal(why, "unknown variable {colour}: expected "
	    "subject, not_after, days_left, serial, holder or profile");
	assert_false(gw_notify_template_check("a { b", why, sizeof(why)));
	assert_string_equal(why, "unbalanced '{'");
	assert_false(gw_notify_template_check("a } b", why, sizeof(why)));
	assert_false(gw_notify_template_check("{}", why, sizeof(why)));
	assert_false(gw_notify_template_check("{{serial}}", why,
	    sizeof(why)));

	cg_buf_init(&b, 1024);
	assert_int_equal(gw_notify_expand("{holder}: {serial} ({profile}) "
	    "{subject} until {not_after}, {days_left} days", &v, &b, &err),
	    CG_OK);
	assert_string_equal((char *)b.data, "identity:alice: 1A (short) "
	    "CN=alice until 2027-02-01T00:00:00Z, 3 days");
	cg_buf_reset(&b);
	assert_int_not_equal(gw_notify_expand("{nope}", &v, &b, &err), CG_OK);
	cg_buf_cleanup(&b);
	/* Bounded by the buffer. */
	cg_buf_init(&b, 8);
	assert_int_equal(gw_notify_expand("{holder}", &v, &b, &err),
	    CG_ETOOBIG);
	cg_buf_cleanup(&b);
}

static void
test_addr(void **state)
{
	char	 longaddr[300];

	(void)state;
	assert_true(gw_notify_addr_is_valid("alice@example.org"));
	assert_true(gw_notify_addr_is_valid("a.b+tag@mail-1.example"));
	assert_false(gw_notify_addr_is_valid("alice"));
	assert_false(gw_notify_addr_is_valid("@example.org"));
	assert_false(gw_notify_addr_is_valid("alice@"));
	assert_false(gw_notify_addr_is_valid("a lice@example.org"));
	assert_false(gw_notify_addr_is_valid("alice@example.org>\r\nBcc: x"));
	assert_false(gw_notify_addr_is_valid("<alice@example.org>"));
	assert_false(gw_notify_addr_is_valid("alice@exa mple.org"));
	assert_false(gw_notify_addr_is_valid("alice@example..org"));
	assert_false(gw_notify_addr_is_valid("a,b@example.org"));
	memset(longaddr, 'a', sizeof(longaddr));
	memcpy(longaddr + 250, "@x.org", 7);
	assert_false(gw_notify_addr_is_valid(longaddr));
}

/* ------------------------------------------------------------ messages */

static char *
build(const char *subject, const char *body)
{
	const char *const to[] = { "alice@example.org", "ops@example.org" };
	struct cg_buf	 b;
	struct cg_err	 err = { 0 };
	char		*s;

	cg_buf_init(&b, GW_NOTIFY_MSG_MAX);
	assert_int_equal(gw_notify_mail_build("certgw@ca.example", to, 2,
	    subject, body, T0, "id-1@ca.example", &b, &err), CG_OK);
	s = cg_strdup((char *)b.data);
	cg_buf_cleanup(&b);
	assert_non_null(s);
	return s;
}

/* Every LF is preceded by CR and every CR followed by LF. */
static void
assert_crlf_only(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\n')
			assert_true(i > 0 && s[i - 1] == '\r');
		if (s[i] == '\r')
			assert_true(s[i + 1] == '\n');
	}
}

static void
test_mail_build(void **state)
{
	char	*m, *body, *hdr_end, *line;
	char	 longline[2100];
	size_t	 n;

	(void)state;
	m = build("Expiring: 1A", "line one\nline two\r\n.\nlast");
	assert_crlf_only(m);
	assert_non_null(strstr(m, "Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"));
	assert_non_null(strstr(m, "From: <certgw@ca.example>\r\n"));
	assert_non_null(strstr(m, "To: <alice@example.org>,\r\n "
	    "<ops@example.org>\r\n"));
	assert_non_null(strstr(m, "Subject: Expiring: 1A\r\n"));
	assert_non_null(strstr(m, "Message-ID: <id-1@ca.example>\r\n"));
	assert_non_null(strstr(m, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(m, "Content-Type: text/plain; "
	    "charset=utf-8\r\n"));
	hdr_end = strstr(m, "\r\n\r\n");
	assert_non_null(hdr_end);
	assert_string_equal(hdr_end + 4,
	    "line one\r\nline two\r\n.\r\nlast\r\n");
	cg_free(m);

	/* A subject from a client cannot add a header. */
	m = build("CN=x\r\nBcc: victim@example.org\nX: y", "b");
	assert_crlf_only(m);
	assert_null(strstr(m, "\r\nBcc:"));
	assert_null(strstr(m, "\r\nX: y"));
	assert_non_null(strstr(m, "Subject: CN=x  Bcc: victim@example.org X: "
	    "y\r\n"));
	cg_free(m);

	/* Not ASCII: RFC 2047 encoded words, folded, never split UTF-8. */
	m = build("Zertifikat f\xc3\xbcr J\xc3\xbcrgen M\xc3\xbcller l\xc3\xa4"
	    "uft in 3 Tagen ab \xe2\x80\x94 bitte erneuern", "b");
	assert_crlf_only(m);
	assert_non_null(strstr(m, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(m, "?=\r\n =?UTF-8?B?"));
	assert_null(strstr(m, "\xc3"));
	cg_free(m);

	/* A long body line is broken at 998 bytes. */
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	m = build("s", longline);
	assert_crlf_only(m);
	body = strstr(m, "\r\n\r\n") + 4;
	for (line = body, n = 0; *line != '\0'; n++) {
		assert_true(strcspn(line, "\r") <= 998);
		line += strcspn(line, "\r") + 2;
	}
	assert_int_equal(n, 3);
	cg_free(m);
}

/* ------------------------------------------------------------- store */

struct sfx {
	char		 dir[PATH_MAX];
	char		 path[PATH_MAX + 16];
	struct ca_store	*st;
};

static int
sfx_setup(void **state)
{
	struct sfx	*fx = calloc(1, sizeof(*fx));
	struct cg_err	 err = { 0 };

	assert_non_null(fx);
	cafx_mkdtemp(fx->dir, sizeof(fx->dir), "test_notify");
	snprintf(fx->path, sizeof(fx->path), "%s/certgw.db", fx->dir);
	if (ca_store_open(fx->path, &fx->st, &err) != CG_OK)
		cafx_die("ca_store_open", &err);
	*state = fx;
	return 0;
}

static int
sfx_teardown(void **state)
{
	struct sfx	*fx = *state;

	ca_store_close(fx->st);
	cafx_rm_rf(fx->dir);
	free(fx);
	return 0;
}

static int64_t
claim(struct ca_store *st, const char *holder, const char *channel,
    int64_t at, int64_t window)
{
	struct ca_notify_rec	 r = { .holder = holder, .channel = channel,
				    .serial = "1A", .not_after = T0 + 9 * DAY,
				    .sent_at = at };
	struct cg_err		 err = { 0 };
	int64_t			 id = -1;

	assert_int_equal(ca_store_notify_claim(st, &r, window, &id, &err),
	    CG_OK);
	return id;
}

struct rows {
	char	 text[1024];
	size_t	 n;
};

static enum cg_code
row_cb(void *arg, const struct ca_notify_rec *r)
{
	struct rows	*rs = arg;
	size_t		 len = strlen(rs->text);

	snprintf(rs->text + len, sizeof(rs->text) - len, "%s%lld:%s:%s:%s",
	    rs->n++ > 0 ? " " : "", (long long)r->id, r->holder, r->channel,
	    r->status);
	return CG_OK;
}

static void
test_store_claims(void **state)
{
	struct sfx	*fx = *state;
	struct ca_store	*st2 = NULL;
	struct cg_err	 err = { 0 };
	struct rows	 rs = { 0 };
	int64_t		 a, b, last;

	assert_int_equal(ca_store_open(fx->path, &st2, &err), CG_OK);
	a = claim(fx->st, "identity:alice", "webhook:ops", T0, DAY);
	assert_true(a > 0);
	/* Another handle (a second gateway) within the day: nothing. */
	assert_int_equal(claim(st2, "identity:alice", "webhook:ops",
	    T0 + DAY / 2, DAY), 0);
	/* Another channel or holder is its own. */
	b = claim(st2, "identity:alice", "email:owner", T0, DAY);
	assert_true(b > a);
	assert_true(claim(st2, "cert:1A", "webhook:ops", T0, DAY) > b);
	/* A day later: again. */
	assert_true(claim(st2, "identity:alice", "webhook:ops", T0 + DAY,
	    DAY) > 0);
	assert_int_equal(ca_store_notify_last(fx->st, "identity:alice",
	    "webhook:ops", &last, &err), CG_OK);
	assert_int_equal(last, T0 + DAY);

	/* A failed send does not count: the next run tries again. */
	assert_int_equal(ca_store_notify_settle(fx->st, b, "failed",
	    "HTTP 503", &err), CG_OK);
	assert_true(claim(fx->st, "identity:alice", "email:owner", T0 + 60,
	    DAY) > 0);
	/* Settled once only; words are checked. */
	assert_int_equal(ca_store_notify_settle(fx->st, b, "sent", "", &err),
	    CG_ENOTFOUND);
	assert_int_equal(ca_store_notify_settle(fx->st, a, "sending", "",
	    &err), CG_EINVAL);
	assert_int_equal(ca_store_notify_settle(fx->st, a, "sent", "", &err),
	    CG_OK);
	assert_int_equal(ca_store_notify_last(fx->st, "nobody", "webhook:ops",
	    &last, &err), CG_OK);
	assert_int_equal(last, 0);

	assert_int_equal(ca_store_notify_list(fx->st, 3, row_cb, &rs, &err),
	    CG_OK);
	assert_int_equal(rs.n, 3);
	assert_string_equal(rs.text, "5:identity:alice:email:owner:sending "
	    "4:identity:alice:webhook:ops:sending "
	    "3:cert:1A:webhook:ops:sending");
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(ca_store_notify_list(fx->st, 0, row_cb, &rs, &err),
	    CG_OK);
	assert_int_equal(rs.n, 5);
	assert_non_null(strstr(rs.text, "2:identity:alice:email:owner:failed"));
	assert_non_null(strstr(rs.text, "1:identity:alice:webhook:ops:sent"));
	ca_store_close(st2);
}

static void
test_store_lease(void **state)
{
	struct sfx	*fx = *state;
	struct ca_store	*st2 = NULL;
	struct cg_err	 err = { 0 };

	assert_int_equal(ca_store_open(fx->path, &st2, &err), CG_OK);
	assert_int_equal(ca_store_notify_lease(fx->st, "notify", "gw-a", T0,
	    600, &err), CG_OK);
	memset(&err, 0, sizeof(err));
	assert_int_equal(ca_store_notify_lease(st2, "notify", "gw-b", T0 + 10,
	    600, &err), CG_ECONFLICT);
	assert_non_null(strstr(err.msg, "gw-a"));
	/* The holder renews; another lease name is free. */
	assert_int_equal(ca_store_notify_lease(fx->st, "notify", "gw-a",
	    T0 + 500, 600, &err), CG_OK);
	assert_int_equal(ca_store_notify_lease(st2, "other", "gw-b", T0, 600,
	    &err), CG_OK);
	/* Still held at T0 + 1099, free from T0 + 1100 (a crashed holder). */
	memset(&err, 0, sizeof(err));
	assert_int_equal(ca_store_notify_lease(st2, "notify", "gw-b",
	    T0 + 1099, 600, &err), CG_ECONFLICT);
	assert_int_equal(ca_store_notify_lease(st2, "notify", "gw-b",
	    T0 + 1100, 600, &err), CG_OK);
	/* Releasing someone else's lease does nothing; one's own frees it. */
	assert_int_equal(ca_store_notify_lease_release(fx->st, "notify",
	    "gw-a", &err), CG_OK);
	memset(&err, 0, sizeof(err));
	assert_int_equal(ca_store_notify_lease(fx->st, "notify", "gw-a",
	    T0 + 1200, 600, &err), CG_ECONFLICT);
	assert_int_equal(ca_store_notify_lease_release(st2, "notify", "gw-b",
	    &err), CG_OK);
	assert_int_equal(ca_store_notify_lease(fx->st, "notify", "gw-a",
	    T0 + 1200, 600, &err), CG_OK);
	assert_int_equal(ca_store_notify_lease(fx->st, "notify", "gw-a",
	    T0, 0, &err), CG_EINVAL);
	ca_store_close(st2);
}

/* -------------------------------------------------------------- config */

#define CONF_HEAD							\
	"{\n"								\
	"  \"listeners\": { \"https\": { \"cert\": \"s.pem\",\n"	\
	"                               \"key\": \"s.key\" } },\n"	\
	"  \"store\": { \"path\": \"certgw.db\" },\n"			\
	"  \"ca\": { \"cert\": \"ca.pem\", \"key\": \"ca.key\" },\n"

#define PROFILES							\
	"  \"profiles\": {\n"						\
	"    \"short\": { \"validity_days\": 10,\n"			\
	"      \"san\": { \"types\": [\"dns\", \"email\"] },\n"		\
	"      \"notify\": { \"days_before\": 30, \"every_days\": 1,\n"	\
	"        \"channels\": [\"webhook:ops\",\n"			\
	"                     \"email:owner\"] } },\n"			\
	"    \"long\": { \"validity_days\": 20,\n"			\
	"      \"san\": { \"types\": [\"dns\", \"email\"] },\n"		\
	"      \"notify\": { \"days_before\": 30,\n"			\
	"        \"channels\": [\"webhook:ops\",\n"			\
	"                     \"email:owner\"] } },\n"			\
	"    \"quiet\": { \"validity_days\": 5 }\n"			\
	"  },\n"

#define CHANNELS							\
	"  \"notifications\": { \"run_at\": \"06:30\",\n"		\
	"    \"channels\": {\n"						\
	"    \"ops\": { \"type\": \"webhook\",\n"			\
	"               \"url\": \"https://hooks.example/expiry\" },\n"	\
	"    \"owner\": { \"type\": \"email\",\n"			\
	"                 \"smtp_url\": \"smtp://127.0.0.1:25\",\n"	\
	"                 \"from\": \"certgw@ca.example\" }\n"		\
	"  } }\n"

static enum cg_code
parse(const char *text, struct gw_config **confp, struct cg_err *err)
{
	return gw_config_parse("c.json", "/nonexistent", (const uint8_t *)text,
	    strlen(text), false, confp, err);
}

static void
expect_error(const char *text, const char *msg)
{
	struct gw_config	*conf = NULL;
	struct cg_err		 err = { 0 };

	assert_int_not_equal(parse(text, &conf, &err), CG_OK);
	assert_null(conf);
	if (strcmp(err.msg, msg) != 0)
		print_error("got: %s\nwant: %s\n", err.msg, msg);
	assert_string_equal(err.msg, msg);
}

static void
test_config(void **state)
{
	struct gw_config		*conf = NULL;
	const struct gw_notify_channel	*ch;
	const struct ca_profile		*p;
	struct cg_err			 err = { 0 };

	(void)state;
	if (parse(CONF_HEAD PROFILES CHANNELS "}", &conf, &err) != CG_OK)
		cafx_die("parse", &err);
	assert_non_null(conf->notify);
	assert_int_equal(conf->notify->run_at_min, 6 * 60 + 30);
	assert_int_equal(conf->notify->nchannels, 2);
	ch = gw_notify_channel_find(conf->notify, "webhook:ops");
	assert_non_null(ch);
	assert_int_equal(ch->type, GW_NOTIFY_WEBHOOK);
	assert_int_equal(ch->tls.timeout_ms, GW_NOTIFY_TIMEOUT_DEFAULT);
	ch = gw_notify_channel_find(conf->notify, "email:owner");
	assert_non_null(ch);
	assert_true(ch->starttls);
	assert_int_equal(ch->to.n, 0);
	assert_non_null(ch->subject);
	assert_non_null(ch->body);
	assert_null(gw_notify_channel_find(conf->notify, "email:ops"));
	p = gw_config_profile(conf, "long");
	assert_int_equal(p->notify_days_before, 30);
	assert_int_equal(p->notify_every_days, 1);
	assert_int_equal(p->notify_channels.n, 2);
	p = gw_config_profile(conf, "quiet");
	assert_int_equal(p->notify_days_before, 0);
	gw_config_free(conf);

	/* Without the section: profiles may not name channels. */
	expect_error(CONF_HEAD PROFILES "\"log\": {} }",
	    "c.json:10: profiles.short.notify.channels[0]: profile 'short': "
	    "unknown channel 'webhook:ops' (expected a type \"webhook\" "
	    "channel in notifications.channels)");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5,\n"
	    "    \"notify\": { \"channels\": [\"email:ops\"] } } },\n"
	    CHANNELS "}",
	    "c.json:7: profiles.a.notify.channels[0]: profile 'a': unknown "
	    "channel 'email:ops' (expected a type \"email\" channel in "
	    "notifications.channels)");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5,\n"
	    "    \"notify\": { \"channels\": [\"sms:ops\"] } } },\n"
	    CHANNELS "}",
	    "c.json:7: profiles.a.notify.channels[0]: expected "
	    "\"webhook:<name>\" or \"email:<name>\", not 'sms:ops'");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5,\n"
	    "    \"notify\": { \"days_before\": 0, \"channels\": "
	    "[\"webhook:ops\"] } } },\n" CHANNELS "}",
	    "c.json:7: profiles.a.notify.days_before: expected an integer "
	    "between 1 and 3650");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5 } },\n"
	    "  \"notifications\": { \"run_at\": \"25:00\", \"channels\": {\n"
	    "    \"ops\": { \"type\": \"webhook\",\n"
	    "             \"url\": \"https://h/\" } } }}",
	    "c.json:7: notifications.run_at: expected \"HH:MM\" (UTC, 00:00 "
	    "to 23:59)");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5 } },\n"
	    "  \"notifications\": { \"channels\": {\n"
	    "    \"ops\": { \"type\": \"webhook\", \"url\": \"http://h/\" } } }"
	    "}",
	    "c.json:8: notifications.channels.ops.url: expected an https:// "
	    "URL");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5 } },\n"
	    "  \"notifications\": { \"channels\": {\n"
	    "    \"ops\": { \"type\": \"webhook\", \"url\": \"https://h/\",\n"
	    "               \"from\": \"a@b.example\" } } }}",
	    "c.json:9: notifications.channels.ops.from: only for email "
	    "channels");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5 } },\n"
	    "  \"notifications\": { \"channels\": {\n"
	    "    \"m\": { \"type\": \"email\", \"smtp_url\": \"smtp://h\",\n"
	    "             \"from\": \"a@b.example\",\n"
	    "             \"subject\": \"{serial} {colour}\" } } }}",
	    "c.json:10: notifications.channels.m.subject: unknown variable "
	    "{colour}: expected subject, not_after, days_left, serial, holder "
	    "or profile");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5 } },\n"
	    "  \"notifications\": { \"channels\": {\n"
	    "    \"m\": { \"type\": \"email\", \"smtp_url\": \"http://h\",\n"
	    "             \"from\": \"a@b.example\" } } }}",
	    "c.json:8: notifications.channels.m.smtp_url: expected "
	    "smtp://host[:port] or smtps://host[:port]");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5 } },\n"
	    "  \"notifications\": { \"channels\": {\n"
	    "    \"m\": { \"type\": \"email\", \"smtp_url\": \"smtp://h\",\n"
	    "             \"from\": \"a@b.example\", \"to\": [\"x\"] } } }}",
	    "c.json:9: notifications.channels.m.to[0]: expected an e-mail "
	    "address, not 'x'");
	expect_error(CONF_HEAD
	    "  \"profiles\": { \"a\": { \"validity_days\": 5 } },\n"
	    "  \"notifications\": { \"channels\": {\n"
	    "    \"m\": { \"type\": \"email\", \"smtp_url\": \"smtp://h\" } } }"
	    "}",
	    "c.json:8: notifications.channels.m: an email channel needs "
	    "\"from\"");
}

/* ----------------------------------------------------------- whole runs */

struct sent {
	char		 v[32][160];
	size_t		 n;
	bool		 fail;		/* the next sends fail */
	bool		 bad;		/* no claim, or too many */
	unsigned	 sleep_ms;	/* each send takes this long */
	pthread_mutex_t	 mu;
};

static bool
fake_send(void *arg, const struct gw_notify_channel *ch,
    const struct gw_notify_event *ev, int64_t id, char *detail,
    size_t dlen)
{
	struct sent	*s = arg;
	bool		 ok;

	/* Maybe on another thread: no cmocka asserts here. */
	if (s->sleep_ms > 0)
		usleep(s->sleep_ms * 1000);
	pthread_mutex_lock(&s->mu);
	if (id <= 0 || s->n == 32)
		s->bad = true;
	else
		snprintf(s->v[s->n++], sizeof(s->v[0]), "%s %s %s %s",
		    ch->ref, ev->holder, ev->serial, ev->email);
	ok = !s->fail;
	pthread_mutex_unlock(&s->mu);
	if (!ok)
		snprintf(detail, dlen, "HTTP 503");
	return ok;
}

struct rfx {
	struct ca_fx	 ca;
	struct gw_config *conf;
	char		 a_short[CA_SERIAL_HEX_MAX];
	char		 a_long[CA_SERIAL_HEX_MAX];
	char		 bob[CA_SERIAL_HEX_MAX];
	int64_t		 now;
	struct sent	 sent;
};

static void
issue(struct rfx *fx, const char *profile, const char *cn, const char *san,
    char *serial)
{
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	struct ca_csr		*csr;
	struct cg_err		 err = { 0 };
	EVP_PKEY		*key = cafx_key("ec-p256");

	csr = cafx_csr(key, cn, &san, 1);
	memset(&req, 0, sizeof(req));
	req.csr = csr;
	req.profile = gw_config_profile(fx->conf, profile);
	req.protocol = "cli";
	req.requester = "test";
	assert_non_null(req.profile);
	if (ca_issue(fx->ca.ca, fx->ca.st, &req, &is, &err) != CG_OK)
		cafx_die("ca_issue", &err);
	snprintf(serial, CA_SERIAL_HEX_MAX, "%s", is->serial);
	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
}

static int
rfx_setup(void **state)
{
	struct rfx		*fx = calloc(1, sizeof(*fx));
	struct ca_identity	 alice;
	struct ca_ident_map	 map;
	struct cg_err		 err = { 0 };
	char			 quiet[CA_SERIAL_HEX_MAX];
	int64_t			 id;

	assert_non_null(fx);
	cafx_create(&fx->ca, CA_INIT_EC_P256, false, NULL);
	if (parse(CONF_HEAD PROFILES CHANNELS "}", &fx->conf, &err) !=
	    CG_OK)
		cafx_die("parse", &err);
	memset(&alice, 0, sizeof(alice));
	alice.name = "alice";
	alice.email = "alice@example.org";
	alice.org = "";
	assert_int_equal(ca_store_identity_add(fx->ca.st, &alice, &id, &err),
	    CG_OK);
	memset(&map, 0, sizeof(map));
	map.identity_id = id;
	map.kind = CA_MAP_CN;
	map.value = "alice";
	map.subject = "";
	map.issuer = "";
	map.source = "manual";
	assert_int_equal(ca_store_map_add(fx->ca.st, &map, NULL, &err), CG_OK);
	/* The longer-lived one first: issue order must not matter. */
	issue(fx, "long", "alice", "DNS:a2.example", fx->a_long);
	issue(fx, "short", "alice", "DNS:a1.example", fx->a_short);
	issue(fx, "short", "bob", "DNS:bob.example", fx->bob);
	/* A profile without notifications: never anyone's. */
	issue(fx, "quiet", "carol", "DNS:carol.example", quiet);
	fx->now = cg_now() + 3600;
	pthread_mutex_init(&fx->sent.mu, NULL);
	*state = fx;
	return 0;
}

static int
rfx_teardown(void **state)
{
	struct rfx	*fx = *state;

	assert_false(fx->sent.bad);
	gw_config_free(fx->conf);
	cafx_destroy(&fx->ca);
	pthread_mutex_destroy(&fx->sent.mu);
	free(fx);
	return 0;
}

static enum cg_code
run_at(struct rfx *fx, struct ca_store *st, int64_t now, const char *owner,
    struct gw_notify_stats *s)
{
	struct gw_notify_opts	 o;
	struct cg_err		 err = { 0 };
	enum cg_code		 rc;

	memset(&o, 0, sizeof(o));
	o.now = now;
	o.owner = owner;
	o.send = fake_send;
	o.send_arg = &fx->sent;
	rc = gw_notify_run(fx->conf, st, &o, s, &err);
	if (rc != CG_OK && rc != CG_ECONFLICT)
		cafx_die("gw_notify_run", &err);
	return rc;
}

static bool
sent_has(const struct sent *s, const char *line)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], line) == 0)
			return true;
	return false;
}

static void
test_run_earliest_wins(void **state)
{
	struct rfx		*fx = *state;
	struct gw_notify_stats	 s;
	char			 line[160];

	assert_int_equal(run_at(fx, fx->ca.st, fx->now, NULL, &s), CG_OK);
	assert_int_equal(s.certs, 3);
	assert_int_equal(s.holders, 2);
	assert_int_equal(s.due, 2);
	/* alice: webhook and mail about the short one; bob: webhook only. */
	assert_int_equal(s.sent, 3);
	assert_int_equal(s.skipped, 1);
	assert_int_equal(fx->sent.n, 3);
	snprintf(line, sizeof(line), "webhook:ops identity:alice %s "
	    "alice@example.org", fx->a_short);
	assert_true(sent_has(&fx->sent, line));
	snprintf(line, sizeof(line), "email:owner identity:alice %s "
	    "alice@example.org", fx->a_short);
	assert_true(sent_has(&fx->sent, line));
	snprintf(line, sizeof(line), "webhook:ops cert:%s %s ", fx->bob,
	    fx->bob);
	assert_true(sent_has(&fx->sent, line));
}

static void
test_run_every_days(void **state)
{
	struct rfx		*fx = *state;
	struct gw_notify_stats	 s;

	assert_int_equal(run_at(fx, fx->ca.st, fx->now, NULL, &s), CG_OK);
	assert_int_equal(fx->sent.n, 3);
	/* 12 hours later: every_days is 1, nobody again. */
	assert_int_equal(run_at(fx, fx->ca.st, fx->now + 12 * 3600, NULL,
	    &s), CG_OK);
	assert_int_equal(fx->sent.n, 3);
	assert_int_equal(s.due, 2);
	assert_int_equal(s.already, 3);
	assert_int_equal(s.skipped, 1);
	/* 25 hours later: everyone again (bob's skipped mail was never a
	   notification, so it is looked at every run). */
	assert_int_equal(run_at(fx, fx->ca.st, fx->now + 25 * 3600, NULL,
	    &s), CG_OK);
	assert_int_equal(fx->sent.n, 6);
	assert_int_equal(s.sent, 3);
	/* Before the window: not due.  After expiry: nobody. */
	assert_int_equal(run_at(fx, fx->ca.st, fx->now - 30 * DAY, NULL, &s),
	    CG_OK);
	assert_int_equal(s.due, 0);
	assert_int_equal(run_at(fx, fx->ca.st, fx->now + 21 * DAY, NULL, &s),
	    CG_OK);
	assert_int_equal(s.certs, 0);
	assert_int_equal(fx->sent.n, 6);
}

static void
test_run_failed_retried(void **state)
{
	struct rfx		*fx = *state;
	struct gw_notify_stats	 s;

	fx->sent.fail = true;
	assert_int_equal(run_at(fx, fx->ca.st, fx->now, NULL, &s), CG_OK);
	assert_int_equal(s.failed, 3);
	assert_int_equal(s.sent, 0);
	fx->sent.fail = false;
	assert_int_equal(run_at(fx, fx->ca.st, fx->now + 60, NULL, &s), CG_OK);
	assert_int_equal(s.sent, 3);
	assert_int_equal(fx->sent.n, 6);
}

static void
test_run_lease_held(void **state)
{
	struct rfx		*fx = *state;
	struct gw_notify_stats	 s;
	struct cg_err		 err = { 0 };

	assert_int_equal(ca_store_notify_lease(fx->ca.st, GW_NOTIFY_LEASE,
	    "other-gateway", cg_now(), 600, &err), CG_OK);
	assert_int_equal(run_at(fx, fx->ca.st, fx->now, "me", &s),
	    CG_ECONFLICT);
	assert_int_equal(fx->sent.n, 0);
	assert_int_equal(ca_store_notify_lease_release(fx->ca.st,
	    GW_NOTIFY_LEASE, "other-gateway", &err), CG_OK);
	assert_int_equal(run_at(fx, fx->ca.st, fx->now, "me", &s), CG_OK);
	assert_int_equal(fx->sent.n, 3);
	/* The run gave the lease back. */
	assert_int_equal(ca_store_notify_lease(fx->ca.st, GW_NOTIFY_LEASE,
	    "other-gateway", cg_now(), 600, &err), CG_OK);
}

struct par {
	struct rfx	*fx;
	char		 owner[16];
	enum cg_code	 rc;
};

static void *
par_main(void *arg)
{
	struct par		*p = arg;
	struct ca_store		*st = NULL;
	struct gw_notify_stats	 s;
	struct cg_err		 err = { 0 };
	char			 db[PATH_MAX + 16];

	snprintf(db, sizeof(db), "%s/certgw.db", p->fx->ca.dir);
	if (ca_store_open(db, &st, &err) != CG_OK)
		cafx_die("ca_store_open", &err);
	p->rc = run_at(p->fx, st, p->fx->now, p->owner, &s);
	ca_store_close(st);
	return NULL;
}

static void
test_run_two_schedulers(void **state)
{
	struct rfx	*fx = *state;
	struct par	 p[4];
	pthread_t	 t[4];
	size_t		 i, ok = 0;

	fx->sent.sleep_ms = 50;
	for (i = 0; i < 4; i++) {
		p[i].fx = fx;
		snprintf(p[i].owner, sizeof(p[i].owner), "gw-%zu", i);
		assert_int_equal(pthread_create(&t[i], NULL, par_main, &p[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		if (p[i].rc == CG_OK)
			ok++;
	}
	assert_true(ok >= 1);
	/* However the lease went: each holder and channel exactly once. */
	assert_int_equal(fx->sent.n, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_next_run),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_mail_build),
		cmocka_unit_test_setup_teardown(test_store_claims, sfx_setup,
		    sfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_lease, sfx_setup,
		    sfx_teardown),
		cmocka_unit_test(test_config),
		cmocka_unit_test_setup_teardown(test_run_earliest_wins,
		    rfx_setup, rfx_teardown),
		cmocka_unit_test_setup_teardown(test_run_every_days,
		    rfx_setup, rfx_teardown),
		cmocka_unit_test_setup_teardown(test_run_failed_retried,
		    rfx_setup, rfx_teardown),
		cmocka_unit_test_setup_teardown(test_run_lease_held,
		    rfx_setup, rfx_teardown),
		cmocka_unit_test_setup_teardown(test_run_two_schedulers,
		    rfx_setup, rfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
