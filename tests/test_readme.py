"""README's commands work verbatim: every line of every fenced ``sh`` block runs, in order, in one shell, in a
fresh directory with a fresh virtual environment at ``.venv/`` into which ratebench is installed from this
checkout with ``pip install`` (not editable). Each command must exit 0.

Cost (~15 s on a quiet 2-core machine, marked ``slow``): one venv, one offline build of the package and the
README's commands, which run in virtual time (seconds). To keep it affordable:

- the venv gets the project's third-party dependencies from the development ``.venv`` (linked, through a
  ``.pth`` file: no package index, no network); ratebench itself is built and installed fresh, so a file missing
  from the package (a schema, a built-in scenario) or a stray top-level package fails here;
- ``make bench`` and ``make test`` are not run (listed in :data:`NOT_RUN` with the reason): the first is ~1½
  minutes of real-time runs, the second is this suite itself. The same commands they run are tested elsewhere
  (tests/bench/test_cli.py runs ``run`` in real and virtual mode; CI runs ``make test``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: Lines of README's sh blocks not run here, and why.
NOT_RUN = {
    "make bench": "about 1½ minutes of real-time runs against a uvicorn server (plus set-up)",
    "make test": "the test suite itself (this test is part of it)",
    "ratebench run --scenario all --strategies frontier,aiolimiter,token-bucket --repeat 3":
        "about 15 minutes of real-time runs (the same matrix runs above in virtual time)",
}
#: What the fresh directory links from the checkout, for README commands that name repository files.
LINKED = ("examples", "tests")
#: What a source distribution of the package holds (benchmarks/ too: it must *not* be installed).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "bench", "mock_server", "strategies", "benchmarks")


def sh_commands(text: str) -> list[str]:
    """Every command of every ```sh block: continuation lines joined, blank and comment-only lines dropped."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return commands


def test_sh_blocks_are_found_and_the_skip_list_is_current() -> None:
    commands = sh_commands(README.read_text())
    assert all(any(_skipped(c) and c.startswith(k) for c in commands) for k in NOT_RUN)  # no stale entries
    assert commands[0].startswith("make bench") and any(c.startswith("ratebench run") for c in commands)
    assert sh_commands("```sh\na \\\n  b  # c\n# only a comment\n\n```\n```text\nnot run\n```\n") == ["a    b  # c"]


def _skipped(command: str) -> bool:
    return any(command == k or command.startswith(k + " ") for k in NOT_RUN)


def _fresh_venv(work: Path) -> Path:
    """``work/.venv`` with ratebench installed from a copy of this checkout, dependencies from the dev venv."""
    venv = work / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # The dev venv's packages, minus ratebench's own editable install, as one directory of links.
    deps = work.parent / "deps"
    deps.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.name.startswith(("__editable__", "ratebench-", "bench", "mock_server", "strategies")):
            continue
        (deps / entry.name).symlink_to(entry)
    (venv_site,) = (venv / "lib").glob("python*/site-packages")
    (venv_site / "ratebench-test-deps.pth").write_text(f"{deps}\n")
    src = work.parent / "src"
    src.mkdir()
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(p, src / name)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
                          "--no-build-isolation", "--disable-pip-version-check", "-q", str(src)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv


@pytest.mark.slow
def test_every_readme_command_runs_in_a_fresh_venv(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    venv = _fresh_venv(work)
    # Only the project's own packages are installed (a "bench*" glob once also installed benchmarks/).
    (dist,) = (venv / "lib").glob("python*/site-packages/ratebench-*.dist-info")
    installed = {line.split("/")[0] for line in (dist / "RECORD").read_text().splitlines()}
    assert {p for p in installed if not p.endswith(".dist-info") and p not in ("..", "")} == {
        "bench", "mock_server", "strategies"}
    assert "benchmarks" not in installed
    files = (dist / "RECORD").read_text()
    for data in ("bench/schema/results.schema.json", "bench/schema/scenario.schema.json",
                 "bench/builtin_scenarios/steady.toml", "bench/profiles/default.json"):
        assert data in files  # package data ships
    for name in LINKED:
        (work / name).symlink_to(ROOT / name)

    commands = [c for c in sh_commands(README.read_text()) if not _skipped(c)]
    script = "\n".join(f"echo '@@> {i}'\n{c}\necho \"@@rc {i} $?\"" for i, c in enumerate(commands))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "TERM": "dumb",
           "MPLBACKEND": "Agg"}
    p = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=540)
    codes = dict(re.findall(r"^@@rc (\d+) (\d+)$", p.stdout, flags=re.M))
    parts = re.split(r"^@@> \d+$", p.stdout, flags=re.M)[1:]
    for i, c in enumerate(commands):
        out = parts[i] if i < len(parts) else ""
        assert codes.get(str(i)) == "0", f"README command failed ({codes.get(str(i))}): {c}\n{out}\n{p.stderr}"
    # The commands wrote where README says, with the fresh venv's ratebench (not the checkout's).
    assert (work / "ci-run" / "results.json").exists() and list((work / "results").iterdir())
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import bench; print(bench.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, check=True).stdout
    assert where.startswith(str(venv)), where
