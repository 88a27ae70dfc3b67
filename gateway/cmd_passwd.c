/*
 * cmd_passwd.c - `certgw passwd`: read a password (from a file, a pipe, or
 * a terminal with echo off) and print the salted hash to paste into the
 * config (est.users.<name>.password_hash).  It never prints or logs the
 * password and never reads or writes the config itself.
 */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define PASSWD_ITER_MIN	1000		/* what cg_passwd_hash takes */
#define PASSWD_ITER_LIMIT	10000000
#define PASSWD_BUF	(CG_PASSWD_MAX + 2)	/* a line and its NUL */

struct passwd_opts {
	uint32_t	 iterations;	/* --iterations */
	const char	*file;		/* --password-file */
};

static void
passwd_usage(FILE *f)
{
	fprintf(f,
"usage: certgw passwd [--iterations N] [--password-file F]\n"
"\n"
"Print a salted PBKDF2-SHA256 hash of a password for the config file\n"
"(est.users.<name>.password_hash).  The password is the first line of F,\n"
"or of standard input; on a terminal it is asked for twice, without echo.\n"
"\n"
"  --iterations N         PBKDF2 iterations, 1000 to 10000000 (default %d)\n"
"  --password-file F      read the password from the first line of F\n",
	    CG_PASSWD_ITER_DEFAULT);
}

static int
parse_opts(int argc, char **argv, struct passwd_opts *o)
{
	static const struct option longopts[] = {
		{ "iterations", required_argument, NULL, 'i' },
		{ "password-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t	 v;
	int		 c;

	o->iterations = CG_PASSWD_ITER_DEFAULT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!cg_parse_u64(optarg, strlen(optarg),
			    PASSWD_ITER_LIMIT, &v) || v < PASSWD_ITER_MIN)
				return cmd_usage_error("passwd", "--iterations "
				    "must be between %d and %d",
				    PASSWD_ITER_MIN, PASSWD_ITER_LIMIT);
			o->iterations = (uint32_t)v;
			break;
		case 'f': o->file = optarg; break;
		case 'h': passwd_usage(stdout); return -1;
		default: return cmd_usage_error("passwd", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("passwd", "unexpected argument '%s'",
		    argv[optind]);
	return 0;
}

/*
 * Read one line from fd into buf (NUL-terminated, without CR/LF) a byte at
 * a time, so nothing after the line is consumed or left in a stdio buffer.
 */
static enum cg_code
line_read(int fd, char *buf, size_t bufsz, struct cg_err *err)
{
	size_t	 n = 0;
	ssize_t	 r;
	char	 c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cg_err_errno(err, CG_EIO, "cannot read the "
			    "password");
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= bufsz)
			return cg_err_set(err, CG_ETOOBIG, "password longer "
			    "than %d bytes", CG_PASSWD_MAX);
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return CG_OK;
}

/* Prompt on stderr and read a line from the terminal with echo off. */
static enum cg_code
tty_read(const char *prompt, char *buf, size_t bufsz, struct cg_err *err)
{
	struct termios	 saved, quiet;
	enum cg_code	 rc;

	if (tcgetattr(STDIN_FILENO, &saved) != 0)
		return cg_err_errno(err, CG_EIO, "cannot use the terminal");
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
		return cg_err_errno(err, CG_EIO, "cannot turn echo off");
	rc = line_read(STDIN_FILENO, buf, bufsz, err);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	fputc('\n', stderr);
	return rc;
}

/* Twice on a terminal, so a typing mistake is caught before it is used. */
static enum cg_code
tty_password(char *pw, size_t bufsz, struct cg_err *err)
{
	char		 again[PASSWD_BUF];
	size_t		 len;
	enum cg_code	 rc;

	rc = tty_read("Password: ", pw, bufsz, err);
	if (rc != CG_OK || pw[0] == '\0')
		goto out;
	rc = tty_read("Again: ", again, sizeof(again), err);
	if (rc != CG_OK)
		goto out;
	len = strlen(pw);
	if (strlen(again) != len || CRYPTO_memcmp(pw, again, len) != 0) {
		rc = cg_err_set(err, CG_EINVAL, "the passwords do not match");
		goto out;
	}
	rc = CG_OK;
out:
	OPENSSL_cleanse(again, sizeof(again));
	return rc;
}

/* The password into pw (bufsz bytes); empty passwords are refused. */
static enum cg_code
password_get(const struct passwd_opts *o, char *pw, size_t bufsz,
    struct cg_err *err)
{
	char		*s = NULL;
	size_t		 len;
	enum cg_code	 rc;

	if (o->file != NULL) {
		rc = cg_secret_load(o->file, NULL, &s, err);
		if (rc != CG_OK)
			goto out;
		len = strlen(s);
		if (len + 1 > bufsz) {
			rc = cg_err_set(err, CG_ETOOBIG, "password longer "
			    "than %d bytes", CG_PASSWD_MAX);
			goto out;
		}
		memcpy(pw, s, len + 1);
	} else if (isatty(STDIN_FILENO)) {
		rc = tty_password(pw, bufsz, err);
	} else {
		rc = line_read(STDIN_FILENO, pw, bufsz, err);
	}
	if (rc == CG_OK && pw[0] == '\0')
		rc = cg_err_set(err, CG_EINVAL, "the password is empty");
out:
	cg_secret_free(s);
	return rc;
}

int
cmd_passwd(int argc, char **argv)
{
	struct passwd_opts	 o = { 0 };
	struct cg_err		 err = { 0 };
	char			 pw[PASSWD_BUF];
	char			*hash = NULL;
	int			 ret;

	ret = parse_opts(argc, argv, &o);
	if (ret != 0)
		return ret < 0 ? CMD_EXIT_OK : ret;
	ret = CMD_EXIT_FAIL;
	memset(pw, 0, sizeof(pw));
	if (password_get(&o, pw, sizeof(pw), &err) != CG_OK) {
		cmd_fail("passwd", &err);
		goto out;
	}
	if (cg_passwd_hash(pw, strlen(pw), o.iterations, &hash, &err) !=
	    CG_OK) {
		cmd_fail("passwd", &err);
		goto out;
	}
	printf("%s\n", hash);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "certgw passwd: cannot write the hash\n");
		goto out;
	}
	ret = CMD_EXIT_OK;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	cg_free(hash);
	return ret;
}
