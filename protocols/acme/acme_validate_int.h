/*
 * acme_validate_int.h - what the validator's files share: the validator,
 * a running job, and the hooks between the thread and job lifecycle
 * (acme_validate.c), the c-ares glue, dns-01 and CAA
 * (acme_validate_dns.c), the libcurl glue and http-01
 * (acme_validate_http.c) and tls-alpn-01 (acme_validate_tls.c).
 * Everything below runs on the validator thread unless it says otherwise.
 */
#ifndef CERTGW_ACME_VALIDATE_INT_H
#define CERTGW_ACME_VALIDATE_INT_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ares.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "acme_validate.h"

#define VADDR_MAX		8	/* addresses kept per lookup */
#define VURL_MAX		1024	/* an http-01 URL, ours or a redirect */
#define VMETHOD_MAX		32	/* a validation method name */
#define VEXCERPT_MAX		40	/* peer bytes quoted in a detail */
#define VDNS_SLOTS		2	/* DNS queries of one job at once */

/* An address from a lookup, or an IP identifier. */
struct vaddr {
	int		 af;		/* AF_INET or AF_INET6 */
	uint8_t		 a[16];
};

struct vjob;
struct vdnsq;

/* A finished lookup: the job's resolve step got addresses (n > 0). */
typedef void vresolved_fn(struct vjob *j);

/* A DNS answer for slot of j: an ares status and the raw response. */
typedef void vdns_fn(struct vjob *j, int slot, int status,
		    const uint8_t *abuf, int alen);

/* One job, from acme_validate() until its done() has run. */
struct vjob {
	TAILQ_ENTRY(vjob) entry;	/* the queue, then the running list */
	struct acme_validator *v;
	struct acme_vjob job;		/* the caller's, copied */
	char		 method[VMETHOD_MAX];
	acme_vdone_fn	*done;
	void		*arg;
	struct event	*deadline;
	uint64_t	 started;	/* monotonic ms */
	/* What a timeout in the current step becomes. */
	enum acme_problem tmo_prob;
	char		 tmo_detail[ACME_V_DETAIL_MAX];

	/* DNS: queries outstanding and the A/AAAA resolve step. */
	struct vdnsq	*dnsq[VDNS_SLOTS];
	vdns_fn		*dns_cb;
	int		 dns_pending;
	int		 dns_status[VDNS_SLOTS];
	struct vaddr	 addrs[VADDR_MAX];
	size_t		 naddrs;
	char		 rname[ACME_V_NAME_MAX + 1];	/* being resolved */
	vresolved_fn	*resolved;

	/* CAA: the name being asked along the climb. */
	const char	*caa_at;

	/* http-01 */
	CURL		*curl;
	struct curl_slist *resolve;
	struct cg_buf	 body;
	bool		 body_over;
	int		 redirects;
	char		 url[VURL_MAX];
	char		 host[ACME_V_NAME_MAX + 3];	/* [v6] fits */
	char		 scheme[8];
	uint16_t	 port;
	char		 errbuf[CURL_ERROR_SIZE];

	/* tls-alpn-01 */
	int		 fd;
	SSL		*ssl;
	struct event	*ev;
	size_t		 addr_i;	/* address being tried */
	char		 sni[ACME_V_NAME_MAX + 1]; /* value, or reverse name */
};

TAILQ_HEAD(vjob_list, vjob);

/* A socket c-ares asked us to watch. */
struct vsock {
	LIST_ENTRY(vsock) entry;
	struct acme_validator *v;
	int		 fd;
	struct event	*ev;
};

struct acme_validator {
	struct acme_vconf conf;		/* resolver points at ours */
	char		*resolver;
	pthread_t	 thread;
	bool		 thread_ok;
	struct event_base *base;
	int		 wake[2];	/* pipe: other threads -> loop */
	struct event	*wake_ev;

	pthread_mutex_t	 mu;		/* guards queue, stopping, n */
	struct vjob_list queue;		/* submitted, not yet started */
	bool		 stopping;
	size_t		 n;		/* queued or running */

	struct vjob_list running;	/* loop thread only */

	ares_channel	 ares;
	struct event	*ares_tmr;
	LIST_HEAD(, vsock) socks;

	CURLM		*multi;
	struct event	*curl_tmr;

	SSL_CTX		*tls;
};

/* acme_validate.c */
void	 vjob_ok(struct vjob *j);
void	 vjob_fail(struct vjob *j, enum acme_problem prob,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	 vjob_set_timeout(struct vjob *j, enum acme_problem prob,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
uint32_t vjob_left_ms(const struct vjob *j);
void	 vresolve(struct vjob *j, const char *name, vresolved_fn *fn);
void	 vexcerpt(const uint8_t *p, size_t len, char *out, size_t outlen);
bool	 vparse_ip(const char *s, struct vaddr *a);

/* acme_validate_dns.c */
enum cg_code vdns_init(struct acme_validator *v, struct cg_err *err);
void	 vdns_cleanup(struct acme_validator *v);
void	 vdns_query(struct vjob *j, int slot, const char *name, int type,
	    vdns_fn *cb);
void	 vdns_detach(struct vjob *j);
const char *vdns_status_str(int status);
void	 vdns01_start(struct vjob *j);
void	 vcaa_start(struct vjob *j);

/* acme_validate_http.c */
enum cg_code vhttp_init(struct acme_validator *v, struct cg_err *err);
void	 vhttp_cleanup(struct acme_validator *v);
void	 vhttp_start(struct vjob *j);
void	 vhttp_cancel(struct vjob *j);

/* acme_validate_tls.c */
enum cg_code vtls_init(struct acme_validator *v, struct cg_err *err);
void	 vtls_cleanup(struct acme_validator *v);
void	 vtls_start(struct vjob *j);
void	 vtls_cancel(struct vjob *j);

#endif /* CERTGW_ACME_VALIDATE_INT_H */
