/*
 * cmd_remote.c - `certgw --server URL [--cert F --key F --cacert F] ...`:
 * the admin commands that the admin API offers (docs/admin-api.md), run
 * against a gateway over HTTPS with a client certificate instead of on
 * the local store.  libcurl, the server always verified.  Output is like
 * the local commands' (tables, one line per change), or the API's JSON
 * with --json.  The API's refusals print its "error" and "detail".
 */
#include "cmd.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#define REMOTE_URL_MAX		1024		/* bytes of --server */
#define REMOTE_REPLY_MAX	(32 * 1024 * 1024) /* bytes of an answer */
#define REMOTE_TIMEOUT_S	60		/* whole call */
#define REMOTE_CONNECT_S	10		/* connect and handshake */
#define REMOTE_OPTS_MAX		8		/* options of one command */
#define REMOTE_ARGS_MAX		4		/* positional arguments */

/* Global options, from the command line or the environment. */
static struct {
	const char	*server;
	const char	*cert;
	const char	*key;
	const char	*cacert;
	bool		 explicit;	/* --server given */
} ro;

/* Commands that always run locally, even with CERTGW_SERVER set. */
/* What $CERTGW_SERVER sends to the API; the rest stays local. */
static const char *const remote_cmds[] = { "cert", "pending", "holding",
    "user", "trust", "dist", "audit", "whoami", NULL };

int
cmd_remote_options(int *argcp, char ***argvp)
{
	static const char *const names[] = { "--server", "--cert", "--key",
	    "--cacert" };
	const char	**slots[] = { &ro.server, &ro.cert, &ro.key,
			    &ro.cacert };
	const char	*env;
	char		**argv = *argvp;
	size_t		 i, n;
	int		 argc = *argcp;
	bool		 hit;

	while (argc >= 2) {
		hit = false;
		if (strcmp(argv[1], "--verbose") == 0 ||
		    strcmp(argv[1], "-v") == 0) {
			cmd_verbose = true;
			cg_log_set_level(CG_LOG_DEBUG);
			argc--;
			argv++;
			continue;
		}
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			n = strlen(names[i]);
			if (strncmp(argv[1], names[i], n) != 0)
				continue;
			if (argv[1][n] == '=') {
				*slots[i] = argv[1] + n + 1;
				argc--;
				argv++;
			} else if (argv[1][n] == '\0') {
				if (argc < 3) {
					fprintf(stderr, "certgw: %s needs a "
					    "value\n", names[i]);
					return CMD_EXIT_USAGE;
				}
				*slots[i] = argv[2];
				argc -= 2;
				argv += 2;
			} else {
				continue;
			}
			if (i == 0)
				ro.explicit = true;
			hit = true;
			break;
		}
		if (!hit)
			break;
	}
	env = getenv("CERTGW_SERVER");
	if ((ro.cert != NULL || ro.key != NULL || ro.cacert != NULL) &&
	    !ro.explicit && (env == NULL || env[0] == '\0')) {
		fprintf(stderr, "certgw: --cert, --key and --cacert go with "
		    "--server URL\n");
		return CMD_EXIT_USAGE;
	}
	*argcp = argc;
	*argvp = argv;
	return CMD_EXIT_OK;
}

bool
cmd_remote_active(const char *cmd)
{
	const char	*env;
	size_t		 i;

	if (ro.explicit)
		return true;
	env = getenv("CERTGW_SERVER");
	if (env == NULL || env[0] == '\0')
		return false;
	for (i = 0; remote_cmds[i] != NULL; i++)
		if (strcmp(cmd, remote_cmds[i]) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------- output */

/* s for a terminal: printable ASCII, else '?' (a few rotating buffers). */
static const char *
safe(const char *s)
{
	static char	 bufs[8][1024];
	static size_t	 next;
	char		*b = bufs[next++ % 8];
	size_t		 i;

	if (s == NULL)
		return "-";
	for (i = 0; s[i] != '\0' && i + 1 < sizeof(bufs[0]); i++)
		b[i] = (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	b[i] = '\0';
	return b;
}

/* Member key of o as text: strings as they are, numbers, "-" if none. */
static const char *
js(const json_t *o, const char *key)
{
	static char	 num[8][32];
	static size_t	 next;
	json_t		*v = json_object_get(o, key);
	char		*b;

	if (json_is_string(v) && json_string_length(v) > 0)
		return safe(json_string_value(v));
	if (json_is_integer(v) || json_is_boolean(v)) {
		b = num[next++ % 8];
		if (json_is_boolean(v))
			snprintf(b, sizeof(num[0]), "%s", json_is_true(v) ?
			    "true" : "false");
		else
			snprintf(b, sizeof(num[0]), "%lld",
			    (long long)json_integer_value(v));
		return b;
	}
	return "-";
}

/* --------------------------------------------------------------- HTTP */

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct cg_buf	*b = arg;

	if (cg_buf_add(b, p, size * nmemb, NULL) != CG_OK)
		return 0;
	return size * nmemb;
}

/* Print the API's error answer (or what went wrong) and return 1. */
static int
api_error(long status, const struct cg_buf *b)
{
	json_t	*o;

	o = json_loadb((const char *)b->data, b->len, 0, NULL);
	if (json_is_string(json_object_get(o, "error")))
		fprintf(stderr, "certgw: %s: %s\n",
		    js(o, "error"), js(o, "detail"));
	else
		fprintf(stderr, "certgw: the server answered %ld: %.200s\n",
		    status, safe((const char *)(b->data != NULL ? b->data :
		    (const uint8_t *)"")));
	json_decref(o);
	return CMD_EXIT_FAIL;
}

/*
 * method path (below /admin/v1/, escaped) with body (NULL: none; taken),
 * the JSON answer into *outp.  Prints the trouble and returns 1.
 */
static int
api(const char *method, const char *path, json_t *body, json_t **outp)
{
	struct curl_slist	*hdrs = NULL;
	struct cg_buf		 b;
	CURL			*c;
	CURLcode		 cc = CURLE_OK;
	char			 url[REMOTE_URL_MAX + 2048];
	char			 errbuf[CURL_ERROR_SIZE];
	char			*text = NULL;
	size_t			 n;
	long			 status = 0;
	int			 ret = CMD_EXIT_FAIL;

	*outp = NULL;
	n = strlen(ro.server);
	while (n > 0 && ro.server[n - 1] == '/')
		n--;
	snprintf(url, sizeof(url), "%.*s/admin/v1/%s", (int)n, ro.server,
	    path);
	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	cg_buf_init(&b, REMOTE_REPLY_MAX);
	errbuf[0] = '\0';
	if ((c = curl_easy_init()) == NULL) {
		fprintf(stderr, "certgw: cannot start libcurl\n");
		goto out;
	}
#define SET(o, v) do { if (cc == CURLE_OK) cc = curl_easy_setopt(c, o, v); \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT, (long)REMOTE_TIMEOUT_S);
	SET(CURLOPT_CONNECTTIMEOUT, (long)REMOTE_CONNECT_S);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, &b);
	if (ro.cacert != NULL)
		SET(CURLOPT_CAINFO, ro.cacert);
	if (ro.cert != NULL)
		SET(CURLOPT_SSLCERT, ro.cert);
	if (ro.key != NULL)
		SET(CURLOPT_SSLKEY, ro.key);
	if (strcmp(method, "GET") != 0)
		SET(CURLOPT_CUSTOMREQUEST, method);
	/* The gateway's own refusals (client_cert_*) come as JSON too. */
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (text != NULL && hdrs != NULL)
		hdrs = curl_slist_append(hdrs, "Content-Type: "
		    "application/json");
	if (hdrs == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		goto out;
	}
	SET(CURLOPT_HTTPHEADER, hdrs);
	if (text != NULL) {
		SET(CURLOPT_POSTFIELDS, text);
		SET(CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else if (strcmp(method, "POST") == 0) {
		SET(CURLOPT_POSTFIELDS, "");
		SET(CURLOPT_POSTFIELDSIZE, 0L);
	}
#undef SET
	if (cc == CURLE_OK)
		cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		fprintf(stderr, "certgw: %s: %s\n", safe(ro.server),
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 400) {
		ret = api_error(status, &b);
		goto out;
	}
	*outp = json_loadb((const char *)b.data, b.len, 0, NULL);
	if (*outp == NULL) {
		fprintf(stderr, "certgw: the server's answer is not JSON\n");
		goto out;
	}
	ret = CMD_EXIT_OK;
out:
	curl_slist_free_all(hdrs);
	if (c != NULL)
		curl_easy_cleanup(c);
	cg_buf_cleanup(&b);
	free(text);
	return ret;
}

/* Path pieces joined with '/', each escaped; the caller frees. */
static char *
path_of(const char *first, const char *seg, const char *rest)
{
	char	*e, *p;

	if (seg == NULL)
		return cg_strdup(first);
	e = curl_easy_escape(NULL, seg, 0);
	if (e == NULL)
		return NULL;
	p = cg_asprintf("%s/%s%s%s", first, e, rest != NULL ? "/" : "",
	    rest != NULL ? rest : "");
	curl_free(e);
	return p;
}

/* ------------------------------------------------------------ options */

struct ropts {
	const char	*name[REMOTE_OPTS_MAX];	/* "--status" */
	bool		 has_arg[REMOTE_OPTS_MAX];
	const char	*val[REMOTE_OPTS_MAX];	/* value, or "" for a flag */
	size_t		 n;
	char		*arg[REMOTE_ARGS_MAX];
	size_t		 nargs;
};

/*
 * argv[0] is the subcommand; spec is "status= profile= json" (a trailing
 * '=' takes a value).  nargs positional arguments exactly.
 */
static int
ropts_parse(const char *cmd, int argc, char **argv, const char *spec,
    size_t nargs, struct ropts *o)
{
	static char	 names[REMOTE_OPTS_MAX][32];
	const char	*p = spec, *sp, *eq;
	size_t		 i, len;
	int		 a;

	memset(o, 0, sizeof(*o));
	while (*p != '\0' && o->n < REMOTE_OPTS_MAX) {
		sp = strchr(p, ' ');
		len = sp != NULL ? (size_t)(sp - p) : strlen(p);
		o->has_arg[o->n] = p[len - 1] == '=';
		snprintf(names[o->n], sizeof(names[0]), "--%.*s",
		    (int)(len - o->has_arg[o->n]), p);
		o->name[o->n] = names[o->n];
		o->n++;
		p += len + (sp != NULL);
	}
	for (a = 1; a < argc; a++) {
		if (strncmp(argv[a], "--", 2) != 0 || argv[a][2] == '\0') {
			if (o->nargs >= REMOTE_ARGS_MAX || o->nargs >= nargs)
				return cmd_usage_error(cmd, "unexpected "
				    "argument '%s'", argv[a]);
			o->arg[o->nargs++] = argv[a];
			continue;
		}
		eq = strchr(argv[a], '=');
		len = eq != NULL ? (size_t)(eq - argv[a]) : strlen(argv[a]);
		for (i = 0; i < o->n; i++)
			if (strlen(o->name[i]) == len &&
			    strncmp(o->name[i], argv[a], len) == 0)
				break;
		if (i == o->n)
			return cmd_usage_error(cmd, "option %s is not "
			    "available with --server", argv[a]);
		if (!o->has_arg[i])
			o->val[i] = "";
		else if (eq != NULL)
			o->val[i] = eq + 1;
		else if (a + 1 < argc)
			o->val[i] = argv[++a];
		else
			return cmd_usage_error(cmd, "%s needs a value",
			    argv[a]);
	}
	if (o->nargs != nargs)
		return cmd_usage_error(cmd, "expected %zu argument%s", nargs,
		    nargs == 1 ? "" : "s");
	return CMD_EXIT_OK;
}

static const char *
opt(const struct ropts *o, const char *name)
{
	size_t	 i;

	for (i = 0; i < o->n; i++)
		if (strcmp(o->name[i] + 2, name) == 0)
			return o->val[i];
	return NULL;
}

/* "?a=x&b=y" from the options named in keys that were given. */
static char *
query_of(const struct ropts *o, const char *const *keys,
    const char *const *params)
{
	struct cg_buf	 b;
	const char	*v;
	char		*e;
	size_t		 i;

	cg_buf_init(&b, 4096);
	cg_buf_addstr(&b, "", NULL);
	for (i = 0; keys[i] != NULL; i++) {
		if ((v = opt(o, keys[i])) == NULL)
			continue;
		if ((e = curl_easy_escape(NULL, v, 0)) == NULL)
			break;
		cg_buf_printf(&b, NULL, "%s%s=%s", b.len == 0 ? "?" : "&",
		    params[i], e);
		curl_free(e);
	}
	return (char *)cg_buf_steal(&b, NULL);
}

/* Run GET/POST and print JSON when asked; *outp for the caller. */
static int
call_print(const char *method, const char *path, json_t *body, bool json,
    json_t **outp)
{
	int	 ret;

	ret = api(method, path, body, outp);
	if (ret == CMD_EXIT_OK && json) {
		if (!cmd_json_print(*outp))
			ret = CMD_EXIT_FAIL;
		json_decref(*outp);
		*outp = NULL;
	}
	return ret;
}

/* ------------------------------------------------------- certificates */

/* A certificate's PEM from the server, if it is one and nothing else. */
static void
pem_print(const json_t *v)
{
	static const char	 begin[] = "-----BEGIN CERTIFICATE-----\n";
	const char		*s = json_string_value(v);
	size_t			 i;

	if (s == NULL || strncmp(s, begin, sizeof(begin) - 1) != 0)
		return;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] != '\n' && (s[i] < ' ' || s[i] > '~'))
			return;
	fputs(s, stdout);
}

static int
r_cert(int argc, char **argv)
{
	static const char *const lkeys[] = { "status", "profile", "search",
	    "limit", NULL };
	static const char *const lparams[] = { "status", "profile", "q",
	    "limit", NULL };
	const char	*sub = argc >= 2 ? argv[1] : "";
	struct ropts	 o;
	json_t		*r = NULL, *v, *body;
	char		*q = NULL, *path = NULL;
	size_t		 i;
	int		 ret;

	if (strcmp(sub, "list") == 0) {
		if ((ret = ropts_parse("cert list", argc - 1, argv + 1,
		    "status= profile= search= limit= json", 0, &o)) != 0)
			return ret;
		q = query_of(&o, lkeys, lparams);
		path = cg_asprintf("certificates%s", q != NULL ? q : "");
		ret = path == NULL ? CMD_EXIT_FAIL : call_print("GET", path,
		    NULL, opt(&o, "json") != NULL, &r);
		if (r != NULL) {
			printf("%-40s  %-7s  %-20s  %-12s  %-5s  %s\n",
			    "SERIAL", "STATUS", "NOT_AFTER", "PROFILE",
			    "PROTO", "SUBJECT  SANS");
			json_array_foreach(json_object_get(r, "certificates"),
			    i, v)
				printf("%-40s  %-7s  %-20s  %-12s  %-5s  %s  "
				    "%s\n", js(v, "serial"), js(v, "status"),
				    js(v, "not_after"), js(v, "profile"),
				    js(v, "protocol"), js(v, "subject"),
				    js(v, "sans"));
			if (json_is_true(json_object_get(r, "truncated")))
				fprintf(stderr, "certgw: more certificates "
				    "match; raise --limit (at most 1000)\n");
		}
	} else if (strcmp(sub, "show") == 0) {
		if ((ret = ropts_parse("cert show", argc - 1, argv + 1,
		    "json pem", 1, &o)) != 0)
			return ret;
		path = path_of("certificates", o.arg[0], NULL);
		ret = path == NULL ? CMD_EXIT_FAIL : call_print("GET", path,
		    NULL, opt(&o, "json") != NULL, &r);
		if (r != NULL && opt(&o, "pem") != NULL)
			printf("%s", json_is_string(json_object_get(r, "pem")) ?
			    json_string_value(json_object_get(r, "pem")) : "");
		else if (r != NULL)
			printf("serial:     %s\nstatus:     %s\n"
			    "profile:    %s\nprotocol:   %s\n"
			    "requester:  %s\nsha256:     %s\n"
			    "sha1:       %s\nsubject:    %s\nissuer:     %s\n"
			    "sans:       %s\nnot_before: %s\nnot_after:  %s\n"
			    "revoked:    %s\n", js(r, "serial"),
			    js(r, "status"), js(r, "profile"),
			    js(r, "protocol"), js(r, "requester"),
			    js(r, "sha256"), js(r, "sha1"), js(r, "subject"),
			    js(r, "issuer"), js(r, "sans"),
			    js(r, "not_before"), js(r, "not_after"),
			    js(r, "revocation_reason"));
	} else if (strcmp(sub, "revoke") == 0) {
		if ((ret = ropts_parse("cert revoke", argc - 1, argv + 1,
		    "reason=", 1, &o)) != 0)
			return ret;
		path = path_of("certificates", o.arg[0], "revoke");
		ret = path == NULL ? CMD_EXIT_FAIL : api("POST", path,
		    json_pack("{s:s}", "reason", opt(&o, "reason") != NULL ?
		    opt(&o, "reason") : "unspecified"), &r);
		if (r != NULL)
			printf("revoked %s reason=%s\n", js(r, "serial"),
			    js(r, "revocation_reason"));
	} else if (strcmp(sub, "reissue") == 0) {
		/* Same key only: a new private key never crosses the API. */
		for (i = 2; i < (size_t)argc; i++)
			if (strcmp(argv[i], "--new-key") == 0)
				return cmd_usage_error("cert reissue",
				    "--new-key makes a private key, which "
				    "never travels through the API; run "
				    "`certgw cert reissue --new-key` on the "
				    "gateway's host");
		if ((ret = ropts_parse("cert reissue", argc - 1, argv + 1,
		    "profile= revoke-old json", 1, &o)) != 0)
			return ret;
		path = path_of("certificates", o.arg[0], "reissue");
		body = json_pack("{s:s?, s:b}", "profile", opt(&o, "profile"),
		    "revoke_old", opt(&o, "revoke-old") != NULL);
		ret = path == NULL ? CMD_EXIT_FAIL : call_print("POST", path,
		    body, opt(&o, "json") != NULL, &r);
		if (r != NULL) {
			printf("reissued serial=%s old=%s profile=%s sha256=%s "
			    "key=same%s\n", js(r, "serial"),
			    js(r, "old_serial"), js(r, "profile"),
			    js(r, "sha256"), opt(&o, "revoke-old") != NULL ?
			    " old=revoked" : "");
			pem_print(json_object_get(r, "pem"));
		}
	} else {
		return cmd_usage_error("cert", "with --server: list, show, "
		    "revoke or reissue");
	}
	json_decref(r);
	cg_free(q);
	cg_free(path);
	return ret;
}

/* ------------------------------------------------- pending and holding */

/* `pending|holding list`, `approve|accept ID`, `reject ID`. */
static int
r_queue(int argc, char **argv, bool holding)
{
	static const char *const keys[] = { "status", NULL };
	const char	*cmd = holding ? "holding" : "pending";
	const char	*sub = argc >= 2 ? argv[1] : "", *user, *reason;
	struct ropts	 o;
	json_t		*r = NULL, *v, *body = NULL;
	char		*q = NULL, *path = NULL, what[64];
	size_t		 i;
	int		 ret;

	snprintf(what, sizeof(what), "%s %s", cmd, sub);
	if (strcmp(sub, "list") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1,
		    "status= json", 0, &o)) != 0)
			return ret;
		q = query_of(&o, keys, keys);
		path = cg_asprintf("%s%s", cmd, q != NULL ? q : "");
		ret = path == NULL ? CMD_EXIT_FAIL : call_print("GET", path,
		    NULL, opt(&o, "json") != NULL, &r);
		if (r != NULL && holding) {
			printf("%-6s  %-8s  %-5s  %-20s  %-16s  %s\n", "ID",
			    "STATUS", "SEEN", "LAST_SEEN", "SHA256",
			    "SUBJECT");
			json_array_foreach(json_object_get(r, "holding"), i, v)
				printf("%-6s  %-8s  %-5s  %-20s  %.16s  %s\n",
				    js(v, "id"), js(v, "status"),
				    js(v, "count"), js(v, "last_seen"),
				    js(v, "sha256"), js(v, "subject"));
		} else if (r != NULL) {
			printf("%-6s  %-8s  %-5s  %-12s  %-16s  %s\n", "ID",
			    "STATUS", "PROTO", "PROFILE", "REQUESTER",
			    "SUBJECT  SANS");
			json_array_foreach(json_object_get(r, "pending"), i, v)
				printf("%-6s  %-8s  %-5s  %-12s  %-16s  %s  "
				    "%s\n", js(v, "id"), js(v, "status"),
				    js(v, "protocol"), js(v, "profile"),
				    js(v, "requester"), js(v, "subject"),
				    js(v, "sans"));
		}
	} else if (strcmp(sub, holding ? "accept" : "approve") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1,
		    holding ? "user=" : "", 1, &o)) != 0)
			return ret;
		user = opt(&o, "user");
		if (holding && user == NULL)
			return cmd_usage_error(what, "--user NAME is required");
		if (holding)
			body = json_pack("{s:s}", "user", user);
		path = path_of(cmd, o.arg[0], sub);
		ret = path == NULL ? CMD_EXIT_FAIL : api("POST", path, body,
		    &r);
		if (r != NULL && holding)
			printf("accepted %s: mapped to %s (mapping %s%s)\n",
			    js(r, "id"), js(r, "user"), js(r, "mapping"),
			    json_is_true(json_object_get(r, "pinned")) ?
			    ", pinned" : "");
		else if (r != NULL)
			printf("approved %s: issued serial=%s profile=%s "
			    "(the client receives it when it asks again)\n",
			    js(r, "id"), js(r, "cert_serial"),
			    js(r, "profile"));
	} else if (strcmp(sub, "reject") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1,
		    holding ? "" : "reason=", 1, &o)) != 0)
			return ret;
		reason = opt(&o, "reason");
		if (reason != NULL)
			body = json_pack("{s:s}", "reason", reason);
		path = path_of(cmd, o.arg[0], "reject");
		ret = path == NULL ? CMD_EXIT_FAIL : api("POST", path, body,
		    &r);
		if (r != NULL)
			printf("rejected %s\n", js(r, "id"));
	} else {
		return cmd_usage_error(cmd, "with --server: list, %s or reject",
		    holding ? "accept" : "approve");
	}
	json_decref(r);
	cg_free(q);
	cg_free(path);
	return ret;
}

/* -------------------------------------------------------------- trust */

/*
 * The certificates of file as PEM text for the API (trust add: exactly
 * one; import-cert: the certificate and its intermediates): the file is
 * read and judged here first (PEM or DER, no private key), so that a key
 * given by mistake never leaves the machine.
 */
static char *
file_pem(const char *what, const char *file, bool one)
{
	STACK_OF(X509)	*certs = NULL;
	struct cg_err	 err = { 0 };
	uint8_t		*data = NULL;
	size_t		 len = 0;
	char		*pem = NULL, *p;
	BIO		*bio = NULL;
	long		 n;
	int		 i, ok;

	if (cg_file_read(file, CA_CERT_PEM_MAX + 1, &data, &len, &err) ==
	    CG_OK)
		(void)ca_cert_file_parse(data, len, &certs, &err);
	if (data != NULL) {
		OPENSSL_cleanse(data, len);
		cg_free(data);
	}
	if (err.code != CG_OK) {
		fprintf(stderr, "certgw: %s: %s: %s\n", what, file, err.msg);
		return NULL;
	}
	ok = (!one || sk_X509_num(certs) == 1) &&
	    (bio = BIO_new(BIO_s_mem())) != NULL;
	for (i = 0; ok && i < sk_X509_num(certs); i++)
		ok = PEM_write_bio_X509(bio, sk_X509_value(certs, i)) == 1;
	if (ok && (n = BIO_get_mem_data(bio, &p)) > 0)
		pem = cg_strndup(p, (size_t)n);
	else if (one)
		fprintf(stderr, "certgw: %s: %s: give one CA certificate\n",
		    what, file);
	else
		fprintf(stderr, "certgw: %s: %s: cannot encode the "
		    "certificates\n", what, file);
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	return pem;
}

static int
r_trust(int argc, char **argv)
{
	const char	*sub = argc >= 2 ? argv[1] : "";
	struct ropts	 o;
	json_t		*r = NULL, *v, *body;
	char		*path = NULL, *pem, what[32];
	size_t		 i;
	int		 ret;

	snprintf(what, sizeof(what), "trust %s", sub);
	if (strcmp(sub, "list") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1, "json", 0,
		    &o)) != 0)
			return ret;
		ret = call_print("GET", "trust", NULL, opt(&o, "json") !=
		    NULL, &r);
		if (r != NULL) {
			printf("%-4s  %-20s  %-16s  %s\n", "ID", "NOT_AFTER",
			    "SHA256", "SUBJECT");
			json_array_foreach(json_object_get(r, "trust"), i, v)
				printf("%-4s  %-20s  %.16s  %s\n", js(v, "id"),
				    js(v, "not_after"), js(v, "sha256"),
				    js(v, "subject"));
		}
	} else if (strcmp(sub, "add") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1, "json", 1,
		    &o)) != 0)
			return ret;
		if ((pem = file_pem("trust add", o.arg[0], true)) == NULL)
			return CMD_EXIT_FAIL;
		body = json_pack("{s:s}", "pem", pem);
		cg_free(pem);
		ret = call_print("POST", "trust", body, opt(&o, "json") !=
		    NULL, &r);
		if (r != NULL)
			printf("trusted %s for client certificates (id %s, "
			    "sha256 %s)\n", js(r, "subject"), js(r, "id"),
			    js(r, "sha256"));
	} else if (strcmp(sub, "remove") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1, "", 1,
		    &o)) != 0)
			return ret;
		path = path_of("trust", o.arg[0], NULL);
		ret = path == NULL ? CMD_EXIT_FAIL : api("DELETE", path, NULL,
		    &r);
		if (r != NULL)
			printf("removed trust anchor %s\n", js(r, "id"));
	} else {
		return cmd_usage_error("trust", "with --server: list, add or "
		    "remove");
	}
	json_decref(r);
	cg_free(path);
	return ret;
}

/* -------------------------------------------------------------- users */

static void
user_print(const json_t *r)
{
	json_t	*m;
	size_t	 i;

	printf("name:     %s\nrole:     %s\nstate:    %s\nemail:    %s\n"
	    "org:      %s\n", js(r, "name"), js(r, "role"),
	    json_is_true(json_object_get(r, "disabled")) ? "disabled" :
	    "enabled", js(r, "email"), js(r, "org"));
	json_array_foreach(json_object_get(r, "mappings"), i, m)
		printf("  mapping %s: %s %s%s (%s)\n", js(m, "id"),
		    js(m, "kind"), js(m, "value"),
		    json_is_true(json_object_get(m, "pinned")) ? ", pinned" :
		    "", js(m, "source"));
}

/* The words of `certgw user import-cert`, from the API's answer. */
static void
import_print(const json_t *r)
{
	const json_t	*maps = json_object_get(r, "mappings");
	const json_t	*sha = json_array_get(maps, 0);
	const json_t	*cn = json_array_get(maps, 1);

	if (json_is_true(json_object_get(r, "pinned")))
		printf("pinned self-signed certificate sha256 %s to %s "
		    "(mapping %s); it is trusted for %s alone\n",
		    js(r, "sha256"), js(r, "identity"), js(sha, "id"),
		    js(r, "identity"));
	else if (cn == NULL)
		printf("mapped sha256 %s to %s (mapping %s)\n",
		    js(r, "sha256"), js(r, "identity"), js(sha, "id"));
	else
		printf("mapped sha256 %s (mapping %s) and cn %s (mapping %s) "
		    "to %s\n", js(r, "sha256"), js(sha, "id"),
		    js(cn, "value"), js(cn, "id"), js(r, "identity"));
}

static int
r_user(int argc, char **argv)
{
	const char	*sub = argc >= 2 ? argv[1] : "", *thumb, *cn;
	struct ropts	 o;
	json_t		*r = NULL, *v, *body = NULL;
	char		*path = NULL, *pem, what[64];
	size_t		 i;
	int		 ret;

	snprintf(what, sizeof(what), "user %s", sub);
	if (strcmp(sub, "list") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1, "json", 0,
		    &o)) != 0)
			return ret;
		ret = call_print("GET", "identities", NULL,
		    opt(&o, "json") != NULL, &r);
		if (r != NULL) {
			printf("%-24s  %-8s  %-8s  %-24s  %s\n", "NAME",
			    "ROLE", "STATE", "EMAIL", "ORG");
			json_array_foreach(json_object_get(r, "identities"),
			    i, v)
				printf("%-24s  %-8s  %-8s  %-24s  %s\n",
				    js(v, "name"), js(v, "role"),
				    json_is_true(json_object_get(v,
				    "disabled")) ? "disabled" : "enabled",
				    js(v, "email"), js(v, "org"));
		}
	} else if (strcmp(sub, "show") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1, "json", 1,
		    &o)) != 0)
			return ret;
		path = path_of("identities", o.arg[0], NULL);
		ret = path == NULL ? CMD_EXIT_FAIL : call_print("GET", path,
		    NULL, opt(&o, "json") != NULL, &r);
		if (r != NULL)
			user_print(r);
	} else if (strcmp(sub, "add") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1,
		    "email= org= role=", 1, &o)) != 0)
			return ret;
		body = json_pack("{s:s, s:s, s:s, s:s}", "name", o.arg[0],
		    "email", opt(&o, "email") != NULL ? opt(&o, "email") : "",
		    "org", opt(&o, "org") != NULL ? opt(&o, "org") : "",
		    "role", opt(&o, "role") != NULL ? opt(&o, "role") :
		    "none");
		ret = api("POST", "identities", body, &r);
		if (r != NULL)
			printf("added identity %s (id %s, role %s)\n",
			    js(r, "name"), js(r, "id"), js(r, "role"));
	} else if (strcmp(sub, "disable") == 0 ||
	    strcmp(sub, "enable") == 0 || strcmp(sub, "role") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1, "",
		    sub[0] == 'r' ? 2 : 1, &o)) != 0)
			return ret;
		body = sub[0] == 'r' ? json_pack("{s:s}", "role", o.arg[1]) :
		    json_pack("{s:b}", "disabled", sub[0] == 'd');
		path = path_of("identities", o.arg[0], NULL);
		ret = path == NULL ? CMD_EXIT_FAIL : api("POST", path, body,
		    &r);
		if (r != NULL)
			printf("%s: %s\n", js(r, "name"), sub[0] == 'r' ?
			    js(r, "role") : json_is_true(json_object_get(r,
			    "disabled")) ? "disabled" : "enabled");
	} else if (strcmp(sub, "add-cert") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1,
		    "thumbprint= cn=", 1, &o)) != 0)
			return ret;
		thumb = opt(&o, "thumbprint");
		cn = opt(&o, "cn");
		if ((thumb == NULL) == (cn == NULL))
			return cmd_usage_error(what, "give --thumbprint or "
			    "--cn, not both");
		body = json_pack("{s:s, s:s}", "kind", cn != NULL ? "cn" :
		    strlen(thumb) <= 59 ? "sha1" : "sha256", "value",
		    cn != NULL ? cn : thumb);
		path = path_of("identities", o.arg[0], "mappings");
		ret = path == NULL ? CMD_EXIT_FAIL : api("POST", path, body,
		    &r);
		if (r != NULL)
			printf("mapped %s %s to %s (mapping %s)\n",
			    js(r, "kind"), js(r, "value"), js(r, "identity"),
			    js(r, "id"));
	} else if (strcmp(sub, "import-cert") == 0) {
		if ((ret = ropts_parse(what, argc - 1, argv + 1,
		    "thumbprint-only", 2, &o)) != 0)
			return ret;
		if ((pem = file_pem("import-cert", o.arg[1], false)) == NULL)
			return CMD_EXIT_FAIL;
		body = json_pack("{s:s, s:b}", "pem", pem, "thumbprint_only",
		    opt(&o, "thumbprint-only") != NULL);
		cg_free(pem);
		path = path_of("identities", o.arg[0], "certificates");
		ret = path == NULL ? CMD_EXIT_FAIL : api("POST", path, body,
		    &r);
		if (r != NULL)
			import_print(r);
	} else {
		return cmd_usage_error("user", "with --server: list, show, "
		    "add, disable, enable, role, add-cert or import-cert");
	}
	json_decref(r);
	cg_free(path);
	return ret;
}

/* ------------------------------------------- distribution, audit, me */

static int
r_dist(int argc, char **argv)
{
	const char	*sub = argc >= 2 ? argv[1] : "";
	struct ropts	 o;
	json_t		*r = NULL, *v, *q;
	size_t		 i;
	int		 ret;

	if (strcmp(sub, "status") == 0) {
		if ((ret = ropts_parse("dist status", argc - 1, argv + 1,
		    "json", 0, &o)) != 0)
			return ret;
		ret = call_print("GET", "distribution", NULL,
		    opt(&o, "json") != NULL, &r);
		if (r == NULL)
			return ret;
		v = json_object_get(r, "outbox");
		printf("outbox:   %s not yet in Redis (oldest %ss)\n",
		    js(v, "jobs"), js(v, "oldest_s"));
		q = json_object_get(r, "queue");
		if (json_is_object(q))
			printf("queued:   %s (oldest %sms)\npushing:  %s\n"
			    "delayed:  %s\ndead:     %s\n", js(q, "jobs"),
			    js(q, "oldest_ms"), js(q, "pending"),
			    js(q, "delayed"), js(q, "dead"));
		else
			printf("queue:    (no redis section in the config)\n");
		json_array_foreach(json_object_get(r, "rules"), i, v)
			printf("  %-24s delivered %s retried %s dead %s\n",
			    js(v, "rule"), js(v, "delivered"),
			    js(v, "retried"), js(v, "dead"));
		json_array_foreach(json_object_get(r, "dead_letters"), i, v)
			printf("dead letter %s\t%s\t%s\t%s\n", js(v, "id"),
			    js(v, "rule"), js(v, "serial"), js(v, "reason"));
	} else if (strcmp(sub, "retry") == 0) {
		if (argc == 3 && strcmp(argv[2], "--all-dead") == 0)
			ret = api("POST", "distribution/retry",
			    json_pack("{s:b}", "all_dead", 1), &r);
		else if (argc == 3 && argv[2][0] != '-')
			ret = api("POST", "distribution/retry",
			    json_pack("{s:s}", "id", argv[2]), &r);
		else
			return cmd_usage_error("dist retry", "retry takes an "
			    "ID or --all-dead");
		if (r == NULL)
			return ret;
		json_array_foreach(json_object_get(r, "requeued"), i, v)
			printf("%s\tqueued again\n",
			    safe(json_string_value(v)));
		json_array_foreach(json_object_get(r, "failed"), i, v) {
			fprintf(stderr, "certgw: %s: %s\n", js(v, "id"),
			    js(v, "error"));
			ret = CMD_EXIT_FAIL;
		}
	} else {
		return cmd_usage_error("dist", "with --server: status or "
		    "retry");
	}
	json_decref(r);
	return ret;
}

static int
r_audit(int argc, char **argv)
{
	static const char *const keys[] = { "since", "limit", NULL };
	struct ropts	 o;
	json_t		*r = NULL, *v;
	char		*q, *path;
	size_t		 i;
	int		 ret;

	if ((ret = ropts_parse("audit", argc, argv, "since= limit= json", 0,
	    &o)) != 0)
		return ret;
	q = query_of(&o, keys, keys);
	path = cg_asprintf("audit%s", q != NULL ? q : "");
	ret = path == NULL ? CMD_EXIT_FAIL : call_print("GET", path, NULL,
	    opt(&o, "json") != NULL, &r);
	if (r != NULL) {
		printf("%-20s  %-16s  %-8s  %-8s  %-40s  %s\n", "AT", "ACTOR",
		    "ACTION", "OUTCOME", "TARGET", "DETAIL");
		json_array_foreach(json_object_get(r, "audit"), i, v)
			printf("%s  %-16s  %-8s  %-8s  %-40s  %s\n",
			    js(v, "at"), js(v, "actor"), js(v, "action"),
			    js(v, "outcome"), js(v, "target"),
			    js(v, "detail"));
	}
	json_decref(r);
	cg_free(q);
	cg_free(path);
	return ret;
}

static int
r_whoami(int argc, char **argv)
{
	struct ropts	 o;
	json_t		*r = NULL;
	int		 ret;

	if ((ret = ropts_parse("whoami", argc, argv, "json", 0, &o)) != 0)
		return ret;
	ret = call_print("GET", "whoami", NULL, opt(&o, "json") != NULL, &r);
	if (r != NULL)
		printf("name:     %s\nrole:     %s\nsubject:  %s\n"
		    "sha256:   %s\n", js(r, "name"), js(r, "role"),
		    js(json_object_get(r, "certificate"), "subject"),
		    js(json_object_get(r, "certificate"), "sha256"));
	json_decref(r);
	return ret;
}

static int
remote_usage(void)
{
	printf(
"usage: certgw --server https://HOST:PORT [--cert F --key F --cacert F] ...\n"
"  cert list [--status S] [--profile P] [--search TEXT] [--limit N] [--json]\n"
"  cert show SERIAL [--json | --pem]\n"
"  cert revoke SERIAL [--reason R]\n"
"  cert reissue SERIAL [--profile P] [--revoke-old] [--json]\n"
"  pending list [--status S] [--json] | approve ID | reject ID [--reason T]\n"
"  holding list [--status S] [--json] | accept ID --user NAME | reject ID\n"
"  user list [--json] | show NAME [--json] | add NAME [--email E] [--org O]\n"
"       [--role R] | disable NAME | enable NAME | role NAME ROLE\n"
"       | add-cert NAME (--thumbprint HEX | --cn CN)\n"
"       | import-cert NAME FILE [--thumbprint-only]\n"
"  trust list [--json] | add CA.pem [--json] | remove ID\n"
"  dist status [--json] | retry (ID | --all-dead)\n"
"  audit [--since 1h] [--limit N] [--json]\n"
"  whoami [--json]\n"
"\n"
"The same through the environment: CERTGW_SERVER, CERTGW_CLIENT_CERT,\n"
"CERTGW_CLIENT_KEY, CERTGW_CACERT.  See docs/admin-api.md.\n");
	return CMD_EXIT_OK;
}

int
cmd_remote(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "cert", r_cert, "list, show, revoke" },
		{ "user", r_user, "list, show, add, disable, enable, role, "
		  "add-cert, import-cert" },
		{ "dist", r_dist, "status, retry" },
		{ "audit", r_audit, "the audit log" },
		{ "whoami", r_whoami, "who the client certificate is" },
		{ "trust", r_trust, "list, add, remove" },
	};
	const char	*env;
	size_t		 i;

	if (ro.server == NULL)
		ro.server = getenv("CERTGW_SERVER");
	if (ro.cert == NULL)
		ro.cert = getenv("CERTGW_CLIENT_CERT");
	if (ro.key == NULL)
		ro.key = getenv("CERTGW_CLIENT_KEY");
	if (ro.cacert == NULL && (env = getenv("CERTGW_CACERT")) != NULL &&
	    env[0] != '\0')
		ro.cacert = env;
	if (ro.server == NULL || strlen(ro.server) > REMOTE_URL_MAX ||
	    strncasecmp(ro.server, "https://", 8) != 0) {
		fprintf(stderr, "certgw: --server must be an https:// URL\n");
		return CMD_EXIT_USAGE;
	}
	if (argc < 1) {
		fprintf(stderr, "certgw: no command\n");
		return CMD_EXIT_USAGE;
	}
	for (i = 1; i < (size_t)argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return remote_usage();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "certgw: cannot start libcurl\n");
		return CMD_EXIT_FAIL;
	}
	if (strcmp(argv[0], "pending") == 0)
		return r_queue(argc, argv, false);
	if (strcmp(argv[0], "holding") == 0)
		return r_queue(argc, argv, true);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			return cmds[i].fn(argc, argv);
	fprintf(stderr, "certgw: '%s' is not offered by the admin API; run it "
	    "on the gateway's host without --server\n", safe(argv[0]));
	return CMD_EXIT_USAGE;
}
