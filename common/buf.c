#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void of_buf_init(of_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

of_err of_buf_append(of_buf *b, const void *p, size_t n)
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

void of_buf_free(of_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
