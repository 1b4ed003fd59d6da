/* `octofleet import`'s mapping (cli/import_map.h), table-driven: an orchestration process and
 * the packages its release picked -> stages (step order, parallel steps joined), versions,
 * conditions, environments, tenants, and the notes that list what does not map. Every mapped
 * result must also be a valid release request once encoded. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "import_map.h"
#include "msg.h"
#include "test.h"

typedef struct act {
    const char *name, *type;
    bool disabled;
    const char *props;    /* "Key=Value" lines ("\n"); a value may hold "\r" for a second line */
    const char *envs;     /* scope: environment ids, comma-separated */
    const char *tags;     /* scope: tenant tags, comma-separated */
    const char *channels; /* scope: channel ids */
} act;

typedef struct stp {
    const char *name, *trigger, *condition; /* NULL: StartAfterPrevious, Success */
    act acts[3];
} stp;

typedef struct tcase {
    const char *what;
    stp steps[8];
    const char *packages;     /* "Action=Version;..." */
    const char *envs;         /* --environment, comma-separated; NULL: none */
    const char *tenant_names; /* --tenant */
    bool tenanted;            /* the orchestration project deploys per tenant */
    of_err rc;
    const char *stages; /* "P V[:cond], P V | ..." */
    const char *envs_out;
    const char *tenants;   /* "all", "names=A,B tags=X/Y", "" (none) */
    const char *notes[10]; /* each must appear in one note; as many notes as listed */
    const char *error;
} tcase;

#define DAR "Octopus.DeployRelease"
#define PICK(p)                                                                                \
    {                                                                                          \
        p " package", "Octopus.TentaclePackage", false, "Octopus.Action.Package.PackageId=" p, \
            "Environments-1", NULL, NULL                                                       \
    }
#define CHAIN(p, ver, to, tenants)                                                      \
    {                                                                                   \
        "Deploy " p, "Octopus.Script", false,                                           \
            "Octopus.Action.Template.Id=ActionTemplates-1\nChain_ProjectName=" p        \
            "\nChain_ReleaseNum=" ver "\nChain_DeployTo=" to "\nChain_Tenants=" tenants \
            "\nChain_DeploySchedule=WaitForDeployment",                                 \
            NULL, NULL, NULL                                                            \
    }

static const tcase cases[] = {
    {"Deploy a Release: stages in step order, a parallel step joins, conditions, scopes",
     {{"Schema",
       NULL,
       NULL,
       {{"Schema", DAR, false,
         "Octopus.Action.DeployRelease.ProjectId=Projects-1\n"
         "Octopus.Action.DeployRelease.DeploymentCondition=IfNotCurrentVersion",
         "Environments-2", NULL, NULL}}},
      {"Identity",
       NULL,
       NULL,
       {{"Identity", DAR, false,
         "Octopus.Action.DeployRelease.ProjectId=Projects-2\n"
         "Octopus.Action.DeployRelease.DeploymentCondition=Always",
         "Environments-2,Environments-3", "Ring/Beta", NULL}}},
      {"Billing",
       "StartWithPrevious",
       NULL,
       {{"Billing", DAR, false, "Octopus.Action.DeployRelease.ProjectId=Projects-3", NULL, NULL,
         NULL}}},
      {"Web",
       NULL,
       NULL,
       {{"Web", DAR, false, "Octopus.Action.DeployRelease.ProjectId=Projects-4", NULL, NULL,
         NULL}}}},
     "Schema=1.0;Identity=2.0;Billing=3.1;Web=4.0",
     NULL,
     NULL,
     true,
     OF_OK,
     "Schema 1.0:if-not-current | Identity 2.0, Billing 3.1 | Web 4.0",
     "Hosted Beta,On Site Beta",
     "tags=Ring/Beta",
     {NULL},
     NULL},
    {"IfNewer becomes if-not-current, noted; a step without a picked version is left out",
     {{"Schema",
       NULL,
       NULL,
       {{"Schema", DAR, false,
         "Octopus.Action.DeployRelease.ProjectId=Projects-1\n"
         "Octopus.Action.DeployRelease.DeploymentCondition=IfNewer",
         NULL, NULL, NULL}}},
      {"Web",
       NULL,
       NULL,
       {{"Web", DAR, false, "Octopus.Action.DeployRelease.ProjectId=Projects-4", NULL, NULL,
         NULL}}}},
     "Schema=1.0",
     "Hosted Beta",
     NULL,
     false,
     OF_OK,
     "Schema 1.0:if-not-current",
     "Hosted Beta",
     "all",
     {"step 1 \"Schema\": deployment condition IfNewer became \"if-not-current\"",
      "step 2 \"Web\": the release picked no version of Web: left out"},
     NULL},
    {"the seed's _Deploy: Chain Deployment steps read their sibling package step's version",
     {{"Schema",
       NULL,
       NULL,
       {PICK("Schema"),
        CHAIN("Schema", "#{Octopus.Action[Schema package].Package.NuGetPackageVersion}",
              "#{Octopus.Environment.Name}", "")}},
      {"Billing",
       NULL,
       NULL,
       {PICK("Billing"),
        CHAIN("Billing", "#{Octopus.Action[Billing package].Package.PackageVersion}", "Hosted Beta",
              "Ring/Beta\rContoso")}},
      {"Web",
       NULL,
       NULL,
       {CHAIN("Web", "#{Octopus.Release.Number}", "#{Octopus.Environment.Name}", "Ring/Beta")}}},
     "Schema package=1.0;Billing package=3.1",
     NULL,
     NULL,
     false,
     OF_OK,
     "Schema 1.0 | Billing 3.1 | Web 2026.18",
     "Hosted Beta",
     "names=Contoso tags=Ring/Beta",
     {"\"Schema package\": only picks a version (1.0) for a Chain/Child step",
      "\"Billing package\": only picks a version (3.1)", "the steps deploy to different tenants"},
     NULL},
    {"Deploy Child Octopus Deploy Project: literal release, Promote, destination, tenant",
     {{"Identity",
       NULL,
       NULL,
       {{"Identity", "Octopus.Script", false,
         "Octopus.Action.Template.Id=ActionTemplates-7\nChildProject.Project.Name=Identity\n"
         "ChildProject.Release.Number=2.0\nChildProject.Destination.EnvironmentName=On Site Beta\n"
         "ChildProject.Tenant.Name=Contoso\nChildProject.DeploymentMode.Value=Promote\n"
         "ChildProject.WaitForFinish.Value=Yes",
         NULL, NULL, NULL}}},
      {"Computed",
       NULL,
       NULL,
       {{"Computed", "Octopus.Script", false,
         "ChildProject.Project.Name=#{Child}\nChildProject.Release.Number=1.0", NULL, NULL, NULL}}},
      {"Web",
       NULL,
       NULL,
       {{"Web", "Octopus.Script", false,
         "ChildProject.Project.Name=Web\nChildProject.Release.Number=2021.1.*\n"
         "ChildProject.Tenant.Name=#{Octopus.Deployment.Tenant.Name}",
         NULL, NULL, NULL}}}},
     "",
     NULL,
     NULL,
     false,
     OF_OK,
     "Identity 2.0:if-not-current",
     "On Site Beta",
     "names=Contoso",
     {"step 3 \"Web\": Deploy Child Octopus Deploy Project of Web: its release number is an "
      "expression or a pattern",
      "step 2 \"Computed\": the project \"#{Child}\" is empty or an expression"},
     NULL},
    {"what does not map is listed: manual, script, unknown template, disabled, scopes, settings",
     {{"Approve", NULL, NULL, {{"Approve", "Octopus.Manual", false, "", NULL, NULL, NULL}}},
      {"Schema",
       "StartWithPrevious",
       "Always",
       {{"Schema", DAR, false,
         "Octopus.Action.DeployRelease.ProjectId=Projects-1\n"
         "Octopus.Action.DeployRelease.Variables=Verbose=true",
         NULL, NULL, "Channels-2"}}},
      {"Slack",
       NULL,
       NULL,
       {{"Slack", "Octopus.Script", false, "Octopus.Action.Template.Id=ActionTemplates-9", NULL,
         NULL, NULL}}},
      {"Billing",
       NULL,
       NULL,
       {{"Billing", DAR, true, "Octopus.Action.DeployRelease.ProjectId=Projects-3", NULL, NULL,
         NULL},
        {"Billing again", DAR, false, "Octopus.Action.DeployRelease.ProjectId=Projects-1", NULL,
         NULL, NULL}}},
      {"Web",
       NULL,
       NULL,
       {CHAIN("Web", "4.0", "Hosted Beta", ""),
        {"Ghost", DAR, false, "Octopus.Action.DeployRelease.ProjectId=Projects-99", NULL, NULL,
         NULL}}}},
     "Schema=1.0;Billing=3.1;Billing again=1.0;Ghost=9.9",
     "Hosted Beta",
     NULL,
     false,
     OF_OK,
     "Schema 1.0 | Web 4.0",
     "Hosted Beta",
     "all",
     {"step 1 \"Approve\" (Octopus.Manual) deploys no project: left out",
      "step 2 \"Schema\": variables passed to Schema are not mapped",
      "step 2 \"Schema\": runs on condition Always", "step 2 \"Schema\": scoped to channels",
      "step 2 \"Schema\": starts with the previous step, which deploys nothing here",
      "step 3 \"Slack\": step template ActionTemplates-9 (Octopus.Script) is not one import knows",
      "step 4 \"Billing\" / \"Billing\": disabled: left out",
      "step 4 \"Billing\" / \"Billing again\": deploys Schema again",
      "step 5 \"Web\" / \"Ghost\": deploys project \"Projects-99\", which the space does not "
      "have"},
     NULL},
    {"no environment anywhere: --environment is asked for",
     {{"Schema",
       NULL,
       NULL,
       {{"Schema", DAR, false, "Octopus.Action.DeployRelease.ProjectId=Projects-1", NULL, NULL,
         NULL}}}},
     "Schema=1.0",
     NULL,
     NULL,
     false,
     OF_ERR_INVALID,
     NULL,
     NULL,
     NULL,
     {NULL},
     "give --environment"},
    {"nothing deploys a project: no request",
     {{"Approve", NULL, NULL, {{"Approve", "Octopus.Manual", false, "", NULL, NULL, NULL}}}},
     "",
     "Hosted Beta",
     NULL,
     false,
     OF_ERR_INVALID,
     NULL,
     NULL,
     NULL,
     {NULL},
     "deploys no project octofleet can map"},
    {"a tenanted orchestration naming no tenants: \"all\", noted; --tenant replaces it",
     {{"Web",
       NULL,
       NULL,
       {{"Web", DAR, false, "Octopus.Action.DeployRelease.ProjectId=Projects-4", "Environments-2",
         NULL, NULL}}}},
     "Web=4.0",
     "On Site Beta",
     NULL,
     true,
     OF_OK,
     "Web 4.0",
     "On Site Beta",
     "all",
     {"_Deploy deploys per tenant and no step names tenants", "scoped to some environments"},
     NULL},
    {"--tenant replaces the steps' tenants",
     {{"Web",
       NULL,
       NULL,
       {{"Web", DAR, false, "Octopus.Action.DeployRelease.ProjectId=Projects-4", NULL, "Ring/Beta",
         NULL}}}},
     "Web=4.0",
     "Hosted Beta",
     "Acme,Contoso",
     true,
     OF_OK,
     "Web 4.0",
     "Hosted Beta",
     "names=Acme,Contoso",
     {NULL},
     NULL},
};

#define PROJECTS \
    "Projects-1=Schema;Projects-2=Identity;Projects-3=Billing;Projects-4=Web;Projects-5=_Deploy"
#define ENVIRONMENTS "Environments-1=Testing;Environments-2=Hosted Beta;Environments-3=On Site Beta"

static char *dup(const char *s)
{
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

/* s split on sep into a new array of new strings; *n their count (0 for NULL or ""). */
static char **split(const char *s, char sep, size_t *n)
{
    *n = 0;
    if (!s || !*s) return NULL;
    char **v = calloc(strlen(s) + 1, sizeof *v);
    if (!v) abort();
    while (true) {
        const char *e = strchr(s, sep);
        size_t len = e ? (size_t)(e - s) : strlen(s);
        v[*n] = dup(s);
        v[(*n)++][len] = '\0';
        if (!e) return v;
        s = e + 1;
    }
}

/* "K=V<sep>K=V..." as *n keys and values (new strings; free both with of_strv_free). A '\r' in
 * a value is a line break (a multi-line value such as Chain_Tenants). */
static void pairs(const char *spec, char sep, char ***keys, char ***values, size_t *n)
{
    *keys = split(spec, sep, n);
    *values = calloc(*n + 1, sizeof **values);
    for (size_t i = 0; i < *n; i++) {
        char *eq = strchr((*keys)[i], '=');
        if (!eq) abort();
        *eq = '\0';
        for (char *r = eq + 1; *r; r++)
            if (*r == '\r') *r = '\n';
        (*values)[i] = dup(eq + 1);
    }
}

/* "Id=Name;..." as a list of {Id, Name}: the strings move into the list. */
static void refs(const char *spec, of_octo_ref_list *l)
{
    char **ids, **names;
    pairs(spec, ';', &ids, &names, &l->n);
    l->items = calloc(l->n + 1, sizeof *l->items);
    for (size_t i = 0; i < l->n; i++)
        l->items[i] = (of_octo_ref){ids[i], names[i]};
    free(ids);
    free(names);
}

static void build_action(of_octo_action *a, const act *t, int id)
{
    char buf[32];
    snprintf(buf, sizeof buf, "action-%d", id);
    a->id = dup(buf);
    a->name = dup(t->name);
    a->action_type = dup(t->type);
    a->is_disabled = t->disabled;
    a->environments = split(t->envs, ',', &a->nenvironments);
    a->tenant_tags = split(t->tags, ',', &a->ntenant_tags);
    a->channels = split(t->channels, ',', &a->nchannels);
    size_t n = 0;
    char **names, **values;
    pairs(t->props, '\n', &names, &values, &n);
    a->properties = calloc(n + 1, sizeof *a->properties);
    for (size_t i = 0; i < n; i++)
        a->properties[i] = (of_octo_property){names[i], values[i], false};
    free(names);
    free(values);
    a->nproperties = n;
}

static void build(const tcase *c, of_octo_process *p, of_octo_release_manifest *m)
{
    memset(p, 0, sizeof *p);
    memset(m, 0, sizeof *m);
    p->id = dup("deploymentprocess-Projects-5-s-1");
    p->steps = calloc(8, sizeof *p->steps);
    for (size_t i = 0; i < 8 && c->steps[i].name; i++) {
        const stp *t = &c->steps[i];
        of_octo_step *s = &p->steps[p->nsteps++];
        char buf[32];
        snprintf(buf, sizeof buf, "step-%zu", i);
        s->id = dup(buf);
        s->name = dup(t->name);
        s->condition = dup(t->condition ? t->condition : "Success");
        s->start_trigger = dup(t->trigger ? t->trigger : "StartAfterPrevious");
        s->actions = calloc(3, sizeof *s->actions);
        for (size_t k = 0; k < 3 && t->acts[k].name; k++)
            build_action(&s->actions[s->nactions++], &t->acts[k], (int)(i * 10 + k));
    }
    size_t n = 0;
    char **actions, **versions;
    pairs(c->packages, ';', &actions, &versions, &n);
    m->packages = calloc(n + 1, sizeof *m->packages);
    for (size_t i = 0; i < n; i++)
        m->packages[i] = (of_octo_selected_package){actions[i], dup(""), versions[i]};
    free(actions);
    free(versions);
    m->npackages = n;
}

static void render_stages(const of_draft *d, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d->n_stages; i++)
        for (size_t j = 0; j < d->stages[i].n_entries; j++) {
            const of_draft_entry *e = &d->stages[i].entries[j];
            used += (size_t)snprintf(
                out + used, size - used, "%s%s %s%s%s", j ? ", " : (i ? " | " : ""), e->project,
                e->version, e->condition >= 0 ? ":" : "",
                e->condition >= 0 ? of_condition_name((of_condition)e->condition) : "");
        }
}

static void join(const char *const *v, size_t n, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "", v[i]);
}

static void run_case(const tcase *c)
{
    int before = of_test_failures;
    of_octo_process p;
    of_octo_release_manifest m;
    build(c, &p, &m);
    size_t ne = 0, nt = 0;
    char **eo = split(c->envs, ',', &ne), **to = split(c->tenant_names, ',', &nt);
    of_octo_ref_list projects, envs;
    refs(PROJECTS, &projects);
    refs(ENVIRONMENTS, &envs);
    of_import_in in = {.project = "_Deploy",
                       .version = "2026.18",
                       .space = "Default",
                       .tenanted = c->tenanted,
                       .process = &p,
                       .packages = m.packages,
                       .npackages = m.npackages,
                       .projects = projects.items,
                       .nprojects = projects.n,
                       .environments = envs.items,
                       .nenvironments = envs.n,
                       .env_override = (const char *const *)eo,
                       .nenv_override = ne,
                       .tenant_override = (const char *const *)to,
                       .ntenant_override = nt};
    of_import_out out;
    char es[512] = "";
    of_err rc = of_import_map(&in, &out, es, sizeof es);
    CHECK_INT(rc, c->rc);
    if (c->error) CHECK_CONTAINS(es, c->error);
    if (!rc) {
        char got[1024];
        render_stages(&out.draft, got, sizeof got);
        CHECK_STR(got, c->stages);
        join(out.draft.environments, out.draft.n_environments, got, sizeof got);
        CHECK_STR(got, c->envs_out);
        char names[256], tags[256];
        join(out.draft.tenant_names, out.draft.n_tenant_names, names, sizeof names);
        join(out.draft.tenant_tags, out.draft.n_tenant_tags, tags, sizeof tags);
        snprintf(got, sizeof got, "%s%s%s%s%s", out.draft.tenants_all ? "all" : "",
                 names[0] ? "names=" : "", names, names[0] && tags[0] ? " " : "",
                 tags[0] ? "tags=" : "");
        strncat(got, tags, sizeof got - strlen(got) - 1);
        CHECK_STR(got, c->tenants);
        size_t want = 0;
        for (; want < 10 && c->notes[want]; want++) {
            bool found = false;
            for (size_t i = 0; i < out.draft.n_notes; i++)
                if (strstr(out.draft.notes[i], c->notes[want])) found = true;
            OF_TEST_FAIL_IF(!found, "no note contains \"%s\"\n", c->notes[want]);
        }
        /* the seed's package pickers are one note each, counted apart */
        size_t pickers = 0;
        for (size_t i = 0; i < out.draft.n_notes; i++)
            if (strstr(out.draft.notes[i], "only picks a version")) pickers++;
        bool listed_pickers = false;
        for (size_t w = 0; w < want; w++)
            if (strstr(c->notes[w], "only picks a version")) listed_pickers = true;
        CHECK_INT(out.draft.n_notes - (listed_pickers ? 0 : pickers), want);
        /* whatever it maps is a request octofleet takes, notes included */
        char *text = NULL;
        of_request *req = NULL;
        of_errlist errs;
        of_errlist_init(&errs);
        CHECK_INT(of_request_draft_encode(&out.draft, &text), OF_OK);
        if (text) CHECK_INT(of_request_parse(text, strlen(text), &req, &errs), OF_OK);
        if (text && out.draft.n_notes) CHECK_CONTAINS(text, "\"x-import-notes\"");
        if (of_test_failures != before)
            for (size_t i = 0; i < out.draft.n_notes; i++)
                fprintf(stderr, "    note: %s\n", out.draft.notes[i]);
        of_request_free(req);
        of_errlist_clear(&errs);
        free(text);
        of_import_out_clear(&out);
    }
    if (of_test_failures != before) fprintf(stderr, "  in case: %s\n", c->what);
    of_strv_free(eo, ne);
    of_strv_free(to, nt);
    of_octo_process_clear(&p);
    of_octo_release_manifest_clear(&m);
    of_octo_ref_list_clear(&projects);
    of_octo_ref_list_clear(&envs);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    return TEST_DONE();
}
