"""A full disk while a run writes: one line naming the file and the folder, the MLflow run
FAILED, and the previous best checkpoint whole (each save goes to `.partial`, then a rename)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

from zoo.errors import ZooError
from zoo.training.pipeline import run_training

SMALL = ("task=classification", "debug=smoke", "model.hidden_size=8", "model.embedding_dim=8", "trainer.max_epochs=2",
         "callbacks.model_checkpoint.save_top_k=-1")  # a save at every epoch, into the same best.ckpt


def test_a_full_disk_mid_checkpoint_fails_in_one_line_and_keeps_the_last_good_one(
        compose, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_client) -> None:
    saves: list[str] = []
    real = Trainer.save_checkpoint

    def filling(self: Trainer, filepath, *args, **kwargs):
        saves.append(str(filepath))
        if len(saves) == 1:
            return real(self, filepath, *args, **kwargs)
        Path(filepath).write_bytes(b"half a checkpoint")  # the disk fills part-way through the write
        raise OSError(errno.ENOSPC, "No space left on device", str(filepath))

    monkeypatch.setattr(Trainer, "save_checkpoint", filling)
    cfg = compose(*SMALL, f"paths.output_dir={tmp_path}/run")
    with pytest.raises(ZooError, match=r"^no space left on the device while writing .*best\.ckpt\.partial in the run "
                                       r"folder \(paths\.log_dir\); the run is marked FAILED") as caught:
        run_training(cfg)
    assert "\n" not in str(caught.value) and len(saves) == 2
    best = tmp_path / "run" / "checkpoints" / "best.ckpt"
    assert not best.with_name("best.ckpt.partial").exists()
    kept = torch.load(best, map_location="cpu", weights_only=True)  # the first epoch's checkpoint, whole
    assert kept["epoch"] == 0 and "state_dict" in kept
    runs = mlflow_client.search_runs([mlflow_client.get_experiment_by_name(cfg.logger.experiment_name).experiment_id],
                                     order_by=["attributes.start_time DESC"], max_results=1)
    assert runs[0].info.status == "FAILED"
