#!/usr/bin/env python3
"""System scenario 2: a failing stage pauses the release; replay redeploys what failed.

Part A: release "sys-replay-a" (Schema, Api, Web in Dev and Test). Api in Test for Bravo fails
fast while every other Api task still runs, so the failure is known before any stage-2 job ends:
  - release.paused lists exactly the failed job, after stage.failed (stage 2, Test);
  - no deployment of a later stage (Web) exists, anywhere, while paused;
  - after fixing the rule, `octofleet replay R --stage 2` redeploys only the failed target
    (deployment counts: Api/Test/Bravo 2, everything else 1) with attempt 2, emits
    release.resumed, and the release completes.
Part B: release "sys-replay-b" (Api 1.0.0, then Web 1.0.0, in Dev) where Api for Charlie fails;
`octofleet replay R --stage 1 --all` redeploys every target of stage 1 (counts 2 each, attempt 2),
then stage 2 runs once and the release completes.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, expected_targets, of_type  # noqa: E402

ERROR = "Step 'Migrate database' failed: disk full on api-02"

REQ_A = {
    "release": "sys-replay-a",
    "environments": ["Dev", "Test"],
    "tenants": "all",
    "stages": [
        [{"project": "Schema", "version": "2.0.0"}],
        [{"project": "Api", "version": "2.0.0"}],
        [{"project": "Web", "version": "2.0.0"}],
    ],
}
REQ_B = {
    "release": "sys-replay-b",
    "environments": ["Dev"],
    "tenants": {"names": ["Alpha", "Bravo", "Charlie"]},
    "stages": [
        [{"project": "Api", "version": "1.0.0"}],
        [{"project": "Web", "version": "1.0.0"}],
    ],
}


def counts_of(fl, version):
    return {k: c for k, c in fl.deployment_counts().items() if k[1] == version}


def scenario(args, fleets):
    fl = harness.Fleet(args, "replay")
    fleets.append(fl)
    fl.start(workers=("w1", "w2"))

    # ---- part A: replay only the failed ---------------------------------------------------
    # The failing task ends after 0.1 s; the other Api tasks run 10 s, so when the failure
    # reaches the producer no stage-2 job has succeeded and stage 3 cannot have started.
    fl.set_rules([
        {"project": "Api", "environment": "Test", "tenant": "Bravo", "duration_ms": 100,
         "outcome": "fail", "error": ERROR},
        {"project": "Api", "duration_ms": 10000},
        {"duration_ms": [150, 300]},
    ])
    # `submit --wait` follows the release to its pause: exit 1, and a hint that runs as printed
    r = fl.octofleet("submit", fl.write_request(REQ_A), "--wait", "--by", "system-test",
                     timeout=150)
    check_eq(r.returncode, 1, "submit --wait of a release that pauses: exit code")
    rid = (r.stdout.strip().splitlines() or [""])[0]
    harness.log("submitted %s" % rid)
    paused = fl.wait_release_end(rid, "release.paused", timeout=120)
    harness.log("paused")
    hints = re.findall(r"replay with: (octofleet replay \S+ --stage \d+)", r.stderr)
    check_eq(hints, ["octofleet replay %s --stage 2" % rid],
             "submit --wait's replay hint (the failed stage's number, runnable)")

    failed_jobs = paused["data"].get("jobs", [])
    check_eq([(j.get("stage"), j.get("project"), j.get("environment"), j.get("tenant"))
              for j in failed_jobs], [(2, "Api", "Test", "Bravo")],
             "release.paused failed jobs")
    evs = fl.release_events(rid)
    jf = of_type(evs, "job.failed")
    check_eq(len(jf), 1, "job.failed events")
    check_eq(failed_jobs[0].get("task_id"), jf[0]["data"].get("task_id"),
             "release.paused names the failed job's Octopus task")
    check(ERROR in (jf[0]["data"].get("message") or ""),
          "job.failed message %r does not carry Octopus's error %r"
          % (jf[0]["data"].get("message"), ERROR))
    sf = of_type(evs, "stage.failed")
    check_eq([(e["data"]["stage"], e["data"]["environment"]) for e in sf], [(2, "Test")],
             "stage.failed events")
    check(evs.index(sf[0]) < evs.index(paused), "stage.failed after release.paused")
    check(not [e for e in of_type(evs, "job.dispatched") if e["data"]["stage"] == 3],
          "a stage-3 job was dispatched although stage 2 failed")
    web = [d for d in fl.deployments() if d["project"] == "Web"]
    check(not web, "later stage deployed while paused: %r"
          % [(d["environment"], d["tenant"]) for d in web])
    # the Dev side of stage 2 ran to its end (in-flight jobs finish) but went no further
    # (distinct jobs: a rebalance may legitimately repeat a job's events from another worker)
    check_eq(len({e["data"]["job_id"] for e in of_type(evs, "job.succeeded")}), 2 + 5,
             "succeeded jobs when paused")

    # `octofleet status` shows the pause from the state topic: the text view names the failed
    # job with Octopus's error, the JSON view has the gate per stage/environment and each job
    st = fl.octofleet("status", rid)
    check_eq(st.returncode, 0, "octofleet status exit code (%s)" % st.stderr.strip())
    check("paused" in st.stdout and "Api Test / Bravo" in st.stdout and ERROR in st.stdout,
          "status text lacks the pause or the failed job: %r" % st.stdout)
    st = fl.octofleet("status", rid, "--json")
    check_eq(st.returncode, 0, "octofleet status --json exit code")
    view = harness.json.loads(st.stdout)
    check_eq(view["status"], "paused", "status --json release status")
    gates = {(g["stage"], g["environment"]): g["status"] for g in view["stages"]}
    check_eq((gates[(1, "Test")], gates[(2, "Test")], gates[(3, "Test")]),
             ("succeeded", "failed", "pending"), "status --json gates in Test")
    failed = [j for j in view["jobs"] if j["status"] == "failed"]
    check_eq([(j["project"], j["environment"], j["tenant"], j["attempt"]) for j in failed],
             [("Api", "Test", "Bravo", 1)], "status --json failed jobs")
    check(ERROR in (failed[0].get("message") or "") if failed else False,
          "status --json failed job lacks Octopus's error")
    check_eq(len(view["jobs"]), len(expected_targets(fl.world, REQ_A)), "status --json jobs")
    st = fl.octofleet("status", "no-such-release")
    check_eq(st.returncode, 1, "status of an unknown release")

    # fix the cause, replay the failed job of stage 2
    fl.set_rules([{"duration_ms": [150, 300]}])
    mark = fl.mark(rid)
    fl.control(*hints[0].split()[1:] if hints else ("replay", rid, "--stage", "2"))
    fl.wait_event(rid, "release.resumed")
    fl.wait_release_end(rid, "release.completed", timeout=120, after=mark)
    harness.log("replayed and completed")

    counts = counts_of(fl, "2.0.0")
    want = {(p, "2.0.0", e, t): 1 for (_, p, e, t) in expected_targets(fl.world, REQ_A)}
    want[("Api", "2.0.0", "Test", "Bravo")] = 2
    check_eq(counts, want, "deployment counts after replay --stage 2")
    evs = fl.release_events(rid)
    redo = [e for e in of_type(evs, "job.dispatched") if e["data"]["attempt"] == 2]
    check_eq([(e["data"]["project"], e["data"]["environment"], e["data"].get("tenant"))
              for e in redo], [("Api", "Test", "Bravo")], "attempt-2 dispatches")
    ok2 = {e["data"]["job_id"] for e in of_type(evs, "job.succeeded") if e["data"]["attempt"] == 2}
    check_eq(len(ok2), 1, "jobs succeeded in attempt 2")
    check_eq(evs[-1]["type"], "octofleet.release.completed", "last event of release A")

    # ---- part B: replay --all --------------------------------------------------------------
    fl.set_rules([
        {"project": "Api", "tenant": "Charlie", "outcome": "fail", "error": ERROR},
        {"duration_ms": [150, 300]},
    ])
    rid_b = fl.submit(REQ_B)
    harness.log("submitted %s" % rid_b)
    paused = fl.wait_release_end(rid_b, "release.paused", timeout=120)
    check_eq([(j.get("project"), j.get("tenant")) for j in paused["data"].get("jobs", [])],
             [("Api", "Charlie")], "release B paused jobs")
    check(not [d for d in fl.deployments() if (d["project"], d["release"]) == ("Web", "1.0.0")],
          "release B stage 2 deployed while paused")

    fl.set_rules([{"duration_ms": [150, 300]}])
    mark = fl.mark(rid_b)
    # by the release's name: the CLI derives the same id the producer did
    r = fl.control("replay", REQ_B["release"], "--stage", "1", "--all")
    check_eq(r.stdout.strip(), "replay %s: applied (octofleet.release.resumed)" % rid_b,
             "replay by name names the release id and says the producer applied it")
    fl.wait_release_end(rid_b, "release.completed", timeout=120, after=mark)
    harness.log("replayed --all and completed")
    counts = counts_of(fl, "1.0.0")
    want = {("Api", "1.0.0", "Dev", t): 2 for t in ("Alpha", "Bravo", "Charlie")}
    want.update({("Web", "1.0.0", "Dev", t): 1 for t in ("Alpha", "Bravo", "Charlie")})
    check_eq(counts, want, "deployment counts after replay --stage 1 --all")
    evs = fl.release_events(rid_b)
    redo = sorted(e["data"].get("tenant") for e in of_type(evs, "job.dispatched")
                  if e["data"]["attempt"] == 2)
    check_eq(redo, ["Alpha", "Bravo", "Charlie"], "attempt-2 dispatches of replay --all")
    # part A is untouched by part B
    check_eq(counts_of(fl, "2.0.0")[("Api", "2.0.0", "Test", "Bravo")], 2, "release A counts")


if __name__ == "__main__":
    harness.main(scenario, __doc__)
