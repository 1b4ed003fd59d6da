#!/usr/bin/env python3
"""octopus-sim against the official clients' resource models (standard library only).

tests/sim/fidelity/models.json lists, per resource, the fields the official clients
(go-octopusdeploy, Octopus.Client) read and their JSON types, every GET route the simulator
serves, and the parameters each collection link must carry. This test starts the binary on
small-world.json, makes some deployments (untenanted, tenanted, one held on a manual
intervention), then:

  - fetches every route and checks every item (pages, bare arrays, single resources) against
    its model: field present, right JSON type, required ids non-empty, enums;
  - follows every Links entry of every reply (templates stripped): each must name a route the
    simulator serves (200, or 405 for POST/PUT-only routes), never a 404;
  - checks that the root and space root link every collection with all its parameters, and
    that each collection page's Links.Template carries them too;
  - checks the behaviour behind the new routes: releases?ids=, release progression,
    responsibility on an interruption, MaxConcurrentTasks = the task cap, the executions API
    reply.

  test_fidelity.py --binary build/bin/octopus-sim --fixtures tests/fixtures \
                   --models tests/sim/fidelity/models.json
"""

import argparse
import datetime
import http.client
import json
import os
import re
import sys
import urllib.parse

from simproc import Failure, SimProcess, wait_for

KEY = "API-OCTOFLEETTEST0000000000000001"


class Sim(SimProcess):
    def __init__(self, binary, fixture):
        super().__init__([binary, "--port", "0", "--fixture", fixture])

    def req(self, method, path, body=None, key=KEY):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"X-Octopus-ApiKey": key} if key else {}
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read().decode("utf-8")
        finally:
            c.close()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return r.status, doc

    def ok(self, method, path, body=None, status=200, key=KEY):
        got, doc = self.req(method, path, body, key)
        if got != status:
            raise Failure("%s %s: want %d, got %d %r" % (method, path, status, got, doc))
        return doc

# ---- checking values against the models ----------------------------------------------------

def is_time(v):
    if not isinstance(v, str) or not re.search(r"T\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$", v):
        return False
    try:
        datetime.datetime.fromisoformat(v)
        return True
    except ValueError:
        return False


TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "time": is_time,
}


class Checker:
    def __init__(self, models):
        self.models = models
        self.errors = []
        self.items = 0
        self.fields = 0
        self.seen_models = set()
        self.links = {}  # href -> where it was seen

    def err(self, where, msg):
        if len(self.errors) < 200:
            self.errors.append("%s: %s" % (where, msg))

    def check(self, name, value, where):
        model = self.models[name]
        self.seen_models.add(name)
        self.items += 1
        if not isinstance(value, dict):
            self.err(where, "%s: expected an object, got %r" % (name, value))
            return
        for field, typ in model["fields"].items():
            self.fields += 1
            nullable = typ.endswith("?")
            base = typ.rstrip("?")
            if field not in value:
                self.err(where, "%s.%s missing (model: %s)" % (name, field, model["source"]))
                continue
            v = value[field]
            if v is None and nullable:
                continue
            if not TYPES[base](v):
                self.err(where, "%s.%s: want %s, got %r" % (name, field, typ, v))
        for field in model.get("required", []):
            if not value.get(field):
                self.err(where, "%s.%s is required (non-empty) by %s" % (name, field,
                                                                       model["source"]))
        for field, limit in model.get("max_length", {}).items():
            if isinstance(value.get(field), str) and len(value[field]) > limit:
                self.err(where, "%s.%s longer than %d" % (name, field, limit))
        for field, allowed in model.get("enums", {}).items():
            if field in value and value[field] not in allowed:
                self.err(where, "%s.%s: %r not one of %r" % (name, field, value[field], allowed))
        for field, sub in model.get("items", {}).items():
            for i, it in enumerate(value.get(field) or []):
                self.check(sub, it, "%s.%s[%d]" % (where, field, i))
        for field, sub in model.get("objects", {}).items():
            if isinstance(value.get(field), dict):
                self.check(sub, value[field], "%s.%s" % (where, field))
        for link in model.get("links", []):
            if link not in (value.get("Links") or {}):
                self.err(where, "%s.Links.%s missing" % (name, link))
        self.collect_links(value, where)

    def collect_links(self, value, where):
        """Every Links object anywhere inside a reply: values must be strings."""
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "Links" and isinstance(v, dict):
                    for name, href in v.items():
                        if not isinstance(href, str):
                            self.err(where, "Links.%s is not a string: %r" % (name, href))
                        else:
                            self.links.setdefault(href, "%s Links.%s" % (where, name))
                else:
                    self.collect_links(v, where)
        elif isinstance(value, list):
            for v in value:
                self.collect_links(v, where)


def strip_template(href):
    """A URI template with its expressions left out: what a client gets expanding no values."""
    return re.sub(r"\{[^}]*\}", "", href)


def template_params(href):
    params = set()
    for expr in re.findall(r"\{\?([^}]*)\}", href):
        params.update(p.strip() for p in expr.split(","))
    return params


# ---- the test --------------------------------------------------------------------------------

def setup(sim):
    """Deployments of every kind, so that every route has items: untenanted via the
    executions API, tenanted via POST deployments, one held on a manual intervention."""
    base = "/api/Spaces-1/deployments/create/"
    u = sim.ok("POST", base + "untenanted/v1", {
        "SpaceId": "Spaces-1", "SpaceIdOrName": "Spaces-1", "ProjectName": "Schema",
        "ReleaseVersion": "4.3.0", "EnvironmentNames": ["Hosted Beta"]})
    t = sim.ok("POST", base + "tenanted/v1", {
        "spaceId": "Spaces-1", "spaceIdOrName": "Default", "projectName": "Billing",
        "releaseVersion": "4.3.0", "environmentName": "Hosted Beta", "tenants": ["Contoso"]})
    projects = {p["Name"]: p for p in sim.ok("GET", "/api/Spaces-1/projects/all")}
    envs = {e["Name"]: e["Id"] for e in sim.ok("GET", "/api/Spaces-1/environments/all")}
    tenants = {x["Name"]: x["Id"] for x in sim.ok("GET", "/api/Spaces-1/tenants/all")}
    api = sim.ok("GET", "/api/Spaces-1/projects/%s/releases/4.3.0" % projects["Api"]["Id"])
    held = sim.ok("POST", "/api/Spaces-1/deployments", {
        "ReleaseId": api["Id"], "EnvironmentId": envs["Hosted Beta"],
        "TenantId": tenants["Acme"]}, status=201)
    wait_for(lambda: sim.ok("GET", "/api/tasks/" + held["TaskId"])["HasPendingInterruptions"],
             "the Api deployment to wait for a manual intervention")
    return u, t, held, projects, api


def fill(path, ids):
    for k, v in ids.items():
        path = path.replace("{%s}" % k, urllib.parse.quote(v, safe=""))
    if "{" in path:
        raise Failure("unfilled placeholder in " + path)
    return path


def check_routes(sim, models, chk, ids):
    for route in models["routes"]:
        path = fill(route["get"], ids)
        doc = sim.ok("GET", path)
        where = "GET " + path
        if route["shape"] == "one":
            chk.check(route["model"], doc, where)
        elif route["shape"] == "all":
            if not isinstance(doc, list) or not doc:
                chk.err(where, "want a non-empty bare array, got %r" % (doc,))
                continue
            for i, it in enumerate(doc):
                chk.check(route["model"], it, "%s[%d]" % (where, i))
        else:
            chk.check("Page", doc, where)
            items = doc.get("Items") or []
            if not items and not route.get("may_be_empty"):
                chk.err(where, "empty page: the fidelity test needs an item to check")
            for i, it in enumerate(items):
                chk.check(route["model"], it, "%s Items[%d]" % (where, i))
    return len(models["routes"])


def check_links(sim, chk):
    """Every link names a served route: GET answers 200, or 405 for a POST/PUT route."""
    checked = 0
    for href, where in sorted(chk.links.items()):
        if not href.startswith("/api"):
            continue  # "/app#/..." links are the web UI's
        checked += 1
        status, doc = sim.req("GET", strip_template(href))
        if status not in (200, 405):
            chk.err(where, "link %s answers %d %r" % (href, status, doc))
    return checked


def check_collections(sim, models, chk, ids):
    root = sim.ok("GET", "/api", key=None)
    space = sim.ok("GET", fill("/api/{space}", ids))
    for name, spec in models["collections"].items():
        want = set(spec["params"])
        for where, doc in (("GET /api", root), ("GET /api/{space}", space)):
            if spec["route"].startswith("/api/{space}") or where == "GET /api":
                href = doc["Links"].get(name)
                if href is None:
                    chk.err(where, "Links.%s missing" % name)
                    continue
                missing = want - template_params(href)
                if missing:
                    chk.err(where, "Links.%s = %s lacks %s" % (name, href, sorted(missing)))
                # the root's Tasks link is unscoped (/api/tasks), as on a real server
                if not any(strip_template(href).startswith(fill(r, ids)) for r in
                           (spec["route"], spec["route"].replace("/{space}", ""))):
                    chk.err(where, "Links.%s = %s is not %s" % (name, href, spec["route"]))
        page = sim.ok("GET", fill(spec["route"], ids))
        missing = want - template_params(page["Links"]["Template"])
        if missing:
            chk.err("GET " + spec["route"], "Links.Template %s lacks %s"
                    % (page["Links"]["Template"], sorted(missing)))
    for name, route in models["posts"].items():
        if name == "_":
            continue
        href = space["Links"].get(name)
        if href != fill(route, ids):
            chk.err("GET /api/{space}", "Links.%s = %r, want %s" % (name, href, route))
        status, _ = sim.req("GET", fill(route, ids))
        if status != 405:
            chk.err(route, "GET answers %d, want 405 (a POST route)" % status)


def check_behaviour(sim, chk, u, t, held, api):
    """What the new routes do, beyond their shape."""
    chk.check("CreateDeploymentResponseV1", u, "POST deployments/create/untenanted/v1")
    chk.check("CreateDeploymentResponseV1", t, "POST deployments/create/tenanted/v1")
    # releases?ids= and paging
    rels = sim.ok("GET", "/api/Spaces-1/releases?take=1")
    if rels["ItemsPerPage"] != 1 or len(rels["Items"]) != 1 or rels["TotalResults"] < 2 or \
            "Page.Next" not in rels["Links"]:
        chk.err("GET releases?take=1", "paging: %r" % rels)
    two = [r["Id"] for r in sim.ok("GET", "/api/Spaces-1/releases?take=100")["Items"][:2]]
    got = sim.ok("GET", "/api/Spaces-1/releases?ids=" + ",".join(two))
    if sorted(r["Id"] for r in got["Items"]) != sorted(two):
        chk.err("GET releases?ids=", "want %r, got %r" % (two, got))
    # progression: the held Api deployment is in the phase of Hosted Beta
    prog = sim.ok("GET", api["Links"]["Progression"])
    tasks = [d["Task"]["Id"] for ph in prog["Phases"] for d in ph["Deployments"]]
    if held["TaskId"] not in tasks:
        chk.err("progression", "the Api deployment %s is not listed: %r"
                % (held["TaskId"], tasks))
    if [p["Progress"] for p in prog["Phases"]][:1] != ["Complete"]:
        chk.err("progression", "phase 0 of Api 4.3.0 should be Complete: %r"
                % [p["Progress"] for p in prog["Phases"]])
    # interruptions: ids=, responsibility, then submit
    its = sim.ok("GET", "/api/Spaces-1/interruptions?regarding=%s" % held["TaskId"])["Items"]
    if len(its) != 1:
        raise Failure("one interruption for %s, got %r" % (held["TaskId"], its))
    it = its[0]
    by_id = sim.ok("GET", "/api/Spaces-1/interruptions?ids=" + it["Id"])["Items"]
    if [x["Id"] for x in by_id] != [it["Id"]]:
        chk.err("GET interruptions?ids=", "got %r" % by_id)
    if it["HasResponsibility"] or it["ResponsibleUserId"] is not None:
        chk.err("interruption", "responsible before anybody took it: %r" % it)
    sim.ok("PUT", it["Links"]["Responsible"])
    it = sim.ok("GET", it["Links"]["Self"])
    if not it["HasResponsibility"] or it["ResponsibleUserId"] != "Users-1":
        chk.err("PUT responsible", "not recorded: %r" % it)
    sim.ok("POST", it["Links"]["Submit"], {"Result": "Proceed"})
    done = wait_for(lambda: (lambda x: x if x["IsCompleted"] else None)(
        sim.ok("GET", "/api/tasks/" + held["TaskId"])), "the submitted task to finish")
    if done["State"] != "Success":
        chk.err("submit", "Proceed should succeed: %r" % done["State"])
    # the node's MaxConcurrentTasks is the task cap, and follows it
    for cap in (7, 3):
        sim.ok("POST", "/sim/task-cap", {"task_cap": cap}, key=None)
        node = sim.ok("GET", "/api/octopusservernodes")["Items"][0]
        if node["MaxConcurrentTasks"] != cap:
            chk.err("octopusservernodes", "MaxConcurrentTasks %r, task cap %d"
                    % (node["MaxConcurrentTasks"], cap))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--models", required=True)
    args = p.parse_args()
    with open(args.models) as f:
        models = json.load(f)
    sim = Sim(args.binary, os.path.join(args.fixtures, "small-world.json"))
    chk = Checker(models["models"])
    try:
        u, t, held, projects, api = setup(sim)
        pr = projects["Billing"]
        rel = sim.ok("GET", "/api/Spaces-1/projects/%s/releases/4.3.0" % pr["Id"])
        dep = sim.ok("GET", "/api/Spaces-1/deployments/" + t["DeploymentServerTasks"][0]
                     ["DeploymentId"])
        it = sim.ok("GET", "/api/Spaces-1/interruptions?regarding=" + held["TaskId"])["Items"][0]
        ids = {
            "space": "Spaces-1", "project": pr["Id"], "version": "4.3.0", "release": rel["Id"],
            "channel": rel["ChannelId"], "group": pr["ProjectGroupId"],
            "env": dep["EnvironmentId"], "tenant": dep["TenantId"],
            "lifecycle": pr["LifecycleId"],
            "tagset": sim.ok("GET", "/api/Spaces-1/tagsets/all")[0]["Id"],
            "deployment": dep["Id"], "task": held["TaskId"], "interruption": it["Id"],
            "node": sim.ok("GET", "/api/octopusservernodes")["Items"][0]["Id"],
            "event": sim.ok("GET", "/api/Spaces-1/events?take=1")["Items"][0]["Id"],
            "process": rel["ProjectDeploymentProcessSnapshotId"],
        }
        routes = check_routes(sim, models, chk, ids)
        check_collections(sim, models, chk, ids)
        links = check_links(sim, chk)
        check_behaviour(sim, chk, u, t, held, api)
    finally:
        sim.stop()
    covered = len(chk.seen_models)
    fields = sum(len(m["fields"]) for n, m in models["models"].items() if n in chk.seen_models)
    unseen = sorted(set(models["models"]) - chk.seen_models)
    if unseen:
        chk.err("models", "never checked (no route serves them): %s" % unseen)
    print("%d routes, %d resource models (%d fields each checked on every item), "
          "%d items, %d field checks, %d distinct /api links followed"
          % (routes, covered, fields, chk.items, chk.fields, links))
    for e in chk.errors:
        print("FAIL " + e)
    print("%d problems" % len(chk.errors))
    return 1 if chk.errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print("FAIL %s" % e)
        sys.exit(1)
