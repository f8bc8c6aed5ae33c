"""Raw text in, predictions out: written once, called by the task modules and by the
registry's pyfunc, so a checkpoint and a registered model answer alike."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tokenizers import Tokenizer
from torch import Tensor, nn

from zoo.errors import InputError

# what a generating model accepts besides the prompts, with its defaults (top_k 0: no cut-off)
GENERATION_PARAMS: dict[str, Any] = {"max_new_tokens": 200, "temperature": 1.0, "top_k": 0, "seed": 0}
# the most tokens one text (max_new_tokens) and one request (texts x max_new_tokens) may generate, so
# neither the CLI nor a REST request can keep a core busy for hours; environment variables raise them
GENERATION_LIMITS: dict[str, tuple[str, int]] = {"text": ("ZOO_MAX_NEW_TOKENS", 2000),
                                                 "request": ("ZOO_MAX_REQUEST_TOKENS", 20000)}


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


def encode_texts(tokenizer: Tokenizer, texts: Sequence[str], max_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Padded token ids and true lengths; a text with no known token becomes one [UNK]."""
    unk = tokenizer.token_to_id("[UNK]")
    ids = [enc.ids[:max_length] or [unk] for enc in tokenizer.encode_batch(list(texts))]
    lengths = torch.tensor([len(x) for x in ids])
    tokens = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, x in enumerate(ids):
        tokens[row, : len(x)] = torch.tensor(x)
    return tokens, lengths


@torch.no_grad()
def classify(model: Inference, texts: list[str], params: Mapping[str, Any]) -> dict[str, list]:
    """Columns `label`, `label_name` and `probabilities` (rounded to 6 places)."""
    tokens, lengths = encode_texts(model.tokenizer, texts, model.max_length)
    probs = torch.softmax(model.network(tokens, lengths), dim=-1)
    labels = probs.argmax(dim=-1).tolist()
    names = list(model.hparams.get("class_names") or [str(i) for i in range(probs.shape[-1])])
    return {
        "label": labels,
        "label_name": [names[i] for i in labels],
        "probabilities": [[round(p, 6) for p in row] for row in probs.tolist()],
    }


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
