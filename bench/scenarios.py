"""Scenarios: one TOML file each, validated with errors that name the key.

A scenario says what the server enforces (``[server]``, the mock's own schema), what the API
*declares* to clients (``[declared]``, defaults to the server's quota), the workload and the client's
limits::

    name = "steady"
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

>>> load("steady").workload.jobs
60

``default`` is another name for ``steady`` (:data:`ALIASES`), and a bare mock-server config (the keys of
``[server]`` at the top level, as ``examples/*.toml``) is a scenario too: :func:`from_server_config`.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import netmodel
from bench.client_load import ClientLoad
from bench.params import ParamError, Spec, from_table
from mock_server.config import SERVER_KEYS, ConfigError, ServerConfig, Table, read_toml
from strategies.base import Quota, Tier

# Package data (pyproject), so `pip install .` has them too, not only a source checkout.
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin_scenarios"
_NAME = re.compile(r"[A-Za-z0-9._-]+")
#: Workload shapes (:class:`Workload`): the keys each one uses besides ``jobs``.
RELEASE_KEYS: dict[str, tuple[str, ...]] = {
    "batch": (),
    "rate": ("rate",),
    "poisson": ("rate", "seed"),
    "ramp": ("rate", "rate_to"),
    "onoff": ("rate", "on_s", "off_s"),
    "idle-burst": ("warmup", "idle_s"),
}
RELEASES = tuple(RELEASE_KEYS)
#: Keys any workload may have: per-job deadlines, cancelled waiters, the start phase (:class:`Workload`).
GIVE_UP_KEYS = ("deadline_s", "cancel_fraction", "cancel_after_s", "cancel_seed", "phase_s")
#: What a scenario is for: "comparison" (strategies against an API's quota: the matrix) or "harness" (the
#: harness's own accuracy, no quota, one strategy: ``make bench-paced``).
# "multi-process": only meaningful split across client processes (`--processes N`, bench.multiprocess), so
# kept out of the single-process matrix like "harness".
KINDS = ("comparison", "harness", "multi-process")
#: The shortest quota window a benchmark accepts: below it, window counts and the virtual clock's
#: microsecond ticks cannot tell one window from the next.
MIN_WINDOW_S = 1e-3
#: Other names of built-ins: ``default`` is what ``make bench`` and ``--scenario``'s default run (``steady``).
ALIASES = {"default": "steady"}
#: A bare server config's workload (:func:`from_server_config`): this many times the smallest tier's limit.
BARE_JOBS_PER_LIMIT = 2


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
    """The jobs and when each is released (seconds from run start; the first job at 0 in every shape):

    - ``batch``: all at 0;
    - ``rate``: evenly, ``rate`` per second;
    - ``poisson``: a Poisson process of ``rate`` per second (exponential gaps, seeded by ``seed``);
    - ``ramp``: the rate moves linearly in time from ``rate`` (may be 0) to ``rate_to``, reached as the last
      job goes;
    - ``onoff``: ``rate`` per second during ``on_s``, then nothing for ``off_s``, repeated;
    - ``idle-burst``: ``warmup`` jobs (at least 1, fewer than ``jobs``) at 0, then the others all at
      ``idle_s`` > 0 (does a limiter cap its refill after idling?).

    Per job: ``deadline_s`` (a job not *sent* within that long of its release is dropped and counted), and
    ``cancel_fraction`` of the jobs (chosen by ``cancel_seed``) cancelled ``cancel_after_s`` after release
    if still waiting (bench.give_up). ``phase_s``: start the run at this phase of the first server
    tier's clock-aligned window (``None``: wherever it starts; virtual runs start at phase 0).

    >>> [round(t, 4) for t in Workload(4, "ramp", 1.0, rate_to=3.0).release_times()]  # 0.75 (sqrt(1 + 8i/3) - 1)
    [0.0, 0.6861, 1.1375, 1.5]
    >>> Workload(5, "onoff", 2.0, on_s=1.0, off_s=3.0).release_times()
    [0.0, 0.5, 4.0, 4.5, 8.0]
    >>> Workload(4, "idle-burst", warmup=1, idle_s=5.0).release_times()
    [0.0, 5.0, 5.0, 5.0]
    """

    jobs: int
    release: str = "batch"
    rate: float | None = None  # jobs per second for rate, poisson, onoff; the start rate of a ramp
    cost: CostModel = CostModel()  # each job's cost (1 unless the scenario says otherwise)
    seed: int = 0  # poisson: the gaps' seed
    rate_to: float | None = None  # ramp: the end rate
    on_s: float | None = None  # onoff
    off_s: float | None = None
    warmup: int = 0  # idle-burst: jobs released at 0 before the idle time
    idle_s: float = 0.0  # idle-burst: when the burst is released
    deadline_s: float | None = None
    cancel_fraction: float = 0.0
    cancel_after_s: float = 0.0
    cancel_seed: int = 0
    phase_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The workload as results.json's ``resolved`` shows it: the keys its shape uses, and any set."""
        d: dict[str, Any] = {"jobs": self.jobs, "release": self.release, "rate": self.rate}
        d |= {k: getattr(self, k) for k in RELEASE_KEYS[self.release]}
        if self.cost != CostModel():
            d["cost"] = self.cost.to_dict()
        if self.deadline_s is not None:
            d["deadline_s"] = self.deadline_s
        if self.cancel_fraction:
            d |= {"cancel_fraction": self.cancel_fraction, "cancel_after_s": self.cancel_after_s,
                  "cancel_seed": self.cancel_seed}
        if self.phase_s is not None:
            d["phase_s"] = self.phase_s
        return d

    def iter_give_ups(self) -> Iterator[tuple[float, str] | None]:
        """Per job, in order: ``(seconds after its release, "deadline" or "cancel")`` when it gives up
        if still waiting then (the earlier of the two), or ``None``. Seeded: the same jobs every run.

        >>> list(Workload(3, deadline_s=0.5).iter_give_ups())
        [(0.5, 'deadline'), (0.5, 'deadline'), (0.5, 'deadline')]
        >>> [g is not None for g in Workload(6, cancel_fraction=0.5, cancel_after_s=0.1).iter_give_ups()]
        [False, False, True, True, False, True]
        """
        rng = random.Random(self.cancel_seed)
        for _ in range(self.jobs):
            cancel = rng.random() < self.cancel_fraction if self.cancel_fraction else False
            options = [(self.deadline_s, "deadline")] if self.deadline_s is not None else []
            if cancel:
                options.append((self.cancel_after_s, "cancel"))
            yield min(options, key=lambda o: o[0]) if options else None

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
        n = self.jobs
        if self.release == "idle-burst":
            return itertools.chain(itertools.repeat(0.0, min(self.warmup, n)),
                                   itertools.repeat(self.idle_s, max(0, n - self.warmup)))
        if self.release == "ramp" and self.rate is not None and self.rate_to is not None \
                and self.rate_to != self.rate:
            return self._ramp(self.rate, self.rate_to, n)
        if self.release == "batch" or not self.rate:
            return itertools.repeat(0.0, n)
        rate = self.rate
        if self.release == "poisson":
            return itertools.islice(self._poisson(rate), n)
        if self.release == "onoff" and self.on_s and self.off_s is not None:
            on, cycle = self.on_s, self.on_s + self.off_s
            # The i-th job's time on the "on" clock, moved past the off periods before it. An integer count
            # of whole on periods (jobs_per_on may be fractional), so a boundary job starts the next period.
            return (u + math.floor(u / on + 1e-9) * (cycle - on) for u in (i / rate for i in range(n)))
        return (i / rate for i in range(n))

    @staticmethod
    def _ramp(r0: float, r1: float, n: int) -> Iterator[float]:
        # Rate linear in *time*, r(t) = r0 + k t, with k = (r1² − r0²) / (2 (n − 1)): the jobs released by t,
        # r0 t + k t² / 2, reach i at job i's release, so the last job (index n − 1) goes at t = (r1 − r0)/k,
        # exactly when the rate reaches r1. r0 may be 0 (a ramp up from nothing: t_i = √(2 i / k)).
        if n < 2:
            yield from itertools.repeat(0.0, n)
            return
        k = (r1 * r1 - r0 * r0) / (2 * (n - 1))
        yield 0.0  # not (√(r0²) − r0)/k, which is −0.0 on a ramp down
        for i in range(1, n):
            yield (math.sqrt(r0 * r0 + 2 * k * i) - r0) / k

    def _poisson(self, rate: float) -> Iterator[float]:
        rng, t = random.Random(self.seed), 0.0
        while True:
            yield t
            t += rng.expovariate(rate)


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
    load: ClientLoad | None = None  # [load]: stalls / busy CPU on the client's loop (bench.client_load)
    params: Spec = field(default_factory=dict)  # [params.<strategy>]: parameter settings (bench.params)

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
            "workload": self.workload.to_dict(),
            "timeout_s": self.timeout_s,
            "virtual": {"profile": self.profile, "seed": self.seed},
            **({"load": self.load.to_dict()} if self.load is not None else {}),
            **({"params": {s: {k: list(v) for k, (v, _) in p.items()} for s, p in self.params.items()}}
               if self.params else {}),
        }


def from_dict(data: Mapping[str, Any], name: str) -> Scenario:
    """A scenario from its parsed TOML; ``name`` is used when the document has none."""
    try:
        return _parse(data, name)
    except ConfigError as e:
        raise ScenarioError(str(e)) from None


def _parse(data: Mapping[str, Any], name: str) -> Scenario:
    server_keys = sorted(set(data) & set(SERVER_KEYS))
    if server_keys and "server" not in data:
        scenario_keys = sorted(set(data) & {"workload", "client", "declared", "virtual", "kind", "load", "params"})
        if scenario_keys:
            raise ScenarioError(f"{server_keys[0]}: a mock-server key at the top level of a scenario with "
                                f"[{scenario_keys[0]}]: put the server's keys under [server] ([[server.quota]], "
                                f"[server.headers], ...), or drop [{scenario_keys[0]}] to use the file as a bare "
                                "server config (default workload)")
        return from_server_config(data, name)
    top = Table(data, "", ("name", "kind", "description", "server", "declared", "workload", "client", "virtual",
                           "load", "params"))
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

    shape_keys = sorted({k for keys in RELEASE_KEYS.values() for k in keys})
    wl = top.table("workload", ("jobs", "release", "cost", *shape_keys, *GIVE_UP_KEYS))
    release = wl.choice("release", RELEASES, "batch")
    for k in shape_keys:
        if wl.has(k) and k not in RELEASE_KEYS[release]:
            users = [r for r, keys in RELEASE_KEYS.items() if k in keys]
            raise ScenarioError(f"workload.{k}: not used by release = {release!r} (only with "
                                f"{' or '.join(repr(u) for u in users)})")
    # A ramp may start from 0 (a ramp up from nothing); every other shape needs a rate to release anything.
    rate = wl.number("rate", strict=release != "ramp") if "rate" in RELEASE_KEYS[release] else None
    cost = CostModel.from_table(wl.table("cost", ("model", "value", "low", "high", "median", "sigma", "max", "seed")))
    token_caps = [q.burst or q.limit for q in server.quota if q.unit == "tokens"]
    if token_caps and cost.largest > min(token_caps):
        raise ScenarioError(f"workload.cost: a job may cost {cost.largest}, more than the smallest token tier "
                            f"holds ({min(token_caps)}); the server would refuse it (lower the cost's maximum)")
    jobs = wl.integer("jobs")
    phase_s = wl.optional_number("phase_s")
    if phase_s is not None and (not server.quota or phase_s >= server.quota[0].window_s):
        raise ScenarioError(f"workload.phase_s: the phase of the first server quota tier's window, so in "
                            f"[0, window_s) of a scenario with a quota; got {phase_s!r}")
    workload = Workload(
        jobs, release, rate, cost,
        seed=wl.integer("seed", 0, minimum=0),
        rate_to=wl.number("rate_to", strict=True) if release == "ramp" else None,
        on_s=wl.number("on_s", strict=True) if release == "onoff" else None,
        off_s=wl.number("off_s") if release == "onoff" else None,
        # Every shape releases its first job at 0, and an idle-burst needs an idle and a burst: at least one job
        # before the idle time, at least one after it, and an idle time.
        warmup=wl.integer("warmup", 1, minimum=1) if release == "idle-burst" else 0,
        idle_s=wl.number("idle_s", strict=True) if release == "idle-burst" else 0.0,
        deadline_s=wl.optional_number("deadline_s"),
        cancel_fraction=wl.number("cancel_fraction", 0.0, maximum=1.0),
        cancel_after_s=wl.number("cancel_after_s", 0.0),
        cancel_seed=wl.integer("cancel_seed", 0, minimum=0),
        phase_s=phase_s,
    )
    if release == "idle-burst" and workload.warmup >= jobs:
        raise ScenarioError(f"workload.warmup: must be less than workload.jobs ({jobs}), got {workload.warmup} "
                            "(the jobs after the warmup are the burst after the idle time)")
    if workload.cancel_fraction and not wl.has("cancel_after_s"):
        raise ScenarioError("workload.cancel_after_s: required with cancel_fraction (how long a chosen job "
                            "waits before it is cancelled)")

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

    load = ClientLoad.from_table(data["load"]) if "load" in data else None
    try:
        params = from_table(data.get("params", {}))
    except ParamError as e:
        raise ScenarioError(str(e)) from None

    return Scenario(
        load=load,
        params=params,
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


def from_server_config(data: Mapping[str, Any], name: str) -> Scenario:
    """A bare mock-server config (``python -m mock_server --config FILE``'s schema, keys at the top level) as a
    comparison scenario: the server as given, the declared quota = the server's default tiers, and a default
    workload: :data:`BARE_JOBS_PER_LIMIT` × the smallest tier's limit, released at once (two windows' worth of
    the tightest tier: enough to meet the limit), client concurrency 20, and a timeout that leaves room for
    the longest window. ``name`` (the file's stem) names it; the description says how to choose otherwise.

    >>> sc = from_server_config({"quota": [{"limit": 5, "window_s": 60}]}, "github")
    >>> sc.workload.jobs, sc.declared.tiers[0].limit, sc.timeout_s
    (10, 5, 360.0)
    """
    server = dict(data)
    quota = server.get("quota")
    tiers = quota if isinstance(quota, list) else [quota] if isinstance(quota, Mapping) else []
    limits = [q["limit"] for q in tiers if isinstance(q, Mapping) and isinstance(q.get("limit"), int)]
    windows = [float(q["window_s"]) for q in tiers
               if isinstance(q, Mapping) and isinstance(q.get("window_s"), int | float)]
    if not limits:
        raise ScenarioError("quota: a bare server config needs at least one [[quota]] tier with a limit to be a "
                            "scenario (without a quota there is nothing to compare strategies on)")
    jobs = BARE_JOBS_PER_LIMIT * min(limits)
    # Two windows of the longest tier per round of jobs, three rounds: a ceiling, not a target.
    timeout = max(60.0, 3.0 * BARE_JOBS_PER_LIMIT * max(windows, default=1.0))
    log = server.get("log")
    if isinstance(log, Mapping) and "file" in log:  # a standalone server's start-up option; the runner logs in memory
        server["log"] = {k: v for k, v in log.items() if k != "file"}
    doc = {"name": name if _NAME.fullmatch(name) else "scenario",
           "description": f"bare server config {name!r}: {jobs} jobs at once (default workload); to choose the "
                          "workload, move the file's keys under [server] and add [workload] and [client] "
                          "(docs/scenarios.md)",
           "server": server, "workload": {"jobs": jobs, "release": "batch"},
           "client": {"concurrency": 20, "timeout_s": timeout}}
    return _parse(doc, name)


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def comparison_names() -> list[str]:
    """The built-ins that compare strategies: the matrix (``kind = "comparison"``), without the harness's own
    accuracy scenarios (``paced-*``, ``kind = "harness"``), which are run with ``unlimited`` alone.

    >>> "steady" in comparison_names() and "paced-500" not in comparison_names()
    True
    """
    return [n for n in builtin_names() if load(n).kind == "comparison"]


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name (or alias), or a TOML file by path: a scenario or a bare server config."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.exists()):
        path = BUILTIN_DIR / f"{ALIASES.get(name_or_path, name_or_path)}.toml"
        if not path.exists():
            aliases = ", ".join(f"{a} = {n}" for a, n in ALIASES.items())
            raise ScenarioError(f"unknown scenario {name_or_path!r} (built-in: {', '.join(builtin_names())}; "
                                f"{aliases}; or give a path to a .toml file)")
    try:
        data = read_toml(path, f"scenario {path}")
    except ConfigError as e:
        raise ScenarioError(str(e)) from None
    stem = path.stem if _NAME.fullmatch(path.stem) else "scenario"
    return from_dict(data, stem)
