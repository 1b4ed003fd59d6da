#!/usr/bin/env python3
"""System scenario: hostile input at every door (docs/reliability.md, "Poison").

For each topic the fleet reads (requests, a jobs topic, events, the releases state topic) it
writes three poisons with `octofleet topic produce` (a client allowed to write the topic): a
value bigger than the fleet's message budget (1,040,000 bytes, just under the broker's limit),
garbage, and a well-formed message with one huge field. For the Octopus client it makes the
simulator lie: a pager whose TotalResults never ends, a task whose State cannot be read, a
body that never ends. After each group it proves:

  - the producer and the worker are still running (no exit, no crash loop);
  - the poison is accounted for: a DLQ message whose octofleet-source-topic/-partition/-offset
    headers name it, and, for a value above the budget, a copy cut to fit with the original's
    size and SHA-256 in headers (or, for a request that cannot fit or does not resolve, a
    release.rejected event that says why);
  - a good release submitted afterwards completes.

Also: `octofleet submit` refuses what the daemons would refuse (a request too big for the
budget, an over-long --by) with the limit in the message, and a `by` holding a newline and ESC
never reaches the producer's log raw. And for the Octopus client: one undecodable task among
good ones fails only its own job, after the bound, quoting the reply; a body that never ends is
stopped by the response cap.
"""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq  # noqa: E402

BIG = 1040000  # above librdkafka's default message.max.bytes, below the broker's 1048588
BUDGET = 1000000 - 8192  # OF_KAFKA_MESSAGE_MAX_DEFAULT - OF_GUARD_RESERVE (common/guard/guard.h)


class Hostile:
    def __init__(self, fl):
        self.fl = fl
        self.n_good = 0
        # The writer of poison may send up to the broker's limit: a config of its own.
        with open(fl.cfg) as f:
            text = f.read()
        marker = '["session.timeout.ms", "6000"],'
        check(marker in text, "harness config changed: no %r" % marker)
        self.cfg = os.path.join(fl.dir, "poisoner.cfg")
        with open(self.cfg, "w") as f:
            f.write(text.replace(marker, '["message.max.bytes", "2000000"], ' + marker))

    def produce(self, topic, value, key=None, headers=()):
        """Writes one raw message; returns (partition, offset)."""
        argv = ["topic", "produce", topic, "-c", self.cfg]
        if key is not None:
            argv += ["--key", key]
        for h in headers:
            argv += ["--header", h]
        data = value if isinstance(value, bytes) else value.encode()
        r = self.fl.octofleet(*argv, input=data, config=False, timeout=120)
        check_eq(r.returncode, 0, "topic produce to %s (%d bytes): exit code; stderr %r"
                 % (topic, len(data), r.stderr[-500:]))
        out = json.loads(r.stdout)
        return out["partition"], out["offset"]

    def dead_letter(self, topic, where, reason, value=None):
        """Waits for the DLQ message of (topic, partition, offset) and checks it."""
        part, off = where

        def find():
            for m in self.fl.topic_dump(self.fl.topic("dlq")):
                h = m.get("headers") or {}
                if (h.get("octofleet-source-topic") == topic
                        and h.get("octofleet-source-partition") == str(part)
                        and h.get("octofleet-source-offset") == str(off)):
                    return m
            return None

        m = self.fl.wait_until("the DLQ copy of %s [%d] @%d" % (topic, part, off), find,
                               timeout=90, interval=0.5)
        h = m["headers"]
        check(reason in h.get("octofleet-error", ""),
              "DLQ reason for %s @%d: %r lacks %r" % (topic, off, h.get("octofleet-error"), reason))
        if value is not None:
            data = value if isinstance(value, bytes) else value.encode()
            kept = (m["value"].encode() if m.get("value") is not None
                    else __import__("base64").b64decode(m["value_base64"]))
            room = BUDGET - len((m.get("key") or "").encode())  # the key counts too
            if len(data) > room:
                check_eq(len(kept), room, "bytes kept of a %d-byte poison" % len(data))
                check_eq(h.get("octofleet-original-size"), str(len(data)),
                         "octofleet-original-size of the cut copy")
                check_eq(h.get("octofleet-original-sha256"), hashlib.sha256(data).hexdigest(),
                         "octofleet-original-sha256 of the cut copy")
                check(data.startswith(kept), "the cut copy is not a prefix of the poison")
            else:
                check_eq(kept, data, "DLQ copy of a poison that fits")
        harness.log("dead-lettered %s [%d] @%d: %s" % (topic, part, off,
                                                       h["octofleet-error"][:100]))
        return m

    def good_release(self):
        """Submits a small release and waits for it to complete; the daemons must be alive."""
        self.n_good += 1
        rid = self.fl.submit({"release": "hostile-good-%d" % self.n_good,
                              "environments": ["Dev"], "tenants": {"names": ["Alpha"]},
                              "stages": [[{"project": "Api", "version": "1.0.0"}]]})
        self.fl.wait_release_end(rid, "release.completed", timeout=120)
        self.fl.check_daemons()
        harness.log("good release %d completed" % self.n_good)
        return rid


def last_of(fl, topic, pred):
    for m in reversed(fl.topic_dump(topic)):
        if pred(m):
            return m
    raise harness.Failure("no matching message on %s" % topic)


def requests_door(h, fl):
    topic = fl.topic("requests")
    cmd = json.loads(last_of(fl, topic, lambda m: '"submit"' in (m.get("value") or ""))["value"])
    garbage = h.produce(topic, "this is not a command {\x01", key="junk")
    big_value = b"{" + b" " * (BIG - 2) + b"}"
    big = h.produce(topic, big_value, key="junk")
    huge_by = dict(cmd, by="x" * 999300)
    huge_by["request"] = dict(cmd["request"], release="hostile-huge-by")
    huge = h.produce(topic, json.dumps(huge_by))
    # a `by` built to forge a log line: newline, a fake record, terminal colour codes
    forged = dict(cmd, by="ops\nlevel=error msg=\"forged\" \x1b[31mred\x1b[0m")
    forged["request"] = dict(cmd["request"], release="hostile-log-forging")
    forging = h.produce(topic, json.dumps(forged))
    # a well-formed submit whose request cannot fit the release's state record
    fat = dict(cmd)
    fat["request"] = dict(cmd["request"], release="hostile-fat-request",
                          tenants={"names": ["Tenant %06d %s" % (i, "p" * 200)
                                             for i in range(4400)]})
    fat_at = h.produce(topic, json.dumps(fat))
    h.dead_letter(topic, garbage, "command: not JSON", "this is not a command {\x01")
    h.dead_letter(topic, big, "command:", big_value)
    h.dead_letter(topic, huge, "by: longer than 256 bytes")
    h.dead_letter(topic, forging, "by: contains control characters")
    rid = None
    for e in fl.events:
        if e.get("type") == harness.CE_PREFIX + "release.rejected" and \
                e["data"].get("release") == "hostile-fat-request":
            rid = e["data"]["release_id"]
    if rid is None:
        ev = fl.wait_until("release.rejected of the request too big to keep", lambda: [
            e for e in fl.events if e.get("type") == harness.CE_PREFIX + "release.rejected"
            and e["data"].get("release") == "hostile-fat-request"], timeout=60)[0]
    else:
        ev = [e for e in fl.events if e["data"].get("release_id") == rid][-1]
    errs = " ".join(ev["data"].get("errors") or [])
    check("the largest request this fleet accepts is" in errs,
          "rejection of a request too big to keep does not give the limit: %r" % errs[:500])
    harness.log("oversized request rejected (written at offset %d): %s" % (fat_at[1], errs[:120]))
    with open(fl.producer.logpath, "rb") as f:
        log = f.read()
    check(b"\x1b" not in log, "an ESC byte reached the producer's log")
    check(b"\nlevel=error msg=\"forged\"" not in log, "a forged line reached the producer's log")


def jobs_door(h, fl):
    topic = fl.topic("jobs.s1")
    job = json.loads(fl.topic_dump(topic)[-1]["value"])
    garbage = h.produce(topic, "[1, 2, 3", key="junk")
    big_value = b"{\"schema\": \"" + b"j" * (BIG - 15) + b"\"}"
    big = h.produce(topic, big_value, key="junk")
    huge = h.produce(topic, json.dumps(dict(job, release="r" * 999930)), key="junk")
    before = len(fl.deployments())
    h.dead_letter(topic, garbage, "not JSON", "[1, 2, 3")
    h.dead_letter(topic, big, "schema", big_value)
    h.dead_letter(topic, huge, "release: longer than 256 bytes")
    check_eq(len(fl.deployments()), before, "deployments created by poisoned jobs")


def events_door(h, fl):
    topic = fl.topic("events")
    ev = json.loads(last_of(fl, topic, lambda m: "job.succeeded" in (m.get("value") or ""))
                    ["value"])
    garbage = h.produce(topic, "{\"specversion\": \"1.0\", oops")
    big_value = b"\"" + b"e" * (BIG - 2) + b"\""
    big = h.produce(topic, big_value)
    huge_ev = dict(ev, data=dict(ev["data"], message="m" * 999000))
    huge = h.produce(topic, json.dumps(huge_ev))
    h.dead_letter(topic, garbage, "event: not JSON")
    h.dead_letter(topic, big, "event:", big_value)
    h.dead_letter(topic, huge, "message: longer than 4096 bytes")


def state_door(h, fl):
    """Only the producer writes its state topic (ACLs); what it cannot read there it reports
    with the offset at start and leaves out, and it keeps running."""
    topic = fl.topic("releases")
    where = [h.produce(topic, "garbage", key="release/00000000-0000-5000-8000-000000000000"),
             h.produce(topic, b"{" + b" " * (BIG - 2) + b"}",
                       key="job/00000000-0000-5000-8000-000000000000/x"),
             h.produce(topic, "{}", key="neither-release-nor-job")]
    fl.producer.stop()
    fl.start_producer(wait_ready=False)
    for part, off in where:  # wait_log fails if the producer exits first
        fl.wait_log(fl.producer, "partition=%d offset=%d" % (part, off), harness.START_TIMEOUT)
    fl.wait_log(fl.producer, "unreadable=3", harness.START_TIMEOUT)


def cli_door(fl):
    # what the daemons refuse, the CLI refuses first, with the limit
    path = fl.write_request({"release": "hostile-cli-fat", "environments": ["Dev"],
                             "tenants": {"names": ["T%06d %s" % (i, "q" * 240)
                                                   for i in range(4000)]},
                             "stages": [[{"project": "Api", "version": "1.0.0"}]]})
    r = fl.octofleet("submit", path, "--by", "system-test")
    check_eq(r.returncode, 1, "submit of a request too big to keep: exit code")
    check("the largest this fleet accepts is" in r.stderr, "no limit in %r" % r.stderr[-400:])
    path = fl.write_request({"release": "hostile-cli-by", "environments": ["Dev"],
                             "tenants": "all", "stages": [[{"project": "Api",
                                                           "version": "1.0.0"}]]})
    r = fl.octofleet("submit", path, "--by", "b" * 300)
    check(r.returncode != 0, "submit with a 300-byte --by exited 0")
    check("by: longer than 256 bytes" in r.stderr, "no limit in %r" % r.stderr[-400:])
    check_eq(fl.topic_dump(fl.topic("requests"))[-1]["value"].find("hostile-cli"), -1,
             "a refused submit was sent")


def octopus_door(h, fl):
    # A pager that lies: TotalResults promises more tenants than it ever returns.
    fl.sim_call("POST", "/sim/faults", {"route": "GET /api/{space}/tenants",
                                        "total_results": 1000000, "count": -1})
    rid = fl.submit({"release": "hostile-lying-pager", "environments": ["Dev"],
                     "tenants": "all", "stages": [[{"project": "Api", "version": "1.0.0"}]]})
    ev = fl.wait_release_end(rid, "release.rejected", timeout=120)
    errs = " ".join(ev["data"].get("errors") or [])
    check("tenants" in errs and "TotalResults" in errs,
          "the lying pager's rejection does not name the route and TotalResults: %r" % errs[:400])
    stats = fl.sim_get("/sim/stats")
    pages = stats["routes"].get("GET /api/{space}/tenants", 0)
    check(pages < 200, "%d tenant pages requested from a lying pager" % pages)
    fl.sim_call("DELETE", "/sim/faults")
    harness.log("lying pager: rejected after %d requests: %s" % (pages, errs[:120]))


def unreadable_task(h, fl):
    """One task of three answered with an undecodable State: the other two jobs succeed, the
    third fails once octopus.task_unreadable_timeout (3 s here) and 3 polls have passed, with
    the server's reply quoted; the release pauses as for any failure."""
    fl.set_rules([{"duration_ms": 6000}])
    rid = fl.submit({"release": "hostile-unreadable-task", "environments": ["Dev"],
                     "tenants": {"names": ["Alpha", "Bravo", "Charlie"]},
                     "stages": [[{"project": "Api", "version": "1.0.0"}]]})
    started = fl.wait_event(rid, "job.started", count=3, timeout=60)
    bad = started[0]["data"]
    fl.sim_call("POST", "/sim/faults", {"route": "GET /api/{space}/tasks",
                                        "corrupt_task": bad["task_id"], "count": -1})
    fl.set_rules([{"duration_ms": 200}])
    failed = fl.wait_event(rid, "job.failed", timeout=90)[0]["data"]
    check_eq(failed["job_id"], bad["job_id"], "the job that failed")
    msg = failed.get("message", "")
    check("could not be read" in msg and bad["task_id"] in msg and "State" in msg,
          "job.failed of the unreadable task does not say why: %r" % msg)
    ok = fl.wait_event(rid, "job.succeeded", count=2, timeout=60)
    check(all(e["data"]["job_id"] != bad["job_id"] for e in ok),
          "the unreadable task's job also succeeded")
    fl.wait_release_end(rid, "release.paused", timeout=60)
    fl.sim_call("DELETE", "/sim/faults")
    harness.log("unreadable task failed its job alone: %s" % msg[:160])


def endless_body(h, fl):
    """A reply body that never ends: the client's response cap stops it; the request that
    needed it is rejected saying so."""
    fl.sim_call("POST", "/sim/faults", {"route": "GET /api/{space}/projects*",
                                        "endless_body": True, "count": -1})
    # a project no earlier request named: the producer's name cache must ask the server
    rid = fl.submit({"release": "hostile-endless-body", "environments": ["Dev"],
                     "tenants": {"names": ["Alpha"]},
                     "stages": [[{"project": "Schema", "version": "1.0.0"}]]})
    ev = fl.wait_release_end(rid, "release.rejected", timeout=120)
    errs = " ".join(ev["data"].get("errors") or [])
    check("cap" in errs and "projects" in errs,
          "the endless body's rejection does not name the cap and the route: %r" % errs[:400])
    fl.sim_call("DELETE", "/sim/faults")
    harness.log("endless body: rejected: %s" % errs[:160])


def scenario(args, fleets):
    fl = harness.Fleet(args, "hostile")
    fleets.append(fl)
    fl.start_sim()
    fl.write_config()
    with open(fl.cfg) as f:
        text = f.read()
    marker = 'retry_deadline = "30s";'
    check(marker in text, "harness config changed: no %r" % marker)
    with open(fl.cfg, "w") as f:
        f.write(text.replace(marker, marker + '\n    task_unreadable_timeout = "3s";'))
    fl.start_producer()
    fl.start_follower()
    fl.start_worker("w1")
    fl.set_rules([{"duration_ms": 200}])
    h = Hostile(fl)
    h.good_release()  # templates for well-formed poison, and a baseline

    requests_door(h, fl)
    h.good_release()
    jobs_door(h, fl)
    h.good_release()
    events_door(h, fl)
    h.good_release()
    state_door(h, fl)
    h.good_release()
    cli_door(fl)
    octopus_door(h, fl)
    h.good_release()
    unreadable_task(h, fl)
    h.good_release()
    endless_body(h, fl)
    h.good_release()
    fl.check_daemons()
    fl.check_no_secret()


if __name__ == "__main__":
    harness.main(scenario, __doc__)
