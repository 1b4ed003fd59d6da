/* The daemons' HTTP endpoints on libmicrohttpd (httpd.h). We bind the listening socket
 * ourselves and hand it to MHD: so an address in use is reported with the system's words and
 * the bound port read with getsockname, whatever MHD version is installed. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostport.h"
#include "log.h"

struct of_httpd {
    struct MHD_Daemon *daemon;
    int fd;
    of_httpd_route *routes; /* paths owned */
    size_t n;
    uint16_t port;
    char addr[OF_HTTPD_ADDR_MAX];
};

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    of_log_lib(OF_LOG_DEBUG, "metrics http", fmt, ap);
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *ctype, char *body,
                             size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result plain(struct MHD_Connection *c, int status, const char *text)
{
    char *body = strdup(text);
    return reply(c, status, "text/plain; charset=utf-8", body, body ? strlen(body) : 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    of_httpd *h = cls;
    static int seen;
    if (*con_cls == NULL) { /* headers only so far: answer once the request is complete */
        *con_cls = &seen;
        return MHD_YES;
    }
    if (*upload_size) { /* a body nobody asked for: read and drop it */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return plain(c, 405, "method not allowed: GET only\n");
    for (size_t i = 0; i < h->n; i++) {
        if (strcmp(url, h->routes[i].path) != 0) continue;
        of_buf out;
        of_buf_init(&out, OF_HTTPD_MAX_REPLY);
        const char *ctype = "text/plain; charset=utf-8";
        int status = h->routes[i].fn(h->routes[i].opaque, &out, &ctype);
        size_t len = out.len;
        char *body = of_buf_detach(&out);
        if (!body) return plain(c, 500, "out of memory\n");
        return reply(c, status, ctype, body, len);
    }
    return plain(c, 404, "not found\n");
}

/* Binds host:port; *fd the listening socket. */
static of_err bind_listen(of_httpd *h, const char *where, char *errstr, size_t errstr_size)
{
    char host[256];
    uint16_t port = 0;
    of_err rc = of_hostport_parse(where, host, sizeof host, &port, errstr, errstr_size);
    if (rc) return rc;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, ps, &hints, &ai);
    if (gai != 0)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "%s: cannot resolve %s: %s", where,
                         host, gai_strerror(gai));
    int err = 0;
    for (struct addrinfo *a = ai; a && h->fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 32) != 0) {
            err = errno;
            close(fd);
            continue;
        }
        h->fd = fd;
    }
    freeaddrinfo(ai);
    if (h->fd < 0)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "%s: cannot listen: %s", where,
                         strerror(err ? err : EADDRNOTAVAIL));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    if (getsockname(h->fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
            h->port = ntohs(s6->sin6_port);
            snprintf(h->addr, sizeof h->addr, "[%s]:%u", ip, (unsigned)h->port);
        } else {
            const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
            h->port = ntohs(s4->sin_port);
            snprintf(h->addr, sizeof h->addr, "%s:%u", ip, (unsigned)h->port);
        }
    }
    return OF_OK;
}

of_err of_httpd_start(const char *listen, const of_httpd_route *routes, size_t n, of_httpd **out,
                      char *errstr, size_t errstr_size)
{
    *out = NULL;
    of_httpd *h = calloc(1, sizeof *h);
    if (!h) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    h->fd = -1;
    h->routes = calloc(n ? n : 1, sizeof *h->routes);
    of_err rc = h->routes ? OF_OK : of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        h->routes[i] = routes[i];
        h->routes[i].path = strdup(routes[i].path);
        h->n++;
        if (!h->routes[i].path) rc = of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    }
    if (!rc) rc = bind_listen(h, listen, errstr, errstr_size);
    if (!rc) {
        h->daemon = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL,
            on_request, h, MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)OF_HTTPD_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_EXTERNAL_LOGGER,
            mhd_log, NULL, MHD_OPTION_END);
        if (!h->daemon)
            rc = of_seterr(errstr, errstr_size, OF_ERR_IO, "%s: the HTTP server did not start",
                           listen);
    }
    if (rc) {
        of_httpd_stop(h);
        return rc;
    }
    h->fd = -1; /* the daemon's now: of_httpd_stop takes it back to close it */
    *out = h;
    return OF_OK;
}

const char *of_httpd_address(const of_httpd *h)
{
    return h ? h->addr : "";
}

uint16_t of_httpd_port(const of_httpd *h)
{
    return h ? h->port : 0;
}

void of_httpd_stop(of_httpd *h)
{
    if (!h) return;
    if (h->daemon) {
        /* Quiescing hands the listening socket back (MHD closes it otherwise): either way
         * it is closed exactly once. */
        MHD_socket s = MHD_quiesce_daemon(h->daemon);
        MHD_stop_daemon(h->daemon);
        if (s != MHD_INVALID_SOCKET) close(s);
    }
    if (h->fd >= 0) close(h->fd);
    for (size_t i = 0; i < h->n; i++)
        free((char *)(uintptr_t)h->routes[i].path);
    free(h->routes);
    free(h);
}
