/* The codec fuzz target, shared by the libFuzzer build and the smoke test. */
#ifndef OF_FUZZ_CODEC_H
#define OF_FUZZ_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Feeds data to every codec parser. Returns 0, or a bit mask of parsers that broke
 * their contract (accepted input they cannot re-encode, or rejected without a reason). */
int of_fuzz_one(const uint8_t *data, size_t size);

#endif
