#!/usr/bin/env python3
"""System scenario 16: maintenance windows (policy.windows, docs/requests.md).

Release "sys-windows" (Api, then Web, in Dev, lanes) for Alpha, Bravo and Charlie, where Alpha
carries the tag Region/APAC whose window opens at the next whole minute at least 20 s away, in
the zone Etc/GMT-3 (UTC+3), and the task budget is small (server task cap 1):
  - `octofleet plan --json` gives Alpha's jobs "starts_at" = the opening, the others none; the
    table says "opens";
  - `octofleet status` lists Alpha's held job as waiting for its window;
  - Bravo's and Charlie's deployments all finish before the opening (Alpha's waiting job holds
    no budget slot and blocks no other tenant);
  - the producer restarted meanwhile keeps Alpha's job waiting;
  - no deployment for Alpha is created before the opening (creation times in /sim/deployments);
  - the release completes, every target deployed once.
"""

import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, parse_time  # noqa: E402

TENANTS = ("Alpha", "Bravo", "Charlie")
ZONE_EAST_H = 3  # Etc/GMT-3 is UTC+3 (POSIX sign)


def world_with_tags(args):
    """system-world.json with a Region tag set and Alpha tagged Region/APAC."""
    with open(os.path.join(args.fixtures, "system-world.json")) as f:
        world = json.load(f)
    space = world["spaces"][0]
    space["tagsets"] = [{"name": "Region", "tags": ["APAC", "EU"]}]
    for t in space["tenants"]:
        if t["name"] == "Alpha":
            t["tags"] = ["Region/APAC"]
    os.makedirs(args.workdir, exist_ok=True)
    path = os.path.join(args.workdir, "windows-world.json")
    with open(path, "w") as f:
        json.dump(world, f)
    return path


def opening():
    """The next whole minute at least 35 s from now (UTC), and the window as local HH:MM: time
    for the plan, the other tenants and a producer restart on a loaded machine."""
    now = datetime.datetime.now(datetime.timezone.utc)
    t = (now + datetime.timedelta(seconds=35 + 59)).replace(second=0, microsecond=0)
    local = t + datetime.timedelta(hours=ZONE_EAST_H)
    end = local + datetime.timedelta(minutes=30)
    return t, [local.strftime("%H:%M"), end.strftime("%H:%M")]


def scenario(args, fleets):
    fixture = world_with_tags(args)
    fl = harness.Fleet(args, "windows", fixture=fixture, task_cap=1)
    fleets.append(fl)
    fl.start(workers=("w1",))
    t_open, between = opening()
    harness.log("window opens %s (%s-%s UTC+3)" % (t_open.isoformat(), between[0], between[1]))
    req = harness.release_request(
        "sys-windows", ["Dev"], [[("Api", "1.0.0")], [("Web", "1.0.0")]],
        tenants={"names": list(TENANTS)},
        policy={"gate": "tenant", "windows": [
            {"tenant_tag": "Region/APAC", "start_between": between, "timezone": "Etc/GMT-3"}]})

    doc = harness.plan(fl, req)
    for j in doc["jobs"]:
        if j.get("tenant") == "Alpha":
            check_eq((j.get("window"), parse_time(j.get("starts_at"))), (1, t_open),
                     "plan --json window and starts_at of Alpha's %s" % j["project"])
        else:
            check(j.get("starts_at") is None and j.get("window") is None,
                  "plan --json: %s's %s has a window: %r" % (j.get("tenant"), j["project"], j))
    r = fl.octofleet("plan", fl.write_request(req))
    check("window Region/APAC %s-%s Etc/GMT-3, opens %s" % (
        between[0], between[1], t_open.strftime("%Y-%m-%dT%H:%M:%SZ")) in r.stdout,
        "plan's table does not show Alpha's window opening:\n%s" % r.stdout)

    fl.set_rules([{"duration_ms": [200, 400]}])
    rid = fl.submit(req)
    harness.log("submitted %s" % rid)

    def waiting_shown():
        s = fl.octofleet("status", rid)
        return s.returncode == 0 and "waiting for a maintenance window" in s.stdout and \
            "Alpha" in s.stdout.split("waiting for a maintenance window", 1)[1] and s.stdout
    out = fl.wait_until("status lists Alpha waiting for its window", waiting_shown, timeout=30)
    check("opens %s" % t_open.strftime("%Y-%m-%dT%H:%M:%SZ") in out,
          "status does not give the opening:\n%s" % out)
    s = fl.octofleet("status", rid, "--json")
    check_eq(s.returncode, 0, "status --json exit code (%s)" % s.stderr.strip())
    waiting = [(j.get("tenant"), j.get("window"), parse_time(j.get("starts_at")))
               for j in json.loads(s.stdout)["jobs"] if j.get("starts_at")]
    check_eq(waiting, [("Alpha", 1, t_open)], "status --json jobs with starts_at")

    def early_alpha():
        """Alpha's deployments created before the opening (the window may open while we look)."""
        return [d for d in fl.deployments() if d["tenant"] == "Alpha"
                and parse_time(d["created"]) < t_open]

    # the other tenants finish both stages meanwhile
    def others_done():
        deps = [d for d in fl.deployments({("Api", "1.0.0"), ("Web", "1.0.0")})
                if d["tenant"] in ("Bravo", "Charlie") and d.get("completed_time")]
        return len(deps) == 4
    fl.wait_until("Bravo's and Charlie's deployments", others_done, timeout=60)
    now = datetime.datetime.now(datetime.timezone.utc)
    check(now < t_open, "the other tenants finished only at %s, after the opening %s: the "
          "waiting tenant held them up" % (now.isoformat(), t_open.isoformat()))
    check(not early_alpha(), "Alpha deployed before its window opened")

    # a restarted producer rebuilds the wait from the state topic (the job record's window,
    # the request's windows): Alpha's job stays held until the opening
    harness.log("restarting the producer")
    fl.producer.expected_exit = True
    check_eq(fl.producer.stop(), 0, "producer exit code on SIGTERM")
    fl.start_producer()
    now = datetime.datetime.now(datetime.timezone.utc)
    check(now < t_open, "the restart ended at %s, after the opening %s: nothing left to prove"
          % (now.isoformat(), t_open.isoformat()))
    fl.wait_until("status still lists Alpha waiting after the restart", waiting_shown, timeout=20)
    check(not early_alpha(), "Alpha deployed before its window opened (after the producer's "
          "restart)")

    fl.wait_release_end(rid, "release.completed", timeout=150)
    harness.log("completed")
    deps = fl.deployments({("Api", "1.0.0"), ("Web", "1.0.0")})
    for d in deps:
        if d["tenant"] == "Alpha":
            check(parse_time(d["created"]) >= t_open,
                  "Alpha's %s created at %s, before its window opened at %s"
                  % (d["project"], d["created"], t_open.isoformat()))
    counts = {k: c for k, c in fl.deployment_counts().items() if k[1] == "1.0.0"}
    want = {(p, "1.0.0", "Dev", t): 1 for p in ("Api", "Web") for t in TENANTS}
    check_eq(counts, want, "deployment counts")


if __name__ == "__main__":
    harness.main(scenario, __doc__)
