from bench.client_side import section


def _run(name: str, **metrics: object) -> dict[str, object]:
    base = {"client_peak_window_count": [20], "peak_window_count": [20], "window_phase_s": [0.5],
            "jobs_dropped": 0, "jobs_cancelled": 0, "loop_lag_p50_ms": None, "loop_lag_p99_ms": None,
            "loop_lag_max_ms": None}
    return {"strategy": name, "metrics": base | metrics}


def test_nothing_to_show_is_no_section() -> None:
    assert section([_run("a"), _run("b")]) == []
    # Results written before these metrics: no client-side counts, nothing to compare.
    assert section([{"strategy": "a", "metrics": {"peak_window_count": [39]}}]) == []


def test_repeats_aggregate_by_hand() -> None:
    lines = section([_run("a", loop_lag_p50_ms=1.0, loop_lag_p99_ms=3.0, loop_lag_max_ms=5.0, jobs_cancelled=2),
                     _run("a", loop_lag_p50_ms=3.0, loop_lag_p99_ms=2.0, loop_lag_max_ms=8.0, jobs_cancelled=1,
                          peak_window_count=[26], window_phase_s=[0.25]),
                     _run("b")])
    # p50: median of 1 and 3 = 2; p99 and max: the worst; peaks the largest; cancelled summed.
    assert lines[-2] == "| `a` | 2.0 / 3.0 / 8.0 | 20 / 26 | 0.500, 0.250 | 0 | 3 |"
    assert lines[-1] == "| `b` | – / – / – | 20 / 20 | 0.500 | 0 | 0 |"


def test_html_has_the_same_rows() -> None:
    from bench.client_side import html_section

    page = html_section([_run("a<b", jobs_dropped=1)])
    assert "<h2>Client side</h2>" in page and "<td>a&lt;b</td>" in page and "<td>1</td>" in page
