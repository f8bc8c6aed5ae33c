"""Batches that waste nothing: length buckets with dynamic padding, and BPTT windows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler


class LengthGroupedSampler(Sampler[int]):
    """Index order in which each run of `batch_size` indices has similar lengths, so
    padding every batch to its longest row costs little. Use as a DataLoader `sampler`
    with the same `batch_size`.

    Training order: shuffle all indices, sort each pool of `pool_batches` batches by
    length, cut it into batches, shuffle the full batches and put the one short batch
    last (so the DataLoader's chunks line up with the buckets). Evaluation
    (`shuffle=False`): sorted by length. The order depends only on `seed` and the epoch,
    which Lightning passes through `set_epoch`, so a run is reproducible.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        pool_batches: int = 50,
    ) -> None:
        self.lengths = torch.as_tensor(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            yield from torch.argsort(self.lengths, stable=True).tolist()
            return
        # (seed, epoch) -> one stream; seed + epoch would make seed 1's epoch 0 seed 0's epoch 1
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator)
        batches: list[Tensor] = []
        for pool in order.split(self.batch_size * self.pool_batches):
            batches.extend(pool[torch.argsort(self.lengths[pool], stable=True)].split(self.batch_size))
        full = [b for b in batches if len(b) == self.batch_size]
        short = [b for b in batches if len(b) < self.batch_size]
        for i in torch.randperm(len(full), generator=generator).tolist():
            yield from full[i].tolist()
        for batch in short:
            yield from batch.tolist()


class PadCollator:
    """Pads a list of examples to the longest in the batch; keeps lengths for packing."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, examples: list[tuple[list[int], int]]) -> dict[str, Tensor]:
        lengths = torch.tensor([len(ids) for ids, _ in examples])
        tokens = torch.full((len(examples), int(lengths.max())), self.pad_id, dtype=torch.long)
        for row, (ids, _) in enumerate(examples):
            tokens[row, : len(ids)] = torch.as_tensor(ids)
        labels = torch.tensor([label for _, label in examples])
        return {"input_ids": tokens, "lengths": lengths, "labels": labels}


class EncodedExamples(Dataset):
    """Token ids and label ids held in memory (a few MB), indexed by the batch sampler."""

    def __init__(self, input_ids: list[list[int]], label_ids: list[int]) -> None:
        self.input_ids = input_ids
        self.label_ids = label_ids

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, index: int) -> tuple[list[int], int]:
        return self.input_ids[index], self.label_ids[index]


class BPTTWindows(Dataset):
    """Contiguous truncated-BPTT windows over one token stream, one batch per item.

    The stream is cut into `batch_size` equal rows read side by side, so row r of window
    k+1 continues row r of window k: the model carries its hidden state across batches.
    Use with `DataLoader(batch_size=None, shuffle=False)`.
    """

    def __init__(self, ids: Tensor, batch_size: int, bptt: int) -> None:
        columns = (len(ids) - 1) // batch_size
        if columns < 2:
            raise ValueError(
                f"{len(ids)} tokens are too few for {batch_size} rows; lower data.batch_size"
            )
        self.inputs = ids[: columns * batch_size].view(batch_size, columns)
        self.targets = ids[1 : columns * batch_size + 1].view(batch_size, columns)
        self.bptt = bptt

    def __len__(self) -> int:
        return (self.inputs.shape[1] + self.bptt - 1) // self.bptt

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        window = slice(index * self.bptt, (index + 1) * self.bptt)
        return {"input_ids": self.inputs[:, window], "targets": self.targets[:, window]}
