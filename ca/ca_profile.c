/*
 * ca_profile.c - profiles and policy: the names the config file uses for
 * key types, key usages and SAN types, DNS pattern and IP network syntax and
 * matching, and ca_policy_check(), which decides whether a CSR may be issued
 * under a profile.  It builds no certificate and touches no store.
 */
#include "certgw/ca.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "ca_int.h"

#include "certgw/store.h"

#define DNS_LABEL_MAX	63		/* RFC 1035 2.3.4 */
#define DNS_NAME_MAX	253		/* without the trailing dot */
#define EMAIL_LOCAL_MAX	64		/* RFC 5321 4.5.3.1.1 */
#define SHOW_MAX	100		/* peer text quoted in a message */
#define CIDR_TEXT_MAX	64		/* "ffff:...:ffff/128" and then some */

/* ------------------------------------------------------ string lists */

void
ca_strlist_cleanup(struct ca_strlist *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		cg_free(l->v[i]);
	cg_free(l->v);
	l->v = NULL;
	l->n = 0;
}

enum cg_code
ca_strlist_add(struct ca_strlist *l, const char *s, struct cg_err *err)
{
	char	**v;
	char	 *copy;

	if (s == NULL)
		return cg_err_set(err, CG_EINVAL, "missing list entry");
	copy = cg_strdup(s);
	if (copy == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	v = cg_realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL) {
		cg_free(copy);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	v[l->n++] = copy;
	l->v = v;
	return CG_OK;
}

void
ca_profile_cleanup(struct ca_profile *p)
{
	if (p == NULL)
		return;
	cg_free(p->name);
	ca_strlist_cleanup(&p->dns_patterns);
	ca_strlist_cleanup(&p->ip_networks);
	ca_strlist_cleanup(&p->email_patterns);
	ca_strlist_cleanup(&p->subject_allowed);
	ca_strlist_cleanup(&p->subject_required);
	ca_strlist_cleanup(&p->crl_urls);
	ca_strlist_cleanup(&p->ocsp_urls);
	ca_strlist_cleanup(&p->ca_issuers_urls);
	ca_strlist_cleanup(&p->notify_channels);
	memset(p, 0, sizeof(*p));
}

/* ---------------------------------------------------- renewal window */

uint32_t
ca_profile_renew_before_days(const struct ca_profile *p, int64_t not_before,
    int64_t not_after)
{
	int64_t		 life;

	if (p != NULL && p->renew_before_days > 0)
		return p->renew_before_days;
	if (p != NULL && p->validity_days > 0)
		life = p->validity_days;
	else
		life = not_after > not_before ?
		    (not_after - not_before) / CA_DAY_S : 0;
	if (life > CA_VALIDITY_DAYS_MAX)
		life = CA_VALIDITY_DAYS_MAX;
	/* A third: the 66 % ARI has always suggested, and certbot's 30/90. */
	return life / 3 >= 1 ? (uint32_t)(life / 3) : 1;
}

int64_t
ca_profile_renew_start(const struct ca_profile *p, int64_t not_before,
    int64_t not_after)
{
	int64_t		 start;

	start = not_after - (int64_t)ca_profile_renew_before_days(p,
	    not_before, not_after) * CA_DAY_S;
	/*
	 * A profile whose window outgrew a certificate (validity cut by
	 * the CA's own notAfter, or the profile changed since): due at once.
	 */
	return start < not_before ? not_before : start;
}

const char *
ca_cert_status_word(const struct ca_profile *p, const struct ca_cert_rec *r,
    int64_t now)
{
	if (r->status == CA_CERT_REVOKED)
		return "revoked";
	if (r->not_after < now)
		return "expired";
	if (now >= ca_profile_renew_start(p, r->not_before, r->not_after))
		return "update-needed";
	return "valid";
}

/* ------------------------------------------------------------- names */

struct name_bit {
	const char	*name;		/* as written in the config file */
	uint32_t	 bit;		/* CA_KU_*, CA_EKU_* or CA_SAN_* */
};

static const char *const key_type_names[CA_KEY__MAX] = {
	[CA_KEY_EC_P256] = "ec-p256",
	[CA_KEY_EC_P384] = "ec-p384",
	[CA_KEY_EC_P521] = "ec-p521",
	[CA_KEY_RSA] = "rsa",
	[CA_KEY_ED25519] = "ed25519",
};

static const struct name_bit ku_names[] = {
	{ "digitalSignature", CA_KU_DIGITAL_SIGNATURE },
	{ "contentCommitment", CA_KU_CONTENT_COMMITMENT },
	{ "nonRepudiation", CA_KU_CONTENT_COMMITMENT },
	{ "keyEncipherment", CA_KU_KEY_ENCIPHERMENT },
	{ "dataEncipherment", CA_KU_DATA_ENCIPHERMENT },
	{ "keyAgreement", CA_KU_KEY_AGREEMENT },
	{ NULL, 0 }
};

static const struct name_bit eku_names[] = {
	{ "serverAuth", CA_EKU_SERVER_AUTH },
	{ "clientAuth", CA_EKU_CLIENT_AUTH },
	{ "codeSigning", CA_EKU_CODE_SIGNING },
	{ "emailProtection", CA_EKU_EMAIL_PROTECTION },
	{ "timeStamping", CA_EKU_TIME_STAMPING },
	{ "OCSPSigning", CA_EKU_OCSP_SIGNING },
	{ NULL, 0 }
};

static const struct name_bit san_names[] = {
	{ "dns", CA_SAN_DNS },
	{ "ip", CA_SAN_IP },
	{ "email", CA_SAN_EMAIL },
	{ "uri", CA_SAN_URI },
	{ NULL, 0 }
};

/* Subject attributes a profile may name (RFC 5280 4.1.2.4 and friends). */
static const int subject_nids[] = {
	NID_commonName, NID_organizationName, NID_organizationalUnitName,
	NID_countryName, NID_stateOrProvinceName, NID_localityName,
	NID_streetAddress, NID_postalCode, NID_serialNumber,
	NID_pkcs9_emailAddress, NID_domainComponent, NID_userId, NID_title,
	NID_givenName, NID_surname, NID_initials, NID_pseudonym,
	NID_generationQualifier, NID_dnQualifier, NID_name,
	NID_businessCategory, NID_organizationIdentifier
};

static bool
name_bit_parse(const struct name_bit *t, const char *s, uint32_t *bit)
{
	if (s == NULL)
		return false;
	for (; t->name != NULL; t++) {
		if (strcasecmp(t->name, s) == 0) {
			*bit = t->bit;
			return true;
		}
	}
	return false;
}

bool
ca_key_type_parse(const char *s, enum ca_key_type *out)
{
	int	 i;

	if (s == NULL)
		return false;
	for (i = 0; i < CA_KEY__MAX; i++) {
		if (strcasecmp(key_type_names[i], s) == 0) {
			*out = (enum ca_key_type)i;
			return true;
		}
	}
	return false;
}

const char *
ca_key_type_name(enum ca_key_type t)
{
	if ((unsigned)t >= CA_KEY__MAX)
		return "unknown";
	return key_type_names[t];
}

bool
ca_ku_parse(const char *s, uint32_t *bit)
{
	return name_bit_parse(ku_names, s, bit);
}

bool
ca_eku_parse(const char *s, uint32_t *bit)
{
	return name_bit_parse(eku_names, s, bit);
}

bool
ca_san_type_parse(const char *s, uint32_t *bit)
{
	return name_bit_parse(san_names, s, bit);
}

static bool
subject_nid_is_known(int nid)
{
	size_t	 i;

	for (i = 0; i < sizeof(subject_nids) / sizeof(subject_nids[0]); i++)
		if (subject_nids[i] == nid)
			return true;
	return false;
}

bool
ca_subject_attr_is_valid(const char *sn)
{
	if (sn == NULL || *sn == '\0')
		return false;
	return subject_nid_is_known(OBJ_txt2nid(sn));
}

/* ------------------------------------------------------- DNS names */

static bool
is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/* One LDH label of len bytes (RFC 1123 2.1: may start with a digit). */
static bool
label_is_valid(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > DNS_LABEL_MAX)
		return false;
	if (s[0] == '-' || s[len - 1] == '-')
		return false;
	for (i = 0; i < len; i++)
		if (!is_ldh(s[i]))
			return false;
	return true;
}

/* A host name; with wildcard, the leftmost label may be exactly "*". */
static bool
dns_name_is_valid(const char *name, bool wildcard)
{
	const char	*p = name, *dot;
	size_t		 len;

	len = strlen(name);
	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	if (wildcard && p[0] == '*' && p[1] == '.')
		p += 2;
	for (;;) {
		dot = strchr(p, '.');
		len = dot == NULL ? strlen(p) : (size_t)(dot - p);
		if (!label_is_valid(p, len))
			return false;
		if (dot == NULL)
			return true;
		p = dot + 1;
	}
}

bool
ca_dns_pattern_is_valid(const char *pattern)
{
	if (pattern == NULL)
		return false;
	if (pattern[0] == '*' && pattern[1] == '.')
		return dns_name_is_valid(pattern + 2, false);
	if (pattern[0] == '.')
		return dns_name_is_valid(pattern + 1, false);
	return dns_name_is_valid(pattern, false);
}

bool
ca_dns_pattern_match(const char *pattern, const char *name)
{
	const char	*dot;
	size_t		 plen, nlen;

	if (pattern == NULL || name == NULL)
		return false;
	if (pattern[0] == '*' && pattern[1] == '.') {
		/* Exactly one label in front of the base. */
		dot = strchr(name, '.');
		if (dot == NULL || dot == name)
			return false;
		return strcasecmp(dot + 1, pattern + 2) == 0;
	}
	if (pattern[0] == '.') {
		/* Any depth below the base, but not the base itself. */
		plen = strlen(pattern);
		nlen = strlen(name);
		if (nlen <= plen)
			return false;
		return strcasecmp(name + nlen - plen, pattern) == 0;
	}
	return strcasecmp(pattern, name) == 0;
}

/* ------------------------------------------------------- IP networks */

struct ip_net {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network address */
	unsigned	 plen;		/* prefix length in bits */
};

static bool
ip_net_parse(const char *cidr, struct ip_net *net)
{
	char		 text[CIDR_TEXT_MAX];
	const char	*slash;
	size_t		 alen, nbytes, i;
	uint64_t	 plen;
	unsigned	 full;

	if (cidr == NULL)
		return false;
	slash = strchr(cidr, '/');
	alen = slash == NULL ? strlen(cidr) : (size_t)(slash - cidr);
	if (alen == 0 || alen >= sizeof(text))
		return false;
	memcpy(text, cidr, alen);
	text[alen] = '\0';
	net->family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(net->family, text, net->addr) != 1)
		return false;
	nbytes = net->family == AF_INET ? 4 : 16;
	full = (unsigned)nbytes * 8;
	if (slash == NULL)
		plen = full;
	else if (!cg_parse_u64(slash + 1, strlen(slash + 1), full, &plen))
		return false;
	net->plen = (unsigned)plen;
	/* Host bits must be zero: "10.0.0.1/8" is a typo, not a network. */
	for (i = 0; i < nbytes; i++) {
		unsigned keep = net->plen >= (i + 1) * 8 ? 8 :
		    net->plen <= i * 8 ? 0 : net->plen - (unsigned)i * 8;
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		if ((net->addr[i] & (uint8_t)~mask) != 0)
			return false;
	}
	return true;
}

bool
ca_ip_network_is_valid(const char *cidr)
{
	struct ip_net	 net;

	return ip_net_parse(cidr, &net);
}

static bool
ip_net_contains(const struct ip_net *net, const uint8_t *ip, size_t len)
{
	unsigned	 i, left;
	uint8_t		 mask;

	if (len != (net->family == AF_INET ? 4u : 16u))
		return false;
	for (i = 0, left = net->plen; left > 0; i++) {
		mask = left >= 8 ? 0xff : (uint8_t)(0xff00u >> left);
		if ((ip[i] & mask) != (net->addr[i] & mask))
			return false;
		left = left >= 8 ? left - 8 : 0;
	}
	return true;
}

/* ------------------------------------------------- e-mail and URIs */

static bool
email_local_char_ok(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("\"(),:;<>@[\\]", c) == NULL;
}

static bool
email_is_valid(const char *addr)
{
	const char	*at, *p;

	at = strchr(addr, '@');
	if (at == NULL || at == addr || strchr(at + 1, '@') != NULL)
		return false;
	if ((size_t)(at - addr) > EMAIL_LOCAL_MAX)
		return false;
	for (p = addr; p < at; p++)
		if (!email_local_char_ok((unsigned char)*p))
			return false;
	return dns_name_is_valid(at + 1, false);
}

/*
 * "*@corp.example" (any mailbox at that domain), "*@.corp.example" (any
 * domain below it) or "alice@corp.example".  The local part is compared
 * exactly (RFC 5321 2.4), the domain case-insensitively.
 */
static bool
email_pattern_match(const char *pattern, const char *addr)
{
	const char	*pat = strrchr(pattern, '@');
	const char	*at = strrchr(addr, '@');
	size_t		 plocal;

	if (pat == NULL || at == NULL)
		return false;
	plocal = (size_t)(pat - pattern);
	if (!(plocal == 1 && pattern[0] == '*')) {
		if (plocal != (size_t)(at - addr) ||
		    strncmp(pattern, addr, plocal) != 0)
			return false;
	}
	return ca_dns_pattern_match(pat + 1, at + 1);
}

/* "scheme:rest", printable ASCII without spaces (RFC 3986 3.1). */
static bool
uri_is_valid(const char *uri)
{
	const char	*p = uri;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while (*p != ':' && *p != '\0') {
		if (!is_ldh(*p) && *p != '+' && *p != '.')
			return false;
		p++;
	}
	if (*p != ':' || p[1] == '\0')
		return false;
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* ------------------------------------------------------------ policy */

/* Peer text made safe to quote in a message: printable, bounded. */
static void
show(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t	 i, n = 0;

	for (i = 0; i < len && n + 4 < outlen && n < SHOW_MAX; i++)
		out[n++] = (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'') ?
		    (char)p[i] : '?';
	if (i < len && n + 4 <= outlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

static const char *
pname(const struct ca_profile *p)
{
	return p->name != NULL ? p->name : "";
}

static enum cg_code
check_key(const struct ca_profile *p, EVP_PKEY *pub, struct cg_err *err)
{
	enum ca_key_type	 t;
	int			 bits;
	char			 desc[32];

	ca_key_describe(pub, desc, sizeof(desc));
	if (!ca_key_classify(pub, &t, &bits) ||
	    (p->key_types & (1u << t)) == 0)
		return cg_err_set(err, CG_EDENIED,
		    "key type %s is not allowed by profile '%s'", desc,
		    pname(p));
	if (t == CA_KEY_RSA && (uint32_t)bits < p->rsa_min_bits)
		return cg_err_set(err, CG_EDENIED, "key type %s is below the "
		    "profile minimum of %u bits", desc, p->rsa_min_bits);
	if (t == CA_KEY_RSA && bits > CA_RSA_BITS_MAX)
		return cg_err_set(err, CG_EDENIED, "key type %s is above the "
		    "maximum of %d bits", desc, CA_RSA_BITS_MAX);
	return CG_OK;
}

static bool
strlist_has_nid(const struct ca_strlist *l, int nid)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (OBJ_txt2nid(l->v[i]) == nid)
			return true;
	return false;
}

bool
ca_profile_subject_nid_allowed(const struct ca_profile *p, int nid)
{
	if (nid == NID_undef)
		return false;
	if (p->subject_allowed.n > 0)
		return strlist_has_nid(&p->subject_allowed, nid);
	return subject_nid_is_known(nid);
}

static enum cg_code
check_subject(const struct ca_profile *p, const X509_NAME *name,
    struct cg_err *err)
{
	const X509_NAME_ENTRY	*e;
	char			 txt[80];
	int			 i, nid;
	size_t			 r;

	for (i = 0; i < X509_NAME_entry_count(name); i++) {
		e = X509_NAME_get_entry(name, i);
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		if (ca_profile_subject_nid_allowed(p, nid))
			continue;
		if (nid != NID_undef)
			snprintf(txt, sizeof(txt), "%s", OBJ_nid2sn(nid));
		else if (OBJ_obj2txt(txt, sizeof(txt),
		    X509_NAME_ENTRY_get_object(e), 1) <= 0)
			snprintf(txt, sizeof(txt), "unknown");
		return cg_err_set(err, CG_EDENIED, "subject attribute '%s' is "
		    "not allowed by profile '%s'", txt, pname(p));
	}
	for (r = 0; r < p->subject_required.n; r++) {
		nid = OBJ_txt2nid(p->subject_required.v[r]);
		if (nid == NID_undef ||
		    X509_NAME_get_index_by_NID(name, nid, -1) < 0)
			return cg_err_set(err, CG_EDENIED, "profile '%s' "
			    "requires subject attribute '%s'", pname(p),
			    p->subject_required.v[r]);
	}
	return CG_OK;
}

/*
 * The text of an IA5String SAN as a C string: refused when empty, longer
 * than CA_NAME_MAX or holding a NUL (a classic certificate-spoofing trick).
 */
static enum cg_code
san_text(const ASN1_STRING *s, const char *what, char *out,
    struct cg_err *err)
{
	const unsigned char	*d = ASN1_STRING_get0_data(s);
	int			 len = ASN1_STRING_length(s);
	char			 shown[SHOW_MAX + 8];

	if (d == NULL || len <= 0 || len > CA_NAME_MAX ||
	    memchr(d, '\0', (size_t)len) != NULL) {
		show(d, d == NULL || len < 0 ? 0 : (size_t)len, shown,
		    sizeof(shown));
		return cg_err_set(err, CG_EDENIED, "%s '%s' is not valid",
		    what, shown);
	}
	memcpy(out, d, (size_t)len);
	out[len] = '\0';
	return CG_OK;
}

static enum cg_code
check_dns(const struct ca_profile *p, const char *name, struct cg_err *err)
{
	char	 shown[SHOW_MAX + 8];
	size_t	 i;

	show((const unsigned char *)name, strlen(name), shown, sizeof(shown));
	if (!dns_name_is_valid(name, true))
		return cg_err_set(err, CG_EDENIED,
		    "DNS name '%s' is not a valid host name", shown);
	if (p->dns_patterns.n == 0)
		return CG_OK;
	for (i = 0; i < p->dns_patterns.n; i++)
		if (ca_dns_pattern_match(p->dns_patterns.v[i], name))
			return CG_OK;
	return cg_err_set(err, CG_EDENIED,
	    "DNS name '%s' is not allowed by profile '%s'", shown, pname(p));
}

static enum cg_code
check_ip(const struct ca_profile *p, const ASN1_OCTET_STRING *os,
    struct cg_err *err)
{
	const unsigned char	*ip = ASN1_STRING_get0_data(os);
	int			 len = ASN1_STRING_length(os);
	struct ip_net		 net;
	char			 text[INET6_ADDRSTRLEN];
	size_t			 i;

	if (ip == NULL || (len != 4 && len != 16))
		return cg_err_set(err, CG_EDENIED,
		    "IP address SAN of %d bytes is not valid", len);
	if (p->ip_networks.n == 0)
		return CG_OK;
	for (i = 0; i < p->ip_networks.n; i++) {
		if (ip_net_parse(p->ip_networks.v[i], &net) &&
		    ip_net_contains(&net, ip, (size_t)len))
			return CG_OK;
	}
	if (inet_ntop(len == 4 ? AF_INET : AF_INET6, ip, text,
	    sizeof(text)) == NULL)
		snprintf(text, sizeof(text), "?");
	return cg_err_set(err, CG_EDENIED,
	    "IP address '%s' is not allowed by profile '%s'", text, pname(p));
}

static enum cg_code
check_email(const struct ca_profile *p, const char *addr, struct cg_err *err)
{
	char	 shown[SHOW_MAX + 8];
	size_t	 i;

	show((const unsigned char *)addr, strlen(addr), shown, sizeof(shown));
	if (!email_is_valid(addr))
		return cg_err_set(err, CG_EDENIED,
		    "e-mail address '%s' is not valid", shown);
	if (p->email_patterns.n == 0)
		return CG_OK;
	for (i = 0; i < p->email_patterns.n; i++)
		if (email_pattern_match(p->email_patterns.v[i], addr))
			return CG_OK;
	return cg_err_set(err, CG_EDENIED, "e-mail address '%s' is not "
	    "allowed by profile '%s'", shown, pname(p));
}

static enum cg_code
check_uri(const char *uri, struct cg_err *err)
{
	char	 shown[SHOW_MAX + 8];

	if (uri_is_valid(uri))
		return CG_OK;
	show((const unsigned char *)uri, strlen(uri), shown, sizeof(shown));
	return cg_err_set(err, CG_EDENIED, "URI '%s' is not valid", shown);
}

bool
ca_ip_network_contains(const char *cidr, const char *ip)
{
	struct ip_net	 net;
	unsigned char	 b[16];
	size_t		 len;

	if (inet_pton(AF_INET, ip, b) == 1)
		len = 4;
	else if (inet_pton(AF_INET6, ip, b) == 1)
		len = 16;
	else
		return false;
	return ip_net_parse(cidr, &net) && ip_net_contains(&net, b, len);
}

enum cg_code
ca_profile_allows(const struct ca_profile *p, bool ip, const char *value,
    struct cg_err *err)
{
	ASN1_OCTET_STRING	*os;
	unsigned char		 b[16];
	int			 len;
	enum cg_code		 rc;

	if (!ip) {
		if ((p->san_types & CA_SAN_DNS) == 0)
			return cg_err_set(err, CG_EDENIED, "profile '%s' "
			    "allows no DNS names", pname(p));
		return check_dns(p, value, err);
	}
	if ((p->san_types & CA_SAN_IP) == 0)
		return cg_err_set(err, CG_EDENIED, "profile '%s' allows no IP "
		    "addresses", pname(p));
	if (inet_pton(AF_INET, value, b) == 1)
		len = 4;
	else if (inet_pton(AF_INET6, value, b) == 1)
		len = 16;
	else
		return cg_err_set(err, CG_EDENIED, "not an IP address");
	os = ASN1_OCTET_STRING_new();
	if (os == NULL || ASN1_OCTET_STRING_set(os, b, len) != 1) {
		ASN1_OCTET_STRING_free(os);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	rc = check_ip(p, os, err);
	ASN1_OCTET_STRING_free(os);
	return rc;
}

/* The SAN types a profile can allow, by GENERAL_NAME type. */
static const struct san_kind {
	int		 gen;		/* GEN_* */
	uint32_t	 bit;		/* CA_SAN_* */
	const char	*name;		/* as in the config file */
} san_kinds[] = {
	{ GEN_DNS, CA_SAN_DNS, "dns" },
	{ GEN_IPADD, CA_SAN_IP, "ip" },
	{ GEN_EMAIL, CA_SAN_EMAIL, "email" },
	{ GEN_URI, CA_SAN_URI, "uri" },
	{ GEN_OTHERNAME, 0, "otherName" },
	{ GEN_X400, 0, "x400Address" },
	{ GEN_DIRNAME, 0, "directoryName" },
	{ GEN_EDIPARTY, 0, "ediPartyName" },
	{ GEN_RID, 0, "registeredID" },
};

static const struct san_kind *
san_kind_of(int gen)
{
	size_t	 i;

	for (i = 0; i < sizeof(san_kinds) / sizeof(san_kinds[0]); i++)
		if (san_kinds[i].gen == gen)
			return &san_kinds[i];
	return NULL;
}

static enum cg_code
check_san(const struct ca_profile *p, const GENERAL_NAME *gn,
    struct cg_err *err)
{
	const struct san_kind	*k = san_kind_of(gn->type);
	char			 text[CA_NAME_MAX + 1];
	enum cg_code		 rc;

	/* Types we cannot check (otherName, dirName, ...) are never allowed. */
	if (k == NULL || k->bit == 0 || (p->san_types & k->bit) == 0)
		return cg_err_set(err, CG_EDENIED, "SAN type %s is not allowed "
		    "by profile '%s'", k != NULL ? k->name : "unknown",
		    pname(p));
	switch (gn->type) {
	case GEN_DNS:
		rc = san_text(gn->d.dNSName, "DNS name", text, err);
		return rc != CG_OK ? rc : check_dns(p, text, err);
	case GEN_IPADD:
		return check_ip(p, gn->d.iPAddress, err);
	case GEN_EMAIL:
		rc = san_text(gn->d.rfc822Name, "e-mail address", text, err);
		return rc != CG_OK ? rc : check_email(p, text, err);
	default:
		rc = san_text(gn->d.uniformResourceIdentifier, "URI", text,
		    err);
		return rc != CG_OK ? rc : check_uri(text, err);
	}
}

static enum cg_code
check_sans(const struct ca_profile *p, const struct ca_csr *csr,
    struct cg_err *err)
{
	GENERAL_NAMES	*gens = NULL;
	int		 i, n;
	enum cg_code	 rc;

	rc = ca_csr_get1_sans(csr, &gens, err);
	if (rc != CG_OK)
		goto out;
	n = gens == NULL ? 0 : sk_GENERAL_NAME_num(gens);
	if (n > CA_SAN_MAX) {
		rc = cg_err_set(err, CG_EDENIED, "request has %d "
		    "subjectAltNames; at most %d are allowed", n, CA_SAN_MAX);
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = check_san(p, sk_GENERAL_NAME_value(gens, i), err);
		if (rc != CG_OK)
			goto out;
	}
	if (n == 0 && p->san_required) {
		rc = cg_err_set(err, CG_EDENIED, "profile '%s' requires at "
		    "least one subjectAltName", pname(p));
		goto out;
	}
	rc = CG_OK;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

static enum cg_code
check_subject_len(const X509_NAME *name, struct cg_err *err)
{
	char		*text = NULL;
	enum cg_code	 rc;

	rc = ca_name_rfc2253(name, &text, err);
	if (rc == CG_OK && strlen(text) > CA_SUBJECT_MAX)
		rc = cg_err_set(err, CG_EDENIED, "subject is longer than %d "
		    "characters", CA_SUBJECT_MAX);
	cg_free(text);
	return rc;
}

enum cg_code
ca_policy_check(const struct ca_profile *p, const struct ca_csr *csr,
    struct cg_err *err)
{
	X509_REQ	*req;
	EVP_PKEY	*pub;		/* get0: borrowed from req */
	enum cg_code	 rc;

	if (p == NULL || csr == NULL || csr->req == NULL)
		return cg_err_set(err, CG_EINVAL, "no profile or request");
	req = csr->req;
	pub = csr->pub;
	if (pub == NULL)
		return cg_err_crypto(err, CG_EINVAL,
		    "request has no public key");
	rc = check_key(p, pub, err);
	if (rc != CG_OK)
		return rc;
	rc = check_subject_len(X509_REQ_get_subject_name(req), err);
	if (rc != CG_OK)
		return rc;
	rc = check_subject(p, X509_REQ_get_subject_name(req), err);
	if (rc != CG_OK)
		return rc;
	return check_sans(p, csr, err);
}
