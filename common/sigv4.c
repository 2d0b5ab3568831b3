/*
 * sigv4.c - AWS Signature Version 4 for requests we send.
 *
 * Written from the public description of SigV4 ("Create a canonical request",
 * "Create a string to sign", "Calculate the signature") and checked against
 * AWS's published test suite (tests/unit/test_sigv4.c) and, on random
 * requests, against botocore's SigV4Auth (tests/integration/).
 *
 * Canonicalisation choices, each matching botocore's signer for the requests
 * it builds and AWS's test suite:
 *
 *  - Path: a NULL or empty path is "/". Runs of '/' are folded and "." and
 *    ".." segments removed (a trailing '/' is kept unless nothing is left),
 *    then every byte but the unreserved ones and '/' is percent-encoded.
 *    The path is taken as sent, already encoded, so "%20" becomes "%2520":
 *    the double encoding every service but S3 expects. (S3 wants neither
 *    normalisation nor double encoding; we do not sign for S3.)
 *
 *  - Query: always empty. Every request we send is a POST with its
 *    parameters in a form or JSON body (aws.c), so the canonical request's
 *    query line is empty and no query is ever canonicalised.
 *
 *  - Headers: names lower-cased (ASCII), sorted bytewise; values trimmed at
 *    both ends and inner runs of whitespace (space, tab, CR, LF, VT, FF)
 *    folded into one space; repeated names become one line, the values
 *    joined with ',' in the order given. Every header passed in is signed.
 */
#include "sigv4.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "banned.h"

#define SHA256_LEN 32

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

static void uri_encode(struct buf *out, struct view s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	buf_grow(out, s.len * 3);
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			out->ptr[out->len++] = (char)c;
		} else {
			out->ptr[out->len++] = '%';
			out->ptr[out->len++] = hex[c >> 4];
			out->ptr[out->len++] = hex[c & 15];
		}
	}
	out->ptr[out->len] = '\0';
}

void sigv4_uri_encode(struct buf *out, struct view s)
{
	uri_encode(out, s, false);
}

static int view_cmp(struct view a, struct view b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
	if (c)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

/*
 * Path, the way botocore's normalize_url_path() does it: segments split on
 * '/', empty and "." segments dropped, ".." drops the previous one (never
 * above the root); the leading '/' kept, the trailing one kept if a segment
 * is left. Then encoded with '/' kept.
 */
static void canonical_path(struct buf *out, const char *path)
{
	struct view p = view_from(path);
	struct view *segs;
	size_t nsegs = 0;
	struct buf norm = BUF_INIT;

	if (!p.len) {
		buf_appendc(out, '/');
		return;
	}
	segs = xcalloc(p.len / 2 + 1, sizeof(*segs));
	for (size_t i = 0; i <= p.len;) {
		size_t j = i;
		while (j < p.len && p.ptr[j] != '/')
			j++;
		struct view seg = view_make(p.ptr + i, j - i);
		if (view_eqs(seg, "..")) {
			if (nsegs)
				nsegs--;
		} else if (seg.len && !view_eqs(seg, ".")) {
			segs[nsegs++] = seg;
		}
		i = j + 1;
	}
	if (p.ptr[0] == '/')
		buf_appendc(&norm, '/');
	for (size_t i = 0; i < nsegs; i++) {
		if (i)
			buf_appendc(&norm, '/');
		buf_appendv(&norm, segs[i]);
	}
	if (p.ptr[p.len - 1] == '/' && nsegs)
		buf_appendc(&norm, '/');
	uri_encode(out, buf_view(&norm), true);
	buf_release(&norm);
	free(segs);
}

struct canon_header {
	struct buf name;	/* lower case */
	struct view value;	/* borrowed, untrimmed */
	size_t index;		/* position given, to keep repeated values in order */
};

static int canon_header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;
	int c = view_cmp(buf_view(&x->name), buf_view(&y->name));
	if (c)
		return c;
	return (x->index > y->index) - (x->index < y->index);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/* Appends v trimmed, with inner runs of whitespace folded into one space. */
static void append_trimall(struct buf *out, struct view v)
{
	bool pending_space = false, started = false;

	for (size_t i = 0; i < v.len; i++) {
		if (is_space(v.ptr[i])) {
			pending_space = started;
			continue;
		}
		if (pending_space)
			buf_appendc(out, ' ');
		buf_appendc(out, v.ptr[i]);
		pending_space = false;
		started = true;
	}
}

static void canonical_headers(const struct sigv4_request *req, struct buf *out,
			      struct buf *signed_headers)
{
	size_t n = req->header_count;
	struct canon_header *h;

	if (!n)
		return;
	h = xcalloc(n, sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		const char *name = req->headers[i].name;
		buf_appends(&h[i].name, name);
		for (size_t k = 0; k < h[i].name.len; k++) {
			char c = h[i].name.ptr[k];
			if (c >= 'A' && c <= 'Z')
				h[i].name.ptr[k] = (char)(c - 'A' + 'a');
		}
		h[i].value = view_from(req->headers[i].value);
		h[i].index = i;
	}
	qsort(h, n, sizeof(*h), canon_header_cmp);
	for (size_t i = 0; i < n; i++) {
		struct view name = buf_view(&h[i].name);
		bool repeat = i && view_eq(name, buf_view(&h[i - 1].name));
		if (repeat) {
			buf_appendc(out, ',');
		} else {
			if (i) {
				buf_appendc(out, '\n');
				buf_appendc(signed_headers, ';');
			}
			buf_appendv(out, name);
			buf_appendc(out, ':');
			buf_appendv(signed_headers, name);
		}
		append_trimall(out, h[i].value);
	}
	buf_appendc(out, '\n');
	for (size_t i = 0; i < n; i++)
		buf_release(&h[i].name);
	free(h);
}

void sigv4_sha256_hex(struct view data, struct buf *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!EVP_Digest(data.ptr, data.len, md, &len, EVP_sha256(), NULL))
		abort();	/* only on allocation failure inside OpenSSL */
	buf_append_hex(out, md, len);
}

void sigv4_canonical_request(const struct sigv4_request *req, struct buf *out,
			     struct buf *signed_headers)
{
	size_t signed_start = signed_headers->len;

	buf_appends(out, req->method);
	buf_appendc(out, '\n');
	canonical_path(out, req->path);
	buf_appendc(out, '\n');
	buf_appendc(out, '\n');	/* the query: we sign none */
	/* Each header line ends in '\n', then the blank line. */
	canonical_headers(req, out, signed_headers);
	buf_appendc(out, '\n');
	buf_append(out, buf_cstr(signed_headers) + signed_start,
		   signed_headers->len - signed_start);
	buf_appendc(out, '\n');
	sigv4_sha256_hex(req->body, out);
}

void sigv4_string_to_sign(const char *amz_date, const char *scope,
			  struct view canonical_request, struct buf *out)
{
	buf_appends(out, "AWS4-HMAC-SHA256\n");
	buf_appends(out, amz_date);
	buf_appendc(out, '\n');
	buf_appends(out, scope);
	buf_appendc(out, '\n');
	sigv4_sha256_hex(canonical_request, out);
}

static void hmac_sha256(const void *key, size_t key_len, const char *msg,
			size_t msg_len, unsigned char md[SHA256_LEN])
{
	unsigned int len = SHA256_LEN;

	if (key_len > (size_t)INT_MAX ||
	    !HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg,
		  msg_len, md, &len) ||
	    len != SHA256_LEN)
		abort();	/* only on allocation failure inside OpenSSL */
}

/* The signing key: HMAC chain from "AWS4" + secret over date, region, service. */
static void signing_key(const char *secret_access_key, const char *date, const char *region,
			const char *service, unsigned char k[SHA256_LEN])
{
	struct buf secret = BUF_INIT;

	buf_appends(&secret, "AWS4");
	buf_appends(&secret, secret_access_key);
	hmac_sha256(secret.ptr, secret.len, date, strlen(date), k);
	OPENSSL_cleanse(secret.ptr, secret.cap);
	buf_release(&secret);
	hmac_sha256(k, SHA256_LEN, region, strlen(region), k);
	hmac_sha256(k, SHA256_LEN, service, strlen(service), k);
	hmac_sha256(k, SHA256_LEN, "aws4_request", strlen("aws4_request"), k);
}

static void sign_with_key(const unsigned char k[SHA256_LEN], struct view string_to_sign,
			  struct buf *out)
{
	unsigned char sig[SHA256_LEN];

	hmac_sha256(k, SHA256_LEN, string_to_sign.ptr, string_to_sign.len, sig);
	buf_append_hex(out, sig, sizeof(sig));
}

void sigv4_signature(const char *secret_access_key, const char *date,
		     const char *region, const char *service,
		     struct view string_to_sign, struct buf *out)
{
	unsigned char k[SHA256_LEN];

	signing_key(secret_access_key, date, region, service, k);
	sign_with_key(k, string_to_sign, out);
	OPENSSL_cleanse(k, sizeof(k));
}

void sigv4_key_cache_wipe(struct sigv4_key_cache *cache)
{
	OPENSSL_cleanse(cache, sizeof(*cache));
}

/* The cached key for scope and secret, derived again when either changed. */
static const unsigned char *cached_key(struct sigv4_key_cache *cache, const char *scope,
				       const char *secret_access_key, const char *date,
				       const char *region, const char *service)
{
	unsigned char digest[SHA256_LEN];
	unsigned int len = 0;

	if (!EVP_Digest(secret_access_key, strlen(secret_access_key), digest, &len, EVP_sha256(),
			NULL) || len != SHA256_LEN)
		abort();	/* only on allocation failure inside OpenSSL */
	if (strlen(scope) >= sizeof(cache->scope) || strcmp(cache->scope, scope) ||
	    CRYPTO_memcmp(cache->secret_digest, digest, SHA256_LEN)) {
		sigv4_key_cache_wipe(cache);
		signing_key(secret_access_key, date, region, service, cache->key);
		memcpy(cache->secret_digest, digest, SHA256_LEN);
		if (strlen(scope) < sizeof(cache->scope))
			memcpy(cache->scope, scope, strlen(scope) + 1);
	}
	OPENSSL_cleanse(digest, sizeof(digest));
	return cache->key;
}

static void put_digits(char *p, int v, int n)
{
	while (n--) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void sigv4_format_time(time_t t, char amz_date[17], char date[9])
{
	struct tm tm;

	amz_date[0] = date[0] = '\0';
	if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return;
	put_digits(amz_date, tm.tm_year + 1900, 4);
	put_digits(amz_date + 4, tm.tm_mon + 1, 2);
	put_digits(amz_date + 6, tm.tm_mday, 2);
	amz_date[8] = 'T';
	put_digits(amz_date + 9, tm.tm_hour, 2);
	put_digits(amz_date + 11, tm.tm_min, 2);
	put_digits(amz_date + 13, tm.tm_sec, 2);
	amz_date[15] = 'Z';
	amz_date[16] = '\0';
	memcpy(date, amz_date, 8);
	date[8] = '\0';
}

void sigv4_authorization(const struct sigv4_request *req,
			 const struct sigv4_params *params, struct buf *out)
{
	struct buf creq = BUF_INIT, signed_headers = BUF_INIT;
	struct buf scope = BUF_INIT, sts = BUF_INIT;
	char amz_date[17], date[9];

	sigv4_format_time(params->now, amz_date, date);
	sigv4_canonical_request(req, &creq, &signed_headers);
	buf_appendf(&scope, "%s/%s/%s/aws4_request", date, params->region,
		    params->service);
	sigv4_string_to_sign(amz_date, buf_cstr(&scope), buf_view(&creq), &sts);

	buf_appendf(out, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=",
		    params->credentials->access_key_id, buf_cstr(&scope),
		    buf_cstr(&signed_headers));
	if (params->key_cache)
		sign_with_key(cached_key(params->key_cache, buf_cstr(&scope),
					 params->credentials->secret_access_key, date,
					 params->region, params->service),
			      buf_view(&sts), out);
	else
		sigv4_signature(params->credentials->secret_access_key, date,
				params->region, params->service, buf_view(&sts), out);

	buf_release(&creq);
	buf_release(&signed_headers);
	buf_release(&scope);
	buf_release(&sts);
}

static void free_secret(char **s)
{
	if (*s) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void aws_credentials_release(struct aws_credentials *c)
{
	if (!c)
		return;
	free(c->access_key_id);
	c->access_key_id = NULL;
	free_secret(&c->secret_access_key);
	free_secret(&c->session_token);
}
