#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fleet.h"
#include "guard.h"
#include "uuid.h"
#include "kafka.h"
#include "msg.h"
#include "log.h"
#include "signals.h"

void of_cli_line(FILE *f, const char *fmt, ...)
{
    char raw[4096], safe[4 * sizeof(raw)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    if (n < 0) raw[0] = '\0';
    of_escape(raw, safe, sizeof(safe));
    fprintf(f, "%s\n", safe);
}

void of_cli_lines(FILE *f, const char *prefix, const char *text)
{
    const char *p = text ? text : "";
    do {
        size_t len = strcspn(p, "\n");
        of_cli_line(f, "%s%.*s", prefix, (int)(len < 4000 ? len : 4000), p);
        p += len;
    } while (*p++ == '\n' && *p);
}

bool of_cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* Accepts "--opt VALUE" and "--opt=VALUE". Returns the value or NULL. */
static const char *opt_value(const char *name, int argc, char **argv, int *i, bool *matched)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    *matched = false;
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') {
        *matched = true;
        return a + n + 1;
    }
    if (a[n] != '\0') return NULL;
    *matched = true;
    if (*i + 1 >= argc) return NULL;
    (*i)++;
    return argv[*i];
}

int of_cli_common_opt(of_cli_common *co, int argc, char **argv, int *i)
{
    bool m;
    const char *v;
    const char *a = argv[*i];
    if (strcmp(a, "--dump-config") == 0) {
        co->dump_config = true;
        (*i)++;
        return 1;
    }
    static const char *const names[] = {"-c", "--config", "--set", "--log-level"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        v = opt_value(names[k], argc, argv, i, &m);
        if (!m) continue;
        if (!v) {
            fprintf(stderr, "octofleet: option %s needs a value\n", names[k]);
            return -1;
        }
        if (k <= 1) {
            co->config_path = v;
        } else if (k == 2) {
            if (co->nsets >= OF_CLI_MAX_SETS) {
                fprintf(stderr, "octofleet: too many --set options (at most %d)\n",
                        OF_CLI_MAX_SETS);
                return -1;
            }
            co->sets[co->nsets++] = v;
        } else {
            co->log_level = v;
        }
        (*i)++;
        return 1;
    }
    return 0;
}

/* Set when the command runs on the built-in defaults: no config file was found. Its errors
 * then say so, since a wrong broker or a missing octopus.url is the likely cause. */
static bool no_config_file;

/* The config file: -c, else OCTOFLEET_CONFIG, else ./octofleet.cfg, else OF_CLI_SYSTEM_CONFIG
 * (the first that exists); NULL for the built-in defaults. *from names where it came from. */
static const char *config_file(const of_cli_common *co, const char **from)
{
    static const char *const places[] = {"octofleet.cfg", OF_CLI_SYSTEM_CONFIG};
    const char *env = getenv("OCTOFLEET_CONFIG");
    *from = "-c";
    if (co->config_path) return co->config_path;
    *from = "OCTOFLEET_CONFIG";
    if (env && *env) return env; /* named explicitly: a missing file is an error */
    *from = "found";
    for (size_t k = 0; k < sizeof places / sizeof places[0]; k++)
        if (access(places[k], F_OK) == 0) return places[k];
    *from = NULL;
    return NULL;
}

void of_cli_no_config_hint(int exit_code)
{
    if (!no_config_file || exit_code == OF_EXIT_OK || exit_code == OF_EXIT_USAGE) return;
    fprintf(stderr,
            "octofleet: no configuration file was used (no -c, OCTOFLEET_CONFIG unset, no "
            "./octofleet.cfg or " OF_CLI_SYSTEM_CONFIG "): built-in defaults, e.g. Kafka at "
            "127.0.0.1:9092\n");
}

static int load_config(const of_cli_common *co, of_config_role role, of_config *cfg)
{
    char errstr[8192];
    of_err rc;
    const char *from;
    const char *path = config_file(co, &from);
    no_config_file = path == NULL;
    if (path)
        rc = of_config_load_file(cfg, path, errstr, sizeof(errstr));
    else
        rc = of_config_defaults(cfg, errstr, sizeof(errstr));
    if (rc) {
        of_cli_lines(stderr, "", errstr);
        if (strcmp(from, "-c") != 0)
            fprintf(stderr, "octofleet: (the configuration file %s)\n",
                    strcmp(from, "found") == 0 ? "found in the usual places"
                                               : "named by OCTOFLEET_CONFIG");
        return OF_EXIT_CONFIG;
    }
    for (size_t k = 0; k < co->nsets; k++) {
        char name[128];
        const char *eq = strchr(co->sets[k], '=');
        size_t len = eq ? (size_t)(eq - co->sets[k]) : 0;
        if (!eq || len == 0 || len >= sizeof(name)) {
            of_cli_line(stderr, "--set %s: expected KEY=VALUE", co->sets[k]);
            of_config_clear(cfg);
            return OF_EXIT_CONFIG;
        }
        memcpy(name, co->sets[k], len);
        name[len] = '\0';
        rc = of_config_set(cfg, name, eq + 1, errstr, sizeof(errstr));
        if (rc) {
            of_cli_line(stderr, "--set: %s", errstr); /* errstr starts with the key */
            of_config_clear(cfg);
            return OF_EXIT_CONFIG;
        }
    }
    if (co->log_level) {
        rc = of_config_set(cfg, "log.level", co->log_level, errstr, sizeof(errstr));
        if (rc) {
            of_cli_line(stderr, "--log-level: %s", errstr);
            of_config_clear(cfg);
            return OF_EXIT_CONFIG;
        }
    }
    if (co->dump_config) {
        of_buf b;
        of_buf_init(&b, 1 << 20);
        rc = of_config_dump(cfg, &b);
        if (rc == OF_OK) fputs(b.data ? b.data : "", stdout);
        of_buf_clear(&b);
        of_config_clear(cfg);
        return rc ? OF_EXIT_CONFIG : -1;
    }
    rc = of_config_check(cfg, role, errstr, sizeof(errstr));
    if (rc) {
        of_cli_lines(stderr, "", errstr); /* each line already names the file */
        of_config_clear(cfg);
        of_cli_no_config_hint(OF_EXIT_CONFIG);
        return OF_EXIT_CONFIG;
    }
    of_log_set_level(cfg->log.level);
    if (path && strcmp(from, "-c") != 0) of_info("configuration file %s", path);
    return OF_EXIT_OK;
}

/* The caps and the size budget, checked on a command about to be sent; the guard (signing)
 * in *out when they pass. */
static of_err check_command(const of_config *cfg, const of_command *cmd, of_guard **out,
                            char *errstr, size_t errstr_size)
{
    /* The producer applies the same caps; refusing here tells the operator at once. */
    of_err rc = of_command_check(cmd, errstr, errstr_size);
    if (!rc) rc = of_guard_new(cfg, NULL, out, errstr, errstr_size);
    if (rc) return rc;
    size_t req_max = of_guard_request_max(*out);
    if (cmd->request_json && strlen(cmd->request_json) > req_max) {
        size_t budget = of_guard_budget(*out);
        of_guard_free(*out);
        *out = NULL;
        return of_seterr(errstr, errstr_size, OF_ERR_TOO_LARGE,
                         "the request is %zu bytes as compact JSON; the largest this fleet "
                         "accepts is %zu bytes (the message budget of %zu bytes, from "
                         "message.max.bytes and max.message.bytes, less room for the release's "
                         "state; docs/reliability.md)",
                         strlen(cmd->request_json), req_max, budget);
    }
    return OF_OK;
}

int of_cli_check_command(const of_config *cfg, const of_command *cmd)
{
    char errstr[1024];
    of_guard *g = NULL;
    of_err rc = check_command(cfg, cmd, &g, errstr, sizeof(errstr));
    of_guard_free(g);
    if (!rc) return OF_EXIT_OK;
    of_cli_line(stderr, "octofleet: %s", errstr);
    return rc == OF_ERR_CONFIG || rc == OF_ERR_IO ? OF_EXIT_CONFIG : OF_EXIT_FAIL;
}

of_err of_cli_produce_command(of_kafka_producer *p, const of_config *cfg, const of_command *cmd,
                              char *errstr, size_t errstr_size)
{
    char topic[256];
    char *json = NULL;
    of_guard *g = NULL;
    of_err rc = of_config_topic(cfg, "requests", topic, sizeof(topic));
    if (rc) return of_seterr(errstr, errstr_size, rc, "topics.prefix too long");
    rc = check_command(cfg, cmd, &g, errstr, errstr_size);
    if (rc) return rc;
    rc = of_command_encode(cmd, &json);
    if (rc) {
        of_guard_free(g);
        return of_seterr(errstr, errstr_size, rc, "cannot encode the command");
    }
    static const char ctype[] = "application/json";
    char tag[OF_GUARD_TAG_SIZE];
    of_guard_sign(g, topic, cmd->release_id, strlen(cmd->release_id), json, strlen(json), tag);
    of_kafka_header h[2] = {{"content-type", ctype, sizeof(ctype) - 1},
                            {OF_GUARD_AUTH_HEADER, tag, strlen(tag)}};
    of_kafka_record rec = {.topic = topic,
                           .partition = OF_KAFKA_PARTITION_ANY,
                           .key = cmd->release_id,
                           .key_len = strlen(cmd->release_id),
                           .value = json,
                           .value_len = strlen(json),
                           .headers = h,
                           .nheaders = tag[0] ? 2 : 1};
    char why[256];
    rc = of_kafka_produce(p, &rec, NULL, NULL, why, sizeof(why));
    if (!rc) rc = of_kafka_flush(p, 30000, why, sizeof(why));
    free(json);
    of_guard_free(g);
    if (rc)
        of_seterr(errstr, errstr_size, rc, "cannot send the %s command to %s: %s",
                  of_cmd_type_name(cmd->type), topic, why);
    return rc;
}

/* Reads a whole file, at most max bytes, into a new NUL-terminated string. */
int of_cli_read_file(const char *path, size_t max, char **out, size_t *len)
{
    of_buf b;
    of_buf_init(&b, max);
    char why[1200];
    of_err rc = OF_OK;
    if (strcmp(path, "-") == 0) {
        char chunk[8192];
        size_t n;
        while (rc == OF_OK && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
            rc = of_buf_append(&b, chunk, n);
        if (rc == OF_OK && ferror(stdin))
            rc = of_seterr(why, sizeof(why), OF_ERR_IO, "stdin: read error: %s", strerror(errno));
        else if (rc)
            of_seterr(why, sizeof(why), rc, "stdin: %s",
                      rc == OF_ERR_TOO_LARGE ? "larger than the limit" : of_strerror(rc));
    } else {
        /* Refuses a directory or FIFO at once instead of hanging on it. */
        rc = of_buf_read_file(&b, path, why, sizeof(why));
    }
    if (rc) {
        of_cli_line(stderr, "octofleet: %s", why);
        of_buf_clear(&b);
        return OF_EXIT_FAIL;
    }
    *len = b.len;
    *out = of_buf_detach(&b);
    return *out ? OF_EXIT_OK : OF_EXIT_FAIL;
}

bool of_cli_config(const of_cli_common *co, of_config_role role, of_config *cfg, int *exit_code)
{
    int ex = load_config(co, role, cfg);
    *exit_code = ex < 0 ? OF_EXIT_OK : ex;
    return ex == OF_EXIT_OK;
}

bool of_cli_args(int argc, char **argv, const char *name, const char *usage, of_cli_common *co,
                 of_cli_arg_fn fn, void *ctx, int *exit_code)
{
    *exit_code = OF_EXIT_USAGE;
    for (int i = 1; i < argc;) {
        int r = co ? of_cli_common_opt(co, argc, argv, &i) : 0;
        if (r < 0) return false;
        if (r > 0) continue; /* it stepped past the option */
        if (of_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            *exit_code = OF_EXIT_OK;
            return false;
        }
        of_cli_arg a = fn ? fn(ctx, argc, argv, &i) : OF_CLI_ARG_UNEXPECTED;
        if (a == OF_CLI_ARG_USAGE) return false;
        if (a == OF_CLI_ARG_UNEXPECTED) {
            of_cli_usage_error(name, usage, "unexpected argument '%s'", argv[i]);
            return false;
        }
        i++;
    }
    *exit_code = OF_EXIT_OK;
    return true;
}

of_cli_arg of_cli_json_arg(void *ctx, int argc, char **argv, int *i)
{
    of_cli_json_args *a = ctx;
    const char *arg = argv[*i];
    (void)argc;
    if (strcmp(arg, "--json") == 0)
        a->json = true;
    else if ((arg[0] != '-' || (a->dash_ok && strcmp(arg, "-") == 0)) && !a->arg)
        a->arg = arg;
    else
        return OF_CLI_ARG_UNEXPECTED;
    return OF_CLI_ARG_TAKEN;
}

int of_cli_usage_error(const char *name, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "octofleet %s: ", name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return OF_EXIT_USAGE;
}

int of_cli_read_request(const char *name, const char *path, char **text, size_t *len,
                        of_request **req)
{
    *req = NULL;
    *text = NULL;
    int ex = of_cli_read_file(path, OF_MSG_MAX_SIZE, text, len);
    if (ex) return ex;
    of_errlist errs;
    of_errlist_init(&errs);
    if (of_request_parse(*text, *len, req, &errs) != OF_OK) {
        fprintf(stderr, "octofleet %s: %s is not a valid release request:\n", name, path);
        for (size_t i = 0; i < errs.n; i++)
            of_cli_line(stderr, "  %s", errs.items[i]);
        of_request_free(*req);
        *req = NULL;
        free(*text);
        *text = NULL;
        ex = OF_EXIT_FAIL;
    }
    of_errlist_clear(&errs);
    return ex;
}

int of_cli_with_config(const of_cli_common *co, of_config_role role, of_cli_run_fn run, void *ctx)
{
    of_config cfg;
    int ex;
    if (!of_cli_config(co, role, &cfg, &ex)) return ex;
    ex = run(&cfg, ctx);
    of_config_clear(&cfg);
    of_cli_no_config_hint(ex);
    return ex;
}

typedef struct daemon_ctx {
    const char *name;
    of_cli_daemon_fn run;
} daemon_ctx;

static int run_daemon(const of_config *cfg, void *opaque)
{
    const daemon_ctx *d = opaque;
    char errstr[1024] = "";
    of_err rc = of_signals_install(errstr, sizeof errstr);
    if (rc) {
        fprintf(stderr, "octofleet %s: %s\n", d->name, errstr);
        return OF_EXIT_FAIL;
    }
    rc = d->run(cfg, of_signals_flag(), errstr, sizeof errstr);
    if (rc) fprintf(stderr, "octofleet %s: %s: %s\n", d->name, of_strerror(rc), errstr);
    return of_cli_exit_code(rc);
}

int of_cli_run_daemon(const char *name, const of_cli_common *co, of_config_role role,
                      of_cli_daemon_fn run)
{
    daemon_ctx d = {.name = name, .run = run};
    return of_cli_with_config(co, role, run_daemon, &d);
}

int of_cli_fleet_kafka(of_fleet_kafka *fk, const of_config *cfg, const char *prefix)
{
    if (of_fleet_kafka_init(fk, cfg, NULL, NULL) == OF_OK) return OF_EXIT_OK;
    fprintf(stderr, "%s: out of memory\n", prefix);
    return OF_EXIT_FAIL;
}

int of_cli_read_fleet_topic(const of_config *cfg, const char *name, const char *key, int timeout_ms,
                            of_kafka_message_cb *on_message, void *opaque, char *topic)
{
    char prefix[64], errstr[512];
    of_fleet_kafka fk;
    snprintf(prefix, sizeof prefix, "octofleet %s", name);
    topic[0] = '\0';
    int ex = of_cli_fleet_kafka(&fk, cfg, prefix);
    if (ex) return ex;
    if (of_config_topic(cfg, key, topic, OF_TOPIC_NAME_MAX)) {
        fprintf(stderr, "%s: topics.prefix too long for the %s topic\n", prefix, key);
        ex = OF_EXIT_CONFIG;
    } else if (of_kafka_read_topic(&fk.kc, topic, timeout_ms, on_message, opaque, NULL, errstr,
                                   sizeof errstr)) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prefix, topic, errstr);
        ex = OF_EXIT_SERVICE;
    }
    of_fleet_kafka_clear(&fk);
    return ex;
}

int of_cli_exit_code(of_err rc)
{
    switch (rc) {
    case OF_OK:
        return OF_EXIT_OK;
    case OF_ERR_CONFIG:
    case OF_ERR_NOT_FOUND:
        return OF_EXIT_CONFIG;
    case OF_ERR_NETWORK:
    case OF_ERR_TIMEOUT:
    case OF_ERR_AUTH:
    case OF_ERR_HTTP:
    case OF_ERR_PROTOCOL:
    case OF_ERR_REJECTED:
    case OF_ERR_TOO_LARGE:
    case OF_ERR_KAFKA:
    case OF_ERR_IO:
        return OF_EXIT_SERVICE;
    default:
        return OF_EXIT_FAIL;
    }
}

void of_cli_release_id(const char *name_or_id, const char *space, char *out)
{
    if (of_uuid_valid(name_or_id))
        of_id_copy(out, name_or_id);
    else /* a name: the id is derived from (space, name), as the producer does */
        of_uuid_release_id(space ? space : "Default", name_or_id, out);
}
