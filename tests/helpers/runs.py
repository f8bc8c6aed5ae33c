"""Training runs tests share: a `debug=smoke` run in a store of its own, and the path from a
run to a registered model that predicts."""

from __future__ import annotations

import pandas as pd


def smoke_run(task: str, base_overrides: tuple[str, ...], tmp_path, *model: str) -> tuple[str, str]:
    """Train `debug=smoke` in a store of its own (the registry tests count versions): run id, store."""
    from zoo.config import compose_config
    from zoo.training.pipeline import run_training

    tracking_uri = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = [o for o in base_overrides if not o.startswith("logger.tracking_uri=")]
    run = run_training(compose_config([*overrides, f"logger.tracking_uri={tracking_uri}", f"task={task}", *model]))
    return run.run_id, tracking_uri


def registers_and_predicts(run_id: str, tracking_uri: str, task: str, variant: str) -> dict[str, str]:
    """The run registers, the bundle rebuilds its core and predicts the same twice (seeded);
    returns the version's tags."""
    import mlflow

    from zoo.registry.loading import load_registered
    from zoo.registry.versions import register_run

    entry = register_run(run_id, tracking_uri)
    model = load_registered(f"models:/{entry.name}/{entry.version}", tracking_uri)
    params = {"max_new_tokens": 10, "seed": 3} if task == "generation" else None
    texts = pd.DataFrame({"text": ["ROMEO:" if params else "a gripping film"]})
    frame = model.predict(texts, params=params)
    column = "generated" if params else "label_name"
    assert frame[column][0] and frame.equals(model.predict(texts, params=params))  # a sample is fixed by its seed
    tags = mlflow.MlflowClient(tracking_uri).get_model_version(entry.name, entry.version).tags
    assert tags["encoder"] == variant
    return tags
