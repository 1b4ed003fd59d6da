#!/usr/bin/env python3
"""System scenario 16: an Octopus outage in the middle of a release holds the fleet, not the jobs.

Release "sys-hold" (Catalog, then Search, for T01..T12 in Dev and Test: 48 jobs, deployments of
about a second, a task budget of 6 so most jobs wait in the producer). Once a few jobs have
succeeded, octopus-sim answers every /api request with 503 for 15 s, then drops every connection
for 15 s more (a 30 s outage of both kinds), then recovers. Proves (docs/reliability.md, "Hold,
not fail"):
  - the producer holds: release.held with the reason while the outage lasts; the workers log
    their own hold, the producer's /metrics shows octofleet_octopus_held 1 and `status` says
    HELD with the reason ("held" in --json, gone once it ends);
  - no job.dispatched while held (nothing new is sent), no job fails;
  - release.unheld once Octopus answers again, and the release completes;
  - every target is deployed exactly once (/sim/deployment-counts), so a create whose answer
    was lost in the outage was adopted, not repeated.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, expected_targets, of_type  # noqa: E402

TENANTS = ["T%02d" % i for i in range(1, 13)]
REQ = {
    "release": "sys-hold",
    "environments": ["Dev", "Test"],
    "tenants": {"names": TENANTS},
    "stages": [
        [{"project": "Catalog", "version": "1.0.0"}],
        [{"project": "Search", "version": "1.0.0"}],
    ],
}


def scenario(args, fleets):
    fl = harness.Fleet(args, "hold",
                       octopus_settings={
                           "task_budget": "6",
                           "hold_window": '"8s"',
                           "hold_min_requests": "5",
                           "hold_error_percent": "50",
                           "hold_probe_interval": '"500ms"',
                       },
                       producer_settings={"metrics_listen": '"127.0.0.1:0"'})
    fleets.append(fl)
    fl.start(workers=("w1", "w2"))
    fl.set_rules([{"duration_ms": [800, 1200]}])
    rid = fl.submit(REQ)
    harness.log("submitted %s" % rid)
    fl.wait_event(rid, "job.succeeded", count=4, timeout=120)

    # ---- the outage: 15 s of 503s, then 15 s of dropped connections ------------------------
    t0 = time.monotonic()
    fl.sim_call("POST", "/sim/faults", {"route": "*", "status": 503, "count": -1})
    harness.log("outage: 503s")
    held = fl.wait_event(rid, "release.held", timeout=20)[0]
    harness.log("held after %.1f s: %s" % (time.monotonic() - t0, held["data"].get("message")))
    check("Octopus failing" in (held["data"].get("message") or ""),
          "release.held reason %r" % held["data"].get("message"))
    addr = fl.metrics_address(fl.producer)
    m = harness.parse_metrics(harness.http_get(addr, "/metrics")[1])
    check_eq(harness.metric_sum(m, "octofleet_octopus_held"), 1.0,
             "the producer's octofleet_octopus_held while held")
    # status shows the hold: the release record says why ("held"), the text a HELD line
    def status_held():
        r = fl.octofleet("status", rid, "--json")
        return r.returncode == 0 and "Octopus failing" in (json.loads(r.stdout).get("held") or "")
    fl.wait_until("status --json says held", status_held, timeout=20)
    r = fl.octofleet("status", rid)
    check("HELD: Octopus failing" in r.stdout, "status text while held: %r" % r.stdout)
    mark = fl.mark(rid)
    fl.wait_until("15 s of 503s", lambda: time.monotonic() - t0 >= 15, timeout=30)
    # PUT replaces the 503s in one step: a probe answered normally in between would end the hold
    fl.sim_call("PUT", "/sim/faults", {"route": "*", "drop": True, "count": -1})
    harness.log("outage: dropped connections")
    fl.wait_until("30 s of outage", lambda: time.monotonic() - t0 >= 30, timeout=30)
    evs = fl.release_events(rid)[mark:]
    check(not of_type(evs, "job.dispatched"),
          "jobs sent while held: %d" % len(of_type(evs, "job.dispatched")))
    check(not of_type(evs, "release.unheld"), "release.unheld during the outage")
    fl.sim_call("DELETE", "/sim/faults")
    harness.log("outage over after %.1f s" % (time.monotonic() - t0))

    unheld = fl.wait_event(rid, "release.unheld", timeout=30)[0]
    harness.log("unheld: %s" % unheld["data"].get("message"))
    fl.wait_release_end(rid, "release.completed", timeout=180)
    harness.log("completed")
    r = fl.octofleet("status", rid, "--json")
    check_eq(json.loads(r.stdout).get("held") if r.returncode == 0 else r.stderr, None,
             "status --json's held after the hold")

    evs = fl.release_events(rid)
    check_eq(len(of_type(evs, "job.failed")), 0, "failed jobs")
    check_eq(len(of_type(evs, "release.held")), 1, "release.held events (once per release)")
    check_eq(len(of_type(evs, "release.unheld")), 1, "release.unheld events")
    check(evs.index(held) < evs.index(unheld), "release.held before release.unheld")
    counts = {k: c for k, c in fl.deployment_counts().items() if k[1] == "1.0.0"}
    want = {(p, "1.0.0", e, t): 1 for (_, p, e, t) in expected_targets(fl.world, REQ)}
    check_eq(counts, want, "deployment counts (each target exactly once)")
    logs = "".join(open(w.logpath, errors="replace").read() for w in fl.workers.values())
    check("octopus hold:" in logs, "no worker logged its own hold")
    m = harness.parse_metrics(harness.http_get(addr, "/metrics")[1])
    check_eq(harness.metric_sum(m, "octofleet_octopus_held"), 0.0,
             "the producer's octofleet_octopus_held after the hold")


if __name__ == "__main__":
    harness.main(scenario, __doc__)
