/* Unit tests for the config table (common/config/config.h), API key loading
 * (common/base/secret.h) and stop flags/signals (common/base/signals.h).
 *
 * Most config cases are data: tests/fixtures/config/good/NAME.cfg must load
 * (and match NAME.expect), bad/NAME.cfg must fail with the substrings of
 * NAME.err (see tests/fixtures/config/README.md). The committed example file
 * and the key table in docs/configuration.md are compared with what the
 * table generates, so docs cannot drift from the code. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "secret.h"
#include "signals.h"
#include "test.h"
#include "utf8.h"

#ifndef OF_SOURCE_DIR
#error "OF_SOURCE_DIR must point at the source tree"
#endif
#ifndef OF_BINARY_DIR
#define OF_BINARY_DIR "."
#endif

#define FIXTURES OF_SOURCE_DIR "/tests/fixtures/config"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* Returns the file's contents (caller frees) or NULL. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    of_buf b;
    of_buf_init(&b, 1 << 22);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (of_buf_append(&b, chunk, n) != OF_OK) break;
    fclose(f);
    return of_buf_detach(&b);
}

static int write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    fchmod(fd, mode); /* umask may have narrowed it */
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of the names in dir ending in suffix; returns the count. */
static size_t list_dir(const char *dir, const char *suffix, char ***out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0) continue;
        char **grown = realloc(*out, (n + 1) * sizeof(char *));
        if (!grown) break;
        *out = grown;
        (*out)[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(*out, n, sizeof(char *), cmp_str);
    return n;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

/* The text after the first line (drops the dump's "from <file>" header). */
static const char *after_first_line(const char *s)
{
    const char *nl = s ? strchr(s, '\n') : NULL;
    return nl ? nl + 1 : "";
}

static char *dump(const of_config *cfg)
{
    of_buf b;
    of_buf_init(&b, 1 << 20);
    CHECK_INT(of_config_dump(cfg, &b), OF_OK);
    return of_buf_detach(&b);
}

static char *value_of(const of_config *cfg, const char *key)
{
    of_buf b;
    of_buf_init(&b, 1 << 16);
    if (of_config_format_value(cfg, key, &b) != OF_OK) { /* unknown key */
        of_buf_clear(&b);
        return NULL;
    }
    return of_buf_detach(&b);
}

/* Runs fn with stderr captured; returns what it wrote (caller frees). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/of_test_stderr_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char *text = read_text(path);
    unlink(path);
    return text;
}

/* ------------------------------------------------------------------------ */
/* Defaults and typed fields                                                */

static void test_defaults(void)
{
    of_config c;
    CHECK_INT(of_config_defaults(&c, NULL, 0), OF_OK);
    CHECK_STR(c.kafka.bootstrap_servers, "127.0.0.1:9092");
    CHECK_STR(c.kafka.client_id, "octofleet");
    CHECK_INT(c.kafka.properties.count, 0);
    CHECK_STR(c.topics.prefix, "octofleet.");
    CHECK_INT(c.topics.partitions, 6);
    CHECK_INT(c.topics.replication_factor, 1);
    CHECK_INT(c.topics.max_stages, 8);
    CHECK(c.topics.create);
    CHECK_STR(c.octopus.url, "");
    CHECK_STR(c.octopus.space, "Default");
    CHECK_STR(c.octopus.api_key_file, "");
    CHECK_STR(c.octopus.ca_file, "");
    CHECK(c.octopus.tls_verify);
    CHECK_INT(c.octopus.connect_timeout_ms, 10000);
    CHECK_INT(c.octopus.request_timeout_ms, 30000);
    CHECK_INT(c.octopus.retry_deadline_ms, 120000);
    CHECK_INT(c.octopus.max_concurrent_requests, 64);
    CHECK_INT(c.octopus.task_poll_chunk, 100);
    CHECK_INT(c.octopus.max_response_bytes, 8 * 1024 * 1024);
    CHECK_STR(c.producer.group_id, "octofleet-producer");
    CHECK_STR(c.producer.transactional_id, "octofleet-producer");
    CHECK_STR(c.worker.group_id, "octofleet-workers");
    CHECK_STR(c.worker.name, "");
    CHECK_INT(c.worker.max_in_flight, 256);
    CHECK_INT(c.worker.poll_interval_ms, 750);
    CHECK_INT(c.worker.drain_timeout_ms, 30000);
    CHECK_INT(c.worker.max_poll_interval_ms, 300000);
    CHECK_INT(c.worker.assignment, OF_ASSIGN_COOPERATIVE);
    CHECK_INT(c.log.level, OF_LOG_INFO);
    CHECK(c.source == NULL);
    of_config_clear(&c);
    CHECK(c.octopus.url == NULL); /* freed and zeroed */
    of_config_clear(&c);          /* idempotent */
    of_config_clear(NULL);
}

static void test_typed_fields(void)
{
    of_config c;
    char es[2048];
    CHECK_INT(of_config_load_file(&c, FIXTURES "/good/full.cfg", es, sizeof(es)), OF_OK);
    CHECK_CONTAINS(c.source, "full.cfg");
    CHECK_INT(c.octopus.connect_timeout_ms, 5000);
    CHECK_INT(c.octopus.request_timeout_ms, 45000);
    CHECK_INT(c.octopus.retry_deadline_ms, 90 * 60 * 1000);
    CHECK_INT((long long)c.octopus.max_response_bytes, 16LL * 1024 * 1024);
    CHECK(!c.octopus.tls_verify);
    CHECK(!c.topics.create);
    CHECK_INT(c.topics.replication_factor, 3);
    CHECK_INT(c.worker.max_in_flight, 1000);
    CHECK_INT(c.worker.poll_interval_ms, 250);
    CHECK_INT(c.log.level, OF_LOG_DEBUG);
    CHECK_INT(c.kafka.properties.count, 2);
    CHECK_STR(of_config_kafka_property(&c, "socket.keepalive.enable"), "true");
    CHECK_STR(of_config_kafka_property(&c, "statistics.interval.ms"), "60000");
    CHECK(of_config_kafka_property(&c, "security.protocol") == NULL);
    CHECK_INT(c.topics.configs.count, 1);
    if (c.topics.configs.count == 1) {
        CHECK_STR(c.topics.configs.items[0].key, "min.insync.replicas");
        CHECK_STR(c.topics.configs.items[0].value, "2");
    }
    of_config_clear(&c);
}

/* ------------------------------------------------------------------------ */
/* Golden files                                                             */

/* Checks every "key = value" line of an .expect file. */
static void check_expect(const of_config *c, const char *expect_path)
{
    char *text = read_text(expect_path);
    if (!text) return; /* .expect is optional */
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(line, " = ");
        CHECK(eq != NULL);
        if (!eq) continue;
        *eq = '\0';
        char *got = value_of(c, line);
        if (strcmp(got ? got : "", eq + 3) != 0)
            fprintf(stderr, "  in %s, key %s\n", expect_path, line);
        CHECK_STR(got, eq + 3);
        free(got);
    }
    free(text);
}

static void test_good_files(void)
{
    char **names;
    size_t n = list_dir(FIXTURES "/good", ".cfg", &names);
    CHECK(n >= 5);
    for (size_t i = 0; i < n; i++) {
        char path[1024], expect[1024], es[4096] = "";
        snprintf(path, sizeof(path), "%s/good/%s", FIXTURES, names[i]);
        snprintf(expect, sizeof(expect), "%s", path);
        snprintf(expect + strlen(expect) - 4, 8, ".expect");
        of_config c;
        of_err rc = of_config_load_file(&c, path, es, sizeof(es));
        if (rc != OF_OK) fprintf(stderr, "  %s: %s\n", names[i], es);
        CHECK_INT(rc, OF_OK);
        if (rc != OF_OK) continue;
        check_expect(&c, expect);

        /* The dump is a valid config that loads back to the same dump. */
        char *d1 = dump(&c);
        of_config again;
        rc = of_config_load_string(&again, d1, "<dump>", es, sizeof(es));
        if (rc != OF_OK) fprintf(stderr, "  reloading dump of %s: %s\n", names[i], es);
        CHECK_INT(rc, OF_OK);
        if (rc == OF_OK) {
            char *d2 = dump(&again);
            CHECK_STR(after_first_line(d2), after_first_line(d1));
            free(d2);
            of_config_clear(&again);
        }
        free(d1);
        of_config_clear(&c);
    }
    free_list(names, n);
}

static void test_bad_files(void)
{
    char **names;
    size_t n = list_dir(FIXTURES "/bad", ".cfg", &names);
    CHECK(n >= 10);
    for (size_t i = 0; i < n; i++) {
        char path[1024], errpath[1024], es[4096] = "";
        snprintf(path, sizeof(path), "%s/bad/%s", FIXTURES, names[i]);
        snprintf(errpath, sizeof(errpath), "%s", path);
        snprintf(errpath + strlen(errpath) - 4, 8, ".err");
        char *want = read_text(errpath);
        if (!want) fprintf(stderr, "  missing %s\n", errpath);
        CHECK(want != NULL);

        of_config c;
        of_err rc = of_config_load_file(&c, path, es, sizeof(es));
        if (rc == OF_OK) fprintf(stderr, "  %s loaded but should not\n", names[i]);
        CHECK_INT(rc, OF_ERR_CONFIG);
        CHECK(c.octopus.url == NULL); /* left freed on failure */
        CHECK(of_utf8_valid(es));     /* the file's stray bytes do not reach the error */
        char *save = NULL;
        for (char *line = want ? strtok_r(want, "\n", &save) : NULL; line;
             line = strtok_r(NULL, "\n", &save)) {
            if (line[0] == '!') {
                if (strstr(es, line + 1))
                    fprintf(stderr, "  %s: leaked '%s'\n", names[i], line + 1);
                CHECK(strstr(es, line + 1) == NULL);
            } else {
                CHECK_CONTAINS(es, line);
            }
        }
        free(want);
    }
    free_list(names, n);
}

/* Every problem is reported, not just the first. */
static void test_collects_all_errors(void)
{
    of_config c;
    char es[4096];
    CHECK_INT(of_config_load_file(&c, FIXTURES "/bad/out-of-range.cfg", es, sizeof(es)),
              OF_ERR_CONFIG);
    int lines = 1;
    for (const char *p = es; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 5);

    /* A tiny errstr is truncated, still terminated, and the code is kept. */
    char small[24];
    memset(small, 'x', sizeof(small));
    CHECK_INT(of_config_load_file(&c, FIXTURES "/bad/out-of-range.cfg", small, sizeof(small)),
              OF_ERR_CONFIG);
    CHECK(memchr(small, '\0', sizeof(small)) != NULL);
    CHECK_INT(of_config_load_file(&c, FIXTURES "/bad/out-of-range.cfg", NULL, 0), OF_ERR_CONFIG);
}

static void test_load_errors(void)
{
    of_config c;
    char es[1024];
    CHECK_INT(of_config_load_file(&c, FIXTURES "/no-such-file.cfg", es, sizeof(es)), OF_ERR_IO);
    CHECK_CONTAINS(es, "no-such-file.cfg: cannot open: No such file or directory");

    /* Not a regular file: refused at once (a FIFO would otherwise block the
     * load until ctest's timeout). */
    CHECK_INT(of_config_load_file(&c, FIXTURES, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, FIXTURES ": is a directory");
    CHECK(c.source == NULL);
    char fifo[] = "/tmp/of_test_cfg_fifo_XXXXXX";
    int tmpfd = mkstemp(fifo);
    CHECK(tmpfd >= 0);
    close(tmpfd);
    unlink(fifo);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    CHECK_INT(of_config_load_file(&c, fifo, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, ": is not a regular file (FIFO)");
    CHECK_CONTAINS(es, fifo);
    unlink(fifo);

    CHECK_INT(of_config_load_string(&c, "log = { level = \"warn\" ", "<inline>", es, sizeof(es)),
              OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "<inline>:1: syntax error");

    CHECK_INT(of_config_load_string(&c, "log = { level = \"warn\"; };", NULL, es, sizeof(es)),
              OF_OK);
    CHECK_INT(c.log.level, OF_LOG_WARN);
    CHECK_STR(c.source, "<string>");
    of_config_clear(&c);

    CHECK_INT(of_config_load_string(&c, "\n\nlog = { levle = \"warn\"; };", "x", es, sizeof(es)),
              OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "x:3: unknown key 'log.levle' (did you mean 'log.level'?)");
}

/* ------------------------------------------------------------------------ */
/* Secrets in dumps                                                         */

static void test_dump_masks_secrets(void)
{
    of_config c;
    char es[2048];
    CHECK_INT(of_config_load_file(&c, FIXTURES "/good/kafka-sasl.cfg", es, sizeof(es)), OF_OK);
    CHECK_INT(c.kafka.properties.count, 7);
    /* The struct holds the real values, in file order... */
    CHECK_STR(of_config_kafka_property(&c, "sasl.password"), "s3cr3t-Pa55word");
    CHECK_STR(of_config_kafka_property(&c, "client.rack"), "a=b");
    if (c.kafka.properties.count == 7) {
        CHECK_STR(c.kafka.properties.items[0].key, "security.protocol");
        CHECK_STR(c.kafka.properties.items[2].key, "sasl.mechanism");
        CHECK_STR(c.kafka.properties.items[2].value, "SCRAM-SHA-512");
    }
    /* ...the dump does not. */
    char *d = dump(&c);
    CHECK(strstr(d, "s3cr3t") == NULL);
    CHECK(strstr(d, "another-s3cr3t") == NULL);
    CHECK_CONTAINS(d, "[\"sasl.password\", \"****\"]");
    CHECK_CONTAINS(d, "[\"ssl.key.password\", \"****\"]");
    CHECK_CONTAINS(d, "[\"sasl.username\", \"octofleet\"]");
    CHECK_CONTAINS(d, "[\"security.protocol\", \"SASL_SSL\"]");
    CHECK_CONTAINS(d, "[\"client.rack\", \"a=b\"]");
    char *v = value_of(&c, "kafka.properties");
    CHECK(strstr(v, "s3cr3t") == NULL);
    free(v);
    free(d);
    of_config_clear(&c);

    /* Credentials in octopus.url: masked in the dump and in format_value,
     * and the masked dump still loads. */
    static const struct {
        const char *url, *shown, *hidden;
    } urls[] = {
        {"http://deployer:pa55word@octopus.example.com:8080/o",
         "\"http://deployer:***@octopus.example.com:8080/o\"", "pa55word"},
        {"https://TOKEN123@octopus.example.com", "\"https://***@octopus.example.com\"", "TOKEN123"},
        {"https://octopus.example.com", "\"https://octopus.example.com\"", NULL},
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        of_config u;
        CHECK_INT(of_config_defaults(&u, NULL, 0), OF_OK);
        CHECK_INT(of_config_set(&u, "octopus.url", urls[i].url, es, sizeof(es)), OF_OK);
        CHECK_STR(u.octopus.url, urls[i].url); /* the struct keeps the real one */
        char *ud = dump(&u);
        CHECK_CONTAINS(ud, urls[i].shown);
        if (urls[i].hidden) CHECK(strstr(ud, urls[i].hidden) == NULL);
        char *uv = value_of(&u, "octopus.url");
        CHECK_STR(uv, urls[i].shown);
        of_config back;
        CHECK_INT(of_config_load_string(&back, ud, "<dump>", es, sizeof(es)), OF_OK);
        of_config_clear(&back);
        free(uv);
        free(ud);
        of_config_clear(&u);
    }

    /* Masking is by name, case-insensitive: password, secret, key. The same
     * rule serves both lists; topics.configs is used here because its names
     * are not checked against librdkafka (VALUE-n is no valid enum value). */
    static const struct {
        const char *prop;
        bool masked;
    } cases[] = {
        {"sasl.password", true},
        {"SASL.PASSWORD", true},
        {"sasl.oauthbearer.client.secret", true},
        {"ssl.key.pem", true},
        {"ssl.keystore.password", true},
        {"sasl.oauthbearer.config", true},
        {"sasl.username", false},
        {"security.protocol", false},
        {"ssl.ca.location", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        of_config m;
        CHECK_INT(of_config_defaults(&m, NULL, 0), OF_OK);
        char kv[256];
        snprintf(kv, sizeof(kv), "%s=VALUE-%zu", cases[i].prop, i);
        CHECK_INT(of_config_set(&m, "topics.configs", kv, es, sizeof(es)), OF_OK);
        char *md = dump(&m);
        char val[32];
        snprintf(val, sizeof(val), "VALUE-%zu", i);
        if ((strstr(md, val) == NULL) != cases[i].masked)
            fprintf(stderr, "  property %s: masked=%d expected %d\n", cases[i].prop,
                    strstr(md, val) == NULL, cases[i].masked);
        CHECK((strstr(md, val) == NULL) == cases[i].masked);
        free(md);
        of_config_clear(&m);
    }
}

/* ------------------------------------------------------------------------ */
/* Generated example file and docs                                          */

static void test_example_file(void)
{
    of_buf gen;
    of_buf_init(&gen, 1 << 20);
    CHECK_INT(of_config_write_example(&gen), OF_OK);
    char *committed = read_text(OF_SOURCE_DIR "/config/octofleet.cfg.example");
    CHECK(committed != NULL);
    if (committed && gen.data && strcmp(committed, gen.data) != 0) {
        const char *out = OF_BINARY_DIR "/octofleet.cfg.example.generated";
        write_text(out, gen.data, 0644);
        fprintf(
            stderr,
            "config/octofleet.cfg.example is out of date with common/config/config.c; to update:\n"
            "  cp %s %s/config/octofleet.cfg.example\n",
            out, OF_SOURCE_DIR);
    }
    CHECK_STR(committed, gen.data);

    /* The example loads cleanly and amounts to the defaults. */
    of_config ex, def;
    char es[4096] = "";
    of_err rc = of_config_load_string(&ex, gen.data ? gen.data : "", "example", es, sizeof(es));
    if (rc != OF_OK) fprintf(stderr, "  example: %s\n", es);
    CHECK_INT(rc, OF_OK);
    CHECK_INT(of_config_defaults(&def, NULL, 0), OF_OK);
    if (rc == OF_OK) {
        char *a = dump(&ex), *b = dump(&def);
        CHECK_STR(after_first_line(a), after_first_line(b));
        free(a);
        free(b);
        of_config_clear(&ex);
    }
    /* Every key is documented in it. */
    CHECK_CONTAINS(gen.data, "    max_poll_interval = \"5m\";");
    CHECK_CONTAINS(gen.data, "# e.g. url = \"https://octopus.example.com\";");
    of_config_clear(&def);
    free(committed);
    of_buf_clear(&gen);
}

static void test_docs_table(void)
{
    of_buf gen;
    of_buf_init(&gen, 1 << 20);
    CHECK_INT(of_config_write_doc_table(&gen), OF_OK);
    CHECK_CONTAINS(gen.data, "| `octopus.request_timeout` | duration | `\"30s\"` | 1s..1h |");
    CHECK_CONTAINS(gen.data, "| `log.level` | enum | `\"info\"` | error, warn, info, debug |");
    char *doc = read_text(OF_SOURCE_DIR "/docs/configuration.md");
    CHECK(doc != NULL);
    if (doc && gen.data && !strstr(doc, gen.data)) {
        const char *out = OF_BINARY_DIR "/configuration-table.md.generated";
        write_text(out, gen.data, 0644);
        fprintf(stderr,
                "docs/configuration.md does not contain the current key table; paste %s "
                "into it (between the key-table markers)\n",
                out);
    }
    CHECK(doc && gen.data && strstr(doc, gen.data) != NULL);
    free(doc);
    of_buf_clear(&gen);
}

/* ------------------------------------------------------------------------ */
/* of_config_set, checks, parsers, helpers                                  */

static const struct {
    const char *key, *value;
    of_err rc;
    const char *want; /* value afterwards (format_value) or error substring */
} set_cases[] = {
    {"worker.max_in_flight", "128", OF_OK, "128"},
    {"worker.max_in_flight", "0", OF_ERR_CONFIG,
     "worker.max_in_flight: 0 is out of range (1..100000)"},
    {"worker.max_in_flight", "12x", OF_ERR_CONFIG,
     "worker.max_in_flight: \"12x\" is not an integer"},
    {"worker.max_in_flight", "99999999999999999999", OF_ERR_CONFIG,
     "worker.max_in_flight: 99999999999999999999 is too large (1..100000)"},
    {"worker.max_in_flight", "-99999999999999999999", OF_ERR_CONFIG,
     "-99999999999999999999 is too small (1..100000)"},
    {"worker.max_in_flight", "4294967297", OF_ERR_CONFIG, "4294967297 is out of range"},
    {"worker.max_in_flight", "1\n2", OF_ERR_CONFIG, "\"1\\n2\" is not an integer"},
    {"octopus.request_timeout", "45s", OF_OK, "\"45s\""},
    {"octopus.request_timeout", "1500ms", OF_OK, "\"1500ms\""},
    {"octopus.request_timeout", "1500", OF_ERR_CONFIG,
     "octopus.request_timeout: 1500 has no unit: write \"1500ms\" or \"1500s\""},
    {"octopus.request_timeout", "2h", OF_ERR_CONFIG, "2h is out of range (1s..1h)"},
    {"octopus.request_timeout", "soon", OF_ERR_CONFIG,
     "octopus.request_timeout: \"soon\" is not a duration (e.g. \"500ms\", \"90s\", \"30m\", "
     "\"2h\")"},
    {"octopus.request_timeout", "30x", OF_ERR_CONFIG, "\"30x\" is not a duration"},
    {"octopus.request_timeout", "\x1b[31m", OF_ERR_CONFIG, "\"\\x1b[31m\" is not a duration"},
    {"octopus.request_timeout", "99999999999999999999s", OF_ERR_CONFIG,
     "99999999999999999999s is too large (1s..1h)"},
    {"octopus.max_response_bytes", "8XB", OF_ERR_CONFIG,
     "\"8XB\" is not a size (use bytes, or e.g. \"512KiB\", \"8MiB\")"},
    {"octopus.max_response_bytes", "99999999999999999G", OF_ERR_CONFIG,
     "99999999999999999G is too large (64KiB..1GiB)"},
    {"octopus.max_response_bytes", "512KiB", OF_OK, "\"512KiB\""},
    {"octopus.max_response_bytes", "1k", OF_ERR_CONFIG, "1KiB is out of range (64KiB..1GiB)"},
    {"topics.create", "false", OF_OK, "false"},
    {"topics.create", "on", OF_OK, "true"},
    {"topics.create", "maybe", OF_ERR_CONFIG, "topics.create: expected true or false"},
    {"log.level", "debug", OF_OK, "\"debug\""},
    {"log.level", "trace", OF_ERR_CONFIG, "log.level: expected one of error, warn, info, debug"},
    {"octopus.url", "https://o.example.com:8443/octopus", OF_OK,
     "\"https://o.example.com:8443/octopus\""},
    {"octopus.url", "ftp://o.example.com", OF_ERR_CONFIG, "must be an http:// or https:// URL"},
    {"octopus.url", "o.example.com", OF_ERR_CONFIG,
     "must be an http:// or https:// URL with a host (got \"o.example.com\")"},
    {"octopus.url", "https://", OF_ERR_CONFIG, "with a host"},
    {"octopus.url", "https:///api", OF_ERR_CONFIG, "with a host"},
    {"octopus.url", "http://u:pw@", OF_ERR_CONFIG, "with a host (got \"http://u:***@\")"},
    {"octopus.url", "http://:8080", OF_ERR_CONFIG, "with a host"},
    {"octopus.url", "https://o.example.com/?x=1", OF_ERR_CONFIG, "without '?' or '#'"},
    {"octopus.url", "http://[::1", OF_ERR_CONFIG,
     "octopus.url: has an IPv6 address without its closing ']' (got \"http://[::1\")"},
    {"octopus.url", "http://u:secret@[::1", OF_ERR_CONFIG, "(got \"http://u:***@[::1\")"},
    {"octopus.url", "http://[]", OF_ERR_CONFIG, "empty IPv6 address"},
    {"octopus.url", "http://[::g]", OF_ERR_CONFIG, "malformed IPv6 address"},
    {"octopus.url", "http://[::1]x", OF_ERR_CONFIG, "text after the IPv6 address"},
    {"octopus.url", "http://[::1]:8080/o", OF_OK, "\"http://[::1]:8080/o\""},
    {"octopus.url", "http://o.example.com:0", OF_ERR_CONFIG, "bad port (a number 1..65535)"},
    {"octopus.url", "http://o.example.com:65536", OF_ERR_CONFIG, "bad port"},
    {"octopus.url", "http://o.example.com:99999999999999999999", OF_ERR_CONFIG, "bad port"},
    {"octopus.url", "http://o.example.com:", OF_ERR_CONFIG, "bad port"},
    {"octopus.url", "http://o.example.com:80a/", OF_ERR_CONFIG, "bad port"},
    {"octopus.url", "http://o.exa$mple.com/", OF_ERR_CONFIG, "malformed host name"},
    {"octopus.url", "http://o.example.com/a b", OF_ERR_CONFIG, "must not contain spaces"},
    {"octopus.url", "HTTPS://User:P@ss@o.example.com:443", OF_OK,
     "\"HTTPS://User:***@o.example.com:443\""},
    {"octopus.space", "", OF_ERR_CONFIG, "octopus.space: must not be empty"},
    {"octopus.space", "Spaces-1", OF_OK, "\"Spaces-1\""},
    {"kafka.bootstrap_servers", "a:1, b:2", OF_ERR_CONFIG, "without spaces"},
    {"kafka.properties", "security.protocol=SSL", OF_OK, "[\"security.protocol\", \"SSL\"]"},
    {"kafka.properties", "no-equals", OF_ERR_CONFIG, "expected \"name=value\""},
    {"kafka.properties", "=x", OF_ERR_CONFIG, "empty name"},
    {"kafka.properties", "bootstrap.servers=x:1", OF_ERR_CONFIG, "use kafka.bootstrap_servers"},
    {"kafka.properties", "max.poll.interval.ms=1", OF_ERR_CONFIG, "use worker.max_poll_interval"},
    {"kafka.properties", "partition.assignment.strategy=range", OF_ERR_CONFIG,
     "use worker.assignment"},
    {"worker.assignment", "roundrobin", OF_OK, "\"roundrobin\""},
    {"worker.assignment", "range", OF_ERR_CONFIG, "cooperative, roundrobin"},
    {"worker.feed_filter_max", "0", OF_OK, "0"},
    {"worker.feed_filter_max", "1001", OF_ERR_CONFIG, "worker.feed_filter_max"},
    {"kafka.properties", "no.such.property=1", OF_ERR_CONFIG,
     "kafka.properties: entry 2: unknown librdkafka property 'no.such.property'"},
    {"kafka.properties", "socket.timeout.ms=soon", OF_ERR_CONFIG,
     "librdkafka property 'socket.timeout.ms': "},
    {"kafka.properties", "ssl.key.password=x", OF_OK, "[\"ssl.key.password\", \"****\"]"},
    {"kafka.properties", "linger.ms=5", OF_OK, "[\"linger.ms\", \"5\"]"},
    {"kafka.properties", "fetch.wait.max.ms=50", OF_OK, "[\"fetch.wait.max.ms\", \"50\"]"},
    {"worker.name", "w_1.a-b", OF_OK, "\"w_1.a-b\""},
    {"worker.name", "w/1", OF_ERR_CONFIG, "worker.name: may hold only"},
    {"octopus.urll", "x", OF_ERR_CONFIG,
     "unknown key 'octopus.urll' (did you mean 'octopus.url'?)"},
    {"nothing.like.this.at.all", "x", OF_ERR_CONFIG, "unknown key 'nothing.like.this.at.all'"},
    {"octopus.api_key", "API-XYZ", OF_ERR_CONFIG, "octopus.api_key: the API key is never read"},
};

static void test_set(void)
{
    of_config c;
    CHECK_INT(of_config_defaults(&c, NULL, 0), OF_OK);
    for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
        char es[512] = "";
        char *before = value_of(&c, set_cases[i].key);
        of_err rc = of_config_set(&c, set_cases[i].key, set_cases[i].value, es, sizeof(es));
        if (rc != set_cases[i].rc) fprintf(stderr, "  case %zu: %s\n", i, es);
        CHECK_INT(rc, set_cases[i].rc);
        if (rc == OF_OK) {
            char *v = value_of(&c, set_cases[i].key);
            CHECK_CONTAINS(v, set_cases[i].want);
            free(v);
        } else {
            CHECK_CONTAINS(es, set_cases[i].want);
            if (before) { /* unchanged on error (known keys only) */
                char *v = value_of(&c, set_cases[i].key);
                CHECK_STR(v, before);
                free(v);
            }
        }
        free(before);
    }
    /* kafka.properties: set appends, and replaces a pair with the same name. */
    char es[256];
    CHECK_INT(of_config_set(&c, "kafka.properties", "sasl.mechanism=PLAIN", es, sizeof(es)), OF_OK);
    CHECK_INT(of_config_set(&c, "kafka.properties", "security.protocol=SASL_SSL", es, sizeof(es)),
              OF_OK);
    CHECK_INT(c.kafka.properties.count, 5); /* 3 from the table */
    CHECK_STR(of_config_kafka_property(&c, "security.protocol"), "SASL_SSL");
    CHECK_STR(of_config_kafka_property(&c, "sasl.mechanism"), "PLAIN");
    CHECK_STR(c.worker.name, "w_1.a-b");
    CHECK_INT(c.octopus.max_response_bytes, 512 * 1024);
    CHECK_INT(c.log.level, OF_LOG_DEBUG);
    of_buf b;
    of_buf_init(&b, 64);
    CHECK_INT(of_config_format_value(&c, "no.such", &b), OF_ERR_NOT_FOUND);
    of_buf_clear(&b);
    of_config_clear(&c);
}

static void test_check_roles(void)
{
    of_config c;
    char es[1024];
    CHECK_INT(of_config_defaults(&c, NULL, 0), OF_OK);
    CHECK_INT(of_config_check(&c, OF_ROLE_ANY, es, sizeof(es)), OF_OK);
    CHECK_INT(of_config_check(&c, OF_ROLE_PRODUCER, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "octopus.url: required by the producer");
    CHECK_INT(of_config_check(&c, OF_ROLE_WORKER, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "octopus.url: required by the worker");
    CHECK_INT(of_config_set(&c, "octopus.url", "http://127.0.0.1:1", es, sizeof(es)), OF_OK);
    CHECK_INT(of_config_check(&c, OF_ROLE_WORKER, es, sizeof(es)), OF_OK);
    /* Cross-key checks run after of_config_set too. */
    CHECK_INT(of_config_set(&c, "octopus.connect_timeout", "5m", es, sizeof(es)), OF_OK);
    CHECK_INT(of_config_check(&c, OF_ROLE_ANY, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "octopus.connect_timeout: must not exceed octopus.request_timeout");
    of_config_clear(&c);

    /* The loaded file is named even without a line. */
    CHECK_INT(of_config_load_file(&c, FIXTURES "/good/empty.cfg", es, sizeof(es)), OF_OK);
    CHECK_INT(of_config_check(&c, OF_ROLE_PRODUCER, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "empty.cfg: octopus.url: required");
    of_config_clear(&c);
}

static const struct {
    const char *in;
    int rc;
    int64_t bytes;
} size_cases[] = {
    {"0", 0, 0},         {"4096", 0, 4096},
    {"64k", 0, 65536},   {"64KiB", 0, 65536},
    {"8M", 0, 8388608},  {"8MiB", 0, 8388608},
    {"8mb", 0, 8388608}, {"1G", 0, 1073741824},
    {"", -1, 0},         {"M", -1, 0},
    {"8 MiB", -1, 0},    {"-8M", -1, 0},
    {"8T", -1, 0},       {"99999999999999999G", -1, 0},
};

static void test_parsers(void)
{
    for (size_t i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]); i++) {
        int64_t b = -42;
        int rc = of_config_parse_size(size_cases[i].in, &b);
        if (rc != size_cases[i].rc) fprintf(stderr, "  size \"%s\"\n", size_cases[i].in);
        CHECK_INT(rc, size_cases[i].rc);
        if (rc == 0) CHECK_INT(b, size_cases[i].bytes);
    }
    int64_t x;
    CHECK_INT(of_config_parse_size(NULL, &x), -1);
}

static void test_helpers(void)
{
    of_config c;
    char es[256], t[64];
    CHECK_INT(of_config_defaults(&c, NULL, 0), OF_OK);
    CHECK_INT(of_config_topic(&c, "events", t, sizeof(t)), OF_OK);
    CHECK_STR(t, "octofleet.events");
    CHECK_INT(of_config_jobs_topic(&c, 1, t, sizeof(t)), OF_OK);
    CHECK_STR(t, "octofleet.jobs.s1");
    CHECK_INT(of_config_jobs_topic(&c, 8, t, sizeof(t)), OF_OK);
    CHECK_STR(t, "octofleet.jobs.s8");
    CHECK_INT(of_config_jobs_topic(&c, 0, t, sizeof(t)), OF_ERR_INVALID);
    CHECK_INT(of_config_jobs_topic(&c, 9, t, sizeof(t)), OF_ERR_INVALID);
    char tiny[8];
    CHECK_INT(of_config_topic(&c, "events", tiny, sizeof(tiny)), OF_ERR_TOO_LARGE);

    char name[300], want[300];
    CHECK_INT(of_config_worker_name(&c, name, sizeof(name)), OF_OK);
    snprintf(want, sizeof(want), "-%ld", (long)getpid());
    CHECK_CONTAINS(name, want);
    CHECK(strlen(name) > strlen(want));
    CHECK_INT(of_config_set(&c, "worker.name", "w-3", es, sizeof(es)), OF_OK);
    CHECK_INT(of_config_worker_name(&c, name, sizeof(name)), OF_OK);
    CHECK_STR(name, "w-3");
    of_config_clear(&c);
}

/* ------------------------------------------------------------------------ */
/* API key loading                                                          */

struct key_call {
    const char *file;
    char *key;
    of_err rc;
    char es[512];
};

static void call_load_key(void *arg)
{
    struct key_call *k = arg;
    k->rc = of_secret_load_api_key(k->file, &k->key, k->es, sizeof(k->es));
}

static void test_api_key(void)
{
    char dir[] = "/tmp/of_test_key_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], es[512];
    char sentinel[] = "not-null";
    char *key = sentinel;

    /* Neither env nor file. */
    unsetenv(OF_API_KEY_ENV);
    CHECK_INT(of_secret_load_api_key(NULL, &key, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK(key == NULL);
    CHECK_CONTAINS(es, "no Octopus API key: set OCTOPUS_API_KEY or octopus.api_key_file");
    CHECK_INT(of_secret_load_api_key("", &key, es, sizeof(es)), OF_ERR_CONFIG);

    /* From the environment, whitespace trimmed. */
    setenv(OF_API_KEY_ENV, " API-ENV0123456789 \n", 1);
    CHECK_INT(of_secret_load_api_key("", &key, es, sizeof(es)), OF_OK);
    CHECK_STR(key, "API-ENV0123456789");
    of_secret_free(key);
    setenv(OF_API_KEY_ENV, "API-BAD KEY", 1);
    CHECK_INT(of_secret_load_api_key(NULL, &key, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK(strstr(es, "BAD") == NULL);
    setenv(OF_API_KEY_ENV, "API-ENV0123456789", 1);

    /* From a file: the file wins over the environment, surrounding whitespace
     * trimmed. Private or readable by the file's group, which is ours
     * (Kubernetes' fsGroup makes a Secret 0440 root:<fsGroup>): no warning.
     * Readable by others: works, warns with the mode, never the key. */
    static const struct {
        const char *text;
        mode_t mode;
        const char *warning; /* NULL: no log line at all */
    } files[] = {
        {"API-FILE0123456789\n", 0600, NULL},
        {"API-FILE0123456789\n", 0640, NULL},
        {"  API-FILE0123456789  \r\n\n", 0644, "mode=0644"},
    };
    snprintf(path, sizeof(path), "%s/key", dir);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        CHECK_INT(write_text(path, files[i].text, files[i].mode), 0);
        struct key_call kc = {.file = path};
        char *log = capture_stderr(call_load_key, &kc);
        CHECK_INT(kc.rc, OF_OK);
        CHECK_STR(kc.key, "API-FILE0123456789");
        if (files[i].warning) {
            CHECK_CONTAINS(log, "readable by others");
            CHECK_CONTAINS(log, files[i].warning);
            CHECK(log && strstr(log, "FILE0123456789") == NULL);
        } else {
            CHECK_STR(log, "");
        }
        of_secret_free(kc.key);
        free(log);
    }

    /* Empty, broken, missing, oversized files. */
    CHECK_INT(write_text(path, "\n  \n", 0600), 0);
    CHECK_INT(of_secret_load_api_key(path, &key, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "is empty");
    CHECK_INT(write_text(path, "API-ONE\nAPI-TWO\n", 0600), 0);
    CHECK_INT(of_secret_load_api_key(path, &key, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK(strstr(es, "API-ONE") == NULL);
    CHECK(key == NULL);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    CHECK_INT(of_secret_load_api_key(missing, &key, es, sizeof(es)), OF_ERR_IO);
    CHECK_CONTAINS(es, "cannot open");
    CHECK_INT(of_secret_load_api_key(dir, &key, es, sizeof(es)), OF_ERR_CONFIG);
    CHECK_CONTAINS(es, "octopus.api_key_file /tmp/of_test_key_");
    CHECK_CONTAINS(es, ": is a directory");
    char fifo[300];
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    CHECK_INT(of_secret_load_api_key(fifo, &key, es, sizeof(es)), OF_ERR_CONFIG); /* no hang */
    CHECK_CONTAINS(es, "fifo: is not a regular file (FIFO)");
    CHECK(key == NULL);
    unlink(fifo);
    char big[OF_SECRET_MAX_FILE + 100];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_INT(write_text(path, big, 0600), 0);
    CHECK_INT(of_secret_load_api_key(path, &key, es, sizeof(es)), OF_ERR_TOO_LARGE);

    unlink(path);
    rmdir(dir);
    unsetenv(OF_API_KEY_ENV);
    of_secret_free(NULL);

    char m[16];
    CHECK_STR(of_secret_mask("API-ABCDEF123", m, sizeof(m)), "API-****");
    CHECK_STR(of_secret_mask("hunter2", m, sizeof(m)), "****");
    CHECK_STR(of_secret_mask("", m, sizeof(m)), "");
    CHECK_STR(of_secret_mask(NULL, m, sizeof(m)), "");
}

/* ------------------------------------------------------------------------ */
/* Signals and stop flags                                                   */

static void test_signals(void)
{
    char es[256];
    CHECK_INT(of_signals_install(es, sizeof(es)), OF_OK);
    CHECK(!of_signals_stop_requested());
    CHECK_INT(of_signals_last(), 0);
    CHECK(!of_stop_requested(of_signals_flag()));

    CHECK_INT(raise(SIGTERM), 0); /* delivered before raise returns */
    CHECK(of_signals_stop_requested());
    CHECK_INT(of_signals_last(), SIGTERM);
    CHECK(of_stop_requested(of_signals_flag()));
    /* SA_RESETHAND: a second SIGTERM would now terminate the process. */
    struct sigaction cur;
    CHECK_INT(sigaction(SIGTERM, NULL, &cur), 0);
    CHECK(cur.sa_handler == SIG_DFL);
    /* No SA_RESTART, so blocking calls return EINTR. */
    CHECK_INT(sigaction(SIGINT, NULL, &cur), 0);
    CHECK(cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN);
    CHECK((cur.sa_flags & SA_RESTART) == 0);

    /* Reinstalling clears the flag; SIGINT sets it too. */
    CHECK_INT(of_signals_install(es, sizeof(es)), OF_OK);
    CHECK(!of_signals_stop_requested());
    CHECK_INT(raise(SIGINT), 0);
    CHECK(of_signals_stop_requested());
    CHECK_INT(of_signals_last(), SIGINT);

    /* SIGPIPE is ignored: raising it does not kill us. */
    CHECK_INT(sigaction(SIGPIPE, NULL, &cur), 0);
    CHECK(cur.sa_handler == SIG_IGN);
    CHECK_INT(raise(SIGPIPE), 0);

    /* Per-daemon flags are independent of each other and of signals. */
    of_stop_flag a, b;
    of_stop_flag_init(&a);
    of_stop_flag_init(&b);
    CHECK(!of_stop_requested(&a));
    of_stop_request(&a);
    CHECK(of_stop_requested(&a));
    CHECK(!of_stop_requested(&b));
    CHECK(!of_stop_requested(NULL));
    of_stop_flag_init(&a);
    CHECK(!of_stop_requested(&a));
}

int main(void)
{
    test_defaults();
    test_typed_fields();
    test_good_files();
    test_bad_files();
    test_collects_all_errors();
    test_load_errors();
    test_dump_masks_secrets();
    test_example_file();
    test_docs_table();
    test_set();
    test_check_roles();
    test_parsers();
    test_helpers();
    test_api_key();
    test_signals();
    return TEST_DONE();
}
