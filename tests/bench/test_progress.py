"""Progress of ``ratebench run`` under a pseudo-terminal (a live rich display) and without one (plain lines
for CI logs), and NO_COLOR honoured. Under the pseudo-terminal the CLI runs in a subprocess, so that whether
stderr is a terminal is decided by what the process really gets."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from bench import progress
from bench.cli import main

ROOT = Path(__file__).resolve().parents[2]
COLOR = re.compile(r"\x1b\[(3\d|9\d|1;3\d)m")  # a foreground colour (rich or bench.terminal)
SGR = re.compile(r"\x1b\[")


def command(out: Path) -> list[str]:
    # retry-backoff collects 429s (its row is over the limit); token-bucket does not.
    return [sys.executable, "-m", "bench", "run", "--clock", "virtual", "--strategies", "token-bucket,retry-backoff",
            "--out", str(out)]


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    return e | {"TERM": "xterm-256color", "COLUMNS": "160"} | extra


def run_in_pty(args: list[str], environ: dict[str, str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=environ, close_fds=True)
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                raise AssertionError("no output from the CLI for 60 s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        code = proc.wait(timeout=60)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_a_live_display_and_a_coloured_table(tmp_path: Path) -> None:
    code, out = run_in_pty(command(tmp_path / "o"), env())
    assert code == 0, out
    assert "all runs" in out and "elapsed" in out and "left" in out  # the live bars (rich), before they clear
    assert "× 429" in out  # the rejections-so-far column
    assert re.search(r"\[1/2\] token-bucket\s+ok", out) and re.search(r"\[2/2\] retry-backoff\s+ok", out)
    assert COLOR.search(out)  # the over-limit row (retry-backoff) is coloured
    assert "‹ over the limit" not in out  # colour instead of the plain marker


def test_no_color_keeps_the_display_without_colour(tmp_path: Path) -> None:
    code, out = run_in_pty(command(tmp_path / "o"), env(NO_COLOR="1"))
    assert code == 0, out
    assert "all runs" in out and not COLOR.search(out)
    assert "retry-backoff" in out and "‹ over the limit" in out


def test_no_terminal_gets_plain_lines_and_a_marked_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # In process (a subprocess costs seconds): pytest's captured stdout/stderr are not terminals, as in CI.
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert main(command(tmp_path / "o")[3:]) == 0
    out = capsys.readouterr()
    assert not SGR.search(out.err + out.out)  # no escape codes in a CI log
    lines = [ln for ln in out.err.splitlines() if ln.startswith("  [")]
    assert [ln.split()[1] for ln in lines] == ["token-bucket", "retry-backoff"]
    assert "all runs" not in out.err
    # Columns line up: every line has its "wall" at the same offset.
    assert len({ln.index("wall") for ln in lines}) == 1
    (row,) = [ln for ln in out.out.splitlines() if "retry-backoff" in ln]
    assert row.endswith("‹ over the limit")


def test_plain_lines_line_up_past_nine_runs() -> None:
    import io

    p = progress.Plain(io.StringIO(), total=12, reject=403)
    for _ in range(12):
        p.finished("token-bucket", 0, "ok", 1.0, 200, 200, 0)
    lines = p.stream.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines[0].startswith("  [ 1/12] ") and lines[11].startswith("  [12/12] ")
    assert len({ln.index("wall") for ln in lines}) == 1 and lines[0].endswith("0 × 403")


@pytest.mark.parametrize("term", ["dumb"])
def test_a_dumb_terminal_gets_plain_lines(term: str, monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TERM", term)
    assert not progress.is_terminal(Tty())  # type: ignore[arg-type]
    monkeypatch.setenv("TERM", "xterm")
    assert progress.is_terminal(Tty())  # type: ignore[arg-type]
