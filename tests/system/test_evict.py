#!/usr/bin/env python3
"""System scenario 12: a finished release is evicted after producer.release_retention.

The producer runs with a retention of 2 s. Release "sys-evict" (Api 1.0.0 in Dev for three
tenants) completes. Proves, with the real processes on the real broker:
  - the producer logs the eviction, and `octofleet status` then answers from the marker it
    kept: exit 0, "evicted", the outcome and the counts (and "evicted" in --json, no jobs);
    on the state topic the release record is the marker (no request) and every job record of
    the release ends in a tombstone;
  - `octofleet replay` of it is answered with command.ignored "... was evicted after its
    retention"; submitting the identical request again is rejected (release.rejected) with
    that reason and deploys nothing: each target stays deployed once;
  - a restarted producer loads no release (state rebuilt with releases=0 evicted=1), and
    `octofleet status` of a release that never existed still exits 1.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq  # noqa: E402

REQUEST = {
    "release": "sys-evict",
    "environments": ["Dev"],
    "tenants": {"names": ["Alpha", "Bravo", "Charlie"]},
    "stages": [[{"project": "Api", "version": "1.0.0"}]],
}
GONE = "was evicted after its retention"


def state_records(fl, rid):
    """Latest value per key of the release's state records (None: tombstone)."""
    latest = {}
    for m in fl.topic_dump(fl.topic("releases")):
        key = m.get("key") or ""
        if rid in key:
            latest[key] = m.get("value")
    return latest


def scenario(args, fleets):
    fl = harness.Fleet(args, "evict", producer_settings={"release_retention": '"2s"'})
    fleets.append(fl)
    fl.start(workers=("w1",))

    rid = fl.submit(REQUEST)
    fl.wait_release_end(rid, "release.completed", timeout=120)
    fl.wait_log(fl.producer, "release evicted release=%s" % rid, 60)

    # the log line comes with the decision; status reads what the transaction committed
    r = fl.wait_until("status shows the evicted release",
                      lambda: (lambda r: r if "evicted" in r.stdout else None)(
                          fl.octofleet("status", rid)), timeout=30, interval=0.5)
    check_eq(r.returncode, 0, "status exit code of an evicted release")
    check("evicted" in r.stdout and "completed" in r.stdout and "succeeded 3" in r.stdout,
          "status of the evicted release says so:\n%s" % r.stdout)
    r = fl.octofleet("status", "sys-evict", "--json")
    check_eq(r.returncode, 0, "status --json exit code of an evicted release")
    doc = json.loads(r.stdout)
    check("evicted" in doc and doc.get("status") == "completed" and doc.get("n_jobs") == 3,
          "status --json of the evicted release: %s" % r.stdout)

    rec = state_records(fl, rid)
    rel = [v for k, v in rec.items() if k.startswith("release/")]
    jobs = {k: v for k, v in rec.items() if k.startswith("job/")}
    check_eq(len(rel), 1, "release records")
    check(rel and rel[0] is not None and '"evicted"' in str(rel[0]) and '"request"' not in
          str(rel[0]), "the release record is the small marker: %r" % rel)
    check_eq(len(jobs), 3, "job record keys of the release")
    check(all(v is None for v in jobs.values()), "every job record tombstoned: %r" % jobs)

    r = fl.control("replay", rid, "--stage", "1", expect=1)
    check(GONE in r.stderr, "replay's answer names the eviction: %r" % r.stderr)
    fl.wait_event(rid, "command.ignored", pred=lambda e: GONE in e["data"].get("message", ""))

    # (not --wait: that follows the release from its state, the marker of a completed
    # release, and exits 0 at once without waiting for the rejection)
    check_eq(fl.submit(REQUEST), rid, "release id of the re-submit")
    fl.wait_event(rid, "release.rejected",
                  pred=lambda e: any(GONE in x for x in e["data"].get("errors", [])))
    counts = fl.deployment_counts()
    check_eq(sorted(counts.values()), [1, 1, 1], "deployments per target after the re-submit")

    fl.producer.stop()
    fl.start_producer()
    fl.wait_log(fl.producer, "releases=0 jobs=0 evicted=1", 30)
    r = fl.octofleet("status", "no-such-release")
    check_eq(r.returncode, 1, "status exit code of an unknown release")
    harness.log("evicted, answered from the marker, not deployed again")


if __name__ == "__main__":
    harness.main(scenario, __doc__)
