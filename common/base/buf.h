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
OF_MUST_CHECK of_err of_buf_append(of_buf *b, const void *p, size_t n);
OF_MUST_CHECK of_err of_buf_puts(of_buf *b, const char *s);
OF_MUST_CHECK of_err of_buf_printf(of_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends the percent-encoding of the NUL-terminated s (RFC 3986): the unreserved characters
 * A-Z a-z 0-9 - . _ ~ and those in keep (NULL: none) pass as they are, every other byte,
 * UTF-8 included, becomes %XX with upper-case hex. So a name such as "A/B & C?#ü" stays one
 * URL path segment or one query value. s is only read. OF_ERR_TOO_LARGE when the encoding
 * does not fit b's cap, OF_ERR_NOMEM; b is then unchanged. */
OF_MUST_CHECK of_err of_buf_append_pct(of_buf *b, const char *s, const char *keep);

/* Makes room for n more bytes (and the NUL) in one allocation, so a writer that knows about
 * how much it will append does not grow step by step. OF_ERR_TOO_LARGE beyond max,
 * OF_ERR_NOMEM; b is then unchanged. */
OF_MUST_CHECK of_err of_buf_reserve(of_buf *b, size_t n);

/* Returns the data like of_buf_detach, its allocation cut to the length (for text that is
 * kept, or queued by the thousand, after it is written). */
char *of_buf_detach_exact(of_buf *b);

/* Empties the buffer, keeping its memory. */
void of_buf_reset(of_buf *b);

/* Returns the data, handing ownership to the caller (who frees it), and
 * leaves b empty. Returns an empty allocated string if nothing was appended,
 * or NULL on allocation failure. */
char *of_buf_detach(of_buf *b);

/* Frees the data (the struct is the caller's); b may be reused after of_buf_init. */
void of_buf_clear(of_buf *b);
/* ---- growable arrays ------------------------------------------------------ */

/* Makes room for element n of the array *arr of elem-byte elements whose capacity is *cap:
 * when n < *cap nothing happens; else the capacity doubles (16 to start) and *arr and *cap
 * are updated. OF_ERR_NOMEM when the allocation fails or the size would overflow (*arr and
 * *cap are then unchanged, and *arr still belongs to the caller). The array is the caller's
 * to free. Usage: `if (of_grow((void **)&a, &cap, n, sizeof *a)) return OF_ERR_NOMEM;`. */
OF_MUST_CHECK of_err of_grow(void **arr, size_t *cap, size_t n, size_t elem);

/* Frees v[0..n) and v itself: an owned array of owned strings (NULL entries and a NULL v
 * are fine). */
void of_strv_free(char **v, size_t n);

/* ---- words ----------------------------------------------------------------- */
/* Levenshtein distance between a and b (bytes); SIZE_MAX when either is longer than 63. */
size_t of_edit_distance(const char *a, const char *b);

/* The entry of the NULL-terminated `choices` closest to `word` for a "did you mean": within
 * len(word)/4 + 1 edits (at most 3), else NULL. Borrowed from choices. */
const char *of_nearest(const char *word, const char *const *choices);

/* ---- local files ------------------------------------------------------- */

struct stat;

/* Opens path read-only for a caller that wants a regular file (a config,
 * a request, a key file). The open never blocks: a FIFO is opened with
 * O_NONBLOCK (so it does not wait for a writer) and then refused, like a
 * directory or a device. On success *fd is the open descriptor (the caller
 * closes it; O_NONBLOCK is cleared again) and *st, if not NULL, its fstat.
 * Errors, with "PATH: why" in errstr and *fd == -1: OF_ERR_IO when it cannot
 * be opened or stat'ed ("PATH: cannot open: No such file or directory");
 * OF_ERR_INVALID when it is not a regular file ("PATH: is a directory",
 * "PATH: is not a regular file (FIFO)", "... (socket)", "... (character
 * device)", "... (block device)"). */
OF_MUST_CHECK of_err of_file_open_regular(const char *path, int *fd, struct stat *st, char *errstr,
                                          size_t errstr_size);

/* Appends the whole regular file at path to b (opened as by
 * of_file_open_regular, so the same errors). OF_ERR_TOO_LARGE ("PATH: larger
 * than N bytes") when it does not fit b's cap, OF_ERR_IO on a read error; b
 * then holds a prefix of the file. */
OF_MUST_CHECK of_err of_buf_read_file(of_buf *b, const char *path, char *errstr,
                                      size_t errstr_size);

#endif
