"""Statistics for runs repeated over seeds or folds: mean, spread, a 95% interval for the
mean, and Welch's test for two recipes. scipy does the distributions; this module only
fixes the conventions every report uses (sample std with ddof=1, Student-t intervals)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Summary:
    """Mean over n runs, sample standard deviation and a Student-t 95% interval of the mean.
    With one run the spread is unknown: std is 0 and the interval is the value itself."""

    mean: float
    std: float
    ci95_low: float
    ci95_high: float
    n: int

    def text(self, digits: int = 4) -> str:
        """`0.8451 ± 0.0043 (n=5)`: how every table prints a repeated figure."""
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f} (n={self.n})"


def summarize(values: Sequence[float]) -> Summary:
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        raise ValueError("no values to summarize")
    mean = float(data.mean())
    if data.size == 1:
        return Summary(mean, 0.0, mean, mean, 1)
    std = float(data.std(ddof=1))
    half = float(stats.t.ppf(0.975, data.size - 1)) * std / math.sqrt(data.size)
    return Summary(mean, std, mean - half, mean + half, int(data.size))


def metric_summaries(runs: Sequence[dict[str, float]], prefixes: tuple[str, ...] = ("test/", "val/best")
                     ) -> dict[str, Summary]:
    """{metric: Summary} for every metric whose name starts with one of `prefixes` and that
    every run logged (a metric some runs lack would mix different populations)."""
    if not runs:
        return {}
    common = set.intersection(*(set(r) for r in runs))
    return {key: summarize([r[key] for r in runs]) for key in sorted(common) if key.startswith(prefixes)}


def summary_metrics(summaries: dict[str, Summary]) -> dict[str, float]:
    """The MLflow keys of a benchmark parent: `<metric>_mean`, `_std`, `_ci95_low`, `_ci95_high`."""
    out: dict[str, float] = {}
    for key, s in summaries.items():
        out.update({f"{key}_mean": s.mean, f"{key}_std": s.std, f"{key}_ci95_low": s.ci95_low,
                    f"{key}_ci95_high": s.ci95_high})
    return out


@dataclass(frozen=True)
class Difference:
    """A difference between two models, its 95% interval and two-sided p-value."""

    difference: float
    ci95_low: float
    ci95_high: float
    p_value: float

    def text(self, digits: int = 4, what: str = "difference", test: str = "Welch") -> str:
        return (f"{what} {self.difference:+.{digits}f} (95% CI {self.ci95_low:+.{digits}f} to "
                f"{self.ci95_high:+.{digits}f}), {test} p = {self.p_value:.3g}")


@dataclass(frozen=True)
class Comparison(Difference):
    """Mean of `a` minus mean of `b` over runs (Welch's test)."""

    a: Summary | None = None
    b: Summary | None = None


def welch(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Welch's unequal-variance t-test: is recipe a's mean different from recipe b's?
    Needs two runs on each side; identical constant samples give p = 1."""
    x, y = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    if x.size < 2 or y.size < 2:
        raise ValueError(f"Welch's test needs at least 2 runs on each side (got {x.size} and {y.size})")
    difference = float(x.mean() - y.mean())
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if vx + vy == 0:
        return Comparison(difference, difference, difference, 1.0 if difference == 0 else 0.0, summarize(x),
                          summarize(y))
    result = stats.ttest_ind(x, y, equal_var=False)
    interval = result.confidence_interval(0.95)
    return Comparison(difference, float(interval.low), float(interval.high), float(result.pvalue), summarize(x),
                      summarize(y))


@dataclass(frozen=True)
class Bootstrap(Difference):
    """Mean of a - b over paired items (a percentile interval, resampled items)."""

    n: int = 0
    resamples: int = 0

    def text(self, digits: int = 4, what: str = "paired difference", test: str = "bootstrap") -> str:
        return f"{super().text(digits, what, test)} (n={self.n})"


def paired_bootstrap(a: Sequence[float], b: Sequence[float], resamples: int = 10_000, seed: int = 0) -> Bootstrap:
    """Two models scored on the same items (e.g. 1 where each is right): resample the items
    with replacement, keeping the pairs, and read the interval and the two-sided p-value
    (twice the share of resamples on the far side of 0) off the resampled mean differences."""
    x, y = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"a paired bootstrap needs two equally long samples of at least 2 items (got {x.size} "
                         f"and {y.size})")
    differences = x - y
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 1000):  # 1,000 resamples at a time: memory stays small for big test sets
        count = min(1000, resamples - start)
        means[start:start + count] = differences[rng.integers(0, x.size, (count, x.size))].mean(axis=1)
    observed = float(differences.mean())
    low, high = np.percentile(means, [2.5, 97.5])
    far = np.mean(means <= 0) if observed > 0 else np.mean(means >= 0) if observed < 0 else 1.0
    return Bootstrap(observed, float(low), float(high), float(min(1.0, 2 * far)), int(x.size), resamples)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order): a family-wise 5% claim over several tests
    against one reference, never weaker than Bonferroni's and often stronger."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
