#!/usr/bin/env python3
"""Where a daemon's CPU goes, by library: Kafka, HTTP, JSON, octofleet's own code, logs.

    perf record --call-graph dwarf -F 999 -p PID[,PID...] -o perf.data -- sleep SECONDS
    perf script -i perf.data -F pid,tid,comm,ip,sym,dso > stacks.txt
    python3 bench/cpu_parts.py stacks.txt [PID ...]

Each sample goes to the first part its stack enters, walking from the thread's root (main, or
the thread's start) towards the leaf: a librdkafka thread's samples are Kafka; otherwise the
first frame in librdkafka is Kafka, in libcurl HTTP, in jansson or ofjson's reader or writer
JSON, in the logger logs; a stack that enters none is octofleet's own code (with the libc it
calls), or the kernel when its leaf is a system call made from octofleet's code. Prints one
table per process (all the processes in the file, or the PIDs given). docs/benchmarks.md,
"Where a job's CPU goes, by library", has what this found in S1.

Exit: 0 printed, 1 no sample of the asked processes in the file, 2 bad usage.
Python 3 standard library only; not part of ctest.
"""
import argparse
import collections
import re
import sys

FRAME = re.compile(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")
# ofjson's reader and writer (common/json/): their frames mean JSON even where jansson's are
# inlined or its own symbols are not reached.
JSON_FUNCS = ("oj_", "ojw_", "fast_parse", "read_value", "read_string", "read_name",
              "object_members", "array_elements", "put_string", "container")
LOG_FUNCS = ("of_log", "of_vlog")
PARTS = ("Kafka: librdkafka's threads", "Kafka: calls into librdkafka", "HTTP: libcurl",
         "JSON", "logs", "kernel from octofleet's code", "octofleet's code (and libc)")


def samples(path):
    """(pid, comm, [(symbol, dso), ...] leaf first) for each sample of a `perf script` file."""
    head, frames = None, []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if head:
                    yield head[0], head[1], frames
                head, frames = None, []
            elif head is None:
                words = line.split()
                if len(words) < 2 or "/" not in words[1]:
                    continue
                head = (words[1].split("/")[0], words[0])
            else:
                m = FRAME.match(line)
                if m:
                    frames.append((m.group(1).split("+")[0], m.group(2).rsplit("/", 1)[-1]))
    if head:
        yield head[0], head[1], frames


def part_of(comm, frames):
    if comm.startswith("rdk:"):
        return PARTS[0]
    for sym, dso in reversed(frames):  # from the root
        if dso.startswith("librdkafka"):
            return PARTS[1]
        if dso.startswith("libcurl"):
            return PARTS[2]
        if dso.startswith("libjansson") or sym.startswith(JSON_FUNCS):
            return PARTS[3]
        if sym in LOG_FUNCS:
            return PARTS[4]
    if frames and "kernel" in frames[0][1]:
        return PARTS[5]
    return PARTS[6]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="Exit: 0 printed, 1 no sample of the asked processes, "
                                        "2 bad usage.")
    ap.add_argument("stacks", help="`perf script -F pid,tid,comm,ip,sym,dso` output")
    ap.add_argument("pids", nargs="*", help="only these processes (default: every one)")
    a = ap.parse_args()
    per = collections.defaultdict(collections.Counter)
    try:
        for pid, comm, frames in samples(a.stacks):
            if not a.pids or pid in a.pids:
                per[pid][part_of(comm, frames)] += 1
    except OSError as e:
        print("cpu_parts.py: cannot read %s: %s" % (a.stacks, e.strerror), file=sys.stderr)
        return 2
    if not per:
        print("cpu_parts.py: no samples of %s in %s" % (", ".join(a.pids) or "any process",
                                                       a.stacks), file=sys.stderr)
        return 1
    for pid in sorted(per, key=int):
        n = sum(per[pid].values())
        print("pid %s: %d samples" % (pid, n))
        for part in PARTS:
            if per[pid][part]:
                print("  %5.1f %%  %s" % (100.0 * per[pid][part] / n, part))
    return 0


if __name__ == "__main__":
    sys.exit(main())
