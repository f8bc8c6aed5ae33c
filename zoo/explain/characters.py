"""What a language model's next character rests on: occlusion over the characters before it.

Each character of the text is replaced in turn by the unknown token, and the whole text is
read again (one batch of as many rows as characters); the drop in the log-probability of each
next character gives a matrix A[t, i]: how much character i mattered to predicting character
t + 1 (zero for i > t: a causal model cannot look ahead). For the character after the text, a
`foil` turns the measure into the contrast log p(target) - log p(foil): which characters make
the model prefer its answer to the one the user names."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoo.errors import ZooError
from zoo.explain.character_views import character_spans
from zoo.figures import figure

MAX_CHARACTERS = 512  # the matrix costs one pass of the text per character


@dataclass(frozen=True)
class CharacterAttribution:
    text: str
    matrix: np.ndarray  # (T - 1, T): row t explains character t + 1
    target: str  # the character after the text that is explained (the model's likeliest, unless given)
    foil: str | None
    last: np.ndarray  # (T,): each character's share in the target (against the foil, if any)
    p_target: float
    p_foil: float | None


def _id(tokenizer, char: str, what: str) -> int:
    token = tokenizer.token_to_id(char)
    if len(char) != 1 or token is None:
        raise ZooError(f"{what}={char!r} must be one character the model knows")
    return int(token)


def attribute_characters(network: nn.Module, tokenizer, text: str, target: str | None = None,
                         foil: str | None = None) -> CharacterAttribution:
    ids = [tokenizer.token_to_id(c) for c in text]
    if not text or None in ids:
        unknown = sorted({c for c, i in zip(text, ids, strict=True) if i is None})
        raise ZooError(f"text={text!r} has characters the model never saw: {unknown}" if text else
                       "text= is empty; give at least one character")
    if len(text) > MAX_CHARACTERS:
        raise ZooError(f"text= has {len(text)} characters; at most {MAX_CHARACTERS} (each costs a pass of the text)")
    unknown_id = tokenizer.token_to_id("[UNK]")
    tokens = torch.tensor(ids)[None, :]
    variants = tokens.repeat(len(ids), 1)
    variants[torch.arange(len(ids)), torch.arange(len(ids))] = unknown_id
    with torch.no_grad():
        full = torch.log_softmax(network(tokens)[0], -1)[0]  # (T, V)
        occluded = torch.log_softmax(network(variants)[0], -1)  # (T variants, T, V)
    following = tokens[0, 1:]
    drop = full[:-1].gather(1, following[:, None])[:, 0][None, :] - occluded[:, :-1].gather(
        2, following[None, :, None].expand(len(ids), -1, 1))[..., 0]  # (variant i, step t)
    matrix = np.tril(drop.T.numpy(), k=0)  # row t: the character t + 1; column i <= t
    target_id = _id(tokenizer, target, "target") if target else int(full[-1].argmax())
    measure = full[-1, target_id] - (full[-1, _id(tokenizer, foil, "foil")] if foil else 0.0)
    measured = occluded[:, -1, target_id] - (occluded[:, -1, _id(tokenizer, foil, "foil")] if foil else 0.0)
    p = full[-1].exp()
    return CharacterAttribution(text, matrix, tokenizer.id_to_token(target_id), foil,
                                (measure - measured).numpy(), float(p[target_id]),
                                float(p[_id(tokenizer, foil, "foil")]) if foil else None)


def describe(result: CharacterAttribution, top: int = 10) -> str:
    """The next character's explanation: its probability (and the foil's), and the characters it
    rests on most."""
    head = f"next character: {result.target!r} (p={result.p_target:.3f})"
    if result.foil is not None:
        head += f" against {result.foil!r} (p={result.p_foil:.3f}): log p(target) - log p(foil) per character"
    order = np.argsort(-result.last, kind="stable")[:top]
    lines = [head, "the characters it rests on most (occlusion):"]
    for i in order:
        context = result.text[max(0, i - 8): i] + "[" + result.text[i] + "]" + result.text[i + 1: i + 4]
        lines.append(f"  {i:>4}  {context!r:<24} {result.last[i]:+.4f}")
    return "\n".join(lines)


def matrix_figure(path: Path, result: CharacterAttribution) -> Path:
    """The whole matrix as a heatmap: row t is the character the model predicted at step t (the
    last row its next one, the target), column i the character occluded; red where removing it
    lowered that prediction."""
    from matplotlib.colors import TwoSlopeNorm

    full = np.vstack([result.matrix, result.last[None, :]])
    scale = float(np.abs(full).max()) or 1.0
    size = len(result.text)
    names = [_shown(c) for c in result.text]
    rows = names[1:] + [f"{_shown(result.target)}" + (f" vs {_shown(result.foil)}" if result.foil else "")]
    step = max(1, size // 64)
    inches = min(14.0, 2.0 + 0.16 * size / step)
    with figure(path, (inches, inches)) as (fig, ax):
        image = ax.imshow(full, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -scale, scale), interpolation="nearest")
        ax.set_xticks(range(0, size, step), names[::step], fontsize=6, family="monospace")
        ax.set_yticks(range(0, size, step), rows[::step], fontsize=6, family="monospace")
        ax.set(xlabel="character occluded", ylabel="character predicted (last row: the target)")
        ax.set_title(f"what each next character rests on; target {result.target!r} p={result.p_target:.3f}",
                     fontsize=8)
        fig.colorbar(image, ax=ax, shrink=0.6, label="drop in log-probability")
    return path


def _shown(char: str) -> str:
    return {"\n": "⏎", " ": "␣"}.get(char, char)


def character_page(results: list[CharacterAttribution], pictures: list[str], title: str) -> str:
    """Each text coloured by what its target rests on (hover: the value), with its matrix."""
    blocks = []
    for result, picture in zip(results, pictures, strict=True):
        head = f"next character {result.target!r} (p={result.p_target:.3f})"
        if result.foil is not None:
            head += f" against {result.foil!r} (p={result.p_foil:.3f}): log p(target) - log p(foil)"
        blocks.append(f"<h4>{html.escape(head)}</h4><pre style='font-family: monospace'>"
                      f"{character_spans(result.text, result.last.tolist())}</pre>"
                      f"<img src='{html.escape(picture)}' alt='attribution matrix'>")
    return (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><h3>{html.escape(title)}</h3>"
            "<p>red: the character made the prediction likelier, blue: less likely (occlusion)</p>"
            + "".join(blocks))
