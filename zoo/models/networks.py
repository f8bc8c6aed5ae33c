"""The two networks of the zoo: a sequence classifier and a language model. No Lightning."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.errors import ConfigError
from zoo.models.encoder import LSTMEncoder
from zoo.models.pooling import AttentionPooling, check_pooling, pool
from zoo.models.spec import LSTMSpec
from zoo.models.state import State


def refuse_bidirectional(spec: LSTMSpec, task: str = "generation") -> None:
    """A bidirectional encoder sees the tokens it has to predict, so left-to-right models refuse it."""
    if spec.bidirectional:
        raise ConfigError(
            f"task={task} cannot use a bidirectional LSTM (it would see the tokens it has to "
            "predict); use model=lstm or model=seed"
        )


class SequenceClassifier(nn.Module):
    """Encoder -> pooled vector -> linear layer over the classes."""

    def __init__(
        self, spec: LSTMSpec, vocab_size: int, num_classes: int, pad_id: int, pooling: str
    ) -> None:
        super().__init__()
        self.pooling = check_pooling(pooling)
        self.encoder = LSTMEncoder(spec, vocab_size, pad_id)
        # on what the pooling reads: every step's output (mean/max) or the final state (last)
        self.output_dropout = nn.Dropout(spec.output_dropout)
        self.head = nn.Linear(spec.output_size, num_classes)
        # created last, and only for attention: the other poolings keep their parameters and seeds
        self.attention = AttentionPooling(spec.output_size) if self.pooling == "attention" else None

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        outputs, state = self.encoder(tokens, lengths)
        last = self.output_dropout(self.encoder.last_hidden(state)) if self.pooling == "last" else None
        steps = self.output_dropout(outputs) if self.pooling != "last" else outputs
        if self.attention is not None:
            return self.head(self.attention(steps, lengths))
        return self.head(pool(steps, lengths, last, self.pooling))


class LanguageModelNetwork(nn.Module):
    """Encoder -> next-token logits; the state is returned so callers can carry it."""

    def __init__(self, spec: LSTMSpec, vocab_size: int, tie_weights: bool = False) -> None:
        super().__init__()
        refuse_bidirectional(spec)
        self.encoder = LSTMEncoder(spec, vocab_size, pad_id=None)
        self.output_dropout = nn.Dropout(spec.output_dropout)  # on every step's top-layer output
        # Tying shares the embedding matrix with the output layer; a projection bridges
        # hidden_size to embedding_dim when they differ.
        self.projection: nn.Module = nn.Identity()
        head_in = spec.hidden_width  # proj_size for lstmp
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
        logits, state = self(torch.tensor([prompt_ids], device=device))
        new_ids: list[int] = []
        for _ in range(max_new_tokens):
            last = logits[0, -1].float()
            if temperature == 0:
                next_id = int(last.argmax())
            else:
                last = last / temperature
                if top_k is not None and top_k < last.numel():
                    cutoff = torch.topk(last, top_k).values[-1]
                    last = last.masked_fill(last < cutoff, float("-inf"))
                probs = torch.softmax(last, dim=-1).cpu()
                next_id = int(torch.multinomial(probs, 1, generator=generator))
            new_ids.append(next_id)
            logits, state = self(torch.tensor([[next_id]], device=device), state)
        self.train(was_training)
        return new_ids
