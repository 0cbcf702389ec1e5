"""The harness's private redis-server: started on a free port, no persistence, stopped by its PID — also when
its parent dies without cleaning up; and a ``skipped`` row, with the reason, where none can be had."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from bench import redis_server, scenarios
from bench.redis_server import RedisServer
from strategies.base import REDIS_URL_ENV
from strategies.registry import resolve
from tests.conftest import session_processes

needs_redis = pytest.mark.skipif(redis_server.unavailable() is not None,
                                 reason=str(redis_server.unavailable()))


def _gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return True
        if state == "Z":  # exited, not yet reaped by its parent
            return True
        time.sleep(0.02)
    return False


@needs_redis
def test_started_private_and_stopped_by_pid() -> None:
    with RedisServer() as r:
        pid = r.pid
        assert r.url.startswith("redis://:") and f"@127.0.0.1:{r.port}/0" in r.url
        assert pid in session_processes()  # its environment carries the suite's mark (set-proc-title no)
        with redis.Redis.from_url(r.url) as client:  # answers our password; persistence off
            assert client.config_get("save") == {"save": ""}
            assert client.config_get("appendonly") == {"appendonly": "no"}
            assert client.config_get("bind") == {"bind": "127.0.0.1"}
            client.set("k", "v")
            r.flush()
            assert client.dbsize() == 0
    assert _gone(pid)


@needs_redis
def test_dies_with_its_parent_even_without_cleanup() -> None:
    # The parent starts one and exits at once, skipping __exit__: PR_SET_PDEATHSIG has the kernel kill it.
    code = ("import os, sys; from bench.redis_server import RedisServer; r = RedisServer().__enter__(); "
            "print(r.pid, r._dir.name, flush=True); os._exit(0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    pid, left = out.stdout.split()
    assert _gone(int(pid))
    # Its directory outlived it (no cleanup ran); the next sweep, as any later start does, removes it.
    assert Path(left).is_dir() and left in redis_server.sweep_stale(str(Path(left).parent))
    assert not Path(left).exists()


def test_unavailable_redis_makes_skipped_rows_not_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_server.shutil, "which", lambda name: None)
    assert "redis-server" in str(redis_server.unavailable())
    prepare = redis_server.Preparer(virtual=False)
    try:
        why = prepare(resolve("pyrate-redis"))
        assert why is not None and "apt-get install redis-server" in why
        assert prepare(resolve("token-bucket")) is None
    finally:
        prepare.close()
    row = redis_server.skipped(resolve("pyrate-redis"), scenarios.load("default"), 0, why)
    assert (row.strategy, row.status, row.error, row.attempts) == ("pyrate-redis", "skipped", why, ())
    assert row.metrics.requests == scenarios.load("default").workload.jobs and row.metrics.completion == 0


def test_virtual_time_skips_redis_strategies_with_the_reason() -> None:
    prepare = redis_server.Preparer(virtual=True)
    assert prepare(resolve("pyrate-redis-gcra")) == redis_server.VIRTUAL_REASON
    prepare.close()
    assert REDIS_URL_ENV not in os.environ


@needs_redis
def test_a_redis_server_only_when_needed_emptied_before_each_run_and_stopped() -> None:
    assert REDIS_URL_ENV not in os.environ
    prepare = redis_server.Preparer(virtual=False)
    try:
        assert prepare(resolve("token-bucket")) is None and REDIS_URL_ENV not in os.environ  # nothing started
        assert prepare(resolve("pyrate-redis")) is None
        url = os.environ[REDIS_URL_ENV]
        with redis.Redis.from_url(url) as client:
            client.set("left", "over")
            assert prepare(resolve("pyrate-redis-gcra")) is None  # the same server, emptied for the next run
            assert client.dbsize() == 0
        assert os.environ[REDIS_URL_ENV] == url
        pid = prepare._server.pid if prepare._server else 0
    finally:
        prepare.close()
    assert REDIS_URL_ENV not in os.environ
    assert _gone(pid)


def test_sweep_removes_only_our_stale_directories(tmp_path: Path) -> None:
    # A SIGKILLed ratebench left /tmp/ratebench-redis-XXXX/ behind: the next start removes it, and nothing else.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its PID is now free (reuse within this test would only keep the directory: the safe side)
    now = time.time()

    def make(name: str, owner: str | None, age_s: float = 0.0) -> Path:
        d = tmp_path / name
        d.mkdir()
        (d / "redis.log").write_text("x")
        if owner is not None:
            (d / redis_server.OWNER_FILE).write_text(owner + "\n")
        os.utime(d, (now - age_s, now - age_s))
        return d

    stale = make("ratebench-redis-dead", str(dead.pid))
    live = make("ratebench-redis-live", str(os.getpid()), age_s=7200)
    orphan_old = make("ratebench-redis-old", None, age_s=7200)
    orphan_new = make("ratebench-redis-new", None, age_s=60)
    junk_owner = make("ratebench-redis-junk", "not a pid", age_s=7200)
    other = make("someone-else", str(dead.pid), age_s=7200)
    (tmp_path / "ratebench-redis-link").symlink_to(other, target_is_directory=True)
    (tmp_path / "ratebench-redis-file").write_text(str(dead.pid))

    removed = redis_server.sweep_stale(str(tmp_path), now=now)
    assert sorted(removed) == sorted([str(stale), str(orphan_old)])
    assert not stale.exists() and not orphan_old.exists()
    assert live.exists() and orphan_new.exists() and junk_owner.exists() and other.exists()
    assert (other / "redis.log").exists() and (tmp_path / "ratebench-redis-link").is_symlink()
    assert (tmp_path / "ratebench-redis-file").is_file()


@needs_redis
def test_the_server_directory_names_its_owner() -> None:
    with RedisServer() as r:
        assert r._dir is not None
        d = Path(r._dir.name)
        assert d.name.startswith(redis_server.DIR_PREFIX)
        assert (d / redis_server.OWNER_FILE).read_text() == f"{os.getpid()}\n"
        assert str(d) not in redis_server.sweep_stale(str(d.parent))  # ours, alive: kept
    assert not d.exists()
