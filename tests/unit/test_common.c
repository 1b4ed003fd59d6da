/* Unit tests for common/: error strings, capped buffers, time parsing, backoff. */
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "test.h"

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
    of_buf_free(&b);

    of_buf big;
    of_buf_init(&big, 100000);
    for (int i = 0; i < 1000; i++)
        CHECK_INT(of_buf_puts(&big, "0123456789"), OF_OK);
    CHECK_INT((long long)big.len, 10000);
    of_buf_free(&big);
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

int main(void)
{
    test_strerror();
    test_buf_cap();
    test_rfc3339();
    test_backoff_bounds();
    return TEST_DONE();
}
