/*
 * test_acme_nonce.c - ACME nonces (protocols/acme/acme_nonce.c): the wire
 * format against an HMAC computed here, one use per nonce, forged, flipped,
 * expired, future and malformed nonces, the bounded replay set (eviction,
 * the watermark, pruning, the heap order inside a shard), two instances
 * sharing a key, concurrent use from four threads, the key file, and
 * allocation failures.  The module is included to reach its shards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../protocols/acme/acme_nonce.c"

#define T0		INT64_C(1750000000000)	/* ms */
#define LIFE_S		300
#define LIFE_MS		(LIFE_S * INT64_C(1000))
#define N_CONC		1000			/* nonces in the thread test */
#define N_THREADS	4
/* The base64url alphabet in value order (RFC 4648 §5). */
#define B64URL	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static const uint8_t key_a[ACME_NONCE_KEY_LEN] = {
	0x41, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const uint8_t key_b[ACME_NONCE_KEY_LEN] = {
	0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static struct acme_nonces *
nonces(const uint8_t *key, size_t replay_max)
{
	struct acme_nonces *n;
	struct cg_err	 err = { 0 };

	n = acme_nonces_new(key, LIFE_S, replay_max, &err);
	if (n == NULL)
		fail_msg("acme_nonces_new: %s", err.msg);
	return n;
}

static void
make(struct acme_nonces *n, int64_t at, char out[ACME_NONCE_LEN + 1])
{
	struct cg_err	 err = { 0 };

	if (acme_nonce_make(n, at, out, &err) != CG_OK)
		fail_msg("acme_nonce_make: %s", err.msg);
	assert_int_equal(strlen(out), ACME_NONCE_LEN);
}

static enum acme_nonce_verdict
use(struct acme_nonces *n, const char *s, int64_t at)
{
	return acme_nonce_use(n, s, strlen(s), at);
}

/* The shard a nonce lands in, read the way the module reads it. */
static size_t
shard_of(struct acme_nonces *n, const char *s)
{
	uint8_t	 raw[ACME_NONCE_RAW_LEN];

	assert_true(decode(s, strlen(s), raw));
	return id_hash(n, raw) & (ACME_NONCE_SHARDS - 1);
}

/* Every shard's heap is ordered and its table finds each entry. */
static void
check_shards(struct acme_nonces *n)
{
	struct nonce_shard *sh;
	uint32_t	 i, ei;
	size_t		 s;

	for (s = 0; s < ACME_NONCE_SHARDS; s++) {
		sh = &n->shards[s];
		assert_true(sh->n <= sh->cap);
		for (i = 1; i < sh->n; i++)
			assert_true(sh->heap[(i - 1) / 2].t <= sh->heap[i].t);
		for (i = 0; i < sh->n; i++) {
			ei = sh->heap[i].ei;
			/* The time kept is the one the id carries. */
			assert_true(sh->heap[i].t ==
			    (int64_t)get_be64(sh->ents[ei].id));
			assert_true(shard_has(sh, sh->ents[ei].id,
			    id_hash(n, sh->ents[ei].id)));
			assert_int_equal(id_hash(n, sh->ents[ei].id) &
			    (ACME_NONCE_SHARDS - 1), s);
		}
	}
}

/* ------------------------------------------------------------ format */

static void
test_format(void **state)
{
	struct acme_nonces *n = nonces(key_a, 1024);
	uint8_t		 raw[ACME_NONCE_RAW_LEN], mac[32];
	char		 s[ACME_NONCE_LEN + 1], again[ACME_NONCE_LEN + 1];
	size_t		 i, mlen = 0;

	make(n, T0, s);
	for (i = 0; i < ACME_NONCE_LEN; i++)
		assert_non_null(strchr(B64URL, s[i]));
	assert_true(decode(s, ACME_NONCE_LEN, raw));
	/* Issue time, big-endian milliseconds. */
	assert_true(get_be64(raw) == (uint64_t)T0);
	/* The tag is HMAC-SHA256(key, time | random), first 16 bytes. */
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key_a,
	    sizeof(key_a), raw, ACME_NONCE_ID_LEN, mac, sizeof(mac), &mlen));
	assert_int_equal(mlen, 32);
	assert_memory_equal(raw + ACME_NONCE_ID_LEN, mac, ACME_NONCE_TAG_LEN);
	/* The codec round-trips. */
	encode(raw, again);
	assert_string_equal(again, s);
	assert_string_equal(acme_nonce_verdict_str(ACME_NONCE_REPLAYED),
	    "replayed");
	assert_string_equal(acme_nonce_verdict_str(ACME_NONCE__MAX),
	    "unknown");
	acme_nonces_free(n);
}

static int
cmp_nonce(const void *a, const void *b)
{
	return memcmp(a, b, ACME_NONCE_LEN + 1);
}

static void
test_unique(void **state)
{
	struct acme_nonces *n = nonces(key_a, 1024);
	enum { COUNT = 5000 };
	char		(*all)[ACME_NONCE_LEN + 1];
	size_t		 i;

	all = calloc(COUNT, sizeof(*all));
	assert_non_null(all);
	/* All in the same millisecond: only the random part tells them
	   apart.  More than one RAND_bytes refill of the thread buffer. */
	for (i = 0; i < COUNT; i++)
		make(n, T0, all[i]);
	qsort(all, COUNT, sizeof(*all), cmp_nonce);
	for (i = 1; i < COUNT; i++)
		assert_int_not_equal(cmp_nonce(all[i - 1], all[i]), 0);
	free(all);
	acme_nonces_free(n);
}

/* ---------------------------------------------------------- verdicts */

static void
test_once(void **state)
{
	struct acme_nonces *n = nonces(key_a, 1024);
	char		 s[ACME_NONCE_LEN + 1];

	make(n, T0, s);
	assert_int_equal(use(n, s, T0 + 5), ACME_NONCE_OK);
	assert_int_equal(acme_nonce_replay_count(n), 1);
	assert_int_equal(use(n, s, T0 + 6), ACME_NONCE_REPLAYED);
	assert_int_equal(use(n, s, T0 + 7), ACME_NONCE_REPLAYED);
	assert_int_equal(acme_nonce_replay_count(n), 1);
	assert_true(acme_nonce_watermark(n) == INT64_MIN);
	acme_nonces_free(n);
}

static void
test_forged(void **state)
{
	struct acme_nonces *a = nonces(key_a, 1024), *b = nonces(key_b, 1024);
	uint8_t		 raw[ACME_NONCE_RAW_LEN], flipped[ACME_NONCE_RAW_LEN];
	char		 s[ACME_NONCE_LEN + 1], t[ACME_NONCE_LEN + 1];
	size_t		 bit;

	make(b, T0, s);
	assert_int_equal(use(a, s, T0), ACME_NONCE_FORGED);
	assert_int_equal(acme_nonce_replay_count(a), 0);
	/* And it is still good where it came from. */
	assert_int_equal(use(b, s, T0), ACME_NONCE_OK);

	/* Any one of the 256 bits flipped in the bytes: a bad tag. */
	make(a, T0, s);
	assert_true(decode(s, ACME_NONCE_LEN, raw));
	for (bit = 0; bit < 8 * ACME_NONCE_RAW_LEN; bit++) {
		memcpy(flipped, raw, sizeof(raw));
		flipped[bit / 8] ^= (uint8_t)(0x80 >> bit % 8);
		encode(flipped, t);
		assert_int_equal(use(a, t, T0), ACME_NONCE_FORGED);
	}
	assert_int_equal(use(a, s, T0), ACME_NONCE_OK);
	acme_nonces_free(a);
	acme_nonces_free(b);
}

static void
test_flipped_chars(void **state)
{
	struct acme_nonces *n = nonces(key_a, 1024);
	enum acme_nonce_verdict v;
	char		 s[ACME_NONCE_LEN + 1], t[ACME_NONCE_LEN + 1];
	size_t		 i, bit, forged = 0, malformed = 0;

	make(n, T0, s);
	/* Every bit of every character: never accepted. */
	for (i = 0; i < ACME_NONCE_LEN; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(t, s, sizeof(t));
			t[i] ^= (char)(1 << bit);
			v = acme_nonce_use(n, t, ACME_NONCE_LEN, T0);
			if (v == ACME_NONCE_FORGED)
				forged++;
			else if (v == ACME_NONCE_MALFORMED)
				malformed++;
			else
				fail_msg("char %zu bit %zu: %s", i, bit,
				    acme_nonce_verdict_str(v));
		}
	}
	assert_true(forged > 0 && malformed > 0);
	assert_int_equal(acme_nonce_replay_count(n), 0);
	assert_int_equal(use(n, s, T0), ACME_NONCE_OK);
	acme_nonces_free(n);
}

static void
test_expired(void **state)
{
	struct acme_nonces *n = nonces(key_a, 1024);
	char		 s[ACME_NONCE_LEN + 1], u[ACME_NONCE_LEN + 1];

	/* One millisecond too old. */
	make(n, T0, s);
	assert_int_equal(use(n, s, T0 + LIFE_MS + 1), ACME_NONCE_EXPIRED);
	assert_int_equal(use(n, s, INT64_MAX), ACME_NONCE_EXPIRED);
	/* Exactly its lifetime old is still fine, once. */
	make(n, T0, u);
	assert_int_equal(use(n, u, T0 + LIFE_MS), ACME_NONCE_OK);
	assert_int_equal(use(n, u, T0 + LIFE_MS), ACME_NONCE_REPLAYED);
	assert_int_equal(use(n, u, T0 + LIFE_MS + 1), ACME_NONCE_EXPIRED);
	acme_nonces_free(n);
}

static void
test_future(void **state)
{
	struct acme_nonces *n = nonces(key_a, 1024);
	char		 s[ACME_NONCE_LEN + 1];

	/* Issued by an instance whose clock runs too far ahead. */
	make(n, T0 + ACME_NONCE_FUTURE_MS + 1, s);
	assert_int_equal(use(n, s, T0), ACME_NONCE_EXPIRED);
	make(n, INT64_MAX, s);
	assert_int_equal(use(n, s, T0), ACME_NONCE_EXPIRED);
	assert_int_equal(use(n, s, INT64_MIN), ACME_NONCE_EXPIRED);
	/* Within the skew: accepted. */
	make(n, T0 + ACME_NONCE_FUTURE_MS, s);
	assert_int_equal(use(n, s, T0), ACME_NONCE_OK);
	/* A nonce from the far past at a clock far ahead, no overflow. */
	make(n, INT64_MIN, s);
	assert_int_equal(use(n, s, INT64_MAX), ACME_NONCE_EXPIRED);
	assert_int_equal(acme_nonce_replay_count(n), 1);
	acme_nonces_free(n);
}

static void
test_malformed(void **state)
{
	struct acme_nonces *n = nonces(key_a, 1024);
	uint8_t		 raw[ACME_NONCE_RAW_LEN], back[ACME_NONCE_RAW_LEN];
	char		 s[ACME_NONCE_LEN + 1], t[ACME_NONCE_LEN + 8];
	const char	*p;
	int		 last, c;

	make(n, T0, s);
	assert_int_equal(acme_nonce_use(n, NULL, 0, T0), ACME_NONCE_MALFORMED);
	assert_int_equal(acme_nonce_use(n, "", 0, T0), ACME_NONCE_MALFORMED);
	assert_int_equal(acme_nonce_use(n, s, ACME_NONCE_LEN - 1, T0),
	    ACME_NONCE_MALFORMED);
	/* Padded, or followed by anything. */
	snprintf(t, sizeof(t), "%s=", s);
	assert_int_equal(use(n, t, T0), ACME_NONCE_MALFORMED);
	snprintf(t, sizeof(t), "%sA", s);
	assert_int_equal(use(n, t, T0), ACME_NONCE_MALFORMED);
	/* The standard alphabet, a blank, a NUL, a high byte. */
	for (p = "+/= .\n\t\x80\xff"; *p != '\0'; p++) {
		memcpy(t, s, sizeof(s));
		t[10] = *p;
		assert_int_equal(use(n, t, T0), ACME_NONCE_MALFORMED);
	}
	memcpy(t, s, sizeof(s));
	t[20] = '\0';
	assert_int_equal(acme_nonce_use(n, t, ACME_NONCE_LEN, T0),
	    ACME_NONCE_MALFORMED);
	/*
	 * The last character carries two bits of padding; setting them
	 * spells the same bytes another way, which must not pass as a
	 * second nonce (nor as the first).
	 */
	last = (int)(strchr(B64URL, s[ACME_NONCE_LEN - 1]) - B64URL);
	for (c = 1; c < 4; c++) {
		memcpy(t, s, sizeof(s));
		t[ACME_NONCE_LEN - 1] = B64URL[last | c];
		assert_true(decode(s, ACME_NONCE_LEN, raw));
		assert_false(decode(t, ACME_NONCE_LEN, back));
		assert_int_equal(use(n, t, T0), ACME_NONCE_MALFORMED);
	}
	assert_int_equal(use(n, s, T0), ACME_NONCE_OK);
	assert_int_equal(use(n, t, T0), ACME_NONCE_MALFORMED);
	acme_nonces_free(n);
}

/* ------------------------------------------------------- replay set */

static void
test_replay_full(void **state)
{
	enum { MAX = 64, USED = 500 };
	struct acme_nonces *n = nonces(key_a, MAX);
	char		(*used)[ACME_NONCE_LEN + 1];
	char		 old[ACME_NONCE_LEN + 1], s[ACME_NONCE_LEN + 1];
	enum acme_nonce_verdict v;
	size_t		 i, replayed = 0, expired = 0;
	int64_t		 now;

	used = calloc(USED, sizeof(*used));
	assert_non_null(used);
	/* Issued first, kept by a slow client, never used. */
	make(n, T0, old);
	for (i = 0; i < USED; i++) {
		now = T0 + 1 + (int64_t)i;
		make(n, now, used[i]);
		assert_int_equal(use(n, used[i], now), ACME_NONCE_OK);
		assert_true(acme_nonce_replay_count(n) <= MAX);
	}
	check_shards(n);
	/* Full now: every shard holds its share. */
	assert_int_equal(acme_nonce_replay_count(n), MAX);
	assert_true(acme_nonce_watermark(n) > T0);
	now = T0 + USED + 1;
	/* The old one was never used, but it is under the watermark. */
	assert_int_equal(use(n, old, now), ACME_NONCE_EXPIRED);
	/* No nonce is accepted twice, remembered or evicted. */
	for (i = 0; i < USED; i++) {
		v = use(n, used[i], now);
		if (v == ACME_NONCE_REPLAYED)
			replayed++;
		else if (v == ACME_NONCE_EXPIRED)
			expired++;
		else
			fail_msg("nonce %zu: %s", i, acme_nonce_verdict_str(v));
	}
	/*
	 * Those still held answer "replayed" unless another shard's
	 * evictions have already raised the watermark past them.
	 */
	assert_true(replayed >= 1 && replayed <= MAX);
	assert_int_equal(replayed + expired, USED);
	/* The newest is always remembered, not just under the watermark. */
	assert_int_equal(use(n, used[USED - 1], now), ACME_NONCE_REPLAYED);
	/* Fresh nonces still work, and the set stays bounded. */
	for (i = 0; i < 100; i++) {
		make(n, now + (int64_t)i, s);
		assert_int_equal(use(n, s, now + (int64_t)i), ACME_NONCE_OK);
		assert_true(acme_nonce_replay_count(n) <= MAX);
	}
	check_shards(n);
	free(used);
	acme_nonces_free(n);
}

/*
 * A nonce older than everything in its full shard is refused rather than
 * remembered at the cost of a younger one, and the watermark stays put.
 */
static void
test_replay_full_older(void **state)
{
	enum { MAX = 64, PER = MAX / ACME_NONCE_SHARDS };
	struct acme_nonces *n = nonces(key_a, MAX);
	char		 old[ACME_NONCE_LEN + 1], s[ACME_NONCE_LEN + 1];
	char		 other[ACME_NONCE_LEN + 1];
	size_t		 target, filled = 0;

	make(n, T0, old);
	target = shard_of(n, old);
	while (filled < PER) {
		make(n, T0 + 1000, s);
		if (shard_of(n, s) != target)
			continue;
		assert_int_equal(use(n, s, T0 + 1000), ACME_NONCE_OK);
		filled++;
	}
	assert_int_equal(n->shards[target].n, PER);
	assert_true(acme_nonce_watermark(n) == INT64_MIN);
	assert_int_equal(use(n, old, T0 + 1000), ACME_NONCE_EXPIRED);
	assert_true(acme_nonce_watermark(n) == INT64_MIN);
	assert_int_equal(n->shards[target].n, PER);
	/* Issued early too, in a shard that stays empty. */
	do
		make(n, T0 + 500, other);
	while (shard_of(n, other) == target);
	/* A younger one evicts the oldest and raises the watermark. */
	do
		make(n, T0 + 2000, s);
	while (shard_of(n, s) != target);
	assert_int_equal(use(n, s, T0 + 2000), ACME_NONCE_OK);
	assert_true(acme_nonce_watermark(n) == T0 + 1000);
	/* The watermark is for every shard: the early one is refused. */
	assert_int_equal(n->shards[shard_of(n, other)].n, 0);
	assert_int_equal(use(n, other, T0 + 2000), ACME_NONCE_EXPIRED);
	assert_int_equal(n->shards[target].n, PER);
	assert_int_equal(acme_nonce_replay_count(n), PER);
	check_shards(n);
	acme_nonces_free(n);
}

static void
test_prune(void **state)
{
	struct acme_nonces *n = nonces(key_a, 4096);
	char		 s[ACME_NONCE_LEN + 1], u[ACME_NONCE_LEN + 1];
	size_t		 i, before, target;
	int64_t		 later = T0 + LIFE_MS + 1;

	for (i = 0; i < 200; i++) {
		make(n, T0 + (int64_t)i, s);
		assert_int_equal(use(n, s, T0 + (int64_t)i), ACME_NONCE_OK);
	}
	assert_int_equal(acme_nonce_replay_count(n), 200);
	/* Once they have expired, uses drop them a few at a time. */
	before = acme_nonce_replay_count(n);
	for (i = 0; i < 200; i++) {
		make(n, later + (int64_t)i, s);
		assert_int_equal(use(n, s, later + (int64_t)i), ACME_NONCE_OK);
	}
	assert_true(acme_nonce_replay_count(n) < before + 200);
	assert_true(acme_nonce_watermark(n) >= T0);
	assert_true(acme_nonce_watermark(n) < later);
	check_shards(n);
	acme_nonces_free(n);

	/*
	 * A clock that steps back after an entry was pruned: the entry is
	 * gone from the set, yet the nonce must not pass again.
	 */
	n = nonces(key_a, 4096);
	make(n, T0, s);
	assert_int_equal(use(n, s, T0), ACME_NONCE_OK);
	target = shard_of(n, s);
	do
		make(n, later, u);
	while (shard_of(n, u) != target);
	assert_int_equal(use(n, u, later), ACME_NONCE_OK);
	assert_int_equal(acme_nonce_replay_count(n), 1);
	assert_true(acme_nonce_watermark(n) == T0);
	assert_int_equal(use(n, s, T0 + 10), ACME_NONCE_EXPIRED);
	acme_nonces_free(n);
}

/* Entries go out in issue-time order even when they come in shuffled. */
static void
test_heap_order(void **state)
{
	enum { MAX = 256, USES = 3000 };
	struct acme_nonces *n = nonces(key_a, MAX);
	char		(*s)[ACME_NONCE_LEN + 1];
	uint32_t	 x = 12345;
	size_t		 i, ok = 0;
	int64_t		 wm = INT64_MIN, t;

	s = calloc(USES, sizeof(*s));
	assert_non_null(s);
	for (i = 0; i < USES; i++) {
		x = x * 1103515245u + 12345u;
		t = T0 + (int64_t)(x >> 16) % 5000;
		make(n, t, s[i]);
		if (use(n, s[i], T0 + 5000) == ACME_NONCE_OK)
			ok++;
		/* The watermark only rises. */
		assert_true(acme_nonce_watermark(n) >= wm);
		wm = acme_nonce_watermark(n);
		if (i % 256 == 0)
			check_shards(n);
	}
	check_shards(n);
	assert_true(ok >= MAX / 2);
	assert_true(acme_nonce_replay_count(n) <= MAX);
	/* Not one of them passes a second time. */
	for (i = 0; i < USES; i++)
		assert_int_not_equal(use(n, s[i], T0 + 5000), ACME_NONCE_OK);
	free(s);
	acme_nonces_free(n);
}

/* ---------------------------------------------------- two instances */

static void
test_two_instances(void **state)
{
	struct acme_nonces *a = nonces(key_a, 1024), *b = nonces(key_a, 1024);
	char		 s[ACME_NONCE_LEN + 1];

	make(a, T0, s);
	assert_int_equal(use(b, s, T0 + 10), ACME_NONCE_OK);
	assert_int_equal(use(b, s, T0 + 11), ACME_NONCE_REPLAYED);
	/* The replay set is per instance (see acme_nonce.h). */
	assert_int_equal(use(a, s, T0 + 12), ACME_NONCE_OK);
	assert_int_equal(use(a, s, T0 + 13), ACME_NONCE_REPLAYED);
	/* The thread's HMAC copy follows the instance it is asked for. */
	make(b, T0, s);
	assert_int_equal(use(a, s, T0), ACME_NONCE_OK);
	acme_nonces_free(a);
	make(b, T0, s);
	assert_int_equal(use(b, s, T0), ACME_NONCE_OK);
	acme_nonces_free(b);
}

/* ------------------------------------------------------- concurrency */

struct conc {
	struct acme_nonces *n;
	char		(*s)[ACME_NONCE_LEN + 1];
	size_t		 count;
	atomic_int	*oks;		/* per nonce */
	pthread_barrier_t *go;		/* all threads start together */
	size_t		 ok;		/* this thread's successes */
	size_t		 bad;		/* verdicts other than ok/replayed */
};

static void *
conc_run(void *arg)
{
	struct conc	*c = arg;
	enum acme_nonce_verdict v;
	size_t		 i;

	/* Same order in every thread, so they race for each nonce. */
	pthread_barrier_wait(c->go);
	for (i = 0; i < c->count; i++) {
		v = use(c->n, c->s[i], T0 + 100);
		if (v == ACME_NONCE_OK) {
			c->ok++;
			atomic_fetch_add(&c->oks[i], 1);
		} else if (v != ACME_NONCE_REPLAYED &&
		    v != ACME_NONCE_EXPIRED) {
			c->bad++;
		}
	}
	return NULL;
}

static void
run_concurrent(size_t replay_max, bool all_fit)
{
	struct acme_nonces *n = nonces(key_a, replay_max);
	struct conc	 c[N_THREADS];
	pthread_t	 th[N_THREADS];
	pthread_barrier_t go;
	char		(*s)[ACME_NONCE_LEN + 1];
	atomic_int	*oks;
	size_t		 i, total = 0;

	s = calloc(N_CONC, sizeof(*s));
	oks = calloc(N_CONC, sizeof(*oks));
	assert_non_null(s);
	assert_non_null(oks);
	for (i = 0; i < N_CONC; i++)
		make(n, T0 + (int64_t)i / 10, s[i]);
	assert_int_equal(pthread_barrier_init(&go, NULL, N_THREADS), 0);
	for (i = 0; i < N_THREADS; i++) {
		c[i] = (struct conc){ .n = n, .s = s, .count = N_CONC,
		    .oks = oks, .go = &go };
		assert_int_equal(pthread_create(&th[i], NULL, conc_run, &c[i]),
		    0);
	}
	for (i = 0; i < N_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(c[i].bad, 0);
		total += c[i].ok;
	}
	pthread_barrier_destroy(&go);
	for (i = 0; i < N_CONC; i++)
		assert_true(atomic_load(&oks[i]) <= 1);
	if (all_fit)
		assert_int_equal(total, N_CONC);
	else
		assert_true(total >= replay_max / 2);
	assert_true(acme_nonce_replay_count(n) <= replay_max);
	check_shards(n);
	free(s);
	free(oks);
	acme_nonces_free(n);
}

static void
test_concurrent(void **state)
{
	/* Room for all: each nonce accepted exactly once in total. */
	run_concurrent(4096, true);
	/* A set far too small: evictions race, still never twice. */
	run_concurrent(64, false);
}

/* ----------------------------------------------------------- key file */

static void
tmp_dir(char *buf, size_t len)
{
	const char	*base = getenv("CERTGW_TEST_TMP");

	if (base == NULL || cg_mkdir_p(base, 0700, NULL) != CG_OK)
		base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	snprintf(buf, len, "%s/acme_nonce.XXXXXX", base);
	assert_non_null(mkdtemp(buf));
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE	*f;

	unlink(path);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_key_file(void **state)
{
	struct acme_nonces *a, *b;
	struct cg_err	 err = { 0 };
	struct stat	 sb;
	uint8_t		 k1[ACME_NONCE_KEY_LEN], k2[ACME_NONCE_KEY_LEN];
	uint8_t		 big[ACME_NONCE_KEY_LEN + 1];
	char		 dir[PATH_MAX], path[PATH_MAX + 16];
	char		 s[ACME_NONCE_LEN + 1];
	mode_t		 old;

	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/nonce.key", dir);

	/* Created 0600 even under a permissive umask. */
	old = umask(0);
	assert_int_equal(acme_nonce_key_load_or_create(path, k1, &err), CG_OK);
	umask(old);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_size, ACME_NONCE_KEY_LEN);
	/* Loaded back, the same key: two instances agree on nonces. */
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, &err), CG_OK);
	assert_memory_equal(k1, k2, sizeof(k1));
	a = nonces(k1, 1024);
	b = nonces(k2, 1024);
	make(a, T0, s);
	assert_int_equal(use(b, s, T0), ACME_NONCE_OK);
	acme_nonces_free(a);
	acme_nonces_free(b);

	/* 0400 is stricter and fine; group or world access is not. */
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, NULL), CG_OK);
	assert_memory_equal(k1, k2, sizeof(k1));
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, &err),
	    CG_EDENIED);
	assert_non_null(strstr(err.msg, "0644"));
	cg_err_clear(&err);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, NULL),
	    CG_EDENIED);
	assert_int_equal(chmod(path, 0602), 0);
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, NULL),
	    CG_EDENIED);
	/* Refused keys are wiped, not half-returned. */
	memset(k2, 0xa5, sizeof(k2));
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, NULL),
	    CG_EDENIED);
	memset(big, 0, sizeof(big));
	assert_memory_equal(k2, big, sizeof(k2));

	/* Wrong sizes. */
	memset(big, 7, sizeof(big));
	write_file(path, big, ACME_NONCE_KEY_LEN - 1, 0600);
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, &err),
	    CG_EINVAL);
	cg_err_clear(&err);
	write_file(path, big, ACME_NONCE_KEY_LEN + 1, 0600);
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, NULL),
	    CG_EINVAL);
	write_file(path, big, 0, 0600);
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, NULL),
	    CG_EINVAL);
	/* All zero bytes is a placeholder, not a key. */
	memset(big, 0, sizeof(big));
	write_file(path, big, ACME_NONCE_KEY_LEN, 0600);
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, NULL),
	    CG_EINVAL);
	/* A directory, and a missing directory. */
	assert_int_equal(acme_nonce_key_load_or_create(dir, k2, NULL),
	    CG_EINVAL);
	snprintf(path, sizeof(path), "%s/none/nonce.key", dir);
	assert_int_equal(acme_nonce_key_load_or_create(path, k2, &err),
	    CG_EIO);
	assert_non_null(strstr(err.msg, "nonce key"));

	/* Nothing but the key file was left behind by the creation. */
	snprintf(path, sizeof(path), "%s/nonce.key", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

struct key_race {
	const char	*path;
	pthread_barrier_t *go;
	uint8_t		 key[ACME_NONCE_KEY_LEN];
	enum cg_code	 rc;
};

static void *
key_race_run(void *arg)
{
	struct key_race	*k = arg;

	pthread_barrier_wait(k->go);
	k->rc = acme_nonce_key_load_or_create(k->path, k->key, NULL);
	return NULL;
}

/* Instances starting together on a missing key file end up sharing one. */
static void
test_key_race(void **state)
{
	struct key_race	 k[N_THREADS];
	pthread_t	 th[N_THREADS];
	pthread_barrier_t go;
	char		 dir[PATH_MAX], path[PATH_MAX + 16];
	size_t		 i, round;

	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/nonce.key", dir);
	for (round = 0; round < 50; round++) {
		assert_int_equal(pthread_barrier_init(&go, NULL, N_THREADS), 0);
		for (i = 0; i < N_THREADS; i++) {
			k[i] = (struct key_race){ .path = path, .go = &go };
			assert_int_equal(pthread_create(&th[i], NULL,
			    key_race_run, &k[i]), 0);
		}
		for (i = 0; i < N_THREADS; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			assert_int_equal(k[i].rc, CG_OK);
			assert_memory_equal(k[i].key, k[0].key,
			    ACME_NONCE_KEY_LEN);
		}
		pthread_barrier_destroy(&go);
		assert_int_equal(unlink(path), 0);
	}
	/* No temporary file was left behind. */
	assert_int_equal(rmdir(dir), 0);
}

/* --------------------------------------------------------- arguments */

static void
test_new_limits(void **state)
{
	struct cg_err	 err = { 0 };
	struct acme_nonces *n;
	long		 k;

	assert_null(acme_nonces_new(key_a, 0, 1024, &err));
	assert_int_equal(err.code, CG_EINVAL);
	cg_err_clear(&err);
	assert_null(acme_nonces_new(key_a, ACME_NONCE_LIFETIME_MAX + 1, 1024,
	    NULL));
	assert_null(acme_nonces_new(key_a, LIFE_S, ACME_NONCE_REPLAY_MIN - 1,
	    NULL));
	assert_null(acme_nonces_new(key_a, LIFE_S,
	    (size_t)ACME_NONCE_REPLAY_MAX + 1, NULL));
	n = acme_nonces_new(key_a, LIFE_S, ACME_NONCE_REPLAY_MIN, NULL);
	assert_non_null(n);
	acme_nonces_free(n);
	acme_nonces_free(NULL);

	/* Every allocation failing in turn: an error, no leak, no crash. */
	for (k = 0; k < 100; k++) {
		cg_alloc_fail_after(k);
		n = acme_nonces_new(key_a, LIFE_S, 1024, &err);
		cg_alloc_fail_after(-1);
		if (n != NULL)
			break;
		assert_int_equal(err.code, CG_ENOMEM);
		cg_err_clear(&err);
	}
	assert_non_null(n);
	assert_true(k > 0);
	acme_nonces_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_flipped_chars),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_future),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_replay_full),
		cmocka_unit_test(test_replay_full_older),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_heap_order),
		cmocka_unit_test(test_two_instances),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_key_race),
		cmocka_unit_test(test_new_limits),
	};

	return cmocka_run_group_tests_name("acme_nonce", tests, NULL, NULL);
}
