"""The best checkpoint, replaced atomically: Lightning writes `best.ckpt` in place, so a write
that fails half-way (a full disk, a kill) would leave a truncated best model where the
previous good one was. Here each save goes to `<name>.partial` first and is renamed over the
old file only once it is complete."""

from __future__ import annotations

import contextlib
import os

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class AtomicCheckpoint(ModelCheckpoint):
    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        partial = f"{filepath}.partial"
        try:
            super()._save_checkpoint(trainer, partial)
            os.replace(partial, filepath)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise
        self._last_checkpoint_saved = filepath
