#include "http.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "banned.h"

struct http_client {
	CURL *curl;
};

struct transfer {
	struct http_response *resp;
	size_t limit;
	bool too_large;
	const struct http_request *req;
	CURL *curl;
	int streaming;		/* -1: not decided yet, 0: kept in resp->body, 1: sink */
	bool sink_refused;
};

static const char *const ca_candidates[] = {
	"/etc/pki/tls/certs/ca-bundle.crt",	/* Amazon Linux 2023 (Lambda) */
	"/etc/ssl/certs/ca-bundle.crt",
	"/etc/ssl/certs/ca-certificates.crt",	/* Debian, Ubuntu */
	"/etc/ssl/cert.pem",
};

const char *http_ca_file(void)
{
	const char *env = getenv("SSL_CERT_FILE");

	if (env && *env)
		return env;
	for (size_t i = 0; i < sizeof(ca_candidates) / sizeof(ca_candidates[0]); i++)
		if (access(ca_candidates[i], R_OK) == 0)
			return ca_candidates[i];
	return NULL;
}

int http_global_init(void)
{
	if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL)) {
		log_error("cannot initialise OpenSSL");
		return ERR_INTERNAL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		return ERR_INTERNAL;
	}
	return 0;
}

void http_response_release(struct http_response *r)
{
	/* a body may hold a secret (an SSM SecureString in clear): wipe it */
	buf_release_secret(&r->body);
	buf_release(&r->headers);
	r->status = 0;
}

bool http_response_header(const struct http_response *r, const char *name,
			  struct view *value)
{
	size_t n = strlen(name);
	const char *p = buf_cstr(&r->headers);

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > n && p[n] == ':' && !strncasecmp(p, name, n)) {
			*value = view_trim(view_make(p + n + 1, len - n - 1));
			return true;
		}
		p += len + (eol ? 1 : 0);
	}
	return false;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;

	if (t->streaming < 0) {
		long status = 0;

		curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
		t->streaming = t->req->sink && status >= 200 && status < 300;
	}
	if (t->streaming) {
		if (t->req->sink(t->req->sink_ctx, view_make(data, n))) {
			t->sink_refused = true;
			return 0;
		}
		return n;
	}
	if (t->resp->body.len + n > t->limit) {
		t->too_large = true;
		return 0;	/* makes libcurl fail with CURLE_WRITE_ERROR */
	}
	buf_append(&t->resp->body, data, n);
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;

	/* a new status line starts a new header block (1xx, redirects) */
	if (n >= 5 && !memcmp(data, "HTTP/", 5))
		buf_reset(&t->resp->headers);
	if (t->resp->headers.len + n > 256 * 1024)
		return 0;
	buf_append(&t->resp->headers, data, n);
	return n;
}

struct http_client *http_client_new(void)
{
	struct http_client *c = xcalloc(1, sizeof(*c));

	c->curl = curl_easy_init();
	if (!c->curl)
		abort();
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

static int classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return ERR_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return ERR_TLS;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return ERR_CONFIG;
	default:
		return ERR_HTTP;
	}
}

static long connect_timeout_ms(const struct http_request *req)
{
	long ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L;

	if (req->timeout_ms > 0 && req->timeout_ms < ms)
		ms = req->timeout_ms;
	return ms;
}

int http_client_do(struct http_client *c, const struct http_request *req,
		   struct http_response *resp, struct buf *errmsg)
{
	struct transfer t = { resp, req->max_response_bytes ? req->max_response_bytes
							     : HTTP_DEFAULT_MAX_RESPONSE,
			      false, req, c->curl, -1, false };
	struct curl_slist *headers = NULL;
	char curl_err[CURL_ERROR_SIZE] = "";
	CURL *h = c->curl;
	const char *ca = http_ca_file();
	CURLcode rc;
	int err = 0;

	buf_reset(&resp->body);
	buf_reset(&resp->headers);
	resp->status = 0;

	/* every option is set on every call: the handle is reused */
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (req->no_proxy)
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms(req));

	if (!strcmp(req->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body.ptr ? req->body.ptr : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
	} else if (strcmp(req->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
	for (size_t i = 0; i < req->header_count; i++)
		headers = curl_slist_append(headers, req->headers[i]);
	headers = curl_slist_append(headers, "Expect:");
	if (!headers)
		abort();
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	} else if (t.sink_refused) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		buf_appends(errmsg, "the response's reader refused it");
		err = ERR_PARSE;
	} else if (t.too_large) {
		buf_appendf(errmsg, "response larger than %zu bytes", t.limit);
		err = ERR_TOO_LARGE;
	} else {
		err = classify(rc);
		buf_appendf(errmsg, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
		/* curl's message can end with a newline */
		while (errmsg->len && errmsg->ptr[errmsg->len - 1] == '\n')
			errmsg->ptr[--errmsg->len] = '\0';
	}
	curl_slist_free_all(headers);
	return err;
}

int http_transport_curl(void *client, const struct http_request *req,
			struct http_response *resp, struct buf *errmsg)
{
	return http_client_do(client, req, resp, errmsg);
}
