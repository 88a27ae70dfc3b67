/*
 * config.h - the one JSON configuration file: loading, validation with
 * errors that name the file, line and JSON path, and the typed snapshot the
 * rest of the gateway reads.  Sections for modules that do not exist yet are
 * refused as unknown keys until those modules add them here.
 *
 * Threads: a struct gw_config is immutable after gw_config_load() and may be
 * read from any thread; a reload builds a new one.
 */
#ifndef CERTGW_CONFIG_H
#define CERTGW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certgw/ca.h"
#include "certgw/core.h"

#define GW_CONFIG_MAX		(1024 * 1024)	/* config file bytes */
#define GW_CONFIG_DEPTH_MAX	32		/* JSON nesting */

enum gw_cert_policy {
	GW_CERT_IGNORE = 0,	/* client certificate not looked at */
	GW_CERT_ACCEPT,		/* asked for, used when valid, not required */
	GW_CERT_REQUIRE,	/* must be present and chain to client_ca */
	GW_CERT_ACCEPT_SELF_SIGNED, /* accept, and an unknown self-signed one
				   goes to the holding tank (not refused) */
	GW_CERT__MAX
};

/* A per-path override of a route's client-certificate policy. */
struct gw_cert_override {
	char		*path;		/* route path as registered */
	enum gw_cert_policy policy;	/* what to apply instead */
};

struct gw_limits {
	uint32_t	 max_header_bytes;	/* request line + headers */
	uint32_t	 max_body_bytes;	/* request body */
	uint32_t	 max_connections;	/* open connections, per listener */
	uint32_t	 read_timeout_s;	/* idle/slow client cut-off */
	uint32_t	 write_timeout_s;	/* slow reader cut-off */
	uint32_t	 shutdown_grace_s;	/* in-flight wait on SIGTERM */
};

struct gw_https_conf {
	char		*address;	/* "127.0.0.1:8443", "[::1]:8443" */
	char		*cert_file;	/* server certificate chain, PEM */
	char		*key_file;	/* server private key, PEM */
	char		*key_pass_file;	/* or NULL */
	char		*key_pass_env;	/* or NULL */
	char		*client_ca_file; /* trust for client certs (default: CA chain) */
	char		*client_crl_file; /* CRLs of external client CAs, or NULL */
	struct gw_cert_override *cert_overrides; /* "client_cert_policy" */
	size_t		 ncert_overrides; /* entries in cert_overrides */
};

struct gw_http_conf {
	bool		 enabled;	/* the plain listener is optional */
	char		*address;	/* "127.0.0.1:8080" */
};

/* EST (RFC 7030): Basic users and labels. */
struct gw_est_user {
	char		*name;		/* the Basic user name */
	char		*password_hash;	/* cg_passwd_hash() string */
};

#define GW_EST_AUTH_BASIC	0x1	/* HTTP Basic (TLS only) */
#define GW_EST_AUTH_CERT	0x2	/* TLS client certificate */

struct gw_est_label {
	char		*name;		/* "default" serves /.well-known/est/ */
	char		*profile;	/* profile name; exists in profiles */
	unsigned	 auth;		/* GW_EST_AUTH_*; either one suffices */
	struct ca_strlist users;	/* Basic users allowed; empty: all */
	char		*client_ca_file; /* trust for client certs; NULL: the
					   listener's client_ca */
	bool		 require_tls_unique; /* CSR must carry channel binding */
	enum ca_init_key serverkeygen_key; /* key type serverkeygen makes */
	uint32_t	 retry_after_s;	/* Retry-After on 202 (pending) */
};

struct gw_est_conf {
	bool		 enabled;	/* an "est" section is present */
	struct gw_est_user *users;	/* "users": {name: {...}} */
	size_t		 nusers;	/* entries in users */
	struct gw_est_label *labels;	/* "labels": {name: {...}} */
	size_t		 nlabels;	/* entries in labels */
};

/* ------------------------------------------------ Redis, distribution */

/* "redis": where the distribution queue lives. */
struct gw_redis_conf {
	bool		 enabled;	/* a "redis" section is present */
	char		*host;		/* from "url": redis://host:port/db */
	uint16_t	 port;		/* default 6379 */
	uint32_t	 db;		/* database number, default 0 */
	char		*password_file;	/* absolute, or NULL (no AUTH) */
	char		*key_prefix;	/* default "certgw:" */
	uint32_t	 timeout_ms;	/* connect/command timeout, default 2000 */
};

/* What a rule sends (payload) and how it is encoded (encoding). */
enum gw_dist_payload {
	GW_DIST_PAYLOAD_CERT = 0,	/* the leaf */
	GW_DIST_PAYLOAD_CHAIN,		/* leaf, then the issuing CA chain */
	GW_DIST_PAYLOAD_JSON,		/* metadata + PEM, application/json */
	GW_DIST_PAYLOAD__MAX
};

enum gw_dist_encoding {
	GW_DIST_ENC_BASE64 = 0,		/* base64 of the DER (no line breaks) */
	GW_DIST_ENC_DER,		/* raw DER (cert only) */
	GW_DIST_ENC_PEM,		/* PEM blocks */
	GW_DIST_ENC__MAX
};

/* A name/value pair: "vars" and "headers". */
struct gw_kv {
	char		*name;
	char		*value;
};

struct gw_dist_rule {
	char		*name;		/* unique, [A-Za-z0-9_.-]{1,64} */
	/* "match": every given list must match; absent lists match all */
	struct ca_strlist profiles;	/* profile names (must exist) */
	struct ca_strlist protocols;	/* "est", "scep", "acme", "cli" */
	char		*san_regex;	/* POSIX ERE on each SAN value, or NULL;
					   some SAN (or the CN) must match */
	char		*url;		/* https:// template with {placeholders} */
	struct gw_kv	*vars;		/* "vars": template, process, tenant... */
	size_t		 nvars;
	enum gw_dist_payload payload;
	enum gw_dist_encoding encoding;
	char		*content_type;	/* default from payload and encoding */
	/* "tls": client identity, PKCS#12 or PEM, and server trust */
	char		*client_p12;	/* absolute, or NULL */
	char		*client_p12_password_file; /* absolute, or NULL */
	char		*client_cert;	/* PEM, absolute, or NULL */
	char		*client_key;	/* PEM, absolute, or NULL */
	char		*ca_file;	/* absolute; NULL: the system store */
	bool		 insecure_skip_verify; /* logged at every start */
	/* "auth": {"basic": {...}} */
	char		*basic_user;	/* or NULL */
	char		*basic_password_file; /* absolute, or NULL */
	struct gw_kv	*headers;	/* extra request headers */
	size_t		 nheaders;
	uint32_t	 timeout_ms;	/* whole request, default 10000 */
	/* "retry" */
	uint32_t	 max_attempts;	/* default 20 */
	uint32_t	 initial_backoff_ms; /* default 1000 */
	uint32_t	 max_backoff_ms;	/* default 3600000 */
	uint32_t	 max_age_s;	/* default 604800 */
};

struct gw_dist_conf {
	bool		 enabled;	/* a "distribution" section is present */
	uint32_t	 workers;	/* push threads in serve, default 2; 0 ok */
	uint32_t	 in_flight;	/* pushes at once per worker, default 16 */
	uint32_t	 claim_after_ms; /* take over another worker's unsettled
					   entry after this, default 60000 */
	struct gw_dist_rule *rules;
	size_t		 nrules;
};

/* ------------------------------------------------------------- ACME */

/* Challenge types a directory offers (RFC 8555 §8, RFC 8737). */
#define GW_ACME_CHALL_HTTP01	0x1	/* "http-01" */
#define GW_ACME_CHALL_DNS01	0x2	/* "dns-01" */
#define GW_ACME_CHALL_TLSALPN01	0x4	/* "tls-alpn-01" */
#define GW_ACME_CHALL_ALL	0x7

/* draft-ietf-acme-profiles: a name a client may ask for in newOrder. */
struct gw_acme_profile {
	char		*name;		/* as listed in meta.profiles */
	char		*profile;	/* the CA profile it maps to (exists) */
	char		*description;	/* the meta.profiles value ("" ok) */
};

/* Rate limits of one directory; 0 means no limit.  Windows are one hour. */
struct gw_acme_limits {
	uint32_t	 orders_per_account;	/* newOrder per account */
	uint32_t	 orders_per_ip;		/* newOrder per client address */
	uint32_t	 accounts_per_ip;	/* newAccount per client address */
	uint32_t	 failed_validations;	/* invalid challenges per account */
};

/* One ACME directory: "default" is /acme/directory, others /acme/<name>/. */
struct gw_acme_dir {
	char		*name;		/* [a-z0-9_-]{1,64}, not a resource name */
	char		*profile;	/* CA profile used when none is asked */
	struct gw_acme_profile *profiles; /* "profiles": {name: {...}}; may be 0 */
	size_t		 nprofiles;	/* entries in profiles */
	unsigned	 challenges;	/* GW_ACME_CHALL_*, default all */
	bool		 eab_required;	/* newAccount needs an EAB binding */
	char		*terms_of_service; /* URL, or NULL */
	char		*website;	/* URL, or NULL */
	struct ca_strlist caa_identities; /* CAA issuer domains, <= 16 */
	bool		 caa_check;	/* check CAA before issuing (needs
					   caa_identities) */
	bool		 manual_approval; /* finalize waits for pending approve */
	uint32_t	 authz_reuse_s;	/* reuse valid authzs this long; 0 never;
					   default 2592000 (30 days) */
	struct gw_acme_limits limits;	/* "rate_limits" */
};

struct gw_acme_conf {
	bool		 enabled;	/* an "acme" section is present */
	char		*base_url;	/* "https://host[:port]", no path and no
					   trailing '/'; NULL: https://<Host
					   header> */
	char		*nonce_key_file; /* absolute, need not exist yet;
					   default "acme-nonce.key" beside
					   the store */
	uint32_t	 nonce_lifetime_s; /* default 3600 */
	uint32_t	 order_lifetime_s; /* pending orders/authzs, default 604800 */
	uint32_t	 retry_after_s;	/* Retry-After on pending/processing, 1 */
	/* "validation" */
	uint16_t	 http_port;	/* http-01 port, default 80 */
	uint16_t	 tls_alpn_port;	/* tls-alpn-01 port, default 443 */
	char		*resolver;	/* "ip", "ip:port", "[v6]", "[v6]:port";
					   NULL: the system resolver */
	uint32_t	 validation_timeout_ms; /* per attempt, default 10000 */
	uint32_t	 validation_in_flight; /* at once, default 256 */
	struct gw_acme_dir *dirs;	/* "directories": {name: {...}} */
	size_t		 ndirs;		/* entries in dirs, at least 1 */
};

/* ------------------------------------------------------------- SCEP */

/*
 * One SCEP service (RFC 8894): "default" answers at /scep and at the paths
 * older clients hard-code, the others at /scep/<name>.  A request carries
 * a challenge password, or is signed by a certificate this CA issued
 * (renewal); which of those a service takes is set here.
 */
struct gw_scep_service {
	char		*name;		/* [a-z0-9_-]{1,64} */
	char		*profile;	/* CA profile it issues under (exists) */
	char		*challenge_file; /* static challenge, absolute, or NULL */
	char		*challenge_env;	/* static challenge variable, or NULL */
	bool		 dynamic;	/* one-time challenges from the store
					   (`certgw scep challenge new`) */
	bool		 renewal_only;	/* no challenge at all: renewals only */
	bool		 renewal;	/* a request signed by a valid, unrevoked
					   certificate of this CA renews without
					   a challenge; default true */
	bool		 legacy_des;	/* accept requests enveloped in single
					   DES (micromdm scepclient 2.1);
					   default false */
	bool		 revoke_renewed; /* revoke the renewed certificate
					   (superseded); default false */
	uint32_t	 challenge_ttl_s; /* default lifetime of a one-time
					   challenge, default 3600 */
	uint32_t	 max_clock_skew_s; /* a request whose signingTime is
					   further from now is badTime;
					   0: not checked; default 86400 */
};

struct gw_scep_conf {
	bool		 enabled;	/* a "scep" section is present */
	char		*ra_cert_file;	/* RA certificate, PEM, absolute */
	char		*ra_key_file;	/* RA private key, PEM, absolute: signs
					   replies, decrypts requests */
	char		*ra_key_pass_file; /* or NULL */
	char		*ra_key_pass_env; /* or NULL */
	char		*next_ca_file;	/* GetNextCACert, PEM, or NULL */
	struct gw_scep_service *services; /* "services": {name: {...}} */
	size_t		 nservices;	/* entries in services, at least 1 */
};

struct gw_notify_conf;

struct gw_config {
	char		*path;		/* the file as given */
	char		*dir;		/* its directory; relative paths start here */
	struct gw_https_conf https;	/* the TLS listener */
	struct gw_http_conf http;	/* the plain listener (CRL, later SCEP) */
	struct gw_limits limits;	/* applied to both listeners */
	uint32_t	 threads;	/* event loops; 0 = one per core */
	char		*store_path;	/* SQLite database, absolute */
	struct ca_config ca;		/* issuing CA; paths absolute */
	uint32_t	 crl_refresh_s;	/* how often serve checks for revocations */
	enum cg_log_level log_level;	/* "log": {"level": ...} */
	struct ca_profile *profiles;	/* "profiles": {name: {...}} */
	size_t		 nprofiles;	/* entries in profiles */
	struct gw_est_conf est;		/* "est" */
	struct gw_redis_conf redis;	/* "redis" */
	struct gw_dist_conf dist;	/* "distribution" */
	struct gw_acme_conf acme;	/* "acme" */
	struct gw_scep_conf scep;	/* "scep" */
	struct ca_ocsp_config ocsp;	/* "ocsp": signer, validity; paths
					   absolute */
	struct gw_notify_conf *notify;	/* "notifications" (certgw/notify.h);
					   NULL when absent */
};

/*
 * Read, parse and validate the file at path.  Every error names the file,
 * the line and the JSON path, e.g.
 * "certgw.json:14: profiles.device.validity_days: expected a positive
 * integer", in err->msg.  Unknown keys, wrong types, bad values and
 * referenced files that cannot be read are all errors.  Relative paths in
 * the file are resolved against its directory.  *confp is the caller's.
 */
enum cg_code	 gw_config_load(const char *path, struct gw_config **confp,
		    struct cg_err *err);
/*
 * The same from bytes in memory; name is used in messages and dir for
 * relative paths.  With check_files false, referenced files are not opened
 * (for the fuzzer and unit tests).
 */
enum cg_code	 gw_config_parse(const char *name, const char *dir,
		    const uint8_t *data, size_t len, bool check_files,
		    struct gw_config **confp, struct cg_err *err);
void		 gw_config_free(struct gw_config *conf);
/* The profile of that name, or NULL (borrowed from conf). */
const struct ca_profile *gw_config_profile(const struct gw_config *conf,
		    const char *name);
/*
 * The CAs client certificates chain to besides the store's trust anchors:
 * listeners.https.client_ca, else the CA chain, else the CA certificate
 * (borrowed; NULL when none is configured).
 */
const char	*gw_config_client_ca_file(const struct gw_config *conf);

#endif /* CERTGW_CONFIG_H */
