#!/usr/bin/env python3
"""System scenario 17: replay first asks Octopus which failed targets already run the release.

Release "sys-reconcile" (Catalog 1.0.0, then Search 1.0.0, for T01..T08 in Dev). Catalog fails
for T01..T05, so the release pauses with five failed jobs. The fault is fixed; then the test
deploys Catalog 1.0.0 by hand, through octopus-sim's API, to T01 and T02 (a successful
deployment of the same release to the same target: what an operator's manual fix looks like).
`octofleet replay R --stage 1 --wait` then (docs/gating.md, "Reconcile before replay"):
  - answers with release.resumed whose counts say 5 failed targets covered, 2 already deployed,
    and whose message, printed by --wait, says "3 to replay, 2 already on 1.0.0";
  - re-dispatches only T03..T05 (attempt 2); T01 and T02 are recorded as succeeded with the
    reason "found on replay" (status --json);
  - creates exactly 3 Catalog deployments, then the 8 of Search; the release completes
    (exit 0 of --wait).
"""

import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, of_type  # noqa: E402

TENANTS = ["T%02d" % i for i in range(1, 9)]
FAILING = TENANTS[:5]
BY_HAND = TENANTS[:2]
REQ = {
    "release": "sys-reconcile",
    "environments": ["Dev"],
    "tenants": {"names": TENANTS},
    "stages": [
        [{"project": "Catalog", "version": "1.0.0"}],
        [{"project": "Search", "version": "1.0.0"}],
    ],
}


def deploy_by_hand(fl, dep):
    """POST /api/Spaces-1/deployments with the ids of an earlier deployment to the target: a
    new deployment of the same release, as an operator would create in Octopus."""
    body = json.dumps({"ReleaseId": dep["release_id"], "EnvironmentId": dep["environment_id"],
                       "TenantId": dep["tenant_id"], "Comments": "fixed by hand"}).encode()
    req = urllib.request.Request(fl.sim_url + "/api/Spaces-1/deployments", data=body,
                                 method="POST",
                                 headers={"Content-Type": "application/json",
                                          "X-Octopus-ApiKey": fl.api_key})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode())["Id"]


def scenario(args, fleets):
    fl = harness.Fleet(args, "reconcile")
    fleets.append(fl)
    fl.start(workers=("w1",))
    fl.set_rules([{"project": "Catalog", "tenant": t, "duration_ms": 100, "outcome": "fail",
                   "error": "disk full"} for t in FAILING] + [{"duration_ms": [150, 300]}])
    rid = fl.submit(REQ)
    harness.log("submitted %s" % rid)
    paused = fl.wait_release_end(rid, "release.paused", timeout=120)
    check_eq(sorted(j.get("tenant") for j in paused["data"].get("jobs", [])), FAILING,
             "failed targets")

    # the fix, then two targets deployed by hand
    fl.set_rules([{"duration_ms": [150, 300]}])
    catalog = {d["tenant"]: d for d in fl.deployments() if d["project"] == "Catalog"}
    hand = [deploy_by_hand(fl, catalog[t]) for t in BY_HAND]
    fl.wait_until("the hand deployments succeeded",
                  lambda: all(d["state"] == "Success" for d in fl.deployments()
                              if d["id"] in hand))
    before = len(fl.deployments())
    harness.log("deployed by hand: %s" % hand)

    mark = fl.mark(rid)
    r = fl.octofleet("replay", rid, "--stage", "1", "--wait", "--by", "system-test",
                     timeout=150)
    out = r.stdout + r.stderr
    check_eq(r.returncode, 0, "replay --wait exit code (%s)" % r.stderr.strip())
    check("3 to replay, 2 already on 1.0.0" in out,
          "replay --wait does not say what it found: %r" % out)
    # --wait saw the end through its own consumer; the harness's follower may lag behind it
    fl.wait_release_end(rid, "release.completed", timeout=60, after=mark)
    evs = fl.release_events(rid)[mark:]
    resumed = of_type(evs, "release.resumed")
    check_eq(len(resumed), 1, "release.resumed events of the replay")
    check_eq(resumed[0]["data"].get("counts", {}).get("total"), 5, "counts.total")
    check_eq(resumed[0]["data"].get("counts", {}).get("succeeded"), 2, "counts.succeeded")
    check_eq(resumed[0]["data"].get("message"),
             "replay of stage 1: 3 to replay, 2 already on 1.0.0", "release.resumed message")
    redo = sorted(e["data"].get("tenant") for e in of_type(evs, "job.dispatched")
                  if e["data"]["attempt"] == 2)
    check_eq(redo, FAILING[2:], "attempt-2 dispatches (only the targets not found)")

    new = fl.deployments()[before:]
    check_eq(sorted(d["tenant"] for d in new if d["project"] == "Catalog"), FAILING[2:],
             "new Catalog deployments after the replay")
    check_eq(sorted(d["tenant"] for d in new if d["project"] == "Search"), TENANTS,
             "Search deployments")
    check_eq(evs[-1]["type"], "octofleet.release.completed", "last event")

    st = fl.octofleet("status", rid, "--json")
    check_eq(st.returncode, 0, "status --json exit code")
    jobs = {(j["project"], j["tenant"]): j for j in json.loads(st.stdout)["jobs"]}
    for t in BY_HAND:
        j = jobs[("Catalog", t)]
        check_eq((j["status"], j["attempt"]), ("succeeded", 1), "Catalog/%s record" % t)
        check("found on replay" in (j.get("message") or j.get("reason") or ""),
              "Catalog/%s has no reason saying it was found: %r" % (t, j))


if __name__ == "__main__":
    harness.main(scenario, __doc__)
