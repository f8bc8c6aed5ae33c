"""Networks: hyperparameter checks, padding that changes nothing, pooling, tying, sampling."""

from __future__ import annotations

import pytest
import torch
from helpers.padding import padding_changes_nothing

from zoo.errors import ConfigError
from zoo.models import EncoderSpec, LanguageModelNetwork, SequenceClassifier
from zoo.models import encoder as encoder_module
from zoo.models.pooling import pool


@pytest.mark.parametrize(
    ("key", "value"),
    [("num_layers", 0), ("hidden_size", 0), ("hidden_size", -3), ("embedding_dim", 0),
     ("num_layers", 1.5), ("dropout", 1.0), ("dropout", -0.1), ("embedding_dropout", 2)],
)
def test_invalid_hyperparameters_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"model.{key}"):
        EncoderSpec(**{key: value})


def test_unknown_variant_and_option_list_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"choose a recurrent core \(.*\bgates, .*\blstm\b.*\) or a baseline \(bow, "
                                          r"cnn, transformer\)$"):
        EncoderSpec(encoder="xlnet")
    with pytest.raises(ConfigError, match="num_layer"):
        EncoderSpec.from_config({"num_layer": 2})


def test_dropout_at_depth_one_warns_and_is_unused() -> None:
    spec = EncoderSpec(num_layers=1, dropout=0.3)
    with pytest.warns(UserWarning, match="ignored with model.num_layers=1"):
        spec.warn_unused()
    assert spec.effective_dropout == 0.0
    assert EncoderSpec(num_layers=2, dropout=0.3).effective_dropout == 0.3


def test_gates_variant_is_unidirectional() -> None:
    with pytest.raises(ConfigError, match="bilstm"):
        EncoderSpec(encoder="gates", bidirectional=True)


@pytest.mark.parametrize("variant,bidirectional", [("lstm", False), ("lstm", True), ("gates", False),
                                                   ("layernorm", False)])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_classifier_output_does_not_depend_on_padding(variant: str, bidirectional: bool, pooling: str) -> None:
    padding_changes_nothing(variant, bidirectional, pooling)


def test_pooling_ignores_padded_steps() -> None:
    outputs = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
    lengths = torch.tensor([2, 3])
    assert pool(outputs, lengths, torch.zeros(2, 1), "mean").flatten().tolist() == [2.0, 4.0]
    assert pool(outputs, lengths, torch.zeros(2, 1), "max").flatten().tolist() == [3.0, 6.0]
    with pytest.raises(ValueError, match="last, mean, max"):
        pool(outputs, lengths, torch.zeros(2, 1), "median")


def test_unknown_pooling_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="task.pooling"):
        SequenceClassifier(EncoderSpec(), 10, 2, 0, pooling="median")


def test_bidirectional_last_hidden_joins_both_directions() -> None:
    torch.manual_seed(0)
    spec = EncoderSpec(num_layers=2, hidden_size=4, embedding_dim=3, bidirectional=True)
    net = SequenceClassifier(spec, 10, 2, 0, "last").eval()
    tokens, lengths = torch.tensor([[1, 2, 3, 0], [4, 5, 6, 7]]), torch.tensor([3, 4])
    outputs, state = net.encoder(tokens, lengths)
    last = net.encoder.last_hidden(state)
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(last[row, :4], outputs[row, n - 1, :4])  # forward at the end
        torch.testing.assert_close(last[row, 4:], outputs[row, 0, 4:])  # backward at the start


def test_language_model_refuses_bidirectional() -> None:
    with pytest.raises(ConfigError, match="bidirectional"):
        LanguageModelNetwork(EncoderSpec(bidirectional=True), vocab_size=10)


@pytest.mark.parametrize("hidden,embedding", [(8, 8), (16, 8)])
def test_weight_tying_shares_the_embedding(hidden: int, embedding: int) -> None:
    net = LanguageModelNetwork(EncoderSpec(hidden_size=hidden, embedding_dim=embedding), 12, tie_weights=True)
    assert net.head.weight is net.encoder.embedding.weight
    logits, _ = net(torch.tensor([[1, 2, 3]]))
    assert logits.shape == (1, 3, 12)


def test_generation_is_seeded_and_respects_top_k() -> None:
    torch.manual_seed(0)
    net = LanguageModelNetwork(EncoderSpec(hidden_size=16, embedding_dim=8), vocab_size=30)
    sample = lambda seed, **kw: net.generate([3, 4], 25, generator=torch.Generator().manual_seed(seed), **kw)  # noqa: E731
    assert len(sample(0)) == 25
    assert sample(0) == sample(0)
    assert sample(0) != sample(1)
    greedy = net.generate([3, 4], 10, temperature=0)
    assert sample(5, top_k=1)[:10] == greedy
    with pytest.raises(ValueError, match="top_k"):
        net.generate([3], 5, top_k=0)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_output_dropout_acts_in_training_for_every_pooling(pooling: str) -> None:
    torch.manual_seed(0)
    spec = EncoderSpec(hidden_size=16, embedding_dim=8, output_dropout=0.5)
    net = SequenceClassifier(spec, 20, 3, 0, pooling)
    tokens, lengths = torch.tensor([[3, 4, 5]]), torch.tensor([3])
    net.train()
    assert not torch.allclose(net(tokens, lengths), net(tokens, lengths))
    net.eval()
    torch.testing.assert_close(net(tokens, lengths), net(tokens, lengths))


def test_language_model_state_carried_across_windows_equals_one_long_pass() -> None:
    """Truncated BPTT must not change what the model computes forward: two windows with the
    state carried give the same loss as one pass over both."""
    from zoo.tasks import LanguageModel

    torch.manual_seed(0)
    model = LanguageModel({"hidden_size": 16, "embedding_dim": 8, "num_layers": 2}, vocab_size=12).eval()
    stream = torch.randint(0, 12, (2, 21))
    inputs, targets = stream[:, :-1], stream[:, 1:]
    whole, _ = model._loss({"input_ids": inputs, "targets": targets}, None)
    first, state = model._loss({"input_ids": inputs[:, :10], "targets": targets[:, :10]}, None)
    second, _ = model._loss({"input_ids": inputs[:, 10:], "targets": targets[:, 10:]}, state)
    torch.testing.assert_close((first + second) / 2, whole, atol=1e-6, rtol=0)
    reset, _ = model._loss({"input_ids": inputs[:, 10:], "targets": targets[:, 10:]}, None)
    assert not torch.isclose(reset, second)  # a dropped state would change the second window


def test_a_bundle_that_names_the_old_core_seed_loads_as_gates() -> None:
    """Registered bundles store the core's name under `variant`; `seed` was renamed `gates` and still loads."""
    old = EncoderSpec.from_config({"variant": "seed", "hidden_size": 8, "embedding_dim": 6})
    assert old.encoder == "gates" and old.core_name == "gates"  # the key and the core both renamed
    weights = SequenceClassifier(EncoderSpec(encoder="gates", hidden_size=8, embedding_dim=6), 20, 2, 0, "last")
    SequenceClassifier(old, 20, 2, 0, "last").load_state_dict(weights.state_dict())


@pytest.mark.parametrize(("encoder", "extra"), [("lstm", {}), ("gru", {}), ("lstm", {"weight_drop": 0.3}),
                                                ("lstm", {"bidirectional": True}), ("gru", {"bidirectional": True})])
def test_a_core_run_padded_on_a_cpu_equals_the_packed_run(encoder: str, extra: dict) -> None:
    """The CPU's padded path: the same outputs (zero past each end) and final top h as packing
    (both directions of a bidirectional core); the rest of its state, which padding makes
    wrong, is NaN."""
    torch.manual_seed(0)
    spec = EncoderSpec.from_config({"encoder": encoder, "num_layers": 2, "hidden_size": 6, "embedding_dim": 4,
                                    "dropout": 0.2, **extra})
    net = SequenceClassifier(spec, 12, 3, 0, "last").eval()
    tokens, lengths = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8], [9, 0, 0, 0, 0]]), torch.tensor([3, 5, 1])
    padded_out, padded_state = net.encoder(tokens, lengths)
    net.encoder.runs_padded = lambda embedded, state=None: False  # the packed path, as on a GPU
    packed_out, packed_state = net.encoder(tokens, lengths)
    torch.testing.assert_close(padded_out, packed_out)
    torch.testing.assert_close(net.encoder.last_hidden(padded_state), net.encoder.last_hidden(packed_state))
    hidden = net.encoder.core.hidden(padded_state)
    top = 2 if extra.get("bidirectional") else 1
    assert hidden.shape == net.encoder.core.hidden(packed_state).shape
    assert hidden[:-top].isnan().all() and not hidden[-top:].isnan().any()
    if encoder != "gru":
        assert padded_state[1].isnan().all()  # the cell state: where the padded run ended, not each row


def test_a_projected_core_and_a_wrapped_bidirectional_one_keep_packing() -> None:
    """oneDNN has no LSTM-with-projection kernel; a bidirectional core runs padded only as the
    plain module (weight drop wraps it)."""
    embedded = torch.zeros(2, 3, 4)
    for spec in (EncoderSpec(encoder="lstmp", proj_size=3, hidden_size=6, embedding_dim=4),
                 EncoderSpec(encoder="lstm", bidirectional=True, hidden_size=6, embedding_dim=4, weight_drop=0.2)):
        assert not SequenceClassifier(spec, 12, 3, 0, "last").encoder.runs_padded(embedded)
    assert SequenceClassifier(EncoderSpec(hidden_size=6, embedding_dim=4), 12, 3, 0, "last").encoder.runs_padded(
        embedded)


@pytest.mark.parametrize("encoder", ["lstm", "bilstm", "gru"])
def test_bf16_autocast_on_a_cpu_without_bf16_kernels_runs_the_recurrence_in_fp32(
        encoder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """oneDNN fails under bf16 autocast where the CPU lacks bf16 kernels (an AVX2-only EPYC):
    rows of one length (packed as padded inside PyTorch) and a padded batch alike must run, on
    PyTorch's own kernels, and oneDNN is on again afterwards."""
    monkeypatch.setattr(encoder_module, "onednn_supports", lambda dtype: dtype != torch.bfloat16)
    torch.manual_seed(0)
    spec = EncoderSpec(encoder="lstm" if encoder == "bilstm" else encoder, hidden_size=8, embedding_dim=4,
                       bidirectional=encoder == "bilstm")
    net = SequenceClassifier(spec, 10, 2, 0, "mean")
    for lengths in (torch.tensor([4, 4]), torch.tensor([3, 4])):
        tokens = torch.tensor([[1, 2, 3, 9], [4, 5, 6, 7]]) * (torch.arange(4) < lengths[:, None])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = net(tokens, lengths)
        torch.testing.assert_close(logits.float(), net(tokens, lengths), atol=0.05, rtol=0.05)
        assert torch.backends.mkldnn.enabled


def test_bf16_autocast_keeps_the_logits_and_the_hand_written_cell_in_fp32() -> None:
    torch.manual_seed(0)
    tokens, lengths = torch.tensor([[1, 2, 3, 0], [4, 5, 6, 7]]), torch.tensor([3, 4])
    for encoder in ("lstm", "gates"):
        net = SequenceClassifier(EncoderSpec(encoder=encoder, hidden_size=8, embedding_dim=4), 10, 2, 0, "mean")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            outputs, state = net.encoder(tokens, lengths)
            logits = net(tokens, lengths)
        reference = net(tokens, lengths)
        torch.testing.assert_close(logits.float(), reference, atol=0.05, rtol=0.05)  # bf16 matmuls, same model
        if encoder == "gates":
            assert state[1].dtype == torch.float32 and outputs.dtype == torch.float32
        logits.float().sum().backward()  # the deferred recurrent gradients meet bf16 inputs
        assert all(p.grad is None or p.grad.dtype == torch.float32 for p in net.parameters())
