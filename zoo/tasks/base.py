"""What every task module shares: optimiser from config, tokenizer and kind in the checkpoint."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import torch
from tokenizers import Tokenizer
from torch import nn

from zoo.models import EncoderSpec

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]


class ZooTask(L.LightningModule):
    """Base LightningModule: subclasses build `self.network` and define the steps.

    The optimiser and scheduler arrive as Hydra `_partial_` factories, so the config
    picks them without code. The tokenizer's JSON rides in the checkpoint, so a
    checkpoint alone turns raw text into predictions. So does the task kind's name
    (`task_kind`, set by the builder), so a bundle never has to guess it.
    """

    task_kind: str | None = None
    # the kind's network builder, (spec, hyperparameters) -> nn.Module; a bundle calls the same one
    network_builder: Callable[[EncoderSpec, Mapping[str, Any]], nn.Module]

    def __init__(
        self,
        model: dict[str, Any],
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        tokenizer_json: str | None = None,
        monitor: str = "val/loss",
    ) -> None:
        super().__init__()
        # the subclass's own init arguments go into the checkpoint (the factories and the
        # tokenizer ride elsewhere); its frame is the caller of this __init__
        caller = inspect.currentframe().f_back  # type: ignore[union-attr]
        self.save_hyperparameters(ignore=["optimizer", "scheduler", "tokenizer_json"], logger=False, frame=caller)
        self.spec = EncoderSpec.from_config(model)
        self.network = type(self).network_builder(self.spec, self.hparams)
        self.monitor = monitor
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.tokenizer_json = tokenizer_json
        self._tokenizer: Tokenizer | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            if self.tokenizer_json is None:
                raise RuntimeError("this model was built without a tokenizer")
            self._tokenizer = Tokenizer.from_str(self.tokenizer_json)
        return self._tokenizer

    def forward_batch(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The network's output for one batch of the kind's data module (latency, benchmarks)."""
        raise NotImplementedError

    def batch_tokens(self, batch: dict[str, torch.Tensor]) -> int:
        """Real (unpadded) tokens in a batch, for throughput."""
        return int(batch["input_ids"].numel())

    def num_parameters(self) -> int:
        """Trainable parameters, counting a tied matrix once."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def configure_optimizers(self) -> Any:
        factory = self.optimizer_factory or torch.optim.AdamW
        optimizer = factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor, "interval": "epoch"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["tokenizer_json"] = self.tokenizer_json
        if self.task_kind is not None:
            checkpoint["task_kind"] = self.task_kind

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.tokenizer_json = checkpoint.get("tokenizer_json", self.tokenizer_json)
        self._tokenizer = None
        self.task_kind = checkpoint.get("task_kind", self.task_kind)
