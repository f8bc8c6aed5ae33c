"""What every task module shares: optimiser from config, the tokenizer in the checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from tokenizers import Tokenizer

from zoo.models import LSTMSpec

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]


class ZooTask(L.LightningModule):
    """Base LightningModule: subclasses build `self.network` and define the steps.

    The optimiser and scheduler arrive as Hydra `_partial_` factories, so the config
    picks them without code. The tokenizer's JSON rides in the checkpoint, so a
    checkpoint alone turns raw text into predictions.
    """

    def __init__(
        self,
        model: dict[str, Any],
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        tokenizer_json: str | None = None,
        monitor: str = "val/loss",
    ) -> None:
        super().__init__()
        self.spec = LSTMSpec.from_config(model)
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

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.tokenizer_json = checkpoint.get("tokenizer_json", self.tokenizer_json)
        self._tokenizer = None
