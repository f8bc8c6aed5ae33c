"""Greff et al.'s findings ("LSTM: A Search Space Odyssey", 2017) as data, each decided from
our Welch tests against the reference core and our hyperparameter importance ranks: agree,
disagree, inconclusive (and at what n), or not tested."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from zoo.sweeps.search.spec import SweepSpec
from zoo.sweeps.variants.analysis import CORE_PARAM, WIDTH_PARAM, Test


@dataclass(frozen=True)
class Finding:
    """One row of the comparison with Greff et al.: their finding, our numbers, the verdict
    (agree | disagree | inconclusive | not tested)."""

    claim: str
    ours: str
    verdict: str


@dataclass(frozen=True)
class Claim:
    """A finding of the paper: `kind` says how ours decides it; `subject` is a core (for `harm`
    and `no_harm`) or `lr`/`width` (for `rank`, the paper's importance `rank` among hyperparameters)."""

    text: str
    kind: str  # none_better | no_harm | harm | rank
    subject: str = ""
    rank: int = 0


CLAIMS = (
    Claim("No variant is significantly better than vanilla LSTM (V)", "none_better"),
    Claim("Coupling input and forget gate (CIFG) does no significant harm", "no_harm", "cifg"),
    Claim("Removing peepholes (NP) does no significant harm", "no_harm", "np"),
    Claim("Removing the forget gate (NFG) hurts significantly", "harm", "nfg"),
    Claim("Removing the output activation (NOAF) hurts significantly", "harm", "noaf"),
    Claim("Removing the input activation (NIAF) hurts (on most datasets)", "harm", "niaf"),
    Claim("Removing the input gate (NIG) hurts (on some datasets)", "harm", "nig"),
    Claim("Removing the output gate (NOG) hurts (on some datasets)", "harm", "nog"),
    Claim("The learning rate is the most important hyperparameter", "rank", "lr", 1),
    Claim("Network size (hidden size) is the second most important", "rank", "width", 2),
)


def lr_param(spec: SweepSpec) -> str | None:
    """The tuned learning rate (`task.module.optimizer.lr`), if any."""
    return next((k for k in spec.search_space if re.search(r"(^|\.)(lr|learning_rate)$", k)), None)


def _hyper_rank(ranking: dict[str, float], key: str) -> int | None:
    """1-based rank of `key` among the hyperparameters (the core choice left out)."""
    order = [k for k in ranking if k != CORE_PARAM]
    return order.index(key) + 1 if key in order else None


def fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _evidence(test: Test, report_ref: str) -> str:
    if not test.tested:
        return f"n={test.n} vs {test.n_reference}: too few complete trials to test"
    return (f"mean difference vs {report_ref} {test.difference:+.4f} (95% CI {test.ci95_low:+.4f} to "
            f"{test.ci95_high:+.4f}), Welch p={fmt(test.p_value, 3)}, Bonferroni p={fmt(test.p_adjusted, 3)}, "
            f"n={test.n} vs {test.n_reference}")


def _harm_finding(claim: str, core: str, tests: dict[str, Test], reference: str) -> Finding:
    """The paper says `core` is significantly worse than vanilla."""
    test = tests.get(core)
    if test is None:
        return Finding(claim, f"`{core}` is not in this study", "not tested")
    if not test.tested:
        return Finding(claim, f"`{core}`: {_evidence(test, reference)}", "inconclusive")
    if test.significant:
        verdict = "disagree" if test.better else "agree"
        return Finding(claim, f"`{core}` {test.call}: {_evidence(test, reference)}", verdict)
    return Finding(claim, f"`{core}` not significantly different: {_evidence(test, reference)}",
                   f"inconclusive at n={test.n}")


def _no_harm_finding(claim: str, core: str, tests: dict[str, Test], reference: str) -> Finding:
    """The paper says `core` does no significant harm: agree unless we find it significantly
    worse (no harm at small n is weak support; the interval says how much harm it rules out)."""
    test = tests.get(core)
    if test is None:
        return Finding(claim, f"`{core}` is not in this study", "not tested")
    if not test.tested:
        return Finding(claim, f"`{core}`: {_evidence(test, reference)}", "inconclusive")
    if test.significant and not test.better:
        return Finding(claim, f"`{core}` {test.call}: {_evidence(test, reference)}", "disagree")
    return Finding(claim, f"`{core}` {test.call}: {_evidence(test, reference)}", "agree")


def _importance_finding(claim: str, key: str | None, rank: int, importances_: dict[str, dict[str, float]],
                        what: str) -> Finding:
    """The paper ranks `key` `rank`-th among hyperparameters (fANOVA); agree when both our
    evaluators do, disagree when neither does, inconclusive when they split."""
    if key is None:
        return Finding(claim, f"{what} is not tuned in this study", "not tested")
    if not importances_:
        return Finding(claim, "importances not computed (too few complete trials)", "inconclusive")
    ranks = {name: _hyper_rank(r, key) for name, r in importances_.items()}
    parts = []
    for name, r in importances_.items():
        core_rank = list(r).index(CORE_PARAM) + 1 if CORE_PARAM in r else None
        where = f"rank {ranks[name]} of {len([k for k in r if k != CORE_PARAM])} hyperparameters" \
            if ranks[name] else "not evaluated"
        share = f" ({r[key]:.2f})" if key in r else ""
        core = f"; the core choice ranks {core_rank} of {len(r)} parameters" if core_rank and rank == 1 else ""
        parts.append(f"{name}: `{key}` {where}{share}{core}")
    hits = [ranks[n] == rank for n in ranks]
    verdict = "agree" if all(hits) else "disagree" if not any(hits) else "inconclusive (the evaluators split)"
    return Finding(claim, "; ".join(parts), verdict)


def _none_better(claim: str, tests: dict[str, Test], reference: str) -> Finding:
    tested = [t for t in tests.values() if t.tested]
    winners = [t for t in tested if t.significant and t.better]
    if not tested:
        return Finding(claim, f"no core could be tested against `{reference}`", "inconclusive")
    if winners:
        return Finding(claim, "; ".join(f"`{t.core}` significantly better: {_evidence(t, reference)}"
                                        for t in winners), "disagree")
    ahead = sorted((t for t in tested if t.better), key=lambda t: t.p_value or 1.0)
    closest = (f"closest: `{ahead[0].core}`, {_evidence(ahead[0], reference)}" if ahead
               else f"every core's mean is behind `{reference}`'s")
    return Finding(claim, f"none of {len(tested)} cores is significantly better than `{reference}` ({closest})",
                   "agree")


def paper_findings(tests: dict[str, Test], reference: str, importances_: dict[str, dict[str, float]],
                   spec: SweepSpec) -> list[Finding]:
    """Greff et al.'s findings next to ours, each decided from our tests and importance ranks."""
    params = {"lr": (lr_param(spec), "the learning rate"),
              "width": (WIDTH_PARAM if WIDTH_PARAM in spec.search_space else None, "the hidden size")}
    found = []
    for claim in CLAIMS:
        if claim.kind == "none_better":
            found.append(_none_better(claim.text, tests, reference))
        elif claim.kind == "no_harm":
            found.append(_no_harm_finding(claim.text, claim.subject, tests, reference))
        elif claim.kind == "harm":
            found.append(_harm_finding(claim.text, claim.subject, tests, reference))
        else:
            key, what = params[claim.subject]
            found.append(_importance_finding(claim.text, key, claim.rank, importances_, what))
    return found
