/*
 * core.h - the helpers every certgw module stands on: one error type, the
 * logfmt logger, allocation wrappers (with a failure-injection hook for
 * tests), bounded buffers, base64/hex, checked integer and duration parsing,
 * and small file helpers.  Nothing here knows about PKI or HTTP.
 */
#ifndef CERTGW_CORE_H
#define CERTGW_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/types.h>

/* ---------------------------------------------------------------- errors */

enum cg_code {
	CG_OK = 0,
	CG_ENOMEM,
	CG_EINVAL,
	CG_ETOOBIG,
	CG_EAUTH,
	CG_EDENIED,
	CG_ENOTFOUND,
	CG_ECONFLICT,
	CG_ECRYPTO,
	CG_EIO,
	CG_EINTERNAL,
	CG__MAX
};

#define CG_ERR_OPENSSL	0x1		/* drain the OpenSSL queue into detail */
#define CG_ERR_ERRNO	0x2		/* append strerror(errno) to detail */

struct cg_err {
	enum cg_code	 code;		/* first error set wins */
	int		 proto;		/* protocol-specific code; 0 = derive */
	const char	*func;		/* where it was set */
	int		 line;		/* source line where it was set */
	char		 msg[256];	/* may be sent to the client */
	char		 detail[512];	/* logs only: errno, OpenSSL, SQL */
};

/*
 * Record an error unless one is already recorded, and return its code so
 * callers can write "return cg_err_set(err, CG_EINVAL, ...)".  err may be
 * NULL (the code is still returned).  With CG_ERR_OPENSSL the OpenSSL error
 * queue is drained into detail; with CG_ERR_ERRNO strerror(errno) is.
 */
enum cg_code	 cg_err_set_at(struct cg_err *err, enum cg_code code,
		    int flags, const char *func, int line, const char *fmt, ...)
		    __attribute__((format(printf, 6, 7)));
/* Append logs-only text to err->detail (never sent to a peer). */
void		 cg_err_detail(struct cg_err *err, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Forget a recorded error after recovering from it. */
void		 cg_err_clear(struct cg_err *err);
/* A short lower-case name for a code ("einval"); never NULL. */
const char	*cg_code_str(enum cg_code code);

#define cg_err_set(e, c, ...) \
	cg_err_set_at((e), (c), 0, __func__, __LINE__, __VA_ARGS__)
#define cg_err_crypto(e, c, ...) \
	cg_err_set_at((e), (c), CG_ERR_OPENSSL, __func__, __LINE__, __VA_ARGS__)
#define cg_err_errno(e, c, ...) \
	cg_err_set_at((e), (c), CG_ERR_ERRNO, __func__, __LINE__, __VA_ARGS__)

/* --------------------------------------------------------------- logging */

enum cg_log_level {
	CG_LOG_ERR = 0,
	CG_LOG_WARN,
	CG_LOG_INFO,
	CG_LOG_DEBUG,
	CG_LOG__MAX
};

/* Messages above this level are dropped; thread-safe to read. */
void		 cg_log_set_level(enum cg_log_level level);
enum cg_log_level cg_log_get_level(void);
/* Parse "err|warn|info|debug"; false if unknown. */
bool		 cg_log_level_parse(const char *s, enum cg_log_level *out);
/*
 * Write one logfmt line to stderr: "time=... level=... func=... " followed
 * by fmt, which must itself be key=value pairs.  One write(2) per line, so
 * lines from different threads do not interleave.
 */
void		 cg_log_at(enum cg_log_level level, const char *func,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Log the failure recorded in err: code, msg and detail. */
void		 cg_log_err_struct(const char *func, const char *what,
		    const struct cg_err *err);

#define cg_log_err(...)		cg_log_at(CG_LOG_ERR, __func__, __VA_ARGS__)
#define cg_log_warn(...)	cg_log_at(CG_LOG_WARN, __func__, __VA_ARGS__)
#define cg_log_info(...)	cg_log_at(CG_LOG_INFO, __func__, __VA_ARGS__)
#define cg_log_debug(...)	cg_log_at(CG_LOG_DEBUG, __func__, __VA_ARGS__)

/*
 * Quote a value for logfmt into out (always NUL-terminated): values with
 * spaces, quotes, '=' or control bytes are double-quoted and escaped;
 * control bytes become \xNN.  Returns out.
 */
const char	*cg_logfmt_quote(const char *in, char *out, size_t outlen);

/* ------------------------------------------------------------ allocation */

/*
 * All allocation goes through these so a test build can fail the Nth call
 * (cg_alloc_fail_after).  cg_free(NULL) is a no-op.
 */
void		*cg_malloc(size_t n);
void		*cg_calloc(size_t nmemb, size_t size);
void		*cg_realloc(void *p, size_t n);
char		*cg_strdup(const char *s);
char		*cg_strndup(const char *s, size_t n);
void		 cg_free(void *p);
/* printf into a fresh string; NULL on failure. */
char		*cg_asprintf(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
/* Fail every allocation after n more succeed; -1 turns injection off. */
void		 cg_alloc_fail_after(long n);

/* --------------------------------------------------------- bounded buffer */

struct cg_buf {
	uint8_t		*data;		/* NUL-terminated for convenience */
	size_t		 len;		/* bytes used, excluding the NUL */
	size_t		 cap;		/* bytes allocated */
	size_t		 max;		/* ceiling on len; CG_ETOOBIG past it */
};

/* A buffer cannot exist without a ceiling. */
void		 cg_buf_init(struct cg_buf *b, size_t max);
enum cg_code	 cg_buf_add(struct cg_buf *b, const void *p, size_t n,
		    struct cg_err *err);
enum cg_code	 cg_buf_addstr(struct cg_buf *b, const char *s,
		    struct cg_err *err);
enum cg_code	 cg_buf_printf(struct cg_buf *b, struct cg_err *err,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Hand the bytes to the caller (free with cg_free); the buffer is reset. */
uint8_t		*cg_buf_steal(struct cg_buf *b, size_t *lenp);
void		 cg_buf_reset(struct cg_buf *b);
/* Free the bytes, wiping them first when secret is true. */
void		 cg_buf_cleanup(struct cg_buf *b);
void		 cg_buf_cleanup_secret(struct cg_buf *b);

/* ------------------------------------------------------------- encodings */

/*
 * Base64 of len bytes into out, NUL-terminated: the standard alphabet
 * with padding, or with url true the URL-safe one without (RFC 7515).
 * out holds 4 * ((len + 2) / 3) + 1 bytes (without padding, (4 * len +
 * 2) / 3 + 1 are enough).  Returns the characters written, not counting
 * the NUL.
 */
size_t		 cg_base64_encode_to(const uint8_t *in, size_t len, char *out,
		    bool url);
/* Standard base64 with padding; *outp is NUL-terminated, caller frees. */
enum cg_code	 cg_base64_encode(const uint8_t *in, size_t len, char **outp,
		    struct cg_err *err);
/*
 * Decode base64 (standard alphabet; whitespace, CR and LF are skipped, as
 * RFC 8951 asks of EST servers).  With url true the URL-safe alphabet
 * without padding is accepted instead (RFC 7515).  Output at most max bytes.
 */
enum cg_code	 cg_base64_decode(const char *in, size_t len, bool url,
		    size_t max, uint8_t **outp, size_t *outlenp,
		    struct cg_err *err);
/* Lower-case hex of len bytes into out, which holds 2*len+1. */
void		 cg_hex_encode(const uint8_t *in, size_t len, char *out,
		    bool upper);
/* The value of one hex digit (either case), or -1. */
int		 cg_hex_digit(int c);

/* ----------------------------------------------------------- parsing */

/* Whole-string decimal u64 in [0, max]; false on junk or overflow. */
bool		 cg_parse_u64(const char *s, size_t len, uint64_t max,
		    uint64_t *out);
/*
 * A duration "90", "45s", "30m", "12h", "30d", "2w" (no suffix: seconds)
 * into seconds; false on junk, zero or overflow.
 */
bool		 cg_parse_duration(const char *s, int64_t *secs);

/* ------------------------------------------------------------------ files */

/* Read a whole file of at most max bytes (NUL appended, not counted). */
enum cg_code	 cg_file_read(const char *path, size_t max, uint8_t **datap,
		    size_t *lenp, struct cg_err *err);
/*
 * Write a file with the given mode.  With excl the file must not exist;
 * otherwise it is replaced atomically (temporary file + rename).  The data
 * is fsync'ed before return.
 */
enum cg_code	 cg_file_write(const char *path, const void *data, size_t len,
		    mode_t mode, bool excl, struct cg_err *err);
/* mkdir -p with the given mode for created components. */
enum cg_code	 cg_mkdir_p(const char *path, mode_t mode, struct cg_err *err);
/* Join dir and a relative path (absolute paths are returned as is). */
char		*cg_path_join(const char *dir, const char *path);
/*
 * Read a secret: the first line of a file, or an environment variable.
 * Exactly one of file/env is non-NULL.  Trailing CR/LF stripped.  The
 * caller wipes and frees it with cg_secret_free().
 */
enum cg_code	 cg_secret_load(const char *file, const char *env,
		    char **secretp, struct cg_err *err);
void		 cg_secret_free(char *s);
/*
 * OpenSSL pem_password_cb that hands over u (a NUL-terminated passphrase)
 * and fails when u is NULL, instead of prompting on a terminal.
 */
int		 cg_pem_pass_cb(char *buf, int size, int rwflag, void *u);
/*
 * Read a PEM private key of at most max bytes from path, decrypting it
 * with the passphrase from pass_file or pass_env (both NULL: the key must
 * be unencrypted; never a terminal prompt).  The file's bytes and the
 * passphrase are wiped.  On CG_OK *keyp is the caller's (EVP_PKEY_free).
 */
enum cg_code	 cg_pem_key_load(const char *path, const char *pass_file,
		    const char *pass_env, size_t max, EVP_PKEY **keyp,
		    struct cg_err *err);

/* ------------------------------------------------------------ passwords */

#define CG_PASSWD_MAX		1024	/* password bytes accepted */
#define CG_PASSWD_HASH_MAX	256	/* stored hash string */
#define CG_PASSWD_ITER_DEFAULT	100000	/* PBKDF2-SHA256 iterations */

/*
 * Salted password hashes for the config file (EST Basic users and later
 * others): "pbkdf2-sha256$<iterations>$<salt, base64>$<key, base64>" with a
 * 16-byte random salt and a 32-byte key.  *hashp is the caller's.
 */
enum cg_code	 cg_passwd_hash(const char *pw, size_t pwlen,
		    uint32_t iterations, char **hashp, struct cg_err *err);
/* Whether s is a well-formed hash string this build can verify. */
bool		 cg_passwd_hash_is_valid(const char *s);
/*
 * Check pw against a stored hash in constant time (CRYPTO_memcmp).
 * CG_OK on a match, CG_EAUTH on a mismatch, CG_EINVAL for a bad hash.
 * Slow on purpose: callers that check often cache a success.
 */
enum cg_code	 cg_passwd_verify(const char *pw, size_t pwlen,
		    const char *hash, struct cg_err *err);

/* ---------------------------------------------------------------- time */

/* Unix seconds now (CLOCK_REALTIME). */
int64_t		 cg_now(void);
/* Monotonic milliseconds, for durations. */
uint64_t	 cg_mono_ms(void);
/* Monotonic nanoseconds, for short durations (benchmarks). */
uint64_t	 cg_mono_ns(void);
/* Milliseconds since the epoch (CLOCK_REALTIME); 0 before 1970. */
uint64_t	 cg_wall_ms(void);
/* RFC 3339 UTC "2026-11-23T10:00:00Z" into out (>= 21 bytes). */
void		 cg_time_fmt(int64_t t, char *out, size_t outlen);

#endif /* CERTGW_CORE_H */
