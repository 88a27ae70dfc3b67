/*
 * bench_issue.c - measures the CA core on one thread: ca_issue() into a
 * store on disk and, interleaved, into one on tmpfs (what synchronous=FULL
 * costs), the CA signature alone, CSR parsing, ca_revoke() and ca_crl_make(),
 * and peak RSS.  Prints one logfmt line per measurement.  It is a measuring
 * tool, not a test: it asserts nothing about speed and ctest never runs it.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "certgw/ca.h"
#include "certgw/core.h"
#include "certgw/store.h"

#define BENCH_COUNT_DEFAULT	500	/* --count: timed issuances */
#define BENCH_COUNT_MAX		1000000	/* ceiling on --count and --revoke */
#define BENCH_REVOKE_DEFAULT	1000	/* --revoke: certificates revoked */
#define BENCH_CRL_RUNS_DEFAULT	20	/* --crl-runs: CRLs built */
#define BENCH_RUNS_MAX		100000	/* ceiling on --crl-runs, --warmup */
#define BENCH_KEYS_DEFAULT	16	/* --keys: distinct subject keys */
#define BENCH_KEYS_MAX		100000	/* ceiling on --keys */
#define BENCH_SANS_DEFAULT	2	/* --sans: DNS names per CSR */
#define BENCH_OUTBOX_MAX	16	/* ceiling on --outbox */
#define BENCH_WARMUP_DEFAULT	10	/* --warmup: untimed issuances */
#define BENCH_DOMAIN		"bench.example"
#define BENCH_BASE_URL		"http://ca." BENCH_DOMAIN
#define BENCH_CA_NAME		"CN=certgw bench CA, O=certgw bench"
#define BENCH_SHM_DEFAULT	"/dev/shm"
#define BENCH_CRL_VALIDITY_S	(7 * 24 * 3600)
#define BENCH_VALIDITY_DAYS	90
#define BENCH_NAME_MAX		(CA_NAME_MAX + 8)	/* "DNS:" + name */
#define BENCH_TAGS_MAX		64	/* "ca_key=... key=..." */
#define BENCH_LINE_MAX		512	/* head of one output line */
#define BENCH_QUOTE_MAX		1024	/* a quoted logfmt value */
#define BENCH_NFTW_FDS		16	/* descriptors nftw() may hold */

/* A subject key type for the CSRs. */
struct key_kind {
	const char	*name;		/* --key spelling */
	const char	*alg;		/* EVP_PKEY_Q_keygen algorithm */
	const char	*group;		/* EC curve, or NULL */
	size_t		 bits;		/* RSA modulus, or 0 */
};

static const struct key_kind key_kinds[] = {
	{ "ec-p256", "EC", "P-256", 0 },
	{ "ec-p384", "EC", "P-384", 0 },
	{ "ec-p521", "EC", "P-521", 0 },
	{ "rsa-2048", "RSA", NULL, 2048 },
	{ "rsa-3072", "RSA", NULL, 3072 },
	{ "rsa-4096", "RSA", NULL, 4096 },
	{ "ed25519", "ED25519", NULL, 0 },
};

/* Reasons the revocation run cycles through (all give a CRL entry ext). */
static const enum ca_reason bench_reasons[] = {
	CA_REASON_KEY_COMPROMISE,
	CA_REASON_AFFILIATION_CHANGED,
	CA_REASON_SUPERSEDED,
	CA_REASON_CESSATION_OF_OPERATION,
};

/* Command-line options. */
struct bench_opts {
	enum ca_init_key	 ca_key;	/* --ca-key */
	const char		*ca_key_name;	/* its spelling */
	const struct key_kind	*key;		/* --key */
	size_t			 count;		/* --count */
	size_t			 revoke;	/* --revoke */
	size_t			 crl_runs;	/* --crl-runs */
	size_t			 nkeys;		/* --keys */
	size_t			 nsans;		/* --sans */
	size_t			 outbox;	/* --outbox: jobs per cert */
	size_t			 warmup;	/* --warmup */
	bool			 intermediate;	/* --intermediate */
	const char		*tmp;		/* --tmp-dir: disk store base */
	const char		*shm;		/* --shm-dir: tmpfs store base */
};

/* Latencies of one measurement, in milliseconds. */
struct samples {
	double		*v;		/* cg_malloc'ed, cap entries */
	size_t		 n;		/* entries used */
	size_t		 cap;		/* entries allocated */
};

/* What one set of samples says. */
struct stats {
	size_t		 n;		/* samples */
	double		 total;		/* sum, ms */
	double		 mean;		/* ms */
	double		 p50;		/* ms, nearest rank */
	double		 p95;		/* ms */
	double		 p99;		/* ms */
	double		 max;		/* ms */
};

/* The issuance runs that say where its time goes. */
struct split {
	struct stats	 disk;		/* ca_issue(), store on disk */
	struct stats	 shm;		/* ca_issue(), store on tmpfs */
	struct stats	 sign;		/* the signature alone */
	struct stats	 pubkey;	/* X509_set_pubkey() alone */
};

/* Everything the run owns; bench_cleanup() releases it. */
struct bench {
	const struct bench_opts	*o;		/* borrowed */
	char			 head[BENCH_TAGS_MAX]; /* on every line */
	char			 disk_dir[PATH_MAX]; /* "" until made */
	char			 shm_dir[PATH_MAX];  /* "" until made */
	struct ca_config	 conf;		/* absolute paths */
	struct ca		*ca;		/* the CA under test */
	struct ca_store		*disk;		/* store under disk_dir */
	struct ca_store		*shm;		/* store under shm_dir */
	struct ca_profile	 prof;		/* filled in code */
	struct ca_csr		**csrs;		/* o->count parsed requests */
	char			(*serials)[CA_SERIAL_HEX_MAX]; /* disk certs */
	size_t			 nserials;	/* entries used */
	size_t			 serials_cap;	/* entries allocated */
	X509			*sample;	/* one issued certificate */
};

/* Set by SIGINT/SIGTERM so the loops stop and the temp dirs go away. */
static volatile sig_atomic_t bench_stop;

/* ------------------------------------------------------------ helpers */

static void
on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double
ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

static long
rss_peak_kb(void)
{
	struct rusage	 ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;		/* kilobytes on Linux */
}

/* The file system under path, by name where we know it. */
static const char *
fs_name(const char *path, char *buf, size_t len)
{
	struct statfs	 sf;

	if (statfs(path, &sf) != 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC:
		return "ext4";
	case TMPFS_MAGIC:
		return "tmpfs";
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlayfs";
	default:
		snprintf(buf, len, "0x%lx", (unsigned long)sf.f_type);
		return buf;
	}
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "bench_issue: cannot remove %s: %s\n", path,
		    strerror(errno));
	return 0;
}

/* rm -r dir, when it was made. */
static void
rm_tree(char *dir)
{
	if (dir[0] == '\0')
		return;
	(void)nftw(dir, rm_entry, BENCH_NFTW_FDS, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

static enum cg_code
temp_dir(const char *base, char *out, size_t len, struct cg_err *err)
{
	int	 n;

	n = snprintf(out, len, "%s/bench_issue.XXXXXX", base);
	if (n < 0 || (size_t)n >= len) {
		out[0] = '\0';
		return cg_err_set(err, CG_EINVAL, "temporary directory base "
		    "is too long");
	}
	if (mkdtemp(out) == NULL) {
		out[0] = '\0';
		return cg_err_errno(err, CG_EIO, "cannot make a temporary "
		    "directory under %s", base);
	}
	return CG_OK;
}

/* ------------------------------------------------------------ samples */

static enum cg_code
samples_init(struct samples *s, size_t cap, struct cg_err *err)
{
	memset(s, 0, sizeof(*s));
	s->v = cg_calloc(cap > 0 ? cap : 1, sizeof(*s->v));
	if (s->v == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	s->cap = cap;
	return CG_OK;
}

static void
samples_cleanup(struct samples *s)
{
	cg_free(s->v);
	memset(s, 0, sizeof(*s));
}

static void
samples_add(struct samples *s, double ms)
{
	if (s->n < s->cap)
		s->v[s->n++] = ms;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile (p in 1..100) of sorted samples. */
static double
pct(const struct samples *s, size_t p)
{
	size_t	 rank;

	rank = (p * s->n + 99) / 100;
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

/* Sorts the samples. */
static void
stats_compute(struct samples *s, struct stats *st)
{
	size_t	 i;

	memset(st, 0, sizeof(*st));
	if (s->n == 0)
		return;
	st->n = s->n;
	for (i = 0; i < s->n; i++)
		st->total += s->v[i];
	st->mean = st->total / (double)s->n;
	qsort(s->v, s->n, sizeof(s->v[0]), cmp_double);
	st->p50 = pct(s, 50);
	st->p95 = pct(s, 95);
	st->p99 = pct(s, 99);
	st->max = s->v[s->n - 1];
}

/* One line: head, then count, rate (1 / mean) and latencies. */
static void
stats_print(const char *head, const struct stats *st, const char *tail)
{
	printf("%s n=%zu per_s=%.1f mean_ms=%.3f p50_ms=%.3f p95_ms=%.3f "
	    "p99_ms=%.3f max_ms=%.3f%s%s\n", head, st->n,
	    st->total > 0 ? 1000.0 * (double)st->n / st->total : 0.0,
	    st->mean, st->p50, st->p95, st->p99, st->max,
	    tail != NULL ? " " : "", tail != NULL ? tail : "");
	fflush(stdout);
}

/* ------------------------------------------------------------ options */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: bench_issue [options]\n"
"\n"
"Time ca_issue() into a disk store and a tmpfs store (interleaved), the CA\n"
"signature alone, CSR parsing, ca_revoke() and ca_crl_make().\n"
"\n"
"  --ca-key TYPE      CA key: ec-p256 (default), ec-p384, rsa-2048,\n"
"                     rsa-3072, rsa-4096\n"
"  --key TYPE         CSR keys: ec-p256 (default), ec-p384, ec-p521,\n"
"                     rsa-2048, rsa-3072, rsa-4096, ed25519\n"
"  --count N          timed issuances per store (default %d)\n"
"  --revoke R         certificates revoked before the CRL runs (default %d)\n"
"  --crl-runs N       CRLs built and timed (default %d; 0: none)\n"
"  --keys K           distinct CSR keys, reused round-robin (default %d)\n"
"  --sans S           DNS SANs per CSR (default %d)\n"
"  --outbox J         outbox jobs the hook adds per certificate (default 0)\n"
"  --warmup W         untimed issuances per store first (default %d)\n"
"  --intermediate     sign with an intermediate under a root\n"
"  --tmp-dir DIR      where the CA and the disk store go (default\n"
"                     $TMPDIR or /tmp)\n"
"  --shm-dir DIR      where the tmpfs store goes (default %s)\n",
	    BENCH_COUNT_DEFAULT, BENCH_REVOKE_DEFAULT, BENCH_CRL_RUNS_DEFAULT,
	    BENCH_KEYS_DEFAULT, BENCH_SANS_DEFAULT, BENCH_WARMUP_DEFAULT,
	    BENCH_SHM_DEFAULT);
}

static bool
opt_size(const char *s, uint64_t min, uint64_t max, size_t *out)
{
	uint64_t	 v;

	if (!cg_parse_u64(s, strlen(s), max, &v) || v < min)
		return false;
	*out = (size_t)v;
	return true;
}

static const struct key_kind *
key_kind_find(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(key_kinds) / sizeof(key_kinds[0]); i++)
		if (strcmp(key_kinds[i].name, s) == 0)
			return &key_kinds[i];
	return NULL;
}

enum {
	OPT_CA_KEY = 256, OPT_KEY, OPT_COUNT, OPT_REVOKE, OPT_CRL_RUNS,
	OPT_KEYS, OPT_SANS, OPT_OUTBOX, OPT_WARMUP, OPT_INTERMEDIATE,
	OPT_TMP, OPT_SHM, OPT_HELP
};

static const struct option long_opts[] = {
	{ "ca-key", required_argument, NULL, OPT_CA_KEY },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "revoke", required_argument, NULL, OPT_REVOKE },
	{ "crl-runs", required_argument, NULL, OPT_CRL_RUNS },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "sans", required_argument, NULL, OPT_SANS },
	{ "outbox", required_argument, NULL, OPT_OUTBOX },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "intermediate", no_argument, NULL, OPT_INTERMEDIATE },
	{ "tmp-dir", required_argument, NULL, OPT_TMP },
	{ "shm-dir", required_argument, NULL, OPT_SHM },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

static const char *
opt_name(int c)
{
	size_t	 i;

	for (i = 0; long_opts[i].name != NULL; i++)
		if (long_opts[i].val == c)
			return long_opts[i].name;
	return "?";
}

/* One option; false when its value is bad. */
static bool
opt_one(struct bench_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_CA_KEY:
		o->ca_key_name = arg;
		return ca_init_key_parse(arg, &o->ca_key);
	case OPT_KEY:
		o->key = key_kind_find(arg);
		return o->key != NULL;
	case OPT_COUNT:
		return opt_size(arg, 1, BENCH_COUNT_MAX, &o->count);
	case OPT_REVOKE:
		return opt_size(arg, 0, BENCH_COUNT_MAX, &o->revoke);
	case OPT_CRL_RUNS:
		return opt_size(arg, 0, BENCH_RUNS_MAX, &o->crl_runs);
	case OPT_KEYS:
		return opt_size(arg, 1, BENCH_KEYS_MAX, &o->nkeys);
	case OPT_SANS:
		return opt_size(arg, 1, CA_SAN_MAX, &o->nsans);
	case OPT_OUTBOX:
		return opt_size(arg, 0, BENCH_OUTBOX_MAX, &o->outbox);
	case OPT_WARMUP:
		return opt_size(arg, 0, BENCH_RUNS_MAX, &o->warmup);
	case OPT_INTERMEDIATE:
		o->intermediate = true;
		return true;
	case OPT_TMP:
		o->tmp = arg;
		return true;
	case OPT_SHM:
		o->shm = arg;
		return true;
	default:
		return false;
	}
}

/* 0: run; 1: --help given; -1: bad usage (already reported). */
static int
opts_parse(int argc, char **argv, struct bench_opts *o)
{
	const char	*tmp = getenv("TMPDIR");
	int		 c;

	memset(o, 0, sizeof(*o));
	o->ca_key = CA_INIT_EC_P256;
	o->ca_key_name = "ec-p256";
	o->key = &key_kinds[0];
	o->count = BENCH_COUNT_DEFAULT;
	o->revoke = BENCH_REVOKE_DEFAULT;
	o->crl_runs = BENCH_CRL_RUNS_DEFAULT;
	o->nkeys = BENCH_KEYS_DEFAULT;
	o->nsans = BENCH_SANS_DEFAULT;
	o->warmup = BENCH_WARMUP_DEFAULT;
	o->tmp = tmp != NULL && *tmp != '\0' ? tmp : "/tmp";
	o->shm = BENCH_SHM_DEFAULT;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (c == OPT_HELP) {
			usage(stdout);
			return 1;
		}
		if (c == '?' || !opt_one(o, c, optarg)) {
			if (c != '?')
				fprintf(stderr, "bench_issue: bad value "
				    "'%s' for --%s\n", optarg,
				    opt_name(c));
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_issue: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- setup */

/* The distribution hook: --outbox jobs per certificate, as rules would. */
static enum cg_code
outbox_hook(void *arg, struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	const struct bench_opts	*o = arg;
	char			*b64 = NULL, *payload = NULL;
	char			 rule[32];
	size_t			 i;
	enum cg_code		 rc = CG_OK;

	if (o->outbox == 0)
		return CG_OK;
	rc = cg_base64_encode(rec->der, rec->der_len, &b64, err);
	if (rc != CG_OK)
		return rc;
	payload = cg_asprintf("{\"serial\":\"%s\",\"sha256\":\"%s\","
	    "\"cert\":\"%s\"}", rec->serial, rec->sha256, b64);
	if (payload == NULL)
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; rc == CG_OK && i < o->outbox; i++) {
		snprintf(rule, sizeof(rule), "bench-%zu", i);
		rc = ca_store_outbox_add(st, rule, rec->serial, payload, err);
	}
	cg_free(payload);
	cg_free(b64);
	return rc;
}

/* A server profile: serverAuth, DNS SANs below BENCH_DOMAIN, CN only. */
static enum cg_code
profile_fill(struct ca_profile *p, struct cg_err *err)
{
	enum cg_code	 rc;

	memset(p, 0, sizeof(*p));
	p->name = cg_strdup("bench-server");
	if (p->name == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	p->validity_days = BENCH_VALIDITY_DAYS;
	p->key_types = (1u << CA_KEY__MAX) - 1;
	p->rsa_min_bits = 2048;
	p->key_usage = CA_KU_DIGITAL_SIGNATURE | CA_KU_KEY_ENCIPHERMENT;
	p->ext_key_usage = CA_EKU_SERVER_AUTH;
	p->san_types = CA_SAN_DNS;
	p->san_required = true;
	rc = ca_strlist_add(&p->dns_patterns, "." BENCH_DOMAIN, err);
	if (rc == CG_OK)
		rc = ca_strlist_add(&p->subject_allowed, "CN", err);
	return rc;
}

/* ca_init_create() names files relative to the directory; make them not. */
static enum cg_code
conf_absolute(const char *dir, const struct ca_config *rel,
    struct ca_config *abs, struct cg_err *err)
{
	memset(abs, 0, sizeof(*abs));
	abs->cert_file = cg_path_join(dir, rel->cert_file);
	abs->key_file = cg_path_join(dir, rel->key_file);
	abs->chain_file = rel->chain_file != NULL ?
	    cg_path_join(dir, rel->chain_file) : NULL;
	abs->public_base_url = cg_strdup(BENCH_BASE_URL);
	abs->crl_validity_s = BENCH_CRL_VALIDITY_S;
	if (abs->cert_file == NULL || abs->key_file == NULL ||
	    (rel->chain_file != NULL && abs->chain_file == NULL) ||
	    abs->public_base_url == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

static enum cg_code
store_open_in(const char *dir, struct ca_store **stp, struct cg_err *err)
{
	char		*db;
	enum cg_code	 rc;

	db = cg_path_join(dir, "certgw.db");
	if (db == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_open(db, stp, err);
	cg_free(db);
	return rc;
}

/* The CA in a fresh disk directory, a store there and one on tmpfs. */
static enum cg_code
ca_setup(struct bench *b, struct cg_err *err)
{
	const struct bench_opts	*o = b->o;
	struct ca_init_opts	 io;
	struct ca_config	 rel;
	enum cg_code		 rc;

	memset(&rel, 0, sizeof(rel));
	rc = temp_dir(o->tmp, b->disk_dir, sizeof(b->disk_dir), err);
	if (rc == CG_OK)
		rc = temp_dir(o->shm, b->shm_dir, sizeof(b->shm_dir), err);
	if (rc != CG_OK)
		return rc;
	memset(&io, 0, sizeof(io));
	io.dir = b->disk_dir;
	io.name = BENCH_CA_NAME;
	io.key_type = o->ca_key;
	io.intermediate = o->intermediate;
	rc = ca_init_create(&io, &rel, err);
	if (rc == CG_OK)
		rc = conf_absolute(b->disk_dir, &rel, &b->conf, err);
	if (rc == CG_OK)
		rc = ca_open(&b->conf, &b->ca, err);
	if (rc == CG_OK)
		rc = store_open_in(b->disk_dir, &b->disk, err);
	if (rc == CG_OK)
		rc = store_open_in(b->shm_dir, &b->shm, err);
	if (rc == CG_OK)
		rc = profile_fill(&b->prof, err);
	if (rc == CG_OK)
		ca_set_outbox_hook(b->ca, outbox_hook, (void *)o);
	ca_config_cleanup(&rel);
	return rc;
}

/* ---------------------------------------------------------------- CSRs */

static enum cg_code
key_make(const struct key_kind *k, EVP_PKEY **keyp, struct cg_err *err)
{
	if (k->group != NULL)
		*keyp = EVP_PKEY_Q_keygen(NULL, NULL, k->alg, k->group);
	else if (k->bits != 0)
		*keyp = EVP_PKEY_Q_keygen(NULL, NULL, k->alg, k->bits);
	else
		*keyp = EVP_PKEY_Q_keygen(NULL, NULL, k->alg);
	if (*keyp == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot generate a %s "
		    "key", k->name);
	return CG_OK;
}

/* CSR i: CN host-i, SANs host-i and alt<j>-i, all below BENCH_DOMAIN. */
static enum cg_code
csr_der(EVP_PKEY *key, size_t i, size_t nsans, char (*names)[BENCH_NAME_MAX],
    const char **ptrs, uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	char	 cn[CA_NAME_MAX + 1];
	size_t	 j;

	snprintf(cn, sizeof(cn), "host-%zu." BENCH_DOMAIN, i);
	snprintf(names[0], BENCH_NAME_MAX, "DNS:%s", cn);
	ptrs[0] = names[0];
	for (j = 1; j < nsans; j++) {
		snprintf(names[j], BENCH_NAME_MAX, "DNS:alt%zu-%zu."
		    BENCH_DOMAIN, j, i);
		ptrs[j] = names[j];
	}
	return ca_csr_make(key, cn, ptrs, nsans, derp, lenp, err);
}

/*
 * Make o->count CSRs from a pool of o->nkeys keys (untimed), then parse
 * each with ca_csr_parse(), timing that: it is what every front end pays.
 */
static enum cg_code
csrs_make(struct bench *b, EVP_PKEY **keys, char (*names)[BENCH_NAME_MAX],
    const char **ptrs, struct samples *parse, struct cg_err *err)
{
	const struct bench_opts	*o = b->o;
	uint8_t			*der = NULL;
	size_t			 len, i;
	uint64_t		 t0;
	enum cg_code		 rc = CG_OK;

	for (i = 0; rc == CG_OK && i < o->count; i++) {
		if (bench_stop)
			return cg_err_set(err, CG_EINTERNAL, "interrupted");
		rc = csr_der(keys[i % o->nkeys], i, o->nsans, names, ptrs,
		    &der, &len, err);
		if (rc != CG_OK)
			break;
		t0 = now_ns();
		rc = ca_csr_parse(der, len, &b->csrs[i], err);
		samples_add(parse, ms_since(t0));
		cg_free(der);
		der = NULL;
	}
	return rc;
}

/* Keys, then CSRs; prints the keygen and csr_parse lines. */
static enum cg_code
csrs_setup(struct bench *b, struct cg_err *err)
{
	const struct bench_opts	*o = b->o;
	EVP_PKEY		**keys;
	char			(*names)[BENCH_NAME_MAX];
	const char		**ptrs;
	struct samples		 parse;
	struct stats		 st;
	char			 head[BENCH_LINE_MAX];
	size_t			 i;
	uint64_t		 t0;
	enum cg_code		 rc;

	keys = cg_calloc(o->nkeys, sizeof(*keys));
	names = cg_calloc(o->nsans, sizeof(*names));
	ptrs = cg_calloc(o->nsans, sizeof(*ptrs));
	b->csrs = cg_calloc(o->count, sizeof(*b->csrs));
	rc = samples_init(&parse, o->count, err);
	if (rc == CG_OK && (keys == NULL || names == NULL || ptrs == NULL ||
	    b->csrs == NULL))
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	t0 = now_ns();
	for (i = 0; rc == CG_OK && i < o->nkeys; i++)
		rc = key_make(o->key, &keys[i], err);
	if (rc == CG_OK) {
		printf("bench=keygen %s keys=%zu total_ms=%.1f\n", b->head,
		    o->nkeys, ms_since(t0));
		rc = csrs_make(b, keys, names, ptrs, &parse, err);
	}
	if (rc == CG_OK) {
		stats_compute(&parse, &st);
		snprintf(head, sizeof(head), "bench=csr_parse %s", b->head);
		stats_print(head, &st, NULL);
	}
	for (i = 0; keys != NULL && i < o->nkeys; i++)
		EVP_PKEY_free(keys[i]);
	cg_free(keys);
	cg_free(names);
	cg_free(ptrs);
	samples_cleanup(&parse);
	return rc;
}

/* ----------------------------------------------------------- issuance */

/*
 * One ca_issue() of CSR i into st, timed into s (when not NULL).  Serials
 * of disk certificates are kept for the revocation run; the first
 * certificate is kept for the signing run.
 */
static enum cg_code
issue_one(struct bench *b, struct ca_store *st, size_t i, struct samples *s,
    struct cg_err *err)
{
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	uint64_t		 t0;
	double			 ms;
	enum cg_code		 rc;

	if (bench_stop)
		return cg_err_set(err, CG_EINTERNAL, "interrupted");
	memset(&req, 0, sizeof(req));
	req.csr = b->csrs[i % b->o->count];
	req.profile = &b->prof;
	req.protocol = "bench";
	req.requester = "bench";
	t0 = now_ns();
	rc = ca_issue(b->ca, st, &req, &is, err);
	ms = ms_since(t0);
	if (rc != CG_OK)
		return rc;
	if (s != NULL)
		samples_add(s, ms);
	if (st == b->disk && b->nserials < b->serials_cap)
		memcpy(b->serials[b->nserials++], is->serial,
		    sizeof(is->serial));
	if (b->sample == NULL)
		b->sample = X509_dup(ca_issued_get0_cert(is));
	if (b->sample == NULL)
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
	ca_issued_free(is);
	return rc;
}

/*
 * The same CSRs into both stores, interleaved and alternating which goes
 * first, so machine noise hits both alike and the ratio stays meaningful.
 */
static enum cg_code
issue_run(struct bench *b, struct samples *disk, struct samples *shm,
    double *wall_msp, struct cg_err *err)
{
	const struct bench_opts	*o = b->o;
	struct ca_store		*st[2];
	struct samples		*sm[2];
	size_t			 i, k;
	uint64_t		 t0;
	enum cg_code		 rc = CG_OK;

	for (i = 0; rc == CG_OK && i < o->warmup; i++) {
		rc = issue_one(b, b->disk, i, NULL, err);
		if (rc == CG_OK)
			rc = issue_one(b, b->shm, i, NULL, err);
	}
	t0 = now_ns();
	for (i = 0; rc == CG_OK && i < o->count; i++) {
		st[i % 2] = b->disk;
		sm[i % 2] = disk;
		st[(i + 1) % 2] = b->shm;
		sm[(i + 1) % 2] = shm;
		for (k = 0; rc == CG_OK && k < 2; k++)
			rc = issue_one(b, st[k], i, sm[k], err);
	}
	*wall_msp = ms_since(t0);
	return rc;
}

static enum cg_code
issue_bench(struct bench *b, struct stats *disk_st, struct stats *shm_st,
    struct cg_err *err)
{
	const struct bench_opts	*o = b->o;
	struct samples		 disk, shm;
	char			 head[BENCH_LINE_MAX], fsbuf[32];
	double			 wall_ms = 0;
	size_t			 jobs = 0;
	enum cg_code		 rc;

	memset(&shm, 0, sizeof(shm));
	rc = samples_init(&disk, o->count, err);
	if (rc == CG_OK)
		rc = samples_init(&shm, o->count, err);
	if (rc == CG_OK)
		rc = issue_run(b, &disk, &shm, &wall_ms, err);
	if (rc != CG_OK)
		goto out;
	stats_compute(&disk, disk_st);
	stats_compute(&shm, shm_st);
	snprintf(head, sizeof(head), "bench=issue store=disk fs=%s %s",
	    fs_name(b->disk_dir, fsbuf, sizeof(fsbuf)), b->head);
	stats_print(head, disk_st, NULL);
	snprintf(head, sizeof(head), "bench=issue store=tmpfs fs=%s %s",
	    fs_name(b->shm_dir, fsbuf, sizeof(fsbuf)), b->head);
	stats_print(head, shm_st, NULL);
	printf("bench=issue_both %s n=%zu wall_ms=%.1f per_s=%.1f\n",
	    b->head, 2 * o->count, wall_ms,
	    wall_ms > 0 ? 2000.0 * (double)o->count / wall_ms : 0.0);
	if (o->outbox > 0)
		rc = ca_store_outbox_count(b->disk, &jobs, err);
	if (rc == CG_OK && o->outbox > 0)
		printf("bench=outbox store=disk %s jobs_per_cert=%zu "
		    "pending=%zu\n", b->head, o->outbox, jobs);
out:
	samples_cleanup(&shm);
	samples_cleanup(&disk);
	return rc;
}

/* ------------------------------------------------------------ signing */

/*
 * Sign a copy of an issued certificate n times as the signer does (a fresh
 * digest-sign context per certificate, same digest), with a freshly made
 * key of the CA's type: the CA's own key stays inside ca/.
 */
static enum cg_code
sign_run(struct bench *b, EVP_PKEY *key, const char *md, struct samples *s,
    struct cg_err *err)
{
	X509		*x = NULL;
	EVP_MD_CTX	*mctx = NULL;
	uint64_t	 t0;
	size_t		 i;
	enum cg_code	 rc = CG_OK;

	x = X509_dup(b->sample);
	if (x == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	for (i = 0; rc == CG_OK && i < b->o->count; i++) {
		t0 = now_ns();
		mctx = EVP_MD_CTX_new();
		if (mctx == NULL || EVP_DigestSignInit_ex(mctx, NULL, md, NULL,
		    NULL, key, NULL) != 1 || X509_sign_ctx(x, mctx) <= 0)
			rc = cg_err_crypto(err, CG_ECRYPTO, "cannot sign");
		EVP_MD_CTX_free(mctx);
		samples_add(s, ms_since(t0));
	}
	X509_free(x);
	return rc;
}

static enum cg_code
sign_bench(struct bench *b, struct stats *st, struct cg_err *err)
{
	EVP_PKEY	*key = NULL;
	struct samples	 s;
	char		 head[BENCH_LINE_MAX];
	const char	*md;
	int		 mdnid = NID_undef;
	enum cg_code	 rc;

	rc = samples_init(&s, b->o->count, err);
	if (rc != CG_OK)
		return rc;
	if (X509_get_signature_info(b->sample, &mdnid, NULL, NULL, NULL) != 1
	    || mdnid == NID_undef) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "no signature digest");
		goto out;
	}
	md = OBJ_nid2sn(mdnid);
	rc = ca_key_generate(b->o->ca_key, &key, err);
	if (rc == CG_OK)
		rc = sign_run(b, key, md, &s, err);
	if (rc != CG_OK)
		goto out;
	stats_compute(&s, st);
	snprintf(head, sizeof(head), "bench=sign %s md=%s", b->head, md);
	stats_print(head, st, NULL);
out:
	EVP_PKEY_free(key);
	samples_cleanup(&s);
	return rc;
}

/*
 * X509_set_pubkey() with each CSR's key into a fresh certificate: what
 * ca_issue() paid per certificate before it carried the request's key over
 * as bytes.  In OpenSSL 3.0 this round-trips the key through the provider
 * encoder and decoder.  Kept as the yardstick for that saving
 * (docs/performance.md); it is not part of an issuance any more.
 */
static enum cg_code
pubkey_bench(struct bench *b, struct stats *st, struct cg_err *err)
{
	struct samples	 s;
	char		 head[BENCH_LINE_MAX];
	X509		*x;
	EVP_PKEY	*pub;		/* get0: borrowed from the CSR */
	uint64_t	 t0;
	size_t		 i;
	enum cg_code	 rc;

	rc = samples_init(&s, b->o->count, err);
	for (i = 0; rc == CG_OK && i < b->o->count; i++) {
		pub = ca_csr_get0_pubkey(b->csrs[i]);
		x = X509_new();
		if (x == NULL) {
			rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
			break;
		}
		t0 = now_ns();
		if (X509_set_pubkey(x, pub) != 1)
			rc = cg_err_crypto(err, CG_ECRYPTO, "cannot set key");
		samples_add(&s, ms_since(t0));
		X509_free(x);
	}
	if (rc == CG_OK) {
		stats_compute(&s, st);
		snprintf(head, sizeof(head), "bench=set_pubkey %s", b->head);
		stats_print(head, st, NULL);
	}
	samples_cleanup(&s);
	return rc;
}

/* Where the time of one issuance goes, from the runs above (means). */
static void
split_print(const struct bench *b, const struct split *sp)
{
	double	 disk = sp->disk.mean, shm = sp->shm.mean;

	printf("bench=issue_split %s disk_over_tmpfs_mean=%.2f "
	    "disk_over_tmpfs_p50=%.2f durable_commit_ms=%.3f "
	    "commit_share_disk=%.2f sign_ms=%.3f sign_share_tmpfs=%.2f "
	    "rest_ms=%.3f set_pubkey_saved_ms=%.3f\n",
	    b->head, shm > 0 ? disk / shm : 0.0,
	    sp->shm.p50 > 0 ? sp->disk.p50 / sp->shm.p50 : 0.0, disk - shm,
	    disk > 0 ? (disk - shm) / disk : 0.0, sp->sign.mean,
	    shm > 0 ? sp->sign.mean / shm : 0.0, shm - sp->sign.mean,
	    sp->pubkey.mean);
	fflush(stdout);
}

/* ------------------------------------------------- revocation and CRL */

/* Untimed issuances into the disk store until there are enough to revoke. */
static enum cg_code
fill_disk(struct bench *b, struct cg_err *err)
{
	size_t		 n = 0, i = 0;
	uint64_t	 t0 = now_ns();
	enum cg_code	 rc = CG_OK;

	while (rc == CG_OK && b->nserials < b->o->revoke) {
		rc = issue_one(b, b->disk, i++, NULL, err);
		n++;
	}
	if (rc == CG_OK && n > 0)
		printf("bench=fill store=disk %s issued=%zu total_ms=%.1f\n",
		    b->head, n, ms_since(t0));
	return rc;
}

static enum cg_code
revoke_bench(struct bench *b, struct cg_err *err)
{
	const size_t	 nreasons = sizeof(bench_reasons) /
			    sizeof(bench_reasons[0]);
	struct samples	 s;
	struct stats	 st;
	char		 head[BENCH_LINE_MAX];
	uint64_t	 t0;
	size_t		 i;
	enum cg_code	 rc;

	rc = samples_init(&s, b->o->revoke, err);
	if (rc == CG_OK)
		rc = fill_disk(b, err);
	for (i = 0; rc == CG_OK && i < b->o->revoke; i++) {
		if (bench_stop) {
			rc = cg_err_set(err, CG_EINTERNAL, "interrupted");
			break;
		}
		t0 = now_ns();
		rc = ca_revoke(b->ca, b->disk, b->serials[i],
		    bench_reasons[i % nreasons], "bench", err);
		samples_add(&s, ms_since(t0));
	}
	if (rc == CG_OK && s.n > 0) {
		stats_compute(&s, &st);
		snprintf(head, sizeof(head), "bench=revoke store=disk %s",
		    b->head);
		stats_print(head, &st, NULL);
	}
	samples_cleanup(&s);
	return rc;
}

static enum cg_code
crl_bench(struct bench *b, struct cg_err *err)
{
	struct samples	 s;
	struct stats	 st;
	char		 head[BENCH_LINE_MAX], tail[64];
	uint8_t		*der = NULL;
	size_t		 len = 0, i;
	uint64_t	 t0;
	enum cg_code	 rc;

	if (b->o->crl_runs == 0)
		return CG_OK;
	rc = samples_init(&s, b->o->crl_runs, err);
	for (i = 0; rc == CG_OK && i < b->o->crl_runs; i++) {
		if (bench_stop) {
			rc = cg_err_set(err, CG_EINTERNAL, "interrupted");
			break;
		}
		cg_free(der);
		der = NULL;
		t0 = now_ns();
		rc = ca_crl_make(b->ca, b->disk, &der, &len, NULL, err);
		samples_add(&s, ms_since(t0));
	}
	if (rc == CG_OK) {
		stats_compute(&s, &st);
		snprintf(head, sizeof(head), "bench=crl store=disk %s "
		    "revoked=%zu", b->head, b->o->revoke);
		snprintf(tail, sizeof(tail), "crl_bytes=%zu", len);
		stats_print(head, &st, tail);
	}
	cg_free(der);
	samples_cleanup(&s);
	return rc;
}

/* ---------------------------------------------------------------- run */

static void
bench_cleanup(struct bench *b)
{
	size_t	 i;

	X509_free(b->sample);
	cg_free(b->serials);
	for (i = 0; b->csrs != NULL && i < b->o->count; i++)
		ca_csr_free(b->csrs[i]);
	cg_free(b->csrs);
	ca_profile_cleanup(&b->prof);
	ca_store_close(b->shm);
	ca_store_close(b->disk);
	ca_free(b->ca);
	ca_config_cleanup(&b->conf);
	rm_tree(b->shm_dir);
	rm_tree(b->disk_dir);
}

static void
setup_print(const struct bench *b)
{
	const struct bench_opts	*o = b->o;
	char			 ver[BENCH_QUOTE_MAX];
	char			 f1[32], f2[32];

	printf("bench=setup %s count=%zu revoke=%zu crl_runs=%zu keys=%zu "
	    "sans=%zu outbox=%zu warmup=%zu intermediate=%s disk_fs=%s "
	    "tmpfs_fs=%s openssl=%s\n", b->head, o->count, o->revoke,
	    o->crl_runs, o->nkeys, o->nsans, o->outbox, o->warmup,
	    o->intermediate ? "yes" : "no",
	    fs_name(b->disk_dir, f1, sizeof(f1)),
	    fs_name(b->shm_dir, f2, sizeof(f2)),
	    cg_logfmt_quote(OpenSSL_version(OPENSSL_VERSION), ver,
	    sizeof(ver)));
	fflush(stdout);
}

static enum cg_code
bench_run(struct bench *b, struct cg_err *err)
{
	const struct bench_opts	*o = b->o;
	struct split		 sp;
	enum cg_code		 rc;

	snprintf(b->head, sizeof(b->head), "ca_key=%s key=%s",
	    o->ca_key_name, o->key->name);
	/* The disk store keeps warmup + timed serials, or enough to revoke. */
	b->serials_cap = o->count + o->warmup > o->revoke ?
	    o->count + o->warmup : o->revoke;
	b->serials = cg_calloc(b->serials_cap, sizeof(*b->serials));
	if (b->serials == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_setup(b, err);
	if (rc != CG_OK)
		return rc;
	setup_print(b);
	rc = csrs_setup(b, err);
	if (rc == CG_OK)
		printf("bench=rss phase=setup peak_kb=%ld\n", rss_peak_kb());
	if (rc == CG_OK)
		rc = issue_bench(b, &sp.disk, &sp.shm, err);
	if (rc == CG_OK)
		rc = sign_bench(b, &sp.sign, err);
	if (rc == CG_OK)
		rc = pubkey_bench(b, &sp.pubkey, err);
	if (rc == CG_OK)
		split_print(b, &sp);
	if (rc == CG_OK)
		rc = revoke_bench(b, err);
	if (rc == CG_OK)
		rc = crl_bench(b, err);
	if (rc == CG_OK)
		printf("bench=rss phase=end peak_kb=%ld\n", rss_peak_kb());
	return rc;
}

static void
signals_catch(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
}

int
main(int argc, char **argv)
{
	struct bench_opts	 o;
	struct bench		 b;
	struct cg_err		 err = { 0 };
	char			 msg[BENCH_QUOTE_MAX], det[BENCH_QUOTE_MAX];
	enum cg_code		 rc;
	int			 p;

	p = opts_parse(argc, argv, &o);
	if (p != 0)
		return p > 0 ? 0 : 2;
	/* ca_issue() logs every certificate at info; keep stderr quiet. */
	cg_log_set_level(CG_LOG_WARN);
	signals_catch();
	memset(&b, 0, sizeof(b));
	b.o = &o;
	rc = bench_run(&b, &err);
	bench_cleanup(&b);
	fflush(stdout);
	if (rc != CG_OK) {
		fprintf(stderr, "bench=error code=%s msg=%s detail=%s\n",
		    cg_code_str(rc), cg_logfmt_quote(err.msg, msg, sizeof(msg)),
		    cg_logfmt_quote(err.detail, det, sizeof(det)));
		return 1;
	}
	return 0;
}
