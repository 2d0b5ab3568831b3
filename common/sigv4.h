/*
 * sigv4.h - AWS Signature Version 4 for requests we send.
 *
 * Signing happens in three stages, each exposed so tests can check it on its
 * own against AWS's published SigV4 test-suite cases:
 *
 *   canonical request -> string to sign -> signature -> Authorization header
 *
 * Requests are described with borrowed pointers; besides the output buffers
 * only scratch space is allocated, and freed before returning. The derived
 * signing key (and the "AWS4"+secret copy) is wiped after use.
 *
 * Only requests without a query string are signed: every call we make is a
 * POST with its parameters in the body. The exact canonicalisation rules
 * (path normalisation, header whitespace) are listed at the top of sigv4.c.
 */
#ifndef SIGV4_H
#define SIGV4_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "err.h"

struct aws_credentials {
	char *access_key_id;
	char *secret_access_key;	/* secret: never logged */
	char *session_token;		/* secret: never logged; may be NULL */
};

/* Wipes the secret parts and frees every field. */
void aws_credentials_release(struct aws_credentials *c);

struct sigv4_header {
	const char *name;	/* any case; canonicalised to lower case */
	const char *value;	/* trimmed, inner runs of spaces folded */
};

struct sigv4_request {
	const char *method;		/* "GET", "POST" */
	/*
	 * As sent, e.g. "/" (already encoded). Signed the way AWS wants for
	 * every service but S3: "//", "." and ".." are normalised away and
	 * the path is percent-encoded once more ('/' kept), so "%20" signs
	 * as "%2520". NULL or "" signs as "/".
	 */
	const char *path;
	const struct sigv4_header *headers;	/* every header to sign */
	size_t header_count;
	struct view body;
};

/*
 * The signing key of a day, region and service (four HMACs away from the
 * secret), kept between requests as the SDKs keep it: 6,000 calls derive it
 * once, not 6,000 times. Secret material: wiped with sigv4_key_cache_wipe().
 */
struct sigv4_key_cache {
	char scope[128];		/* "<date>/<region>/<service>/aws4_request"; "" none */
	unsigned char secret_digest[32]; /* SHA-256 of the secret it comes from */
	unsigned char key[32];
};

void sigv4_key_cache_wipe(struct sigv4_key_cache *cache);

struct sigv4_params {
	const char *region;
	const char *service;		/* signing name: "ec2", "autoscaling", "ssm" */
	const struct aws_credentials *credentials;
	time_t now;			/* signing time (UTC seconds) */
	struct sigv4_key_cache *key_cache;	/* NULL: the key is derived every time */
};

/*
 * Stage 1. Appends the canonical request to `out` and the semicolon-separated
 * lower-case list of signed header names to `signed_headers`. The query
 * line is empty. Duplicate header names are joined with ',' in the order
 * given.
 * The payload hash is the hex SHA-256 of the body.
 */
void sigv4_canonical_request(const struct sigv4_request *req, struct buf *out,
			     struct buf *signed_headers);

/* Stage 2. "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of creq>" */
void sigv4_string_to_sign(const char *amz_date, const char *scope,
			  struct view canonical_request, struct buf *out);

/* Stage 3. Appends the hex signature of `string_to_sign`. `date` is YYYYMMDD. */
void sigv4_signature(const char *secret_access_key, const char *date,
		     const char *region, const char *service,
		     struct view string_to_sign, struct buf *out);

/*
 * "20150830T123600Z" and "20150830" for a time (buffers of 17 and 9 bytes),
 * in UTC. Both are "" for a time outside the years 0-9999.
 */
void sigv4_format_time(time_t t, char amz_date[17], char date[9]);

/*
 * All stages: appends the value of the Authorization header,
 * "AWS4-HMAC-SHA256 Credential=AKID/scope, SignedHeaders=..., Signature=...".
 * The caller must already have put `host`, `x-amz-date` (and, with a session
 * token, `x-amz-security-token`) among req->headers.
 */
void sigv4_authorization(const struct sigv4_request *req,
			 const struct sigv4_params *params, struct buf *out);

/* Appends the lower-case hex SHA-256 of data. */
void sigv4_sha256_hex(struct view data, struct buf *out);

/*
 * Appends s percent-encoded the SigV4/RFC 3986 way: A-Z a-z 0-9 - _ . ~ kept,
 * everything else %XX (upper-case hex). Used for form bodies.
 */
void sigv4_uri_encode(struct buf *out, struct view s);

#endif
