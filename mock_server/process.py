"""The mock server as a child process: ``python -m mock_server`` under uvicorn, bound to 127.0.0.1.

Used by the benchmark runner (``bench.transport.RealServer``) and the server's own load test; a
context manager, so the process is stopped by its PID whatever happens — and when the parent cannot
stop it (SIGKILL, the OOM killer, ``os._exit``), the child dies with it: the parent's PID goes to the
child in :data:`PARENT_ENV`, and the child asks the kernel (``PR_SET_PDEATHSIG``, Linux) for SIGKILL
when its parent dies, see :func:`die_with_parent`. Start a server from a thread that outlives it (the
main thread): the kernel watches the thread that started the child, not the whole process.

Each child gets a fresh random admin token in its environment (never on its command line, and never a
``MOCK_SERVER_ADMIN_TOKEN`` the user exported for a server of their own), binds its own port (any free
one unless ``port`` is given) and reports it to its parent on a private pipe once it listens: the parent
never probes a port that a stranger may have taken meanwhile. It then checks, with the token, that the
server on that port is its child.

    with ServerProcess() as server:
        httpx.get(f"{server.base_url}/__admin/config", headers=server.admin_headers, trust_env=False)
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import httpx

from mock_server.admin import TOKEN_ENV


class ServerError(RuntimeError):
    """The mock server could not be started (its own error message included)."""


START_TIMEOUT_S = 20.0
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


class ServerProcess:
    """``python -m mock_server`` in a child process; ready (answering) once ``__enter__`` returns."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, config: Path | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.host = host
        self.config = config
        self.extra_args = tuple(extra_args)  # e.g. ("--log-dir", "/tmp/logs")
        self.port = port or 0  # 0: the child takes any free port and reports which
        self.base_url = ""
        self.token = secrets.token_urlsafe(32)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def admin_headers(self) -> dict[str, str]:
        """What every admin request to this server carries."""
        return {"authorization": f"Bearer {self.token}"}

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def __enter__(self) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())}
        env[TOKEN_ENV] = self.token  # ours, whatever the user exported for their own server
        # A file, not a pipe: nobody reads the child's stderr during a run, and a full pipe would
        # freeze the server at its first ~64 KiB of warnings.
        self._stderr = tempfile.TemporaryFile()
        ready_r, ready_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "mock_server", "--host", self.host, "--port", str(self.port),
                 "--ready-fd", str(ready_w), *(["--config", str(self.config)] if self.config else []),
                 *self.extra_args],
                env=env, stdout=subprocess.DEVNULL, stderr=self._stderr, pass_fds=(ready_w,),
            )
            _LIVE.add(self._proc)
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)  # the child holds the write end now: EOF here means it exited
        try:
            with os.fdopen(ready_r, "rb") as ready:
                return self._wait_until_ready(ready)
        except BaseException:  # Ctrl-C or SIGTERM during start-up too: never leave the child behind
            self.__exit__(None, None, None)
            raise

    def _wait_until_ready(self, ready: BinaryIO) -> ServerProcess:
        assert self._proc is not None
        # Start-up happens outside any event loop: a blocking wait for the child's one line is fine.
        readable, _, _ = select.select([ready], [], [], START_TIMEOUT_S)
        line = ready.readline() if readable else b""
        if not line:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5 if readable else 0.1)  # EOF: it is exiting; give it time to say why
            if self._proc.returncode is not None:
                raise ServerError(f"mock server exited with {self._proc.returncode}: {self.stderr().strip()}")
            raise ServerError(f"mock server did not report listening within {START_TIMEOUT_S:g} s")
        report = json.loads(line)
        if report.get("pid") != self._proc.pid:
            raise ServerError(f"mock server start-up report is not from our child: {line!r}")
        self.port = int(report["port"])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{host}:{self.port}"
        self._check_identity()
        return self

    def _check_identity(self) -> None:
        """Our child answers our token; a stranger on the port would not know it."""
        try:
            r = httpx.get(f"{self.base_url}/__admin/config", headers=self.admin_headers, timeout=START_TIMEOUT_S,
                          trust_env=False)
        except httpx.HTTPError as e:
            raise ServerError(f"mock server on {self.base_url} did not answer: {e!r}") from None
        if r.status_code != 200:
            raise ServerError(f"the server on {self.base_url} is not our child (admin answered "
                              f"{r.status_code}: {r.text[:200]!r})")

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
