/* One plain HTTP request through libcurl's easy interface (httpc.h). */
#include "httpc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "octopus.h"
#include "octopus_internal.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    of_buf *b = userp;
    size_t n = size * nmemb;
    return of_buf_append(b, data, n) == OF_OK ? n : 0; /* 0 stops curl: too large */
}

/* "https://host[:port]" of url, for messages: the rest may be a secret. */
static void host_of(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    snprintf(out, n, "%.*s", (int)(len > 100 ? 100 : len), p);
}

static struct curl_slist *headers(const char *bearer)
{
    struct curl_slist *l = NULL, *t;
    static const char *const fixed[] = {"Content-Type: application/json; charset=utf-8",
                                        "Accept: application/json", "Expect:", NULL};
    for (size_t i = 0; fixed[i]; i++) {
        if (!(t = curl_slist_append(l, fixed[i]))) goto fail;
        l = t;
    }
    if (bearer) {
        of_buf h;
        of_buf_init(&h, 8192);
        bool ok = of_buf_printf(&h, "Authorization: Bearer %s", bearer) == OF_OK &&
                  (t = curl_slist_append(l, h.data)) != NULL;
        if (h.data) explicit_bzero(h.data, h.len);
        of_buf_clear(&h);
        if (!ok) goto fail;
        l = t;
    }
    return l;
fail:
    for (struct curl_slist *s = l; s; s = s->next)
        explicit_bzero(s->data, strlen(s->data));
    curl_slist_free_all(l);
    return NULL;
}

of_err of_http_send(const of_http_request *req, of_http_result *res, char *errstr,
                    size_t errstr_size)
{
    memset(res, 0, sizeof *res);
    res->retry_after_ms = -1;
    if (!req->url || !req->method || req->timeout_ms < 1 || req->max_response < 1)
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "bad HTTP request arguments");
    if (req->bearer)
        for (const unsigned char *p = (const unsigned char *)req->bearer; *p; p++)
            if (*p <= ' ' || *p >= 0x7f) /* could split or inject a header line */
                return of_seterr(errstr, errstr_size, OF_ERR_INVALID,
                                 "the token contains a space, control or non-ASCII character");
    CURL *e = curl_easy_init();
    struct curl_slist *hdr = headers(req->bearer);
    if (!e || !hdr) {
        curl_easy_cleanup(e);
        curl_slist_free_all(hdr);
        return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    of_buf body;
    of_buf_init(&body, req->max_response);
    char curl_err[CURL_ERROR_SIZE] = "";
    const char *payload = req->body ? req->body : "";
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "octofleet/" OF_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* a redirect could carry the token elsewhere */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    CURLcode code = curl_easy_perform(e);
    long status = 0, reqsize = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &reqsize);
    bool overflow = code == CURLE_WRITE_ERROR || code == CURLE_FILESIZE_EXCEEDED;
    octo_attempt a = {(int)code, status, reqsize > 0, overflow};
    octo_verdict v = octo_classify(&a);
    res->status = code == CURLE_OK ? status : 0;
    res->action = v.action == OCTO_OK      ? OF_HTTP_OK
                  : v.action == OCTO_RETRY ? OF_HTTP_RETRY
                                           : OF_HTTP_FAIL;
    struct curl_header *h;
    if (code == CURLE_OK &&
        curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
        res->retry_after_ms = octo_parse_retry_after(h->value, of_wall_ms());
    char host[128];
    host_of(req->url, host, sizeof host);
    if (res->action != OF_HTTP_OK) {
        if (code != CURLE_OK || overflow)
            snprintf(res->reason, sizeof res->reason, "%s %s: %s", req->method, host,
                     overflow ? "reply larger than the cap" : v.reason);
        else
            snprintf(res->reason, sizeof res->reason, "%s %s: HTTP %ld", req->method, host, status);
    }
    if (!overflow) {
        res->body_len = body.len;
        res->body = of_buf_detach(&body);
    }
    of_buf_clear(&body);
    for (struct curl_slist *s = hdr; s; s = s->next)
        explicit_bzero(s->data, strlen(s->data));
    curl_slist_free_all(hdr);
    curl_easy_cleanup(e);
    return OF_OK;
}

void of_http_result_clear(of_http_result *res)
{
    free(res->body);
    memset(res, 0, sizeof *res);
    res->retry_after_ms = -1;
}

int64_t of_http_retry_delay(int attempt, int64_t retry_after_ms, uint64_t *rnd)
{
    return octo_retry_delay(attempt, retry_after_ms, OF_OCTO_DEFAULT_RETRY_BASE_MS,
                            OF_OCTO_DEFAULT_RETRY_CAP_MS, rnd);
}
