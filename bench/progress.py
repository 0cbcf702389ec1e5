"""Live progress of ``ratebench run``: a bar per run on a terminal, plain lines elsewhere.

On a terminal (stderr is a TTY and ``TERM`` is not ``dumb``) a :mod:`rich` display shows the run in
progress — strategy, jobs done, elapsed, estimated time left, rejections (429s) so far, read from
:data:`bench.tally.LIVE` — above a bar over all runs with its own estimate; each finished run leaves one
line. Anywhere else (CI logs, a pipe) the same finished-run lines are printed plainly, one per run, with
fixed-width columns. ``NO_COLOR`` (https://no-color.org) turns colour off; the bar stays.

>>> import io
>>> p = Plain(io.StringIO(), total=2, reject=429)
>>> p.finished("token-bucket", 0, "ok", 1.5, 12, 12, 0)
>>> p.finished("unlimited", 0, "failed", 0.25, 3, 12, 9, "boom")
>>> print(p.stream.getvalue(), end="")
  [1/2] token-bucket           ok        1.50s wall        12/12 ok      0 × 429
  [2/2] unlimited              failed    0.25s wall         3/12 ok      9 × 429  (boom)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import IO, Protocol

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.tally import LIVE


class Reporter(Protocol):
    def started(self, strategy: str, repeat: int) -> None: ...

    def finished(self, strategy: str, repeat: int, status: str, wall_s: float, ok: int, requests: int,
                 rejected: int, note: str | None = None) -> None: ...

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


def _line(n: int, total: int, strategy: str, status: str, wall_s: float, ok: int, requests: int, rejected: int,
          reject: int, note: str | None) -> str:
    w = len(str(total))  # [ 9/24] and [10/24] line up
    return (f"  [{n:>{w}}/{total}] {strategy:<22} {status:<7} {wall_s:6.2f}s wall  {f'{ok}/{requests}':>11} ok  "
            f"{rejected:>5} × {reject}" + (f"  ({note})" if note else ""))


class Plain:
    """One line per finished run (CI logs, pipes): nothing in between, nothing to redraw."""

    def __init__(self, stream: IO[str], total: int, reject: int) -> None:
        self.stream, self.total, self.reject, self.n = stream, total, reject, 0

    def started(self, strategy: str, repeat: int) -> None:
        pass

    def finished(self, strategy: str, repeat: int, status: str, wall_s: float, ok: int, requests: int,
                 rejected: int, note: str | None = None) -> None:
        self.n += 1
        print(_line(self.n, self.total, strategy, status, wall_s, ok, requests, rejected, self.reject, note),
              file=self.stream, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        pass


class _Bars(Progress):
    """rich's Progress, with the current run's bar synced from :data:`bench.tally.LIVE` at each refresh
    (rich's own timer thread, a few times a second): the runner only counts, it never waits for the display."""

    run: TaskID | None = None
    reject = 429

    def get_renderables(self) -> Iterable[RenderableType]:
        if self.run is not None:
            self.update(self.run, completed=LIVE.done, total=LIVE.jobs or None,
                        rejected=f"{LIVE.rejected} × {self.reject}")
        yield from super().get_renderables()


class Live:
    """A rich display: the current run's bar (jobs done, elapsed, time left, rejections so far) and the total."""

    def __init__(self, stream: IO[str], total: int, reject: int) -> None:
        self.total, self.reject, self.n = total, reject, 0
        # force_terminal: the caller has decided it is one. Colour off with NO_COLOR (rich reads it too).
        self.console = Console(file=stream, force_terminal=True, no_color=bool(os.environ.get("NO_COLOR")) or None)
        self.progress = _Bars(
            TextColumn("{task.description}"), BarColumn(bar_width=16), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("elapsed"), TimeRemainingColumn(), TextColumn("left"),
            TextColumn("{task.fields[rejected]}"),
            # stdout is for the table and --json: never drawn into the display on stderr.
            console=self.console, transient=True, redirect_stdout=False)
        self.progress.reject = reject
        self._all = self.progress.add_task("all runs", total=total, rejected="")
        self.progress.start()

    def started(self, strategy: str, repeat: int) -> None:
        if self.progress.run is not None:
            self.progress.remove_task(self.progress.run)
        LIVE.reset(0, {429, self.reject})  # the runner resets it again with the run's job count
        label = f"[{self.n + 1}/{self.total}] {strategy}" + (f" repeat {repeat}" if repeat else "")
        self.progress.run = self.progress.add_task(label, total=None, rejected=f"0 × {self.reject}")

    def finished(self, strategy: str, repeat: int, status: str, wall_s: float, ok: int, requests: int,
                 rejected: int, note: str | None = None) -> None:
        self.n += 1
        style = "" if status == "ok" else "bold red"
        text = _line(self.n, self.total, strategy, status, wall_s, ok, requests, rejected, self.reject, note)
        self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)
        self.progress.advance(self._all)
        if self.progress.run is not None:
            self.progress.remove_task(self.progress.run)
            self.progress.run = None

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self.progress.stop()


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is an interactive terminal worth redrawing (not a pipe, a file or ``TERM=dumb``)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and os.environ.get("TERM") != "dumb"


def reporter(total: int, reject: int = 429, stream: IO[str] | None = None) -> Reporter:
    """The live display on a terminal, plain lines otherwise (both on stderr: stdout is for the table/JSON)."""
    out = sys.stderr if stream is None else stream
    return Live(out, total, reject) if is_terminal(out) else Plain(out, total, reject)
