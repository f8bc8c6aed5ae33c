"""The answer to "LSTM or another model?" for one task, from each architecture's seed runs:
the reference is the LSTM with the best validation mean (chosen without looking at test),
and every other architecture is tested against it on the test metric by Welch's test over
seeds and by a paired bootstrap over the test examples of the seed ensembles, each
Holm-corrected over the architectures compared. The call is Welch's; the bootstrap is
reported beside it (it tests the ensembles, a different question: the best each
architecture can do with five models, example by example)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.direction import Direction
from zoo.stats import Bootstrap, Comparison, Summary, holm, paired_bootstrap, summarize, welch
from zoo.sweeps.benchmark.arms import ArmResult
from zoo.sweeps.compare.cost import Cost


@dataclass
class Contender:
    arch: str
    lstm: bool
    result: ArmResult
    test: Summary  # the test metric over seeds
    val: Summary  # val/best over seeds: what picks the reference
    ensemble: dict[str, float] | None = None  # the seed ensemble's test metrics (classifiers)
    correct: np.ndarray | None = None  # the ensemble's per-example correctness, test loader order
    cost: Cost | None = None


@dataclass
class Verdict:
    arch: str
    welch: Comparison  # this architecture minus the reference
    welch_p_adjusted: float
    bootstrap: Bootstrap | None
    bootstrap_p_adjusted: float | None
    call: str  # "<reference> wins" | "<arch> wins" | "no significant difference"


def contender(arch: str, lstm: bool, result: ArmResult, metric: str) -> Contender:
    return Contender(arch, lstm, result, summarize(result.values(metric)), summarize(result.values("val/best")))


def pick_reference(contenders: list[Contender], validation: Direction) -> Contender:
    """The LSTM whose validation mean is best: chosen without looking at the test split."""
    lstms = [c for c in contenders if c.lstm]
    return min(lstms, key=lambda c: validation.sort_key(c.val.mean))


def verdicts(contenders: list[Contender], reference: Contender, metric: str, direction: Direction,
             alpha: float) -> list[Verdict]:
    others = [c for c in contenders if c is not reference]
    tests = [welch(c.result.values(metric), reference.result.values(metric)) for c in others]
    welch_adjusted = holm([t.p_value for t in tests])
    paired = [paired_bootstrap(c.correct, reference.correct) if c.correct is not None
              and reference.correct is not None else None for c in others]
    boot_adjusted = holm([b.p_value for b in paired if b is not None]) if any(paired) else []
    boot_iter = iter(boot_adjusted)
    out = []
    for c, test, adjusted, boot in zip(others, tests, welch_adjusted, paired, strict=True):
        if adjusted >= alpha:
            call = "no significant difference"
        elif direction.better(c.test.mean, reference.test.mean):
            call = f"{c.arch} wins"
        else:
            call = f"{reference.arch} wins"
        out.append(Verdict(c.arch, test, adjusted, boot, next(boot_iter) if boot is not None else None, call))
    return out


def task_verdict(contenders: list[Contender], reference: Contender, found: list[Verdict], metric: str,
                 direction: Direction) -> str:
    """One sentence per task: another model wins (one beats the LSTM significantly), the LSTM
    wins (the best other model, by test mean, is significantly worse), or the data cannot tell."""
    lstm = {c.arch: c.lstm for c in contenders}
    calls = {v.arch: v for v in found}
    winners = [v for v in found if v.call == f"{v.arch} wins" and not lstm[v.arch]]
    if winners:
        best = min(winners, key=lambda v: direction.sort_key(v.welch.a.mean))
        return (f"another model wins: {best.arch} {best.welch.a.text()} against the LSTM ({reference.arch}) "
                f"{best.welch.b.text()} on {metric} (Holm-adjusted Welch p = {best.welch_p_adjusted:.3g})")
    others = sorted((c for c in contenders if not c.lstm), key=lambda c: direction.sort_key(c.test.mean))
    if not others:
        return f"only LSTMs were compared; the reference is {reference.arch}"
    best, verdict = others[0], calls[others[0].arch]
    if verdict.call != f"{reference.arch} wins":
        return (f"no significant difference: the LSTM ({reference.arch}) {reference.test.text()} and the best other "
                f"model ({best.arch}) {best.test.text()} on {metric} (Holm-adjusted Welch p = "
                f"{verdict.welch_p_adjusted:.3g})")
    unclear = [c.arch for c in others if calls[c.arch].call != f"{reference.arch} wins"]
    caveat = (f"; {', '.join(unclear)} {'is' if len(unclear) == 1 else 'are'} worse on the mean but not "
              "significantly" if unclear else "")
    return (f"the LSTM wins: {reference.arch} {reference.test.text()} against the best other model, {best.arch} "
            f"{best.test.text()}, on {metric} (Holm-adjusted Welch p = {verdict.welch_p_adjusted:.3g}){caveat}")
