"""``python -m bench compare RUN_A RUN_B``: what changed from run A to run B, and whether it is real.

For every strategy in both runs and every compared metric (:data:`METRICS`), the change of the mean over
the repeats from A to B, judged by two tests that must *both* pass before it is called significant:

* a statistical test on the repeats: Welch's two-sample t-test (unequal variances), two-sided, at
  ``alpha`` (default 0.05). Unlike a rank test it can reach significance with the usual 3 repeats a side
  (Mann–Whitney's smallest two-sided p with 3 against 3 is 0.1);
* a minimum effect size: the relative change ``|mean_B - mean_A| / |mean_A|`` at least ``min_effect``
  (default 5 %), so that a tiny but consistent shift is not reported as a change worth acting on.

"not significant" is an answer; with fewer than two usable repeats on a side significance cannot be
judged, and the row says so (unless every repeat of both sides has the same value: "no change"). Runs of
different scenarios (as resolved, defaults filled in), of another
schema or on another clock are refused (exit 2), with the check the gate applies to a baseline
(:func:`bench.gate.compatible`); a different machine, Python, package versions, transport or source of
arrivals is a warning. The exit code is 0 whatever changed (the gate, ``check --baseline``, is the
command that fails a build); ``--fail-on-regression`` exits 1 when a change is significant and worse.
docs/compare.md says why.

>>> w = welch([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
>>> round(w.t, 4), w.df, round(w.p, 4)
(3.6742, 4.0, 0.0213)
"""

from __future__ import annotations

import json
import math
import re
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bench.gate import GateError, _load_run, _runs_by_strategy, _value, compatible
from bench.matrix import MATRIX_FILE

__all__ = ["DEFAULT_ALPHA", "DEFAULT_MIN_EFFECT", "METRICS", "Change", "Comparison", "Welch", "compare",
           "main", "parse_min_effect", "welch"]

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_EFFECT = 0.05  # 5 % of A's mean
TEST = "Welch's two-sample t-test (unequal variances), two-sided"

#: The compared metrics, with the direction that is better (+1: higher is better, -1: lower is better).
METRICS: tuple[tuple[str, int], ...] = (
    ("throughput_rps", +1),
    ("efficiency", +1),
    ("completion", +1),
    ("throttled", -1),
    ("errors", -1),
    ("burst_ratio", -1),
    ("duration_s", -1),
    ("latency_p50_ms", -1),
    ("latency_p99_ms", -1),
    ("queue_wait_p99_ms", -1),
    ("cpu_s_per_1k", -1),
)
#: Machine facts from results.json meta that make figures incomparable if they differ (warned, not refused).
MACHINE = ("platform", "cpus", "python", "implementation")
#: How the run was made: a difference changes the measurement (warned).
SETUP = ("transport", "arrivals_source", "target")


# --------------------------------------------------------------------------------------------------
# The statistic


@dataclass(frozen=True, slots=True)
class Welch:
    """Welch's t statistic for ``mean(b) - mean(a)``, its Welch–Satterthwaite degrees of freedom and the
    two-sided p value. ``t`` is ``None`` when neither side varies (deterministic runs): then ``p`` is 1.0
    for equal means and 0.0 for different ones — the difference is exact, not a sample."""

    t: float | None
    df: float
    p: float


def welch(a: Sequence[float], b: Sequence[float]) -> Welch:
    """Welch's t-test of ``b`` against ``a`` (each at least 2 values).

    ``t = (mean_b - mean_a) / sqrt(s_a²/n_a + s_b²/n_b)`` with sample variances (``n - 1``);
    ``df = (s_a²/n_a + s_b²/n_b)² / ((s_a²/n_a)²/(n_a - 1) + (s_b²/n_b)²/(n_b - 1))``;
    ``p = 2 · P(T_df > |t|)`` from Student's t distribution (``scipy.stats.t``).

    >>> welch([1.0, 1.0], [1.0, 1.0])
    Welch(t=None, df=2.0, p=1.0)
    >>> welch([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]).p
    0.0
    """
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        raise ValueError(f"welch: needs at least 2 values a side, got {na} and {nb}")
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    qa, qb = statistics.variance(a) / na, statistics.variance(b) / nb
    se2 = qa + qb
    if se2 == 0:
        return Welch(None, float(na + nb - 2), 1.0 if ma == mb else 0.0)
    t = (mb - ma) / math.sqrt(se2)
    df = se2 * se2 / (qa * qa / (na - 1) + qb * qb / (nb - 1))
    from scipy import stats  # imported here: a second of start-up that only compare needs

    return Welch(t, df, float(2.0 * stats.t.sf(abs(t), df)))


def parse_min_effect(text: str) -> float:
    """``"5%"`` → 0.05. A percentage with its sign, so that 5 and 0.05 cannot be mistaken for each other.

    >>> parse_min_effect("5%"), parse_min_effect("0%"), parse_min_effect("12.5 %")
    (0.05, 0.0, 0.125)
    """
    m = re.fullmatch(r"\s*(\d+\.?\d*|\.\d+)\s*%\s*", text)
    if not m:
        raise GateError(f"--min-effect {text!r}: write a percentage of A's mean, e.g. 5%")
    return float(m[1]) / 100.0


# --------------------------------------------------------------------------------------------------
# The comparison


@dataclass(frozen=True, slots=True)
class Change:
    """One strategy × metric from A to B."""

    strategy: str
    metric: str
    a: tuple[float, ...]  # the usable repeats' values (nulls left out)
    b: tuple[float, ...]
    nulls: tuple[int, int]  # repeats whose value was null (withheld), in A and in B
    mean_a: float | None
    mean_b: float | None
    delta: float | None  # mean_b - mean_a
    relative: float | None  # delta / |mean_a|; None when mean_a is 0 (see ``effect_ok``)
    test: Welch | None
    verdict: str  # "significant", "not significant", "no change", "cannot judge", "withheld"
    direction: str | None  # "better" / "worse" for a significant change
    why: str  # one sentence: what decided the verdict

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "metric": self.metric, "a": list(self.a), "b": list(self.b),
                "nulls": {"a": self.nulls[0], "b": self.nulls[1]}, "mean_a": self.mean_a, "mean_b": self.mean_b,
                "delta": self.delta, "relative": self.relative,
                "t": None if self.test is None else self.test.t, "df": None if self.test is None else self.test.df,
                "p": None if self.test is None else self.test.p, "verdict": self.verdict,
                "direction": self.direction, "why": self.why}


def judge(strategy: str, metric: str, better: int, a: Sequence[float | None], b: Sequence[float | None],
          alpha: float, min_effect: float, null_reason: str = "") -> Change:
    """The verdict on one strategy × metric, from each side's per-repeat values (``None`` = withheld).

    >>> c = judge("s", "throughput_rps", +1, [10.0, 10.2, 9.9], [20.1, 19.8, 20.0], 0.05, 0.05)
    >>> c.verdict, c.direction, round(c.relative, 3)
    ('significant', 'better', 0.99)
    >>> judge("s", "throughput_rps", +1, [10.0], [20.0], 0.05, 0.05).verdict
    'cannot judge'
    >>> judge("s", "throttled", -1, [0.0], [0.0], 0.05, 0.05).verdict
    'no change'
    """
    va = tuple(float(v) for v in a if v is not None)
    vb = tuple(float(v) for v in b if v is not None)
    nulls = (len(a) - len(va), len(b) - len(vb))
    mean_a = statistics.fmean(va) if va else None
    mean_b = statistics.fmean(vb) if vb else None
    delta = None if mean_a is None or mean_b is None else mean_b - mean_a
    relative = None if delta is None or mean_a is None or mean_a == 0 else delta / abs(mean_a)

    def change(verdict: str, why: str, test: Welch | None = None, direction: str | None = None) -> Change:
        return Change(strategy, metric, va, vb, nulls, mean_a, mean_b, delta, relative, test, verdict, direction,
                      why)

    if not va or not vb:
        side = "A and B" if not va and not vb else ("A" if not va else "B")
        return change("withheld", f"null in every repeat of {side}" + (f" ({null_reason})" if null_reason else ""))
    if len(va) < 2 or len(vb) < 2:
        if len(set(va + vb)) == 1:  # one value everywhere: whatever the spread, it did not change
            return change("no change", f"the same value, {va[0]:g}, in every repeat of A and B")
        withheld = f" ({nulls[0]} null in A, {nulls[1]} in B)" if any(nulls) else ""
        return change("cannot judge", f"significance needs at least 2 repeats a side with a value; "
                                      f"A has {len(va)}, B has {len(vb)}{withheld}")
    test = welch(va, vb)
    if delta == 0 and test.t in (None, 0.0):
        return change("no change", "the same mean in A and B", test)
    # A change from exactly 0 (e.g. 0 → 3 × 429) has no relative size: any such change is large enough.
    big = relative is None or abs(relative) >= min_effect
    size = "from 0" if relative is None else f"{relative:+.1%}"
    if test.p >= alpha:
        return change("not significant", f"p = {_p(test.p)} ≥ alpha {alpha:g}: within the repeats' spread", test)
    if not big:
        return change("not significant", f"p = {_p(test.p)} < {alpha:g} but the change ({size}) is below the "
                                         f"minimum effect {min_effect:.0%}", test)
    direction = "better" if (delta or 0) * better > 0 else "worse"
    spread = "no spread in either run: the difference is exact" if test.t is None else f"p = {_p(test.p)}"
    return change("significant", f"{spread} < {alpha:g} and |{size}| ≥ {min_effect:.0%}", test, direction)


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else "< 0.001"


@dataclass(frozen=True)
class Comparison:
    """Everything ``compare`` found: the changes, the strategies in only one run, warnings and notes."""

    a: str
    b: str
    scenario: str
    clock: str
    alpha: float
    min_effect: float
    changes: tuple[Change, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "significant" and c.direction == "worse"]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "scenario": self.scenario, "clock": self.clock, "test": TEST,
                "alpha": self.alpha, "min_effect": self.min_effect, "warnings": list(self.warnings),
                "notes": list(self.notes), "only_in_a": list(self.only_a), "only_in_b": list(self.only_b),
                "changes": [c.to_dict() for c in self.changes]}


def differences(meta_a: Mapping[str, Any], meta_b: Mapping[str, Any]) -> list[str]:
    """Warnings for what differs between two runs' machines and set-ups (not the scenario: that is refused).

    >>> for w in differences({"python": "3.11.2", "packages": {"httpx": "0.28.1"}},
    ...                      {"python": "3.12.0", "packages": {"httpx": "0.28.0"}}):
    ...     print(w)
    machines differ: python '3.11.2' in A, '3.12.0' in B
    package versions differ: httpx 0.28.1 in A, 0.28.0 in B
    """
    out = []
    machine = [f"{k} {meta_a.get(k)!r} in A, {meta_b.get(k)!r} in B" for k in MACHINE if meta_a.get(k) != meta_b.get(k)]
    if machine:
        out.append("machines differ: " + "; ".join(machine))
    pa, pb = meta_a.get("packages") or {}, meta_b.get("packages") or {}
    pkgs = [f"{p} {pa.get(p)} in A, {pb.get(p)} in B" for p in sorted(set(pa) | set(pb)) if pa.get(p) != pb.get(p)]
    if pkgs:
        out.append("package versions differ: " + "; ".join(pkgs))
    setup = [f"{k} {_src(meta_a, k)!r} in A, {_src(meta_b, k)!r} in B" for k in SETUP
             if _src(meta_a, k) != _src(meta_b, k)]
    if setup:
        out.append("set-ups differ (the figures measure different things): " + "; ".join(setup))
    na, nb = meta_a.get("netmodel"), meta_b.get("netmodel")
    if isinstance(na, dict) and isinstance(nb, dict) and na.get("profile") != nb.get("profile"):
        out.append("virtual network/timer profiles differ (meta.netmodel.profile): the modelled delays are not "
                   "the same")
    return out


def _src(meta: Mapping[str, Any], key: str) -> object:
    # Runs from before --target have no arrivals_source: their arrivals are the mock server's log.
    if key == "arrivals_source":
        return meta.get(key, "server")
    return meta.get(key)


def compare(doc_a: Mapping[str, Any], doc_b: Mapping[str, Any], *, a: str = "A", b: str = "B",
            alpha: float = DEFAULT_ALPHA, min_effect: float = DEFAULT_MIN_EFFECT,
            metrics: Sequence[str] | None = None) -> Comparison:
    """Compare two loaded ``results.json``; :class:`GateError` when they are not the same measurement."""
    if not 0 < alpha < 1:
        raise GateError(f"--alpha {alpha!r}: must be between 0 and 1 (e.g. 0.05)")
    if min_effect < 0:
        raise GateError(f"--min-effect: must not be negative, got {min_effect:.0%}")
    try:
        compatible(doc_b, doc_a)
    except GateError as e:
        raise GateError(f"cannot compare {a} and {b} (RUN_A is the baseline, RUN_B the run): {e}") from None
    directions = dict(METRICS)
    chosen = list(metrics) if metrics else [m for m, _ in METRICS]
    for m in chosen:
        if m not in directions:
            raise GateError(f"--metrics: {m!r} is not a compared metric (known: {', '.join(directions)})")
    meta_a, meta_b = doc_a.get("meta", {}), doc_b.get("meta", {})
    warnings = differences(meta_a, meta_b)
    notes = [f"git {meta_a.get('git_sha')} in A, {meta_b.get('git_sha')} in B"]
    for side, doc in (("A", doc_a), ("B", doc_b)):
        if doc.get("complete") is False:
            warnings.append(f"run {side} is INCOMPLETE (interrupted): it may lack strategies or repeats")
    by_a, by_b = _runs_by_strategy(doc_a), _runs_by_strategy(doc_b)
    changes = []
    for name in [s for s in by_a if s in by_b]:
        runs_a, runs_b = by_a[name], by_b[name]
        for side, runs in (("A", runs_a), ("B", runs_b)):
            bad = [f"repeat {r.get('repeat')}: {r.get('status')}" for r in runs if r.get("status") != "ok"]
            if bad:
                warnings.append(f"{name} in {side}: runs that did not finish ({', '.join(bad)}) are compared "
                                f"as measured")
        for metric in chosen:
            pa = [_value(r, metric, None, f"{a}: {name}") for r in runs_a]
            pb = [_value(r, metric, None, f"{b}: {name}") for r in runs_b]
            why = next((w for v, w in (*pa, *pb) if v is None), "")
            changes.append(judge(name, metric, directions[metric], _numbers([v for v, _ in pa]),
                                 _numbers([v for v, _ in pb]), alpha, min_effect, why))
    scenario = str((meta_b.get("scenario") or {}).get("name"))
    return Comparison(a, b, scenario, str(meta_b.get("clock")), alpha, min_effect, tuple(changes),
                      tuple(s for s in by_a if s not in by_b), tuple(s for s in by_b if s not in by_a),
                      tuple(warnings), tuple(notes))


def _numbers(values: Sequence[float | bool | None]) -> list[float | None]:
    return [None if v is None else float(v) for v in values]


# --------------------------------------------------------------------------------------------------
# Output


def _num(v: float | None) -> str:
    if v is None:
        return "–"
    if abs(v) >= 1e6:
        return f"{v:.3e}"
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"  # 10 177 ms as 10177, not 1.018e+04


def _side(values: Sequence[float]) -> str:
    if not values:
        return "–"
    sd = f" ±{statistics.stdev(values):.2g}" if len(values) > 1 else ""
    return f"{_num(statistics.fmean(values))}{sd} (n={len(values)})"


def _verdict(c: Change) -> str:
    return f"SIGNIFICANT, {c.direction}" if c.verdict == "significant" else c.verdict


def render(cmp: Comparison) -> str:
    """The terminal table: one row per strategy × metric, then warnings and a one-line summary."""
    head = ["strategy", "metric", "A mean ±sd (n)", "B mean ±sd (n)", "change", "p", "verdict"]
    rows = [head]
    for c in cmp.changes:
        change = "–" if c.delta is None else ("from 0" if c.relative is None and c.delta else
                                              f"{c.relative or 0.0:+.1%}")
        p = "–" if c.test is None else _p(c.test.p)
        rows.append([c.strategy, c.metric, _side(c.a), _side(c.b), change, p, _verdict(c)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"compare: A = {cmp.a}", f"         B = {cmp.b}",
             f"scenario {cmp.scenario!r}, {cmp.clock} clock; {TEST}, alpha {cmp.alpha:g}, "
             f"minimum effect {cmp.min_effect:.0%} of A's mean (docs/compare.md)", ""]
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i in (0, 1, 6) else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    cannot = sorted({c.strategy for c in cmp.changes if c.verdict == "cannot judge"})
    if cannot:
        lines += ["", f"note: significance cannot be judged for {', '.join(cannot)}: fewer than 2 repeats with a "
                      f"value on a side (run both with --repeat 3 or more)"]
    withheld = sorted({c.metric for c in cmp.changes if c.verdict == "withheld"})
    if withheld:
        lines += [f"note: withheld (null in every repeat of a side): {', '.join(withheld)}; "
                  f"--json gives the reason per row"]
    lines += [f"note: {n}" for n in cmp.notes]
    lines += [f"only in A: {', '.join(cmp.only_a)}"] if cmp.only_a else []
    lines += [f"only in B: {', '.join(cmp.only_b)}"] if cmp.only_b else []
    lines += [f"WARNING: {w}" for w in cmp.warnings]
    sig = [c for c in cmp.changes if c.verdict == "significant"]
    lines.append(f"compare: {len(sig)} significant change(s) ({len(cmp.regressions)} worse) in "
                 f"{len(cmp.changes)} strategy × metric pairs")
    return "\n".join(lines)


def _not_a_matrix(path: Path, what: str) -> Path:
    """``path``, unless it is a matrix directory (``run --scenario all``): then :class:`GateError` naming its
    scenario subdirectories, which are the runs to compare."""
    if not (path / MATRIX_FILE).is_file():
        return path
    subdirs = sorted(p.name for p in path.iterdir() if (p / "results.json").is_file())
    example = path / (subdirs or ["SCENARIO"])[0]
    raise GateError(f"{what} {path} is a matrix directory (several scenarios): compare one scenario's run, "
                    f"a subdirectory: {', '.join(subdirs) or '(none finished)'} (e.g. {example})")


def main(run_a: Path, run_b: Path, *, alpha: float = DEFAULT_ALPHA, min_effect: str | None = None,
         metrics: str | None = None, as_json: bool = False, fail_on_regression: bool = False,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Compare and print; returns the exit code (0, or 1 with ``fail_on_regression`` and a significant
    worse change; 2 on bad input or runs that are not the same measurement)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        effect = DEFAULT_MIN_EFFECT if min_effect is None else parse_min_effect(min_effect)
        doc_a = _load_run(_not_a_matrix(run_a, "RUN_A"), "RUN_A")
        doc_b = _load_run(_not_a_matrix(run_b, "RUN_B"), "RUN_B")
        chosen = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
        cmp = compare(doc_a, doc_b, a=str(run_a), b=str(run_b), alpha=alpha, min_effect=effect, metrics=chosen)
    except GateError as e:
        print(f"ratebench compare: {e}", file=err)
        if as_json:
            print(json.dumps({"exit_code": 2, "error": str(e)}, indent=2), file=out)
        return 2
    code = 1 if fail_on_regression and cmp.regressions else 0
    if as_json:
        print(json.dumps(cmp.to_dict() | {"exit_code": code}, indent=2, allow_nan=False), file=out)
    else:
        print(render(cmp), file=out)
    return code
