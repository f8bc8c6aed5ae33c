"""Token embedding + recurrent core (nn.LSTM or SeedLSTM), with padding that costs nothing."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo.models.seed_lstm import SeedLSTM, State
from zoo.models.spec import LSTMSpec


class LSTMEncoder(nn.Module):
    """Embeds token ids and runs the LSTM variant named by the spec.

    With `lengths`, `nn.LSTM` runs on a `PackedSequence` (no step is spent on padding)
    and `SeedLSTM` freezes each row's state past its end, so both return the state at
    each row's last real token.
    """

    def __init__(self, spec: LSTMSpec, vocab_size: int, pad_id: int | None) -> None:
        super().__init__()
        self.spec = spec
        self.embedding = nn.Embedding(vocab_size, spec.embedding_dim, padding_idx=pad_id)
        self.embedding_dropout = nn.Dropout(spec.embedding_dropout)
        self.rnn: nn.Module
        if spec.variant == "seed":
            self.rnn = SeedLSTM(
                spec.embedding_dim, spec.hidden_size, spec.num_layers, spec.effective_dropout
            )
        else:
            self.rnn = nn.LSTM(
                spec.embedding_dim,
                spec.hidden_size,
                spec.num_layers,
                batch_first=True,
                dropout=spec.effective_dropout,
                bidirectional=spec.bidirectional,
            )

    def forward(
        self, tokens: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """Return per-step outputs (batch, time, directions*hidden) and the final state."""
        embedded = self.embedding_dropout(self.embedding(tokens))
        if isinstance(self.rnn, SeedLSTM):
            outputs, state = self.rnn(embedded, state, lengths)
        elif lengths is None:
            outputs, state = self.rnn(embedded, state)
        else:
            packed = pack_padded_sequence(
                embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            packed_out, state = self.rnn(packed, state)
            outputs, _ = pad_packed_sequence(
                packed_out, batch_first=True, total_length=tokens.shape[1]
            )
        return outputs, state

    def last_hidden(self, state: State) -> Tensor:
        """The top layer's final hidden state, both directions side by side."""
        h_n = state[0]
        if self.spec.bidirectional:
            return h_n.view(self.spec.num_layers, 2, *h_n.shape[1:])[-1].transpose(0, 1).flatten(1)
        return h_n[-1]
