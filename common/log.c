#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

void of_log(of_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level)) return;

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

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (m > 0) len += (size_t)m;
    if (len > sizeof(line) - 2) len = sizeof(line) - 2; /* truncated lines still end in \n */
    line[len++] = '\n';

    pthread_mutex_lock(&log_lock);
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere to report a failed log write */
    pthread_mutex_unlock(&log_lock);
}
