/*
 * cg_err.c - the one error type and the logfmt logger.  Errors are recorded
 * where they happen and logged once, at the top; this file does not decide
 * what goes to a peer (msg) versus the log (detail), callers do.
 */
#include "certgw/core.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

static atomic_int log_level = CG_LOG_INFO;

static const char *const code_names[CG__MAX] = {
	[CG_OK] = "ok",
	[CG_ENOMEM] = "enomem",
	[CG_EINVAL] = "einval",
	[CG_ETOOBIG] = "etoobig",
	[CG_EAUTH] = "eauth",
	[CG_EDENIED] = "edenied",
	[CG_ENOTFOUND] = "enotfound",
	[CG_ECONFLICT] = "econflict",
	[CG_ECRYPTO] = "ecrypto",
	[CG_EIO] = "eio",
	[CG_EINTERNAL] = "einternal",
};

static const char *const level_names[CG_LOG__MAX] = {
	[CG_LOG_ERR] = "err",
	[CG_LOG_WARN] = "warn",
	[CG_LOG_INFO] = "info",
	[CG_LOG_DEBUG] = "debug",
};

const char *
cg_code_str(enum cg_code code)
{
	if ((unsigned)code >= CG__MAX)
		return "unknown";
	return code_names[code];
}

static void
strip_newlines(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

static void	detail_vappend(struct cg_err *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

static void
detail_vappend(struct cg_err *err, const char *fmt, va_list ap)
{
	size_t	 used = strlen(err->detail);

	if (used + 1 >= sizeof(err->detail))
		return;
	if (used > 0) {
		err->detail[used++] = ';';
		err->detail[used] = '\0';
	}
	vsnprintf(err->detail + used, sizeof(err->detail) - used, fmt, ap);
	strip_newlines(err->detail);
}

static void	detail_append(struct cg_err *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
detail_append(struct cg_err *err, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	detail_vappend(err, fmt, ap);
	va_end(ap);
}

static void
drain_openssl(struct cg_err *err)
{
	unsigned long	 e;
	char		 buf[256];

	while ((e = ERR_get_error()) != 0) {
		if (err == NULL)
			continue;
		ERR_error_string_n(e, buf, sizeof(buf));
		detail_append(err, "openssl: %s", buf);
	}
}

enum cg_code
cg_err_set_at(struct cg_err *err, enum cg_code code, int flags,
    const char *func, int line, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;
	char	 ebuf[128];

	if (err == NULL || err->code != CG_OK) {
		if (flags & CG_ERR_OPENSSL)
			drain_openssl(NULL);
		return code;
	}
	err->code = code;
	err->func = func;
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	strip_newlines(err->msg);
	if (flags & CG_ERR_ERRNO) {
		/* GNU strerror_r may return a static string. */
		const char *s = strerror_r(saved, ebuf, sizeof(ebuf));
		detail_append(err, "errno: %s", s);
	}
	if (flags & CG_ERR_OPENSSL)
		drain_openssl(err);
	errno = saved;
	return code;
}

void
cg_err_detail(struct cg_err *err, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	detail_vappend(err, fmt, ap);
	va_end(ap);
}

void
cg_err_clear(struct cg_err *err)
{
	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
}

void
cg_log_set_level(enum cg_log_level level)
{
	if ((unsigned)level < CG_LOG__MAX)
		atomic_store(&log_level, (int)level);
}

enum cg_log_level
cg_log_get_level(void)
{
	return (enum cg_log_level)atomic_load(&log_level);
}

bool
cg_log_level_parse(const char *s, enum cg_log_level *out)
{
	int	 i;

	for (i = 0; i < CG_LOG__MAX; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum cg_log_level)i;
			return true;
		}
	}
	return false;
}

const char *
cg_logfmt_quote(const char *in, char *out, size_t outlen)
{
	const unsigned char	*p;
	size_t			 o = 0;
	bool			 quote = (*in == '\0');

	if (outlen < 8) {
		if (outlen > 0)
			out[0] = '\0';
		return out;
	}
	for (p = (const unsigned char *)in; *p != '\0'; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p >= 0x7f)
			quote = true;
	if (quote)
		out[o++] = '"';
	for (p = (const unsigned char *)in; *p != '\0'; p++) {
		if (o + 6 >= outlen)
			break;
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < ' ' || *p == 0x7f) {
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
			    *p);
		} else {
			out[o++] = (char)*p;
		}
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
	return out;
}

void
cg_log_at(enum cg_log_level level, const char *func, const char *fmt, ...)
{
	char		 line[4096], ts[32];
	struct timespec	 now;
	struct tm	 tm;
	va_list		 ap;
	int		 n, m;

	if ((int)level > atomic_load(&log_level))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "time=%s.%03ldZ level=%s func=%s ",
	    ts, now.tv_nsec / 1000000L, level_names[level], func);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line; a short write to stderr is not worth retrying. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void
cg_log_err_struct(const char *func, const char *what, const struct cg_err *err)
{
	char	 qmsg[600], qdetail[1100];

	if (err == NULL)
		return;
	cg_log_at(CG_LOG_ERR, func, "event=%s code=%s msg=%s detail=%s at=%s:%d",
	    what, cg_code_str(err->code),
	    cg_logfmt_quote(err->msg, qmsg, sizeof(qmsg)),
	    cg_logfmt_quote(err->detail, qdetail, sizeof(qdetail)),
	    err->func != NULL ? err->func : "-", err->line);
}
