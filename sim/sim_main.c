/* octopus-sim: the Octopus Deploy simulator as a foreground process.
 *
 * Prints exactly one line on stdout when ready,
 *   octopus-sim listening on http://127.0.0.1:PORT
 * so a harness can read the port, then serves until SIGINT or SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sim.h"

#define EXIT_USAGE   2
#define EXIT_CONFIG  3
#define EXIT_SERVICE 4
#define MAX_KEYS     64

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fputs("usage: octopus-sim --fixture FILE [options]\n"
          "\n"
          "A simulated Octopus Deploy server for octofleet's tests and demo.\n"
          "\n"
          "  --fixture FILE       world fixture (JSON; see docs/octopus.md)\n"
          "  --port N             TCP port, 0 = ephemeral (default 0)\n"
          "  --bind ADDR          listen address (default 127.0.0.1)\n"
          "  --task-cap N         concurrently executing tasks (default: fixture's, else 5)\n"
          "  --seed N             PRNG seed for durations/outcomes (default: fixture's)\n"
          "  --tls-cert FILE      PEM certificate; with --tls-key serves HTTPS\n"
          "  --tls-key FILE       PEM private key\n"
          "  --api-key-file FILE  extra API keys (all spaces), one per line\n"
          "  --log-level LEVEL    error|warn|info|debug (debug logs every request)\n"
          "  --help               this text\n"
          "\n"
          "API keys come from the fixture, the OCTOPUS_SIM_API_KEYS environment variable\n"
          "(comma-separated) and --api-key-file; never from the command line.\n"
          "OCTOPUS_SIM_CHECK_TEXTS=1 makes every reply built from a kept rendering also\n"
          "render afresh and abort on a difference (the simulator's own tests).\n"
          "When ready, prints \"octopus-sim listening on URL\" on stdout. Stops on\n"
          "SIGINT/SIGTERM.\n"
          "\n"
          "Exit codes: 0 stopped by a signal, 2 usage error, 3 bad fixture, key file or\n"
          "TLS files, 4 cannot listen on the address/port.\n",
          out);
}

static int parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max || s[0] == '-') return -1;
    *out = v;
    return 0;
}

/* Splits text on commas or newlines into keys (copies into *keys). Lines
 * starting with '#' are comments. */
static int add_keys(char *text, char **keys, int *n)
{
    for (char *p = text; p && *p;) {
        size_t len = strcspn(p, ",\n\r");
        char save = p[len];
        p[len] = '\0';
        char *k = p;
        while (*k == ' ' || *k == '\t')
            k++;
        size_t kl = strlen(k);
        while (kl > 0 && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
            k[--kl] = '\0';
        if (kl > 0 && k[0] != '#') {
            if (*n >= MAX_KEYS) return -1;
            keys[(*n)++] = strdup(k);
        }
        p = save ? p + len + 1 : NULL;
    }
    return 0;
}

static int read_key_file(const char *path, char **keys, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        of_error("cannot open API key file path=%s error=\"%s\"", path, strerror(errno));
        return -1;
    }
    char buf[8192];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    if (add_keys(buf, keys, n) != 0) {
        of_error("too many API keys (max %d)", MAX_KEYS);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    ofsim_opts o = {0};
    char *keys[MAX_KEYS + 1] = {0};
    int n_keys = 0;
    const char *key_file = NULL;
    of_log_set_component("octopus-sim");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long num;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "octopus-sim: unknown option or missing value: %s\n", a);
            usage(stderr);
            return EXIT_USAGE;
        }
        i++;
        if (strcmp(a, "--fixture") == 0) {
            o.fixture_path = v;
        } else if (strcmp(a, "--bind") == 0) {
            o.bind_addr = v;
        } else if (strcmp(a, "--tls-cert") == 0) {
            o.tls_cert_path = v;
        } else if (strcmp(a, "--tls-key") == 0) {
            o.tls_key_path = v;
        } else if (strcmp(a, "--api-key-file") == 0) {
            key_file = v;
        } else if (strcmp(a, "--port") == 0 && parse_num(v, 65535, &num) == 0) {
            o.port = (uint16_t)num;
        } else if (strcmp(a, "--task-cap") == 0 && parse_num(v, 100000, &num) == 0 && num > 0) {
            o.task_cap = (int)num;
        } else if (strcmp(a, "--seed") == 0 && parse_num(v, UINT64_MAX, &num) == 0) {
            o.seed = (uint64_t)num;
        } else if (strcmp(a, "--log-level") == 0) {
            of_log_level lvl;
            if (of_log_level_parse(v, &lvl) != 0) {
                fprintf(stderr, "octopus-sim: bad --log-level %s\n", v);
                return EXIT_USAGE;
            }
            of_log_set_level(lvl);
        } else {
            fprintf(stderr, "octopus-sim: bad option or value: %s %s\n", a, v);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!o.fixture_path) {
        fprintf(stderr, "octopus-sim: --fixture is required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    int rc = 0;
    const char *env_keys = getenv("OCTOPUS_SIM_API_KEYS");
    if (env_keys) {
        char *copy = strdup(env_keys);
        if (!copy || add_keys(copy, keys, &n_keys) != 0) rc = EXIT_CONFIG;
        free(copy);
    }
    if (!rc && key_file && read_key_file(key_file, keys, &n_keys) != 0) rc = EXIT_CONFIG;
    o.api_keys = (const char *const *)keys;
    const char *check = getenv("OCTOPUS_SIM_CHECK_TEXTS");
    o.check_texts = check && strcmp(check, "1") == 0;

    /* Block the stop signals in every thread the simulator starts; only
     * sigsuspend below takes them. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    ofsim *sim = NULL;
    if (!rc) {
        char err[512];
        of_err e = ofsim_start(&o, &sim, err, sizeof err);
        if (e) {
            of_error("cannot start the simulator: %s", err);
            rc = e == OF_ERR_IO ? EXIT_SERVICE : EXIT_CONFIG;
        }
    }
    if (!rc) {
        printf("octopus-sim listening on %s\n", ofsim_url(sim));
        fflush(stdout);
        sigset_t wait_mask = old;
        sigdelset(&wait_mask, SIGINT);
        sigdelset(&wait_mask, SIGTERM);
        while (!stop_requested)
            sigsuspend(&wait_mask);
        of_info("octopus-sim stopping");
        ofsim_stop(sim);
    }
    for (int i = 0; i < n_keys; i++)
        free(keys[i]);
    return rc;
}
