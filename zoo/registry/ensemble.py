"""Register a benchmark's seed models as one zoo version that averages their class
probabilities, after measuring that ensemble on the test split the members were scored on."""

from __future__ import annotations

import tempfile
from typing import Any

import mlflow
import numpy as np
import torch
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf
from torch.nn import functional as F

from zoo.errors import DataError, ZooError
from zoo.registry.bundle import build_network, bundle_from_checkpoint, ensemble_bundle
from zoo.registry.locks import registration_lock
from zoo.registry.reproduction import logged_config
from zoo.registry.versions import (
    CHECKPOINT,
    Registered,
    existing_version,
    logged_max_length,
    model_name,
    register_bundle,
)
from zoo.secrets import mask
from zoo.tasks import kind
from zoo.training.builders import build_datamodule

ENSEMBLE_OF = "zoo.ensemble_of"


def members(client: mlflow.MlflowClient, parent_run_id: str) -> tuple[mlflow.entities.Run, list[mlflow.entities.Run]]:
    """The benchmark parent run and its finished child runs (one per seed), lowest seed first."""
    try:
        parent = client.get_run(parent_run_id)
    except MlflowException:
        raise ZooError(f"no MLflow run {parent_run_id!r} in {mask(client.tracking_uri)}") from None
    if "zoo.benchmark" not in parent.data.tags or "optuna.trial_number" in parent.data.tags:
        raise ZooError(f"run {parent_run_id} is not a benchmark parent run; give the parent run id that "
                       "`python -m zoo.benchmark` (or make zoo SEEDS=N) printed")
    children = client.search_runs(
        [parent.info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{parent_run_id}' and attributes.status = 'FINISHED'")
    children = [c for c in children if ENSEMBLE_OF not in c.data.tags]
    if len(children) < 2:
        raise ZooError(f"benchmark {parent_run_id} has {len(children)} finished seed run(s); an ensemble needs at "
                       "least 2 (run the benchmark with seeds=3 or more)")
    return parent, sorted(children, key=lambda r: int(r.data.params.get("seed", 0)))


def member_config(client: mlflow.MlflowClient, run_id: str, tracking_uri: str) -> DictConfig:
    """The config a member was trained with: as logged when its data files are still where the
    run read them (the usual case: the same machine), else moved to this machine's paths."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            cfg = OmegaConf.load(client.download_artifacts(run_id, "config.yaml", tmp))
        except (MlflowException, OSError):
            raise ZooError(f"seed run {run_id} has no config.yaml artifact to score the ensemble with") from None
    try:
        build_datamodule(cfg).check_files()
        return cfg
    except DataError:
        return logged_config(client, run_id, tracking_uri)


@torch.no_grad()
def score_test(network: torch.nn.Module, datamodule: Any, bundle: dict[str, Any]) -> tuple[dict[str, float],
                                                                                         np.ndarray]:
    """The task kind's test metrics and the loss (nats) of an ensemble (its network gives log
    probabilities), and per test example (in the test loader's order) 1.0 where the most
    probable class is the label: what a paired bootstrap compares."""
    metrics = kind(bundle["task"]).metric_collection(bundle["hparams"], "test/")
    loss, count, correct = 0.0, 0, []
    for batch in datamodule.test_dataloader():
        log_probs = network(batch["input_ids"], batch["lengths"])
        loss += float(F.nll_loss(log_probs, batch["labels"], reduction="sum"))
        count += len(batch["labels"])
        metrics.update(log_probs, batch["labels"])
        correct.append((log_probs.argmax(dim=-1) == batch["labels"]).float().numpy())
    scores = {name: float(value) for name, value in metrics.compute().items()}
    return {**scores, "test/loss": loss / count}, np.concatenate(correct)


def run_bundle(client: mlflow.MlflowClient, run: mlflow.entities.Run) -> dict[str, Any]:
    """The bundle of one training run, from its logged checkpoint."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run.info.run_id, CHECKPOINT, tmp)
        except (MlflowException, OSError):
            raise ZooError(f"run {run.info.run_id} has no {CHECKPOINT} (logger.log_checkpoint=false?); "
                           "an ensemble and the model comparison are built from each seed's checkpoint") from None
        return bundle_from_checkpoint(path, logged_max_length(run))


def seed_bundles(client: mlflow.MlflowClient, runs: list[mlflow.entities.Run]) -> dict[str, Any]:
    """One ensemble bundle from the checkpoints of `runs` (seeds of one recipe)."""
    return ensemble_bundle([run_bundle(client, run) for run in runs], [f"run {r.info.run_id}" for r in runs])


def score_ensemble(client: mlflow.MlflowClient, runs: list[mlflow.entities.Run], tracking_uri: str
                   ) -> tuple[dict[str, Any], dict[str, float], np.ndarray]:
    """The seed ensemble's bundle, its test metrics and per-example correctness, scored on the
    test split the members were scored on (refused when the data now tokenizes differently)."""
    bundle = seed_bundles(client, runs)
    network, _ = build_network(bundle)
    datamodule = build_datamodule(member_config(client, runs[0].info.run_id, tracking_uri))
    datamodule.setup()
    if datamodule.tokenizer.to_str() != bundle["tokenizer_json"]:
        raise ZooError("the data now gives another tokenizer than the seed runs were trained with (the data "
                       "changed?); refusing to score the ensemble on it")
    metrics, correct = score_test(network, datamodule, bundle)
    return bundle, metrics, correct


def register_ensemble(parent_run_id: str, tracking_uri: str, alias: str | None = "challenger") -> Registered:
    """Build, score on test, log (as a child run of the benchmark) and register the seed ensemble;
    a second call, even a concurrent one, returns the version already made."""
    with registration_lock(tracking_uri, parent_run_id):
        return _register_ensemble(parent_run_id, tracking_uri, alias)


def _register_ensemble(parent_run_id: str, tracking_uri: str, alias: str | None) -> Registered:
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    parent, runs = members(client, parent_run_id)
    made = client.search_runs([parent.info.experiment_id], f"tags.`{ENSEMBLE_OF}` = '{parent_run_id}' and "
                                                           "attributes.status = 'FINISHED'")
    for run in made:
        found = existing_version(client, model_name(run), run.info.run_id, alias)
        if found:
            return found
    bundle, metrics, _ = score_ensemble(client, runs, tracking_uri)
    first = runs[0]
    tags = {**{k: v for k, v in first.data.tags.items() if k.startswith(("zoo.recipe", "git.", "data.sha256."))},
            ENSEMBLE_OF: parent_run_id, "zoo.ensemble": "true", "mlflow.parentRunId": parent_run_id,
            "zoo.members": ",".join(r.info.run_id for r in runs)}
    run = client.create_run(parent.info.experiment_id, run_name=f"ensemble-{parent.data.tags['zoo.benchmark']}",
                            tags=tags)
    run_id = run.info.run_id
    params = {k: v for k, v in first.data.params.items() if k != "seed"}
    client.log_batch(run_id, params=[mlflow.entities.Param(k, v) for k, v in params.items()])
    client.log_param(run_id, "seed", "ensemble")
    client.log_batch(run_id, metrics=[mlflow.entities.Metric(k, v, 0, 0) for k, v in {
        **metrics, "model/params": first.data.metrics.get("model/params", 0) * len(runs),
        "val/best": sum(r.data.metrics.get("val/best", float("nan")) for r in runs) / len(runs)}.items()])
    trained_ms = sum(r.info.end_time - r.info.start_time for r in runs)  # its duration: the members' training
    client.set_terminated(run_id, "FINISHED", end_time=run.info.start_time + trained_ms)
    primary = kind(bundle["task"]).primary
    print(f"seed ensemble of {len(runs)} runs: {primary} {metrics[primary]:.4f} (members: "
          + ", ".join(f"{r.data.metrics.get(primary, float('nan')):.4f}" for r in runs) + ")", flush=True)
    return register_bundle(client, client.get_run(run_id), bundle, alias,
                           extra_tags={"zoo.ensemble": "true", "n_members": str(len(runs))})
