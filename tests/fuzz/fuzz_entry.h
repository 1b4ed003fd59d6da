/* Shared by the fuzz targets: the libFuzzer entry point (-DOF_FUZZ_LIBFUZZER builds) and the
 * JSON tokens their smoke mutators splice in. */
#ifndef OF_FUZZ_ENTRY_H
#define OF_FUZZ_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Defines LLVMFuzzerTestOneInput over one(data, size), which returns nonzero when the input
 * broke a contract: that aborts, so libFuzzer saves the input. */
#define OF_FUZZ_LIBFUZZER_ENTRY(one)                              \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)  \
    {                                                             \
        if (one(data, size) != 0) abort();                        \
        return 0;                                                 \
    }

/* The JSON structure tokens that open every mutator's token table. */
#define OF_FUZZ_JSON_TOKENS "{", "}", "[", "]", "\"", ",", ":", "null", "true"

#endif
