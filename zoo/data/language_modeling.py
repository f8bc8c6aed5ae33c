"""Language-modelling data: one character stream per split, cut into BPTT windows."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from zoo.data.base import TextDataModule
from zoo.data.batching import BPTTWindows
from zoo.data.sliding import batch_count, sliding_batches
from zoo.data.tokenization import BatchEncoder
from zoo.errors import DataError


class LanguageModelDataModule(TextDataModule):
    """Text -> token stream per split -> contiguous (batch_size x bptt) windows."""

    def build(self) -> None:
        raw = self.load_raw()
        tokenizer = self.fit_tokenizer(raw["train"]["text"])
        encoded = raw.map(
            BatchEncoder(tokenizer.to_str()), batched=True, remove_columns=["text"], desc="tokenizing"
        )
        self.streams = {
            split: torch.tensor([i for row in part["input_ids"] for i in row], dtype=torch.long)
            for split, part in encoded.items()
        }
        for split, key in (("train", "batch_size"), ("validation", "eval_batch_size"), ("test", "eval_batch_size")):
            rows = getattr(self.spec, key)
            if self.tokens(split) < 2 * rows + 1:
                raise DataError(
                    f"dataset {self.spec.name}: the {split} split has {self.tokens(split)} tokens, too few for "
                    f"{rows} parallel streams; lower data.{key}"
                )

    def sizes(self) -> dict[str, int]:
        return {"vocab_size": self.vocab_size, "pad_id": self.pad_id}

    def tokens(self, split: str) -> int:
        return int(self.streams[split].numel())

    def split_sizes(self) -> dict[str, int]:
        return {f"{split}_tokens": self.tokens(split) for split in self.streams}

    def _loader(self, split: str, batch_size: int) -> DataLoader:
        windows = BPTTWindows(self.streams[split], batch_size, self.spec.bptt)
        return DataLoader(windows, batch_size=None, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.spec.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", self.spec.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.spec.eval_batch_size)

    def sliding(self, split: str, limit: int | float | None = None):
        """Windows of `bptt` that score every token once with at least bptt/2 tokens of context
        (zoo.data.sliding), `eval_batch_size` per batch; `limit` as Lightning's limit_*_batches."""
        bptt, rows = self.spec.bptt, self.spec.eval_batch_size
        stride = max(1, bptt // 2)
        total = batch_count(self.tokens(split), bptt, stride, rows)
        if isinstance(limit, float):
            total = max(1, int(total * limit))
        elif isinstance(limit, int):
            total = min(total, limit)
        return sliding_batches(self.streams[split], bptt, stride, rows, total)
