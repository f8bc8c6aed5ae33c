"""`transformer`: a small transformer trained from scratch, for classifiers and, causal, for
the language model (nanoGPT-style: pre-LayerNorm blocks, GELU, a final LayerNorm).

`model.num_layers` blocks of `model.hidden_size` width with `model.num_heads` heads and a
feed-forward layer `model.ffn_size` wide (0: 4 x hidden_size), `model.dropout` inside each
block. Token embeddings are `model.embedding_dim` wide (projected to hidden_size when they
differ); positions are learned or sinusoidal (`model.positions`) for `model.context`
positions, and a longer input is refused before data loads. A classifier's transformer
attends both ways over each row's real tokens (a padding mask); a language model's attends
to the past only. It has no state: a language model reads each window as its own context,
and generation past the context slides it (zoo.models.networks)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from zoo.errors import ConfigError
from zoo.models.baselines import Baseline, ordered, register
from zoo.models.pooling import real_steps

if TYPE_CHECKING:
    from zoo.models.spec import EncoderSpec

POSITIONS = ("learned", "sinusoidal")


def sinusoids(length: int, width: int) -> Tensor:
    """Vaswani et al.'s fixed positions: sin on even features, cos on odd, geometric wavelengths."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : width // 2]
    return table


class TransformerEncoder(nn.Module):
    recurrent = False
    stateful = False

    def __init__(self, spec: EncoderSpec, vocab_size: int, pad_id: int | None, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        self.context = spec.context
        width = spec.hidden_size
        self.embedding = nn.Embedding(vocab_size, spec.embedding_dim, padding_idx=pad_id)
        self.projection = nn.Linear(spec.embedding_dim, width) if spec.embedding_dim != width else nn.Identity()
        if spec.positions == "learned":
            self.positions = nn.Embedding(spec.context, width)
        else:
            self.register_buffer("sinusoids", sinusoids(spec.context, width), persistent=False)
            self.positions = None
        self.embedding_dropout = nn.Dropout(spec.embedding_dropout)
        block = nn.TransformerEncoderLayer(width, spec.num_heads, spec.ffn_size or 4 * width, spec.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, spec.num_layers, norm=nn.LayerNorm(width),
                                            enable_nested_tensor=False)
        self.dropout = nn.Dropout(spec.output_dropout)
        self.step_size = self.output_size = width

    def forward(self, tokens: Tensor, lengths: Tensor | None = None, state: None = None) -> tuple[Tensor, None]:
        """(batch, time, hidden_size): each token's output of the last block; no state."""
        time = tokens.shape[1]
        if time > self.context:
            raise ValueError(f"{time} tokens are more than the {self.context} positions this transformer has")
        where = torch.arange(time, device=tokens.device)
        place = self.positions(where) if self.positions is not None else self.sinusoids[:time]
        x = self.embedding_dropout(self.projection(self.embedding(tokens)) + place)
        if self.causal:
            mask = nn.Transformer.generate_square_subsequent_mask(time, device=tokens.device, dtype=x.dtype)
            return self.blocks(x, mask=mask, is_causal=True), None
        padding = None if lengths is None else ~real_steps(x, lengths).squeeze(-1)
        return self.blocks(x, src_key_padding_mask=padding), None

    def post_pool(self, pooled: Tensor) -> Tensor:
        return self.dropout(pooled)


def validate(spec: EncoderSpec) -> None:
    for key in ("num_heads", "context"):
        ordered(getattr(spec, key), key, "transformer")
    if spec.hidden_size % spec.num_heads:
        raise ConfigError(f"model.num_heads={spec.num_heads} must divide model.hidden_size={spec.hidden_size} "
                          f"(each head is hidden_size / num_heads wide), e.g. model.num_heads=4 with "
                          f"model.hidden_size={max(4, spec.hidden_size // 4 * 4)}")
    if spec.positions not in POSITIONS:
        raise ConfigError(f"model.positions={spec.positions!r} is invalid for model.encoder=transformer; choose "
                          f"one of {', '.join(POSITIONS)}")


def build(spec: EncoderSpec, vocab_size: int, pad_id: int | None, causal: bool) -> TransformerEncoder:
    return TransformerEncoder(spec, vocab_size, pad_id, causal)


BASELINE = register(Baseline(
    name="transformer", build=build, default_pooling="mean", generates=True, validate=validate,
    takes={"num_layers": "blocks", "hidden_size": "block width", "num_heads": "attention heads",
           "ffn_size": "feed-forward width (0: 4 x hidden_size)", "embedding_dim": "token embedding size",
           "positions": "learned | sinusoidal", "context": "positions it is built for",
           "dropout": "inside each block", "embedding_dropout": "on the embeddings",
           "output_dropout": "on the last block's outputs"},
    hints={"bidirectional": "a classifier's transformer attends both ways, a language model's only to the past",
           "weight_drop": "it has no recurrent weights", "locked_dropout": "it has no steps to lock a mask over"},
))
