"""Task kinds: one descriptor per kind of model (classifier, language model, ...) that every
layer above asks instead of switching on a name. A kind lives in a module of `zoo.tasks`
that calls `register`; modules are found by importing the package, so adding a kind is
its module (descriptor + LightningModule), a `conf/task/` YAML, and no other edit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig
from torch import Tensor, nn
from torchmetrics import MetricCollection

from zoo.data.base import TextDataModule
from zoo.data.spec import DatasetSpec
from zoo.direction import Direction
from zoo.errors import ConfigError, ZooError
from zoo.models import EncoderSpec
from zoo.models.encoders import describe
from zoo.models.networks import refuse_bidirectional
from zoo.plugins import Plugins
from zoo.tasks.base import ZooTask
from zoo.tasks.inference import Inference

Predict = Callable[[Inference, list[str], Mapping[str, Any]], dict[str, list]]


def _sizes(datamodule: TextDataModule) -> dict[str, Any]:
    return dict(datamodule.sizes())


@dataclass(frozen=True)
class TaskKind:
    """Everything that differs between kinds of task; `name` is what checkpoints, bundles
    and the registry's `task_kind` tag store."""

    name: str
    data_content: str  # the `content:` of the dataset YAMLs it reads
    data_module: type[TextDataModule]
    task_module: type[ZooTask]
    network: Callable[[EncoderSpec, Mapping[str, Any]], nn.Module]  # from the module's hyperparameters
    metrics: tuple[str, ...]  # validation metrics it logs: what a sweep may optimise
    primary: str  # the test metric recipes and registry versions are compared on
    direction: Direction  # which way `primary` (and every metric the kind compares) improves
    example: str  # an input for the registered model's signature and input example
    predict: Predict  # raw texts -> output columns, for the pyfunc
    params: Mapping[str, Any] | None = None  # inference options with defaults (the pyfunc's params)
    example_params: Mapping[str, Any] | None = None  # the options used on `example` (kept quick)
    bidirectional: bool = True  # whether a bidirectional encoder is allowed
    ensembles: bool = False  # whether seed ensembles (mean class probabilities) apply
    module_args: Callable[[TextDataModule], dict[str, Any]] = _sizes  # what the module takes from the data
    window_key: str = "max_length"  # the data option that bounds how many tokens the encoder reads at once
    # the network's output for a batch of whole token rows (no padding): what latency is measured on
    forward_tokens: Callable[[nn.Module, Tensor], Tensor] | None = None
    # the kind's metrics (torchmetrics) from a module's hyperparameters, named with a prefix: what
    # its LightningModule logs and what anything scoring its networks outside Lightning computes
    metric_collection: Callable[[Mapping[str, Any], str], MetricCollection] | None = None

    @property
    def maximize(self) -> bool:
        return self.direction.higher_is_better

    @property
    def generates(self) -> bool:
        """Whether the kind continues text (its params are generation's); a classifier's params,
        if any, are others (`explain`, `n_steps`)."""
        return "max_new_tokens" in (self.params or {})

    def check_content(self, data: DatasetSpec, reader: str) -> None:
        """Refuse a dataset of the other content (text for a classifier, labelled texts for a
        language model); `reader` names what would read it (`task=sentiment`, a model)."""
        if data.content != self.data_content:
            raise ConfigError(f"{reader} needs a {self.data_content!r} dataset but data={data.name} is "
                              f"{data.content!r}; pick a dataset whose content is {self.data_content!r}")

    def check_encoder(self, name: str, task: str) -> None:
        """Refuse a classifier-only encoder for a left-to-right kind: checked before its options,
        which a task that cannot use it at all sets for another encoder."""
        if not self.bidirectional and not describe(name).generates:
            raise ConfigError(f"model.encoder={name} is for classifiers only; task={task} needs an encoder that "
                              "reads left to right: a recurrent core (model=lstm, model=gru, ...) or model=transformer")

    def check_model(self, spec: EncoderSpec, cfg: DictConfig) -> None:
        """Refuse an encoder this kind cannot use, before any data loads: one that sees the
        future for a left-to-right kind, a window (`data.max_length`, `data.bptt`) longer than
        the encoder was built for."""
        self.check_encoder(spec.encoder, cfg.task.name)
        if not self.bidirectional:
            refuse_bidirectional(spec, cfg.task.name)
        describe(spec.encoder).check_window(spec, cfg.data.get(self.window_key), f"data.{self.window_key}")


_KINDS: Plugins[TaskKind] = Plugins("task kind", "zoo.tasks", "unknown task kind {name!r}; choose one of {names}")


def register(task_kind: TaskKind) -> TaskKind:
    """Add a kind; a second kind under a taken name is a mistake, not an override."""
    return _KINDS.add(task_kind.name, task_kind)


all_kinds = _KINDS.all  # every registered kind by name
kind = _KINDS.find  # the kind called `name`, or a ZooError listing the kinds there are


# Written before the kind was stored, and only these two kinds existed then: configs name
# their dataset kind (`task.data_kind`), checkpoints tell classifiers by `num_classes`.
_LEGACY_BY_DATA_KIND = {"classification": "classifier", "text": "language_model"}


def kind_of_config(cfg: DictConfig) -> TaskKind:
    """The kind a composed config trains (`task.kind`; older logged configs: `task.data_kind`)."""
    name = cfg.task.get("kind") or _LEGACY_BY_DATA_KIND.get(str(cfg.task.get("data_kind")), "")
    try:
        return kind(str(name))
    except ZooError as err:
        raise ConfigError(f"task={cfg.task.get('name')}: {err} (set task.kind)") from None


def kind_of_checkpoint(stored: str | None, hparams: Mapping[str, Any]) -> TaskKind:
    """The kind a checkpoint stored, or for an older one the kind its sizes imply."""
    return kind(stored or ("classifier" if "num_classes" in hparams else "language_model"))
