"""``python -m mock_server`` for real: uvicorn in a child process on 127.0.0.1 (robust checks only:
statuses, headers, ordering; no rates)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mock_server.process import ServerProcess

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
    assert lines[0] == "request_id,t,status,key,in_flight"
    assert [line.split(",")[0] for line in lines[1:]] == [f"r{i}" for i in range(10)]
