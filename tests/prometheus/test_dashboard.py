#!/usr/bin/env python3
"""The Grafana dashboard deploy/grafana/octofleet.json.

    test_dashboard.py SOURCE_DIR

1. It loads as JSON and has what an import or a provisioning needs: a uid, a title, a
   schemaVersion, a `datasource` variable (Prometheus) that every panel and query uses, and
   `job` and `instance` variables; panel ids are unique and panels do not overlap.
2. Every query (panels and variables) selects only the metrics and labels the daemons export
   (tests/prometheus/monitoring.py), and every exported metric is shown somewhere.
3. Every query parses as PromQL: Grafana's variables are replaced by values, and all queries go
   into one temporary rules file, as recording rules, for `promtool check rules`.

Fails, saying to run scripts/install-deps.sh, when promtool is not installed.
"""
import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitoring  # noqa: E402

# What Grafana puts in place of its variables, for the syntax check.
GRAFANA_VARS = [("${datasource}", "prometheus"), ("$__rate_interval", "1m"),
                ("$__interval", "1m"), ("$__range", "1h"), ("$job", ".*"), ("$instance", ".*")]

def substitute(expr):
    for var, value in GRAFANA_VARS:
        expr = expr.replace(var, value)
    return expr


def all_panels(dash):
    """Panels, including those inside collapsed rows."""
    out = []
    for p in dash.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def queries(dash):
    """[(where, PromQL)] of every panel target and query variable."""
    out = []
    for p in all_panels(dash):
        for t in p.get("targets", []):
            out.append(("panel %r %s" % (p.get("title"), t.get("refId")), t.get("expr", "")))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"label_values\((.*),\s*([A-Za-z_]+)\)", q.strip())
        # label_values(selector, label) is Grafana's; its selector is PromQL
        out.append(("variable %s" % v.get("name"), m.group(1) if m else q))
    return out


def check_layout(dash):
    problems = []
    ids = [p.get("id") for p in all_panels(dash)]
    if len(ids) != len(set(ids)) or None in ids:
        problems.append("panel ids are missing or repeated: %s" % ids)
    cells = {}
    for p in all_panels(dash):
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")):
            problems.append("panel %r has no gridPos" % p.get("title"))
            continue
        if g["x"] + g["w"] > 24:
            problems.append("panel %r is wider than the grid" % p.get("title"))
        for cx in range(g["x"], g["x"] + g["w"]):
            for cy in range(g["y"], g["y"] + g["h"]):
                if (cx, cy) in cells:
                    problems.append("panels %r and %r overlap" % (cells[(cx, cy)], p.get("title")))
                    break
                cells[(cx, cy)] = p.get("title")
            else:
                continue
            break
    return problems


def main():
    src = os.path.abspath(sys.argv[1])
    promtool = monitoring.promtool()
    path = os.path.join(src, "deploy", "grafana", "octofleet.json")
    try:
        dash = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        monitoring.check(False, "deploy/grafana/octofleet.json loads as JSON", str(e))
        return 1
    monitoring.check(True, "deploy/grafana/octofleet.json loads as JSON")

    monitoring.check(dash.get("uid") == "octofleet" and dash.get("title") and
          isinstance(dash.get("schemaVersion"), int) and dash["schemaVersion"] >= 36,
          "uid, title and schemaVersion (>= 36: Grafana 9.x and later)",
          "uid %r title %r schemaVersion %r" % (dash.get("uid"), dash.get("title"),
                                                 dash.get("schemaVersion")))
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    monitoring.check(ds.get("type") == "datasource" and ds.get("query") == "prometheus",
          "a `datasource` variable of Prometheus data sources")
    monitoring.check(all(n in variables and variables[n].get("type") == "query" for n in ("job", "instance")),
          "`job` and `instance` query variables", " ".join(variables))

    panels = [p for p in all_panels(dash) if p.get("type") != "row"]
    wrong_ds = []
    for p in panels:
        for d in [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]:
            if not isinstance(d, dict) or d.get("uid") != "${datasource}":
                wrong_ds.append(p.get("title"))
                break
    monitoring.check(not wrong_ds, "every panel and query uses the ${datasource} variable",
          "not: %s" % ", ".join(map(str, wrong_ds)))
    no_filter = [p.get("title") for p in panels for t in p.get("targets", [])
                 if "$job" not in t.get("expr", "") or "$instance" not in t.get("expr", "")]
    monitoring.check(not no_filter, "every query is filtered by $job and $instance",
          "not: %s" % ", ".join(no_filter))
    no_desc = [p.get("title") for p in panels if not p.get("description")]
    monitoring.check(not no_desc, "every panel has a description", ", ".join(map(str, no_desc)))
    layout = check_layout(dash)
    monitoring.check(not layout, "%d panels, unique ids, inside the grid, none overlapping" % len(panels),
          "\n".join(layout))

    # Metric names and labels.
    problems, used = [], set()
    qs = queries(dash)
    for where, expr in qs:
        if not expr:
            problems.append("%s: empty query" % where)
            continue
        used |= {n for n, _ in monitoring.check_names(where, substitute(expr), problems)}
    monitoring.check(not problems, "%d queries use only exported metrics and their labels" % len(qs),
          "\n".join(problems))
    shown = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    unshown = sorted(set(monitoring.METRICS) - shown)
    monitoring.check(not unshown, "every exported metric is on the dashboard", "missing: " + " ".join(unshown))

    # The checker itself: a wrong name and a wrong label are reported.
    missed = []
    for bad in ('rate(octofleet_jobs_total[5m])',
                'rate(octofleet_octopus_requests_total{status="429"}[5m])',
                'sum by (stage) (octofleet_task_budget)'):
        probe = []
        monitoring.check_names("probe", bad, probe)
        if not probe:
            missed.append(bad)
    monitoring.check(not missed, "the name checker reports an unknown metric, label and by-label",
          "not reported: " + " | ".join(missed))

    # PromQL syntax: every query as a recording rule (JSON is YAML) through promtool.
    tmp = tempfile.mkdtemp(prefix="octofleet-dashboard-")
    try:
        rules = [{"record": "octofleet_dashboard:q%d" % i, "expr": substitute(expr)}
                 for i, (_, expr) in enumerate(qs)]
        rules_file = os.path.join(tmp, "dashboard-queries.yml")
        with open(rules_file, "w", encoding="utf-8") as f:
            json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, indent=1)
        rc, out = monitoring.run([promtool, "check", "rules", rules_file])
        if rc != 0:   # name the query behind each rule promtool complains about
            for i, (where, expr) in enumerate(qs):
                out = out.replace("octofleet_dashboard:q%d" % i, "%s (%s)" % (where, expr))
        monitoring.check(rc == 0 and ("SUCCESS: %d rules found" % len(rules)) in out,
              "every query parses as PromQL (promtool check rules, %d recording rules)"
              % len(rules), out)
        # ... and the syntax check does catch a broken query.
        with open(rules_file, "w", encoding="utf-8") as f:
            json.dump({"groups": [{"name": "dashboard", "rules": [
                {"record": "octofleet_dashboard:bad", "expr": "sum by (le (rate(x[1m]))"}]}]}, f)
        rc, _ = monitoring.run([promtool, "check", "rules", rules_file])
        monitoring.check(rc != 0, "promtool check rules rejects a broken query")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    monitoring.check_docs(src, used)

    return monitoring.finish("dashboard")


if __name__ == "__main__":
    sys.exit(main())
