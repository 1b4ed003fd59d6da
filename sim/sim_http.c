/* The simulator's HTTP side: the only module that uses libmicrohttpd.
 *
 * One thread per connection (MHD's internal polling thread accepts), so a
 * fault that sleeps (latency, a slow body) holds up only its own
 * connection. Request bodies are capped (413). Faults are applied here:
 * status replies with an optional Retry-After, dropped connections,
 * latency, dribbled bodies, oversized bodies and bodies that never end (the
 * paging and task faults are applied by the handlers, via sim_req.fault).
 * Also ofsim_start/stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "sim_int.h"

typedef struct http_state {
    struct MHD_Daemon *daemon;
    char *cert, *key; /* PEM text, kept for the daemon's lifetime */
} http_state;

typedef struct conn_ctx {
    of_buf body;
    bool too_large;
} conn_ctx;

/* ---- interruptible sleep ------------------------------------------------------------ */

/* Sleeps ms (outside mu). Returns true if the simulator is stopping. */
static bool sim_sleep(ofsim *sim, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + ms * 1000000;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&sim->stop_mu);
    while (!sim->stopping)
        if (pthread_cond_timedwait(&sim->stop_cv, &sim->stop_mu, &ts) == ETIMEDOUT) break;
    bool stopping = sim->stopping;
    pthread_mutex_unlock(&sim->stop_mu);
    return stopping;
}

/* ---- generated bodies (slow and/or oversized) ----------------------------------------- */

typedef struct gen_body {
    ofsim *sim;
    char *data; /* owned; NULL = padding document of len bytes */
    uint64_t len;
    uint64_t chunk;   /* bytes per dribble step */
    int64_t delay_ms; /* sleep before each step; 0 = none */
    bool endless;     /* the padding document's end never comes */
} gen_body;

static bool sim_stopping(ofsim *sim)
{
    pthread_mutex_lock(&sim->stop_mu);
    bool stopping = sim->stopping;
    pthread_mutex_unlock(&sim->stop_mu);
    return stopping;
}

static const char pad_prefix[] = "{\"ItemType\":\"Padding\",\"Items\":[],\"Padding\":\"";
static const char pad_suffix[] = "\"}";

static char pad_byte(uint64_t pos, uint64_t len)
{
    uint64_t pre = sizeof pad_prefix - 1, suf = sizeof pad_suffix - 1;
    if (pos < pre) return pad_prefix[pos];
    if (pos >= len - suf) return pad_suffix[pos - (len - suf)];
    return 'x';
}

static ssize_t gen_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    gen_body *g = cls;
    if (g->endless) { /* the client's cap or timeout has to end it (or the simulator stopping) */
        if (g->delay_ms > 0 ? sim_sleep(g->sim, g->delay_ms) : sim_stopping(g->sim))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        size_t n = g->chunk && g->chunk < max ? (size_t)g->chunk : max;
        uint64_t pre = sizeof pad_prefix - 1;
        for (size_t i = 0; i < n; i++)
            buf[i] = pos + i < pre ? pad_prefix[pos + i] : 'x';
        return (ssize_t)n;
    }
    if (pos >= g->len) return MHD_CONTENT_READER_END_OF_STREAM;
    if (g->delay_ms > 0 && sim_sleep(g->sim, g->delay_ms)) return MHD_CONTENT_READER_END_WITH_ERROR;
    uint64_t n = g->len - pos;
    if (n > max) n = max;
    if (g->chunk && n > g->chunk) n = g->chunk;
    if (g->data) {
        memcpy(buf, g->data + pos, (size_t)n);
    } else {
        for (uint64_t i = 0; i < n; i++)
            buf[i] = pad_byte(pos + i, g->len);
    }
    return (ssize_t)n;
}

static void gen_free(void *cls)
{
    gen_body *g = cls;
    free(g->data);
    free(g);
}

/* ---- requests ------------------------------------------------------------------------ */

typedef struct arg_collect {
    sim_qarg *args;
    int n, cap;
} arg_collect;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    arg_collect *a = cls;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        sim_qarg *p = realloc(a->args, (size_t)a->cap * sizeof *p);
        OF_ASSERT(p);
        a->args = p;
    }
    sim_qarg *arg = &a->args[a->n++];
    arg->key = sim_strdup(key);
    arg->value = sim_strdup(value ? value : "");
    sim_pct_decode(arg->key, true);
    sim_pct_decode(arg->value, true);
    return MHD_YES;
}

/* We unescape ourselves (see the no-op unescape callback below), so an
 * encoded '/' in a name stays inside its path segment. */
static size_t unescape_noop(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s);
}

static bool is_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

static void split_path(sim_req *r, char *path, char **segs, int max)
{
    r->seg = segs;
    r->n_seg = 0;
    for (char *p = path; *p && r->n_seg < max;) {
        while (*p == '/')
            p++;
        if (!*p) break;
        char *slash = strchr(p, '/');
        if (slash) *slash = '\0';
        sim_pct_decode(p, false);
        segs[r->n_seg++] = p;
        if (!slash) break;
        p = slash + 1;
    }
}

static enum MHD_Result queue_body(struct MHD_Connection *c, ofsim *sim, int status,
                                  const char *content_type, char *data, uint64_t len,
                                  int64_t slow_ms, int retry_after)
{
    struct MHD_Response *resp;
    if (slow_ms > 0 || !data) {
        gen_body *g = calloc(1, sizeof *g);
        OF_ASSERT(g);
        g->sim = sim;
        g->data = data;
        g->len = len;
        if (slow_ms > 0) { /* about ten steps spread over slow_ms */
            g->chunk = len / 10 + 1;
            g->delay_ms = slow_ms / 10 > 0 ? slow_ms / 10 : 1;
        }
        resp = MHD_create_response_from_callback(len, 64 * 1024, gen_read, g, gen_free);
        if (!resp) gen_free(g);
    } else {
        resp = MHD_create_response_from_buffer((size_t)len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp) free(data);
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (retry_after >= 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* 200 with a chunked body that never ends: as fast as the client reads, or 16 bytes every
 * slow_ms. */
static enum MHD_Result queue_endless(struct MHD_Connection *c, ofsim *sim, int64_t slow_ms)
{
    gen_body *g = calloc(1, sizeof *g);
    OF_ASSERT(g);
    g->sim = sim;
    g->endless = true;
    g->chunk = slow_ms > 0 ? 16 : 0;
    g->delay_ms = slow_ms;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, gen_read, g, gen_free);
    if (!resp) {
        gen_free(g);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void free_args(sim_req *r)
{
    for (int i = 0; i < r->n_args; i++)
        free(r->args[i].key), free(r->args[i].value);
    free(r->args);
}

static enum MHD_Result handle(ofsim *sim, struct MHD_Connection *c, const char *url,
                              const char *method, conn_ctx *ctx)
{
    sim_req r = {.sim = sim, .method = method, .raw_path = url, .retry_after = -1};
    char *path = sim_strdup(url);
    char *segs[32];
    split_path(&r, path, segs, 32);
    arg_collect args = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
    r.args = args.args;
    r.n_args = args.n;
    r.api_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Octopus-ApiKey");
    if (!r.api_key) r.api_key = sim_arg(&r, "apikey");
    r.loopback = is_loopback(c);
    r.body = ctx->body.data;
    r.body_len = ctx->body.len;

    bool api = r.n_seg > 0 && strcasecmp(r.seg[0], "api") == 0;
    bool admin = r.n_seg > 0 && strcmp(r.seg[0], "sim") == 0;
    sim_fault fault;
    bool faulted = false;

    pthread_mutex_lock(&sim->mu);
    if (api)
        sim_api_route(&r);
    else if (admin)
        sim_admin_route(&r);
    else
        snprintf(r.route, sizeof r.route, "%s (unknown)", method);
    sim_stats_count(sim, r.route);
    if (api) faulted = sim_fault_take(sim, &r, &fault);
    pthread_mutex_unlock(&sim->mu);

    bool after = faulted && fault.after;
    /* With after, the request runs first and its answer waits: a create that took effect at
     * once but whose reply is slow. */
    if (faulted && !after && fault.latency_ms > 0 && sim_sleep(sim, fault.latency_ms)) {
        sim_fault_clear(&fault);
        faulted = false;
        fault.drop = true; /* stopping: just close */
    }
    bool replace = faulted && (fault.drop || fault.status || fault.body_bytes || fault.body ||
                               fault.endless_body);
    r.fault = faulted ? &fault : NULL;
    if (ctx->too_large) {
        sim_reply_error(&r, 413, "The request body exceeds the simulator's 1 MiB limit.", NULL);
    } else if (!replace || after) {
        pthread_mutex_lock(&sim->mu);
        if (api)
            sim_api_dispatch(&r);
        else if (admin)
            r.handler(&r);
        else
            sim_reply_error(&r, 404, "Not found: the simulator serves /api/ and /sim/.", NULL);
        pthread_mutex_unlock(&sim->mu);
    }
    if (after && fault.latency_ms > 0 && sim_sleep(sim, fault.latency_ms)) {
        replace = true;
        fault.drop = true; /* stopping: just close */
    }

    enum MHD_Result ret;
    if (replace && !fault.drop && fault.endless_body) {
        pthread_mutex_lock(&sim->mu);
        sim_stats_status(sim, 200);
        pthread_mutex_unlock(&sim->mu);
        ret = queue_endless(c, sim, fault.slow_body_ms);
    } else if (replace && fault.drop) {
        ret = MHD_NO; /* MHD closes the connection without a response */
        pthread_mutex_lock(&sim->mu);
        sim_stats_status(sim, 0);
        pthread_mutex_unlock(&sim->mu);
    } else {
        int status = r.status;
        char *body = r.resp;
        uint64_t len = body ? strlen(body) : 0;
        const char *ctype = r.content_type ? r.content_type : "application/json; charset=utf-8";
        int retry = r.retry_after;
        if (replace) {
            free(body);
            body = NULL;
            status = fault.status ? fault.status : 200;
            ctype = "application/json; charset=utf-8";
            retry = fault.retry_after;
            if (fault.body) {
                body = sim_strdup(fault.body);
                len = strlen(body);
            } else if (fault.body_bytes > 0) {
                len = (uint64_t)fault.body_bytes;
                if (len < sizeof pad_prefix + sizeof pad_suffix)
                    len = sizeof pad_prefix + sizeof pad_suffix;
            } else {
                json_t *j =
                    json_pack("{s:o}", "ErrorMessage",
                              fault.error ? json_string(fault.error)
                                          : json_sprintf("Simulated fault: HTTP %d", fault.status));
                body = json_dumps(j, JSON_COMPACT);
                json_decref(j);
                len = strlen(body);
            }
        }
        r.resp = NULL;
        if (!sim->quiet)
            of_debug("octopus-sim request method=%s route=\"%s\" status=%d%s", method, r.route,
                     status, faulted ? " fault=yes" : "");
        pthread_mutex_lock(&sim->mu);
        sim_stats_status(sim, status);
        pthread_mutex_unlock(&sim->mu);
        ret = queue_body(c, sim, status, ctype, body, len, faulted ? fault.slow_body_ms : 0, retry);
    }
    if (faulted) sim_fault_clear(&fault);
    free(r.resp);
    free_args(&r);
    free(path);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    ofsim *sim = cls;
    conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx) return MHD_NO;
        of_buf_init(&ctx->body, SIM_MAX_BODY);
        *con_cls = ctx;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > SIM_MAX_BODY) ctx->too_large = true;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!ctx->too_large && of_buf_append(&ctx->body, upload_data, *upload_data_size) != OF_OK)
            ctx->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return handle(sim, c, url, method, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    conn_ctx *ctx = *con_cls;
    if (!ctx) return;
    of_buf_clear(&ctx->body);
    free(ctx);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* debug: TLS refusals in tests are expected */
    of_log_lib(OF_LOG_DEBUG, "octopus-sim libmicrohttpd", fmt, ap);
}

/* ---- start / stop --------------------------------------------------------------------- */

static of_err read_file(const char *path, char **out, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "cannot open %s: %s", path,
                         strerror(errno));
    of_buf b;
    of_buf_init(&b, 1024 * 1024);
    char chunk[4096];
    size_t n;
    of_err rc = OF_OK;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = of_buf_append(&b, chunk, n);
    fclose(f);
    if (rc) {
        of_buf_clear(&b);
        return of_seterr(errstr, errstr_size, rc, "%s: too large or unreadable", path);
    }
    *out = of_buf_detach(&b);
    return *out ? OF_OK : OF_ERR_NOMEM;
}

static of_err http_start(ofsim *sim, const ofsim_opts *o, char *errstr, size_t errstr_size)
{
    http_state *h = calloc(1, sizeof *h);
    if (!h) return OF_ERR_NOMEM;
    sim->http = h;
    const char *addr = o->bind_addr ? o->bind_addr : "127.0.0.1";
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    bool v6 = strchr(addr, ':') != NULL;
    memset(&in4, 0, sizeof in4);
    memset(&in6, 0, sizeof in6);
    if (v6) {
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(o->port);
        if (inet_pton(AF_INET6, addr, &in6.sin6_addr) != 1)
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "bad bind address %s", addr);
        sa = (struct sockaddr *)(void *)&in6;
        flags |= MHD_USE_IPv6;
    } else {
        in4.sin_family = AF_INET;
        in4.sin_port = htons(o->port);
        if (inet_pton(AF_INET, addr, &in4.sin_addr) != 1)
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "bad bind address %s", addr);
        sa = (struct sockaddr *)(void *)&in4;
    }
    bool tls = o->tls_cert_path && o->tls_key_path;
    if ((o->tls_cert_path != NULL) != (o->tls_key_path != NULL))
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "TLS needs both a certificate and a key");
    if (tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                             "this libmicrohttpd was built without TLS");
        of_err rc = read_file(o->tls_cert_path, &h->cert, errstr, errstr_size);
        if (!rc) rc = read_file(o->tls_key_path, &h->key, errstr, errstr_size);
        if (rc) return rc;
        flags |= MHD_USE_TLS;
    }
    errno = 0;
    h->daemon = MHD_start_daemon(
        flags, o->port, NULL, NULL, on_request, sim, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, sim, MHD_OPTION_UNESCAPE_CALLBACK, unescape_noop,
        NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(512 * 1024),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, h->key, MHD_OPTION_HTTPS_MEM_CERT, h->cert,
        MHD_OPTION_END);
    if (!h->daemon)
        return of_seterr(errstr, errstr_size, OF_ERR_IO, "cannot listen on %s port %u%s%s", addr,
                         (unsigned)o->port, errno ? ": " : "", errno ? strerror(errno) : "");
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    sim->port = di ? di->port : o->port;
    const char *host = addr;
    if (strcmp(addr, "0.0.0.0") == 0) host = "127.0.0.1";
    if (strcmp(addr, "::") == 0) host = "::1";
    snprintf(sim->url, sizeof sim->url, "%s://%s%s%s:%u", tls ? "https" : "http", v6 ? "[" : "",
             host, v6 ? "]" : "", (unsigned)sim->port);
    return OF_OK;
}

static void http_stop(ofsim *sim)
{
    http_state *h = sim->http;
    if (!h) return;
    if (h->daemon) MHD_stop_daemon(h->daemon);
    free(h->cert);
    free(h->key);
    free(h);
    sim->http = NULL;
}

static void add_keys(sim_world *w, const char *const *keys)
{
    int n = 0;
    while (keys && keys[n])
        n++;
    if (!n) return;
    sim_key *all = realloc(w->keys, (size_t)(w->n_keys + n) * sizeof *all);
    OF_ASSERT(all);
    w->keys = all;
    for (int i = 0; i < n; i++) {
        sim_key *k = &w->keys[w->n_keys++];
        memset(k, 0, sizeof *k);
        k->key = sim_strdup(keys[i]);
        k->all_spaces = true;
    }
}

of_err ofsim_start(const ofsim_opts *opts, ofsim **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!opts) return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "no options given");
    ofsim *sim = calloc(1, sizeof *sim);
    if (!sim) return OF_ERR_NOMEM;
    pthread_mutex_init(&sim->mu, NULL);
    pthread_mutex_init(&sim->stop_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sim->engine_cv, &ca);
    pthread_cond_init(&sim->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    sim->quiet = opts->quiet != 0;
    sim->text_cache_check = opts->check_texts != 0;

    of_err rc =
        sim_world_load(&sim->w, opts->fixture_path, opts->fixture_json, errstr, errstr_size);
    if (!rc) {
        add_keys(&sim->w, opts->api_keys);
        sim->start_cap = opts->task_cap > 0 ? opts->task_cap : sim->w.task_cap;
        sim->task_cap = sim->start_cap;
        sim->start_seed = opts->seed ? opts->seed : sim->w.seed ? sim->w.seed : 1;
        sim->rng = sim->start_seed;
        sim->rules = sim_rules_copy(sim->w.rules, sim->w.n_rules);
        sim->n_rules = sim->w.n_rules;
        sim->started_wall = sim->w.epoch;
        rc = sim_tasks_init(sim, errstr, errstr_size);
    }
    if (!rc) rc = sim_engine_start(sim);
    if (!rc) rc = http_start(sim, opts, errstr, errstr_size);
    if (rc) {
        ofsim_stop(sim);
        return rc;
    }
    of_info("octopus-sim listening url=%s spaces=%d projects=%d tenants=%d releases=%d "
            "history=%d task_cap=%d",
            sim->url, sim->w.n_spaces, sim->w.n_projects, sim->w.n_tenants, sim->w.n_releases,
            sim->w.n_hist, sim->task_cap);
    *out = sim;
    return OF_OK;
}

uint16_t ofsim_port(const ofsim *sim)
{
    return sim ? sim->port : 0;
}

const char *ofsim_url(const ofsim *sim)
{
    return sim ? sim->url : "";
}

void ofsim_stop(ofsim *sim)
{
    if (!sim) return;
    pthread_mutex_lock(&sim->stop_mu);
    sim->stopping = true;
    pthread_cond_broadcast(&sim->stop_cv);
    pthread_mutex_unlock(&sim->stop_mu);
    http_stop(sim);
    sim_engine_stop(sim);
    sim_tasks_clear(sim);
    sim_admin_clear(sim);
    sim_rules_free(sim->rules, sim->n_rules);
    sim_world_clear(&sim->w);
    pthread_cond_destroy(&sim->engine_cv);
    pthread_cond_destroy(&sim->stop_cv);
    pthread_mutex_destroy(&sim->mu);
    pthread_mutex_destroy(&sim->stop_mu);
    free(sim);
}
