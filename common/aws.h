/*
 * aws.h - the one AWS client every function uses.
 *
 * It knows three wire protocols: EC2's and the Query protocol (form-encoded
 * POST, XML answers; EC2 and Auto Scaling) and JSON 1.1 (SSM). Every request
 * is signed with SigV4, retried the way the AWS SDKs' "standard" mode does
 * (exponential backoff with full jitter on throttling, 5xx and transport
 * errors, never on other 4xx; within the mode's retry quota), and bounded
 * by the invocation's deadline minus a safety margin, so a function reports
 * a timeout itself instead of being killed by Lambda. Pagination (NextToken)
 * is handled here, once, for both kinds of protocol.
 *
 * Endpoints follow the SDKs' convention: AWS_ENDPOINT_URL_<SERVICE> (EC2,
 * AUTO_SCALING, SSM), else AWS_ENDPOINT_URL, else
 * https://<service>.<region>.<the DNS suffix of the region's partition>
 * (see aws_region_dns_suffix()).
 */
#ifndef AWS_H
#define AWS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "cJSON.h"
#include "err.h"
#include "http.h"
#include "sigv4.h"
#include "xml.h"

enum aws_protocol { AWS_PROTOCOL_EC2, AWS_PROTOCOL_QUERY, AWS_PROTOCOL_JSON };

struct aws_service {
	const char *signing_name;	/* credential scope: "ec2" */
	const char *endpoint_prefix;	/* host name: "ec2" in ec2.<region>.amazonaws.com */
	const char *env_suffix;		/* AWS_ENDPOINT_URL_<env_suffix> */
	enum aws_protocol protocol;
	const char *api_version;	/* Query protocols: Version=... */
	const char *json_target_prefix;	/* JSON: X-Amz-Target: <prefix>.<Op> */
};

extern const struct aws_service aws_service_ec2;
extern const struct aws_service aws_service_autoscaling;
extern const struct aws_service aws_service_ssm;

/* What went wrong with a call, for the caller to inspect and report. */
struct aws_error {
	int err;		/* the enum err the call returned */
	long http_status;	/* 0 when no response came back */
	char code[96];		/* AWS error code, e.g. "IncorrectInstanceState"; "" if none */
	char message[512];	/* one line; never contains secrets */
};

/* Formats "Code: message" (or just the message) into out. */
void aws_error_describe(const struct aws_error *e, struct buf *out);
bool aws_error_is(const struct aws_error *e, const char *code);

/* Request parameters of the Query protocols, in order. */
struct aws_param {
	char *key;
	char *value;
};
struct aws_params {
	struct aws_param *items;
	size_t count;
	size_t cap;
};
#define AWS_PARAMS_INIT { NULL, 0, 0 }

void aws_params_add(struct aws_params *p, const char *key, const char *value);
/* Adds a parameter whose key is printf-formatted: ("InstanceId.%zu", i + 1). */
void aws_params_addf(struct aws_params *p, const char *value, const char *key_fmt, ...)
	__attribute__((format(printf, 3, 4)));
void aws_params_release(struct aws_params *p);

/* Injected clock, sleep and randomness (tests control them). */
struct aws_clock {
	int64_t (*now_ms)(void *ctx);
	void (*sleep_ms)(void *ctx, int64_t ms);
	double (*random)(void *ctx);	/* uniform in [0, 1) */
	void *ctx;
};

/* Wall-clock time, nanosleep and arc4random: what production uses. */
const struct aws_clock *aws_clock_real(void);

struct aws_client_options {
	const struct aws_credentials *credentials;	/* copied */
	const char *region;
	int max_attempts;		/* >= 1 */
	int64_t deadline_margin_ms;	/* kept free before the deadline */
	/* endpoint overrides: AWS_ENDPOINT_URL and per service; NULL = default */
	const char *endpoint_url;
	const char *endpoint_url_ec2;
	const char *endpoint_url_autoscaling;
	const char *endpoint_url_ssm;
	http_transport_fn transport;	/* NULL: libcurl */
	void *transport_ctx;
	const struct aws_clock *clock;	/* NULL: real time */
	const char *user_agent;		/* NULL: "devcloud" */
};

#define AWS_DEFAULT_MAX_ATTEMPTS 3
#define AWS_DEFAULT_DEADLINE_MARGIN_MS 1500
#define AWS_MAX_BACKOFF_MS 20000

struct aws_client;

struct aws_client *aws_client_new(const struct aws_client_options *opts);
/*
 * Builds a client from the environment Lambda provides: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (else
 * AWS_DEFAULT_REGION), AWS_MAX_ATTEMPTS and the AWS_ENDPOINT_URL* settings.
 * On a bad or missing setting returns ERR_CONFIG with a message naming it.
 */
int aws_client_from_env(struct aws_client **out, struct buf *errmsg) WARN_UNUSED;
void aws_client_free(struct aws_client *c);

/* Absolute deadline (Unix ms) for every later call; 0 = none. */
void aws_client_set_deadline(struct aws_client *c, int64_t deadline_ms);
/* Milliseconds left before deadline minus margin; INT64_MAX without deadline. */
int64_t aws_client_time_left_ms(const struct aws_client *c);
const char *aws_client_region(const struct aws_client *c);

/*
 * The DNS suffix of a region's partition, as in botocore's endpoints.json
 * (every one of them names hosts <service>.<region>.<suffix>):
 *   aws-cn      cn-*         amazonaws.com.cn
 *   aws-iso     us-iso-*     c2s.ic.gov
 *   aws-iso-b   us-isob-*    sc2s.sgov.gov
 *   aws-us-gov  us-gov-*     amazonaws.com
 *   aws         any other    amazonaws.com (as the SDKs do for a new region)
 * NULL for the other isolated and sovereign partitions (us-isof-*,
 * eu-isoe-*, eusc-*), whose endpoints are not built in: set
 * AWS_ENDPOINT_URL there (aws_client_from_env() refuses such a region
 * without it).
 */
const char *aws_region_dns_suffix(const char *region);
/* The endpoint URL used for a service. */
void aws_client_endpoint(const struct aws_client *c, const struct aws_service *svc,
			 struct buf *url);
/* Sleeps on the client's clock (for polling loops). */
void aws_client_sleep_ms(struct aws_client *c, int64_t ms);
int64_t aws_client_now_ms(const struct aws_client *c);
/*
 * Tokens left in the client's retry quota (the standard retry mode's token
 * bucket: 500 to start, 5 a retry, 10 a retry after a timeout or a
 * connection error; a call that fails and cannot pay for its retry fails
 * at once).
 */
int aws_client_retry_quota(const struct aws_client *c);

/*
 * One call of an EC2 or Query action. On success *result is the parsed
 * response document (free with xml_free()). On failure returns the error and
 * fills *error (also with the AWS error code when the service answered).
 */
int aws_query(struct aws_client *c, const struct aws_service *svc, const char *action,
	      const struct aws_params *params, struct xml_node **result,
	      struct aws_error *error) WARN_UNUSED;

/*
 * Every page of an EC2 or Query action: calls `on_page` with each response
 * document, adding NextToken until the service gives none. Any failure, of a
 * call or of on_page (non-zero return), stops the listing and is returned:
 * callers get either every page or an error, never a silent partial list.
 */
typedef int (*aws_xml_page_fn)(void *ctx, const struct xml_node *root);
int aws_query_all(struct aws_client *c, const struct aws_service *svc, const char *action,
		  const struct aws_params *params, aws_xml_page_fn on_page, void *ctx,
		  struct aws_error *error) WARN_UNUSED;

/*
 * Every page of an EC2 or Query listing, parsed as it streams in: each
 * element at one of `paths` (below the response element:
 * "reservationSet/item/instancesSet/item") goes to on_item() as soon as it
 * has arrived, and is freed after; nothing holds a whole page (see
 * struct xml_stream). on_page() then gets the page without its items
 * (nextToken, the containers), to check it is the document expected.
 *
 * An attempt at a page can fail after some of its items were delivered
 * (cut, garbled, reset): on_attempt() is called before every attempt, with
 * retry true when the previous attempt at the same page may have
 * delivered items, which the caller then drops. Any failure, of a call, of
 * on_item() or of on_page() (non-zero return), ends the listing with that
 * error: callers then drop everything they were given, and never act on
 * a partial list.
 */
struct aws_xml_items {
	const char *const *paths;	/* NULL-terminated */
	const char *const *drop_paths;	/* NULL-terminated, or NULL */
	int (*on_item)(void *ctx, const struct xml_node *item);
	int (*on_page)(void *ctx, const struct xml_node *skeleton);	/* may be NULL */
	void (*on_attempt)(void *ctx, bool retry);
	void *ctx;
};
int aws_query_items(struct aws_client *c, const struct aws_service *svc, const char *action,
		    const struct aws_params *params, const struct aws_xml_items *items,
		    struct aws_error *error) WARN_UNUSED;

/*
 * A list a streamed listing fills, page after page (aws_query_listing()):
 * each item is added as it arrives, and the items of a page whose attempt
 * failed half-way are dropped (down to the length the list had when the
 * page began) before the next attempt: a list never holds part of a page.
 */
struct aws_listing {
	void *list;				/* an ec2_*_list, asg_*_list, ... */
	size_t *(*count)(void *list);		/* the list's length */
	void (*truncate)(void *list, size_t n);	/* drops its items from n on */
	int (*add)(void *list, const struct xml_node *item);
	const char *root;			/* every page's document element */
	const char *container;			/* a path every page has; NULL: none */
	size_t mark;				/* (the length when the page began) */
};

/*
 * One page of `action` streamed into `l`: `paths` name the items (as in
 * struct aws_xml_items), drop_paths what is freed unread. A page whose
 * document element or container is not the one expected is ERR_PARSE.
 */
int aws_query_listing(struct aws_client *c, const struct aws_service *svc, const char *action,
		      const struct aws_params *params, const char *const *paths,
		      const char *const *drop_paths, struct aws_listing *l,
		      struct aws_error *error) WARN_UNUSED;

/* One call of a JSON 1.1 operation; *result is owned by the caller. */
int aws_json(struct aws_client *c, const struct aws_service *svc, const char *operation,
	     const cJSON *request, cJSON **result, struct aws_error *error) WARN_UNUSED;

/* Every page of a JSON 1.1 operation (request is not modified). */
typedef int (*aws_json_page_fn)(void *ctx, const cJSON *page);
int aws_json_all(struct aws_client *c, const struct aws_service *svc, const char *operation,
		 const cJSON *request, aws_json_page_fn on_page, void *ctx,
		 struct aws_error *error) WARN_UNUSED;

/* Appends the --help section for the settings every function shares. */
void aws_config_help(struct buf *out);

/* True for the error codes AWS uses for throttling. */
bool aws_is_throttling_code(const char *code);

#endif
