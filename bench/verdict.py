"""The verdict: which strategy to pick, per scenario and across a matrix of scenarios (pure functions).

Per scenario (:func:`of_run`): the **best** strategy is the one with the highest efficiency among those that
*qualify* — compliant in every repeat by the API's own rule (``policy_rejected`` = 0, bench.compliance),
finished, every job done, not disturbed, and — where the scenario has a noisy neighbour on the key — no request
of the neighbour's rejected during the run (``neighbour_rejected`` = 0) (:func:`bench.report.compliant`). Where the
oracle cannot know the fastest schedule (efficiency undefined: a noisy neighbour, a limit schedule, random
latency), throughput ranks instead, and the verdict says so. When nothing qualifies it says that none does, and why.

**Ties** (:data:`TIE_RULE`): walking down the qualifying strategies from the best, a strategy joins the
group of the first one of its group when their medians differ by no more than the wider of their two
ranges over the repeats (min–max), or by less than 1 % of the leader's score (the precision efficiency is
shown at: with one repeat, or identical repeats, the range is 0). A group shares a place: "=1", "=1", "3".

Across a matrix (:func:`across`): the **robust choice** is the strategy that qualifies in every scenario,
with the best *worst-case* efficiency over them (scenarios without an efficiency count for qualifying only);
per scenario **family** (:func:`family`) the same rule over that family's scenarios.

Every strategy gets one sentence saying why it ranked where it did, derived from its metrics.

>>> rows = [{"strategy": "a", "compliant": True, "efficiency": 0.9, "status": "ok", "completion": 1.0},
...         {"strategy": "b", "compliant": True, "efficiency": 0.5, "status": "ok", "completion": 1.0}]
>>> v = rank("s", rows)
>>> v.best, [s.place for s in v.standings]
(('a',), [1, 2])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench import repeats

__all__ = [
    "TIE_RULE",
    "MatrixVerdict",
    "Pick",
    "Standing",
    "Verdict",
    "across",
    "family",
    "of_run",
    "rank",
]

Row = Mapping[str, Any]

#: The tie rule, said in every report that shows a tie.
TIE_RULE = ("tied = medians within the wider of the two strategies' ranges over the repeats (min–max), or within "
            "1 % of the leader's score; tied strategies share a place; judged on unrounded medians, against the first "
            "of each tie group, so two figures shown alike may rank apart (the why-line gives 3 digits)")
#: Below this relative difference two scores are the same at the precision the table shows efficiency.
TIE_FLOOR = 0.01

#: The family of each built-in comparison scenario: the kind of API it stands for. A scenario not listed
#: takes the algorithm of its first quota tier.
FAMILIES = {
    "default": "sliding window", "steady": "sliding window",
    "fixed-window-aligned": "fixed window",
    "token-bucket-burst": "token bucket",
    "multi-tier": "multi-tier quota",
    "github-like": "header dialects", "ietf-like": "header dialects",
    "slow-server": "slow server",
    "underdeclared": "less quota than declared", "noisy-neighbour": "less quota than declared",
    "outage": "outages",
    "open-loop": "open loop",
    "llm-api": "token quotas", "llm-api-anthropic": "token quotas",
}


def family(meta: Mapping[str, Any]) -> str:
    """The family of a run's scenario: ``FAMILIES`` by name, else its first tier's algorithm.

    >>> family({"scenario": {"name": "github-like"}})
    'header dialects'
    >>> family({"scenario": {"name": "mine"}, "resolved": {"server": {"quota": [{"algorithm": "gcra"}]}}})
    'gcra'
    """
    name = str(meta.get("scenario", {}).get("name", ""))
    if name in FAMILIES:
        return FAMILIES[name]
    quota = meta.get("resolved", {}).get("server", {}).get("quota") or []
    return str(quota[0].get("algorithm", "sliding-log")) if quota else "no quota"


@dataclass(frozen=True)
class Standing:
    """One strategy's place in one scenario: ``place`` (shared by a tie) among those that qualify, ``None``
    when it does not qualify; ``score`` its median on the ranking metric, ``low``–``high`` the range."""

    strategy: str
    place: int | None
    tied_with: tuple[str, ...]
    qualifies: bool
    score: float | None
    low: float | None
    high: float | None
    reason: str
    skipped: bool = False  # never run in this scenario (status ``skipped``): "no run", not a failure


@dataclass(frozen=True)
class Verdict:
    """The verdict of one scenario."""

    scenario: str
    family: str
    metric: str  # what ranks: "efficiency", or "throughput_rps" where efficiency is undefined
    best: tuple[str, ...]  # the first group (several when tied); empty when none qualifies
    why_none: str | None
    standings: tuple[Standing, ...]
    #: Said after the headline when the verdict rests on part of the run (an interrupted run), else ``None``.
    caveat: str | None = None

    def headline(self) -> str:
        """One line: the best strategy (or the tie, or that none qualifies).

        >>> Verdict("s", "f", "efficiency", (), "every strategy was rejected", ()).headline()
        's: no strategy qualifies — every strategy was rejected'
        """
        caveat = f" ({self.caveat})" if self.caveat else ""
        if not self.best:
            return f"{self.scenario}: no strategy qualifies — {self.why_none}{caveat}"
        top = self.standings[0]
        score = _score_text(self.metric, top)
        if len(self.best) > 1:
            return f"{self.scenario}: tied best — {', '.join(self.best)} ({score}){caveat}"
        return f"{self.scenario}: best — {top.strategy} ({score}){caveat}"

    def standing(self, strategy: str) -> Standing | None:
        return next((s for s in self.standings if s.strategy == strategy), None)


def _fmt(metric: str, v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.2f}" if metric == "efficiency" else f"{v:.1f}/s"


def _score_text(metric: str, s: Standing) -> str:
    name = "efficiency" if metric == "efficiency" else "throughput"
    rng = "" if s.low is None or s.high is None or _fmt(metric, s.low) == _fmt(metric, s.high) else (
        f" [{_fmt(metric, s.low)}–{_fmt(metric, s.high)}]")
    return f"{name} {_fmt(metric, s.score)}{rng}"


# --------------------------------------------------------------------------------------------------
# One scenario


def of_run(doc: Mapping[str, Any], rows: Sequence[Row] | None = None) -> Verdict:
    """The verdict of one run directory's ``results.json`` (as loaded by :func:`bench.results.load`);
    ``rows``: its :func:`bench.report.summarise` when the caller has it already."""
    meta = doc["meta"]
    if rows is None:
        from bench import report  # report renders verdicts: imported here, to keep one direction at import

        rows = report.summarise(doc["runs"], meta)
    by: dict[str, list[Any]] = {}
    for r in doc["runs"]:
        by.setdefault(r["strategy"], []).append(r["metrics"])
    tiers = meta.get("resolved", {}).get("server", {}).get("quota") or []
    v = rank(str(meta.get("scenario", {}).get("name", "?")), rows, by, tiers, family(meta))
    return v if doc.get("complete", True) else replace(v, caveat=incomplete(doc))


def incomplete(doc: Mapping[str, Any]) -> str:
    """The caveat of an interrupted run's verdict: how much of the planned run it rests on.

    >>> incomplete({"meta": {"strategies": ["a", "b"], "repeat": 2}, "runs": [{}, {}, {}]})
    'INCOMPLETE run: 3 of 4 planned runs (strategies × repeats) on disk; the others were never measured'
    """
    meta = doc.get("meta", {})
    planned = len(meta.get("strategies") or []) * int(meta.get("repeat") or 1)
    done = len(doc.get("runs", []))
    if planned <= done:
        return "INCOMPLETE run: interrupted before it was marked complete"
    return (f"INCOMPLETE run: {done} of {planned} planned runs (strategies × repeats) on disk; the others were "
            "never measured")


def _qualifies(row: Row) -> bool:
    return bool(row.get("compliant"))


def rank(scenario: str, rows: Sequence[Row], per_repeat: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
         tiers: Sequence[Mapping[str, Any]] = (), fam: str = "") -> Verdict:
    """The verdict from the report's rows (:func:`bench.report.summarise`: medians, ``compliant`` over
    every repeat), each strategy's per-repeat metrics (for the ranges; without them a row's median stands
    alone) and the enforced quota tiers (``limit``, ``window_s``: for the reasons)."""
    per_repeat = per_repeat or {}
    good = [r for r in rows if _qualifies(r)]
    metric = "efficiency" if good and all(r.get("efficiency") is not None for r in good) else "throughput_rps"

    def spread(r: Row) -> repeats.Spread | None:
        values = [m.get(metric) for m in per_repeat.get(r["strategy"], ())]
        return repeats.Spread.of(values) or repeats.Spread.of([r.get(metric)])

    scored = sorted(((r, spread(r)) for r in good), key=lambda rs: (-(rs[1].median if rs[1] else -1e300),
                                                                    rs[0]["strategy"]))
    groups: list[list[tuple[Row, repeats.Spread | None]]] = []
    for r, sp in scored:
        if groups and _tied(groups[-1][0][1], sp):
            groups[-1].append((r, sp))
        else:
            groups.append([(r, sp)])

    best_sp = scored[0][1] if scored else None
    standings: list[Standing] = []
    place = 1
    for k, g in enumerate(groups):
        names = tuple(r["strategy"] for r, _ in g)
        for r, sp in g:
            others = tuple(n for n in names if n != r["strategy"])
            why = _reason_good(r, place, others, metric, sp, best_sp, scored[0][0], tiers)
            standings.append(Standing(
                r["strategy"], place, others, True, sp.median if sp else None, sp.low if sp else None,
                sp.high if sp else None, why + (_not_tied(metric, sp, groups[k - 1]) if k else "")))
        place += len(g)
    for r in rows:
        if not _qualifies(r):
            standings.append(Standing(r["strategy"], None, (), False, r.get(metric), None, None,
                                      _reason_bad(r, tiers), skipped=r.get("status") == "skipped"))
    caveat = {r["strategy"]: r["not_predictive"] for r in rows if r.get("not_predictive")}
    standings = [replace(s, reason=f"{s.reason} Caveat: its virtual figures are not predictive of a real run "
                                   f"({caveat[s.strategy]}; docs/fidelity.md).") if s.strategy in caveat else s
                 for s in standings]
    best = tuple(s.strategy for s in standings if s.place == 1)
    why_none = None if best else _why_none(rows)
    return Verdict(scenario, fam, metric, best, why_none, tuple(standings))


def _not_tied(metric: str, sp: repeats.Spread | None, above: Sequence[tuple[Row, repeats.Spread | None]]) -> str:
    """When a strategy's score looks the same as the group above's at the shown precision but is not tied
    with it, the figures to 3 digits: the tie is judged on unrounded medians against the group's first."""
    lead_r, lead = above[0]
    shown = [_fmt(metric, s.median) for _, s in above if s is not None]
    if sp is None or lead is None or _fmt(metric, sp.median) not in shown:
        return ""
    unit = "" if metric == "efficiency" else "/s"
    fine = 3 if metric == "efficiency" else 2
    gap = 100 * (lead.median - sp.median) / lead.median if lead.median else 0.0
    return (f" Not tied with {lead_r['strategy']} though both show {_fmt(metric, sp.median)}: "
            f"{sp.median:.{fine}f}{unit} against {lead.median:.{fine}f}{unit}, {gap:.1f} % apart (more than 1 % "
            "and the repeats' range).")


def _tied(a: repeats.Spread | None, b: repeats.Spread | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a.median - b.median) <= max(a.width, b.width, TIE_FLOOR * abs(a.median))


def _why_none(rows: Sequence[Row]) -> str:
    skipped = sum(1 for r in rows if r.get("status") == "skipped")
    rows = [r for r in rows if r.get("status") != "skipped"]
    if not rows:
        return f"no strategy was run ({skipped} skipped)" if skipped else "no strategy was run"
    unfinished = [r for r in rows if r.get("status") != "ok" or r.get("completion") != 1.0]
    rejected = [r for r in rows if (r.get("policy_rejected") or 0) > 0]
    starving = [r for r in rows if (r.get("neighbour_rejected") or 0) > 0]
    parts = []
    if rejected:
        parts.append(f"{len(rejected)} of {len(rows)} had arrivals the API's policy rejects")
    if starving:
        parts.append(f"{len(starving)} of {len(rows)} made the API reject the neighbour's requests")
    if unfinished:
        parts.append(f"{len(unfinished)} of {len(rows)} did not finish every job")
    rest = len(rows) - len({r["strategy"] for r in rejected + unfinished + starving})
    if rest:
        parts.append(f"{rest} were not judged compliant (disturbed runs or incomplete server logs)")
    if skipped:
        parts.append(f"{skipped} skipped (not run)")
    return "; ".join(parts)


def _over(counts: Any, tiers: Sequence[Mapping[str, Any]]) -> tuple[float, Mapping[str, Any]] | None:
    """(count, tier) for the tier where ``counts`` (one per tier) is furthest over its limit ``L``."""
    if not isinstance(counts, list) or not tiers:
        return None
    over = [(c / t["limit"], c, t) for c, t in zip(counts, tiers, strict=False)
            if isinstance(t.get("limit"), int) and t["limit"] > 0 and c > t["limit"]]
    if not over:
        return None
    _, c, t = max(over, key=lambda x: x[0])
    return c, t


def _window_note(counts: Any, tiers: Sequence[Mapping[str, Any]], what: str) -> str | None:
    """"39 arrivals in the first 1 s window, over L = 20 per 1 s" for the tier furthest over, else ``None``."""
    hit = _over(counts, tiers)
    if hit is None:
        return None
    c, t = hit
    return f"{c:g} arrivals in {what} {t['window_s']:g} s window, over L = {t['limit']} per {t['window_s']:g} s"


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if len(names) <= 3 else f"{len(names)} others"


def _reason_bad(r: Row, tiers: Sequence[Mapping[str, Any]]) -> str:
    rejected = r.get("policy_rejected")
    if r.get("status") == "skipped":
        return f"skipped: {r.get('skipped') or 'no reason recorded'}"
    if r.get("status") != "ok":
        return f"did not finish (status {r.get('status')})."
    if r.get("completion") != 1.0:
        done = r.get("completion")
        pct = "–" if done is None else f"{done:.0%}"
        return (f"finished only {pct} of the jobs ({r.get('throttled') or 0} × 429, {r.get('errors') or 0} errors, "
                "not all retried to success).")
    if rejected:
        first = _window_note(r.get("first_window_count"), tiers, "the first")
        peak = _window_note(r.get("peak_window_count"), tiers, "one")
        cause = (f"{first}: bursts at start" if first else f"{peak}: bursts mid-run" if peak
                 else "more than the policy admits")
        retries = " and retries them" if (r.get("attempts") or 0) > (r.get("requests") or 0) else ""
        return f"the API's own policy rejects {rejected:g} of its arrivals{retries}: {cause}."
    if (neighbour := r.get("neighbour_rejected") or 0) > 0:
        return (f"the API rejected {neighbour:g} of the neighbour's requests on the shared key during its run: "
                "it took the neighbour's share of the quota.")
    if rejected is None and r.get("burst_ratio") is not None and r["burst_ratio"] > 1.0:
        return (f"not replayed through the policy (an older run), and over the limit in sliding-window terms "
                f"(burst {r['burst_ratio']:.2f}).")
    return "not judged compliant: a repeat was disturbed from outside or its server log was incomplete."


def _reason_good(r: Row, place: int, tied: tuple[str, ...], metric: str, sp: repeats.Spread | None,
                 best_sp: repeats.Spread | None, best: Row, tiers: Sequence[Mapping[str, Any]]) -> str:
    name = "efficiency" if metric == "efficiency" else "throughput"
    mine = _fmt(metric, sp.median if sp else None)
    burst = r.get("burst_ratio")
    first = _window_note(r.get("first_window_count"), tiers, "the first")
    style = (f"uses the policy's burst allowance ({first}) without a single rejection" if first and (burst or 0) > 1
             else "bursts above L per W mid-run where the policy admits it, without a rejection" if (burst or 0) > 1
             else "stays within L per W in every sliding window")
    if place == 1:
        tie = f", tied with {_names(tied)} (within the repeats' range or 1 %)" if tied else ""
        return f"best {name} among compliant runs ({mine}){tie}: it {style}."
    lead = _fmt(metric, best_sp.median if best_sp else None)
    tie = f" (tied with {_names(tied)})" if tied else ""
    why = ""
    if (best.get("burst_ratio") or 0) > 1.0 and (burst or 0) <= 1.0:
        why = ", leaving the policy's burst allowance unused"
    elif (r.get("latency_p99_ms") or 0) > 1.5 * (best.get("latency_p99_ms") or float("inf")):
        why = f", with a p99 latency of {r['latency_p99_ms']:.0f} ms against {best['latency_p99_ms']:.0f} ms"
    return f"compliant but slower{tie}: {name} {mine} against {lead} for the best; it {style}{why}."


# --------------------------------------------------------------------------------------------------
# Across scenarios


@dataclass(frozen=True)
class Pick:
    """The strategy to pick over some scenarios: ``choice`` (several when tied), its worst-case efficiency,
    and why (or why none)."""

    scenarios: tuple[str, ...]
    choice: tuple[str, ...]
    worst: float | None
    why: str


@dataclass(frozen=True)
class MatrixVerdict:
    verdicts: tuple[Verdict, ...]
    robust: Pick
    families: dict[str, Pick]


def across(verdicts: Sequence[Verdict]) -> MatrixVerdict:
    """The robust choice over every scenario, and the pick per family (:func:`pick`).

    >>> a = Verdict("x", "f", "efficiency", ("s",), None, (Standing("s", 1, (), True, 0.9, 0.9, 0.9, ""),))
    >>> b = Verdict("y", "g", "efficiency", ("s",), None, (Standing("s", 1, (), True, 0.7, 0.7, 0.7, ""),))
    >>> m = across([a, b])
    >>> m.robust.choice, m.robust.worst, sorted(m.families)
    (('s',), 0.7, ['f', 'g'])
    """
    fams: dict[str, list[Verdict]] = {}
    for v in verdicts:
        fams.setdefault(v.family, []).append(v)
    return MatrixVerdict(tuple(verdicts), pick(verdicts), {f: pick(vs) for f, vs in sorted(fams.items())})


def pick(verdicts: Sequence[Verdict]) -> Pick:
    """Among strategies that qualify in every one of ``verdicts``, the best worst-case efficiency (ties
    within 1 %); scenarios where efficiency is undefined count for qualifying only. When none qualifies
    everywhere: none, naming the strategy that qualifies in most of them and where it does not."""
    names = tuple(v.scenario for v in verdicts)
    strategies = sorted({s.strategy for v in verdicts for s in v.standings})
    if not verdicts or not strategies:
        return Pick(names, (), None, "no runs")
    everywhere = [s for s in strategies
                  if all((st := v.standing(s)) is not None and st.qualifies for v in verdicts)]
    if not everywhere:
        counts = {s: sum(1 for v in verdicts if (st := v.standing(s)) is not None and st.qualifies)
                  for s in strategies}
        top = max(counts.values())
        if top == 0:
            return Pick(names, (), None, "no strategy qualifies in any of these scenarios")
        closest = sorted(s for s, c in counts.items() if c == top)
        misses = [v.scenario for v in verdicts if not ((st := v.standing(closest[0])) and st.qualifies)]
        return Pick(names, (), None, f"no strategy is compliant and complete in all {len(verdicts)}; closest: "
                                     f"{', '.join(closest)} ({top} of {len(verdicts)}; not in {', '.join(misses)})")

    def worst(s: str) -> float | None:
        effs = [st.score for v in verdicts if v.metric == "efficiency" and (st := v.standing(s)) is not None
                and st.score is not None]
        return min(effs) if effs else None

    def key(s: str) -> tuple[float, str]:
        w = worst(s)
        return (-(w if w is not None else -1.0), s)

    scored = sorted(everywhere, key=key)
    w0 = worst(scored[0])
    scope = f"all {len(verdicts)} scenarios" if len(verdicts) > 1 else "its scenario"
    if w0 is None:  # then every one that qualifies everywhere is a choice: nothing ranks them
        return Pick(names, tuple(scored), None, f"compliant and complete in {scope}; no efficiency is defined there "
                                               "to rank by (docs/metrics.md)")
    tied = tuple(s for s in scored if (w := worst(s)) is not None and w0 - w <= TIE_FLOOR * w0)
    where = next((v.scenario for v in verdicts if v.metric == "efficiency"
                  and (st := v.standing(scored[0])) is not None and st.score == w0), "?")
    runner_up = next((s for s in scored if s not in tied), None)
    beat = (f"; next: {runner_up} (worst case {worst(runner_up):.2f})"
            if runner_up is not None and worst(runner_up) is not None else "")
    return Pick(names, tied, w0, f"compliant and complete in {scope}; worst-case efficiency {w0:.2f} (in {where})"
                                 f"{beat}")
