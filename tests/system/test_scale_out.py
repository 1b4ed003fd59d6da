#!/usr/bin/env python3
"""System scenario: scaling out spreads every stage with the roundrobin assignor.

The default assignor (cooperative-sticky) balances each worker's total number of partitions,
so a worker added to a running fleet can take whole stage topics while others keep none of
them (docs/operations.md, "Rebalances"). With `worker.assignment = "roundrobin"` (librdkafka's
roundrobin assignor, the eager protocol) every rebalance assigns afresh, topic by topic in turn.

Three workers (static members w1-w3) with roundrobin run a two-stage release of 48 jobs
(Catalog, then Search, for twelve tenants in Dev and Test; tasks of 1.5-2.5 s, at most six at
once). Once jobs are running a fourth worker starts. Proves:
  - after the rebalance each stage topic's six partitions sit on all four workers
    (`octofleet workers --json`: no stage uneven), as DescribeGroups on the broker says too;
  - the jobs the eager rebalance took away in flight (every worker gives up every partition)
    are adopted by their next owner, not deployed again: the release completes, each of the
    48 targets deployed exactly once, one job.succeeded per job;
  - the fourth worker ran some of the jobs.
"""

import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, expected_targets, of_type  # noqa: E402

WORKERS = ("w1", "w2", "w3")
ALL = WORKERS + ("w4",)
REQUEST = harness.release_request("sys-scale-out", ["Dev", "Test"], [
    ("catalog", [("Catalog", "1.0.0")]),
    ("search", [("Search", "1.0.0")]),
])


def scenario(args, fleets):
    fl = harness.Fleet(args, "scale_out", max_stages=2, task_cap=6,
                       worker_settings={"assignment": '"roundrobin"'})
    fleets.append(fl)
    fl.start(workers=WORKERS)
    fl.set_rules([{"duration_ms": [1500, 2500]}])
    stages = [fl.topic("jobs.s1"), fl.topic("jobs.s2")]

    want = expected_targets(fl.world, REQUEST)
    check_eq(len(want), 48, "planned targets")
    rid = fl.submit(REQUEST)
    fl.wait_event(rid, "job.started", count=6)
    harness.log("jobs running; starting w4")
    fl.start_worker("w4")
    members = fl.wait_workers_assigned(ALL, stages)
    running = [e for e in fl.release_events(rid) if e["type"] == "octofleet.release.completed"]
    check_eq(running, [], "the release ended before w4 joined: nothing was in flight to move")
    for t in stages:
        owners = sorted(mid for mid, m in members.items() if m.get(t))
        check_eq(len(owners), 4, "workers owning partitions of %s (DescribeGroups: %r)"
                 % (t, members))
    r = fl.octofleet("workers", "--json")
    check_eq(r.returncode, 0, "octofleet workers --json exit code (stderr: %s)" % r.stderr)
    view = json.loads(r.stdout)
    for st in view["stages"]:
        check_eq((st["owned"], st["workers"], st["uneven"]), (6, 4, False),
                 "stage %d: partitions owned, workers, uneven" % st["stage"])
    harness.log("after scaling out: %s" % ", ".join(
        "stage %d on %d workers" % (st["stage"], st["workers"]) for st in view["stages"]))

    fl.wait_release_end(rid, "release.completed", timeout=150)
    evs = fl.release_events(rid)
    started = collections.Counter(e["data"]["job_id"] for e in of_type(evs, "job.started"))
    succeeded = collections.Counter()
    per_worker = collections.Counter()
    for e in of_type(evs, "job.succeeded"):
        succeeded[e["data"]["job_id"]] += 1
        per_worker[e["source"]] += 1
    dispatched = {e["data"]["job_id"] for e in of_type(evs, "job.dispatched")}
    check_eq(len(dispatched), 48, "jobs dispatched")
    check_eq(set(succeeded), dispatched, "jobs that succeeded")
    check(all(n == 1 for n in succeeded.values()),
          "succeeded twice: %r" % {j: n for j, n in succeeded.items() if n != 1})
    check(per_worker["octofleet/worker/w4"] > 0,
          "w4 did none of the jobs; succeeded per worker: %r" % dict(per_worker))
    counts = fl.deployment_counts()
    check_eq(len(counts), 48, "distinct deployed targets")
    check(all(c == 1 for c in counts.values()),
          "deployed twice: %r" % {k: c for k, c in counts.items() if c != 1})
    moved = sum(n - 1 for n in started.values())
    harness.log("succeeded per worker: %r; jobs started again by a new owner after the "
                "rebalance: %d" % (dict(per_worker), moved))


if __name__ == "__main__":
    harness.main(scenario, __doc__)
