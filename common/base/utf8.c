/* UTF-8 checks (utf8.h). */
#include "utf8.h"

#include <stdint.h>

size_t of_utf8_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0; /* a NUL ends it too */
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

bool of_utf8_valid(const char *s)
{
    while (*s) {
        size_t n = of_utf8_len(s);
        if (!n) return false;
        s += n;
    }
    return true;
}

size_t of_utf8_scrub(char *s)
{
    size_t fixed = 0;
    while (*s) {
        size_t n = of_utf8_len(s);
        if (!n) {
            *s = '?';
            n = 1;
            fixed++;
        }
        s += n;
    }
    return fixed;
}
