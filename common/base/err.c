#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "utf8.h"

static const char *const of_err_names[OF_ERR__COUNT] = {
    [OF_OK] = "success",
    [OF_ERR_NOMEM] = "out of memory",
    [OF_ERR_INVALID] = "invalid input",
    [OF_ERR_CONFIG] = "configuration error",
    [OF_ERR_IO] = "I/O error",
    [OF_ERR_NETWORK] = "network error",
    [OF_ERR_TIMEOUT] = "deadline exceeded",
    [OF_ERR_HTTP] = "unexpected HTTP status",
    [OF_ERR_AUTH] = "not authorised",
    [OF_ERR_NOT_FOUND] = "not found",
    [OF_ERR_REJECTED] = "rejected by server",
    [OF_ERR_TOO_LARGE] = "too large",
    [OF_ERR_PROTOCOL] = "malformed reply or message",
    [OF_ERR_KAFKA] = "Kafka error",
    [OF_ERR_STATE] = "invalid state",
    [OF_ERR_CANCELLED] = "cancelled",
};

const char *of_strerror(of_err err)
{
    if ((unsigned)err >= OF_ERR__COUNT || !of_err_names[err]) return "unknown error";
    return of_err_names[err];
}

of_err of_seterr(char *errstr, size_t errstr_size, of_err err, const char *fmt, ...)
{
    if (errstr && errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
        /* Error text ends up in events and replies, which must be UTF-8; what it quotes
         * (jansson's context, a server's words, a cut at the buffer's end) may not be. */
        of_utf8_scrub(errstr);
    }
    return err;
}

void of_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "octofleet: assertion failed at %s:%d: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}
