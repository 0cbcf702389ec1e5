"""The gate: ``python -m bench check RUN_DIR --thresholds FILE [--baseline RUN_DIR] [--json]``.

Judges a run directory's ``results.json`` against a thresholds file (TOML) and, optionally, against an
earlier run of the same scenario. Exit 0 when every rule holds, 1 on any breach, 2 on bad input (a
missing file, bad TOML, an unknown key or metric, a malformed expression, an incompatible baseline).

Thresholds are written as people know them from k6 — ``metric OP number`` with ``<``, ``<=``, ``>``,
``>=``, ``==``, ``!=`` — and baseline rules as pytest-benchmark's ``--benchmark-compare-fail``, with the
allowed direction spelled out: ``efficiency:-5%`` (may fall by at most 5 % of the baseline),
``throttled:+0`` (may not rise at all), ``latency_p99_ms:+50`` (may rise by at most 50 ms)::

    scenario = "default"        # optional: refuse a run of another scenario
    clock = "virtual"           # optional: refuse a run on the other clock
    repeats = "every"           # or "median": how repeats are judged (default "every")

    [all]                       # every strategy in the run
    thresholds = ["errors == 0"]
    baseline = ["throttled:+0"]

    [strategies."token-bucket"] # one strategy; replaces [all]'s rules for the metrics it names
    thresholds = ["burst_ratio <= 1.0", "throttled == 0", "efficiency >= 0.85"]

Metric names are those of ``results.json`` (``bench.metrics.Metrics``, docs/metrics.md); the per-tier
counts take a tier index: ``peak_window_count[0]``. Every decision (repeats, null metrics, absent
strategies, baselines) is explained in docs/ci.md.

>>> t = parse_threshold("burst_ratio <= 1.0", "example")
>>> t.holds(1.0), t.holds(1.05)
(True, False)
>>> r = parse_regression("efficiency:-5%", "example")
>>> r.bound(0.9), r.holds(0.86, 0.9), r.holds(0.85, 0.9)
(0.855, True, False)
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

from bench import results
from bench.metrics import Metrics
from mock_server.config import ConfigError, read_toml

__all__ = [
    "Check",
    "GateError",
    "Outcome",
    "Regression",
    "Rules",
    "Spec",
    "Threshold",
    "evaluate",
    "load_spec",
    "main",
    "parse_regression",
    "parse_threshold",
]

#: How repeats of one strategy are judged.
REPEATS = ("every", "median")
CLOCKS = ("real", "virtual")
#: ``results.json`` metrics that hold one count per quota tier: a rule must name the tier.
PER_TIER = frozenset(f.name for f in fields(Metrics) if "tuple" in str(f.type))
SCALAR = frozenset(f.name for f in fields(Metrics)) - PER_TIER
OPS = ("<=", ">=", "==", "!=", "<", ">")

_NAME = r"(?P<metric>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<index>\d+)\])?"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_THRESHOLD = re.compile(rf"\s*{_NAME}\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<bound>{_NUMBER}|true|false)\s*")
_REGRESSION = re.compile(rf"\s*{_NAME}\s*:\s*(?P<sign>[-+])\s*(?P<amount>\d+\.?\d*|\.\d+)\s*(?P<pct>%?)\s*")


class GateError(ValueError):
    """Bad input to the gate (exit 2); the message names the file, key or value."""


# --------------------------------------------------------------------------------------------------
# Rules


@dataclass(frozen=True, slots=True)
class Threshold:
    """``metric[index] op bound``, e.g. ``burst_ratio <= 1.0``; ``where`` says which file/key it came from."""

    metric: str
    index: int | None
    op: str
    bound: float | bool
    text: str
    where: str

    @property
    def label(self) -> str:
        return _label(self.metric, self.index)

    def holds(self, value: float | bool) -> bool:
        """Whether a measured value satisfies the bound (compared exactly as stored in results.json).

        >>> parse_threshold("throttled == 0", "x").holds(0), parse_threshold("throttled > 0", "x").holds(0)
        (True, False)
        """
        b = self.bound
        return {"<": value < b, "<=": value <= b, ">": value > b, ">=": value >= b,
                "==": value == b, "!=": value != b}[self.op]


@dataclass(frozen=True, slots=True)
class Regression:
    """``metric:+N[%]`` / ``metric:-N[%]``: how far the metric may move from the baseline's value.

    ``+`` bounds a rise (``value <= base + N``, or ``base × (1 + N/100)``), ``-`` bounds a fall
    (``value >= base - N``, or ``base × (1 - N/100)``).
    """

    metric: str
    index: int | None
    sign: int  # +1: may rise by at most amount; -1: may fall by at most amount
    amount: float
    percent: bool
    text: str
    where: str

    @property
    def label(self) -> str:
        return _label(self.metric, self.index)

    def bound(self, base: float) -> float:
        """The limit the measured value must not pass, given the baseline's value.

        >>> parse_regression("throttled:+0", "x").bound(3), parse_regression("latency_p99_ms:+10%", "x").bound(200)
        (3, 220.0)
        """
        delta = abs(base) * self.amount / 100.0 if self.percent else self.amount
        return base + self.sign * delta

    def holds(self, value: float, base: float) -> bool:
        return value <= self.bound(base) if self.sign > 0 else value >= self.bound(base)

    @property
    def op(self) -> str:
        return "<=" if self.sign > 0 else ">="


@dataclass(frozen=True)
class Rules:
    """The rules that apply to one strategy."""

    thresholds: tuple[Threshold, ...] = ()
    regressions: tuple[Regression, ...] = ()
    repeats: str | None = None  # None: the file's default

    def __bool__(self) -> bool:
        return bool(self.thresholds or self.regressions)


@dataclass(frozen=True)
class Spec:
    """A parsed thresholds file."""

    path: str
    scenario: str | None = None
    clock: str | None = None
    repeats: str = "every"
    all: Rules = field(default_factory=Rules)
    strategies: Mapping[str, Rules] = field(default_factory=dict)

    def rules_for(self, strategy: str) -> Rules:
        """``[all]``'s rules, with those on any metric the strategy's own table names replaced by its own.

        A strategy that is meant to burst (``burst_ratio >= 1.5``) must be able to drop a general
        ``burst_ratio <= 1.0``; adding to it could only ever make the two contradict.
        """
        own = self.strategies.get(strategy, Rules())
        named_t = {t.label for t in own.thresholds}
        named_r = {r.label for r in own.regressions}
        return Rules(
            thresholds=tuple(t for t in self.all.thresholds if t.label not in named_t) + own.thresholds,
            regressions=tuple(r for r in self.all.regressions if r.label not in named_r) + own.regressions,
            repeats=own.repeats or self.all.repeats or self.repeats,
        )

    def rules(self) -> list[Threshold | Regression]:
        """Every rule in the file, in file order."""
        out: list[Threshold | Regression] = []
        for rules in (self.all, *self.strategies.values()):
            out += [*rules.thresholds, *rules.regressions]
        return out


def _label(metric: str, index: int | None) -> str:
    return metric if index is None else f"{metric}[{index}]"


def parse_threshold(text: str, where: str) -> Threshold:
    """``"burst_ratio <= 1.0"`` → :class:`Threshold`; :class:`GateError` naming ``where`` if malformed.

    >>> parse_threshold("peak_window_count[0] < 21", "x").label
    'peak_window_count[0]'
    """
    m = _THRESHOLD.fullmatch(text)
    if not m:
        raise GateError(f"{where} = {text!r}: not a threshold; write METRIC OP NUMBER with OP one of "
                        f"{' '.join(OPS)}, e.g. \"burst_ratio <= 1.0\"")
    raw = m["bound"]
    bound: float | bool
    if raw in ("true", "false"):
        if m["op"] not in ("==", "!="):
            raise GateError(f"{where} = {text!r}: true/false can only be compared with == or !=")
        bound = raw == "true"
    else:
        bound = float(raw)
        if bound.is_integer() and re.fullmatch(r"[-+]?\d+", raw):
            bound = int(raw)
    return Threshold(m["metric"], _index(m["index"]), m["op"], bound, text.strip(), where)


def parse_regression(text: str, where: str) -> Regression:
    """``"efficiency:-5%"`` → :class:`Regression`; :class:`GateError` naming ``where`` if malformed."""
    m = _REGRESSION.fullmatch(text)
    if not m:
        unsigned = re.fullmatch(rf"\s*{_NAME}\s*:\s*[\d.]+%?\s*", text)
        hint = " (give a sign: + bounds a rise, - a fall)" if unsigned else ""
        raise GateError(f"{where} = {text!r}: not a baseline rule; write METRIC:+N, METRIC:-N, METRIC:+N% or "
                        f"METRIC:-N%, e.g. \"efficiency:-5%\" or \"throttled:+0\"{hint}")
    amount = float(m["amount"])
    return Regression(m["metric"], _index(m["index"]), 1 if m["sign"] == "+" else -1,
                      int(amount) if amount.is_integer() else amount, m["pct"] == "%", text.strip(), where)


def _index(raw: str | None) -> int | None:
    return None if raw is None else int(raw)


def _strings(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    v = table.get(key, [])
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise GateError(f"{where}.{key}: must be an array of strings, got {v!r}")
    return v


def _repeats(table: Mapping[str, Any], where: str) -> str | None:
    v = table.get("repeats")
    if v is not None and v not in REPEATS:
        raise GateError(f"{where}.repeats: must be one of {', '.join(map(repr, REPEATS))}, got {v!r}")
    return v


def _rules(table: object, where: str) -> Rules:
    if not isinstance(table, dict):
        raise GateError(f"{where}: must be a table, got {table!r}")
    unknown = sorted(set(table) - {"thresholds", "baseline", "repeats"})
    if unknown:
        raise GateError(f"{where}.{unknown[0]}: unknown key (known: thresholds, baseline, repeats)")
    return Rules(
        thresholds=tuple(parse_threshold(s, f"{where}.thresholds[{i}]")
                         for i, s in enumerate(_strings(table, "thresholds", where))),
        regressions=tuple(parse_regression(s, f"{where}.baseline[{i}]")
                          for i, s in enumerate(_strings(table, "baseline", where))),
        repeats=_repeats(table, where),
    )


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def load_spec(path: Path) -> Spec:
    """Read and validate a thresholds file; :class:`GateError` names the file and the key or value."""
    try:
        data = read_toml(path, f"--thresholds {path}")
    except ConfigError as e:
        raise GateError(str(e)) from None
    unknown = sorted(set(data) - {"scenario", "clock", "repeats", "all", "strategies"})
    if unknown:
        raise GateError(f"{path}: {unknown[0]}: unknown key (known: scenario, clock, repeats, all, strategies)")
    scenario = data.get("scenario")
    if scenario is not None and not isinstance(scenario, str):
        raise GateError(f"{path}: scenario: must be a scenario name, got {scenario!r}")
    clock = data.get("clock")
    if clock is not None and clock not in CLOCKS:
        raise GateError(f"{path}: clock: must be one of {', '.join(map(repr, CLOCKS))}, got {clock!r}")
    strategies = data.get("strategies", {})
    if not isinstance(strategies, dict):
        raise GateError(f"{path}: strategies: must be a table of [strategies.NAME] tables, got {strategies!r}")
    spec = Spec(
        path=str(path),
        scenario=scenario,
        clock=clock,
        repeats=_repeats(data, str(path)) or "every",
        all=_rules(data.get("all", {}), f"{path}: all"),
        strategies={name: _rules(t, f"{path}: strategies.{_key(name)}") for name, t in strategies.items()},
    )
    if not spec.rules():
        raise GateError(f"{path}: no rules at all (no thresholds or baseline in [all] or any [strategies.NAME]); "
                        f"a gate with nothing to check would pass anything — add e.g. "
                        f"[all] thresholds = [\"errors == 0\"]")
    for rule in spec.rules():
        if rule.metric in PER_TIER and rule.index is None:
            raise GateError(f"{rule.where} = {rule.text!r}: {rule.metric} has one count per quota tier; "
                            f"name the tier, e.g. {rule.metric}[0]")
        if rule.metric in SCALAR and rule.index is not None:
            raise GateError(f"{rule.where} = {rule.text!r}: {rule.metric} is a single number, not per tier")
    return spec


# --------------------------------------------------------------------------------------------------
# Judging


@dataclass(frozen=True, slots=True)
class Check:
    """One rule applied to one strategy (one repeat, or the median of its repeats)."""

    strategy: str
    repeat: int | str | None  # the repeat index, "median", or None (a strategy-level check)
    metric: str
    value: float | bool | str | None
    bound: str  # e.g. "<= 1.0", ">= 0.855 (baseline 0.9, efficiency:-5%)"
    rule: str  # the rule as written
    where: str  # file and key it came from
    ok: bool
    reason: str | None = None  # why a value is missing (null, absent)

    def line(self) -> str:
        """The human form of a breach (or a pass)::

            BREACH aiolimiter (repeat 0): burst_ratio = 1.95, bound <= 1.0  [all.thresholds[0]]
        """
        who = self.strategy + ("" if self.repeat is None else f" ({_repeat_label(self.repeat)})")
        value = _fmt(self.value)
        text = f"{'ok    ' if self.ok else 'BREACH'} {who}: {self.metric} = {value}, bound {self.bound}"
        if self.reason:
            text += f" — {self.reason}"
        return text + f"  [{self.where}]"

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "repeat": self.repeat, "metric": self.metric, "value": self.value,
                "bound": self.bound, "rule": self.rule, "where": self.where, "ok": self.ok, "reason": self.reason}


@dataclass(frozen=True)
class Outcome:
    """Every check made, and the strategies in the run that no rule covered."""

    checks: tuple[Check, ...]
    unchecked: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def breaches(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def exit_code(self) -> int:
        return 1 if self.breaches else 0


def _repeat_label(repeat: int | str) -> str:
    return "median of repeats" if repeat == "median" else f"repeat {repeat}"


def _fmt(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _fmt_bound(b: float | bool) -> str:
    return _fmt(b) if isinstance(b, bool) else str(b)  # as written: 1.0 stays "1.0"


def _known_metrics(doc: Mapping[str, Any]) -> set[str]:
    known = set(SCALAR | PER_TIER)
    for run in doc.get("runs", []):
        if isinstance(run, dict) and isinstance(run.get("metrics"), dict):
            known |= set(run["metrics"])
    return known


def _value(run: Mapping[str, Any], metric: str, index: int | None, where: str) -> tuple[float | bool | None, str]:
    """A run's value for a metric (``None`` if withheld) and, for ``None``, the reason."""
    m = run.get("metrics") or {}
    v = m.get(metric)
    if index is not None:
        if not isinstance(v, list) or not v:
            v = None  # the per-tier counts are empty when the server's log was incomplete
        elif index >= len(v):
            raise GateError(f"{where}: tier index {index} is out of range: the run's scenario has "
                            f"{len(v)} quota tier(s) (indices 0..{len(v) - 1})")
        else:
            v = v[index]
    if v is None:
        return None, _null_reason(run, metric)
    if not isinstance(v, int | float | bool):
        raise GateError(f"{where}: {metric} is not a number in results.json ({v!r})")
    return v, ""


def _null_reason(run: Mapping[str, Any], metric: str) -> str:
    """Why a metric is null: the run's own reason if it recorded one, else what the definitions imply."""
    for holder in (run.get("withheld"), (run.get("metrics") or {}).get("withheld")):
        if isinstance(holder, dict) and holder.get(metric):
            return f"withheld: {holder[metric]}"
    m = run.get("metrics") or {}
    if run.get("status") not in (None, "ok"):
        return f"withheld: the run's status is {run.get('status')!r} ({run.get('error')})"
    if metric == "efficiency" and isinstance(m.get("completion"), int | float) and m["completion"] < 1:
        return (f"withheld: efficiency is defined only when every job succeeded "
                f"(completion {_fmt(m['completion'])})")
    if metric == "cpu_s_per_1k":
        return "withheld: not measured (in-process runs share the server's CPU)"
    if run.get("error"):
        return f"withheld: {run['error']}"
    return "withheld (null in results.json): the figure is undefined for this run (docs/metrics.md)"


def _median(values: Sequence[tuple[float | bool | None, str]]) -> tuple[float | None, str]:
    for k, (v, why) in enumerate(values):
        if v is None:
            return None, f"repeat {k}: {why}"
    return float(statistics.median(float(v) for v, _ in values if v is not None)), ""


def _runs_by_strategy(doc: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for run in doc["runs"]:
        if not isinstance(run, dict) or not isinstance(run.get("strategy"), str):
            raise GateError(f"results.json: a run entry without a strategy name: {run!r}")
        out.setdefault(run["strategy"], []).append(run)
    for runs in out.values():
        runs.sort(key=lambda r: r.get("repeat", 0))
    return out


def _first_difference(a: object, b: object, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}{k}: {'absent' if k not in a else _short(a[k])} in the run, " \
                       f"{'absent' if k not in b else _short(b[k])} in the baseline"
            d = _first_difference(a[k], b[k], f"{path}{k}.")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _first_difference(x, y, f"{path.rstrip('.')}[{i}].")
            if d:
                return d
        return None
    return None if a == b else f"{path.rstrip('.')}: {_short(a)} in the run, {_short(b)} in the baseline"


def _short(v: object) -> str:
    s = json.dumps(v)
    return s if len(s) <= 60 else s[:57] + "..."


def compatible(doc: Mapping[str, Any], base: Mapping[str, Any]) -> None:
    """Refuse (:class:`GateError`) a baseline that is not the same measurement: another schema,
    another scenario (as resolved, defaults filled in) or another clock."""
    if doc.get("schema_version") != base.get("schema_version"):
        raise GateError(f"baseline refused: schema_version {base.get('schema_version')!r}, "
                        f"the run's is {doc.get('schema_version')!r}")
    meta, bmeta = doc.get("meta", {}), base.get("meta", {})
    name, bname = (meta.get("scenario") or {}).get("name"), (bmeta.get("scenario") or {}).get("name")
    if name != bname:
        raise GateError(f"baseline refused: it ran scenario {bname!r}, the run is {name!r}")
    diff = _first_difference(meta.get("resolved"), bmeta.get("resolved"))
    if diff:
        raise GateError(f"baseline refused: scenario {name!r} differs from the baseline's at {diff}")
    if meta.get("clock") != bmeta.get("clock"):
        raise GateError(f"baseline refused: it ran on the {bmeta.get('clock')!r} clock, the run on "
                        f"{meta.get('clock')!r} (virtual and real figures are different measurements)")


def evaluate(doc: Mapping[str, Any], spec: Spec, baseline: Mapping[str, Any] | None = None) -> Outcome:
    """Apply ``spec`` (and, with ``baseline``, its baseline rules) to a loaded ``results.json``."""
    known = _known_metrics(doc)
    for rule in spec.rules():
        if rule.metric not in known:
            raise GateError(f"{rule.where} = {rule.text!r}: unknown metric {rule.metric!r} "
                            f"(known: {', '.join(sorted(known))})")
    run_scenario = (doc.get("meta", {}).get("scenario") or {}).get("name")
    if spec.scenario is not None and spec.scenario != run_scenario:
        raise GateError(f"{spec.path}: scenario = {spec.scenario!r}, but the run is of scenario {run_scenario!r}")
    run_clock = doc.get("meta", {}).get("clock")
    if spec.clock is not None and spec.clock != run_clock:
        raise GateError(f"{spec.path}: clock = {spec.clock!r}, but the run used the {run_clock!r} clock "
                        f"(figures from the two clocks are different measurements)")
    has_regressions = any(r.regressions for r in (spec.all, *spec.strategies.values()))
    notes: list[str] = []
    if baseline is not None:
        if not has_regressions:
            raise GateError(f"--baseline given, but {spec.path} has no baseline rules "
                            f"(e.g. [all] baseline = [\"efficiency:-5%\"])")
        compatible(doc, baseline)
    elif has_regressions:
        notes.append("baseline rules not checked: no --baseline given")

    by_strategy = _runs_by_strategy(doc)
    base_runs = _runs_by_strategy(baseline) if baseline is not None else {}
    checks: list[Check] = []
    if doc.get("complete") is False:
        checks.append(Check("(run)", None, "complete", False, "== true", "(always)", "gate", False,
                            "the run was interrupted (INCOMPLETE): its figures do not cover every strategy"))
    for name in spec.strategies:
        if name not in by_strategy:
            checks.append(Check(name, None, "(presence)", "absent", "in the run", "(named)",
                                f"{spec.path}: strategies.{_key(name)}", False,
                                f"named in the thresholds but not in the run (ran: {', '.join(by_strategy)})"))
    unchecked = []
    for name, runs in by_strategy.items():
        # A strategy the harness could not run here (status "skipped": e.g. it needs a redis-server, which virtual
        # time cannot use) is named with its reason, not judged: there is nothing measured to judge.
        if runs and all(run.get("status") == "skipped" for run in runs):
            notes.append(f"{name} skipped: {runs[0].get('error')}")
            continue
        # A run that did not finish is a breach whatever the rules (docs/ci.md): its figures vouch for nothing,
        # so it must not hide among the strategies no rule covers.
        for run in runs:
            if run.get("status") != "ok":
                checks.append(Check(name, run.get("repeat"), "status", run.get("status"), "== \"ok\"", "(always)",
                                    "gate", False, run.get("error") or None))
        rules = spec.rules_for(name)
        if not rules:
            unchecked.append(name)
            continue
        mode = rules.repeats or spec.repeats
        for t in rules.thresholds:
            for repeat, (v, why) in _judged(runs, t.metric, t.index, t.where, mode):
                ok = v is not None and t.holds(v)
                checks.append(Check(name, repeat, t.label, v, f"{t.op} {_fmt_bound(t.bound)}", t.text, t.where, ok,
                                    why or None))
        if baseline is None:
            continue
        for r in rules.regressions:
            checks += _regression_checks(name, runs, base_runs.get(name), r, mode)
    return Outcome(tuple(checks), tuple(unchecked), tuple(notes))


def _judged(runs: Sequence[Mapping[str, Any]], metric: str, index: int | None, where: str,
            mode: str) -> list[tuple[int | str, tuple[float | bool | None, str]]]:
    values = [_value(r, metric, index, where) for r in runs]
    if mode == "median":
        return [("median", _median(values))]
    return [(int(r.get("repeat", k)), v) for k, (r, v) in enumerate(zip(runs, values, strict=True))]


def _regression_checks(name: str, runs: Sequence[Mapping[str, Any]], base_runs: Sequence[Mapping[str, Any]] | None,
                       r: Regression, mode: str) -> list[Check]:
    if not base_runs:
        return [Check(name, None, r.label, None, f"{r.op} baseline", r.text, r.where, False,
                      "absent from the baseline run: nothing to compare with")]
    base, why = _median([_value(b, r.metric, r.index, r.where) for b in base_runs])
    if base is None:
        return [Check(name, None, r.label, None, f"{r.op} baseline", r.text, r.where, False,
                      f"the baseline's value is null ({why})")]
    bound = r.bound(base)
    out = []
    for repeat, (v, vwhy) in _judged(runs, r.metric, r.index, r.where, mode):
        ok = v is not None and r.holds(float(v), base)
        out.append(Check(name, repeat, r.label, v, f"{r.op} {_fmt(bound)} (baseline {_fmt(base)}, {r.text})",
                         r.text, r.where, ok, vwhy or None))
    return out


# --------------------------------------------------------------------------------------------------
# The command


def _load_run(path: Path, what: str) -> dict[str, Any]:
    try:
        return results.load(path)
    except FileNotFoundError as e:
        raise GateError(f"{what} {e}") from None
    except ValueError as e:
        raise GateError(f"{what} {e}") from None


def render(outcome: Outcome, doc: Mapping[str, Any], spec: Spec) -> str:
    """The terminal form: every breach on its own line, then a one-line verdict."""
    lines = [c.line() for c in outcome.breaches]
    lines += [f"note: {n}" for n in outcome.notes]
    if outcome.unchecked:
        lines.append(f"note: no rule covers {', '.join(outcome.unchecked)} (add [all] or [strategies.NAME])")
    n_strat = len({c.strategy for c in outcome.checks})
    verdict = (f"check: {len(outcome.breaches)} breach(es)" if outcome.breaches else "check: all rules hold")
    lines.append(f"{verdict} — {len(outcome.checks)} checks on {n_strat} strategies, "
                 f"scenario {(doc.get('meta', {}).get('scenario') or {}).get('name')!r}, "
                 f"{doc.get('meta', {}).get('clock')} clock, repeats judged: {spec.repeats} "
                 f"(thresholds {spec.path})")
    return "\n".join(lines)


def main(run_dir: Path, thresholds: Path, baseline: Path | None = None, *, as_json: bool = False,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the gate and print its verdict; returns the exit code (0 hold, 1 breach, 2 bad input)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        spec = load_spec(thresholds)
        doc = _load_run(run_dir, "RUN_DIR")
        base = _load_run(baseline, "--baseline") if baseline is not None else None
        outcome = evaluate(doc, spec, base)
    except GateError as e:
        print(f"ratebench check: {e}", file=err)
        if as_json:
            print(json.dumps({"ok": False, "exit_code": 2, "error": str(e)}, indent=2), file=out)
        return 2
    if as_json:
        print(json.dumps({
            "ok": not outcome.breaches, "exit_code": outcome.exit_code, "run": str(run_dir),
            "thresholds": str(thresholds), "baseline": None if baseline is None else str(baseline),
            "repeats": spec.repeats, "breaches": [c.to_dict() for c in outcome.breaches],
            "checks": [c.to_dict() for c in outcome.checks], "unchecked": list(outcome.unchecked),
            "notes": list(outcome.notes)}, indent=2, allow_nan=False), file=out)
    else:
        print(render(outcome, doc, spec), file=out)
    return outcome.exit_code
