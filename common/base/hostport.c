#include "hostport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

of_err of_hostport_parse(const char *s, char *host, size_t host_size, uint16_t *port, char *errstr,
                         size_t errstr_size)
{
    if (!s || !*s) return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "empty address");
    const char *colon = strrchr(s, ':');
    if (!colon)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "%s: want host:port (e.g. 127.0.0.1:9464; port 0 = any free port)", s);
    const char *h = s;
    size_t hlen = (size_t)(colon - s);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    } else if (memchr(h, ':', hlen) || memchr(h, '[', hlen) || memchr(h, ']', hlen)) {
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "%s: an IPv6 address goes in brackets, as in [::1]:9464", s);
    }
    if (hlen == 0 || hlen >= host_size)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "%s: %s host", s,
                         hlen ? "too long a" : "no");
    const char *ps = colon + 1;
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(ps, &end, 10);
    if (*ps < '0' || *ps > '9' || *end || errno || p > 65535)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "%s: the port must be 0..65535", s);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return OF_OK;
}
