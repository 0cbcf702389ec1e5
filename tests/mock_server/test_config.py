import subprocess
import sys
from pathlib import Path

import pytest

from mock_server.config import ConfigError, ServerConfig, load


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"latency_ms": "fast"}, "server.latency_ms: must be a number >= 0, got 'fast'"),
        ({"quota": [{"limit": 0, "window_s": 1}]}, "server.quota[0].limit: must be an integer >= 1, got 0"),
        ({"quota": [{"limit": 5, "window_s": 0}]}, "server.quota[0].window_s: must be a number > 0, got 0"),
        ({"quota": [{"limit": 5}]}, "server.quota[0].window_s: required"),
        ({"quota": [{"limit": 5, "window_s": 1, "algorithm": "magic"}]}, "server.quota[0].algorithm: must be one of"),
        ({"latency": 5}, "server.latency: unknown key"),
    ],
)
def test_errors_name_the_key(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as e:
        ServerConfig.from_dict(data)
    assert str(e.value).startswith(message)


def test_round_trip() -> None:
    c = ServerConfig.from_dict({"latency_ms": 3, "quota": [{"limit": 5, "window_s": 2}]})
    assert ServerConfig.from_dict(c.to_dict()) == c


def test_loads_scenario_file(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('[server]\nlatency_ms = 2\n[[server.quota]]\nlimit = 3\nwindow_s = 1.0\n')
    assert load(p).quota[0].limit == 3


def test_standalone_exits_2_on_bad_config(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('[[quota]]\nlimit = -1\nwindow_s = 1\n')
    r = subprocess.run([sys.executable, "-m", "mock_server", "--config", str(p)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert "server.quota[0].limit" in r.stderr
