/* `octofleet hotfix --project P --version V --from OLD`: writes the release request of a hotfix
 * train, one project at V where OLD is current (the stage entry's "from"), at high priority,
 * in the train's environments, tenants and policies when --like names its request. Talks to
 * nothing: `plan` then shows which targets it reaches, `submit` sends it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "msg.h"

#define HOTFIX_PRIORITY 100 /* above a routine train's 0: it overtakes in the task budget */

static const char hotfix_usage[] =
    "usage: octofleet hotfix --project NAME --version V --from OLD [options]\n\n"
    "Writes, on stdout, the release request of a hotfix train: NAME at release V, deployed\n"
    "only to the environments and tenants whose current release of NAME is OLD (the stage\n"
    "entry's \"from\"; the other targets are planned as skipped, \"not on OLD (from)\"), at\n"
    "priority 100 so that it overtakes a routine train in the task budget. With --like, the\n"
    "space, environments, tenants and policy (lanes, windows, deadlines, proceed, timeout, ...)\n"
    "are the train's. Contacts nothing: check it with `octofleet plan`, send it with\n"
    "`octofleet submit`:\n\n"
    "  octofleet hotfix --project Billing --version 4.3.1 --from 4.3.0 --like train.json \\\n"
    "      > hotfix.json && octofleet plan hotfix.json && octofleet submit hotfix.json --wait\n\n"
    "Options:\n"
    "  --project NAME      the project to fix (required)\n"
    "  --version V         the fixed release (required)\n"
    "  --from OLD          the release it replaces (required)\n"
    "  --like REQUEST.json take space, environments, tenants and policy from this request\n"
    "  --environment NAME  an environment (repeat it); replaces --like's (required without it)\n"
    "  --tenant NAME       a tenant (repeat it); replaces --like's tenants (default without\n"
    "                      --like: \"all\", every tenant connected to the project)\n"
    "  --space NAME        the Octopus space (default: --like's, else Default)\n"
    "  --release NAME      the hotfix train's name (default \"hotfix NAME V\")\n"
    "  --priority N        -1000..1000 (default 100)\n"
    "  -h, --help          this help\n\n"
    "Exit codes: 0 the request was written, 1 the request (or --like's) is not valid, 2 usage.\n";

typedef struct hotfix_args {
    of_hotfix h;
    const char *like;
    char **envs, **tenants; /* borrowed strings from argv, arrays owned */
    size_t n_envs, n_tenants;
    bool bad_priority;
} hotfix_args;

static bool push(char ***list, size_t *n, char *s)
{
    char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l) return false;
    l[(*n)++] = s;
    *list = l;
    return true;
}

static of_cli_arg hotfix_arg(void *ctx, int argc, char **argv, int *i)
{
    hotfix_args *a = ctx;
    static const char *const valued[] = {"--project",     "--version", "--from",  "--like",
                                         "--environment", "--tenant",  "--space", "--release",
                                         "--priority",    NULL};
    size_t k = 0;
    while (valued[k] && strcmp(argv[*i], valued[k]) != 0)
        k++;
    if (!valued[k]) return OF_CLI_ARG_UNEXPECTED;
    if (*i + 1 >= argc) {
        (void)of_cli_usage_error("hotfix", hotfix_usage, "%s needs a value", argv[*i]);
        return OF_CLI_ARG_USAGE;
    }
    char *v = argv[++*i];
    switch (k) {
    case 0:
        a->h.project = v;
        break;
    case 1:
        a->h.version = v;
        break;
    case 2:
        a->h.from = v;
        break;
    case 3:
        a->like = v;
        break;
    case 4:
        if (!push(&a->envs, &a->n_envs, v)) return OF_CLI_ARG_USAGE;
        break;
    case 5:
        if (!push(&a->tenants, &a->n_tenants, v)) return OF_CLI_ARG_USAGE;
        break;
    case 6:
        a->h.space = v;
        break;
    case 7:
        a->h.release = v;
        break;
    default: {
        char *end = NULL;
        long p = strtol(v, &end, 10);
        if (!*v || *end || p < OF_PRIORITY_MIN || p > OF_PRIORITY_MAX) {
            (void)of_cli_usage_error("hotfix", hotfix_usage,
                                     "--priority: \"%s\" is not an integer in %d..%d", v,
                                     OF_PRIORITY_MIN, OF_PRIORITY_MAX);
            return OF_CLI_ARG_USAGE;
        }
        a->h.priority = (int)p;
    }
    }
    return OF_CLI_ARG_TAKEN;
}

/* Builds and prints the request once the arguments are complete. */
static int write_request(hotfix_args *a)
{
    a->h.environments = a->envs;
    a->h.n_environments = a->n_envs;
    a->h.tenant_names = a->tenants;
    a->h.n_tenant_names = a->n_tenants;
    of_request *like = NULL, *req = NULL;
    char *text = NULL;
    size_t len = 0;
    int ex = a->like ? of_cli_read_request("hotfix", a->like, &text, &len, &like) : OF_EXIT_OK;
    if (ex) return ex;
    of_errlist errs;
    of_errlist_init(&errs);
    char *enc = NULL;
    of_err rc = of_request_hotfix(like, &a->h, &req, &errs);
    if (!rc) rc = of_request_encode(req, &enc);
    if (rc) {
        fprintf(stderr, "octofleet hotfix: the hotfix request is not valid:\n");
        for (size_t i = 0; i < errs.n; i++)
            of_cli_line(stderr, "  %s", errs.items[i]);
        if (!errs.n) of_cli_line(stderr, "  %s", of_strerror(rc));
        ex = OF_EXIT_FAIL;
    } else {
        printf("%s\n", enc);
    }
    free(enc);
    of_errlist_clear(&errs);
    of_request_free(req);
    of_request_free(like);
    free(text);
    return ex;
}

int of_cmd_hotfix(int argc, char **argv)
{
    hotfix_args a;
    memset(&a, 0, sizeof a);
    a.h.priority = HOTFIX_PRIORITY;
    int ex = OF_EXIT_OK;
    if (of_cli_args(argc, argv, "hotfix", hotfix_usage, NULL, hotfix_arg, &a, &ex)) {
        const char *missing = !a.h.project         ? "--project"
                              : !a.h.version       ? "--version"
                              : !a.h.from          ? "--from"
                              : !a.like && !a.envs ? "--environment (or --like)"
                                                   : NULL;
        ex = missing ? of_cli_usage_error("hotfix", hotfix_usage, "missing %s", missing)
                     : write_request(&a);
    }
    free(a.envs);
    free(a.tenants);
    return ex;
}
