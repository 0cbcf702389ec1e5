"""``python -m mock_server`` for real: uvicorn in a child process on 127.0.0.1 (robust checks only:
statuses, headers, ordering; no rates)."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mock_server.admin import TOKEN_ENV
from mock_server.process import ServerError, ServerProcess

pytestmark = pytest.mark.realserver
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serve(config: Path, *extra: str) -> Iterator[ServerProcess]:
    with ServerProcess(config=config, extra_args=extra) as server:
        yield server


def test_github_example_over_http() -> None:
    with serve(ROOT / "examples" / "github.toml") as server, httpx.Client(base_url=server.base_url) as c:
        rs = [c.get("/repos/x") for _ in range(6)]
        assert [r.status_code for r in rs] == [200] * 5 + [403]
        epoch_reset = int(rs[-1].headers["x-ratelimit-reset"])
        assert 0 < epoch_reset - time.time() <= 61  # an epoch, not a delta
        assert rs[-1].headers["x-ratelimit-used"] == "5" and "retry-after" not in rs[-1].headers
        assert c.get("/user", headers={"authorization": "Bearer demo-token"}).status_code == 200
        log = c.get("/__admin/log", headers=server.admin_headers).json()
        assert [a[2] for a in log["arrivals"]] == [200] * 5 + [403, 200]


def test_admin_token_and_hang_until_the_client_gives_up(tmp_path: Path) -> None:
    cfg = tmp_path / "hang.toml"
    cfg.write_text("[faults]\nhang_rate = 1.0\nhang_s = 60\n")
    with serve(cfg) as server, httpx.Client(base_url=server.base_url) as c:
        auth = server.admin_headers
        assert c.get("/__admin/stats").status_code == 401
        with pytest.raises(httpx.ReadTimeout):
            c.get("/v1/slow", timeout=0.3)
        # The server notices the disconnect and stops holding the request (well before hang_s).
        deadline = time.monotonic() + 10
        while (stats := c.get("/__admin/stats", headers=auth).json())["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stats["in_flight"] == 0


def test_file_log_is_flushed_at_shutdown(tmp_path: Path) -> None:
    out = tmp_path / "logs" / "arrivals.csv"
    cfg = tmp_path / "log.toml"
    cfg.write_text('[log]\nfile = "arrivals.csv"\n')
    with serve(cfg, "--log-dir", str(tmp_path / "logs")) as server, httpx.Client(base_url=server.base_url) as c:
        # A reset over HTTP keeps the start-up file (it cannot name another).
        assert c.post("/__admin/reset", headers={**server.admin_headers, "content-type": "application/json"},
                      json={"log": {"limit": 5}}).status_code == 200
        for i in range(10):
            c.get("/", headers={"x-request-id": f"r{i}"})
    lines = out.read_text().splitlines()
    assert lines[0] == "request_id,t_ns,status,key,in_flight,cost"
    assert [line.split(",")[0] for line in lines[1:]] == [f"r{i}" for i in range(10)]


@contextmanager
def standalone(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, list[str]]]:
    """``python -m mock_server ARGS`` with its stderr read up to the "serving" line (and the token line, if
    one is printed): yields the base URL and those lines; always stopped."""
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV} if env is None else env
    wants_token_line = TOKEN_ENV not in env and "--admin-token-file" not in args
    proc = subprocess.Popen([sys.executable, "-m", "mock_server", *args], stderr=subprocess.PIPE,
                            env={**env, "PYTHONUNBUFFERED": "1"}, cwd=ROOT)
    try:
        assert proc.stderr is not None
        fd, out = proc.stderr.fileno(), b""
        # Raw reads: a buffered readline could swallow the second line while select() waits for it.
        while b"serving" not in out or (wants_token_line and b"admin token: " not in out) or not out.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], 20)
            chunk = os.read(fd, 65536) if ready else b""
            assert chunk, f"no start-up line; so far: {out!r}"
            out += chunk
        lines = out.decode().splitlines()
        url = re.search(r"serving (http://\S+?)/? ", lines[0])
        assert url, lines
        yield url.group(1), lines
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_standalone_makes_and_prints_a_token_when_given_none() -> None:
    with standalone("--port", "0") as (base, lines):
        (token,) = [ln.split("admin token: ", 1)[1] for ln in lines if "admin token: " in ln]
        assert len(token) >= 24
        assert httpx.get(f"{base}/__admin/stats").status_code == 401
        assert httpx.get(f"{base}/__admin/stats", headers={"authorization": f"Bearer {token}"}).status_code == 200


def test_standalone_reads_its_token_from_a_file_or_the_environment(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text("from-file\n")
    with standalone("--port", "0", "--admin-token-file", str(f)) as (base, lines):
        assert not any("admin token:" in ln for ln in lines)  # the user knows it: not printed
        assert httpx.get(f"{base}/__admin/config", headers={"authorization": "Bearer from-file"}).status_code == 200
    with standalone("--port", "0", env={**os.environ, TOKEN_ENV: "from-env"}) as (base, _):
        assert httpx.get(f"{base}/__admin/config", headers={"authorization": "Bearer from-env"}).status_code == 200
        assert httpx.get(f"{base}/__admin/config", headers={"authorization": "Bearer x"}).status_code == 401


def test_port_out_of_range_is_a_usage_error() -> None:
    # --port 70000 once bound port 4464 (70000 mod 65536) without a word.
    for port in ("70000", "-1", "http"):
        r = subprocess.run([sys.executable, "-m", "mock_server", "--port", port], capture_output=True, text=True,
                           timeout=20, cwd=ROOT)
        assert r.returncode == 2 and "--port: must be a port number 0..65535" in r.stderr, r.stderr
        assert "serving" not in r.stderr


def test_bind_failure_is_reported_before_serving() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "mock_server", "--port", str(port)], capture_output=True,
                           text=True, timeout=20, cwd=ROOT)
    assert r.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in r.stderr, r.stderr
    assert "serving" not in r.stderr


class _Stranger(BaseHTTPRequestHandler):
    """Someone else's server: answers every GET 200 with JSON."""

    def do_GET(self) -> None:
        body = b'{"config": {}, "arrivals": []}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_stranger_on_the_port_is_not_taken_for_our_server() -> None:
    # The runner once picked a free port, lost it to another server before its child bound it, and then
    # measured the stranger.
    stranger = ThreadingHTTPServer(("127.0.0.1", 0), _Stranger)
    thread = threading.Thread(target=stranger.serve_forever, daemon=True)
    thread.start()
    try:
        port = stranger.server_address[1]
        with pytest.raises(ServerError, match=f"cannot listen on 127.0.0.1:{port}"), ServerProcess(port=port):
            pass
    finally:
        stranger.shutdown()
        stranger.server_close()
        thread.join(10)


def test_child_gets_its_own_token_outside_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    # A token the user exported for their own server must not reach the runner's child.
    monkeypatch.setenv(TOKEN_ENV, "users-own-token")
    with ServerProcess() as server:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert server.token.encode() not in cmdline and b"users-own-token" not in cmdline
        assert server.token != "users-own-token" and len(server.token) >= 32
        c = f"{server.base_url}/__admin/config"
        assert httpx.get(c, headers={"authorization": "Bearer users-own-token"}).status_code == 401
        assert httpx.get(c, headers=server.admin_headers).status_code == 200
    with ServerProcess() as other:
        assert other.token != server.token  # fresh per child
