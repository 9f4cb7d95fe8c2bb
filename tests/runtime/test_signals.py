"""Stop signals are only recorded by their handler, so a burst of them cannot hang the process that waits for them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from tango.runtime.signals import sleep_until

WAITER = """
from tango.runtime.signals import sleep_until, stop_signals
stopped = stop_signals()
print("waiting", flush=True)
sleep_until(stopped)
"""


def test_a_burst_of_sigterms_stops_the_waiter():
    process = subprocess.Popen([sys.executable, "-c", WAITER], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "waiting"
        for _ in range(100):
            os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


def test_sleep_until_returns_at_its_deadline_or_once_stopped():
    assert sleep_until(lambda: False, 0.2, 0.05) is False
    calls = []
    assert sleep_until(lambda: calls.append(1) or len(calls) > 2, None, 0.01) is True  # the third look stops it
