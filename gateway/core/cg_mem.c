/*
 * cg_mem.c - allocation wrappers with failure injection, and the bounded
 * buffer.  Every allocation in certgw goes through here so the torture test
 * can fail the Nth one; nothing else lives in this file.
 */
#include "certgw/core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static atomic_long fail_after = -1;

void
cg_alloc_fail_after(long n)
{
	atomic_store(&fail_after, n);
}

static bool
should_fail(void)
{
	long	 n = atomic_load(&fail_after);

	while (n >= 0) {
		if (n == 0)
			return true;
		if (atomic_compare_exchange_weak(&fail_after, &n, n - 1))
			return false;
	}
	return false;
}

void *
cg_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

void *
cg_calloc(size_t nmemb, size_t size)
{
	if (should_fail())
		return NULL;
	if (nmemb == 0 || size == 0)
		return calloc(1, 1);
	return calloc(nmemb, size);
}

void *
cg_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n == 0 ? 1 : n);
}

char *
cg_strndup(const char *s, size_t n)
{
	char	*d;

	if (s == NULL)
		return NULL;
	d = cg_malloc(n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
cg_strdup(const char *s)
{
	if (s == NULL)
		return NULL;
	return cg_strndup(s, strlen(s));
}

void
cg_free(void *p)
{
	free(p);
}

char *
cg_asprintf(const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	char	*s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = cg_malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void
cg_buf_init(struct cg_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

static enum cg_code
buf_reserve(struct cg_buf *b, size_t n, struct cg_err *err)
{
	size_t	 want, ncap;
	uint8_t	*p;

	if (n > b->max || b->len > b->max - n)
		return cg_err_set(err, CG_ETOOBIG,
		    "data exceeds the limit of %zu bytes", b->max);
	want = b->len + n + 1;
	if (want <= b->cap)
		return CG_OK;
	ncap = b->cap == 0 ? 256 : b->cap;
	while (ncap < want)
		ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
	p = cg_realloc(b->data, ncap);
	if (p == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	b->data = p;
	b->cap = ncap;
	return CG_OK;
}

enum cg_code
cg_buf_add(struct cg_buf *b, const void *p, size_t n, struct cg_err *err)
{
	enum cg_code	 rc;

	rc = buf_reserve(b, n, err);
	if (rc != CG_OK)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CG_OK;
}

enum cg_code
cg_buf_addstr(struct cg_buf *b, const char *s, struct cg_err *err)
{
	return cg_buf_add(b, s, strlen(s), err);
}

enum cg_code
cg_buf_printf(struct cg_buf *b, struct cg_err *err, const char *fmt, ...)
{
	va_list		 ap;
	int		 n;
	enum cg_code	 rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return cg_err_set(err, CG_EINTERNAL, "bad format");
	rc = buf_reserve(b, (size_t)n, err);
	if (rc != CG_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return CG_OK;
}

uint8_t *
cg_buf_steal(struct cg_buf *b, size_t *lenp)
{
	uint8_t	*p = b->data;

	if (lenp != NULL)
		*lenp = b->len;
	if (p == NULL)
		p = cg_calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void
cg_buf_reset(struct cg_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
cg_buf_cleanup(struct cg_buf *b)
{
	if (b == NULL)
		return;
	cg_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
cg_buf_cleanup_secret(struct cg_buf *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	cg_buf_cleanup(b);
}
