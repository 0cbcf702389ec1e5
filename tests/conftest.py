"""Suite-wide guard: no test leaves a process behind, also when it fails.

Every process this test session starts inherits :data:`SESSION_ENV` (set here, before any test runs),
and so do their children, even once orphaned (a mock server whose runner died is re-parented to
init, but keeps its environment). After each test, any live process carrying this session's token —
other than pytest itself — is a leak: it is killed, and the test errors naming it. That includes the
harness's redis-servers (bench.redis_server), client processes of ``--processes N`` runs (bench.multiprocess)
and mock servers: redis-server is started with ``set-proc-title no``, so its environment (and the mark) stays
readable in /proc (tests/bench/test_redis_server.py checks that the guard sees one).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SESSION_ENV = "RATEBENCH_TEST_SESSION"
os.environ[SESSION_ENV] = uuid.uuid4().hex
_MARK = f"{SESSION_ENV}={os.environ[SESSION_ENV]}".encode()


def session_processes() -> dict[int, str]:
    """Live processes (not zombies) started by this session, PID → command line."""
    found: dict[int, str] = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()  # empty for a zombie: it holds nothing
        except OSError:
            continue
        if _MARK in env.split(b"\0"):
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                cmd = "?"
            found[int(entry)] = cmd.strip()
    return found


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    yield
    left = session_processes()
    deadline = time.monotonic() + 5.0
    while left and time.monotonic() < deadline:  # one that is exiting right now gets a moment
        time.sleep(0.05)
        left = session_processes()
    if left:
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail(f"the test left {len(left)} process(es) behind (now killed): "
                    + "; ".join(f"{pid}: {cmd}" for pid, cmd in sorted(left.items())), pytrace=False)


@pytest.fixture
def abandoned_runs_settle() -> Iterator[None]:
    """For tests that make the watchdog abandon a real-mode run on purpose: its thread wakes up later and
    drops an open connection. Wait for it here and collect what it dropped, so the ResourceWarning lands
    in this test (which expects it, see ``filterwarnings``) rather than in whichever test runs next."""
    import gc
    import threading

    before = set(threading.enumerate())
    yield
    for t in set(threading.enumerate()) - before:
        if t.name.startswith("run-"):
            t.join(30)
    gc.collect()
