"""TextClassifier: classification and sentiment analysis, with accuracy and macro-F1; and
the `classifier` task kind both tasks train."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from zoo.data import ClassificationDataModule
from zoo.data.base import TextDataModule
from zoo.direction import Direction
from zoo.models import EncoderSpec, SequenceClassifier
from zoo.tasks.attribution import EXPLAIN_PARAMS, explain_texts
from zoo.tasks.base import OptimizerFactory, SchedulerFactory, ZooTask
from zoo.tasks.inference import Inference, classify
from zoo.tasks.kinds import TaskKind, register


def _metrics(num_classes: int, prefix: str) -> MetricCollection:
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1_macro": MulticlassF1Score(num_classes, average="macro"),
        },
        prefix=prefix,
    )


def build_network(spec: EncoderSpec, hparams: Mapping[str, Any]) -> SequenceClassifier:
    """The network from the module's hyperparameters (a checkpoint's or a bundle's)."""
    return SequenceClassifier(spec, hparams["vocab_size"], hparams["num_classes"], hparams["pad_id"],
                              hparams.get("pooling", "last"))


class TextClassifier(ZooTask):
    """Sequence classifier over any encoder; logs train/loss, val/{loss,acc,f1_macro}, test/{...}."""

    network_builder = staticmethod(build_network)

    def __init__(
        self,
        model: dict[str, Any],
        vocab_size: int,
        num_classes: int,
        pad_id: int,
        class_names: list[str] | None = None,
        pooling: str = "last",
        optimizer: OptimizerFactory | None = None, scheduler: SchedulerFactory | None = None,
        tokenizer_json: str | None = None, monitor: str = "val/loss",
    ) -> None:
        super().__init__(model, optimizer, scheduler, tokenizer_json, monitor)
        self.class_names = list(class_names or [str(i) for i in range(num_classes)])
        self.val_metrics = _metrics(num_classes, "val/")
        self.test_metrics = _metrics(num_classes, "test/")
        self.train_loss = MeanMetric()
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()

    def forward(self, input_ids: Tensor, lengths: Tensor) -> Tensor:
        return self.network(input_ids, lengths)

    def forward_batch(self, batch: dict[str, Tensor]) -> Tensor:
        """Logits in fp32 even under bf16 autocast: the loss and the metrics read them."""
        return self(batch["input_ids"], batch["lengths"]).float()

    def batch_tokens(self, batch: dict[str, Tensor]) -> int:
        return int(batch["lengths"].sum())

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self.forward_batch(batch)
        loss = F.cross_entropy(logits, batch["labels"])
        # accumulated here and logged once per epoch: self.log on every step costs ~4% speed
        self.train_loss.update(loss.detach(), weight=len(logits))
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("train/loss", self.train_loss.compute())
        self.train_loss.reset()

    def _evaluate(self, batch: dict[str, Tensor], metrics: MetricCollection, loss_metric: MeanMetric) -> None:
        logits = self.forward_batch(batch)
        loss = F.cross_entropy(logits, batch["labels"])
        loss_metric.update(loss, weight=len(logits))
        metrics.update(logits, batch["labels"])

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics, self.val_loss)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics, self.test_loss)

    def on_validation_epoch_end(self) -> None:
        self.log("val/loss", self.val_loss.compute())
        self.log_dict(self.val_metrics.compute())
        self.val_loss.reset()
        self.val_metrics.reset()

    def on_test_epoch_end(self) -> None:
        self.log("test/loss", self.test_loss.compute())
        self.log_dict(self.test_metrics.compute())
        self.test_loss.reset()
        self.test_metrics.reset()


def predict(model: Inference, texts: list[str], params: Mapping[str, Any]) -> dict[str, list]:
    """The registered classifier's answer: labels and probabilities, and with explain=true each
    text's token attributions (integrated gradients towards its predicted class)."""
    columns = classify(model, texts, params)
    if params.get("explain"):
        columns["attributions"] = explain_texts(model, texts, params)
    return columns


def _module_args(datamodule: TextDataModule) -> dict[str, Any]:
    assert isinstance(datamodule, ClassificationDataModule)
    return {**datamodule.sizes(), "class_names": list(datamodule.classes)}


KIND = register(TaskKind(
    name="classifier", data_content="classification", data_module=ClassificationDataModule,
    task_module=TextClassifier, network=build_network, metrics=("val/acc", "val/f1_macro", "val/loss"),
    primary="test/acc", direction=Direction.MAXIMIZE, example="a gripping, beautifully acted film", predict=predict,
    params=EXPLAIN_PARAMS, example_params=EXPLAIN_PARAMS, ensembles=True, module_args=_module_args,
    forward_tokens=lambda network, tokens: network(tokens, torch.full((len(tokens),), tokens.shape[1])),
    metric_collection=lambda hparams, prefix: _metrics(int(hparams["num_classes"]), prefix),
))
