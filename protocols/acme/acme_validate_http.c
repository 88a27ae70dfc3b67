/*
 * acme_validate_http.c - http-01 (RFC 8555 §8.3) with a libcurl multi
 * handle driven by the validator's event loop.  Names are looked up with
 * c-ares (the configured resolver) and handed to curl as CURLOPT_RESOLVE
 * entries, so curl never asks the system resolver.  Redirects are
 * followed here, not by curl, so each target is checked (scheme, port)
 * and resolved the same way before it is fetched.
 */
#include "acme_validate_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define VHTTP_UA	"certgw-validator"
#define VURL_SHOWN	120	/* URL bytes quoted in a detail */

/* ------------------------------------------------------ curl glue */

static void	check_multi(struct acme_validator *v);

static void
curl_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acme_validator *v = arg;
	int	 running, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	(void)curl_multi_socket_action(v->multi, fd, flags, &running);
	check_multi(v);
}

static int
curl_sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct acme_validator *v = userp;
	struct event	*ev = sockp;
	short		 flags = EV_PERSIST;

	if (ev != NULL) {
		event_free(ev);
		(void)curl_multi_assign(v->multi, fd, NULL);
	}
	if (what == CURL_POLL_REMOVE)
		return 0;
	if (what & CURL_POLL_IN)
		flags |= EV_READ;
	if (what & CURL_POLL_OUT)
		flags |= EV_WRITE;
	if ((ev = event_new(v->base, fd, flags, curl_ev_cb, v)) == NULL)
		return -1;
	if (event_add(ev, NULL) != 0) {
		event_free(ev);
		return -1;
	}
	(void)curl_multi_assign(v->multi, fd, ev);
	return 0;
}

static void
curl_tmr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acme_validator *v = arg;
	int	 running;

	(void)curl_multi_socket_action(v->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	check_multi(v);
}

/* curl wants to be called back in ms (0: soon, -1: never). */
static int
curl_timer_fn(CURLM *m, long ms, void *userp)
{
	struct acme_validator *v = userp;
	struct timeval	 tv;

	if (ms < 0) {
		evtimer_del(v->curl_tmr);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(v->curl_tmr, &tv) == 0 ? 0 : -1;
}

enum cg_code
vhttp_init(struct acme_validator *v, struct cg_err *err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return cg_err_set(err, CG_EINTERNAL, "libcurl init failed");
	if ((v->multi = curl_multi_init()) == NULL ||
	    (v->curl_tmr = evtimer_new(v->base, curl_tmr_cb, v)) == NULL) {
		if (v->multi != NULL)
			(void)curl_multi_cleanup(v->multi);
		v->multi = NULL;
		curl_global_cleanup();
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	(void)curl_multi_setopt(v->multi, CURLMOPT_SOCKETFUNCTION,
	    curl_sock_cb);
	(void)curl_multi_setopt(v->multi, CURLMOPT_SOCKETDATA, v);
	(void)curl_multi_setopt(v->multi, CURLMOPT_TIMERFUNCTION,
	    curl_timer_fn);
	(void)curl_multi_setopt(v->multi, CURLMOPT_TIMERDATA, v);
	return CG_OK;
}

void
vhttp_cleanup(struct acme_validator *v)
{
	if (v->multi != NULL) {
		/* Every easy handle left with its job. */
		(void)curl_multi_cleanup(v->multi);
		v->multi = NULL;
		curl_global_cleanup();
	}
	if (v->curl_tmr != NULL)
		event_free(v->curl_tmr);
	v->curl_tmr = NULL;
}

void
vhttp_cancel(struct vjob *j)
{
	if (j->curl != NULL) {
		(void)curl_multi_remove_handle(j->v->multi, j->curl);
		curl_easy_cleanup(j->curl);
		j->curl = NULL;
	}
	curl_slist_free_all(j->resolve);
	j->resolve = NULL;
}

/* ---------------------------------------------------------- http-01 */

/* A URL fit for a detail: printable, cut at VURL_SHOWN bytes. */
static const char *
shown(const char *url, char out[VURL_SHOWN + 4])
{
	size_t	 i;

	for (i = 0; url[i] != '\0' && i < VURL_SHOWN; i++)
		out[i] = url[i] > 0x20 && url[i] < 0x7f && url[i] != '"' ?
		    url[i] : '?';
	out[i] = '\0';
	if (url[i] != '\0')
		memcpy(out + i, "...", 4);
	return out;
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct vjob	*j = arg;

	if (cg_buf_add(&j->body, p, n, NULL) != CG_OK) {
		j->body_over = true;
		return 0;	/* curl stops with CURLE_WRITE_ERROR */
	}
	return n;
}

/* "+host:port:addr,addr": a CURLOPT_RESOLVE entry from our lookup. */
static bool
make_resolve(struct vjob *j)
{
	char		 line[ACME_V_NAME_MAX + 16 + VADDR_MAX * 48], a[48];
	size_t		 i, off;
	int		 r;

	r = snprintf(line, sizeof(line), "+%s:%u:", j->host, j->port);
	if (r < 0 || (size_t)r >= sizeof(line))
		return false;
	off = r;
	for (i = 0; i < j->naddrs; i++) {
		if (inet_ntop(j->addrs[i].af, j->addrs[i].a, a, sizeof(a)) ==
		    NULL)
			return false;
		r = snprintf(line + off, sizeof(line) - off,
		    j->addrs[i].af == AF_INET6 ? "%s[%s]" : "%s%s",
		    i > 0 ? "," : "", a);
		if (r < 0 || (size_t)r >= sizeof(line) - off)
			return false;
		off += r;
	}
	return (j->resolve = curl_slist_append(NULL, line)) != NULL;
}

/* Fetch j->url; j->host names need j->addrs from a lookup. */
static void
http_fetch(struct vjob *j)
{
	struct acme_validator *v = j->v;
	char		 su[VURL_SHOWN + 4];
	CURL		*c;
	long		 left = vjob_left_ms(j);

	vhttp_cancel(j);
	cg_buf_reset(&j->body);
	j->body_over = false;
	j->errbuf[0] = '\0';
	if (j->naddrs > 0 && !make_resolve(j)) {
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "out of memory");
		return;
	}
	if ((c = j->curl = curl_easy_init()) == NULL) {
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "out of memory");
		return;
	}
	(void)curl_easy_setopt(c, CURLOPT_URL, j->url);
	(void)curl_easy_setopt(c, CURLOPT_PRIVATE, j);
	(void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->errbuf);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
	(void)curl_easy_setopt(c, CURLOPT_USERAGENT, VHTTP_UA);
	(void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* The target is reached directly, as the RFC means it. */
	(void)curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	(void)curl_easy_setopt(c, CURLOPT_PROXY, "");
	(void)curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1);
	/* Each validation opens its own connection. */
	(void)curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	(void)curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	(void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
	(void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, left);
	/*
	 * https only after a redirect, and without checking the
	 * certificate: the proof is the key authorization in the body,
	 * which a man in the middle cannot make without the account key,
	 * and many sites redirect to https before they have a valid
	 * certificate (getting one is why they are here).  Let's Encrypt
	 * does the same.
	 */
	(void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	(void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	if (j->resolve != NULL)
		(void)curl_easy_setopt(c, CURLOPT_RESOLVE, j->resolve);
	vjob_set_timeout(j, ACME_P_CONNECTION, "http-01: timeout fetching %s",
	    shown(j->url, su));
	if (curl_multi_add_handle(v->multi, c) != CURLM_OK) {
		curl_easy_cleanup(c);
		j->curl = NULL;
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "cannot start a fetch");
	}
}

static void
http_resolved(struct vjob *j)
{
	http_fetch(j);
}

/* Whether a redirect may go to scheme and port (see acme_validate.h). */
static bool
port_ok(struct acme_validator *v, const char *scheme, long port)
{
	if (strcmp(scheme, "http") == 0)
		return port == 80 || port == v->conf.http_port;
	return port == 443 || port == v->conf.tls_alpn_port;
}

/* Go to the redirect target url; ends the job when it may not. */
static void
http_redirect(struct vjob *j, const char *loc)
{
	CURLU		*u;
	char		*scheme = NULL, *host = NULL, *port = NULL;
	char		*full = NULL;
	char		 su[VURL_SHOWN + 4];
	struct vaddr	 a;
	uint64_t	 p;
	size_t		 hl;
	bool		 isip;

	if (++j->redirects > ACME_V_REDIRECTS_MAX) {
		vjob_fail(j, ACME_P_CONNECTION, "http-01: more than %d "
		    "redirects from %s", ACME_V_REDIRECTS_MAX,
		    shown(j->url, su));
		return;
	}
	if ((u = curl_url()) == NULL) {
		vjob_fail(j, ACME_P_SERVER_INTERNAL, "out of memory");
		return;
	}
	if (curl_url_set(u, CURLUPART_URL, loc, CURLU_URLENCODE |
	    CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK || curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) !=
	    CURLUE_OK || curl_url_set(u, CURLUPART_USER, NULL, 0) !=
	    CURLUE_OK || curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) !=
	    CURLUE_OK || curl_url_get(u, CURLUPART_URL, &full, 0) !=
	    CURLUE_OK) {
		vjob_fail(j, ACME_P_CONNECTION, "http-01: bad redirect "
		    "from %s", shown(j->url, su));
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0) {
		vjob_fail(j, ACME_P_CONNECTION, "http-01: redirect from %s "
		    "to a scheme other than http or https",
		    shown(j->url, su));
		goto out;
	}
	if (!cg_parse_u64(port, strlen(port), 65535, &p) ||
	    !port_ok(j->v, strcasecmp(scheme, "http") == 0 ? "http" :
	    "https", (long)p)) {
		vjob_fail(j, ACME_P_CONNECTION, "http-01: redirect to %s: "
		    "port not allowed", shown(full, su));
		goto out;
	}
	hl = strlen(host);
	if (strlen(full) >= sizeof(j->url) || hl >= sizeof(j->host)) {
		vjob_fail(j, ACME_P_CONNECTION, "http-01: redirect target "
		    "too long");
		goto out;
	}
	memcpy(j->url, full, strlen(full) + 1);
	(void)snprintf(j->scheme, sizeof(j->scheme), "%s", scheme);
	j->port = (uint16_t)p;
	j->naddrs = 0;
	/* An IPv6 host comes back as "[...]": no lookup for literals. */
	isip = host[0] == '[' || vparse_ip(host, &a);
	if (!isip && hl > ACME_V_NAME_MAX) {
		vjob_fail(j, ACME_P_CONNECTION, "http-01: redirect target "
		    "too long");
		goto out;
	}
	memcpy(j->host, host, hl + 1);
	curl_url_cleanup(u);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(full);
	if (isip)
		http_fetch(j);
	else
		vresolve(j, j->host, http_resolved);
	return;
out:
	curl_url_cleanup(u);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(full);
}

static void
http_done(struct vjob *j, CURLcode rc)
{
	char		 su[VURL_SHOWN + 4], ex[64];
	char		*loc = NULL;
	long		 code = 0;
	size_t		 len;

	(void)curl_easy_getinfo(j->curl, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && j->body_over)) {
		vjob_fail(j, ACME_P_CONNECTION, "http-01: %s %s: %s",
		    rc == CURLE_OPERATION_TIMEDOUT ? "timeout fetching" :
		    "cannot fetch", shown(j->url, su),
		    j->errbuf[0] != '\0' ? j->errbuf : curl_easy_strerror(rc));
		return;
	}
	if (code == 301 || code == 302 || code == 303 || code == 307 ||
	    code == 308) {
		(void)curl_easy_getinfo(j->curl, CURLINFO_REDIRECT_URL, &loc);
		if (loc == NULL) {
			vjob_fail(j, ACME_P_UNAUTHORIZED, "http-01: status "
			    "%ld without Location from %s", code,
			    shown(j->url, su));
			return;
		}
		/* loc belongs to the handle, which http_fetch() frees. */
		if ((loc = cg_strdup(loc)) == NULL) {
			vjob_fail(j, ACME_P_SERVER_INTERNAL, "out of memory");
			return;
		}
		http_redirect(j, loc);
		cg_free(loc);
		return;
	}
	if (code != 200) {
		vjob_fail(j, ACME_P_UNAUTHORIZED, "http-01: status %ld from %s",
		    code, shown(j->url, su));
		return;
	}
	if (j->body_over) {
		vjob_fail(j, ACME_P_INCORRECT_RESPONSE, "http-01: response "
		    "from %s is over %d bytes", shown(j->url, su),
		    ACME_V_HTTP_BODY_MAX);
		return;
	}
	/* RFC 8555 §8.3: trailing whitespace may follow the value. */
	len = j->body.len;
	while (len > 0 && (j->body.data[len - 1] == ' ' ||
	    j->body.data[len - 1] == '\t' || j->body.data[len - 1] == '\r' ||
	    j->body.data[len - 1] == '\n'))
		len--;
	if (len == strlen(j->job.keyauth) && memcmp(j->body.data,
	    j->job.keyauth, len) == 0) {
		vjob_ok(j);
		return;
	}
	vexcerpt(j->body.data, len, ex, sizeof(ex));
	vjob_fail(j, ACME_P_INCORRECT_RESPONSE, "http-01: the response from "
	    "%s is \"%s\", not the key authorization", shown(j->url, su), ex);
}

static void
check_multi(struct acme_validator *v)
{
	CURLMsg		*m;
	struct vjob	*j;
	int		 left;

	while ((m = curl_multi_info_read(v->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		j = NULL;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&j);
		if (j != NULL)
			http_done(j, m->data.result);
	}
}

void
vhttp_start(struct vjob *j)
{
	struct acme_validator *v = j->v;
	struct vaddr	 a;
	bool		 v6;

	v6 = j->job.ip && vparse_ip(j->job.value, &a) && a.af == AF_INET6;
	(void)snprintf(j->host, sizeof(j->host), v6 ? "[%s]" : "%s",
	    j->job.value);
	(void)snprintf(j->scheme, sizeof(j->scheme), "http");
	j->port = v->conf.http_port;
	(void)snprintf(j->url, sizeof(j->url),
	    "http://%s:%u/.well-known/acme-challenge/%s", j->host, j->port,
	    j->job.token);
	if (j->job.ip)
		http_fetch(j);
	else
		vresolve(j, j->job.value, http_resolved);
}
