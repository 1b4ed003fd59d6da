/* The config target's seeds for the smoke driver (fuzz_smoke.c): the shipped example config
 * (every key), the config fixtures, good and bad, and the inputs libFuzzer found. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_config.h"
#include "fuzz_smoke.h"

/* Inputs libFuzzer found, kept as seeds so they stay fixed. */
static const char *const found[] = {
    /* an error line quoted a key holding a stray byte: not UTF-8 (2026-12-07) */
    "kafka = {\n    properties = ( \"sasl.pas\xc5"
    "word=x\", \"sasl.pas\xc5"
    "word=y\" );\n};\n",
};

static int config_seeds(of_fuzz_add_fn add)
{
    of_fuzz_add_dir(OF_CONFIG_DIR, ".example", add);
    of_fuzz_add_dir(OF_FIXTURES_DIR "/config/good", ".cfg", add);
    of_fuzz_add_dir(OF_FIXTURES_DIR "/config/bad", ".cfg", add);
    int broken = 0;
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++) {
        char *d = strdup(found[i]);
        if (!d) broken++;
        add(d, d ? strlen(d) : 0);
    }
    return broken;
}

/* libconfig's syntax, and values at the edges of the keys' checks. */
static const char *const config_tokens[] = {
    "=",          ":",        ";",
    ",",          "{",        "}",
    "(",          ")",        "[",
    "]",          "\"",       "\\\"",
    "\\x00",      "\\xff",    "\xff",
    "0x",         "L",        "1e999",
    "-1",         "0",        "true",
    "\"\"",       "\"0ms\"",  "\"1h\"",
    "\"99999d\"", "\"8MiB\"", "9223372036854775808",
    "octopus",    "kafka",    "url",
    "#",          "//",       "/*",
    "\n",
};

const of_fuzz_smoke_target of_fuzz_smoke = {of_fuzz_config_one, config_seeds, config_tokens,
                                            sizeof config_tokens / sizeof config_tokens[0], 20};
