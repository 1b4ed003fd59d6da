#!/usr/bin/env python3
"""The octofleet command line: every command has --help, documented exit codes, and bad
input (arguments, config, request) gets a clear error on stderr. No services needed: the
cases here fail before any Kafka or Octopus connection is made.

usage: test_cli.py /path/to/octofleet /path/to/source-dir
"""
import os
import subprocess
import sys
import tempfile

OCTOFLEET, SRC = sys.argv[1], sys.argv[2]
COMMANDS = ["demo", "producer", "worker", "plan", "submit", "status", "replay", "resume",
            "abort", "events", "topic", "version", "help"]
failures = 0


def run(*args, stdin=None, env=None):
    e = dict(os.environ)
    e.pop("OCTOPUS_API_KEY", None)
    e.update(env or {})
    p = subprocess.run([OCTOFLEET, *args], input=stdin, capture_output=True, text=True,
                       timeout=60, env=e)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL {name}: {detail}", file=sys.stderr)


def main():
    # top level
    rc, out, err = run("--help")
    check("--help", rc == 0 and "Commands:" in out, (rc, out, err))
    for c in COMMANDS:
        check(f"--help lists {c}", f"  {c} " in out, out)
    rc, out, err = run()
    check("no command", rc == 2 and "usage:" in err, (rc, err))
    rc, out, err = run("frobnicate")
    check("unknown command", rc == 2 and "unknown command 'frobnicate'" in err, (rc, err))
    rc, out, err = run("version")
    check("version", rc == 0 and out.startswith("octofleet "), (rc, out))

    # every command: --help exits 0 with a usage on stdout; an unknown option exits 2
    for c in COMMANDS:
        rc, out, err = run(c, "--help")
        check(f"{c} --help", rc == 0 and "usage" in out.lower(), (c, rc, out[:200], err[:200]))
        if c in ("version", "help"):
            continue
        rc, out, err = run(c, "--no-such-option")
        check(f"{c} bad option", rc == 2 and err.strip(), (c, rc, out[:200], err[:200]))
    rc, out, err = run("help", "submit")
    check("help submit", rc == 0 and "submit REQUEST.json" in out, (rc, out))

    with tempfile.TemporaryDirectory() as tmp:
        # configuration errors: exit 3 with file:line
        bad = os.path.join(tmp, "bad.cfg")
        with open(bad, "w") as f:
            f.write('octopus = {\n  urll = "http://x";\n};\nwroker = { };\n')
        for c in ("producer", "worker", "status"):
            args = [c, "-c", bad] + (["x"] if c == "status" else [])
            rc, out, err = run(*args)
            check(f"{c} bad config", rc == 3 and "bad.cfg:2" in err and "did you mean" in err
                  and "bad.cfg:4" in err, (c, rc, err))
        rc, out, err = run("worker", "--set", "worker.max_in_flight=0")
        check("--set out of range", rc == 3 and "max_in_flight" in err, (rc, err))
        rc, out, err = run("worker")  # octopus.url is required for a worker
        check("worker without octopus.url", rc == 3 and "octopus.url" in err, (rc, err))

        # --dump-config: valid config on stdout, secrets masked
        secret = "s3cr3t-Pa55"
        good = os.path.join(tmp, "good.cfg")
        with open(good, "w") as f:
            f.write('kafka = { properties = ( ["sasl.password", "%s"] ); };\n'
                    'octopus = { url = "http://127.0.0.1:1"; };\n' % secret)
        rc, out, err = run("worker", "-c", good, "--dump-config")
        check("dump-config", rc == 0 and "octopus" in out and "****" in out, (rc, out, err))
        check("dump-config masks secrets", secret not in out + err, out)

        # the API key never comes from argv: the worker has no option for it, and a missing
        # key is a config error that says where to put it
        rc, out, err = run("worker", "-c", good)
        check("worker without API key", rc == 3 and "OCTOPUS_API_KEY" in err, (rc, err))

        # an invalid request is refused before anything is sent: every problem, exit 1
        req = os.path.join(tmp, "bad.json")
        with open(req, "w") as f:
            f.write('{"release": "", "space": "Default", "environments": [], '
                    '"stages": [[{"project": "Web"}]]}')
        rc, out, err = run("submit", req, "--set", "kafka.bootstrap_servers=127.0.0.1:1")
        check("submit invalid request", rc == 1 and "environments" in err and "version" in err
              and "release" in err and out == "", (rc, out, err))
        rc, out, err = run("submit", "-", stdin="{not json")
        check("submit bad JSON", rc == 1 and "not a valid release request" in err, (rc, err))
        rc, out, err = run("submit", os.path.join(tmp, "missing.json"))
        check("submit missing file", rc == 1 and "cannot open" in err, (rc, err))
        rc, out, err = run("plan", req, "--set", "octopus.url=http://127.0.0.1:1",
                           env={"OCTOPUS_API_KEY": "API-TEST"})
        check("plan invalid request", rc == 1 and "environments" in err, (rc, err))

        # operator commands need a release id
        for c in ("replay", "resume", "abort"):
            rc, out, err = run(c)
            check(f"{c} without id", rc == 2 and "RELEASE_ID" in err, (c, rc, err))
            rc, out, err = run(c, "not-a-uuid")
            check(f"{c} bad id", rc == 2 and "UUID" in err, (c, rc, err))
        rc, out, err = run("replay", "5aa9fdc3-425b-543c-9d79-b2f4eb960011", "--stage", "x")
        check("replay bad stage", rc == 2 and "--stage" in err, (rc, err))

    print(f"{failures} failed" if failures else "all CLI checks passed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
