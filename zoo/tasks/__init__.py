"""Task kinds and their LightningModules: TextClassifier (kind `classifier`: tasks
classification, sentiment), LanguageModel (kind `language_model`: task generation)."""

from zoo.tasks.base import ZooTask
from zoo.tasks.classifier import TextClassifier
from zoo.tasks.kinds import TaskKind, all_kinds, kind, kind_of_checkpoint, kind_of_config, register
from zoo.tasks.language_model import LanguageModel

__all__ = ["LanguageModel", "TaskKind", "TextClassifier", "ZooTask", "all_kinds", "kind", "kind_of_checkpoint",
           "kind_of_config", "register"]
