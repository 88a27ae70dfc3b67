/*
 * acme_nonce.h - ACME anti-replay nonces (RFC 8555 §6.5, §7.2): every
 * response carries a fresh Replay-Nonce, and every JWS must carry one that
 * this server issued, that is recent, and that was not used before.
 *
 * The nonces are stateless and self-authenticating, so that any gateway
 * instance holding the same 32-byte key can check a nonce another instance
 * issued (clients are load-balanced between requests).  A nonce is 43
 * characters of base64url without padding over 32 bytes:
 *
 *	issue time (ms, big-endian, 8) | random (8) | tag (16)
 *
 * where the tag is HMAC-SHA256(key, first 16 bytes) truncated to 16 bytes.
 * The tag makes the whole nonce unpredictable to anyone without the key,
 * as §6.5 asks; the random part makes nonces unique (two made in the same
 * millisecond differ).  It comes from RAND_bytes, drawn 512 bytes at a time
 * into a per-thread buffer, because one RAND_bytes call costs more than
 * the HMAC; a counter would be as cheap but would tell clients how many
 * nonces the server hands out.  Each thread also keeps its own keyed HMAC
 * context and resets it per nonce, instead of copying one per call.
 *
 * Checking needs no state except against replays: a bounded set of used
 * nonces per process, split into ACME_NONCE_SHARDS shards under their own
 * mutexes.  It holds a used nonce until the nonce would be refused as
 * expired anyway.  When a shard is full, its oldest-issued entry is
 * evicted and a "watermark" rises to that entry's issue time: from then on
 * every nonce issued at or before the watermark is refused as expired.
 * Expired entries leave the set the same way, so the watermark also covers
 * threads whose clocks disagree by a few milliseconds.  Memory stays at
 * most replay_max entries and no nonce is ever accepted twice by one
 * process; the price of a set too small for the traffic is that clients
 * holding old unused nonces get badNonce and retry with a fresh one.
 *
 * The replay set is per process.  Another instance sharing the key accepts
 * a nonce this one issued, which is the point, but it does not know what
 * this one has seen: a nonce can be used once per instance.  A JWS is also
 * signed and bound to its URL, so a replay across instances repeats a
 * request the client did make; closing that gap would need a replay set
 * shared by the instances (a Redis SET with an expiry per nonce, say), a
 * later extension that fits behind acme_nonce_use().
 *
 * Rotating the key invalidates every outstanding nonce (clients retry on
 * badNonce); all instances must hold the same key file.
 */
#ifndef CERTGW_ACME_NONCE_H
#define CERTGW_ACME_NONCE_H

#include <stddef.h>
#include <stdint.h>

#include "certgw/core.h"

#define ACME_NONCE_LEN		43	/* base64url characters, no padding */
#define ACME_NONCE_RAW_LEN	32	/* bytes they encode */
#define ACME_NONCE_ID_LEN	16	/* issue time and random: MAC input */
#define ACME_NONCE_TAG_LEN	16	/* truncated HMAC-SHA256 */
#define ACME_NONCE_KEY_LEN	32	/* HMAC key shared by the instances */
#define ACME_NONCE_SHARDS	16	/* replay set shards (mutexes) */
#define ACME_NONCE_REPLAY_MIN	ACME_NONCE_SHARDS	/* one per shard */
#define ACME_NONCE_REPLAY_MAX	(1u << 22)	/* used nonces remembered */
#define ACME_NONCE_LIFETIME_MAX	86400	/* seconds a nonce may live */
#define ACME_NONCE_FUTURE_MS	10000	/* clock skew between instances */

enum acme_nonce_verdict {
	ACME_NONCE_OK = 0,	/* accepted, now used up */
	ACME_NONCE_MALFORMED,	/* wrong length, alphabet or padding bits */
	ACME_NONCE_FORGED,	/* not made with our key */
	ACME_NONCE_EXPIRED,	/* too old, from the future, or under the
				   replay set's watermark */
	ACME_NONCE_REPLAYED,	/* used before at this instance */
	ACME_NONCE_ERROR,	/* the HMAC failed (out of memory) */
	ACME_NONCE__MAX
};

struct acme_nonces;

/*
 * Nonces keyed by key (copied into an HMAC context: the caller wipes its
 * own copy), valid for lifetime_s seconds (1 to
 * ACME_NONCE_LIFETIME_MAX), with a replay set of at most replay_max
 * entries (ACME_NONCE_REPLAY_MIN to ACME_NONCE_REPLAY_MAX; rounded down
 * to a multiple of ACME_NONCE_SHARDS).  The set is allocated up front,
 * about 40 bytes per entry; the pages are touched only as it fills.
 */
struct acme_nonces *acme_nonces_new(const uint8_t key[ACME_NONCE_KEY_LEN],
		    uint32_t lifetime_s, size_t replay_max, struct cg_err *err);
/*
 * No thread may be using n.  This thread's copy of the keyed HMAC context
 * goes now, other threads' when they exit or use another acme_nonces
 * (OpenSSL wipes HMAC contexts as it frees them).  NULL is a no-op.
 */
void		 acme_nonces_free(struct acme_nonces *n);

/*
 * A fresh nonce issued at now_ms (Unix milliseconds) into out, which is
 * NUL-terminated.  Thread-safe.  Fails only when OpenSSL does (randomness,
 * memory for the first HMAC context of a thread).
 */
enum cg_code	 acme_nonce_make(struct acme_nonces *n, int64_t now_ms,
		    char out[ACME_NONCE_LEN + 1], struct cg_err *err);
/*
 * Check the nonce s (len bytes, untrusted, not NUL-terminated) at now_ms
 * and use it up.  Thread-safe.  Anything but ACME_NONCE_OK is answered
 * with badNonce and a fresh nonce (ACME_NONCE_ERROR with serverInternal).
 */
enum acme_nonce_verdict acme_nonce_use(struct acme_nonces *n, const char *s,
		    size_t len, int64_t now_ms);
/* "ok", "malformed", ... for logs; never NULL. */
const char	*acme_nonce_verdict_str(enum acme_nonce_verdict v);

/* Used nonces held now (at most replay_max), for metrics and tests. */
size_t		 acme_nonce_replay_count(struct acme_nonces *n);
/* Issue time at or before which every nonce is refused; INT64_MIN: none. */
int64_t		 acme_nonce_watermark(struct acme_nonces *n);

/*
 * Read the key from path: exactly ACME_NONCE_KEY_LEN bytes in a regular
 * file that neither group nor others may read or write (CG_EDENIED
 * otherwise).  When path does not exist, create it with fresh random bytes
 * and mode 0600; the bytes are written to a temporary file that is linked
 * into place, so an instance starting at the same moment reads either no
 * file or the whole key, and the one that loses the race reads the key
 * the winner wrote.  key is wiped on failure.
 */
enum cg_code	 acme_nonce_key_load_or_create(const char *path,
		    uint8_t key[ACME_NONCE_KEY_LEN], struct cg_err *err);

#endif /* CERTGW_ACME_NONCE_H */
