"""Issue 11, step 3: `lstmp` (a projected h), `layernorm` (LN-LSTM) and attention pooling.
Each shows its defining property; bad input is refused before data loads; both cores train
sentiment and generation smoke runs, and lstmp registers and predicts."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

# the smoke-run and registry helpers of the gru
from helpers.runs import registers_and_predicts, smoke_run

from zoo.errors import ConfigError
from zoo.models import EncoderSpec, SequenceClassifier, cores
from zoo.models.gated_lstm import GatedLSTM
from zoo.paths import PROJECT_ROOT
from zoo.training import pipeline
from zoo.training.builders import check_config

SIZES = ("model.hidden_size=8", "model.embedding_dim=8")
CORES = {"lstmp": ("model=lstmp", *SIZES, "model.proj_size=4"), "layernorm": ("model=layernorm", *SIZES)}


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstmp_hidden_state_has_the_projection_width(bidirectional: bool) -> None:
    torch.manual_seed(0)
    spec = EncoderSpec(encoder="lstmp", num_layers=2, hidden_size=8, embedding_dim=3, proj_size=3,
                    bidirectional=bidirectional)
    net = SequenceClassifier(spec, 10, 2, 0, "last")
    outputs, (h, c) = net.encoder(torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2]))
    directions = 2 if bidirectional else 1
    assert outputs.shape[-1] == spec.output_size == 3 * directions == net.head.in_features
    assert h.shape == (2 * directions, 2, 3) and c.shape == (2 * directions, 2, 8)  # the cell stays H wide
    torch.testing.assert_close(net.encoder.last_hidden((h, c))[1, :3], outputs[1, 1, :3])


@pytest.mark.parametrize(
    ("variant", "proj_size", "message"),
    [("lstmp", 8, r"model.proj_size=8 is invalid for model.encoder=lstmp: .*\[1, model.hidden_size=8\)"),
     ("lstmp", -1, "model.proj_size=-1 is invalid"), ("lstmp", 0, "model.proj_size=0 is invalid"),
     ("lstm", 4, "model.proj_size=4 needs a core with a projection .*model.encoder=lstm has none"),
     ("layernorm", 4, "model.encoder=layernorm has none")],
)
def test_bad_projection_is_refused_before_data_loads(
    compose, monkeypatch: pytest.MonkeyPatch, variant: str, proj_size: int, message: str
) -> None:
    def no_data(*args: object, **kwargs: object) -> None:
        raise AssertionError("data was loaded before the config was checked")

    monkeypatch.setattr(pipeline, "build_datamodule", no_data)
    with pytest.raises(ConfigError, match=message):
        pipeline.run_training(compose(f"model={variant}", *SIZES, f"++model.proj_size={proj_size}"))


def test_projection_too_wide_is_one_error_line(base_overrides) -> None:
    result = subprocess.run([sys.executable, "-m", "zoo.train", *base_overrides, *CORES["lstmp"][:-1],
                             "model.proj_size=16"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error: model.proj_size=16 is invalid" in result.stderr and "Traceback" not in result.stderr


def _outputs_after_scaling(variant: str, weight: str, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The core's outputs on fixed input before and after multiplying `weight`_l0 by `scale`."""
    torch.manual_seed(0)
    cell = cores.core(variant).build(cores.Sizes(6, 8, 1, 0.0, False))
    assert isinstance(cell, GatedLSTM)
    x = torch.randn(3, 5, 6)
    before, _ = cell(x)
    with torch.no_grad():
        getattr(cell, f"{weight}_l0").mul_(scale)
    after, _ = cell(x)
    return before, after


@pytest.mark.parametrize("weight", ["weight_ih", "weight_hh"])
def test_layernorm_output_ignores_the_scale_of_its_weights(weight: str) -> None:
    """LN removes the scale of W x and U h (Ba et al. sec. 5); a plain LSTM (`np`) feels it."""
    before, after = _outputs_after_scaling("layernorm", weight, 7.0)
    torch.testing.assert_close(after, before, atol=1e-3, rtol=0)  # up to LN's ε against small variances
    plain_before, plain_after = _outputs_after_scaling("np", weight, 7.0)
    assert (plain_after - plain_before).abs().max() > 1e-2


def test_layernorm_is_refused_backwards(compose) -> None:
    with pytest.raises(ConfigError, match="model.encoder=layernorm is unidirectional"):
        check_config(compose(*CORES["layernorm"], "model.bidirectional=true"))


def test_attention_weights_sum_to_one_over_real_steps_only() -> None:
    from zoo.models.pooling import AttentionPooling

    torch.manual_seed(0)
    attention = AttentionPooling(2)
    outputs = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [1e6, -1e6]]])
    pooled = attention(outputs, torch.tensor([2]))
    assert torch.allclose(pooled, attention(outputs[:, :2], torch.tensor([2])))
    assert outputs[0, 0, 0] <= pooled[0, 0] <= outputs[0, 1, 0]  # a convex mix of the two real steps


def test_attention_pooling_on_a_language_model_is_refused(compose) -> None:
    """Generation has no pooling key (it predicts at every step); adding one is an error, not ignored."""
    assert "pooling" not in compose("task=generation").task.module
    with pytest.raises(ConfigError, match="task=generation pools nothing .*task.module.pooling=attention"):
        check_config(compose("task=generation", "+task.module.pooling=attention"))


@pytest.mark.parametrize("task", ["sentiment", "generation"])
@pytest.mark.parametrize("variant", [  # layernorm's equations are checked above; its smoke runs in make test-slow
    pytest.param(v, marks=() if v == "lstmp" else pytest.mark.slow) for v in CORES])
def test_new_cores_train_a_smoke_run(variant: str, task: str, base_overrides, tmp_path) -> None:
    run_id, tracking_uri = smoke_run(task, base_overrides, tmp_path, "debug=smoke", *CORES[variant])
    if variant == "lstmp":  # the bundle rebuilds the projection from model.proj_size
        registers_and_predicts(run_id, tracking_uri, task, variant)


def test_attention_pooling_trains_and_registers(base_overrides, tmp_path) -> None:
    run_id, tracking_uri = smoke_run("sentiment", base_overrides, tmp_path, "debug=smoke", *SIZES,
                                     "task.module.pooling=attention")
    assert registers_and_predicts(run_id, tracking_uri, "sentiment", "lstm")["pooling"] == "attention"
