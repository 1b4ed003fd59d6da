#!/usr/bin/env python3
"""System scenario 11: the fleet-wide task budget (docs/gating.md, "The task budget").

The simulator's task cap is 10 (so the automatic budget would be 10: `octofleet plan` with
octopus.task_budget 0 says so), but the fleet runs with octopus.task_budget = 3. Two workers,
a two-stage release of 48 jobs with slow deployments (300-600 ms), and a second release with
priority 5 submitted while the first one runs. Proves, on the real broker:
  - octopus-sim's /sim/task-peaks (the most tasks of our API key queued or executing at once)
    never exceeds 3, although each worker alone could create 64 at once;
  - both releases complete with every target deployed exactly once;
  - two creates answered 503: the worker says octopus_throttled in the job's event and the
    producer halves the budget (log "task budget lowered to 1 of 3");
  - `octofleet plan --json` shows the resolved budget (configured 3; automatic 13: the cap of 10 + a first headroom of 3).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, expected_targets  # noqa: E402

BUDGET = 3
TASK_CAP = 10
REQUEST = harness.release_request("sys-budget", ["Dev", "Test"], [
    ("catalog", [("Catalog", "1.0.0")]),
    ("search", [("Search", "1.0.0")]),
])
HOTFIX = harness.release_request("sys-budget-hotfix", ["Dev", "Test"], [[("Api", "1.0.0")]],
                                 priority=5)


def peak(fl):
    """The highest peak over the API keys the simulator knows (only ours creates tasks)."""
    return max((k["peak"] for k in fl.sim_get("/sim/task-peaks")), default=0)


def scenario(args, fleets):
    fl = harness.Fleet(args, "budget", task_cap=TASK_CAP, max_stages=2)
    fleets.append(fl)
    fl.start_sim()
    fl.write_config()
    with open(fl.cfg) as f:
        text = f.read()
    auto_cfg = fl.cfg + ".auto"
    with open(auto_cfg, "w") as f:
        f.write(text)
    needle = 'retry_deadline = "30s";'
    check(needle in text, "the harness's config has no octopus.retry_deadline line")
    with open(fl.cfg, "w") as f:
        f.write(text.replace(needle, needle + "\n    task_budget = %d;" % BUDGET))
    fl.start_producer()
    fl.start_follower()
    for w in ("w1", "w2"):
        fl.start_worker(w)
    fl.wait_log(fl.producer, "task budget %d (configured)" % BUDGET, 30)
    fl.set_rules([{"duration_ms": [300, 600]}])

    # the plan shows the budget: configured, and what automatic would be
    doc = harness.plan(fl, REQUEST)
    check_eq((doc.get("task_budget"), doc.get("task_budget_rule")), (BUDGET, "configured"),
             "plan's task budget")
    check_eq(doc.get("priority"), 0, "plan's priority")
    r = fl.octofleet("plan", fl.write_request(HOTFIX), "--json", "-c", auto_cfg, config=False)
    check(r.returncode == 0, "plan (automatic budget) exited %d:\n%s" % (r.returncode, r.stderr))
    auto = harness.json.loads(r.stdout)
    # the sim's task cap plus the automatic headroom before any job is seen: a quarter of it
    check_eq(auto.get("task_budget"), TASK_CAP + (TASK_CAP + 3) // 4,
             "automatic task budget (the sim's task cap + a quarter)")
    check("automatic" in auto.get("task_budget_rule", ""), "rule %r" % auto.get("task_budget_rule"))
    check_eq(auto.get("priority"), 5, "hotfix plan's priority")

    fl.sim_call("DELETE", "/sim/task-peaks")
    want = expected_targets(fl.world, REQUEST)
    want_hot = expected_targets(fl.world, HOTFIX)
    check(len(want) >= 40, "planned targets: %d" % len(want))
    rid = fl.submit(REQUEST)
    seen = 0
    # a hotfix while the train runs: it shares the budget (and goes first)
    fl.wait_event(rid, "job.succeeded", count=5, timeout=120)
    # status tells held jobs (decided, waiting for a slot) from live ones
    st = fl.octofleet("status", rid, "--json")
    check_eq(st.returncode, 0, "status --json exit code (%s)" % st.stderr.strip())
    held = [j for j in harness.json.loads(st.stdout)["jobs"] if j.get("held")]
    check(held and all(j["status"] == "dispatched" for j in held),
          "status --json lists no held job while the budget holds most of the train")
    st = fl.octofleet("status", rid)
    check("HELD" in st.stdout, "status text has no HELD column: %r" % st.stdout[:400])
    hot = fl.submit(HOTFIX)
    for r_id in (hot, rid):
        if r_id == rid:
            # Octopus overloaded: two creates answered 503 (the workers retry them); the
            # worker says so in the job's event and the producer halves the budget
            fl.sim_call("POST", "/sim/faults", {"route": "POST /api/{space}/deployments",
                                                "count": 2, "status": 503})
            fl.wait_log(fl.producer, "task budget lowered to 1 of %d" % BUDGET, 60)

        def done(r_id=r_id):
            nonlocal seen
            seen = max(seen, peak(fl))
            check(seen <= BUDGET, "octopus-sim saw %d tasks of the fleet at once, budget %d"
                  % (seen, BUDGET))
            evs = fl.release_events(r_id)
            return any(e["type"].endswith("release.completed") for e in evs)
        fl.wait_until("release %s completed" % r_id, done, timeout=240, interval=0.1)
    seen = max(seen, peak(fl))
    harness.log("task peak %d with budget %d" % (seen, BUDGET))
    check(seen <= BUDGET, "octopus-sim's task peak %d exceeds the budget %d" % (seen, BUDGET))
    check(seen >= 2, "task peak %d: the budget was not used in parallel" % seen)
    fl.wait_release_end(rid, "release.completed", timeout=10)
    fl.wait_release_end(hot, "release.completed", timeout=10)

    evs = fl.release_events(rid)
    counts = fl.deployment_counts()
    deployed = {(p, e, t) for (p, _, e, t) in counts}
    check_eq(deployed, {(p, e, t) for (_, p, e, t) in want | want_hot}, "deployed targets")
    check(all(c == 1 for c in counts.values()),
          "deployed twice: %r" % {k: c for k, c in counts.items() if c != 1})

    throttled = [e for e in evs if e.get("data", {}).get("octopus_throttled")]
    check(len(throttled) >= 1, "no job event says octopus_throttled")

    # the hotfix, submitted after the train started, did not wait for the train's end: its
    # jobs went at the next free slots
    last_train = max(harness.parse_time(e["time"]) for e in evs
                     if e["type"].endswith("job.dispatched"))
    hot_done = [e for e in fl.release_events(hot) if e["type"].endswith("release.completed")]
    check(harness.parse_time(hot_done[0]["time"]) < last_train,
          "the priority 5 release completed only after the train's last dispatch")


if __name__ == "__main__":
    harness.main(scenario, __doc__)
