#!/usr/bin/env python3
"""Black-box tests of the octopus-sim binary over HTTP (standard library only).

Starts `octopus-sim --port 0 --fixture tests/fixtures/small-world.json` as a
subprocess, reads the port from its "listening on" line, and checks the API
surface octofleet relies on, the task engine and the admin endpoints. Every
wait polls for a condition with a deadline. Each case runs after POST
/sim/reset, so cases are independent. Registered with ctest (label sim):

  test_sim.py --binary build/bin/octopus-sim --fixtures tests/fixtures \
              --gen-world scripts/gen-world.py [-k NAME]
"""

import argparse
import datetime
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

from simproc import DEADLINE, Failure, SimProcess, check, check_eq, wait_for

KEY = "API-OCTOFLEETTEST0000000000000001"
OTHER_KEY = "API-OTHERSPACEONLY00000000000001"

ARGS = None
SIM = None  # the shared simulator process


# ---- the simulator process --------------------------------------------------------------

class Sim(SimProcess):
    def __init__(self, fixture, extra=(), env=None, tls=False):
        super().__init__([ARGS.binary, "--port", "0", "--fixture", fixture] + list(extra), env)
        self.tls_context = None

    def conn(self, timeout=30):
        if self.scheme == "https":
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.tls_context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.raw = status, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


def req(method, path, body=None, key=KEY, sim=None, headers=None, timeout=30):
    sim = sim or SIM
    c = sim.conn(timeout)
    h = dict(headers or {})
    if key:
        h["X-Octopus-ApiKey"] = key
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        h["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read().decode("utf-8")
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)
    finally:
        c.close()


def get(path, **kw):
    return req("GET", path, **kw)


def ok(method, path, body=None, status=200, **kw):
    r = req(method, path, body, **kw)
    check(r.status == status, "%s %s: want %d, got %r" % (method, path, status, r))
    return r.json


def admin(method, path, body=None, status=200):
    return ok(method, path, body, status=status, key=None)


def q(s):
    return urllib.parse.quote(s, safe="")


def parse_time(s):
    return datetime.datetime.fromisoformat(s) if s else None


# ---- world lookups ----------------------------------------------------------------------

_cache = {}


def lookup(kind, name):
    k = (kind, name)
    if k not in _cache:
        items = ok("GET", "/api/Spaces-1/%s/all" % kind)
        for it in items:
            _cache[(kind, it["Name"])] = it["Id"]
    return _cache[k]


def release_id(project, version):
    return ok("GET", "/api/projects/%s/releases/%s" % (lookup("projects", project), version))["Id"]


def deploy(project, version, env, tenant=None, status=201, **extra):
    body = {"ReleaseId": release_id(project, version), "EnvironmentId": lookup("environments", env)}
    if tenant:
        body["TenantId"] = lookup("tenants", tenant)
    body.update(extra)
    return ok("POST", "/api/Spaces-1/deployments", body, status=status)


def task(tid):
    return ok("GET", "/api/tasks/" + tid)


def wait_state(tid, states, timeout=DEADLINE):
    states = states if isinstance(states, (list, tuple)) else [states]
    return wait_for(lambda: (lambda t: t if t["State"] in states else None)(task(tid)),
                    "%s to reach %s" % (tid, states), timeout)


def reset():
    admin("POST", "/sim/reset")


# ---- cases: auth, routes, catalogue -----------------------------------------------------

def test_root_and_route_forms():
    root = ok("GET", "/api/", key=None)  # anonymous, as on a real server
    check("Spaces" in root["Links"], "root Links.Spaces")
    space = ok("GET", "/api/Spaces-1")
    check(space["Links"]["Projects"].startswith("/api/Spaces-1/projects"), "space root links")
    check_eq(ok("GET", "/api/spaces/Spaces-1")["Name"], "Default", "space resource")
    forms = ["/api/projects", "/api/Spaces-1/projects", "/api/spaces/Spaces-1/projects"]
    names = [[p["Name"] for p in ok("GET", f)["Items"]] for f in forms]
    check(names[0] == names[1] == names[2] and "Billing" in names[0], "route forms agree")
    check_eq(get("/api/Spaces-99/projects").status, 404, "unknown space")
    check_eq(get("/api/nonsense/route/here").status, 404, "unknown route")
    check_eq(req("DELETE", "/api/projects").status, 405, "wrong method")
    stats = admin("GET", "/sim/stats")
    # three forms + the unknown-space 404 share one route name
    check_eq(stats["routes"].get("GET /api/{space}/projects"), 4, "one route name for all forms")
    spaces = ok("GET", "/api/spaces")
    check_eq([s["Name"] for s in spaces["Items"]], ["Default", "Other"], "spaces")


def test_auth():
    check_eq(ok("GET", "/api/users/me")["Username"], "octofleet-sim", "users/me")
    check_eq(get("/api/users/me", key=None).status, 401, "users/me needs a key")
    for key in (None, "API-WRONGKEY000000000000000000001"):
        r = get("/api/projects", key=key)
        check_eq(r.status, 401, "status for key %r" % key)
        check("You must be logged in" in r.json["ErrorMessage"], "401 message")
    check_eq(get("/api/projects?apikey=" + KEY, key=None).status, 200, "?apikey=")
    r = get("/api/projects", key=OTHER_KEY)
    check_eq(r.status, 403, "other-space key on default space")
    check("Default" in r.json["ErrorMessage"], "403 names the space: %r" % r)
    check_eq(get("/api/Spaces-2/projects", key=OTHER_KEY).status, 200, "own space")
    names = [s["Name"] for s in ok("GET", "/api/spaces", key=OTHER_KEY)["Items"]]
    check_eq(names, ["Other"], "spaces visible to the limited key")
    check_eq(get("/api/tasks/ServerTasks-1", key=OTHER_KEY).status, 403, "task in other space")


def test_paging_and_partial_name():
    page = ok("GET", "/api/tenants")
    check_eq((page["ItemsPerPage"], page["TotalResults"], page["NumberOfPages"],
              page["LastPageNumber"], len(page["Items"])), (30, 50, 2, 1, 30), "envelope")
    check_eq(page["ItemType"], "Tenant", "ItemType")
    for link in ("Self", "Template", "Page.All", "Page.Current", "Page.Last", "Page.Next"):
        check(link in page["Links"], "link " + link)
    nxt = ok("GET", page["Links"]["Page.Next"])
    check_eq(len(nxt["Items"]), 20, "second page size")
    check("Page.Next" not in nxt["Links"], "no Page.Next on the last page")
    seen = {t["Name"] for t in page["Items"]} | {t["Name"] for t in nxt["Items"]}
    check_eq(len(seen), 50, "pages cover every tenant once")
    names = [t["Name"] for t in ok("GET", "/api/tenants?partialName=ACME")["Items"]]
    check_eq(names, ["Acme", "Acme Labs", "Acme Labs West"], "contains match, sorted")
    odd = "A/B & C?#ü"
    got = ok("GET", "/api/tenants?partialName=" + q(odd))["Items"]
    check_eq([t["Name"] for t in got], [odd], "special characters")
    allt = ok("GET", "/api/tenants/all?partialName=labs")
    check(isinstance(allt, list) and len(allt) == 2, "tenants/all is a bare array")
    small = ok("GET", "/api/tenants?skip=48&take=5")
    check_eq(len(small["Items"]), 2, "skip/take")
    check_eq(get("/api/tenants?take=-1").status, 400, "bad take")
    # tags: OR within a tag set, AND across tag sets
    both = ok("GET", "/api/tenants/all?tags=Ring/Beta&tags=" + q("Hosting/Cloud"))
    check_eq(sorted(t["Name"] for t in both), ["Acme", "Contoso"], "AND across sets")
    either = ok("GET", "/api/tenants/all?tags=Ring/Beta&tags=Ring/Main")
    check_eq(len(either), 50, "OR within a set")
    portal = ok("GET", "/api/tenants/all?projectId=" + lookup("projects", "Portal"))
    check("Globex" not in [t["Name"] for t in portal] and len(portal) > 3, "projectId filter")
    ids = ok("GET", "/api/tenants?ids=%s,%s" % (lookup("tenants", "Acme"),
                                               lookup("tenants", "Globex")))["Items"]
    check_eq(sorted(t["Name"] for t in ids), ["Acme", "Globex"], "ids filter")
    tenant = ok("GET", "/api/tenants/" + lookup("tenants", "Acme"))
    check_eq(tenant["TenantTags"], ["Hosting/Cloud", "Ring/Beta"], "TenantTags")
    check(lookup("projects", "Billing") in tenant["ProjectEnvironments"], "ProjectEnvironments")


def test_catalogue():
    billing = lookup("projects", "Billing")
    p = ok("GET", "/api/projects/" + billing)
    check_eq((p["Name"], p["TenantedDeploymentMode"], p["Slug"]),
             ("Billing", "Tenanted", "billing"), "project")
    check_eq(ok("GET", "/api/projects/billing")["Id"], billing, "project by slug")
    check_eq(get("/api/projects/Billing%20Service").status, 404, "project by name is 404")
    acme = [t for t in ok("GET", "/api/tenants/all?partialName=Acme") if t["Name"] == "Acme"][0]
    check_eq(ok("GET", "/api/tenants/" + acme["Slug"])["Id"], acme["Id"], "tenant by slug")
    check_eq(get("/api/tenants/no-such-tenant").status, 404, "unknown tenant slug is 404")
    envs = ok("GET", "/api/environments")["Items"]
    check_eq([e["Name"] for e in envs][:3], ["Development", "Staging", "Testing"], "SortOrder")
    lc = ok("GET", "/api/lifecycles/" + p["LifecycleId"])
    check_eq([ph["Name"] for ph in lc["Phases"]], ["Dev", "Stage", "Beta", "Release"], "phases")
    check_eq(len(lc["Phases"][2]["OptionalDeploymentTargets"]), 2, "Beta has two environments")
    check_eq(lc["Phases"][0]["MinimumEnvironmentsBeforePromotion"], 1, "minimum")
    ch = ok("GET", "/api/projects/%s/channels" % billing)["Items"]
    check(len(ch) == 1 and ch[0]["IsDefault"], "default channel")
    tagsets = ok("GET", "/api/tagsets")["Items"]
    check_eq([t["Name"] for t in tagsets], ["Hosting", "Ring"], "tag sets")
    check_eq(tagsets[0]["Tags"][0]["CanonicalTagName"], "Hosting/Cloud", "canonical tag")


def test_releases():
    billing = lookup("projects", "Billing")
    rel = ok("GET", "/api/projects/%s/releases/4.3.0" % billing)
    check_eq((rel["Version"], rel["ProjectId"]), ("4.3.0", billing), "release by version")
    check(rel["Links"]["DeploymentTemplate"].endswith("/deployments/template"), "template link")
    # the path segment is percent-decoded like any other
    check_eq(ok("GET", "/api/projects/%s/releases/4%%2E3.0" % billing)["Id"], rel["Id"],
             "encoded version")
    r = get("/api/projects/%s/releases/9.9.9" % billing)
    check_eq(r.status, 404, "missing release")
    check_eq(r.json["ErrorMessage"], "The resource you requested was not found.", "404 body")
    lst = ok("GET", "/api/projects/%s/releases" % billing)["Items"]
    check_eq([x["Version"] for x in lst], ["4.3.0", "4.2.0"], "newest first")
    check_eq(len(ok("GET", "/api/projects/%s/releases?searchByVersion=4.2" % billing)["Items"]),
             1, "searchByVersion")
    check_eq(ok("GET", "/api/releases/" + rel["Id"])["Version"], "4.3.0", "release by id")


def names(envs):
    return sorted(e["Name"] for e in envs)


def test_deployment_template():
    t = ok("GET", "/api/releases/%s/deployments/template" % release_id("Billing", "4.3.0"))
    tp = {x["Name"]: names(x["PromoteTo"]) for x in t["TenantPromotions"]}
    check_eq(tp["Acme"], ["Development", "Hosted Beta", "Staging"], "Acme (beta ring)")
    check_eq(tp["Acme Labs"], ["Development", "Hosted Release", "Staging"], "Acme Labs")
    check("Retired Corp" not in tp, "disabled tenant left out")
    check_eq(len(tp), 49, "every enabled connected tenant")
    t = ok("GET", "/api/releases/%s/deployments/template" % release_id("Reporting", "4.3.0"))
    tp = {x["Name"]: names(x["PromoteTo"]) for x in t["TenantPromotions"]}
    check_eq(tp["Acme"], ["Development", "Staging"], "Reporting 4.3.0 not yet past Staging")
    t = ok("GET", "/api/releases/%s/deployments/template" % release_id("Schema", "4.3.0"))
    check_eq(names(t["PromoteTo"]), ["Development", "Hosted Beta", "On Site Beta", "Staging"],
             "untenanted PromoteTo")
    check_eq(t["TenantPromotions"], [], "untenanted project has no TenantPromotions")


# ---- deployments -------------------------------------------------------------------------

def test_create_deployment():
    d = deploy("Billing", "4.3.0", "Hosted Release", "Acme Labs", Comments="job=abc",
               UseGuidedFailure=False, FormValues={"x": "1"})
    for f in ("Id", "Name", "SpaceId", "ProjectId", "ReleaseId", "ChannelId", "EnvironmentId",
              "TenantId", "TaskId", "Created", "Comments", "UseGuidedFailure", "FormValues",
              "QueueTime", "QueueTimeExpiry"):
        check(f in d, "deployment field " + f)
    for link in ("Self", "Task", "Web", "Release"):
        check(link in d["Links"], "link " + link)
    check_eq((d["Comments"], d["FormValues"], d["TenantId"]),
             ("job=abc", {"x": "1"}, lookup("tenants", "Acme Labs")), "echoed fields")
    check_eq(ok("GET", d["Links"]["Self"])["Id"], d["Id"], "GET deployments/{id}")
    check_eq(ok("GET", d["Links"]["Task"])["Id"], d["TaskId"], "task link")
    lst = ok("GET", "/api/deployments?projects=%s&environments=%s&tenants=%s" % (
        d["ProjectId"], d["EnvironmentId"], d["TenantId"]))
    check_eq(lst["Items"][0]["Id"], d["Id"], "newest first in deployments list")
    check(lst["TotalResults"] >= 2, "history counts in the list")
    # untenanted and TenantedOrUntenanted both ways
    deploy("Schema", "4.3.0", "Hosted Beta")
    deploy("Web", "4.3.0", "Hosted Beta")
    deploy("Web", "4.3.0", "Hosted Beta", "Acme")
    # the same POST through every route form
    for prefix in ("/api", "/api/Spaces-1", "/api/spaces/Spaces-1"):
        ok("POST", prefix + "/deployments", {"ReleaseId": release_id("Schema", "4.3.0"),
                                             "EnvironmentId": lookup("environments", "Staging")},
           status=201)


def expect_400(body, needle, what):
    r = req("POST", "/api/Spaces-1/deployments", body)
    check_eq(r.status, 400, what)
    check_eq(r.json["ErrorMessage"], "There was a problem with your request.", what)
    errs = " | ".join(r.json.get("Errors", []))
    check(needle.lower() in errs.lower(), "%s: Errors %r lack %r" % (what, errs, needle))


def test_deployment_validation():
    rel = release_id("Billing", "4.3.0")
    env = lookup("environments", "Hosted Beta")
    acme = lookup("tenants", "Acme")
    expect_400({"EnvironmentId": env, "TenantId": acme}, "ReleaseId", "no release")
    expect_400({"ReleaseId": "Releases-999", "EnvironmentId": env}, "Releases-999", "bad release")
    expect_400({"ReleaseId": rel, "TenantId": acme}, "EnvironmentId", "no environment")
    expect_400({"ReleaseId": rel, "EnvironmentId": "Environments-99", "TenantId": acme},
               "Environments-99", "bad environment")
    expect_400({"ReleaseId": rel, "EnvironmentId": env}, "tenant", "tenanted without tenant")
    expect_400({"ReleaseId": release_id("Schema", "4.3.0"), "EnvironmentId": env,
                "TenantId": acme}, "not tenanted", "untenanted with tenant")
    expect_400({"ReleaseId": release_id("Portal", "4.3.0"), "EnvironmentId": env,
                "TenantId": lookup("tenants", "Globex")}, "not connected to project",
               "tenant not connected to project")
    expect_400({"ReleaseId": rel, "EnvironmentId": lookup("environments", "On Site Beta"),
                "TenantId": acme}, "not connected to environment", "tenant not in environment")
    expect_400({"ReleaseId": release_id("Reporting", "4.3.0"), "EnvironmentId": env,
                "TenantId": acme},
               "Release 4.3.0 of Reporting cannot be deployed to Hosted Beta for Acme yet",
               "lifecycle")
    expect_400({"ReleaseId": release_id("Reporting", "4.3.0"), "EnvironmentId": env,
                "TenantId": acme}, "Staging", "lifecycle names the missing environment")
    expect_400({"ReleaseId": release_id("Schema", "4.3.0"),
                "EnvironmentId": lookup("environments", "Testing")}, "not part of lifecycle",
               "environment outside the lifecycle")
    expect_400({"ReleaseId": rel, "EnvironmentId": env,
                "TenantId": lookup("tenants", "Retired Corp")}, "disabled", "disabled tenant")
    expect_400({"ReleaseId": 12, "EnvironmentId": env}, "must be a string", "wrong type")
    expect_400({"ReleaseId": rel, "EnvironmentId": env, "TenantId": acme,
                "QueueTime": "tomorrow"}, "not a valid date", "bad QueueTime")
    expect_400("{not json", "JSON object", "malformed body")
    r = req("POST", "/api/Spaces-1/deployments", "x" * (1024 * 1024 + 10))
    check_eq(r.status, 413, "body over 1 MiB")
    check_eq(admin("GET", "/sim/deployments"), [], "no deployment created by a rejected POST")
    # other space: release ids do not cross spaces
    check_eq(req("POST", "/api/Spaces-2/deployments",
                 {"ReleaseId": rel, "EnvironmentId": env}).status, 400, "release from another space")


def test_task_lifecycle_success_and_failure():
    good = deploy("Billing", "4.3.0", "Hosted Release", "Acme Labs")
    bad = deploy("Billing", "4.3.0", "Hosted Beta", "Acme")
    t = wait_state(good["TaskId"], ["Success", "Failed"])
    check_eq(t["State"], "Success", "rule: default success")
    check(t["IsCompleted"] and t["FinishedSuccessfully"] and t["HasBeenPickedUpByProcessor"],
          "success flags")
    check_eq(t["Arguments"]["DeploymentId"], good["Id"], "Arguments.DeploymentId")
    start, done = parse_time(t["StartTime"]), parse_time(t["CompletedTime"])
    check(start and done and done >= start, "StartTime <= CompletedTime")
    took = (done - start).total_seconds()
    check(0.04 <= took <= 5, "duration within the rule's [50,200] ms (+ load): %.3f" % took)
    t = wait_state(bad["TaskId"], ["Success", "Failed"])
    check_eq(t["State"], "Failed", "rule: Billing/Hosted Beta/Acme fails")
    check_eq(t["ErrorMessage"], "Step 'Migrate database' failed: timeout", "rule error")
    check(t["IsCompleted"] and not t["FinishedSuccessfully"], "failure flags")
    raw = get("/api/tasks/%s/raw" % bad["TaskId"])
    check(raw.status == 200 and "Migrate database" in raw.raw, "raw log")
    det = ok("GET", "/api/tasks/%s/details" % bad["TaskId"])
    check_eq(det["Task"]["Id"], bad["TaskId"], "details")
    # success counts for lifecycle progression: Portal 4.3.0 Hosted Beta for Acme
    d = deploy("Reporting", "4.3.0", "Staging", "Acme")
    wait_state(d["TaskId"], "Success")
    deploy("Reporting", "4.3.0", "Hosted Beta", "Acme")  # now allowed


def test_tasks_batch_and_no_ids_trap():
    a = deploy("Billing", "4.3.0", "Hosted Release", "Tenant 01")
    b = deploy("Billing", "4.3.0", "On Site Release", "Tenant 02")
    got = ok("GET", "/api/tasks?ids=%s,%s&take=10" % (a["TaskId"], b["TaskId"]))
    check_eq(sorted(t["Id"] for t in got["Items"]), sorted([a["TaskId"], b["TaskId"]]), "batch")
    check_eq(got["TotalResults"], 2, "batch total")
    got = ok("GET", "/api/Spaces-1/tasks?ids=%s&ids=%s" % (a["TaskId"], "ServerTasks-999999"))
    check_eq([t["Id"] for t in got["Items"]], [a["TaskId"]], "repeated ids, unknown id ignored")
    everything = ok("GET", "/api/tasks?take=1")
    check(everything["TotalResults"] > 300, "no ids = every task, history included: %d"
          % everything["TotalResults"])
    queued = ok("GET", "/api/tasks?states=Queued,Executing,Success&project=%s&take=1000"
                % a["ProjectId"])
    check(queued["TotalResults"] >= 2, "states/project filters")
    stats = admin("GET", "/sim/stats")
    check_eq(stats["routes"]["GET /api/{space}/tasks"], 4, "tasks route counted per request")


def executing_intervals():
    out = []
    for d in admin("GET", "/sim/deployments"):
        if d["start_time"]:
            end = parse_time(d["completed_time"]) if d["completed_time"] else None
            out.append((parse_time(d["start_time"]), end, d))
    return out


def max_overlap(intervals):
    events = []
    for s, e, _ in intervals:
        events.append((s, 1))
        events.append((e or datetime.datetime.max.replace(tzinfo=datetime.timezone.utc), -1))
    events.sort(key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, delta in events:
        cur += delta
        best = max(best, cur)
    return best


def test_task_cap():
    admin("POST", "/sim/task-cap", {"task_cap": 2})
    admin("POST", "/sim/rules", {"mode": "prepend",
                                 "rules": [{"project": "Billing", "duration_ms": 300}]})
    tids = [deploy("Billing", "4.3.0", "Hosted Release" if i % 2 else "On Site Release",
                   "Tenant %02d" % i)["TaskId"] for i in range(1, 6)]
    peak = 0

    def all_done():
        nonlocal peak
        s = admin("GET", "/sim/tasks")
        peak = max(peak, s["counts"]["Executing"])
        check(s["counts"]["Executing"] <= 2, "more than 2 Executing: %r" % s["counts"])
        return s["counts"]["Success"] == 5
    wait_for(all_done, "5 deployments to finish under cap 2")
    check_eq(peak, 2, "the cap was used")
    iv = executing_intervals()
    check_eq(len(iv), 5, "all started")
    check_eq(max_overlap(iv), 2, "never more than 2 overlapping in recorded times")
    starts = sorted(s for s, _, _ in iv)
    firsts_end = min(e for _, e, _ in iv)
    check(starts[2] >= firsts_end, "the third task started only after one finished")
    # Times follow the schedule, not the engine's wake-ups: every task ran exactly its 300 ms,
    # and each queued task started the instant a slot was freed (docs/octopus.md).
    for s_, e_, d in iv:
        check_eq(round((e_ - s_).total_seconds() * 1000), 300, "duration of %s" % d["task_id"])
    ends = sorted(e for _, e, _ in iv)
    for st in starts[2:]:
        check(st in ends, "a queued task started at %s, when no slot was freed (%s)" % (st, ends))
    for tid in tids:
        check_eq(task(tid)["State"], "Success", tid)


def test_concurrency_tag():
    admin("POST", "/sim/rules", {"mode": "prepend",
                                 "rules": [{"project": "Billing", "duration_ms": 200}]})
    a = deploy("Billing", "4.3.0", "Hosted Release", "Globex")
    b = deploy("Billing", "4.3.0", "Hosted Release", "Globex")
    c = deploy("Billing", "4.3.0", "Hosted Release", "Umbrella")
    for d in (a, b, c):
        wait_state(d["TaskId"], "Success")
    ta, tb, tc = (task(d["TaskId"]) for d in (a, b, c))
    check(parse_time(tb["StartTime"]) >= parse_time(ta["CompletedTime"]),
          "same project/environment/tenant never overlaps")
    check(parse_time(tc["StartTime"]) < parse_time(ta["CompletedTime"]),
          "another tenant runs in parallel")
    counts = admin("GET", "/sim/deployment-counts")
    globex = [c for c in counts if c["tenant"] == "Globex"]
    check_eq(len(globex), 1, "one (release, env, tenant) row")
    check_eq((globex[0]["count"], globex[0]["states"]), (2, {"Success": 2}), "counted twice")
    check_eq([c["count"] for c in counts if c["tenant"] == "Umbrella"], [1], "Umbrella once")


def test_interruption_hold_release_and_cancel():
    d = deploy("Api", "4.3.0", "Hosted Beta", "Acme")
    t = wait_state(d["TaskId"], "Executing")
    wait_for(lambda: task(d["TaskId"])["HasPendingInterruptions"], "pending interruption")
    t = task(d["TaskId"])
    check_eq(t["PendingInterruptionTypes"], ["ManualIntervention"], "interruption type")
    its = ok("GET", "/api/interruptions?regarding=%s&pendingOnly=true" % d["TaskId"])["Items"]
    check(len(its) == 1 and its[0]["IsPending"], "interruptions?regarding")
    hold_until = time.monotonic() + 0.3  # held means held: it must stay so, poll to prove it
    while time.monotonic() < hold_until:
        check_eq(task(d["TaskId"])["State"], "Executing", "still held")
    rel = admin("POST", "/sim/interruptions/%s/release" % d["TaskId"])
    check_eq(rel["HasPendingInterruptions"], False, "released")
    check_eq(wait_state(d["TaskId"], ["Success", "Failed"])["State"], "Success", "continues")
    check_eq(req("POST", "/sim/interruptions/%s/release" % d["TaskId"], key=None).status, 409,
             "releasing twice")
    # cancel an executing task: Cancelling, then Canceled
    e = deploy("Api", "4.3.0", "Hosted Beta", "Contoso")
    wait_state(e["TaskId"], "Executing")
    c = ok("POST", "/api/tasks/%s/cancel" % e["TaskId"])
    check_eq(c["State"], "Cancelling", "cancel answer")
    t = wait_state(e["TaskId"], ["Canceled", "Success", "Failed"])
    check_eq(t["State"], "Canceled", "final state")
    check(t["IsCompleted"] and not t["FinishedSuccessfully"], "canceled flags")
    # submit through the interruptions API
    f = deploy("Api", "4.3.0", "Hosted Beta", "Acme")
    wait_for(lambda: task(f["TaskId"])["HasPendingInterruptions"], "second hold")
    it = ok("GET", "/api/interruptions?regarding=" + f["TaskId"])["Items"][0]
    ok("POST", it["Links"]["Submit"], {"Result": "Abort"})
    check_eq(wait_state(f["TaskId"], ["Success", "Failed"])["State"], "Failed", "aborted")


def test_queue_time_and_expiry():
    admin("POST", "/sim/task-cap", {"task_cap": 1})
    hold = deploy("Api", "4.3.0", "Hosted Beta", "Acme")  # occupies the only slot
    wait_state(hold["TaskId"], "Executing")
    now = datetime.datetime.now(datetime.timezone.utc)
    # long enough for the next five requests on a loaded machine: d must still be Queued
    expiry = (now + datetime.timedelta(milliseconds=2000)).isoformat()
    d = deploy("Billing", "4.3.0", "Hosted Release", "Acme Labs", QueueTimeExpiry=expiry)
    check_eq(d["QueueTimeExpiry"] is not None, True, "QueueTimeExpiry echoed")
    queued = deploy("Billing", "4.3.0", "Hosted Release", "Globex")
    check_eq(task(queued["TaskId"])["State"], "Queued", "behind the cap")
    check_eq(task(queued["TaskId"])["HasBeenPickedUpByProcessor"], False, "not picked up")
    behind = ok("GET", "/api/tasks/%s/queued-behind" % queued["TaskId"])
    check_eq([x["Id"] for x in behind["Items"]], [d["TaskId"]], "queued-behind")
    t = wait_state(d["TaskId"], ["TimedOut", "Executing", "Success"])
    check_eq(t["State"], "TimedOut", "expired while queued")
    check(t["CompletedTime"] is None and t["StartTime"] is None and t["IsCompleted"],
          "TimedOut has no CompletedTime/StartTime: %r" % t)
    c = ok("POST", "/api/tasks/%s/cancel" % queued["TaskId"])
    check_eq(c["State"], "Canceled", "a queued task cancels at once")
    admin("POST", "/sim/interruptions/%s/release" % hold["TaskId"])
    wait_state(hold["TaskId"], "Success")
    # QueueTime in the future holds the task until then
    admin("POST", "/sim/task-cap", {"task_cap": 5})
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(milliseconds=700)
    s = deploy("Billing", "4.3.0", "Hosted Release", "Umbrella", QueueTime=at.isoformat())
    check_eq(task(s["TaskId"])["State"], "Queued", "scheduled task waits")
    t = wait_state(s["TaskId"], "Success")
    check(parse_time(t["StartTime"]) >= at - datetime.timedelta(milliseconds=5),
          "started no earlier than QueueTime: %s < %s" % (t["StartTime"], at))


def test_faults():
    tasks = "/api/tasks?ids=ServerTasks-1"
    admin("POST", "/sim/faults", {"route": "GET /api/{space}/tasks", "status": 503, "count": 2})
    check_eq([get(tasks).status for _ in range(3)], [503, 503, 200], "503 twice, then OK")
    admin("POST", "/sim/faults", {"route": "*", "status": 429, "retry_after": 1})
    r = get("/api/projects")
    check_eq((r.status, r.headers.get("retry-after")), (429, "1"), "429 + Retry-After")
    check_eq(get("/api/projects").status, 200, "count defaults to 1")
    admin("POST", "/sim/faults", {"route": "GET /api/{space}/projects", "drop": True})
    try:
        r = get("/api/projects")
        raise Failure("dropped request got a response: %r" % r)
    except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine):
        pass
    check_eq(get("/api/projects").status, 200, "after the drop")
    admin("POST", "/sim/faults", {"route": "GET /api/{space}/tasks", "latency_ms": 300})
    t0 = time.monotonic()
    check_eq(get(tasks).status, 200, "latency fault answers")
    check(time.monotonic() - t0 >= 0.29, "latency applied")
    admin("POST", "/sim/faults", {"body_bytes": 3000000})
    r = get(tasks)
    check_eq((r.status, len(r.raw.encode())), (200, 3000000), "oversized body")
    check(r.json is not None, "oversized body is valid JSON")
    admin("POST", "/sim/faults", {"slow_body_ms": 600})
    t0 = time.monotonic()
    r = get(tasks)
    check(r.status == 200 and r.json["TotalResults"] == 1, "slow body intact")
    check(time.monotonic() - t0 >= 0.5, "slow body took its time")
    admin("POST", "/sim/faults", {"status": 500, "count": -1})
    check_eq([get(tasks).status for _ in range(3)], [500] * 3, "count -1 = until cleared")
    check_eq(len(admin("GET", "/sim/faults")), 1, "listed")
    # PUT replaces the live faults in one step
    put = admin("PUT", "/sim/faults", [{"status": 502, "count": -1}])
    check_eq([(f["status"], f["count"]) for f in put], [(502, -1)], "PUT replaced the faults")
    check_eq(get(tasks).status, 502, "the replacing fault answers")
    admin("DELETE", "/sim/faults")
    # "body": exactly this text, with the fault's status
    admin("POST", "/sim/faults", {"body": "<html>Bad gateway</html>", "status": 502})
    r = get(tasks)
    check_eq((r.status, r.raw), (502, "<html>Bad gateway</html>"), "body fault")
    check_eq(req("POST", "/sim/faults", {"body": 5}, key=None).status, 400, "body not a string")
    check_eq(get(tasks).status, 200, "cleared")
    # "after": the request takes effect, its response is lost
    admin("POST", "/sim/faults", {"route": "POST /api/{space}/deployments", "status": 503,
                                  "after": True})
    body = {"ReleaseId": release_id("Schema", "4.3.0"),
            "EnvironmentId": lookup("environments", "Staging")}
    check_eq(req("POST", "/api/deployments", body).status, 503, "response replaced")
    check_eq(len(admin("GET", "/sim/deployments")), 1, "but the deployment exists")
    admin("POST", "/sim/faults", {"route": "POST /api/{space}/deployments", "status": 503})
    check_eq(req("POST", "/api/deployments", body).status, 503, "plain fault")
    check_eq(len(admin("GET", "/sim/deployments")), 1, "a plain fault creates nothing")
    # "arg": only requests carrying that query argument (a proxy refusing long filtered reads)
    admin("POST", "/sim/faults", {"route": "GET /api/{space}/events", "arg": "regardingAny",
                                  "status": 414, "count": -1})
    check_eq([f.get("arg") for f in admin("GET", "/sim/faults")], ["regardingAny"],
             "arg listed")
    check_eq(get("/api/events?take=1").status, 200, "a read without the argument passes")
    check_eq(get("/api/events?regardingany=ServerTasks-1").status, 414,
             "a read with it (any case) is refused")
    check_eq(req("POST", "/sim/faults", {"arg": 1}, key=None).status, 400, "arg not a string")
    admin("DELETE", "/sim/faults")
    # "after" with "latency_ms": the request runs at once, its answer waits
    admin("POST", "/sim/faults", {"route": "POST /api/{space}/deployments", "after": True,
                                  "latency_ms": 400})
    t0, w0 = time.monotonic(), time.time()
    check_eq(req("POST", "/api/deployments", body).status, 201, "slow answer")
    check(time.monotonic() - t0 >= 0.39, "the answer waited")
    created = admin("GET", "/sim/deployments")[-1]["created"]
    check(datetime.datetime.fromisoformat(created).timestamp() < w0 + 0.2,
          "the deployment was created before the wait, not after: %s" % created)
    check_eq(req("POST", "/sim/faults", {"status": "x"}, key=None).status, 400, "bad fault")
    check_eq(req("POST", "/sim/faults", {"bogus": 1}, key=None).status, 400, "unknown field")
    stats = admin("GET", "/sim/stats")
    check(stats["statuses"]["dropped"] == 1 and stats["statuses"]["5xx"] >= 5, "status stats")


def test_hostile_faults():
    """The lying pager, the undecodable task and the never-ending body (docs/octopus.md)."""
    admin("DELETE", "/sim/faults")
    # a lying pager: TotalResults promises 500, the pages hold what exists
    admin("POST", "/sim/faults", {"route": "GET /api/{space}/tenants", "total_results": 500,
                                  "count": -1})
    page = ok("GET", "/api/Spaces-1/tenants?skip=0&take=2")
    check_eq((page["TotalResults"], len(page["Items"])), (500, 2), "lying TotalResults")
    last = ok("GET", "/api/Spaces-1/tenants?skip=400&take=2")
    check_eq(len(last["Items"]), 0, "nothing behind the promise")
    check_eq(admin("GET", "/sim/faults")[0]["total_results"], 500, "listed")
    admin("DELETE", "/sim/faults")
    # a pager that ignores skip: the same first page for ever
    admin("POST", "/sim/faults", {"route": "GET /api/{space}/tenants", "ignore_skip": True,
                                  "count": 2})
    a = ok("GET", "/api/Spaces-1/tenants?skip=0&take=2")["Items"]
    b = ok("GET", "/api/Spaces-1/tenants?skip=2&take=2")["Items"]
    check_eq([t["Id"] for t in b], [t["Id"] for t in a], "skip ignored")
    # one undecodable task among good ones
    d1 = deploy("Schema", "4.3.0", "Development")
    d2 = deploy("Schema", "4.3.0", "Staging")
    ids = "%s,%s" % (d1["TaskId"], d2["TaskId"])
    for how, check_item in (
            (None, lambda t: t["State"] == 42),
            ("state_unknown", lambda t: t["State"] == "Exploded\x07"),
            ("no_id", lambda t: "Id" not in t)):
        fault = {"route": "GET /api/{space}/tasks", "corrupt_task": d2["TaskId"]}
        if how:
            fault["corrupt_how"] = how
        admin("POST", "/sim/faults", fault)
        items = ok("GET", "/api/Spaces-1/tasks?ids=" + ids)["Items"]
        bad = [t for t in items if t.get("Id") != d1["TaskId"]]
        good = [t for t in items if t.get("Id") == d1["TaskId"]]
        check(len(bad) == 1 and check_item(bad[0]), "corrupt_how=%s: %r" % (how, bad))
        check(len(good) == 1 and isinstance(good[0]["State"], str), "the other task is intact")
    check_eq(req("POST", "/sim/faults", {"corrupt_how": "melted"}, key=None).status, 400,
             "unknown corrupt_how")
    check_eq(req("POST", "/sim/faults", {"total_results": -2}, key=None).status, 400,
             "negative total_results")
    # a body that never ends: read 4 MiB of it, it is still going
    admin("POST", "/sim/faults", {"route": "GET /api/{space}/projects", "endless_body": True})
    c = SIM.conn(10)
    try:
        c.request("GET", "/api/Spaces-1/projects", headers={"X-Octopus-ApiKey": KEY})
        r = c.getresponse()
        check_eq(r.status, 200, "endless body status")
        got = 0
        while got < (4 << 20):
            chunk = r.read(65536)
            check(chunk, "the endless body ended after %d bytes" % got)
            got += len(chunk)
    finally:
        c.close()
    check_eq(get("/api/Spaces-1/projects").status, 200, "next request is normal")
    admin("DELETE", "/sim/faults")


def test_rules_at_runtime_and_reset():
    admin("POST", "/sim/rules", {"mode": "prepend", "rules": [
        {"project": "Portal", "tenant": "Acme*", "outcome": "fail", "error": "boom"}]})
    a = deploy("Portal", "4.3.0", "Hosted Beta", "Acme")
    b = deploy("Portal", "4.3.0", "Hosted Beta", "Contoso")
    check_eq(wait_state(a["TaskId"], ["Success", "Failed"])["ErrorMessage"], "boom", "new rule")
    check_eq(wait_state(b["TaskId"], ["Success", "Failed"])["State"], "Success", "not matched")
    check_eq(req("POST", "/sim/rules", {"rules": [{"outcome": "maybe"}]}, key=None).status, 400,
             "bad rule")
    reset()
    check_eq(admin("GET", "/sim/stats")["routes"], {"GET /sim/stats": 1}, "reset clears stats")
    check_eq(admin("GET", "/sim/deployments"), [], "reset forgets deployments")
    check_eq(get("/api/tasks/" + a["TaskId"]).status, 404, "task gone")
    c = deploy("Portal", "4.3.0", "Hosted Beta", "Acme")
    check_eq(c["TaskId"], a["TaskId"], "ids restart after history")
    check_eq(wait_state(c["TaskId"], ["Success", "Failed"])["State"], "Success",
             "fixture rules restored")
    t = ok("GET", "/api/releases/%s/deployments/template" % release_id("Reporting", "4.3.0"))
    acme = [x for x in t["TenantPromotions"] if x["Name"] == "Acme"][0]
    check_eq(names(acme["PromoteTo"]), ["Development", "Staging"], "history-only progression")


def test_executions_api():
    base = "/api/Spaces-1/deployments/create/"
    r = ok("POST", base + "tenanted/v1", {
        "SpaceId": "Spaces-1", "SpaceIdOrName": "Spaces-1", "ProjectName": "Billing",
        "ReleaseVersion": "4.3.0", "EnvironmentName": "Hosted Release",
        "Tenants": ["Acme Labs"], "TenantTags": ["Ring/Main", "Hosting/Cloud"]})
    got = r["DeploymentServerTasks"]
    # Acme Labs by name + every Cloud/Main tenant that may deploy there (Retired Corp is
    # disabled and silently left out; Acme Labs is not counted twice)
    want = {"Acme Labs", "Globex", "Umbrella"} | {"Tenant %02d" % i for i in range(1, 41, 2)}
    deps = admin("GET", "/sim/deployments")
    check_eq({d["tenant"] for d in deps}, want, "targets")
    check_eq(len(got), len(want), "one task per tenant")
    check_eq(task(got[0]["ServerTaskId"])["Arguments"]["DeploymentId"], got[0]["DeploymentId"],
             "ids pair up")
    # camelCase binds too; nothing given = nothing deployed, no error
    empty = ok("POST", base + "tenanted/v1", {"projectName": "Billing", "releaseVersion": "4.3.0",
                                              "environmentName": "Hosted Release"})
    check_eq(empty["DeploymentServerTasks"], [], "no tenants, no tags")
    star = ok("POST", base + "tenanted/v1", {"ProjectName": "Billing", "ReleaseVersion": "4.3.0",
                                             "EnvironmentName": "Hosted Beta", "Tenants": ["*"]})
    check_eq(len(star["DeploymentServerTasks"]), 2, "* = Acme and Contoso (beta, cloud)")
    r = req("POST", base + "tenanted/v1", {"ProjectName": "Billing", "ReleaseVersion": "4.3.0",
                                           "EnvironmentName": "Hosted Beta",
                                           "Tenants": ["Acme Labs West"]})
    check(r.status == 400 and "not connected" in " ".join(r.json["Errors"]), "named: %r" % r)
    r = req("POST", base + "tenanted/v1", {"ProjectName": "Billing", "ReleaseVersion": "9.9",
                                           "EnvironmentName": "Hosted Beta", "Tenants": ["*"]})
    check_eq(r.status, 500, "unknown version: the null-reference wart")
    u = ok("POST", base + "untenanted/v1", {"ProjectName": "Schema", "ReleaseVersion": "4.3.0",
                                            "EnvironmentNames": ["Hosted Beta", "On Site Beta"]})
    check_eq(len(u["DeploymentServerTasks"]), 2, "untenanted")
    r = req("POST", base + "untenanted/v1", {"ProjectName": "Schema", "ReleaseVersion": "4.3.0",
                                             "EnvironmentNames": ["Hosted Release"]})
    check(r.status == 400 and "must first be deployed" in " ".join(r.json["Errors"]), "%r" % r)


# ---- the event feed, its faults, the per-key task peaks ---------------------------------

def events(query="", path="/api/Spaces-1/events", **kw):
    return ok("GET", path + ("?" + query if query else ""), **kw)


def last_auto_id():
    top = events("take=1")["Items"]
    return top[0]["AutoId"] if top else 0


def categories_of(items, task_id):
    """Categories of the events about task_id, oldest first."""
    mine = [e for e in items if task_id in e["RelatedDocumentIds"]]
    return [e["Category"] for e in sorted(mine, key=lambda e: e["AutoId"])]


def test_events_feed():
    base = last_auto_id()
    check(base > 0, "the history's deployments have their events: %d" % base)
    good = deploy("Billing", "4.3.0", "Hosted Release", "Acme Labs")
    bad = deploy("Billing", "4.3.0", "Hosted Beta", "Acme")
    for d in (good, bad):
        wait_state(d["TaskId"], ["Success", "Failed"])
    new = events("fromAutoId=%d&take=100" % (base + 1))
    ids = [e["AutoId"] for e in new["Items"]]
    check_eq(ids, sorted(ids, reverse=True), "newest first, with fromAutoId too")
    check_eq(ids, list(range(base + 6, base, -1)), "AutoIds are consecutive from base + 1")
    check_eq(new["TotalResults"], 6, "two deployments, three events each")
    check_eq(categories_of(new["Items"], good["TaskId"]),
             ["DeploymentQueued", "DeploymentStarted", "DeploymentSucceeded"], "good's events")
    check_eq(categories_of(new["Items"], bad["TaskId"]),
             ["DeploymentQueued", "DeploymentStarted", "DeploymentFailed"], "bad's events")
    e = [x for x in new["Items"] if x["Category"] == "DeploymentSucceeded"][0]
    check_eq(e["Id"], "Events-%d" % e["AutoId"], "Id carries the AutoId")
    check_eq(e["RelatedDocumentIds"],
             [good["Id"], good["TaskId"], good["ProjectId"], good["EnvironmentId"],
              good["TenantId"], good["ReleaseId"], "Spaces-1"], "RelatedDocumentIds")
    check_eq(e["SpaceId"], "Spaces-1", "SpaceId")
    for ref in e["MessageReferences"]:  # every reference points at the name in the text
        text = e["Message"][ref["StartIndex"]:ref["StartIndex"] + ref["Length"]]
        check(text in ("Billing", "4.3.0", "Hosted Release", "Acme Labs"),
              "reference %s -> %r in %r" % (ref["ReferencedDocumentId"], text, e["Message"]))
    check_eq(len(e["MessageReferences"]), 5, "env, project, release, env, tenant referenced")
    check("Acme Labs</a>" in e["MessageHtml"], "MessageHtml links the names")
    check_eq(ok("GET", e["Links"]["Self"])["Id"], e["Id"], "events/{id}")
    check_eq(get("/api/Spaces-1/events/Events-999999").status, 404, "unknown event")
    # categories: comma-separated or repeated, the same answer
    a = events("fromAutoId=%d&eventCategories=DeploymentSucceeded,DeploymentFailed" % (base + 1))
    b = events("fromAutoId=%d&eventCategories=DeploymentSucceeded&eventCategories="
               "DeploymentFailed" % (base + 1))
    check_eq(sorted(x["Category"] for x in a["Items"]),
             ["DeploymentFailed", "DeploymentSucceeded"], "eventCategories")
    check_eq([x["Id"] for x in a["Items"]], [x["Id"] for x in b["Items"]], "repeated form")
    check_eq(events("eventCategories=NoSuchCategory")["TotalResults"], 0, "unknown category")
    # AutoId bounds are inclusive
    one = events("fromAutoId=%d&toAutoId=%d" % (base + 2, base + 2))["Items"]
    check_eq([x["AutoId"] for x in one], [base + 2], "fromAutoId == toAutoId: one event")
    check_eq(events("fromAutoId=%d" % (base + 7))["TotalResults"], 0, "nothing newer")
    check_eq(get("/api/Spaces-1/events?fromAutoId=abc").status, 400, "fromAutoId not a number")
    # regarding: every id listed; regardingAny: any of them
    check_eq(events("regarding=%s" % good["TaskId"])["TotalResults"], 3, "regarding one task")
    check_eq(events("regarding=%s,%s" % (good["TaskId"], bad["TaskId"]))["TotalResults"], 0,
             "regarding: AND")
    check_eq(events("regardingAny=%s,%s" % (good["TaskId"], bad["TaskId"]))["TotalResults"], 6,
             "regardingAny: OR")
    check_eq(events("fromAutoId=%d&tenants=%s" % (base + 1, good["TenantId"]))["TotalResults"],
             3, "tenants")
    check_eq(events("fromAutoId=%d&environments=%s&projects=%s"
                    % (base + 1, bad["EnvironmentId"], bad["ProjectId"]))["TotalResults"], 3,
             "environments and projects")
    check_eq(events("fromAutoId=%d&documentTypes=Deployments" % (base + 1))["TotalResults"], 6,
             "documentTypes")
    check_eq(events("fromAutoId=%d&documentTypes=Interruptions" % (base + 1))["TotalResults"], 0,
             "documentTypes: no interruption here")
    # paging like every collection; the default space's form answers the same
    page = events("fromAutoId=%d&take=4" % (base + 1))
    check_eq((len(page["Items"]), page["NumberOfPages"], page["ItemType"]), (4, 2, "Event"),
             "paging")
    check("Page.Next" in page["Links"] and "fromAutoId=" in page["Links"]["Page.Next"],
          "Page.Next keeps the filters")
    last = ok("GET", page["Links"]["Page.Next"])
    check_eq([x["AutoId"] for x in last["Items"]], [base + 2, base + 1], "second page")
    check_eq(events("fromAutoId=%d" % (base + 1), path="/api/events")["TotalResults"], 6,
             "/api/events is the default space")
    check_eq(get("/api/Spaces-2/events?fromAutoId=%d" % (base + 1)).json["TotalResults"], 0,
             "another space sees none of them")


def test_events_interruption_and_cancel():
    base = last_auto_id()
    d = deploy("Api", "4.3.0", "Hosted Beta", "Acme")
    wait_for(lambda: task(d["TaskId"])["HasPendingInterruptions"], "pending interruption")
    raised = events("eventCategories=ManualInterventionInterruptionRaised&fromAutoId=%d"
                    % (base + 1))["Items"]
    check_eq(len(raised), 1, "interruption raised")
    check("Interruptions-%s" % d["TaskId"].split("-")[1] in raised[0]["RelatedDocumentIds"],
          "the interruption is related")
    check_eq(events("fromAutoId=%d&documentTypes=Interruptions" % (base + 1))["TotalResults"], 1,
             "documentTypes=Interruptions")
    ok("POST", "/api/tasks/%s/cancel" % d["TaskId"])
    wait_state(d["TaskId"], "Canceled")
    got = wait_for(lambda: (lambda c: c if "TaskCanceled" in c else None)(
        categories_of(events("fromAutoId=%d" % (base + 1))["Items"], d["TaskId"])),
        "TaskCanceled recorded")
    check_eq(got, ["DeploymentQueued", "DeploymentStarted",
                   "ManualInterventionInterruptionRaised", "TaskCanceled"], "cancel's events")


def test_event_faults():
    base = last_auto_id()
    # drop the next one DeploymentSucceeded
    admin("POST", "/sim/faults", {"events": ["DeploymentSucceeded"], "drop": True, "count": 1})
    listed = admin("GET", "/sim/faults")
    check_eq(listed[0]["events"], ["DeploymentSucceeded"], "event fault listed")
    a = deploy("Billing", "4.3.0", "Hosted Release", "Tenant 01")
    b = deploy("Billing", "4.3.0", "On Site Release", "Tenant 02")
    for d in (a, b):
        check_eq(wait_state(d["TaskId"], ["Success", "Failed"])["State"], "Success", "succeeds")
    ok_events = events("fromAutoId=%d&eventCategories=DeploymentSucceeded" % (base + 1))
    check_eq(ok_events["TotalResults"], 1, "one of the two successes dropped")
    check_eq(admin("GET", "/sim/stats")["events"]["dropped"], 1, "stats count the drop")
    check_eq(admin("GET", "/sim/faults"), [], "spent after one")
    check_eq(events("fromAutoId=%d&eventCategories=DeploymentQueued" % (base + 1))
             ["TotalResults"], 2, "other categories untouched")
    # a fraction: half of the DeploymentQueued events, seeded
    admin("POST", "/sim/faults", {"events": ["DeploymentQueued"], "drop": True, "percent": 50,
                                  "count": -1})
    base2 = last_auto_id()
    for _ in range(20):
        deploy("Billing", "4.3.0", "Hosted Release", "Acme Labs",
               QueueTime="2099-01-01T00:00:00.000+00:00")
    kept = events("fromAutoId=%d&eventCategories=DeploymentQueued" % (base2 + 1))["TotalResults"]
    dropped = admin("GET", "/sim/stats")["events"]["dropped"] - 1
    check(0 < kept < 20 and kept + dropped == 20, "a fraction dropped: kept %d, dropped %d"
          % (kept, dropped))
    admin("DELETE", "/sim/faults")
    # a delay: the event has its AutoId at once but is listed only later
    delay = 2000
    admin("POST", "/sim/faults", {"events": ["DeploymentSucceeded"], "delay_ms": delay})
    c = deploy("Billing", "4.3.0", "Hosted Release", "Tenant 03")
    t = wait_state(c["TaskId"], ["Success", "Failed"])
    done = parse_time(t["CompletedTime"]).timestamp()
    after = deploy("Billing", "4.3.0", "On Site Release", "Tenant 04")  # a later AutoId
    q_after = events("regarding=%s&eventCategories=DeploymentQueued" % after["TaskId"])["Items"]
    hidden = events("regarding=%s&eventCategories=DeploymentSucceeded" % c["TaskId"])
    if time.time() < done + delay / 1000.0 - 0.3:  # still inside the delay: must be hidden
        check_eq(hidden["TotalResults"], 0, "delayed event hidden")
        check_eq(len(q_after), 1, "a later event is already visible")
    seen = wait_for(lambda: events("regarding=%s&eventCategories=DeploymentSucceeded"
                                   % c["TaskId"])["Items"], "the delayed event shows up")
    check(time.time() >= done + delay / 1000.0 - 0.05, "not before its delay")
    check(seen[0]["AutoId"] < q_after[0]["AutoId"],
          "its AutoId is older than an event listed before it (the cursor hazard)")
    check_eq(admin("GET", "/sim/stats")["events"]["delayed"], 1, "stats count the delay")
    # bad event faults
    for body, needle in [({"events": ["Nope"], "drop": True}, "not an event category"),
                         ({"events": ["TaskCanceled"]}, "either drops"),
                         ({"events": ["TaskCanceled"], "drop": True, "delay_ms": 5},
                          "either drops"),
                         ({"events": "*", "drop": True, "route": "*"}, "not \"route\""),
                         ({"route": "*", "delay_ms": 5}, "belong to event faults")]:
        r = req("POST", "/sim/faults", body, key=None)
        check(r.status == 400 and needle in r.json["ErrorMessage"], "%r -> %r" % (body, r))


def peak_of(key_hint_prefix):
    rows = admin("GET", "/sim/task-peaks")
    return [r for r in rows if r["key"].startswith(key_hint_prefix)][0]


def test_task_peaks():
    later = "2099-01-01T00:00:00.000+00:00"  # queued for good: nothing finishes on its own
    made = [deploy("Billing", "4.3.0", "Hosted Release", "Acme Labs", QueueTime=later)
            for _ in range(3)]
    row = peak_of(KEY[:8])
    check_eq((row["live"], row["peak"]), (3, 3), "three queued at once")
    check(KEY not in json.dumps(admin("GET", "/sim/task-peaks")), "keys are only hinted")
    for d in made:
        ok("POST", "/api/tasks/%s/cancel" % d["TaskId"])
    row = peak_of(KEY[:8])
    check_eq((row["live"], row["peak"]), (0, 3), "the peak stays after they end")
    check_eq(admin("GET", "/sim/stats")["task_peaks"], admin("GET", "/sim/task-peaks"),
             "/sim/stats carries the same")
    admin("DELETE", "/sim/task-peaks")
    check_eq(peak_of(KEY[:8])["peak"], 0, "reset to what is live now")
    # another key's tasks count for that key only
    other = ok("GET", "/api/Spaces-2/projects/all", key=OTHER_KEY)[0]
    rel = ok("GET", "/api/Spaces-2/projects/%s/releases" % other["Id"], key=OTHER_KEY)["Items"][0]
    env = ok("GET", "/api/Spaces-2/environments/all", key=OTHER_KEY)[0]
    ok("POST", "/api/Spaces-2/deployments", {"ReleaseId": rel["Id"], "EnvironmentId": env["Id"],
                                             "QueueTime": later}, status=201, key=OTHER_KEY)
    check_eq(peak_of(OTHER_KEY[:8])["peak"], 1, "the other key's peak")
    check_eq(peak_of(KEY[:8])["peak"], 0, "not this key's")
    admin("POST", "/sim/reset")
    check_eq(peak_of(OTHER_KEY[:8])["peak"], 0, "reset clears the peaks")


def test_garbled_bodies():
    """A body whose JSON error quotes half a character (jansson's context keeps one byte of
    it) is a 400 with a JSON error, not a crash: the error text is made UTF-8."""
    garbled = b'"\\\xd0\x9c'
    for method, path, key in (("POST", "/sim/rules", None), ("POST", "/sim/faults", None),
                              ("PUT", "/sim/faults", None), ("POST", "/sim/task-cap", None),
                              ("POST", "/api/deployments", KEY)):
        r = req(method, path, garbled, key=key)
        check(r.status == 400 and r.json and r.json.get("ErrorMessage"),
              "%s %s with a garbled body: %r" % (method, path, r))
    check_eq(get("/api").status, 200, "the simulator still answers")


CASES = [test_root_and_route_forms, test_auth, test_paging_and_partial_name, test_catalogue,
         test_releases, test_deployment_template, test_create_deployment,
         test_deployment_validation, test_task_lifecycle_success_and_failure,
         test_tasks_batch_and_no_ids_trap, test_task_cap, test_concurrency_tag,
         test_interruption_hold_release_and_cancel, test_queue_time_and_expiry, test_faults,
         test_hostile_faults, test_rules_at_runtime_and_reset, test_executions_api,
         test_events_feed, test_events_interruption_and_cancel, test_event_faults,
         test_task_peaks, test_garbled_bodies]


# ---- cases with their own simulator process -------------------------------------------

def run_proc(args, env=None, timeout=30):
    return subprocess.run([ARGS.binary] + args, capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_cli_and_bad_fixtures():
    r = run_proc(["--help"])
    check(r.returncode == 0 and "Exit codes" in r.stdout, "--help")
    check_eq(run_proc(["--bogus", "1"]).returncode, 2, "bad option")
    check_eq(run_proc([]).returncode, 2, "no fixture")
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            json.dump({"spaces": [{"name": "S", "environments": ["E"], "lifecycles": [
                {"name": "L", "phases": [{"name": "p", "environments": ["E"]}]}],
                "projects": [{"name": "P", "lifecycle": "Nope"}]}]}, f)
        r = run_proc(["--fixture", bad])
        check_eq(r.returncode, 3, "bad fixture exit code")
        check("spaces[0].projects[0].lifecycle" in r.stderr and "Nope" in r.stderr,
              "error names the JSON path: %s" % r.stderr)
        with open(bad, "w") as f:
            f.write("{\"spaces\": [")
        r = run_proc(["--fixture", bad])
        check(r.returncode == 3 and "bad.json" in r.stderr, "syntax error: %s" % r.stderr)
        busy = Sim(os.path.join(ARGS.fixtures, "small-world.json"))
        try:
            r = run_proc(["--fixture", os.path.join(ARGS.fixtures, "small-world.json"),
                          "--port", str(busy.port)])
            check_eq(r.returncode, 4, "port in use")
        finally:
            busy.stop()


def test_keys_from_env_and_file():
    with tempfile.TemporaryDirectory() as d:
        kf = os.path.join(d, "keys")
        with open(kf, "w") as f:
            f.write("# test keys\nAPI-FROMFILE0000000000000000001\n\n")
        env = dict(os.environ, OCTOPUS_SIM_API_KEYS="API-FROMENV1,API-FROMENV2")
        sim = Sim(os.path.join(ARGS.fixtures, "small-world.json"),
                  ["--api-key-file", kf, "--task-cap", "3"], env=env)
        try:
            for k in ("API-FROMFILE0000000000000000001", "API-FROMENV2", KEY):
                check_eq(get("/api/projects", key=k, sim=sim).status, 200, "key " + k)
            check_eq(get("/api/projects", key="API-NOPE", sim=sim).status, 401, "unknown")
            check_eq(ok("GET", "/sim/task-cap", key=None, sim=sim)["task_cap"], 3, "--task-cap")
            check("FROMFILE" not in " ".join(sim.proc.args), "keys never in argv")
        finally:
            sim.stop()


def test_tls():
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           capture_output=True, text=True)
        check(r.returncode == 0, "openssl: " + r.stderr)
        sim = Sim(os.path.join(ARGS.fixtures, "small-world.json"),
                  ["--tls-cert", cert, "--tls-key", key])
        try:
            check_eq(sim.scheme, "https", "https URL")
            sim.tls_context = ssl.create_default_context()
            try:
                get("/api/projects", sim=sim)
                raise Failure("an unknown certificate was accepted")
            except ssl.SSLError:
                pass
            sim.tls_context = ssl.create_default_context(cafile=cert)
            check_eq(get("/api/projects", sim=sim).status, 200, "trusted certificate")
        finally:
            sim.stop()


def test_generated_world():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "w.json")
        cmd = [sys.executable, ARGS.gen_world, "--tenants", "120", "--projects", "9", "--seed",
               "7", "--out", out]
        subprocess.run(cmd, check=True)
        again = os.path.join(d, "w2.json")
        subprocess.run(cmd[:-1] + [again], check=True)
        with open(out, "rb") as a, open(again, "rb") as b:
            check(a.read() == b.read(), "generator is deterministic")
        for fixture in (out, os.path.join(ARGS.worlds, "seed-world.json")):
            sim = Sim(fixture)
            try:
                projects = ok("GET", "/api/projects/all", sim=sim)
                tenanted = [p for p in projects if p["TenantedDeploymentMode"] == "Tenanted"]
                check(len(projects) >= 7 and tenanted, "projects")
                p = tenanted[0]
                rels = ok("GET", "/api/projects/%s/releases" % p["Id"], sim=sim)["Items"]
                t = ok("GET", "/api/releases/%s/deployments/template" % rels[0]["Id"], sim=sim)
                beta = [x for x in t["TenantPromotions"]
                        if any("Beta" in e["Name"] for e in x["PromoteTo"])]
                check(beta, "current release is deployable to Beta for beta-ring tenants")
                for x in t["TenantPromotions"]:
                    check(x["PromoteTo"], "every tenant can move on: %r" % x)
                prev = ok("GET", "/api/deployments?projects=%s&taskState=Success&take=1"
                          % p["Id"], sim=sim)
                check(prev["TotalResults"] > 100, "history present")
            finally:
                sim.stop()


def test_every_world_fixture_loads():
    """The worlds the simulator ships (sim/worlds) and the tests' own (tests/fixtures): all
    must load and stop cleanly."""
    worlds = sorted(os.path.join(d, f) for d in (ARGS.worlds, ARGS.fixtures)
                    for f in os.listdir(d) if f.endswith("world.json"))
    check(len(worlds) >= 4, "world fixtures found: %r" % worlds)
    for name in worlds:
        sim = Sim(name)
        try:
            check_eq(get("/api/", key=None, sim=sim).status, 200, name)
        finally:
            sim.stop()


SOLO = [test_cli_and_bad_fixtures, test_keys_from_env_and_file, test_tls, test_generated_world,
        test_every_world_fixture_loads]


def main():
    global ARGS, SIM
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--worlds", required=True, help="sim/worlds: the worlds octopus-sim ships")
    p.add_argument("--gen-world", required=True)
    p.add_argument("-k", default="", help="run only cases whose name contains this")
    ARGS = p.parse_args()
    failures = run = 0
    SIM = Sim(os.path.join(ARGS.fixtures, "small-world.json"))
    try:
        for case in CASES + SOLO:
            if ARGS.k not in case.__name__:
                continue
            run += 1
            t0 = time.monotonic()
            try:
                reset()
                case()
                print("ok   %-45s %.2fs" % (case.__name__, time.monotonic() - t0), flush=True)
            except Exception as e:  # a failing case must not hide the others
                failures += 1
                print("FAIL %s: %s" % (case.__name__, e), flush=True)
                if not isinstance(e, Failure):
                    traceback.print_exc()
    finally:
        try:
            SIM.stop()
        except Failure as e:
            failures += 1
            print("FAIL shutdown: %s" % e)
    print("%d cases, %d failed" % (run, failures))
    return 1 if failures or run == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
