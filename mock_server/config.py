"""The mock server's configuration: one TOML/JSON schema shared by scenarios and the standalone server.

Validation errors name the key and the allowed values, so a typo costs one line of reading:

>>> ServerConfig.from_dict({"latency_ms": -1})
Traceback (most recent call last):
...
mock_server.config.ConfigError: server.latency_ms: must be a number >= 0, got -1
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range; the message names the key."""


ALGORITHMS = ("sliding-log",)


def _number(d: Mapping[str, Any], key: str, where: str, default: float | None = None, *, minimum: float = 0.0,
            strict: bool = False) -> float:
    if key not in d:
        if default is None:
            raise ConfigError(f"{where}.{key}: required")
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or v < minimum or (strict and v == minimum):
        op = ">" if strict else ">="
        raise ConfigError(f"{where}.{key}: must be a number {op} {minimum:g}, got {v!r}")
    return float(v)


def _check_keys(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")


@dataclass(frozen=True)
class QuotaConfig:
    """One quota tier enforced by the server."""

    limit: int
    window_s: float
    algorithm: str = "sliding-log"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> QuotaConfig:
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: must be a table, got {d!r}")
        _check_keys(d, {"algorithm", "limit", "window_s"}, where)
        algorithm = d.get("algorithm", "sliding-log")
        if algorithm not in ALGORITHMS:
            raise ConfigError(f"{where}.algorithm: must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
        limit = d.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"{where}.limit: must be an integer >= 1, got {limit!r}")
        return cls(limit=limit, window_s=_number(d, "window_s", where, minimum=0.0, strict=True), algorithm=algorithm)


@dataclass(frozen=True)
class ServerConfig:
    """Everything the mock enforces and injects."""

    quota: tuple[QuotaConfig, ...] = ()
    latency_ms: float = 0.0
    log_limit: int = 1_000_000  # arrivals kept in memory; older ones are dropped and counted

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "server") -> ServerConfig:
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: must be a table, got {d!r}")
        _check_keys(d, {"quota", "latency_ms", "log_limit"}, where)
        quota = d.get("quota", [])
        if isinstance(quota, Mapping):
            quota = [quota]
        if not isinstance(quota, list):
            raise ConfigError(f"{where}.quota: must be a list of tables, got {quota!r}")
        log_limit = d.get("log_limit", 1_000_000)
        if isinstance(log_limit, bool) or not isinstance(log_limit, int) or log_limit < 1:
            raise ConfigError(f"{where}.log_limit: must be an integer >= 1, got {log_limit!r}")
        return cls(
            quota=tuple(QuotaConfig.from_dict(q, f"{where}.quota[{i}]") for i, q in enumerate(quota)),
            latency_ms=_number(d, "latency_ms", where, 0.0),
            log_limit=log_limit,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "quota": [{"algorithm": q.algorithm, "limit": q.limit, "window_s": q.window_s} for q in self.quota],
            "latency_ms": self.latency_ms,
            "log_limit": self.log_limit,
        }


def load(path: str | Path) -> ServerConfig:
    """Read a TOML file: either a scenario (uses its ``[server]`` table) or a bare server config."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return ServerConfig.from_dict(data["server"] if "server" in data else data)
