"""Recurrent cores as plug-ins: the registry, any state structure (GRU: one tensor) carried
across BPTT windows and read as "final hidden", and a GRU that trains, registers and serves."""

from __future__ import annotations

import pytest
import torch

# the padding check of tests/test_models.py, run here for a bidirectional GRU
from helpers.padding import padding_changes_nothing
from helpers.runs import registers_and_predicts, smoke_run
from torch import Tensor, nn

from zoo.errors import ConfigError
from zoo.models import EncoderSpec, SequenceClassifier, cores
from zoo.models.cores import Core, Sizes
from zoo.models.state import map_state, rows
from zoo.tasks.language_model import LanguageModel, _detach

SMALL = ("debug=smoke", "model=gru", "model.hidden_size=16", "model.embedding_dim=8")


def test_unknown_core_lists_the_registered_ones() -> None:
    names = sorted(cores.all_cores())
    assert {"lstm", "gates", "gru"} <= set(names)
    with pytest.raises(ConfigError, match=rf"not a known encoder; choose a recurrent core \({', '.join(names)}\) or a "
                                          r"baseline \(bow, cnn, transformer\)$"):
        EncoderSpec(encoder="nope")
    with pytest.raises(ConfigError, match="model.encoder=gates is unidirectional; use model=bilstm"):
        EncoderSpec(encoder="gates", bidirectional=True)


def test_a_core_registered_from_anywhere_is_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing but `register` is needed: an Elman RNN (state: one tensor) becomes a variant."""

    def elman(sizes: Sizes) -> nn.Module:
        return nn.RNN(sizes.input_size, sizes.hidden_size, sizes.num_layers, batch_first=True,
                      bidirectional=sizes.bidirectional)

    monkeypatch.setattr(cores._CORES, "by_name", dict(cores.all_cores()))  # forgotten after the test
    cores.register(Core(name="elman", build=elman, hidden=cores.whole))
    net = SequenceClassifier(EncoderSpec(encoder="elman", hidden_size=5, embedding_dim=3), 10, 2, 0, "last")
    assert net(torch.tensor([[1, 2, 3]]), torch.tensor([3])).shape == (1, 2)


def test_state_helpers_keep_any_structure() -> None:
    h, c = torch.ones(2, 3, 4), torch.zeros(2, 3, 4)
    assert rows(h) == rows((h, c)) == rows(((h,), c)) == 3
    doubled = map_state(lambda t: t * 2, ((h,), c))
    assert isinstance(doubled, tuple) and torch.equal(doubled[0][0], h * 2) and torch.equal(doubled[1], c)


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_bidirectional_gru_classifier_ignores_padding(pooling: str) -> None:
    padding_changes_nothing("gru", True, pooling)
    spec = EncoderSpec(encoder="gru", hidden_size=4, embedding_dim=3, bidirectional=True)
    encoder = SequenceClassifier(spec, 10, 2, 0, pooling).encoder
    tokens, lengths = torch.tensor([[1, 2, 3, 0], [4, 5, 6, 7]]), torch.tensor([3, 4])
    outputs, state = encoder(tokens, lengths)
    assert isinstance(state, Tensor)  # a GRU's state is one tensor
    last = encoder.last_hidden(state)
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(last[row, :4], outputs[row, n - 1, :4])  # forward at the end
        torch.testing.assert_close(last[row, 4:], outputs[row, 0, 4:])  # backward at the start


def test_gru_language_model_carries_a_detached_state_across_windows() -> None:
    torch.manual_seed(0)
    model = LanguageModel({"encoder": "gru", "hidden_size": 8, "embedding_dim": 4}, vocab_size=12)
    windows = [{"input_ids": torch.randint(0, 12, (3, 5)), "targets": torch.randint(0, 12, (3, 5))}
               for _ in range(2)]
    _, first_state = model._loss(windows[0], None)
    assert isinstance(first_state, Tensor) and first_state.requires_grad
    carried_loss, carried_state = model._loss(windows[1], first_state)
    fresh_loss, fresh_state = model._loss(windows[1], None)
    assert not torch.allclose(carried_state, fresh_state)  # window 2 started from window 1's state
    assert not torch.allclose(carried_loss, fresh_loss)
    # ... but no gradient flows from window 2 back into window 1
    assert torch.autograd.grad(carried_loss, first_state, allow_unused=True) == (None,)
    assert _detach(first_state, batch_size=2) is None  # another batch size starts afresh


@pytest.mark.parametrize("task", ["sentiment", "generation"])
def test_gru_trains_registers_and_serves(task: str, base_overrides, tmp_path) -> None:
    registers_and_predicts(*smoke_run(task, base_overrides, tmp_path, *SMALL), task, "gru")
