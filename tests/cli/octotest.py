"""Helpers shared by the command tests that run octofleet against octopus-sim (test_hotfix.py,
test_import.py): counted checks, running the binary, the simulator's REST API, and a deployment
made by hand as an operator would, through the API."""

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request

failures = 0


def check(cond, what):
    """Counts a failed check and says what; the test ends with finish()."""
    global failures
    if not cond:
        failures += 1
        print("FAIL: %s" % what, file=sys.stderr)


def finish():
    if failures:
        print("%d check(s) failed" % failures, file=sys.stderr)
        sys.exit(1)
    print("ok")


def run(binary, *args, env=None, cwd=None):
    p = subprocess.run([binary, *args], capture_output=True, text=True, env=env, cwd=cwd,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def api(url, key, method="GET", body=None):
    req = urllib.request.Request(url, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"X-Octopus-ApiKey": key,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode())


def by_name(base, key, kind, name):
    items = api("%s/api/Spaces-1/%s?partialName=%s&take=1000" %
                (base, kind, urllib.parse.quote(name)), key)["Items"]
    return [i for i in items if i["Name"] == name][0]


def deploy_by_hand(base, key, project, version, environment, tenant=None):
    """project's release version to environment (for tenant, if given) through the API; returns
    once its task has ended, checking that it succeeded."""
    p = by_name(base, key, "projects", project)
    rel = api("%s/api/Spaces-1/projects/%s/releases/%s" % (base, p["Id"], version), key)
    body = {"ReleaseId": rel["Id"], "EnvironmentId": by_name(base, key, "environments",
                                                             environment)["Id"],
            "Comments": "deployed by hand"}
    if tenant:
        body["TenantId"] = by_name(base, key, "tenants", tenant)["Id"]
    dep = api(base + "/api/Spaces-1/deployments", key, "POST", body)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        task = api("%s/api/tasks/%s" % (base, dep["TaskId"]), key)
        if task["IsCompleted"]:
            check(task["State"] == "Success", "the hand deployment ended %s" % task["State"])
            return
        time.sleep(0.05)  # polling the task with a deadline
    check(False, "the hand deployment did not end within 30 s")
