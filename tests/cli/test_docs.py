#!/usr/bin/env python3
"""The docs say what the code does (README.md, docs/*.md):

1. every `octofleet ...` command line in a code block or an inline code span names a command
   that exists, and every long option it uses is one that command's --help lists;
2. the README's release request plans (`octofleet plan`) against the shipped demo world
   (sim/worlds/demo-world.json served by octopus-sim): its names, versions and tenants exist;
3. configuration.md's systemd credential lines are those of the shipped units (deploy/systemd)
   with the .deb's paths;
4. no link or path points outside the repository (../shared, absolute local paths); links to
   files in the repository resolve; public URLs are fine;
5. every script in scripts/ answers --help (run from another directory) with its usage and
   exit codes, exit 0, and without installing, building or writing anything.

usage: test_docs.py /path/to/octofleet /path/to/octopus-sim /path/to/source-dir
"""
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

OCTOFLEET, SIM, SRC = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL %s" % what, file=sys.stderr)


def doc_files():
    return [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))


def rel(path):
    return os.path.relpath(path, SRC)


# ---- 1. command lines ---------------------------------------------------------------------

def code_lines(path):
    """(line number, text) of every line in a fenced code block (continuations joined), and of
    every inline code span outside them (a span may wrap across lines)."""
    out, fence, pending, prose = [], None, None, []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if s.lstrip().startswith("```"):
                fence = None if fence is not None else s.strip()[3:]
                continue
            if fence is None:
                prose.append((n, s))
                continue
            if fence not in ("", "sh", "bash", "console", "shell"):
                continue
            if pending:
                s = pending[1] + " " + s.strip()
                n = pending[0]
            if s.endswith("\\"):
                pending = (n, s[:-1])
                continue
            pending = None
            out.append((n, s))
    text = "\n".join(s for _, s in prose)
    starts = [0]
    for _, s in prose:
        starts.append(starts[-1] + len(s) + 1)
    for m in re.finditer(r"`([^`]+)`", text):
        i = max(k for k in range(len(prose)) if starts[k] <= m.start())
        out.append((prose[i][0], m.group(1).replace("\n", " ")))
    return out


def commands_in(text):
    """The octofleet invocations of a shell line, each as its argument list."""
    text = re.sub(r"^\s*\$\s+", "", text)
    text = re.sub(r"(^|\s)#.*$", "", text)  # a shell comment
    found = []
    for seg in re.split(r"\|\||&&|[|;]|\$\(", text):
        try:
            words = shlex.split(seg, posix=True)
        except ValueError:
            words = seg.split()
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
            words = words[1:]  # VAR=value before the command
        if words and (words[0] == "octofleet" or words[0].endswith("/octofleet")):
            found.append(words[1:])
    return found


# Phrases that start with the word octofleet but are not command lines: the key a worker
# writes into an Octopus deployment's Comments ("octofleet job <id> attempt <n>;").
NOT_COMMANDS = {"job"}

_help = {}


def help_of(cmd):
    if cmd not in _help:
        p = subprocess.run([OCTOFLEET, cmd, "--help"], capture_output=True, text=True,
                           timeout=30)
        _help[cmd] = (p.returncode, p.stdout)
    return _help[cmd]


def check_commands():
    checked = 0
    for path in doc_files():
        for n, text in code_lines(path):
            for argv in commands_in(text):
                where = "%s:%d: octofleet %s" % (rel(path), n, " ".join(argv))
                if not argv or not re.fullmatch(r"[a-z][a-z-]*", argv[0]):
                    continue  # `octofleet --help`, `octofleet <command>`, a diagram
                if argv[0] in NOT_COMMANDS:
                    continue
                cmd = argv[0]
                rc, usage = help_of(cmd)
                check(rc == 0, "%s: `octofleet %s --help` exits %d: no such command"
                      % (where, cmd, rc))
                if rc:
                    continue
                checked += 1
                accepted = set(re.findall(r"--[a-z][a-z0-9-]*", usage))
                for a in argv[1:]:
                    if a.startswith("--"):
                        opt = a.split("=", 1)[0]
                        check(opt in accepted, "%s: `octofleet %s --help` does not list %s"
                              % (where, cmd, opt))
    check(checked >= 20, "found only %d octofleet command lines in the docs: is the extraction "
          "broken?" % checked)
    print("checked %d octofleet command lines" % checked)


# ---- 2. the README's request against the demo world ---------------------------------------

def readme_request():
    with open(os.path.join(SRC, "README.md")) as f:
        text = f.read()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    reqs = [b for b in blocks if '"stages"' in b]
    check(len(reqs) == 1, "README.md: want one ```json release request, found %d" % len(reqs))
    return reqs[0] if reqs else None


def check_readme_request():
    req = readme_request()
    if req is None:
        return
    world = os.path.join(SRC, "sim", "worlds", "demo-world.json")
    with open(world) as f:
        key = json.load(f)["api_keys"][0]["key"]
    tmp = tempfile.mkdtemp(prefix="octofleet-docs-")
    path = os.path.join(tmp, "request.json")
    with open(path, "w") as f:
        f.write(req)
    sim = subprocess.Popen([SIM, "--port", "0", "--fixture", world], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        line = sim.stdout.readline().decode()
        m = re.fullmatch(r"octopus-sim listening on (\S+)\n", line)
        check(m is not None, "octopus-sim did not start: %r" % line)
        if not m:
            return
        env = dict(os.environ, OCTOPUS_API_KEY=key)
        env.pop("OCTOFLEET_CONFIG", None)
        p = subprocess.run([OCTOFLEET, "plan", path, "--json", "--set",
                            "octopus.url=" + m.group(1)], capture_output=True, text=True,
                           env=env, cwd=tmp, timeout=120)
        check(p.returncode == 0, "README's request does not plan against the demo world "
              "(exit %d):\n%s" % (p.returncode, p.stderr[-3000:]))
        if p.returncode == 0:
            plan = json.loads(p.stdout)
            text = json.dumps(plan)
            stages = json.loads(req)["stages"]
            for st in stages:
                for proj in st["projects"]:
                    check(proj["project"] in text, "the plan of README's request has no job "
                          "for %s" % proj["project"])
            print("README's request plans against the demo world")
    finally:
        sim.terminate()
        sim.wait(30)


# ---- 3. the systemd credential example ----------------------------------------------------

def check_credentials_example():
    with open(os.path.join(SRC, "docs", "configuration.md")) as f:
        text = f.read()
    blocks = [b for b in re.findall(r"```[a-z]*\n(.*?)```", text, re.S) if "LoadCredential" in b]
    check(len(blocks) == 1, "configuration.md: want one block with LoadCredential, found %d"
          % len(blocks))
    if not blocks:
        return
    units = {}
    for u in glob.glob(os.path.join(SRC, "deploy", "systemd", "*.in")):
        with open(u) as f:
            units[u] = f.read().replace("@OF_CONFDIR@", "/etc/octofleet").replace(
                "@OF_BINDIR@", "/usr/bin")
    lines = [x for x in blocks[0].splitlines() if x.strip() and not x.startswith("[")]
    for x in lines:
        check(any(x in body.splitlines() for body in units.values()),
              "configuration.md's unit line is in no shipped unit (deploy/systemd, .deb "
              "paths): %s" % x)
    check(any("octopus.api_key_file=%d/octopus-api-key" in x for x in lines),
          "configuration.md's example does not point octopus.api_key_file at %d")


# ---- 4. nothing points outside the repository -------------------------------------------

def check_links():
    for path in doc_files():
        with open(path) as f:
            text = f.read()
        for n, line in enumerate(text.splitlines(), 1):
            where = "%s:%d" % (rel(path), n)
            # a scratch directory (/tmp/...) as an example argument is fine
            bad = re.search(r"\.\./shared|file://|(^|[\s`(\"'])/(work|home|root|Users)/", line)
            check(bad is None, "%s points outside the repository (%s): %s"
                  % (where, bad.group(0).strip() if bad else "", line.strip()))
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"[a-z]+://", target) or target.startswith(("#", "mailto:")):
                    continue
                file_part = target.split("#", 1)[0]
                full = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                check(full.startswith(SRC.rstrip("/") + "/") and os.path.exists(full),
                      "%s: link %s leads to no file of the repository" % (where, target))


# ---- 5. the scripts' --help ----------------------------------------------------------------

# Commands a script's help must never reach: installing, building, testing, writing a world.
SHIMMED = ("apt-get", "sudo", "dpkg-query", "cmake", "ctest", "make", "clang", "clang-format",
           "git")


def check_script_help():
    scripts = sorted(f for f in glob.glob(os.path.join(SRC, "scripts", "*"))
                     if os.access(f, os.X_OK) or f.endswith(".py"))
    scripts = [f for f in scripts if not f.endswith(("world_common.py", "help.sh"))]
    check(len(scripts) >= 8, "found only %d scripts in scripts/" % len(scripts))
    before = subprocess.run(["git", "-C", SRC, "status", "--porcelain"], capture_output=True,
                            text=True).stdout if os.path.isdir(os.path.join(SRC, ".git")) else None
    with tempfile.TemporaryDirectory() as tmp:
        shims, called = os.path.join(tmp, "shims"), os.path.join(tmp, "called")
        os.mkdir(shims)
        for name in SHIMMED:
            with open(os.path.join(shims, name), "w") as f:
                f.write("#!/bin/sh\necho %s \"$@\" >> %s\nexit 1\n" % (name, shlex.quote(called)))
            os.chmod(os.path.join(shims, name), 0o755)
        env = dict(os.environ, PATH=shims + os.pathsep + os.environ["PATH"],
                   BUILD_DIR=os.path.join(tmp, "build"))
        for path in scripts:
            name = os.path.basename(path)
            argv = ([sys.executable] if path.endswith(".py") else []) + \
                [os.path.relpath(path, tmp), "--help"]
            p = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True, timeout=30)
            check(p.returncode == 0, "scripts/%s --help exits %d: %s"
                  % (name, p.returncode, p.stderr.strip()[-300:]))
            check("usage" in p.stdout.lower() or "scripts/" + name in p.stdout,
                  "scripts/%s --help shows no usage line: %r" % (name, p.stdout[:200]))
            check("Exit" in p.stdout, "scripts/%s --help names no exit codes" % name)
        if os.path.exists(called):
            with open(called) as f:
                ran = sorted({line.split()[0] for line in f if line.strip()})
                check(False, "a script's --help ran %s" % ", ".join(ran))
        check(not os.path.exists(env["BUILD_DIR"]), "a script's --help created BUILD_DIR")
    if before is not None:
        after = subprocess.run(["git", "-C", SRC, "status", "--porcelain"], capture_output=True,
                               text=True).stdout
        check(after == before, "a script's --help changed the tree: %s" % after)
    print("checked --help of %d scripts" % len(scripts))


def main():
    check_commands()
    check_readme_request()
    check_credentials_example()
    check_links()
    check_script_help()
    if failures:
        print("%d problem(s)" % len(failures), file=sys.stderr)
        return 1
    print("docs match the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
