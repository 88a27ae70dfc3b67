/*
 * bench_acme_nonce.c - measures ACME nonces (protocols/acme/acme_nonce.c):
 * acme_nonce_make() and acme_nonce_use() on one thread (accepted with a
 * replay set that is full and evicting, replayed, forged, malformed), then
 * make-and-use from several threads at once.  For the design choices it
 * also times what they replaced: RAND_bytes() for 8 bytes per nonce and a
 * keyed HMAC context copied per call.  Prints one logfmt line per
 * measurement.  A measuring tool, not a test: it asserts nothing about
 * speed and ctest never runs it.
 *
 *	bench_acme_nonce [count [threads]]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "certgw/core.h"
#include "../../protocols/acme/acme_nonce.h"

#define BENCH_COUNT_DEFAULT	1000000	/* operations per measurement */
#define BENCH_COUNT_MAX		50000000
#define BENCH_THREADS_DEFAULT	4
#define BENCH_THREADS_MAX	64
#define BENCH_LIFE_S		300
#define BENCH_REPLAY		65536	/* smaller than count: it evicts */
#define BENCH_T0		INT64_C(1750000000000)

static const uint8_t bench_key[ACME_NONCE_KEY_LEN] = {
	0x62, 0x65, 0x6e, 0x63, 0x68, 0x20, 0x6b, 0x65,
	0x79, 0x20, 0x66, 0x6f, 0x72, 0x20, 0x6e, 0x6f,
	0x6e, 0x63, 0x65, 0x73, 0x2c, 0x20, 0x6e, 0x6f,
	0x74, 0x20, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74,
};

struct worker {
	struct acme_nonces *n;
	size_t		 count;
	size_t		 ok;
	size_t		 failed;
};

static double
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void
report(const char *what, size_t count, double ns, const char *extra)
{
	printf("bench=acme_nonce op=%s n=%zu ns_per_op=%.1f per_s=%.0f%s%s\n",
	    what, count, ns / (double)count, (double)count * 1e9 / ns,
	    extra[0] != '\0' ? " " : "", extra);
}

static void *
worker_run(void *arg)
{
	struct worker	*w = arg;
	char		 s[ACME_NONCE_LEN + 1];
	size_t		 i;
	int64_t		 t;

	for (i = 0; i < w->count; i++) {
		t = BENCH_T0 + (int64_t)(i / 1000);
		if (acme_nonce_make(w->n, t, s, NULL) != CG_OK ||
		    acme_nonce_use(w->n, s, ACME_NONCE_LEN, t) !=
		    ACME_NONCE_OK)
			w->failed++;
		else
			w->ok++;
	}
	return NULL;
}

/* What the per-thread buffer and the per-thread HMAC context replaced. */
static int
baselines(size_t count)
{
	EVP_MAC		*mac;
	EVP_MAC_CTX	*base, *c;
	OSSL_PARAM	 params[2];
	uint8_t		 buf[ACME_NONCE_ID_LEN], out[32];
	size_t		 i, olen;
	double		 t;

	t = now_ns();
	for (i = 0; i < count; i++)
		if (RAND_bytes(buf, 8) != 1)
			return -1;
	report("baseline_rand_bytes_8", count, now_ns() - t, "");

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL || (base = EVP_MAC_CTX_new(mac)) == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(base, bench_key, sizeof(bench_key), params) != 1)
		return -1;
	t = now_ns();
	for (i = 0; i < count; i++) {
		if ((c = EVP_MAC_CTX_dup(base)) == NULL ||
		    EVP_MAC_update(c, buf, sizeof(buf)) != 1 ||
		    EVP_MAC_final(c, out, &olen, sizeof(out)) != 1)
			return -1;
		EVP_MAC_CTX_free(c);
	}
	report("baseline_hmac_dup", count, now_ns() - t, "");
	t = now_ns();
	for (i = 0; i < count; i++)
		if (EVP_MAC_init(base, NULL, 0, NULL) != 1 ||
		    EVP_MAC_update(base, buf, sizeof(buf)) != 1 ||
		    EVP_MAC_final(base, out, &olen, sizeof(out)) != 1)
			return -1;
	report("baseline_hmac_reset", count, now_ns() - t, "");
	EVP_MAC_CTX_free(base);
	EVP_MAC_free(mac);
	return 0;
}

int
main(int argc, char **argv)
{
	struct acme_nonces *n;
	struct worker	 w[BENCH_THREADS_MAX];
	pthread_t	 th[BENCH_THREADS_MAX];
	struct cg_err	 err = { 0 };
	char		(*s)[ACME_NONCE_LEN + 1];
	char		 extra[64];
	size_t		 count = BENCH_COUNT_DEFAULT, i, ok = 0;
	size_t		 threads = BENCH_THREADS_DEFAULT;
	uint64_t	 v;
	double		 t;

	if (argc > 1 && (!cg_parse_u64(argv[1], strlen(argv[1]),
	    BENCH_COUNT_MAX, &v) || v == 0)) {
		fprintf(stderr, "usage: bench_acme_nonce [count [threads]]\n");
		return 2;
	}
	if (argc > 1)
		count = (size_t)v;
	if (argc > 2 && (!cg_parse_u64(argv[2], strlen(argv[2]),
	    BENCH_THREADS_MAX, &v) || v == 0)) {
		fprintf(stderr, "usage: bench_acme_nonce [count [threads]]\n");
		return 2;
	}
	if (argc > 2)
		threads = (size_t)v;
	n = acme_nonces_new(bench_key, BENCH_LIFE_S, BENCH_REPLAY, &err);
	s = calloc(count, sizeof(*s));
	if (n == NULL || s == NULL) {
		fprintf(stderr, "bench=error msg=\"%s\"\n", err.msg);
		return 1;
	}

	/* Spread over time so the replay set evicts in issue order. */
	t = now_ns();
	for (i = 0; i < count; i++)
		if (acme_nonce_make(n, BENCH_T0 + (int64_t)(i / 1000), s[i],
		    NULL) != CG_OK)
			return 1;
	report("make", count, now_ns() - t, "");
	t = now_ns();
	for (i = 0; i < count; i++)
		if (acme_nonce_use(n, s[i], ACME_NONCE_LEN, BENCH_T0 +
		    (int64_t)(i / 1000)) == ACME_NONCE_OK)
			ok++;
	snprintf(extra, sizeof(extra), "ok=%zu replay_max=%d held=%zu", ok,
	    BENCH_REPLAY, acme_nonce_replay_count(n));
	report("use_ok", count, now_ns() - t, extra);

	/* The newest are still held: these answer "replayed". */
	t = now_ns();
	for (i = 0; i < count; i++)
		(void)acme_nonce_use(n, s[count - 1 - i % (BENCH_REPLAY / 2 <
		    count ? BENCH_REPLAY / 2 : count)], ACME_NONCE_LEN,
		    BENCH_T0 + (int64_t)(count / 1000));
	report("use_replayed", count, now_ns() - t, "");
	s[0][5] ^= 1;
	t = now_ns();
	for (i = 0; i < count; i++)
		(void)acme_nonce_use(n, s[0], ACME_NONCE_LEN, BENCH_T0);
	report("use_forged", count, now_ns() - t, "");
	s[0][5] = '*';
	t = now_ns();
	for (i = 0; i < count; i++)
		(void)acme_nonce_use(n, s[0], ACME_NONCE_LEN, BENCH_T0);
	report("use_malformed", count, now_ns() - t, "");
	acme_nonces_free(n);
	free(s);

	/* Several threads, each making nonces and using them. */
	n = acme_nonces_new(bench_key, BENCH_LIFE_S, BENCH_REPLAY, &err);
	if (n == NULL)
		return 1;
	t = now_ns();
	for (i = 0; i < threads; i++) {
		w[i] = (struct worker){ .n = n, .count = count / threads };
		if (pthread_create(&th[i], NULL, worker_run, &w[i]) != 0)
			return 1;
	}
	ok = 0;
	for (i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
	}
	snprintf(extra, sizeof(extra), "threads=%zu ok=%zu", threads, ok);
	report("make_use_threads", count / threads * threads, now_ns() - t,
	    extra);
	acme_nonces_free(n);

	if (baselines(count) != 0) {
		fprintf(stderr, "bench=error msg=\"baseline failed\"\n");
		return 1;
	}
	return 0;
}
