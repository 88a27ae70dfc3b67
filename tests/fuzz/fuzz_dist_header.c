/*
 * fuzz_dist_header.c - the push worker reads response header lines from
 * any endpoint a rule names; the Retry-After reader (delay-seconds or an
 * HTTP date) must take any bytes.  Each input is split at '\n' into header
 * lines and fed to the header callback, as libcurl would; the result must
 * stay within the cap.
 */
#include <stdlib.h>

#include "../../distribute/dist_push.c"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct push_io	 io;
	char		*buf;
	size_t		 start = 0, i;

	if (len > 4096)
		return 0;
	buf = malloc(len + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, len);
	buf[len] = '\0';
	memset(&io, 0, sizeof(io));
	for (i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\n')
			continue;
		if (i > start && on_header(buf + start, 1, i - start, &io) !=
		    i - start)
			abort();
		start = i + 1;
	}
	if (io.have_ra && io.retry_after > RETRY_AFTER_MAX)
		abort();
	free(buf);
	return 0;
}
