/*
 * sigv4_sign - sign requests read from stdin with common/sigv4.c, so that an
 * independent signer (botocore, tests/integration/test_sigv4_botocore.py)
 * can judge the result.
 *
 * Built by the Makefile as build/tools/sigv4_sign; by hand:
 *
 *   gcc -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wmissing-prototypes \
 *       -Wstrict-prototypes -Wvla -Wwrite-strings -fno-common -Icommon \
 *       -o build/tools/sigv4_sign tests/tools/sigv4_sign.c common/sigv4.c \
 *       common/buf.c -lcrypto
 *
 * Usage: sigv4_sign [--stages] < requests
 *
 * Input: one request per line; blank lines and lines starting with '#' are
 * skipped. Fields are separated by one TAB. Every field is hex (either case,
 * empty for an empty string) so that any byte can be carried, except the
 * time:
 *
 *   1 method        hex
 *   2 path          hex, as sent (e.g. 2f for "/"); no query: we sign none
 *   3 body          hex
 *   4 region        hex
 *   5 service       hex (signing name)
 *   6 access key id hex
 *   7 secret key    hex
 *   8 time          decimal Unix seconds (UTC), may be negative
 *   9...            one field per header: NAMEHEX:VALUEHEX, in the order
 *                   given (repeat a name to repeat a header); every header
 *                   listed is signed, so list host, x-amz-date and any
 *                   x-amz-security-token yourself
 *
 * Only the body may contain NUL bytes.
 *
 * Output: one line per request, the Authorization header value. With
 * --stages, the line continues with a TAB, the hex canonical request, a TAB
 * and the hex string to sign.
 *
 * Exit status: 0 when every line was signed; 1 (with "sigv4_sign: line N:
 * ..." on stderr) at the first malformed line; 2 for a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sigv4.h"

#include "banned.h"

#define MAX_FIELDS 4096

static int decode_hex(struct view in, struct buf *out)
{
	if (in.len % 2)
		return -1;
	buf_reset(out);
	for (size_t i = 0; i < in.len; i += 2) {
		int hi = hex_digit((unsigned char)in.ptr[i]);
		int lo = hex_digit((unsigned char)in.ptr[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		buf_appendc(out, (char)(hi << 4 | lo));
	}
	return 0;
}

/* A hex field decoded to a C string: no NUL inside. */
static int decode_cstr(struct view in, struct buf *out)
{
	if (decode_hex(in, out))
		return -1;
	return memchr(buf_cstr(out), '\0', out->len) ? -1 : 0;
}

static int parse_time(struct view in, time_t *t)
{
	char *s = view_dup(in), *end;
	long long v;
	int ret = 0;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!in.len || errno || *end)
		ret = -1;
	*t = (time_t)v;
	free(s);
	return ret;
}

enum { F_METHOD, F_PATH, F_BODY, F_REGION, F_SERVICE, F_AKID,
       F_SECRET, F_TIME, F_HEADERS };

static const char *const field_errors[F_HEADERS] = {
	"bad method (want hex, no NUL)", "bad path (want hex, no NUL)",
	"bad body (want hex)",
	"bad region (want hex, no NUL)", "bad service (want hex, no NUL)",
	"bad access key id (want hex, no NUL)",
	"bad secret key (want hex, no NUL)",
	"bad time (want decimal Unix seconds)",
};

/* Signs one line; on a malformed line returns -1 with *what set. */
static int sign_line(struct view line, bool stages, struct buf *out,
		     const char **what)
{
	struct view fields[MAX_FIELDS];
	struct buf text[F_HEADERS] = { BUF_INIT };
	struct buf *names = NULL, *values = NULL;
	struct sigv4_header *headers = NULL;
	size_t nfields = 0, nheaders = 0;
	time_t now = 0;
	int ret = -1;

	for (size_t i = 0; i <= line.len;) {
		const char *tab = memchr(line.ptr + i, '\t', line.len - i);
		size_t end = tab ? (size_t)(tab - line.ptr) : line.len;
		if (nfields == MAX_FIELDS) {
			*what = "too many fields";
			return -1;
		}
		fields[nfields++] = view_make(line.ptr + i, end - i);
		i = end + 1;
	}
	if (nfields < F_HEADERS) {
		*what = "too few fields (want at least 9, TAB-separated)";
		return -1;
	}
	for (int f = 0; f < F_HEADERS; f++) {
		int err;
		if (f == F_TIME)
			err = parse_time(fields[f], &now);
		else if (f == F_BODY)
			err = decode_hex(fields[f], &text[f]);
		else
			err = decode_cstr(fields[f], &text[f]);
		if (err) {
			*what = field_errors[f];
			goto out;
		}
	}

	nheaders = nfields - F_HEADERS;
	names = xcalloc(nheaders, sizeof(*names));
	values = xcalloc(nheaders, sizeof(*values));
	headers = xcalloc(nheaders, sizeof(*headers));
	for (size_t i = 0; i < nheaders; i++) {
		struct view h = fields[F_HEADERS + i];
		const char *colon = memchr(h.ptr, ':', h.len);
		size_t nlen = colon ? (size_t)(colon - h.ptr) : h.len;
		if (!colon ||
		    decode_cstr(view_make(h.ptr, nlen), &names[i]) ||
		    decode_cstr(view_make(colon + 1, h.len - nlen - 1), &values[i])) {
			*what = "bad header (want NAMEHEX:VALUEHEX, no NUL)";
			goto out;
		}
		headers[i].name = buf_cstr(&names[i]);
		headers[i].value = buf_cstr(&values[i]);
	}

	struct aws_credentials creds = {
		.access_key_id = (char *)buf_cstr(&text[F_AKID]),
		.secret_access_key = (char *)buf_cstr(&text[F_SECRET]),
	};
	struct sigv4_request req = {
		.method = buf_cstr(&text[F_METHOD]),
		.path = buf_cstr(&text[F_PATH]),
		.headers = headers,
		.header_count = nheaders,
		.body = buf_view(&text[F_BODY]),
	};
	struct sigv4_params params = {
		.region = buf_cstr(&text[F_REGION]),
		.service = buf_cstr(&text[F_SERVICE]),
		.credentials = &creds,
		.now = now,
	};
	sigv4_authorization(&req, &params, out);
	if (stages) {
		struct buf creq = BUF_INIT, signed_headers = BUF_INIT;
		struct buf scope = BUF_INIT, sts = BUF_INIT;
		char amz_date[17], date[9];

		sigv4_format_time(now, amz_date, date);
		sigv4_canonical_request(&req, &creq, &signed_headers);
		buf_appendf(&scope, "%s/%s/%s/aws4_request", date,
			    params.region, params.service);
		sigv4_string_to_sign(amz_date, buf_cstr(&scope),
				     buf_view(&creq), &sts);
		buf_appendc(out, '\t');
		buf_append_hex(out, (const unsigned char *)buf_cstr(&creq), creq.len);
		buf_appendc(out, '\t');
		buf_append_hex(out, (const unsigned char *)buf_cstr(&sts), sts.len);
		buf_release(&creq);
		buf_release(&signed_headers);
		buf_release(&scope);
		buf_release(&sts);
	}
	ret = 0;
out:
	for (size_t i = 0; i < nheaders && names; i++) {
		buf_release(&names[i]);
		buf_release(&values[i]);
	}
	free(names);
	free(values);
	free(headers);
	buf_release_secret(&text[F_SECRET]);
	for (int f = 0; f < F_HEADERS; f++)
		buf_release(&text[f]);
	return ret;
}

int main(int argc, char **argv)
{
	bool stages = false;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	struct buf out = BUF_INIT;

	if (argc == 2 && !strcmp(argv[1], "--stages")) {
		stages = true;
	} else if (argc != 1) {
		fprintf(stderr, "usage: sigv4_sign [--stages] < requests\n");
		return 2;
	}
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		struct view v = view_make(line, (size_t)n);
		const char *what = NULL;

		lineno++;
		while (v.len && (v.ptr[v.len - 1] == '\n' || v.ptr[v.len - 1] == '\r'))
			v.len--;
		if (!v.len || v.ptr[0] == '#')
			continue;
		buf_reset(&out);
		if (sign_line(v, stages, &out, &what)) {
			fprintf(stderr, "sigv4_sign: line %lu: %s\n", lineno, what);
			free(line);
			buf_release(&out);
			return 1;
		}
		buf_appendc(&out, '\n');
		fwrite(out.ptr, 1, out.len, stdout);
	}
	free(line);
	buf_release(&out);
	if (fflush(stdout) || ferror(stdout)) {
		perror("sigv4_sign: stdout");
		return 1;
	}
	return 0;
}
