"""`cnn`: Kim (2014), "Convolutional Neural Networks for Sentence Classification", CNN-rand.

Filters of widths 3, 4 and 5 (`model.kernel_sizes`), `model.hidden_size` feature maps each
(100 in the paper), ReLU, max over time, dropout (`model.output_dropout`, 0.5 in the paper)
on the pooled vector, then the classifier's linear layer. Embeddings are learned from
scratch ("rand": no pretrained vectors, as every encoder here) and start as Kim's did,
uniform in [-0.25, 0.25] (EMBEDDING_INIT), not torch's N(0, 1): on TREC that alone moved the
recipe's 3-seed mean from 0.883 to 0.898.

The convolutions keep the sequence length ("same" padding: a window past either end reads
the padding embedding, which is zero), so each step's output is the concatenated feature
maps at that position and the classifier's `max` pooling over each row's real steps is
Kim's max-over-time; `mean` and `attention` pooling work too."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo.errors import ConfigError
from zoo.models.baselines import Baseline, register
from zoo.models.options import shown

if TYPE_CHECKING:
    from zoo.models.spec import EncoderSpec

EMBEDDING_INIT = 0.25  # Kim's CNN-rand draws each word vector from U[-0.25, 0.25]


class ConvEncoder(nn.Module):
    recurrent = False
    stateful = False

    def __init__(self, spec: EncoderSpec, vocab_size: int, pad_id: int | None) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, spec.embedding_dim, padding_idx=pad_id)
        with torch.no_grad():
            self.embedding.weight.uniform_(-EMBEDDING_INIT, EMBEDDING_INIT)
            if pad_id is not None:  # the padding row stays zero, as nn.Embedding keeps it
                self.embedding.weight[pad_id].zero_()
        self.embedding_dropout = nn.Dropout(spec.embedding_dropout)
        self.widths = spec.kernel_sizes
        self.convolutions = nn.ModuleList(nn.Conv1d(spec.embedding_dim, spec.hidden_size, w) for w in self.widths)
        self.step_size = self.output_size = spec.hidden_size * len(spec.kernel_sizes)
        self.dropout = nn.Dropout(spec.output_dropout)

    def forward(self, tokens: Tensor, lengths: Tensor | None = None, state: None = None) -> tuple[Tensor, None]:
        """(batch, time, maps x widths) ReLU feature maps; no state."""
        embedded = self.embedding_dropout(self.embedding(tokens)).transpose(1, 2)  # (batch, dim, time)
        # "same" padding by hand: (w - 1) // 2 zeros before, w // 2 after, for odd and even widths alike
        maps = torch.cat([torch.relu(conv(F.pad(embedded, ((w - 1) // 2, w // 2))))
                          for w, conv in zip(self.widths, self.convolutions, strict=True)], dim=1)
        return maps.transpose(1, 2), None

    def post_pool(self, pooled: Tensor) -> Tensor:
        return self.dropout(pooled)


def validate(spec: EncoderSpec) -> None:
    widths = spec.kernel_sizes
    if not isinstance(widths, tuple) or not widths or not all(
            isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ConfigError(f"model.kernel_sizes={shown(widths)} is invalid for model.encoder=cnn: give the filter "
                          "widths as a list of whole numbers >= 1, e.g. model.kernel_sizes=[3,4,5]")


def build(spec: EncoderSpec, vocab_size: int, pad_id: int | None, causal: bool) -> ConvEncoder:
    return ConvEncoder(spec, vocab_size, pad_id)


BASELINE = register(Baseline(
    name="cnn", build=build, default_pooling="max", validate=validate,
    takes={"hidden_size": "feature maps per filter width", "kernel_sizes": "filter widths",
           "embedding_dim": "token embedding size", "embedding_dropout": "on the embeddings",
           "output_dropout": "on the pooled features"},
    hints={"num_layers": "a CNN-rand has one convolution layer", "bidirectional": "a convolution reads both ways",
           "dropout": "use model.output_dropout, Kim's dropout on the pooled features"},
))
