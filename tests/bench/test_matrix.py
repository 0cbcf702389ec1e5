import json
from pathlib import Path

import pytest

from bench import matrix, results, scenarios
from bench.cli import main
from bench.scenarios import Scenario, ScenarioError


def test_all_is_every_comparison_scenario_and_a_list_keeps_its_order() -> None:
    assert [s.name for s in matrix.load("all")] == scenarios.comparison_names()
    assert [s.name for s in matrix.load("outage,steady")] == ["outage", "steady"]
    assert "paced-500" not in [s.name for s in matrix.load("all")]


@pytest.mark.parametrize(("spec", "message"), [
    ("steady,,outage", "an empty name in the list"),
    ("steady,default", "'default' and 'steady' are both scenario 'steady'"),
    ("steady,nope", "unknown scenario 'nope'"),
])
def test_a_bad_list_names_the_item(spec: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        matrix.load(spec)


def test_the_eta_scales_the_remaining_sizes_by_the_time_the_done_ones_took() -> None:
    p = matrix.Progress([10.0, 30.0, 60.0], per_size=None, start=100.0)
    assert p.line(0, now=100.0) == "matrix: 0/3 scenarios done, elapsed 0:00"  # virtual: no a-priori ETA
    # 10 units took 20 s: the remaining 90 units → 180 s.
    assert p.line(1, now=120.0) == "matrix: 1/3 scenarios done, elapsed 0:20, ETA ~3:00"
    assert p.line(3, now=300.0) == "matrix: 3/3 scenarios done, elapsed 3:20, ETA ~0:00"
    # steady: 60 jobs at 20/s + 10 ms; open-loop: 150 jobs at 30/s release against 20/s → the quota's 7.5 s.
    assert matrix.estimate_s(scenarios.load("steady")) == 3.01
    assert matrix.estimate_s(scenarios.load("open-loop")) == 7.51


def test_scenario_all_runs_the_matrix_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # `--scenario all` with the list of built-ins cut to three (the full matrix of every strategy runs in
    # `python -m bench run --scenario all --strategies all --clock virtual`, ~1 min): the layout is the point.
    monkeypatch.setattr(scenarios, "comparison_names", lambda: ["steady", "github-like", "noisy-neighbour"])
    out = tmp_path / "out"
    assert main(["run", "--scenario", "all", "--strategies", "token-bucket,unlimited", "--clock", "virtual",
                 "--profile", "none", "--out", str(out)]) == 0
    (mdir,) = out.iterdir()
    assert mdir.name.endswith("-matrix")
    assert sorted(p.name for p in mdir.iterdir()) == ["charts", "github-like", "matrix.json", "noisy-neighbour",
                                                      "report.html", "report.md", "steady"]
    doc = json.loads((mdir / "matrix.json").read_text())
    assert doc == {**doc, "schema": 1, "kind": "matrix", "scenarios": ["steady", "github-like", "noisy-neighbour"],
                   "strategies": ["token-bucket", "unlimited"], "clock": "virtual", "repeat": 1,
                   "done": ["steady", "github-like", "noisy-neighbour"], "complete": True}
    for name in doc["scenarios"]:
        run = results.load(mdir / name)
        assert run["meta"]["scenario"]["name"] == name
        assert [r["strategy"] for r in run["runs"]] == ["token-bucket", "unlimited"]
        assert (mdir / name / "report.md").exists() and not (mdir / name / results.INCOMPLETE).exists()
    # The cross-scenario verdict (bench.matrix_report): a robust choice named, the heat map drawn.
    assert "Robust choice" in (mdir / "report.md").read_text() and (mdir / "charts" / "heatmap.png").is_file()
    captured = capsys.readouterr()
    assert "robust choice:" in captured.out
    err = captured.err
    assert "matrix: 0/3 scenarios done" in err and "matrix: 3/3 scenarios done" in err
    # A second matrix never overwrites the first.
    assert main(["run", "--scenario", "steady,outage", "--strategies", "unlimited", "--clock", "virtual",
                 "--profile", "none", "--out", str(out)]) == 0
    assert len(list(out.iterdir())) == 2


def test_an_interrupted_matrix_is_kept_and_marked(tmp_path: Path) -> None:
    calls: list[str] = []

    def run_scenario(sc: scenarios.Scenario, run_dir: Path) -> int:
        calls.append(sc.name)
        (run_dir / "results.json").write_text("{}")
        return 0 if len(calls) == 1 else 1  # the second scenario is interrupted

    loaded = matrix.load("steady,outage,open-loop")
    code = matrix.run(loaded, ["unlimited"], clock="virtual", repeat=1, out=tmp_path, run_scenario=run_scenario)
    assert code == 1 and calls == ["steady", "outage"]
    (mdir,) = tmp_path.iterdir()
    doc = json.loads((mdir / "matrix.json").read_text())
    assert doc["complete"] is False and doc["done"] == ["steady"]
    assert (mdir / results.INCOMPLETE).exists() and (mdir / "outage" / results.INCOMPLETE).exists()
    assert not (mdir / "open-loop").exists()


def test_a_bad_scenario_in_the_list_is_refused_before_anything_runs(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", "--scenario", "steady,nope", "--strategies", "unlimited", "--clock", "virtual",
                 "--out", str(out)]) == 2
    assert "unknown scenario 'nope'" in capsys.readouterr().err and not out.exists()


def test_matrix_json_is_one_document_with_the_verdict_on_stderr(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--scenario", "steady,idle-burst", "--strategies", "token-bucket", "--clock", "virtual",
                 "--profile", "none", "--run-dir", str(tmp_path / "mx"), "--json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)  # the whole of stdout: one document, no text around it
    assert doc["exit_code"] == code == 0
    assert doc["matrix_dir"] == str(tmp_path / "mx") and doc["complete"] is True
    assert doc["done"] == ["steady", "idle-burst"]
    assert [s["scenario"] for s in doc["scenarios"]] == ["steady", "idle-burst"]
    assert [s["run_dir"] for s in doc["scenarios"]] == [str(tmp_path / "mx" / n) for n in ("steady", "idle-burst")]
    assert "matrix of 2 scenarios × 1 strategy × 1 repeat," in err and "verdict" in err.lower()


def test_all_names_what_it_leaves_out_and_the_banner_counts_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, object] = {}

    def fake_run(loaded: list[Scenario], names: list[str], **kw: object) -> int:
        seen.update(kw, names=names, scenarios=[s.name for s in loaded])
        return 0

    monkeypatch.setattr(matrix, "run", fake_run)
    # A sweep of 3 capacities for token-bucket, plus unlimited: 4 rows per scenario from 2 strategies.
    assert main(["run", "--scenario", "all", "--strategies", "token-bucket,unlimited", "--clock", "virtual",
                 "--param", "token-bucket.capacity=5,10,20", "--out", str(tmp_path)]) == 0
    assert seen["rows"] == [4] * len(seen["scenarios"])  # type: ignore[arg-type]
    note = str(seen["note"])
    for name in ("stall", "idle-burst", "paced-100", "shared-quota"):
        assert name in note and name not in seen["scenarios"]  # type: ignore[operator]
    assert "needs --processes N" in note and "harness" in note
    monkeypatch.undo()

    # The banner counts rows, and the note comes first.
    ran: list[str] = []

    def run_scenario(sc: Scenario, run_dir: Path) -> int:
        ran.append(sc.name)
        return 0

    code = matrix.run([scenarios.load("steady")], ["token-bucket", "unlimited"], clock="virtual", repeat=1,
                      out=tmp_path, run_scenario=run_scenario, rows=[4], note="matrix: left out X")
    err = capsys.readouterr().err
    assert code == 0 and ran == ["steady"]
    assert err.index("matrix: left out X") < err.index("matrix of 1 scenario × 4 strategies × 1 repeat,")
