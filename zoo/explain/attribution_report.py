"""Token attributions of a classifier over its own split: how faithful each method is (ERASER
comprehensiveness and sufficiency AOPC, the margin over a random ordering with its bootstrap
95% interval), integrated gradients' convergence delta, and a page that colours texts by their
attributions."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.explain.character_views import scale_of, shaded
from zoo.explain.faithfulness import Faithfulness, aopc, margin_over_random
from zoo.explain.question_focus import QuestionFocus, question_focus
from zoo.explain.source import Subject, split_batches
from zoo.stats import Bootstrap
from zoo.tasks.attribution import MAX_STEPS, METHODS, Attributions, attribute

PAGE_TEXTS = 20


@dataclass(frozen=True)
class AttributionReport:
    subject: Subject
    split: str
    results: dict[str, Faithfulness]
    margins: dict[str, Bootstrap]  # per method but random: comprehensiveness margin over random
    delta: np.ndarray  # |convergence delta| of integrated gradients, per text
    n_steps: int
    steps: np.ndarray  # the steps integrated gradients took, per text (more than n_steps where its delta was wide)
    tolerance: float | None
    shown: list[tuple[list[str], np.ndarray, str]]  # (tokens, IG scores, predicted class) for the page
    focus: QuestionFocus  # where the texts are questions: how often the top token is the wh-word or its head

    @property
    def metrics(self) -> dict[str, float]:
        out = {"explain/ig_delta_mean": float(self.delta.mean()), "explain/ig_delta_max": float(self.delta.max()),
               "explain/ig_delta_median": float(np.median(self.delta)),
               "explain/ig_steps_mean": float(self.steps.mean())}
        if self.tolerance is not None:
            out["explain/ig_within_tolerance"] = self.within_tolerance
        for method, f in self.results.items():
            out[f"explain/aopc_comprehensiveness/{method}"] = float(f.comprehensiveness.mean())
            out[f"explain/aopc_sufficiency/{method}"] = float(f.sufficiency.mean())
        for method, b in self.margins.items():
            out |= {f"explain/aopc_margin/{method}": b.difference, f"explain/aopc_margin/{method}/ci95_low": b.ci95_low,
                    f"explain/aopc_margin/{method}/ci95_high": b.ci95_high}
        return out | (self.focus.metrics if self.focus.applies() else {})

    def table(self) -> str:
        """Faithfulness, how well integrated gradients converged, and for questions where the top token falls."""
        return (f"{self.faithfulness_table()}\n\nintegrated gradients: {self.steps_text()}; {self.delta_text()}"
                + (f"\n\n{self.focus.table()}" if self.focus.applies() else ""))

    def faithfulness_table(self) -> str:
        lines = ["| method | comprehensiveness AOPC | sufficiency AOPC | comprehensiveness over random (95% CI) |",
                 "|---|---|---|---|"]
        for method, f in self.results.items():
            b = self.margins.get(method)
            margin = f"{b.difference:+.3f} ({b.ci95_low:+.3f}, {b.ci95_high:+.3f})" if b else ""
            lines.append(f"| {method} | {f.comprehensiveness.mean():.3f} | {f.sufficiency.mean():.3f} | {margin} |")
        return "\n".join(lines)

    @property
    def most_faithful(self) -> str:
        return max(self.margins, key=lambda m: self.margins[m].difference) if self.margins else "n/a"

    def markdown(self) -> str:
        n = len(self.delta)
        return (f"## Token attributions\n\n{n} texts of the {self.split} split, each explained for the class the "
                "model predicts; tokens deleted in bins of 1, 5, 10, 20 and 50% (ERASER). Integrated gradients "
                f"from an all-padding baseline, {self.steps_text()}: {self.delta_text()}. Most faithful: "
                f"{self.most_faithful}.\n\n"
                f"{self.faithfulness_table()}\n\n[Texts coloured by integrated gradients](attributions.html)\n"
                + (f"\n{self.focus.markdown()}" if self.focus.applies() else ""))

    @property
    def within_tolerance(self) -> float:
        """The share of texts whose attributions add up to their logit difference within the tolerance."""
        return float((self.delta <= (self.tolerance or 0.0)).mean())

    def delta_text(self) -> str:
        within = f"; {self.within_tolerance:.1%} of texts within the tolerance" if self.tolerance is not None else ""
        return (f"|convergence delta| median {np.median(self.delta):.1e}, mean {self.delta.mean():.1e}, max "
                f"{self.delta.max():.1e}{within}")

    def steps_text(self) -> str:
        if self.tolerance is None:
            return f"{self.n_steps} steps"
        more = int((self.steps > self.n_steps).sum())
        return (f"{self.n_steps} steps, doubled for a text until its |delta| < {self.tolerance:g} (up to "
                f"{MAX_STEPS}; {more} of {len(self.steps)} texts needed more, {self.steps.mean():.0f} on average)")

    def page(self) -> str:
        return token_heatmap(f"{self.subject.name}: integrated gradients towards the predicted class", self.shown)

    def write(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "attributions.html").write_text(self.page())
        return [folder / "attributions.html"]


def token_heatmap(title: str, texts: list[tuple[list[str], np.ndarray, str]]) -> str:
    """An HTML page colouring each text's tokens by their scores (red for the class, blue against,
    each text on its own scale), headed by the class it was explained for."""
    rows = []
    for tokens, scores, label in texts:
        scale = scale_of(scores)
        spans = " ".join(shaded(token, float(score), scale) for token, score in zip(tokens, scores, strict=True))
        rows.append(f"<p><b>{html.escape(label)}</b>: {spans}</p>")
    return (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><h3>{html.escape(title)}</h3>"
            "<p>red: for it, blue: against it</p>" + "".join(rows))


def token_pieces(subject: Subject, explained: Attributions, row: int) -> tuple[list[str], np.ndarray, str]:
    length = int(explained.lengths[row])
    tokens = [subject.tokenizer.id_to_token(int(i)) or "?" for i in explained.tokens[row, :length]]
    names = subject.bundle["hparams"].get("class_names") or []
    predicted = int(explained.predicted[row])
    label = names[predicted] if predicted < len(names) else str(predicted)
    return tokens, explained.scores["integrated_gradients"][row, :length].numpy(), label


def attribution_report(subject: Subject, split: str = "test", limit: int = 500, n_steps: int = 50,
                       tolerance: float | None = None) -> AttributionReport:
    pad_id = subject.network.encoder.embedding.padding_idx
    parts: dict[str, list[Faithfulness]] = {m: [] for m in METHODS}
    deltas, steps, texts = [], [], []
    scores: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    for batch in split_batches(subject, split, limit):
        explained = attribute(subject.network, batch["input_ids"], batch["lengths"], pad_id, n_steps,
                              tolerance=tolerance)
        deltas.append(explained.delta.abs().numpy())
        steps.append(explained.steps.numpy())
        for method in METHODS:
            parts[method].append(aopc(subject.network, explained, method, pad_id))
            scores[method] += list(explained.scores[method].numpy())
        texts += [token_pieces(subject, explained, r) for r in range(len(batch["input_ids"]))]
    results = {m: Faithfulness(m, np.concatenate([f.comprehensiveness for f in fs]),
                               np.concatenate([f.sufficiency for f in fs])) for m, fs in parts.items()}
    enough = len(results["random"].comprehensiveness) >= 2  # a bootstrap needs two texts
    margins = {m: margin_over_random(results, m) for m in METHODS if m != "random"} if enough else {}
    focus = question_focus([tokens for tokens, _, _ in texts], scores)
    return AttributionReport(subject, split, results, margins, np.concatenate(deltas), n_steps, np.concatenate(steps),
                             tolerance, texts[:PAGE_TEXTS], focus)
