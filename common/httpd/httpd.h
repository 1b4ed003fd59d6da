/* ofhttpd: a small HTTP server for the daemons' own endpoints (/metrics, /healthz, /readyz),
 * the only user of libmicrohttpd outside the simulator (sim/). The daemons hold no MHD call.
 *
 * It listens on one "host:port" (port 0 = any free port; of_httpd_address says which was
 * bound), serves GET and HEAD of a fixed set of paths from its own thread (MHD's internal
 * polling thread), answers 404 for any other path and 405 for any other method. Bounded: at
 * most OF_HTTPD_MAX_CONNECTIONS connections, a 10 s idle timeout, small per-connection memory,
 * request bodies ignored, a reply capped at OF_HTTPD_MAX_REPLY bytes.
 *
 * The address is parsed by of_hostport_parse (common/base/hostport.h). Where it listens is the
 * host given: "127.0.0.1" (or "localhost", "[::1]") is loopback only,
 * "0.0.0.0" or "[::]" every interface.
 *
 * Threads: handlers run on the server's thread, one request at a time; they must be safe
 * against the daemon's own thread (the metrics registry is; readiness flags are atomics). */
#ifndef OF_HTTPD_H
#define OF_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

typedef struct of_httpd of_httpd;

#define OF_HTTPD_MAX_CONNECTIONS 16
#define OF_HTTPD_MAX_REPLY       (8u * 1024 * 1024)
/* "[" + an IPv6 address + "]:65535" */
#define OF_HTTPD_ADDR_MAX 64

/* Writes the reply body into out (capped at OF_HTTPD_MAX_REPLY) and returns the HTTP status.
 * *content_type is preset to "text/plain; charset=utf-8"; a handler may point it at another
 * static string. opaque is the route's. */
typedef int of_httpd_handler(void *opaque, of_buf *out, const char **content_type);

typedef struct of_httpd_route {
    const char *path; /* exact match, e.g. "/metrics"; copied */
    of_httpd_handler *fn;
    void *opaque; /* borrowed: must outlive the server */
} of_httpd_route;

/* Binds listen and starts serving routes[0..n) (copied). On success *out is a new server the
 * caller stops with of_httpd_stop. OF_ERR_CONFIG for a malformed address or one that cannot be
 * bound ("127.0.0.1:9100: cannot listen: Address already in use"): either is the operator's
 * to fix in the config; OF_ERR_NOMEM; OF_ERR_IO when libmicrohttpd cannot start. */
OF_MUST_CHECK of_err of_httpd_start(const char *listen, const of_httpd_route *routes, size_t n,
                                    of_httpd **out, char *errstr, size_t errstr_size);

/* The bound address, "127.0.0.1:41234" or "[::1]:41234" (borrowed, valid until stop). */
const char *of_httpd_address(const of_httpd *h);
uint16_t of_httpd_port(const of_httpd *h);

/* Stops serving (waits for a request in progress), closes the socket, frees. NULL: no-op. */
void of_httpd_stop(of_httpd *h);

#endif
