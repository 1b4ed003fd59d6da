#!/usr/bin/env python3
"""System scenario 4: kill -9 a worker, then the producer, in the middle of releases.

Part A, the worker: one worker (w1) starts all six stage-1 jobs of "sys-kill-worker" (Api, then
Web, for three tenants in Dev and Test; every task runs 5 s) and is killed with SIGKILL while
they run. A new worker (w2) starts. Proves:
  - nothing is lost: w2 gets the partitions once w1's session expires, reads the uncommitted
    jobs again, and the release completes;
  - nothing is deployed twice: /sim/deployment-counts all 1, because w2 adopts the deployments
    w1 created (its job.started/job.succeeded carry w1's deployment ids).
Part B, the producer: during "sys-kill-producer" (Schema, Docs, Web; three stages) the producer
is killed with SIGKILL once stage 2 has started, job events pile up while it is down, and a new
producer (same transactional id) starts. Proves:
  - no job is dispatched twice: a dump of every stage topic (read_committed) holds each
    (job_id, attempt) exactly once, and so does the stream of job.dispatched events;
  - the restarted producer resumes from the state topic and the release completes, with every
    target deployed once.
"""

import collections
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, expected_targets, of_type, release_request  # noqa: E402

REQ_WORKER = release_request("sys-kill-worker", ["Dev", "Test"],
                             [[("Api", "1.0.0")], [("Web", "1.0.0")]])
REQ_PRODUCER = release_request("sys-kill-producer", ["Dev", "Test"],
                               [[("Schema", "1.0.0")], [("Docs", "1.0.0")], [("Web", "2.0.0")]])


def src(ev):
    return ev.get("source", "").replace("octofleet/worker/", "")


def check_deployed_once(fl, request, after):
    """Every target of the request deployed, and none twice (/sim/deployment-counts)."""
    projects = {(p["project"], p["version"]) for st in request["stages"] for p in st}
    counts = {k: c for k, c in fl.deployment_counts().items() if (k[0], k[1]) in projects}
    check_eq(len(counts), len(expected_targets(fl.world, request)), "deployed targets")
    check(all(c == 1 for c in counts.values()),
          "deployed twice after %s: %r" % (after, {k: c for k, c in counts.items() if c > 1}))


def part_worker(fl):
    fl.set_rules([{"duration_ms": 5000}])
    rid = fl.submit(REQ_WORKER)
    harness.log("submitted %s" % rid)
    started = fl.wait_event(rid, "job.started", count=6, timeout=60)
    check(all(src(e) == "w1" for e in started), "stage 1 not started by w1 alone")
    w1_deployment = {e["data"]["job_id"]: e["data"]["deployment_id"] for e in started}
    # Ground truth for "in flight": the simulator's task states right before the kill (a task
    # runs 5 s, so none can finish, be reported and committed in between; a task just created
    # may not have left Octopus's queue yet, and is in flight all the same).
    executing = {d["id"] for d in fl.deployments() if d["state"] in ("Queued", "Executing")}
    running = {j for j, dep in w1_deployment.items() if dep in executing}
    check(running, "precondition: w1 has no job in flight to lose; deployments: %r"
          % [(d["id"], d["state"]) for d in fl.deployments()])
    harness.log("kill -9 w1 with %d job(s) in flight" % len(running))
    fl.workers["w1"].kill()
    fl.start_worker("w2")
    fl.wait_release_end(rid, "release.completed", timeout=150)
    harness.log("release completed after the worker kill")

    check_deployed_once(fl, REQ_WORKER, "the worker kill")
    evs = fl.release_events(rid)
    for jid in running:
        mine = [e for e in evs if e["data"].get("job_id") == jid]
        ok = [e for e in mine if e["type"] == "octofleet.job.succeeded"]
        check([e for e in ok if src(e) == "w2"], "job %s was not finished by w2: %s"
              % (jid, harness.summarize(mine)))
        check(all(e["data"].get("deployment_id") == w1_deployment[jid] for e in ok),
              "w2 did not adopt w1's deployment %s for job %s: %r"
              % (w1_deployment[jid], jid, [e["data"].get("deployment_id") for e in ok]))
    return rid


def part_producer(fl):
    fl.set_rules([{"duration_ms": [1000, 1500]}])
    rid = fl.submit(REQ_PRODUCER)
    harness.log("submitted %s" % rid)
    fl.wait_event(rid, "stage.started", pred=lambda e: e["data"].get("stage") == 2, timeout=90)
    harness.log("kill -9 the producer once stage 2 started")
    fl.producer.kill()
    killed_at = datetime.datetime.now(datetime.timezone.utc)
    # Workers carry on while the producer is down; their events wait on the events topic for
    # the next producer. Wait for one that happened after the kill.
    fl.wait_until("a job.succeeded event dated after the producer was killed",
                  lambda: [e for e in of_type(fl.release_events(rid), "job.succeeded")
                           if harness.parse_time(e["time"]) > killed_at], timeout=60)
    fl.start_producer()
    harness.log("producer restarted")
    fl.wait_release_end(rid, "release.completed", timeout=150)
    harness.log("release completed after the producer kill")

    check_deployed_once(fl, REQ_PRODUCER, "the producer kill")
    dispatched = collections.Counter((e["data"]["job_id"], e["data"]["attempt"])
                                     for e in of_type(fl.release_events(rid), "job.dispatched"))
    check_eq(len(dispatched), 14, "jobs dispatched (events)")
    dup = {k: n for k, n in dispatched.items() if n > 1}
    check(not dup, "job.dispatched events repeated for (job, attempt): %r" % dup)
    return rid


def scenario(args, fleets):
    fl = harness.Fleet(args, "kill")
    fleets.append(fl)
    fl.start(workers=("w1",))
    rid_a = part_worker(fl)
    rid_b = part_producer(fl)

    # Every stage topic, read_committed: each (job_id, attempt) once, for both releases.
    seen = collections.Counter()
    per_release = collections.Counter()
    for s in range(1, 5):
        for m in fl.topic_dump(fl.topic("jobs.s%d" % s)):
            job = json.loads(m["value"])
            seen[(job["job_id"], job["attempt"])] += 1
            per_release[job["release_id"]] += 1
            check_eq(job["stage"], s, "stage of a job on jobs.s%d" % s)
    dup = {k: n for k, n in seen.items() if n > 1}
    check(not dup, "jobs dispatched twice on the stage topics (job_id, attempt): %r" % dup)
    check_eq(per_release[rid_b], 14, "jobs of %s on the stage topics" % REQ_PRODUCER["release"])
    check_eq(per_release[rid_a], 12, "jobs of %s on the stage topics" % REQ_WORKER["release"])


if __name__ == "__main__":
    harness.main(scenario, __doc__)
