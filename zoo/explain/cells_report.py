"""The cell table of a character-level language model: for each concept, the unit found on
the validation split, its held-out score against the untrained control, and what holding it
does to the loss; a page per concept that colours text by the unit (Karpathy et al.'s figure)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from zoo.errors import ZooError
from zoo.explain.cells import Activations, CellFinding, find_cell, read, varies
from zoo.explain.character_views import character_grid, character_spans
from zoo.explain.concepts import Concept
from zoo.explain.source import Subject, datamodule_of, stream_rows, untrained_network


@dataclass(frozen=True)
class CellsReport:
    subject: Subject
    findings: list[CellFinding]
    absent: list[str]  # concepts that never vary in the text read
    rows: int
    length: int
    warmup: int
    texts: list[str]  # held-out rows
    activations: dict[str, np.ndarray]  # concept -> the found unit over the first held-out row
    clamp: str = "mean"  # what the unit was held at

    @property
    def metrics(self) -> dict[str, float]:
        out = {}
        for f in self.findings:
            key = f"explain/cells/{f.concept.name}"
            out |= {f"{key}/held_out": f.held_out_score, f"{key}/control": f.control_score,
                    f"{key}/loss_change_holds": f.loss_change_holds,
                    f"{key}/loss_change_elsewhere": f.loss_change_elsewhere}
        return {k: v for k, v in out.items() if np.isfinite(v)}

    def table(self) -> str:
        lines = ["| concept | score | unit | validation | test | untrained control (test) | loss change where it "
                 "holds / elsewhere (nats/char) |", "|---|---|---|---|---|---|---|"]
        for f in self.findings:
            score = "abs Spearman" if f.concept.graded else "ROC AUC"
            lines.append(f"| {f.concept.name} | {score} | {f.unit.label} | {f.selection_score:.3f} | "
                         f"{f.held_out_score:.3f} | {f.control_score:.3f} | {f.loss_change_holds:+.4f} / "
                         f"{f.loss_change_elsewhere:+.4f} |")
        lines += [f"| {name} | | (never varies in the text read) | | | | |" for name in self.absent]
        return "\n".join(lines)

    def markdown(self) -> str:
        return (f"## Interpretable cells\n\n{self.rows} stretches of {self.length} characters per split, the "
                f"first {self.warmup} of each read but not scored; a unit (of c or h) chosen on validation, "
                "scored on test, against the same search over the untrained architecture; then held at "
                f"{'its mean' if self.clamp == 'mean' else 'zero'} while the model reads test.\n\n"
                + self.table() + "\n")

    def page(self, finding: CellFinding) -> str:
        """The first held-out stretch, each character on the colour of the unit's value there."""
        spans = character_spans(self.texts[0], self.activations[finding.concept.name])
        return (f"<!doctype html><meta charset=utf-8><title>{finding.concept.name}: {finding.unit.label}</title>"
                f"<h3>{html.escape(self.subject.name)}: {finding.unit.label} tracks {finding.concept.name} "
                f"(test {finding.held_out_score:.3f}, untrained {finding.control_score:.3f})</h3>"
                f"<p>red: positive, blue: negative</p><pre style='font-family: monospace'>{spans}</pre>"
                f"<img src='cell_{finding.concept.name}.png' alt='the same text as a figure'>")

    def write(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for finding in self.findings:
            path = folder / f"cell_{finding.concept.name}.html"
            path.write_text(self.page(finding))
            title = (f"{self.subject.name}: {finding.unit.label} and {finding.concept.name} "
                     f"(test {finding.held_out_score:.3f}, untrained {finding.control_score:.3f})")
            picture = character_grid(folder / f"cell_{finding.concept.name}.png", self.texts[0],
                                     self.activations[finding.concept.name], title)
            paths += [path, picture]
        return paths


def texts_of(subject: Subject, tokens: torch.Tensor) -> list[str]:
    """Each row's text; refused unless every token is one character (concepts are per character)."""
    pieces = [[subject.tokenizer.id_to_token(int(i)) or "" for i in row] for row in tokens]
    if any(len(p) != 1 for row in pieces for p in row):
        raise ZooError(f"{subject.name} does not read one character per token: concepts are scored per "
                       "character, on a character-level language model")
    return ["".join(row) for row in pieces]


def labels(concept: Concept, texts: list[str], warmup: int) -> np.ndarray:
    return np.concatenate([np.asarray(concept.labels(t), dtype=float)[warmup:] for t in texts])


def cells_report(subject: Subject, concepts: list[Concept], rows: int = 32, length: int = 512,
                 warmup: int = 64, clamp: str = "mean") -> CellsReport:
    if not hasattr(subject.network, "head") or not hasattr(subject.network, "projection"):
        raise ZooError(f"{subject.name} is a {subject.task}: cells are found on a language model "
                       "(task=generation); a classifier's explanation is its token attributions")
    if not 0 <= warmup < length - 1:
        raise ZooError(f"warmup={warmup} must be in [0, length - 1 = {length - 1})")
    datamodule = datamodule_of(subject)
    tokens = [stream_rows(datamodule, split, rows, length) for split in ("validation", "test")]
    texts = [texts_of(subject, t) for t in tokens]
    control_network = untrained_network(subject)
    with torch.inference_mode():
        trained = [read(subject.network, t) for t in tokens]
        control = [read(control_network, t) for t in tokens]
    acts = tuple(Activations.of(r.trace, warmup) for r in trained)
    control_acts = tuple(Activations.of(r.trace, warmup) for r in control)
    findings, absent, shown = [], [], {}
    for concept in concepts:
        pair = (labels(concept, texts[0], warmup), labels(concept, texts[1], warmup))
        if not all(varies(p, concept.graded) for p in pair):
            absent.append(concept.name)
            continue
        finding = find_cell(concept, pair, acts, control_acts, subject.network, trained[1], warmup,  # type: ignore[arg-type]
                            clamp)
        findings.append(finding)
        unit = finding.unit
        layer = trained[1].trace.layer(unit.layer, unit.direction)
        shown[concept.name] = layer.parts[unit.part][0, :, unit.index].numpy()
    return CellsReport(subject, findings, absent, rows, length, warmup, texts[1], shown, clamp)
