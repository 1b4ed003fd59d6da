"""Shared by test_rules.py and test_dashboard.py: finding promtool, the metric names the daemons
export, and a PromQL reader good enough to list the series an expression selects.

METRICS is a fixed copy of the metric names contract the daemons implement (name, type, label
names). docs/monitoring.md is the documentation of record for those metrics; it is not parsed
here because its layout is its own, but when it exists every name listed below must appear in
it, so a metric renamed there and not here (or the reverse) fails the test.
"""
import os
import re
import shutil
import subprocess
import sys

METRICS = {
    # both daemons
    "octofleet_build_info": ("gauge", {"version", "daemon"}),
    "octofleet_up_seconds": ("gauge", set()),
    "octofleet_loop_last_iteration_timestamp_seconds": ("gauge", set()),
    "octofleet_events_produced_total": ("counter", {"type"}),
    "octofleet_kafka_delivery_failures_total": ("counter", {"topic_kind"}),
    "octofleet_dlq_messages_total": ("counter", {"source"}),
    "octofleet_kafka_consumer_lag": ("gauge", {"topic", "partition"}),
    "octofleet_kafka_rebalances_total": ("counter", {"kind"}),
    "octofleet_octopus_requests_total": ("counter", {"route", "status_class"}),
    "octofleet_octopus_request_duration_seconds": ("histogram", {"route"}),
    "octofleet_octopus_retries_total": ("counter", {"route"}),
    "octofleet_octopus_throttled_total": ("counter", set()),
    # worker
    "octofleet_worker_jobs_total": ("counter", {"stage", "environment", "outcome"}),
    "octofleet_worker_jobs_in_flight": ("gauge", set()),
    "octofleet_worker_job_duration_seconds": ("histogram", {"stage"}),
    "octofleet_worker_job_queue_seconds": ("histogram", {"stage"}),
    # producer
    "octofleet_producer_releases": ("gauge", {"state"}),
    "octofleet_producer_jobs_total": ("counter", {"stage", "environment", "outcome"}),
    "octofleet_producer_jobs_dispatched_total": ("counter", {"stage", "environment"}),
    "octofleet_producer_jobs_held": ("gauge", set()),
    "octofleet_producer_gate_latency_seconds": ("histogram", set()),
    "octofleet_task_budget": ("gauge", set()),
    "octofleet_task_budget_used": ("gauge", set()),
    "octofleet_producer_commands_total": ("counter", {"type", "result"}),
    "octofleet_producer_stage_last_progress_timestamp_seconds": ("gauge", set()),
    "octofleet_producer_releases_running_stalled": ("gauge", set()),
}

# Prometheus's own series the rules may use, and the target labels every series has.
PROMETHEUS_SERIES = {"up": set()}
TARGET_LABELS = {"job", "instance", "namespace", "pod"}


def series_labels(name):
    """The label names a series called `name` may have, or None when it is not exported.
    Histograms export name_bucket (with le), name_sum and name_count."""
    if name in PROMETHEUS_SERIES:
        return PROMETHEUS_SERIES[name] | TARGET_LABELS
    if name in METRICS and METRICS[name][0] != "histogram":
        return METRICS[name][1] | TARGET_LABELS
    for suffix, extra in (("_bucket", {"le"}), ("_sum", set()), ("_count", set())):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base in METRICS and METRICS[base][0] == "histogram":
            return METRICS[base][1] | extra | TARGET_LABELS
    return None


# PromQL words that are not metric names (functions, operators, keywords, modifiers).
_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "offset", "bool", "atan2", "inf", "nan",
}


def _strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def selectors(expr):
    """[(metric name, {label names in its matcher})] for every vector selector in expr.

    A word is a metric name when it is not followed by "(" (a function or aggregation), is
    not a keyword, and is not inside a by/without/on/ignoring/group_x label list or a
    {...} matcher. Good enough for the expressions in this repository; not a full parser."""
    out = []
    text = _strip_strings(expr)
    # label lists of grouping modifiers hold label names, not metrics
    text_nolists = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                          r"\1 ()", text)
    # range/offset durations and subqueries: [5m], [1h:1m], offset 10m
    text_nolists = re.sub(r"\[[^\]]*\]", "[]", text_nolists)
    text_nolists = re.sub(r"\boffset\s+-?[0-9a-z]+", "offset", text_nolists)
    i = 0
    word = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
    while i < len(text_nolists):
        c = text_nolists[i]
        if c == "{":   # a matcher without a name ({__name__=...}): not used here
            j = text_nolists.index("}", i)
            i = j + 1
            continue
        m = word.match(text_nolists, i)
        if not m or (i > 0 and (text_nolists[i - 1].isalnum() or text_nolists[i - 1] in "_.")):
            i += 1
            continue
        name = m.group(0)
        j = m.end()
        rest = text_nolists[j:].lstrip()
        if name in _KEYWORDS or rest.startswith("(") or re.fullmatch(r"[0-9eE]+", name):
            i = j
            continue
        labels = set()
        if rest.startswith("{"):
            k = text_nolists.index("{", j)
            end = text_nolists.index("}", k)
            labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)",
                                    text_nolists[k + 1:end]))
            j = end + 1
        out.append((name, labels))
        i = j
    return out


def check_names(where, expr, problems):
    """Appends to problems every selector of expr that names an unknown metric or a label the
    metric does not have."""
    found = selectors(expr)
    if not found:
        problems.append("%s: no metric in %r" % (where, expr))
    for name, labels in found:
        allowed = series_labels(name)
        if allowed is None:
            problems.append("%s: %s is not an octofleet metric (tests/prometheus/monitoring.py "
                            "lists them)" % (where, name))
        elif labels - allowed:
            problems.append("%s: %s has no label(s) %s (it has %s)" % (
                where, name, ", ".join(sorted(labels - allowed)),
                ", ".join(sorted(allowed)) or "none"))
    # Labels named by by/without/on/ignoring/group_x must exist on some metric of the expression.
    known = set(TARGET_LABELS)
    for name, _ in found:
        known |= series_labels(name) or set()
    for clause in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)",
                             _strip_strings(expr)):
        for label in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", clause):
            if label not in known:
                problems.append("%s: no metric of %r has the label %s" % (where, expr, label))
    return found


def check_documented(src, used, problems):
    """When docs/monitoring.md exists, every metric in METRICS and every name used appears in it.
    Returns False when it does not exist (said by the caller)."""
    path = os.path.join(src, "docs", "monitoring.md")
    if not os.path.isfile(path):
        return False
    text = open(path, encoding="utf-8").read()
    for name in sorted(set(METRICS) | {n for n in used if n.startswith("octofleet_")}):
        base = re.sub(r"_(bucket|sum|count)$", "", name) if name not in METRICS else name
        if base not in text:
            problems.append("docs/monitoring.md does not mention %s" % base)
    return True


FAILURES = []


def check(cond, what, detail=""):
    """Prints PASS/FAIL what (and detail when it failed); records a failure."""
    print("%-4s %s%s" % ("PASS" if cond else "FAIL", what,
                         "" if cond or not detail else ":\n" + detail.rstrip()), flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def check_docs(src, used):
    """check_documented, said as a check, or a note when docs/monitoring.md does not exist."""
    problems = []
    if check_documented(src, used, problems):
        check(not problems, "docs/monitoring.md documents every metric", "\n".join(problems))
    else:
        print("NOTE docs/monitoring.md does not exist: metric names checked against the fixed "
              "list in tests/prometheus/monitoring.py only", flush=True)


def finish(what):
    """Prints the summary line; returns the exit code."""
    print("\n%s: %s" % (what, "%d failed" % len(FAILURES) if FAILURES else "all passed"))
    return 1 if FAILURES else 0


def promtool():
    """The promtool executable, or exits 1 saying how to get it."""
    exe = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not exe:
        print("FAIL promtool is not installed: run scripts/install-deps.sh (Debian package "
              "prometheus ships it), or set PROMTOOL=/path/to/promtool", flush=True)
        sys.exit(1)
    return exe


def run(argv, timeout=120):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace")
