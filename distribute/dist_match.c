/*
 * dist_match.c - which distribution rules a certificate matches: profile
 * and protocol lists, and a POSIX regular expression over the SAN values
 * (or the subject CN of a certificate without SANs), compiled once.  Also
 * the split of the store's SAN text shared with the jobs.
 */
#include "certgw/dist.h"

#include <regex.h>
#include <string.h>

struct dist_rule_c {
	const struct gw_dist_rule *rule;	/* borrowed from the config */
	regex_t			 re;		/* compiled san_regex */
	bool			 has_re;	/* re is set */
};

struct dist_rules {
	struct dist_rule_c	*v;
	size_t			 n;
};

/* SAN types the store writes, with the ':' that ends them. */
static const char *const san_types[] = { "DNS:", "IP:", "email:", "URI:" };

/* ---------------------------------------------------------------- SANs */

static size_t
san_type_len(const char *s)
{
	size_t	 i, n;

	for (i = 0; i < sizeof(san_types) / sizeof(san_types[0]); i++) {
		n = strlen(san_types[i]);
		if (strncmp(s, san_types[i], n) == 0)
			return n;
	}
	return 0;
}

const char *
dist_san_value(const char *entry)
{
	return entry + san_type_len(entry);
}

static void
strv_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; v != NULL && i < n; i++)
		cg_free(v[i]);
	cg_free(v);
}

enum cg_code
dist_sans_split(const char *sans, char ***vp, size_t *np, struct cg_err *err)
{
	const char	*p, *start, *comma;
	char		**v = NULL;
	size_t		 n = 0;
	enum cg_code	 rc;

	*vp = NULL;
	*np = 0;
	if (sans == NULL || *sans == '\0')
		return CG_OK;
	if (san_type_len(sans) == 0)
		return cg_err_set(err, CG_EINVAL,
		    "SAN text does not start with a type");
	v = cg_calloc(DIST_SANS_MAX, sizeof(*v));
	if (v == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	/*
	 * An entry ends at the first ',' that is followed by a known type;
	 * any other ',' belongs to the value (the text is not escaped).
	 */
	start = sans;
	p = sans;
	for (;;) {
		comma = strchr(p, ',');
		if (comma != NULL && san_type_len(comma + 1) == 0) {
			p = comma + 1;
			continue;
		}
		if (n == DIST_SANS_MAX) {
			rc = cg_err_set(err, CG_ETOOBIG, "more than %d SANs",
			    DIST_SANS_MAX);
			goto fail;
		}
		v[n] = comma != NULL ? cg_strndup(start,
		    (size_t)(comma - start)) : cg_strdup(start);
		if (v[n] == NULL) {
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
			goto fail;
		}
		n++;
		if (comma == NULL)
			break;
		start = p = comma + 1;
	}
	*vp = v;
	*np = n;
	return CG_OK;
fail:
	strv_free(v, n);
	return rc;
}

/* ------------------------------------------------------ subject CNs */

/*
 * Unescape one RFC 2253 attribute value that starts at s, into out
 * (outlen bytes, NUL-terminated, cut if longer), and return where it
 * ends: at the unescaped ',' or '+' that separates attributes, or at the
 * NUL.  "\," and "\XX" (hex, how OpenSSL writes UTF-8 bytes) are undone.
 */
static const char *
rdn_value(const char *s, char *out, size_t outlen)
{
	size_t	 o = 0;
	int	 hi, lo;
	char	 c;

	while (*s != '\0' && *s != ',' && *s != '+') {
		c = *s++;
		if (c == '\\' && *s != '\0') {
			hi = cg_hex_digit(s[0]);
			lo = hi >= 0 ? cg_hex_digit(s[1]) : -1;
			if (hi >= 0 && lo >= 0) {
				c = (char)(hi << 4 | lo);
				s += 2;
			} else
				c = *s++;
		}
		if (o + 1 < outlen)
			out[o++] = c;
	}
	out[o] = '\0';
	return s;
}

/* Whether re matches some CN in an RFC 2253 subject. */
static bool
cn_matches(const regex_t *re, const char *subject)
{
	char		 val[DIST_SUBJECT_MAX + 1];
	const char	*p = subject;
	bool		 cn;

	while (p != NULL && *p != '\0') {
		cn = strncmp(p, "CN=", 3) == 0;
		p = strchr(p, '=');
		if (p == NULL)
			break;
		p = rdn_value(p + 1, val, sizeof(val));
		/* "#hex" is a dumped DER value: nothing to match against. */
		if (cn && val[0] != '#' && regexec(re, val, 0, NULL, 0) == 0)
			return true;
		if (*p != '\0')
			p++;
	}
	return false;
}

/* ---------------------------------------------------------------- rules */

enum cg_code
dist_rules_new(const struct gw_dist_conf *conf, struct dist_rules **rulesp,
    struct cg_err *err)
{
	struct dist_rules	*r;
	struct dist_rule_c	*c;
	char			 msg[128];
	size_t			 i;
	int			 e;

	*rulesp = NULL;
	r = cg_calloc(1, sizeof(*r));
	if (r == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	if (conf != NULL && conf->nrules > 0) {
		r->v = cg_calloc(conf->nrules, sizeof(*r->v));
		if (r->v == NULL) {
			dist_rules_free(r);
			return cg_err_set(err, CG_ENOMEM, "out of memory");
		}
	}
	for (i = 0; conf != NULL && i < conf->nrules; i++) {
		c = &r->v[r->n];
		c->rule = &conf->rules[i];
		if (c->rule->san_regex != NULL) {
			e = regcomp(&c->re, c->rule->san_regex,
			    REG_EXTENDED | REG_NOSUB);
			if (e != 0) {
				regerror(e, &c->re, msg, sizeof(msg));
				cg_err_set(err, CG_EINVAL, "distribution rule "
				    "'%s': bad san_regex: %s",
				    c->rule->name != NULL ? c->rule->name : "",
				    msg);
				dist_rules_free(r);
				return CG_EINVAL;
			}
			c->has_re = true;
		}
		r->n++;
	}
	*rulesp = r;
	return CG_OK;
}

void
dist_rules_free(struct dist_rules *rules)
{
	size_t	 i;

	if (rules == NULL)
		return;
	for (i = 0; i < rules->n; i++)
		if (rules->v[i].has_re)
			regfree(&rules->v[i].re);
	cg_free(rules->v);
	cg_free(rules);
}

size_t
dist_rules_count(const struct dist_rules *rules)
{
	return rules != NULL ? rules->n : 0;
}

const struct gw_dist_rule *
dist_rules_get0(const struct dist_rules *rules, size_t i)
{
	return rules != NULL && i < rules->n ? rules->v[i].rule : NULL;
}

/* An absent (empty) list matches everything. */
static bool
list_allows(const struct ca_strlist *l, const char *s)
{
	size_t	 i;

	if (l->n == 0)
		return true;
	for (i = 0; s != NULL && i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/*
 * Walk the SAN text in place (no allocation: this runs in the issuance
 * transaction) with the same entry boundaries as dist_sans_split().
 */
static bool
sans_match(const regex_t *re, const char *sans)
{
	char		 val[DIST_SAN_VALUE_MAX + 1];
	const char	*start, *p, *comma, *end, *v;
	size_t		 n;

	start = p = sans;
	while (*start != '\0') {
		comma = strchr(p, ',');
		if (comma != NULL && san_type_len(comma + 1) == 0) {
			p = comma + 1;
			continue;
		}
		end = comma != NULL ? comma : start + strlen(start);
		v = start + san_type_len(start);
		n = v <= end ? (size_t)(end - v) : 0;
		/* Longer than any value a job may hold: never a match. */
		if (n <= DIST_SAN_VALUE_MAX) {
			memcpy(val, v, n);
			val[n] = '\0';
			if (regexec(re, val, 0, NULL, 0) == 0)
				return true;
		}
		if (comma == NULL)
			break;
		start = p = comma + 1;
	}
	return false;
}

bool
dist_rule_matches(const struct dist_rules *rules, size_t i,
    const struct ca_cert_rec *rec)
{
	const struct dist_rule_c *c;

	if (rules == NULL || i >= rules->n || rec == NULL)
		return false;
	c = &rules->v[i];
	if (!list_allows(&c->rule->profiles, rec->profile) ||
	    !list_allows(&c->rule->protocols, rec->protocol))
		return false;
	if (!c->has_re)
		return true;
	if (rec->sans != NULL && rec->sans[0] != '\0')
		return sans_match(&c->re, rec->sans);
	return rec->subject != NULL && cn_matches(&c->re, rec->subject);
}

enum cg_code
dist_rules_match(const struct dist_rules *rules,
    const struct ca_cert_rec *rec, dist_match_fn *fn, void *arg,
    struct cg_err *err)
{
	enum cg_code	 rc;
	size_t		 i;

	for (i = 0; i < dist_rules_count(rules); i++) {
		if (!dist_rule_matches(rules, i, rec))
			continue;
		rc = fn(arg, rules->v[i].rule, err);
		if (rc != CG_OK)
			return rc;
	}
	return CG_OK;
}
