#!/usr/bin/env python3
"""System scenario 12: metrics and health of the daemons on a real broker (docs/monitoring.md).

A producer and two workers with metrics_listen = 127.0.0.1:0 (the port read from each daemon's
`metrics listening on` line) run a release to completion. Proves:
  - /metrics of every daemon is clean under `promtool check metrics`;
  - the counters match the events of the finished release read from the events topic: the
    producer's octofleet_producer_jobs_total by outcome and the workers' octofleet_worker_jobs_total
    summed over workers both equal the release's final job events by type; dispatched equals
    the job.dispatched events; events_produced_total equals what each daemon produced;
  - /healthz is 200, an unknown path 404, /readyz 200 once the groups are joined;
  - /readyz of a worker turns 503 "Octopus unreachable" while the simulator drops every
    connection (fault injection) during a running release, and 200 again once it answers;
  - a metrics_listen port already in use stops a daemon at start with exit 3 and a clear line.
"""

import collections
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, http_get, metric_sum, of_type, parse_metrics  # noqa: E402

REQUEST = harness.release_request("sys-metrics", ["Dev", "Test"], [
    ("database", [("Schema", "2.0.0")]),
    ("services", [("Api", "2.0.0")]),
])
SLOW = harness.release_request("sys-metrics-slow", ["Dev", "Test"], [
    ("database", [("Schema", "1.0.0")]),
])
FINAL = ("succeeded", "failed", "cancelled", "timed_out", "skipped")
LISTEN = '"127.0.0.1:0"'


def promtool(text, who, workdir):
    exe = shutil.which("promtool")
    check(exe is not None, "promtool not found: install the prometheus package "
                           "(scripts/install-deps.sh)")
    path = os.path.join(workdir, "scrape-%s.txt" % who.replace(" ", "-"))
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([exe, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          "promtool check metrics on %s's scrape (%s): exit %d\n%s%s"
          % (who, path, r.returncode, r.stdout, r.stderr))


def scrape(addr):
    status, body = http_get(addr, "/metrics")
    check_eq(status, 200, "GET /metrics status on %s" % addr)
    return body


def scenario(args, fleets):
    fl = harness.Fleet(args, "metrics", worker_settings={"metrics_listen": LISTEN},
                       producer_settings={"metrics_listen": LISTEN})
    fleets.append(fl)
    fl.start(workers=("w1", "w2"))
    addr = {"producer": fl.metrics_address(fl.producer)}
    for w in ("w1", "w2"):
        addr[w] = fl.metrics_address(fl.workers[w])
    harness.log("metrics endpoints: %r" % addr)

    for who, a in addr.items():
        check_eq(http_get(a, "/healthz"), (200, "ok\n"), "%s /healthz" % who)
        check_eq(http_get(a, "/nope")[0], 404, "%s GET /nope" % who)
        fl.wait_until("%s /readyz 200" % who, lambda a=a: http_get(a, "/readyz") == (200, "ready\n"),
                      timeout=harness.START_TIMEOUT)

    # -- a release to completion ------------------------------------------------------------
    fl.set_rules([{"duration_ms": [200, 600]}])
    rid = fl.submit(REQUEST)
    fl.wait_release_end(rid, "release.completed", timeout=120)
    evs = fl.release_events(rid)
    finals = collections.Counter(e["type"][len("octofleet.job."):] for e in evs
                                 if e["type"][len("octofleet.job."):] in FINAL
                                 and e["type"].startswith("octofleet.job."))
    n_final = sum(finals.values())
    n_dispatched = len(of_type(evs, "job.dispatched"))
    n_started = len(of_type(evs, "job.started"))
    check(n_final > 0 and n_dispatched == n_final, "release events: %d final, %d dispatched"
          % (n_final, n_dispatched))
    harness.log("release done: %d final job events %r, %d dispatched" % (n_final, dict(finals),
                                                                         n_dispatched))

    # The counters count at commit (producer) and at delivery (workers): poll until they
    # have caught up with what the event follower already saw, then compare exactly.
    def counted():
        p = parse_metrics(scrape(addr["producer"]))
        ws = [parse_metrics(scrape(addr[w])) for w in ("w1", "w2")]
        done = (metric_sum(p, "octofleet_producer_jobs_total") == n_final
                and sum(metric_sum(m, "octofleet_worker_jobs_total") for m in ws) == n_final
                and metric_sum(p, "octofleet_producer_releases", state="completed") == 1)
        return (p, ws) if done else None
    p, ws = fl.wait_until("the metrics to count the release's %d final events" % n_final,
                          counted, timeout=30, interval=0.5)
    for o in FINAL:
        check_eq(metric_sum(p, "octofleet_producer_jobs_total", outcome=o), finals.get(o, 0),
                 "producer jobs_total{outcome=%s}" % o)
        check_eq(sum(metric_sum(m, "octofleet_worker_jobs_total", outcome=o) for m in ws),
                 finals.get(o, 0), "worker jobs_total{outcome=%s} summed over workers" % o)
    by_stage_env = collections.Counter((str(e["data"]["stage"]), e["data"]["environment"])
                                       for e in of_type(evs, "job.dispatched"))
    for (st, env), n in by_stage_env.items():
        check_eq(metric_sum(p, "octofleet_producer_jobs_dispatched_total", stage=st,
                            environment=env), n, "dispatched{stage=%s,environment=%s}" % (st, env))
    check_eq(metric_sum(p, "octofleet_producer_jobs_dispatched_total"), n_dispatched,
             "producer jobs_dispatched_total")
    check_eq(metric_sum(p, "octofleet_events_produced_total", type="job.dispatched"),
             n_dispatched, "producer events_produced_total{type=job.dispatched}")
    check_eq(metric_sum(p, "octofleet_events_produced_total", type="release.completed"), 1,
             "producer events_produced_total{type=release.completed}")
    producer_events = [e for e in evs if e["source"].startswith("octofleet/producer")]
    check_eq(metric_sum(p, "octofleet_events_produced_total"), len(producer_events),
             "producer events_produced_total vs the producer's events of the release")
    check_eq(sum(metric_sum(m, "octofleet_events_produced_total", type="job.started")
                 for m in ws), n_started, "workers' events_produced_total{type=job.started}")
    check_eq(metric_sum(p, "octofleet_producer_commands_total", type="submit", result="applied"),
             1, "producer commands_total{type=submit,result=applied}")
    check(metric_sum(p, "octofleet_producer_gate_latency_seconds_count") >= 1,
          "no gate latency observed for a two-stage release")
    check_eq(sum(metric_sum(m, "octofleet_worker_job_duration_seconds_count") for m in ws),
             n_final, "worker job_duration_seconds_count summed")
    queued = sum(metric_sum(m, "octofleet_worker_job_queue_seconds_count") for m in ws)
    check(0 < queued <= n_final, "worker job_queue_seconds_count %r of %d jobs" % (queued, n_final))
    check(sum(metric_sum(m, "octofleet_octopus_requests_total", route="deployments",
                         status_class="2xx") for m in ws) >= n_final,
          "workers counted fewer deployment creates than jobs")
    check(metric_sum(p, "octofleet_octopus_requests_total", status_class="2xx") > 0,
          "the producer counted no Octopus request (it resolved the plan)")
    check_eq(metric_sum(p, "octofleet_build_info", daemon="producer"), 1, "producer build_info")
    check_eq(metric_sum(ws[0], "octofleet_build_info", daemon="worker"), 1, "worker build_info")
    check(metric_sum(p, "octofleet_kafka_rebalances_total", kind="assign") >= 1,
          "the producer saw no assignment")
    # librdkafka's statistics come every 5 s: every stage partition shows up once, on the
    # worker that owns it, and with the release consumed each lag is 0, or 1 where the
    # producer's last transaction left its commit marker (an offset no consumer reads).
    def lags():
        return [v for w in ("w1", "w2")
                for (n, ls), v in parse_metrics(scrape(addr[w])).items()
                if n == "octofleet_kafka_consumer_lag"]
    n_parts = fl.max_stages * fl.partitions
    seen = []
    try:
        fl.wait_until("the workers' octofleet_kafka_consumer_lag to cover %d partitions, each "
                      "at 0 or 1" % n_parts,
                      lambda: seen.append(lags()) or (len(seen[-1]) == n_parts
                                                      and all(v in (0, 1) for v in seen[-1])),
                      timeout=40, interval=1)
    except harness.Failure as e:
        raise harness.Failure("%s; lags last seen: %r" % (e, seen[-1:]))
    def producer_lags():
        return [v for (n, ls), v in parse_metrics(scrape(addr["producer"])).items()
                if n == "octofleet_kafka_consumer_lag"]
    seen = []
    try:
        fl.wait_until("the producer's octofleet_kafka_consumer_lag series, each at 0 or 1",
                      lambda: seen.append(producer_lags()) or (
                          seen[-1] and all(v in (0, 1) for v in seen[-1])),
                      timeout=40, interval=1)
    except harness.Failure as e:
        raise harness.Failure("%s; lags last seen: %r" % (e, seen[-1:]))
    for who, a in addr.items():
        promtool(scrape(a), who, fl.dir)
    harness.log("counters match the release's events; promtool accepts all three scrapes")

    # -- Octopus unreachable: /readyz 503, then 200 again --------------------------------------
    fl.set_rules([{"duration_ms": 30000}])
    rid2 = fl.submit(SLOW)
    started = fl.wait_event(rid2, "job.started", count=2, timeout=60)
    busy = sorted({e["source"].rsplit("/", 1)[1] for e in started})
    harness.log("slow release running on %r; dropping every Octopus connection" % busy)
    fl.sim_call("POST", "/sim/faults", {"drop": True, "count": -1})
    for w in busy:
        status, body = fl.wait_until(
            "%s /readyz 503 while Octopus drops connections" % w,
            lambda w=w: (lambda r: r if r[0] == 503 else None)(http_get(addr[w], "/readyz")),
            timeout=60)
        check("Octopus unreachable" in body and body.count("\n") == 1,
              "%s /readyz 503 body %r: want one line naming Octopus" % (w, body))
        check_eq(http_get(addr[w], "/healthz")[0], 200, "%s /healthz while Octopus is away" % w)
    fl.sim_call("DELETE", "/sim/faults")
    for w in busy:
        fl.wait_until("%s /readyz 200 once Octopus answers again" % w,
                      lambda w=w: http_get(addr[w], "/readyz") == (200, "ready\n"), timeout=60)
    harness.log("readyz: 503 while Octopus was unreachable, 200 after")

    # -- a port in use: exit 3 with the reason ----------------------------------------------------
    cfg2 = os.path.join(fl.dir, "octofleet-port-in-use.cfg")
    with open(fl.cfg) as f:
        text = f.read()
    text = text.replace("worker = {", 'worker = {\n    metrics_listen = "%s";' % addr["producer"], 1)
    text = text.replace('    metrics_listen = %s;\n' % LISTEN, "", 2)  # the test's own lines
    with open(cfg2, "w") as f:
        f.write(text)
    r = fl.octofleet("worker", "--name", "w9", "-c", cfg2, config=False, timeout=60)
    check_eq(r.returncode, 3, "worker exit code with metrics_listen on a port in use")
    check("worker.metrics_listen %s: cannot listen: Address already in use" % addr["producer"]
          in r.stderr, "worker stderr does not say the port is in use:\n%s" % r.stderr)
    harness.log("a port in use: exit 3, %r" % r.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    harness.main(scenario, __doc__)
