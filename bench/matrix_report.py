"""The matrix report: one page over several scenarios' runs — per-scenario verdicts, the robust choice,
the strategy to pick per scenario family, and a strategies × scenarios table of efficiency.

Layout read (``ratebench run --scenario all`` writes it): ``<matrix_dir>/matrix.json``
(``{"schema": 1, "kind": "matrix", "scenarios": [...], ...}``) and one ordinary run directory per
scenario, ``<matrix_dir>/<run>/results.json``. Written: ``<matrix_dir>/report.md`` and a self-contained
``<matrix_dir>/report.html`` (images embedded, nothing fetched).

>>> cell(Standing("s", 1, (), True, 0.712, 0.7, 0.72, ""), "efficiency")
'0.71'
>>> cell(Standing("s", None, (), False, 0.9, None, None, ""), "efficiency")
'0.90 ✗'
"""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import report, results, verdict
from bench.verdict import MatrixVerdict, Standing, Verdict

__all__ = ["CHARTS", "HEATMAP", "MARK", "Heatmap", "cell", "heatmap_data", "load", "render_html",
           "render_markdown", "write"]

#: Where the heat map image goes (strategies × scenarios, colour = efficiency, marked where not compliant),
#: relative to the matrix directory; drawn from :func:`heatmap_data` by ``bench.plots`` (wired at merge).
HEATMAP = "charts/heatmap.png"
#: Every chart the matrix report shows when the file exists, with its caption, in this order.
CHARTS = {
    HEATMAP: "Efficiency per strategy (rows) and scenario (columns); a crossed cell was not compliant by that API's "
             "own policy or did not finish every job.",
    "charts/frontier.png": "Efficiency against 429s per strategy and scenario: the best strategies sit in one corner.",
}
#: Beside an efficiency whose run did not qualify (not compliant, or not every job done).
MARK = "✗"


@dataclass(frozen=True)
class Heatmap:
    """What the heat map draws: ``values[i][j]`` = median efficiency of ``strategies[i]`` in ``scenarios[j]``
    (``None``: undefined or not run), ``qualifies[i][j]`` whether that run was compliant and complete."""

    strategies: tuple[str, ...]
    scenarios: tuple[str, ...]
    values: tuple[tuple[float | None, ...], ...]
    qualifies: tuple[tuple[bool, ...], ...]
    #: ``ran[i][j]``: the strategy was run in that scenario (false: not in it, or ``skipped`` there); () = all ran.
    ran: tuple[tuple[bool, ...], ...] = ()


def load(matrix_dir: Path) -> tuple[dict[str, Any], list[tuple[Path, dict[str, Any]]], list[str]]:
    """``matrix.json`` (``{}`` without one), the run directories with their ``results.json`` (in the order
    ``matrix.json`` lists the scenarios, then by name), and one note per directory that could not be read."""
    matrix_dir = Path(matrix_dir)
    manifest: dict[str, Any] = {}
    notes: list[str] = []
    mpath = matrix_dir / "matrix.json"
    if mpath.exists():
        try:
            loaded = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise results.BadRunFile(f"{mpath}: cannot read it: {e}") from None
        if not isinstance(loaded, dict) or loaded.get("kind") != "matrix":
            raise results.BadRunFile(f"{mpath}: not a matrix manifest (\"kind\": \"matrix\" missing)")
        manifest = loaded
    runs: list[tuple[Path, dict[str, Any]]] = []
    for sub in sorted(p for p in matrix_dir.iterdir() if (p / "results.json").is_file()):
        try:
            runs.append((sub, results.load(sub)))
        except (ValueError, OSError) as e:
            notes.append(f"{sub.name}: not included ({e})")
    order = [s if isinstance(s, str) else str(s.get("name", "")) if isinstance(s, dict) else ""
             for s in manifest.get("scenarios", [])]

    def position(item: tuple[Path, dict[str, Any]]) -> tuple[int, str]:
        name = str(item[1]["meta"]["scenario"].get("name", ""))
        return (order.index(name) if name in order else len(order), name)

    runs.sort(key=position)
    return manifest, runs, notes


def cell(s: Standing | None, metric: str) -> str:
    """A table cell: the score (efficiency, or throughput where efficiency is undefined), ``✗`` when the run
    did not qualify, ``–`` when the strategy was not run there, ``skipped`` when it was skipped there.

    >>> cell(Standing("s", None, (), False, None, None, None, "skipped: needs redis", skipped=True), "efficiency")
    'skipped'
    """
    if s is None:
        return "–"
    if s.skipped:
        return "skipped"
    v = "–" if s.score is None else f"{s.score:.2f}" if metric == "efficiency" else f"{s.score:.1f}/s"
    return v if s.qualifies else f"{v} {MARK}"


def heatmap_data(m: MatrixVerdict) -> Heatmap:
    """The heat map's matrix: every strategy run anywhere (robust choice first, then by name) × scenario.
    Scores where a scenario ranks by throughput are left out (``None``): the colour is efficiency."""
    scen = tuple(v.scenario for v in m.verdicts)
    names = sorted({s.strategy for v in m.verdicts for s in v.standings},
                   key=lambda n: (n not in m.robust.choice, n))
    values = tuple(tuple((st.score if (st := v.standing(n)) is not None and v.metric == "efficiency" else None)
                         for v in m.verdicts) for n in names)
    ok = tuple(tuple(bool((st := v.standing(n)) is not None and st.qualifies) for v in m.verdicts) for n in names)
    ran = tuple(tuple(bool((st := v.standing(n)) is not None and not st.skipped) for v in m.verdicts)
                for n in names)
    return Heatmap(tuple(names), scen, values, ok, ran)


def draw_heatmap(path: Path, h: Heatmap) -> Path:
    """Draw ``h`` with :func:`bench.plots.heatmap` (the only matplotlib importer): a cell is crossed where
    the strategy did not qualify there, by the same rule as the verdict."""
    from bench import plots

    # A cell the strategy was not run in (absent, or skipped there) is left out: plots draws it "no run".
    eff = {(s, c): h.values[i][j] for i, s in enumerate(h.strategies) for j, c in enumerate(h.scenarios)
           if not h.ran or h.ran[i][j]}
    ok = {(s, c): h.qualifies[i][j] for i, s in enumerate(h.strategies) for j, c in enumerate(h.scenarios)}
    path.parent.mkdir(parents=True, exist_ok=True)
    plots.heatmap(path, h.strategies, h.scenarios, eff, ok,
                  f"Efficiency per scenario — {len(h.strategies)} strategies × {len(h.scenarios)} scenarios\n"
                  "red ×: did not qualify (not compliant by that API's own policy, or jobs left); "
                  "no run: absent or skipped; robust choice first")
    return path


def _pick_line(label: str, p: verdict.Pick) -> str:
    return f"{label}: **{', '.join(p.choice)}** — {p.why}" if p.choice else f"{label}: none — {p.why}"


def _links(runs: Sequence[tuple[Path, dict[str, Any]]], matrix_dir: Path, page: str) -> dict[str, str]:
    """Each scenario's own report (``page``: report.md or report.html), relative to the matrix directory."""
    return {str(doc["meta"]["scenario"].get("name", "")): f"{path.relative_to(matrix_dir).as_posix()}/{page}"
            for path, doc in runs}


def render_markdown(matrix_dir: Path, manifest: dict[str, Any], runs: Sequence[tuple[Path, dict[str, Any]]],
                    m: MatrixVerdict, charts: Sequence[str], notes: Sequence[str] = ()) -> str:
    links = _links(runs, matrix_dir, "report.md")
    h = heatmap_data(m)
    parts = [f"# ratebench matrix: {len(m.verdicts)} scenarios", ""]
    created = manifest.get("created_utc")
    clocks = sorted({str(doc["meta"].get("clock")) for _, doc in runs})
    parts += [f"- clock: {', '.join(clocks)}" + (f"; created {created}" if created else ""),
              f"- strategies: {len(h.strategies)}; repeats: "
              + ", ".join(sorted({str(doc['meta'].get('repeat')) for _, doc in runs})), ""]
    parts += ["## Verdict", "", _pick_line("Robust choice (compliant in every scenario, best worst-case efficiency)",
                                          m.robust), "",
              "Per scenario family (the same rule over that family's scenarios):", ""]
    parts += [f"- {_pick_line(f, p)}" for f, p in m.families.items()]
    parts += ["", "Per scenario (best among the runs compliant by that API's own policy that finished every job; "
              f"{verdict.TIE_RULE}):", ""]
    parts += [f"- [{v.scenario}]({links.get(v.scenario, '')}) ({v.family}): {v.headline().split(': ', 1)[1]}"
              for v in m.verdicts]
    parts += ["", "## Strategies × scenarios", "",
              f"Median efficiency (throughput `/s` where a scenario has no efficiency); `{MARK}` = not compliant by "
              "the scenario's own policy or not every job done; `–` = undefined or not run; `skipped` = not run there "
              "(the machine or the clock lacks what it needs: the scenario's report says why); **bold** = the "
              "scenario's best.", ""]
    head = ["strategy", *h.scenarios]
    parts += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for n in h.strategies:
        cells = []
        for v in m.verdicts:
            c = cell(v.standing(n), v.metric)
            cells.append(f"**{c}**" if n in v.best else c)
        name = f"**{n}**" if n in m.robust.choice else n
        parts.append("| " + " | ".join([name, *cells]) + " |")
    parts += ["", "## Charts", ""]
    if charts:
        for c in charts:
            parts += [f"![{c}]({c})", "", CHARTS[c], ""]
    else:
        parts += [f"(no chart drawn yet: the heat map goes in `{HEATMAP}`)", ""]
    if notes:
        parts += ["## Not included", "", *(f"- {n}" for n in notes), ""]
    return "\n".join(parts) + "\n"


def _css(v: Verdict, strategy: str) -> str:
    st = v.standing(strategy)
    if strategy in v.best:
        return "best"
    return "ok" if st and st.qualifies else "skip" if st and st.skipped else "over"


def render_html(matrix_dir: Path, manifest: dict[str, Any], runs: Sequence[tuple[Path, dict[str, Any]]],
                m: MatrixVerdict, charts: Sequence[str], notes: Sequence[str] = ()) -> str:
    esc = html.escape
    links = _links(runs, matrix_dir, "report.html")
    h = heatmap_data(m)

    def pick(label: str, p: verdict.Pick) -> str:
        return (f"{esc(label)}: <b>{esc(', '.join(p.choice))}</b> — {esc(p.why)}" if p.choice
                else f"{esc(label)}: none — {esc(p.why)}")

    fams = "".join(f"<li>{pick(f, p)}</li>" for f, p in m.families.items())
    per = "".join(f"<li><a href=\"{esc(links.get(v.scenario, ''))}\">{esc(v.scenario)}</a> ({esc(v.family)}): "
                  f"{esc(v.headline().split(': ', 1)[1])}</li>" for v in m.verdicts)
    head = "".join(f"<th>{esc(x)}</th>" for x in ["strategy", *h.scenarios])
    body = ""
    for n in h.strategies:
        tds = "".join(f"<td class=\"{_css(v, n)}\">{esc(cell(v.standing(n), v.metric))}</td>" for v in m.verdicts)
        body += f"<tr><td>{'<b>' + esc(n) + '</b>' if n in m.robust.choice else esc(n)}</td>{tds}</tr>"
    images = "".join(f'<figure><img src="{esc(report.image_src(c, matrix_dir))}" alt="{esc(c)}" '
                     f'style="max-width:100%"><figcaption>{esc(CHARTS[c])}</figcaption></figure>' for c in charts)
    missing = "" if charts else f"<p>(no chart drawn yet: the heat map goes in {esc(HEATMAP)})</p>"
    skipped = "".join(f"<li>{esc(n)}</li>" for n in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ratebench matrix</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
td:first-child {{ text-align: left; }}
td.over {{ color: #8a2a2a; }}
td.skip {{ color: #777777; }}
td.best {{ font-weight: bold; background: #e8f4e8; }}
</style></head><body>
<h1>ratebench matrix: {len(m.verdicts)} scenarios</h1>
<h2>Verdict</h2>
<p class="verdict">{pick("Robust choice (compliant in every scenario, best worst-case efficiency)", m.robust)}</p>
<p>Per scenario family (the same rule over that family's scenarios):</p><ul>{fams}</ul>
<p>Per scenario (best among the runs compliant by that API's own policy that finished every job;
{esc(verdict.TIE_RULE)}):</p><ul>{per}</ul>
<h2>Strategies × scenarios</h2>
<p>Median efficiency (throughput /s where a scenario has no efficiency); {MARK} = not compliant by the scenario's own
policy or not every job done (red); – = undefined or not run; skipped = not run there (the scenario's report says
why); green = the scenario's best.</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Charts</h2>{images}{missing}
{f"<h2>Not included</h2><ul>{skipped}</ul>" if skipped else ""}
</body></html>
"""


def verdicts(runs: Sequence[tuple[Path, dict[str, Any]]]) -> MatrixVerdict:
    """The matrix verdict of loaded runs (one verdict per run directory)."""
    vs: list[Verdict] = [verdict.of_run(doc) for _, doc in runs]
    return verdict.across(vs)


def write(matrix_dir: Path) -> str:
    """Write ``report.md`` and ``report.html`` in ``matrix_dir``; returns the verdict as terminal text.

    Raises :class:`bench.results.BadRunFile` (a ``ValueError``) when ``matrix.json`` is unreadable and
    ``FileNotFoundError`` when no run directory is there."""
    matrix_dir = Path(matrix_dir)
    manifest, runs, notes = load(matrix_dir)
    if not runs:
        raise FileNotFoundError(f"{matrix_dir}: no run directory with a results.json (not a matrix directory)")
    m = verdicts(runs)
    draw_heatmap(matrix_dir / HEATMAP, heatmap_data(m))
    charts = [c for c in CHARTS if (matrix_dir / c).is_file()]
    results.write_atomic(matrix_dir / "report.md", render_markdown(matrix_dir, manifest, runs, m, charts, notes))
    results.write_atomic(matrix_dir / "report.html", render_html(matrix_dir, manifest, runs, m, charts, notes))
    for n in notes:
        print(f"ratebench: {n}", file=sys.stderr)
    lines = [_pick_line("robust choice", m.robust).replace("**", ""), "per family:"]
    lines += [f"  {_pick_line(f, p)}".replace("**", "") for f, p in m.families.items()]
    lines += ["per scenario:", *(f"  {v.headline()}" for v in m.verdicts)]
    return "\n".join(lines)
