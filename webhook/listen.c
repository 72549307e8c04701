/* listen.c - the server's listen socket: address parsing, bind, listen. */
#include "webhook/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 1024

/* Splits "HOST:PORT", ":PORT" or "[V6]:PORT" into host (empty: every
 * address) and port. Returns 0, or -1 when the text has no port. */
static int split_address(const char *addr, char *host, size_t host_size, const char **port)
{
	const char *colon = strrchr(addr, ':');
	size_t len;

	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	*port = colon + 1;
	len = (size_t)(colon - addr);
	if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
		addr++;
		len -= 2;
	}
	if (len >= host_size)
		return -1;
	memcpy(host, addr, len);
	host[len] = '\0';
	return 0;
}

/* Writes the address fd is bound to into buf as "HOST:PORT". */
static void bound_address(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, size, "[%s]:%u", host, port);
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	}
	snprintf(buf, size, "%s:%u", host, port);
}

/* Binds and listens on one resolved address. Returns the socket, or -1
 * with errno set. */
static int listen_on(const struct addrinfo *ai)
{
	int one = 1, zero = 0, err;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, BACKLOG) == 0)
		return fd;
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* Listens on the first address host (NULL: every address) and port
 * resolve to in `family`. Returns the socket, or -1 with *gai (a
 * getaddrinfo error, 0 when resolution worked) and errno set. */
static int listen_first(const char *host, const char *port, int family, int *gai)
{
	struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res, *ai;
	int fd = -1, err = 0;

	*gai = getaddrinfo(host, port, &hints, &res);
	if (*gai != 0)
		return -1;
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		if ((fd = listen_on(ai)) < 0)
			err = errno;
	freeaddrinfo(res);
	errno = err;
	return fd;
}

int ds_listen(const char *addr, char *bound, size_t bound_size, char **error)
{
	char host[256];
	const char *port;
	int fd, gai;

	if (split_address(addr, host, sizeof(host), &port) < 0) {
		if (asprintf(error, "--listen %s: expected HOST:PORT, :PORT or [IPv6]:PORT", addr) < 0)
			*error = NULL;
		return -1;
	}
	if (*host)
		fd = listen_first(host, port, AF_UNSPEC, &gai);
	else if ((fd = listen_first(NULL, port, AF_INET6, &gai)) < 0)
		fd = listen_first(NULL, port, AF_INET, &gai);
	if (fd < 0) {
		if (asprintf(error, "--listen %s: %s", addr, gai ? gai_strerror(gai) : strerror(errno)) < 0)
			*error = NULL;
		return -1;
	}
	bound_address(fd, bound, bound_size);
	return fd;
}
