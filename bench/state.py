#!/usr/bin/env python3
"""The producer's start-up time and memory with 1,000 finished releases in its state topic,
before and after eviction (issue 8, part 5; producer.release_retention).

    python3 bench/state.py --build build [--releases 1000] [--tenants 5]
                           [--octofleet OTHER/bin/octofleet --only-kept]

Starts a real Kafka broker (tests/kafka/broker.py, as bench/run.py does) and octopus-sim (the
producer connects to Octopus at start), fills the state topic with N completed releases of
2 x (1 + 6T) jobs each, last changed 30 days ago (build/bin/bench_state: the real codec's
records), then runs `octofleet producer` as a separate process four times:

  1. kept      release_retention 3650d: every release is loaded (what every start cost before
               eviction existed);
  2. evicting  release_retention 7d: loads them all, then evicts them (markers + tombstones);
               measured: the eviction's duration and the RSS after it in the same process;
  3. after     release_retention 7d, restarted at once: the topic still holds every record
               plus the tombstones and markers (the broker has not compacted it yet);
  4. compacted the same after the broker's log cleaner ran (the topics are created with
               segment.ms 10 s and min.cleanable.dirty.ratio 0.01 for this; waited for up to
               3 minutes; skipped with a note if the cleaner did not run).

--octofleet runs another build's producer (e.g. an older commit's, for a before/after of its
memory per loaded job); --only-kept stops after run 1.

Start-up is from the process's spawn to its `producer running` log line, with the producer's
own `state rebuilt ... took_ms` beside it; RSS is /proc/PID/status VmRSS and VmHWM 2 s after
`producer running`. Prints a Markdown section for docs/benchmarks.md on stdout.
Python 3 standard library only; Linux.
"""

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run  # noqa: E402  (the broker, /proc sampling)


def wait_log(path, pattern, timeout, proc):
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while True:
        with open(path, errors="replace") as f:
            m = rx.search(f.read())
        if m:
            return m
        if proc.poll() is not None:
            raise run.BenchFailure("producer exited %s before logging %r" % (proc.returncode,
                                                                            pattern))
        if time.monotonic() > deadline:
            raise run.BenchFailure("producer did not log %r within %ds" % (pattern, timeout))
        time.sleep(0.05)


def wait_count(path, needle, count, timeout, proc):
    deadline = time.monotonic() + timeout
    while True:
        with open(path, errors="replace") as f:
            if f.read().count(needle) >= count:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise run.BenchFailure("producer did not log %d x %r" % (count, needle))
        time.sleep(0.1)


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.work = os.path.join(self.build, "bench-state")
        os.makedirs(self.work, exist_ok=True)
        self.octofleet = os.path.abspath(args.octofleet or
                                         os.path.join(self.build, "bin", "octofleet"))
        self.broker = run.Broker(self.build, self.work)
        self.sim = None
        self.api_key = "API-BENCH" + secrets.token_hex(12).upper()
        self.prefix = "bs-%d-%d." % (os.getpid(), int(time.time()) % 100000)

    def start_sim(self):
        argv = [os.path.join(self.build, "bin", "octopus-sim"), "--port", "0", "--fixture",
                os.path.join(ROOT, "tests", "fixtures", "small-world.json"),
                "--log-level", "warn"]
        env = dict(os.environ, OCTOPUS_SIM_API_KEYS=self.api_key)
        self.sim = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env,
                                    stderr=open(os.path.join(self.work, "sim.log"), "w"))
        line = self.sim.stdout.readline().decode()
        m = re.fullmatch(r"octopus-sim listening on (http://127\.0\.0\.1:\d+)\n", line)
        if not m:
            raise run.BenchFailure("octopus-sim did not start: %r" % line)
        return m.group(1)

    def write_config(self, url, retention):
        keyfile = os.path.join(self.work, "octopus-api-key")
        with open(keyfile, "w") as f:
            f.write(self.api_key + "\n")
        os.chmod(keyfile, 0o600)
        path = os.path.join(self.work, "octofleet-%s.cfg" % retention)
        with open(path, "w") as f:
            f.write("""kafka = { bootstrap_servers = "%s"; client_id = "bench-state"; };
topics = { prefix = "%s"; partitions = 6; max_stages = 4;
           configs = ( "segment.ms=10000", "min.cleanable.dirty.ratio=0.01",
                       "delete.retention.ms=0" ); };
octopus = { url = "%s"; api_key_file = "%s"; };
producer = { group_id = "%sproducer"; transactional_id = "%sproducer";
             release_retention = "%s"; };
log = { level = "info"; };
""" % (self.broker.bootstrap, self.prefix, url, keyfile, self.prefix, self.prefix, retention))
        return path

    def producer(self, cfg, name, evict_count=0):
        """Runs one producer; returns its figures after start (and after eviction)."""
        logpath = os.path.join(self.work, "producer-%s.log" % name)
        t0 = time.monotonic()
        p = subprocess.Popen([self.octofleet, "producer", "-c", cfg], stdout=subprocess.DEVNULL,
                             stderr=open(logpath, "w"))
        try:
            wait_log(logpath, r"producer running", 600, p)
            started = time.monotonic() - t0
            m = wait_log(logpath, r"state rebuilt .*records=(\d+) releases=(\d+) jobs=(\d+) "
                         r"evicted=(\d+) .*took_ms=(\d+)", 5, p)
            time.sleep(2)  # settle: RSS after the start, not during it
            s = run.proc_sample(p.pid)
            out = {"name": name, "start_s": started, "records": int(m.group(1)),
                   "releases": int(m.group(2)), "jobs": int(m.group(3)),
                   "evicted": int(m.group(4)), "rebuild_ms": int(m.group(5)),
                   "rss_kb": s["rss_kb"], "hwm_kb": s["hwm_kb"]}
            if evict_count:
                wait_count(logpath, "release evicted", evict_count, 600, p)
                last = wait_log(logpath, r"(\S+) \[producer\] level=info state tombstones=\d+ "
                                r"left=0", 600, p)
                first = wait_log(logpath, r"(\S+) \[producer\] level=info release evicted", 5, p)
                out["evict_s"] = (run.parse_time(last.group(1)) -
                                  run.parse_time(first.group(1)))
                time.sleep(2)
                s = run.proc_sample(p.pid)
                out["rss_after_evict_kb"] = s["rss_kb"]
            return out
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(60)

    def main(self):
        a = self.args
        self.broker.start()
        try:
            url = self.start_sim()
            keep = self.write_config(url, "3650d")
            week = self.write_config(url, "7d")
            t0 = time.monotonic()
            r = subprocess.run([os.path.join(self.build, "bin", "bench_state"), "-c", keep,
                                "--releases", str(a.releases), "--tenants", str(a.tenants)],
                               capture_output=True, text=True)
            if r.returncode:
                raise run.BenchFailure("bench_state: %s" % r.stderr)
            fill_s = time.monotonic() - t0
            rows = [self.producer(keep, "kept")]
            if a.only_kept:
                self.report(rows, fill_s)
                return
            rows.append(self.producer(week, "evicting", evict_count=a.releases))
            rows.append(self.producer(week, "after"))
            # The log cleaner compacts only closed segments: one more (recent, so kept)
            # release rolls them (segment.ms 10 s), then the cleaner drops the superseded
            # values and the tombstones.
            time.sleep(11)
            r = subprocess.run([os.path.join(self.build, "bin", "bench_state"), "-c", keep,
                                "--releases", "1", "--age-days", "0", "--first",
                                str(a.releases), "--tenants", str(a.tenants)],
                               capture_output=True, text=True)
            if r.returncode:
                raise run.BenchFailure("bench_state: %s" % r.stderr)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                time.sleep(30)
                last = self.producer(week, "compacted")
                if last["records"] < rows[-1]["records"]:  # the cleaner ran
                    break
            rows.append(last)
            self.report(rows, fill_s)
        finally:
            if self.sim:
                self.sim.terminate()
                self.sim.wait(30)
            self.broker.stop()

    def report(self, rows, fill_s):
        a = self.args
        jobs = 2 * (1 + 6 * a.tenants)
        print("| producer run | records read | releases / jobs loaded | evicted markers | "
              "start-up (spawn → running) | state rebuild | RSS after start | peak RSS |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print("| %s | %d | %d / %d | %d | %.2f s | %d ms | %.1f MB | %.1f MB |"
                  % (r["name"], r["records"], r["releases"], r["jobs"], r["evicted"], r["start_s"],
                     r["rebuild_ms"], r["rss_kb"] / 1024.0, r["hwm_kb"] / 1024.0))
        print()
        print("%d releases x %d jobs: %.0f bytes of producer RSS per loaded job after start "
              "(run 1)." % (a.releases, jobs, rows[0]["rss_kb"] * 1024.0 / (a.releases * jobs)))
        if len(rows) < 2:
            return
        ev = rows[1]
        print("%d releases x %d jobs written in %.1f s. The evicting run evicted them in %.1f s "
              "(markers and %d tombstones); its RSS after that: %.1f MB."
              % (a.releases, jobs, fill_s, ev.get("evict_s", 0), a.releases * jobs,
                 ev.get("rss_after_evict_kb", 0) / 1024.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--releases", type=int, default=1000)
    ap.add_argument("--tenants", type=int, default=5)
    ap.add_argument("--octofleet", help="the producer binary (default: BUILD/bin/octofleet)")
    ap.add_argument("--only-kept", action="store_true", help="run 1 only")
    args = ap.parse_args()
    try:
        Bench(args).main()
    except run.BenchFailure as e:
        print("bench/state.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
