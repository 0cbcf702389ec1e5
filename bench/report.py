"""The ranked table, as Markdown (report.md) and as plain text for the terminal.

Ranking answers the project's question: who goes fastest *without crossing the limit*. Strategies
that, in every repeat, finished, completed every job and never exceeded the enforced quota at the
server (burst ratio ≤ 1) rank first, by makespan efficiency (then throughput); the rest follow,
fewest 429s first. With several repeats the table shows the median of each metric.
"""

from __future__ import annotations

import base64
import html
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import process_figures

Row = dict[str, Any]

def _f(digits: int) -> Callable[[Any], str]:
    return lambda v: "–" if v is None else f"{v:.{digits}f}"


def _i(v: Any) -> str:
    return "–" if v is None else str(round(v))


def _counts(v: Any) -> str:
    return "–" if not v else "/".join(str(round(x)) for x in v)


COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("status", "status", str),
    ("completion", "done", lambda v: "–" if v is None else f"{v:.0%}"),
    ("throughput_rps", "rps", _f(1)),
    ("throttled", "429s", _i),
    ("errors", "errors", _i),
    ("burst_ratio", "burst", _f(2)),
    ("peak_window_count", "peak win", _counts),
    ("first_window_count", "first win", _counts),
    ("efficiency", "effic.", _f(2)),
    ("latency_p50_ms", "p50 ms", _f(0)),
    ("latency_p99_ms", "p99 ms", _f(0)),
    ("cpu_s_per_1k", "CPU s/1k", _f(3)),
]


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
            row[key] = _median([r["metrics"][key] for r in rs])
        # Medians could hide one bad repeat: compliance has to hold in every one; and a run others disturbed
        # (foreign traffic, outside resets) cannot vouch for it.
        row["compliant"] = all(compliant({"status": r["status"], **r["metrics"]}) and not disturbed(r) for r in rs)
        judged = [r["harness"] for r in rs if isinstance(r.get("harness"), dict)]
        row["harness"] = None if not judged else sum(1 for h in judged if h.get("harness_limited"))
        rows.append(row)
    rows.sort(key=_rank_key)
    flagged = virtual_verdicts(meta)[1] if meta else {}
    for i, row in enumerate(rows, 1):
        row["rank"] = i
        if row["strategy"] in flagged:
            row["not_predictive"] = flagged[row["strategy"]]
    return rows


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
    """Finished, every job done, and never more arrivals in a window than the enforced limit.

    (Window counts are sliding-window terms, DESIGN §4: against a fixed-window or token-bucket server
    a run can exceed them without a single 429, and is then not counted compliant.) A withheld burst
    ratio (null: the server's arrival log was incomplete, docs/metrics.md) cannot vouch that the limit held,
    so such a run is not compliant either; the run's ``error`` says why the figure was withheld.

    >>> compliant({"status": "ok", "completion": 1.0, "burst_ratio": 1.0})
    True
    >>> compliant({"status": "ok", "completion": 1.0, "burst_ratio": None})
    False
    """
    burst = run.get("burst_ratio")
    return run["status"] == "ok" and run.get("completion") == 1.0 and burst is not None and burst <= 1.0


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


def _cells(row: Row) -> list[str]:
    mark = f" {MARK}" if row.get("harness") else ""
    name = row["strategy"] + (" †" if row.get("not_predictive") else "")
    return [str(row["rank"]), name,
            *(fmt(row.get(key)) + (mark if key in TAINTED else "") for key, _, fmt in COLUMNS),
            _harness_cell(row)]


NOT_PREDICTIVE = "† virtual figures not predictive of a real run (docs/fidelity.md):"


def _footnotes(rows: Sequence[Row]) -> list[tuple[str, str]]:
    return [(r["strategy"], r["not_predictive"]) for r in rows if r.get("not_predictive")]


def _headers() -> list[str]:
    return ["#", "strategy", *(h for _, h, _ in COLUMNS), "harness"]


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


def markdown_table(rows: Sequence[Row]) -> str:
    head = _headers()
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def text_table(rows: Sequence[Row]) -> str:
    table = [_headers(), *(_cells(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    out = []
    for n, r in enumerate(table):
        out.append("  ".join(c.rjust(w) if i not in (1, 2) else c.ljust(w) for i, (c, w) in
                             enumerate(zip(r, widths, strict=True))).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = _footnotes(rows)
    if notes:
        out += ["", NOT_PREDICTIVE, *(f"  {s}: {why}" for s, why in notes)]
    return "\n".join(out)


#: What each chart (bench.charts) shows, under it in the report.
CAPTIONS = {
    "charts/burst.png": "Burst accuracy: for each strategy (rank order), the server arrivals in the trailing window "
                        "W at every arrival, against each quota tier's limit L (dashed). Red = more than L in some "
                        "window of W: over the limit in sliding-window terms.",
    "charts/latency_cdf.png": "Latency from intended send time: the share of the workload's jobs done (final "
                              "attempt 2xx) within x ms; a curve that ends below 1 did not finish every job.",
}


#: Under the table when a tier counts tokens (issue 13): its window counts are sums of costs.
TOKENS_NOTE = ("Token tiers (`unit = \"tokens\"`) count units, not requests: their `peak win` / `first win` are "
               "the sums of the arrivals' declared costs, and their burst is that sum ÷ the tier's token limit. "
               "The burst chart draws the request tiers only.")


def render_markdown(doc: dict[str, Any], charts: Sequence[str] = ()) -> str:
    meta = doc["meta"]
    sc = meta["scenario"]
    rows = summarise(doc["runs"], meta)
    run_note = virtual_verdicts(meta)[0]
    parts = [
        f"# ratebench: {sc.get('name', '?')}",
        "",
        sc.get("description", ""),
        "",
        f"- clock: {meta['clock']}, transport: {meta['transport']}, repeats: {meta['repeat']}",
        f"- python {meta['python']} on {meta['platform']}, git {meta['git_sha']}",
        f"- created {meta['created_utc']}" + ("" if doc.get("complete") else " — **INCOMPLETE run**"),
        "",
        "Ranked: finished, complete and never over the enforced quota at the server first (by efficiency), "
        "then the rest. `burst` = most server arrivals in any window ÷ limit (≤ 1.00 never over); `peak win` and "
        "`first win` = arrivals in the busiest and the first window, per tier; latency from intended send time. "
        "Definitions: docs/metrics.md.",
        *(["", f"**{run_note}**"] if run_note else []),
        "",
        markdown_table(rows),
    ]
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
    parts += process_figures.markdown(doc)  # a --processes N run: each client process's own figures
    errors = [(r["strategy"], r["repeat"], r["status"], r["error"]) for r in doc["runs"] if r.get("error")]
    if errors:
        parts += ["", "## Runs that did not finish, and figures withheld", ""]
        parts += [f"- `{s}` repeat {k}: **{st}** — {e}" for s, k, st, e in errors]
    if bad := _disturbed_runs(doc["runs"]):
        parts += ["", "## Runs disturbed from outside", "",
                  "Someone else's requests reached the mock server, or reset it, during these runs: their server-side "
                  "figures are not the strategy's alone (not ranked compliant). Run again on a quiet machine.", ""]
        parts += [f"- `{s}` repeat {k}: {why}" for s, k, why in bad]
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
    rows = summarise(doc["runs"], meta)
    esc = html.escape
    run_note = virtual_verdicts(meta)[0]
    unpredictive = "".join(f"<li><code>{esc(s)}</code>: {esc(why)}</li>" for s, why in _footnotes(rows))
    head = "".join(f"<th>{esc(h)}</th>" for h in _headers())
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
    notes = harness_notes(doc)
    harness = (f"<p>{esc(LEGEND)}</p>" if any(r.get("harness") for r in rows) or notes else "") + (
        "<h2>The harness's own limits</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
        if notes else "")
    incomplete = "" if doc.get("complete") else " — <b>INCOMPLETE run</b>"
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
<p>Ranked: finished, complete and never over the enforced quota at the server first (by efficiency), then the
rest (in red). Definitions: docs/metrics.md.</p>
{f"<p><b>{esc(run_note)}</b></p>" if run_note else ""}
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
{harness}
{process_figures.html_section(doc)}
{f"<p>{esc(NOT_PREDICTIVE)}</p><ul>{unpredictive}</ul>" if unpredictive else ""}
{f"<h2>Runs that did not finish, and figures withheld</h2><ul>{errors}</ul>" if errors else ""}
{f"<h2>Runs disturbed from outside</h2><p>Others' requests or resets reached the server: not ranked compliant."
   f"</p><ul>{bad}</ul>" if bad else ""}
{f"<h2>Charts</h2>{images}" if images else ""}
</body></html>
"""
