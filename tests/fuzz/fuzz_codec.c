/* Fuzz entry point for every parser of the codec: requests, jobs, events, commands and
 * state records. Built two ways:
 *   - with clang's libFuzzer:  clang -fsanitize=fuzzer,address -DOF_FUZZ_LIBFUZZER ...
 *     (LLVMFuzzerTestOneInput below; corpus: tests/fixtures/requests and encoded jobs);
 *   - without it (gcc, CI): tests/fuzz/fuzz_smoke.c drives the same function with
 *     deterministic mutations of the golden files, as a ctest unit test.
 * The contract checked: a parser either succeeds, and then its output re-encodes, or
 * fails with a non-empty reason. Memory errors are the sanitizers' job. */
#include "fuzz_codec.h"

#include <stdlib.h>
#include <string.h>

#include "msg.h"

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
    of_request_free(req);
    of_errlist_free(&errs);

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
    } else if (!err[0]) {
        bad |= 2;
    }
    of_job_clear(&job);

    of_event ev;
    err[0] = '\0';
    if (of_event_decode(s, size, &ev, err, sizeof err) == OF_OK) {
        if (of_event_encode(&ev, &enc) != OF_OK) bad |= 4;
        free(enc);
        enc = NULL;
    } else if (!err[0]) {
        bad |= 4;
    }
    of_event_clear(&ev);

    of_command cmd;
    err[0] = '\0';
    if (of_command_decode(s, size, &cmd, err, sizeof err) == OF_OK) {
        if (of_command_encode(&cmd, &enc) != OF_OK) bad |= 8;
        free(enc);
        enc = NULL;
    } else if (!err[0]) {
        bad |= 8;
    }
    of_command_clear(&cmd);

    of_release_record rr;
    err[0] = '\0';
    if (of_release_record_decode(s, size, &rr, err, sizeof err) == OF_OK) {
        if (of_release_record_encode(&rr, &enc) != OF_OK) bad |= 16;
        free(enc);
        enc = NULL;
    } else if (!err[0]) {
        bad |= 16;
    }
    of_release_record_clear(&rr);

    of_job_record jr;
    err[0] = '\0';
    if (of_job_record_decode(s, size, &jr, err, sizeof err) == OF_OK) {
        if (of_job_record_encode(&jr, &enc) != OF_OK) bad |= 32;
        free(enc);
        enc = NULL;
    } else if (!err[0]) {
        bad |= 32;
    }
    of_job_record_clear(&jr);
    return bad;
}

#ifdef OF_FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (of_fuzz_one(data, size) != 0) abort();
    return 0;
}
#endif
