"""One explanation of one model: which parts apply to it (gates to recurrent models, cells to
character-level language models, attributions to classifiers), computed in full, written to
one folder, then (report=true) logged on its run in one go."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.errors import ZooError
from zoo.explain.attribution_report import attribution_report, token_heatmap, token_pieces
from zoo.explain.cells_report import cells_report
from zoo.explain.characters import attribute_characters, character_page, describe, matrix_figure
from zoo.explain.concepts import Concept
from zoo.explain.report import check_recurrent, log_on_run, saturation_report
from zoo.explain.source import Subject
from zoo.tasks.attribution import IG_TOLERANCE, Attributions, attribute
from zoo.tasks.inference import pad_ids, token_ids

MAX_TEXT_TOKENS = 512  # a model without a max_length: integrated gradients costs n_steps passes of this


def _is_language_model(subject: Subject) -> bool:
    return subject.task == "language_model"


def explain(subject: Subject, folder: Path, *, split: str, limit: int, gates: bool | None, cells: bool,
            attributions: bool | None, concepts: list[Concept], rows: int, length: int, n_steps: int,
            report: bool, tolerance: float | None = IG_TOLERANCE, clamp: str = "mean") -> str:
    """Every part that applies, written under `folder`; returns what to print."""
    recurrent = bool(getattr(subject.network.encoder, "recurrent", False))
    if gates:
        check_recurrent(subject)
    if attributions and _is_language_model(subject):
        raise ZooError(f"{subject.name} is a language model: it has no classes to attribute; give text=\"...\" "
                       "for what its next character rests on, or leave attributions= out")
    parts = []
    if gates if gates is not None else recurrent:
        parts.append(saturation_report(subject, split, limit))
    if cells and recurrent and _is_language_model(subject):
        parts.append(cells_report(subject, concepts, rows, length, clamp=clamp))
    if attributions is not False and not _is_language_model(subject):
        parts.append(attribution_report(subject, split, limit, n_steps, tolerance))
    if not parts:
        raise ZooError(f"nothing to explain in {subject.name} with these switches: gates need a recurrent core, "
                       "cells a language model, attributions a classifier")
    folder.mkdir(parents=True, exist_ok=True)
    summary = folder / "explain.md"
    summary.write_text(f"# What did {subject.name} learn?\n\nRead over the {split} split of {subject.dataset}.\n\n"
                       + "\n".join(p.markdown() for p in parts))
    files = [summary] + [f for p in parts for f in p.write(folder)]
    if report:
        log_on_run(subject, {k: v for p in parts for k, v in p.metrics.items()}, files)
    tables = "\n\n".join(p.table() for p in parts)
    return (f"{tables}\n\n{subject.name} over the {split} split of {subject.dataset}; written to {folder}/"
            + (f"; logged on run {subject.run_id} ({subject.metric_prefix})" if report else ""))


def explain_texts(subject: Subject, texts: list[str], n_steps: int, color: bool = False,
                  target: str | None = None, foil: str | None = None, page: Path | None = None,
                  tolerance: float | None = IG_TOLERANCE) -> str:
    """A classifier: each token of each text with its integrated-gradients and occlusion scores,
    and the prediction. A language model: what its next character (or `target` against `foil`)
    rests on. One block per text; `page` also gets a heatmap of them all (a language model's
    with a matrix figure per text beside it)."""
    if _is_language_model(subject):
        results = [attribute_characters(subject.network, subject.tokenizer, text, target, foil) for text in texts]
        blocks = [describe(result) for result in results]
        if page is not None:
            pictures = [matrix_figure(page.with_name(f"{page.stem}_{k}.png"), r).name for k, r in enumerate(results)]
            _write(page, character_page(results, pictures, f"{subject.name}: what the next character rests on"))
    else:
        if target is not None or foil is not None:
            raise ZooError("target= and foil= name characters of a language model's next step; "
                           f"{subject.name} is a classifier: its text= is explained towards its predicted class")
        explained = [_classify(subject, text, n_steps, tolerance) for text in texts]
        blocks = [_token_lines(subject, e, color) for e in explained]
        if page is not None:
            _write(page, token_heatmap(f"{subject.name}: integrated gradients towards the predicted class",
                                       [token_pieces(subject, e, 0) for e in explained]))
    return "\n\n".join(blocks) + (f"\n\nwritten to {page}" if page is not None else "")


def _write(page: Path, content: str) -> None:
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(content)


def _classify(subject: Subject, text: str, n_steps: int, tolerance: float | None) -> Attributions:
    """Integrated gradients and occlusion for one text; refused if the model would not see all of
    it, or knows none of its tokens."""
    max_length = subject.bundle.get("max_length") or MAX_TEXT_TOKENS
    count = len(subject.tokenizer.encode(text).ids)
    if count > max_length:
        raise ZooError(f"text= has {count} tokens and {subject.name} reads at most {max_length}: an attribution "
                       "past that would explain tokens the model never sees; shorten the text")
    (ids,) = token_ids(subject.tokenizer, [text])
    pad_id = subject.network.encoder.embedding.padding_idx
    known = [i for i in ids if i != subject.tokenizer.token_to_id("[UNK]")]
    if not known:
        raise ZooError(f"text={text!r} has no token in the model's vocabulary; nothing to attribute")
    return attribute(subject.network, *pad_ids([ids], pad_id), pad_id, n_steps, tolerance=tolerance)


def _token_lines(subject: Subject, explained: Attributions, color: bool) -> str:
    """The prediction, then each token with its integrated-gradients and occlusion scores."""
    tokens, scores, label = token_pieces(subject, explained, 0)
    occlusion = explained.scores["occlusion"][0, : len(tokens)]
    scale = float(abs(scores).max()) or 1.0
    lines = [f"predicted: {label} (p={float(explained.probability[0]):.3f}); integrated gradients "
             f"({int(explained.steps[0])} steps, delta {float(explained.delta[0]):+.1e}) and occlusion per token:"]
    for token, score, drop in zip(tokens, scores, occlusion.tolist(), strict=True):
        shown = f"{token:>16}"
        if color:
            shade = "red" if score > 0 else "blue"
            shown = click.style(shown, fg=shade, bold=abs(score) > scale / 2)
        lines.append(f"{shown}  {score:+.4f}  {drop:+.4f}")
    return "\n".join(lines)
