/* A growable byte buffer with a hard cap (curl's dynbuf idea).
 *
 * Anything read from the network goes into one of these, so an oversized
 * reply is an error (OF_ERR_TOO_LARGE), never an unbounded realloc.
 * The data is always NUL-terminated for convenience; len excludes the NUL. */
#ifndef OF_BUF_H
#define OF_BUF_H

#include <stddef.h>

#include "err.h"

typedef struct of_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* hard cap on len */
} of_buf;

/* Initialises an empty buffer that will never hold more than max bytes. */
void of_buf_init(of_buf *b, size_t max);

/* Appends n bytes. OF_ERR_TOO_LARGE if len + n > max (the buffer is unchanged). */
of_err of_buf_append(of_buf *b, const void *p, size_t n);
of_err of_buf_puts(of_buf *b, const char *s);
of_err of_buf_printf(of_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties the buffer, keeping its memory. */
void of_buf_reset(of_buf *b);

/* Returns the data, handing ownership to the caller (who frees it), and
 * leaves b empty. Returns an empty allocated string if nothing was appended,
 * or NULL on allocation failure. */
char *of_buf_detach(of_buf *b);

/* Frees the data; b may be reused after of_buf_init. */
void of_buf_free(of_buf *b);

#endif
