"""Classification data: word tokens, label ids, length-bucketed batches."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig
from tokenizers import Tokenizer
from torch.utils.data import DataLoader

from zoo.data.base import TextDataModule
from zoo.data.batching import EncodedExamples, LengthGroupedSampler, PadCollator
from zoo.data.tokenization import BatchEncoder
from zoo.errors import DataError


class ClassificationDataModule(TextDataModule):
    """Sentences and labels -> padded id batches, classes taken from the train split."""

    def __init__(self, data: DictConfig | dict[str, Any], cache_dir: str, seed: int = 0,
                 tokenizer: Tokenizer | None = None, classes: list[str] | None = None) -> None:
        """`classes`: a trained model's, in its order (with its `tokenizer`), to read another
        dataset as that model sees it; every label of the data must be one of them."""
        super().__init__(data, cache_dir, seed, tokenizer)
        self.given_classes = list(classes) if classes is not None else None

    def build(self) -> None:
        raw = self.load_raw()
        if self.given_classes is not None:
            self._check_given_classes(raw)
        self.classes: list[str] = self.given_classes or sorted(set(raw["train"]["label"]))
        if len(self.classes) < 2:
            raise DataError(
                f"dataset {self.spec.name}: the train split has {len(self.classes)} label(s) "
                f"{self.classes}; a classifier needs at least 2"
            )
        for split in ("validation", "test"):
            unseen = sorted(set(raw[split]["label"]) - set(self.classes))
            if unseen:
                raise DataError(
                    f"dataset {self.spec.name}: the {split} split has label(s) {unseen} that "
                    f"the train split never uses (train labels: {self.classes}); fix the label "
                    "files or the label mapping (label_names / label_level) in the dataset YAML"
                )
        tokenizer = self.fit_tokenizer(raw["train"]["text"])
        encoder = BatchEncoder(
            tokenizer.to_str(), self.spec.max_length, {c: i for i, c in enumerate(self.classes)}
        )
        encoded = raw.map(encoder, batched=True, batch_size=2000, desc="tokenizing")
        # plain lists in memory (a few MB): indexing them is ~100x cheaper than Arrow rows
        columns = {
            split: part.select_columns(["input_ids", "label_id", "length"]).to_dict()
            for split, part in encoded.items()
        }
        self.splits = {
            split: EncodedExamples(cols["input_ids"], cols["label_id"]) for split, cols in columns.items()
        }
        self.lengths = {split: cols["length"] for split, cols in columns.items()}

    def _check_given_classes(self, raw: Any) -> None:
        assert self.given_classes is not None
        labels = {label for part in raw.values() for label in part["label"]}
        foreign = sorted(labels - set(self.given_classes))
        if foreign:
            raise DataError(
                f"dataset {self.spec.name} has label(s) {foreign} the model does not know (its classes: "
                f"{self.given_classes}); read it with a model trained on these labels, or map them in the "
                "dataset YAML (label_names)"
            )

    def sizes(self) -> dict[str, int]:
        return {"vocab_size": self.vocab_size, "num_classes": len(self.classes), "pad_id": self.pad_id}

    def split_sizes(self) -> dict[str, int]:
        return {f"{split}_examples": len(part) for split, part in self.splits.items()}

    def _loader(self, split: str, shuffle: bool, batch_size: int) -> DataLoader:
        sampler = LengthGroupedSampler(self.lengths[split], batch_size, shuffle, self.seed)
        return DataLoader(
            self.splits[split], batch_size, sampler=sampler, collate_fn=PadCollator(self.pad_id)
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True, self.spec.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", False, self.spec.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False, self.spec.eval_batch_size)
