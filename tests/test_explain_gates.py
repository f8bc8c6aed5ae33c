"""Gate traces (zoo.explain.gates): recomputed gates of the fused nn.LSTM / nn.GRU give what
an nn.LSTMCell loop and the fused kernels give, the hand-written cores are traced through
their own steps, padding is never counted, and saturation counts what it says."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo.errors import ConfigError
from zoo.explain.gates import LayerTrace, Trace, trace_gates
from zoo.explain.saturation import gate_metrics, saturation
from zoo.models.cores import Sizes, core

LENGTHS = torch.tensor([7, 3, 5])


def _inputs(features: int = 5) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(len(LENGTHS), int(LENGTHS.max()), features)


def _packed_outputs(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(module(packed)[0], batch_first=True)[0]


def test_lstm_gates_equal_an_lstm_cell_loop() -> None:
    """The issue's check: c and h recomputed from nn.LSTM's weights equal nn.LSTMCell's, to 1e-5."""
    torch.manual_seed(1)
    lstm, x = nn.LSTM(5, 6, num_layers=1, batch_first=True), _inputs()
    cell = nn.LSTMCell(5, 6)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    layer = trace_gates(lstm, x).layer(0)
    h = c = torch.zeros(3, 6)
    for t in range(x.shape[1]):
        h, c = cell(x[:, t], (h, c))
        torch.testing.assert_close(layer.parts["c"][:, t], c, atol=1e-5, rtol=0)
        torch.testing.assert_close(layer.parts["h"][:, t], h, atol=1e-5, rtol=0)
    gates = torch.stack([layer.parts[name] for name in "ifo"])
    assert gates.min() > 0 and gates.max() < 1 and layer.parts["g"].abs().max() < 1


@pytest.mark.parametrize(("name", "bidirectional", "proj"), [
    ("lstm", False, 0), ("lstm", True, 0), ("lstmp", True, 3), ("gru", True, 0), ("gru", False, 0)])
def test_fused_cores_are_traced_to_their_own_outputs(name: str, bidirectional: bool, proj: int) -> None:
    """Two layers, padded rows: the top layer's h in each direction is the fused kernel's output."""
    torch.manual_seed(2)
    module = core(name).build(Sizes(5, 6, 2, 0.0, bidirectional, proj)).eval()
    x = _inputs()
    expected, trace = _packed_outputs(module, x), trace_gates(module, x, LENGTHS)
    top = [trace.layer(1, "forward").parts["h"]] + ([trace.layer(1, "backward").parts["h"]] if bidirectional else [])
    torch.testing.assert_close(torch.cat(top, dim=-1), expected, atol=1e-5, rtol=0)
    assert set(trace.layer(0).parts) == ({"r", "z", "n", "h"} if name == "gru" else {"i", "f", "g", "o", "c", "h"})
    assert trace.mask.sum(1).tolist() == LENGTHS.tolist()
    assert all(float(v[~trace.mask].abs().sum()) == 0 for t in trace.layers for v in t.parts.values())


@pytest.mark.parametrize("name", ["gates", "peephole", "nog", "cifg", "fgr", "layernorm"])
def test_hand_written_cores_are_traced_through_their_own_steps(name: str) -> None:
    torch.manual_seed(3)
    module = core(name).build(Sizes(5, 6, 2, 0.0, False)).eval()
    x = _inputs()
    expected, _ = module(x, None, LENGTHS)
    trace = trace_gates(module, x, LENGTHS)
    torch.testing.assert_close(trace.layer(1).parts["h"], expected, atol=1e-5, rtol=0)
    parts, mask = trace.layer(0).parts, trace.mask
    if name == "nog":  # a gate switched off is the constant 1 on real steps
        assert bool((parts["o"][mask] == 1).all())
    if name == "cifg":  # i = 1 - f
        torch.testing.assert_close(parts["i"][mask], 1 - parts["f"][mask])


def test_a_model_without_gates_is_refused_with_the_cores_that_have_them() -> None:
    with pytest.raises(ConfigError, match="gate traces need a recurrent core"):
        trace_gates(nn.Conv1d(5, 6, 3), _inputs())


def test_saturation_counts_real_steps_below_and_above_the_thresholds() -> None:
    forget = torch.tensor([[[0.05, 0.5], [0.95, 0.95], [0.0, 0.0]]])  # step 3 is padding
    trace = Trace([LayerTrace(0, "forward", {"f": forget, "h": forget})], torch.tensor([[True, True, False]]))
    (result,) = saturation([trace, trace])
    assert (result.layer, result.gate, result.steps) == ("l0", "f", 4)
    assert result.left.tolist() == [0.5, 0.0] and result.right.tolist() == [0.5, 0.5]
    metrics = gate_metrics([result])
    assert metrics["explain/saturation/l0/f/right"] == 0.5 and metrics["explain/saturation/l0/f/units_mostly_open"] == 0
