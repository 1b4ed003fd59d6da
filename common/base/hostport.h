/* "host:port" addresses (the daemons' metrics_listen): parsed in one place, for the config
 * loader's validation and for the HTTP server that binds them. */
#ifndef OF_HOSTPORT_H
#define OF_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Splits "host:port" (host: a name, an IPv4 address or a bracketed IPv6 address "[::1]";
 * port 0..65535, 0 = any free port) into host (without brackets, NUL-terminated) and *port.
 * OF_ERR_CONFIG with the reason in errstr ("want host:port ..."). Nothing is resolved. */
OF_MUST_CHECK of_err of_hostport_parse(const char *s, char *host, size_t host_size, uint16_t *port,
                                       char *errstr, size_t errstr_size);

#endif
