"""The mock server as a child process: ``python -m mock_server`` under uvicorn, bound to 127.0.0.1.

Used by the benchmark runner (``bench.transport.RealServer``) and the server's own load test; a
context manager, so the process is stopped by its PID whatever happens.

    with ServerProcess() as server:
        httpx.get(f"{server.base_url}/__admin/config")
"""

from __future__ import annotations

import contextlib
import os
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
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # A file, not a pipe: nobody reads the child's stderr during a run, and a full pipe would
        # freeze the server at its first ~64 KiB of warnings.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mock_server", "--host", self.host, "--port", str(self.port),
             *(["--config", str(self.config)] if self.config else []), *self.extra_args],
            env=env, stdout=subprocess.DEVNULL, stderr=self._stderr,
        )
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
        self._stderr.close()

    def stderr(self) -> str:
        """What the server has written to its stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")
