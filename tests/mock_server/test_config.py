import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import scenarios
from mock_server.config import ConfigError, LatencyConfig, ServerConfig, load

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"latency_ms": "fast"}, "server.latency_ms: must be a number >= 0, got 'fast'"),
        ({"quota": [{"limit": 0, "window_s": 1}]}, "server.quota[0].limit: must be an integer >= 1, got 0"),
        (
            {"quota": [{"limit": 1.5, "window_s": 1}]},
            "server.quota[0].limit: must be an integer >= 1, got 1.5",
        ),
        ({"quota": [{"limit": 5, "window_s": 0}]}, "server.quota[0].window_s: must be a number > 0, got 0"),
        ({"quota": [{"limit": 5}]}, "server.quota[0].window_s: required"),
        (
            {"quota": [{"limit": 5, "window_s": 1}, {"limit": 5, "window_s": 4e-7}]},
            "server.quota[1].window_s: must be at least 1 µs (0.000001 s; windows are counted in whole "
            "nanoseconds and the virtual clock ticks in microseconds), got 4e-07",
        ),
        (
            {"quota": [{"limit": 5, "window_s": 1, "algorithm": "magic"}]},
            'server.quota[0].algorithm: must be one of "sliding-log", "fixed-window", "sliding-counter", '
            '"gcra", "token-bucket", got \'magic\'',
        ),
        (
            {"quota": [{"limit": 5, "window_s": 1}, {"limit": 5, "window_s": 1, "burst": 3}]},
            'server.quota[1].burst: only for algorithm "gcra" or "token-bucket", not \'sliding-log\'',
        ),
        (
            {"quota": [{"limit": 5, "window_s": 1, "algorithm": "gcra", "burst": 0}]},
            "server.quota[0].burst: must be an integer >= 1, got 0",
        ),
        (
            {"quota": [{"limit": 5, "window_s": 1, "anchor": "first"}]},
            'server.quota[0].anchor: only for algorithm "fixed-window"',
        ),
        (
            {"quota": [{"limit": 5, "window_s": 1, "algorithm": "fixed-window", "anchor": "midnight"}]},
            'server.quota[0].anchor: must be one of "clock", "first", got \'midnight\'',
        ),
        (
            {"quota": [{"limit": 5, "window_s": 1, "scope": "org"}]},
            'server.quota[0].scope: must be one of "key", "global", got \'org\'',
        ),
        ({"quota": [{"limit": 5, "window_s": 1, "per": 3}]}, "server.quota[0].per: unknown key (allowed: "),
        ({"quota": "5/s"}, "server.quota: must be a list of tables, got '5/s'"),
        ({"latency": 5}, "server.latency: must be a table, got 5"),
        (
            {"latncy_ms": 5},
            "server.latncy_ms: unknown key (allowed: concurrency, cost, dynamics, faults, headers, ",
        ),
        (
            {"latency_ms": 5, "latency": {"ms": 5}},
            "server.latency_ms: give either latency_ms or a [latency] table",
        ),
        (
            {"latency": {"model": "gauss"}},
            'server.latency.model: must be one of "fixed", "uniform", "lognormal", got \'gauss\'',
        ),
        ({"latency": {"model": "uniform", "low_ms": 10}}, "server.latency.high_ms: required"),
        (
            {"latency": {"model": "uniform", "low_ms": 10, "high_ms": 5}},
            "server.latency.high_ms: must be >= low_ms (10), got 5",
        ),
        (
            {"latency": {"model": "fixed", "median_ms": 5}},
            "server.latency.median_ms: not used by model 'fixed' (it takes ms)",
        ),
        (
            {"latency": {"model": "lognormal", "median_ms": 0}},
            "server.latency.median_ms: must be a number > 0",
        ),
        ({"latency": {"seed": -1}}, "server.latency.seed: must be an integer >= 0, got -1"),
        (
            {"headers": {"dialect": "github2"}},
            'server.headers.dialect: must be one of "x-ratelimit", "github", ',
        ),
        (
            {"headers": {"reset": "unix"}},
            'server.headers.reset: must be one of "delta", "epoch", got \'unix\'',
        ),
        (
            {"headers": {"dialect": "github", "reset": "delta"}},
            "server.headers.reset: dialect 'github' always sends 'epoch' resets, got 'delta'",
        ),
        (
            {"headers": {"dialect": "ietf-draft10", "reset": "epoch"}},
            "server.headers.reset: dialect 'ietf-draft10' always sends 'delta' resets",
        ),
        (
            {"headers": {"retry_after": "date"}},
            'server.headers.retry_after: must be one of "seconds", "http-date", "ms", "none", got \'date\'',
        ),
        (
            {"headers": {"reject_status": 418}},
            "server.headers.reject_status: must be one of 429, 403, got 418",
        ),
        (
            {"headers": {"reject_status": "429"}},
            "server.headers.reject_status: must be one of 429, 403, got '429'",
        ),
        (
            {"headers": {"problem_json": "yes"}},
            "server.headers.problem_json: must be true or false, got 'yes'",
        ),
        ({"concurrency": {"limit": -1}}, "server.concurrency.limit: must be an integer >= 0, got -1"),
        (
            {"concurrency": {"limit": 5, "status": 500}},
            "server.concurrency.status: must be one of 503, 429, got 500",
        ),
        ({"faults": {"error_rate": 1.5}}, "server.faults.error_rate: must be a number in [0, 1], got 1.5"),
        (
            {"faults": {"error_statuses": [404]}},
            "server.faults.error_statuses: must be a non-empty list of integers in 500..599, got [404]",
        ),
        (
            {"faults": {"outages": [{"start_s": 5, "end_s": 2}]}},
            "server.faults.outages[0].end_s: must be > start_s (5), got 2",
        ),
        ({"faults": {"outages": [{"start_s": 5}]}}, "server.faults.outages[0].end_s: required"),
        ({"faults": {"slow": {"rate": 0.5}}}, "server.faults.slow.delay_s: required"),
        (
            {"faults": {"error_rate": 0.6, "hang_rate": 0.6}},
            "server.faults.error_rate: error_rate + slow.rate + hang_rate must be <= 1, got 1.2",
        ),
        ({"faults": {"hang_s": 0}}, "server.faults.hang_s: must be a number > 0, got 0"),
        (
            {"dynamics": {"schedule": [{"at_s": 1, "limit": 5}]}},
            "server.dynamics.schedule[0].tier: must index a [[server.quota]] tier (none: there is no ",
        ),
        (
            {
                "quota": [{"limit": 5, "window_s": 1}],
                "dynamics": {"schedule": [{"at_s": 1, "limit": 5, "tier": 1}]},
            },
            "server.dynamics.schedule[0].tier: must index a [[server.quota]] tier (0..0), got 1",
        ),
        (
            {"quota": [{"limit": 5, "window_s": 1}], "dynamics": {"schedule": [{"at_s": 1, "limit": 0}]}},
            "server.dynamics.schedule[0].limit: must be an integer >= 1, got 0",
        ),
        (
            {"dynamics": {"neighbour": {"rate": 0}}},
            "server.dynamics.neighbour.rate: must be a number > 0, got 0",
        ),
        (
            {"dynamics": {"neighbour": {"rate": 1, "pattern": "bursty"}}},
            'server.dynamics.neighbour.pattern: must be one of "regular", "poisson", got \'bursty\'',
        ),
        ({"dynamics": {"penalty": 1}}, "server.dynamics.penalty: must be true or false, got 1"),
        ({"dynamics": {"lockout_s": -1}}, "server.dynamics.lockout_s: must be a number >= 0, got -1"),
        ({"log": {"limit": 0}}, "server.log.limit: must be an integer >= 1, got 0"),
        ({"log": {"file": ""}}, "server.log.file: must be a non-empty string, got ''"),
        ({"log_limit": 5, "log": {"limit": 5}}, "server.log_limit: give either log_limit or a [log] table"),
        ({"keys": {"gold": {}}}, "server.keys.gold.quota: required (the tiers for API key 'gold')"),
        ({"keys": {"gold": {"quota": [{"limit": 1}]}}}, "server.keys.gold.quota[0].window_s: required"),
        (
            {"keys": {"gold": {"quota": [{"limit": 1, "window_s": 1, "scope": "global"}]}}},
            'server.keys.gold.quota: a key\'s own tiers cannot have scope "global"',
        ),
        ({"keys": ["gold"]}, "server.keys: must be a table of API keys"),
        ({"key_header": ""}, "server.key_header: must be a non-empty string, got ''"),
        ({"key_header": "x api key"}, "server.key_header: must be an HTTP header name, got 'x api key'"),
        (
            {"quota": [{"limit": 1, "window_s": 1, "name": "caf\u00e9"}]},
            "server.quota[0].name: must be printable ASCII (it is sent in headers), got 'caf\u00e9'",
        ),
    ],
)
def test_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        ServerConfig.from_dict(data)
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_where_prefix_is_used() -> None:
    with pytest.raises(ConfigError, match=r"^declared\.quota\[0\]\.limit"):
        ServerConfig.from_dict({"quota": [{"limit": 0, "window_s": 1}]}, "declared")


def test_round_trip_of_every_feature() -> None:
    c = ServerConfig.from_dict(
        {
            "quota": [
                {"algorithm": "gcra", "limit": 5, "window_s": 1, "burst": 2, "name": "b"},
                {
                    "algorithm": "fixed-window",
                    "anchor": "first",
                    "limit": 9,
                    "window_s": 60,
                    "scope": "global",
                },
                {"algorithm": "sliding-counter", "limit": 3, "window_s": 0.5},
            ],
            "keys": {"gold": {"quota": [{"limit": 100, "window_s": 1}]}},
            "key_header": "Authorization",
            "headers": {
                "dialect": "ratelimit-trio",
                "reset": "epoch",
                "retry_after": "ms",
                "reject_status": 403,
            },
            "latency": {"model": "uniform", "low_ms": 1, "high_ms": 3, "seed": 2},
            "concurrency": {"limit": 4},
            "faults": {
                "error_rate": 0.1,
                "outages": [{"start_s": 1, "end_s": 2}],
                "hang_rate": 0.1,
                "hang_s": 9,
            },
            "dynamics": {
                "schedule": [{"at_s": 3, "limit": 1, "tier": 2}, {"at_s": 1, "limit": 7}],
                "neighbour": {"rate": 2.5, "pattern": "poisson", "seed": 4, "end_s": 10},
                "lockout_s": 2,
            },
            "log": {"file": "x.csv", "enabled": False},
        }
    )
    assert ServerConfig.from_dict(c.to_dict()) == c
    assert c.key_header == "authorization"
    assert [s.at_s for s in c.dynamics.schedule] == [1.0, 3.0]  # sorted
    assert c.latency_ms == 2.0


def test_shorthands_still_load_and_mean_the_same() -> None:
    assert ServerConfig.from_dict({"latency_ms": 10}) == ServerConfig.from_dict({"latency": {"ms": 10}})
    assert ServerConfig.from_dict({"log_limit": 5}).log.limit == 5
    assert ServerConfig.from_dict({"quota": {"limit": 1, "window_s": 1}}).quota[0].limit == 1


def test_latency_ms_is_the_mean() -> None:
    assert LatencyConfig("fixed", ms=7).mean_ms == 7
    assert LatencyConfig("lognormal", median_ms=10, sigma=0.0).mean_ms == 10


def test_loads_scenario_file_or_bare_file(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text("[server]\nlatency_ms = 2\n[[server.quota]]\nlimit = 3\nwindow_s = 1.0\n")
    assert load(p).quota[0].limit == 3
    p.write_text("latency_ms = 2\n[[quota]]\nlimit = 4\nwindow_s = 1.0\n")
    assert load(p).quota[0].limit == 4
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "missing.toml")
    p.write_text("[[quota]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(p)


def test_builtin_scenarios_and_examples_load() -> None:
    for name in scenarios.builtin_names():
        scenarios.load(name)
    examples = sorted((ROOT / "examples").glob("*.toml"))
    assert len(examples) >= 3
    for p in examples:
        load(p)


def run_main(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_server", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=env,
    )


def test_standalone_exits_2_on_bad_config(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("[[quota]]\nlimit = -1\nwindow_s = 1\n")
    r = run_main("--config", str(p), "--port", "1")  # a port it could not bind: it must not get that far
    assert r.returncode == 2
    assert r.stderr.strip() == "mock_server: server.quota[0].limit: must be an integer >= 1, got -1"


def test_check_validates_without_serving() -> None:
    r = run_main("--config", str(ROOT / "examples" / "github.toml"), "--check")
    assert r.returncode == 0 and "ok" in r.stderr


def test_refuses_to_expose_admin_without_a_token() -> None:
    r = run_main("--host", "0.0.0.0", "--port", "1", env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "--admin-token-file" in r.stderr


def test_refuses_a_token_on_the_command_line() -> None:
    # Every local user can read a process's arguments (ps): a token there is no secret.
    r = run_main("--admin-token", "t0k", "--port", "0")
    assert r.returncode == 2 and "visible to every local user" in r.stderr and "serving" not in r.stderr


def test_every_toml_example_in_the_docs_is_valid() -> None:
    import re
    import tomllib

    text = (ROOT / "docs" / "scenarios.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert len(blocks) >= 8
    for block in blocks:
        data = tomllib.loads(block)
        ServerConfig.from_dict(data.get("server", data))


def test_windows_are_converted_once_to_whole_nanoseconds() -> None:
    c = ServerConfig.from_dict({"quota": [{"limit": 1, "window_s": 0.1}, {"limit": 3, "window_s": 1 / 3},
                                          {"limit": 1, "window_s": 0.000001}, {"limit": 1, "window_s": 86400}]})
    assert [q.window_ns for q in c.quota] == [100_000_000, 333_333_333, 1_000, 86_400_000_000_000]
    # Derived, not configured: it survives the round trip and takes no part in equality.
    assert ServerConfig.from_dict(c.to_dict()) == c and "window_ns" not in c.to_dict()["quota"][0]
    # A scenario's declared quota is read by the same schema, so it is refused the same way.
    with pytest.raises(scenarios.ScenarioError, match=r"declared\.quota\[0\]\.window_s: must be at least 1 µs"):
        scenarios.from_dict({"server": {"quota": [{"limit": 1, "window_s": 1}]},
                             "declared": {"quota": [{"limit": 1, "window_s": 1e-9}]}, "workload": {"jobs": 1}}, "x")


@pytest.mark.parametrize("file", ["/home/me/.bashrc", "../up.csv", "logs/../../up.csv", "arrivals.sh", "~/a.csv"])
def test_log_file_is_a_csv_name_inside_the_log_directory(file: str) -> None:
    with pytest.raises(ConfigError, match=r"^server\.log\.file: must be a relative path to a \.csv file"):
        ServerConfig.from_dict({"log": {"file": file}})


def test_log_file_cannot_escape_the_log_directory_by_symlink(tmp_path: Path) -> None:
    from mock_server.config import resolve_log_file
    from mock_server.log import FileLog

    logs, outside = tmp_path / "logs", tmp_path / "outside"
    logs.mkdir()
    outside.mkdir()
    (logs / "away").symlink_to(outside)
    with pytest.raises(ConfigError, match="leads out of the log directory"):
        resolve_log_file("away/a.csv", logs)
    assert resolve_log_file("runs/a.csv", logs) == logs.resolve() / "runs" / "a.csv"
    # A symlink planted at the file's own name is not followed (the target is not truncated).
    target = outside / "precious.csv"
    target.write_text("keep me\n")
    (logs / "b.csv").symlink_to(target)
    with pytest.raises(OSError):
        FileLog(logs / "b.csv")
    assert target.read_text() == "keep me\n"


def test_log_file_on_the_command_line_follows_the_same_rules() -> None:
    r = run_main("--log-file", "/etc/cron.d/x.csv", "--port", "0")
    assert r.returncode == 2 and r.stderr.startswith("mock_server: --log-file: must be a relative path"), r.stderr
