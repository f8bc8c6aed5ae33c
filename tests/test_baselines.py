"""Baselines beside the recurrent cores: Kim's CNN, a bag of n-grams and a transformer, each
checked against what defines it (max over time, order invariance, causality), against
padding, and refused, in one line before data loads, where it does not fit."""

from __future__ import annotations

import mlflow
import pytest
import torch
from helpers.runs import registers_and_predicts, smoke_run
from torch import nn

from zoo.data.sliding import sliding_batches, window_plan
from zoo.errors import ConfigError
from zoo.models import EncoderSpec, LanguageModelNetwork, SequenceClassifier, baselines
from zoo.models.baselines import Baseline
from zoo.training.builders import check_config

SPECS = {
    "cnn": dict(kernel_sizes=(2, 3)),
    "bow": dict(ngram_buckets=50, num_layers=1),
    "transformer": dict(num_heads=2, positions="learned", context=16),
}


def classifier(variant: str, pooling: str = "mean", **options: object) -> SequenceClassifier:
    torch.manual_seed(0)
    spec = EncoderSpec(encoder=variant, hidden_size=8, embedding_dim=6, **{**SPECS[variant], **options})
    return SequenceClassifier(spec, vocab_size=20, num_classes=3, pad_id=0, pooling=pooling).eval()


@pytest.mark.parametrize("variant", sorted(SPECS))
@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
def test_baseline_classifier_output_does_not_depend_on_padding(variant: str, pooling: str) -> None:
    net = classifier(variant, pooling)
    alone = net(torch.tensor([[5, 6, 7]]), torch.tensor([3]))
    together = net(torch.tensor([[5, 6, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]]), torch.tensor([3, 6]))
    torch.testing.assert_close(together[0], alone[0], atol=1e-5, rtol=0)


def test_cnn_is_max_over_time_of_relu_feature_maps() -> None:
    """Kim 2014 written out: each width's convolution over the zero-padded sentence, ReLU,
    the maximum over positions, the maps of all widths side by side, then the linear layer."""
    net = classifier("cnn", "max")
    tokens = torch.tensor([[3, 9, 4, 1, 7]])
    embedded = net.encoder.embedding(tokens).transpose(1, 2)
    pooled = []
    for width, conv in zip((2, 3), net.encoder.convolutions, strict=True):
        padded = torch.cat([torch.zeros(1, 6, (width - 1) // 2), embedded, torch.zeros(1, 6, width // 2)], dim=2)
        pooled.append(torch.relu(conv(padded)).max(dim=2).values)
    expected = net.head(torch.cat(pooled, dim=1))
    torch.testing.assert_close(net(tokens, torch.tensor([5])), expected)


def test_bag_of_words_ignores_word_order_and_bigrams_do_not() -> None:
    tokens, shuffled, lengths = torch.tensor([[3, 9, 4, 1]]), torch.tensor([[4, 1, 9, 3]]), torch.tensor([4])
    words = classifier("bow", ngram_buckets=0)
    torch.testing.assert_close(words(tokens, lengths), words(shuffled, lengths))
    bigrams = classifier("bow")
    assert not torch.allclose(bigrams(tokens, lengths), bigrams(shuffled, lengths))


def test_word_dropout_averages_the_kept_words() -> None:
    """DAN's word dropout: in training the mean over the real steps equals the mean over the
    words kept, and every row keeps one."""
    net = classifier("bow", ngram_buckets=0, word_dropout=0.5).train()
    tokens, lengths = torch.tensor([[3, 9, 4, 1, 0], [2, 5, 0, 0, 0]]), torch.tensor([4, 2])
    torch.manual_seed(1)
    steps, _ = net.encoder(tokens, lengths)
    embedded = net.encoder.embedding(tokens)
    for row, n in enumerate(lengths.tolist()):
        kept = steps[row, :n].abs().sum(dim=1) > 0
        assert kept.any()
        torch.testing.assert_close(steps[row, :n].mean(dim=0), embedded[row, :n][kept].mean(dim=0))


def test_causal_transformer_never_sees_the_future() -> None:
    torch.manual_seed(0)
    spec = EncoderSpec(encoder="transformer", hidden_size=8, embedding_dim=8, **SPECS["transformer"])
    net = LanguageModelNetwork(spec, vocab_size=12).eval()
    tokens = torch.tensor([[1, 2, 3, 4, 5]])
    changed = torch.tensor([[1, 2, 3, 9, 9]])
    logits, state = net(tokens)
    assert state is None  # no state: each window is its own context
    torch.testing.assert_close(net(changed)[0][:, :3], logits[:, :3])
    assert not torch.allclose(net(changed)[0][:, 3:], logits[:, 3:])


def test_transformer_generates_past_its_context_by_sliding_it() -> None:
    torch.manual_seed(0)
    spec = EncoderSpec(encoder="transformer", hidden_size=8, embedding_dim=8, num_heads=2, positions="sinusoidal",
                       context=4)
    net = LanguageModelNetwork(spec, vocab_size=12)
    out = net.generate([1, 2, 3, 4, 5, 6], max_new_tokens=10, generator=torch.Generator().manual_seed(0))
    assert len(out) == 10 and all(0 <= i < 12 for i in out)


@pytest.mark.parametrize(("overrides", "message"), [
    (["model=cnn", "model.num_layers=2"], r"model.num_layers=2 means nothing to model.encoder=cnn .*It takes "
                                          r"model.hidden_size \(feature maps per filter width\)"),
    (["model=cnn", "model.bidirectional=true"], "model.bidirectional=true means nothing to model.encoder=cnn"),
    (["model=bow", "model.bidirectional=true"], "a bag has no order to read"),
    (["model=cnn", "model.kernel_sizes=[]"], r"model.kernel_sizes=\[\] is invalid for model.encoder=cnn"),
    (["model=cnn", "task.module.pooling=last"], "task.module.pooling=last reads a final state, which "
                                                "model.encoder=cnn does not have; use task.module.pooling=max"),
    (["model=transformer", "model.num_heads=3"], "model.num_heads=3 must divide model.hidden_size=128"),
    (["model=transformer", "model.positions=rotary"], "model.positions='rotary' is invalid"),
    (["model=transformer", "model.context=64"], r"data.max_length=128 is longer than the 64 positions "
                                                r"model.encoder=transformer is built for; set model.context >= 128"),
    (["model=lstm", "model.kernel_sizes=[3]"], r"model.kernel_sizes=\[3\] means nothing to model.encoder=lstm"),
    (["task=generation", "model=cnn"], "model.encoder=cnn is for classifiers only; task=generation needs an "
                                       "encoder that reads left to right"),
    (["task=generation", "model=bow"], "model.encoder=bow is for classifiers only"),
    (["task=generation", "model=transformer", "model.bidirectional=true"],
     "model.bidirectional=true means nothing to model.encoder=transformer .*a language model's only to the past"),
    (["task=generation", "model=transformer", "data.bptt=512"], "data.bptt=512 is longer than the 256 positions"),
])
def test_an_encoder_refuses_what_it_does_not_take_in_one_line(compose, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        check_config(compose(*overrides))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("task", "model", "pooling"), [("sentiment", "cnn", "max"), ("sentiment", "bow", "mean"),
                                                        ("sentiment", "transformer", "mean"),
                                                        ("sentiment", "lstm", "last"),
                                                        ("classification", "cnn", "max")])
def test_a_null_pooling_is_the_encoders_own(compose, task: str, model: str, pooling: str) -> None:
    from zoo.training.builders import task_pooling

    cfg = compose(f"task={task}", f"model={model}")
    assert task_pooling(cfg, check_config(cfg)) == pooling


def test_a_baseline_registered_from_anywhere_is_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing but `register` is needed: a one-layer MLP over each embedding becomes an encoder."""

    class PerToken(nn.Module):
        recurrent, stateful = False, False

        def __init__(self, spec: EncoderSpec, vocab_size: int, pad_id: int | None) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, spec.embedding_dim, padding_idx=pad_id)
            self.step_size = self.output_size = spec.embedding_dim

        def forward(self, tokens, lengths=None, state=None):
            return torch.tanh(self.embedding(tokens)), None

        def post_pool(self, pooled):
            return pooled

    monkeypatch.setattr(baselines._BASELINES, "by_name", dict(baselines.all_baselines()))  # forgotten after
    baselines.register(Baseline(name="pertoken", build=lambda spec, vocab, pad, causal: PerToken(spec, vocab, pad),
                                takes={"embedding_dim": "embedding size"}))
    net = SequenceClassifier(EncoderSpec(encoder="pertoken", embedding_dim=3), 10, 2, 0, "max")
    assert net(torch.tensor([[1, 2, 3]]), torch.tensor([3])).shape == (1, 2)
    with pytest.raises(ConfigError, match="model.hidden_size=5 means nothing to model.encoder=pertoken"):
        EncoderSpec(encoder="pertoken", hidden_size=5)


@pytest.mark.parametrize(("tokens", "window", "stride"), [(10, 4, 2), (11, 4, 2), (5, 8, 4), (100, 16, 8),
                                                          (17, 4, 3), (2, 4, 2)])
def test_sliding_windows_score_every_token_once_with_half_a_window_before_it(tokens: int, window: int,
                                                                             stride: int) -> None:
    scored: list[int] = []
    for batch in sliding_batches(torch.arange(tokens), window, stride, batch_size=3):
        scored += batch["targets"][batch["scored"]].tolist()
    assert sorted(scored) == list(range(1, tokens))
    for _start, first in window_plan(tokens, window, stride)[1:]:
        assert first >= window - stride  # every target after the first window has that much context


@pytest.mark.parametrize(("task", "model"), [("sentiment", "cnn"), ("classification", "bow"),
                                             ("generation", "transformer")])
def test_a_baseline_trains_registers_predicts_and_reproduces(task: str, model: str, base_overrides, tmp_path,
                                                             this_machine) -> None:
    """The whole path of a recipe for a baseline (every encoder on every task, served over HTTP
    too: tests/test_core_matrix.py in make test-slow)."""
    from zoo.registry.reproduction import reproduce

    sizes = ("debug=smoke", f"model={model}", "model.hidden_size=16", "model.embedding_dim=8")
    run_id, tracking_uri = smoke_run(task, base_overrides, tmp_path, *sizes)
    metrics = mlflow.MlflowClient(tracking_uri).get_run(run_id).data.metrics
    assert metrics["perf/train_cpu_s_to_best"] <= metrics["perf/train_cpu_s"]
    if task == "generation":  # scored alike for every encoder: windows read from scratch
        assert metrics["test/loss_sliding"] > 0 and metrics["test/bpc_sliding"] > 0
    registers_and_predicts(run_id, tracking_uri, task, model)
    outcome = reproduce(_only_version(tracking_uri), tracking_uri)
    assert f"{outcome.difference:.4f}" in ("0.0000", "-0.0000")


def _only_version(tracking_uri: str) -> str:
    (model,) = mlflow.MlflowClient(tracking_uri).search_registered_models()
    return f"models:/{model.name}/1"
