#!/usr/bin/env python3
"""The Prometheus alert rules (deploy/prometheus/alerts.yml) and example config.

    test_rules.py SOURCE_DIR

1. `promtool check rules deploy/prometheus/alerts.yml`;
2. `promtool test rules tests/prometheus/*.test.yml`: for every alert, series that fire and
   series just short of each threshold that must not;
3. every expression uses only the metrics (and their labels) the daemons export
   (tests/prometheus/monitoring.py), and every alert has severity, summary and a description
   that tells the operator what to run;
4. `promtool check config deploy/prometheus/prometheus.yml` (with the Kubernetes service
   discovery replaced by an empty static list when this promtool was built without it, as
   Debian's is; said in the output).

Fails, saying to run scripts/install-deps.sh, when promtool is not installed.
"""
import glob
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitoring  # noqa: E402


def rules(path):
    """[(kind, name, expr, text of the rule)] from a rules file. The standard library has no YAML
    reader: this follows the layout alerts.yml is written in (`- alert:`/`- record:` items,
    `expr:` inline or as a | block)."""
    lines = open(path, encoding="utf-8").read().splitlines()
    out = []
    starts = [i for i, l in enumerate(lines) if re.match(r"^\s*- (alert|record):", l)]
    for n, s in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        body = lines[s:end]
        kind, name = re.match(r"^\s*- (alert|record):\s*(\S+)", body[0]).groups()
        expr = None
        for k, l in enumerate(body):
            m = re.match(r"^(\s*)expr:\s*(.*)$", l)
            if not m:
                continue
            if m.group(2) in ("|", "|-", ">", ">-"):
                indent = len(m.group(1))
                block = []
                for b in body[k + 1:]:
                    if b.strip() and len(b) - len(b.lstrip()) <= indent:
                        break
                    block.append(b)
                expr = "\n".join(block).strip()
            else:
                expr = m.group(2).strip().strip("'\"")
        out.append((kind, name, expr, "\n".join(body)))
    return out


def main():
    src = os.path.abspath(sys.argv[1])
    promtool = monitoring.promtool()
    rules_file = os.path.join(src, "deploy", "prometheus", "alerts.yml")

    rc, out = monitoring.run([promtool, "check", "rules", rules_file])
    monitoring.check(rc == 0 and "SUCCESS" in out, "promtool check rules deploy/prometheus/alerts.yml", out)

    tests = sorted(glob.glob(os.path.join(src, "tests", "prometheus", "*.test.yml")))
    monitoring.check(bool(tests), "unit test files tests/prometheus/*.test.yml exist")
    rc, out = monitoring.run([promtool, "test", "rules"] + tests)
    monitoring.check(rc == 0 and "SUCCESS" in out, "promtool test rules %s" % " ".join(
        os.path.relpath(t, src) for t in tests), out)

    # Every alert has a unit test (named in an alertname: line of a test file).
    tested = set()
    for t in tests:
        tested |= set(re.findall(r"alertname:\s*(\S+)", open(t, encoding="utf-8").read()))
    found = rules(rules_file)
    alerts = [name for kind, name, _, _ in found if kind == "alert"]
    monitoring.check(len(alerts) >= 5, "alerts.yml has the alerts (%s)" % ", ".join(alerts))
    untested = [a for a in alerts if a not in tested]
    monitoring.check(not untested, "every alert has promtool unit tests", "untested: " + " ".join(untested))
    # ... with a firing case (a test that expects it with labels) as well as quiet ones.
    fired = set()
    for t in tests:
        text = open(t, encoding="utf-8").read()
        fired |= set(re.findall(r"alertname:\s*(\S+)\n\s*exp_alerts:[ \t]*(?:&\S+)?\n\s*- exp_labels",
                                text))
    nofire = [a for a in alerts if a not in fired]
    monitoring.check(not nofire, "every alert has a test where it fires", "never fires: " + " ".join(nofire))

    problems = []
    used = set()
    for kind, name, expr, body in found:
        if expr is None:
            problems.append("%s: no expr" % name)
            continue
        used |= {n for n, _ in monitoring.check_names("alerts.yml %s" % name, expr, problems)}
        if kind != "alert":
            continue
        if not re.search(r"^\s*severity:\s*(critical|warning)\s*$", body, re.M):
            problems.append("%s: no severity: critical|warning label" % name)
        if not re.search(r"^\s*summary:", body, re.M):
            problems.append("%s: no summary annotation" % name)
        desc = re.search(r"^\s*description:(.*?)(?=^\s*- alert:|\Z)", body, re.M | re.S)
        if not desc or not re.search(r"`(octofleet|kubectl|systemctl|gdb) [^`]+`", desc.group(1)):
            problems.append("%s: the description names no command to run (`octofleet ...`)" % name)
    monitoring.check(not problems, "alerts.yml uses only exported metrics and labels, every alert has "
          "severity, summary and a description with a command to run", "\n".join(problems))
    monitoring.check_docs(src, used)

    # The example configuration, with alerts.yml beside it (rule_files is relative to it).
    conf = os.path.join(src, "deploy", "prometheus", "prometheus.yml")
    rc, out = monitoring.run([promtool, "check", "config", conf])
    if rc != 0 and "kubernetes_sd_configs not found" in out:
        print("NOTE this promtool has no Kubernetes service discovery (Debian builds it "
              "without): checking prometheus.yml with its kubernetes_sd_configs replaced by an "
              "empty static_configs", flush=True)
        tmp = tempfile.mkdtemp(prefix="octofleet-prom-")
        try:
            text = open(conf, encoding="utf-8").read()
            text, n = re.subn(r"kubernetes_sd_configs:\n(\s*)- role: pod",
                              r"static_configs:\n\1- targets: []", text)
            monitoring.check(n == 2, "prometheus.yml has the two Kubernetes scrape jobs", "found %d" % n)
            with open(os.path.join(tmp, "prometheus.yml"), "w", encoding="utf-8") as f:
                f.write(text)
            shutil.copy(rules_file, tmp)
            rc, out = monitoring.run([promtool, "check", "config", os.path.join(tmp,
                                                                              "prometheus.yml")])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    monitoring.check(rc == 0 and "SUCCESS" in out, "promtool check config deploy/prometheus/prometheus.yml",
          out)
    text = open(conf, encoding="utf-8").read()
    for job in ("octofleet-producer", "octofleet-worker"):
        monitoring.check(re.search(r"^\s*- job_name: %s$" % job, text, re.M) is not None
              and job in open(rules_file, encoding="utf-8").read(),
              "scrape job %s is in prometheus.yml and alerts.yml" % job)

    return monitoring.finish("rules")


if __name__ == "__main__":
    sys.exit(main())
