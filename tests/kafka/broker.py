#!/usr/bin/env python3
"""A real Apache Kafka 4.1.1 broker for octofleet's tests (KRaft, one combined node, loopback).

    broker.py fetch  [--libs DIR] [--m2 DIR]      download the broker jars with Maven (idempotent)
    broker.py start  --dir RUN [--exit-with-parent] [--timeout S] [--property NAME=VALUE ...]
    broker.py stop   --dir RUN
    broker.py status --dir RUN

`start` fetches the jars if needed, picks two free loopback ports, writes server.properties and a
log4j2 config into RUN, formats a fresh storage directory (RUN/data), starts `kafka.Kafka` in the
background (pid in RUN/broker.pid, output in RUN/broker.out and RUN/broker.log), polls the broker
with raw Kafka ApiVersions + Metadata requests until it lists itself (deadline --timeout, default
90 s) and then writes the bootstrap address to RUN/bootstrap. `stop` sends SIGTERM, SIGKILL after a
bound, and removes RUN/data and RUN/bootstrap (the logs stay for post-mortems). `--property`
overrides a line of the tests' server.properties (bench/run.py gives the group rebalance delay
its production default; tests keep the fast settings below).

The JVM runs under a small supervisor process (`broker.py _supervise`, pid in RUN/supervisor.pid)
that reaps it and, with --exit-with-parent (used by the ctest fixture), stops it as soon as the
process that ran `start` (ctest) is gone, or after --max-lifetime seconds, so an interrupted or
killed ctest run never leaves a JVM behind.

Python 3 standard library only. Linux (uses /proc to tell our JVM from a reused pid).
"""

import argparse
import base64
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid

KAFKA_VERSION = "4.1.1"
KAFKA_JAR = "kafka_2.13-%s.jar" % KAFKA_VERSION
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_POM = os.path.join(HERE, "pom.xml")

# A test broker, not a production one: small heap, serial GC and C1 only, because the CI box has
# two cores shared with the compiler and the tests, and start-up time matters more than peak speed.
JVM_OPTS = [
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
]

LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by tests/kafka/broker.py: warnings and errors only, to one file. -->
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="{log}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="state.change.logger" level="off"/>
    <Logger name="kafka.request.logger" level="off"/>
    <Root level="warn"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""

SERVER_PROPERTIES = """# Written by tests/kafka/broker.py: a single combined KRaft node on loopback for tests.
process.roles=broker,controller
node.id=1
# Static quorum, so the storage is formatted without --standalone (see docs/kafka-testing.md).
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
# One broker: every internal topic has one replica; few partitions make start-up and the first
# group/transaction coordinator lookup fast.
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# The default 3 s delay before the first assignment only slows tests down.
group.initial.rebalance.delay.ms=0
# Let tests use short session timeouts.
group.min.session.timeout.ms=1000
# Small thread pools: the machine has two cores.
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
"""


def log(msg):
    sys.stderr.write("broker.py: %s\n" % msg)
    sys.stderr.flush()


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# fetch: the jars, from Maven Central, into the build tree


def fetch_key(pom):
    with open(pom, "rb") as f:
        return "%s %s" % (KAFKA_VERSION, hashlib.sha256(f.read()).hexdigest())


def libs_complete(libs, key):
    marker = os.path.join(libs, ".complete")
    try:
        with open(marker) as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    if not lines or lines[0] != key:
        return False
    return all(os.path.isfile(os.path.join(libs, jar)) for jar in lines[1:]) and os.path.isfile(
        os.path.join(libs, KAFKA_JAR)
    )


def fetch(libs, m2, pom=DEFAULT_POM):
    """Makes sure `libs` holds the broker's runtime jars. Idempotent; safe to run concurrently
    (a lock file serialises fetchers); skips Maven entirely when the jars are already there."""
    libs = os.path.abspath(libs)
    m2 = os.path.abspath(m2)
    key = fetch_key(pom)
    os.makedirs(os.path.dirname(libs), exist_ok=True)
    with open(libs + ".lock", "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        if libs_complete(libs, key):
            return 0.0
        mvn = shutil.which("mvn")
        if not mvn:
            raise Failure("mvn not found on PATH; install Maven (apt-get install maven)")
        # A half-copied or outdated directory is thrown away rather than patched.
        shutil.rmtree(libs, ignore_errors=True)
        cmd = [
            mvn, "-B", "-q", "-Dstyle.color=never", "-f", pom,
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            "-DoutputDirectory=" + libs, "-Dmaven.repo.local=" + m2,
        ]
        t0 = time.monotonic()
        last = None
        for attempt in (1, 2):  # one retry for a network hiccup
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if r.returncode == 0:
                break
            last = (r.stdout + r.stderr).strip()
            log("maven attempt %d failed (rc=%d)" % (attempt, r.returncode))
        else:
            raise Failure("maven could not fetch kafka %s:\n%s" % (KAFKA_VERSION, last[-4000:]))
        elapsed = time.monotonic() - t0
        if not os.path.isfile(os.path.join(libs, KAFKA_JAR)):
            raise Failure("maven succeeded but %s is missing from %s" % (KAFKA_JAR, libs))
        jars = sorted(n for n in os.listdir(libs) if n.endswith(".jar"))
        tmp = os.path.join(libs, ".complete.tmp")
        with open(tmp, "w") as f:
            f.write("\n".join([key] + jars) + "\n")
        os.rename(tmp, os.path.join(libs, ".complete"))
        log("fetched %d jars for kafka %s in %.1fs into %s" % (len(jars), KAFKA_VERSION, elapsed, libs))
        return elapsed


# ---------------------------------------------------------------------------------------------
# processes


def _proc_stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state first), or None if there is
    no such process. The command name may contain spaces and parentheses; the fields follow
    the last ')'."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()


def proc_state(pid):
    """Returns the /proc state letter of pid, or None if there is no such process."""
    fields = _proc_stat_fields(pid)
    return fields[0] if fields else None


def proc_start_time(pid):
    fields = _proc_stat_fields(pid)
    return fields[19] if fields else None


def alive(pid):
    st = proc_state(pid)
    return st is not None and st not in ("Z", "X")


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def is_our_broker(pid, rundir):
    """True if pid is a kafka.Kafka JVM started with this run directory's server.properties,
    so a recycled pid never gets killed."""
    args = cmdline(pid)
    props = os.path.join(rundir, "server.properties").encode()
    return b"kafka.Kafka" in args and props in args


def is_our_supervisor(pid, rundir):
    args = cmdline(pid)
    return b"_supervise" in args and os.path.abspath(rundir).encode() in args


def terminate(pid, grace):
    """SIGTERM, then SIGKILL after `grace` seconds. Returns True once the process is gone (or a
    zombie waiting for its reaper)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return True
            time.sleep(0.1)
        if sig == signal.SIGTERM:
            log("pid %d ignored SIGTERM for %.0fs; sending SIGKILL" % (pid, grace))
    return not alive(pid)


# ---------------------------------------------------------------------------------------------
# readiness: raw Kafka protocol, no client library needed


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def _request(sock, api_key, version, corr, body):
    client = b"octofleet-broker-py"
    hdr = struct.pack(">hhih", api_key, version, corr, len(client)) + client
    msg = hdr + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    if size < 4 or size > 16 << 20:
        raise ConnectionError("bad response size %d" % size)
    resp = _recv_exact(sock, size)
    (got,) = struct.unpack(">i", resp[:4])
    if got != corr:
        raise ConnectionError("correlation id %d, want %d" % (got, corr))
    return resp[4:]


class _Reader:
    def __init__(self, data):
        self.d, self.i = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.i)
        self.i += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.d[self.i:self.i + n].decode()
        self.i += n
        return s

    def bytes_(self):
        n = self.take(">i")
        if n < 0:
            return None
        b = self.d[self.i:self.i + n]
        self.i += n
        return b


def describe_group(bootstrap, group):
    """(state, {member_id: {topic: [partitions]}}) of a classic consumer group, read with
    DescribeGroups (v0..v4, non-flexible) from the single test broker (its own coordinator).
    Used by the system tests and the benchmark to know when a group has settled; a broker that
    cannot answer raises ConnectionError (an OSError), which their waits retry until their
    deadline and then report."""
    try:
        return _describe_group(bootstrap, group)
    except struct.error as e:  # a reply shorter than its fields
        raise ConnectionError("malformed DescribeGroups reply: %s" % e) from e


def _describe_group(bootstrap, group):
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.settimeout(10)
        r = _Reader(_request(s, 18, 0, 1, b""))  # ApiVersions v0
        err = r.take(">h")
        if err:
            raise ConnectionError("ApiVersions: error %d" % err)
        rng = None
        for _ in range(r.take(">i")):
            key, vmin, vmax = r.take(">hhh")
            if key == 15:
                rng = (vmin, vmax)
        if rng is None or rng[0] > 4:
            raise ConnectionError("the broker has no DescribeGroups v0..v4: %r" % (rng,))
        v = min(rng[1], 4)
        name = group.encode()
        body = struct.pack(">ih", 1, len(name)) + name
        if v >= 3:
            body += struct.pack(">b", 0)  # include_authorized_operations
        r = _Reader(_request(s, 15, v, 2, body))
        if v >= 1:
            r.take(">i")  # throttle_time_ms
        count = r.take(">i")
        if count != 1:
            raise ConnectionError("DescribeGroups: %d groups for one asked" % count)
        err = r.take(">h")
        r.string()  # group id
        state = r.string()
        r.string()  # protocol type
        r.string()  # protocol
        members = {}
        for _ in range(r.take(">i")):
            mid = r.string()
            if v >= 4:
                r.string()  # group_instance_id
            r.string()  # client id
            r.string()  # client host
            r.bytes_()  # metadata
            blob = r.bytes_() or b""
            assigned = {}
            if len(blob) >= 6:
                a = _Reader(blob)
                a.take(">h")  # ConsumerProtocolAssignment version
                for _ in range(a.take(">i")):
                    topic = a.string()
                    assigned[topic] = [a.take(">i") for _ in range(a.take(">i"))]
            members[mid] = assigned
        # An error (coordinator loading or moving, unknown group) just means "not settled yet".
        return (state if err == 0 else "error %d" % err), members


def probe(host, port, timeout=2.0):
    """True when the broker at host:port answers Metadata listing itself, which in KRaft means
    it is registered, unfenced and serving requests."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        # ApiVersions v0 is answered by every broker (an unsupported version gets a v0 reply).
        r = _Reader(_request(s, 18, 0, 1, b""))
        if r.take(">h") != 0:
            return False
        meta = None
        for _ in range(r.take(">i")):
            key, vmin, vmax = r.take(">hhh")
            if key == 3:
                meta = (vmin, vmax)
        if meta is None:
            return False
        # Non-flexible Metadata versions are 1..8; pick the newest of those the broker accepts.
        v = min(meta[1], 8)
        if v < max(meta[0], 1):
            return True  # cannot parse newer versions here; ApiVersions answered, good enough
        body = struct.pack(">i", 0)  # no topics
        if v >= 4:
            body += struct.pack(">b", 0)  # allow_auto_topic_creation
        if v >= 8:
            body += struct.pack(">bb", 0, 0)  # include authorized operations
        r = _Reader(_request(s, 3, v, 2, body))
        if v >= 3:
            r.take(">i")  # throttle_time_ms
        for _ in range(r.take(">i")):
            r.take(">i")  # node_id
            r.string()  # host
            bport = r.take(">i")
            r.string()  # rack (v1+)
            if bport == port:
                return True
        return False


def wait_ready(proc, host, port, timeout):
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return "exited with status %d" % proc.returncode
        try:
            if probe(host, port):
                return None
            last = "metadata does not list the broker yet"
        except (OSError, ConnectionError, struct.error, UnicodeDecodeError) as e:
            last = str(e) or e.__class__.__name__
        time.sleep(0.2)  # poll interval, not synchronisation: the probe decides
    return "not ready after %.0fs (%s)" % (timeout, last)


# ---------------------------------------------------------------------------------------------
# start / stop


def free_ports(n):
    """Binds n sockets to 127.0.0.1:0 at once (so they differ), returns their ports, closes them.
    Another process could grab one before the broker binds it; start() retries on that."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cluster_id():
    """Kafka's Uuid.randomUuid().toString(): URL-safe base64 of 16 random bytes, no padding,
    never starting with '-' (the tools would read it as an option)."""
    while True:
        s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not s.startswith("-"):
            return s


def java_cmd(rundir, libs):
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        java = os.path.join(home, "bin", "java")
    else:
        java = shutil.which("java")
    if not java:
        raise Failure("java not found (Kafka 4.x needs Java 17+)")
    l4j = os.path.join(rundir, "log4j2.xml")
    return [java] + JVM_OPTS + ["-Dlog4j2.configurationFile=" + l4j, "-cp", os.path.join(libs, "*")]


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def remove_state(rundir):
    """Removes what a run leaves except the logs: pid files, the bootstrap file, the data."""
    for name in ("bootstrap", "broker.pid", "supervisor.pid"):
        try:
            os.unlink(os.path.join(rundir, name))
        except FileNotFoundError:
            pass
    shutil.rmtree(os.path.join(rundir, "data"), ignore_errors=True)


def wait_gone(pid, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return not alive(pid)


def stop(rundir, grace=20.0, quiet=False):
    rundir = os.path.abspath(rundir)
    sup = read_pid(os.path.join(rundir, "supervisor.pid"))
    pid = read_pid(os.path.join(rundir, "broker.pid"))
    stopped = False
    if pid and alive(pid) and is_our_broker(pid, rundir):
        t0 = time.monotonic()
        if not terminate(pid, grace):
            raise Failure("broker pid %d would not die" % pid)
        stopped = True
        if not quiet:
            log("stopped broker pid %d in %.1fs" % (pid, time.monotonic() - t0))
    if sup and alive(sup) and is_our_supervisor(sup, rundir):
        # It exits by itself once its JVM is gone; a supervisor without a JVM (killed between
        # its start and the JVM's) is told to stop, and killed if it does not.
        if not stopped:
            os.kill(sup, signal.SIGTERM)
        if not wait_gone(sup, 15.0):
            os.kill(sup, signal.SIGKILL)
    remove_state(rundir)
    if not stopped and not quiet:
        log("no broker running in %s" % rundir)
    return stopped


def supervise(args):
    """Runs the JVM as our child (so it is reaped) and stops it when asked (SIGTERM), when the
    watched parent (ctest) is gone or when the lifetime is over. Checks once a second: it is a
    safety net, not synchronisation. Exits when the JVM is gone."""
    rundir = os.path.abspath(args.dir)
    props = os.path.join(rundir, "server.properties")
    out = open(os.path.join(rundir, "broker.out"), "w")
    proc = subprocess.Popen(
        java_cmd(rundir, args.libs) + ["kafka.Kafka", props],
        cwd=rundir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, close_fds=True,
    )
    out.close()
    write_file(os.path.join(rundir, "broker.pid"), "%d\n" % proc.pid)

    signalled = []

    def on_signal(signum, frame):
        signalled.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    end = time.monotonic() + args.max_lifetime
    reason = None
    while True:
        try:
            rc = proc.wait(timeout=1.0)
            log("broker pid %d exited with status %d" % (proc.pid, rc))
            break
        except subprocess.TimeoutExpired:
            pass
        if signalled:
            reason = "signal %d" % signalled[0]
        elif args.parent and (not alive(args.parent)
                              or proc_start_time(args.parent) != args.parent_start):
            reason = "parent pid %d is gone" % args.parent
        elif time.monotonic() > end:
            reason = "max lifetime of %.0fs reached" % args.max_lifetime
        if reason:
            log("stopping broker pid %d: %s" % (proc.pid, reason))
            terminate(proc.pid, 10.0)
            proc.wait()
            break
    if reason and not signalled:
        remove_state(rundir)  # nobody will run `stop`: clean up as it would
    return 0


def parse_property(text):
    """NAME=VALUE from the command line, as a (name, value) pair."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or any(c in text for c in "\r\n") or name.startswith("#"):
        raise argparse.ArgumentTypeError("wants NAME=VALUE on one line, got %r" % text)
    return name, value.strip()


def prepare(rundir, libs, overrides=()):
    """Writes the configuration for fresh ports (overrides: (name, value) pairs that replace the
    tests' defaults; a later line wins in a properties file) and formats fresh storage. Returns
    the port and the seconds the format took."""
    data = os.path.join(rundir, "data")
    os.makedirs(data)
    port, cport = free_ports(2)
    props = os.path.join(rundir, "server.properties")
    text = SERVER_PROPERTIES.format(port=port, cport=cport, data=data)
    if overrides:
        text += "# --property overrides\n" + "".join("%s=%s\n" % kv for kv in overrides)
    write_file(props, text)
    write_file(os.path.join(rundir, "log4j2.xml"),
               LOG4J2_XML.format(log=os.path.join(rundir, "broker.log")))
    t0 = time.monotonic()
    r = subprocess.run(
        java_cmd(rundir, libs) + ["kafka.tools.StorageTool", "format", "-t", cluster_id(), "-c", props],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180,
    )
    if r.returncode != 0:
        raise Failure("storage format failed (rc=%d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    return port, time.monotonic() - t0


def start(args):
    rundir = os.path.abspath(args.dir)
    kafka_home = os.path.dirname(rundir)
    libs = os.path.abspath(args.libs or os.path.join(kafka_home, "libs"))
    m2 = os.path.abspath(args.m2 or os.environ.get("OF_KAFKA_M2_REPO") or os.path.join(kafka_home, "m2"))
    os.makedirs(rundir, exist_ok=True)
    # Whatever a previous run left (a broker, its supervisor, data) goes first.
    stop(rundir, quiet=True)

    t_all = time.monotonic()
    t_fetch = fetch(libs, m2, args.pom)

    parent = os.getppid() if args.exit_with_parent else 0

    def on_term(signum, frame):
        # ctest kills us on its TIMEOUT: take the broker down with us.
        stop(rundir, grace=5.0, quiet=True)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    for attempt in range(1, 4):
        t0 = time.monotonic()
        port, t_format = prepare(rundir, libs, args.property)
        slog = open(os.path.join(rundir, "supervisor.log"), "a")
        sup = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "_supervise", "--dir", rundir, "--libs", libs,
             "--parent", str(parent), "--parent-start", str(proc_start_time(parent) if parent else ""),
             "--max-lifetime", str(args.max_lifetime)],
            stdin=subprocess.DEVNULL, stdout=slog, stderr=slog, start_new_session=True, close_fds=True,
        )
        slog.close()
        write_file(os.path.join(rundir, "supervisor.pid"), "%d\n" % sup.pid)
        why = wait_ready(sup, "127.0.0.1", port, args.timeout)
        if why is None:
            break
        logs = tail(os.path.join(rundir, "broker.out")) + tail(os.path.join(rundir, "broker.log"))
        stop(rundir, grace=5.0, quiet=True)
        if "Address already in use" in logs and attempt < 3:
            log("port taken before the broker bound it; retrying with new ports")
            continue
        raise Failure("broker %s; last log lines:\n%s" % (why, logs))
    t_ready = time.monotonic() - t0

    bootstrap = "127.0.0.1:%d" % port
    write_file(os.path.join(rundir, "bootstrap"), bootstrap + "\n")
    log("kafka %s ready at %s pid=%s (fetch %.1fs, format %.1fs, format+start %.1fs, total %.1fs)%s"
        % (KAFKA_VERSION, bootstrap, read_pid(os.path.join(rundir, "broker.pid")), t_fetch, t_format,
           t_ready, time.monotonic() - t_all,
           "; stops when pid %d exits" % parent if parent else ""))
    print(bootstrap)
    return 0


def status(args):
    rundir = os.path.abspath(args.dir)
    pid = read_pid(os.path.join(rundir, "broker.pid"))
    if not pid or not alive(pid) or not is_our_broker(pid, rundir):
        print("stopped")
        return 3
    try:
        with open(os.path.join(rundir, "bootstrap")) as f:
            bootstrap = f.read().strip()
    except OSError:
        print("starting pid=%d" % pid)
        return 1
    host, port = bootstrap.rsplit(":", 1)
    try:
        ok = probe(host, int(port))
    except (OSError, ConnectionError, struct.error) as e:
        ok = False
        log("probe: %s" % e)
    print("%s pid=%d bootstrap=%s" % ("running" if ok else "not-answering", pid, bootstrap))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    f = sub.add_parser("fetch", help="download the broker jars (idempotent)")
    f.add_argument("--libs", required=True, help="where the jars go, e.g. build/kafka/libs")
    f.add_argument("--m2", help="Maven local repository (default: next to --libs, or $OF_KAFKA_M2_REPO)")
    f.add_argument("--pom", default=DEFAULT_POM)

    s = sub.add_parser("start", help="start a broker and wait until it answers")
    s.add_argument("--dir", required=True, help="run directory, e.g. build/kafka/run")
    s.add_argument("--libs", help="jar directory (default: DIR/../libs)")
    s.add_argument("--m2", help="Maven local repository (default: DIR/../m2 or $OF_KAFKA_M2_REPO)")
    s.add_argument("--pom", default=DEFAULT_POM)
    s.add_argument("--timeout", type=float, default=90.0, help="readiness deadline in seconds")
    s.add_argument("--exit-with-parent", action="store_true",
                   help="stop the broker when the calling process (ctest) exits")
    s.add_argument("--max-lifetime", type=float, default=4 * 3600.0,
                   help="with --exit-with-parent: stop the broker after this many seconds anyway")
    s.add_argument("--property", action="append", default=[], type=parse_property,
                   metavar="NAME=VALUE",
                   help="a broker setting that replaces the tests' default (repeatable)")

    p = sub.add_parser("stop", help="stop the broker and remove its data")
    p.add_argument("--dir", required=True)
    p.add_argument("--grace", type=float, default=20.0, help="seconds between SIGTERM and SIGKILL")

    st = sub.add_parser("status", help="print running/stopped; exit 0 when it answers")
    st.add_argument("--dir", required=True)

    w = sub.add_parser("_supervise")  # internal: started by `start`
    w.add_argument("--dir", required=True)
    w.add_argument("--libs", required=True)
    w.add_argument("--parent", type=int, default=0, help="0: watch nobody")
    w.add_argument("--parent-start", default="")
    w.add_argument("--max-lifetime", type=float, required=True)

    args = ap.parse_args()
    try:
        if args.cmd == "fetch":
            m2 = args.m2 or os.environ.get("OF_KAFKA_M2_REPO") or os.path.join(
                os.path.dirname(os.path.abspath(args.libs)), "m2")
            fetch(args.libs, m2, args.pom)
            return 0
        if args.cmd == "start":
            return start(args)
        if args.cmd == "stop":
            stop(args.dir, grace=args.grace)
            return 0
        if args.cmd == "status":
            return status(args)
        if args.cmd == "_supervise":
            return supervise(args)
    except Failure as e:
        log("error: %s" % e)
        return 1
    except subprocess.TimeoutExpired as e:
        log("error: %s timed out" % " ".join(e.cmd[:1] + e.cmd[-4:]))
        if args.cmd == "start":
            stop(args.dir, quiet=True)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
