/*
 * fuzz_notify_mail.c - gw_notify_mail_build() and gw_notify_expand() get
 * text that clients chose: a certificate's subject goes into the Subject
 * header and the body of an expiry notification.  The input is split at
 * the first NUL into a subject and a body; each is expanded into a
 * template and the message is built.  Whatever the bytes, the message
 * must use CRLF line ends only, keep the headers the builder wrote (no
 * line the subject adds may start a header), and stay within its bound.
 */
#include <stdlib.h>
#include <string.h>

#include "certgw/notify.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
check(const struct cg_buf *m)
{
	const char	*s = (const char *)m->data, *hdr_end, *p;
	size_t		 i;

	for (i = 0; i < m->len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			abort();
		if (s[i] == '\r' && (i + 1 == m->len || s[i + 1] != '\n'))
			abort();
	}
	hdr_end = strstr(s, "\r\n\r\n");
	if (hdr_end == NULL)
		abort();
	/* In the header, a line is a known header or a folded line. */
	for (p = s; p < hdr_end; p = strstr(p, "\r\n") + 2) {
		if (*p == ' ')
			continue;
		if (strncmp(p, "Date: ", 6) != 0 &&
		    strncmp(p, "From: ", 6) != 0 &&
		    strncmp(p, "To: ", 4) != 0 &&
		    strncmp(p, "Subject: ", 9) != 0 &&
		    strncmp(p, "Message-ID: ", 12) != 0 &&
		    strncmp(p, "MIME-Version: ", 14) != 0 &&
		    strncmp(p, "Content-Type: ", 14) != 0 &&
		    strncmp(p, "Content-Transfer-Encoding: ", 27) != 0 &&
		    strncmp(p, "Auto-Submitted: ", 16) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *const to[] = { "alice@example.org" };
	struct gw_notify_vars	 v;
	struct cg_buf		 subj, body, msg;
	char			*in, *split;

	if (len > 16384)
		return 0;
	in = malloc(len + 2);
	if (in == NULL)
		return 0;
	memcpy(in, data, len);
	in[len] = '\0';
	in[len + 1] = '\0';
	split = in + strlen(in) + 1;
	memset(&v, 0, sizeof(v));
	v.subject = in;
	v.serial = "1A";
	v.holder = split;
	v.days_left = "3";
	cg_buf_init(&subj, GW_NOTIFY_MSG_MAX);
	cg_buf_init(&body, GW_NOTIFY_MSG_MAX);
	cg_buf_init(&msg, 2 * GW_NOTIFY_MSG_MAX);
	if (gw_notify_expand("Expiring: {subject} ({days_left})", &v, &subj,
	    NULL) == CG_OK &&
	    gw_notify_expand("{holder}\n{subject}\n.\n", &v, &body, NULL) ==
	    CG_OK &&
	    gw_notify_mail_build("certgw@ca.example", to, 1,
	    (const char *)subj.data, (const char *)body.data, 1800000000,
	    "id@ca.example", &msg, NULL) == CG_OK)
		check(&msg);
	cg_buf_cleanup(&subj);
	cg_buf_cleanup(&body);
	cg_buf_cleanup(&msg);
	free(in);
	return 0;
}
