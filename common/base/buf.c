#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void of_buf_init(of_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

of_err of_buf_reserve(of_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n) return OF_ERR_TOO_LARGE;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->max + 1) cap = b->max + 1;
        char *d = realloc(b->data, cap);
        if (!d) return OF_ERR_NOMEM;
        b->data = d;
        b->cap = cap;
    }
    return OF_OK;
}

of_err of_buf_append(of_buf *b, const void *p, size_t n)
{
    of_err rc = of_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return OF_OK;
}

of_err of_buf_puts(of_buf *b, const char *s)
{
    return of_buf_append(b, s, strlen(s));
}

of_err of_buf_printf(of_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return OF_ERR_INVALID;
    char small[512];
    char *tmp = (size_t)n < sizeof(small) ? small : malloc((size_t)n + 1);
    if (!tmp) return OF_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    of_err rc = of_buf_append(b, tmp, (size_t)n);
    if (tmp != small) free(tmp);
    return rc;
}

of_err of_buf_append_pct(of_buf *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = b->len;
    char chunk[256];
    size_t k = 0;
    of_err rc = OF_OK;
    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
        bool pass = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
                    (keep && strchr(keep, *p));
        if (pass) {
            chunk[k++] = (char)*p;
        } else {
            chunk[k++] = '%';
            chunk[k++] = hex[*p >> 4];
            chunk[k++] = hex[*p & 15];
        }
        if (k > sizeof(chunk) - 3) {
            rc = of_buf_append(b, chunk, k);
            k = 0;
        }
    }
    if (!rc && k) rc = of_buf_append(b, chunk, k);
    if (rc && b->data) { /* all or nothing: drop what went in before the failure */
        b->len = start;
        b->data[start] = '\0';
    }
    return rc;
}

void of_buf_reset(of_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

char *of_buf_detach(of_buf *b)
{
    char *d = b->data;
    if (!d) d = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return d;
}

char *of_buf_detach_exact(of_buf *b)
{
    size_t len = b->len;
    char *d = of_buf_detach(b);
    char *cut = d && len ? realloc(d, len + 1) : NULL;
    return cut ? cut : d; /* a failed cut keeps the longer allocation */
}

void of_strv_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void of_buf_clear(of_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

of_err of_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return OF_OK;
    size_t ncap = *cap ? *cap : 16;
    while (ncap <= n) {
        if (ncap > SIZE_MAX / 2) return OF_ERR_NOMEM;
        ncap *= 2;
    }
    if (elem && ncap > SIZE_MAX / elem) return OF_ERR_NOMEM;
    void *p = realloc(*arr, ncap * elem);
    if (!p) return OF_ERR_NOMEM;
    *arr = p;
    *cap = ncap;
    return OF_OK;
}

static const char *file_kind(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return "is a directory";
    case S_IFIFO:
        return "is not a regular file (FIFO)";
    case S_IFSOCK:
        return "is not a regular file (socket)";
    case S_IFCHR:
        return "is not a regular file (character device)";
    case S_IFBLK:
        return "is not a regular file (block device)";
    default:
        return "is not a regular file";
    }
}

of_err of_file_open_regular(const char *path, int *fd, struct stat *st, char *errstr,
                            size_t errstr_size)
{
    /* Open first and fstat the descriptor (not stat then open): nothing can
     * swap a FIFO in between, and O_NONBLOCK keeps the open itself from
     * waiting for a FIFO's writer. */
    *fd = -1;
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f < 0)
        return of_seterr(errstr, errstr_size, OF_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        int e = errno;
        close(f);
        return of_seterr(errstr, errstr_size, OF_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "%s: %s", path,
                         file_kind(sb.st_mode));
    }
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0) (void)fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    if (st) *st = sb;
    *fd = f;
    return OF_OK;
}

of_err of_buf_read_file(of_buf *b, const char *path, char *errstr, size_t errstr_size)
{
    int fd;
    of_err rc = of_file_open_regular(path, &fd, NULL, errstr, errstr_size);
    if (rc) return rc;
    char chunk[8192];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = of_seterr(errstr, errstr_size, OF_ERR_IO, "%s: read error: %s", path,
                           strerror(errno));
            break;
        }
        if (r == 0) break;
        rc = of_buf_append(b, chunk, (size_t)r);
        if (rc == OF_ERR_TOO_LARGE) {
            rc = of_seterr(errstr, errstr_size, rc, "%s: larger than %zu bytes", path, b->max);
            break;
        }
        if (rc) {
            rc = of_seterr(errstr, errstr_size, rc, "%s: %s", path, of_strerror(rc));
            break;
        }
    }
    close(fd);
    return rc;
}

size_t of_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return SIZE_MAX;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
    }
    return prev[lb];
}

const char *of_nearest(const char *word, const char *const *choices)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (const char *const *c = choices; *c; c++) {
        size_t d = of_edit_distance(word, *c);
        if (d < best_d) {
            best_d = d;
            best = *c;
        }
    }
    size_t limit = strlen(word) / 4 + 1;
    if (limit > 3) limit = 3;
    return best && best_d <= limit ? best : NULL;
}
