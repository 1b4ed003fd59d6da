/* Unit tests for common/: error strings, capped buffers, local files, log
 * escaping, URL masking, time parsing, backoff. */
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "heap.h"
#include "log.h"
#include "secret.h"
#include "strpool.h"
#include "test.h"
#include "utf8.h"

/* The one duration syntax (config, environment, requests): every non-zero value names its unit. */
static const struct {
    const char *in;
    of_duration_status st;
    int64_t ms;
} duration_cases[] = {
    {"0", OF_DURATION_OK, 0},
    {"250ms", OF_DURATION_OK, 250},
    {"30s", OF_DURATION_OK, 30000},
    {"5m", OF_DURATION_OK, 300000},
    {"2h", OF_DURATION_OK, 7200000},
    {"1d", OF_DURATION_OK, 86400000},
    {"1h30m", OF_DURATION_OK, 5400000},
    {"1h30m15s", OF_DURATION_OK, 5415000},
    {"1m500ms", OF_DURATION_OK, 60500},
    {"0s", OF_DURATION_OK, 0},
    {"90", OF_DURATION_NO_UNIT, 0}, /* seconds or milliseconds? the reader must not guess */
    {"1500", OF_DURATION_NO_UNIT, 0},
    {"", OF_DURATION_SYNTAX, 0},
    {"s", OF_DURATION_SYNTAX, 0},
    {"-1s", OF_DURATION_SYNTAX, 0},
    {"-5", OF_DURATION_SYNTAX, 0},
    {"1.5s", OF_DURATION_SYNTAX, 0},
    {"30 s", OF_DURATION_SYNTAX, 0},
    {"1h30", OF_DURATION_SYNTAX, 0},
    {"5x", OF_DURATION_SYNTAX, 0},
    {"5S", OF_DURATION_SYNTAX, 0},
    {"99999999999999999999", OF_DURATION_RANGE, 0},
    {"9999999999999999d", OF_DURATION_RANGE, 0},
    {"99999999999999999999s", OF_DURATION_RANGE, 0},
};

static void test_duration(void)
{
    for (size_t i = 0; i < sizeof duration_cases / sizeof duration_cases[0]; i++) {
        int64_t ms = -42;
        of_duration_status st = of_duration_parse(duration_cases[i].in, &ms);
        if (st != duration_cases[i].st)
            fprintf(stderr, "  duration \"%s\"\n", duration_cases[i].in);
        CHECK_INT(st, duration_cases[i].st);
        CHECK_INT(ms, st == OF_DURATION_OK ? duration_cases[i].ms : -42); /* untouched on error */
    }
    int64_t x;
    CHECK_INT(of_duration_parse(NULL, &x), OF_DURATION_SYNTAX);
}

/* "did you mean": the nearest known word within len/4 + 1 edits (at most 3). */
static void test_nearest(void)
{
    static const char *const known[] = {"release", "environments", "tenants",
                                        "stages",  "policy",       NULL};
    static const struct {
        const char *word;
        const char *want; /* NULL: nothing close enough */
    } cases[] = {{"relase", "release"},
                 {"enviroments", "environments"},
                 {"stage", "stages"},
                 {"polcy", "policy"},
                 {"tenants", "tenants"},
                 {"x", NULL},
                 {"priority", NULL},
                 {"releaseeeee", NULL}, /* 4 edits > 11/4 + 1 */
                 {"environmnts", "environments"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = of_nearest(cases[i].word, known);
        if (cases[i].want)
            CHECK_STR(got ? got : "(null)", cases[i].want);
        else
            CHECK(got == NULL);
    }
    CHECK_INT(of_edit_distance("kitten", "sitting"), 3);
    CHECK_INT(of_edit_distance("", "abc"), 3);
    CHECK(of_edit_distance(
              "a", "0123456789012345678901234567890123456789012345678901234567890123") == SIZE_MAX);
}

static void test_strerror(void)
{
    for (int e = 0; e < OF_ERR__COUNT; e++) {
        CHECK(of_strerror((of_err)e) != NULL);
        CHECK(strcmp(of_strerror((of_err)e), "unknown error") != 0);
    }
    CHECK_STR(of_strerror((of_err)999), "unknown error");
    char es[32];
    CHECK_INT(of_seterr(es, sizeof(es), OF_ERR_INVALID, "field %s", "x"), OF_ERR_INVALID);
    CHECK_STR(es, "field x");
}

static void test_buf_cap(void)
{
    of_buf b;
    of_buf_init(&b, 10);
    CHECK_INT(of_buf_puts(&b, "hello"), OF_OK);
    CHECK_INT(of_buf_puts(&b, "world"), OF_OK);
    CHECK_STR(b.data, "helloworld");
    CHECK_INT(of_buf_puts(&b, "!"), OF_ERR_TOO_LARGE);
    CHECK_INT((long long)b.len, 10); /* unchanged on overflow */
    of_buf_reset(&b);
    CHECK_INT(of_buf_printf(&b, "%d-%s", 42, "x"), OF_OK);
    CHECK_STR(b.data, "42-x");
    char *d = of_buf_detach(&b);
    CHECK_STR(d, "42-x");
    CHECK(b.data == NULL);
    free(d);
    of_buf_clear(&b);

    of_buf big;
    of_buf_init(&big, 100000);
    for (int i = 0; i < 1000; i++)
        CHECK_INT(of_buf_puts(&big, "0123456789"), OF_OK);
    CHECK_INT((long long)big.len, 10000);
    of_buf_clear(&big);
}

/* of_file_open_regular / of_buf_read_file: only regular files, and a FIFO
 * is refused without blocking (this test would hang otherwise; ctest's
 * timeout then fails it). */
static void test_read_file(void)
{
    char dir[] = "/tmp/of_test_files_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char reg[300], fifo[300], missing[300], es[512];
    snprintf(reg, sizeof(reg), "%s/regular", dir);
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    int fd = open(reg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_INT(write(fd, "hello\n", 6), 6);
    close(fd);
    CHECK_INT(mkfifo(fifo, 0600), 0);

    of_buf b;
    of_buf_init(&b, 100);
    CHECK_INT(of_buf_read_file(&b, reg, es, sizeof(es)), OF_OK);
    CHECK_STR(b.data, "hello\n");
    of_buf_clear(&b);
    of_buf_init(&b, 3);
    CHECK_INT(of_buf_read_file(&b, reg, es, sizeof(es)), OF_ERR_TOO_LARGE);
    CHECK_CONTAINS(es, "regular: larger than 3 bytes");
    of_buf_clear(&b);

    static const struct {
        const char *which;
        of_err rc;
        const char *want;
    } cases[] = {
        {"dir", OF_ERR_INVALID, ": is a directory"},
        {"fifo", OF_ERR_INVALID, "fifo: is not a regular file (FIFO)"},
        {"missing", OF_ERR_IO, "missing: cannot open: No such file or directory"},
        {"/dev/null", OF_ERR_INVALID, "/dev/null: is not a regular file (character device)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = strcmp(cases[i].which, "dir") == 0       ? dir
                           : strcmp(cases[i].which, "fifo") == 0    ? fifo
                           : strcmp(cases[i].which, "missing") == 0 ? missing
                                                                    : cases[i].which;
        of_buf_init(&b, 100);
        es[0] = '\0';
        CHECK_INT(of_buf_read_file(&b, path, es, sizeof(es)), cases[i].rc);
        CHECK_CONTAINS(es, cases[i].want);
        CHECK_CONTAINS(es, path);
        CHECK_INT((long long)b.len, 0);
        of_buf_clear(&b);
        fd = 42;
        CHECK_INT(of_file_open_regular(path, &fd, NULL, es, sizeof(es)), cases[i].rc);
        CHECK_INT(fd, -1);
    }
    struct stat st;
    CHECK_INT(of_file_open_regular(reg, &fd, &st, es, sizeof(es)), OF_OK);
    CHECK(fd >= 0);
    CHECK_INT((long long)st.st_size, 6);
    CHECK_INT(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(fd);

    unlink(reg);
    unlink(fifo);
    rmdir(dir);
}

/* of_escape: one line of printable text whatever the input. */
static const struct {
    const char *name, *in, *want;
} escape_cases[] = {
    {"plain", "release=abc stage=1", "release=abc stage=1"},
    {"empty", "", ""},
    {"newline forging a line", "alice\n2026-01-01T00:00:00.000Z level=error x",
     "alice\\n2026-01-01T00:00:00.000Z level=error x"},
    {"CR, tab", "a\rb\tc", "a\\rb\\tc"},
    {"ESC colour sequence", "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"},
    {"other C0 and DEL", "\x01\x07\x7f", "\\x01\\x07\\x7f"},
    {"backslash is doubled", "C:\\x1b", "C:\\\\x1b"},
    {"C1 CSI U+009B",
     "a\xc2\x9b"
     "31m",
     "a\\xc2\\x9b31m"},
    {"C1 NEL U+0085", "\xc2\x85", "\\xc2\\x85"},
    {"U+00A0 is not C1", "\xc2\xa0", "\xc2\xa0"},
    {"valid 2-byte UTF-8", "caf\xc3\xa9", "caf\xc3\xa9"},
    {"valid 3-byte UTF-8", "\xe2\x82\xac 5", "\xe2\x82\xac 5"},
    {"valid 4-byte UTF-8", "\xf0\x9f\x90\x99", "\xf0\x9f\x90\x99"},
    {"stray continuation", "a\x80z", "a\\x80z"},
    {"lone lead byte", "a\xc3", "a\\xc3"},
    {"truncated 3-byte", "\xe2\x82z", "\\xe2\\x82z"},
    {"overlong slash", "\xc0\xaf", "\\xc0\\xaf"},
    {"overlong 3-byte", "\xe0\x80\xaf", "\\xe0\\x80\\xaf"},
    {"surrogate", "\xed\xa0\x80", "\\xed\\xa0\\x80"},
    {"beyond U+10FFFF", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},
    {"0xff", "\xff", "\\xff"},
};

static void test_escape(void)
{
    char out[256];
    for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
        of_escape(escape_cases[i].in, out, sizeof(out));
        if (strcmp(out, escape_cases[i].want) != 0)
            fprintf(stderr, "  escape case \"%s\"\n", escape_cases[i].name);
        CHECK_STR(out, escape_cases[i].want);
    }
    /* Truncation: always terminated, never inside an escape or a character. */
    static const struct {
        const char *in;
        size_t size;
        const char *want;
    } cut[] = {
        {"abcdef", 4, "abc"},   {"ab\ncd", 4, "ab"}, /* "\\n" would not fit with the NUL */
        {"ab\ncd", 5, "ab\\n"}, {"a\x1b", 5, "a"},   /* "\\x1b" needs 4 + NUL */
        {"a\x1b", 6, "a\\x1b"}, {"\xc3\xa9\xc3\xa9", 4, "\xc3\xa9"}, /* not half of the second */
        {"abc", 1, ""},
    };
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        memset(out, 'x', sizeof(out));
        of_escape(cut[i].in, out, cut[i].size);
        CHECK_STR(out, cut[i].want);
    }
    out[0] = 'x';
    CHECK(of_escape("abc", out, 0) == out); /* nothing written */
    CHECK_INT(out[0], 'x');
    CHECK_STR(of_escape(NULL, out, sizeof(out)), "");
}

/* of_utf8_scrub: every byte outside a valid sequence becomes '?', the rest stays. */
static const struct {
    const char *name, *in, *want;
} utf8_cases[] = {
    {"ASCII", "job failed: disk full", "job failed: disk full"},
    {"empty", "", ""},
    {"2-, 3- and 4-byte", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x99",
     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x99"},
    {"C1 is valid UTF-8", "\xc2\x85", "\xc2\x85"},
    /* jansson's error context keeps one byte of a character (the fuzzer's find) */
    {"jansson near context", "invalid escape near '\"\\\xd0'", "invalid escape near '\"\\?'"},
    {"stray continuation", "a\x80z", "a?z"},
    {"lone lead byte at the end", "a\xc3", "a?"},
    {"truncated 3-byte", "\xe2\x82z", "??z"},
    {"overlong", "\xc0\xaf", "??"},
    {"surrogate", "\xed\xa0\x80", "???"},
    {"beyond U+10FFFF", "\xf4\x90\x80\x80", "????"},
    {"0xff 0xfe", "\xff\xfe", "??"},
};

static void test_utf8(void)
{
    char buf[128];
    for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        snprintf(buf, sizeof buf, "%s", utf8_cases[i].in);
        bool was_valid = strcmp(utf8_cases[i].in, utf8_cases[i].want) == 0;
        if (of_utf8_valid(buf) != was_valid || (of_utf8_scrub(buf) == 0) != was_valid ||
            strcmp(buf, utf8_cases[i].want) != 0)
            fprintf(stderr, "  utf8 case \"%s\"\n", utf8_cases[i].name);
        CHECK_STR(buf, utf8_cases[i].want);
        CHECK(of_utf8_valid(buf));
    }
    /* of_seterr's text is always UTF-8: what it quotes, and its cut at the buffer's end */
    CHECK_INT(of_seterr(buf, sizeof buf, OF_ERR_PROTOCOL, "reply is not valid JSON (%s)",
                        "near '\"\\\xd0'"),
              OF_ERR_PROTOCOL);
    CHECK_STR(buf, "reply is not valid JSON (near '\"\\?')");
    char small[6];
    (void)of_seterr(small, sizeof small, OF_ERR_INVALID, "abc%s", "\xe2\x82\xac");
    CHECK_STR(small, "abc??"); /* the euro sign cut after two of its three bytes */
}

/* Runs of_log with stderr redirected to a file; returns what it wrote. */
static char *log_capture(const char *by)
{
    char path[] = "/tmp/of_test_log_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    of_info("command ignored by=%s", by);
    dup2(saved, STDERR_FILENO);
    close(saved);
    static char text[8192];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return text;
}

static void test_log_one_line(void)
{
    const char *text = log_capture("mallory\n2026-01-01T00:00:00.000Z level=error \x1b[31mfake");
    CHECK_CONTAINS(text, " level=info command ignored by=mallory\\n2026-01-01T00:00:00.000Z "
                         "level=error \\x1b[31mfake\n");
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK_INT((long long)lines, 1);
    CHECK(strchr(text, '\x1b') == NULL);

    /* A huge message is cut but still one line ending in '\n'. */
    static char big[10000];
    memset(big, '\n', sizeof(big) - 1);
    text = log_capture(big);
    size_t len = strlen(text);
    CHECK(len > 1000 && len <= 4096);
    CHECK(len > 0 && text[len - 1] == '\n');
    CHECK(strchr(text, '\n') == text + len - 1);
}

static const struct {
    const char *in, *want;
} mask_url_cases[] = {
    {"http://user:password@host", "http://user:***@host"},
    {"https://user:p%40ss@o.example.com:8443/octopus",
     "https://user:***@o.example.com:8443/octopus"},
    {"https://TOKEN@host/x", "https://***@host/x"},
    {"http://u:p@ss@host/a@b", "http://u:***@host/a@b"}, /* last '@' of the authority */
    {"http://host:8080/path", "http://host:8080/path"},
    {"http://host/x@y", "http://host/x@y"}, /* '@' in the path is not user info */
    {"user:pw@host", "***@host"},
    {"", ""},
};

static void test_mask_url(void)
{
    char out[128];
    for (size_t i = 0; i < sizeof(mask_url_cases) / sizeof(mask_url_cases[0]); i++)
        CHECK_STR(of_secret_mask_url(mask_url_cases[i].in, out, sizeof(out)),
                  mask_url_cases[i].want);
    CHECK_STR(of_secret_mask_url(NULL, out, sizeof(out)), "");
    char tiny[12];
    CHECK_STR(of_secret_mask_url("http://u:secret@h", tiny, sizeof(tiny)), "http://u:**");
}

static const struct {
    const char *in;
    int ok;
    int64_t ms;
} rfc3339_cases[] = {
    {"1970-01-01T00:00:00Z", 0, 0},
    {"2026-05-05T21:00:05+00:00", 0, 1778014805000LL},
    {"2026-05-05T23:00:05+02:00", 0, 1778014805000LL},
    {"2026-05-05T21:00:03.120+00:00", 0, 1778014803120LL},
    {"2026-05-05T21:00:03.1234567Z", 0, 1778014803123LL},
    {"2026-05-05", -1, 0},
    {"2026-13-05T21:00:05Z", -1, 0},
    {"2026-05-05T21:00:05", -1, 0},
    {"2024-02-29T00:00:00Z", 0, 1709164800000LL},
    {"2023-02-29T00:00:00Z", -1, 0},
    {"2026-02-31T00:00:00Z", -1, 0},
    {"2026-04-31T00:00:00Z", -1, 0},
    {"2026-05-05T21:00:05+99:99", -1, 0},
    {"2026-05-05T21:00:05+24:00", -1, 0},
    {"1969-12-31T23:59:59.500Z", 0, -500},
    {"garbage", -1, 0},
    {"", -1, 0},
};

static void test_rfc3339(void)
{
    for (size_t i = 0; i < sizeof(rfc3339_cases) / sizeof(rfc3339_cases[0]); i++) {
        int64_t ms = -1;
        int rc = of_parse_rfc3339(rfc3339_cases[i].in, &ms);
        CHECK_INT(rc, rfc3339_cases[i].ok);
        if (rc == 0) CHECK_INT(ms, rfc3339_cases[i].ms);
    }
    char out[40];
    CHECK_STR(of_rfc3339(1778014803120LL, out, sizeof(out)), "2026-05-05T21:00:03.120Z");
    int64_t back;
    CHECK_INT(of_parse_rfc3339(out, &back), 0);
    CHECK_INT(back, 1778014803120LL);
    CHECK_STR(of_rfc3339(-500, out, sizeof(out)), "1969-12-31T23:59:59.500Z");
    /* written by hand: the same text as the format it replaces, over years 0-9999, and the
     * format itself beyond them or into a small buffer */
    uint64_t rnd = 42;
    const int64_t lo = -62167219200000LL, hi = 253402300799999LL; /* 0000-01-01 .. 9999-12-31 */
    for (int i = 0; i < 3000; i++) {
        rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t ms = i == 0 ? lo : i == 1 ? hi : lo + (int64_t)(rnd % (uint64_t)(hi - lo));
        int64_t frac = ((ms % 1000) + 1000) % 1000;
        time_t secs = (time_t)((ms - frac) / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char want[64];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
        CHECK_STR(of_rfc3339(ms, out, sizeof out), want);
    }
    char small[8];
    CHECK_STR(of_rfc3339(1778014803120LL, small, sizeof small), "2026-05");
    CHECK_STR(of_rfc3339(hi + 1, out, sizeof out), "10000-01-01T00:00:00.000Z");
}

/* The microsecond clock is the millisecond one, finer: same origin, never going back. */
static void test_monotonic_us(void)
{
    int64_t prev = of_now_us();
    for (int i = 0; i < 1000; i++) {
        int64_t ms0 = of_now_ms(), us = of_now_us(), ms1 = of_now_ms();
        CHECK(us >= prev);
        CHECK(us / 1000 >= ms0 && us / 1000 <= ms1);
        prev = us;
    }
}

static void test_backoff_bounds(void)
{
    uint64_t rnd = 12345;
    for (int attempt = 0; attempt < 20; attempt++) {
        for (int k = 0; k < 200; k++) {
            int64_t d = of_backoff_ms(attempt, 100, 5000, &rnd);
            int64_t ceiling = 100LL << (attempt < 6 ? attempt : 6);
            if (ceiling > 5000) ceiling = 5000;
            CHECK(d >= 50);
            CHECK(d <= ceiling);
        }
    }
    /* jitter: not every delay of a high attempt is the same */
    int64_t first = of_backoff_ms(10, 100, 5000, &rnd), differ = 0;
    for (int k = 0; k < 50; k++)
        differ += of_backoff_ms(10, 100, 5000, &rnd) != first;
    CHECK(differ > 0);
}

/* The string pool: one copy per distinct string, stable pointers while it grows. */
static void test_strpool(void)
{
    of_strpool *p = NULL;
    CHECK_INT(of_strpool_new(&p), OF_OK);
    if (!p) return;
    of_err rc = OF_OK;
    CHECK(of_strpool_get(p, NULL, &rc) == NULL);
    const char *a = of_strpool_get(p, "Hosted Beta", &rc);
    char copy[] = "Hosted Beta";
    CHECK(a != NULL && a != copy && strcmp(a, copy) == 0);
    CHECK(of_strpool_get(p, copy, &rc) == a); /* equal strings, one copy */
    CHECK(of_strpool_get(p, "", &rc) != NULL);
    const char *first[500];
    char b[32];
    for (int i = 0; i < 500; i++) { /* grows the table several times */
        snprintf(b, sizeof b, "Tenants-%d", i);
        first[i] = of_strpool_get(p, b, &rc);
    }
    for (int i = 0; i < 500; i++) {
        snprintf(b, sizeof b, "Tenants-%d", i);
        CHECK(of_strpool_get(p, b, &rc) == first[i]);
    }
    CHECK(of_strpool_get(p, "Hosted Beta", &rc) == a);
    CHECK_INT(of_strpool_count(p), 502);
    /* strings are packed into blocks: ones longer than a block, and enough short ones to fill
     * several, must all keep their text */
    static char big[40000];
    memset(big, 'x', sizeof big - 1);
    const char *bigp = of_strpool_get(p, big, &rc);
    const char *after = of_strpool_get(p, "after the big one", &rc);
    for (int i = 0; i < 5000; i++) {
        snprintf(b, sizeof b, "Environments-%d", i);
        (void)of_strpool_get(p, b, &rc);
    }
    CHECK(bigp && strcmp(bigp, big) == 0);
    CHECK(after && strcmp(after, "after the big one") == 0);
    for (int i = 0; i < 500; i++) {
        snprintf(b, sizeof b, "Tenants-%d", i);
        CHECK(strcmp(first[i], b) == 0);
    }
    CHECK(of_strpool_get(p, "Environments-4999", &rc) != NULL);
    CHECK_INT(of_strpool_count(p), 502 + 2 + 5000);
    CHECK_INT(rc, OF_OK);
    of_strpool_free(p);
    of_strpool_free(NULL);
}

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define HEAP_TIDY_MEASURED 1 /* the sanitizers bring their own allocator */
#endif

#ifdef HEAP_TIDY_MEASURED
/* Resident pages of this process (statm), in bytes. */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

/* A burst of blocks freed between blocks still held: their pages stay resident until the
 * heap is tidied, and then go (glibc; the sanitizers bring their own allocator). */
static void test_heap_tidy(void)
{
    enum { N = 2048, BIG = 16 << 10 };
    static char *big[N], *small[N];
    for (int i = 0; i < N; i++) {
        big[i] = malloc(BIG);
        small[i] = malloc(32);
        CHECK(big[i] && small[i]);
        if (big[i]) memset(big[i], 1, BIG); /* resident */
    }
    for (int i = 0; i < N; i++)
        free(big[i]);
    int64_t next = 0;
    /* not due: nothing looked at, nothing done */
    int64_t later = 5000;
    CHECK_INT(of_heap_tidy(0, &later, 10000, 0), 0);
    CHECK_INT(later, 5000);
#ifdef HEAP_TIDY_MEASURED
    size_t free_before = of_heap_free_bytes();
    CHECK(free_before >= (size_t)N * BIG / 2);
    /* more free bytes asked for than there are: looked at, left alone */
    CHECK_INT(of_heap_tidy(0, &next, 10000, free_before * 4), 0);
    CHECK_INT(next, 10000);
    size_t rss = rss_bytes();
    next = 0;
    CHECK(of_heap_tidy(0, &next, 10000, 1u << 20) >= (size_t)N * BIG / 2);
    size_t after = rss_bytes();
    fprintf(stderr, "measure: heap tidy: rss %zu KB -> %zu KB\n", rss >> 10, after >> 10);
    CHECK(after + (size_t)N * BIG / 2 <= rss); /* at least half the burst's pages went */
#else
    (void)of_heap_tidy(0, &next, 10000, 0);
    CHECK_INT(next, 10000);
#endif
    for (int i = 0; i < N; i++)
        free(small[i]);
}

int main(void)
{
    test_strpool();
    test_strerror();
    test_duration();
    test_nearest();
    test_buf_cap();
    test_read_file();
    test_escape();
    test_utf8();
    test_log_one_line();
    test_mask_url();
    test_rfc3339();
    test_monotonic_us();
    test_backoff_bounds();
    test_heap_tidy();
    return TEST_DONE();
}
