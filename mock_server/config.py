"""The mock server's configuration: one TOML/JSON schema shared by scenarios and the standalone server.

A scenario's ``[server]`` table and a standalone file (its top level, or its ``[server]`` table) are the
same schema; docs/scenarios.md documents every key with an example. Validation errors are one line
that names the key and the allowed values, so a typo costs one line of reading:

>>> ServerConfig.from_dict({"latency_ms": -1})
Traceback (most recent call last):
...
mock_server.config.ConfigError: server.latency_ms: must be a number >= 0, got -1
>>> ServerConfig.from_dict({"headers": {"dialect": "github2"}})
Traceback (most recent call last):
...
mock_server.config.ConfigError: server.headers.dialect: must be one of "x-ratelimit", "github", \
"ietf-draft10", "ratelimit-trio", "ietf-draft07", "openai", "anthropic", "none", got 'github2'

``to_dict()`` gives the canonical form (the runner sends it to ``POST /__admin/reset``), and
``from_dict(c.to_dict()) == c``:

>>> c = ServerConfig.from_dict({"latency_ms": 5,
...                             "quota": [{"algorithm": "gcra", "limit": 10, "window_s": 1}]})
>>> ServerConfig.from_dict(c.to_dict()) == c, c.latency_ms, c.quota[0].burst
(True, 5.0, None)
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mock_server import ticks


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range; the message names the key."""


ALGORITHMS = ("sliding-log", "fixed-window", "sliding-counter", "gcra", "token-bucket")
ANCHORS = ("clock", "first")
SCOPES = ("key", "global")
DIALECTS = ("x-ratelimit", "github", "ietf-draft10", "ratelimit-trio", "ietf-draft07", "openai", "anthropic", "none")
UNITS = ("requests", "tokens")
RESETS = ("delta", "epoch")
RETRY_AFTERS = ("seconds", "http-date", "ms", "none")
REJECT_STATUSES = (429, 403)
LATENCY_MODELS = ("fixed", "uniform", "lognormal")
BUSY_STATUSES = (503, 429)
NEIGHBOUR_PATTERNS = ("regular", "poisson")


def _choices(values: Sequence[object]) -> str:
    return ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)


class Table:
    """One table of a TOML document being read: every accessor names ``where.key`` in its errors.

    Shared by the server config and by scenarios (``bench.scenarios``); ``where=""`` is the document root.

    >>> Table({"jobs": 0}, "workload", ("jobs",)).integer("jobs")
    Traceback (most recent call last):
    ...
    mock_server.config.ConfigError: workload.jobs: must be an integer >= 1, got 0
    """

    def __init__(self, d: object, where: str, allowed: Sequence[str]) -> None:
        self.where = where
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where or 'document'}: must be a table, got {d!r}")
        unknown = sorted(set(d) - set(allowed))
        if unknown:
            raise ConfigError(f"{self.at(unknown[0])}: unknown key (allowed: {', '.join(sorted(allowed))})")
        self.d: Mapping[str, Any] = d

    def has(self, key: str) -> bool:
        return key in self.d

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def number(self, key: str, default: float | None = None, *, minimum: float = 0.0, strict: bool = False,
               maximum: float | None = None) -> float:
        if key not in self.d:
            if default is None:
                raise ConfigError(f"{self.at(key)}: required")
            return default
        v = self.d[key]
        ok = not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
        if not ok or v < minimum or (strict and v == minimum) or (maximum is not None and v > maximum):
            op = ">" if strict else ">="
            rng = f"{op} {minimum:g}" if maximum is None else f"in [{minimum:g}, {maximum:g}]"
            raise ConfigError(f"{self.at(key)}: must be a number {rng}, got {v!r}")
        return float(v)

    def optional_number(self, key: str, *, minimum: float = 0.0, strict: bool = False) -> float | None:
        return self.number(key, minimum=minimum, strict=strict) if key in self.d else None

    def integer(self, key: str, default: int | None = None, *, minimum: int = 1) -> int:
        if key not in self.d:
            if default is None:
                raise ConfigError(f"{self.at(key)}: required")
            return default
        v = self.d[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ConfigError(f"{self.at(key)}: must be an integer >= {minimum}, got {v!r}")
        return v

    def choice(self, key: str, choices: Sequence[Any], default: Any) -> Any:
        v = self.d.get(key, default)
        # bool is an int: 429 must not match True, nor "1" match 1.
        if isinstance(v, bool) or v not in choices or type(v) is not type(choices[0]):
            raise ConfigError(f"{self.at(key)}: must be one of {_choices(choices)}, got {v!r}")
        return v

    def boolean(self, key: str, default: bool) -> bool:
        v = self.d.get(key, default)
        if not isinstance(v, bool):
            raise ConfigError(f"{self.at(key)}: must be true or false, got {v!r}")
        return v

    def string(self, key: str, default: str, *, nonempty: bool = False) -> str:
        v = self.d.get(key, default)
        if not isinstance(v, str) or (nonempty and not v):
            what = "a non-empty string" if nonempty else "a string"
            raise ConfigError(f"{self.at(key)}: must be {what}, got {v!r}")
        return v

    def table(self, key: str, allowed: Sequence[str]) -> Table:
        return Table(self.d.get(key, {}), self.at(key), allowed)

    def tables(self, key: str) -> list[tuple[object, str]]:
        """A list of tables (a single table is taken as a list of one), each with its ``where``."""
        v = self.d.get(key, [])
        if isinstance(v, Mapping):
            v = [v]
        if not isinstance(v, list):
            raise ConfigError(f"{self.at(key)}: must be a list of tables, got {v!r}")
        return [(item, f"{self.at(key)}[{i}]") for i, item in enumerate(v)]


def _drop_defaults(d: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in defaults or defaults[k] != v}


# ------------------------------------------------------------------------------------------------
# Quota


@dataclass(frozen=True)
class QuotaConfig:
    """One quota tier: at most ``limit`` requests per ``window_s`` seconds, by ``algorithm``.

    ``burst`` (gcra / token-bucket only): requests accepted back to back from idle; default ``limit``.
    ``anchor`` (fixed-window only): ``"clock"`` aligns windows to ``floor(now / window_s)``;
    ``"first"`` starts a window at the first request after the previous one ended.
    ``scope``: ``"key"`` counts each API key separately; ``"global"`` counts all keys together.
    ``name``: the policy name in IETF headers (default ``"<limit>-per-<window>s"``).
    ``unit``: ``"requests"`` counts every request as 1; ``"tokens"`` counts a request's cost (the
    ``x-cost`` request header, :class:`CostConfig`), as LLM APIs' tokens-per-minute quotas do.

    ``window_ns`` is ``window_s`` converted once to integer nanoseconds (:mod:`mock_server.ticks`): the
    policies, the oracle and the window metrics all count in it. A window under 1 µs is refused.

    >>> QuotaConfig(10, 1.0).label, QuotaConfig(5, 60.0, name="minute").label, QuotaConfig(3, 0.1).window_ns
    ('10-per-1s', 'minute', 100000000)
    """

    limit: int
    window_s: float
    algorithm: str = "sliding-log"
    burst: int | None = None
    anchor: str = "clock"
    scope: str = "key"
    name: str = ""
    unit: str = "requests"
    window_ns: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "window_ns", _window_ns(self.window_s, "quota.window_s"))

    @property
    def label(self) -> str:
        return self.name or f"{self.limit}-per-{self.window_s:g}s"

    @classmethod
    def from_dict(cls, d: object, where: str) -> QuotaConfig:
        t = Table(d, where, ("algorithm", "limit", "window_s", "burst", "anchor", "scope", "name", "unit"))
        algorithm = t.choice("algorithm", ALGORITHMS, "sliding-log")
        if t.has("burst") and algorithm not in ("gcra", "token-bucket"):
            raise ConfigError(f"{t.at('burst')}: only for algorithm \"gcra\" or \"token-bucket\", "
                              f"not {algorithm!r}")
        if t.has("anchor") and algorithm != "fixed-window":
            raise ConfigError(f"{t.at('anchor')}: only for algorithm \"fixed-window\", not {algorithm!r}")
        name = t.string("name", "", nonempty=t.has("name"))
        if not all(" " <= c <= "~" for c in name):
            raise ConfigError(f"{t.at('name')}: must be printable ASCII (it is sent in headers), got {name!r}")
        window_s = t.number("window_s", strict=True)
        _window_ns(window_s, t.at("window_s"))
        return cls(
            limit=t.integer("limit"),
            window_s=window_s,
            algorithm=algorithm,
            burst=t.integer("burst") if t.has("burst") else None,
            anchor=t.choice("anchor", ANCHORS, "clock"),
            scope=t.choice("scope", SCOPES, "key"),
            name=name,
            unit=t.choice("unit", UNITS, "requests"),
        )

    def to_dict(self) -> dict[str, Any]:
        d = {"algorithm": self.algorithm, "limit": self.limit, "window_s": self.window_s, "burst": self.burst,
             "anchor": self.anchor, "scope": self.scope, "name": self.name, "unit": self.unit}
        return _drop_defaults(d, {"burst": None, "anchor": "clock", "scope": "key", "name": "", "unit": "requests"})


def _window_ns(window_s: float, where: str) -> int:
    ns = ticks.from_seconds(window_s)
    if ns < ticks.MIN_WINDOW_NS:
        raise ConfigError(f"{where}: must be at least 1 µs (0.000001 s; windows are counted in whole "
                          f"nanoseconds and the virtual clock ticks in microseconds), got {window_s!r}")
    return ns


def _quotas(t: Table, key: str) -> tuple[QuotaConfig, ...]:
    return tuple(QuotaConfig.from_dict(q, w) for q, w in t.tables(key))


@dataclass(frozen=True)
class KeyConfig:
    """The quota of one named API key: replaces the default key-scoped tiers (global tiers still apply)."""

    key: str
    quota: tuple[QuotaConfig, ...]


# ------------------------------------------------------------------------------------------------
# Headers


@dataclass(frozen=True)
class HeadersConfig:
    """How limits and rejections are announced.

    ``dialect``: which rate-limit header family (see docs/scenarios.md for each one's exact fields);
    ``reset``: ``"delta"`` seconds or ``"epoch"`` (UTC seconds) for the x-ratelimit and trio dialects
    (``github`` is always epoch, the IETF drafts always delta); ``retry_after``: ``"seconds"``,
    ``"http-date"``, ``"ms"`` (``Retry-After`` seconds plus ``retry-after-ms``) or ``"none"``;
    ``reject_status``: 429 or 403; ``problem_json``: RFC 9457 ``application/problem+json`` bodies.
    """

    dialect: str = "x-ratelimit"
    reset: str = "delta"
    retry_after: str = "seconds"
    reject_status: int = 429
    problem_json: bool = False

    @classmethod
    def from_dict(cls, d: object, where: str) -> HeadersConfig:
        t = Table(d, where, ("dialect", "reset", "retry_after", "reject_status", "problem_json"))
        dialect = t.choice("dialect", DIALECTS, "x-ratelimit")
        fixed = {"github": "epoch", "ietf-draft10": "delta", "ietf-draft07": "delta", "openai": "delta",
                 "anthropic": "epoch"}.get(dialect)
        reset = t.choice("reset", RESETS, fixed or "delta")
        if fixed and reset != fixed:
            raise ConfigError(f"{t.at('reset')}: dialect {dialect!r} always sends {fixed!r} resets, "
                              f"got {reset!r}")
        return cls(dialect, reset, t.choice("retry_after", RETRY_AFTERS, "seconds"),
                   t.choice("reject_status", REJECT_STATUSES, 429), t.boolean("problem_json", False))

    def to_dict(self) -> dict[str, Any]:
        return {"dialect": self.dialect, "reset": self.reset, "retry_after": self.retry_after,
                "reject_status": self.reject_status, "problem_json": self.problem_json}


# ------------------------------------------------------------------------------------------------
# Request cost


#: The largest cost a request may declare (a million tokens: more than any LLM context).
MAX_COST = 1_000_000


@dataclass(frozen=True)
class CostConfig:
    """Where a request's cost comes from, for ``unit = "tokens"`` tiers.

    ``header``: the request header the client declares its cost in (a decimal integer ``0 <= n <=``
    :data:`MAX_COST`; anything else is answered 400); ``default``: the cost of a request without
    that header (the server-side cost model: every request costs this much).

    >>> CostConfig.from_dict({"default": 100}, "server.cost")
    CostConfig(header='x-cost', default=100)
    """

    header: str = "x-cost"
    default: int = 1

    @classmethod
    def from_dict(cls, d: object, where: str) -> CostConfig:
        t = Table(d, where, ("header", "default"))
        header = t.string("header", "x-cost", nonempty=True).lower()
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9a-z-]+", header):
            raise ConfigError(f"{t.at('header')}: must be an HTTP header name, got {header!r}")
        default = t.integer("default", 1, minimum=0)
        if default > MAX_COST:
            raise ConfigError(f"{t.at('default')}: must be <= {MAX_COST}, got {default}")
        return cls(header, default)

    def to_dict(self) -> dict[str, Any]:
        return {"header": self.header, "default": self.default}


# ------------------------------------------------------------------------------------------------
# Latency and concurrency


@dataclass(frozen=True)
class LatencyConfig:
    """Service time of every API response: ``fixed`` (``ms``), ``uniform`` (``low_ms``..``high_ms``) or
    ``lognormal`` (``median_ms``, ``sigma``), drawn from a ``seed``-ed generator restarted at each reset.

    >>> LatencyConfig("uniform", low_ms=10, high_ms=30).mean_ms
    20.0
    """

    model: str = "fixed"
    ms: float = 0.0
    low_ms: float = 0.0
    high_ms: float = 0.0
    median_ms: float = 0.0
    sigma: float = 0.0
    seed: int = 0
    per_unit_ms: float = 0.0  # added per unit of a request's cost (an LLM's time per token)

    @property
    def mean_ms(self) -> float:
        """Expected service time: what the oracle assumes for every request."""
        if self.model == "uniform":
            return (self.low_ms + self.high_ms) / 2
        if self.model == "lognormal":
            return self.median_ms * math.exp(self.sigma**2 / 2)
        return self.ms

    _FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "fixed": ("ms",), "uniform": ("low_ms", "high_ms"), "lognormal": ("median_ms", "sigma"),
    }

    @classmethod
    def from_dict(cls, d: object, where: str) -> LatencyConfig:
        t = Table(d, where, ("model", "ms", "low_ms", "high_ms", "median_ms", "sigma", "seed", "per_unit_ms"))
        model = t.choice("model", LATENCY_MODELS, "fixed")
        wanted = cls._FIELDS[model]
        for k in ("ms", "low_ms", "high_ms", "median_ms", "sigma"):
            if t.has(k) and k not in wanted:
                raise ConfigError(f"{t.at(k)}: not used by model {model!r} (it takes {', '.join(wanted)})")
        seed = t.integer("seed", 0, minimum=0)
        per_unit = t.number("per_unit_ms", 0.0)
        if model == "fixed":
            return cls(model, ms=t.number("ms", 0.0), seed=seed, per_unit_ms=per_unit)
        if model == "uniform":
            low, high = t.number("low_ms"), t.number("high_ms")
            if high < low:
                raise ConfigError(f"{t.at('high_ms')}: must be >= low_ms ({low:g}), got {high:g}")
            return cls(model, low_ms=low, high_ms=high, seed=seed, per_unit_ms=per_unit)
        return cls(model, median_ms=t.number("median_ms", strict=True), sigma=t.number("sigma", 0.5),
                   seed=seed, per_unit_ms=per_unit)

    def to_dict(self) -> dict[str, Any]:
        fields = {k: getattr(self, k) for k in self._FIELDS[self.model]}
        extra = {"per_unit_ms": self.per_unit_ms} if self.per_unit_ms else {}
        return {"model": self.model, **fields, "seed": self.seed, **extra}


@dataclass(frozen=True)
class ConcurrencyConfig:
    """At most ``limit`` requests served at once (0 = no cap); the excess is answered ``status`` at once,
    with ``Retry-After: retry_after_s`` when that is > 0."""

    limit: int = 0
    status: int = 503
    retry_after_s: float = 0.0

    @classmethod
    def from_dict(cls, d: object, where: str) -> ConcurrencyConfig:
        t = Table(d, where, ("limit", "status", "retry_after_s"))
        return cls(t.integer("limit", 0, minimum=0), t.choice("status", BUSY_STATUSES, 503),
                   t.number("retry_after_s", 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "status": self.status, "retry_after_s": self.retry_after_s}


# ------------------------------------------------------------------------------------------------
# Faults


@dataclass(frozen=True)
class Window:
    """``[start_s, end_s)`` seconds after the server state's start (its last reset)."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class FaultsConfig:
    """Failures injected into requests the quota accepted, drawn from a ``seed``-ed generator.

    ``error_rate``: fraction answered with a random one of ``error_statuses``; ``slow_rate``: fraction
    delayed by ``slow_delay_s`` more; ``hang_rate``: fraction held until the client gives up (or
    ``hang_s``, then 504). ``outages``: windows in which every API request is answered 503.
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    outages: tuple[Window, ...] = ()
    slow_rate: float = 0.0
    slow_delay_s: float = 0.0
    hang_rate: float = 0.0
    hang_s: float = 300.0
    seed: int = 0

    @classmethod
    def from_dict(cls, d: object, where: str) -> FaultsConfig:
        t = Table(d, where,
                   ("error_rate", "error_statuses", "outages", "slow", "hang_rate", "hang_s", "seed"))
        statuses = t.d.get("error_statuses", [500, 502, 503])
        if not isinstance(statuses, list) or not statuses or not all(
                isinstance(s, int) and not isinstance(s, bool) and 500 <= s <= 599 for s in statuses):
            raise ConfigError(f"{t.at('error_statuses')}: must be a non-empty list of integers in 500..599, "
                              f"got {statuses!r}")
        outages = []
        for o, w in t.tables("outages"):
            ot = Table(o, w, ("start_s", "end_s"))
            start = ot.number("start_s")
            end = ot.number("end_s")
            if end <= start:
                raise ConfigError(f"{ot.at('end_s')}: must be > start_s ({start:g}), got {end:g}")
            outages.append(Window(start, end))
        slow = t.table("slow", ("rate", "delay_s"))
        error_rate = t.number("error_rate", 0.0, maximum=1.0)
        slow_rate = slow.number("rate", 0.0, maximum=1.0)
        slow_delay = slow.number("delay_s", 0.0 if slow_rate == 0 else None)
        hang_rate = t.number("hang_rate", 0.0, maximum=1.0)
        if error_rate + slow_rate + hang_rate > 1.0:
            raise ConfigError(f"{t.at('error_rate')}: error_rate + slow.rate + hang_rate must be <= 1, got "
                              f"{error_rate + slow_rate + hang_rate:g}")
        return cls(error_rate, tuple(statuses), tuple(outages), slow_rate, slow_delay, hang_rate,
                   t.number("hang_s", 300.0, strict=True), t.integer("seed", 0, minimum=0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate, "error_statuses": list(self.error_statuses),
            "outages": [{"start_s": o.start_s, "end_s": o.end_s} for o in self.outages],
            "slow": {"rate": self.slow_rate, "delay_s": self.slow_delay_s},
            "hang_rate": self.hang_rate, "hang_s": self.hang_s, "seed": self.seed,
        }


# ------------------------------------------------------------------------------------------------
# Dynamics


@dataclass(frozen=True)
class LimitChange:
    """From ``at_s`` seconds after the start, tier ``tier`` of ``[[server.quota]]`` allows ``limit``."""

    at_s: float
    limit: int
    tier: int = 0


@dataclass(frozen=True)
class NeighbourConfig:
    """Another client sharing API key ``key`` (default: the unkeyed default key), sending ``rate`` per
    second from ``start_s`` to ``end_s`` (``None``: for ever), ``regular``-ly or as a ``poisson`` stream."""

    rate: float
    key: str = ""
    start_s: float = 0.0
    end_s: float | None = None
    pattern: str = "regular"
    seed: int = 0


@dataclass(frozen=True)
class DynamicsConfig:
    """How the quota moves during a run: a ``schedule`` of limit changes, a noisy ``neighbour``, and what
    a rejection costs: ``penalty`` (rejected requests count against the quota too) and ``lockout_s``
    (a rejection blocks the key for that long; each rejection meanwhile extends it)."""

    schedule: tuple[LimitChange, ...] = ()
    neighbour: NeighbourConfig | None = None
    penalty: bool = False
    lockout_s: float = 0.0

    @classmethod
    def from_dict(cls, d: object, where: str, n_tiers: int) -> DynamicsConfig:
        t = Table(d, where, ("schedule", "neighbour", "penalty", "lockout_s"))
        schedule = []
        for s, w in t.tables("schedule"):
            st = Table(s, w, ("at_s", "limit", "tier"))
            tier = st.integer("tier", 0, minimum=0)
            if tier >= n_tiers:
                allowed = f"0..{n_tiers - 1}" if n_tiers else "none: there is no [[server.quota]]"
                raise ConfigError(f"{st.at('tier')}: must index a [[server.quota]] tier ({allowed}), "
                                  f"got {tier}")
            schedule.append(LimitChange(st.number("at_s"), st.integer("limit"), tier))
        schedule.sort(key=lambda c: c.at_s)
        neighbour = None
        if t.has("neighbour"):
            nt = t.table("neighbour", ("rate", "key", "start_s", "end_s", "pattern", "seed"))
            start = nt.number("start_s", 0.0)
            end = nt.optional_number("end_s")
            if end is not None and end <= start:
                raise ConfigError(f"{nt.at('end_s')}: must be > start_s ({start:g}), got {end:g}")
            neighbour = NeighbourConfig(nt.number("rate", strict=True), nt.string("key", ""), start, end,
                                        nt.choice("pattern", NEIGHBOUR_PATTERNS, "regular"),
                                        nt.integer("seed", 0, minimum=0))
        return cls(tuple(schedule), neighbour, t.boolean("penalty", False), t.number("lockout_s", 0.0))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schedule": [{"at_s": c.at_s, "limit": c.limit, "tier": c.tier} for c in self.schedule],
            "penalty": self.penalty, "lockout_s": self.lockout_s,
        }
        if self.neighbour:
            n = self.neighbour
            d["neighbour"] = _drop_defaults(
                {"rate": n.rate, "key": n.key, "start_s": n.start_s, "end_s": n.end_s, "pattern": n.pattern,
                 "seed": n.seed}, {"end_s": None})
        return d


# ------------------------------------------------------------------------------------------------
# Log


#: Where the server may write its arrival log: a ``log.file`` is a name inside this directory (relative to
#: the working directory unless ``python -m mock_server --log-dir DIR`` says otherwise), never a path
#: chosen by an HTTP request.
LOG_DIR = "mock_server_logs"
#: Default bound on the in-memory log's size (about 175 bytes per record with short ids: ~1.5 M records).
LOG_MAX_BYTES = 256 * 1024 * 1024


def check_log_file(name: str, where: str) -> str:
    """A log file name is a relative ``.csv`` path with no ``..``: it can only land inside the log directory.

    >>> check_log_file("runs/arrivals.csv", "server.log.file")
    'runs/arrivals.csv'
    >>> check_log_file("/home/me/.bashrc", "server.log.file")
    Traceback (most recent call last):
    ...
    mock_server.config.ConfigError: server.log.file: must be a relative path to a .csv file inside the log \
directory (no "..", not absolute), got '/home/me/.bashrc'
    """
    p = Path(name)
    if p.is_absolute() or ".." in p.parts or p.suffix != ".csv" or "\0" in name or name.startswith("~"):
        raise ConfigError(f"{where}: must be a relative path to a .csv file inside the log directory "
                          f'(no "..", not absolute), got {name!r}')
    return name


def resolve_log_file(name: str, log_dir: str | Path) -> Path:
    """The absolute path of log file ``name`` inside ``log_dir`` (created if missing); a symlink that
    leads out of the directory is refused.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> resolve_log_file("a.csv", d) == Path(d).resolve() / "a.csv"
    True
    """
    check_log_file(name, "server.log.file")
    root = Path(log_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise ConfigError(f"server.log.file: {name!r} leads out of the log directory {root} (a symlink?)")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class LogConfig:
    """The arrival log: the last ``limit`` arrivals (and at most ``max_bytes`` of them) in memory, or every
    arrival streamed to ``file`` (CSV inside the server's log directory, truncated at each reset);
    ``enabled = false`` logs nothing (for overhead measurements)."""

    limit: int = 1_000_000
    file: str = ""
    enabled: bool = True
    max_bytes: int = LOG_MAX_BYTES

    @classmethod
    def from_dict(cls, d: object, where: str) -> LogConfig:
        t = Table(d, where, ("limit", "file", "enabled", "max_bytes"))
        file = t.string("file", "", nonempty=t.has("file"))
        if file:
            check_log_file(file, t.at("file"))
        return cls(t.integer("limit", 1_000_000), file, t.boolean("enabled", True),
                   t.integer("max_bytes", LOG_MAX_BYTES, minimum=4096))

    def to_dict(self) -> dict[str, Any]:
        return _drop_defaults({"limit": self.limit, "file": self.file, "enabled": self.enabled,
                               "max_bytes": self.max_bytes}, {"file": "", "max_bytes": LOG_MAX_BYTES})


# ------------------------------------------------------------------------------------------------
# The whole server


_SERVER_KEYS = ("quota", "keys", "key_header", "headers", "latency", "latency_ms", "concurrency", "faults",
                "dynamics", "log", "log_limit", "cost")
#: The keys of a server config (public: a bare server config is recognised by them, bench/scenarios.py).
SERVER_KEYS = _SERVER_KEYS


@dataclass(frozen=True)
class ServerConfig:
    """Everything the mock enforces and injects.

    ``quota`` holds the default tiers (each API key gets its own counters, unless a tier's scope is
    ``"global"``); ``keys`` the tiers of named API keys, read from the ``key_header`` request header.

    >>> q = ServerConfig.from_dict({"quota": {"limit": 5, "window_s": 1}}).quota[0]
    >>> q.algorithm, q.limit, q.window_s, q.scope
    ('sliding-log', 5, 1.0, 'key')
    """

    quota: tuple[QuotaConfig, ...] = ()
    keys: tuple[KeyConfig, ...] = ()
    key_header: str = "x-api-key"
    headers: HeadersConfig = field(default_factory=HeadersConfig)
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    concurrency: ConcurrencyConfig = field(default_factory=ConcurrencyConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    log: LogConfig = field(default_factory=LogConfig)
    cost: CostConfig = field(default_factory=CostConfig)

    @property
    def latency_ms(self) -> float:
        """Mean service time in ms (the fixed latency, for the ``fixed`` model)."""
        return self.latency.mean_ms

    @property
    def log_limit(self) -> int:
        return self.log.limit

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "server") -> ServerConfig:
        t = Table(d, where, _SERVER_KEYS)
        quota = _quotas(t, "quota")

        keys = []
        raw_keys = t.d.get("keys", {})
        if not isinstance(raw_keys, Mapping):
            raise ConfigError(f"{t.at('keys')}: must be a table of API keys, got {raw_keys!r}")
        for name, v in raw_keys.items():
            one = Table(v, f"{t.at('keys')}.{name}", ("quota",))
            if not one.has("quota"):
                raise ConfigError(f"{one.at('quota')}: required (the tiers for API key {name!r})")
            if any(q.scope == "global" for q in _quotas(one, "quota")):
                raise ConfigError(f"{one.at('quota')}: a key's own tiers cannot have scope \"global\"")
            keys.append(KeyConfig(name, _quotas(one, "quota")))

        if t.has("latency_ms") and t.has("latency"):
            raise ConfigError(f"{t.at('latency_ms')}: give either latency_ms or a [latency] table, not both")
        if t.has("latency_ms"):
            latency = LatencyConfig("fixed", ms=t.number("latency_ms"))
        else:
            latency = LatencyConfig.from_dict(t.d.get("latency", {}), t.at("latency"))

        if t.has("log_limit") and t.has("log"):
            raise ConfigError(f"{t.at('log_limit')}: give either log_limit or a [log] table, not both")
        if t.has("log_limit"):
            log = LogConfig(limit=t.integer("log_limit"))
        else:
            log = LogConfig.from_dict(t.d.get("log", {}), t.at("log"))

        key_header = t.string("key_header", "x-api-key", nonempty=True).lower()
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9a-z-]+", key_header):
            raise ConfigError(f"{t.at('key_header')}: must be an HTTP header name, got {key_header!r}")
        return cls(
            quota=quota,
            keys=tuple(keys),
            key_header=key_header,
            headers=HeadersConfig.from_dict(t.d.get("headers", {}), t.at("headers")),
            latency=latency,
            concurrency=ConcurrencyConfig.from_dict(t.d.get("concurrency", {}), t.at("concurrency")),
            faults=FaultsConfig.from_dict(t.d.get("faults", {}), t.at("faults")),
            dynamics=DynamicsConfig.from_dict(t.d.get("dynamics", {}), t.at("dynamics"), len(quota)),
            log=log,
            cost=CostConfig.from_dict(t.d.get("cost", {}), t.at("cost")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The canonical, JSON-ready form; every table spelled out."""
        return {
            "quota": [q.to_dict() for q in self.quota],
            "keys": {k.key: {"quota": [q.to_dict() for q in k.quota]} for k in self.keys},
            "key_header": self.key_header,
            "headers": self.headers.to_dict(),
            "latency": self.latency.to_dict(),
            "concurrency": self.concurrency.to_dict(),
            "faults": self.faults.to_dict(),
            "dynamics": self.dynamics.to_dict(),
            "log": self.log.to_dict(),
            "cost": self.cost.to_dict(),
        }


def read_toml(path: Path, label: str | None = None) -> dict[str, Any]:
    """A TOML file's table; :class:`ConfigError` says why not, prefixed by ``label`` (default: the path).
    One reader for every TOML file the project takes (server configs, scenarios, gate thresholds)."""
    label = label or str(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{label}: cannot read it: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{label}: not valid TOML: {e}") from None


def load(path: str | Path) -> ServerConfig:
    """Read a TOML file: either a scenario (uses its ``[server]`` table) or a bare server config."""
    data = read_toml(Path(path))
    return ServerConfig.from_dict(data.get("server", data))
