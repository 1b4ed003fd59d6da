#!/usr/bin/env python3
"""System scenario 21: `octofleet notify` keeps one chat message per release up to date.

A local webhook receiver (http.server) records every request: POST /hook creates a message and
answers {"id": "msg-N"}, PUT /hook/<id> updates it. The notifier runs as its own process on the
real broker (mode webhook, format slack, notify.min_interval 1s), its URL from the environment
and its bearer token from a file. Proves (docs/operations.md, "Notifications"):
  - release A (3 stages, 3 tenants): the receiver answers the first two requests 503; the
    notifier retries them (logged) and then creates exactly ONE message, and every later
    request is a PUT of that same message; the last says completed with the counts of the
    release.completed event, in the JSON (octofleet.counts) and the text;
  - updates are coalesced: far fewer requests than the release has events;
  - release B: the notifier is stopped (SIGTERM, exit 0) once B's message exists and started
    again; B still has exactly one message, updated after the restart to completed;
  - a second notifier (its own group) in mode slack makes one chat.postMessage for release A
    in notify.channel, then only chat.update calls naming the channel and ts Slack answered;
  - the token sent as "Authorization: Bearer ..." never appears in the notifiers' logs, nor the
    URL's path.
"""

import json
import os
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, of_type  # noqa: E402

REQ_A = {
    "release": "sys-notify-a",
    "environments": ["Dev"],
    "tenants": {"names": ["Alpha", "Bravo", "Charlie"]},
    "stages": [
        [{"project": "Schema", "version": "2.0.0"}],
        [{"project": "Api", "version": "2.0.0"}],
        [{"project": "Web", "version": "2.0.0"}],
    ],
}
REQ_B = {
    "release": "sys-notify-b",
    "environments": ["Dev", "Test"],
    "tenants": {"names": ["Alpha", "Bravo"]},
    "stages": [
        [{"project": "Api", "version": "1.0.0"}],
        [{"project": "Web", "version": "1.0.0"}],
    ],
}


class Receiver:
    """The webhook: records (method, path, headers, body, status answered)."""

    def __init__(self):
        self.requests = []
        self.fail_next = 0  # answer this many requests 503 first
        self.lock = threading.Condition()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rec.lock:
                    if self.path == "/api/chat.postMessage":
                        posted = sum(1 for r in rec.requests if r["path"] == self.path)
                        status = 200
                        reply = json.dumps({"ok": True, "channel": "C0ANSWER",
                                            "ts": "1700000000.%06d" % (posted + 1)}).encode()
                    elif self.path == "/api/chat.update":
                        status, reply = 200, b'{"ok":true}'
                    elif rec.fail_next > 0:
                        rec.fail_next -= 1
                        status, reply = 503, b'{"error":"busy"}'
                    elif self.command == "POST" and self.path == "/hook":
                        created = sum(1 for r in rec.requests if r["status"] == 201)
                        status = 201
                        reply = json.dumps({"id": "msg-%d" % (created + 1)}).encode()
                    elif self.command == "PUT" and self.path.startswith("/hook/msg-"):
                        status, reply = 200, b'{"ok":true}'
                    else:
                        status, reply = 404, b'{"error":"no such route"}'
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        doc = None
                    rec.requests.append({"method": self.command, "path": self.path,
                                         "auth": self.headers.get("Authorization"),
                                         "body": doc, "status": status})
                    rec.lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = handle_one
            do_PUT = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_release(self, rid):
        with self.lock:
            return [r for r in self.requests
                    if (r["body"] or {}).get("octofleet", {}).get("release_id") == rid]

    def slack_of(self, name):
        """The Slack API requests about release `name` (found by their text)."""
        with self.lock:
            return [r for r in self.requests if r["path"].startswith("/api/") and
                    ("Release %s:" % name) in (r["body"] or {}).get("text", "")]

    def wait(self, what, fn, timeout=90):
        deadline = time.monotonic() + timeout
        with self.lock:
            while not fn():
                left = deadline - time.monotonic()
                check(left > 0, "webhook: %s not seen within %ds; requests:\n%s"
                      % (what, timeout, "\n".join(
                          "%s %s %s %s" % (r["method"], r["path"], r["status"],
                                           json.dumps((r["body"] or {}).get("octofleet")))
                          for r in self.requests)))
                self.lock.wait(min(left, 0.5))


def final_ok(req, rid, end):
    """The request's summary says completed with the counts of the release.completed event."""
    s = (req["body"] or {}).get("octofleet", {})
    c, want = s.get("counts", {}), end["data"]["counts"]
    return (s.get("status") == "completed" and c.get("total") == want.get("total")
            and c.get("succeeded") == want.get("succeeded", 0)
            and c.get("skipped") == want.get("skipped", 0) and c.get("failed") == 0
            and c.get("done") == want.get("total"))


def check_one_message(rec, rid, what):
    """Exactly one create answered 201 for rid, and every later request a PUT of it."""
    reqs = rec.of_release(rid)
    created = [r for r in reqs if r["method"] == "POST" and r["status"] == 201]
    check_eq(len(created), 1, "%s: creates answered 201" % what)
    first = reqs.index(created[0])
    check(all(r["method"] == "POST" for r in reqs[:first]), "%s: a PUT before the create" % what)
    after = reqs[first + 1:]
    check(len(after) >= 1, "%s: no update after the create" % what)
    mid = None
    for r in after:
        check(r["method"] == "PUT", "%s: a second %s after the create" % (what, r["method"]))
        mid = mid or r["path"]
        check_eq(r["path"], mid, "%s: the message updated" % what)
    return reqs, after


def scenario(args, fleets):
    fl = harness.Fleet(args, "notify")
    fleets.append(fl)
    fl.start(workers=("w1", "w2"))
    rec = Receiver()
    token = "xoxb-" + secrets.token_hex(16)
    tokfile = os.path.join(fl.dir, "notify-token")
    fd = os.open(tokfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    def write_cfg(name, mode, extra=""):
        path = os.path.join(fl.dir, name + ".cfg")
        with open(fl.cfg) as src, open(path, "w") as f:
            f.write(src.read())
            f.write("""notify = {
    mode = "%s";
    format = "slack";
    token_file = "%s";
    group_id = "st-notify-%s-%s";
    from = "end";
    state_file = "%s";
    min_interval = "1s";
    retry_deadline = "30s";
%s
};
""" % (mode, tokfile, fl.stamp, name, os.path.join(fl.dir, name + ".state"), extra))
        return path

    cfg = write_cfg("notify", "webhook")
    env = dict(os.environ, OCTOFLEET_NOTIFY_URL="http://127.0.0.1:%d/hook" % rec.port)
    env.pop("OCTOFLEET_NOTIFY_TOKEN", None)
    logpath = os.path.join(fl.dir, "notify.log")

    def start_notifier(config=cfg, log_path=logpath, environ=env, name="notify"):
        p = harness.Proc(name, [args.octofleet, "notify", "-c", config], log_path, env=environ)
        fl.retired.append(p)
        fl.wait_log(p, "notify ready", 60)
        return p

    # a second notifier, of its own group, in mode slack (chat.postMessage, chat.update)
    slack_log = os.path.join(fl.dir, "notify-slack.log")
    slack = start_notifier(write_cfg("notify-slack", "slack", '    channel = "C0CONFIG";'),
                           slack_log,
                           dict(env, OCTOFLEET_NOTIFY_URL="http://127.0.0.1:%d/api" % rec.port),
                           "notify (slack)")
    notifier = start_notifier()
    try:
        # ---- A: two 503s, then one message updated to completed -------------------------
        with rec.lock:
            rec.fail_next = 2
        rid_a = fl.submit(REQ_A)
        harness.log("submitted A %s" % rid_a)
        end_a = fl.wait_release_end(rid_a, "release.completed", timeout=180)
        rec.wait("A's completed state",
                 lambda: any(final_ok(r, rid_a, end_a) for r in rec.of_release(rid_a)))
        reqs, after = check_one_message(rec, rid_a, "release A")
        check_eq([r["status"] for r in reqs[:2]], [503, 503], "A's first answers (the retries)")
        check(final_ok(reqs[-1], rid_a, end_a), "A's last request is not the completed state: %s"
              % json.dumps(reqs[-1]["body"]))
        text = reqs[-1]["body"]["text"]
        total = end_a["data"]["counts"]["total"]
        check("Release sys-notify-a: completed, 3 of 3 stages" in text, "A's text: %r" % text)
        check("Jobs: %d/%d done" % (total, total) in text, "A's text: %r" % text)
        check(reqs[-1]["body"].get("blocks"), "A's slack blocks missing")
        check(all(r["auth"] == "Bearer " + token for r in reqs), "Authorization headers")
        n_events = len(fl.release_events(rid_a))
        harness.log("A: %d requests for %d events" % (len(reqs), n_events))
        check(len(reqs) < n_events, "not coalesced: %d requests for %d events"
              % (len(reqs), n_events))
        with open(logpath, errors="replace") as f:
            check("notify retry release=%s attempt=1" % rid_a in f.read(),
                  "the notifier's log shows no retry")

        # ---- A in mode slack: one chat.postMessage, then chat.update of its ts ----------
        rec.wait("A's completed state on Slack", lambda: any(
            "completed, 3 of 3 stages" in r["body"]["text"] for r in rec.slack_of("sys-notify-a")))
        sreqs = rec.slack_of("sys-notify-a")
        check_eq([r["path"] for r in sreqs][:1], ["/api/chat.postMessage"], "Slack: the create")
        check_eq(sreqs[0]["body"].get("channel"), "C0CONFIG", "Slack: the channel posted to")
        check(len(sreqs) >= 2, "Slack: no chat.update")
        for r in sreqs[1:]:
            check_eq(r["path"], "/api/chat.update", "Slack: a later request")
            check_eq((r["body"].get("channel"), r["body"].get("ts")),
                     ("C0ANSWER", "1700000000.000001"), "Slack: the message updated")
        check("Jobs: %d/%d done" % (total, total) in sreqs[-1]["body"]["text"],
              "Slack: the last text %r" % sreqs[-1]["body"]["text"])
        check(all(r["auth"] == "Bearer " + token for r in sreqs), "Slack: Authorization headers")

        # ---- B: a restart in the middle keeps updating the same message -----------------
        fl.set_rules([{"duration_ms": [1500, 2500]}])
        rid_b = fl.submit(REQ_B)
        harness.log("submitted B %s" % rid_b)
        rec.wait("B's message", lambda: any(r["status"] == 201 for r in rec.of_release(rid_b)))
        notifier.expected_exit = True
        check_eq(notifier.stop(grace=30), 0, "the notifier's exit code on SIGTERM")
        harness.log("notifier stopped; B's events so far: %d" % len(fl.release_events(rid_b)))
        before = len(rec.of_release(rid_b))
        notifier = start_notifier()
        end_b = fl.wait_release_end(rid_b, "release.completed", timeout=180)
        rec.wait("B's completed state",
                 lambda: any(final_ok(r, rid_b, end_b) for r in rec.of_release(rid_b)))
        reqs_b, _ = check_one_message(rec, rid_b, "release B")
        check(len(reqs_b) > before, "no update of B after the restart")
        check(final_ok(reqs_b[-1], rid_b, end_b), "B's last request: %s"
              % json.dumps(reqs_b[-1]["body"]))
        check_eq(len(of_type(fl.release_events(rid_b), "job.failed")), 0, "B's failed jobs")
    finally:
        codes = []
        for p in (notifier, slack):
            p.expected_exit = True
            codes.append(p.stop(grace=30))
        rec.server.shutdown()
    check_eq(codes, [0, 0], "the notifiers' exit codes on SIGTERM")
    for path in (logpath, slack_log):
        with open(path, "rb") as f:
            log = f.read()
        check(token.encode() not in log, "the token appears in %s" % path)
        check(b"/hook" not in log and b"/api" not in log, "the URL appears in %s" % path)


if __name__ == "__main__":
    harness.main(scenario, __doc__)
