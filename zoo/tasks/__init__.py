"""LightningModules: TextClassifier (classification, sentiment), LanguageModel (generation)."""

from zoo.tasks.base import ZooTask
from zoo.tasks.classifier import TextClassifier
from zoo.tasks.language_model import LanguageModel

__all__ = ["LanguageModel", "TextClassifier", "ZooTask"]
