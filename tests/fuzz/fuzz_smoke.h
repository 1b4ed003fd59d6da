/* The fuzz targets' ctest driver (fuzz_smoke.c) and what a target gives it: its entry
 * point, its seeds and the tokens the mutator splices in. One target per executable
 * (test_fuzz_codec: smoke_codec.c; test_fuzz_config: smoke_config.c). */
#ifndef OF_FUZZ_SMOKE_H
#define OF_FUZZ_SMOKE_H

#include <stddef.h>
#include <stdint.h>

/* Adds one seed; takes data (malloc'd, NULL ignored). */
typedef void (*of_fuzz_add_fn)(char *data, size_t len);

typedef struct of_fuzz_smoke_target {
    int (*one)(const uint8_t *data, size_t size); /* 0, or a mask of broken contracts */
    int (*seeds)(of_fuzz_add_fn add); /* adds the seeds; returns how many it could not build */
    const char *const *tokens;        /* what the mutator inserts */
    size_t n_tokens;
    size_t min_seeds; /* fewer seeds than this: the fixtures went missing */
} of_fuzz_smoke_target;

/* Defined by the target's smoke_<name>.c. */
extern const of_fuzz_smoke_target of_fuzz_smoke;

/* Adds every file of dir whose name ends in suffix (".json") as a seed. */
void of_fuzz_add_dir(const char *dir, const char *suffix, of_fuzz_add_fn add);

#endif
