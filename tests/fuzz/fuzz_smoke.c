/* Runs a fuzz target without libFuzzer: each of its seeds (smoke_<target>.c) as it is and
 * mutated a thousand times with a fixed-seed PRNG (so a failure reproduces), plus any files
 * given on the command line. Registered with ctest as a unit test; under OF_SANITIZE=ON it is
 * a cheap fuzzer. `test_fuzz_<target> --mutations 0 --write-seeds DIR` writes the seeds as a
 * corpus for the libFuzzer build (scripts/fuzz.sh). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fuzz_driver.h"
#include "fuzz_smoke.h"
#include "test.h"

#define MAX_SEEDS 128

static char *seeds[MAX_SEEDS];
static size_t seed_len[MAX_SEEDS];
static size_t n_seeds;

static void add_seed(char *data, size_t len)
{
    if (n_seeds < MAX_SEEDS && data) {
        seeds[n_seeds] = data;
        seed_len[n_seeds++] = len;
    } else {
        free(data);
    }
}

void of_fuzz_add_dir(const char *dir, const char *suffix, of_fuzz_add_fn add)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return;
    size_t k = strlen(suffix);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n <= k || strcmp(de->d_name + n - k, suffix) != 0) continue;
        char path[1024];
        (void)snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len = 0;
        char *data = of_test_read_file(path, 1 << 16, &len);
        CHECK(data != NULL);
        add(data, len);
    }
    closedir(d);
}

static size_t mutate(const char *in, size_t len, char *out, size_t cap, uint64_t *rnd)
{
    size_t n = len < cap ? len : cap;
    memcpy(out, in, n);
    int edits = 1 + (int)(of_rand_next(rnd) % 4);
    for (int e = 0; e < edits; e++) {
        uint64_t r = of_rand_next(rnd);
        size_t pos = n ? (size_t)(of_rand_next(rnd) % n) : 0;
        switch (r % 4) {
        case 0: /* flip a byte */
            if (n) out[pos] = (char)(out[pos] ^ (char)(1u << (of_rand_next(rnd) % 8)));
            break;
        case 1: { /* delete a range */
            size_t k = (size_t)(of_rand_next(rnd) % 16);
            if (pos + k > n) k = n - pos;
            memmove(out + pos, out + pos + k, n - pos - k);
            n -= k;
            break;
        }
        case 2: { /* insert a JSON-ish token */
            const char *t = of_fuzz_smoke.tokens[of_rand_next(rnd) % of_fuzz_smoke.n_tokens];
            size_t k = strlen(t);
            if (n + k > cap) break;
            memmove(out + pos + k, out + pos, n - pos);
            memcpy(out + pos, t, k);
            n += k;
            break;
        }
        default: /* truncate */
            n = pos;
            break;
        }
    }
    return n;
}

static void add_file(const char *path, void *ctx)
{
    (void)ctx;
    size_t len = 0;
    char *d = of_test_read_file(path, 1 << 16, &len);
    CHECK(d != NULL);
    add_seed(d, len);
}

int main(int argc, char **argv)
{
    CHECK_INT(of_fuzz_smoke.seeds(add_seed), 0);
    of_fuzz_cli cli = {.count = 1000, .write_dir = NULL};
    if (of_fuzz_cli_parse(argc, argv, "--mutations", &cli, add_file, NULL)) return 2;
    CHECK(n_seeds >= of_fuzz_smoke.min_seeds);
    for (size_t s = 0; cli.write_dir && s < n_seeds; s++)
        CHECK(of_fuzz_write_seed(cli.write_dir, s, seeds[s], seed_len[s]) == 0);
    uint64_t rnd = 0x6f6374666c656574ULL; /* fixed: failures reproduce */
    int failures = 0;
    size_t cap = 1 << 17;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    for (size_t s = 0; buf && s < n_seeds; s++) {
        CHECK_INT(of_fuzz_smoke.one((const uint8_t *)seeds[s], seed_len[s]), 0);
        for (long m = 0; m < cli.count; m++) {
            size_t n = mutate(seeds[s], seed_len[s], buf, cap, &rnd);
            int bad = of_fuzz_smoke.one((const uint8_t *)buf, n);
            if (bad) {
                fprintf(stderr, "seed %zu mutation %ld: contract broken (mask %d)\n", s, m, bad);
                if (++failures <= 3) of_fuzz_print_input(buf, n);
            }
            CHECK_INT(bad, 0);
        }
    }
    free(buf);
    for (size_t s = 0; s < n_seeds; s++)
        free(seeds[s]);
    return TEST_DONE();
}
