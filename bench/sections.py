"""A titled table section of the report, in Markdown and in HTML: one place for the extra sections
(:mod:`bench.client_side`, :mod:`bench.process_figures`) so both render alike.

>>> markdown("Per client process", "Each process.", ("a", "b"), [("1", "2")])
['', '## Per client process', '', 'Each process.', '', '| a | b |', '|---|---|', '| 1 | 2 |']
>>> html_section("T", "x < y", ("a",), [("1",)])
'<h2>T</h2><p>x &lt; y</p><table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>'
"""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["html_section", "markdown"]


def markdown(title: str, intro: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Markdown lines (a blank line first); none when there are no rows."""
    if not rows:
        return []
    return ["", f"## {title}", "", intro, "", _line(headers), "|" + "---|" * len(headers), *(_line(r) for r in rows)]


def html_section(title: str, intro: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The same section as HTML; "" when there are no rows."""
    if not rows:
        return ""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<h2>{esc(title)}</h2><p>{esc(intro)}</p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
