/* Fuzz entry point for the config loader (common/config): what an operator's config file,
 * a typo or a truncated copy, can make of it. Built two ways, like fuzz_codec.c: with
 * clang's libFuzzer (-DOF_FUZZ_LIBFUZZER, scripts/fuzz.sh config) and as the ctest
 * test_fuzz_config (fuzz_smoke.c with smoke_config.c's seeds).
 * The contract checked: a config either loads, or is refused with a non-empty reason in
 * valid UTF-8; a loaded one passes or fails each role's check with a reason, and its dump
 * (--dump-config) loads back to the same dump. Inputs naming @include are passed over: the
 * loader would open the files they name. Memory errors are the sanitizers' job. */
#include "fuzz_config.h"
#include "fuzz_entry.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "utf8.h"

/* libconfig 1.5 (Debian 12's) leaks the token its scanner read when the parser fails on it
 * (a string or a number where a setting's name was expected: `"x"` alone leaks 64 bytes):
 * its grammar frees no token on the error path, fixed upstream in later releases. Not ours
 * to fix and harmless to octofleet, which refuses such a config once and exits; LeakSanitizer
 * is told to pass over leaks from libconfig's scanner and nothing else. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libconfig_yylex\nleak:strbuf_append\n";
}

/* Whether the input names an @include (any case, as the scanner might accept). */
static bool names_include(const char *s, size_t n)
{
    for (const char *p = memchr(s, '@', n); p; p = memchr(p + 1, '@', n - (size_t)(p + 1 - s)))
        if ((size_t)(s + n - p) > 8 && strncasecmp(p + 1, "include", 7) == 0) return true;
    return false;
}

static bool refused_well(const char *err)
{
    return err[0] && of_utf8_valid(err);
}

int of_fuzz_config_one(const uint8_t *data, size_t size)
{
    if (size > 1 << 16 || names_include((const char *)data, size)) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int bad = 0;
    char err[4096] = "";
    of_config cfg;
    if (of_config_load_string(&cfg, text, "<fuzz>", err, sizeof err) != OF_OK) {
        if (!refused_well(err)) bad |= 1;
        free(text);
        return bad;
    }
    static const of_config_role roles[] = {OF_ROLE_ANY, OF_ROLE_PRODUCER, OF_ROLE_WORKER};
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
        err[0] = '\0';
        if (of_config_check(&cfg, roles[r], err, sizeof err) != OF_OK && !refused_well(err))
            bad |= 2;
    }
    of_buf d1, d2;
    of_buf_init(&d1, 4 * OF_CONFIG_MAX_FILE);
    of_buf_init(&d2, 4 * OF_CONFIG_MAX_FILE);
    if (of_config_dump(&cfg, &d1) != OF_OK) {
        bad |= 4;
    } else {
        of_config again;
        err[0] = '\0';
        if (of_config_load_string(&again, d1.data ? d1.data : "", "<fuzz>", err, sizeof err) !=
            OF_OK) {
            bad |= 8;
        } else {
            if (of_config_dump(&again, &d2) != OF_OK || d1.len != d2.len ||
                memcmp(d1.data, d2.data, d1.len) != 0)
                bad |= 16;
            of_config_clear(&again);
        }
    }
    of_buf_clear(&d1);
    of_buf_clear(&d2);
    of_config_clear(&cfg);
    free(text);
    return bad;
}

#ifdef OF_FUZZ_LIBFUZZER
OF_FUZZ_LIBFUZZER_ENTRY(of_fuzz_config_one)
#endif
