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

#define CHECK(cond)                                                                  \
    do {                                                                             \
        of_test_checks++;                                                            \
        if (!(cond)) {                                                               \
            of_test_failures++;                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_INT(got, want)                                                                      \
    do {                                                                                          \
        long long g_ = (long long)(got), w_ = (long long)(want);                                  \
        of_test_checks++;                                                                         \
        if (g_ != w_) {                                                                           \
            of_test_failures++;                                                                   \
            fprintf(stderr, "%s:%d: %s == %lld, want %s == %lld\n", __FILE__, __LINE__, #got, g_, \
                    #want, w_);                                                                   \
        }                                                                                         \
    } while (0)

#define CHECK_STR(got, want)                                                                \
    do {                                                                                    \
        const char *g_ = (got), *w_ = (want);                                               \
        of_test_checks++;                                                                   \
        if ((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_) != 0)) {                  \
            of_test_failures++;                                                             \
            fprintf(stderr, "%s:%d: %s == \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got, \
                    g_ ? g_ : "(null)", w_ ? w_ : "(null)");                                \
        }                                                                                   \
    } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                        \
    do {                                                                                   \
        const char *h_ = (hay), *n_ = (needle);                                            \
        of_test_checks++;                                                                  \
        if (!h_ || !strstr(h_, n_)) {                                                      \
            of_test_failures++;                                                            \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                    h_ ? h_ : "(null)", n_);                                               \
        }                                                                                  \
    } while (0)

/* Ends main: prints the plain summary and returns the exit status. */
#define TEST_DONE()                                                               \
    (fprintf(stderr, "%d checks, %d failed\n", of_test_checks, of_test_failures), \
     of_test_failures ? 1 : 0)

#endif
