#!/usr/bin/env python3
"""`octofleet hotfix` and the stage entry's "from" against octopus-sim (issue 11, part 4).

World tests/fixtures/small-world.json: Billing 4.2.0 was deployed everywhere, then 4.3.0 in
Development and Staging, so 4.2.0 is current only in the later environments (Hosted Beta here).
  - `hotfix --project Billing --version 4.3.0 --from 4.2.0` for Development, Staging and Hosted
    Beta writes a valid request (exit 0): one stage, the entry's "from", priority 100;
  - its plan deploys to every connected tenant in Hosted Beta and skips every Development and
    Staging target, each "not on 4.2.0 (from)";
  - after 4.3.0 is deployed by hand to one of those tenants in Hosted Beta (through the
    simulator's API, as an operator would), the plan skips that tenant too and still deploys
    to the others;
  - --like takes the train's space, environments, tenants and policy, --tenant and --priority
    replace them; a missing --from is a usage error (2), from = version is refused (1).

usage: test_hotfix.py /path/to/octofleet /path/to/octopus-sim /path/to/source-dir
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
import simproc  # noqa: E402  (octopus-sim as a process, shared with the simulator's tests)
from octotest import check, deploy_by_hand, finish  # noqa: E402
import octotest  # noqa: E402

OCTOFLEET, SIM, SRC = sys.argv[1], sys.argv[2], sys.argv[3]
WORLD = os.path.join(SRC, "tests", "fixtures", "small-world.json")


def run(*args, env=None, cwd=None):
    return octotest.run(OCTOFLEET, *args, env=env, cwd=cwd)


def plan(path, base, env, cwd):
    """The plan's jobs as (environment, tenant, action, reason)."""
    rc, out, err = run("plan", path, "--json", "--set", "octopus.url=" + base, cwd=cwd, env=env)
    check(rc == 0, "plan of the hotfix: %d %s" % (rc, err[-2000:]))
    if rc != 0:
        return []
    return [(j["environment"], j["tenant"], j["action"], j.get("reason"))
            for j in json.loads(out)["jobs"]]


def main():
    with open(WORLD) as f:
        key = json.load(f)["api_keys"][0]["key"]
    tmp = tempfile.mkdtemp(prefix="octofleet-hotfix-")
    env = dict(os.environ, OCTOPUS_API_KEY=key)
    env.pop("OCTOFLEET_CONFIG", None)

    # usage and validation, no Octopus needed
    rc, out, err = run("hotfix", "--project", "Billing", "--version", "4.3.0", "--environment",
                       "Production", cwd=tmp, env=env)
    check(rc == 2 and "missing --from" in err, "missing --from: %d %s" % (rc, err))
    rc, out, err = run("hotfix", "--project", "Billing", "--version", "4.3.0", "--from", "4.3.0",
                       "--environment", "Production", cwd=tmp, env=env)
    check(rc == 1 and "stages[0][0].from: is the version itself" in err,
          "from = version: %d %s" % (rc, err))
    rc, out, err = run("hotfix", "--project", "Billing", "--version", "4.3.0", "--from", "4.2.0",
                       cwd=tmp, env=env)
    check(rc == 2 and "missing --environment (or --like)" in err, "no environment: %d" % rc)

    # --like: the train's space, environments, tenants and policy; --tenant, --priority win
    like = os.path.join(SRC, "tests", "fixtures", "requests", "valid", "seed-train.json")
    with open(like) as f:
        train = json.load(f)
    rc, out, err = run("hotfix", "--project", "Billing", "--version", "4.3.1", "--from", "4.3.0",
                       "--like", like, "--tenant", "Contoso", "--priority", "50", cwd=tmp,
                       env=env)
    check(rc == 0, "hotfix --like: %d %s" % (rc, err))
    if rc == 0:
        req = json.loads(out)
        check(req["environments"] == train["environments"], "--like environments: %s" % req)
        check(req["tenants"] == {"names": ["Contoso"]}, "--tenant: %s" % req["tenants"])
        check(req["priority"] == 50, "--priority: %s" % req["priority"])
        check(req["policy"].get("condition") == train["policy"].get("condition"),
              "--like policy: %s" % req["policy"])
        check(req["stages"] == [{"projects": [{"project": "Billing", "version": "4.3.1",
                                               "from": "4.3.0"}]}],
              "one stage, the fixed project: %s" % req["stages"])

    sim = simproc.SimProcess([SIM, "--port", "0", "--fixture", WORLD])
    try:
        base = "%s://127.0.0.1:%d" % (sim.scheme, sim.port)
        rc, out, err = run("hotfix", "--project", "Billing", "--version", "4.3.0", "--from",
                           "4.2.0", "--environment", "Development", "--environment", "Staging",
                           "--environment", "Hosted Beta", cwd=tmp, env=env)
        check(rc == 0, "hotfix: %d %s" % (rc, err))
        req = json.loads(out)
        check(req["priority"] == 100 and req["tenants"] == "all" and
              req["release"] == "hotfix Billing 4.3.0", "the hotfix request: %s" % req)
        path = os.path.join(tmp, "hotfix.json")
        with open(path, "w") as f:
            f.write(out)
        jobs = plan(path, base, env, tmp)
        deploy = sorted(t for e, t, a, _ in jobs if a == "deploy")
        check(len(deploy) >= 2 and all(e == "Hosted Beta" for e, _, a, _ in jobs
                                       if a == "deploy"),
              "deploys only in Hosted Beta: %s" % jobs[:5])
        skipped = [(e, r) for e, _, a, r in jobs if a == "skip"]
        check({e for e, _ in skipped} == {"Development", "Staging"},
              "Development and Staging skipped: %s" % {e for e, _ in skipped})
        check(all(r == "not on 4.2.0 (from)" for _, r in skipped),
              "every skip says why: %s" % {r for _, r in skipped})
        if len(deploy) < 2:
            return
        fixed = deploy[-1]  # not Acme, whose Billing in Hosted Beta fails in this world
        deploy_by_hand(base, key, "Billing", "4.3.0", "Hosted Beta", fixed)
        jobs = plan(path, base, env, tmp)
        again = sorted(t for e, t, a, _ in jobs if a == "deploy")
        check(again == deploy[:-1], "after %s got 4.3.0 by hand: %s" % (fixed, again[:5]))
        check(("Hosted Beta", fixed, "skip", "not on 4.2.0 (from)") in jobs,
              "%s is now planned as skipped" % fixed)
        print("hotfix: %d to deploy, then %d after one was fixed by hand" %
              (len(deploy), len(again)))
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
    finish()
