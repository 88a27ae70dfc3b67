/*
 * cg_file.c - reading bounded files, writing files atomically with a given
 * mode (keys are 0600), directories, secrets from files or the environment,
 * and time helpers.  No parsing of what the files hold happens here.
 */
#include "certgw/core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#define CG_SECRET_MAX	4096

enum cg_code
cg_file_read(const char *path, size_t max, uint8_t **datap, size_t *lenp,
    struct cg_err *err)
{
	struct cg_buf	 b;
	uint8_t		 chunk[8192];
	ssize_t		 n;
	int		 fd;
	enum cg_code	 rc;

	*datap = NULL;
	*lenp = 0;
	cg_buf_init(&b, max);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cg_err_errno(err, errno == ENOENT ? CG_ENOTFOUND : CG_EIO,
		    "cannot open %s", path);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cg_err_errno(err, CG_EIO, "cannot read %s", path);
			goto out;
		}
		if (n == 0)
			break;
		rc = cg_buf_add(&b, chunk, (size_t)n, NULL);
		if (rc == CG_ETOOBIG) {
			rc = cg_err_set(err, rc, "%s is larger than %zu bytes",
			    path, max);
			goto out;
		}
		if (rc != CG_OK) {
			rc = cg_err_set(err, rc, "out of memory");
			goto out;
		}
	}
	*datap = cg_buf_steal(&b, lenp);
	rc = *datap == NULL ? cg_err_set(err, CG_ENOMEM, "out of memory") :
	    CG_OK;
out:
	OPENSSL_cleanse(chunk, sizeof(chunk));
	close(fd);
	cg_buf_cleanup_secret(&b);
	return rc;
}

static enum cg_code
write_all(int fd, const void *data, size_t len, const char *path,
    struct cg_err *err)
{
	const uint8_t	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cg_err_errno(err, CG_EIO, "cannot write %s", path);
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		return cg_err_errno(err, CG_EIO, "cannot sync %s", path);
	return CG_OK;
}

enum cg_code
cg_file_write(const char *path, const void *data, size_t len, mode_t mode,
    bool excl, struct cg_err *err)
{
	char		*tmp = NULL;
	int		 fd;
	enum cg_code	 rc;

	if (excl) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd < 0)
			return cg_err_errno(err, errno == EEXIST ? CG_ECONFLICT :
			    CG_EIO, "cannot create %s", path);
		rc = write_all(fd, data, len, path, err);
		close(fd);
		if (rc != CG_OK)
			unlink(path);
		return rc;
	}
	tmp = cg_asprintf("%s.tmp.%ld", path, (long)getpid());
	if (tmp == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = cg_err_errno(err, CG_EIO, "cannot create %s", tmp);
		goto out;
	}
	/* umask may have narrowed the mode; keys must be exactly 0600. */
	if (fchmod(fd, mode) != 0) {
		rc = cg_err_errno(err, CG_EIO, "cannot chmod %s", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	rc = write_all(fd, data, len, tmp, err);
	close(fd);
	if (rc == CG_OK && rename(tmp, path) != 0)
		rc = cg_err_errno(err, CG_EIO, "cannot rename to %s", path);
	if (rc != CG_OK)
		unlink(tmp);
out:
	cg_free(tmp);
	return rc;
}

enum cg_code
cg_mkdir_p(const char *path, mode_t mode, struct cg_err *err)
{
	char	 buf[PATH_MAX];
	size_t	 len = strlen(path), i;

	if (len == 0 || len >= sizeof(buf))
		return cg_err_set(err, CG_EINVAL, "bad directory path");
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return cg_err_errno(err, CG_EIO, "cannot create %s", buf);
		if (i < len)
			buf[i] = '/';
	}
	return CG_OK;
}

char *
cg_path_join(const char *dir, const char *path)
{
	if (path == NULL)
		return NULL;
	if (path[0] == '/' || dir == NULL || dir[0] == '\0')
		return cg_strdup(path);
	return cg_asprintf("%s/%s", dir, path);
}

enum cg_code
cg_secret_load(const char *file, const char *env, char **secretp,
    struct cg_err *err)
{
	uint8_t		*data = NULL;
	size_t		 len = 0;
	const char	*v;
	char		*s;
	enum cg_code	 rc;

	*secretp = NULL;
	if (file != NULL) {
		rc = cg_file_read(file, CG_SECRET_MAX, &data, &len, err);
		if (rc != CG_OK)
			return rc;
		s = (char *)data;
	} else if (env != NULL) {
		v = getenv(env);
		if (v == NULL)
			return cg_err_set(err, CG_ENOTFOUND,
			    "environment variable %s is not set", env);
		len = strlen(v);
		if (len > CG_SECRET_MAX)
			return cg_err_set(err, CG_ETOOBIG,
			    "environment variable %s is too long", env);
		s = cg_strndup(v, len);
		if (s == NULL)
			return cg_err_set(err, CG_ENOMEM, "out of memory");
	} else {
		return cg_err_set(err, CG_EINVAL, "no secret source given");
	}
	/* The first line only; trailing CR/LF are not part of a secret. */
	len = strcspn(s, "\r\n");
	OPENSSL_cleanse(s + len, strlen(s + len));
	if (len == 0) {
		cg_secret_free(s);
		return cg_err_set(err, CG_EINVAL, "secret %s%s is empty",
		    file != NULL ? "file " : "variable ",
		    file != NULL ? file : env);
	}
	*secretp = s;
	return CG_OK;
}

void
cg_secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	cg_free(s);
}

int
cg_pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
	const char	*pass = u;
	size_t		 len;

	if (pass == NULL || size <= 0)
		return -1;
	len = strlen(pass);
	if (len > (size_t)size)
		return -1;
	memcpy(buf, pass, len);
	return (int)len;
}

enum cg_code
cg_pem_key_load(const char *path, const char *pass_file, const char *pass_env,
    size_t max, EVP_PKEY **keyp, struct cg_err *err)
{
	char		*pass = NULL;
	uint8_t		*pem = NULL;
	size_t		 len = 0;
	BIO		*bio = NULL;
	enum cg_code	 rc = CG_OK;

	*keyp = NULL;
	if (pass_file != NULL || pass_env != NULL)
		rc = cg_secret_load(pass_file, pass_file == NULL ? pass_env :
		    NULL, &pass, err);
	if (rc == CG_OK)
		rc = cg_file_read(path, max, &pem, &len, err);
	if (rc != CG_OK)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio != NULL)
		*keyp = PEM_read_bio_PrivateKey(bio, NULL, cg_pem_pass_cb,
		    pass);
	if (*keyp == NULL)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot read the private "
		    "key %s (wrong or missing passphrase?)", path);
out:
	BIO_free(bio);
	if (pem != NULL)
		OPENSSL_clear_free(pem, len);
	cg_secret_free(pass);
	return rc;
}

int64_t
cg_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

uint64_t
cg_mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
cg_mono_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
cg_wall_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
cg_time_fmt(int64_t t, char *out, size_t outlen)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (outlen > 0)
			out[0] = '\0';
	}
}
