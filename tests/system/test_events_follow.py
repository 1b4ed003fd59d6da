#!/usr/bin/env python3
"""System test 12: `octofleet events` as a monitoring feed on the real broker.

- A follower with --group and one without are stopped (SIGSTOP) for longer than
  session.timeout.ms (3 s here, set through the config's kafka properties) while new events
  arrive, then continued while more arrive: each prints every event id exactly once.
- A follower restarted with the same --group prints only the events written since it stopped.
- --from <RFC 3339 time> starts at that time; --type (exact, prefix, with or without the
  "octofleet." prefix, comma lists) and --count filter; bad values are usage errors (exit 2).

The events are written with `octofleet topic produce` (well-formed CloudEvents of several types,
keyed by release so they spread over the partitions of the auto-created topic); no producer or
worker runs, so the test owns every event of its topic.
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Failure, check, check_eq, log  # noqa: E402

SESSION_TIMEOUT_MS = 3000
TYPES = ["release.accepted", "stage.started", "job.started", "job.succeeded", "job.failed",
         "stage.succeeded", "release.completed"]
RELEASES = [str(uuid.uuid4()) for _ in range(5)]


def make_event(n):
    """The n-th test event: a well-formed CloudEvent (docs/messages.md) -> (id, type, json)."""
    etype = TYPES[n % len(TYPES)]
    rid = RELEASES[n % len(RELEASES)]
    eid = str(uuid.uuid4())
    data = {"release_id": rid, "release": "2026.%d" % (n % len(RELEASES)), "stage": 1,
            "stage_count": 1, "environment": "Production"}
    subject = rid
    if etype.startswith("job."):
        job = str(uuid.uuid4())
        data.update({"job_id": job, "attempt": 1, "project": "Web"})
        subject = rid + "/" + job
        if etype == "job.failed":
            data["message"] = "test failure"
    if etype.startswith("stage.") and etype != "stage.started":
        data["counts"] = {"total": 1, "succeeded": 1, "failed": 0, "skipped": 0}
    ev = {"specversion": "1.0", "id": eid, "source": "octofleet/producer",
          "type": "octofleet." + etype, "subject": subject,
          "time": datetime.datetime.now(datetime.timezone.utc).isoformat(
              timespec="milliseconds").replace("+00:00", "Z"),
          "datacontenttype": "application/json", "data": data}
    return eid, etype, rid, json.dumps(ev)


class Writer:
    """Writes test events to the events topic, remembering each one's id and type."""

    def __init__(self, fl):
        self.fl, self.n, self.written = fl, 0, []  # [(id, type, release_id)]

    def write(self, count, partition=None):
        ids = []
        for _ in range(count):
            eid, etype, rid, text = make_event(self.n)
            self.n += 1
            argv = ["topic", "produce", self.fl.topic("events"), "--key", rid]
            if partition is not None:
                argv += ["--partition", str(partition)]
            r = self.fl.octofleet(*argv, input=text)
            check(r.returncode == 0, "topic produce exited %d:\n%s" % (r.returncode, r.stderr))
            self.written.append((eid, etype, rid))
            ids.append(eid)
        return ids


class Follower:
    """`octofleet events ...` in the background; a thread collects the ids it prints."""

    def __init__(self, fl, name, *argv):
        self.fl, self.name = fl, name
        self.proc = harness.Proc(name, [fl.octofleet_bin, "events"] + list(argv) + ["-c", fl.cfg],
                                 os.path.join(fl.dir, "%s.log" % name), stdout=subprocess.PIPE)
        self.ids, self.cond = [], threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.popen.stdout:
            ev = json.loads(line)
            with self.cond:
                self.ids.append(ev["id"])
                self.cond.notify_all()

    def wait_ids(self, want, timeout=harness.EVENT_TIMEOUT):
        """Waits until every id of want was printed."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not set(want) <= set(self.ids):
                left = deadline - time.monotonic()
                check(left > 0 and self.proc.alive(),
                      "%s printed %d of %d awaited events (alive: %s):\n%s"
                      % (self.name, len(set(want) & set(self.ids)), len(want), self.proc.alive(),
                         harness.tail(self.proc.logpath)))
                self.cond.wait(min(left, 0.5))

    def stop(self):
        rc = self.proc.stop(grace=20)
        self.thread.join(10)
        return rc


def check_once(follower, want):
    dup = sorted({i for i in follower.ids if follower.ids.count(i) > 1})
    check(not dup, "%s printed %d event id(s) more than once (%d lines for %d distinct): %s"
          % (follower.name, len(dup), len(follower.ids), len(set(follower.ids)), dup[:5]))
    check_eq(set(follower.ids), set(want), "%s: the ids printed" % follower.name)


def events(fl, *argv):
    """`octofleet events ARGV` (no --follow): -> (exit code, [event dicts], stderr)."""
    r = fl.octofleet("events", *argv)
    return r.returncode, [json.loads(x) for x in r.stdout.splitlines() if x.strip()], r.stderr


def scenario(args, fleets):
    fl = harness.Fleet(args, "events_follow")
    fleets.append(fl)
    fl.start_sim()
    fl.write_config()
    with open(fl.cfg) as f:
        cfg = f.read()
    with open(fl.cfg, "w") as f:  # a short session, so the pause below outlasts it clearly
        f.write(cfg.replace('["session.timeout.ms", "6000"]',
                            '["session.timeout.ms", "%d"]' % SESSION_TIMEOUT_MS))
    w = Writer(fl)
    group = "st-events-follow-%s" % fl.stamp

    log("10 events, then two followers (with --group, and without) read them")
    first = w.write(10)
    fg = Follower(fl, "follow-group", "--follow", "--group", group)
    fa = Follower(fl, "follow-assign", "--follow")
    fg.wait_ids(first)
    fa.wait_ids(first)

    log("both stopped for %.1f s (session.timeout.ms %d) while 8 events arrive"
        % (3 * SESSION_TIMEOUT_MS / 1000, SESSION_TIMEOUT_MS))
    t_stop = time.monotonic()
    for f in (fg, fa):
        os.kill(f.proc.pid, signal.SIGSTOP)
    second = w.write(8)
    # The pause itself is the scenario: it must outlast the session timeout.
    time.sleep(max(0.0, 3 * SESSION_TIMEOUT_MS / 1000 - (time.monotonic() - t_stop)))
    t_mid = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.05)  # producer timestamps are in ms: keep the next batch strictly after t_mid
    for f in (fg, fa):
        os.kill(f.proc.pid, signal.SIGCONT)
    log("continued; 6 more events arrive, then one on every partition as an end marker")
    third = w.write(6)
    marks = [m for p in range(4) for m in w.write(1, partition=p)]
    so_far = first + second + third + marks
    for f in (fg, fa):
        f.wait_ids(so_far)
    for f in (fg, fa):
        check_eq(f.stop(), 0, "%s exit code after SIGTERM" % f.name)
        check_once(f, so_far)

    log("restarted with the same --group: only the 5 events written since")
    fourth = w.write(5)
    f2 = Follower(fl, "follow-group-2", "--follow", "--group", group, "--count", "5")
    check_eq(f2.proc.wait(harness.EVENT_TIMEOUT), 0, "the restarted follower's exit code (--count)")
    f2.thread.join(10)
    check_once(f2, fourth)
    rc, evs, err = events(fl, "--group", group)
    check_eq((rc, [e["id"] for e in evs]), (0, []), "a dump with the group after it read all")

    log("--from TIME, --type, --count, --release")
    after = third + marks + fourth
    rc, evs, err = events(fl, "--from", t_mid.isoformat(timespec="milliseconds"))
    check_eq(rc, 0, "events --from TIME exit code (%s)" % err)
    check_eq(sorted(e["id"] for e in evs), sorted(after), "events --from %s" % t_mid)
    everything = so_far + fourth
    rc, evs, err = events(fl, "--from", "beginning")
    check_eq(sorted(e["id"] for e in evs), sorted(everything), "events --from beginning")
    rc, evs, err = events(fl, "--from", "end")
    check_eq((rc, evs), (0, []), "events --from end without --follow")

    def of_types(*prefixes):
        return sorted(i for i, t, _ in w.written if any(t == p or (p.endswith(".") and
                                                                  t.startswith(p))
                                                        for p in prefixes))

    cases = [
        (["--type", "job.failed"], of_types("job.failed")),
        (["--type", "octofleet.job.failed"], of_types("job.failed")),
        (["--type", "job."], of_types("job.")),
        (["--type", "octofleet.stage."], of_types("stage.")),
        (["--type", "release.completed,job.started"], of_types("release.completed",
                                                                "job.started")),
        (["--type", "release.accepted", "--type", "job.succeeded"],
         of_types("release.accepted", "job.succeeded")),
        (["--release", RELEASES[1]], sorted(i for i, _, r in w.written if r == RELEASES[1])),
    ]
    for argv, want in cases:
        rc, evs, err = events(fl, *argv)
        check_eq(rc, 0, "events %s exit code (%s)" % (" ".join(argv), err))
        check(want, "the case %s selects something" % argv)
        check_eq(sorted(e["id"] for e in evs), want, "events %s" % " ".join(argv))
    rc, evs, err = events(fl, "--count", "4")
    check_eq((rc, len(evs)), (0, 4), "events --count 4: exit code and lines")
    rc, evs, err = events(fl, "--type", "job.", "--count", "2", "--follow")
    check_eq((rc, len(evs)), (0, 2), "events --type job. --count 2 --follow")
    check(all(e["type"].startswith("octofleet.job.") for e in evs), "--type job. printed %r"
          % [e["type"] for e in evs])
    for bad in (["--type", "job.bogus"], ["--type", "nothing."], ["--count", "0"],
                ["--from", "yesterday"], ["--group", ""]):
        rc, evs, err = events(fl, *bad)
        check_eq(rc, 2, "events %s exit code (%s)" % (" ".join(bad), err.strip()))
    log("every event once, through stops, restarts and filters")


if __name__ == "__main__":
    harness.main(scenario, __doc__)
