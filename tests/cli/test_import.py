#!/usr/bin/env python3
"""`octofleet import` against octopus-sim (issue 11, part 3), over real HTTP.

World tests/fixtures/orchestration-world.json: the seed's _Deploy (a manual approval, seven
grouped pairs of a package step scoped to Testing that only picks the version and a Chain
Deployment step that deploys it, Integrations started with Reporting, a disabled notification)
and _Train (the same train with built-in Deploy a Release steps, a script step in between).
  - import of _Deploy 2026.18 writes a request (exit 0) whose plan deploys exactly _Deploy's
    seven children, each at the version the 2026.18 release picked (Billing's patch 2026.18.1
    included), in the stages of the step order (Reporting and Integrations together); what does
    not map (the approval, the disabled step, the package pickers) is on stderr and in
    "x-import-notes", which plan ignores;
  - import of _Train keeps each step's deploy condition: after Schema 2026.18.0 is deployed by
    hand, the plan skips it there ("already on ... (if-not-current)");
  - --strict exits 1 with the request still written; an unknown project exits 1; _Train without
    --environment exits 1 asking for one; no --project is a usage error (2).

usage: test_import.py /path/to/octofleet /path/to/octopus-sim /path/to/source-dir
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
WORLD = os.path.join(SRC, "tests", "fixtures", "orchestration-world.json")


def run(*args, env=None, cwd=None):
    return octotest.run(OCTOFLEET, *args, env=env, cwd=cwd)


def expected_train(world, name):
    """From the fixture itself: the children of orchestration project `name`, in step order,
    at the versions its 2026.18 release picked, as stages of (project, version)."""
    space = world["spaces"][0]
    proj = [p for p in space["projects"] if p["name"] == name][0]
    picked = proj["releases"][0]["packages"]
    stages = []
    for step in proj["process"]:
        acts = step.get("actions", [step])
        for a in acts:
            props = a.get("properties", {})
            if a.get("disabled"):
                continue
            if a["type"] == "Octopus.DeployRelease":
                child, version = a["project"], picked[a["name"]]
            elif "Chain_ProjectName" in props:
                child = props["Chain_ProjectName"]
                num = props["Chain_ReleaseNum"]
                version = (proj["releases"][0]["version"] if num == "#{Octopus.Release.Number}"
                           else picked[num[len("#{Octopus.Action["):num.index("]")]])
            else:
                continue
            if step.get("start_trigger") == "StartWithPrevious" and stages and \
                    stages[-1][0] == prev_step:
                stages[-1][1].append((child, version))
            else:
                stages.append((step["name"], [(child, version)]))
            prev_step = step["name"]
            break
        else:
            prev_step = None
            continue
    return [s for _, s in stages]


def plan_jobs(path, base, env, cwd):
    rc, out, err = run("plan", path, "--json", "--set", "octopus.url=" + base, cwd=cwd, env=env)
    check(rc == 0, "plan of the imported request: %d %s" % (rc, err[-2000:]))
    return json.loads(out)["jobs"] if rc == 0 else []


def import_train(project, tmp, env, url, *more):
    """`import` of project 2026.18 into a file; (rc, stderr, the request or None)."""
    path = os.path.join(tmp, project + ".json")
    rc, out, err = run("import", "--project", project, "--release", "2026.18", "-o", path, *url,
                       *more, cwd=tmp, env=env)
    check(rc == 0, "import %s: %d %s" % (project, rc, err))
    if rc != 0:
        return rc, err, None, path
    with open(path) as f:
        return rc, err, json.load(f), path


def stages_of(req):
    return [[(e["project"], e["version"]) for e in s["projects"]] for s in req["stages"]]


def main():
    with open(WORLD) as f:
        world = json.load(f)
    key = world["api_keys"][0]["key"]
    tmp = tempfile.mkdtemp(prefix="octofleet-import-")
    env = dict(os.environ, OCTOPUS_API_KEY=key)
    env.pop("OCTOFLEET_CONFIG", None)

    rc, out, err = run("import", "--release", "2026.18", cwd=tmp, env=env)
    check(rc == 2 and "missing --project" in err, "no --project: %d %s" % (rc, err))

    sim = simproc.SimProcess([SIM, "--port", "0", "--fixture", WORLD])
    try:
        base = "%s://127.0.0.1:%d" % (sim.scheme, sim.port)
        url = ["--set", "octopus.url=" + base]

        # the seed's _Deploy
        rc, err, req, path = import_train("_Deploy", tmp, env, url, "--environment",
                                          "Hosted Beta", "--environment", "On Site Beta")
        if not req:
            return
        want = expected_train(world, "_Deploy")
        got = stages_of(req)
        check(got == want, "the stages of _Deploy's steps:\n got  %s\n want %s" % (got, want))
        check(len(want) == 6 and [c for c, _ in want[3]] == ["Reporting", "Integrations"],
              "six stages, Integrations started with Reporting: %s" % want)
        check(("Billing", "2026.18.1") in sum(want, []), "Billing's patch was picked: %s" % want)
        notes = req.get("x-import-notes", [])
        for needle in ('"Approve the train" (Octopus.Manual) deploys no project',
                       '"Notify the channel": disabled: left out',
                       '"Billing package": only picks a version (2026.18.1)'):
            check(any(needle in n for n in notes), "note %r in %s" % (needle, notes))
            check(needle in err, "note %r on stderr: %s" % (needle, err))
        check(req["environments"] == ["Hosted Beta", "On Site Beta"] and
              req["tenants"] == {"tags": ["Ring/Beta"]}, "environments, tenants: %s" % req)

        jobs = plan_jobs(path, base, env, tmp)
        planned = sorted({(j["stage"], j["project"], j["version"]) for j in jobs})
        expect = sorted({(i + 1, p, v) for i, s in enumerate(want) for p, v in s})
        check(planned == expect, "the plan's (stage, project, version):\n got  %s\n want %s" %
              (planned, expect))
        check(jobs and all(j["action"] == "deploy" for j in jobs),
              "every job deploys: %s" % [j for j in jobs if j["action"] != "deploy"][:3])
        check({j["environment"] for j in jobs} == {"Hosted Beta", "On Site Beta"},
              "both environments: %s" % {j["environment"] for j in jobs})

        # --strict: the same request, exit 1 because of the notes
        rc2, out2, err2 = run("import", "--project", "_Deploy", "--release", "2026.18",
                              "--environment", "Hosted Beta", "--strict", *url, cwd=tmp,
                              env=env)
        check(rc2 == 1 and json.loads(out2)["stages"] == req["stages"],
              "--strict: %d %s" % (rc2, err2[-500:]))

        # _Train: Deploy a Release steps; Schema's IfNotCurrentVersion survives
        rc, out, err = run("import", "--project", "_Train", "--release", "2026.18", *url,
                           cwd=tmp, env=env)
        check(rc == 1 and "give --environment" in err, "_Train without env: %d %s" % (rc, err))
        rc, err, req, path = import_train("_Train", tmp, env, url, "--environment",
                                          "Hosted Beta")
        if not req:
            return
        want = expected_train(world, "_Train")
        got = stages_of(req)
        check(got == want, "the stages of _Train's steps:\n got  %s\n want %s" % (got, want))
        check(req["stages"][0]["projects"][0].get("condition") == "if-not-current",
              "Schema keeps IfNotCurrentVersion: %s" % req["stages"][0])
        check('"Smoke test" (Octopus.Script) deploys no project' in err, err)
        jobs = plan_jobs(path, base, env, tmp)
        schema = [j for j in jobs if j["project"] == "Schema"]
        check(len(schema) == 1 and schema[0]["action"] == "deploy", "Schema first: %s" % schema)
        deploy_by_hand(base, key, "Schema", "2026.18.0", "Hosted Beta")
        jobs = plan_jobs(path, base, env, tmp)
        schema = [j for j in jobs if j["project"] == "Schema"]
        check(len(schema) == 1 and schema[0]["action"] == "skip" and
              schema[0]["reason"] == "already on 2026.18.0 (if-not-current)",
              "Schema skipped once current: %s" % schema)
        check(all(j["action"] == "deploy" for j in jobs if j["project"] != "Schema"),
              "the other children still deploy")

        rc, out, err = run("import", "--project", "_Nope", "--release", "2026.18", *url,
                           cwd=tmp, env=env)
        check(rc == 1 and "_Nope" in err and not out, "unknown project: %d %s" % (rc, err))
        print("import: _Deploy and _Train imported; _Train plans %d jobs" % len(jobs))
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
    finish()
