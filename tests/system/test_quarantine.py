#!/usr/bin/env python3
"""System scenario 16: success-ratio gates with quarantine (policy.proceed, docs/gating.md).

A world of 200 tenants (generated here), each with Db, Api and Web in Dev; the release deploys
them in three stages with policy.proceed {"min_success_ratio": 0.95}. The simulator fails the
Api (stage 2) deployments of the six tenants named F01..F06 (3 %); every deployment takes no time.
  - the release completes; release.completed says 6 tenants were quarantined;
  - each failing tenant's Web (stage 3) is skipped with "quarantined after Api/Dev/<tenant>
    failed" (a job.skipped event, the state `status` shows) and never deployed; every other
    tenant's Web is deployed once;
  - the producer is restarted: its gate comes back from the state topic, quarantine included;
  - the failure rule is cleared; `replay --quarantined` redeploys exactly the six Api jobs and,
    once each succeeded, that tenant's Web; the release completes again, every target deployed;
    a second `replay --quarantined` is ignored (exit 1).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, of_type  # noqa: E402

N_TENANTS = 200
FAILING = ["F%02d" % i for i in range(1, 7)]
TENANTS = FAILING + ["T%03d" % i for i in range(1, N_TENANTS - len(FAILING) + 1)]
PROJECTS = ("Db", "Api", "Web")
ERROR = "Step 'Migrate' failed: the tenant's database is read-only"

REQ = harness.release_request(
    "sys-quarantine", ["Dev"], [[("Db", "1.0.0")], [("Api", "1.0.0")], [("Web", "1.0.0")]],
    policy={"proceed": {"min_success_ratio": 0.95}})


def write_world(workdir):
    return harness.write_tenant_world(workdir, "quarantine", PROJECTS, TENANTS, task_cap=200, seed=7)


def scenario(args, fleets):
    fl = harness.Fleet(args, "quarantine", fixture=write_world(args.workdir))
    fleets.append(fl)
    fl.start(workers=("w1", "w2"))
    fl.set_rules([
        {"project": "Api", "tenant": "F*", "duration_ms": 0, "outcome": "fail", "error": ERROR},
        {"duration_ms": 0},
    ])
    doc = harness.plan(fl, REQ)
    check_eq(doc.get("proceed"), [{"min_success_ratio": 0.95}] * 3, "plan --json proceed")
    r = fl.octofleet("plan", fl.write_request(REQ))
    check_eq(r.returncode, 0, "plan exit code (%s)" % r.stderr.strip())
    check("stage 2 min_success_ratio 0.95" in r.stdout.splitlines()[0],
          "plan's first line lacks the proceed policy: %r" % r.stdout.splitlines()[:1])

    rid = fl.submit(REQ)
    harness.log("submitted %s" % rid)
    done = fl.wait_release_end(rid, "release.completed", timeout=120)
    harness.log("completed with quarantine: %s" % done["data"].get("message"))
    check_eq(done["data"].get("message"),
             "6 tenant(s) quarantined, 6 job(s) skipped; replay --quarantined retries them",
             "release.completed message")

    evs = fl.release_events(rid)
    failed = sorted(harness.job_key(e) for e in of_type(evs, "job.failed"))
    check_eq(failed, [(2, "Api", "Dev", t) for t in FAILING], "failed jobs")
    skipped = {harness.job_key(e): e["data"].get("message") for e in of_type(evs, "job.skipped")}
    check_eq(skipped, {(3, "Web", "Dev", t): "quarantined after Api/Dev/%s failed" % t
                       for t in FAILING}, "job.skipped (quarantined) events")
    dispatched = {harness.job_key(e) for e in of_type(evs, "job.dispatched")}
    check(not [t for t in FAILING if (3, "Web", "Dev", t) in dispatched],
          "a quarantined tenant's Web was dispatched")
    counts = fl.deployment_counts()
    want = {(p, "1.0.0", "Dev", t): 1 for p in PROJECTS for t in TENANTS
            if not (p == "Web" and t in FAILING)}
    check_eq(counts, want, "deployment counts after the first pass")

    st = fl.octofleet("status", rid)
    check_eq(st.returncode, 0, "status exit code (%s)" % st.stderr.strip())
    check("quarantined after Api/Dev/F01 failed" in st.stdout,
          "status does not show the quarantine:\n%s" % st.stdout[:3000])

    # the quarantine must survive a restart: it is derived from the job records
    harness.log("restarting the producer")
    fl.producer.expected_exit = True
    check_eq(fl.producer.stop(), 0, "producer exit code on SIGTERM")
    fl.start_producer()

    # fixed: replay the quarantined tenants; each goes on into stage 3 once its Api succeeded
    fl.set_rules([{"duration_ms": 0}])
    mark = fl.mark(rid)
    r = fl.control("replay", rid, "--quarantined")
    check("applied" in r.stdout, "replay --quarantined answer: %r" % r.stdout)
    fl.wait_release_end(rid, "release.completed", timeout=120, after=mark)
    harness.log("replayed the quarantined tenants and completed")
    later = fl.release_events(rid)[mark:]
    redisp = sorted(harness.job_key(e) for e in of_type(later, "job.dispatched"))
    check_eq(redisp, sorted([(2, "Api", "Dev", t) for t in FAILING]
                            + [(3, "Web", "Dev", t) for t in FAILING]),
             "jobs dispatched by replay --quarantined")
    pos = {}
    for i, e in enumerate(later):
        pos.setdefault((e["type"], harness.job_key(e)), i)
    for t in FAILING:
        api_ok = pos.get((harness.CE_PREFIX + "job.succeeded", (2, "Api", "Dev", t)))
        web = pos.get((harness.CE_PREFIX + "job.dispatched", (3, "Web", "Dev", t)))
        check(api_ok is not None and web is not None and api_ok < web,
              "%s's Web dispatched before its replayed Api succeeded" % t)
    counts = fl.deployment_counts()
    want = {(p, "1.0.0", "Dev", t): 1 for p in PROJECTS for t in TENANTS}
    want.update({("Api", "1.0.0", "Dev", t): 2 for t in FAILING})
    check_eq(counts, want, "deployment counts after replay --quarantined")
    # nothing quarantined any more: a second replay is ignored (exit 1)
    fl.control("replay", rid, "--quarantined", expect=1)


if __name__ == "__main__":
    harness.main(scenario, __doc__)
