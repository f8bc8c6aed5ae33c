"""TextClassifier: classification and sentiment analysis, with accuracy and macro-F1."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from zoo.models import SequenceClassifier
from zoo.tasks.base import OptimizerFactory, SchedulerFactory, ZooTask


def _metrics(num_classes: int, prefix: str) -> MetricCollection:
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1_macro": MulticlassF1Score(num_classes, average="macro"),
        },
        prefix=prefix,
    )


class TextClassifier(ZooTask):
    """LSTM sequence classifier; logs train/loss, val/{loss,acc,f1_macro}, test/{...}."""


    def __init__(
        self,
        model: dict[str, Any],
        vocab_size: int,
        num_classes: int,
        pad_id: int,
        class_names: list[str] | None = None,
        pooling: str = "last",
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        tokenizer_json: str | None = None,
        monitor: str = "val/loss",
    ) -> None:
        super().__init__(model, optimizer, scheduler, tokenizer_json, monitor)
        self.save_hyperparameters(ignore=["optimizer", "scheduler", "tokenizer_json"], logger=False)
        self.network = SequenceClassifier(self.spec, vocab_size, num_classes, pad_id, pooling)
        self.class_names = list(class_names or [str(i) for i in range(num_classes)])
        self.val_metrics = _metrics(num_classes, "val/")
        self.test_metrics = _metrics(num_classes, "test/")
        self.train_loss = MeanMetric()
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()

    def forward(self, input_ids: Tensor, lengths: Tensor) -> Tensor:
        return self.network(input_ids, lengths)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self(batch["input_ids"], batch["lengths"])
        loss = F.cross_entropy(logits, batch["labels"])
        # accumulated here and logged once per epoch: self.log on every step costs ~4% speed
        self.train_loss.update(loss.detach(), weight=len(logits))
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("train/loss", self.train_loss.compute())
        self.train_loss.reset()

    def _evaluate(self, batch: dict[str, Tensor], metrics: MetricCollection, loss_metric: MeanMetric) -> None:
        logits = self(batch["input_ids"], batch["lengths"])
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

    @torch.no_grad()
    def predict_proba(self, texts: list[str]) -> Tensor:
        """Class probabilities for raw texts (tokenized with the model's own tokenizer)."""
        unk = self.tokenizer.token_to_id("[UNK]")
        ids = [enc.ids or [unk] for enc in self.tokenizer.encode_batch(texts)]
        lengths = torch.tensor([len(x) for x in ids])
        tokens = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
        for row, x in enumerate(ids):
            tokens[row, : len(x)] = torch.tensor(x)
        self.eval()
        return torch.softmax(self(tokens.to(self.device), lengths), dim=-1).cpu()
