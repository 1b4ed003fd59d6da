/* `octofleet plan REQUEST.json [--json]`: the expanded job list of a release request, with
 * skip reasons, resolved against Octopus exactly as the producer would, nothing deployed.
 * Talks to Octopus (read-only), not to Kafka. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "budget.h"
#include "clock.h"
#include "exitcodes.h"
#include "fleet.h"
#include "msg.h"
#include "octopus.h"
#include "plan.h"
#include "resolver_octo.h"

static const char plan_usage[] =
    "usage: octofleet plan REQUEST.json [--json] [options]\n\n"
    "Validates a release request and expands it against Octopus into its jobs: one per\n"
    "(stage, environment, project, tenant), with the skipped ones and why, after a line\n"
    "naming the release, its stages and the gate mode (policy.gate: stage or tenant, with\n"
    "lane_failure for tenant lanes; JSON: \"gate\", \"lane_failure\"), the request's priority,\n"
    "each stage's allowance of failures (policy.proceed; JSON: \"proceed\", one per stage, null\n"
    "= every job must succeed) and the fleet's task budget (octopus.task_budget, or derived\n"
    "from the server's task cap; JSON: \"priority\", \"task_budget\", \"task_budget_rule\").\n"
    "Deploys nothing.\n"
    "Every name that does not resolve and every target the lifecycle forbids is reported\n"
    "(exit 1). Needs octopus.url and the API key (OCTOPUS_API_KEY or octopus.api_key_file).\n\n"
    "Options:\n"
    "  --json              print the plan as JSON instead of a table\n" OF_CLI_COMMON_HELP;

/* The fleet's task budget as the producer would start with it: configured, or the server's cap
 * plus the automatic headroom before any job has been observed (budget.h). */
static void plan_budget(of_octo *octo, const of_config *cfg, of_plan *plan)
{
    int cap = 0;
    (void)of_task_budget_resolve(octo, cfg->octopus.task_budget, &cap, plan->task_budget_rule,
                                 sizeof(plan->task_budget_rule));
    plan->task_budget = cap;
    of_budget *b = NULL;
    if (cfg->octopus.task_budget > 0 || of_budget_new(cap, &b) != OF_OK) return;
    of_budget_auto(b, cap, cfg->octopus.task_budget_headroom);
    plan->task_budget = of_budget_limit(b);
    of_budget_describe(b, plan->task_budget_rule, sizeof(plan->task_budget_rule));
    of_budget_free(b);
}

static int print_plan(const of_config *cfg, of_octo *octo, const of_request *req, const char *text,
                      bool json)
{
    of_resolver_octo *ro = NULL;
    of_resolver res;
    of_plan *plan = NULL;
    of_errlist errs;
    char errstr[1024] = "";
    int ex = OF_EXIT_OK;
    of_errlist_init(&errs);
    if (of_resolver_octo_new(octo, &ro)) {
        of_errlist_clear(&errs);
        return OF_EXIT_FAIL;
    }
    of_resolver_octo_bind(ro, &res);
    of_err rc = of_plan_build(req, text, &res, &plan, &errs, errstr, sizeof(errstr));
    if (rc == OF_OK) { /* the fleet's, not the release's: how many of its jobs run at once */
        plan_budget(octo, cfg, plan);
        of_plan_window_starts(plan, of_wall_ms()); /* when window jobs could start */
    }
    if (rc == OF_ERR_NOT_FOUND || rc == OF_ERR_REJECTED) {
        fprintf(stderr, "octofleet plan: the request does not resolve in Octopus:\n");
        for (size_t i = 0; i < errs.n; i++)
            of_cli_line(stderr, "  %s", errs.items[i]);
        ex = OF_EXIT_FAIL;
    } else if (rc) {
        of_cli_line(stderr, "octofleet plan: %s", errstr[0] ? errstr : of_strerror(rc));
        ex = of_cli_exit_code(rc);
    } else if (json) {
        char *out = NULL;
        if (of_plan_to_json(plan, &out) == OF_OK) {
            printf("%s\n", out);
        } else {
            ex = OF_EXIT_FAIL;
        }
        free(out);
    } else {
        of_buf b;
        of_buf_init(&b, (size_t)64 << 20);
        if (of_plan_format_table(plan, &b, stdout) != OF_OK) ex = OF_EXIT_FAIL;
        of_buf_clear(&b);
    }
    of_plan_free(plan);
    of_errlist_clear(&errs);
    of_resolver_octo_free(ro);
    return ex;
}

static int plan_run(const of_config *cfg, void *ctx)
{
    const of_cli_json_args *a = ctx;
    char *text = NULL, errstr[1024];
    size_t len = 0;
    of_request *req = NULL;
    of_octo *octo = NULL;
    of_octo_opts oo;
    int ex = of_cli_read_request("plan", a->arg, &text, &len, &req);
    if (ex) return ex;
    of_fleet_octo_opts(cfg, NULL, &oo);
    if (of_octo_new(&oo, &octo, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet plan: %s\n", errstr);
        ex = OF_EXIT_CONFIG;
        goto out;
    }
    if (of_octo_connect(octo, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet plan: cannot use Octopus: %s\n", errstr);
        ex = OF_EXIT_SERVICE;
        goto out;
    }
    ex = print_plan(cfg, octo, req, text, a->json);
out:
    of_octo_destroy(octo);
    of_request_free(req);
    free(text);
    return ex;
}

int of_cmd_plan(int argc, char **argv)
{
    of_cli_common co = {0};
    of_cli_json_args a = {.dash_ok = true};
    int ex;
    if (!of_cli_args(argc, argv, "plan", plan_usage, &co, of_cli_json_arg, &a, &ex)) return ex;
    if (!a.arg) return of_cli_usage_error("plan", plan_usage, "missing REQUEST.json");
    return of_cli_with_config(&co, OF_ROLE_WORKER, plan_run, &a); /* needs Octopus like a worker */
}
