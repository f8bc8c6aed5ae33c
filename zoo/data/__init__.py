"""Data modules: HF `datasets` loading, HF `tokenizers`, cached encoding, efficient batches."""

from zoo.data.classification import ClassificationDataModule
from zoo.data.language_modeling import LanguageModelDataModule
from zoo.data.spec import DatasetSpec, parse_dataset_spec

__all__ = [
    "ClassificationDataModule",
    "DatasetSpec",
    "LanguageModelDataModule",
    "parse_dataset_spec",
]
