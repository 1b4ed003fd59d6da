#!/usr/bin/env python3
"""System scenario 3: three workers share one release.

Starts three workers and waits (DescribeGroups on the broker) until their consumer group is
stable with each of them owning some partitions of the two stage topics. Then a two-stage release of 48 jobs
(Catalog, then Search, for twelve tenants in Dev and Test). Proves:
  - the work is shared: every worker's events (CloudEvents source octofleet/worker/<name>) show
    it ran some of the jobs, and together they ran all of them;
  - with a stable group each job is handled by one worker: one job.started and one
    job.succeeded per job, from the same worker;
  - every target is deployed exactly once and the release completes.
"""

import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, expected_targets, of_type  # noqa: E402

WORKERS = ("w1", "w2", "w3")
REQUEST = harness.release_request("sys-three-workers", ["Dev", "Test"], [
    ("catalog", [("Catalog", "1.0.0")]),
    ("search", [("Search", "1.0.0")]),
])


def check_workers_command(fl, members):
    """`octofleet workers` (Admin API through librdkafka) tells the same as the harness's own
    DescribeGroups: who owns which partition of each stage topic, and whether a stage sits on
    fewer workers than could share it."""
    r = fl.octofleet("workers", "--json")
    check_eq(r.returncode, 0, "octofleet workers --json exit code (stderr: %s)" % r.stderr)
    view = json.loads(r.stdout)
    check_eq(view["group"], fl.worker_group, "workers: group")
    check_eq(view["state"], "Stable", "workers: group state")
    check_eq(len(view["workers"]), len(WORKERS), "workers: members")
    check_eq(sorted(w["instance_id"] for w in view["workers"]), sorted(WORKERS),
             "workers: instance ids (worker.name)")
    want = {mid: {t: sorted(p) for t, p in m.items()} for mid, m in members.items()}
    got = {w["member_id"]: {fl.topic("jobs.s%s" % s): sorted(p)
                            for s, p in w["stages"].items() if p}
           for w in view["workers"]}
    check_eq(got, want, "workers: partitions per member (against DescribeGroups)")
    for st in view["stages"]:
        topic = fl.topic("jobs.s%d" % st["stage"])
        check_eq(st["topic"], topic, "workers: stage %d topic" % st["stage"])
        check_eq(st["partitions"], 6, "workers: %s partitions" % topic)
        check_eq(st["owned"], 6, "workers: %s partitions owned" % topic)
        owners = sum(1 for m in members.values() if m.get(topic))
        check_eq(st["workers"], owners, "workers: %s owners" % topic)
        check_eq(st["uneven"], owners < 3, "workers: %s uneven" % topic)
    text = fl.octofleet("workers")
    check_eq(text.returncode, 0, "octofleet workers exit code")
    for w in WORKERS:
        check(("\n%s " % w) in text.stdout, "workers: no row for %s in:\n%s" % (w, text.stdout))
    check("stage 2 (%s): 6 partition(s) on " % fl.topic("jobs.s2") in text.stdout,
          "workers: no stage 2 line in:\n%s" % text.stdout)
    # a group nobody joined: shown as such, not an error
    r = fl.octofleet("workers", "--json", "--set", "worker.group_id=%s-nobody" % fl.worker_group)
    check_eq(r.returncode, 0, "octofleet workers of an unknown group (stderr: %s)" % r.stderr)
    empty = json.loads(r.stdout)
    check_eq((empty["workers"], [s["owned"] for s in empty["stages"]]), ([], [0, 0]),
             "workers of an unknown group")
    harness.log("octofleet workers agrees with DescribeGroups; unknown group: %s" % empty["state"])


def scenario(args, fleets):
    # Two stage topics only: each worker then owns 4 of the 12 partitions that carry jobs.
    fl = harness.Fleet(args, "three_workers", max_stages=2)
    fleets.append(fl)
    fl.start(workers=WORKERS)
    fl.set_rules([{"duration_ms": [400, 900]}])
    members = fl.wait_workers_assigned(WORKERS, [fl.topic("jobs.s1"), fl.topic("jobs.s2")])
    harness.log("worker group stable: %r" % [sorted((t, sorted(p)) for t, p in m.items())
                                             for m in members.values()])
    check_workers_command(fl, members)

    want = expected_targets(fl.world, REQUEST)
    check_eq(len(want), 48, "planned targets")
    rid = fl.submit(REQUEST)
    fl.wait_release_end(rid, "release.completed", timeout=150)
    harness.log("release completed")

    # the jobs really spread over every partition of both stage topics (else a worker could
    # legitimately idle): a precondition of this test, given the fixture's ids as keys
    for stage in ("jobs.s1", "jobs.s2"):
        parts = {m["partition"] for m in fl.topic_dump(fl.topic(stage))}
        check_eq(parts, set(range(6)), "partitions of %s holding jobs" % stage)

    evs = fl.release_events(rid)
    per_worker = collections.Counter()
    started = collections.defaultdict(list)
    succeeded = collections.defaultdict(list)
    for e in evs:
        src = e.get("source", "")
        if e["type"] == "octofleet.job.started":
            started[e["data"]["job_id"]].append(src)
        elif e["type"] == "octofleet.job.succeeded":
            succeeded[e["data"]["job_id"]].append(src)
            per_worker[src] += 1
    names = {"octofleet/worker/" + w for w in WORKERS}
    check_eq(set(per_worker) - names, set(), "event sources that are not our workers")
    for w in sorted(names):
        check(per_worker[w] > 0, "%s did none of the jobs; succeeded per worker: %r"
              % (w, dict(per_worker)))
    check_eq(sum(per_worker.values()), 48, "job.succeeded events")
    dispatched = {e["data"]["job_id"] for e in of_type(evs, "job.dispatched")}
    check_eq(len(dispatched), 48, "jobs dispatched")
    for jid in dispatched:
        check(len(started[jid]) == 1 and len(succeeded[jid]) == 1
              and started[jid] == succeeded[jid],
              "job %s: started by %r, succeeded by %r (want one worker, once each)"
              % (jid, started[jid], succeeded[jid]))

    counts = fl.deployment_counts()
    check_eq(len(counts), 48, "distinct deployed targets")
    check(all(c == 1 for c in counts.values()),
          "deployed twice: %r" % {k: c for k, c in counts.items() if c != 1})
    deployed = {(1 if p == "Catalog" else 2, p, e, t) for (p, _, e, t) in counts}
    check_eq(deployed, want, "deployed targets")
    harness.log("succeeded per worker: %r" % dict(per_worker))


if __name__ == "__main__":
    harness.main(scenario, __doc__)
