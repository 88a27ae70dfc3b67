/*
 * test_dist_push.c - the push of one distribution job: the retry policy
 * (backoff table, jitter bounds, Retry-After, limits by attempts and by
 * age), then real HTTPS pushes to tests/integration/idm_receiver.py
 * started as a child process with certificates made here: delivery with
 * the right path, headers and body, every class of answer, refused and
 * unverifiable TLS, a PKCS#12 identity, basic auth, timeouts, and a
 * connection kept alive between pushes.  The job is built from a
 * certificate really issued by a test CA; the rules are built by hand.
 *
 * The receiver is found through CERTGW_SRC when set, else next to this
 * file (CMake compiles it by absolute path).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "ca_test.h"
#include "certgw/dist_push.h"

/* The module itself, to reach a rule's handle for the keep-alive check. */
#include "../../distribute/dist_push.c"

#define T_NOW		INT64_C(1700000000)
#define P12_PASS	"p12 pass phrase"
#define BASIC_USER	"certgw-push"
#define BASIC_PASS	"basic s3cret"
#define CTL_MAX		(1024 * 1024)

enum {
	R_IDM = 0,	/* PEM client identity, receiver's CA: delivers */
	R_NOCERT,	/* no client identity: the handshake is refused */
	R_WRONGCA,	/* trusts another CA: verification fails */
	R_P12,		/* PKCS#12 client identity */
	R_BASIC,	/* PEM identity and basic auth */
	R_SLOW,		/* 300 ms timeout */
	R_CLOSED,	/* a port nobody listens on */
	R_COUNT
};

static const char *const rule_names[R_COUNT] = {
	"idm", "nocert", "wrong.ca", "p12", "basic", "slow", "closed"
};

struct push_fx {
	struct ca_fx		 ca;
	struct ca_profile	 profile;
	struct dist_job		*job;
	char			 dir[PATH_MAX];
	int			 port, ctl_port, closed_port;
	pid_t			 receiver;
	struct gw_kv		 vars[2];
	struct gw_kv		 headers[1];
	struct gw_dist_rule	 rules[R_COUNT];
	struct gw_dist_conf	 conf;
	struct dist_pusher	*pusher;
};

static struct push_fx	*gfx;

/* ------------------------------------------------------------ helpers */

static char *
fx_path(const char *name)
{
	char	*p = cg_asprintf("%s/%s", gfx->dir, name);

	assert_non_null(p);
	return p;
}

static void	run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
run(const char *fmt, ...)
{
	char	 cmd[4096];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	if (system(cmd) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		fail();
	}
}

/* A port free right now on loopback (bound to 0, then released). */
static int
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 s, port;

	s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(s);
	return port;
}

/*
 * Two test PKIs made with the openssl tool: the receiver's server CA and
 * the client CA it trusts, each with one leaf; another CA nobody uses;
 * and the client identity again as PKCS#12 (made with OpenSSL's API).
 */
static void
make_pki(void)
{
	static const char cnf[] =
	    "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"
	    "[ca]\nbasicConstraints = critical,CA:TRUE\n"
	    "keyUsage = critical,keyCertSign,cRLSign\n"
	    "subjectKeyIdentifier = hash\n"
	    "[srv]\nbasicConstraints = critical,CA:FALSE\n"
	    "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
	    "extendedKeyUsage = serverAuth\n"
	    "authorityKeyIdentifier = keyid\n"
	    "[cli]\nbasicConstraints = critical,CA:FALSE\n"
	    "extendedKeyUsage = clientAuth\n"
	    "authorityKeyIdentifier = keyid\n";
	static const char newkey[] = "-newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -days 2";
	struct cg_err	 err = { 0 };
	char		*p, *d = gfx->dir;
	FILE		*f;
	X509		*x;
	EVP_PKEY	*k;
	PKCS12		*p12;

	p = fx_path("openssl.cnf");
	assert_int_equal(cg_file_write(p, cnf, strlen(cnf), 0600, true,
	    &err), CG_OK);
	cg_free(p);
	run("cd '%s' && for c in srvca clica otherca; do openssl req "
	    "-config openssl.cnf -x509 %s -keyout $c.key -out $c.pem "
	    "-subj /CN=$c -extensions ca 2>/dev/null || exit 1; done", d,
	    newkey);
	run("cd '%s' && openssl req -config openssl.cnf -x509 %s "
	    "-keyout srv.key -out srv.pem -subj /CN=localhost -CA srvca.pem "
	    "-CAkey srvca.key -extensions srv 2>/dev/null", d, newkey);
	run("cd '%s' && openssl req -config openssl.cnf -x509 %s "
	    "-keyout cli.key -out cli.pem -subj /CN=certgw-client "
	    "-CA clica.pem -CAkey clica.key -extensions cli 2>/dev/null", d,
	    newkey);

	p = fx_path("cli.pem");
	f = fopen(p, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	cg_free(p);
	p = fx_path("cli.key");
	f = fopen(p, "r");
	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	cg_free(p);
	assert_non_null(x);
	assert_non_null(k);
	p12 = PKCS12_create(P12_PASS, "certgw-client", k, x, NULL, 0, 0, 0,
	    0, 0);
	assert_non_null(p12);
	p = fx_path("cli.p12");
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(i2d_PKCS12_fp(f, p12), 1);
	assert_int_equal(fclose(f), 0);
	chmod(p, 0600);
	cg_free(p);
	PKCS12_free(p12);
	EVP_PKEY_free(k);
	X509_free(x);

	p = fx_path("p12.pass");
	assert_int_equal(cg_file_write(p, P12_PASS "\n",
	    strlen(P12_PASS) + 1, 0600, true, &err), CG_OK);
	cg_free(p);
	p = fx_path("basic.pass");
	assert_int_equal(cg_file_write(p, BASIC_PASS "\n",
	    strlen(BASIC_PASS) + 1, 0600, true, &err), CG_OK);
	cg_free(p);
}

static char *
receiver_script(void)
{
	const char	*src = getenv("CERTGW_SRC");
	char		 here[PATH_MAX];
	char		*p;

	if (src != NULL && *src != '\0')
		p = cg_asprintf("%s/tests/integration/idm_receiver.py", src);
	else {
		snprintf(here, sizeof(here), "%s", __FILE__);
		p = cg_asprintf("%s/../integration/idm_receiver.py",
		    dirname(here));
	}
	assert_non_null(p);
	assert_int_equal(access(p, X_OK), 0);
	return p;
}

/*
 * A request to the receiver's plain control port; the answer body goes to
 * out when given.  Returns the HTTP status, 0 when it cannot be reached.
 */
static size_t
ctl_body(char *data, size_t size, size_t n, void *arg)
{
	struct cg_buf	*b = arg;

	(void)size;
	if (b != NULL && cg_buf_add(b, data, n, NULL) != CG_OK)
		return 0;
	return n;
}

static long
ctl(const char *method, const char *path, const char *body,
    struct cg_buf *out)
{
	struct curl_slist	*h = NULL;
	CURL			*c;
	char			 url[128];
	long			 status = 0;

	c = curl_easy_init();
	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", gfx->ctl_port,
	    path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ctl_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (strcmp(method, "POST") == 0) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
		    body != NULL ? body : "");
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return status;
}

static void
receiver_mode(const char *json)
{
	assert_int_equal(ctl("POST", "/reset", NULL, NULL), 200);
	if (json != NULL)
		assert_int_equal(ctl("POST", "/mode", json, NULL), 200);
}

static long
receiver_count(void)
{
	struct cg_buf	 b;
	long		 n;

	cg_buf_init(&b, 64);
	assert_int_equal(ctl("GET", "/count", NULL, &b), 200);
	n = strtol((const char *)b.data, NULL, 10);
	cg_buf_cleanup(&b);
	return n;
}

/* The one recorded request, parsed. */
static json_t *
receiver_only_request(void)
{
	struct cg_buf	 b;
	json_error_t	 je;
	json_t		*j;
	char		*nl;

	cg_buf_init(&b, CTL_MAX);
	assert_int_equal(ctl("GET", "/requests", NULL, &b), 200);
	assert_non_null(b.data);
	nl = strchr((char *)b.data, '\n');
	assert_non_null(nl);
	assert_string_equal(nl + 1, "");	/* exactly one line */
	j = json_loadb((const char *)b.data, (size_t)(nl - (char *)b.data),
	    0, &je);
	assert_non_null(j);
	cg_buf_cleanup(&b);
	return j;
}

static const char *
jstr(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	if (s == NULL)
		fprintf(stderr, "no string %s in the record\n", k);
	assert_non_null(s);
	return s;
}

static void
receiver_start(void)
{
	char	*script, *cert, *key, *clica, *rec, *log;
	char	 port[16], ctl_port[16];
	int	 i, fd;
	pid_t	 pid;

	script = receiver_script();
	cert = fx_path("srv.pem");
	key = fx_path("srv.key");
	clica = fx_path("clica.pem");
	rec = fx_path("record.jsonl");
	log = fx_path("receiver.log");
	snprintf(port, sizeof(port), "%d", gfx->port);
	snprintf(ctl_port, sizeof(ctl_port), "%d", gfx->ctl_port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(script, script, "--port", port, "--control-port",
		    ctl_port, "--cert", cert, "--key", key, "--client-ca",
		    clica, "--record", rec, (char *)NULL);
		_exit(127);
	}
	gfx->receiver = pid;
	/* Both listeners are up once the control port answers. */
	for (i = 0; i < 200; i++) {
		if (ctl("GET", "/count", NULL, NULL) == 200)
			break;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			gfx->receiver = 0;
			fprintf(stderr, "idm_receiver exited, see %s\n", log);
			fail();
		}
		usleep(50 * 1000);
	}
	assert_true(i < 200);
	cg_free(script);
	cg_free(cert);
	cg_free(key);
	cg_free(clica);
	cg_free(rec);
	cg_free(log);
}

static void
receiver_stop(void)
{
	int	 i;

	if (gfx->receiver <= 0)
		return;
	kill(gfx->receiver, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (waitpid(gfx->receiver, NULL, WNOHANG) == gfx->receiver)
			break;
		usleep(50 * 1000);
	}
	if (i == 100) {
		kill(gfx->receiver, SIGKILL);
		waitpid(gfx->receiver, NULL, 0);
	}
	gfx->receiver = 0;
}

/* A rule as the config loader would leave it, with its defaults. */
static void
rule_init(struct gw_dist_rule *r, const char *name, int port)
{
	memset(r, 0, sizeof(*r));
	r->name = (char *)name;
	r->url = cg_asprintf("https://127.0.0.1:%d/register/{template}/"
	    "{process}/{serial}?tenantId={tenant}", port);
	assert_non_null(r->url);
	r->vars = gfx->vars;
	r->nvars = 2;
	r->payload = GW_DIST_PAYLOAD_CERT;
	r->encoding = GW_DIST_ENC_BASE64;
	r->content_type = "application/pkix-cert";
	r->client_cert = fx_path("cli.pem");
	r->client_key = fx_path("cli.key");
	r->ca_file = fx_path("srvca.pem");
	r->headers = gfx->headers;
	r->nheaders = 1;
	r->timeout_ms = 10000;
	r->max_attempts = 20;
	r->initial_backoff_ms = 1000;
	r->max_backoff_ms = 3600000;
	r->max_age_s = 604800;
}

static void
rules_make(void)
{
	struct gw_dist_rule	*r;
	size_t			 i;

	gfx->vars[0] = (struct gw_kv){ "template", "DeviceCert" };
	gfx->vars[1] = (struct gw_kv){ "tenant", "acme corp" };
	gfx->headers[0] = (struct gw_kv){ "X-Source", "certgw" };
	for (i = 0; i < R_COUNT; i++)
		rule_init(&gfx->rules[i], rule_names[i],
		    i == R_CLOSED ? gfx->closed_port : gfx->port);

	r = &gfx->rules[R_NOCERT];
	cg_free(r->client_cert);
	cg_free(r->client_key);
	r->client_cert = r->client_key = NULL;

	r = &gfx->rules[R_WRONGCA];
	cg_free(r->ca_file);
	r->ca_file = fx_path("otherca.pem");

	r = &gfx->rules[R_P12];
	cg_free(r->client_cert);
	cg_free(r->client_key);
	r->client_cert = r->client_key = NULL;
	r->client_p12 = fx_path("cli.p12");
	r->client_p12_password_file = fx_path("p12.pass");

	r = &gfx->rules[R_BASIC];
	r->basic_user = BASIC_USER;
	r->basic_password_file = fx_path("basic.pass");

	gfx->rules[R_SLOW].timeout_ms = 300;

	gfx->conf.enabled = true;
	gfx->conf.workers = 1;
	gfx->conf.in_flight = 4;
	gfx->conf.rules = gfx->rules;
	gfx->conf.nrules = R_COUNT;
}

static void
rules_free(void)
{
	struct gw_dist_rule	*r;
	size_t			 i;

	for (i = 0; i < R_COUNT; i++) {
		r = &gfx->rules[i];
		cg_free(r->url);
		cg_free(r->client_cert);
		cg_free(r->client_key);
		cg_free(r->ca_file);
		cg_free(r->client_p12);
		cg_free(r->client_p12_password_file);
		cg_free(r->basic_password_file);
	}
}

static int
group_setup(void **state)
{
	static const char *const sans[] = { "DNS:dev-1.example.com" };
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	struct ca_cert_rec	*rec = NULL;
	struct ca_csr		*csr;
	struct cg_err		 err = { 0 };
	EVP_PKEY		*key;

	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	gfx = cg_calloc(1, sizeof(*gfx));
	assert_non_null(gfx);

	/* A certificate issued for real, and its job. */
	cafx_create(&gfx->ca, CA_INIT_EC_P256, false, NULL);
	cafx_profile_server(&gfx->profile);
	key = cafx_key("ec-p256");
	csr = cafx_csr(key, "dev-1.example.com", sans, 1);
	req = (struct ca_issue_req){ csr, &gfx->profile, "est", "tester" };
	if (ca_issue(gfx->ca.ca, gfx->ca.st, &req, &is, &err) != CG_OK)
		cafx_die("ca_issue", &err);
	if (ca_store_cert_get(gfx->ca.st, is->serial, &rec, &err) != CG_OK)
		cafx_die("ca_store_cert_get", &err);
	if (dist_job_from_rec(rec, ca_get0_chain(gfx->ca.ca), "idm", 0,
	    T_NOW, &gfx->job, &err) != CG_OK)
		cafx_die("dist_job_from_rec", &err);
	ca_cert_rec_free(rec);
	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);

	cafx_mkdtemp(gfx->dir, sizeof(gfx->dir), "test_dist_push");
	make_pki();
	gfx->port = free_port();
	gfx->ctl_port = free_port();
	gfx->closed_port = free_port();
	if (gfx->ctl_port == gfx->port)
		gfx->ctl_port = free_port();
	receiver_start();
	rules_make();
	if (dist_pusher_new(&gfx->conf, &gfx->pusher, &err) != CG_OK)
		cafx_die("dist_pusher_new", &err);
	return 0;
}

static int
group_teardown(void **state)
{
	dist_pusher_free(gfx->pusher);
	receiver_stop();
	rules_free();
	cafx_rm_rf(gfx->dir);
	dist_job_free(gfx->job);
	ca_profile_cleanup(&gfx->profile);
	cafx_destroy(&gfx->ca);
	cg_free(gfx);
	curl_global_cleanup();
	return 0;
}

/* Push the shared job through rule i. */
static void
push(int i, struct dist_result *res)
{
	struct cg_err	 err = { 0 };

	assert_int_equal(dist_job_set_rule(gfx->job, rule_names[i], &err),
	    CG_OK);
	assert_int_equal(dist_push(gfx->pusher, gfx->job, res, &err), CG_OK);
	assert_true(res->duration_ms >= 0);
}

/* ------------------------------------------------------------ policy */

static void
test_backoff_table(void **state)
{
	struct gw_dist_rule	 r = { 0 };
	static const struct {
		uint32_t	 attempt;
		uint64_t	 r, want;
	} t[] = {
		/* cap 1000: [500, 1000] */
		{ 1, 0, 500 }, { 1, 500, 1000 }, { 1, 501, 500 },
		{ 0, 0, 500 },
		/* doubling */
		{ 2, 0, 1000 }, { 2, 1000, 2000 },
		{ 3, 0, 2000 }, { 3, 2000, 4000 },
		{ 6, 0, 16000 }, { 6, 16000, 32000 },
		/* 64000 capped at 60000 */
		{ 7, 0, 30000 }, { 7, 30000, 60000 },
		{ 1000, 0, 30000 }, { 1000, 30000, 60000 },
		{ UINT32_MAX, 30001, 30000 },
	};
	size_t	 i;

	r.initial_backoff_ms = 1000;
	r.max_backoff_ms = 60000;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (dist_backoff_ms(&r, t[i].attempt, 0, t[i].r) !=
		    t[i].want)
			fprintf(stderr, "row %zu\n", i);
		assert_int_equal(dist_backoff_ms(&r, t[i].attempt, 0,
		    t[i].r), t[i].want);
	}
}

static void
test_backoff_jitter_bounds(void **state)
{
	struct gw_dist_rule	 r = { 0 };
	uint64_t		 x = 0x9e3779b97f4a7c15ULL, ms, cap;
	uint32_t		 a;
	int			 i;
	bool			 lo_seen, hi_seen;

	r.initial_backoff_ms = 250;
	r.max_backoff_ms = 86400000;
	for (a = 1; a <= 40; a++) {
		cap = (uint64_t)250 << (a - 1 < 30 ? a - 1 : 30);
		if (cap > r.max_backoff_ms)
			cap = r.max_backoff_ms;
		lo_seen = hi_seen = false;
		for (i = 0; i < 2000; i++) {
			/* xorshift: spread r over the whole 64 bits */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			ms = dist_backoff_ms(&r, a, 0, x);
			assert_true(ms >= cap / 2);
			assert_true(ms <= cap);
			lo_seen |= ms < cap / 2 + cap / 4;
			hi_seen |= ms > cap / 2 + cap / 4;
		}
		/* Jitter really spreads, it is not a constant. */
		assert_true(lo_seen && hi_seen);
	}
}

static void
test_backoff_retry_after(void **state)
{
	struct gw_dist_rule	 r = { 0 };

	r.initial_backoff_ms = 1000;
	r.max_backoff_ms = 60000;
	/* Raises a shorter pause to the server's wish. */
	assert_int_equal(dist_backoff_ms(&r, 1, 7, 0), 7000);
	assert_int_equal(dist_backoff_ms(&r, 1, 7, 500), 7000);
	/* Never lowers a longer one. */
	assert_int_equal(dist_backoff_ms(&r, 5, 3, 0), 8000);
	assert_int_equal(dist_backoff_ms(&r, 5, 3, 8000), 16000);
	/* Still capped. */
	assert_int_equal(dist_backoff_ms(&r, 1, 120, 0), 60000);
	assert_int_equal(dist_backoff_ms(&r, 1, UINT32_MAX, 0), 60000);
	assert_int_equal(dist_backoff_ms(&r, 1, 0, 0), 500);
}

static void
test_retry_exhausted(void **state)
{
	struct gw_dist_rule	 r = { 0 };
	struct dist_job		 j = { 0 };

	r.max_attempts = 3;
	r.max_age_s = 3600;
	j.created_at = T_NOW;
	j.attempt = 0;
	assert_false(dist_retry_exhausted(&r, &j, T_NOW));
	j.attempt = 2;
	assert_false(dist_retry_exhausted(&r, &j, T_NOW + 10));
	/* Three tries in all: the third failure ends it. */
	j.attempt = 3;
	assert_true(dist_retry_exhausted(&r, &j, T_NOW + 10));
	j.attempt = 4;
	assert_true(dist_retry_exhausted(&r, &j, T_NOW));

	/* By age. */
	j.attempt = 1;
	assert_false(dist_retry_exhausted(&r, &j, T_NOW + 3600));
	assert_true(dist_retry_exhausted(&r, &j, T_NOW + 3601));
	assert_true(dist_retry_exhausted(&r, &j, T_NOW + 86400 * 365));
	/* A clock that went back is no reason to give up. */
	assert_false(dist_retry_exhausted(&r, &j, T_NOW - 86400));
}

/* Header lines as libcurl hands them over, fed to the callback. */
static bool
header_feed(struct push_io *io, const char *line)
{
	assert_int_equal(on_header((char *)line, 1, strlen(line), io),
	    strlen(line));
	return io->have_ra;
}

static void
test_retry_after_parse(void **state)
{
	struct push_io	 io = { 0 };
	char		 line[512];

	assert_true(header_feed(&io, "Retry-After: 120\r\n"));
	assert_int_equal(io.retry_after, 120);
	assert_true(header_feed(&io, "retry-after:\t 7 \r\n"));
	assert_int_equal(io.retry_after, 7);
	assert_true(header_feed(&io, "Retry-After: 0\r\n"));
	assert_int_equal(io.retry_after, 0);
	/* Huge values saturate instead of wrapping. */
	assert_true(header_feed(&io,
	    "Retry-After: 99999999999999999999999999\r\n"));
	assert_int_equal(io.retry_after, RETRY_AFTER_MAX);
	/* A date in the past means now. */
	assert_true(header_feed(&io,
	    "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"));
	assert_int_equal(io.retry_after, 0);
	/* A new response forgets the last one's value. */
	assert_false(header_feed(&io, "HTTP/1.1 503 Unavailable\r\n"));
	assert_int_equal(io.retry_after, 0);
	/* Not a number, not a date. */
	assert_false(header_feed(&io, "Retry-After: -5\r\n"));
	assert_false(header_feed(&io, "Retry-After: 1.5\r\n"));
	assert_false(header_feed(&io, "Retry-After: 12abc\r\n"));
	assert_false(header_feed(&io, "Retry-After: \r\n"));
	assert_false(header_feed(&io, "Retry-After:"));
	assert_int_equal(io.retry_after, 0);
	memset(line, '1', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "Retry-After: ", 13);
	assert_false(header_feed(&io, line));
	/* Other headers leave it alone. */
	assert_true(header_feed(&io, "Retry-After: 30\r\n"));
	assert_true(header_feed(&io, "Retry-Afterwards: 5\r\n"));
	assert_int_equal(io.retry_after, 30);
}

/* ------------------------------------------------------------ pushes */

static void
test_push_delivered(void **state)
{
	struct dist_result	 res;
	struct cg_err		 err = { 0 };
	json_t			*rq, *h;
	uint8_t			*b64 = NULL, *der = NULL;
	size_t			 b64len, derlen;
	char			*path;

	receiver_mode(NULL);
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_DELIVERED);
	assert_int_equal(res.status, 201);
	assert_string_equal(res.reason, "HTTP 201");
	assert_int_equal(res.retry_after_s, 0);

	rq = receiver_only_request();
	assert_string_equal(jstr(rq, "method"), "POST");
	/* {process} is absent: its segment goes with its '/'. */
	path = cg_asprintf("/register/DeviceCert/%s", gfx->job->serial);
	assert_string_equal(jstr(rq, "path"), path);
	cg_free(path);
	assert_string_equal(jstr(rq, "query"), "tenantId=acme%20corp");
	assert_string_equal(jstr(rq, "client_subject"), "CN=certgw-client");
	h = json_object_get(rq, "headers");
	assert_non_null(h);
	assert_string_equal(jstr(h, "content-type"), "application/pkix-cert");
	assert_string_equal(jstr(h, "idempotency-key"), gfx->job->id);
	assert_string_equal(jstr(h, "x-source"), "certgw");
	assert_string_equal(jstr(h, "user-agent"), "certgw/" CERTGW_VERSION);
	assert_null(json_object_get(h, "expect"));
	assert_null(json_object_get(h, "authorization"));

	/* The body is the base64 of the leaf's DER, as issued. */
	assert_int_equal(cg_base64_decode(jstr(rq, "body_b64"),
	    strlen(jstr(rq, "body_b64")), false, CTL_MAX, &b64, &b64len, &err),
	    CG_OK);
	assert_int_equal(cg_base64_decode((const char *)b64, b64len, false,
	    CTL_MAX, &der, &derlen, &err), CG_OK);
	assert_int_equal(derlen, gfx->job->cert.len);
	assert_memory_equal(der, gfx->job->cert.der, derlen);
	cg_free(b64);
	cg_free(der);
	json_decref(rq);
}

static void
test_push_statuses(void **state)
{
	struct dist_result	 res;
	char			 mode[256];
	time_t			 t;
	struct tm		 tm;
	char			 date[64];

	receiver_mode("{\"statuses\": [500]}");
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_int_equal(res.status, 500);
	assert_string_equal(res.reason, "HTTP 500");
	assert_int_equal(res.retry_after_s, 0);
	/* The list is spent: back to 201. */
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_DELIVERED);
	assert_int_equal(receiver_count(), 2);

	receiver_mode("{\"statuses\": [429], \"retry_after\": 7}");
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_int_equal(res.status, 429);
	assert_int_equal(res.retry_after_s, 7);

	receiver_mode("{\"statuses\": [408, 503]}");
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_int_equal(res.status, 408);
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_int_equal(res.status, 503);

	/* Retry-After as an HTTP date, two minutes ahead. */
	t = time(NULL) + 120;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(mode, sizeof(mode), "{\"statuses\": [503], "
	    "\"retry_after\": \"%s\"}", date);
	receiver_mode(mode);
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_true(res.retry_after_s >= 100 && res.retry_after_s <= 121);

	/* Garbage in Retry-After is ignored, not misread. */
	receiver_mode("{\"statuses\": [503], \"retry_after\": \"soon\"}");
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_int_equal(res.retry_after_s, 0);

	receiver_mode("{\"statuses\": [400]}");
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_DEAD);
	assert_int_equal(res.status, 400);
	assert_string_equal(res.reason, "HTTP 400");

	receiver_mode("{\"statuses\": [404]}");
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_DEAD);
	assert_string_equal(res.reason, "HTTP 404");

	/* A redirect is not followed: the endpoint is misconfigured. */
	receiver_mode("{\"statuses\": [301]}");
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_DEAD);
	assert_int_equal(res.status, 301);
	assert_int_equal(receiver_count(), 1);

	/*
	 * Any 2xx delivers.  (Not 204: the receiver sends a body with it,
	 * which would desynchronise the kept-alive connection.)
	 */
	receiver_mode("{\"statuses\": [200]}");
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_DELIVERED);
	assert_int_equal(res.status, 200);
}

static void
test_push_no_client_cert(void **state)
{
	struct dist_result	 res;

	receiver_mode(NULL);
	push(R_NOCERT, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_int_equal(res.status, 0);
	assert_true(strlen(res.reason) > 0);
	assert_null(strstr(res.reason, "HTTP"));
	assert_int_equal(receiver_count(), 0);
}

static void
test_push_wrong_ca(void **state)
{
	struct dist_result	 res;

	receiver_mode(NULL);
	push(R_WRONGCA, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_int_equal(res.status, 0);
	assert_int_equal(strncmp(res.reason, "TLS: ", 5), 0);
	assert_non_null(strstr(res.reason, "certificate"));
	assert_int_equal(receiver_count(), 0);
}

static void
test_push_p12(void **state)
{
	struct dist_result	 res;
	json_t			*rq;

	receiver_mode(NULL);
	push(R_P12, &res);
	assert_int_equal(res.outcome, DIST_DELIVERED);
	rq = receiver_only_request();
	assert_string_equal(jstr(rq, "client_subject"), "CN=certgw-client");
	assert_string_equal(jstr(json_object_get(rq, "headers"),
	    "idempotency-key"), gfx->job->id);
	json_decref(rq);
}

static void
test_push_basic_auth(void **state)
{
	struct dist_result	 res;
	struct cg_err		 err = { 0 };
	json_t			*rq;
	char			*b64, *want;

	receiver_mode("{\"statuses\": [503]}");
	push(R_BASIC, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_null(strstr(res.reason, BASIC_PASS));
	rq = receiver_only_request();
	assert_int_equal(cg_base64_encode((const uint8_t *)BASIC_USER ":"
	    BASIC_PASS, strlen(BASIC_USER ":" BASIC_PASS), &b64, &err),
	    CG_OK);
	want = cg_asprintf("Basic %s", b64);
	assert_string_equal(jstr(json_object_get(rq, "headers"),
	    "authorization"), want);
	cg_free(want);
	cg_free(b64);
	json_decref(rq);
}

static void
test_push_timeout(void **state)
{
	struct dist_result	 res;

	receiver_mode("{\"sleep_ms\": 1500}");
	push(R_SLOW, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_int_equal(res.status, 0);
	assert_int_equal(strncmp(res.reason, "timeout: ", 9), 0);
	assert_true(res.duration_ms >= 250 && res.duration_ms < 1400);
	/* Let the receiver finish its late answer before the next test. */
	usleep(1500 * 1000);
}

static void
test_push_connect_refused(void **state)
{
	struct dist_result	 res;

	push(R_CLOSED, &res);
	assert_int_equal(res.outcome, DIST_RETRY);
	assert_int_equal(res.status, 0);
	assert_int_equal(strncmp(res.reason, "connect: ", 9), 0);
}

static void
test_push_unknown_rule(void **state)
{
	struct dist_result	 res;
	struct cg_err		 err = { 0 };

	receiver_mode(NULL);
	assert_int_equal(dist_job_set_rule(gfx->job, "gone", &err), CG_OK);
	assert_int_equal(dist_push(gfx->pusher, gfx->job, &res, &err), CG_OK);
	assert_int_equal(res.outcome, DIST_DEAD);
	assert_int_equal(res.status, 0);
	assert_non_null(strstr(res.reason, "gone"));
	assert_int_equal(receiver_count(), 0);
}

static void
test_push_keepalive(void **state)
{
	struct dist_result	 res;
	uint64_t		 c0;

	receiver_mode(NULL);
	c0 = dist_pusher_connects(gfx->pusher);
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_DELIVERED);
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_DELIVERED);
	/* The second push went over the first one's connection. */
	assert_true(dist_pusher_connects(gfx->pusher) <= c0 + 1);
	push(R_IDM, &res);
	assert_int_equal(res.outcome, DIST_DELIVERED);
	assert_true(dist_pusher_connects(gfx->pusher) <= c0 + 1);
	assert_int_equal(receiver_count(), 3);
}

/* Results of the concurrent pushes, by tag. */
#define CONC_N		8
struct conc {
	int			 hits[CONC_N + 1];
	struct dist_result	 res[CONC_N + 1];
	size_t			 n;
};

static void
conc_done(void *arg, void *tag, const struct dist_result *res)
{
	struct conc	*c = arg;
	int		 i = (int)(intptr_t)tag;

	assert_true(i >= 0 && i <= CONC_N);
	c->hits[i]++;
	c->res[i] = *res;
	c->n++;
}

static long
receiver_in_flight_max(void)
{
	struct cg_buf	 b;
	long		 n;

	cg_buf_init(&b, 64);
	assert_int_equal(ctl("GET", "/in_flight_max", NULL, &b), 200);
	n = strtol((const char *)b.data, NULL, 10);
	cg_buf_cleanup(&b);
	return n;
}

/*
 * Several pushes at once: with the receiver holding each answer, all of
 * them are waiting there together, each is reported exactly once with
 * its own tag, and a job that cannot be sent (unknown rule) comes back
 * through the same path without blocking the others.  One more than
 * in_flight is refused without being started.
 */
static void
test_push_concurrent(void **state)
{
	struct gw_dist_conf	 c = gfx->conf;
	struct dist_pusher	*p = NULL;
	struct dist_job		*job;
	struct conc		 res = { 0 };
	struct cg_err		 err = { 0 };
	size_t			 n;
	uint64_t		 until;
	int			 i;

	c.in_flight = CONC_N + 1;
	assert_int_equal(dist_pusher_new(&c, &p, &err), CG_OK);
	receiver_mode("{\"sleep_ms\": 1000}");
	job = gfx->job;
	for (i = 0; i < CONC_N; i++) {
		assert_int_equal(dist_job_set_rule(job, "idm", &err), CG_OK);
		assert_int_equal(dist_push_start(p, job, (void *)(intptr_t)i,
		    &err), CG_OK);
	}
	assert_int_equal(dist_job_set_rule(job, "no-such-rule", &err), CG_OK);
	assert_int_equal(dist_push_start(p, job, (void *)(intptr_t)CONC_N,
	    &err), CG_OK);
	assert_int_equal(dist_push_in_flight(p), CONC_N + 1);
	assert_int_equal(dist_push_room(p), 0);
	cg_err_clear(&err);
	assert_int_equal(dist_push_start(p, job, (void *)(intptr_t)0, &err),
	    CG_ECONFLICT);
	assert_int_equal(dist_job_set_rule(job, "idm", &err), CG_OK);

	until = cg_mono_ms() + 20000;
	while (res.n < CONC_N + 1 && cg_mono_ms() < until) {
		assert_int_equal(dist_push_run(p, 100, conc_done, &res, &n,
		    &err), CG_OK);
	}
	assert_int_equal(res.n, CONC_N + 1);
	for (i = 0; i < CONC_N; i++) {
		assert_int_equal(res.hits[i], 1);
		assert_int_equal(res.res[i].outcome, DIST_DELIVERED);
		assert_int_equal(res.res[i].status, 201);
	}
	assert_int_equal(res.hits[CONC_N], 1);
	assert_int_equal(res.res[CONC_N].outcome, DIST_DEAD);
	assert_non_null(strstr(res.res[CONC_N].reason, "no-such-rule"));
	assert_int_equal(dist_push_in_flight(p), 0);
	assert_int_equal(receiver_count(), CONC_N);
	/* Pushed one by one, at most one would ever wait there. */
	assert_int_equal(receiver_in_flight_max(), CONC_N);

	/* The connections stay for the next burst: no new handshakes. */
	receiver_mode(NULL);
	n = dist_pusher_connects(p);
	assert_true(n >= 1 && n <= CONC_N);
	memset(&res, 0, sizeof(res));
	for (i = 0; i < CONC_N; i++)
		assert_int_equal(dist_push_start(p, job, (void *)(intptr_t)i,
		    &err), CG_OK);
	until = cg_mono_ms() + 20000;
	while (res.n < CONC_N && cg_mono_ms() < until)
		assert_int_equal(dist_push_run(p, 100, conc_done, &res, NULL,
		    &err), CG_OK);
	assert_int_equal(res.n, CONC_N);
	assert_int_equal(dist_pusher_connects(p), n);
	dist_pusher_free(p);
}

/* Pushes in flight when the pusher goes are dropped, not reported. */
static void
test_pusher_free_in_flight(void **state)
{
	struct dist_pusher	*p = NULL;
	struct conc		 res = { 0 };
	struct cg_err		 err = { 0 };
	int			 i;

	assert_int_equal(dist_pusher_new(&gfx->conf, &p, &err), CG_OK);
	receiver_mode("{\"sleep_ms\": 1000}");
	assert_int_equal(dist_job_set_rule(gfx->job, "idm", &err), CG_OK);
	for (i = 0; i < 3; i++)
		assert_int_equal(dist_push_start(p, gfx->job, NULL, &err),
		    CG_OK);
	assert_int_equal(dist_push_run(p, 50, conc_done, &res, NULL, &err),
	    CG_OK);
	assert_int_equal(res.n, 0);
	dist_pusher_free(p);	/* ASan: nothing leaks, nothing dangles */
	usleep(1100 * 1000);
	receiver_mode(NULL);
}

/* A password file that cannot be read stops the pusher at creation. */
static void
test_pusher_missing_secret(void **state)
{
	struct gw_dist_rule	 r;
	struct gw_dist_conf	 c = { 0 };
	struct dist_pusher	*p = (struct dist_pusher *)1;
	struct cg_err		 err = { 0 };

	r = gfx->rules[R_BASIC];
	r.basic_password_file = fx_path("no-such.pass");
	c.rules = &r;
	c.nrules = 1;
	assert_int_not_equal(dist_pusher_new(&c, &p, &err), CG_OK);
	assert_null(p);
	cg_free(r.basic_password_file);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_table),
		cmocka_unit_test(test_backoff_jitter_bounds),
		cmocka_unit_test(test_backoff_retry_after),
		cmocka_unit_test(test_retry_exhausted),
		cmocka_unit_test(test_retry_after_parse),
		cmocka_unit_test(test_push_delivered),
		cmocka_unit_test(test_push_statuses),
		cmocka_unit_test(test_push_no_client_cert),
		cmocka_unit_test(test_push_wrong_ca),
		cmocka_unit_test(test_push_p12),
		cmocka_unit_test(test_push_basic_auth),
		cmocka_unit_test(test_push_timeout),
		cmocka_unit_test(test_push_connect_refused),
		cmocka_unit_test(test_push_unknown_rule),
		cmocka_unit_test(test_push_keepalive),
		cmocka_unit_test(test_push_concurrent),
		cmocka_unit_test(test_pusher_free_in_flight),
		cmocka_unit_test(test_pusher_missing_secret),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
