#!/usr/bin/env python3
"""The benchmark's arithmetic (bench/run.py): the figures docs/benchmarks.md compares with the
goals come from these functions, so they are checked here on hand-made events, deployments and
logs whose answers are known. The benchmark itself runs outside CI (bench/README.md).

    test_analysis.py SOURCE_DIR

Table-driven; each case names what it proves. Exits 1 on the first failure, saying which.
"""
import importlib.util
import os
import sys
import tempfile

SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(os.path.dirname(__file__), "..", ".."))
spec = importlib.util.spec_from_file_location("bench_run", os.path.join(SRC, "bench", "run.py"))
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)

CE = run.CE
STAGES = run.QUIET_STAGES  # four one-project stages: Identity, Billing, Integrations, Portal
ENV = run.QUIET_ENV
FAILED = []


def check(name, got, want):
    if got != want:
        FAILED.append(name)
        print("FAIL %s: got %r, want %r" % (name, got, want))
    else:
        print("ok   %s" % name)


def ts(ms):
    """RFC 3339 of a millisecond offset from a fixed instant (what the fleet writes)."""
    s, ms = divmod(ms, 1000)
    return "2026-12-08T04:00:%02d.%03dZ" % (s, ms)


def ev(kind, ms, stage, job="j", tenant="t1", env=ENV, **data):
    d = {"stage": stage, "environment": env, "tenant": tenant, "job_id": job}
    d.update(data)
    return {"type": CE + kind, "time": ts(ms), "data": d}


def dep(project, created_ms, tenant="t1", env=ENV, task="ServerTasks-1", completed_ms=None):
    return {"project": project, "environment": env, "tenant": tenant, "task_id": task,
            "created": ts(created_ms),
            "completed_time": ts(completed_ms) if completed_ms is not None else None}


def ms(v):
    return None if v is None else round(v * 1000)


# ---- percentile: nearest rank, as the goals' p50 and p99 are read -----------------------------
for name, values, p, want in [
    ("percentile: empty is None", [], 50, None),
    ("percentile: one value is every percentile", [7], 99, 7),
    ("percentile: p50 of 1..10 is 5 (nearest rank)", list(range(10, 0, -1)), 50, 5),
    ("percentile: p99 of 60 values is the largest", list(range(60)), 99, 59),
    ("percentile: p99 of 200 values is the 198th", list(range(200)), 99, 197),
    ("percentile: p0 is the smallest", [3, 1, 2], 0, 1),
]:
    check(name, run.percentile(values, p), want)

# ---- completion noticed: final event time minus the task's CompletedTime ----------------------
res = {"deployments": [dep("Identity", 0, task="T1", completed_ms=1000),
                       dep("Billing", 0, task="T2", completed_ms=2000)],
       "events": [ev("job.succeeded", 1100, 1, task_id="T1"),
                  ev("job.failed", 2250, 2, task_id="T2"),
                  ev("job.started", 1500, 2, task_id="T2"),  # not final: not counted
                  ev("job.succeeded", 3000, 3, task_id="T9")]}  # no such task: not counted
check("completion: one figure per final event with a known task",
      sorted(ms(v) for v in run.completion_latencies(res)), [100, 250])

# ---- stage gates: barrier and lanes -------------------------------------------------------------
# A barrier gate runs from the last final event of stage N to the first dispatch and the first
# create of stage N+1 in the same environment.
barrier = {
    "request": {"environments": [ENV]},
    "events": [ev("job.succeeded", 100, 1, job="a"), ev("job.succeeded", 140, 1, job="b"),
               ev("job.dispatched", 143, 2, job="c"), ev("job.dispatched", 150, 2, job="d"),
               ev("job.succeeded", 400, 2, job="c"), ev("job.succeeded", 420, 2, job="d"),
               ev("job.dispatched", 425, 3, job="e")],
    "deployments": [dep("Identity", 10), dep("Billing", 152), dep("Billing", 151, tenant="t2"),
                    dep("Integrations", 431)],
}
gd, gc = run.gate_latencies(barrier, stages=STAGES)
check("barrier: gate -> dispatched, from the stage's last final event", [ms(v) for v in gd],
      [3, 5])
check("barrier: gate -> first create, any tenant's", [ms(v) for v in gc], [11, 11])
# Lanes: a tenant's next stage waits for its own jobs and the untenanted ones of the stage.
lanes = {
    "request": {"environments": [ENV]},
    "events": [ev("job.succeeded", 100, 1, job="s", tenant=None),
               ev("job.succeeded", 90, 1, job="a", tenant="t1"),
               ev("job.succeeded", 130, 1, job="b", tenant="t2"),
               ev("job.dispatched", 104, 2, job="c", tenant="t1"),
               ev("job.dispatched", 136, 2, job="d", tenant="t2")],
    "deployments": [dep("Billing", 110, tenant="t1"), dep("Billing", 139, tenant="t2")],
}
gd, gc = run.gate_latencies(lanes, lanes=True, stages=STAGES)
check("lanes: each lane's gate, the untenanted job gating every lane",
      (sorted(ms(v) for v in gd), sorted(ms(v) for v in gc)), ([4, 6], [9, 10]))

# ---- a quiet gate in steps, from the debug logs -------------------------------------------------
# Stage 2's first job is dispatched at 143 ms; the producer logs a commit at 140 and 143 (the
# batches before) and at 151 (this decision's); a worker receives it at 154 and a redelivery at 300;
# the create is at 156. Stage 3's job has no "job received" line: no split for that gate.
quiet = {"events": barrier["events"], "deployments": [dep("Identity", 10), dep("Billing", 156),
                                                       dep("Integrations", 431)]}
logs = {
    "producer.log": [
        "%s [producer] level=debug batch committed messages=1 produced=3 produce_us=1 "
        "offsets_us=1 commit_us=1" % ts(140),
        # the same millisecond as the decision: the batch before it, which ended as it began
        "%s [producer] level=debug batch committed messages=1 produced=0 produce_us=1 "
        "offsets_us=1 commit_us=1" % ts(143),
        "%s [producer] level=info something else" % ts(145),
        "%s [producer] level=debug batch committed messages=1 produced=3 produce_us=1 "
        "offsets_us=1 commit_us=1" % ts(151),
    ],
    "worker-w1.log": [
        "%s [w1] level=debug job received release=r stage=2 job=c attempt=1 topic=x.jobs.s2 "
        "partition=0 offset=0" % ts(154),
        "%s [w1] level=debug job received release=r stage=2 job=c attempt=1 topic=x.jobs.s2 "
        "partition=0 offset=0" % ts(300),
    ],
    "sim.log": ["%s [sim] level=debug job received job=e" % ts(426)],  # not a worker's log
}
with tempfile.TemporaryDirectory() as d:
    for name, lines in logs.items():
        with open(os.path.join(d, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    split = run.gate_split(d, quiet, STAGES)
    check("split: transaction, delivery, start of the gates that have all three",
          [tuple(ms(x) for x in s) for s in split], [(8, 3, 2)])
    for name in logs:
        os.remove(os.path.join(d, name))
    with open(os.path.join(d, "producer.log"), "w") as f:
        f.write("%s [producer] level=info producer running\n" % ts(0))
    check("split: nothing at info level", run.gate_split(d, quiet, STAGES), [])

if FAILED:
    print("%d case(s) failed: %s" % (len(FAILED), ", ".join(FAILED)))
    sys.exit(1)
print("all cases passed")
