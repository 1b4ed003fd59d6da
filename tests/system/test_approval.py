#!/usr/bin/env python3
"""System scenario 21: one approval per stage, and guided failure from the CLI
(docs/gating.md, "Approvals"; docs/operations.md, "Approve a stage" and "Guided failure").

A world of 50 tenants (generated here) with Db, Api and Web in Dev. The release deploys Db, then
Api, whose stage requires approval ("by": Release Managers), then Web with
policy.guided_failure. Every Api deployment raises a manual intervention in octopus-sim; the Web
deployments of G01..G03 fail their step and wait on guided failure.
  - stage 1 runs; stage 2 waits: stage.approval_required once, `status` shows the command that
    approves it, and no Api deployment exists before the approval;
  - approving stage 1 (needs none) is ignored with the producer's reason (exit 1);
  - one `octofleet approve --stage 2` (exit 0, stage.approved with who and why) starts the
    stage; the workers answer all 50 manual interventions "Proceed" (50 job.answered events,
    one per interruption, in the approver's name; in Octopus each is answered, with
    responsibility taken) and the stage completes;
  - the three guided failures wait (job.waiting); `status` lists them with their task links;
    `guide --stage 3 --action ignore --tenant G03` answers one, and after the fix
    `guide --stage 3 --action retry` the other two (stage.guided with the counts); a third
    guide finds nothing waiting (exit 1);
  - the release completes; every target was deployed exactly once.
"""

import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, of_type  # noqa: E402

GUIDED = ["G01", "G02", "G03"]
TENANTS = GUIDED + ["T%02d" % i for i in range(1, 48)]
PROJECTS = ("Db", "Api", "Web")
APPROVER = "jane"

REQ = {
    "release": "sys-approval",
    "environments": ["Dev"],
    "tenants": "all",
    "stages": [
        [{"project": "Db", "version": "1.0.0"}],
        {"name": "services", "projects": [{"project": "Api", "version": "1.0.0"}],
         "approval": {"required": True, "by": ["Release Managers"]}},
        [{"project": "Web", "version": "1.0.0"}],
    ],
    "policy": {"guided_failure": True},
}


def write_world(workdir):
    return harness.write_tenant_world(workdir, "approval", PROJECTS, TENANTS, task_cap=100, seed=11)


def octopus_get(fl, path):
    """GET on the simulator's Octopus API, with the fleet's key."""
    req = urllib.request.Request(fl.sim_url + path, headers={"X-Octopus-ApiKey": fl.api_key})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode())


def scenario(args, fleets):
    fl = harness.Fleet(args, "approval", fixture=write_world(args.workdir))
    fleets.append(fl)
    fl.start(workers=("w1", "w2"))
    fl.set_rules([
        {"project": "Api", "interruption": True, "duration_ms": [0, 50]},
        {"project": "Web", "tenant": "G*", "outcome": "fail", "duration_ms": 0,
         "error": "Step 'Warm cache' failed: cache cluster unreachable"},
        {"duration_ms": [0, 50]},
    ])
    rid = fl.submit(REQ)
    harness.log("submitted %s" % rid)

    # stage 1 runs; stage 2 waits for its approval
    asked = fl.wait_event(rid, "stage.approval_required", timeout=60)[0]
    check_eq(asked["data"].get("stage"), 2, "stage.approval_required's stage")
    check("octofleet approve %s --stage 2" % rid in (asked["data"].get("message") or ""),
          "stage.approval_required names the command: %r" % asked["data"].get("message"))
    fl.wait_event(rid, "stage.succeeded", pred=lambda e: e["data"].get("stage") == 1, timeout=60)
    st = fl.octofleet("status", rid)
    check("APPROVAL: stage 2 waits for approval by Release Managers: octofleet approve %s "
          "--stage 2" % rid in st.stdout, "status shows the approval to give:\n%s" % st.stdout)
    check(not [k for k in fl.deployment_counts() if k[0] == "Api"],
          "an Api deployment exists before the approval")
    r = fl.control("approve", rid, "--stage", "1", expect=1)
    check("stage 1 needs no approval" in r.stderr, "approve --stage 1: %r" % r.stderr)

    mark = fl.mark(rid)
    r = fl.octofleet("approve", rid, "--stage", "2", "--by", APPROVER, "--reason",
                     "CAB-1234 signed off")
    check_eq(r.returncode, 0, "approve --stage 2 (%s)" % r.stderr)
    check("applied" in r.stdout, "approve says applied: %r" % r.stdout)
    approved = fl.wait_event(rid, "stage.approved")[0]
    check_eq((approved["data"].get("stage"), approved["data"].get("by"),
              approved["data"].get("message")), (2, APPROVER, "CAB-1234 signed off"),
             "stage.approved")
    fl.wait_event(rid, "stage.succeeded", pred=lambda e: e["data"].get("stage") == 2,
                  timeout=120)
    harness.log("stage 2 done after one approval")
    evs = fl.release_events(rid)
    answered = of_type(evs, "job.answered")
    check_eq(len(answered), len(TENANTS), "job.answered events (one per intervention)")
    check_eq(len({e["data"].get("interruption_id") for e in answered}), len(TENANTS),
             "distinct interruptions answered")
    check(all(e["data"].get("by") == APPROVER and "CAB-1234 signed off" in e["data"]["message"]
              and e["source"].startswith("octofleet/worker/") for e in answered),
          "job.answered names the approver and reason: %r" % answered[:2])
    check(not of_type(evs[:mark], "job.answered"), "an intervention answered before approval")
    items = octopus_get(fl, "/api/Spaces-1/interruptions?take=1000")["Items"]
    manual = [i for i in items if i["Type"] == "ManualIntervention"]
    check_eq(len(manual), len(TENANTS), "manual interventions raised in Octopus")
    check(all(not i["IsPending"] and i["HasResponsibility"] for i in manual),
          "every intervention answered with responsibility taken")

    # stage 3: three tasks wait on guided failure
    fl.wait_event(rid, "job.waiting", pred=lambda e: e["data"].get("stage") == 3,
                  count=len(GUIDED), timeout=120)
    # the producer has them waiting once the state says so (it reads events and commands from
    # different topics): status lists them with their task links
    def waiting_listed():
        out = fl.octofleet("status", rid).stdout
        return all("Web Dev / %s: http" % t in out for t in GUIDED) and \
            "/app#/Spaces-1/tasks/ServerTasks-" in out
    fl.wait_until("status lists the three waiting jobs", waiting_listed, timeout=60)
    r = fl.control("guide", rid, "--stage", "3", "--action", "ignore", "--tenant", "G03")
    guided = fl.wait_event(rid, "stage.guided")[0]
    check_eq((guided["data"]["counts"]["total"], guided["data"]["counts"]["succeeded"]), (1, 1),
             "stage.guided counts (ignore G03)")
    fl.set_rules([{"duration_ms": [0, 50]}])  # fixed: a retried step succeeds
    fl.control("guide", rid, "--stage", "3", "--action", "retry")
    done = fl.wait_release_end(rid, "release.completed", timeout=120)
    harness.log("completed: %s" % done["data"].get("message"))
    evs = fl.release_events(rid)
    g = of_type(evs, "stage.guided")
    check_eq(sorted((e["data"]["counts"]["total"], e["data"]["counts"]["succeeded"]) for e in g),
             [(1, 1), (2, 2)], "stage.guided counts")
    by_producer = [e for e in of_type(evs, "job.answered") if e["data"].get("stage") == 3]
    check_eq(sorted((e["data"].get("tenant"), "Ignore" in e["data"]["message"])
                    for e in by_producer),
             [("G01", False), ("G02", False), ("G03", True)], "guided failures answered")
    check(not of_type(evs, "job.failed"), "a job failed")
    fl.control("guide", rid, "--stage", "3", "--action", "retry", expect=1)
    counts = fl.deployment_counts()
    want = {(p, "1.0.0", "Dev", t): 1 for p in PROJECTS for t in TENANTS}
    check_eq(counts, want, "deployment counts (each target once)")


if __name__ == "__main__":
    harness.main(scenario, __doc__)
