"""The hand-written LSTM must equal torch.nn.LSTM: outputs, states and gradients."""

from __future__ import annotations

import pytest
import torch
from helpers.lstm_equivalence import assert_equals_torch_lstm, assert_lengths_match_packed

from zoo.models import HandwrittenLSTM


def _pair(depth: int, input_size: int = 6, hidden: int = 8) -> tuple[torch.nn.LSTM, HandwrittenLSTM]:
    torch.manual_seed(depth)
    reference = torch.nn.LSTM(input_size, hidden, depth, batch_first=True)
    seed = HandwrittenLSTM(input_size, hidden, depth)
    seed.load_state_dict(reference.state_dict())
    return reference, seed


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_outputs_and_gradients_match_torch_lstm(depth: int) -> None:
    assert_equals_torch_lstm(*_pair(depth), depth)


@pytest.mark.parametrize("depth", [1, 2])
def test_lengths_match_packed_torch_lstm(depth: int) -> None:
    assert_lengths_match_packed(*_pair(depth))


def test_state_dicts_move_both_ways() -> None:
    reference, seed = _pair(2)
    assert set(seed.state_dict()) == set(reference.state_dict())
    fresh = torch.nn.LSTM(6, 8, 2, batch_first=True)
    fresh.load_state_dict(seed.state_dict())
    x = torch.randn(2, 3, 6)
    torch.testing.assert_close(fresh(x)[0], reference(x)[0])


def test_dropout_between_layers_only_in_training() -> None:
    torch.manual_seed(0)
    seed = HandwrittenLSTM(4, 8, num_layers=2, dropout=0.5)
    x = torch.randn(2, 5, 4)
    seed.eval()
    torch.testing.assert_close(seed(x)[0], seed(x)[0])
    seed.train()
    assert not torch.allclose(seed(x)[0], seed(x)[0])
