"""A private redis-server for the Redis-backed strategies: started on demand, stopped by its PID.

The harness never uses a system Redis service: :class:`RedisServer` starts ``redis-server`` itself, on
127.0.0.1, on a free port, in a fresh temporary directory, with persistence off (``--save ''
--appendonly no``), and stops it by its PID on exit — also when the run fails or is interrupted. When the
parent cannot stop it (SIGKILL, ``os._exit``), the kernel does: the child asks for SIGKILL when the thread
that started it dies (``PR_SET_PDEATHSIG``, as :mod:`mock_server.process` does for the mock server). Start
it from a thread that outlives it (the main thread).

Strategies learn where it is from :data:`strategies.base.REDIS_URL_ENV` (:func:`provide` sets it for the
duration, so child client processes inherit it); the CLI goes through :class:`Preparer`, which starts one
only when a strategy that needs it is about to run. Where no ``redis-server`` can be had, :func:`unavailable`
says why, and the runs of the strategies that need it are reported as ``skipped`` with that reason
(:func:`skipped`), never dropped.

    with RedisServer() as redis:
        redis.flush()          # a fresh, empty database before each run
        print(redis.url)       # redis://127.0.0.1:<port>/0
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from types import TracebackType

from bench import metrics
from bench.runner import RunResult
from bench.scenarios import Scenario
from strategies.base import REDIS_URL_ENV, Strategy, Tier

__all__ = ["EXECUTABLE", "VIRTUAL_REASON", "Preparer", "RedisError", "RedisServer", "kill_children", "needs_redis",
           "provide", "skipped", "sweep_stale", "unavailable"]

#: The Debian package's binary (``apt-get install redis-server``; the Makefile's ``system-deps`` installs it).
EXECUTABLE = "redis-server"
START_TIMEOUT_S = 10.0
_PR_SET_PDEATHSIG = 1
#: The name every temporary directory of ours starts with (and the only names :func:`sweep_stale` touches).
DIR_PREFIX = "ratebench-redis-"
#: The file inside such a directory naming the PID of the ratebench process that made it.
OWNER_FILE = "owner.pid"
#: A directory of ours without an owner file (made before there was one, or its writer died in between) is
#: left alone this long: a fresh one may be another ratebench's, between making it and writing the file.
STALE_AFTER_S = 3600.0
#: Every redis-server still running, so that a last-resort exit can kill them first (:func:`kill_children`).
_LIVE: set[subprocess.Popen[bytes]] = set()


class RedisError(RuntimeError):
    """redis-server could not be started (its own words included)."""


def needs_redis(cls: type[Strategy]) -> bool:
    """Whether the strategy keeps its state in Redis (``requires`` on the seam, strategies/base.py)."""
    return "redis" in cls.requires


def unavailable() -> str | None:
    """Why no redis-server can be started here, or ``None`` when one can."""
    if shutil.which(EXECUTABLE) is None:
        return (f"no {EXECUTABLE} on PATH (install the Debian package: apt-get install redis-server; "
                f"`make system-deps` does it as root)")
    return None


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel SIGKILLs it when the parent's thread dies.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _free_port() -> int:
    # redis-server cannot report the port it bound (unlike the mock server), so one is picked here; a stranger
    # taking it in between makes the start fail loudly (bind error), and _ping checks it is our child.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _stale(path: str, now: float, mtime: float) -> bool:
    try:
        with open(os.path.join(path, OWNER_FILE), encoding="ascii") as f:
            text = f.read().strip()
    except FileNotFoundError:
        return now - mtime > STALE_AFTER_S
    except (OSError, UnicodeDecodeError):
        return False  # unreadable: not ours to judge
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**22):
        return False  # a file we did not write
    return not _alive(int(text))


def sweep_stale(root: str | None = None, now: float | None = None) -> list[str]:
    """Remove the temporary directories a killed ratebench left behind; the paths removed.

    SIGKILL ends the redis-server (``PR_SET_PDEATHSIG``) but not its directory's cleanup. Only directories
    directly in ``root`` (default: the system temporary directory) named :data:`DIR_PREFIX`…, owned by our
    user, not symlinks, are looked at; one is removed when the PID in its :data:`OWNER_FILE` is not alive,
    or, without that file, when it is older than :data:`STALE_AFTER_S`. A reused PID keeps a stale directory
    (the safe mistake). ``now`` is the wall clock in seconds (file times are wall-clock).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root:
    ...     os.mkdir(os.path.join(root, DIR_PREFIX + "fresh"))
    ...     sweep_stale(root)
    []
    """
    root = root if root is not None else tempfile.gettempdir()
    now = time.time() if now is None else now
    removed = []
    with contextlib.suppress(OSError), os.scandir(root) as entries:
        for entry in entries:
            try:
                if not (entry.name.startswith(DIR_PREFIX) and entry.is_dir(follow_symlinks=False)):
                    continue
                st = entry.stat(follow_symlinks=False)
                if st.st_uid != os.getuid() or not _stale(entry.path, now, st.st_mtime):
                    continue
                shutil.rmtree(entry.path)  # does not follow symlinks inside (fd-based on Linux)
                removed.append(entry.path)
            except OSError:
                continue  # gone meanwhile, or not removable: never fail a run over another's leftovers
    return removed


class RedisServer:
    """``redis-server`` in a child process on 127.0.0.1, no persistence; ready once ``__enter__`` returns.

    >>> RedisServer().url
    ''
    """

    def __init__(self) -> None:
        self.port = 0
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        # A password nobody else knows: a stranger's redis-server on the port would refuse it.
        self._password = os.urandom(16).hex()

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def __enter__(self) -> RedisServer:
        why = unavailable()
        if why is not None:
            raise RedisError(why)
        sweep_stale()
        self._dir = tempfile.TemporaryDirectory(prefix=DIR_PREFIX)
        # Who made it: a later ratebench removes it once this process is gone (SIGKILL skips our cleanup).
        with open(os.path.join(self._dir.name, OWNER_FILE), "x", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
        self.port = _free_port()
        # The password goes in through stdin (a config read from "-"), never on the command line.
        config = (f"port {self.port}\nbind 127.0.0.1\nprotected-mode yes\nsave \"\"\nappendonly no\n"
                  # Its own title would overwrite its environment, where the test suite looks for its mark.
                  "set-proc-title no\n"
                  f"dir {self._dir.name}\nlogfile {self._dir.name}/redis.log\ndaemonize no\n"
                  f"requirepass {self._password}\n")
        try:
            self._proc = subprocess.Popen([EXECUTABLE, "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, cwd=self._dir.name,
                                          preexec_fn=_die_with_parent)
            _LIVE.add(self._proc)
            assert self._proc.stdin is not None
            self._proc.stdin.write(config.encode())
            self._proc.stdin.close()
            self.url = f"redis://:{self._password}@127.0.0.1:{self.port}/0"
            self._wait_until_ready()
        except BaseException:  # Ctrl-C during start-up too: never leave the child behind
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # start-up happens outside any event loop: a short blocking wait is fine here
            if self._proc.poll() is not None:
                raise RedisError(f"redis-server exited with {self._proc.returncode}: {self.log()[-500:]}")
            if self._ping():
                return
            if time.monotonic() > deadline:
                raise RedisError(f"redis-server did not answer within {START_TIMEOUT_S:g} s")
            time.sleep(0.02)

    def command(self, *args: str) -> bytes:
        """One command in Redis's inline protocol, authenticated; the raw first reply line."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2.0) as s:
            s.sendall(f"AUTH {self._password}\r\n{' '.join(args)}\r\n".encode())
            data = b""
            while data.count(b"\r\n") < 2:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        lines = data.split(b"\r\n")
        if not lines[0].startswith(b"+OK"):
            raise RedisError(f"redis-server refused our password: {lines[0]!r}")
        return lines[1] if len(lines) > 1 else b""

    def _ping(self) -> bool:
        try:
            return self.command("PING") == b"+PONG"
        except OSError:
            return False

    def flush(self) -> None:
        """An empty database: each run starts from fresh limiter state, as the mock server does."""
        reply = self.command("FLUSHALL")
        if reply != b"+OK":
            raise RedisError(f"FLUSHALL failed: {reply!r}")

    def pause(self) -> None:
        """Stop answering (SIGSTOP): connections stay open, nothing is served, as in a network partition."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def log(self) -> str:
        if self._dir is None:
            return ""
        try:
            with open(os.path.join(self._dir.name, "redis.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGCONT)  # a paused server cannot act on SIGTERM
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            _LIVE.discard(proc)
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def kill_children() -> None:
    """SIGKILL every redis-server still running (for an exit that skips ``__exit__``)."""
    for proc in list(_LIVE):
        with contextlib.suppress(OSError):
            proc.kill()


@contextlib.contextmanager
def provide(url: str) -> Iterator[None]:
    """:data:`REDIS_URL_ENV` set to ``url`` while inside (and inherited by child processes started meanwhile)."""
    before = os.environ.get(REDIS_URL_ENV)
    os.environ[REDIS_URL_ENV] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(REDIS_URL_ENV, None)
        else:
            os.environ[REDIS_URL_ENV] = before


#: Why a Redis strategy cannot run in virtual time.
VIRTUAL_REASON = ("needs a real redis-server over a socket, and the virtual clock cannot wait on socket I/O "
                  "(docs/netmodel.md): run it with --clock real")


class Preparer:
    """Call it right before each run: ``prepare(cls)`` returns ``None`` when the run can go ahead, or why it must
    be skipped. For a strategy that needs Redis it starts a private :class:`RedisServer` the first time (never
    when no strategy needs one), puts its URL in :data:`REDIS_URL_ENV`, and empties it before each run;
    :meth:`close` stops it and restores the environment. In virtual time it starts nothing and gives
    :data:`VIRTUAL_REASON`.

    >>> from strategies.registry import resolve
    >>> prepare = Preparer(virtual=True)
    >>> prepare(resolve("token-bucket")) is None, prepare(resolve("pyrate-redis")) == VIRTUAL_REASON
    (True, True)
    >>> prepare.close()
    """

    def __init__(self, virtual: bool) -> None:
        self.virtual = virtual
        self._server: RedisServer | None = None
        self._failed: str | None = None
        self._env: contextlib.ExitStack | None = None

    def __call__(self, cls: type[Strategy]) -> str | None:
        if not needs_redis(cls):
            return None
        if self.virtual:
            return VIRTUAL_REASON
        if self._failed is not None:
            return self._failed
        try:
            if self._server is None:
                self._server = RedisServer().__enter__()
                self._env = contextlib.ExitStack()
                self._env.enter_context(provide(self._server.url))
            self._server.flush()
        except (OSError, RedisError) as e:
            self._failed = f"no redis-server for this command: {e}"
            self.close()
            return self._failed
        return None

    def close(self) -> None:
        """Stop the redis-server (by its PID) and restore the environment; safe to call more than once."""
        env, self._env = self._env, None
        server, self._server = self._server, None
        if env is not None:
            env.close()
        if server is not None:
            server.__exit__(None, None, None)


def skipped(cls: type[Strategy], scenario: Scenario, repeat: int, reason: str) -> RunResult:
    """The row of a run that could not be made: status ``skipped``, the reason as its error, nothing measured."""
    enforced = tuple(Tier(q.limit, q.window_s, q.unit) for q in scenario.server.quota)
    m = metrics.compute((), None, enforced, requests=scenario.workload.jobs, cpu_s=None, oracle_makespan_s=None)
    return RunResult(cls.name, repeat, "skipped", reason, (), (), m, 0.0)
