"""`bow`: a bag of n-grams, fastText (Joulin et al. 2017) and DAN (Iyyer et al. 2015) in one:
the control that asks whether word order matters at all.

Each step's output is its word's embedding plus the embedding of the hashed bigram it ends
(`model.ngram_buckets` rows; 0 = words only, NBOW). The classifier's `mean` pooling (the
default) averages them over the sentence; `model.num_layers` ReLU layers of
`model.hidden_size` follow the average (DAN; 0 = fastText's linear classifier on the average),
with `model.dropout` after each and `model.output_dropout` before the classifier.
`model.word_dropout` is DAN's: in training each token is left out of the average with that
probability (the kept ones are rescaled so the average stays an average)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from zoo.models.baselines import Baseline, register
from zoo.models.pooling import real_steps

if TYPE_CHECKING:
    from zoo.models.spec import EncoderSpec

BIGRAM_PRIME = 1_000_003  # hash(a, b) = (a * prime + b) mod buckets: cheap, and spreads id pairs well


class BagOfNgrams(nn.Module):
    recurrent = False
    stateful = False

    def __init__(self, spec: EncoderSpec, vocab_size: int, pad_id: int | None) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.word_dropout = float(spec.word_dropout)
        self.embedding = nn.Embedding(vocab_size, spec.embedding_dim, padding_idx=pad_id)
        self.bigrams = nn.Embedding(spec.ngram_buckets, spec.embedding_dim) if spec.ngram_buckets else None
        self.embedding_dropout = nn.Dropout(spec.embedding_dropout)
        layers: list[nn.Module] = []
        width = spec.embedding_dim
        for _ in range(spec.num_layers):
            layers += [nn.Linear(width, spec.hidden_size), nn.ReLU(), nn.Dropout(spec.dropout)]
            width = spec.hidden_size
        self.feedforward = nn.Sequential(*layers, nn.Dropout(spec.output_dropout))
        self.step_size = spec.embedding_dim
        self.output_size = width

    def forward(self, tokens: Tensor, lengths: Tensor | None = None, state: None = None) -> tuple[Tensor, None]:
        """(batch, time, embedding_dim): word + bigram embedding at each step; no state."""
        steps = self.embedding(tokens)
        if self.bigrams is not None:
            previous = torch.nn.functional.pad(tokens[:, :-1], (1, 0), value=0)
            steps = steps + self.bigrams((previous * BIGRAM_PRIME + tokens) % self.bigrams.num_embeddings)
        steps = self.embedding_dropout(steps)
        if self.training and self.word_dropout > 0 and lengths is not None:
            steps = self._drop_words(steps, lengths)
        return steps, None

    def _drop_words(self, steps: Tensor, lengths: Tensor) -> Tensor:
        """Zero each token with probability word_dropout (one per row always stays), scaled by
        real/kept so that the mean over the real steps is the mean over the kept ones."""
        real = real_steps(steps, lengths).squeeze(-1)
        kept = (torch.rand(real.shape, device=steps.device) >= self.word_dropout) & real
        none_kept = ~kept.any(dim=1)
        first = torch.zeros_like(kept)
        first[:, 0] = True
        kept = kept | (none_kept[:, None] & first)
        scale = real.sum(dim=1, keepdim=True) / kept.sum(dim=1, keepdim=True)
        return steps * (kept * scale).unsqueeze(-1).to(steps.dtype)

    def post_pool(self, pooled: Tensor) -> Tensor:
        return self.feedforward(pooled)


def build(spec: EncoderSpec, vocab_size: int, pad_id: int | None, causal: bool) -> BagOfNgrams:
    return BagOfNgrams(spec, vocab_size, pad_id)


BASELINE = register(Baseline(
    name="bow", build=build, default_pooling="mean", min_layers=0,
    takes={"num_layers": "ReLU layers after the average (0: fastText)", "hidden_size": "their width",
           "embedding_dim": "word and bigram embedding size", "ngram_buckets": "hashed bigram rows (0: words only)",
           "word_dropout": "tokens left out of the average", "embedding_dropout": "on the embeddings",
           "dropout": "after each ReLU layer", "output_dropout": "before the classifier"},
    hints={"bidirectional": "a bag has no order to read", "kernel_sizes": "a CNN's filter widths"},
))
