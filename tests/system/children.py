"""Child processes for the system tests (harness.py) and the benchmark (bench/run.py): a daemon
or the simulator with its output in a log file, stopped with SIGTERM then SIGKILL, and killed
with the process that started it, even by kill -9 (PR_SET_PDEATHSIG) or at exit (atexit).

Standard library only. Spawn from the main thread: the death signal follows the thread that
forked the child.
"""

import atexit
import ctypes
import signal
import subprocess
import sys
import time

_libc = None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    pass


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: the child gets SIGKILL when the (main) thread that forked it exits,
    # so an interrupted test or benchmark never leaves a daemon behind.
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


LIVE = []  # every Proc started and not yet reaped


@atexit.register
def _kill_leftovers():
    for p in list(LIVE):
        p.kill()


class Proc:
    """A child process with its output in a log file (stdout may be given, e.g. a pipe).
    Raises OSError when it cannot be started; label names it in messages (default: name)."""

    def __init__(self, name, argv, logpath, env=None, stdout=None, label=None):
        self.name, self.argv, self.logpath = name, argv, logpath
        self.label = label or name
        self.logf = open(logpath, "ab")
        self.logf.write(("--- %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(argv))).encode())
        self.logf.flush()
        try:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=stdout if stdout is not None else self.logf,
                                          stderr=self.logf, env=env, preexec_fn=_die_with_parent)
        except OSError:
            self.logf.close()
            raise
        self.expected_exit = False  # set when it is stopped or killed on purpose
        LIVE.append(self)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def kill(self):
        """SIGKILL now (kill -9); the exit is expected."""
        self.expected_exit = True
        if self.alive():
            self.popen.kill()
        self.wait(10)

    def stop(self, grace=30.0):
        """SIGTERM, then SIGKILL after grace seconds; the exit is expected. Returns the exit code
        (negative: the signal)."""
        self.expected_exit = True
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                sys.stderr.write("[%s] %s did not stop within %.0fs of SIGTERM; SIGKILL\n"
                                 % (time.strftime("%H:%M:%S"), self.label, grace))
                self.popen.kill()
        return self.wait(10)

    def wait_log(self, needle, timeout):
        """Waits until the log holds needle. None once it does; else why not, with the log's
        tail: the process exited first, or timeout seconds passed."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self.logpath, "rb") as f:
                if needle.encode() in f.read():
                    return None
            if not self.alive():
                return "%s exited (code %s) before logging %r:\n%s" % (
                    self.name, self.popen.returncode, needle, tail(self.logpath))
            if time.monotonic() > deadline:
                return "%s did not log %r within %.0fs:\n%s" % (self.name, needle, timeout,
                                                                 tail(self.logpath))
            time.sleep(0.1)

    def wait(self, timeout):
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            rc = self.popen.wait()
        if self in LIVE:
            LIVE.remove(self)
        if not self.logf.closed:
            self.logf.close()
        return rc


def tail(path, n=40):
    """The last n lines of a log file, or why it cannot be read."""
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "\n".join(lines[-n:])
