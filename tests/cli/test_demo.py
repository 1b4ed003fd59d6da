#!/usr/bin/env python3
"""`octofleet demo`, the README's first command, end to end: the embedded mock Kafka cluster,
the in-process Octopus simulator, a producer and three workers deploy the seed-like train; the
injected failure pauses it, the demo replays the failed stage, and the release completes.

The demo world is fixed (sim/worlds/demo-world.json, compiled in), so the numbers are too:
218 jobs (Schema once per beta environment, six tenanted projects for 18 tenants in each), one
of which fails once and is replayed: 219 deployments in all.

usage: test_demo.py /path/to/octofleet
"""
import re
import subprocess
import sys

p = subprocess.run([sys.argv[1], "demo"], capture_output=True, text=True, timeout=240)
out = p.stdout
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


check(p.returncode == 0, "exit code %d, want 0" % p.returncode)
check("release accepted" in out, "no 'release accepted'")
check(re.search(r"job failed: Integrations On Site Beta / Globex: .*db-globex", out),
      "the injected failure is not shown with Octopus's error")
check("release paused with 1 failed job(s)" in out and "replays stage 3" in out,
      "no pause and replay of stage 3")
check(out.find("release paused") < out.find("release resumed") < out.find("release completed"),
      "pause, resume and completion out of order")
for stage, name in ((1, "database"), (2, "services"), (3, "integrations"), (4, "web")):
    for env in ("On Site Beta", "Hosted Beta"):
        check(re.search(r"stage %d/4 %s +succeeded in %s" % (stage, name, env), out),
              "stage %d %s did not succeed in %s" % (stage, name, env))
check("summary: 218 jobs succeeded, 0 skipped, 1 failed and replayed (1 replay), "
      "8 stage gates passed" in out, "summary counts")
check(re.search(r"octopus: 219 deployments created", out), "deployments created")
if failures:
    print("stdout:\n" + out + "\nstderr:\n" + p.stderr[-4000:], file=sys.stderr)
    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    sys.exit(1)
print("demo: all checks passed", file=sys.stderr)
