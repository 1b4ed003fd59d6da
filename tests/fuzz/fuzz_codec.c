/* Fuzz entry point for every parser of the codec: requests, jobs, events, commands and
 * state records. Built two ways:
 *   - with clang's libFuzzer:  clang -fsanitize=fuzzer,address -DOF_FUZZ_LIBFUZZER ...
 *     (LLVMFuzzerTestOneInput below; corpus: tests/fixtures/requests and encoded jobs);
 *   - without it (gcc, CI): tests/fuzz/fuzz_smoke.c drives the same function with
 *     deterministic mutations of the golden files, as a ctest unit test.
 * The contract checked: a parser either succeeds, and then its output re-encodes, or
 * fails with a non-empty reason that is valid UTF-8 (it goes into events and DLQ records);
 * and oj_parse (common/json) gives json_loadb's tree or error.
 * Memory errors are the sanitizers' job. */
#include "fuzz_codec.h"
#include "fuzz_entry.h"

#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "ojcheck.h"
#include "ojson.h"
#include "utf8.h"

/* TYPE_decode of the input (s, size): a decoded message must encode again, a rejection must
 * say why in err; bit is set in bad when not. */
#define DECODE_ENCODES(type, bit)                                    \
    do {                                                             \
        type v_;                                                     \
        err[0] = '\0';                                               \
        if (type##_decode(s, size, &v_, err, sizeof err) == OF_OK) { \
            char *e_ = NULL;                                         \
            if (type##_encode(&v_, &e_) != OF_OK) bad |= (bit);      \
            free(e_);                                                \
        } else if (!err[0] || !of_utf8_valid(err)) {                 \
            bad |= (bit);                                            \
        }                                                            \
        type##_clear(&v_);                                           \
    } while (0)

int of_fuzz_one(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int bad = 0;
    char err[256];
    char *enc = NULL;

    of_errlist errs;
    of_errlist_init(&errs);
    of_request *req = NULL;
    if (of_request_parse(s, size, &req, &errs) == OF_OK) {
        /* the canonical form must parse again and be a fixed point */
        of_request *again = NULL;
        char *enc2 = NULL;
        if (of_request_encode(req, &enc) != OF_OK ||
            of_request_parse(enc, strlen(enc), &again, &errs) != OF_OK ||
            of_request_encode(again, &enc2) != OF_OK || strcmp(enc, enc2) != 0)
            bad |= 1;
        of_request_free(again);
        free(enc2);
        free(enc);
        enc = NULL;
        if (errs.n) bad |= 1;
    } else if (errs.n == 0) {
        bad |= 1; /* a rejection always says why */
    }
    for (size_t i = 0; i < errs.n; i++)
        if (!of_utf8_valid(errs.items[i])) bad |= 1;
    of_request_free(req);
    of_errlist_clear(&errs);

    of_job job;
    err[0] = '\0';
    if (of_job_decode(s, size, &job, err, sizeof err) == OF_OK) {
        of_job again;
        char *enc2 = NULL;
        memset(&again, 0, sizeof again);
        if (of_job_encode(&job, &enc) != OF_OK ||
            of_job_decode(enc, strlen(enc), &again, err, sizeof err) != OF_OK ||
            of_job_encode(&again, &enc2) != OF_OK || strcmp(enc, enc2) != 0)
            bad |= 2;
        of_job_clear(&again);
        free(enc2);
        free(enc);
        enc = NULL;
    } else if (!err[0] || !of_utf8_valid(err)) {
        bad |= 2;
    }
    of_job_clear(&job);

    DECODE_ENCODES(of_event, 4);

    DECODE_ENCODES(of_command, 8);

    DECODE_ENCODES(of_release_record, 16);

    DECODE_ENCODES(of_job_record, 32);

    /* oj_parse is json_loadb: the same tree in the same order, or the same refusal and text;
     * oj_parse_keep is that tree pruned, whatever it steps over */
    static const oj_keep sub[] = {{"job_id", NULL}, {"b", NULL}, {NULL, NULL}};
    static const oj_keep keep[] = {
        {"schema", NULL}, {"job", sub}, {"stages", sub}, {"a", sub}, {NULL, NULL}};
    if (!oj_check_as_jansson(s, size, NULL) || !oj_check_as_jansson(s, size, keep)) bad |= 64;
    return bad;
}

#ifdef OF_FUZZ_LIBFUZZER
OF_FUZZ_LIBFUZZER_ENTRY(of_fuzz_one)
#endif
