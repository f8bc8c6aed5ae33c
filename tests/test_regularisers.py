"""Issue 11: the AWD-LSTM regularisers for every core (`zoo/models/regularisers.py`).

Weight drop: the dropped recurrent matrix is what the core runs on (train: two calls differ,
and differ from the same weights undropped; eval: exactly the undropped model), one mask per
call however often a core reads the matrix. Locked dropout: one mask per sequence, the same
at every step, and the stacked single-layer cores return the multi-layer core's outputs and
state. Bad values are one error line before data loads; a smoke run trains, registers, predicts.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import pytest
import torch
from helpers.runs import registers_and_predicts, smoke_run
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from zoo.errors import ConfigError
from zoo.models import EncoderSpec, SequenceClassifier, cores
from zoo.models.regularisers import DropConnect, LockedDropout, Stacked, WeightDropped
from zoo.models.state import tensors
from zoo.paths import PROJECT_ROOT
from zoo.tasks.language_model import LanguageModel, _detach

CORES = sorted(cores.all_cores())
TOKENS, LENGTHS = torch.tensor([[1, 2, 3, 4, 5, 6], [4, 5, 6, 7, 0, 0], [8, 9, 0, 0, 0, 0]]), torch.tensor([6, 4, 2])


def spec(variant: str, bidirectional: bool = False, **regularisers: object) -> EncoderSpec:
    return EncoderSpec(encoder=variant, num_layers=2, hidden_size=6, embedding_dim=4, bidirectional=bidirectional,
                    proj_size=3 if variant == "lstmp" else 0, **regularisers)  # type: ignore[arg-type]


def classifier(seed: int, model: EncoderSpec) -> SequenceClassifier:
    torch.manual_seed(seed)
    return SequenceClassifier(model, 10, 2, 0, "last")


def dropped_keys(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """An undropped network's state dict under the names its weight-dropped twin uses."""
    renamed = {}
    for key, value in state.items():
        key = key.replace("encoder.rnn.", "encoder.rnn.module.", 1)
        renamed[re.sub(r"\.(weight_hh_l\d+(_reverse)?)$", r".parametrizations.\1.original", key)] = value
    return renamed


def directions_of(variant: str) -> list[bool]:
    return [False, True] if cores.core(variant).bidirectional else [False]


@pytest.mark.parametrize("variant", CORES)
def test_every_core_runs_on_the_dropped_recurrent_matrices(variant: str) -> None:
    for bidirectional in directions_of(variant):
        plain = classifier(0, spec(variant, bidirectional))
        dropped = classifier(1, spec(variant, bidirectional, weight_drop=0.5))
        dropped.load_state_dict(dropped_keys(plain.state_dict()))  # the same weights, strictly
        rnn = dropped.encoder.rnn
        assert isinstance(rnn, WeightDropped)
        matrices = [m for m in rnn.modules() if isinstance(m, DropConnect)]
        assert len(matrices) == 2 * (2 if bidirectional else 1)  # every weight_hh_l{k}[_reverse]

        dropped.eval()
        # eval: U unchanged (to rounding: a wrapped bidirectional core packs, the plain one runs padded on a CPU)
        torch.testing.assert_close(dropped(TOKENS, LENGTHS), plain.eval()(TOKENS, LENGTHS), rtol=0, atol=1e-6)
        dropped.train()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning about the weights, at every step or once
            first, second = dropped(TOKENS, LENGTHS), dropped(TOKENS, LENGTHS)
        undropped = plain.train()(TOKENS, LENGTHS)  # no other dropout: deterministic
        assert not torch.allclose(first, second) and not torch.allclose(first, undropped)
        dropped.eval()
        torch.testing.assert_close(dropped(TOKENS, LENGTHS), plain.eval()(TOKENS, LENGTHS), rtol=0, atol=1e-6)  # back
        first.sum().backward()
        for name, parameter in dropped.named_parameters():
            if name.endswith(".original"):
                assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("variant", ["lstm", "gru", "gates", "fgr"])
def test_one_mask_per_matrix_per_call(variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand-written core reads U at every step: the cache makes that one draw per call."""
    calls: list[Tensor] = []
    original = DropConnect.forward

    def counting(self: DropConnect, weight: Tensor) -> Tensor:
        calls.append(out := original(self, weight))
        return out

    monkeypatch.setattr(DropConnect, "forward", counting)
    net = classifier(0, spec(variant, weight_drop=0.4)).train()
    net(TOKENS, LENGTHS)
    assert len(calls) == 2  # two layers, one draw each, for 6 steps
    for dropped, layer in zip(calls, (0, 1), strict=True):
        weight = net.encoder.rnn.module.parametrizations[f"weight_hh_l{layer}"].original
        kept = dropped != 0
        assert 0.3 < 1 - kept.float().mean() < 0.5  # about p of the entries dropped ...
        torch.testing.assert_close(dropped[kept], weight[kept] / 0.6)  # ... the rest scaled by 1 / (1 - p)


def between_layers(net: SequenceClassifier) -> tuple[list[Tensor], list[Tensor]]:
    """Hooks recording layer 0's output and layer 1's input, padded (batch, time, features)."""
    outputs: list[Tensor] = []
    inputs: list[Tensor] = []

    def padded(x: Tensor | PackedSequence) -> Tensor:
        return pad_packed_sequence(x, batch_first=True)[0] if isinstance(x, PackedSequence) else x

    rnn = net.encoder.rnn
    assert isinstance(rnn, Stacked)
    rnn.layers[0].register_forward_hook(lambda _m, _args, out: outputs.append(padded(out[0])))
    rnn.layers[1].register_forward_pre_hook(lambda _m, args: inputs.append(padded(args[0])))
    return outputs, inputs


@pytest.mark.parametrize(("variant", "bidirectional"), [("lstm", False), ("lstm", True), ("gru", True),
                                                        ("gates", False), ("fgr", False), ("lstmp", True)])
def test_locked_dropout_keeps_one_mask_for_every_step(variant: str, bidirectional: bool) -> None:
    net = classifier(0, EncoderSpec(encoder=variant, num_layers=2, hidden_size=16, embedding_dim=4, dropout=0.5,
                                 locked_dropout=True, bidirectional=bidirectional,
                                 proj_size=8 if variant == "lstmp" else 0)).train()
    outputs, inputs = between_layers(net)
    net(TOKENS, LENGTHS)
    net(TOKENS, LENGTHS)
    masks = []
    for h, x in zip(outputs, inputs, strict=True):
        for row, n in enumerate(LENGTHS.tolist()):
            real_h, real_x = h[row, :n], x[row, :n]
            assert (real_h != 0).all()  # so every zero of the input is a dropped unit
            zeros = real_x == 0
            assert (zeros == zeros[0]).all()  # the same units dropped at every step
            assert 0 < zeros[0].sum() < zeros.shape[1]
            torch.testing.assert_close(real_x[:, ~zeros[0]], real_h[:, ~zeros[0]] * 2)  # kept: / (1 - p)
        masks.append(x[:, 0] == 0)
    assert not torch.equal(masks[0], masks[1])  # a new mask each call
    assert not all(torch.equal(masks[0][0], row) for row in masks[0][1:])  # and one per sequence


def test_per_step_dropout_is_what_locked_dropout_replaces() -> None:
    """Without `locked_dropout` the mask changes from step to step (the contrast of the test above)."""
    torch.manual_seed(0)
    x = torch.ones(2, 50, 8)
    per_step = torch.nn.functional.dropout(x, 0.5) == 0
    assert not (per_step == per_step[:, :1]).all()
    locked = LockedDropout(0.5).train()(x) == 0
    assert (locked == locked[:, :1]).all()
    assert LockedDropout(0.5).eval()(x) is x


@pytest.mark.parametrize("variant", CORES)
def test_stacked_layers_equal_the_multi_layer_core(variant: str) -> None:
    """Locked dropout splits the core into single-layer cores: with the same seed they start
    from the same weights, and in eval they give the same outputs and final state, laid out
    as the multi-layer core lays it out (last_hidden, BPTT carrying read that layout)."""
    for bidirectional in directions_of(variant):
        plain = classifier(0, spec(variant, bidirectional, dropout=0.3)).eval()
        locked = classifier(0, spec(variant, bidirectional, dropout=0.3, locked_dropout=True,
                                    weight_drop=0.2)).eval()
        assert isinstance(locked.encoder.rnn.module, Stacked)
        want_out, want_state = plain.encoder(TOKENS, LENGTHS)
        got_out, got_state = locked.encoder(TOKENS, LENGTHS)
        torch.testing.assert_close(got_out, want_out, rtol=0, atol=1e-6)
        assert type(got_state) is type(want_state)
        for got, want in zip(tensors(got_state), tensors(want_state), strict=True):
            assert got.shape == want.shape
            exact = ~(got.isnan() | want.isnan())  # NaN where a CPU's padded run leaves no exact state
            torch.testing.assert_close(got[exact], want[exact], rtol=0, atol=1e-6)
        torch.testing.assert_close(locked(TOKENS, LENGTHS), plain(TOKENS, LENGTHS), rtol=0, atol=1e-6)


def test_a_regularised_network_round_trips_through_its_state_dict() -> None:
    model = spec("lstm", True, dropout=0.3, weight_drop=0.3, locked_dropout=True)
    trained = classifier(0, model)
    rebuilt = classifier(1, EncoderSpec.from_config(model.to_dict()))  # what a bundle does
    rebuilt.load_state_dict(trained.state_dict())
    assert torch.equal(rebuilt.eval()(TOKENS, LENGTHS), trained.eval()(TOKENS, LENGTHS))
    # a bundle written before these options existed: its model config lacks them, and loads
    old = {k: v for k, v in spec("lstm").to_dict().items() if k not in ("weight_drop", "locked_dropout")}
    plain = classifier(0, spec("lstm"))
    classifier(1, EncoderSpec.from_config(old)).load_state_dict(plain.state_dict())


@pytest.mark.parametrize("variant", ["gru", "fgr"])
def test_language_model_carries_a_detached_state_through_the_stacked_layers(variant: str) -> None:
    torch.manual_seed(0)
    model = LanguageModel({"encoder": variant, "num_layers": 2, "hidden_size": 8, "embedding_dim": 4,
                           "dropout": 0.3, "locked_dropout": True, "weight_drop": 0.3}, vocab_size=12)
    windows = [{"input_ids": torch.randint(0, 12, (3, 5)), "targets": torch.randint(0, 12, (3, 5))}
               for _ in range(2)]
    _, first_state = model._loss(windows[0], None)
    assert all(t.shape[:2] == (2, 3) and t.requires_grad for t in tensors(first_state))
    carried_loss, carried_state = model._loss(windows[1], first_state)
    fresh_loss, _ = model.eval()._loss(windows[1], None)
    carried_eval, _ = model._loss(windows[1], first_state)
    assert not torch.allclose(carried_eval, fresh_loss)  # window 2 started from window 1's state
    assert type(carried_state) is type(first_state)
    # ... but no gradient flows from window 2 back into window 1
    assert torch.autograd.grad(carried_loss, list(tensors(first_state)), allow_unused=True) == (None,) * len(
        list(tensors(first_state)))
    assert _detach(first_state, batch_size=2) is None  # another batch size starts afresh


@pytest.mark.parametrize(("values", "message"), [
    ({"weight_drop": 1.0}, "model.weight_drop=1.0 is invalid: it must be a probability in [0, 1)"),
    ({"weight_drop": -0.1}, "model.weight_drop=-0.1 is invalid"),
    ({"weight_drop": "x"}, "model.weight_drop='x' is invalid"),
    ({"weight_drop": True}, "model.weight_drop=True is invalid"),
    ({"locked_dropout": "yes"}, "model.locked_dropout='yes' is invalid: use model.locked_dropout=true or false"),
])
def test_bad_values_are_refused_by_the_spec(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        EncoderSpec(**values)  # type: ignore[arg-type]


def test_locked_dropout_without_dropout_between_layers_warns() -> None:
    with pytest.warns(UserWarning, match="model.locked_dropout=true does nothing without dropout between layers"):
        EncoderSpec(num_layers=2, locked_dropout=True).warn_unused()
    assert not isinstance(classifier(0, EncoderSpec(num_layers=2, locked_dropout=True)).encoder.rnn, Stacked)


# one subprocess in `make test` (the values themselves are checked in-process above); the rest in test-slow
@pytest.mark.parametrize(("value", "shown"), [("x", "'x'"), pytest.param("1.0", "1.0", marks=pytest.mark.slow),
                                              pytest.param("-0.1", "-0.1", marks=pytest.mark.slow)])
def test_a_bad_weight_drop_is_one_error_line_from_the_command_line(base_overrides, value: str, shown: str) -> None:
    result = subprocess.run([sys.executable, "-m", "zoo.train", *base_overrides, "debug=smoke",
                             f"model.weight_drop={value}"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(f"error: model.weight_drop={shown} is invalid: it must be a probability in [0, 1)")
    assert result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize(("task", "variant"), [("sentiment", "lstm"),
                                               pytest.param("generation", "gru", marks=pytest.mark.slow)])
def test_a_regularised_smoke_run_trains_registers_and_predicts(task: str, variant: str, base_overrides,
                                                               tmp_path) -> None:
    tags = registers_and_predicts(*smoke_run(task, base_overrides, tmp_path, "debug=smoke", f"model={variant}",
                                             "model.hidden_size=16", "model.embedding_dim=8", "model.num_layers=2",
                                             "model.dropout=0.3", "model.locked_dropout=true",
                                             "model.weight_drop=0.3"), task, variant)
    # the registry names the regularisers a model was trained with, and nothing that was off
    assert (tags["dropout"], tags["locked_dropout"], tags["weight_drop"]) == ("0.3", "true", "0.3")
    assert "bidirectional" not in tags and "proj_size" not in tags
