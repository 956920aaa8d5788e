"""Stop signals caught from the start of a server's own part: the first SIGTERM waits for
the start and then stops cleanly, a second one stops at once."""

import signal
import subprocess
import sys

SCRIPT = """
import os, signal, sys, time
from neutrino.cmd.common import catch_stop_signals
stop = catch_stop_signals()
os.kill(os.getpid(), signal.SIGTERM)   # asked while still starting
time.sleep(0.2)                        # ... the start goes on
print("alive", stop.is_set(), flush=True)
if sys.argv[1] == "twice":
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)
    print("still alive", flush=True)
"""


def run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True,
                          text=True, timeout=30)


def test_a_stop_asked_while_starting_waits_for_the_start():
    done = run("once")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["alive", "True"]


def test_asked_twice_the_process_stops_at_once():
    done = run("twice")
    assert done.returncode == -signal.SIGTERM
    assert done.stdout.split() == ["alive", "True"]
