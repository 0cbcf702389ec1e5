"""The suite's own guard (tests/conftest.py) sees a process a test started, even once orphaned."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import session_processes


def test_the_guard_sees_an_orphaned_grandchild() -> None:
    # A child that starts a grandchild and exits at once: the grandchild is re-parented, not ours by PID.
    code = "import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'], " \
           "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); " \
           "print(p.pid)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    pid = int(out.stdout)
    try:
        assert pid in session_processes()
    finally:
        subprocess.run(["kill", "-9", str(pid)], check=False)
