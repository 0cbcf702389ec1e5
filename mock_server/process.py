"""The mock server as a child process: ``python -m mock_server`` under uvicorn, bound to 127.0.0.1.

Used by the benchmark runner (``bench.transport.RealServer``) and the server's own load test; a
context manager, so the process is stopped by its PID whatever happens — and when the parent cannot
stop it (SIGKILL, the OOM killer, ``os._exit``), the child dies with it: the parent's PID goes to the
child in :data:`PARENT_ENV`, and the child asks the kernel (``PR_SET_PDEATHSIG``, Linux) for SIGKILL
when its parent dies, see :func:`die_with_parent`. Start a server from a thread that outlives it (the
main thread): the kernel watches the thread that started the child, not the whole process.

    with ServerProcess() as server:
        httpx.get(f"{server.base_url}/__admin/config")
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx


class ServerError(RuntimeError):
    """The mock server could not be started (its own error message included)."""


#: Set by :class:`ServerProcess` for its child: the PID the child must not outlive.
PARENT_ENV = "RATEBENCH_PARENT_PID"
_PR_SET_PDEATHSIG = 1
#: Every child still running, so that a last-resort exit can kill them first (:func:`kill_children`).
_LIVE: set[subprocess.Popen[bytes]] = set()


def die_with_parent() -> bool:
    """In a child started by :class:`ServerProcess`: be SIGKILLed when the parent dies; exit now if it has.

    Called first thing by ``python -m mock_server``; does nothing (``False``) without :data:`PARENT_ENV`
    or off Linux.
    """
    raw = os.environ.get(PARENT_ENV)
    if not raw or not raw.isdigit():
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != int(raw):  # the parent died before prctl: nobody would ever stop us
        os._exit(1)
    return True


def kill_children() -> None:
    """SIGKILL every :class:`ServerProcess` child still running (for an exit that skips ``__exit__``)."""
    for proc in list(_LIVE):
        with contextlib.suppress(OSError):
            proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m mock_server`` in a child process; ready (answering) once ``__enter__`` returns."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, config: Path | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.host = host
        self.config = config
        self.extra_args = tuple(extra_args)  # e.g. ("--admin-token", "t0k")
        self.port = port or free_port()
        self.base_url = f"http://{host}:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def __enter__(self) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())}
        # A file, not a pipe: nobody reads the child's stderr during a run, and a full pipe would
        # freeze the server at its first ~64 KiB of warnings.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mock_server", "--host", self.host, "--port", str(self.port),
             *(["--config", str(self.config)] if self.config else []), *self.extra_args],
            env=env, stdout=subprocess.DEVNULL, stderr=self._stderr,
        )
        _LIVE.add(self._proc)
        try:
            return self._wait_until_ready()
        except BaseException:  # Ctrl-C or SIGTERM during start-up too: never leave the child behind
            self.__exit__(None, None, None)
            raise

    def _wait_until_ready(self) -> ServerProcess:
        assert self._proc is not None
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{self.base_url}/__admin/config", timeout=0.5)  # any answer (even 401): it is up
                return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"mock server did not answer on {self.base_url} within 20 s")
            # Start-up happens outside any event loop; waiting on the child doubles as the exit check.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(0.05)
                raise ServerError(f"mock server exited with {self._proc.returncode}: {self.stderr().strip()}")

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        _LIVE.discard(self._proc)
        self._stderr.close()

    def stderr(self) -> str:
        """What the server has written to its stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")
