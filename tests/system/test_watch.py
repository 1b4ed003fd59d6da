#!/usr/bin/env python3
"""System scenario 12: a CLI that answers truthfully, and follows releases from their state.

Commands that answer (every replay/resume/abort waits for the event carrying its command_id):
  - abort of an unknown release, replay of a completed release (nothing to replay), resume of a
    completed one: exit 1 with the producer's reason on stderr; abort of a running release:
    exit 0 "applied"; the same abort again: exit 1 (already aborted);
  - with the producer stopped (SIGSTOP), a resume times out with exit 5.
Following from the state topic, never from stale history:
  - `submit --wait` of "sys-watch-b", whose Api job for Bravo fails: exit 1 (paused); again:
    exit 1 at once; after `replay --wait` (exit 0, the release completed), `submit --wait`
    once more exits 0 at once although the events topic still holds the old release.paused;
  - `watch` of a completed release exits 0, plain lines on stdout when not a terminal;
  - `list` and `list --json` show the releases with their state and counts.
The live view in a real terminal: `octofleet watch` of a running release in a tmux pane shows
the stage rows, counts and progress bars, then the final state, and exits 0.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, release_request  # noqa: E402

ERROR = "Step 'Migrate database' failed: disk full"
REQ_A = release_request("sys-watch-a", ["Dev"], [[("Api", "1.0.0")]],
                        tenants={"names": ["Alpha"]})
REQ_B = release_request("sys-watch-b", ["Dev"], [[("Api", "2.0.0")], [("Web", "2.0.0")]],
                        tenants={"names": ["Alpha", "Bravo"]})
REQ_C = release_request("sys-watch-c", ["Dev", "Test"], [[("Schema", "1.0.0")], [("Web", "1.0.0")]])
REQ_D = release_request("sys-watch-d", ["Dev"], [[("Web", "2.0.0")]], tenants={"names": ["Alpha"]})


def run(fl, *argv, timeout=150):
    return fl.octofleet(*argv, "--by", "system-test", timeout=timeout)


def answers(fl):
    r = run(fl, "abort", "no-such-release", "--reason", "test")
    check_eq(r.returncode, 1, "abort of an unknown release: exit code (%s)" % r.stderr.strip())
    check("no such release" in r.stderr, "abort of an unknown release: reason %r" % r.stderr)

    rid_a = None
    r = run(fl, "submit", fl.write_request(REQ_A), "--wait")
    check_eq(r.returncode, 0, "submit --wait of a release that completes (%s)" % r.stderr)
    rid_a = r.stdout.strip().splitlines()[0]
    for argv, why in ((("replay", rid_a), "nothing to replay"),
                      (("resume", "sys-watch-a"), "nothing failed (release completed)"),
                      (("abort", rid_a), "the release has completed")):
        r = run(fl, *argv, "--reason", "test")
        check_eq(r.returncode, 1, "%s of a completed release: exit code (%s)"
                 % (argv[0], r.stderr.strip()))
        check(why in r.stderr, "%s: the producer's reason %r not in %r" % (argv[0], why, r.stderr))
    # watch of a completed release: exit 0 at once, plain lines (stdout is not a terminal)
    t0 = time.monotonic()
    r = fl.octofleet("watch", "sys-watch-a")
    check_eq(r.returncode, 0, "watch of a completed release (%s)" % r.stderr)
    check("completed" in r.stdout and "\033[" not in r.stdout,
          "watch's plain output: %r" % r.stdout)
    check(time.monotonic() - t0 < 30, "watch of a completed release took %.0fs"
          % (time.monotonic() - t0))
    # --json: the release's state as status --json prints it, one JSON object per line
    r = fl.octofleet("watch", "sys-watch-a", "--json")
    check_eq(r.returncode, 0, "watch --json of a completed release (%s)" % r.stderr)
    docs = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    check(docs and all(d.get("release_id") == rid_a for d in docs),
          "watch --json lines name the release: %r" % r.stdout)
    check_eq(docs[-1].get("status") if docs else None, "completed", "watch --json: last state")
    r = fl.octofleet("watch", "sys-watch-nothing")
    check_eq(r.returncode, 1, "watch of an unknown release")
    return rid_a


def stale_history(fl):
    fl.set_rules([{"project": "Api", "tenant": "Bravo", "outcome": "fail", "error": ERROR},
                  {"duration_ms": [150, 300]}])
    path = fl.write_request(REQ_B)
    r = run(fl, "submit", path, "--wait")
    check_eq(r.returncode, 1, "submit --wait of a release that pauses (%s)" % r.stderr)
    rid = r.stdout.strip().splitlines()[0]
    check("octofleet replay %s --stage 1" % rid in r.stderr, "no replay hint: %r" % r.stderr)
    t0 = time.monotonic()
    r = run(fl, "submit", path, "--wait")
    check_eq(r.returncode, 1, "submit --wait again of the paused release")
    check("paused" in r.stderr, "the paused state is shown: %r" % r.stderr)
    # read from the state, not from the history: the failed job and a runnable replay
    check("Bravo: failed" in r.stderr and "octofleet replay %s --stage 1" % rid in r.stderr,
          "the paused state's failed job and replay hint: %r" % r.stderr)
    r = fl.octofleet("watch", "sys-watch-b")
    check_eq(r.returncode, 1, "watch of the paused release (%s)" % r.stderr)
    check("octofleet replay %s --stage 1" % rid in r.stdout,
          "watch of the paused release: replay hint %r" % r.stdout)

    # list: both releases with their state and counts
    r = fl.octofleet("list")
    check_eq(r.returncode, 0, "list (%s)" % r.stderr)
    rows = {ln.split()[0]: ln.split() for ln in r.stdout.splitlines()[1:] if ln.strip()}
    check_eq((rows.get("sys-watch-a", [None] * 3)[2], rows.get("sys-watch-b", [None] * 3)[2]),
             ("completed", "paused"), "list states (%r)" % r.stdout)
    r = fl.octofleet("list", "--json")
    check_eq(r.returncode, 0, "list --json")
    doc = {x["release"]: x for x in json.loads(r.stdout)}
    b = doc.get("sys-watch-b", {})
    check_eq((b.get("status"), b.get("release_id"), b.get("jobs"), b.get("counts", {}).get("failed")),
             ("paused", rid, 4, 1), "list --json of sys-watch-b")

    fl.set_rules([{"duration_ms": [150, 300]}])
    # the harness's follower is a consumer of its own: let it reach the pause before marking
    fl.wait_release_end(rid, "release.paused")
    mark = fl.mark(rid)
    r = run(fl, "replay", rid, "--stage", "1", "--wait", "--reason", "fixed")
    check_eq(r.returncode, 0, "replay --wait until the release completes (%s)" % r.stderr)
    check("applied" in r.stdout, "replay --wait says applied: %r" % r.stdout)
    fl.wait_release_end(rid, "release.completed", after=mark)
    # the events topic still holds release.paused: the state says completed, so exit 0 at once
    t0 = time.monotonic()
    r = run(fl, "submit", path, "--wait")
    check_eq(r.returncode, 0, "submit --wait of the completed release (%s)" % r.stderr)
    check(time.monotonic() - t0 < 30, "submit --wait of a completed release took %.0fs"
          % (time.monotonic() - t0))


def tmux(*argv):
    return subprocess.run(["tmux", *argv], capture_output=True, text=True, timeout=30)


def live_view(fl):
    if not shutil.which("tmux"):
        harness.log("tmux not installed: live view not tested")
        raise harness.Failure("tmux is not installed (scripts/install-deps.sh installs it)")
    fl.set_rules([{"duration_ms": [2500, 4000]}])
    rid = fl.submit(REQ_C)
    # watch follows a release the producer has: of one not yet accepted it says "no release"
    # and exits 1 (tested above), so start it once the release record exists
    fl.wait_event(rid, "release.accepted")
    session = "of-watch-%d" % os.getpid()
    sock = os.path.join(fl.dir, "tmux.sock")
    cmd = "%s watch sys-watch-c -c %s; echo WATCH-EXIT=$?; sleep 600" % (fl.octofleet_bin, fl.cfg)
    r = subprocess.run(["tmux", "-S", sock, "new-session", "-d", "-s", session, "-x", "120",
                        "-y", "40", cmd], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, TERM="xterm-256color"))
    check_eq(r.returncode, 0, "tmux new-session (%s)" % r.stderr)
    screens = []

    def pane():
        p = subprocess.run(["tmux", "-S", sock, "capture-pane", "-p", "-t", session],
                           capture_output=True, text=True, timeout=30)
        screens.append(p.stdout)
        return p.stdout

    try:
        def running_screen():
            s = pane()
            return s if ("running" in s and re.search(r"^1 +Dev +\S+ +\[[#.]{20}\]", s, re.M)
                         and re.search(r"^2 +Test ", s, re.M)) else None

        s = fl.wait_until("the live view of a running release", running_screen, timeout=60)
        check("release sys-watch-c (%s)" % rid in s, "the header names the release: %r" % s)
        check("STAGE" in s and "DONE/JOBS" in s, "the table header: %r" % s)
        check("WATCH-EXIT" not in s, "watch ended while the release ran: %r" % s)

        # once jobs finish: the rate and the time left, stage 1 done while stage 2 runs
        def rate_screen():
            s = pane()
            return s if (re.search(r"[\d.]+ jobs/min +about \S+ left", s)
                         and re.search(r"^1 +Dev +succeeded +\[#{20}\] +1/1 ", s, re.M)
                         and re.search(r"^2 +(Dev|Test) +running ", s, re.M)) else None

        fl.wait_until("the rate and time left of a running release", rate_screen, timeout=60)

        def final_screen():
            s = pane()
            return s if "WATCH-EXIT=" in s else None

        s = fl.wait_until("watch to end with the release", final_screen, timeout=120)
        check("WATCH-EXIT=0" in s, "watch's exit code in the pane: %r" % s)
        check("completed" in s, "the final state on screen: %r" % s)
        # every row full: 4 stage rows (2 stages x 2 environments), each all done
        rows = re.findall(r"^(\d) +(Dev|Test) +(\S+) +\[([#.]{20})\] +(\d+)/(\d+)", s, re.M)
        check_eq(len(rows), 4, "stage rows on the final screen (%r)" % s)
        for st, env, status, bar, done, total in rows:
            check(status == "succeeded" and bar == "#" * 20 and done == total and int(total) > 0,
                  "stage %s %s on the final screen: %s %s %s/%s" % (st, env, status, bar, done,
                                                                     total))
        # nothing but the screen: no log line (they start with a timestamp or "octofleet")
        check(not re.search(r"^\d{4}-\d\d-\d\dT|level=|rdkafka", s, re.M),
              "log lines in the live view: %r" % s)

        # colours: SGR codes on screen (capture-pane -e keeps them), none under NO_COLOR
        for no_color, want in (("", True), ("1", False)):
            win = "nc%s" % no_color
            cmd = ("NO_COLOR=%s %s watch sys-watch-c -c %s; echo WATCH-EXIT=$?; sleep 600"
                   % (no_color, fl.octofleet_bin, fl.cfg))
            r = subprocess.run(["tmux", "-S", sock, "new-window", "-t", session, "-n", win, cmd],
                               capture_output=True, text=True, timeout=30)
            check_eq(r.returncode, 0, "tmux new-window (%s)" % r.stderr)

            def colored_screen():
                p = subprocess.run(["tmux", "-S", sock, "capture-pane", "-e", "-p", "-t",
                                    "%s:%s" % (session, win)],
                                   capture_output=True, text=True, timeout=30)
                screens.append(p.stdout)
                return p.stdout if "WATCH-EXIT=" in p.stdout else None

            s = fl.wait_until("watch of a completed release (NO_COLOR=%r)" % no_color,
                              colored_screen, timeout=60)
            check("WATCH-EXIT=0" in s and "succeeded" in s, "watch under NO_COLOR=%r: %r"
                  % (no_color, s))
            # tmux re-encodes colours as it keeps them: any SGR with a colour parameter counts
            check(bool(re.search(r"\033\[[0-9;]*3[12]m", s)) == want,
                  "colour codes %s under NO_COLOR=%r: %r"
                  % ("missing" if want else "present", no_color, s))
    finally:
        with open(os.path.join(fl.dir, "tmux-screens.txt"), "w") as f:
            f.write("\n=====\n".join(screens))
        subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True, timeout=30)
    fl.wait_release_end(rid, "release.completed")


def abort_and_timeout(fl):
    fl.set_rules([{"duration_ms": 60000}])
    rid = fl.submit(REQ_D)
    fl.wait_event(rid, "job.started", timeout=60)
    r = run(fl, "abort", rid, "--cancel-running", "--reason", "test")
    check_eq(r.returncode, 0, "abort of a running release (%s)" % r.stderr)
    check("applied" in r.stdout, "abort says applied: %r" % r.stdout)
    r = run(fl, "abort", rid, "--reason", "again")
    check_eq(r.returncode, 1, "a repeated abort (%s)" % r.stderr)
    check("already aborted" in r.stderr, "repeated abort reason: %r" % r.stderr)
    r = run(fl, "abort", rid, "--no-wait", "--reason", "only sent")
    check_eq((r.returncode, r.stdout.strip()), (0, "abort %s sent" % rid), "abort --no-wait")

    fl.producer.signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = run(fl, "resume", rid, "--timeout", "3", "--reason", "nobody answers")
        check_eq(r.returncode, 5, "resume with the producer stopped: exit code (%s)" % r.stderr)
        check("no answer from the producer within 3 s" in r.stderr, "timeout message: %r"
              % r.stderr)
        check(time.monotonic() - t0 < 30, "the timeout took %.0fs" % (time.monotonic() - t0))
    finally:
        fl.producer.signal(signal.SIGCONT)


def scenario(args, fleets):
    fl = harness.Fleet(args, "watch")
    fleets.append(fl)
    fl.start(workers=("w1", "w2"))
    fl.set_rules([{"duration_ms": [150, 300]}])
    answers(fl)
    stale_history(fl)
    live_view(fl)
    abort_and_timeout(fl)


if __name__ == "__main__":
    harness.main(scenario, __doc__)
