"""Gate traces (zoo.explain.gates): recomputed gates of the fused nn.LSTM / nn.GRU give what
an nn.LSTMCell loop and the fused kernels give, the hand-written cores are traced through
their own steps, padding is never counted, and saturation counts what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo.errors import ConfigError, ZooError
from zoo.explain.gates import Clamp, LayerTrace, Trace, trace_gates
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


@pytest.mark.parametrize(("name", "part"), [("lstm", "c"), ("gru", "h"), ("nog", "c"), ("gates", "h")])
def test_a_clamped_unit_holds_its_value_and_changes_what_follows(name: str, part: str) -> None:
    torch.manual_seed(4)
    module = core(name).build(Sizes(5, 6, 2, 0.0, False)).eval()
    x = _inputs()
    free = trace_gates(module, x)
    held = trace_gates(module, x, clamp=Clamp(0, "forward", part, 2, 0.5))
    assert bool((held.layer(0).parts[part][:, :, 2] == 0.5).all())
    assert not torch.allclose(held.layer(1).parts["h"], free.layer(1).parts["h"])  # the layer above reads it
    torch.testing.assert_close(held.layer(0).parts[part][:, :, 3][:, 0], free.layer(0).parts[part][:, :, 3][:, 0])


def test_a_gru_has_no_cell_to_clamp() -> None:
    with pytest.raises(ZooError, match="a GRU has no cell state c"):
        trace_gates(core("gru").build(Sizes(5, 6, 1, 0.0, False)), _inputs(), clamp=Clamp(0, "forward", "c", 0, 0.0))


def test_reading_step_by_step_gives_the_language_models_own_losses() -> None:
    from zoo.explain.cells import read
    from zoo.models import EncoderSpec
    from zoo.models.networks import LanguageModelNetwork

    torch.manual_seed(5)
    network = LanguageModelNetwork(EncoderSpec.from_config({"encoder": "lstm", "num_layers": 2, "hidden_size": 8,
                                                            "embedding_dim": 4}), vocab_size=11).eval()
    tokens = torch.randint(0, 11, (3, 20))
    logits, _ = network(tokens)
    targets = tokens[:, 1:].flatten()
    expected = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), targets, reduction="none")
    torch.testing.assert_close(read(network, tokens).losses, expected.view(3, -1), atol=1e-5, rtol=0)


def test_unit_scores_are_abs_spearman_and_two_sided_auc() -> None:
    from scipy.stats import rankdata

    from zoo.explain.cells import unit_scores, where_it_holds

    labels = np.array([0, 0, 1, 1, 1.0])
    values = np.stack([labels * 2, -labels, np.array([1, 0, 1, 0, 1.0])], axis=1)  # tracks, tracks inverted, noise
    auc = unit_scores(rankdata(values, axis=0), labels, graded=False)
    assert auc[0] == 1.0 and auc[1] == 1.0 and auc[2] < 0.75
    graded = np.arange(5.0)
    rho = unit_scores(rankdata(np.stack([graded ** 2, -graded], axis=1), axis=0), graded, graded=True)
    np.testing.assert_allclose(rho, [1.0, 1.0])
    depth = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 2.0])  # the quantile is 0: "holds" must not mean everywhere
    assert where_it_holds(depth, depth, graded=True).tolist() == [False] * 8 + [True, True]


def test_concepts_label_every_character() -> None:
    from zoo.explain.concepts import builtin_names, find_concept

    text = 'ROMEO:\nHe said "go (now)" and don\'t \'stay\'.\n'
    got = {name: find_concept(name).labels(text) for name in builtin_names()}
    assert all(len(v) == len(text) for v in got.values())
    assert got["line_position"][text.index("H")] == 1 and got["line_position"][6] == 0
    assert sum(got["in_double_quotes"]) == len('"go (now)"')
    assert sum(got["in_single_quotes"]) == len("'stay'")  # don't's apostrophe neither opens nor closes
    assert max(got["bracket_depth"]) == 1 and sum(got["upper_case_run"]) == len("ROMEO")
    with pytest.raises(ZooError, match="unknown concept 'quotes'; built-in: bracket_depth"):
        find_concept("quotes")
    assert find_concept("zoo.explain.concepts:line_position").graded
