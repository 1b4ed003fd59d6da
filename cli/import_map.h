/* `octofleet import`: an Octopus orchestration release ("_Deploy" 2026.18) mapped onto a
 * release request (docs/migration.md). Pure: the caller reads Octopus (cmd_import.c) and hands
 * the release's process snapshot, its selected packages and the space's project and
 * environment names in; nothing here does I/O.
 *
 * What maps: "Deploy a Release" actions (Octopus.DeployRelease), and the community step
 * templates "Chain Deployment" (Chain_ProjectName, Chain_ReleaseNum, Chain_DeployTo,
 * Chain_Tenants) and "Deploy Child Octopus Deploy Project" (ChildProject.Project.Name,
 * ChildProject.Release.Number, ChildProject.Destination.EnvironmentName,
 * ChildProject.Tenant.Name, ChildProject.DeploymentMode.Value), recognised by those parameters.
 * Steps become stages in order; a step that starts with the previous one (StartWithPrevious)
 * joins its stage. Everything else (disabled actions, scripts, manual interventions, unknown
 * templates, channel scopes, run conditions, settings without an equivalent) becomes a note:
 * nothing is dropped without one. */
#ifndef OF_IMPORT_MAP_H
#define OF_IMPORT_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "msg.h"
#include "octopus.h"
#include "strpool.h"

/* Everything borrowed for the call. */
typedef struct of_import_in {
    const char *project; /* the orchestration project's name ("_Deploy"), for notes */
    const char *version; /* its release's version: the train's name, #{Octopus.Release.Number} */
    const char *space;   /* the space's name, written as the request's "space" */
    bool tenanted;       /* the orchestration project deploys per tenant */
    const of_octo_process *process;           /* the release's process snapshot */
    const of_octo_selected_package *packages; /* the release's SelectedPackages */
    size_t npackages;
    const of_octo_ref *projects; /* the space's projects: child ids -> names */
    size_t nprojects;
    const of_octo_ref *environments; /* the space's environments: scope ids -> names */
    size_t nenvironments;
    /* --environment / --tenant / --tenant-tag: replace what the steps say (n = 0: keep) */
    const char *const *env_override;
    size_t nenv_override;
    const char *const *tenant_override;
    size_t ntenant_override;
    const char *const *tag_override;
    size_t ntag_override;
} of_import_in;

/* The result. draft points into the pool and the arrays here; free with of_import_out_clear. */
typedef struct of_import_out {
    of_draft draft; /* notes_key "x-import-notes" */
    of_strpool *pool;
    const char **notes, **envs, **names, **tags;
    of_draft_stage *stages;
    of_draft_entry **entries; /* per stage: what stages[i].entries points to */
    size_t nentries_total;    /* entries mapped, all stages */
} of_import_out;

#define OF_IMPORT_NOTES_KEY "x-import-notes"

/* Maps in onto out (zeroed first). OF_OK: out->draft is a whole request and its notes list every
 * item left out or changed in meaning, one line each ("step 3 \"Billing\": ..."). OF_ERR_INVALID
 * with errstr when no request can be written (no step deploys a project, or no environment is
 * known: give --environment); OF_ERR_NOMEM. out is cleared on error. */
OF_MUST_CHECK of_err of_import_map(const of_import_in *in, of_import_out *out, char *errstr,
                                   size_t errstr_size);
void of_import_out_clear(of_import_out *out);

#endif
