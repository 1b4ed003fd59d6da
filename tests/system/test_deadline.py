#!/usr/bin/env python3
"""System scenario 17: the soft stage deadline (policy.stage_deadline, docs/gating.md).

Release "sys-deadline" (Catalog, then Search, in Dev, for T01..T08) with slow Catalog
deployments (4 s), a task budget of 2 (server task cap 1) and "stage_deadline": "5s":
  - the deadline passes mid-stage: `stage.deadline_passed` for stage 1 lists the jobs not
    started (at least one, not all), each also `job.cancelled` "not started: stage deadline
    passed at ...";
  - the jobs that were running finish (succeeded), then `release.paused` lists the leftovers;
    none of them has a deployment in octopus-sim, and no Search deployment was created;
  - `replay --stage 1` runs the leftovers (attempt 2, no deadline) and the train completes: every
    target deployed exactly once.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, of_type  # noqa: E402

TENANTS = ["T%02d" % i for i in range(1, 9)]
REQ = harness.release_request(
    "sys-deadline", ["Dev"], [[("Catalog", "1.0.0")], [("Search", "1.0.0")]],
    tenants={"names": TENANTS}, policy={"stage_deadline": "5s"})


def scenario(args, fleets):
    fl = harness.Fleet(args, "deadline", task_cap=1)
    fleets.append(fl)
    fl.start(workers=("w1",))
    fl.set_rules([{"project": "Catalog", "duration_ms": 4000}, {"duration_ms": [150, 300]}])
    rid = fl.submit(REQ)
    harness.log("submitted %s" % rid)

    passed = fl.wait_event(rid, "stage.deadline_passed", timeout=60)[0]
    data = passed["data"]
    left = sorted(j["tenant"] for j in data.get("jobs", []))
    harness.log("deadline passed: %d not started: %s" % (len(left), left))
    check_eq((data.get("stage"), data.get("environment")), (1, "Dev"), "deadline event's stage")
    check(0 < len(left) < len(TENANTS), "jobs not started: %r (want some, not all)" % left)
    check("replay --stage 1" in data.get("message", ""), "message: %r" % data.get("message"))

    paused = fl.wait_release_end(rid, "release.paused", timeout=60)
    harness.log("paused")
    listed = sorted(j["tenant"] for j in paused["data"].get("jobs", []))
    check(set(left) <= set(listed), "release.paused lists %r, not every leftover %r"
          % (listed, left))
    evs = fl.release_events(rid)
    cancelled = {harness.job_key(e)[3]: e["data"].get("message", "")
                 for e in of_type(evs, "job.cancelled")}
    for t in left:
        check(cancelled.get(t, "").startswith("not started: stage deadline passed at"),
              "job.cancelled of %s: %r" % (t, cancelled.get(t)))
    deps = fl.deployments({("Catalog", "1.0.0"), ("Search", "1.0.0")})
    check(not [d for d in deps if d["project"] == "Search"], "Search started after the deadline")
    deployed = sorted(d["tenant"] for d in deps)
    check(not set(deployed) & set(listed),
          "leftovers with a deployment: %r" % sorted(set(deployed) & set(listed)))
    check(all(d["state"] == "Success" for d in deps), "in-flight jobs did not finish: %r"
          % [(d["tenant"], d["state"]) for d in deps])
    check_eq(sorted(deployed + listed), TENANTS, "every tenant either ran or is a leftover")

    fl.set_rules([{"duration_ms": [150, 300]}])
    mark = fl.mark(rid)
    fl.control("replay", rid, "--stage", "1")
    fl.wait_release_end(rid, "release.completed", timeout=90, after=mark)
    harness.log("replayed and completed")
    counts = {k: c for k, c in fl.deployment_counts().items() if k[1] == "1.0.0"}
    want = {(p, "1.0.0", "Dev", t): 1 for p in ("Catalog", "Search") for t in TENANTS}
    check_eq(counts, want, "deployment counts")


if __name__ == "__main__":
    harness.main(scenario, __doc__)
