"""LanguageModel: next-token prediction with truncated BPTT, perplexity, bits per char; and
the `language_model` task kind (task=generation).

A recurrent core carries its state from one BPTT window into the next (train, validation and
`test/loss`); a transformer has none and reads each window alone. `test/loss_sliding` scores
both alike: every token once, from a fresh window, with at least bptt/2 tokens before it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MeanMetric

from zoo.data import LanguageModelDataModule
from zoo.direction import Direction
from zoo.models import EncoderSpec, LanguageModelNetwork
from zoo.models.state import State, map_state, rows
from zoo.tasks.base import OptimizerFactory, SchedulerFactory, ZooTask
from zoo.tasks.inference import GENERATION_PARAMS, generate, generate_text
from zoo.tasks.kinds import TaskKind, register


def _detach(state: State | None, batch_size: int) -> State | None:
    """Carry the state into the next window without backpropagating into the last one.

    Works for any core's state structure; a window of another batch size starts afresh."""
    if state is None or rows(state) != batch_size:
        return None
    return map_state(Tensor.detach, state)


def build_network(spec: EncoderSpec, hparams: Mapping[str, Any]) -> LanguageModelNetwork:
    """The network from the module's hyperparameters (a checkpoint's or a bundle's)."""
    return LanguageModelNetwork(spec, hparams["vocab_size"], hparams.get("tie_weights", False))


class LanguageModel(ZooTask):
    """LSTM language model; logs train/loss, val/{loss,ppl,bpc}, test/{loss,ppl,bpc}.

    Loss is in nats per token; with a character tokenizer bpc = loss / ln 2.
    """

    network_builder = staticmethod(build_network)

    def __init__(
        self,
        model: dict[str, Any],
        vocab_size: int,
        tie_weights: bool = False,
        optimizer: OptimizerFactory | None = None, scheduler: SchedulerFactory | None = None,
        tokenizer_json: str | None = None, monitor: str = "val/loss",
    ) -> None:
        super().__init__(model, optimizer, scheduler, tokenizer_json, monitor)
        self.train_loss = MeanMetric()
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()
        self._train_state: State | None = None
        self._eval_state: State | None = None

    def forward(self, input_ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        return self.network(input_ids, state)

    def forward_batch(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch["input_ids"])[0]

    def _loss(self, batch: dict[str, Tensor], state: State | None) -> tuple[Tensor, State]:
        logits, state = self(batch["input_ids"], _detach(state, len(batch["input_ids"])))
        loss = F.cross_entropy(logits.flatten(0, 1).float(), batch["targets"].flatten())
        return loss, state

    def on_train_epoch_start(self) -> None:
        self._train_state = None

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss, self._train_state = self._loss(batch, self._train_state)
        self.train_loss.update(loss.detach(), weight=batch["targets"].numel())
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("train/loss", self.train_loss.compute())
        self.train_loss.reset()

    def on_validation_epoch_start(self) -> None:
        self._eval_state = None

    def on_test_epoch_start(self) -> None:
        self._eval_state = None

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        loss, self._eval_state = self._loss(batch, self._eval_state)
        self.val_loss.update(loss, weight=batch["targets"].numel())

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        loss, self._eval_state = self._loss(batch, self._eval_state)
        self.test_loss.update(loss, weight=batch["targets"].numel())

    def _log_stream_metrics(self, prefix: str, metric: MeanMetric) -> None:
        loss = metric.compute()
        self.log(f"{prefix}/loss", loss)
        self.log(f"{prefix}/ppl", torch.exp(loss))
        self.log(f"{prefix}/bpc", loss / math.log(2))
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_stream_metrics("val", self.val_loss)

    def on_test_epoch_end(self) -> None:
        self._log_stream_metrics("test", self.test_loss)
        datamodule = getattr(self.trainer, "datamodule", None)
        if isinstance(datamodule, LanguageModelDataModule):
            loss = self.sliding_loss(datamodule.sliding("test", self.trainer.limit_test_batches))
            self.log("test/loss_sliding", loss)
            self.log("test/bpc_sliding", loss / math.log(2))

    @torch.no_grad()
    def sliding_loss(self, batches) -> Tensor:
        """Nats per token with every token scored once from a fresh window (zoo.data.sliding):
        the measure on which recurrent cores and transformers compare fairly."""
        total, count = torch.zeros((), device=self.device), 0
        for batch in batches:
            logits, _ = self(batch["input_ids"].to(self.device))
            losses = F.cross_entropy(logits.flatten(0, 1).float(), batch["targets"].to(self.device).flatten(),
                                     reduction="none")
            scored = batch["scored"].to(self.device).flatten()
            total += losses[scored].sum()
            count += int(scored.sum())
        return total / max(count, 1)

    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> str:
        """Continue `prompt` by sampling; the same seed gives the same text."""
        return generate_text(self.network, self.tokenizer, prompt, max_new_tokens, temperature, top_k, seed)


KIND = register(TaskKind(
    name="language_model", data_content="text", data_module=LanguageModelDataModule, task_module=LanguageModel,
    network=build_network, metrics=("val/loss", "val/ppl", "val/bpc"), primary="test/loss",
    direction=Direction.MINIMIZE, example="ROMEO:", predict=generate, params=GENERATION_PARAMS,
    example_params={**GENERATION_PARAMS, "max_new_tokens": 20}, bidirectional=False,
    module_args=lambda datamodule: {"vocab_size": datamodule.vocab_size}, window_key="bptt",
    forward_tokens=lambda network, tokens: network(tokens)[0],
))
