"""Shared by the simulator's black-box tests (test_sim.py, test_fidelity.py): the assertion
helpers of the system-test harness, an octopus-sim process, and polling with a deadline.

Standard library only.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from harness import Failure, check, check_eq  # noqa: E402,F401  (re-exported)

DEADLINE = 20.0  # seconds; generous for a loaded 2-core machine


class SimProcess:
    """octopus-sim started with cmd (which passes --port 0); the port is read from its ready
    line."""

    def __init__(self, cmd, env=None):
        # every reply built from a kept rendering is also rendered afresh; a difference aborts
        env = dict(os.environ if env is None else env, OCTOPUS_SIM_CHECK_TEXTS="1")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, text=True)
        line = self.proc.stdout.readline()
        m = re.fullmatch(r"octopus-sim listening on (https?)://127\.0\.0\.1:(\d+)\n", line)
        if not m:
            self.proc.kill()
            err = self.proc.stderr.read()
            raise Failure("no ready line, got %r; stderr: %s" % (line, err))
        self.scheme, self.port = m.group(1), int(m.group(2))

    def stop(self):
        """SIGTERM; the simulator must exit 0 (under ASan: with no leak report)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failure("simulator did not stop within 30 s of SIGTERM")
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        if rc != 0:
            raise Failure("simulator exited %d; stderr tail:\n%s" % (rc, err[-3000:]))


def wait_for(fn, what, timeout=DEADLINE, interval=0.02):
    """Polls fn until it returns something true (returned); Failure after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)
