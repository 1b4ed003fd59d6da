/* `octofleet import --project _Deploy --release 2026.18`: writes the release request of the train
 * an Octopus orchestration release deploys (its "Deploy a Release", "Chain Deployment" and
 * "Deploy Child Octopus Deploy Project" steps), and lists what does not map (import_map.h,
 * docs/migration.md). Reads Octopus (read-only), not Kafka. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "exitcodes.h"
#include "fleet.h"
#include "import_map.h"
#include "msg.h"
#include "octopus.h"

static const char import_usage[] =
    "usage: octofleet import --project NAME --release VERSION [options]\n\n"
    "Reads the release VERSION of the Octopus orchestration project NAME (the \"_Deploy\"\n"
    "project of a train: \"Deploy a Release\" steps, or the \"Chain Deployment\" and \"Deploy\n"
    "Child Octopus Deploy Project\" step templates) and writes, on stdout or to -o FILE, the\n"
    "equivalent release request: one stage per step in step order (a step that starts with the\n"
    "previous one joins its stage), each child project at the version that release picked, the\n"
    "environments and tenants the steps target, each step's deploy condition. Whatever does not\n"
    "map (disabled steps, scripts, manual interventions, unknown templates, channel scopes, run\n"
    "conditions, settings with no equivalent, ...) is listed on stderr and in the request's\n"
    "\"" OF_IMPORT_NOTES_KEY "\" (which octofleet ignores): read them before `octofleet plan`.\n"
    "Deploys nothing.\n\n"
    "Options:\n"
    "  --project NAME      the orchestration project (required)\n"
    "  --release VERSION   its release (required); also the train's name\n"
    "  --environment NAME  an environment (repeat it); replaces the steps' (required when the\n"
    "                      steps deploy to the orchestration's own environment)\n"
    "  --tenant NAME       a tenant (repeat it); with --tenant-tag, replaces the steps' tenants\n"
    "  --tenant-tag TAG    a canonical tenant tag \"TagSet/Tag\" (repeat it)\n"
    "  --space NAME        the Octopus space (default: octopus.space)\n"
    "  -o, --output FILE   write the request to FILE instead of stdout\n"
    "  --strict            exit 1 when anything was not mapped (the request is still "
    "written)\n" OF_CLI_COMMON_HELP
    "\nExit codes: 0 the request was written, 1 no request could be written (nothing maps, no\n"
    "environment, the project or release does not exist) or --strict found items not mapped,\n"
    "2 usage, 3 configuration, 4 Octopus could not be used.\n";

typedef struct import_args {
    const char *project, *release, *space, *output;
    const char **envs, **tenants, **tags; /* borrowed from argv, arrays owned */
    size_t n_envs, n_tenants, n_tags;
    bool strict;
} import_args;

static bool push(const char ***list, size_t *n, const char *s)
{
    const char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l) return false;
    l[(*n)++] = s;
    *list = l;
    return true;
}

static of_cli_arg import_arg(void *ctx, int argc, char **argv, int *i)
{
    import_args *a = ctx;
    if (strcmp(argv[*i], "--strict") == 0) {
        a->strict = true;
        return OF_CLI_ARG_TAKEN;
    }
    static const char *const valued[] = {"--project", "--release",    "--environment",
                                         "--tenant",  "--tenant-tag", "--space",
                                         "-o",        "--output",     NULL};
    size_t k = 0;
    while (valued[k] && strcmp(argv[*i], valued[k]) != 0)
        k++;
    if (!valued[k]) return OF_CLI_ARG_UNEXPECTED;
    if (*i + 1 >= argc) {
        (void)of_cli_usage_error("import", import_usage, "%s needs a value", argv[*i]);
        return OF_CLI_ARG_USAGE;
    }
    const char *v = argv[++*i];
    bool ok = true;
    switch (k) {
    case 0:
        a->project = v;
        break;
    case 1:
        a->release = v;
        break;
    case 2:
        ok = push(&a->envs, &a->n_envs, v);
        break;
    case 3:
        ok = push(&a->tenants, &a->n_tenants, v);
        break;
    case 4:
        ok = push(&a->tags, &a->n_tags, v);
        break;
    case 5:
        a->space = v;
        break;
    default:
        a->output = v;
    }
    return ok ? OF_CLI_ARG_TAKEN : OF_CLI_ARG_USAGE;
}

/* What import read from Octopus; cleared by read_clear. */
typedef struct import_read {
    of_octo_space space;
    of_octo_project project;
    of_octo_release release;
    of_octo_release_manifest manifest;
    of_octo_process process;
    of_octo_ref_list projects, environments;
} import_read;

static void read_clear(import_read *r)
{
    of_octo_space_clear(&r->space);
    of_octo_project_clear(&r->project);
    of_octo_release_clear(&r->release);
    of_octo_release_manifest_clear(&r->manifest);
    of_octo_process_clear(&r->process);
    of_octo_ref_list_clear(&r->projects);
    of_octo_ref_list_clear(&r->environments);
}

/* The orchestration release and its process, in the order a person would look them up. */
static of_err read_octopus(of_octo *octo, const import_args *a, const char *space, import_read *r,
                           char *errstr, size_t n)
{
    of_err rc = of_octo_find_space(octo, space, &r->space, errstr, n);
    if (!rc) rc = of_octo_find_project(octo, r->space.id, a->project, &r->project, errstr, n);
    if (!rc)
        rc = of_octo_find_release(octo, r->space.id, r->project.id, r->project.name, a->release,
                                  &r->release, errstr, n);
    if (!rc)
        rc =
            of_octo_get_release_manifest(octo, r->space.id, r->release.id, &r->manifest, errstr, n);
    if (!rc && !r->manifest.process_snapshot_id)
        rc = of_seterr(errstr, n, OF_ERR_PROTOCOL,
                       "release %s of %s names no deployment process snapshot", a->release,
                       a->project);
    if (!rc)
        rc = of_octo_get_process(octo, r->space.id, r->manifest.process_snapshot_id, &r->process,
                                 errstr, n);
    if (!rc) rc = of_octo_list_refs(octo, r->space.id, "projects", &r->projects, errstr, n);
    if (!rc) rc = of_octo_list_refs(octo, r->space.id, "environments", &r->environments, errstr, n);
    return rc;
}

/* Writes text to a->output (or stdout). */
static int write_out(const import_args *a, const char *text)
{
    if (!a->output) {
        printf("%s\n", text);
        return fflush(stdout) == 0 ? OF_EXIT_OK : OF_EXIT_FAIL;
    }
    FILE *f = fopen(a->output, "w");
    bool ok = f && fprintf(f, "%s\n", text) >= 0;
    if (f && fclose(f) != 0) ok = false;
    if (!ok) {
        of_cli_line(stderr, "octofleet import: cannot write %s: %s", a->output, strerror(errno));
        return OF_EXIT_FAIL;
    }
    return OF_EXIT_OK;
}

/* Maps what was read, checks the result is a valid request, writes it and lists the notes. */
static int map_and_write(const import_args *a, const import_read *r)
{
    of_import_in in = {
        .project = r->project.name,
        .version = r->release.version,
        .space = r->space.name,
        .tenanted = r->project.tenanted != OF_OCTO_UNTENANTED,
        .process = &r->process,
        .packages = r->manifest.packages,
        .npackages = r->manifest.npackages,
        .projects = r->projects.items,
        .nprojects = r->projects.n,
        .environments = r->environments.items,
        .nenvironments = r->environments.n,
        .env_override = a->envs,
        .nenv_override = a->n_envs,
        .tenant_override = a->tenants,
        .ntenant_override = a->n_tenants,
        .tag_override = a->tags,
        .ntag_override = a->n_tags,
    };
    of_import_out out;
    char errstr[1024] = "";
    of_err rc = of_import_map(&in, &out, errstr, sizeof errstr);
    if (rc) {
        of_cli_line(stderr, "octofleet import: %s", errstr);
        return OF_EXIT_FAIL;
    }
    char *text = NULL;
    of_request *req = NULL;
    of_errlist errs;
    of_errlist_init(&errs);
    int ex = OF_EXIT_OK;
    rc = of_request_draft_encode(&out.draft, &text);
    if (!rc) rc = of_request_parse(text, strlen(text), &req, &errs);
    if (rc) {
        fprintf(stderr, "octofleet import: the imported request is not valid:\n");
        for (size_t i = 0; i < errs.n; i++)
            of_cli_line(stderr, "  %s", errs.items[i]);
        if (!errs.n) of_cli_line(stderr, "  %s", of_strerror(rc));
        ex = OF_EXIT_FAIL;
    } else {
        ex = write_out(a, text);
        of_cli_line(stderr, "octofleet import: %s %s -> %zu stage(s), %zu project(s)",
                    r->project.name, r->release.version, out.draft.n_stages, out.nentries_total);
        if (out.draft.n_notes)
            of_cli_line(stderr,
                        "octofleet import: %zu item(s) not mapped as they are (also in "
                        "\"%s\"):",
                        out.draft.n_notes, OF_IMPORT_NOTES_KEY);
        for (size_t i = 0; i < out.draft.n_notes; i++)
            of_cli_line(stderr, "  - %s", out.draft.notes[i]);
        if (!ex && a->strict && out.draft.n_notes) ex = OF_EXIT_FAIL;
    }
    of_request_free(req);
    of_errlist_clear(&errs);
    free(text);
    of_import_out_clear(&out);
    return ex;
}

static int import_run(const of_config *cfg, void *ctx)
{
    const import_args *a = ctx;
    char errstr[1024];
    of_octo *octo = NULL;
    of_octo_opts oo;
    import_read r;
    memset(&r, 0, sizeof r);
    int ex;
    of_fleet_octo_opts(cfg, NULL, &oo);
    if (a->space) oo.space = a->space;
    if (of_octo_new(&oo, &octo, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet import: %s\n", errstr);
        ex = OF_EXIT_CONFIG;
    } else if (of_octo_connect(octo, errstr, sizeof(errstr))) {
        fprintf(stderr, "octofleet import: cannot use Octopus: %s\n", errstr);
        ex = OF_EXIT_SERVICE;
    } else {
        of_err rc = read_octopus(octo, a, oo.space, &r, errstr, sizeof errstr);
        if (rc) {
            of_cli_line(stderr, "octofleet import: %s", errstr);
            /* a project or release that does not exist is this command's failure, not a
             * configuration problem */
            ex = rc == OF_ERR_NOT_FOUND ? OF_EXIT_FAIL : of_cli_exit_code(rc);
        } else {
            ex = map_and_write(a, &r);
        }
    }
    read_clear(&r);
    of_octo_destroy(octo);
    return ex;
}

int of_cmd_import(int argc, char **argv)
{
    of_cli_common co = {0};
    import_args a;
    memset(&a, 0, sizeof a);
    int ex = OF_EXIT_OK;
    if (of_cli_args(argc, argv, "import", import_usage, &co, import_arg, &a, &ex)) {
        const char *missing = !a.project ? "--project" : !a.release ? "--release" : NULL;
        ex = missing ? of_cli_usage_error("import", import_usage, "missing %s", missing)
                     : of_cli_with_config(&co, OF_ROLE_WORKER, import_run, &a);
    }
    free(a.envs);
    free(a.tenants);
    free(a.tags);
    return ex;
}
