/* Shared by the fuzz targets' ctest drivers (fuzz_smoke.c, fuzz_octopus.c's main): their
 * command line and the seed corpus they write for the libFuzzer builds (scripts/fuzz.sh).
 * Not used by the libFuzzer builds themselves. */
#ifndef OF_FUZZ_DRIVER_H
#define OF_FUZZ_DRIVER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the command line asked for. */
typedef struct of_fuzz_cli {
    long count;            /* the value of count_opt (mutations, iterations); preset a default */
    const char *write_dir; /* --write-seeds DIR, or NULL */
} of_fuzz_cli;

/* Parses `[count_opt N] [--write-seeds DIR] [FILE...]`; every FILE goes to file(path, ctx).
 * Returns 0, or 2 after printing the usage when N is not a count. argv is borrowed. */
static inline int of_fuzz_cli_parse(int argc, char **argv, const char *count_opt, of_fuzz_cli *cli,
                                    void (*file)(const char *path, void *ctx), void *ctx)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], count_opt) == 0 && i + 1 < argc) {
            char *end;
            cli->count = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || cli->count < 0) {
                fprintf(stderr, "usage: %s [%s N] [--write-seeds DIR] [FILE...]\n", argv[0],
                        count_opt);
                return 2;
            }
        } else if (strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc) {
            cli->write_dir = argv[++i];
        } else {
            file(argv[i], ctx);
        }
    }
    return 0;
}

/* Writes seed number index as DIR/seed-NN, one file of the libFuzzer corpus. 0 on success. */
static inline int of_fuzz_write_seed(const char *dir, size_t index, const char *data, size_t len)
{
    char path[1024];
    if ((size_t)snprintf(path, sizeof path, "%s/seed-%02zu", dir, index) >= sizeof path) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    return rc;
}

/* Prints an input that broke a contract to stderr as a C string (its first 600 bytes), so
 * it can join the target's regression seeds. */
static inline void of_fuzz_print_input(const char *d, size_t n)
{
    fprintf(stderr, "input (%zu bytes): \"", n);
    for (size_t i = 0; i < n && i < 600; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\"\n", n > 600 ? "..." : "");
}

#endif
