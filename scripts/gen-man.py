#!/usr/bin/env python3
"""Generates octofleet's man pages from the built binaries' --help (section 1).

    scripts/gen-man.py --octofleet build/bin/octofleet --octopus-sim build/bin/octopus-sim \
        --version 0.1.0 --out build/man/man1

Writes octofleet.1, octofleet-<command>.1 for every command that `octofleet --help` lists under
"Commands:" (except help), and octopus-sim.1, and removes other *.1 files in --out, so a command
that goes away loses its page. The --help text stays the single source: this only turns its
shapes (a "usage:" block, paragraphs, "Heading:" lines, indented "-o, --option ARG  text" and
"name  text" tables) into roff. Python 3 standard library only; no help2man.

The date in .TH is taken from SOURCE_DATE_EPOCH when set (reproducible builds), else left out.
Exit codes: 0 written, 1 a binary failed or printed no usage, 2 usage.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

SEE_ALSO_DOCS = "docs/operations.md, docs/configuration.md and docs/install.md"
# An option or command table row: two or more leading spaces, the term, two or more spaces,
# the text. The term of an option row starts with '-'; a command row's is one word.
ROW = re.compile(r"^ {2,}(\S(?:.*?\S)?) {2,}(\S.*)$")
# An option row whose text follows its term after a single space ("--header NAME=VALUE add a
# header"): the term is the option and its upper-case argument.
OPTROW = re.compile(r"^ {2,}(-[-\w]+(?:[ =][A-Z][A-Z_=.]*)*) +(\S.*)$")
HEADING = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")


class HelpError(Exception):
    pass


def run_help(argv):
    """Returns the --help text of argv (a list); --help must exit 0 and print a usage line."""
    try:
        p = subprocess.run(argv + ["--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HelpError("%s --help: %s" % (" ".join(argv), e)) from e
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0 or not out.lstrip().startswith("usage:"):
        raise HelpError("%s --help exited %d without a usage line:\n%s%s" % (
            " ".join(argv), p.returncode, out, p.stderr.decode("utf-8", "replace")))
    return out


def esc(text):
    """Escapes text for roff: backslashes, hyphens (so options copy-paste as ASCII '-')."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def line(text):
    """One roff text line; a leading '.' or "'" would be read as a request."""
    t = esc(text)
    return "\\&" + t if t.startswith((".", "'")) else t


def split_usage(text):
    """Returns (usage lines without 'usage: ', the rest's lines)."""
    lines = text.rstrip("\n").split("\n")
    usage = []
    i = 0
    while i < len(lines) and lines[i].strip():
        usage.append(re.sub(r"^(usage:)?\s*", "", lines[i]))
        i += 1
    return usage, lines[i:]


def body_to_roff(lines):
    """The text after the usage block: paragraphs, 'Heading:' sections and indented tables.
    Returns roff lines; the first section is DESCRIPTION."""
    out = [".SH DESCRIPTION"]
    para = []          # lines of the running paragraph
    in_table = False   # inside .TP rows
    row_indent = 0     # indentation of the table's rows (continuations are deeper)

    def flush():
        if para:
            out.append(".PP")
            out.extend(line(p) for p in para)
            para.clear()

    for raw in lines:
        if not raw.strip():
            flush()
            in_table = False
            continue
        m = HEADING.match(raw)
        if m and not raw.startswith(" "):
            flush()
            in_table = False
            out.append(".SH " + esc(m.group(1).upper()))
            continue
        # "Exit codes: 0 ..." on one line: a section of its own.
        m2 = re.match(r"^(Exit codes):\s+(\S.*)$", raw)
        if m2:
            flush()
            in_table = False
            out.append(".SH EXIT STATUS")
            para.append(m2.group(2))
            continue
        r = ROW.match(raw)
        if not r and in_table and len(raw) - len(raw.lstrip()) == row_indent:
            r = OPTROW.match(raw)
        if r:
            row_indent = len(raw) - len(raw.lstrip())
            flush()
            in_table = True
            out.append(".TP")
            out.append("\\fB" + esc(r.group(1)) + "\\fR")
            out.append(line(r.group(2)))
            continue
        if in_table and raw.startswith("  "):
            out.append(line(raw.strip()))   # continuation of the row's text
            continue
        if raw.startswith("  "):
            # An indented line that is no table row (a wrapped list item, an example):
            # keep it on its own line.
            flush()
            out.append(".br")
            out.append(line(raw.strip()))
            continue
        in_table = False
        para.append(raw.strip())
    flush()
    return out


def page(name, summary, help_text, version, date, see_also):
    usage, rest = split_usage(help_text)
    th_date = '"%s"' % date if date else '""'
    out = ['.\\" Generated by scripts/gen-man.py from --help; do not edit.',
           '.TH %s 1 %s "%s %s" "User Commands"' % (esc(name.upper()), th_date,
                                                     "octofleet", esc(version)),
           ".SH NAME",
           "%s \\- %s" % (esc(name), esc(summary)),
           ".SH SYNOPSIS",
           ".nf"]
    out.extend(line(u) for u in usage)
    out.append(".fi")
    out.extend(body_to_roff(rest))
    out.append(".SH SEE ALSO")
    refs = ", ".join("\\fB%s\\fR(1)" % esc(s) for s in see_also)
    out.append(refs + ("; " if refs else "") + esc(SEE_ALSO_DOCS) +
               " in the documentation directory (/usr/share/doc/octofleet for the .deb).")
    return "\n".join(out) + "\n"


def commands(top_help):
    """(name, summary) of each command listed under 'Commands:' in `octofleet --help`."""
    cmds = []
    on = False
    for raw in top_help.split("\n"):
        if raw.strip() == "Commands:":
            on = True
            continue
        if on:
            m = re.match(r"^ {2,}([a-z][a-z0-9-]*) {2,}(\S.*)$", raw)
            if not m:
                break
            cmds.append((m.group(1), m.group(2)))
    return cmds


def main():
    ap = argparse.ArgumentParser(description="Generate man pages from --help.",
                                 epilog="Exit: 0 the pages are written, 1 a binary's --help "
                                        "could not be read or parsed, 2 bad usage.")
    ap.add_argument("--octofleet", required=True, help="the built octofleet binary")
    ap.add_argument("--octopus-sim", required=True, help="the built octopus-sim binary")
    ap.add_argument("--version", required=True, help="the project version for the footer")
    ap.add_argument("--out", required=True, help="directory to write the *.1 files to")
    a = ap.parse_args()

    date = ""
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        date = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]),
                                               tz=datetime.timezone.utc).strftime("%Y-%m-%d")
    try:
        top = run_help([a.octofleet])
        cmds = [c for c in commands(top) if c[0] != "help"]
        if not cmds:
            raise HelpError("octofleet --help lists no commands under 'Commands:'")
        pages = {}
        names = ["octofleet-" + c for c, _ in cmds]
        pages["octofleet.1"] = page("octofleet", "release trains for Octopus Deploy on a Kafka "
                                    "worker fleet", top, a.version, date, names + ["octopus-sim"])
        for c, summary in cmds:
            h = run_help([a.octofleet, c])
            pages["octofleet-%s.1" % c] = page("octofleet-" + c, summary, h, a.version, date,
                                                ["octofleet"])
        pages["octopus-sim.1"] = page("octopus-sim", "a simulated Octopus Deploy server for "
                                      "dry runs and tests", run_help([a.octopus_sim]),
                                      a.version, date, ["octofleet"])
    except HelpError as e:
        print("gen-man: %s" % e, file=sys.stderr)
        return 1

    os.makedirs(a.out, exist_ok=True)
    for old in os.listdir(a.out):
        if old.endswith(".1") and old not in pages:
            os.remove(os.path.join(a.out, old))
    for fname, text in pages.items():
        path = os.path.join(a.out, fname)
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == text:
                    continue   # unchanged: keep the timestamp
        except OSError:
            pass
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
