/* The TZif reader and local-time windows (common/base/tz.h): known offsets around DST changes,
 * the POSIX rule past the last transition, windows across midnight and DST changes, and a sweep
 * checked against glibc's localtime_r (this test may set TZ; the product never does). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"
#include "tz.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t)timegm(&tm);
}

static of_tz *load(const char *name)
{
    of_tz *tz = NULL;
    char es[256] = "";
    of_err rc = of_tz_load(NULL, name, &tz, es, sizeof es);
    OF_TEST_FAIL_IF(rc != OF_OK, "loading %s: %s\n", name, es);
    return tz;
}

static void test_names(void)
{
    static const struct {
        const char *name;
        bool ok;
    } cases[] = {
        {"Australia/Sydney", true},
        {"UTC", true},
        {"Etc/GMT-3", true},
        {"America/Argentina/Buenos_Aires", true},
        {"", false},
        {"../etc/passwd", false},
        {"/etc/passwd", false},
        {"Europe//London", false},
        {"Europe/London/", false},
        {"Euro pe", false},
        {"a/./b", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        OF_TEST_FAIL_IF(of_tz_name_ok(cases[i].name) != cases[i].ok,
                        "of_tz_name_ok(\"%s\") != %d\n", cases[i].name, cases[i].ok);
    of_tz *tz = NULL;
    char es[256] = "";
    CHECK_INT(of_tz_load(NULL, "Mars/Olympus_Mons", &tz, es, sizeof es), OF_ERR_NOT_FOUND);
    CHECK_CONTAINS(es, "Mars/Olympus_Mons");
    CHECK_INT(of_tz_load(NULL, "../../etc/passwd", &tz, es, sizeof es), OF_ERR_INVALID);
    CHECK(tz == NULL);
}

/* Offsets just before and after known changes (2026 and, through the footer rule, 2100). */
static void test_offsets(void)
{
    static const struct {
        const char *zone;
        int y, mo, d, h, mi; /* UTC */
        int32_t east;
    } cases[] = {
        {"UTC", 2026, 6, 1, 0, 0, 0},
        {"Etc/GMT-3", 2026, 6, 1, 0, 0, 3 * 3600},
        {"Etc/GMT+5", 2026, 6, 1, 0, 0, -5 * 3600},
        /* Sydney: AEDT ends Sun 5 Apr 2026 03:00 local (16:00Z on the 4th), starts Sun 4 Oct
         * 02:00 local (16:00Z on the 3rd) */
        {"Australia/Sydney", 2026, 4, 4, 15, 59, 11 * 3600},
        {"Australia/Sydney", 2026, 4, 4, 16, 0, 10 * 3600},
        {"Australia/Sydney", 2026, 10, 3, 15, 59, 10 * 3600},
        {"Australia/Sydney", 2026, 10, 3, 16, 0, 11 * 3600},
        {"Australia/Sydney", 2100, 1, 1, 0, 0, 11 * 3600},
        {"Australia/Sydney", 2100, 7, 1, 0, 0, 10 * 3600},
        /* London: BST 29 Mar 2026 01:00Z to 25 Oct 2026 01:00Z */
        {"Europe/London", 2026, 3, 29, 0, 59, 0},
        {"Europe/London", 2026, 3, 29, 1, 0, 3600},
        {"Europe/London", 2026, 10, 25, 0, 59, 3600},
        {"Europe/London", 2026, 10, 25, 1, 0, 0},
        /* New York: EDT 8 Mar 2026 07:00Z to 1 Nov 2026 06:00Z */
        {"America/New_York", 2026, 3, 8, 6, 59, -5 * 3600},
        {"America/New_York", 2026, 3, 8, 7, 0, -4 * 3600},
        {"America/New_York", 2026, 11, 1, 5, 59, -4 * 3600},
        {"America/New_York", 2026, 11, 1, 6, 0, -5 * 3600},
        {"America/New_York", 2150, 7, 4, 12, 0, -4 * 3600},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        of_tz *tz = load(cases[i].zone);
        if (!tz) continue;
        int32_t got =
            of_tz_offset(tz, utc(cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi));
        OF_TEST_FAIL_IF(got != cases[i].east, "%s %04d-%02d-%02dT%02d:%02dZ: offset %d, want %d\n",
                        cases[i].zone, cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi,
                        (int)got, (int)cases[i].east);
        of_tz_free(tz);
    }
}

static void test_windows(void)
{
    static const struct {
        const char *zone;
        int start, end;           /* minutes after local midnight */
        int y, mo, d, h, mi;      /* now, UTC */
        int wy, wmo, wd, wh, wmi; /* the opening, UTC (== now when inside) */
    } cases[] = {
        /* 22:00-04:00 Sydney (AEDT +11): 13:00 local -> 22:00 local = 11:00Z */
        {"Australia/Sydney", 22 * 60, 4 * 60, 2026, 12, 6, 2, 0, 2026, 12, 6, 11, 0},
        /* 23:00 local: inside */
        {"Australia/Sydney", 22 * 60, 4 * 60, 2026, 12, 6, 12, 0, 2026, 12, 6, 12, 0},
        /* 03:59 local next day: inside (wrapped) */
        {"Australia/Sydney", 22 * 60, 4 * 60, 2026, 12, 6, 16, 59, 2026, 12, 6, 16, 59},
        /* 04:00 local: closed until 22:00 local */
        {"Australia/Sydney", 22 * 60, 4 * 60, 2026, 12, 6, 17, 0, 2026, 12, 7, 11, 0},
        /* 02:30 is skipped on 4 Oct 2026 (02:00 AEST -> 03:00 AEDT at 16:00Z): opens then */
        {"Australia/Sydney", 150, 300, 2026, 10, 3, 12, 0, 2026, 10, 3, 16, 0},
        /* 02:30 happens twice on 5 Apr 2026: 15:30Z (AEDT), then 16:30Z (AEST) */
        {"Australia/Sydney", 150, 165, 2026, 4, 4, 12, 0, 2026, 4, 4, 15, 30},
        {"Australia/Sydney", 150, 165, 2026, 4, 4, 15, 50, 2026, 4, 4, 16, 30},
        /* UTC+3 fixed: 09:00-10:00 local from 05:00Z -> 06:00Z */
        {"Etc/GMT-3", 9 * 60, 10 * 60, 2026, 12, 6, 5, 0, 2026, 12, 6, 6, 0},
        /* New York 22:00-04:00 EST at 12:00Z (07:00 local) -> 03:00Z next day */
        {"America/New_York", 22 * 60, 4 * 60, 2026, 12, 6, 12, 0, 2026, 12, 7, 3, 0},
        /* start == end: always open */
        {"Europe/London", 600, 600, 2026, 12, 6, 3, 0, 2026, 12, 6, 3, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        of_tz *tz = load(cases[i].zone);
        if (!tz) continue;
        int64_t now = utc(cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi) * 1000;
        int64_t want =
            utc(cases[i].wy, cases[i].wmo, cases[i].wd, cases[i].wh, cases[i].wmi) * 1000;
        int64_t got = of_tz_window_next(tz, now, cases[i].start, cases[i].end);
        char g[40], w[40];
        OF_TEST_FAIL_IF(got != want, "case %zu %s: opens %s, want %s\n", i, cases[i].zone,
                        of_tz_format(tz, got, g, sizeof g), of_tz_format(tz, want, w, sizeof w));
        of_tz_free(tz);
    }
    of_tz *tz = load("Australia/Sydney");
    if (tz) {
        char b[40];
        CHECK_STR(of_tz_format(tz, utc(2026, 12, 6, 11, 0) * 1000, b, sizeof b),
                  "2026-12-06T22:00:00+11:00");
        of_tz_free(tz);
    }
    tz = load("America/New_York");
    if (tz) {
        char b[40];
        CHECK_STR(of_tz_format(tz, utc(2026, 12, 7, 3, 0) * 1000 + 999, b, sizeof b),
                  "2026-12-06T22:00:00-05:00");
        of_tz_free(tz);
    }
}

/* Every zone below, one instant every ~7.3 days from 1901 to 2200, against glibc. */
static void test_glibc_sweep(void)
{
    static const char *zones[] = {"Australia/Sydney", "Europe/London",       "America/New_York",
                                  "Asia/Kolkata",     "Australia/Lord_Howe", "America/Sao_Paulo",
                                  "Pacific/Chatham",  "Africa/Casablanca",   "UTC"};
    for (size_t z = 0; z < sizeof zones / sizeof *zones; z++) {
        of_tz *tz = load(zones[z]);
        if (!tz) continue;
        (void)setenv("TZ", zones[z], 1);
        tzset();
        int bad = 0, n = 0;
        for (int64_t t = utc(1901, 1, 1, 0, 0); t < utc(2200, 1, 1, 0, 0) && bad < 3;
             t += 7 * 86400 + 7919) {
            time_t tt = (time_t)t;
            struct tm tm;
            if (!localtime_r(&tt, &tm)) continue;
            n++;
            int32_t got = of_tz_offset(tz, t);
            if (got != tm.tm_gmtoff) bad++;
            OF_TEST_FAIL_IF(got != tm.tm_gmtoff, "%s at %lld: %d, glibc %ld\n", zones[z],
                            (long long)t, (int)got, (long)tm.tm_gmtoff);
        }
        CHECK(n > 10000);
        of_tz_free(tz);
    }
    (void)unsetenv("TZ");
}

int main(void)
{
    test_names();
    test_offsets();
    test_windows();
    test_glibc_sweep();
    return TEST_DONE();
}
