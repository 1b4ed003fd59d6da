#!/usr/bin/env python3
"""System scenario 1: a full release train on a real broker, two workers.

Three stages (untenanted Schema, then tenanted Api, then tenanted Web) in two environments for
every connected tenant. Proves:
  - every planned target is deployed exactly once (/sim/deployment-counts all 1) and the set of
    deployed targets equals the plan (`octofleet plan --json`, itself checked against the world
    fixture); the dispatched jobs carry the plan's job ids and release id;
  - the gate held: no deployment of stage N+1 in an environment was created before every task of
    stage N in that environment had completed (simulator timestamps);
  - the event stream tells the whole story in order: release.accepted first, stage.started and
    stage.succeeded once per stage and environment in stage order, job.dispatched <
    job.started < job.succeeded per job, release.completed last; job events carry the
    deployment and task the simulator created for that target.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Failure, check, check_eq, expected_targets, job_key, of_type  # noqa: E402

REQUEST = harness.release_request("sys-full", ["Dev", "Test"], [
    ("database", [("Schema", "2.0.0")]),
    ("services", [("Api", "2.0.0")]),
    ("web", [("Web", "2.0.0")]),
])
STAGE_OF = {"Schema": 1, "Api": 2, "Web": 3}


def target_of(dep):
    return (STAGE_OF[dep["project"]], dep["project"], dep["environment"], dep["tenant"])


def scenario(args, fleets):
    fl = harness.Fleet(args, "full_release")
    fleets.append(fl)
    fl.start(workers=("w1", "w2"))
    fl.set_rules([{"duration_ms": [200, 600]}])

    want = expected_targets(fl.world, REQUEST)
    check_eq(len(want), 14, "planned targets (2 Schema + 6 Api + 6 Web)")
    plan = harness.plan(fl, REQUEST)
    planned = harness.plan_targets(plan)
    check_eq(set(planned), want, "octofleet plan --json targets vs the world fixture")

    rid = fl.submit(REQUEST)
    check_eq(rid, plan["release_id"], "release id printed by submit vs plan")
    harness.log("submitted release %s" % rid)
    done = fl.wait_release_end(rid, "release.completed", timeout=120)
    harness.log("release completed")

    # -- Octopus: every target exactly once, nothing else -----------------------------------
    deps = fl.deployments()
    got = [target_of(d) for d in deps]
    check_eq(sorted(set(got), key=str), sorted(want, key=str), "deployed targets")
    counts = fl.deployment_counts()
    check(all(c == 1 for c in counts.values()),
          "a target was deployed more than once: %r" % {k: c for k, c in counts.items() if c != 1})
    check_eq(len(deps), len(want), "deployments created")
    check(all(d["state"] == "Success" for d in deps),
          "not every deployment succeeded: %r" % [(target_of(d), d["state"]) for d in deps])

    # -- the gate: stage N+1 created only after all of stage N completed, per environment ----
    for env in REQUEST["environments"]:
        for stage in (1, 2):
            prev = [d for d in deps if d["environment"] == env and target_of(d)[0] == stage]
            nxt = [d for d in deps if d["environment"] == env and target_of(d)[0] == stage + 1]
            check(prev and nxt, "stage %d/%d deployments missing in %s" % (stage, stage + 1, env))
            last_done = max(harness.parse_time(d["completed_time"]) for d in prev)
            first_next = min(harness.parse_time(d["created"]) for d in nxt)
            check(first_next >= last_done,
                  "%s: stage %d deployment created at %s before stage %d finished at %s"
                  % (env, stage + 1, first_next, stage, last_done))

    # -- the event stream -------------------------------------------------------------------
    evs = fl.release_events(rid)
    types = [e["type"].replace("octofleet.", "") for e in evs]
    check_eq(types[0], "release.accepted", "first event of the release")
    acc = evs[0]["data"]
    check_eq(acc.get("stage_count"), 3, "release.accepted stage_count")
    check_eq(acc.get("counts", {}).get("total"), 14, "release.accepted counts.total")
    check_eq(done["data"].get("counts", {}).get("succeeded"), 14, "release.completed succeeded")
    check_eq(types.count("release.completed"), 1, "release.completed events")
    bad = [t for t in types if t in ("job.failed", "job.cancelled", "job.timed_out",
                                     "stage.failed", "release.paused", "release.rejected")]
    check(not bad, "failure events in a release that should pass: %r" % bad)

    def idx(etype, pred):
        return [i for i, e in enumerate(evs) if e["type"] == "octofleet." + etype and pred(e)]

    for env in REQUEST["environments"]:
        prev_done = None
        for stage in (1, 2, 3):
            at = lambda e: e["data"].get("stage") == stage and e["data"].get("environment") == env  # noqa
            started = idx("stage.started", at)
            succeeded = idx("stage.succeeded", at)
            check(len(started) == 1 and len(succeeded) == 1,
                  "stage %d in %s: %d stage.started and %d stage.succeeded events, want 1 each"
                  % (stage, env, len(started), len(succeeded)))
            check(started[0] < succeeded[0], "stage %d in %s succeeded before it started"
                  % (stage, env))
            if prev_done is not None:
                check(prev_done < started[0], "stage %d in %s started before stage %d succeeded"
                      % (stage, env, stage - 1))
            prev_done = succeeded[0]
            for i in idx("job.dispatched", at):
                check(started[0] < i, "a stage %d job in %s was dispatched before stage.started"
                      % (stage, env))
            for i in idx("job.succeeded", at):
                check(i < succeeded[0], "a stage %d job in %s succeeded after stage.succeeded"
                      % (stage, env))

    dispatched = of_type(evs, "job.dispatched")
    check_eq(sorted((job_key(e) for e in dispatched), key=str), sorted(want, key=str),
             "job.dispatched targets (each once)")
    check(all(e["data"].get("attempt") == 1 for e in dispatched), "a first dispatch with attempt != 1")
    check_eq({job_key(e): e["data"]["job_id"] for e in dispatched}, planned,
             "dispatched job ids vs the plan's (deterministic ids)")
    by_dep = {(d["project"], d["environment"], d["tenant"]): d for d in deps}
    for d in dispatched:
        jid = d["data"]["job_id"]
        mine = [i for i, e in enumerate(evs) if e["data"].get("job_id") == jid]
        kinds = [evs[i]["type"].replace("octofleet.", "") for i in mine]
        for k in ("job.dispatched", "job.started", "job.succeeded"):
            check(k in kinds, "job %s %r has no %s event: %r" % (jid, job_key(d), k, kinds))
        first = {k: mine[kinds.index(k)] for k in ("job.dispatched", "job.started", "job.succeeded")}
        check(first["job.dispatched"] < first["job.started"] < first["job.succeeded"],
              "job %s %r events out of order: %r" % (jid, job_key(d), kinds))
        st = evs[first["job.started"]]
        dep = by_dep[(d["data"]["project"], d["data"]["environment"], d["data"].get("tenant"))]
        check_eq(st["data"].get("deployment_id"), dep["id"], "job.started deployment_id of %s" % jid)
        check_eq(st["data"].get("task_id"), dep["task_id"], "job.started task_id of %s" % jid)
        check("octofleet job %s attempt 1" % jid in (dep.get("comments") or ""),
              "deployment %s comments %r do not name job %s attempt 1"
              % (dep["id"], dep.get("comments"), jid))
        check(st["source"].startswith("octofleet/worker/"), "job.started source %r" % st["source"])

    # release.completed must stay the release's last event: give stragglers a moment to show.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        fl.check_daemons()
        time.sleep(0.2)
    evs = fl.release_events(rid)
    check_eq(evs[-1]["type"], "octofleet.release.completed",
             "last event of the release (after %d events)" % len(evs))
    harness.log("%d events, %d deployments, gate order and event order hold"
                % (len(evs), len(deps)))


if __name__ == "__main__":
    harness.main(scenario, __doc__)
