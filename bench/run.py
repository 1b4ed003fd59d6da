#!/usr/bin/env python3
"""octofleet's benchmark suite on the real broker (issue 8, part 7).

    python3 bench/run.py --build build [--scenarios S1,S3] [--quick] [--out docs/benchmarks.md]
                         [--kafka-property NAME=VALUE ...] [--set GROUP.KEY=VALUE ...]
                         [--octopus-latency-ms MS]
                         [--log-level LEVEL]

Starts a real Apache Kafka broker (tests/kafka/broker.py), and for each scenario a fresh
octopus-sim with a generated world (scripts/gen-world.py) and the fleet as separate processes
(`octofleet producer`, W x `octofleet worker`, `octofleet events --follow`), runs one warm-up
release, then the measured release, and measures per process CPU (/proc/PID/stat utime+stime
before and after the measured window), peak and final RSS (/proc/PID/status VmHWM, VmRSS),
Octopus requests by route (octopus-sim's /sim/stats before and after), wall time and jobs/s; from
the events and the simulator's task times it derives completion and stage-gate latencies.
Writes docs/benchmarks.md with every figure beside the issue's goal.

Scenarios (sizes shown full / --quick):
  S1 throughput   7 projects x 2,000 / 200 tenants, zero-length deployments, 1 producer + 3 workers
  S2 makespan     task cap 20, 200 ms deployments, 7 projects in 4 stages x 2,000 / 200 tenants,
                  policy.gate "stage" and (when `octofleet plan` accepts it) "tenant"
  S3 in flight    one worker, 10,004 / 1,004 deployments in flight (300 s / 60 s each)
  S4 API cost     1,000 / 100 tenants (6,002 / 602 deployments), 60 s deployments
  S5 latency      completion noticed and stage gates: a quiet fleet's own run (20 / 5 one-tenant
                  releases of 4 one-project stages, one after another), and S1's and S2's figures
                  when they run too

Fails (exit 1, naming the scenario and the process) when a daemon exits, a process cannot be
started, or a release does not complete within its deadline; stops every process it started
(the broker included) on the way out, also on Ctrl-C or SIGTERM. Not part of ctest or CI.

Python 3 standard library only. Linux (reads /proc).
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "kafka"))
import broker as kbroker  # noqa: E402  (the test broker: start/stop, Kafka wire helpers)

CE = "octofleet."
VERSION = "2026.18.0"
# What the bench's broker runs with beyond the tests' server.properties: the group rebalance
# delay a production broker has (3 s). The tests set it to 0, so a worker that starts first joins
# alone, keeps every stage topic's partitions and gives the later ones away unevenly per topic
# (docs/benchmarks.md, "S1's two speeds"); with the delay the workers a scenario starts together
# join one assignment, as a fleet started together does in production.
BROKER_PROPERTIES = ["group.initial.rebalance.delay.ms=3000"]

STAGES = [("database", ["Schema"]),
          ("services", ["Identity", "Billing", "Reporting"]),
          ("integrations", ["Integrations"]),
          ("web", ["Portal", "Web"])]
ALL_PROJECTS = [p for _, ps in STAGES for p in ps]
# S5's quiet releases: one tenant through four one-project stages (tenanted projects only, so
# each release has targets of its own and nothing is deployed twice).
QUIET_STAGES = [("identity", ["Identity"]), ("billing", ["Billing"]),
                ("integrations", ["Integrations"]), ("web", ["Portal"])]
QUIET_ENV = "Staging"
ENVIRONMENTS = ["On Site Beta", "Hosted Beta"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class BenchFailure(Exception):
    """A scenario could not be run or measured; the message names the scenario and process."""


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ---- processes: the system tests' children.py (log file, SIGTERM then SIGKILL, death with us) ----

sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
import children  # noqa: E402

LIVE = children.LIVE  # every Proc started and not yet stopped
tail = children.tail


class Proc(children.Proc):
    """A scenario's child process; a start that fails is the scenario's failure."""

    def __init__(self, scenario, name, argv, logpath, env=None, pipe_stdout=False):
        self.scenario = scenario
        try:
            super().__init__(name, argv, logpath, env=env,
                             stdout=subprocess.PIPE if pipe_stdout else None,
                             label="%s: %s" % (scenario, name))
        except OSError as e:
            raise BenchFailure("%s: cannot start %s (%s): %s" % (scenario, name, argv[0], e))


def proc_sample(pid):
    """{'cpu': seconds (utime+stime), 'rss_kb', 'hwm_kb'} of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
    except OSError:
        return None
    fields = st[st.rfind(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)
    out = {"cpu": cpu, "rss_kb": 0, "hwm_kb": 0}
    m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    if m:
        out["rss_kb"] = int(m.group(1))
    m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    if m:
        out["hwm_kb"] = int(m.group(1))
    return out


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a list; None when empty."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(math.ceil(p / 100.0 * len(v))) - 1))
    return v[k]


def parse_time(s):
    """RFC 3339 ('Z' or '+00:00') -> POSIX seconds (float); None stays None."""
    if not s:
        return None
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


# A raw Kafka DescribeGroups, to know when the worker group has settled: the test broker
# harness's (tests/kafka/broker.py), as the system tests use it.
describe_group = kbroker.describe_group


# ---- the broker ---------------------------------------------------------------------------------


class Broker:
    def __init__(self, build, workdir):
        self.rundir = os.path.join(workdir, "kafka-run")
        home = os.path.join(build, "kafka")
        self.libs = os.path.join(home, "libs")
        self.m2 = os.environ.get("OF_KAFKA_M2_REPO") or os.path.join(home, "m2")
        self.bootstrap = None
        self.started = False

    def start(self):
        os.makedirs(self.rundir, exist_ok=True)
        argv = [sys.executable, kbroker.__file__, "start", "--dir", self.rundir, "--libs", self.libs,
                "--m2", self.m2, "--timeout", "180", "--exit-with-parent"]
        for prop in BROKER_PROPERTIES:
            argv += ["--property", prop]
        log("starting Kafka %s (jars from Maven Central on the first run)" % kbroker.KAFKA_VERSION)
        self.started = True  # even a failed start may leave something for stop() to remove
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=1800)
        if r.returncode != 0:
            raise BenchFailure("broker: cannot start the Kafka broker (broker.py start exited %d):"
                               "\n%s" % (r.returncode, r.stderr[-3000:]))
        self.bootstrap = r.stdout.strip().splitlines()[-1]
        log("broker ready at %s" % self.bootstrap)

    def pid(self):
        return kbroker.read_pid(os.path.join(self.rundir, "broker.pid"))

    def alive(self):
        pid = self.pid()
        return bool(pid) and kbroker.alive(pid)

    def stop(self):
        if not self.started:
            return
        self.started = False
        r = subprocess.run([sys.executable, kbroker.__file__, "stop", "--dir", self.rundir],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        log("broker stopped (%s)" % (r.stderr.strip().splitlines() or ["ok"])[-1])


# ---- one fleet: simulator, config, producer, workers, event follower --------------------------


class Fleet:
    def __init__(self, bench, scenario, tenants, workers, task_cap, worker_settings=None):
        self.bench = bench
        self.scenario = scenario
        self.tenants = tenants
        self.nworkers = workers
        self.task_cap = task_cap
        self.worker_settings = dict(worker_settings or {})
        self.dir = os.path.join(bench.workdir, scenario)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.stamp = "%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000000)
        self.prefix = "bench-%s-%s." % (scenario.lower(), self.stamp)
        self.worker_group = "bench-%s-%s-workers" % (scenario.lower(), self.stamp)
        self.api_key = "API-BENCH" + secrets.token_hex(12).upper()
        self.sim = None
        self.sim_url = None
        self.producer = None
        self.workers = []
        self.follower = None
        self.lines = []  # raw event lines (bytes), in arrival order
        self.ends = {}  # release_id -> (type, event) of its end event
        self.cond = threading.Condition()
        self.cfg = None
        self.world = None
        self.seq = 0
        self.assignment = {}  # worker group member -> stage topic -> partitions (after warm-up)

    # -- set-up

    def start(self):
        self.gen_world()
        self.start_sim()
        self.write_config()
        self.producer = self.spawn("producer", ["producer"], "producer.log")
        self.wait_log(self.producer, "producer running", 120)
        self.start_follower()
        for i in range(1, self.nworkers + 1):
            self.workers.append(self.spawn("worker w%d" % i, ["worker", "--name", "w%d" % i],
                                           "worker-w%d.log" % i))
        return self

    def gen_world(self):
        path = os.path.join(self.dir, "world.json")
        argv = [sys.executable, os.path.join(ROOT, "scripts", "gen-world.py"),
                "--tenants", str(self.tenants), "--projects", "7", "--seed", "42",
                "--beta-percent", "100", "--connect-percent", "100",
                "--task-cap", str(self.task_cap), "--api-key", self.api_key, "--out", path]
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchFailure("%s: gen-world.py exited %d: %s" % (self.scenario, r.returncode,
                                                                    r.stderr))
        self.world_path = path
        with open(path) as f:
            self.world = json.load(f)

    def start_sim(self):
        argv = [self.bench.sim_bin, "--port", "0", "--fixture", self.world_path,
                "--task-cap", str(self.task_cap), "--log-level", "warn"]
        self.sim = Proc(self.scenario, "octopus-sim", argv, os.path.join(self.dir, "sim.log"),
                        pipe_stdout=True)
        line = self.sim.popen.stdout.readline().decode()
        m = re.fullmatch(r"octopus-sim listening on (http://127\.0\.0\.1:\d+)\n", line)
        if not m:
            raise BenchFailure("%s: octopus-sim did not start: first line %r\n%s"
                               % (self.scenario, line, tail(self.sim.logpath)))
        self.sim_url = m.group(1)
        self.sim.popen.stdout.close()
        lat = self.bench.args.octopus_latency_ms
        if lat:
            # A real server answers in tens of milliseconds, the simulator in microseconds.
            self.sim_call("POST", "/sim/faults", {"route": "*", "count": -1, "latency_ms": lat})

    def write_config(self):
        keyfile = os.path.join(self.dir, "octopus-api-key")
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.api_key + "\n")
        w = {"drain_timeout": '"10s"'}
        w.update(self.worker_settings)
        octo = {"url": '"%s"' % self.sim_url, "api_key_file": '"%s"' % keyfile}
        if self.bench.has_task_budget:
            octo["task_budget"] = "0"  # automatic: the server's MaxConcurrentTasks
        groups = {
            "topics": {"prefix": '"%s"' % self.prefix, "max_stages": "4"},
            "octopus": octo,
            "producer": {"group_id": '"bench-%s-%s-producer"' % (self.scenario.lower(), self.stamp),
                         "transactional_id": '"bench-%s-%s-producer"' % (self.scenario.lower(),
                                                                        self.stamp)},
            "worker": dict({"group_id": '"%s"' % self.worker_group}, **w),
            "log": {"level": '"%s"' % self.bench.args.log_level},
        }
        for group, key, value in self.bench.args.set:  # --set: the last word on a key
            groups.setdefault(group, {})[key] = value
        self.cfg = os.path.join(self.dir, "octofleet.cfg")
        with open(self.cfg, "w") as f:
            f.write("""# written by bench/run.py for scenario %(sc)s
kafka = {
    bootstrap_servers = "%(bootstrap)s";
    client_id = "bench-%(scl)s";
    properties = ( %(props)s );
};
""" % {"sc": self.scenario, "scl": self.scenario.lower(), "bootstrap": self.bench.broker.bootstrap,
       "props": ", ".join('"%s"' % kv for kv in self.bench.args.kafka_property)})
            for group, keys in groups.items():
                f.write("%s = {\n%s\n};\n" % (group, "\n".join("    %s = %s;" % kv
                                                                 for kv in keys.items())))

    def spawn(self, name, argv, logname):
        return Proc(self.scenario, name, [self.bench.octofleet_bin] + argv + ["-c", self.cfg],
                    os.path.join(self.dir, logname))

    def start_follower(self):
        argv = [self.bench.octofleet_bin, "events", "--follow", "-c", self.cfg]
        self.follower = Proc(self.scenario, "events --follow", argv,
                             os.path.join(self.dir, "events.log"), pipe_stdout=True)
        raw = open(os.path.join(self.dir, "events.jsonl"), "wb")
        release = b'"' + (CE + "release.").encode()

        def read():
            # Cheap on purpose: only release.* lines are decoded while the fleet runs; the
            # rest are kept raw and decoded after the measured window.
            for line in self.follower.popen.stdout:
                raw.write(line)
                with self.cond:
                    self.lines.append(line)
                    if release in line:
                        try:
                            ev = json.loads(line)
                        except ValueError:
                            ev = None
                        t = ev.get("type", "") if ev else ""
                        if t in (CE + "release.completed", CE + "release.paused",
                                 CE + "release.aborted", CE + "release.rejected"):
                            self.ends[ev["data"]["release_id"]] = (t, ev)
                    self.cond.notify_all()
            raw.close()

        self.reader = threading.Thread(target=read, name="events-reader", daemon=True)
        self.reader.start()

    def wait_log(self, proc, needle, timeout):
        why = proc.wait_log(needle, timeout)
        if why:
            raise BenchFailure("%s: %s" % (self.scenario, why))

    def daemons(self):
        return [p for p in [self.sim, self.producer, self.follower] + self.workers if p]

    def check_daemons(self):
        for p in self.daemons():
            if not p.expected_exit and not p.alive():
                raise BenchFailure("%s: %s exited unexpectedly with code %s; its log (%s):\n%s"
                                   % (self.scenario, p.name, p.popen.returncode, p.logpath,
                                      tail(p.logpath)))
        if not self.bench.broker.alive():
            raise BenchFailure("%s: the Kafka broker exited; its log: %s"
                               % (self.scenario, os.path.join(self.bench.broker.rundir,
                                                              "broker.out")))

    def stop(self):
        codes = []
        for p in self.workers:
            codes.append((p.name, p.stop(grace=40)))
        if self.producer:
            codes.append(("producer", self.producer.stop(grace=40)))
        if self.follower:
            self.follower.stop(grace=10)
        if self.sim:
            codes.append(("octopus-sim", self.sim.stop(grace=10)))
        bad = [(n, c) for n, c in codes if c != 0]
        if bad:
            log("%s: daemons that did not stop with exit 0 on SIGTERM: %r (logs in %s)"
                % (self.scenario, bad, self.dir))
        return bad

    # -- the simulator

    def sim_call(self, method, path, body=None, timeout=120):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.sim_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                text = resp.read().decode()
        except (urllib.error.URLError, OSError) as e:
            raise BenchFailure("%s: octopus-sim %s %s: %s" % (self.scenario, method, path, e))
        return json.loads(text) if text.strip() else None

    def set_rules(self, duration_ms):
        # Warm-up deployments go to Development and take no time; the measured ones, the rest.
        self.sim_call("POST", "/sim/rules", {"mode": "replace", "rules": [
            {"environment": "Development", "duration_ms": 0},
            {"project": "*", "duration_ms": duration_ms}]})

    # -- commands

    def octofleet(self, *argv, timeout=300):
        full = [self.bench.octofleet_bin] + list(argv) + ["-c", self.cfg]
        r = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        with open(os.path.join(self.dir, "cli.log"), "a") as f:
            f.write("--- %s %s -> %d\n%s" % (time.strftime("%H:%M:%S"), " ".join(argv),
                                               r.returncode, r.stderr))
        return r

    def write_request(self, req):
        self.seq += 1
        path = os.path.join(self.dir, "request-%d.json" % self.seq)
        with open(path, "w") as f:
            json.dump(req, f, indent=1)
        return path

    def submit(self, req):
        path = self.write_request(req)
        r = self.octofleet("submit", path, "--by", "bench", "--reason", "benchmark")
        if r.returncode != 0:
            raise BenchFailure("%s: octofleet submit exited %d:\n%s"
                               % (self.scenario, r.returncode, r.stderr[-2000:]))
        return r.stdout.strip().splitlines()[-1]

    def wait_end(self, rid, timeout, what):
        deadline = time.monotonic() + timeout
        last_report = time.monotonic()
        while True:
            with self.cond:
                end = self.ends.get(rid)
                if end is None:
                    self.cond.wait(0.5)
                    end = self.ends.get(rid)
                n_lines = len(self.lines)
            if end is not None:
                if end[0] != CE + "release.completed":
                    raise BenchFailure("%s: %s release %s ended with %s: %s"
                                       % (self.scenario, what, rid, end[0],
                                          json.dumps(end[1].get("data"))[:2000]))
                return end[1]
            self.check_daemons()
            if time.monotonic() > deadline:
                raise BenchFailure("%s: %s release %s did not complete within %.0fs "
                                   "(%d events seen; logs in %s)"
                                   % (self.scenario, what, rid, timeout, n_lines, self.dir))
            if time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                log("%s: waiting for %s release (%d events so far, %.0fs left)"
                    % (self.scenario, what, n_lines, deadline - time.monotonic()))

    def wait_workers_assigned(self, timeout=120):
        topics = [self.prefix + "jobs.s%d" % i for i in range(1, 5)]
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self.check_daemons()
            try:
                state, members = describe_group(self.bench.broker.bootstrap, self.worker_group)
                last = (state, {m: sorted(a) for m, a in members.items()})
                owned = [sum(len(m.get(t, [])) for t in topics) for m in members.values()]
                if state == "Stable" and len(members) == self.nworkers and all(owned):
                    self.assignment = {m: {t[len(self.prefix):]: sorted(a.get(t, []))
                                           for t in topics} for m, a in members.items()}
                    return
            except OSError as e:  # ConnectionError too: not settled yet
                last = repr(e)
            if time.monotonic() > deadline:
                raise BenchFailure("%s: the worker group did not settle with %d members within "
                                   "%.0fs; last seen %r" % (self.scenario, self.nworkers, timeout,
                                                            last))
            time.sleep(0.25)

    def warm_up(self):
        """One small release through every stage topic (Development, zero-length tasks), so the
        measured window excludes group joins, first metadata look-ups and connection set-up."""
        names = [t["name"] for t in self.world["spaces"][0]["tenants"][:4]]
        req = request("bench-warmup", ["Development"], STAGES, {"names": names})
        # Submitted once every worker has its partitions, so the warm-up's own gates measure
        # the first release after a start, not the group's join.
        self.wait_workers_assigned()
        rid = self.submit(req)
        self.wait_end(rid, 180, "warm-up")
        self.wait_workers_assigned()

    # -- measuring

    def snapshot(self):
        """CPU and RSS of every process of the fleet (and the simulator and the broker)."""
        out = {}
        procs = [("producer", self.producer)] + [(p.name.replace("worker ", "worker "), p)
                                                 for p in self.workers]
        procs += [("octopus-sim", self.sim), ("events --follow", self.follower)]
        for name, p in procs:
            s = proc_sample(p.pid)
            if s is None:
                raise BenchFailure("%s: %s (pid %d) is gone" % (self.scenario, name, p.pid))
            out[name] = s
        bpid = self.bench.broker.pid()
        if bpid:
            s = proc_sample(bpid)
            if s:
                out["kafka broker"] = s
        return out

    def events_of(self, rid):
        with self.cond:
            lines = list(self.lines)
        key = rid.encode()
        out = []
        for line in lines:
            if key not in line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("data", {}).get("release_id") == rid:
                out.append(ev)
        return out


def request(name, environments, stages, tenants="all", gate=None, version=VERSION):
    req = {"release": name, "space": "Default", "environments": list(environments),
           "tenants": tenants,
           "stages": [{"name": n, "projects": [{"project": p, "version": version} for p in ps]}
                      for n, ps in stages]}
    if gate:
        req["policy"] = {"gate": gate}
    return req


# ---- one measured release ------------------------------------------------------------------------


def diff_routes(before, after):
    out = {}
    for route, n in after.get("routes", {}).items():
        if " /api" not in route:
            continue  # the bench's own /sim/ calls
        d = n - before.get("routes", {}).get(route, 0)
        if d:
            out[route] = d
    return out


def measure_release(fleet, req, timeout, what="measured", steady=None):
    """Submits req and waits for release.completed. Returns a dict of measurements: wall, jobs,
    per-process CPU in the window and RSS, requests by route, the release's events and the
    simulator's deployments of it. `steady(fleet, rid)` (optional) runs while the release is in
    flight and its result is stored under 'steady'."""
    fleet.sim_call("DELETE", "/sim/task-peaks")
    stats0 = fleet.sim_call("GET", "/sim/stats")
    snap0 = fleet.snapshot()
    t0 = time.time()
    m0 = time.monotonic()
    rid = fleet.submit(req)
    log("%s: submitted %s release %s (deadline %.0fs)" % (fleet.scenario, req["release"], rid,
                                                          timeout))
    steady_result = steady(fleet, rid) if steady else None
    end = fleet.wait_end(rid, timeout - (time.monotonic() - m0), what)
    wall_mono = time.monotonic() - m0
    snap1 = fleet.snapshot()
    stats1 = fleet.sim_call("GET", "/sim/stats")
    peaks = fleet.sim_call("GET", "/sim/task-peaks")
    t_end = parse_time(end.get("time")) or time.time()
    counts = end["data"].get("counts", {})
    deps = [d for d in fleet.sim_call("GET", "/sim/deployments")
            if d.get("environment") in req["environments"] and d.get("release") == VERSION]
    dcounts = fleet.sim_call("GET", "/sim/deployment-counts")
    twice = [c for c in dcounts if c.get("count", 1) > 1 and c.get("environment") in
             req["environments"]]
    if twice:
        raise BenchFailure("%s: %d target(s) deployed more than once, e.g. %r"
                           % (fleet.scenario, len(twice), twice[:3]))
    events = fleet.events_of(rid)
    jobs = counts.get("total", len(deps))
    cpu = {}
    for name, s1 in snap1.items():
        s0 = snap0.get(name)
        cpu[name] = {"cpu_s": s1["cpu"] - (s0["cpu"] if s0 else 0.0),
                     "hwm_kb": s1["hwm_kb"], "rss_kb": s1["rss_kb"]}
    res = {
        "rid": rid, "t0": t0, "t_end": t_end, "wall": t_end - t0, "wall_mono": wall_mono,
        "jobs": jobs, "counts": counts, "deployments": deps, "events": events, "procs": cpu,
        "routes": diff_routes(stats0, stats1),
        "api_requests": stats1.get("api_total", 0) - stats0.get("api_total", 0),
        "peaks": peaks, "steady": steady_result, "request": req,
    }
    if len(deps) != jobs:
        raise BenchFailure("%s: %d deployments in octopus-sim for %d jobs of release %s"
                           % (fleet.scenario, len(deps), jobs, rid))
    log("%s: release %s completed: %d jobs in %.1fs" % (fleet.scenario, rid, jobs, res["wall"]))
    return res


def fleet_cpu(res):
    return sum(v["cpu_s"] for k, v in res["procs"].items()
               if k == "producer" or k.startswith("worker"))


# ---- latencies from the events and the simulator's task times -------------------------------


FINAL = {CE + t for t in ("job.succeeded", "job.failed", "job.cancelled", "job.timed_out")}


def completion_latencies(res):
    """Seconds from each task's CompletedTime (octopus-sim) to its final job event's time."""
    done = {d["task_id"]: parse_time(d.get("completed_time")) for d in res["deployments"]}
    out = []
    for ev in res["events"]:
        if ev.get("type") in FINAL:
            tid = ev["data"].get("task_id")
            ct = done.get(tid)
            et = parse_time(ev.get("time"))
            if ct is not None and et is not None:
                out.append(et - ct)
    return out


LOG_TIME = re.compile(r"(\S+Z) \[[^]]*\] level=debug (.*)")
COMMITTED = re.compile(r"batch committed ")
RECEIVED = re.compile(r"job received .* job=(\S+)")


def gate_split(logdir, res, stages):
    """A quiet release's gates in the steps after the decision, from the daemons' debug logs:
    the decision's transaction (its job.dispatched → the producer's next "batch committed"
    line: the producer is one thread, so the first commit logged after a decision is that
    decision's), the delivery (→ a worker's "job received" for the first job of the stage) and
    the start (→ the deployment's Created in octopus-sim: the adoption look-up and the create).
    Returns a list of (transaction, delivery, start) in seconds, one per gate that has all
    three; an empty list when the logs are not at debug level."""
    commits, received = [], {}
    for name in sorted(os.listdir(logdir)):
        if not (name == "producer.log" or name.startswith("worker-")):
            continue
        with open(os.path.join(logdir, name), errors="replace") as f:
            for line in f:
                m = LOG_TIME.match(line)
                if not m:
                    continue
                if name == "producer.log":
                    if COMMITTED.match(m.group(2)):
                        commits.append(parse_time(m.group(1)))
                else:
                    j = RECEIVED.match(m.group(2))
                    if j:
                        received.setdefault(j.group(1), parse_time(m.group(1)))
    commits.sort()
    stage_of = {p: n for n, (_, ps) in enumerate(stages, start=1) for p in ps}
    created = {}
    for dep in res["deployments"]:
        created.setdefault(stage_of[dep["project"]], []).append(parse_time(dep.get("created")))
    first = {}  # stage → (time, job id) of its first job.dispatched
    for ev in res["events"]:
        d = ev.get("data", {})
        if ev.get("type") == CE + "job.dispatched" and d.get("stage") is not None:
            t = parse_time(ev.get("time"))
            if d["stage"] not in first or t < first[d["stage"]][0]:
                first[d["stage"]] = (t, d.get("job_id"))
    out = []
    for st in range(2, len(stages) + 1):
        if st not in first or st not in created:
            continue
        t, job = first[st]
        c = next((x for x in commits if x > t), None)
        r = received.get(job)
        if c is not None and r is not None:
            out.append((c - t, r - c, min(created[st]) - r))
    return out


def gate_latencies(res, lanes=False, stages=STAGES):
    """Stage gates of one release: from the last final event of stage N (per environment, or per
    environment and tenant lane) to the first job.dispatched of stage N+1 there and to the first
    create of stage N+1 there (the deployment's Created time in octopus-sim). Lists of seconds."""
    finals, dispatched = {}, {}
    for ev in res["events"]:
        d = ev.get("data", {})
        t = parse_time(ev.get("time"))
        if t is None or d.get("stage") is None:
            continue
        k = (d.get("environment"), d.get("stage"), d.get("tenant"))
        if ev.get("type") in FINAL:
            finals.setdefault(k, []).append(t)
        elif ev.get("type") == CE + "job.dispatched":
            dispatched.setdefault(k, []).append(t)
    stage_of = {}
    for n, (_, ps) in enumerate(stages, start=1):
        for p in ps:
            stage_of[p] = n
    created = {}
    for dep in res["deployments"]:
        k = (dep["environment"], stage_of[dep["project"]], dep.get("tenant"))
        created.setdefault(k, []).append(parse_time(dep.get("created")))
    to_dispatch, to_create = [], []
    envs = res["request"]["environments"]
    if not lanes:
        def merge(m, env, st):
            return [t for (e, s, _), ts in m.items() if e == env and s == st for t in ts]
        for env in envs:
            for st in range(1, len(stages)):
                f, nd, nc = merge(finals, env, st), merge(dispatched, env, st + 1), \
                    merge(created, env, st + 1)
                if f and nd:
                    to_dispatch.append(min(nd) - max(f))
                if f and nc:
                    to_create.append(min(nc) - max(f))
        return to_dispatch, to_create
    # Lanes: a tenant's stage N+1 waits for its own stage-N jobs and the untenanted ones there.
    tenants = {k[2] for k in list(dispatched) + list(finals) if k[2] is not None}
    for env in envs:
        for st in range(1, len(stages)):
            shared = finals.get((env, st, None), [])
            for ten in tenants:
                f = finals.get((env, st, ten), []) + shared
                nd = dispatched.get((env, st + 1, ten), [])
                nc = created.get((env, st + 1, ten), [])
                if f and nd:
                    to_dispatch.append(min(nd) - max(f))
                if f and nc:
                    to_create.append(min(nc) - max(f))
    return to_dispatch, to_create


# ---- the scenarios ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.octofleet_bin = os.path.join(self.build, "bin", "octofleet")
        self.sim_bin = os.path.join(self.build, "bin", "octopus-sim")
        for b in (self.octofleet_bin, self.sim_bin):
            if not os.access(b, os.X_OK):
                raise BenchFailure("setup: %s is missing; build it first (cmake --build %s "
                                   "--target octofleet octopus-sim)" % (b, args.build))
        self.workdir = os.path.abspath(args.workdir or os.path.join(self.build, "bench-run"))
        os.makedirs(self.workdir, exist_ok=True)
        self.broker = Broker(self.build, self.workdir)
        self.quick = args.quick
        self.results = {}
        self.notes = []
        self.fleets = []
        dump = subprocess.run([self.octofleet_bin, "worker", "--dump-config", "-c",
                               os.path.join(ROOT, "config", "octofleet.cfg.example")],
                              capture_output=True, text=True)
        self.has_task_budget = "task_budget" in dump.stdout
        # the automatic budget's headroom bound, in percent of the cap (docs/gating.md)
        m = re.search(r"task_budget_headroom\s*=\s*(\d+)", dump.stdout)
        self.headroom_pct = int(m.group(1)) if m else 0

    def size(self, full, quick):
        return quick if self.quick else full

    def fleet(self, *a, **kw):
        fl = Fleet(self, *a, **kw)
        self.fleets.append(fl)
        return fl.start()

    def done(self, fl):
        fl.stop()
        self.fleets.remove(fl)

    # S1: throughput
    def s1(self):
        n = self.size(2000, 200)
        fl = self.fleet("S1", tenants=n, workers=3, task_cap=100000)
        fl.set_rules(0)
        fl.warm_up()
        jobs = 6 * n + 2
        res = measure_release(fl, request("bench-s1", ENVIRONMENTS, STAGES), 180 + jobs * 0.1)
        res["assignment"] = fl.assignment
        self.done(fl)
        res["tenants"] = n
        self.results["S1"] = res

    # S2: makespan under a task cap of 20, per gate mode
    def gate_supported(self, fl, gate):
        req = request("bench-gate-probe", ENVIRONMENTS, STAGES, gate=gate)
        r = fl.octofleet("plan", fl.write_request(req), "--json")
        if r.returncode != 0:
            return False, (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
        try:
            got = json.loads(r.stdout).get("gate", "stage")
        except ValueError:
            return False, "plan --json printed no JSON"
        return got == gate, "plan shows gate %r" % got

    def s2(self):
        n = self.size(2000, 200)
        cap = 20
        jobs = 6 * n + 2
        ideal = jobs * 0.2 / cap
        self.results["S2"] = {"tenants": n, "cap": cap, "ideal": ideal, "runs": {}}
        for gate in ("stage", "tenant"):
            # the cap is set before the fleet starts: the producer derives its automatic task
            # budget from the server's MaxConcurrentTasks once, at start
            fl = self.fleet("S2-" + gate, tenants=n, workers=3, task_cap=cap)
            if gate != "stage":
                ok, why = self.gate_supported(fl, gate)
                if not ok:
                    self.notes.append("S2 gate %s skipped: `octofleet plan` refuses it (%s)"
                                      % (gate, why))
                    log("S2: gate %s not supported (%s); skipped" % (gate, why))
                    self.done(fl)
                    continue
            fl.set_rules(0)
            fl.warm_up()
            fl.set_rules(200)
            res = measure_release(fl, request("bench-s2-" + gate, ENVIRONMENTS, STAGES,
                                              gate=gate), 180 + 4 * ideal)
            self.done(fl)
            self.results["S2"]["runs"][gate] = res

    # S5: a quiet fleet's gates, one small release after another (S1 and S2 measure them under
    # load, where the machine's saturated cores decide much of a gate's time)
    def s5(self):
        n = self.size(20, 5)
        fl = self.fleet("S5", tenants=max(n, 4), workers=3, task_cap=100000)
        fl.set_rules(0)
        fl.warm_up()
        names = [t["name"] for t in fl.world["spaces"][0]["tenants"][:n]]
        runs = []
        for i, name in enumerate(names):
            req = request("bench-s5-%d" % (i + 1), [QUIET_ENV], QUIET_STAGES, {"names": [name]})
            rid = fl.submit(req)
            fl.wait_end(rid, 120, "quiet")
            runs.append((rid, name, req))
        deps = [d for d in fl.sim_call("GET", "/sim/deployments")
                if d.get("environment") == QUIET_ENV and d.get("release") == VERSION]
        twice = [c for c in fl.sim_call("GET", "/sim/deployment-counts")
                 if c.get("count", 1) > 1 and c.get("environment") == QUIET_ENV]
        if twice:
            raise BenchFailure("S5: %d target(s) deployed more than once, e.g. %r"
                               % (len(twice), twice[:3]))
        res = {"releases": n, "completion": [], "to_dispatch": [], "to_create": [], "split": []}
        for rid, name, req in runs:
            r = {"events": fl.events_of(rid), "request": req,
                 "deployments": [d for d in deps if d.get("tenant") == name]}
            if len(r["deployments"]) != len(QUIET_STAGES):
                raise BenchFailure("S5: %d deployments in octopus-sim for release %s (%d jobs)"
                                   % (len(r["deployments"]), rid, len(QUIET_STAGES)))
            gd, gc = gate_latencies(r, stages=QUIET_STAGES)
            if len(gd) != len(gc):
                raise BenchFailure("S5: release %s: %d gates dispatched, %d created"
                                   % (rid, len(gd), len(gc)))
            res["to_dispatch"] += gd
            res["to_create"] += gc
            res["completion"] += completion_latencies(r)
            res["split"] += gate_split(fl.dir, r, QUIET_STAGES)
        self.done(fl)
        log("S5: %d quiet releases, %d gates" % (n, len(res["to_create"])))
        self.results["S5"] = res

    # S3: one worker, many deployments in flight
    def s3(self):
        n = self.size(1667, 167)
        dur_s = self.size(300, 60)
        window = self.size(120, 30)
        jobs = 6 * n + 2
        fl = self.fleet("S3", tenants=n, workers=1, task_cap=max(20000, 2 * jobs),
                        worker_settings={"max_in_flight": str(jobs + 1000),
                                         "poll_interval": '"1s"'})
        fl.set_rules(0)
        fl.warm_up()
        fl.set_rules(dur_s * 1000)
        one_stage = [("all", ALL_PROJECTS)]

        def steady(fl_, rid):
            # Wait until every job has started (its deployment exists), settle, then measure.
            deadline = time.monotonic() + dur_s - window - 10
            key, started = rid.encode(), b'"octofleet.job.started"'
            seen, n_started = 0, 0
            while True:
                with fl_.cond:
                    fresh = fl_.lines[seen:]
                    seen = len(fl_.lines)
                n_started += sum(1 for ln in fresh if started in ln and key in ln)
                if n_started >= jobs:
                    break
                fl_.check_daemons()
                if time.monotonic() > deadline:
                    raise BenchFailure("S3: only %d of %d deployments started before the "
                                       "window had to begin (ramp too slow for %d s tasks)"
                                       % (n_started, jobs, dur_s))
                time.sleep(0.5)
            ramp = time.monotonic()
            time.sleep(5)
            st0, sn0, t0 = fl_.sim_call("GET", "/sim/stats"), fl_.snapshot(), time.monotonic()
            time.sleep(window)
            st1, sn1, t1 = fl_.sim_call("GET", "/sim/stats"), fl_.snapshot(), time.monotonic()
            tasks = fl_.sim_call("GET", "/sim/tasks?state=Executing")
            el = t1 - t0
            w0, w1 = sn0["worker w1"], sn1["worker w1"]
            return {"window": el, "ramp_done": ramp,
                    "worker_cpu_pct": 100.0 * (w1["cpu"] - w0["cpu"]) / el,
                    "worker_rss_kb": w1["rss_kb"], "worker_hwm_kb": w1["hwm_kb"],
                    "api_rps": (st1["api_total"] - st0["api_total"]) / el,
                    "routes": {r: v / el for r, v in diff_routes(st0, st1).items()},
                    "executing": tasks.get("counts", {}).get("Executing"),
                    "sim_cpu_pct": 100.0 * (sn1["octopus-sim"]["cpu"] - sn0["octopus-sim"]["cpu"])
                    / el}

        res = measure_release(fl, request("bench-s3", ENVIRONMENTS, one_stage),
                              dur_s + 300 + jobs * 0.05, steady=steady)
        self.done(fl)
        res.update({"tenants": n, "duration_s": dur_s})
        self.results["S3"] = res

    # S4: Octopus API cost of long deployments
    def s4(self):
        n = self.size(1000, 100)
        dur_s = 60
        jobs = 6 * n + 2
        fl = self.fleet("S4", tenants=n, workers=3, task_cap=max(10000, 2 * jobs),
                        worker_settings={"max_in_flight": str(jobs + 100)})
        fl.set_rules(0)
        fl.warm_up()
        fl.set_rules(dur_s * 1000)
        res = measure_release(fl, request("bench-s4", ENVIRONMENTS, [("all", ALL_PROJECTS)]),
                              2 * dur_s + 300 + jobs * 0.05)
        self.done(fl)
        res.update({"tenants": n, "duration_s": dur_s})
        res["alt"] = api_alternatives(res)
        self.results["S4"] = res

    def run(self, scenarios):
        self.broker.start()
        for sc in scenarios:
            log("=== %s%s" % (sc, " (quick)" if self.quick else ""))
            getattr(self, sc.lower())()

    def cleanup(self):
        for fl in list(self.fleets):
            try:
                fl.stop()
            except Exception as e:  # keep stopping the rest
                log("stopping %s: %s" % (fl.scenario, e))
        for p in list(LIVE):
            p.stop(grace=10)
        self.broker.stop()


def api_alternatives(res):
    """What two other ways of following the same tasks would send, from this run's task times:
    - Chain Deployment: per deployment one create, then one GET tasks/{id} per second from its
      creation until its task completed;
    - `octopus task wait`: per deployment one create, then for the whole batch (all tasks of the
      run, created together) one batched GET tasks?ids= per 10 s, 100 ids per request, for the
      tasks still running at that tick."""
    deps = res["deployments"]
    times = [(parse_time(d["created"]), parse_time(d["completed_time"])) for d in deps]
    chain = sum(1 + max(1, math.ceil(c - q)) for q, c in times)
    start = min(q for q, _ in times)
    end = max(c for _, c in times)
    wait = len(times)
    t = start
    while t < end + 10:
        t += 10
        live = sum(1 for q, c in times if q <= t and c > t - 10)
        wait += max(1, math.ceil(live / 100.0)) if live else 0
    return {"chain": chain, "task_wait": wait, "span": end - start}


# ---- the report --------------------------------------------------------------------------------


def machine():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            cpu = f.read()
        m = re.search(r"^model name\s*:\s*(.+)$", cpu, re.M)
        info["cpu"] = m.group(1).strip() if m else "(not exposed)"
    except OSError:
        info["cpu"] = "?"
    info["cores"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            m = re.search(r"^MemTotal:\s+(\d+) kB", f.read(), re.M)
        info["ram"] = "%.1f GiB" % (int(m.group(1)) / 1048576.0)
    except (OSError, AttributeError):
        info["ram"] = "?"
    try:
        with open("/proc/sys/kernel/osrelease") as f:
            info["kernel"] = f.read().strip()
    except OSError:
        info["kernel"] = platform.release()
    try:
        with open("/proc/loadavg") as f:
            info["load"] = " ".join(f.read().split()[:3])
    except OSError:
        info["load"] = "?"
    return info


def build_type(build):
    """'CMAKE_BUILD_TYPE build' of the build tree, from its CMakeCache.txt."""
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", f.read(), re.M)
    except OSError:
        m = None
    kind = m.group(1).strip() if m else ""
    return "%s build (`%s`)" % (kind or "default (no CMAKE_BUILD_TYPE)", os.path.basename(build))


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def met(ok):
    return "n/a" if ok is None else ("yes" if ok else "**no**")


class Report:
    def __init__(self, bench, argv, started, elapsed, git, append=False):
        self.append = append
        self.git = git
        self.b = bench
        self.argv = argv
        self.started = started
        self.elapsed = elapsed
        self.out = []

    def w(self, s=""):
        self.out.append(s)

    def proc_table(self, res, jobs):
        self.w("| process | CPU s in the window | CPU µs per job | peak RSS (VmHWM) | final RSS |")
        self.w("|---|---:|---:|---:|---:|")
        for name, v in res["procs"].items():
            self.w("| %s | %.2f | %.0f | %.1f MB | %.1f MB |"
                   % (name, v["cpu_s"], 1e6 * v["cpu_s"] / max(1, jobs), v["hwm_kb"] / 1024.0,
                      v["rss_kb"] / 1024.0))
        self.w()

    def routes_table(self, routes, per, per_name="per job"):
        self.w("| Octopus route | requests | %s |" % per_name)
        self.w("|---|---:|---:|")
        for r, n in sorted(routes.items(), key=lambda kv: -kv[1]):
            self.w("| `%s` | %d | %.3f |" % (r, n, n / max(1, per)))
        self.w()

    def render(self):
        b = self.b
        mi = machine()
        git = self.git
        ver = subprocess.run([b.octofleet_bin, "version"], capture_output=True,
                             text=True).stdout.strip()
        if not self.append:
            self.w("# Benchmarks")
            self.w()
            self.w("Written by `bench/run.py` (issue 8, part 7): the fleet as separate processes "
                   "on a real Apache Kafka broker and octopus-sim. How to run it and what each "
                   "scenario does: [bench/README.md](../bench/README.md). Each section below is "
                   "one run of the command it names.")
            self.w()
        self.w("## %s run, %s: %s" % ("Quick" if b.quick else "Full", self.started,
                                     ", ".join(sorted(b.results))))
        self.w()
        if b.quick:
            self.w("**This is a quick run (`--quick`): sizes are about 1/10 of the issue's "
                   "scenarios**, so per-job figures carry more fixed cost and the in-flight "
                   "figures of S3 are for 1,004 deployments, not 10,000. Run without `--quick` "
                   "for the full sizes (it takes much longer).")
            self.w()
        self.w("**The machine is shared and noisy**: %s cores, also used by other engineers' "
               "builds and test runs while this ran (load average at the end: %s). Absolute "
               "times and CPU figures move by tens of percent between runs; compare ratios "
               "within one run (fleet vs simulator CPU, requests per job, makespan vs ideal) "
               "rather than absolute numbers across runs." % (mi["cores"], mi["load"]))
        self.w()
        self.w("| | |")
        self.w("|---|---|")
        self.w("| command | `%s` |" % " ".join(self.argv))
        self.w("| date | %s (took %.1f min) |" % (self.started, self.elapsed / 60.0))
        self.w("| machine | %s, %s cores, %s RAM, Linux %s |" % (mi["cpu"], mi["cores"], mi["ram"],
                                                                mi["kernel"]))
        self.w("| octofleet | %s, git `%s`, %s |" % (ver or "?", git, build_type(b.build)))
        self.w("| broker | Apache Kafka %s (KRaft, one node on loopback, tests/kafka/broker.py: "
               "serial GC, C1 only, 512 MB heap; %s) |"
               % (kbroker.KAFKA_VERSION, ", ".join("`%s`" % p for p in BROKER_PROPERTIES)))
        self.w("| fleet | `octofleet producer`, `octofleet worker` (× W), `octofleet events "
               "--follow`, `octopus-sim`: separate processes; configuration defaults except "
               "where a scenario says |")
        self.w("| task budget | %s |" % ("`octopus.task_budget = 0` (automatic)" if
                                         b.has_task_budget else
                                         "no `octopus.task_budget` key in this build: not set"))
        if b.args.octopus_latency_ms:
            self.w("| Octopus latency | every API request answered %d ms late (an octopus-sim "
                   "`latency_ms` fault, `--octopus-latency-ms`) |" % b.args.octopus_latency_ms)
        self.w()
        self.w("Each scenario gets a fresh octopus-sim (a world from `scripts/gen-world.py "
               "--projects 7 --beta-percent 100 --connect-percent 100`: every tenant in one beta "
               "environment and connected to all six tenanted projects, so a release to both "
               "betas has 6N + 2 jobs) and a fresh fleet (its own topic prefix and groups on the "
               "one broker). A warm-up release (4 tenants, Development, the same 4 stages) runs "
               "first, and the measured window is from `octofleet submit` of the measured "
               "release to its `release.completed` event. CPU is utime+stime from "
               "/proc/PID/stat before and after that window; RSS is VmHWM (peak over the "
               "process's life) and VmRSS at the end; Octopus requests are /sim/stats before and "
               "after. The train is `%s`."
               % " → ".join("[%s]" % ", ".join(ps) for _, ps in STAGES))
        self.w()
        for note in b.notes:
            self.w("- Note: %s" % note)
        if b.notes:
            self.w()
        r = b.results
        if "S1" in r:
            self.s1(r["S1"])
        if "S2" in r:
            self.s2(r["S2"])
        if "S3" in r:
            self.s3(r["S3"])
        if "S4" in r:
            self.s4(r["S4"])
        if "S1" in r or "S2" in r or "S5" in r:
            self.s5(r)
        return "\n".join(self.out) + "\n"

    def s1(self, res):
        jobs = res["jobs"]
        cpu = fleet_cpu(res)
        per_job = 1e6 * cpu / max(1, jobs)
        self.w("### S1 throughput")
        self.w()
        self.w("%d tenants × 7 projects (%d jobs) to On Site Beta and Hosted Beta in 4 stages, "
               "zero-length deployments (task cap 100,000), 1 producer + 3 workers with default "
               "settings (`max_in_flight` 256, `poll_interval` 750 ms, `feed_busy_interval` 150 ms)."
               % (res["tenants"], jobs))
        self.w()
        self.w("| figure | measured | goal | met? |")
        self.w("|---|---:|---|---|")
        self.w("| fleet CPU (producer + workers) per job | %.0f µs | ≤ 150 µs | %s |"
               % (per_job, met(per_job <= 150)))
        self.w("| jobs/s (submit → release.completed) | %.0f (%d jobs in %.1f s) | report | |"
               % (jobs / res["wall"], jobs, res["wall"]))
        for name, v in res["procs"].items():
            if name == "producer" or name.startswith("worker"):
                self.w("| RSS %s (peak / final) | %.1f / %.1f MB | report | |"
                       % (name, v["hwm_kb"] / 1024.0, v["rss_kb"] / 1024.0))
        self.w("| Octopus requests per job | %.2f | | |" % (res["api_requests"] / max(1, jobs)))
        self.w()
        self.proc_table(res, jobs)
        self.routes_table(res["routes"], jobs)
        self.stage_spread(res)

    def stage_spread(self, res):
        """Which worker finished how many of each stage's jobs (from the final events' source):
        the stage topics' partitions may land unevenly (docs/benchmarks.md, "S1's two speeds"),
        and jobs/s is to be read with this beside it."""
        by = {}
        for ev in res["events"]:
            if ev.get("type") not in FINAL:
                continue
            src = ev.get("source", "")
            worker = src.rsplit("/", 1)[-1] if src.startswith("octofleet/worker/") else "?"
            st = ev.get("data", {}).get("stage")
            by.setdefault(st, {}).setdefault(worker, 0)
            by[st][worker] += 1
        self.assignment_table(res.get("assignment") or {})
        workers = sorted({w for d in by.values() for w in d})
        if not workers:
            return
        self.w("Final job events by stage and worker (a stage whose partitions all landed on "
               "fewer workers runs at their rate):")
        self.w()
        self.w("| stage | %s |" % " | ".join(workers))
        self.w("|---|%s" % ("---:|" * len(workers)))
        for st in sorted(k for k in by if k is not None):
            self.w("| %d | %s |" % (st, " | ".join(str(by[st].get(w, 0)) for w in workers)))
        self.w()

    def assignment_table(self, assignment):
        """Each worker's partitions of each stage topic when the measurement began (the worker
        group's DescribeGroups after the warm-up)."""
        if not assignment:
            return
        members = sorted(assignment)
        topics = sorted({t for a in assignment.values() for t in a})
        self.w("Stage topic partitions per worker when the measured release was submitted "
               "(group members by the worker name their member id starts with):")
        self.w()
        self.w("| topic | %s |" % " | ".join(m.split("-")[0] or m for m in members))
        self.w("|---|%s" % ("---|" * len(members)))
        for t in topics:
            self.w("| %s | %s |" % (t, " | ".join(
                ",".join(str(p) for p in assignment[m].get(t, [])) or "-" for m in members)))
        self.w()

    def s2(self, s2):
        self.w("### S2 makespan")
        self.w()
        self.w("%d tenants × 7 projects in 4 stages (%d jobs), every deployment 200 ms, task cap "
               "20 (the simulator's cap from its start, so an automatic task budget reads it), 3 "
               "workers. Ideal bound = total "
               "task-seconds / cap = %d × 0.2 s / 20 = %.1f s; makespan = submit → "
               "release.completed; ratio = ideal / makespan (1.0 = the task queue never ran dry)."
               % (s2["tenants"], 6 * s2["tenants"] + 2, 6 * s2["tenants"] + 2, s2["ideal"]))
        self.w()
        self.w("| figure | measured | goal | met? |")
        self.w("|---|---:|---|---|")
        goals = {"stage": 0.85, "tenant": 0.95}
        for gate in ("stage", "tenant"):
            res = s2["runs"].get(gate)
            label = "barrier (`gate: stage`)" if gate == "stage" else "lanes (`gate: tenant`)"
            if res is None:
                self.w("| %s: ideal / makespan | not run | ≥ %.2f | n/a |" % (label, goals[gate]))
                continue
            ratio = s2["ideal"] / res["wall"]
            taskseconds = sum(parse_time(d["completed_time"]) - parse_time(d["start_time"])
                              for d in res["deployments"] if d.get("start_time"))
            self.w("| %s: ideal / makespan | %.2f (%.1f s / %.1f s) | ≥ %.2f | %s |"
                   % (label, ratio, s2["ideal"], res["wall"], goals[gate],
                      met(ratio >= goals[gate])))
            self.w("| %s: measured task-seconds / cap / makespan | %.2f (tasks ran %.1f "
                   "task-s, %.1f %% over 200 ms each) | | |"
                   % (label, taskseconds / s2["cap"] / res["wall"], taskseconds,
                      100.0 * (taskseconds / max(1, len(res["deployments"])) / 0.2 - 1)))
            peak = max((p.get("peak", 0) for p in res["peaks"] or []), default=0)
            budget = None
            if self.b.has_task_budget:
                budget = s2["cap"] + (s2["cap"] * self.b.headroom_pct + 99) // 100
            self.w("| %s: peak queued+executing tasks of the fleet's key | %d | ≤ budget%s | %s |"
                   % (label, peak, " (at most %d: cap %d + %d %% headroom)"
                      % (budget, s2["cap"], self.b.headroom_pct) if budget
                      else " (no budget configured)",
                      met(None if budget is None else peak <= budget)))
            self.w("| %s: fleet CPU (producer + workers) | %.1f s (%.0f µs per job) | | |"
                   % (label, fleet_cpu(res), 1e6 * fleet_cpu(res) / max(1, res["jobs"])))
        self.w()

    def s3(self, res):
        st = res["steady"]
        self.w("### S3 in flight")
        self.w()
        self.w("One worker (`max_in_flight` %d, `poll_interval` 1 s), %d deployments of %d s "
               "each in one stage (task cap %s, so all execute at once). Once every job had "
               "started, 5 s of settling, then a %.0f s steady-state window: CPU from "
               "/proc/PID/stat over the window, RSS at its end, Octopus requests over the window "
               "(%s tasks executing at its end)."
               % (res["jobs"] + 1000, res["jobs"], res["duration_s"], "≥ 20,000", st["window"],
                  st["executing"]))
        self.w()
        self.w("| figure | measured | goal | met? |")
        self.w("|---|---:|---|---|")
        rss = st["worker_rss_kb"] / 1024.0
        self.w("| worker RSS (in the window / peak) | %.1f / %.1f MB | ≤ 64 MB | %s |"
               % (rss, st["worker_hwm_kb"] / 1024.0, met(rss <= 64)))
        self.w("| worker CPU | %.1f %% of a core | ≤ 5 %% | %s |"
               % (st["worker_cpu_pct"], met(st["worker_cpu_pct"] <= 5)))
        self.w("| Octopus requests/s | %.2f | ≤ 5 | %s |" % (st["api_rps"], met(st["api_rps"] <= 5)))
        self.w("| octopus-sim CPU (for context) | %.1f %% of a core | | |" % st["sim_cpu_pct"])
        self.w("| whole release: %d jobs in | %.1f s | | |" % (res["jobs"], res["wall"]))
        self.w()
        self.w("Requests/s in the window by route:")
        self.w()
        self.w("| Octopus route | requests/s |")
        self.w("|---|---:|")
        for rt, v in sorted(st["routes"].items(), key=lambda kv: -kv[1]):
            self.w("| `%s` | %.2f |" % (rt, v))
        self.w()

    def s4(self, res):
        jobs = res["jobs"]
        alt = res["alt"]
        per = res["api_requests"] / max(1, jobs)
        self.w("### S4 API cost")
        self.w()
        self.w("%d tenants × 7 projects (%d deployments) in one stage, every deployment %d s, "
               "task cap ≥ 10,000 (all run at once), 3 workers with `max_in_flight` %d each (one "
               "stage topic, whose partitions the assignor may give to fewer than 3 workers), so "
               "every job is in flight together. Every Octopus request of the window counts, the "
               "producer's name resolution included. The two alternatives are computed from this "
               "run's own task times (`/sim/deployments`: created, completed): **Chain "
               "Deployment** = per deployment one create plus one `GET tasks/{id}` per second "
               "from its creation to its completion; **`octopus task wait`** = per deployment "
               "one create plus, for the whole batch, one batched `GET tasks?ids=` (100 ids per "
               "request) every 10 s for the tasks still running."
               % (res["tenants"], jobs, res["duration_s"], jobs + 100))
        self.w()
        self.w("| figure | measured | goal | met? |")
        self.w("|---|---:|---|---|")
        self.w("| octofleet: Octopus requests per deployment | %.3f (%d requests) | ≤ 1.2 | %s |"
               % (per, res["api_requests"], met(per <= 1.2)))
        self.w("| Chain Deployment pattern, same tasks | %.1f per deployment (%d) | for "
               "comparison | |" % (alt["chain"] / max(1, jobs), alt["chain"]))
        self.w("| `octopus task wait`, same tasks | %.2f per deployment (%d) | for comparison | |"
               % (alt["task_wait"] / max(1, jobs), alt["task_wait"]))
        self.w("| release wall time (submit → completed) | %.1f s (tasks span %.1f s) | | |"
               % (res["wall"], alt["span"]))
        self.w()
        self.routes_table(res["routes"], jobs, "per deployment")

    def s5(self, r):
        self.w("### S5 latency")
        self.w()
        self.w("From S5's own run, a quiet fleet (1 producer + 3 workers, zero-length tasks, "
               "%s one-tenant releases to %s of four one-project stages `%s`, each submitted "
               "when the one before it completed: nothing else runs, so a gate's time is the "
               "design's own), and from the S1 and S2 runs when they ran (a saturated machine). "
               "*Completion noticed*" % (r["S5"]["releases"] if "S5" in r else "no", QUIET_ENV,
                                         " → ".join(ps[0] for _, ps in QUIET_STAGES))
               + " = the final job event's `time` "
               "minus the task's `CompletedTime` in octopus-sim (same machine, one clock; both "
               "have millisecond resolution). *Stage gate* = the last final job event of a "
               "stage in an environment (a tenant's lane, with `gate: tenant`) → the first "
               "`job.dispatched` of the next stage there, and → the first create of it (the "
               "deployment's `Created` in octopus-sim, what the goal names).")
        self.w()
        self.w("| run | completion noticed p50 / p99 | gates | gate → dispatched p50 / p99 | "
               "gate → first create p50 / p99 |")
        self.w("|---|---:|---:|---:|---:|")
        runs = []
        if "S5" in r:
            q = r["S5"]
            self.w("| S5 quiet (0 ms tasks, barrier) | %s / %s s | %d | %s / %s ms | %s / %s ms |"
                   % (fmt(percentile(q["completion"], 50), "%.3f"),
                      fmt(percentile(q["completion"], 99), "%.3f"), len(q["to_create"]),
                      fmt(_ms(percentile(q["to_dispatch"], 50)), "%.0f"),
                      fmt(_ms(percentile(q["to_dispatch"], 99)), "%.0f"),
                      fmt(_ms(percentile(q["to_create"], 50)), "%.0f"),
                      fmt(_ms(percentile(q["to_create"], 99)), "%.0f")))
        if "S1" in r:
            runs.append(("S1 (0 ms tasks, barrier)", r["S1"], False))
        for gate, res in r.get("S2", {}).get("runs", {}).items():
            runs.append(("S2 (200 ms tasks, %s)" % ("barrier" if gate == "stage" else "lanes"),
                         res, gate == "tenant"))
        all_c, all_g, lane_g = [], [], []
        for name, res, lanes in runs:
            c = completion_latencies(res)
            gd, gc = gate_latencies(res, lanes)
            all_c += c
            (lane_g if lanes else all_g).extend(gc)
            self.w("| %s | %s / %s s | %d | %s / %s ms | %s / %s ms |"
                   % (name, fmt(percentile(c, 50), "%.3f"), fmt(percentile(c, 99), "%.3f"),
                      len(gc), fmt(_ms(percentile(gd, 50)), "%.0f"),
                      fmt(_ms(percentile(gd, 99)), "%.0f"), fmt(_ms(percentile(gc, 50)), "%.0f"),
                      fmt(_ms(percentile(gc, 99)), "%.0f")))
        self.w()
        if "S5" in r:
            all_c += r["S5"]["completion"]
        c50 = percentile(all_c, 50)
        self.w("| figure | measured | goal | met? |")
        self.w("|---|---:|---|---|")
        self.w("| completion noticed p50 (all runs) | %s s | ≤ 0.5 s | %s |"
               % (fmt(c50, "%.3f"), met(None if c50 is None else c50 <= 0.5)))
        if "S5" in r:
            q = r["S5"]
            q99 = percentile(q["to_create"], 99)
            self.w("| stage gate p99, last final event → next stage's first create (S5, a "
                   "quiet fleet) | %s ms | ≤ 20 ms | %s |"
                   % (fmt(_ms(q99), "%.0f"), met(None if q99 is None else q99 <= 0.020)))
            # the gate in two parts: the producer's reading and deciding, then the decision's
            # transaction, a worker's fetch, the look-up and the create
            rest = [c - d for d, c in zip(q["to_dispatch"], q["to_create"])]
            self.w("| ... of which last final event → first `job.dispatched` (the producer reads "
                   "and decides), p50 / p99 | %s / %s ms | | |"
                   % (fmt(_ms(percentile(q["to_dispatch"], 50)), "%.0f"),
                      fmt(_ms(percentile(q["to_dispatch"], 99)), "%.0f")))
            self.w("| ... and first `job.dispatched` → first create (its transaction, a worker's "
                   "fetch, the look-up, the create), p50 / p99 | %s / %s ms | | |"
                   % (fmt(_ms(percentile(rest, 50)), "%.0f"),
                      fmt(_ms(percentile(rest, 99)), "%.0f")))
            for i, what in enumerate(("the decision's transaction (→ the producer logs it "
                                      "committed)", "its delivery (→ a worker logs the job "
                                      "received)", "the adoption look-up and the create "
                                      "(→ created)")):
                v = [x[i] for x in q.get("split", [])]
                if v:
                    self.w("| ... of which %s, p50 / p90 / max (%d gates, from the debug logs) "
                           "| %s / %s / %s ms | | |"
                           % (what, len(v), fmt(_ms(percentile(v, 50)), "%.0f"),
                              fmt(_ms(percentile(v, 90)), "%.0f"), fmt(_ms(max(v)), "%.0f")))
        if all_g:
            g99 = percentile(all_g, 99)
            self.w("| stage gate p99, last final event → next stage's first create (S1 and S2 "
                   "barrier runs, under load) | %s ms | ≤ 20 ms | %s |"
                   % (fmt(_ms(g99), "%.0f"), met(g99 <= 0.020)))
        if lane_g:
            l99 = percentile(lane_g, 99)
            self.w("| lane gate p99, a tenant's last final event → its next stage's first "
                   "create (lanes run) | %s ms | ≤ 20 ms | %s |"
                   % (fmt(_ms(l99), "%.0f"), met(l99 <= 0.020)))
        self.w()
        self.w("*→ dispatched* is the producer's part of a gate: reading the stage's last event "
               "and deciding (the decision's `job.dispatched` carries the time it was made, "
               "before its transaction commits). *→ first create* adds the transaction, a "
               "worker's fetch, the adoption look-up and the create. Under load it also adds "
               "waits that are not the gate's: with lanes, or the two environments' barriers "
               "opening independently, a gate's first job can wait for a slot of the task "
               "budget or of a worker's `max_in_flight`, and on S1's and S2's saturated 2 cores "
               "every step waits for CPU; S5's quiet run is the gate alone.")
        self.w()


def _ms(v):
    return None if v is None else 1000.0 * v


# ---- main ---------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="build tree with bin/octofleet and "
                    "bin/octopus-sim; the broker's jars go to BUILD/kafka (default: build)")
    ap.add_argument("--scenarios", default="S1,S2,S3,S4,S5",
                    help="comma-separated subset of S1..S5 (default: all; S5 adds S1's "
                    "and S2's gates when they run too)")
    ap.add_argument("--quick", action="store_true", help="about 1/10 of the sizes: a smoke run")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"),
                    help="the report (default: docs/benchmarks.md)")
    ap.add_argument("--append", action="store_true",
                    help="append this run's section to --out instead of replacing the file")
    ap.add_argument("--workdir", help="logs, worlds and configs (default: BUILD/bench-run)")
    ap.add_argument("--kafka-property", action="append", default=[], metavar="NAME=VALUE",
                    help="a librdkafka property for every daemon (kafka.properties; repeatable), "
                    "to measure a tuning side by side with the defaults")
    ap.add_argument("--set", action="append", default=[], metavar="GROUP.KEY=VALUE",
                    help="a configuration key for every fleet, its value as libconfig writes it "
                    "(producer.batch_max=2000, worker.poll_interval='\"1s\"'; repeatable), to "
                    "measure a setting side by side with the defaults")
    ap.add_argument("--octopus-latency-ms", type=int, default=0, metavar="MS",
                    help="answer every Octopus API request this much later (octopus-sim's "
                    "latency_ms fault; default 0): a real server's response time, which the "
                    "simulator's microseconds hide")
    ap.add_argument("--log-level", default="info", choices=["info", "debug"],
                    help="the daemons' log.level (default: info; the suite reads their info "
                    "lines); debug logs every decision and batch, and slows the fleet: for "
                    "finding where time goes, not for figures (S5 then splits each quiet gate "
                    "into its transaction, its delivery and the look-up with the create)")
    args = ap.parse_args()
    for kv in args.kafka_property:
        if "=" not in kv or kv.startswith("=") or '"' in kv:
            ap.error("--kafka-property %r: expected NAME=VALUE" % kv)
    sets = []
    for kv in args.set:
        m = re.match(r"^([a-z_]+)\.([a-z_]+)=(.+)$", kv)
        if not m or m.group(1) == "kafka":
            ap.error("--set %r: expected GROUP.KEY=VALUE (kafka.properties: --kafka-property)"
                     % kv)
        sets.append(m.groups())
    args.set = sets
    scenarios = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    bad = [s for s in scenarios if s not in ("S1", "S2", "S3", "S4", "S5")]
    if bad or not scenarios:
        ap.error("unknown scenario(s) %s; pick from S1,S2,S3,S4,S5" % ",".join(bad))

    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)  # also when started with SIGINT ignored (a & job)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # the tree the binaries were built from is the one at the start: a long run may outlive it
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty", "--tags"],
                         capture_output=True, text=True).stdout.strip() or "?"
    t0 = time.monotonic()
    bench = None
    rc = 1
    try:
        bench = Bench(args)
        bench.run(scenarios)
        append = args.append and os.path.exists(args.out)
        text = Report(bench, ["python3", "bench/run.py"] + sys.argv[1:], started,
                      time.monotonic() - t0, git, append).render()
        old = ""
        if append:
            with open(args.out) as f:
                old = f.read().rstrip("\n") + "\n\n"
        with open(args.out + ".tmp", "w") as f:
            f.write(old + text)
        os.rename(args.out + ".tmp", args.out)
        sys.stdout.write(text)
        log("wrote %s (logs in %s)" % (args.out, bench.workdir))
        rc = 0
    except BenchFailure as e:
        log("FAILED: %s" % e)
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        rc = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if bench is not None:
            bench.cleanup()
        else:
            for p in list(LIVE):
                p.stop(grace=10)
    return rc


if __name__ == "__main__":
    sys.exit(main())
