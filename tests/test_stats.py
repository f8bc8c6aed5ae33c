"""The statistics every benchmark and sweep confirmation reports, against known answers."""

from __future__ import annotations

import math

import pytest

from zoo.stats import metric_summaries, summarize, summary_metrics, welch


def test_summary_uses_the_sample_std_and_a_student_t_interval() -> None:
    s = summarize([0.80, 0.82, 0.84])
    assert s.mean == pytest.approx(0.82) and s.std == pytest.approx(0.02)  # ddof=1
    half = 4.302652729911275 * 0.02 / math.sqrt(3)  # t(0.975, df=2)
    assert (s.ci95_low, s.ci95_high) == (pytest.approx(0.82 - half), pytest.approx(0.82 + half))
    assert s.text() == "0.8200 ± 0.0200 (n=3)"


def test_one_run_has_no_spread_and_no_values_is_an_error() -> None:
    s = summarize([0.5])
    assert (s.std, s.ci95_low, s.ci95_high, s.n) == (0.0, 0.5, 0.5, 1)
    with pytest.raises(ValueError, match="no values"):
        summarize([])


def test_benchmark_keys_cover_test_metrics_and_val_best_logged_by_every_run() -> None:
    runs = [{"test/acc": 0.8, "val/best": 0.7, "perf/inference_ms": 3.0, "test/f1_macro": 0.6},
            {"test/acc": 0.9, "val/best": 0.8, "perf/inference_ms": 4.0}]
    summaries = metric_summaries(runs)
    assert set(summaries) == {"test/acc", "val/best"}  # f1 is missing from one run; perf is not a result
    keys = summary_metrics(summaries)
    assert keys["test/acc_mean"] == pytest.approx(0.85)
    assert set(keys) == {f"{m}_{s}" for m in ("test/acc", "val/best") for s in ("mean", "std", "ci95_low",
                                                                                 "ci95_high")}


def test_welch_matches_scipy_and_handles_identical_samples() -> None:
    c = welch([0.85, 0.86, 0.87, 0.86, 0.85], [0.83, 0.84, 0.82, 0.84, 0.83])
    assert c.difference == pytest.approx(0.026)
    assert c.ci95_low < c.difference < c.ci95_high and c.ci95_low > 0
    assert c.p_value < 0.01
    same = welch([0.8, 0.8], [0.8, 0.8])
    assert (same.difference, same.p_value) == (0.0, 1.0)
    with pytest.raises(ValueError, match="at least 2 runs"):
        welch([0.8], [0.7, 0.9])
