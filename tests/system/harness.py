"""System-test harness: a whole octofleet fleet as separate processes on a real Kafka broker.

One `Fleet` per test: the Octopus simulator (`octopus-sim`, a subprocess on an ephemeral port),
an octofleet config with a topics.prefix and group ids of its own (so tests can share the one
broker started by the ctest `kafka` fixture), `octofleet producer` and N `octofleet worker`
processes, and a background `octofleet events --follow` whose JSON lines are collected in a list.
Everything is stopped at the end, also on failure (try/finally in `run()`, atexit, and the
children die with the harness through PR_SET_PDEATHSIG). Logs go to files in the test's work
directory; when a test fails the tail of every log is printed.

Every wait has a deadline and fails with what was awaited and what was seen; nothing sleeps in
place of synchronisation (the poll loops sleep a little between looks).

Standard library only. docs/testing.md describes the suites and how to run one test alone.
"""

import argparse
import datetime
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

SKIP = 77  # ctest SKIP_RETURN_CODE

# Generous deadlines: the suite runs on a loaded 2-core machine, several tests at once.
START_TIMEOUT = 60.0
EVENT_TIMEOUT = 90.0

CE_PREFIX = "octofleet."


class Failure(Exception):
    """A scenario assertion failed."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def check_eq(got, want, what):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def parse_time(s):
    """RFC 3339 (Octopus '+00:00' or octofleet 'Z') -> aware datetime; None stays None."""
    if s is None:
        return None
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


# ---- child processes: children.py, shared with the benchmark --------------------------------

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from children import Proc, tail  # noqa: E402,F401  (tests use harness.Proc and harness.tail)


# ---- a raw Kafka DescribeGroups, to know when a consumer group has settled ---------------


# The broker harness's (tests/kafka/broker.py), which speaks this much of the protocol to
# tell when the broker is ready; the benchmark uses the same.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kafka"))
from broker import describe_group  # noqa: E402




# ---- the fleet --------------------------------------------------------------------------------


class Fleet:
    """One test's octofleet: simulator, config, producer, workers, event follower."""

    def __init__(self, args, name, fixture="system-world.json", task_cap=None,
                 max_stages=4, partitions=6, worker_settings=None, producer_settings=None,
                 octopus_settings=None):
        self.args = args
        self.name = name
        self.octofleet_bin = args.octofleet
        self.bootstrap = read_bootstrap(args)
        self.dir = os.path.join(args.workdir, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.fixture_path = os.path.join(args.fixtures, fixture)
        with open(self.fixture_path) as f:
            self.world = json.load(f)
        self.task_cap = task_cap
        self.stamp = "%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000000)
        self.prefix = "st-%s-%s." % (name, self.stamp)
        self.worker_group = "st-%s-%s-workers" % (name, self.stamp)
        self.api_key = "API-SYS" + secrets.token_hex(14).upper()
        self.max_stages = max_stages
        self.partitions = partitions
        self.worker_settings = dict(worker_settings or {})
        self.producer_settings = dict(producer_settings or {})
        self.octopus_settings = dict(octopus_settings or {})
        self.sim = None
        self.sim_url = None
        self.producer = None
        self.workers = {}  # name -> Proc (the latest process of that name)
        self.retired = []  # processes stopped or killed on purpose, for log tails
        self.follower = None
        self.events = []  # every CloudEvent of this fleet, in arrival order
        self.cond = threading.Condition()
        self.reader = None
        self.cfg = None
        self.seq = 0

    # -- set-up -------------------------------------------------------------------------

    def start(self, workers=("w1",)):
        self.start_sim()
        self.write_config()
        self.start_producer()
        self.start_follower()
        for w in workers:
            self.start_worker(w)
        if len(workers) > 1:
            # A worker that joins after another took every partition makes the first drop its
            # jobs in flight, and their events may then come twice (docs/operations.md,
            # "Revoked"): tests that count events start from a settled group.
            self.wait_workers_assigned(workers, [self.topic("jobs.s%d" % s)
                                                 for s in range(1, self.max_stages + 1)])
        return self

    def start_sim(self):
        argv = [self.args.sim, "--port", "0", "--fixture", self.fixture_path]
        if self.task_cap:
            argv += ["--task-cap", str(self.task_cap)]
        env = dict(os.environ, OCTOPUS_SIM_API_KEYS=self.api_key)
        self.sim = Proc("octopus-sim", argv, os.path.join(self.dir, "sim.log"), env=env,
                        stdout=subprocess.PIPE)
        line = self.sim.popen.stdout.readline().decode()
        m = re.fullmatch(r"octopus-sim listening on (http://127\.0\.0\.1:\d+)\n", line)
        check(m is not None, "octopus-sim did not start: first line %r\n%s"
              % (line, tail(self.sim.logpath)))
        self.sim_url = m.group(1)
        self.sim.popen.stdout.close()  # it prints nothing else there

    def write_config(self):
        keyfile = os.path.join(self.dir, "octopus-api-key")
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.api_key + "\n")
        w = {"poll_interval": '"200ms"', "drain_timeout": '"5s"', "max_in_flight": "64"}
        w.update(self.worker_settings)
        self.cfg = os.path.join(self.dir, "octofleet.cfg")
        with open(self.cfg, "w") as f:
            f.write("""# written by tests/system/harness.py for test %(name)s
kafka = {
    bootstrap_servers = "%(bootstrap)s";
    client_id = "st-%(name)s";
    properties = (
        ["session.timeout.ms", "6000"],
        ["heartbeat.interval.ms", "1000"],
        ["topic.metadata.refresh.interval.ms", "2000"]
    );
};
topics = {
    prefix = "%(prefix)s";
    partitions = %(partitions)d;
    max_stages = %(max_stages)d;
};
octopus = {
    url = "%(url)s";
    api_key_file = "%(keyfile)s";
    request_timeout = "10s";
    retry_deadline = "30s";
%(octopus)s
};
producer = {
    group_id = "st-%(name)s-%(stamp)s-producer";
    transactional_id = "st-%(name)s-%(stamp)s-producer";
%(producer)s
};
worker = {
    group_id = "%(wgroup)s";
%(worker)s
};
log = { level = "info"; };
""" % {"name": self.name, "bootstrap": self.bootstrap, "prefix": self.prefix,
       "partitions": self.partitions, "max_stages": self.max_stages, "url": self.sim_url,
       "keyfile": keyfile, "stamp": self.stamp, "wgroup": self.worker_group,
       "worker": "\n".join("    %s = %s;" % kv for kv in w.items()),
       "producer": "\n".join("    %s = %s;" % kv for kv in self.producer_settings.items()),
       "octopus": "\n".join("    %s = %s;" % kv for kv in self.octopus_settings.items())})

    def topic(self, name):
        return self.prefix + name

    def _spawn(self, name, argv, logname):
        return Proc(name, [self.octofleet_bin] + argv + ["-c", self.cfg],
                    os.path.join(self.dir, logname))

    def start_producer(self, wait_ready=True):
        """Starts `octofleet producer` and waits until it runs (topics created, state read)."""
        if self.producer is not None:
            self.retired.append(self.producer)
        self.producer = self._spawn("producer", ["producer"], "producer.log")
        if wait_ready:
            self.wait_log(self.producer, "producer running", START_TIMEOUT)
        return self.producer

    def start_worker(self, name):
        if name in self.workers:
            self.retired.append(self.workers[name])
        p = self._spawn("worker " + name, ["worker", "--name", name], "worker-%s.log" % name)
        self.workers[name] = p
        return p

    def start_follower(self):
        """`octofleet events --follow` in the background; a thread collects its JSON lines."""
        argv = [self.octofleet_bin, "events", "--follow", "-c", self.cfg]
        self.follower = Proc("events --follow", argv, os.path.join(self.dir, "events.log"),
                             stdout=subprocess.PIPE)
        raw = open(os.path.join(self.dir, "events.jsonl"), "wb")

        def read():
            for line in self.follower.popen.stdout:
                raw.write(line)
                raw.flush()
                try:
                    ev = json.loads(line)
                except ValueError:
                    ev = {"type": "(not JSON)", "raw": line.decode("utf-8", "replace")}
                with self.cond:
                    self.events.append(ev)
                    self.cond.notify_all()
            raw.close()

        self.reader = threading.Thread(target=read, name="events-reader", daemon=True)
        self.reader.start()

    def wait_log(self, proc, needle, timeout):
        why = proc.wait_log(needle, timeout)
        check(why is None, why)

    def metrics_address(self, proc, timeout=START_TIMEOUT):
        """The host:port a daemon's metrics endpoint bound (its `metrics listening on` line)."""
        self.wait_log(proc, "metrics listening on ", timeout)
        with open(proc.logpath, "rb") as f:
            found = re.findall(rb"metrics listening on (\S+)", f.read())
        return found[-1].decode()

    def wait_workers_assigned(self, names, topics, timeout=START_TIMEOUT):
        """Waits until the worker group is stable with exactly len(names) members, each owning
        at least one partition of the given topics (full names). The cooperative-sticky
        assignor balances partition counts over all subscribed topics, not per topic, so one
        worker may own only stage-2 partitions: pass every stage topic the test uses."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self.check_daemons()
            try:
                state, members = describe_group(self.bootstrap, self.worker_group)
                last = (state, members)
                owned = [sum(len(m.get(t, [])) for t in topics) for m in members.values()]
                if (state == "Stable" and len(members) == len(names) and all(owned)):
                    return members
            except OSError as e:  # ConnectionError too: not settled yet
                last = repr(e)
            check(time.monotonic() < deadline,
                  "worker group %s did not settle with %d members each owning part of %s "
                  "within %.0fs; last seen: %r" % (self.worker_group, len(names), topics,
                                                    timeout, last))
            time.sleep(0.25)

    # -- running commands ---------------------------------------------------------------------

    def octofleet(self, *argv, input=None, timeout=90, config=True):
        """Runs one octofleet command; returns CompletedProcess (text)."""
        full = [self.octofleet_bin] + list(argv) + (["-c", self.cfg] if config else [])
        r = subprocess.run(full, input=input, capture_output=True, timeout=timeout,
                           text=isinstance(input, str) or input is None)
        with open(os.path.join(self.dir, "cli.log"), "a") as f:
            f.write("--- %s %s -> %d\n" % (time.strftime("%H:%M:%S"), " ".join(argv),
                                           r.returncode))
            for out in (_text(r.stdout), _text(r.stderr)):
                if out:
                    f.write(out if out.endswith("\n") else out + "\n")
        return r

    def write_request(self, request):
        self.seq += 1
        path = os.path.join(self.dir, "request-%d.json" % self.seq)
        with open(path, "w") as f:
            if isinstance(request, str):
                f.write(request)
            else:
                json.dump(request, f, indent=2)
        return path

    def submit(self, request):
        """`octofleet submit`: returns the release id it prints."""
        path = self.write_request(request)
        r = self.octofleet("submit", path, "--by", "system-test")
        check(r.returncode == 0, "submit %s exited %d:\n%s" % (path, r.returncode, r.stderr))
        rid = r.stdout.strip()
        check(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", rid)
              is not None, "submit printed %r, not a release id" % rid)
        return rid

    def control(self, *argv, expect=0):
        """replay / resume / abort; they wait for the producer's answer: exit 0 when it acted,
        1 when it ignored the command (expect says which)."""
        r = self.octofleet(*argv, "--by", "system-test", "--reason", "system test")
        check(r.returncode == expect, "%s exited %d, want %d:\n%s"
              % (" ".join(argv), r.returncode, expect, r.stderr))
        return r

    def topic_dump(self, topic):
        """`octofleet topic dump` of a full topic name -> list of message dicts."""
        r = self.octofleet("topic", "dump", topic, "--from-beginning")
        check(r.returncode == 0, "topic dump %s exited %d:\n%s" % (topic, r.returncode, r.stderr))
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    # -- the simulator --------------------------------------------------------------------

    def sim_call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.sim_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as e:
            raise Failure("%s %s: HTTP %d %s" % (method, path, e.code, e.read()[:500]))
        return json.loads(text) if text.strip() else None

    def sim_get(self, path):
        return self.sim_call("GET", path)

    def set_rules(self, rules):
        """Replaces the simulator's rules (they apply to deployments created afterwards)."""
        self.sim_call("POST", "/sim/rules", {"rules": rules, "mode": "replace"})

    def deployments(self, release_versions=None):
        """/sim/deployments, optionally only those of some (project, version) pairs."""
        deps = self.sim_get("/sim/deployments")
        if release_versions is None:
            return deps
        return [d for d in deps if (d["project"], d["release"]) in release_versions]

    def deployment_counts(self):
        """{(project, version, environment, tenant): count} from /sim/deployment-counts."""
        out = {}
        for c in self.sim_get("/sim/deployment-counts"):
            out[(c["project"], c["release"], c["environment"], c["tenant"])] = c["count"]
        return out

    # -- events -------------------------------------------------------------------------

    def release_events(self, rid):
        with self.cond:
            return [e for e in self.events if e.get("data", {}).get("release_id") == rid]

    def wait_event(self, rid, etype, pred=None, timeout=EVENT_TIMEOUT, count=1):
        """Waits for count events of type etype ("release.completed", prefix added) for release
        rid that satisfy pred; returns the list of matching events."""
        full = CE_PREFIX + etype
        deadline = time.monotonic() + timeout
        while True:
            with self.cond:
                got = [e for e in self.events
                       if e.get("type") == full and e.get("data", {}).get("release_id") == rid
                       and (pred is None or pred(e))]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left > 0:
                    self.cond.wait(min(left, 0.5))
            self.check_daemons()
            if time.monotonic() >= deadline:
                raise Failure("waited %.0fs for %d %s event(s) of release %s, saw %d; the "
                              "release's events so far:\n%s"
                              % (timeout, count, full, rid, len(got),
                                 summarize(self.release_events(rid))))

    def mark(self, rid):
        """Position in the release's event list, for waits that must only look at later ones
        (e.g. the end of a release after a replay, when an earlier release.paused exists)."""
        return len(self.release_events(rid))

    def wait_release_end(self, rid, want="release.completed", timeout=EVENT_TIMEOUT, after=0):
        """Waits for the release to complete, pause, be aborted or rejected (among its events
        from position `after` on, see mark()); fails unless that end is `want`. Returns the
        end event."""
        ends = {CE_PREFIX + t for t in ("release.completed", "release.paused",
                                         "release.aborted", "release.rejected")}
        ev = None
        deadline = time.monotonic() + timeout
        while ev is None:
            with self.cond:
                mine = [e for e in self.events if e.get("data", {}).get("release_id") == rid]
                for e in mine[after:]:
                    if e.get("type") in ends:
                        ev = e
                        break
                else:
                    left = deadline - time.monotonic()
                    if left > 0:
                        self.cond.wait(min(left, 0.5))
            if ev is None:
                self.check_daemons()
                check(time.monotonic() < deadline,
                      "release %s did not end (want %s) within %.0fs; its events:\n%s"
                      % (rid, want, timeout, summarize(self.release_events(rid))))
        check(ev["type"] == CE_PREFIX + want, "release %s ended with %s, want %s: %s\nevents:\n%s"
              % (rid, ev["type"], want, json.dumps(ev.get("data"))[:2000],
                 summarize(self.release_events(rid))))
        return ev

    def wait_until(self, what, fn, timeout=EVENT_TIMEOUT, interval=0.2):
        """Polls fn() until it returns a truthy value; fails naming `what` and the last value."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = fn()
            if last:
                return last
            self.check_daemons()
            check(time.monotonic() < deadline, "waited %.0fs for %s; last seen: %r"
                  % (timeout, what, last))
            time.sleep(interval)

    # -- health and teardown ----------------------------------------------------------------

    def check_daemons(self):
        """Fails at once if a daemon we did not kill has exited."""
        procs = [self.sim, self.producer, self.follower] + list(self.workers.values())
        for p in procs:
            if p is not None and not p.expected_exit and not p.alive():
                raise Failure("%s exited unexpectedly with code %s; its log:\n%s"
                              % (p.name, p.popen.returncode, tail(p.logpath)))

    def stop(self):
        """Stops everything (workers, producer, follower, simulator: SIGTERM, then SIGKILL
        after a bound). Returns [(name, exit code)] of the daemons that were still running."""
        codes = []
        for name, p in list(self.workers.items()):
            if p.alive():
                p.expected_exit = True
                codes.append((p.name, p.stop(grace=30)))
        if self.producer is not None and self.producer.alive():
            self.producer.expected_exit = True
            codes.append(("producer", self.producer.stop(grace=30)))
        if self.follower is not None:
            self.follower.expected_exit = True
            self.follower.stop(grace=10)
        if self.reader is not None:
            self.reader.join(10)
        if self.sim is not None and self.sim.alive():
            self.sim.expected_exit = True
            codes.append(("octopus-sim", self.sim.stop(grace=10)))
        return codes

    def logs(self):
        procs = [self.sim, self.producer, self.follower] + self.retired + \
            list(self.workers.values())
        seen, out = set(), []
        for p in procs:
            if p is not None and p.logpath not in seen:
                seen.add(p.logpath)
                out.append(p.logpath)
        cli = os.path.join(self.dir, "cli.log")
        if os.path.exists(cli):
            out.append(cli)
        return out

    def check_no_secret(self):
        """The API key must not appear in any log, event or CLI output (only in its file)."""
        files = self.logs() + [os.path.join(self.dir, "events.jsonl"), self.cfg]
        for path in files:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            check(self.api_key.encode() not in data,
                  "the Octopus API key appears in %s" % path)


def http_get(address, path, timeout=10):
    """GET http://address/path -> (status, body text); a refused connection raises OSError."""
    try:
        with urllib.request.urlopen("http://%s%s" % (address, path), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_metrics(text):
    """Prometheus text format -> {(name, ((label, value), ...)): float} (labels sorted).
    Enough of the format for what octofleet renders: no timestamps, escapes \\ \" \n."""
    out = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        check(m is not None, "unparsable metrics line %r" % line)
        labels = tuple(sorted((k, v.replace('\\"', '"').replace("\\n", "\n")
                               .replace("\\\\", "\\"))
                              for k, v in label_re.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric_sum(metrics, name, **labels):
    """Sum of the series of name whose labels include the given ones."""
    total = 0.0
    for (n, ls), v in metrics.items():
        d = dict(ls)
        if n == name and all(d.get(k) == want for k, want in labels.items()):
            total += v
    return total


def _text(x):
    if x is None:
        return ""
    return x if isinstance(x, str) else x.decode("utf-8", "replace")


def summarize(events, limit=80):
    """One short line per event, for failure messages."""
    lines = []
    for e in events[-limit:]:
        d = e.get("data", {})
        bits = [e.get("type", "?").replace(CE_PREFIX, "")]
        for k in ("stage", "environment", "project", "tenant", "attempt", "round"):
            if d.get(k) is not None:
                bits.append("%s=%s" % (k, d[k]))
        if d.get("message"):
            bits.append("message=%r" % d["message"][:120])
        if d.get("errors"):
            bits.append("errors=%r" % d["errors"][:5])
        src = e.get("source", "")
        if src.startswith("octofleet/worker/"):
            bits.append("by " + src[len("octofleet/worker/"):])
        lines.append("  " + " ".join(bits))
    if len(events) > limit:
        lines.insert(0, "  (%d earlier events not shown)" % (len(events) - limit))
    return "\n".join(lines) if lines else "  (none)"


# ---- plan expectations from the world fixture ------------------------------------------------


def release_request(release, environments, stages, tenants="all", **extra):
    """A release request (docs/requests.md). Each stage is a list of (project, version) pairs
    (an unnamed stage) or a (name, [(project, version), ...]) pair (a named one); extra keys
    (policy, ...) are added as they are."""
    def projects(pairs):
        return [{"project": p, "version": v} for p, v in pairs]

    out = {"release": release, "environments": list(environments), "tenants": tenants,
           "stages": [{"name": st[0], "projects": projects(st[1])} if isinstance(st, tuple)
                      else projects(st) for st in stages]}
    out.update(extra)
    return out


def write_tenant_world(workdir, name, projects, tenants, task_cap, seed):
    """A one-space world like system-world.json's: environment Dev, the tenanted projects (each
    with release 1.0.0) and the tenants, every tenant connected to every project in Dev; no
    rules, no history. Written to <workdir>/<name>-world.json; returns its path."""
    world = {
        "task_cap": task_cap,
        "seed": seed,
        "rules": [],
        "spaces": [{
            "name": "Default", "id": "Spaces-1", "is_default": True,
            "environments": ["Dev"],
            "lifecycles": [{"name": "Train", "phases": [{"name": "Early",
                                                         "environments": ["Dev"]}]}],
            "projects": [{"name": p, "tenanted": "Tenanted", "lifecycle": "Train",
                          "releases": ["1.0.0"]} for p in projects],
            "tenants": [{"name": t, "projects": {p: ["Dev"] for p in projects}}
                        for t in tenants],
            "history": [],
        }],
    }
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(os.path.abspath(workdir), "%s-world.json" % name)
    with open(path, "w") as f:
        json.dump(world, f)
    return path


def expected_targets(world, request):
    """The (stage, project, environment, tenant-or-None) a request deploys, computed from the
    world fixture: tenants "all" or {"names": [...]}, intersected with the tenants connected to
    each project in each environment (docs/requests.md). Skipped entries are left out; the
    if-not-current condition is not applied (callers account for it)."""
    space = world["spaces"][0]
    projects = {p["name"]: p for p in space["projects"]}
    out = set()
    for si, stage in enumerate(request["stages"], start=1):
        entries = stage["projects"] if isinstance(stage, dict) else stage
        for ent in entries:
            if ent.get("skip"):
                continue
            proj = projects[ent["project"]]
            for env in request["environments"]:
                if proj["tenanted"] == "Untenanted":
                    out.add((si, proj["name"], env, None))
                    continue
                sel = request.get("tenants")
                for t in space["tenants"]:
                    if env not in t.get("projects", {}).get(proj["name"], []):
                        continue
                    if sel == "all" or (isinstance(sel, dict)
                                        and t["name"] in sel.get("names", [])):
                        out.add((si, proj["name"], env, t["name"]))
    return out


def plan(fleet, request):
    """`octofleet plan REQUEST --json` (resolved against the simulator, deploys nothing)."""
    path = fleet.write_request(request)
    r = fleet.octofleet("plan", path, "--json")
    check(r.returncode == 0, "plan exited %d:\n%s" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


def plan_targets(plan_doc, action="deploy"):
    """{(stage, project, environment, tenant-or-None): job_id} of a plan's rows with action."""
    return {(j["stage"], j["project"], j["environment"], j.get("tenant")): j["job_id"]
            for j in plan_doc["jobs"] if j["action"] == action}


def job_key(ev):
    d = ev["data"]
    return (d.get("stage"), d.get("project"), d.get("environment"), d.get("tenant"))


def of_type(events, etype):
    return [e for e in events if e.get("type") == CE_PREFIX + etype]


# ---- entry point ------------------------------------------------------------------------


def read_bootstrap(args):
    path = args.bootstrap_file
    check(os.path.exists(path), "no bootstrap file %s: is the kafka fixture running?" % path)
    with open(path) as f:
        b = f.readline().strip()
    check(b != "", "empty bootstrap file %s" % path)
    return b


def main(scenario, description):
    """Parses the common arguments and runs scenario(args) with timing and log tails.
    Exits 0 on success, 1 on failure, 77 (skipped) without a broker."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--octofleet", required=True, help="the octofleet binary")
    ap.add_argument("--sim", required=True, help="the octopus-sim binary")
    ap.add_argument("--fixtures", required=True, help="tests/fixtures")
    ap.add_argument("--workdir", required=True, help="where logs and configs go")
    ap.add_argument("--bootstrap-file", default=os.environ.get("OF_TEST_KAFKA_BOOTSTRAP_FILE"),
                    help="file holding the broker address (default $OF_TEST_KAFKA_BOOTSTRAP_FILE)")
    args = ap.parse_args()
    if not args.bootstrap_file:
        print("skipped: no broker (set OF_TEST_KAFKA_BOOTSTRAP_FILE or --bootstrap-file)")
        sys.exit(SKIP)
    os.makedirs(args.workdir, exist_ok=True)
    t0 = time.monotonic()
    fleets = []
    ok = False
    try:
        scenario(args, fleets)
        ok = True
    except Failure as e:
        print("FAIL: %s" % e, flush=True)
    except Exception:  # a harness bug or an unexpected reply: still show the logs
        traceback.print_exc()
    finally:
        for fl in fleets:
            try:
                codes = fl.stop()
            except Exception:
                traceback.print_exc()
                codes, ok = [], False
            bad = [(n, c) for n, c in codes if c != 0]
            if ok and bad:
                print("FAIL: daemons did not stop cleanly on SIGTERM (want exit 0): %r" % bad)
                ok = False
            if ok:
                try:
                    fl.check_no_secret()
                except Failure as e:
                    print("FAIL: %s" % e)
                    ok = False
            if not ok:
                for path in fl.logs():
                    print("\n==== %s (last lines) ====\n%s" % (path, tail(path, 60)))
    dt = time.monotonic() - t0
    print("%s in %.1fs (logs in %s)" % ("PASS" if ok else "FAILED", dt, args.workdir), flush=True)
    sys.exit(0 if ok else 1)
