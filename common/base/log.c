#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

static atomic_int log_level = OF_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local char log_component[32];

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void of_log_set_level(of_log_level level)
{
    atomic_store(&log_level, (int)level);
}

of_log_level of_log_get_level(void)
{
    return (of_log_level)atomic_load(&log_level);
}

int of_log_level_parse(const char *name, of_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (of_log_level)i;
            return 0;
        }
    }
    return -1;
}

void of_log_set_component(const char *name)
{
    if (!name) {
        log_component[0] = '\0';
        return;
    }
    snprintf(log_component, sizeof(log_component), "%s", name);
}

/* Length of the valid UTF-8 sequence of a printable (non-C1) character at p, or 0. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) return 0; /* U+0080..U+009F: C1 */
    return of_utf8_len((const char *)p);
}

char *of_escape(const char *in, char *out, size_t out_size)
{
    static const char hex[] = "0123456789abcdef";
    if (out_size == 0) return out;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    while (*p) {
        char esc[4];
        const char *piece = esc;
        size_t n, adv = 1;
        if (*p == '\\' || *p == '\n' || *p == '\r' || *p == '\t') {
            esc[0] = '\\';
            esc[1] = *p == '\\' ? '\\' : *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
            n = 2;
        } else if (*p >= 0x20 && *p < 0x7f) {
            piece = (const char *)p;
            n = 1;
        } else if (*p >= 0x80 && (n = utf8_len(p)) > 0) {
            piece = (const char *)p;
            adv = n;
        } else { /* C0, DEL, C1 and invalid UTF-8: one byte at a time */
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[*p >> 4];
            esc[3] = hex[*p & 15];
            n = 4;
        }
        if (n >= out_size - o) break; /* no room for it and the NUL: cut before it */
        memcpy(out + o, piece, n);
        o += n;
        p += adv;
    }
    out[o] = '\0';
    return out;
}

void of_log_lib(of_log_level level, const char *who, const char *fmt, va_list ap)
{
    if ((int)level > atomic_load(&log_level)) return;
    char msg[512];
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0) msg[0] = '\0';
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    of_log(level, "%s: %s", who, msg);
}

void of_log(of_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level)) return;

    /* The raw message is formatted first and escaped into the line, which
     * therefore holds exactly one '\n': the one added at the end. */
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0) msg[0] = '\0';

    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s%s%s level=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_component[0] ? "[" : "", log_component,
                     log_component[0] ? "]" : "", level_names[level]);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;

    /* One byte is kept for the '\n' (truncated lines still end in one). */
    of_escape(msg, line + len, sizeof(line) - 1 - len);
    len += strlen(line + len);
    line[len++] = '\n';

    pthread_mutex_lock(&log_lock);
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere to report a failed log write */
    pthread_mutex_unlock(&log_lock);
}
