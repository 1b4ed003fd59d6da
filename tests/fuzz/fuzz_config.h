/* The config fuzz target, shared by the libFuzzer build and the smoke test. */
#ifndef OF_FUZZ_CONFIG_H
#define OF_FUZZ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Loads data as a config file and checks the loader's contract (fuzz_config.c). Returns 0,
 * or a bit mask of the broken parts: 1 refused without a UTF-8 reason, 2 a role check
 * likewise, 4 the dump failed, 8 the dump did not load back, 16 it loaded to another dump. */
int of_fuzz_config_one(const uint8_t *data, size_t size);

#endif
