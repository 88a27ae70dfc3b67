/*
 * gw_socket.c - the listening sockets, created once in gw_server_new so
 * that a busy or bad address fails before anything runs.  Loop threads
 * accept on dup()s of these; this file does no accepting and no TLS.
 */
#include "gw_int.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/util.h>

static enum cg_code
socket_bind(int fd, const struct sockaddr *sa, socklen_t salen,
    const char *address, struct cg_err *err)
{
	int	 on = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
		return cg_err_errno(err, CG_EIO, "cannot set SO_REUSEADDR "
		    "for %s", address);
	/* A v6 listener serves v6 only; v4 gets its own address. */
	if (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) != 0)
		return cg_err_errno(err, CG_EIO, "cannot set IPV6_V6ONLY "
		    "for %s", address);
	/*
	 * Accepted sockets inherit TCP_NODELAY on Linux.  A reply leaves as
	 * several TLS records; with Nagle on, the last waits for the client's
	 * delayed ACK (40 ms) on every keep-alive request.
	 */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0)
		return cg_err_errno(err, CG_EIO, "cannot set TCP_NODELAY "
		    "for %s", address);
	if (bind(fd, sa, salen) != 0) {
		if (errno == EADDRINUSE)
			return cg_err_errno(err, CG_EIO, "address %s is "
			    "already in use", address);
		if (errno == EACCES)
			return cg_err_errno(err, CG_EIO, "no permission to "
			    "listen on %s", address);
		return cg_err_errno(err, CG_EIO, "cannot bind %s", address);
	}
	if (listen(fd, GW_LISTEN_BACKLOG) != 0)
		return cg_err_errno(err, CG_EIO, "cannot listen on %s",
		    address);
	return CG_OK;
}

enum cg_code
gw_socket_listen(const char *address, int *fdp, struct cg_err *err)
{
	struct sockaddr_storage	 ss;
	int			 sslen = (int)sizeof(ss), fd;
	enum cg_code		 rc;

	*fdp = -1;
	memset(&ss, 0, sizeof(ss));
	if (address == NULL || evutil_parse_sockaddr_port(address,
	    (struct sockaddr *)&ss, &sslen) != 0)
		return cg_err_set(err, CG_EINVAL, "bad listen address %s",
		    address != NULL ? address : "(none)");
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return cg_err_errno(err, CG_EIO, "cannot create a socket for "
		    "%s", address);
	rc = socket_bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen,
	    address, err);
	if (rc != CG_OK)
		goto out;
	*fdp = fd;
	fd = -1;
	rc = CG_OK;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

void
gw_socket_peer(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 host[INET6_ADDRSTRLEN];
	const void		*addr;
	unsigned		 port;

	snprintf(out, outlen, "-");
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		addr = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		return;
	}
	if (inet_ntop(ss.ss_family, addr, host, sizeof(host)) == NULL)
		return;
	snprintf(out, outlen, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
	    host, port);
}
