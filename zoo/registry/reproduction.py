"""Re-train a registered model from its logged config, seed and data, and compare."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import mlflow
import torch
from omegaconf import DictConfig, OmegaConf

from zoo.config import compose_config
from zoo.errors import ZooError
from zoo.registry.gate import version_kind
from zoo.registry.loading import URI
from zoo.registry.versions import resolve_version
from zoo.training.builders import build_datamodule
from zoo.training.pipeline import run_training


@dataclass
class Reproduction:
    model: str
    metric: str
    original: float
    reproduced: float
    run_id: str
    original_run_id: str
    threads: int  # torch threads the re-training used: the original run's, where it recorded them

    @property
    def difference(self) -> float:
        return self.reproduced - self.original


def _relocated(value: Any, moves: list[tuple[str, str]]) -> Any:
    """`value` with any logged path prefix swapped for this machine's (recursively)."""
    if isinstance(value, dict):
        return {k: _relocated(v, moves) for k, v in value.items()}
    if isinstance(value, list):
        return [_relocated(v, moves) for v in value]
    if isinstance(value, str):
        for old, new in moves:
            if value == old or value.startswith(old.rstrip("/") + "/"):
                return new + value[len(old):]
    return value


def logged_config(client: mlflow.MlflowClient, run_id: str, tracking_uri: str) -> DictConfig:
    """The run's resolved config, moved to this machine: every path under the logged
    `paths.*` (data, cache, a fresh output folder) and the tracking store are this run's."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            logged = OmegaConf.to_container(OmegaConf.load(client.download_artifacts(run_id, "config.yaml", tmp)))
        except (mlflow.exceptions.MlflowException, OSError):
            raise ZooError(f"run {run_id} has no config.yaml artifact: it cannot be reproduced") from None
    here = OmegaConf.to_container(compose_config([]), resolve=True)
    old_paths, new_paths = logged.get("paths") or {}, here["paths"]
    moves = sorted(((str(old_paths[k]), str(new_paths[k])) for k in old_paths if k in new_paths),
                   key=lambda move: -len(move[0]))  # the deepest folder first: output_dir before root_dir
    cfg = OmegaConf.create(_relocated(logged, moves))
    cfg.logger.tracking_uri = tracking_uri
    cfg.logger.artifact_root = here["logger"]["artifact_root"]
    return cfg


def check_data(cfg: DictConfig, run: mlflow.entities.Run) -> None:
    """Refuse when any data file differs from the one the run was trained on."""
    recorded = {k.removeprefix("data.sha256."): v for k, v in run.data.tags.items() if k.startswith("data.sha256.")}
    current = build_datamodule(cfg).check_files()
    changed = sorted(name for name, digest in recorded.items() if current.get(name) != digest)
    if changed:
        details = "; ".join(f"{n}: trained on {recorded[n][:12]}..., now {str(current.get(n, 'missing'))[:12]}..."
                            for n in changed)
        raise ZooError(f"the data changed since run {run.info.run_id} ({details}); refusing to reproduce")


@contextmanager
def torch_threads(count: int | None) -> Iterator[int]:
    """Run with `count` torch threads (this process's count when None), then restore it.

    Why: on CPU the thread count changes the order of float sums, and a run diverges from
    there. TREC's `trec_bilstm_tuned`, seed 0: test/acc 0.8240 at 1 thread (as its benchmark
    worker trained it) and 0.8740 at 2, on the same machine and code."""
    before = torch.get_num_threads()
    torch.set_num_threads(count or before)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def recorded_threads(run: mlflow.entities.Run) -> int | None:
    """The torch thread count a training run recorded (tag `torch.threads`), if any."""
    value = run.data.tags.get("torch.threads", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def reproduce(uri: str, tracking_uri: str) -> Reproduction:
    match = URI.match(uri)
    if not match:
        raise ZooError(f"model={uri!r} must look like models:/<name>/<version> or models:/<name>@<alias>")
    client = mlflow.MlflowClient(tracking_uri)
    version = resolve_version(client, match["name"], match["version"] or match["alias"])
    run = client.get_run(version.run_id)
    cfg = logged_config(client, run.info.run_id, tracking_uri)
    check_data(cfg, run)
    cfg.logger.run_name = f"reproduce-{version.name}-v{version.version}"
    metric = version_kind(version.tags).primary
    with torch_threads(recorded_threads(run)) as threads:
        result = run_training(cfg, extra_tags={"zoo.reproduction_of": f"{version.name}/{version.version}",
                                               "zoo.original_run": run.info.run_id})
    return Reproduction(f"{version.name}/{version.version}", metric, run.data.metrics[metric],
                        result.metrics[metric], result.run_id, run.info.run_id, threads)
