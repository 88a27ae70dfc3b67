/*
 * acme_nonce.c - making and checking ACME nonces: the base64url codec for
 * exactly one nonce, the per-thread HMAC context and random buffer, the
 * sharded replay set (a hash table and a min-heap on issue time per shard)
 * and the key file.  The design and its limits are in acme_nonce.h.
 */
#include "acme_nonce.h"
#include "acme_jws.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define NONCE_RAND_LEN		8	/* random bytes in a nonce */
#define NONCE_RAND_BUF		512	/* drawn per RAND_bytes call */
#define NONCE_PRUNE_MAX		8	/* expired entries dropped per use */
#define NONCE_MAC_LEN		32	/* HMAC-SHA256 before truncation */

/* One used nonce in a shard. */
struct nonce_ent {
	uint8_t		 id[ACME_NONCE_ID_LEN];	/* issue time | random */
	uint32_t	 next;		/* bucket chain or free list: index+1 */
};

/* The heap holds the issue times itself: sifting reads one array. */
struct nonce_heap {
	int64_t		 t;		/* issue time, ms */
	uint32_t	 ei;		/* its entry */
};

/* A part of the replay set; which one a nonce goes to is fixed by its id. */
struct nonce_shard {
	pthread_mutex_t	 mu;
	struct nonce_ent *ents;		/* cap entries */
	struct nonce_heap *heap;	/* min-heap on issue time */
	uint32_t	*buckets;	/* chain heads: index+1, 0 = empty */
	uint32_t	 mask;		/* buckets - 1 (a power of two) */
	uint32_t	 cap;		/* entries at most */
	uint32_t	 n;		/* entries held */
	uint32_t	 fresh;		/* entries never used yet start here */
	uint32_t	 free;		/* freed entries: index+1, 0 = none */
} __attribute__((aligned(64)));	/* no false sharing between shards */

struct acme_nonces {
	struct nonce_shard shards[ACME_NONCE_SHARDS];
	EVP_MAC_CTX	*mac;		/* keyed; threads copy it */
	uint64_t	 gen;		/* tells thread copies apart */
	uint64_t	 seed;		/* for id_hash, random */
	size_t		 nmu;		/* shard mutexes initialised */
	int64_t		 lifetime_ms;
	_Atomic int64_t	 watermark;	/* refuse issue times <= this */
};

/*
 * Per thread: a copy of one acme_nonces' keyed HMAC context (reset per
 * nonce, which costs less than half of copying one per call) and a buffer
 * of random bytes.  The cache is heap memory found through a pthread key,
 * so that its destructor frees the context when the thread exits.
 */
struct mac_cache {
	uint64_t	 gen;		/* acme_nonces it was copied from */
	EVP_MAC_CTX	*ctx;
};

static pthread_once_t		 tl_once = PTHREAD_ONCE_INIT;
static pthread_key_t		 tl_key;
static bool			 tl_key_ok;
static _Thread_local struct mac_cache *tl_mac;
static _Thread_local uint8_t	 tl_rand[NONCE_RAND_BUF];
static _Thread_local size_t	 tl_rand_off = NONCE_RAND_BUF;
static atomic_uint_fast64_t	 gen_next = 1;

static const char *const verdict_names[ACME_NONCE__MAX] = {
	[ACME_NONCE_OK] = "ok",
	[ACME_NONCE_MALFORMED] = "malformed",
	[ACME_NONCE_FORGED] = "forged",
	[ACME_NONCE_EXPIRED] = "expired",
	[ACME_NONCE_REPLAYED] = "replayed",
	[ACME_NONCE_ERROR] = "error",
};

const char *
acme_nonce_verdict_str(enum acme_nonce_verdict v)
{
	return (unsigned)v < ACME_NONCE__MAX ? verdict_names[v] : "unknown";
}

/* ------------------------------------------------------------ codec */

static void
put_be64(uint8_t *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
encode(const uint8_t raw[ACME_NONCE_RAW_LEN], char out[ACME_NONCE_LEN + 1])
{
	(void)acme_b64url_encode_to(raw, ACME_NONCE_RAW_LEN, out);
}

/*
 * Strict: exactly ACME_NONCE_LEN characters of the URL-safe alphabet, and
 * the two bits past the last byte zero, so each nonce has one spelling.
 */
static bool
decode(const char *s, size_t len, uint8_t raw[ACME_NONCE_RAW_LEN])
{
	size_t	 n;

	return len == ACME_NONCE_LEN && acme_b64url_decode_to(s, len, raw,
	    ACME_NONCE_RAW_LEN, &n) == CG_OK && n == ACME_NONCE_RAW_LEN;
}

/* ------------------------------------------------- per-thread state */

static void
mac_cache_free(void *p)
{
	struct mac_cache *c = p;

	if (c == NULL)
		return;
	EVP_MAC_CTX_free(c->ctx);
	free(c);
}

/* The forking thread is the child's only one; its buffer is the parent's. */
static void
rand_reset_child(void)
{
	OPENSSL_cleanse(tl_rand, sizeof(tl_rand));
	tl_rand_off = NONCE_RAND_BUF;
}

static void
tl_init(void)
{
	tl_key_ok = pthread_key_create(&tl_key, mac_cache_free) == 0;
	(void)pthread_atfork(NULL, NULL, rand_reset_child);
}

static bool
rand_take(uint8_t *out, size_t len)
{
	if (tl_rand_off + len > NONCE_RAND_BUF) {
		/* The fork handler must be in place before the buffer is. */
		if (pthread_once(&tl_once, tl_init) != 0 ||
		    RAND_bytes(tl_rand, NONCE_RAND_BUF) != 1)
			return false;
		tl_rand_off = 0;
	}
	memcpy(out, tl_rand + tl_rand_off, len);
	tl_rand_off += len;
	return true;
}

/* This thread's copy of n's HMAC context, made on first use. */
static EVP_MAC_CTX *
mac_ctx(struct acme_nonces *n)
{
	struct mac_cache *c = tl_mac;

	if (c != NULL && c->gen == n->gen)
		return c->ctx;
	if (pthread_once(&tl_once, tl_init) != 0 || !tl_key_ok)
		return NULL;
	if (c == NULL) {
		/* malloc, not cg_malloc: the key destructor frees it. */
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return NULL;
		if (pthread_setspecific(tl_key, c) != 0) {
			free(c);
			return NULL;
		}
		tl_mac = c;
	}
	EVP_MAC_CTX_free(c->ctx);
	c->gen = 0;
	if ((c->ctx = EVP_MAC_CTX_dup(n->mac)) == NULL)
		return NULL;
	c->gen = n->gen;
	return c->ctx;
}

static bool
tag(struct acme_nonces *n, const uint8_t id[ACME_NONCE_ID_LEN],
    uint8_t out[ACME_NONCE_TAG_LEN])
{
	EVP_MAC_CTX	*ctx;
	uint8_t		 mac[NONCE_MAC_LEN];
	size_t		 len = 0;

	if ((ctx = mac_ctx(n)) == NULL)
		return false;
	/* A NULL key restarts the HMAC with the key it already holds. */
	if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(ctx, id, ACME_NONCE_ID_LEN) != 1 ||
	    EVP_MAC_final(ctx, mac, &len, sizeof(mac)) != 1 ||
	    len != sizeof(mac))
		return false;
	memcpy(out, mac, ACME_NONCE_TAG_LEN);
	return true;
}

/* ------------------------------------------------------- replay set */

/*
 * Where an id goes: its shard (low bits) and bucket.  Clients cannot pick
 * ids, but they can fetch nonces until some collide; the per-instance
 * seed keeps them from knowing which do.
 */
static uint64_t
id_hash(const struct acme_nonces *n, const uint8_t id[ACME_NONCE_ID_LEN])
{
	uint64_t h;

	h = get_be64(id + 8) ^ get_be64(id) ^ n->seed;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static void
watermark_raise(struct acme_nonces *n, int64_t t)
{
	int64_t	 cur = atomic_load_explicit(&n->watermark,
	    memory_order_relaxed);

	while (cur < t && !atomic_compare_exchange_weak_explicit(
	    &n->watermark, &cur, t, memory_order_relaxed,
	    memory_order_relaxed))
		;
}

static void
heap_up(struct nonce_shard *sh, uint32_t pos)
{
	struct nonce_heap h = sh->heap[pos];
	uint32_t	 parent;

	while (pos > 0) {
		parent = (pos - 1) / 2;
		if (sh->heap[parent].t <= h.t)
			break;
		sh->heap[pos] = sh->heap[parent];
		pos = parent;
	}
	sh->heap[pos] = h;
}

static void
heap_down(struct nonce_shard *sh, uint32_t pos)
{
	struct nonce_heap h = sh->heap[pos];
	uint32_t	 child;

	for (;;) {
		child = 2 * pos + 1;
		if (child >= sh->n)
			break;
		if (child + 1 < sh->n &&
		    sh->heap[child + 1].t < sh->heap[child].t)
			child++;
		if (h.t <= sh->heap[child].t)
			break;
		sh->heap[pos] = sh->heap[child];
		pos = child;
	}
	sh->heap[pos] = h;
}

static bool
shard_has(const struct nonce_shard *sh, const uint8_t id[ACME_NONCE_ID_LEN],
    uint64_t h)
{
	uint32_t i;

	for (i = sh->buckets[(h >> 8) & sh->mask]; i != 0;
	    i = sh->ents[i - 1].next)
		if (memcmp(sh->ents[i - 1].id, id, ACME_NONCE_ID_LEN) == 0)
			return true;
	return false;
}

/* Drop the oldest-issued entry; the watermark covers it from now on. */
static void
shard_pop(struct acme_nonces *n, struct nonce_shard *sh)
{
	struct nonce_ent *e;
	uint32_t	 ei = sh->heap[0].ei, *pp;

	e = &sh->ents[ei];
	watermark_raise(n, sh->heap[0].t);
	for (pp = &sh->buckets[(id_hash(n, e->id) >> 8) & sh->mask];
	    *pp != ei + 1; pp = &sh->ents[*pp - 1].next)
		;
	*pp = e->next;
	sh->n--;
	if (sh->n > 0) {
		sh->heap[0] = sh->heap[sh->n];
		heap_down(sh, 0);
	}
	e->next = sh->free;
	sh->free = ei + 1;
}

static void
shard_add(struct nonce_shard *sh, const uint8_t id[ACME_NONCE_ID_LEN],
    int64_t t, uint64_t h)
{
	struct nonce_ent *e;
	uint32_t	 ei, *b;

	if (sh->free != 0) {
		ei = sh->free - 1;
		sh->free = sh->ents[ei].next;
	} else
		ei = sh->fresh++;
	e = &sh->ents[ei];
	memcpy(e->id, id, ACME_NONCE_ID_LEN);
	b = &sh->buckets[(h >> 8) & sh->mask];
	e->next = *b;
	*b = ei + 1;
	sh->heap[sh->n].t = t;
	sh->heap[sh->n].ei = ei;
	heap_up(sh, sh->n++);
}

/* ------------------------------------------------------------ API */

/*
 * Whether a nonce issued at t is past its lifetime at now_ms.  Both are
 * full int64 ranges (a caller's clock, or bytes a fuzzer made authentic
 * by knowing the key), so the difference saturates instead of wrapping.
 */
static bool
expired(const struct acme_nonces *n, int64_t t, int64_t now_ms)
{
	int64_t	 age;

	if (__builtin_sub_overflow(now_ms, t, &age))
		return now_ms > t;
	return age > n->lifetime_ms;
}

struct acme_nonces *
acme_nonces_new(const uint8_t key[ACME_NONCE_KEY_LEN], uint32_t lifetime_s,
    size_t replay_max, struct cg_err *err)
{
	struct acme_nonces *n;
	struct nonce_shard *sh;
	EVP_MAC		*mac = NULL;
	OSSL_PARAM	 params[2];
	uint32_t	 cap, nb;
	size_t		 i;

	if (lifetime_s < 1 || lifetime_s > ACME_NONCE_LIFETIME_MAX) {
		cg_err_set(err, CG_EINVAL, "nonce lifetime must be 1 to %d "
		    "seconds", ACME_NONCE_LIFETIME_MAX);
		return NULL;
	}
	if (replay_max < ACME_NONCE_REPLAY_MIN ||
	    replay_max > ACME_NONCE_REPLAY_MAX) {
		cg_err_set(err, CG_EINVAL, "nonce replay set must hold %d to "
		    "%u entries", ACME_NONCE_REPLAY_MIN, ACME_NONCE_REPLAY_MAX);
		return NULL;
	}
	/* Shards are cache-line aligned; cg_calloc promises only 16. */
	if ((n = aligned_alloc(_Alignof(struct acme_nonces),
	    sizeof(*n))) == NULL) {
		cg_err_set(err, CG_ENOMEM, "out of memory");
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->lifetime_ms = (int64_t)lifetime_s * 1000;
	atomic_init(&n->watermark, INT64_MIN);
	n->gen = atomic_fetch_add(&gen_next, 1);
	if (RAND_bytes((uint8_t *)&n->seed, sizeof(n->seed)) != 1) {
		cg_err_crypto(err, CG_ECRYPTO, "no random bytes");
		free(n);
		return NULL;
	}
	cap = (uint32_t)(replay_max / ACME_NONCE_SHARDS);
	for (nb = 1; nb < cap; nb <<= 1)
		;
	for (i = 0; i < ACME_NONCE_SHARDS; i++) {
		sh = &n->shards[i];
		if (pthread_mutex_init(&sh->mu, NULL) != 0) {
			cg_err_set(err, CG_EINTERNAL, "cannot create a mutex");
			goto fail;
		}
		n->nmu++;
		sh->cap = cap;
		sh->mask = nb - 1;
		sh->ents = cg_calloc(cap, sizeof(*sh->ents));
		sh->heap = cg_calloc(cap, sizeof(*sh->heap));
		sh->buckets = cg_calloc(nb, sizeof(*sh->buckets));
		if (sh->ents == NULL || sh->heap == NULL || sh->buckets == NULL)
			goto nomem;
	}
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL || (n->mac = EVP_MAC_CTX_new(mac)) == NULL) {
		cg_err_crypto(err, CG_ECRYPTO, "HMAC is not available");
		goto fail;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(n->mac, key, ACME_NONCE_KEY_LEN, params) != 1) {
		cg_err_crypto(err, CG_ECRYPTO, "cannot key the nonce HMAC");
		goto fail;
	}
	EVP_MAC_free(mac);
	return n;
nomem:
	cg_err_set(err, CG_ENOMEM, "out of memory");
fail:
	EVP_MAC_free(mac);
	acme_nonces_free(n);
	return NULL;
}

void
acme_nonces_free(struct acme_nonces *n)
{
	struct nonce_shard *sh;
	size_t		 i;

	if (n == NULL)
		return;
	/* Other threads' copies go when they exit or meet another n. */
	if (tl_mac != NULL && tl_mac->gen == n->gen) {
		EVP_MAC_CTX_free(tl_mac->ctx);
		tl_mac->ctx = NULL;
		tl_mac->gen = 0;
	}
	for (i = 0; i < ACME_NONCE_SHARDS; i++) {
		sh = &n->shards[i];
		if (i < n->nmu)
			pthread_mutex_destroy(&sh->mu);
		cg_free(sh->ents);
		cg_free(sh->heap);
		cg_free(sh->buckets);
	}
	EVP_MAC_CTX_free(n->mac);
	free(n);
}

enum cg_code
acme_nonce_make(struct acme_nonces *n, int64_t now_ms,
    char out[ACME_NONCE_LEN + 1], struct cg_err *err)
{
	uint8_t	 raw[ACME_NONCE_RAW_LEN];

	out[0] = '\0';
	put_be64(raw, (uint64_t)now_ms);
	if (!rand_take(raw + 8, NONCE_RAND_LEN))
		return cg_err_crypto(err, CG_ECRYPTO, "no random bytes for a "
		    "nonce");
	if (!tag(n, raw, raw + ACME_NONCE_ID_LEN))
		return cg_err_crypto(err, CG_ECRYPTO, "cannot compute a nonce "
		    "HMAC");
	encode(raw, out);
	return CG_OK;
}

enum acme_nonce_verdict
acme_nonce_use(struct acme_nonces *n, const char *s, size_t len,
    int64_t now_ms)
{
	struct nonce_shard *sh;
	uint8_t		 raw[ACME_NONCE_RAW_LEN], mac[ACME_NONCE_TAG_LEN];
	enum acme_nonce_verdict v;
	uint64_t	 h;
	int64_t		 t, ahead;
	int		 i;

	if (s == NULL || !decode(s, len, raw))
		return ACME_NONCE_MALFORMED;
	if (!tag(n, raw, mac))
		return ACME_NONCE_ERROR;
	if (CRYPTO_memcmp(mac, raw + ACME_NONCE_ID_LEN,
	    ACME_NONCE_TAG_LEN) != 0)
		return ACME_NONCE_FORGED;
	/* Authentic from here on: t is a time some instance of ours wrote. */
	t = (int64_t)get_be64(raw);
	if (expired(n, t, now_ms) || (__builtin_sub_overflow(t, now_ms,
	    &ahead) ? t > now_ms : ahead > ACME_NONCE_FUTURE_MS))
		return ACME_NONCE_EXPIRED;
	h = id_hash(n, raw);
	sh = &n->shards[h & (ACME_NONCE_SHARDS - 1)];
	pthread_mutex_lock(&sh->mu);
	/*
	 * An entry leaves its shard only under this lock and only after the
	 * watermark has risen past it, so once the lock is ours a nonce is
	 * either still in the shard or under the watermark.
	 */
	if (t <= atomic_load_explicit(&n->watermark, memory_order_relaxed)) {
		v = ACME_NONCE_EXPIRED;
		goto out;
	}
	if (shard_has(sh, raw, h)) {
		v = ACME_NONCE_REPLAYED;
		goto out;
	}
	for (i = 0; i < NONCE_PRUNE_MAX && sh->n > 0; i++) {
		if (!expired(n, sh->heap[0].t, now_ms))
			break;
		shard_pop(n, sh);
	}
	if (sh->n == sh->cap) {
		/*
		 * Older than everything held: remembering it would mean
		 * forgetting a younger one, and the watermark would then
		 * have to pass it anyway.
		 */
		if (t <= sh->heap[0].t) {
			v = ACME_NONCE_EXPIRED;
			goto out;
		}
		shard_pop(n, sh);
	}
	shard_add(sh, raw, t, h);
	v = ACME_NONCE_OK;
out:
	pthread_mutex_unlock(&sh->mu);
	return v;
}

size_t
acme_nonce_replay_count(struct acme_nonces *n)
{
	size_t	 i, total = 0;

	for (i = 0; i < ACME_NONCE_SHARDS; i++) {
		pthread_mutex_lock(&n->shards[i].mu);
		total += n->shards[i].n;
		pthread_mutex_unlock(&n->shards[i].mu);
	}
	return total;
}

int64_t
acme_nonce_watermark(struct acme_nonces *n)
{
	return atomic_load_explicit(&n->watermark, memory_order_relaxed);
}

/* ------------------------------------------------------------ key file */

/* CG_ENOTFOUND, without recording an error, when path does not exist. */
static enum cg_code
key_load(const char *path, uint8_t key[ACME_NONCE_KEY_LEN],
    struct cg_err *err)
{
	struct stat	 sb;
	uint8_t		 extra;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd;
	enum cg_code	 rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		return CG_ENOTFOUND;
	if (fd < 0)
		return cg_err_errno(err, CG_EIO, "cannot open nonce key %s",
		    path);
	/* Checked on the open file, so a swapped path cannot fool us. */
	if (fstat(fd, &sb) != 0) {
		rc = cg_err_errno(err, CG_EIO, "cannot stat nonce key %s",
		    path);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = cg_err_set(err, CG_EINVAL, "nonce key %s is not a "
		    "regular file", path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		rc = cg_err_set(err, CG_EDENIED, "nonce key %s has mode %04o; "
		    "group and others must have no access (chmod 600)", path,
		    (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (sb.st_size != ACME_NONCE_KEY_LEN) {
		rc = cg_err_set(err, CG_EINVAL, "nonce key %s must hold "
		    "exactly %d bytes, not %lld", path, ACME_NONCE_KEY_LEN,
		    (long long)sb.st_size);
		goto out;
	}
	while (got < ACME_NONCE_KEY_LEN) {
		r = read(fd, key + got, ACME_NONCE_KEY_LEN - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = cg_err_errno(err, CG_EIO, "cannot read nonce key "
			    "%s", path);
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	/* The size may have changed since fstat. */
	while ((r = read(fd, &extra, 1)) < 0 && errno == EINTR)
		;
	OPENSSL_cleanse(&extra, sizeof(extra));
	if (got != ACME_NONCE_KEY_LEN || r != 0) {
		rc = cg_err_set(err, CG_EINVAL, "nonce key %s must hold "
		    "exactly %d bytes", path, ACME_NONCE_KEY_LEN);
		goto out;
	}
	rc = CG_OK;
out:
	close(fd);
	if (rc != CG_OK)
		OPENSSL_cleanse(key, ACME_NONCE_KEY_LEN);
	return rc;
}

static void
sync_dir_of(const char *path)
{
	const char	*slash = strrchr(path, '/');
	char		*dir;
	int		 fd;

	if (slash == NULL)
		dir = cg_strdup(".");
	else if (slash == path)
		dir = cg_strdup("/");
	else
		dir = cg_strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return;
	/* Best effort: the key is already durable in its own right. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	cg_free(dir);
}

/* CG_ECONFLICT, without recording an error, when path appeared meanwhile. */
static enum cg_code
key_create(const char *path, uint8_t key[ACME_NONCE_KEY_LEN],
    struct cg_err *err)
{
	char		*tmp;
	size_t		 off = 0;
	ssize_t		 w;
	int		 fd;
	enum cg_code	 rc;

	if (RAND_priv_bytes(key, ACME_NONCE_KEY_LEN) != 1)
		return cg_err_crypto(err, CG_ECRYPTO, "no random bytes for the "
		    "nonce key");
	if ((tmp = cg_asprintf("%s.XXXXXX", path)) == NULL) {
		OPENSSL_cleanse(key, ACME_NONCE_KEY_LEN);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	/* mkostemp opens with O_EXCL and mode 0600. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		rc = cg_err_errno(err, CG_EIO, "cannot create nonce key %s",
		    path);
		cg_free(tmp);
		OPENSSL_cleanse(key, ACME_NONCE_KEY_LEN);
		return rc;
	}
	rc = CG_OK;
	if (fchmod(fd, 0600) != 0)
		rc = cg_err_errno(err, CG_EIO, "cannot chmod %s", tmp);
	while (rc == CG_OK && off < ACME_NONCE_KEY_LEN) {
		w = write(fd, key + off, ACME_NONCE_KEY_LEN - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = cg_err_errno(err, CG_EIO, "cannot write %s", tmp);
		else
			off += (size_t)w;
	}
	if (rc == CG_OK && fsync(fd) != 0)
		rc = cg_err_errno(err, CG_EIO, "cannot sync %s", tmp);
	close(fd);
	/* link() fails on an existing path: the whole key appears, or none. */
	if (rc == CG_OK && link(tmp, path) != 0)
		rc = errno == EEXIST ? CG_ECONFLICT : cg_err_errno(err, CG_EIO,
		    "cannot create nonce key %s", path);
	unlink(tmp);
	cg_free(tmp);
	if (rc == CG_OK)
		sync_dir_of(path);
	else
		OPENSSL_cleanse(key, ACME_NONCE_KEY_LEN);
	return rc;
}

enum cg_code
acme_nonce_key_load_or_create(const char *path,
    uint8_t key[ACME_NONCE_KEY_LEN], struct cg_err *err)
{
	static const uint8_t zero[ACME_NONCE_KEY_LEN];
	enum cg_code	 rc;
	int		 tries;

	for (tries = 0; tries < 3; tries++) {
		rc = key_load(path, key, err);
		if (rc == CG_OK &&
		    CRYPTO_memcmp(key, zero, ACME_NONCE_KEY_LEN) == 0) {
			OPENSSL_cleanse(key, ACME_NONCE_KEY_LEN);
			return cg_err_set(err, CG_EINVAL, "nonce key %s is all "
			    "zero bytes", path);
		}
		if (rc != CG_ENOTFOUND)
			return rc;
		rc = key_create(path, key, err);
		/* Another instance created it first: read theirs. */
		if (rc != CG_ECONFLICT)
			return rc;
	}
	return cg_err_set(err, CG_EIO, "nonce key %s keeps appearing and "
	    "disappearing", path);
}
