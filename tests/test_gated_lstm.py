"""Greff et al.'s LSTM ablations (issue 11): with its switches off the gated cell is nn.LSTM;
each variant shows its defining property on a step; bad switches and directions are refused;
every variant trains a sentiment and a generation smoke run, and one registers and predicts."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from helpers.lstm_equivalence import assert_equals_torch_lstm, assert_lengths_match_packed

# the nn.LSTM equivalence checks of the seed, asked of `np`
from helpers.runs import registers_and_predicts, smoke_run

from zoo.errors import ConfigError
from zoo.models import EncoderSpec, cores
from zoo.models.cores import gated
from zoo.models.gated_lstm import GatedLSTM, Step, Switches
from zoo.models.recurrence import unroll
from zoo.paths import PROJECT_ROOT
from zoo.training.builders import check_config

VARIANTS = ("peephole", "nig", "nfg", "nog", "niaf", "noaf", "np", "cifg", "fgr")
SMALL = ("debug=smoke", "model.hidden_size=8", "model.embedding_dim=8")


def _cell(variant: str, depth: int = 1) -> GatedLSTM:
    torch.manual_seed(depth)
    cell = cores.core(variant).build(cores.Sizes(6, 8, depth, 0.0, False))
    assert isinstance(cell, GatedLSTM)
    return cell


def _step(variant: str) -> tuple[GatedLSTM, Step, torch.Tensor]:
    """One step of a fresh cell from a random (h, c[, a]); returns the cell, the step, c_{t-1}."""
    cell = _cell(variant)
    torch.manual_seed(1)
    widths = (8, 8, 8 * len(cell.switches.sigmoid_gates)) if cell.switches.full_recurrence else (8, 8)
    carried = tuple(torch.randn(4, width) for width in widths)
    return cell, cell.step(0, cell.project(0, torch.randn(4, 6)), carried), carried[1]


@pytest.mark.parametrize("depth", [1, 2])
def test_np_equals_torch_lstm_in_outputs_and_gradients(depth: int) -> None:
    cell, reference = _cell("np", depth), torch.nn.LSTM(6, 8, depth, batch_first=True)
    cell.load_state_dict(reference.state_dict())  # same names, shapes and gate order
    assert_equals_torch_lstm(reference, cell, depth)
    assert_lengths_match_packed(reference, cell)


@pytest.mark.parametrize("variant", ["fgr", "peephole", "cifg", "layernorm"])
@pytest.mark.parametrize("with_lengths", [True, False])
def test_the_unrolled_layer_equals_its_step_by_step_autograd(variant: str, with_lengths: bool) -> None:
    """`forward` defers the recurrent weights' gradients to one matmul per sequence
    (zoo/models/recurrence.py); `step()` with live weights, looped, is the reference."""
    torch.manual_seed(2)
    cell = cores.core(variant).build(cores.Sizes(6, 8, 1, 0.0, False))
    x, lengths = torch.randn(3, 5, 6), torch.tensor([5, 2, 4]) if with_lengths else None
    initial = tuple(torch.randn(3, width) for width in cell.state_widths())
    target = torch.randn(3, 5, 8)

    def gradients(outputs: torch.Tensor, final: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        cell.zero_grad()
        ((outputs * target).sum() + sum(part.pow(2).sum() for part in final)).backward()
        return {name: param.grad.clone() for name, param in cell.named_parameters()}

    out, final = cell(x, tuple(part.unsqueeze(0) for part in initial), lengths)
    deferred = gradients(out, tuple(part[0] for part in final))
    looped, final = unroll(lambda z, carried: cell.step(0, z, carried).carried(), cell.project(0, x), initial, lengths)
    torch.testing.assert_close(out, looped, atol=1e-6, rtol=0)
    reference = gradients(looped, final)
    assert any(name.startswith("weight_hh") for name in reference)
    for name, grad in reference.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(deferred[name], grad, atol=1e-5, rtol=0, msg=name)


def test_nfg_never_forgets() -> None:
    _, step, c_prev = _step("nfg")
    assert step.f == 1.0
    torch.testing.assert_close(step.c, c_prev + step.i * step.g, atol=0, rtol=0)


def test_nig_writes_the_whole_candidate() -> None:
    cell, step, c_prev = _step("nig")
    assert step.i == 1.0 and cell.switches.blocks == ("f", "g", "o")  # no input-gate weights at all
    torch.testing.assert_close(step.c, step.f * c_prev + step.g, atol=0, rtol=0)


def test_nog_shows_the_whole_squashed_cell() -> None:
    _, step, _ = _step("nog")
    assert step.o == 1.0
    torch.testing.assert_close(step.h, torch.tanh(step.c), atol=0, rtol=0)


def test_noaf_does_not_squash_the_cell() -> None:
    _, step, _ = _step("noaf")
    torch.testing.assert_close(step.h, step.o * step.c, atol=0, rtol=0)
    assert step.h.abs().max() <= step.c.abs().max()


def test_niaf_candidate_is_affine_in_the_input() -> None:
    cell = _cell("niaf")
    h, c = torch.randn(4, 8), torch.randn(4, 8)
    a, b = torch.randn(4, 6), torch.randn(4, 6)

    def candidate(x: torch.Tensor) -> torch.Tensor:
        return cell.step(0, cell.project(0, x), (h, c)).g

    torch.testing.assert_close(candidate(a) + candidate(b), candidate(a + b) + candidate(torch.zeros(4, 6)))
    assert candidate(10 * a).abs().max() > 1  # tanh would keep it in (-1, 1)


def test_cifg_input_gate_is_one_minus_forget_gate() -> None:
    cell, step, _ = _step("cifg")
    assert isinstance(step.i, torch.Tensor) and torch.equal(step.i, 1 - step.f)
    torch.testing.assert_close(step.i + step.f, torch.ones_like(step.c))
    assert cell.switches.blocks == ("f", "g", "o")


@pytest.mark.parametrize(("variant", "parameter"), [("peephole", "peephole_l0"), ("fgr", "weight_gg_l0")])
def test_only_the_variants_own_weights_change_the_output(variant: str, parameter: str) -> None:
    cell = _cell(variant)
    x = torch.randn(2, 4, 6)
    before, state = cell(x)
    with torch.no_grad():
        getattr(cell, parameter).add_(0.5)
    after, _ = cell(x)
    assert not torch.allclose(before, after)
    if variant == "fgr":  # a_0 = 0: the gate recurrence first acts on step 2; its state carries a
        torch.testing.assert_close(before[:, 0], after[:, 0])
        assert len(state) == 3 and state[2].shape == (1, 2, 3 * 8)
    assert not any(name.startswith(("peephole", "weight_gg")) for name, _ in _cell("np").named_parameters())


def test_fgr_feeds_the_previous_gates_into_every_gate_not_the_candidate() -> None:
    """FGR's equations written out (Greff et al.): R a_{t-1} enters i, f and o, never g."""
    cell = _cell("fgr")
    torch.manual_seed(1)
    h, c, a = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 24)
    x = torch.randn(4, 6)
    step = cell.step(0, cell.project(0, x), (h, c, a))
    z = x @ cell.weight_ih_l0.t() + cell.bias_ih_l0 + cell.bias_hh_l0 + h @ cell.weight_hh_l0.t()
    z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
    r_i, r_f, r_o = (a @ cell.weight_gg_l0.t()).chunk(3, dim=1)  # rows of R: i, f, o
    p_i, p_f, p_o = cell.peephole_l0
    i, f = torch.sigmoid(z_i + r_i + p_i * c), torch.sigmoid(z_f + r_f + p_f * c)
    c_new = f * c + i * torch.tanh(z_g)
    o = torch.sigmoid(z_o + r_o + p_o * c_new)
    torch.testing.assert_close(step.c, c_new)
    torch.testing.assert_close(step.h, o * torch.tanh(c_new))
    torch.testing.assert_close(step.a, torch.cat([i, f, o], dim=1))
    step.h.sum().backward()  # the in-place additions keep R in the graph
    assert cell.weight_gg_l0.grad is not None and cell.weight_gg_l0.grad.abs().sum() > 0


def test_a_switch_combination_that_is_not_a_cell_is_refused() -> None:
    with pytest.raises(ConfigError, match=re.escape("coupled input and forget gates (i = 1 - f) need both")):
        Switches(coupled=True, forget_gate=False)
    with pytest.raises(ConfigError, match="this cell has none"):
        Switches(input_gate=False, forget_gate=False, output_gate=False)
    assert Switches(input_gate=False, forget_gate=False, output_gate=False, peepholes=False).blocks == ("g",)


def test_every_variant_is_registered_and_unidirectional(compose) -> None:
    assert all(cores.core(name).build.func is gated.build for name in VARIANTS)  # one registration each
    names = sorted(cores.all_cores())
    assert set(VARIANTS) <= set(names)
    with pytest.raises(ConfigError, match=rf"choose a recurrent core \({', '.join(names)}\)"):
        EncoderSpec(encoder="peepholes")
    with pytest.raises(ConfigError, match="model.encoder=cifg is unidirectional; use model=bilstm"):
        check_config(compose(*SMALL, "model=cifg", "model.bidirectional=true"))


def test_bidirectional_gated_core_is_one_error_line(base_overrides) -> None:
    result = subprocess.run([sys.executable, "-m", "zoo.train", *base_overrides, *SMALL, "model=fgr",
                             "model.bidirectional=true"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error: model.encoder=fgr is unidirectional" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("task", ["sentiment", "generation"])
@pytest.mark.parametrize("variant", [  # fgr (the one with an extra state) in the fast suite, the rest in make test-slow
    pytest.param(v, marks=() if v == "fgr" else pytest.mark.slow) for v in VARIANTS])
def test_every_variant_trains_a_smoke_run(variant: str, task: str, base_overrides, tmp_path) -> None:
    run_id, tracking_uri = smoke_run(task, base_overrides, tmp_path, *SMALL, f"model={variant}")
    if variant == "fgr":  # fgr: the state with an extra tensor (a) rebuilds too
        registers_and_predicts(run_id, tracking_uri, task, variant)
