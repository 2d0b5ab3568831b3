/*
 * floor.c - the least a Lambda runtime can do, to measure the bench's own
 * apparatus: GET /next, the AWS requests of FLOOR_REQUESTS (made and signed
 * in advance by bench/run.py: the very calls the function's no-op run makes)
 * sent as they are on one connection to AWS_ENDPOINT_URL (an emulator on
 * this machine), POST an empty result, GET /next again (and wait there, as
 * a function between invocations does). Without FLOOR_REQUESTS it sends one
 * "GET /".
 *
 * FLOOR_REQUESTS is a file of requests, each as "<length>\n<bytes>".
 *
 * No TLS, no signing, no parsing beyond the headers: what bench/run.py
 * measures for it is the time of the fork, the exec and the two local
 * servers (the Runtime API emulator and the AWS emulator), which both sides
 * of the bench pay too. Only http://IPv4:port endpoints are understood.
 * Exit 1 with a message on anything unexpected.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "floor: %s\n", what);
	exit(1);
}

/* A TCP connection to "a.b.c.d:port". */
static int dial(const char *hostport)
{
	char host[64];
	const char *colon = strrchr(hostport, ':');
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int fd, one = 1;

	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		die("address is not a.b.c.d:port");
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	addr.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		die("address is not a.b.c.d:port");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("cannot connect");
	return fd;
}

static void send_all(int fd, const char *data)
{
	size_t len = strlen(data);

	while (len) {
		ssize_t n = write(fd, data, len);
		if (n <= 0)
			die("cannot send");
		data += n;
		len -= (size_t)n;
	}
}

/* Reads one whole response (headers and a Content-Length body) into buf. */
static void receive(int fd, char *buf, size_t size)
{
	size_t have = 0;

	for (;;) {
		ssize_t n = read(fd, buf + have, size - 1 - have);
		const char *end, *length;

		if (n <= 0)
			die("connection closed before the whole answer");
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		length = strcasestr(buf, "\r\nContent-Length:");
		if (have >= (size_t)(end - buf) + 4 + (length ? strtoul(length + 17, NULL, 10) : 0))
			return;
		if (have == size - 1)
			die("answer too large");
	}
}

/* Sends each request of the file (or "GET /") and reads its answer. */
static void call_aws(int fd, const char *path, char *buf, size_t size)
{
	static char requests[1 << 16];
	size_t len = 0, at = 0;
	FILE *f;

	if (!path || !*path) {
		send_all(fd, "GET / HTTP/1.1\r\nHost: aws\r\n\r\n");
		receive(fd, buf, size);
		return;
	}
	f = fopen(path, "rb");
	if (!f)
		die("cannot open FLOOR_REQUESTS");
	len = fread(requests, 1, sizeof(requests) - 1, f);
	fclose(f);
	requests[len] = '\0';
	while (at < len) {
		char *end;
		unsigned long n = strtoul(requests + at, &end, 10);
		char saved;

		if (*end != '\n' || n > len - (size_t)(end + 1 - requests))
			die("FLOOR_REQUESTS is not <length>\\n<bytes>...");
		at = (size_t)(end + 1 - requests);
		saved = requests[at + n];
		requests[at + n] = '\0';
		send_all(fd, requests + at);
		requests[at + n] = saved;
		receive(fd, buf, size);
		at += n;
	}
}

int main(void)
{
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	const char *endpoint = getenv("AWS_ENDPOINT_URL");
	static char buf[1 << 16];
	char request[512], id[128];
	const char *at;
	int rt, aws;

	if (!api || !endpoint || strncmp(endpoint, "http://", 7))
		die("needs AWS_LAMBDA_RUNTIME_API and an http:// AWS_ENDPOINT_URL");
	rt = dial(api);
	send_all(rt, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n");
	receive(rt, buf, sizeof(buf));
	at = strcasestr(buf, "\r\nLambda-Runtime-Aws-Request-Id:");
	if (!at || sscanf(at + 32, " %127[^\r\n ]", id) != 1)
		die("no request id");

	aws = dial(endpoint + 7);
	call_aws(aws, getenv("FLOOR_REQUESTS"), buf, sizeof(buf));
	close(aws);

	snprintf(request, sizeof(request),
		 "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: runtime\r\n"
		 "Content-Length: 2\r\n\r\n{}", id);
	send_all(rt, request);
	receive(rt, buf, sizeof(buf));
	send_all(rt, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n");
	receive(rt, buf, sizeof(buf));
	return 0;
}
