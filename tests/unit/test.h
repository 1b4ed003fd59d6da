/* A tiny test harness: each test file is its own executable registered with
 * ctest (so it runs alone, in its own process, under ctest's timeout).
 * Assertions print both sides and the location, and count failures instead
 * of aborting, so one run shows every broken case of a table. */
#ifndef OF_TEST_H
#define OF_TEST_H

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int of_test_failures;
static int of_test_checks;

/* Counts one check; when bad, counts a failure and prints file:line and the printf-style
 * message (which ends in a newline). The CHECK macros below are all built on it. */
#define OF_TEST_FAIL_IF(bad, ...)                           \
    do {                                                    \
        of_test_checks++;                                   \
        if (bad) {                                          \
            of_test_failures++;                             \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                   \
        }                                                   \
    } while (0)

#define CHECK(cond) OF_TEST_FAIL_IF(!(cond), "CHECK failed: %s\n", #cond)

#define CHECK_INT(got, want)                                                             \
    do {                                                                                 \
        long long g_ = (long long)(got), w_ = (long long)(want);                         \
        OF_TEST_FAIL_IF(g_ != w_, "%s == %lld, want %s == %lld\n", #got, g_, #want, w_); \
    } while (0)

#define CHECK_STR(got, want)                                                         \
    do {                                                                             \
        const char *g_ = (got), *w_ = (want);                                        \
        OF_TEST_FAIL_IF((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_) != 0), \
                        "%s == \"%s\", want \"%s\"\n", #got, g_ ? g_ : "(null)",     \
                        w_ ? w_ : "(null)");                                         \
    } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                 \
    do {                                                                            \
        const char *h_ = (hay), *n_ = (needle);                                     \
        OF_TEST_FAIL_IF(!h_ || !strstr(h_, n_), "\"%s\" does not contain \"%s\"\n", \
                        h_ ? h_ : "(null)", n_);                                    \
    } while (0)

/* Reads the real broker's address (the kafka ctest fixture writes it to the file named by
 * $OF_TEST_KAFKA_BOOTSTRAP_FILE) into buf. Returns 0, 77 (skip: no broker configured) or 1. */
static inline int of_test_read_bootstrap(char *buf, size_t size)
{
    const char *path = getenv("OF_TEST_KAFKA_BOOTSTRAP_FILE");
    if (!path || !*path) {
        fprintf(stderr, "skipped: OF_TEST_KAFKA_BOOTSTRAP_FILE not set (run through ctest, or "
                        "start tests/kafka/broker.py and export it)\n");
        return 77;
    }
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, (int)size, f)) {
        fprintf(stderr, "cannot read the broker address from %s\n", path);
        if (f) fclose(f);
        return 1;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf[0] ? 0 : 1;
}

/* The first cap bytes of the file at path in a new buffer of cap bytes the caller frees
 * (*len: the bytes read), or NULL when it cannot be opened or cap bytes not allocated. */
static inline char *of_test_read_file(const char *path, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *d = malloc(cap);
    *len = d ? fread(d, 1, cap, f) : 0;
    fclose(f);
    return d;
}

/* Ends main: prints the plain summary and returns the exit status. */
#define TEST_DONE()                                                               \
    (fprintf(stderr, "%d checks, %d failed\n", of_test_checks, of_test_failures), \
     of_test_failures ? 1 : 0)

#endif
