#!/usr/bin/env python3
"""System scenario 6: abort with --cancel-running, and the if-not-current condition.

Part A: "sys-abort" (Web 1.0.0 for three tenants in Dev, then Api 1.0.0) whose Web tasks run
for two minutes. Once all three are executing, `octofleet abort R --cancel-running`. Proves:
  - release.aborted lists the three running jobs, the simulator's tasks end Canceled (not
    Success), the workers report job.cancelled, and stage 2 is never dispatched or deployed.
Part B: "sys-if-not-current" (Docs 2.0.0 for every tenant in Dev and Test, condition
if-not-current) where the world already has Docs 2.0.0 as the current release in Dev for Alpha
and Bravo. Proves:
  - those two targets are planned as skipped (`octofleet plan --json` says so too): job.skipped
    with the reason, no job dispatched
    and no deployment for them; the other four targets deploy once; the release completes with
    counts skipped 2, succeeded 4.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, of_type, release_request  # noqa: E402

REQ_ABORT = release_request("sys-abort", ["Dev"], [[("Web", "1.0.0")], [("Api", "1.0.0")]])
REQ_CURRENT = release_request("sys-if-not-current", ["Dev", "Test"], [[("Docs", "2.0.0")]],
                              policy={"condition": "if-not-current"})
TENANTS = ("Alpha", "Bravo", "Charlie")


def part_abort(fl):
    fl.set_rules([{"project": "Web", "duration_ms": 120000}, {"duration_ms": [150, 300]}])
    rid = fl.submit(REQ_ABORT)
    fl.wait_event(rid, "job.started", count=3, timeout=60)

    def executing():
        deps = [d for d in fl.deployments() if (d["project"], d["release"]) == ("Web", "1.0.0")]
        return deps if len(deps) == 3 and all(d["state"] == "Executing" for d in deps) else None

    fl.wait_until("three Web tasks executing", executing, timeout=60)
    harness.log("aborting %s with three tasks running" % rid)
    fl.control("abort", rid, "--cancel-running")
    aborted = fl.wait_release_end(rid, "release.aborted", timeout=60)
    listed = sorted(j.get("tenant") for j in aborted["data"].get("jobs", []))
    check_eq(listed, list(TENANTS), "jobs listed by release.aborted")
    check_eq(aborted["data"].get("by"), "system-test", "release.aborted by")

    def all_canceled():
        deps = [d for d in fl.deployments() if (d["project"], d["release"]) == ("Web", "1.0.0")]
        states = sorted(d["state"] for d in deps)
        return deps if states == ["Canceled"] * 3 else None

    deps = fl.wait_until("the three Web tasks Canceled in the simulator", all_canceled,
                         timeout=60)
    check(all(d.get("completed_time") for d in deps), "a canceled task has no completed time")
    cancelled = fl.wait_event(rid, "job.cancelled", count=3, timeout=60)
    check_eq(sorted(e["data"].get("tenant") for e in cancelled), list(TENANTS),
             "job.cancelled events")
    evs = fl.release_events(rid)
    check(not of_type(evs, "job.succeeded"), "a job of the aborted release succeeded")
    check(not [e for e in of_type(evs, "job.dispatched") if e["data"]["stage"] == 2],
          "stage 2 dispatched after the abort")
    check(not [d for d in fl.deployments() if d["project"] == "Api"],
          "stage 2 deployed after the abort")
    harness.log("aborted: tasks canceled, stage 2 untouched")


def part_condition(fl):
    fl.set_rules([{"duration_ms": [150, 300]}])
    plan = harness.plan(fl, REQ_CURRENT)
    plan_skips = harness.plan_targets(plan, "skip")
    check_eq(sorted((e, t) for (_, _, e, t) in plan_skips), [("Dev", "Alpha"), ("Dev", "Bravo")],
             "targets octofleet plan skips")
    rid = fl.submit(REQ_CURRENT)
    done = fl.wait_release_end(rid, "release.completed", timeout=90)
    evs = fl.release_events(rid)
    skipped = of_type(evs, "job.skipped")
    check_eq(sorted((e["data"].get("environment"), e["data"].get("tenant")) for e in skipped),
             [("Dev", "Alpha"), ("Dev", "Bravo")], "job.skipped targets")
    check_eq(sorted(e["data"]["job_id"] for e in skipped), sorted(plan_skips.values()),
             "job ids of job.skipped vs the plan's skipped rows")
    for e in skipped:
        msg = e["data"].get("message") or ""
        check("2.0.0" in msg and "if-not-current" in msg,
              "job.skipped reason %r does not say the target is already on 2.0.0 "
              "(if-not-current)" % msg)
        check_eq(e.get("source"), "octofleet/producer", "source of a planned skip")
    dispatched = sorted((e["data"]["environment"], e["data"]["tenant"])
                        for e in of_type(evs, "job.dispatched"))
    check_eq(dispatched, [("Dev", "Charlie"), ("Test", "Alpha"), ("Test", "Bravo"),
                          ("Test", "Charlie")], "dispatched targets")
    counts = {k: c for k, c in fl.deployment_counts().items() if k[0] == "Docs"}
    check_eq(counts, {("Docs", "2.0.0", "Dev", "Charlie"): 1, ("Docs", "2.0.0", "Test", "Alpha"): 1,
                      ("Docs", "2.0.0", "Test", "Bravo"): 1,
                      ("Docs", "2.0.0", "Test", "Charlie"): 1},
             "Docs deployments (none for the current targets)")
    c = done["data"].get("counts", {})
    check_eq((c.get("total"), c.get("succeeded"), c.get("skipped")), (6, 4, 2),
             "release.completed counts (total, succeeded, skipped)")
    harness.log("if-not-current skipped the current targets")


def scenario(args, fleets):
    fl = harness.Fleet(args, "abort_condition")
    fleets.append(fl)
    fl.start(workers=("w1",))
    part_abort(fl)
    part_condition(fl)


if __name__ == "__main__":
    harness.main(scenario, __doc__)
