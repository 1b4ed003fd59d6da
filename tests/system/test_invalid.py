#!/usr/bin/env python3
"""System scenario 5: invalid requests and a garbage job.

Proves:
  - a request that is not JSON, or has the wrong shape (a stage entry without a version), is
    refused by `octofleet submit` itself: exit 1 with the parse error on stderr, and nothing is
    sent (the requests topic stays empty);
  - requests that parse but do not resolve (an unknown project, an unknown release version,
    several problems at once) or violate the lifecycle (a release not yet through Dev/Test sent
    to Prod) are sent (submit exits 0), then rejected by the producer as a whole:
    release.rejected lists every error, `submit --wait` exits 1 showing them, and nothing is
    deployed or dispatched;
  - a garbage message put on a stage topic (`octofleet topic produce`) lands in <prefix>dlq
    with its original bytes, an octofleet-error header giving the reason and headers naming the
    source topic, partition and offset; the worker carries on and a later release completes.
"""

import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, of_type  # noqa: E402


def rejected_errors(fl, rid):
    ev = fl.wait_release_end(rid, "release.rejected", timeout=60)
    errs = ev["data"].get("errors") or []
    check(errs, "release.rejected without errors: %r" % ev["data"])
    return errs


def has(errs, *needles):
    return any(all(n in e for n in needles) for e in errs)


def scenario(args, fleets):
    fl = harness.Fleet(args, "invalid")
    fleets.append(fl)
    fl.start(workers=("w1",))

    # ---- refused by the CLI: nothing sent ---------------------------------------------------
    r = fl.octofleet("submit", fl.write_request('{"release": "sys-bad-json", "stages": [ oops'))
    check_eq(r.returncode, 1, "submit of a request that is not JSON: exit code")
    check("not JSON" in r.stderr, "submit did not show the parse error: %r" % r.stderr)
    check_eq(r.stdout.strip(), "", "submit printed a release id for a request that is not JSON")
    r = fl.octofleet("submit", fl.write_request({
        "release": "sys-bad-shape", "environments": ["Dev"], "tenants": "all",
        "stages": [[{"project": "Api"}]]}))
    check_eq(r.returncode, 1, "submit of a stage entry without a version: exit code")
    check("stages[0][0].version: missing" in r.stderr,
          "submit did not name the missing version: %r" % r.stderr)
    check_eq(fl.topic_dump(fl.topic("requests")), [], "requests topic after refused submits")

    # ---- sent, then rejected by the producer --------------------------------------------------
    rid = fl.submit({"release": "sys-unknown-project", "environments": ["Dev"],
                     "tenants": "all", "stages": [[{"project": "Nope", "version": "1.0.0"}]]})
    errs = rejected_errors(fl, rid)
    check(has(errs, "stages[0][0].project", '"Nope"', "not found in Octopus"),
          "unknown project not reported: %r" % errs)

    rid = fl.submit({"release": "sys-unknown-version", "environments": ["Dev"],
                     "tenants": "all", "stages": [[{"project": "Api", "version": "9.9.9"}]]})
    errs = rejected_errors(fl, rid)
    check(has(errs, "stages[0][0].version", '"9.9.9"', "not found in Octopus"),
          "unknown release version not reported: %r" % errs)

    rid = fl.submit({"release": "sys-many-errors", "environments": ["Dev", "Staging"],
                     "tenants": {"names": ["Alpha", "Zulu"]},
                     "stages": [[{"project": "Nope", "version": "1.0.0"}],
                                [{"project": "Api", "version": "9.9.9"}]]})
    errs = rejected_errors(fl, rid)
    for needles in (('"Staging"', "not found in Octopus"), ('"Zulu"', "not found in Octopus"),
                    ('"Nope"', "not found in Octopus"), ('"9.9.9"', "not found in Octopus")):
        check(has(errs, *needles), "%r not among the errors of one request: %r" % (needles, errs))

    # lifecycle: Api 2.0.0 has been nowhere, so Prod (second phase) is not allowed yet
    path = fl.write_request({"release": "sys-lifecycle", "environments": ["Prod"],
                             "tenants": "all", "stages": [[{"project": "Api", "version": "2.0.0"}]]})
    r = fl.octofleet("submit", path, "--wait", "--by", "system-test", timeout=120)
    check_eq(r.returncode, 1, "submit --wait of a lifecycle violation: exit code (stderr %r)"
             % r.stderr)
    rid = r.stdout.strip()
    errs = rejected_errors(fl, rid)
    for t in ("Alpha", "Bravo", "Charlie"):
        check(has(errs, "Api 2.0.0", "Prod", t, "lifecycle does not allow"),
              "lifecycle violation for %s not reported: %r" % (t, errs))
        check(t in r.stderr, "submit --wait did not show the error for %s: %r" % (t, r.stderr))

    check_eq(fl.deployments(), [], "deployments after rejected requests")
    for s in range(1, 5):
        check_eq(fl.topic_dump(fl.topic("jobs.s%d" % s)), [], "jobs.s%d after rejections" % s)
    harness.log("rejections hold")

    # ---- garbage on a stage topic -> dead-letter topic, the worker carries on --------------
    jobs_topic = fl.topic("jobs.s1")
    garbage = [("garbage-1", "this is not a job {\x01", "not JSON"),
               ("garbage-2", json.dumps({"schema": "octofleet.job/2", "job_id": "x"}), "schema"),
               ("garbage-3", b"\xff\xfe\x00 not UTF-8", "")]
    where = {}
    for key, value, _ in garbage:
        r = fl.octofleet("topic", "produce", jobs_topic, "--key", key, input=value)
        check_eq(r.returncode, 0, "topic produce exit code (stderr %r)" % r.stderr)
        out = json.loads(r.stdout)
        check_eq(out["topic"], jobs_topic, "topic produce reported topic")
        where[key] = out

    def dead_letters():
        ms = [m for m in fl.topic_dump(fl.topic("dlq")) if m["key"] in where]
        return ms if len(ms) >= len(garbage) else None

    dlq = fl.wait_until("the garbage messages on the dead-letter topic", dead_letters,
                        timeout=60, interval=0.5)
    for key, value, reason in garbage:
        msgs = [m for m in dlq if m["key"] == key]
        check_eq(len(msgs), 1, "dead-letter messages for %s" % key)
        m = msgs[0]
        if isinstance(value, bytes):  # not UTF-8: the dump gives it in base64
            check_eq((m["value"], base64.b64decode(m.get("value_base64", ""))), (None, value),
                     "dead-letter value of %s (the original bytes)" % key)
        else:
            check_eq(m["value"], value, "dead-letter value of %s (the original bytes)" % key)
        h = m["headers"]
        check(h.get("octofleet-error") and reason in h["octofleet-error"],
              "octofleet-error header of %s is %r, want it to mention %r"
              % (key, h.get("octofleet-error"), reason))
        check_eq(h.get("octofleet-source-topic"), jobs_topic, "source topic header of %s" % key)
        check_eq(h.get("octofleet-source-partition"), str(where[key]["partition"]),
                 "source partition header of %s" % key)
        check_eq(h.get("octofleet-source-offset"), str(where[key]["offset"]),
                 "source offset header of %s" % key)
    harness.log("garbage is in the dead-letter topic")

    rid = fl.submit({"release": "sys-after-garbage", "environments": ["Dev"],
                     "tenants": {"names": ["Alpha"]},
                     "stages": [[{"project": "Web", "version": "1.0.0"}]]})
    fl.wait_release_end(rid, "release.completed", timeout=90)
    counts = fl.deployment_counts()
    check_eq(counts, {("Web", "1.0.0", "Dev", "Alpha"): 1}, "deployments after the garbage")
    check_eq(len(of_type(fl.release_events(rid), "job.succeeded")), 1, "job.succeeded events")


if __name__ == "__main__":
    harness.main(scenario, __doc__)
