"""zoo.throughput: the statistics and formatting helpers (no speed is asserted), and a tiny smoke run."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.training.pipeline_speed import FIGURES, collect_results, format_results, run
from zoo.training.throughput import Timing, cpu_s_per_1k_tokens, paired_ratios, relative_spread, rotated, summarize


def test_summarize_and_spread() -> None:
    assert summarize([3.0, 1.0, 2.0, 10.0, 4.0]) == {"min": 1.0, "median": 3.0, "max": 10.0}
    assert summarize([2.0, 4.0])["median"] == 3.0
    assert relative_spread([0.9, 1.0, 1.1]) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        summarize([])


def test_paired_ratios_match_repeats() -> None:
    assert paired_ratios([2.0, 9.0], [1.0, 3.0]) == [2.0, 3.0]
    with pytest.raises(ValueError):
        paired_ratios([1.0], [1.0, 2.0])


def test_rotation_gives_every_figure_every_slot() -> None:
    names = list(FIGURES)
    orders = [rotated(names, r) for r in range(len(names))]
    assert orders[0] == names
    assert all(sorted(order) == sorted(names) for order in orders)
    for slot in range(len(names)):
        assert {order[slot] for order in orders} == set(names)
    assert rotated(names, len(names)) == names


def test_cpu_per_1k_tokens() -> None:
    assert cpu_s_per_1k_tokens(2.0, 4000) == 0.5


def _fake_timings() -> tuple[dict[str, list[Timing]], dict[str, int]]:
    # zoo takes 10% more CPU than plain in every repeat; repeat 2 is a noisy outlier for plain only
    cpu = {"zoo": [1.1, 1.1, 1.1], "plain": [1.0, 1.0, 3.0],
           "naive_batch_pad": [1.25, 1.25, 1.25], "naive_fixed_pad": [2.0, 2.0, 2.0]}
    timings = {n: [Timing(wall_s=c * 2, cpu_s=c) for c in cs] for n, cs in cpu.items()}
    return timings, dict.fromkeys(cpu, 1000)


def test_collect_results_ratios_from_cpu_time_median_of_repeats() -> None:
    timings, tokens = _fake_timings()
    r = collect_results(timings, tokens)
    assert r["zoo_vs_plain_ratio"] == pytest.approx(1 / 1.1)  # the outlier repeat is dropped
    assert r["bucketing_gain_vs_batch_pad"] == pytest.approx(1.25)
    assert r["bucketing_gain_vs_fixed_pad"] == pytest.approx(2.0)
    assert r["ratios"]["zoo_vs_plain_ratio"]["max"] == pytest.approx(3 / 1.1)
    assert r["figures"]["plain"]["cpu_s_per_1k_tokens"] == {
        "min": 1.0, "median": 1.0, "max": 3.0, "per_repeat": [1.0, 1.0, 3.0]}
    assert r["plain_tokens_per_s"] == 500.0 == r["bucketed_packed_tokens_per_s"]
    assert r["figures"]["zoo"]["cpu_utilization"] == pytest.approx(0.5)


def test_format_results_lists_every_figure_and_warns_when_noisy() -> None:
    timings, tokens = _fake_timings()
    r = collect_results(timings, tokens) | {
        "model": "lstm L1 H128", "batches": 3, "batch_size": 64, "fixed_pad_length": 60,
        "repeats": 3, "threads": 1}
    text = format_results(r)
    assert "torch threads 1, 3 interleaved repeats" in text
    assert "pad to  60 (data max)" in text and "plain PyTorch loop" in text
    assert "ratio zoo / plain                   0.909   [0.909 - 2.727]" in text
    assert "warning" in text and "ratio zoo / plain" in text.split("warning")[1]


def test_tiny_run_smoke(shared_data: Path, base_overrides: tuple[str, ...]) -> None:
    r = run(base_overrides, num_batches=2, repeats=1)
    assert set(r["figures"]) == set(FIGURES)
    assert all(r["figures"][n]["cpu_s_per_1k_tokens"]["median"] > 0 for n in FIGURES)
    assert "ratio zoo / plain" in format_results(r)


def test_core_table_marks_slow_hand_written_cores_and_lstmp_gets_a_projection() -> None:
    from zoo.training.core_speed import core_overrides, format_cores

    assert core_overrides("lstmp", 128) == ["model=lstmp", "model.proj_size=64"]
    assert core_overrides("fgr", 128) == ["model=fgr"]

    def row(ratio: float, hand_written: bool) -> dict:
        return {"model": "x", "hand_written": hand_written, "wall_tokens_per_s": 1000.0,
                "cpu_tokens_per_s": {"median": 2000.0},
                "ratio_to_lstm": {"median": ratio, "min": ratio, "max": ratio}}

    r = {"cores": {"lstm": row(1.0, False), "seed": row(0.9, True), "fgr": row(0.5, True)}, "tokens": 10,
         "batches": 2, "batch_size": 4, "repeats": 1, "threads": 1, "target": 0.7}
    text = format_cores(r)
    assert text.index("seed") < text.index("fgr")  # fastest first
    assert "fgr" in text.splitlines()[-2] and "BELOW 0.7" in text.splitlines()[-2]
    assert text.splitlines()[-1].endswith("below 0.7x nn.LSTM: fgr")
    r["cores"].pop("fgr")
    assert format_cores(r).splitlines()[-1].endswith("every hand-written core >= 0.7x nn.LSTM")


def test_precision_table_compares_fp32_and_bf16_on_the_same_batches(shared_data: Path,
                                                                   base_overrides: tuple[str, ...]) -> None:
    from zoo.training.precision_speed import compare_precisions, format_precisions

    r = compare_precisions([*base_overrides, "debug=smoke"], "bf16-mixed", num_batches=2, repeats=1)
    assert set(r["tokens_per_cpu_s"]) == {"32-true", "bf16-mixed"} and r["task"] == "sentiment"
    assert r["gain_median"] == pytest.approx(r["tokens_per_cpu_s"]["bf16-mixed"]["median"]
                                             / r["tokens_per_cpu_s"]["32-true"]["median"])
    assert "bf16-mixed / 32-true: " in format_precisions(r) and "(target >= 1.3x)" in format_precisions(r)


def test_cores_and_precision_are_one_table_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.tool_errors import one_error_line

    from zoo.throughput import main

    assert "--cores and --precision are two different tables" in one_error_line(
        main, ["--cores", "--precision", "bf16-mixed"], capsys)
