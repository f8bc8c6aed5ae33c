"""The two networks of the zoo: a sequence classifier and a language model, over any encoder
(a recurrent core or a baseline). No Lightning."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.errors import ConfigError
from zoo.models.encoders import build_encoder, describe
from zoo.models.pooling import AttentionPooling, check_pooling, pool
from zoo.models.spec import EncoderSpec
from zoo.models.state import State


def check_encoder_pooling(spec: EncoderSpec, pooling: str) -> str:
    """A pooling the encoder can feed: `last` reads a final state, which only a recurrent core has."""
    encoder = describe(spec.encoder)
    if check_pooling(pooling) not in encoder.poolings:
        raise ConfigError(f"task.module.pooling={pooling} reads a final state, which model.encoder={spec.encoder} "
                          f"does not have; use task.module.pooling={encoder.default_pooling} (its default) or one "
                          f"of {', '.join(p for p in encoder.poolings if p != encoder.default_pooling)}")
    return pooling


def refuse_bidirectional(spec: EncoderSpec, task: str = "generation") -> None:
    """A bidirectional encoder sees the tokens it has to predict, so left-to-right models refuse it."""
    if spec.bidirectional:
        raise ConfigError(
            f"task={task} cannot use a bidirectional LSTM (it would see the tokens it has to "
            "predict); use model=lstm or model=gates"
        )


class SequenceClassifier(nn.Module):
    """Encoder -> pooled vector -> linear layer over the classes."""

    def __init__(
        self, spec: EncoderSpec, vocab_size: int, num_classes: int, pad_id: int, pooling: str
    ) -> None:
        super().__init__()
        self.pooling = check_encoder_pooling(spec, pooling)
        self.encoder = build_encoder(spec, vocab_size, pad_id, causal=False)
        # a core's output dropout acts on what the pooling reads: every step's output (mean/max) or
        # the final state (last); a baseline's comes after pooling, in its post_pool (Kim 2014)
        self.output_dropout = nn.Dropout(spec.output_dropout if self.encoder.recurrent else 0.0)
        self.head = nn.Linear(self.encoder.output_size, num_classes)
        # created last, and only for attention: the other poolings keep their parameters and seeds
        self.attention = AttentionPooling(self.encoder.step_size) if self.pooling == "attention" else None

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        outputs, state = self.encoder(tokens, lengths)
        last = self.output_dropout(self.encoder.last_hidden(state)) if self.pooling == "last" else None
        steps = self.output_dropout(outputs) if self.pooling != "last" else outputs
        if self.attention is not None:
            pooled = self.attention(steps, lengths)
        else:
            pooled = pool(steps, lengths, last, self.pooling)
        return self.head(self.encoder.post_pool(pooled))


class LanguageModelNetwork(nn.Module):
    """Encoder -> next-token logits; the state is returned so callers can carry it."""

    def __init__(self, spec: EncoderSpec, vocab_size: int, tie_weights: bool = False) -> None:
        super().__init__()
        refuse_bidirectional(spec)
        if not describe(spec.encoder).generates:
            raise ConfigError(f"model.encoder={spec.encoder} is for classifiers only: a language model needs an "
                              "encoder that reads left to right (a recurrent core, or model=transformer)")
        self.encoder = build_encoder(spec, vocab_size, pad_id=None, causal=True)
        self.output_dropout = nn.Dropout(spec.output_dropout)  # on every step's top-layer output
        # Tying shares the embedding matrix with the output layer; a projection bridges
        # the encoder's width to embedding_dim when they differ.
        self.projection: nn.Module = nn.Identity()
        head_in = self.encoder.output_size  # proj_size for lstmp
        if tie_weights and head_in != spec.embedding_dim:
            self.projection = nn.Linear(head_in, spec.embedding_dim)
            head_in = spec.embedding_dim
        self.head = nn.Linear(head_in, vocab_size)
        if tie_weights:
            self.head.weight = self.encoder.embedding.weight

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        outputs, state = self.encoder(tokens, state=state)
        return self.head(self.projection(self.output_dropout(outputs))), state

    @torch.no_grad()
    def generate(
        self,
        prompt_ids: list[int],
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> list[int]:
        """Sample continuation ids; temperature 0 means greedy, top_k keeps the k likeliest."""
        if not prompt_ids:
            raise ValueError("generation needs a prompt of at least one known token")
        if temperature < 0:
            raise ValueError(f"temperature={temperature} must be >= 0")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k={top_k} must be >= 1 (or None for no cut-off)")
        device = self.head.weight.device
        was_training = self.training
        self.eval()
        # a recurrent core carries its state and reads one new token per step; a transformer
        # reads its last `context` tokens again each step (a sliding context: no length limit)
        context = None if self.encoder.stateful else self.encoder.context
        ids = list(prompt_ids)
        logits, state = self(torch.tensor([ids[-context:] if context else ids], device=device))
        new_ids: list[int] = []
        for step in range(max_new_tokens):
            next_id = _sample(logits[0, -1].float(), temperature, top_k, generator)
            new_ids.append(next_id)
            ids.append(next_id)
            if step == max_new_tokens - 1:
                break
            if context:
                logits, state = self(torch.tensor([ids[-context:]], device=device))
            else:
                logits, state = self(torch.tensor([[next_id]], device=device), state)
        self.train(was_training)
        return new_ids


def _sample(last: Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None) -> int:
    """The next token id: greedy at temperature 0, else sampled from the (top-k) softmax."""
    if temperature == 0:
        return int(last.argmax())
    last = last / temperature
    if top_k is not None and top_k < last.numel():
        cutoff = torch.topk(last, top_k).values[-1]
        last = last.masked_fill(last < cutoff, float("-inf"))
    probs = torch.softmax(last, dim=-1).cpu()
    return int(torch.multinomial(probs, 1, generator=generator))
