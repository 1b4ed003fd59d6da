#!/usr/bin/env python3
"""System scenario 10: per-tenant lanes (policy.gate "tenant", docs/gating.md).

Part A: release "sys-lanes-a" (Api, then Web, then Docs, in Dev, for Alpha, Bravo and Charlie)
where Alpha's Api deployment is slow (30 s) and Bravo's Web takes 4 s:
  - `octofleet plan --json` shows the gate mode;
  - Bravo's stage-2 (Web) deployment is created while Alpha's stage-1 deployment still runs;
  - the producer is restarted while Bravo's Web runs: the release comes back in lanes, so
    Bravo's stage-3 (Docs) deployment is created before Alpha's stage 1 has finished;
  - the release completes, every target deployed once.
Part B: release "sys-lanes-b" (untenanted Schema, then Api, then Web, in Dev, every tenant) where
Bravo's Api fails:
  - no Api deployment is created before Schema (untenanted, stage 1) completed;
  - Bravo's lane stops (no Web for Bravo) while Alpha's and Charlie's lanes complete, then the
    release pauses listing only Bravo's Api;
  - `replay --stage 2` redeploys Bravo's Api and, once it succeeded, Bravo's Web; the release
    completes.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, of_type, parse_time  # noqa: E402

ERROR = "Step 'Deploy API' failed: connection refused"
TENANTS = ("Alpha", "Bravo", "Charlie")

REQ_A = harness.release_request(
    "sys-lanes-a", ["Dev"],
    [[("Api", "1.0.0")], [("Web", "1.0.0")], [("Docs", "1.0.0")]],
    tenants={"names": list(TENANTS)}, policy={"gate": "tenant"})
REQ_B = harness.release_request(
    "sys-lanes-b", ["Dev"],
    [[("Schema", "2.0.0")], [("Api", "2.0.0")], [("Web", "2.0.0")]],
    tenants={"names": list(TENANTS)}, policy={"gate": "tenant", "lane_failure": "stop_lane"})


def deployment(fl, project, version, tenant):
    """The latest simulator deployment of (project, version) in Dev for tenant, or None."""
    found = [d for d in fl.deployments()
             if (d["project"], d["release"], d["environment"], d["tenant"])
             == (project, version, "Dev", tenant)]
    return found[-1] if found else None


def finished(d):
    return d is not None and d.get("completed_time") is not None


def part_a(fl):
    doc = harness.plan(fl, REQ_A)
    check_eq((doc.get("gate"), doc.get("lane_failure")), ("tenant", "stop_lane"),
             "plan --json gate mode")
    r = fl.octofleet("plan", fl.write_request(REQ_A))
    check_eq(r.returncode, 0, "plan exit code (%s)" % r.stderr.strip())
    check("gate tenant (lane_failure stop_lane)" in r.stdout.splitlines()[0],
          "plan's first line lacks the gate mode: %r" % r.stdout.splitlines()[:1])

    fl.set_rules([
        {"project": "Api", "tenant": "Alpha", "duration_ms": 30000},
        {"project": "Web", "tenant": "Bravo", "duration_ms": 4000},
        {"duration_ms": [150, 300]},
    ])
    rid = fl.submit(REQ_A)
    harness.log("submitted %s" % rid)

    # Bravo's lane reaches stage 2 while Alpha's stage 1 runs
    web_b = fl.wait_until("Bravo's Web deployment (stage 2)",
                          lambda: deployment(fl, "Web", "1.0.0", "Bravo"), timeout=60)
    api_a = deployment(fl, "Api", "1.0.0", "Alpha")
    check(api_a is not None and not finished(api_a),
          "Alpha's Api (stage 1) finished before Bravo's Web (stage 2) was created: %r" % api_a)
    check(not finished(web_b), "Bravo's Web finished already (its rule says 4 s): %r" % web_b)

    # restart the producer while Bravo's Web runs: the gate comes back from the state topic
    harness.log("restarting the producer")
    fl.producer.expected_exit = True
    check_eq(fl.producer.stop(), 0, "producer exit code on SIGTERM")
    fl.start_producer()
    harness.log("producer restarted")

    docs_b = fl.wait_until("Bravo's Docs deployment (stage 3) after the restart",
                           lambda: deployment(fl, "Docs", "1.0.0", "Bravo"), timeout=60)
    api_a = deployment(fl, "Api", "1.0.0", "Alpha")
    check(not finished(api_a) or parse_time(docs_b["created"]) < parse_time(api_a["completed_time"]),
          "Bravo's Docs (stage 3) created at %s, after Alpha's Api (stage 1) finished at %s: the "
          "restarted producer did not keep the lanes" % (docs_b["created"], api_a["completed_time"]))

    fl.wait_release_end(rid, "release.completed", timeout=120)
    harness.log("release A completed")
    evs = fl.release_events(rid)
    pos = {}
    for i, e in enumerate(evs):
        pos.setdefault((e["type"], harness.job_key(e)), i)
    web_b_dispatched = pos.get(("octofleet.job.dispatched", (2, "Web", "Dev", "Bravo")))
    api_a_done = pos.get(("octofleet.job.succeeded", (1, "Api", "Dev", "Alpha")))
    check(web_b_dispatched is not None and api_a_done is not None
          and web_b_dispatched < api_a_done,
          "events: Bravo's stage 2 was not dispatched before Alpha's stage 1 succeeded")
    counts = {k: c for k, c in fl.deployment_counts().items() if k[1] == "1.0.0"}
    want = {(p, "1.0.0", "Dev", t): 1 for p in ("Api", "Web", "Docs") for t in TENANTS}
    check_eq(counts, want, "deployment counts of release A")


def part_b(fl):
    fl.set_rules([
        {"project": "Schema", "duration_ms": 1500},
        {"project": "Api", "tenant": "Bravo", "duration_ms": 100, "outcome": "fail",
         "error": ERROR},
        {"duration_ms": [150, 300]},
    ])
    rid = fl.submit(REQ_B)
    harness.log("submitted %s" % rid)
    paused = fl.wait_release_end(rid, "release.paused", timeout=120)
    harness.log("paused")
    check_eq([(j.get("stage"), j.get("project"), j.get("environment"), j.get("tenant"))
              for j in paused["data"].get("jobs", [])], [(2, "Api", "Dev", "Bravo")],
             "release.paused failed jobs")

    deps = fl.deployments({("Schema", "2.0.0"), ("Api", "2.0.0"), ("Web", "2.0.0")})
    schema = [d for d in deps if d["project"] == "Schema"]
    check_eq(len(schema), 1, "Schema deployments")
    schema_done = parse_time(schema[0]["completed_time"])
    for d in deps:
        if d["project"] == "Api":
            check(parse_time(d["created"]) >= schema_done,
                  "Api for %s created at %s, before the untenanted Schema finished at %s"
                  % (d["tenant"], d["created"], schema[0]["completed_time"]))
    web = sorted(d["tenant"] for d in deps if d["project"] == "Web")
    check_eq(web, ["Alpha", "Charlie"], "Web deployments while Bravo's lane is stopped")
    check(all(d["state"] == "Success" for d in deps if d["project"] == "Web"),
          "the other lanes did not complete: %r" % [(d["tenant"], d["state"]) for d in deps])
    evs = fl.release_events(rid)
    check(not [e for e in of_type(evs, "job.dispatched")
               if harness.job_key(e) == (3, "Web", "Dev", "Bravo")],
          "Bravo's Web was dispatched although its lane failed")

    fl.set_rules([{"duration_ms": [150, 300]}])
    mark = fl.mark(rid)
    fl.control("replay", rid, "--stage", "2")
    fl.wait_release_end(rid, "release.completed", timeout=120, after=mark)
    harness.log("replayed and completed")
    api_b = deployment(fl, "Api", "2.0.0", "Bravo")
    web_b = deployment(fl, "Web", "2.0.0", "Bravo")
    check(web_b is not None and finished(api_b), "Bravo's lane did not continue")
    check(parse_time(web_b["created"]) >= parse_time(api_b["completed_time"]),
          "Bravo's Web created at %s before its replayed Api finished at %s"
          % (web_b["created"], api_b["completed_time"]))
    counts = {k: c for k, c in fl.deployment_counts().items() if k[1] == "2.0.0"}
    want = {("Schema", "2.0.0", "Dev", None): 1}
    want.update({(p, "2.0.0", "Dev", t): 1 for p in ("Api", "Web") for t in TENANTS})
    want[("Api", "2.0.0", "Dev", "Bravo")] = 2
    check_eq(counts, want, "deployment counts of release B")


def scenario(args, fleets):
    fl = harness.Fleet(args, "lanes")
    fleets.append(fl)
    fl.start(workers=("w1",))
    part_a(fl)
    part_b(fl)


if __name__ == "__main__":
    harness.main(scenario, __doc__)
