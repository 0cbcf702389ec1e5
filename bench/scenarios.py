"""Scenarios: one TOML file each, validated with errors that name the key.

A scenario says what the server enforces (``[server]``, the mock's own schema), what the API
*declares* to clients (``[declared]``, defaults to the server's quota), the workload and the client's
limits::

    name = "default"
    [server]
    latency_ms = 10
    [[server.quota]]
    algorithm = "sliding-log"
    limit = 20
    window_s = 1.0
    [workload]
    jobs = 200
    release = "batch"      # all at once; or "rate" with rate = N per second (open loop)
    [client]
    concurrency = 20
    timeout_s = 60
    [virtual]              # only for --clock virtual (bench.netmodel)
    profile = "default"    # measured delays + timer lateness; "none" = schedule only; or a .json path
    seed = 0               # mixed with the scenario name and the repeat index

>>> load("default").workload.jobs
200
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import netmodel
from mock_server.config import ConfigError, ServerConfig, Table, read_toml
from strategies.base import Quota, Tier

# Package data (pyproject), so `pip install .` has them too, not only a source checkout.
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin_scenarios"
_NAME = re.compile(r"[A-Za-z0-9._-]+")
RELEASES = ("batch", "rate")
#: What a scenario is for: "comparison" (strategies against an API's quota: the matrix) or "harness" (the
#: harness's own accuracy, no quota, one strategy: ``make bench-paced``).
# "multi-process": only meaningful split across client processes (`--processes N`, bench.multiprocess), so
# kept out of the single-process matrix like "harness".
KINDS = ("comparison", "harness", "multi-process")
#: The shortest quota window a benchmark accepts: below it, window counts and the virtual clock's
#: microsecond ticks cannot tell one window from the next.
MIN_WINDOW_S = 1e-3


class ScenarioError(ValueError):
    """A scenario cannot be found or is invalid; the message names the key or value."""


COST_MODELS = ("fixed", "uniform", "lognormal")


@dataclass(frozen=True)
class CostModel:
    """Each job's cost (integer units, e.g. an LLM request's tokens), drawn from a seeded distribution:
    ``fixed`` (``value``), ``uniform`` (integers ``low..high``) or ``lognormal`` (``median``, ``sigma``,
    like prompt sizes; rounded, at least 1 and at most ``max``). The same seed gives the same costs.

    >>> CostModel("lognormal", median=100, sigma=0.8, max=1000, seed=1).draw(5)
    [163, 99, 268, 225, 76]
    >>> CostModel("uniform", low=5, high=9, seed=3).draw(3), CostModel().draw(2)
    ([6, 9, 9], [1, 1])
    """

    model: str = "fixed"
    value: int = 1
    low: int = 1
    high: int = 1
    median: float = 1.0
    sigma: float = 0.0
    max: int = 1
    seed: int = 0

    @property
    def largest(self) -> int:
        """The largest cost a draw can give."""
        return {"fixed": self.value, "uniform": self.high}.get(self.model, self.max)

    def iter_costs(self, n: int) -> Iterator[int]:
        rng = random.Random(self.seed)
        if self.model == "uniform":
            return (rng.randint(self.low, self.high) for _ in range(n))
        if self.model == "lognormal":
            mu, sigma, top = math.log(self.median), self.sigma, self.max
            return (min(top, max(1, round(rng.lognormvariate(mu, sigma)))) for _ in range(n))
        return itertools.repeat(self.value, n)

    def draw(self, n: int) -> list[int]:
        return list(self.iter_costs(n))

    def to_dict(self) -> dict[str, Any]:
        keys = {"fixed": ("value",), "uniform": ("low", "high"), "lognormal": ("median", "sigma", "max")}
        return {"model": self.model, **{k: getattr(self, k) for k in keys[self.model]}, "seed": self.seed}

    @classmethod
    def from_table(cls, t: Table) -> CostModel:
        model = t.choice("model", COST_MODELS, "fixed")
        allowed = {"fixed": ("value",), "uniform": ("low", "high"), "lognormal": ("median", "sigma", "max")}[model]
        for k in ("value", "low", "high", "median", "sigma", "max"):
            if t.has(k) and k not in allowed:
                raise ScenarioError(f"{t.at(k)}: not used by cost model {model!r} (it takes {', '.join(allowed)})")
        seed = t.integer("seed", 0, minimum=0)
        if model == "fixed":
            return cls(model, value=t.integer("value", 1, minimum=0), seed=seed)
        if model == "uniform":
            low, high = t.integer("low", minimum=0), t.integer("high", minimum=0)
            if high < low:
                raise ScenarioError(f"{t.at('high')}: must be >= low ({low}), got {high}")
            return cls(model, low=low, high=high, seed=seed)
        return cls(model, median=t.number("median", strict=True), sigma=t.number("sigma", 0.5),
                   max=t.integer("max"), seed=seed)


@dataclass(frozen=True)
class Workload:
    jobs: int
    release: str = "batch"
    rate: float | None = None  # jobs per second when release == "rate"
    cost: CostModel = CostModel()  # each job's cost (1 unless the scenario says otherwise)

    def costs(self) -> list[int]:
        """Each job's cost, in job order (seeded: the same every run)."""
        return self.cost.draw(self.jobs)

    def release_times(self) -> list[float]:
        """Scheduled release of each job, seconds from run start.

        >>> Workload(3, "rate", 2.0).release_times()
        [0.0, 0.5, 1.0]
        """
        return list(self.iter_release_times())

    def iter_release_times(self) -> Iterator[float]:
        """:meth:`release_times` one at a time, computed as they are needed.

        >>> list(Workload(3, "rate", 2.0).iter_release_times())
        [0.0, 0.5, 1.0]
        """
        if self.release == "batch" or not self.rate:
            return itertools.repeat(0.0, self.jobs)
        rate = self.rate
        return (i / rate for i in range(self.jobs))


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    server: ServerConfig
    declared: Quota
    workload: Workload
    timeout_s: float
    source: dict[str, Any]  # the parsed TOML, kept whole for results.json meta
    profile: str = "default"  # virtual mode's network/timer profile (bench.netmodel), or "none"
    seed: int = 0  # virtual mode: mixed with the name and the repeat index into each run's seed
    kind: str = "comparison"  # or "harness": measures the harness itself, with one strategy (see KINDS)

    @property
    def latency_s(self) -> float:
        return self.server.latency_ms / 1000

    def resolved(self) -> dict[str, Any]:
        """Everything the run used, defaults filled in (``source`` is only what the file said)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "server": self.server.to_dict(),
            "declared": {"tiers": [{"limit": t.limit, "window_s": t.window_s,
                                    **({"unit": t.unit} if t.unit != "requests" else {})}
                                   for t in self.declared.tiers],
                         "concurrency": self.declared.concurrency},
            "workload": {"jobs": self.workload.jobs, "release": self.workload.release, "rate": self.workload.rate,
                         **({"cost": self.workload.cost.to_dict()} if self.workload.cost != CostModel() else {})},
            "timeout_s": self.timeout_s,
            "virtual": {"profile": self.profile, "seed": self.seed},
        }


def from_dict(data: Mapping[str, Any], name: str) -> Scenario:
    """A scenario from its parsed TOML; ``name`` is used when the document has none."""
    try:
        return _parse(data, name)
    except ConfigError as e:
        raise ScenarioError(str(e)) from None


def _parse(data: Mapping[str, Any], name: str) -> Scenario:
    top = Table(data, "", ("name", "kind", "description", "server", "declared", "workload", "client", "virtual"))
    server = ServerConfig.from_dict(data.get("server", {}))
    if server.log.file:
        raise ScenarioError("server.log.file: not for a benchmark (the runner's server keeps its arrival log in "
                            "memory; a log file is a start-up option of the standalone server)")
    if not server.log.enabled:
        raise ScenarioError("server.log.enabled: must be true for a benchmark (burst metrics come from the "
                            "arrival log)")
    name = top.string("name", name)
    if not _NAME.fullmatch(name):
        raise ScenarioError(f"name: must be letters, digits, '.', '_' or '-' (it names the run directory), "
                            f"got {name!r}")

    wl = top.table("workload", ("jobs", "release", "rate", "cost"))
    release = wl.choice("release", RELEASES, "batch")
    if release == "batch" and wl.has("rate"):
        raise ScenarioError("workload.rate: only with release = \"rate\" (a batch releases every job at once)")
    rate = wl.number("rate", strict=True) if release == "rate" else None
    cost = CostModel.from_table(wl.table("cost", ("model", "value", "low", "high", "median", "sigma", "max", "seed")))
    token_caps = [q.burst or q.limit for q in server.quota if q.unit == "tokens"]
    if token_caps and cost.largest > min(token_caps):
        raise ScenarioError(f"workload.cost: a job may cost {cost.largest}, more than the smallest token tier "
                            f"holds ({min(token_caps)}); the server would refuse it (lower the cost's maximum)")
    workload = Workload(wl.integer("jobs"), release, rate, cost)

    client = top.table("client", ("concurrency", "timeout_s"))
    concurrency = client.integer("concurrency", 20)
    timeout_s = client.number("timeout_s", 60.0, strict=True)

    decl = top.table("declared", ("quota",))
    declared_tiers = (ServerConfig.from_dict({"quota": decl.d["quota"]}, "declared").quota if decl.has("quota")
                      else server.quota)
    for where, tiers in (("server.quota", server.quota), ("declared.quota", declared_tiers)):
        for i, q in enumerate(tiers):
            if q.window_s < MIN_WINDOW_S:
                raise ScenarioError(f"{where}[{i}].window_s: must be >= {MIN_WINDOW_S:g} s for a benchmark "
                                    f"(the harness's timing resolution), got {q.window_s!r}")
    declared = Quota(tuple(Tier(q.limit, q.window_s, q.unit) for q in declared_tiers), concurrency)

    virtual = top.table("virtual", ("profile", "seed"))
    profile = virtual.string("profile", netmodel.DEFAULT, nonempty=True)
    try:
        netmodel.load_profile(profile)
    except netmodel.ProfileError as e:
        raise ScenarioError(f"virtual.profile: {e}") from None
    seed = virtual.integer("seed", 0, minimum=0)

    return Scenario(
        profile=profile,
        seed=seed,
        kind=top.choice("kind", KINDS, "comparison"),
        name=name,
        description=top.string("description", ""),
        server=server,
        declared=declared,
        workload=workload,
        timeout_s=timeout_s,
        source=dict(data),
    )


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def comparison_names() -> list[str]:
    """The built-ins that compare strategies: the matrix (``kind = "comparison"``), without the harness's own
    accuracy scenarios (``paced-*``, ``kind = "harness"``), which are run with ``unlimited`` alone.

    >>> "default" in comparison_names() and "paced-500" not in comparison_names()
    True
    """
    return [n for n in builtin_names() if load(n).kind == "comparison"]


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a TOML file by path."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.exists()):
        path = BUILTIN_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(f"unknown scenario {name_or_path!r} (built-in: {', '.join(builtin_names())}; "
                                "or give a path to a .toml file)")
    try:
        data = read_toml(path, f"scenario {path}")
    except ConfigError as e:
        raise ScenarioError(str(e)) from None
    stem = path.stem if _NAME.fullmatch(path.stem) else "scenario"
    return from_dict(data, stem)
