/* One plain HTTP request, for the notifier's webhook (cli/cmd_notify.c).
 *
 * common/octopus is the one module that uses libcurl, so a caller that must talk to another
 * HTTP server (a Slack or Teams webhook) gets it here rather than a second libcurl user: the
 * retry-or-fail decision stays the Octopus client's one table (octo_classify), the reply lands
 * in a capped buffer, and the Retry-After parser and backoff are the same. What is NOT shared
 * is the Octopus client's queue, API-key header and resource decoding: a webhook is one blocking
 * request at a time, with its own bearer token.
 *
 * The token goes into the Authorization header only: never into the URL, a log line or errstr.
 * The URL may be a secret too (a Slack incoming webhook): errors name the host only. */
#ifndef OF_HTTPC_H
#define OF_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* One request. Every pointer is borrowed for the call. */
typedef struct of_http_request {
    const char *method; /* "POST" or "PUT" */
    const char *url;
    const char *bearer;  /* NULL: no Authorization header */
    const char *body;    /* JSON, sent as application/json; NULL = empty */
    int64_t timeout_ms;  /* the whole attempt */
    size_t max_response; /* reply bodies larger than this are an error */
} of_http_request;

/* What to do after an attempt: the one classification (octo_classify). */
typedef enum of_http_action {
    OF_HTTP_OK = 0, /* 2xx */
    OF_HTTP_RETRY,  /* network error, 408, 429, 500, 502, 503, 504: retry after a backoff */
    OF_HTTP_FAIL,   /* anything else: give up now, with the server's answer */
} of_http_action;

/* The outcome of one attempt. body is owned (free with of_http_result_clear). */
typedef struct of_http_result {
    of_http_action action;
    long status;            /* HTTP status; 0 = no reply */
    int64_t retry_after_ms; /* the server's Retry-After, -1 when absent */
    char *body;             /* the reply, NUL-terminated (NULL when none or too large) */
    size_t body_len;
    char reason[256]; /* why not OK: "HTTP 503 Service Unavailable", "cannot connect (...)" */
} of_http_result;

/* Sends one attempt and classifies it into *res (which the caller clears with
 * of_http_result_clear whatever happened). Returns OF_OK when the attempt could be made (its
 * verdict is in res->action), OF_ERR_NOMEM or OF_ERR_INVALID (bad arguments) otherwise.
 * Needs of_octo_global_init. Blocks up to req->timeout_ms. */
OF_MUST_CHECK of_err of_http_send(const of_http_request *req, of_http_result *res, char *errstr,
                                  size_t errstr_size);

void of_http_result_clear(of_http_result *res);

/* The wait before retry number attempt (0 = first retry): capped exponential backoff with
 * jitter (base 250 ms, cap 10 s, as the Octopus client), never less than retry_after_ms when
 * that is >= 0. rnd: the caller's PRNG state (of_rand_next). */
int64_t of_http_retry_delay(int attempt, int64_t retry_after_ms, uint64_t *rnd);

#endif
