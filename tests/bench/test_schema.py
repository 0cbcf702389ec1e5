"""The shipped JSON Schemas hold for what ratebench really writes and ships, and refuse what it refuses."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bench import scenarios, schema
from bench.cli import main
from mock_server import config

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_FILES = sorted([*scenarios.BUILTIN_DIR.glob("*.toml"),
                         *(ROOT / "tests" / "gate" / "scenarios").glob("*.toml")])
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))

TINY = """
name = "tiny"
[server]
latency_ms = 5
headers = { reject_status = 403 }
[[server.quota]]
limit = 3
window_s = 1.0
[workload]
jobs = 6
"""


def validator(name: str) -> jsonschema.protocols.Validator:
    s = schema.load(name)
    cls = jsonschema.validators.validator_for(s)
    cls.check_schema(s)  # the schema itself is a valid draft-2020-12 schema
    return cls(s)


def test_a_real_results_json_is_valid(tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(TINY)
    run_dir = tmp_path / "run"
    assert main(["run", "--scenario", str(tmp_path / "tiny.toml"), "--strategies", "token-bucket,unlimited",
                 "--clock", "virtual", "--run-dir", str(run_dir)]) == 0
    doc = json.loads((run_dir / "results.json").read_text())
    validator("results").validate(doc)
    # ...and the schema has teeth: a non-number metric and a missing field are refused.
    bad: dict[str, Any] = json.loads(json.dumps(doc))
    bad["runs"][0]["metrics"]["throttled"] = "3"
    assert not validator("results").is_valid(bad)
    del doc["runs"][0]["status"]
    assert not validator("results").is_valid(doc)


def test_a_run_with_a_skipped_redis_strategy_and_a_sweep_is_valid(tmp_path: Path) -> None:
    # Virtual time skips the Redis strategies with a reason (a row of status "skipped"); a --param sweep adds
    # meta.params; both are what ratebench writes, so the schema must take them.
    (tmp_path / "tiny.toml").write_text(TINY)
    run_dir = tmp_path / "run"
    assert main(["run", "--scenario", str(tmp_path / "tiny.toml"), "--strategies", "token-bucket,pyrate-redis",
                 "--param", "token-bucket.capacity=1,2", "--clock", "virtual", "--run-dir", str(run_dir)]) == 0
    doc = json.loads((run_dir / "results.json").read_text())
    assert {r["status"] for r in doc["runs"]} == {"ok", "skipped"}
    validator("results").validate(doc)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_every_shipped_scenario_is_valid(path: Path) -> None:
    validator("scenario").validate(tomllib.loads(path.read_text()))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_server_config_is_a_valid_server_table(path: Path) -> None:
    validator("scenario").validate({"server": tomllib.loads(path.read_text())})


def test_a_misspelt_key_is_refused_by_the_schema_as_by_the_loader() -> None:
    doc = {"server": {"quota": {"limit": 3, "window_s": 1}, "latencyms": 5}}
    assert not validator("scenario").is_valid(doc)
    with pytest.raises(scenarios.ScenarioError, match="latencyms"):
        scenarios.from_dict(doc, "x")


def test_the_schema_knows_every_server_key_the_loader_takes() -> None:
    # Drift check: a key added to the loader must be added to the schema (and the other way round).
    props = schema.load("scenario")["$defs"]["server"]["properties"]
    assert set(props) == set(config._SERVER_KEYS)


def test_an_unknown_schema_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="no schema 'x'"):
        schema.load("x")
