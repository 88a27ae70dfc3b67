/*
 * dist_url.c - a rule's push URL: the template from the config with
 * {placeholders} filled from the job and the rule's vars.  Values are
 * percent-encoded, so a certificate field can never change the shape of
 * the URL (add a segment, a query parameter or another host).
 */
#include "certgw/dist.h"

#include <string.h>

#define PLACEHOLDER_MAX		64	/* characters of a {name} */

static bool
unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Values the job supplies; they win over vars of the same name. */
static const char *
builtin(const struct dist_job *job, const char *name, size_t n)
{
	if (n == 6 && strncmp(name, "serial", n) == 0)
		return job->serial;
	if (n == 7 && strncmp(name, "profile", n) == 0)
		return job->profile;
	if (n == 4 && strncmp(name, "rule", n) == 0)
		return job->rule;
	return NULL;
}

static const char *
var(const struct gw_dist_rule *rule, const char *name, size_t n)
{
	size_t	 i;

	for (i = 0; i < rule->nvars; i++)
		if (rule->vars[i].name != NULL &&
		    strlen(rule->vars[i].name) == n &&
		    strncmp(rule->vars[i].name, name, n) == 0)
			return rule->vars[i].value;
	return NULL;
}

/*
 * The placeholder that opens at t[i] ('{'): its name is t[i+1 .. *endp),
 * and t[*endp] is the '}'.
 */
static enum cg_code
placeholder(const char *t, size_t i, size_t *endp, struct cg_err *err)
{
	size_t	 j;

	for (j = i + 1; name_char(t[j]); j++)
		if (j - i > PLACEHOLDER_MAX)
			return cg_err_set(err, CG_EINVAL, "URL template: a "
			    "placeholder name is longer than %d characters",
			    PLACEHOLDER_MAX);
	if (t[j] != '}')
		return cg_err_set(err, CG_EINVAL, "URL template: '{' at "
		    "offset %zu does not open a {name}", i);
	if (j == i + 1)
		return cg_err_set(err, CG_EINVAL, "URL template: empty {} "
		    "at offset %zu", i);
	*endp = j;
	return CG_OK;
}

static enum cg_code
add_encoded(struct cg_buf *b, const char *v)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			 pct[3];
	enum cg_code		 rc = CG_OK;
	const unsigned char	*p;

	for (p = (const unsigned char *)v; rc == CG_OK && *p != '\0'; p++) {
		if (unreserved(*p)) {
			rc = cg_buf_add(b, p, 1, NULL);
			continue;
		}
		pct[0] = '%';
		pct[1] = hex[*p >> 4];
		pct[2] = hex[*p & 0xf];
		rc = cg_buf_add(b, pct, 3, NULL);
	}
	return rc;
}

/* Where the path starts and where it ends (at '?', '#' or the end). */
static void
path_bounds(const char *t, size_t *startp, size_t *endp)
{
	const char	*s = strstr(t, "://");
	size_t		 i;

	i = s != NULL ? (size_t)(s - t) + 3 : 0;
	if (s != NULL)
		while (t[i] != '\0' && t[i] != '/' && t[i] != '?' &&
		    t[i] != '#')
			i++;
	*startp = i;
	while (t[i] != '\0' && t[i] != '?' && t[i] != '#')
		i++;
	*endp = i;
}

/*
 * Whether "/{name}" at t[i] is a whole path segment naming a var that is
 * absent or empty: then the segment goes, '/' and all.  *endp is the '}'.
 */
static bool
optional_segment(const struct gw_dist_rule *rule, const struct dist_job *job,
    const char *t, size_t i, size_t pstart, size_t pend, size_t *endp)
{
	const char	*v;
	size_t		 j;

	if (t[i] != '/' || i < pstart || i >= pend || t[i + 1] != '{' ||
	    placeholder(t, i + 1, &j, NULL) != CG_OK)
		return false;
	if (t[j + 1] != '/' && t[j + 1] != '?' && t[j + 1] != '#' &&
	    t[j + 1] != '\0')
		return false;
	if (builtin(job, t + i + 2, j - i - 2) != NULL)
		return false;
	v = var(rule, t + i + 2, j - i - 2);
	if (v != NULL && *v != '\0')
		return false;
	*endp = j;
	return true;
}

enum cg_code
dist_url_expand(const struct gw_dist_rule *rule, const struct dist_job *job,
    char **urlp, struct cg_err *err)
{
	struct cg_buf	 b;
	const char	*t, *v;
	size_t		 i, j, pstart, pend;
	enum cg_code	 rc = CG_OK;

	*urlp = NULL;
	if (rule == NULL || rule->url == NULL || job == NULL)
		return cg_err_set(err, CG_EINVAL, "URL template: none");
	t = rule->url;
	path_bounds(t, &pstart, &pend);
	cg_buf_init(&b, DIST_URL_MAX);
	for (i = 0; rc == CG_OK && t[i] != '\0'; i++) {
		if (optional_segment(rule, job, t, i, pstart, pend, &j)) {
			i = j;
			continue;
		}
		if (t[i] == '}') {
			rc = cg_err_set(err, CG_EINVAL, "URL template: '}' at "
			    "offset %zu closes nothing", i);
			break;
		}
		if (t[i] != '{') {
			rc = cg_buf_add(&b, t + i, 1, NULL);
			continue;
		}
		rc = placeholder(t, i, &j, err);
		if (rc != CG_OK)
			break;
		v = builtin(job, t + i + 1, j - i - 1);
		if (v == NULL)
			v = var(rule, t + i + 1, j - i - 1);
		if (v == NULL) {
			rc = cg_err_set(err, CG_EINVAL, "URL template: "
			    "{%.*s} is not set", (int)(j - i - 1), t + i + 1);
			break;
		}
		rc = add_encoded(&b, v);
		i = j;
	}
	/* The buffer's own failures, which it was not told to record. */
	if (rc == CG_ETOOBIG)
		cg_err_set(err, rc, "URL longer than %d bytes", DIST_URL_MAX);
	else if (rc == CG_ENOMEM)
		cg_err_set(err, rc, "out of memory");
	if (rc == CG_OK) {
		*urlp = (char *)cg_buf_steal(&b, NULL);
		if (*urlp == NULL)
			*urlp = cg_strdup("");
		if (*urlp == NULL)
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	cg_buf_cleanup(&b);
	return rc;
}
