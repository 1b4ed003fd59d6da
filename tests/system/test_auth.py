#!/usr/bin/env python3
"""System scenario: message authentication (docs/reliability.md, "Who may write what").

A fleet with a fleet key (security.fleet_key_file). Proves:
  - signed end to end: `octofleet submit` signs its command, the producer its jobs and events,
    the workers their events; a release completes;
  - a forged `job.succeeded` (no tag, and a made-up tag) for a job whose Octopus task is still
    running goes to the DLQ as "not authenticated" and does not move the job: `status --json`
    still shows it running, and the release completes only when the real task does, with the
    target deployed once;
  - a fabricated job for a release that does not exist goes to the DLQ and creates no
    deployment;
  - a command sent by a CLI holding another key goes to the DLQ and is not applied;
  - the fleet key appears in no log.
"""

import json
import os
import secrets
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq  # noqa: E402
from test_hostile import Hostile, last_of  # noqa: E402

REQUEST = {"release": "auth-slow", "environments": ["Dev"], "tenants": {"names": ["Alpha"]},
           "stages": [[{"project": "Api", "version": "1.0.0"}]]}


def write_key(fl, name, key):
    path = os.path.join(fl.dir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return path


def with_security(cfg_text, keyfile):
    return cfg_text + '\nsecurity = { fleet_key_file = "%s"; };\n' % keyfile


def job_status(fl, rid):
    r = fl.octofleet("status", rid, "--json")
    check(r.returncode in (0, 1), "status --json exited %d: %s" % (r.returncode, r.stderr))
    doc = json.loads(r.stdout)
    return {j["job_id"]: j["status"] for j in doc["jobs"]}


def scenario(args, fleets):
    fl = harness.Fleet(args, "auth")
    fleets.append(fl)
    fl.start_sim()
    fl.write_config()
    key = secrets.token_hex(32)
    with open(fl.cfg) as f:
        text = f.read()
    with open(fl.cfg, "w") as f:
        f.write(with_security(text, write_key(fl, "fleet-key", key)))
    fl.start_producer()
    fl.start_follower()
    fl.start_worker("w1")
    with open(fl.producer.logpath) as f:
        check("authentication on" in f.read(), "the producer does not say authentication is on")
    h = Hostile(fl)
    h.good_release()  # signed end to end

    # ---- a forged job.succeeded while the real task runs ----------------------------------
    # long enough to outlast the forgery's checks (a topic dump, two produces, DLQ polls and a
    # status) on a loaded machine: the job must still be running when its status is read
    fl.set_rules([{"duration_ms": 30000}])
    rid = fl.submit(REQUEST)
    started = fl.wait_event(rid, "job.started", timeout=60)[0]
    job_id = started["data"]["job_id"]
    real = json.loads(last_of(fl, fl.topic("events"),
                              lambda m: job_id in (m.get("value") or "")
                              and "job.started" in m["value"])["value"])
    forged = dict(real, type="octofleet.job.succeeded", id=str(uuid.uuid4()))
    forged["data"] = dict(real["data"], message="forged")
    events = fl.topic("events")
    no_tag = h.produce(events, json.dumps(forged), key=rid)
    bad_tag = h.produce(events, json.dumps(forged), key=rid,
                        headers=["octofleet-auth=v1:" + "0" * 64])
    h.dead_letter(events, no_tag, "not authenticated: no octofleet-auth header")
    h.dead_letter(events, bad_tag, "not authenticated: the octofleet-auth tag does not match")
    st = job_status(fl, rid)
    check(st.get(job_id) in ("dispatched", "started"),
          "a forged job.succeeded moved the job to %r" % st.get(job_id))
    with fl.cond:
        done = [e for e in fl.events if e.get("type") == "octofleet.release.completed"
                and e["data"].get("release_id") == rid]
    check_eq(done, [], "release.completed after a forged event")
    fl.set_rules([{"duration_ms": 200}])
    fl.wait_release_end(rid, "release.completed", timeout=120)
    counts = fl.deployment_counts()
    check_eq(counts.get(("Api", "1.0.0", "Dev", "Alpha")), 2,
             "deployments of Api 1.0.0 to Dev/Alpha (one per release)")
    harness.log("forged job.succeeded refused; the release completed on the real task")

    # ---- a fabricated job ---------------------------------------------------------------------
    jobs = fl.topic("jobs.s1")
    job = json.loads(fl.topic_dump(jobs)[-1]["value"])
    fake = dict(job, job_id=str(uuid.uuid4()), release_id=str(uuid.uuid4()),
                release="auth-fabricated")
    before = len(fl.deployments())
    fab = h.produce(jobs, json.dumps(fake), key="x")
    h.dead_letter(jobs, fab, "not authenticated: no octofleet-auth header")
    check_eq(len(fl.deployments()), before, "deployments after a fabricated job")
    harness.log("fabricated job refused")

    # ---- a CLI with another key ------------------------------------------------------------------
    other = os.path.join(fl.dir, "other.cfg")
    with open(other, "w") as f:
        f.write(with_security(text, write_key(fl, "other-key", secrets.token_hex(32))))
    path = fl.write_request(dict(REQUEST, release="auth-wrong-key"))
    r = fl.octofleet("submit", path, "--by", "intruder", "-c", other, config=False)
    check_eq(r.returncode, 0, "submit with another key: exit code (sent, not applied)")
    rid2 = r.stdout.strip()
    reqs = fl.topic("requests")
    sent = last_of(fl, reqs, lambda m: "auth-wrong-key" in (m.get("value") or ""))
    h.dead_letter(reqs, (sent["partition"], sent["offset"]), "tag does not match")
    check_eq(fl.release_events(rid2), [], "events of a release submitted with another key")

    h.good_release()
    for p in [fl.producer] + list(fl.workers.values()):
        with open(p.logpath) as f:
            check(key not in f.read(), "the fleet key is in %s's log" % p.name)
    fl.check_no_secret()


if __name__ == "__main__":
    harness.main(scenario, __doc__)
