/*
 * notify.h - expiry notifications: the "notifications" config section and
 * the "notify" object of a profile (parsed in gateway/gw_config_notify.c
 * and gateway/gw_config_profile.c), the run that finds the holders whose
 * certificates are due and tells them by webhook or e-mail
 * (gateway/gw_notify.c; the sending in gateway/gw_notify_send.c), and the
 * scheduler thread of `certgw serve` that starts a run every day at
 * notifications.run_at.
 *
 * A holder is the identity a certificate maps to (ca_ident_resolve), or
 * the certificate itself ("cert:<serial>") when it maps to nobody.  Of a
 * holder's valid certificates under profiles with notifications, the one
 * that expires first decides: its profile's days_before, every_days and
 * channels.  A holder is notified once per channel per every_days, however
 * many runs and gateways there are: a run holds a lease in the store, and
 * claims each notification in the store before it sends.
 *
 * Threads: gw_notify_run() uses the store handle it is given and nothing
 * shared but the (immutable) config; the scheduler has its own handle.
 */
#ifndef CERTGW_NOTIFY_H
#define CERTGW_NOTIFY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certgw/config.h"
#include "certgw/core.h"
#include "certgw/store.h"

#define GW_NOTIFY_LEASE		"notify"	/* its name in the store */
#define GW_NOTIFY_LEASE_S	600	/* lease time, renewed per holder */
#define GW_NOTIFY_CHANNELS_MAX	32	/* notifications.channels */
#define GW_NOTIFY_NAME_MAX	64	/* a channel name */
#define GW_NOTIFY_TO_MAX	16	/* fixed recipients of a channel */
#define GW_NOTIFY_ADDR_MAX	254	/* one e-mail address (RFC 5321) */
#define GW_NOTIFY_SUBJECT_MAX	512	/* subject template bytes */
#define GW_NOTIFY_BODY_MAX	8192	/* body template bytes */
#define GW_NOTIFY_MSG_MAX	(64 * 1024) /* one built message or body */
#define GW_NOTIFY_DAYS_MAX	3650	/* profiles' notify.days_before */
#define GW_NOTIFY_EVERY_MAX	365	/* profiles' notify.every_days */
#define GW_NOTIFY_DAYS_DEFAULT	30
#define GW_NOTIFY_EVERY_DEFAULT	1
#define GW_NOTIFY_TIMEOUT_DEFAULT 10000	/* ms, one send */
#define GW_DAY_S		86400

enum gw_notify_type {
	GW_NOTIFY_WEBHOOK = 0,	/* HTTPS POST of a JSON object */
	GW_NOTIFY_EMAIL,	/* SMTP through libcurl */
	GW_NOTIFY__MAX
};

/* One entry of notifications.channels. */
struct gw_notify_channel {
	char		*name;		/* [a-z0-9_-]{1,64} */
	char		*ref;		/* "webhook:<name>", "email:<name>":
					   as profiles name it */
	enum gw_notify_type type;
	char		*url;		/* webhook: https:// URL */
	char		*smtp_url;	/* email: smtp:// or smtps:// */
	char		*from;		/* email: sender address */
	struct ca_strlist to;		/* email: fixed recipients;
					   empty: the holder's address */
	char		*subject;	/* email: template, one line */
	char		*body;		/* email: template */
	char		*username;	/* email: SMTP AUTH, or NULL */
	char		*password_file;	/* email: its password */
	bool		 starttls;	/* smtp://: require STARTTLS
					   (default); false: in clear */
	/*
	 * "tls" and "timeout_ms", read by the distribution rule's parser
	 * into a rule and applied by dist_push_tls_setopt(), so that a
	 * channel connects exactly as a push does.  Only name (= ref), the
	 * TLS fields and timeout_ms are used.
	 */
	struct gw_dist_rule tls;
};

struct gw_notify_conf {
	bool		 enabled;	/* "notifications" is present */
	uint32_t	 run_at_min;	/* "run_at": minutes past 00:00Z */
	struct gw_notify_channel *channels; /* "channels": {name: {...}} */
	size_t		 nchannels;
};

/* The channel a profile names ("webhook:ops"), or NULL. */
const struct gw_notify_channel *gw_notify_channel_find(
		    const struct gw_notify_conf *nc, const char *ref);

/* ------------------------------------------------------------ templates */

/*
 * Templates are text with {variable} placeholders: {subject} (the
 * certificate's subject), {not_after} (RFC 3339), {days_left}, {serial},
 * {holder} ("identity:<name>" or "cert:<serial>") and {profile}.  Every
 * '{' starts a placeholder; there is no escape.
 */
struct gw_notify_vars {
	const char	*subject;
	const char	*not_after;
	const char	*days_left;
	const char	*serial;
	const char	*holder;
	const char	*profile;
};
/*
 * Whether every placeholder of t is known and braces pair up; when not,
 * why (for a config error: "unknown variable {x}: expected ...") is
 * written to why.
 */
bool		 gw_notify_template_check(const char *t, char *why,
		    size_t whylen);
/* Append t with its placeholders replaced to out (bounded by its max). */
enum cg_code	 gw_notify_expand(const char *t,
		    const struct gw_notify_vars *v, struct cg_buf *out,
		    struct cg_err *err);
/*
 * An address as a channel's "from" and "to" and a holder's address must
 * be: local@domain, printable ASCII without spaces, angle brackets,
 * quotes, commas or semicolons, at most GW_NOTIFY_ADDR_MAX bytes.
 */
bool		 gw_notify_addr_is_valid(const char *s);

/* ------------------------------------------------------------- the run */

/* Whether a certificate expiring at not_after is due at now. */
bool		 gw_notify_due(int64_t now, int64_t not_after,
		    uint32_t days_before);
/* The first time after now that is run_at_min minutes past 00:00 UTC. */
int64_t		 gw_notify_next_run(int64_t now, uint32_t run_at_min);
/* "2027-01-01T06:00:00Z" (UTC only) into unix seconds; false if bad. */
bool		 gw_notify_time_parse(const char *s, int64_t *tp);

/*
 * An RFC 5322 message into out: Date (from date), From, To (the n
 * addresses), Subject (control bytes become spaces; non-ASCII is
 * RFC 2047 encoded), Message-ID (msgid, without brackets),
 * MIME-Version, Content-Type text/plain; charset=utf-8, 8bit, then body
 * with CRLF line ends (lines longer than 998 bytes are broken).  The
 * addresses must have passed gw_notify_addr_is_valid().
 */
enum cg_code	 gw_notify_mail_build(const char *from,
		    const char *const *to, size_t n, const char *subject,
		    const char *body, int64_t date, const char *msgid,
		    struct cg_buf *out, struct cg_err *err);

/* One notification as decided, for the caller's report. */
struct gw_notify_event {
	const char	*holder;	/* "identity:alice", "cert:1A" */
	const char	*channel;	/* "webhook:ops" */
	const char	*serial;	/* the certificate that decided */
	const char	*subject;	/* its subject */
	const char	*profile;
	const char	*email;		/* the holder's address, "" */
	int64_t		 not_after;
	int64_t		 days_left;	/* whole days from now */
	const char	*status;	/* "sent", "failed", "skipped"; with
					   dry_run "due" */
	const char	*detail;	/* why it failed or was skipped, "" */
};

/*
 * Send one notification (the webhook or mail of ev->channel); for tests,
 * which replace the network.  *detail (a buffer of detail_len) says why
 * when it returns false.
 */
typedef bool	 gw_notify_send_fn(void *arg,
		    const struct gw_notify_channel *ch,
		    const struct gw_notify_event *ev, int64_t id,
		    char *detail, size_t detail_len);
typedef void	 gw_notify_report_fn(void *arg,
		    const struct gw_notify_event *ev);

struct gw_notify_opts {
	int64_t		 now;		/* the clock (`--now`) */
	bool		 dry_run;	/* decide and report; send,
					   record and lease nothing */
	const char	*owner;		/* lease owner; NULL: made up */
	gw_notify_send_fn *send;	/* NULL: webhook and SMTP */
	void		*send_arg;
	gw_notify_report_fn *report;	/* NULL: none */
	void		*report_arg;
	const atomic_bool *stop;	/* NULL, or true to end the run
					   before its next holder */
};

struct gw_notify_stats {
	size_t		 certs;		/* certificates looked at */
	size_t		 holders;	/* their holders */
	size_t		 due;		/* holders due */
	size_t		 sent;
	size_t		 failed;
	size_t		 skipped;
	size_t		 already;	/* notified within every_days */
};

/*
 * One run at o->now: take the lease (CG_ECONFLICT naming its owner when
 * another run holds it), find every holder due, claim, send, settle and
 * audit each notification (actor "notify"), report each through
 * o->report, and give the lease back.  A failed send is recorded and
 * reported, not an error: the next run tries again.  Errors are the
 * store's.  *stats (may be NULL) counts what happened.
 */
enum cg_code	 gw_notify_run(const struct gw_config *conf,
		    struct ca_store *st, const struct gw_notify_opts *o,
		    struct gw_notify_stats *stats, struct cg_err *err);

/* ------------------------------------------------------ the scheduler */

struct gw_notifier;
/*
 * Start the scheduler of `certgw serve` when conf has a "notifications"
 * section (*np stays NULL otherwise): a thread with its own store handle
 * that sleeps until the next run_at and runs gw_notify_run() at the real
 * clock.  conf must outlive it.
 */
enum cg_code	 gw_notifier_start(const struct gw_config *conf,
		    struct gw_notifier **np, struct cg_err *err);
/* Wake the thread, wait for it (a run in progress ends after its current
   send) and free it.  NULL is a no-op. */
void		 gw_notifier_stop(struct gw_notifier *n);

#endif /* CERTGW_NOTIFY_H */
