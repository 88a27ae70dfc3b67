/*
 * fuzz_acme_nonce.c - acme_nonce_use() reads the nonce of every ACME JWS
 * straight from clients.  One instance with a fixed key and a small replay
 * set lives across runs, so eviction and the watermark get exercised too.
 * The first byte picks the mode:
 *
 *   even: the rest is the nonce, checked at a fixed time (the seed corpus
 *         holds nonces made with this key at that time);
 *   odd:  bytes 1-8 and 9-16 shift the issue and check times (any int64),
 *         a nonce is made and then flipped by (position, mask) byte pairs.
 *         A nonce that was changed must come out malformed or forged, one
 *         left alone can be used at most once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/acme/acme_nonce.h"

#define FUZZ_NOW	INT64_C(1750000000000)	/* ms; the corpus's time */
#define FUZZ_LIFE_S	300
#define FUZZ_REPLAY	64

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static const uint8_t fuzz_key[ACME_NONCE_KEY_LEN] =
    "certgw fuzz nonce key, 32 bytes";

static int64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static void
structured(struct acme_nonces *n, const uint8_t *data, size_t len)
{
	enum acme_nonce_verdict v;
	char		 s[ACME_NONCE_LEN + 1], orig[ACME_NONCE_LEN + 1];
	int64_t		 made, now;
	size_t		 i;

	if (len < 16)
		return;
	made = get64(data);
	now = get64(data + 8);
	/* Half the time near each other, so some nonces are fresh. */
	if ((data[0] & 0x80) == 0) {
		made = FUZZ_NOW + (made % (2 * FUZZ_LIFE_S * 1000));
		now = FUZZ_NOW + (now % (2 * FUZZ_LIFE_S * 1000));
	}
	if (acme_nonce_make(n, made, s, NULL) != CG_OK)
		abort();
	memcpy(orig, s, sizeof(s));
	for (i = 16; i + 1 < len; i += 2)
		s[data[i] % ACME_NONCE_LEN] ^= (char)data[i + 1];
	v = acme_nonce_use(n, s, ACME_NONCE_LEN, now);
	if (v >= ACME_NONCE__MAX || v == ACME_NONCE_ERROR)
		abort();
	if (memcmp(s, orig, sizeof(s)) != 0) {
		/* Nobody without the key makes a nonce pass. */
		if (v != ACME_NONCE_MALFORMED && v != ACME_NONCE_FORGED)
			abort();
		return;
	}
	if (v == ACME_NONCE_MALFORMED || v == ACME_NONCE_FORGED ||
	    v == ACME_NONCE_REPLAYED)
		abort();
	/* Used up now, or refused for its age: never OK a second time. */
	if (acme_nonce_use(n, s, ACME_NONCE_LEN, now) == ACME_NONCE_OK)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct acme_nonces *n;
	enum acme_nonce_verdict v;

	if (n == NULL && (n = acme_nonces_new(fuzz_key, FUZZ_LIFE_S,
	    FUZZ_REPLAY, NULL)) == NULL)
		abort();
	if (len == 0)
		return 0;
	if (data[0] & 1) {
		structured(n, data + 1, len - 1);
	} else {
		v = acme_nonce_use(n, (const char *)data + 1, len - 1,
		    FUZZ_NOW);
		if (v >= ACME_NONCE__MAX || v == ACME_NONCE_ERROR)
			abort();
	}
	if (acme_nonce_replay_count(n) > FUZZ_REPLAY)
		abort();
	return 0;
}
