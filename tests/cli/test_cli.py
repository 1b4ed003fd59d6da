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
COMMANDS = ["demo", "producer", "worker", "plan", "hotfix", "import", "submit", "status", "watch",
            "list", "replay", "resume", "abort", "approve", "guide", "events", "topic", "workers",
            "version", "help"]
failures = 0
# Commands run in an empty directory without OCTOFLEET_CONFIG, so no config file is found
# unless a case puts one there (./octofleet.cfg is looked for).
EMPTY = tempfile.mkdtemp(prefix="octofleet-cli-")


def run(*args, stdin=None, env=None, cwd=None):
    e = dict(os.environ)
    e.pop("OCTOPUS_API_KEY", None)
    e.pop("OCTOFLEET_CONFIG", None)
    e.update(env or {})
    p = subprocess.run([OCTOFLEET, *args], input=stdin, capture_output=True, text=True,
                       timeout=60, env=e, cwd=cwd or EMPTY)
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
    # import: both names are required (usage, 2); its --help documents its exit codes
    rc, out, err = run("import", "--release", "2026.18")
    check("import without --project", rc == 2 and "missing --project" in err, (rc, err))
    rc, out, err = run("import", "--project", "_Deploy")
    check("import without --release", rc == 2 and "missing --release" in err, (rc, err))
    rc, out, err = run("import", "--help")
    check("import --help exit codes", "Exit codes: 0 the request was written" in out, out)

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
        if not os.path.exists("/etc/octofleet/octofleet.cfg"):
            check("no config file says so", "no configuration file was used" in err, err)

        # Without -c: OCTOFLEET_CONFIG, then ./octofleet.cfg (then /etc/octofleet/octofleet.cfg)
        named = os.path.join(tmp, "named.cfg")
        with open(named, "w") as f:
            f.write('topics = { prefix = "named."; };\n')
        rc, out, err = run("worker", "--dump-config", env={"OCTOFLEET_CONFIG": named})
        check("OCTOFLEET_CONFIG is read", rc == 0 and '"named."' in out, (rc, out[:300], err))
        rc, out, err = run("worker", env={"OCTOFLEET_CONFIG": os.path.join(tmp, "none.cfg")})
        check("OCTOFLEET_CONFIG naming a missing file", rc == 3 and "none.cfg" in err
              and "named by OCTOFLEET_CONFIG" in err, (rc, err))
        cwd = os.path.join(tmp, "here")
        os.mkdir(cwd)
        with open(os.path.join(cwd, "octofleet.cfg"), "w") as f:
            f.write('topics = { prefix = "here."; };\n')
        rc, out, err = run("worker", "--dump-config", cwd=cwd)
        check("./octofleet.cfg is read", rc == 0 and '"here."' in out, (rc, out[:300], err))
        rc, out, err = run("worker", "--dump-config", cwd=cwd, env={"OCTOFLEET_CONFIG": named})
        check("OCTOFLEET_CONFIG before ./octofleet.cfg", rc == 0 and '"named."' in out,
              (rc, out[:300]))
        rc, out, err = run("worker", "--dump-config", "-c", named, cwd=cwd)
        check("-c before ./octofleet.cfg", rc == 0 and '"named."' in out, (rc, out[:300]))
        with open(os.path.join(cwd, "octofleet.cfg"), "a") as f:
            f.write('wroker = { };\n')
        rc, out, err = run("worker", cwd=cwd)
        check("a found config's error names it", rc == 3 and "octofleet.cfg:2" in err
              and "found in the usual places" in err, (rc, err))

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

        # credentials in octopus.url are masked in --dump-config
        pw = "hunter2-Pa55"
        creds = os.path.join(tmp, "creds.cfg")
        with open(creds, "w") as f:
            f.write('octopus = { url = "http://deployer:%s@127.0.0.1:1/octopus"; };\n' % pw)
        rc, out, err = run("worker", "-c", creds, "--dump-config")
        check("dump-config masks URL credentials",
              rc == 0 and 'url = "http://deployer:***@127.0.0.1:1/octopus";' in out
              and pw not in out + err, (rc, out, err))

        # configuration validated at load, with file:line and exit 3: librdkafka
        # pass-through properties, malformed URLs, durations, integer overflow
        bad_cases = [
            ('kafka = {\n  properties = ( "socket.keepalive.enabel=true" );\n};\n',
             "bad1.cfg:2: kafka.properties: entry 1: unknown librdkafka property "
             "'socket.keepalive.enabel'"),
            ('kafka = {\n  properties = ( "socket.timeout.ms=soon" );\n};\n',
             "bad2.cfg:2: kafka.properties: entry 1: librdkafka property 'socket.timeout.ms'"),
            ('octopus = {\n  url = "http://u:%s@[::1";\n};\n' % pw,
             "bad3.cfg:2: octopus.url: has an IPv6 address without its closing ']' "
             "(got \"http://u:***@[::1\")"),
            ('octopus = {\n  request_timeout = "30x";\n};\n',
             "bad4.cfg:2: octopus.request_timeout: \"30x\" is not a duration"),
            ('topics = {\n  partitions = 99999999999999999999;\n};\n',
             "bad5.cfg:2: topics.partitions: 99999999999999999999 is too large (1..10000)"),
        ]
        for i, (text, want) in enumerate(bad_cases, 1):
            path = os.path.join(tmp, "bad%d.cfg" % i)
            with open(path, "w") as f:
                f.write(text)
            for extra in (["--dump-config"], []):
                rc, out, err = run("producer", "-c", path, *extra)
                check(f"bad config {i} {extra}", rc == 3 and want in err and pw not in err
                      and out == "", (rc, out, err))
        rc, out, err = run("plan", os.path.join(SRC, "tests/fixtures/requests/valid/minimal.json"),
                           "--set", "octopus.url=http://[::1", env={"OCTOPUS_API_KEY": "API-TEST"})
        check("plan malformed URL is a config error", rc == 3 and "closing ']'" in err, (rc, err))

        # a FIFO or a directory where a file is expected: refused at once (a hang fails
        # the test through the timeout), naming the path and what it is
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        request = os.path.join(SRC, "tests/fixtures/requests/valid/minimal.json")
        key_fifo_cfg = os.path.join(tmp, "keyfifo.cfg")
        with open(key_fifo_cfg, "w") as f:
            f.write('octopus = { url = "http://127.0.0.1:1"; api_key_file = "%s"; };\n' % fifo)
        key_dir_cfg = os.path.join(tmp, "keydir.cfg")
        with open(key_dir_cfg, "w") as f:
            f.write('octopus = { url = "http://127.0.0.1:1"; api_key_file = "%s"; };\n' % tmp)
        octo = ["--set", "octopus.url=http://127.0.0.1:1"]
        key = {"OCTOPUS_API_KEY": "API-TEST"}
        file_cases = [
            ("submit FIFO", ["submit", fifo], None, 1, f"{fifo}: is not a regular file (FIFO)"),
            ("submit dir", ["submit", tmp], None, 1, f"{tmp}: is a directory"),
            ("plan FIFO", ["plan", fifo, *octo], key, 1, f"{fifo}: is not a regular file (FIFO)"),
            ("plan dir", ["plan", tmp, *octo], key, 1, f"{tmp}: is a directory"),
            ("config FIFO", ["worker", "-c", fifo], None, 3,
             f"{fifo}: is not a regular file (FIFO)"),
            ("config dir", ["status", "x", "-c", tmp], None, 3, f"{tmp}: is a directory"),
            ("API key FIFO", ["plan", request, "-c", key_fifo_cfg], None, 3,
             f"octopus.api_key_file {fifo}: is not a regular file (FIFO)"),
            ("API key dir", ["plan", request, "-c", key_dir_cfg], None, 3,
             f"octopus.api_key_file {tmp}: is a directory"),
        ]
        for name, args, env, want_rc, want in file_cases:
            try:
                p = subprocess.run([OCTOFLEET, *args], capture_output=True, text=True, timeout=10,
                                   env={**{k: v for k, v in os.environ.items()
                                           if k != "OCTOPUS_API_KEY"}, **(env or {})},
                                   stdin=subprocess.DEVNULL)
                check(name, p.returncode == want_rc and want in p.stderr,
                      (p.returncode, p.stderr))
            except subprocess.TimeoutExpired:
                check(name, False, "hung on a FIFO")

        # operator commands need a release (an id or a name: a name is not a usage error)
        for c in ("replay", "resume", "abort", "approve", "guide"):
            rc, out, err = run(c)
            check(f"{c} without a release", rc == 2 and "missing RELEASE" in err, (c, rc, err))
            rc, out, err = run(c, "2026.18", "--space")
            check(f"{c} --space without a value", rc == 2, (c, rc, err))
        rc, out, err = run("replay", "5aa9fdc3-425b-543c-9d79-b2f4eb960011", "--stage", "x")
        check("replay bad stage", rc == 2 and "--stage" in err, (rc, err))
        # guide needs a stage and an action it knows; approve takes a stage but no action
        for argv, want in ((("guide", "r", "--action", "retry"), "--stage N (1 or more)"),
                           (("guide", "r", "--stage", "0", "--action", "retry"), "--stage N"),
                           (("guide", "r", "--stage", "2"), "--action retry|ignore|abort"),
                           (("guide", "r", "--stage", "2", "--action", "pray"), "not 'pray'"),
                           (("approve", "r", "--action", "retry"), "unexpected argument"),
                           (("approve", "r", "--stage", "x"), "--stage needs a number")):
            rc, out, err = run(*argv)
            check(f"{' '.join(argv)}: usage error", rc == 2 and want in err, (argv, rc, err))
        # waiting: --timeout needs seconds, --wait and --no-wait exclude each other, abort has
        # no --wait (it ends the release), and every such command documents exit code 5
        for argv, want in ((("replay", "r", "--timeout", "0"), "--timeout"),
                           (("resume", "r", "--timeout", "x"), "--timeout"),
                           (("replay", "r", "--wait", "--no-wait"), "exclude"),
                           (("abort", "r", "--wait"), "unexpected argument '--wait'"),
                           (("submit", "x.json", "--no-wait"), "unexpected argument"),
                           (("watch",), "missing RELEASE"),
                           (("list", "extra"), "unexpected argument 'extra'")):
            rc, out, err = run(*argv)
            check(f"{' '.join(argv)}: usage error", rc == 2 and want in err, (argv, rc, err))
        for c in ("submit", "replay", "resume", "abort", "approve", "guide"):
            rc, out, err = run(c, "--help")
            check(f"{c} --help documents exit 5", "5 no answer within --timeout" in out, out)
        rc, out, err = run("watch", "--help")
        check("watch --help", "NO_COLOR" in out and "Exit codes: 0 completed" in out, out)

    print(f"{failures} failed" if failures else "all CLI checks passed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
