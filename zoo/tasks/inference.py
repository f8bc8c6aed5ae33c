"""Raw text in, predictions out: written once, called by the task modules and by the
registry's pyfunc, so a checkpoint and a registered model answer alike."""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import Tensor, nn

from zoo.data.word_ids import encode_ids
from zoo.errors import InputError

# what a generating model accepts besides the prompts, with its defaults (top_k 0: no cut-off)
GENERATION_PARAMS: dict[str, Any] = {"max_new_tokens": 200, "temperature": 1.0, "top_k": 0, "seed": 0}
# the most tokens one text (max_new_tokens) and one request (texts x max_new_tokens) may generate, so
# neither the CLI nor a REST request can keep a core busy for hours; environment variables raise them
GENERATION_LIMITS: dict[str, tuple[str, int]] = {"text": ("ZOO_MAX_NEW_TOKENS", 2000),
                                                 "request": ("ZOO_MAX_REQUEST_TOKENS", 20000)}

# Classification scores this many texts per network call, shortest first. One call over all the
# texts of a request pads them all to the longest and holds the activations of every one at once
# (100,000 SST-2 sentences: 10.9 GB peak); a chunk of similar lengths pads little (as training's
# length-bucketed batches) and is still wide enough that the LSTM's matrix products run at speed.
CHUNK_TEXTS = 256
CHUNK_TOKENS = 256 * 128  # padded tokens per chunk: texts of a model without max_length stay bounded
# Texts tokenized and length-sorted together: enough for chunks of near-equal length, few enough
# that the token ids of a million-text request are never all held at once.
BLOCK_TEXTS = 8192
# `classify` logs here, at INFO, how many texts it cut to the model's max_length (record attributes
# `truncated` and `max_length`): zoo-predict sums them into one note; a server may log them.
TRUNCATION_LOG = "zoo.inference.truncation"
truncation_log = logging.getLogger(TRUNCATION_LOG)


def generation_limit(scope: str) -> int:
    """The cap for `scope` ("text" or "request"): its environment variable, else the default."""
    env, default = GENERATION_LIMITS[scope]
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"{env}={raw!r} must be a whole number of tokens >= 1 (default {default})")
    return int(raw)


@dataclass(frozen=True)
class Inference:
    """A trained network with what turns text into its input (from a checkpoint or a bundle)."""

    network: nn.Module
    tokenizer: Tokenizer
    hparams: Mapping[str, Any]
    max_length: int | None = None
    # scores classification chunks instead of `network` when set: the same (tokens, lengths) -> logits
    # in another runtime (ONNX Runtime, zoo/registry/onnx_runtime.py); attributions still use `network`
    runtime: Callable[[Tensor, Tensor], Tensor] | None = None

    def scores(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return (self.runtime or self.network)(tokens, lengths)


def check_generation_size(max_new_tokens: int, texts: int = 1) -> None:
    """Refuse work over the caps before any is done: per text, then for the whole request."""
    cap, budget = generation_limit("text"), generation_limit("request")
    if max_new_tokens > cap:
        raise InputError(f"max_new_tokens={max_new_tokens} is over the limit of {cap} tokens per text "
                         f"({GENERATION_LIMITS['text'][0]} raises it)")
    if texts * max_new_tokens > budget:
        raise InputError(f"this request asks for {texts} texts x {max_new_tokens} new tokens = "
                         f"{texts * max_new_tokens} tokens, over the limit of {budget} per request "
                         f"({GENERATION_LIMITS['request'][0]} raises it): send fewer texts or a smaller max_new_tokens")


def token_ids(tokenizer: Tokenizer, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
    """Each text's token ids, cut to `max_length` as training cut them; a text with no known
    token becomes one [UNK]. Logs how many were cut (see TRUNCATION_LOG)."""
    unk = tokenizer.token_to_id("[UNK]")
    encoded = encode_ids(tokenizer, texts)
    if max_length is not None:
        cut = sum(len(ids) > max_length for ids in encoded)
        if cut:
            truncation_log.info("%d text(s) longer than the model's max_length=%d tokens were truncated to it",
                                cut, max_length, extra={"truncated": cut, "max_length": max_length})
    return [ids[:max_length] or [unk] for ids in encoded]


def pad_ids(ids: Sequence[list[int]], pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """Token ids padded to the longest, and the true lengths."""
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    tokens = np.full((len(ids), int(lengths.max())), pad_id, dtype=np.int64)
    # one vectorised scatter of every id, not a tensor per row (a third of batch scoring's time)
    tokens[np.arange(tokens.shape[1]) < lengths[:, None]] = np.fromiter(
        itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    return torch.from_numpy(tokens), torch.from_numpy(lengths)


def length_chunks(ids: Sequence[list[int]]) -> Iterator[list[int]]:
    """Row numbers of `ids` shortest first, cut into chunks of at most CHUNK_TEXTS texts and
    CHUNK_TOKENS padded tokens (a text over the budget alone is a chunk of one)."""
    chunk: list[int] = []
    for row in sorted(range(len(ids)), key=lambda i: len(ids[i])):
        if chunk and (len(chunk) == CHUNK_TEXTS or (len(chunk) + 1) * len(ids[row]) > CHUNK_TOKENS):
            yield chunk
            chunk = []
        chunk.append(row)
    if chunk:
        yield chunk


@torch.no_grad()
def classify(model: Inference, texts: list[str], params: Mapping[str, Any]) -> dict[str, list]:
    """Columns `label`, `label_name` and `probabilities` (rounded to 6 places), in the order of
    `texts`. Texts are tokenized BLOCK_TEXTS at a time and scored in length-sorted chunks, so
    memory stays flat however many texts one call brings."""
    pad_id = int(model.hparams.get("pad_id", 0))
    labels: list[int] = []
    probabilities: list[list[float]] = []
    for start in range(0, len(texts), BLOCK_TEXTS):
        ids = token_ids(model.tokenizer, texts[start:start + BLOCK_TEXTS], model.max_length)
        block_labels: list[int] = [0] * len(ids)
        block_probs: list[list[float]] = [[]] * len(ids)  # placeholders, each replaced below
        for rows in length_chunks(ids):
            probs = torch.softmax(model.scores(*pad_ids([ids[i] for i in rows], pad_id)), dim=-1)
            rounded = (probs.double() * 1e6).round() / 1e6  # round(p, 6), for the whole chunk at once
            for row, label, p in zip(rows, probs.argmax(dim=-1).tolist(), rounded.tolist(), strict=True):
                block_labels[row], block_probs[row] = label, p
        labels += block_labels
        probabilities += block_probs
    names = list(model.hparams.get("class_names") or [])
    if not names and probabilities:
        names = [str(i) for i in range(len(probabilities[0]))]
    return {"label": labels, "label_name": [names[i] for i in labels], "probabilities": probabilities}


def generate_text(network: nn.Module, tokenizer: Tokenizer, prompt: str, max_new_tokens: int = 200,
                  temperature: float = 1.0, top_k: int | None = None, seed: int | None = None) -> str:
    """Continue `prompt` by sampling; the same seed gives the same text."""
    check_generation_size(max_new_tokens)
    ids = tokenizer.encode(prompt).ids
    if not ids:
        raise InputError("a prompt must contain at least one character")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return tokenizer.decode(network.generate(ids, max_new_tokens, temperature, top_k, generator))


def generate(model: Inference, prompts: list[str], params: Mapping[str, Any]) -> dict[str, list]:
    """Columns `text` (the prompt) and `generated`; every prompt is sampled with `params['seed']`."""
    options = {**GENERATION_PARAMS, **params}
    max_new, temperature = int(options["max_new_tokens"]), float(options["temperature"])
    top_k = int(options["top_k"]) or None
    if max_new < 1 or not 0 <= temperature < math.inf or top_k is not None and top_k < 0:
        raise InputError(f"max_new_tokens must be >= 1, temperature a finite number >= 0 and top_k >= 0 "
                         "(0: no cut-off); "
                         f"got {max_new}, {temperature}, {options['top_k']}")
    check_generation_size(max_new, len(prompts))
    out = [generate_text(model.network, model.tokenizer, p, max_new, temperature, top_k, int(options["seed"]))
           for p in prompts]
    return {"text": prompts, "generated": out}
