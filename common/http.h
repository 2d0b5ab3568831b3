/*
 * http.h - HTTP/1.1 over libcurl, with TLS always verified.
 *
 * One struct http_client holds one libcurl handle, so connections are kept
 * alive and reused across calls and across Lambda invocations. CA
 * certificates come from $SSL_CERT_FILE, else the first bundle that exists of
 * Amazon Linux 2023's and Debian's (libcurl itself ignores SSL_CERT_FILE).
 *
 * Error codes: ERR_HTTP for a transport failure worth retrying (refused,
 * reset, truncated body), ERR_TIMEOUT when the request's time ran out,
 * ERR_TLS when a certificate could not be verified (never retried),
 * ERR_TOO_LARGE when the body passed max_response_bytes, ERR_PARSE when the
 * request's body sink refused a chunk. `errmsg` receives a
 * one-line reason that never contains the URL's path or query (a webhook
 * URL is a secret).
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

#define HTTP_DEFAULT_MAX_RESPONSE (32u << 20)

struct http_request {
	const char *method;		/* "GET", "POST" */
	const char *url;
	const char *const *headers;	/* "Name: value" lines */
	size_t header_count;
	struct view body;
	long timeout_ms;		/* whole exchange; 0 = no limit */
	long connect_timeout_ms;	/* 0 = 10 s, or timeout_ms when shorter */
	size_t max_response_bytes;	/* 0 = HTTP_DEFAULT_MAX_RESPONSE */
	bool no_proxy;			/* never through a proxy (the Runtime API) */
	/*
	 * Optional: the body of a 2xx answer goes to sink() chunk by chunk as
	 * it arrives, and resp->body stays empty (other answers, error
	 * documents, are still kept in resp->body, within max_response_bytes).
	 * A non-zero return ends the exchange with ERR_PARSE. A transport that
	 * cannot stream (a test's fake) may fill resp->body instead.
	 */
	int (*sink)(void *ctx, struct view chunk);
	void *sink_ctx;
};

struct http_response {
	long status;
	struct buf body;
	struct buf headers;	/* header block of the final response */
};
#define HTTP_RESPONSE_INIT { 0, BUF_INIT, BUF_INIT }

/* Frees the response; the body is wiped first (it may hold a secret). */
void http_response_release(struct http_response *r);
/* Looks a header up, case-insensitively; the value is trimmed. */
bool http_response_header(const struct http_response *r, const char *name,
			  struct view *value);

/* Call once at start: OpenSSL without openssl.cnf, then libcurl. */
int http_global_init(void) WARN_UNUSED;

/* The CA bundle we verify against (NULL when none of the known ones exists). */
const char *http_ca_file(void);

struct http_client;
struct http_client *http_client_new(void);
void http_client_free(struct http_client *c);

/*
 * Performs one exchange. Any HTTP status is a success here (the caller looks
 * at resp->status); only transport problems are errors.
 */
int http_client_do(struct http_client *c, const struct http_request *req,
		   struct http_response *resp, struct buf *errmsg) WARN_UNUSED;

/* The signature of http_client_do(), so tests can inject a fake transport. */
typedef int (*http_transport_fn)(void *ctx, const struct http_request *req,
				 struct http_response *resp, struct buf *errmsg);
int http_transport_curl(void *client, const struct http_request *req,
			struct http_response *resp, struct buf *errmsg);

#endif
