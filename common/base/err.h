/* octofleet's one error enum.
 *
 * Every fallible function returns an of_err. Human detail (which file, which
 * field, what the server said) travels in a caller-supplied buffer,
 * `char *errstr, size_t errstr_size`, the librdkafka convention. */
#ifndef OF_ERR_H
#define OF_ERR_H

#include <stddef.h>

/* Marks a function whose result must be looked at: ignoring an of_err is a
 * warning (an error with OF_WERROR). A caller that really does not care says
 * so with `(void)!f(...)` and a comment why. */
#define OF_MUST_CHECK __attribute__((warn_unused_result))

typedef enum of_err {
    OF_OK = 0,
    OF_ERR_NOMEM,     /* allocation failed */
    OF_ERR_INVALID,   /* bad input: request, message, argument */
    OF_ERR_CONFIG,    /* bad configuration file or value */
    OF_ERR_IO,        /* local file or socket I/O */
    OF_ERR_NETWORK,   /* transport failure talking to a server */
    OF_ERR_TIMEOUT,   /* a deadline passed */
    OF_ERR_HTTP,      /* an HTTP status we do not retry and have no better code for */
    OF_ERR_AUTH,      /* 401/403: key wrong or lacking permission */
    OF_ERR_NOT_FOUND, /* 404, or a name that resolves to nothing */
    OF_ERR_REJECTED,  /* 400/409: the server refused the request, with its reasons */
    OF_ERR_TOO_LARGE, /* a capped buffer would overflow */
    OF_ERR_PROTOCOL,  /* a reply or message that does not parse as documented */
    OF_ERR_KAFKA,     /* librdkafka reported an error */
    OF_ERR_STATE,     /* operation not valid in the current state */
    OF_ERR_CANCELLED, /* stopped on request (signal, abort) */
    OF_ERR__COUNT
} of_err;

/* Returns a static, human-readable description of err. Never NULL. */
const char *of_strerror(of_err err);

/* Formats into errstr (if errstr_size > 0) and returns err, so callers can
 * write `return of_seterr(e, OF_ERR_INVALID, "field %s: ...", name);`.
 * errstr may be NULL when errstr_size is 0. The text is valid UTF-8: a byte of
 * what it quotes that is not becomes '?' (utf8.h). */
of_err of_seterr(char *errstr, size_t errstr_size, of_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Always-on assertion: prints file:line and the expression, then aborts.
 * For broken invariants only; expected failures return an of_err. */
#define OF_ASSERT(cond)                                         \
    do {                                                        \
        if (!(cond)) of_assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)
_Noreturn void of_assert_fail(const char *expr, const char *file, int line);

#endif
