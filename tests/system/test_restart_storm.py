#!/usr/bin/env python3
"""System scenario 7: a restart storm, then two workers with one name.

Part A: three workers (static group members named w1, w2, w3) run a one-stage release of 470
jobs (Web in Dev and Test for every tenant of worker-world.json, each task 300-500 ms, the simulator
running at most 8 tasks at once, so the release takes tens of seconds). While it runs, every
2-4 s a random worker is killed (mostly kill -9, every third round SIGTERM) and restarted under
the same name at once, for a bounded number of rounds. Proves:
  - the release completes and no target is deployed twice (/sim/deployment-counts all 1);
  - the group never stalls: the longest gap between consecutive job.succeeded events stays
    below session.timeout.ms (6 s in the harness) plus a margin. A restarted static member
    takes its partitions back without a rebalance of the whole group; before static
    membership every restart rebalanced the group and the chaos runs saw stalls of up to 58 s.
It prints what restarts cost: duplicate job.started / job.succeeded events (re-deliveries of
jobs that were running, or finished but not yet committed: auto.commit.interval.ms is 1 s for
workers) and the number of partition assignments the workers logged.

Part B: a fourth process starts with the name w1 while w1 runs. Static membership fences one
of the two (FENCED_INSTANCE_ID): it must exit with code 3 (configuration error, so systemd's
RestartPreventExitStatus keeps it from fencing the other in turn) and say "another worker
uses the name w1"; the other keeps running and stops cleanly at the end.
"""

import collections
import glob
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, of_type, parse_time  # noqa: E402

WORKERS = ("w1", "w2", "w3")
ROUNDS = 8
JOBS = 470
SESSION_TIMEOUT_S = 6.0  # the harness's session.timeout.ms
STALL_MARGIN_S = 6.0  # process start-up and join on a loaded 2-core machine
REQUEST = {
    "release": "sys-restart-storm",
    "environments": ["Dev", "Test"],
    "tenants": "all",
    "stages": [[{"project": "Web", "version": "1.0.0"}]],
}


def ended(fl, rid):
    ends = {"octofleet.release." + t for t in ("completed", "paused", "aborted", "rejected")}
    return any(e.get("type") in ends for e in fl.release_events(rid))


def wait_ended_or(fl, rid, seconds):
    """Paces the storm: returns after `seconds`, or as soon as the release has ended."""
    deadline = time.monotonic() + seconds
    with fl.cond:
        while time.monotonic() < deadline:
            if ended(fl, rid):
                return True
            fl.cond.wait(min(0.5, max(0.0, deadline - time.monotonic())))
    return ended(fl, rid)


def storm(fl, rid, rnd):
    rounds = []
    for i in range(ROUNDS):
        if wait_ended_or(fl, rid, rnd.uniform(2.0, 4.0)):
            break
        fl.check_daemons()
        name = rnd.choice(WORKERS)
        old = fl.workers[name]
        how = "SIGTERM" if i % 3 == 2 else "kill -9"
        t0 = time.monotonic()
        if how == "kill -9":
            old.kill()
        else:
            old.expected_exit = True
            rc = old.stop(grace=30)
            check_eq(rc, 0, "exit code of %s after SIGTERM" % name)
        fl.start_worker(name)
        rounds.append((name, how, time.monotonic() - t0))
        harness.log("round %d: %s %s, restarted under the same name" % (i + 1, how, name))
    return rounds


def final_gaps(evs):
    """Longest gap (s) between consecutive job.succeeded events, from the first dispatch on."""
    times = sorted(parse_time(e["time"]) for e in of_type(evs, "job.succeeded"))
    disp = sorted(parse_time(e["time"]) for e in of_type(evs, "job.dispatched"))
    points = disp[:1] + times
    worst, at = 0.0, None
    for a, b in zip(points, points[1:]):
        gap = (b - a).total_seconds()
        if gap > worst:
            worst, at = gap, a
    return worst, at


def assignments(fl):
    n = 0
    for path in glob.glob(os.path.join(fl.dir, "worker-*.log")):
        with open(path, "rb") as f:
            n += f.read().count(b" assigned partitions=")
    return n


def part_storm(fl, rnd):
    fl.set_rules([{"duration_ms": [300, 500]}])
    fl.wait_workers_assigned(WORKERS, [fl.topic("jobs.s1")])
    harness.log("worker group stable")
    t0 = time.monotonic()
    rid = fl.submit(REQUEST)
    rounds = storm(fl, rid, rnd)
    fl.wait_release_end(rid, "release.completed", timeout=150)
    took = time.monotonic() - t0
    harness.log("release completed in %.1fs after %d restart(s)" % (took, len(rounds)))
    check(len(rounds) >= 3, "only %d restart round(s) happened before the release ended: the "
          "storm did not test much (is the release too fast?)" % len(rounds))

    evs = fl.release_events(rid)
    dispatched = {e["data"]["job_id"] for e in of_type(evs, "job.dispatched")}
    check_eq(len(dispatched), JOBS, "jobs dispatched")
    succ = collections.Counter(e["data"]["job_id"] for e in of_type(evs, "job.succeeded"))
    started = collections.Counter(e["data"]["job_id"] for e in of_type(evs, "job.started"))
    check_eq(set(succ), dispatched, "jobs that succeeded")
    counts = fl.deployment_counts()
    check_eq(len(counts), JOBS, "distinct deployed targets")
    check(all(c == 1 for c in counts.values()),
          "deployed twice: %r" % {k: c for k, c in counts.items() if c != 1})

    worst, at = final_gaps(evs)
    dup_final = sum(c - 1 for c in succ.values())
    dup_jobs = sum(1 for c in succ.values() if c > 1)
    dup_started = sum(c - 1 for c in started.values())
    harness.log("restarts: %s" % ", ".join("%s %s" % (how, n) for n, how, _ in rounds))
    harness.log("RESULT release_s=%.1f restarts=%d longest_gap_s=%.2f duplicate_final_events=%d "
                "jobs_with_duplicate_final=%d (%.1f%%) duplicate_started=%d "
                "partition_assignments=%d"
                % (took, len(rounds), worst, dup_final, dup_jobs, 100.0 * dup_jobs / JOBS,
                   dup_started, assignments(fl)))
    check(worst < SESSION_TIMEOUT_S + STALL_MARGIN_S,
          "no job finished for %.1fs (from %s): longer than session.timeout.ms (%.0fs) plus "
          "%.0fs; the group stalled" % (worst, at, SESSION_TIMEOUT_S, STALL_MARGIN_S))


def part_same_name(fl):
    old = fl.workers["w1"]
    dup = fl._spawn("worker w1 (second)", ["worker", "--name", "w1"], "worker-w1-second.log")
    fl.retired.append(dup)

    def one_exited():
        return [p for p in (old, dup) if not p.alive()]

    # Until one of them exits, the fenced one is expected to go: do not let check_daemons
    # (inside wait_until) treat that as a failure.
    old.expected_exit = True
    dead = fl.wait_until("one of the two workers named w1 to exit", one_exited, timeout=90)
    check_eq(len(dead), 1, "workers named w1 that exited")
    gone = dead[0]
    rc = gone.wait(10)
    check_eq(rc, 3, "exit code of the fenced worker (configuration error)")
    with open(gone.logpath, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    check("another worker uses the name w1" in text,
          "the fenced worker's log does not say another worker uses its name:\n%s"
          % harness.tail(gone.logpath))
    survivor = dup if gone is old else old
    survivor.expected_exit = False
    fl.workers["w1"] = survivor
    if survivor is dup:
        fl.retired.append(old)
    harness.log("%s was fenced and exited 3; %s keeps running"
                % ("the first w1" if gone is old else "the second w1",
                   "the second" if survivor is dup else "the first"))


def scenario(args, fleets):
    seed = int(os.environ.get("OF_STORM_SEED", time.time_ns() % 1000000))
    harness.log("random seed %d (set OF_STORM_SEED to repeat)" % seed)
    rnd = random.Random(seed)
    fl = harness.Fleet(args, "restart_storm", fixture="worker-world.json", task_cap=8,
                       max_stages=1, partitions=6, worker_settings={"max_in_flight": "32"})
    fleets.append(fl)
    fl.start(workers=WORKERS)
    part_storm(fl, rnd)
    part_same_name(fl)


if __name__ == "__main__":
    harness.main(scenario, __doc__)
