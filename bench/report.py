"""The ranked table, as Markdown (report.md) and as plain text for the terminal, under the verdict.

Ranking answers the project's question: who goes fastest *without crossing the limit*. The verdict
(:mod:`bench.verdict`) comes first: strategies that, in every repeat, finished, completed every job and had
no arrival the scenario's own policy rejects (``policy_rejected`` = 0, :mod:`bench.compliance`) rank by
makespan efficiency, ties (within the repeats' range) sharing a place; the rest follow, unranked, each with
the reason. With several repeats the table shows the median of each metric and its range [min–max].
"""

from __future__ import annotations

import base64
import html
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import compliance, process_figures, repeats, verdict
from bench.counters import report_lines as counter_lines
from bench.verdict import Verdict

Row = dict[str, Any]

def _f(digits: int) -> Callable[[Any], str]:
    return lambda v: "–" if v is None else f"{v:.{digits}f}"


def _i(v: Any) -> str:
    return "–" if v is None else str(round(v))


def _pct(v: Any) -> str:
    """A share as a whole percentage, rounded down: 999 of 1000 is 99 %, never 100 % (a shortfall shows).

    >>> [_pct(v) for v in (None, 0.0, 0.29, 0.999, 1.0)]
    ['–', '0%', '29%', '99%', '100%']
    """
    if v is None:
        return "–"
    # round() first: 0.29 * 100 is 28.999999999999996 in binary floating point.
    return f"{math.floor(round(v * 100, 6)) if v < 1 else 100}%"


def _counts(v: Any) -> str:
    return "–" if not v else "/".join(str(round(x)) for x in v)


COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("status", "status", str),
    ("completion", "done", _pct),
    ("throughput_rps", "rps", _f(1)),
    ("throttled", "429s", _i),
    ("errors", "errors", _i),
    ("policy_rejected", "policy rej.", _i),  # the API's own rule (bench.compliance)
    ("burst_ratio", "sliding burst", _f(2)),  # one sliding-window rule for every API: stricter
    ("peak_window_count", "peak win", _counts),
    ("first_window_count", "first win", _counts),
    ("efficiency", "effic.", _f(2)),
    ("latency_p50_ms", "p50 ms", _f(0)),
    ("latency_p99_ms", "p99 ms", _f(0)),
    ("cpu_s_per_1k", "CPU s/1k", _f(3)),
]


#: The precision each scalar column is shown at: a range narrower than this is not flagged (bench.repeats).
PRECISION = {"completion": 0.01, "throughput_rps": 0.1, "throttled": 1.0, "errors": 1.0, "policy_rejected": 1.0,
             "burst_ratio": 0.01, "efficiency": 0.01, "latency_p50_ms": 1.0, "latency_p99_ms": 1.0,
             "cpu_s_per_1k": 0.001}
#: Beside a figure whose repeats disagree (bench.repeats.Spread.unstable), explained under the table.
UNSTABLE = "‼"
SPREAD_NOTE = (f"With several repeats each figure is the median, with the range [min–max] of the repeats beside it "
               f"where they differ (the range, not the IQR: n is small). {UNSTABLE} = {repeats.ADVICE}.")


def _median(values: Sequence[Any]) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if isinstance(present[0], list):
        return [statistics.median(col) for col in zip(*present, strict=True)]
    return statistics.median(present)


def summarise(runs: Sequence[dict[str, Any]], meta: dict[str, Any] | None = None) -> list[Row]:
    """One row per strategy (median over repeats), in rank order. With the run's ``meta``, a virtual
    run's rows carry ``not_predictive`` (the reason) where fidelity runs found the strategy's virtual
    figures disagree with real ones."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by.setdefault(r["strategy"], []).append(r)
    rows: list[Row] = []
    for name, rs in by.items():
        statuses = sorted({r["status"] for r in rs})
        row: Row = {"strategy": name, "status": "/".join(statuses), "repeats": len(rs)}
        for key in rs[0]["metrics"]:
            row[key] = _median([r["metrics"].get(key) for r in rs])
        if len(rs) > 1:  # median and range of each scalar column (bench.repeats)
            row["spread"] = {key: sp for key in PRECISION
                             if (sp := repeats.Spread.of(r["metrics"].get(key) for r in rs)) is not None}
        # Medians could hide one bad repeat: compliance has to hold in every one; and a run others disturbed
        # (foreign traffic, outside resets) cannot vouch for it.
        row["compliant"] = all(compliant({"status": r["status"], **r["metrics"]}) and not disturbed(r) for r in rs)
        if row["status"] == "skipped":  # never run here (e.g. Redis in virtual time): not a failure, no figures
            row["skipped"] = next((str(r["error"]) for r in rs if r.get("error")), "no reason recorded")
        judged = [r["harness"] for r in rs if isinstance(r.get("harness"), dict)]
        row["harness"] = None if not judged else sum(1 for h in judged if h.get("harness_limited"))
        if (meta or {}).get("arrivals_source") == "client":  # run --target: no server log (bench.target)
            row["arrivals_source"] = "client"
        rows.append(row)
    rows.sort(key=_rank_key)
    flagged = virtual_verdicts(meta)[1] if meta else {}
    for i, row in enumerate(rows, 1):
        row["rank"] = i
        if row["strategy"] in flagged:
            row["not_predictive"] = flagged[row["strategy"]]
    return rows


def ranked(doc: dict[str, Any]) -> tuple[Verdict, list[Row]]:
    """The verdict (bench.verdict) and the rows in its order: the qualifying strategies by place, a tie
    sharing it (``=1``), then the rest (``–``: not ranked, see why) in :func:`summarise` order."""
    rows = summarise(doc["runs"], doc["meta"])
    v = verdict.of_run(doc, rows)
    order = {s.strategy: i for i, s in enumerate(v.standings)}
    for r in rows:
        st = v.standing(r["strategy"])
        r["rank"] = "–" if st is None else _place(st)
    rows.sort(key=lambda r: order.get(r["strategy"], len(order)))
    return v, rows


#: What the verdict ranks by, in words.
BY = {"efficiency": "efficiency",
      "throughput_rps": "throughput (efficiency is undefined for this scenario: docs/metrics.md)"}


def verdict_lines(v: Verdict) -> list[str]:
    """The verdict's Markdown: the headline, the rules it applies, then one line per strategy."""
    return [f"**{v.headline()}**", "",
            "Qualify: compliant by the API's own rule in every repeat (`policy rej.` 0), finished, every job done, "
            f"not disturbed. Ranked by {BY.get(v.metric, v.metric)}; "
            f"{verdict.TIE_RULE}."]


def _place(s: verdict.Standing) -> str:
    return "–" if s.place is None else ("=" if s.tied_with else "") + str(s.place)


def reasons(v: Verdict) -> list[str]:
    """One Markdown bullet per strategy: its place and why."""
    return [f"- `{s.strategy}` ({_place(s)}): {s.reason}" for s in v.standings]


def disturbed(run: Row) -> str | None:
    """Why a run's server-side figures include others' doings (``results.json`` per run), or ``None``.

    >>> disturbed({"foreign_arrivals": 60, "outside_resets": 0})
    '60 foreign arrivals'
    """
    foreign, resets = run.get("foreign_arrivals") or 0, run.get("outside_resets") or 0
    why = ([f"{foreign} foreign arrivals"] if foreign else []) + ([f"{resets} outside reset(s)"] if resets else [])
    return ", ".join(why) or None


def _disturbed_runs(runs: Sequence[Row]) -> list[tuple[str, int, str]]:
    return [(r["strategy"], r["repeat"], why) for r in runs if (why := disturbed(r))]


def virtual_verdicts(meta: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    """For a virtual run: a note on the whole run (schedule only) and the strategies whose virtual
    figures are not predictive of a real run (docs/fidelity.md), with the reason."""
    if meta.get("clock") != "virtual":
        return None, {}
    model = meta.get("netmodel")
    profile = model.get("profile") if isinstance(model, dict) else None
    if profile is None or profile == "none":
        return ("Virtual clock, schedule only (no network delay, no timer lateness): the strategies' schedules, "
                "not a prediction of a real run."), {}
    from bench import fidelity

    return None, fidelity.not_predictive(str(meta.get("scenario", {}).get("name", "")))


def compliant(run: Row) -> bool:
    """Finished, every job done, and no arrival the scenario's own policy would reject.

    Compliance is the server's verdict: ``policy_rejected`` (the run's arrivals replayed
    through a fresh copy of the enforced policy, :mod:`bench.compliance`) must be 0. A token-bucket burst
    with 0 × 429 is compliant though its sliding-window ``burst_ratio`` is over 1. A run that was not
    replayed (written before the replay existed: no ``policy_rejected``, or ``null`` with a burst ratio)
    is judged by the stricter sliding-window rule, ``burst_ratio`` ≤ 1. A withheld burst ratio and no
    replay (the server's arrival log was incomplete, docs/metrics.md) cannot vouch that the limit held,
    so such a run is not compliant either; the run's ``error`` says why the figure was withheld. A run during
    which the API rejected requests of the scenario's noisy neighbour (``neighbour_rejected`` > 0) is not
    compliant: the key's quota is shared, and the run's traffic took the neighbour's share.

    >>> compliant({"status": "ok", "completion": 1.0, "policy_rejected": 0, "burst_ratio": 2.0})
    True
    >>> compliant({"status": "ok", "completion": 1.0, "burst_ratio": 1.0})
    True
    >>> compliant({"status": "ok", "completion": 1.0, "burst_ratio": None})
    False
    >>> compliant({"status": "ok", "completion": 1.0, "policy_rejected": 0, "neighbour_rejected": 3})
    False
    """
    if run["status"] != "ok" or run.get("completion") != 1.0:
        return False
    if (run.get("neighbour_rejected") or 0) > 0:
        return False
    judged = run.get("policy_rejected")
    if judged is not None:
        return bool(judged == 0)
    burst = run.get("burst_ratio")
    return burst is not None and burst <= 1.0


def _rank_key(row: Row) -> tuple[Any, ...]:
    return (
        not row["compliant"],
        row["status"] != "ok",
        -(row.get("completion") or 0.0),
        row.get("throttled") or 0,
        -(row.get("efficiency") or 0.0),
        -(row.get("throughput_rps") or 0.0),
        row["strategy"],
    )


#: Figures a slow harness makes its own: marked beside the number when a repeat was harness-limited.
TAINTED = frozenset({"throughput_rps", "latency_p50_ms", "latency_p99_ms"})
#: The mark, explained under every table that shows it.
MARK = "†"
LEGEND = (f"{MARK} harness-limited: in this many repeats the harness's own lag exceeded its bound "
          "(docs/metrics.md, \"Harness lag\"): the marked rate and latency figures are the harness's, "
          "not the strategy's.")


def _harness_cell(row: Row) -> str:
    k = row.get("harness")
    if k is None:
        return "–"
    return "ok" if k == 0 else f"{MARK} harness-limited {k}/{row['repeats']}"


#: Figures counted from server arrivals: from the client's send times instead in a ``--target`` run.
CLIENT_SIDE = frozenset({"burst_ratio", "peak_window_count", "first_window_count"})
CLIENT_MARK = "‡"
CLIENT_LEGEND = (f"{CLIENT_MARK} from client send times: a --target run has no server arrival log, so the marked "
                 "window counts and burst ratios count when the client sent each request, not when the server "
                 "received it (docs/target.md).")


def client_legend(rows: Sequence[Row]) -> list[str]:
    """The legend of :data:`CLIENT_MARK`, when a row carries it."""
    return [CLIENT_LEGEND] if any(r.get("arrivals_source") == "client" for r in rows) else []


#: Latency covers the jobs sent and done only: beside it when jobs gave up, so few fast jobs do not look best.
LATENCY = frozenset({"latency_p50_ms", "latency_p99_ms"})
GAVE_UP_MARK = "§"


def _gave_up(row: Row) -> float:
    return float((row.get("jobs_dropped") or 0) + (row.get("jobs_cancelled") or 0))


def gave_up_legend(rows: Sequence[Row]) -> list[str]:
    """The legend of :data:`GAVE_UP_MARK`: per marked row, how many jobs its latency covers.

    >>> gave_up_legend([{"strategy": "a", "requests": 10, "jobs_dropped": 7, "jobs_cancelled": 1},
    ...                 {"strategy": "b", "requests": 10, "jobs_dropped": 0}])
    ['§ latency of the jobs sent only (docs/metrics.md): a: latency of the 2 jobs done; 8 gave up.']
    """
    marked = [(r["strategy"], _n(r.get("requests") or 0) - _n(_gave_up(r)), _n(_gave_up(r))) for r in rows
              if _gave_up(r) and r.get("status") != "skipped"]
    if not marked:
        return []
    return [f"{GAVE_UP_MARK} latency of the jobs sent only (docs/metrics.md): "
            + "; ".join(f"{s}: latency of the {n:g} jobs done; {m:g} gave up" for s, n, m in marked) + "."]


def _n(v: float) -> float:
    return round(float(v), 1)  # a median over repeats may be a half


def _cells(row: Row) -> list[str]:
    mark = f" {MARK}" if row.get("harness") else ""
    client = f" {CLIENT_MARK}" if row.get("arrivals_source") == "client" else ""
    gave_up = f" {GAVE_UP_MARK}" if _gave_up(row) else ""
    name = row["strategy"] + (" †" if row.get("not_predictive") else "")
    if row.get("status") == "skipped":  # never run: no figure at all, not "0 % done" (why: under the table)
        return [str(row["rank"]), name, "skipped", *("–" for _ in COLUMNS[1:]), "–"]
    return [str(row["rank"]), name,
            *(fmt(row.get(key)) + _range(row, key, fmt) + (mark if key in TAINTED else "")
              + (client if key in CLIENT_SIDE else "") + (gave_up if key in LATENCY else "")
              for key, _, fmt in COLUMNS),
            _harness_cell(row)]


def _range(row: Row, key: str, fmt: Callable[[Any], str]) -> str:
    """`` [low–high]`` after a median whose repeats differ at the shown precision, and the flag if unstable."""
    sp = (row.get("spread") or {}).get(key)
    if sp is None or fmt(sp.low) == fmt(sp.high):
        return ""
    return f" [{fmt(sp.low)}–{fmt(sp.high)}]" + (f" {UNSTABLE}" if sp.unstable(PRECISION[key]) else "")


def unstable(rows: Sequence[Row]) -> list[tuple[str, str]]:
    """(strategy, column header) of every figure flagged unstable, for the note under the table."""
    heads = {key: head for key, head, _ in COLUMNS}
    return [(r["strategy"], heads[k]) for r in rows for k, sp in (r.get("spread") or {}).items()
            if k in heads and sp.unstable(PRECISION[k])]


NOT_PREDICTIVE = "† virtual figures not predictive of a real run (docs/fidelity.md):"


def neighbour_note(rows: Sequence[Row]) -> str | None:
    """The line under the table naming the runs during which the API rejected the noisy neighbour's requests
    (``neighbour_rejected``, the median over repeats), or ``None`` when there were none.

    >>> neighbour_note([{"strategy": "a", "neighbour_rejected": 10}, {"strategy": "b", "neighbour_rejected": 0}])
    "Neighbour's requests the API rejected during the run (the key's quota is shared: not compliant): a 10."
    """
    hit = [(r["strategy"], r["neighbour_rejected"]) for r in rows if (r.get("neighbour_rejected") or 0) > 0]
    if not hit:
        return None
    return ("Neighbour's requests the API rejected during the run (the key's quota is shared: not compliant): "
            + ", ".join(f"{s} {_i(n)}" for s, n in hit) + ".")


def _footnotes(rows: Sequence[Row]) -> list[tuple[str, str]]:
    return [(r["strategy"], r["not_predictive"]) for r in rows if r.get("not_predictive")]


def reject_status(meta: dict[str, Any] | None) -> int:
    """The status the run's server rejects with (``[server.headers] reject_status``: 429, or 403 as GitHub)."""
    try:
        status = (meta or {})["resolved"]["server"]["headers"]["reject_status"]
    except (KeyError, TypeError):
        return 429
    return status if isinstance(status, int) and not isinstance(status, bool) else 429


def _headers(reject: int = 429) -> list[str]:
    # The throttled column is named after the status the server rejects with ("403s" for a GitHub-like API).
    return ["#", "strategy", *(f"{reject}s" if key == "throttled" else h for key, h, _ in COLUMNS), "harness"]


def harness_notes(doc: dict[str, Any]) -> list[str]:
    """One line per harness-limited run (which lag, how far over its bound), then the harness-ceiling warning."""
    from bench.harness_lag import HarnessLag

    notes = []
    for r in doc["runs"]:
        h = r.get("harness")
        if not isinstance(h, dict) or not h.get("harness_limited"):
            continue
        lag = HarnessLag.from_dict(h)
        over = ", ".join(f"{n} p50 {s.p50_ms:.1f} ms (p99 {s.p99_ms:.1f})" if n == "transit"
                         else f"{n} p99 {s.p99_ms:.1f} ms (max {s.max_ms:.1f})" for n, s in lag.worst)
        notes.append(f"{r['strategy']} repeat {r['repeat']}: harness-limited — {over} > {lag.bound_ms:g} ms")
    cal = doc["meta"].get("ceiling")
    if isinstance(cal, dict) and cal.get("warning"):
        notes.append(f"harness ceiling: {cal['warning']}")
    return notes


def markdown_table(rows: Sequence[Row], reject: int = 429) -> str:
    head = _headers(reject)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def text_table(rows: Sequence[Row], reject: int = 429) -> str:
    table = [_headers(reject), *(_cells(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    out = []
    for n, r in enumerate(table):
        out.append("  ".join(c.rjust(w) if i not in (1, 2) else c.ljust(w) for i, (c, w) in
                             enumerate(zip(r, widths, strict=True))).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    if neighbour := neighbour_note(rows):
        out += ["", neighbour]
    if gave_up := gave_up_legend(rows):
        out += ["", *gave_up]
    notes = _footnotes(rows)
    if notes:
        out += ["", NOT_PREDICTIVE, *(f"  {s}: {why}" for s, why in notes)]
    return "\n".join(out)


#: What each chart (bench.charts) shows, under it in the report.
CAPTIONS = {
    "charts/burst.png": "Burst accuracy: for each strategy (rank order), the server arrivals in the trailing window "
                        "W at every arrival, against each quota tier's limit L (dashed; one column per tier). Red "
                        "marks arrivals the tier's own policy rejects; amber is over L but legal for that policy "
                        "(a token bucket's burst, up to the dotted line): over the stricter sliding-window rule only.",
    "charts/latency_cdf.png": "Latency from intended send time: the share of the workload's jobs done (final "
                              "attempt 2xx) within x ms; a curve that ends below 1 did not finish every job.",
    "charts/frontier.png": "Efficiency against 429s: one point per strategy, filled when compliant; the best sit "
                           "top left (as fast as the policy allows, no 429s).",
}


#: Under the table when a tier counts tokens (issue 13): its window counts are sums of costs.
TOKENS_NOTE = ("Token tiers (`unit = \"tokens\"`) count units, not requests: their `peak win` / `first win` are "
               "the sums of the arrivals' declared costs, and their burst is that sum ÷ the tier's token limit. "
               "The burst chart draws the request tiers only.")


#: Above the strategies' own counters (bench.counters).
COUNTERS_NOTE = ("Non-zero counters the strategies reported themselves (no server log shows them): "
                 "`capped_hints` = rate-limit header waits (Retry-After, reset) longer than the strategy's cap, "
                 "cut to it.")


def render_markdown(doc: dict[str, Any], charts: Sequence[str] = ()) -> str:
    meta = doc["meta"]
    sc = meta["scenario"]
    v, rows = ranked(doc)
    run_note = virtual_verdicts(meta)[0]
    parts = [
        f"# ratebench: {sc.get('name', '?')}",
        "",
        sc.get("description", ""),
        "",
        f"- clock: {meta['clock']}, transport: {meta['transport']}, repeats: {meta['repeat']}",
        f"- python {meta['python']} on {meta['platform']}, git {meta['git_sha']}",
        f"- created {meta['created_utc']}" + ("" if doc.get("complete") else " — **INCOMPLETE run**"),
        *([f"- target: {meta['target'].get('url')} (no mock server: arrivals from client send times)"]
          if isinstance(meta.get("target"), dict) else []),
        "",
        "## Verdict",
        "",
        *verdict_lines(v),
        *(["", f"**{run_note}**"] if run_note else []),
        "",
        "## Strategies",
        "",
        f"`#` = place among the strategies that qualify (`=` tied), `–` = does not qualify (why: below). "
        f"{compliance.POLICY_RULE}. {compliance.SLIDING_RULE}. `peak win` and `first win` = arrivals in the "
        "busiest and the first window, per tier; latency from intended send time. Definitions: docs/metrics.md.",
        "",
        markdown_table(rows, reject_status(meta)),
        *(["", *client_legend(rows)] if client_legend(rows) else []),
        *(["", *gave_up_legend(rows)] if gave_up_legend(rows) else []),
        *(["", neighbour] if (neighbour := neighbour_note(rows)) else []),
    ]
    if any(r.get("spread") for r in rows):
        parts += ["", SPREAD_NOTE]
        if flagged := unstable(rows):
            parts += ["", f"{UNSTABLE} unstable: " + ", ".join(f"`{s}` {h}" for s, h in flagged)]
    parts += ["", "## Why each strategy ranked where it did", "", *reasons(v)]
    quota = meta.get("resolved", {}).get("server", {}).get("quota", [])
    if any(q.get("unit") == "tokens" for q in quota):
        parts += ["", TOKENS_NOTE]
    notes = harness_notes(doc)
    if any(r.get("harness") for r in rows) or notes:
        parts += ["", LEGEND]
    if notes:
        parts += ["", "## The harness's own limits", ""] + [f"- {n}" for n in notes]
    unpredictive = _footnotes(rows)
    if unpredictive:
        parts += ["", NOT_PREDICTIVE, ""] + [f"- `{s}`: {why}" for s, why in unpredictive]
    from bench import client_side  # issue 11: loop lag, client-side windows, give-ups (shown when telling)

    parts += client_side.section(doc["runs"])
    errors = [(r["strategy"], r["repeat"], r["status"], r["error"]) for r in doc["runs"] if r.get("error")]
    if errors:
        parts += ["", "## Runs that did not finish, and figures withheld", ""]
        parts += [f"- `{s}` repeat {k}: **{st}** — {e}" for s, k, st, e in errors]
    if bad := _disturbed_runs(doc["runs"]):
        parts += ["", "## Runs disturbed from outside", "",
                  "Someone else's requests reached the mock server, or reset it, during these runs: their server-side "
                  "figures are not the strategy's alone (not ranked compliant). Run again on a quiet machine.", ""]
        parts += [f"- `{s}` repeat {k}: {why}" for s, k, why in bad]
    if counted := counter_lines(doc["runs"]):
        parts += ["", "## What the strategies counted", "", COUNTERS_NOTE, ""] + [f"- {c}" for c in counted]
    if charts:
        parts += ["", "## Charts", ""]
        for c in charts:
            parts += [f"![{c}]({c})", "", CAPTIONS.get(c, ""), ""]
    return "\n".join(parts) + "\n"


def image_src(chart: str, base: Path | None) -> str:
    """What an ``<img src>`` holds for ``chart`` (a path relative to the run directory): with ``base``
    (the run directory), the PNG itself as a ``data:`` URI, so the page needs no other file and no
    network; without it, the relative path.

    >>> image_src("charts/x.png", None)
    'charts/x.png'
    """
    if base is None:
        return chart
    return "data:image/png;base64," + base64.b64encode((base / chart).read_bytes()).decode("ascii")


def render_html(doc: dict[str, Any], charts: Sequence[str] = (), base: Path | None = None) -> str:
    """The same content as :func:`render_markdown`, as one HTML page; with ``base`` (the run directory)
    the charts are embedded (:func:`image_src`), so the page is self-contained."""
    meta = doc["meta"]
    sc = meta["scenario"]
    v, rows = ranked(doc)
    esc = html.escape
    run_note = virtual_verdicts(meta)[0]
    why = "".join(f"<li><code>{esc(s.strategy)}</code> ({esc(_place(s))}): {esc(s.reason)}</li>" for s in v.standings)
    rule = esc(verdict_lines(v)[2].replace("`", ""))
    spread = (f"<p>{esc(SPREAD_NOTE)}</p>" + (f"<p>{UNSTABLE} unstable: " + esc(", ".join(
        f"{s} {h}" for s, h in unstable(rows))) + "</p>" if unstable(rows) else "")
              if any(r.get("spread") for r in rows) else "")
    unpredictive = "".join(f"<li><code>{esc(s)}</code>: {esc(why)}</li>" for s, why in _footnotes(rows))
    head = "".join(f"<th>{esc(h)}</th>" for h in _headers(reject_status(doc["meta"])))
    body = "".join(
        f"<tr class=\"{'ok' if r['compliant'] else 'over'}\">" + "".join(f"<td>{esc(c)}</td>" for c in _cells(r))
        + "</tr>"
        for r in rows
    )
    errors = "".join(
        f"<li><code>{esc(r['strategy'])}</code> repeat {r['repeat']}: <b>{esc(r['status'])}</b> — {esc(r['error'])}"
        "</li>"
        for r in doc["runs"] if r.get("error")
    )
    bad = "".join(f"<li><code>{esc(s)}</code> repeat {k}: {esc(why)}</li>"
                  for s, k, why in _disturbed_runs(doc["runs"]))
    images = "".join(f'<figure><img src="{esc(image_src(c, base))}" alt="{esc(c)}" style="max-width:100%">'
                     f"<figcaption>{esc(CAPTIONS.get(c, ''))}</figcaption></figure>" for c in charts)
    from bench import client_side  # issue 11 (see render_markdown)

    notes = harness_notes(doc)
    harness = (f"<p>{esc(LEGEND)}</p>" if any(r.get("harness") for r in rows) or notes else "") + (
        "<h2>The harness's own limits</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
        if notes else "")
    incomplete = "" if doc.get("complete") else " — <b>INCOMPLETE run</b>"
    counted = "".join(f"<li>{esc(c)}</li>" for c in counter_lines(doc["runs"]))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ratebench: {esc(sc.get('name', '?'))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
td:nth-child(2), td:nth-child(3) {{ text-align: left; }}
tr.over td {{ color: #8a2a2a; }}
</style></head><body>
<h1>ratebench: {esc(sc.get('name', '?'))}</h1>
<p>{esc(sc.get('description', ''))}</p>
<p>clock: {esc(meta['clock'])}, transport: {esc(meta['transport'])}, repeats: {meta['repeat']};
python {esc(meta['python'])} on {esc(meta['platform'])}, git {esc(str(meta['git_sha']))};
created {esc(meta['created_utc'])}{incomplete}</p>
<h2>Verdict</h2>
<p class="verdict"><b>{esc(v.headline())}</b></p>
<p>{rule}</p>
{f"<p><b>{esc(run_note)}</b></p>" if run_note else ""}
<h2>Strategies</h2>
<p># = place among the strategies that qualify (= tied), – = does not qualify (in red; why: below).
{esc(compliance.POLICY_RULE.replace("`", ""))}. {esc(compliance.SLIDING_RULE.replace("`", ""))}.
Definitions: docs/metrics.md.</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
{"".join(f"<p>{esc(n)}</p>" for n in client_legend(rows) + gave_up_legend(rows))}
{f"<p>{esc(neighbour)}</p>" if (neighbour := neighbour_note(rows)) else ""}
{spread}
<h2>Why each strategy ranked where it did</h2><ul>{why}</ul>
{harness}
{client_side.html_section(doc["runs"])}
{process_figures.html_section(doc)}
{f"<p>{esc(NOT_PREDICTIVE)}</p><ul>{unpredictive}</ul>" if unpredictive else ""}
{f"<h2>Runs that did not finish, and figures withheld</h2><ul>{errors}</ul>" if errors else ""}
{f"<h2>Runs disturbed from outside</h2><p>Others' requests or resets reached the server: not ranked compliant."
   f"</p><ul>{bad}</ul>" if bad else ""}
{f"<h2>What the strategies counted</h2><p>{esc(COUNTERS_NOTE)}</p><ul>{counted}</ul>" if counted else ""}
{f"<h2>Charts</h2>{images}" if images else ""}
</body></html>
"""
