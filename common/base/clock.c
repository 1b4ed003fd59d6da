#include "clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t of_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t of_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t of_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *of_rfc3339(int64_t wall_ms, char *out, size_t out_size)
{
    /* floor division, so times before 1970 print their milliseconds right too */
    int64_t ms = wall_ms % 1000;
    if (ms < 0) ms += 1000;
    time_t secs = (time_t)((wall_ms - ms) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999 || out_size < sizeof "2026-05-05T21:00:00.000Z") {
        snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
        return out;
    }
    /* by hand: every event and state record carries times, and snprintf was a tenth of
     * writing one (bench_codec) */
    const struct {
        int v, n;
        char after;
    } parts[] = {{year, 4, '-'},       {tm.tm_mon + 1, 2, '-'}, {tm.tm_mday, 2, 'T'},
                 {tm.tm_hour, 2, ':'}, {tm.tm_min, 2, ':'},     {tm.tm_sec, 2, '.'},
                 {(int)ms, 3, 'Z'}};
    char *p = out;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        for (int k = parts[i].n - 1, v = parts[i].v; k >= 0; k--, v /= 10)
            p[k] = (char)('0' + v % 10);
        p += parts[i].n;
        *p++ = parts[i].after;
    }
    *p = '\0';
    return out;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's algorithm), so we need neither timegm nor TZ games. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9') return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int of_parse_rfc3339(const char *s, int64_t *out_ms)
{
    int Y, M, D, h, m, sec, ms = 0;
    const char *p = s;
    if (parse_digits(&p, 4, &Y) || *p++ != '-' || parse_digits(&p, 2, &M) || *p++ != '-' ||
        parse_digits(&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &m) || *p++ != ':' ||
        parse_digits(&p, 2, &sec))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 ||
        m > 59 || sec > 60)
        return -1;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) ms = ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0) return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om) || oh > 23 ||
            om > 59)
            return -1;
        offset_min = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0') return -1;
    int64_t secs =
        days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - (int64_t)offset_min * 60;
    *out_ms = secs * 1000 + ms;
    return 0;
}

uint64_t of_rand_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int64_t of_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rnd)
{
    if (attempt < 0) attempt = 0;
    int64_t ceiling = base_ms;
    for (int i = 0; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms) ceiling = cap_ms;
    int64_t floor = base_ms / 2;
    if (floor > ceiling) floor = ceiling;
    uint64_t span = (uint64_t)(ceiling - floor) + 1;
    return floor + (int64_t)(of_rand_next(rnd) % span);
}

void of_sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

of_duration_status of_duration_parse(const char *s, int64_t *out_ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if (!s || !*s) return OF_DURATION_SYNTAX;
    int64_t total = 0;
    bool big = false;
    const char *p = s;
    while (*p) {
        if (*p < '0' || *p > '9') return OF_DURATION_SYNTAX;
        int64_t n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n > (INT64_MAX - 9) / 10) big = true;
            if (!big) n = n * 10 + (*p - '0');
            p++;
        }
        size_t ulen = 0;
        while ((p[ulen] >= 'a' && p[ulen] <= 'z') || (p[ulen] >= 'A' && p[ulen] <= 'Z'))
            ulen++;
        if (ulen == 0) {
            if (p != s + strspn(s, "0123456789") || *p) return OF_DURATION_SYNTAX; /* "1h30" */
            if (big) return OF_DURATION_RANGE;
            if (n != 0) return OF_DURATION_NO_UNIT;
            *out_ms = 0;
            return OF_DURATION_OK;
        }
        int64_t mult = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].unit) == ulen && strncmp(p, units[i].unit, ulen) == 0)
                mult = units[i].ms;
        if (mult == 0) return OF_DURATION_SYNTAX;
        if (big || n > (INT64_MAX - total) / mult) big = true;
        if (!big) total += n * mult;
        p += ulen;
    }
    if (big) return OF_DURATION_RANGE;
    *out_ms = total;
    return OF_DURATION_OK;
}
