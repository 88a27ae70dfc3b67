/*
 * gw_notify_send.c - the sending side of expiry notifications: the RFC 5322
 * message builder, the webhook POST through libcurl (with the TLS setup of
 * the distribution pushes, dist_push_tls_setopt) and the mail through
 * libcurl's SMTP client.  Not what is due, claims, records or the lease:
 * those are the run's, in gateway/gw_notify.c.
 */
#include "gw_notify_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "certgw/dist_push.h"

#ifndef CERTGW_VERSION
#define CERTGW_VERSION	"0"
#endif

#define USER_AGENT	"certgw/" CERTGW_VERSION
#define CONNECT_MS	5000	/* connect timeout ceiling */
#define REPLY_MAX	(64 * 1024) /* webhook answer bytes read */
#define LINE_MAX_OCTETS	998	/* RFC 5322 2.1.1 */
#define SUBJECT_SHOW	900	/* bytes of a subject kept */
#define WORD_OCTETS	45	/* bytes per RFC 2047 encoded word */

/* ----------------------------------------------------------- messages */

/* "Tue, 01 Dec 2026 06:00:00 +0000" (RFC 5322 3.3), locale-free. */
static void
mail_date(int64_t t, char *out, size_t outlen)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    wd[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Where a cut of s at most n bytes long may end (not inside UTF-8). */
static size_t
utf8_cut(const unsigned char *s, size_t len, size_t n)
{
	if (n >= len)
		return len;
	while (n > 0 && (s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * The Subject header: control bytes (a CR or LF would start a header of
 * the sender's choosing) become spaces; text that is not all ASCII goes
 * as RFC 2047 "B" encoded words, one per line, folded.
 */
static enum cg_code
mail_subject(const char *subject, struct cg_buf *out, struct cg_err *err)
{
	unsigned char	 clean[SUBJECT_SHOW + 1];
	char		 b64[4 * ((WORD_OCTETS + 2) / 3) + 1];
	size_t		 len, i, n, cut;
	bool		 ascii = true;
	enum cg_code	 rc;

	len = utf8_cut((const unsigned char *)subject, strlen(subject),
	    SUBJECT_SHOW);
	for (i = 0; i < len; i++) {
		clean[i] = (unsigned char)subject[i];
		if (clean[i] < 0x20 || clean[i] == 0x7f)
			clean[i] = ' ';
		if (clean[i] >= 0x80)
			ascii = false;
	}
	clean[len] = '\0';
	rc = cg_buf_addstr(out, "Subject: ", err);
	if (rc == CG_OK && ascii)
		return cg_buf_add(out, clean, len, err);
	for (i = 0; rc == CG_OK && i < len; i += n) {
		cut = utf8_cut(clean + i, len - i, WORD_OCTETS);
		n = cut > 0 ? cut : (len - i < WORD_OCTETS ? len - i :
		    WORD_OCTETS);
		cg_base64_encode_to(clean + i, n, b64, false);
		rc = cg_buf_printf(out, err, "%s=?UTF-8?B?%s?=",
		    i > 0 ? "\r\n " : "", b64);
	}
	return rc;
}

/* The body with CRLF line ends and no line over 998 bytes. */
static enum cg_code
mail_body(const char *body, struct cg_buf *out, struct cg_err *err)
{
	const char	*p;
	size_t		 col = 0;
	enum cg_code	 rc = CG_OK;

	for (p = body; rc == CG_OK && *p != '\0'; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\r' || *p == '\n' || col == LINE_MAX_OCTETS) {
			rc = cg_buf_add(out, "\r\n", 2, err);
			col = 0;
			if (*p == '\r' || *p == '\n')
				continue;
		}
		if (rc == CG_OK)
			rc = cg_buf_add(out, p, 1, err);
		col++;
	}
	if (rc == CG_OK && col > 0)
		rc = cg_buf_add(out, "\r\n", 2, err);
	return rc;
}

enum cg_code
gw_notify_mail_build(const char *from, const char *const *to, size_t n,
    const char *subject, const char *body, int64_t date, const char *msgid,
    struct cg_buf *out, struct cg_err *err)
{
	char		 when[64];
	size_t		 i;
	enum cg_code	 rc;

	mail_date(date, when, sizeof(when));
	rc = cg_buf_printf(out, err, "Date: %s\r\nFrom: <%s>\r\nTo: ", when,
	    from);
	for (i = 0; rc == CG_OK && i < n; i++)
		rc = cg_buf_printf(out, err, "%s<%s>", i > 0 ? ",\r\n " : "",
		    to[i]);
	if (rc == CG_OK)
		rc = cg_buf_addstr(out, "\r\n", err);
	if (rc == CG_OK)
		rc = mail_subject(subject, out, err);
	if (rc == CG_OK)
		rc = cg_buf_printf(out, err, "\r\nMessage-ID: <%s>\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n"
		    "Auto-Submitted: auto-generated\r\n\r\n", msgid);
	if (rc == CG_OK)
		rc = mail_body(body, out, err);
	return rc;
}

/* ------------------------------------------------------------ sending */

static size_t
reply_discard(char *data, size_t size, size_t n, void *arg)
{
	size_t	*seen = arg;

	(void)data;
	*seen += size * n;
	/* Returning less than given makes libcurl stop the transfer. */
	return *seen > REPLY_MAX ? 0 : size * n;
}

struct upload {
	const uint8_t	*p;
	size_t		 left;
};

static size_t
upload_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload	*u = arg;
	size_t		 take = size * n < u->left ? size * n : u->left;

	memcpy(buf, u->p, take);
	u->p += take;
	u->left -= take;
	return take;
}

/* Options every send has: no signals, bounded time, the channel's TLS. */
static bool
curl_common(CURL *c, const struct gw_notify_channel *ch, char *errbuf,
    const char *p12_pass, char *detail, size_t dlen)
{
	struct cg_err	 e = { 0 };
	long		 t = (long)ch->tls.timeout_ms;

	if (curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    t < CONNECT_MS ? t : (long)CONNECT_MS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK) {
		snprintf(detail, dlen, "libcurl refused an option");
		return false;
	}
	if (dist_push_tls_setopt(c, &ch->tls, p12_pass, &e) != CG_OK) {
		snprintf(detail, dlen, "%s", e.msg);
		return false;
	}
	return true;
}

static void
curl_why(CURLcode cc, const char *errbuf, char *detail, size_t dlen)
{
	snprintf(detail, dlen, "%s", errbuf[0] != '\0' ? errbuf :
	    curl_easy_strerror(cc));
}

/* The keystore password a channel's TLS names, or NULL. */
static bool
p12_pass_load(const struct gw_notify_channel *ch, char **passp,
    char *detail, size_t dlen)
{
	struct cg_err	 e = { 0 };

	*passp = NULL;
	if (ch->tls.client_p12 == NULL ||
	    ch->tls.client_p12_password_file == NULL)
		return true;
	if (cg_secret_load(ch->tls.client_p12_password_file, NULL, passp,
	    &e) == CG_OK)
		return true;
	snprintf(detail, dlen, "cannot read client_p12_password_file");
	return false;
}

static bool
send_webhook(const struct gw_notify_channel *ch,
    const struct gw_notify_event *ev, int64_t id, char *detail,
    size_t dlen)
{
	struct curl_slist	*hdrs = NULL, *h;
	CURL			*c = NULL;
	json_t			*o;
	CURLcode		 cc;
	char			*body = NULL, *pass = NULL;
	char			 errbuf[CURL_ERROR_SIZE] = "", na[32];
	char			 idem[64];
	size_t			 seen = 0;
	long			 status = 0;
	bool			 ok = false;

	cg_time_fmt(ev->not_after, na, sizeof(na));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
	    "event", "certificate.expiring", "holder", ev->holder,
	    "serial", ev->serial, "subject", ev->subject, "not_after", na,
	    "days_left", (json_int_t)ev->days_left, "profile", ev->profile);
	if (o != NULL)
		body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (body == NULL) {
		snprintf(detail, dlen, "cannot build the JSON body");
		return false;
	}
	snprintf(idem, sizeof(idem), "Idempotency-Key: certgw-notify-%" PRId64,
	    id);
	if (!p12_pass_load(ch, &pass, detail, dlen))
		goto out;
	if ((c = curl_easy_init()) == NULL ||
	    (h = curl_slist_append(NULL, "Content-Type: application/json")) ==
	    NULL) {
		snprintf(detail, dlen, "out of memory");
		goto out;
	}
	hdrs = h;
	if ((h = curl_slist_append(hdrs, idem)) == NULL) {
		snprintf(detail, dlen, "out of memory");
		goto out;
	}
	hdrs = h;
	if (!curl_common(c, ch, errbuf, pass, detail, dlen))
		goto out;
	if (curl_easy_setopt(c, CURLOPT_URL, ch->url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_discard) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen) != CURLE_OK) {
		snprintf(detail, dlen, "libcurl refused an option");
		goto out;
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		curl_why(cc, errbuf, detail, dlen);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	ok = status >= 200 && status <= 299;
	if (ok)
		detail[0] = '\0';
	else
		snprintf(detail, dlen, "HTTP %ld", status);
out:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	cg_secret_free(pass);
	free(body);
	return ok;
}

/* "certgw-notify-<id>-<random>@<domain of from>" for Message-ID. */
static void
message_id(const char *from, int64_t id, char *out, size_t outlen)
{
	unsigned char	 r[8];
	char		 hex[2 * sizeof(r) + 1];

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0, sizeof(r));
	cg_hex_encode(r, sizeof(r), hex, false);
	snprintf(out, outlen, "certgw-notify-%" PRId64 "-%s@%s", id, hex,
	    strrchr(from, '@') + 1);
}

static bool
send_email(const struct gw_notify_channel *ch,
    const struct gw_notify_event *ev, int64_t id, char *detail,
    size_t dlen)
{
	const struct gw_notify_vars v = {
		.subject = ev->subject, .serial = ev->serial,
		.holder = ev->holder, .profile = ev->profile,
	};
	struct gw_notify_vars	 vars = v;
	struct cg_err		 e = { 0 };
	struct cg_buf		 subj, body, msg;
	struct curl_slist	*rcpt = NULL, *h;
	struct upload		 up;
	const char *const	*to;
	const char		*one[1];
	CURL			*c = NULL;
	CURLcode		 cc;
	char			 na[32], left[32];
	char			 mid[GW_NOTIFY_ADDR_MAX + 64];
	char			 addr[GW_NOTIFY_ADDR_MAX + 3];
	char			 errbuf[CURL_ERROR_SIZE] = "";
	char			*pass = NULL, *smtp_pass = NULL;
	size_t			 n, i;
	bool			 ok = false;

	cg_time_fmt(ev->not_after, na, sizeof(na));
	snprintf(left, sizeof(left), "%" PRId64, ev->days_left);
	vars.not_after = na;
	vars.days_left = left;
	if (ch->to.n > 0) {
		to = (const char *const *)ch->to.v;
		n = ch->to.n;
	} else {
		one[0] = ev->email;
		to = one;
		n = 1;
	}
	cg_buf_init(&subj, GW_NOTIFY_MSG_MAX);
	cg_buf_init(&body, GW_NOTIFY_MSG_MAX);
	cg_buf_init(&msg, 2 * GW_NOTIFY_MSG_MAX);
	message_id(ch->from, id, mid, sizeof(mid));
	if (gw_notify_expand(ch->subject, &vars, &subj, &e) != CG_OK ||
	    gw_notify_expand(ch->body, &vars, &body, &e) != CG_OK ||
	    gw_notify_mail_build(ch->from, to, n, subj.data != NULL ?
	    (const char *)subj.data : "", body.data != NULL ?
	    (const char *)body.data : "", cg_now(), mid, &msg, &e) != CG_OK) {
		snprintf(detail, dlen, "cannot build the message: %s", e.msg);
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "<%s>", to[i]);
		if ((h = curl_slist_append(rcpt, addr)) == NULL) {
			snprintf(detail, dlen, "out of memory");
			goto out;
		}
		rcpt = h;
	}
	if (!p12_pass_load(ch, &pass, detail, dlen))
		goto out;
	if (ch->password_file != NULL &&
	    cg_secret_load(ch->password_file, NULL, &smtp_pass, &e) != CG_OK) {
		snprintf(detail, dlen, "cannot read password_file");
		goto out;
	}
	if ((c = curl_easy_init()) == NULL) {
		snprintf(detail, dlen, "out of memory");
		goto out;
	}
	if (!curl_common(c, ch, errbuf, pass, detail, dlen))
		goto out;
	snprintf(addr, sizeof(addr), "<%s>", ch->from);
	up.p = msg.data;
	up.left = msg.len;
	if (curl_easy_setopt(c, CURLOPT_URL, ch->smtp_url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps") !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USE_SSL, ch->starttls ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_READDATA, &up) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)msg.len) != CURLE_OK) {
		snprintf(detail, dlen, "libcurl refused an option");
		goto out;
	}
	if (ch->username != NULL &&
	    (curl_easy_setopt(c, CURLOPT_USERNAME, ch->username) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PASSWORD, smtp_pass != NULL ?
	    smtp_pass : "") != CURLE_OK)) {
		snprintf(detail, dlen, "libcurl refused an option");
		goto out;
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		curl_why(cc, errbuf, detail, dlen);
		goto out;
	}
	ok = true;
	detail[0] = '\0';
out:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(rcpt);
	cg_secret_free(pass);
	cg_secret_free(smtp_pass);
	cg_buf_cleanup(&subj);
	cg_buf_cleanup(&body);
	cg_buf_cleanup(&msg);
	return ok;
}

bool
gw_notify_send_real(void *arg, const struct gw_notify_channel *ch,
    const struct gw_notify_event *ev, int64_t id, char *detail,
    size_t dlen)
{
	(void)arg;
	if (ch->type == GW_NOTIFY_WEBHOOK)
		return send_webhook(ch, ev, id, detail, dlen);
	return send_email(ch, ev, id, detail, dlen);
}
