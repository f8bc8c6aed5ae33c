"""The model zoo is the MLflow Model Registry: register a training run as a pyfunc that
takes raw text, tag it for reproduction, and promote it to `champion` only on merit."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

import mlflow
import pandas as pd
import torch
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import ModelInfo
from mlflow.types import ColSpec, DataType, Schema
from mlflow.types.schema import AnyType

from zoo.errors import ZooError
from zoo.models import EncoderSpec
from zoo.registry.bundle import bundle_from_checkpoint
from zoo.registry.locks import drop_duplicate, registration_lock
from zoo.registry.pyfunc import ZooTextModel
from zoo.registry.tags import architecture_tags
from zoo.secrets import mask
from zoo.tracking.store import CHECKPOINT_ARTIFACT as CHECKPOINT

PYFUNC_CODE = Path(__file__).with_name("pyfunc_code.py")
ZOO_PACKAGE = Path(__file__).resolve().parents[1]  # logged as the model's code: it loads without zoo installed
# The distributions the modules loading and serving a model import (the import closure of
# zoo.registry.pyfunc: the task kinds bring Lightning, torchmetrics, `datasets` and scikit-learn
# in with their LightningModules and data modules); tests/test_portable_model.py checks the list.
RUNTIME_PACKAGES = ("torch", "lightning", "torchmetrics", "tokenizers", "datasets", "scikit-learn", "numpy",
                    "pandas", "omegaconf", "mlflow", "captum")
TORCH_INDEX = "https://download.pytorch.org/whl"
CHAMPION = "champion"  # moved by `promote` (the gate) only, or by `force_champion` on purpose


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    created: bool


def model_name(run: mlflow.entities.Run) -> str:
    """`<dataset>-<task>`, e.g. sst2-sentiment: one registered model per dataset and task."""
    params = run.data.params
    return f"{params['data.name']}-{params['task.name']}"


def _get_run(client: mlflow.MlflowClient, run_id: str) -> mlflow.entities.Run:
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ZooError(f"no MLflow run {run_id!r} in {mask(client.tracking_uri)}") from None
    if run.info.status != "FINISHED":
        raise ZooError(f"run {run_id} is {run.info.status}; only finished runs can be registered")
    if "data.name" not in run.data.params:
        raise ZooError(f"run {run_id} is not an lstm-zoo training run (no data.name param)")
    return run


def _example_output(artifacts: dict[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame, dict | None]:
    """The task kind's example input, what the model of these artifacts answers to it, and
    the inference params the kind takes (None: none)."""
    model = ZooTextModel()
    model.load_context(type("Context", (), {"artifacts": {k: str(v) for k, v in artifacts.items()}})())
    example = pd.DataFrame({"text": [model.kind.example]})
    example_params = dict(model.kind.example_params) if model.kind.example_params else None
    params = dict(model.kind.params) if model.kind.params else None
    return example, model.predict(None, example, example_params), params


def _signature(example: pd.DataFrame, output: pd.DataFrame, params: dict | None) -> ModelSignature:
    """Inputs: one string column named `text`. Named on purpose: with an unnamed column
    MLflow feeds the model the *first* column of any frame, so `id, text` would classify
    the ids. Its type is `Any`, not string: MLflow casts a string column's values with str() before
    the model sees them (null -> "None", 3 -> "3"), so the pyfunc's own check refuses non-text (HTTP 400).
    Outputs and params as inferred from the example, but integer outputs (a class id) declared
    `long` here: MLflow's inference warns that integer columns cannot hold missing inputs."""
    ints = {c: ColSpec(DataType.long, c) for c in output.columns if pd.api.types.is_integer_dtype(output[c])}
    rest = output.drop(columns=list(ints))
    inferred = infer_signature(example, rest if len(rest.columns) else None, params=params)
    found = inferred.outputs.input_dict() if inferred.outputs is not None else {}
    outputs = Schema([ints.get(c) or found[c] for c in output.columns])
    return ModelSignature(inputs=Schema([ColSpec(AnyType(), "text")]), outputs=outputs, params=inferred.params)


def _tags(run: mlflow.entities.Run, bundle: dict, sweep_run_id: str | None) -> dict[str, str]:
    """The version's tags: the architecture from the typed bundle, not MLflow's string params."""
    m, t = run.data.metrics, run.data.tags
    tags = {
        "task_kind": bundle["task"], **architecture_tags(EncoderSpec.from_config(bundle["hparams"]["model"])),
        "params": str(int(m.get("model/params", 0))), "seed": run.data.params.get("seed", ""),
        "run_id": run.info.run_id, "git_commit": t.get("git.commit", "unknown"),
        "git_dirty": t.get("git.dirty", "unknown"),
        "experiment_id": run.info.experiment_id,
    }
    if bundle["hparams"].get("pooling"):  # classifiers: how the steps become one vector
        tags["pooling"] = str(bundle["hparams"]["pooling"])
    tags.update({k.replace("/", "_"): f"{v:.6g}" for k, v in m.items() if k.startswith("test/")})
    tags.update({k: v for k, v in t.items() if k.startswith(("data.sha256.", "zoo."))})
    parent = sweep_run_id or t.get("mlflow.parentRunId")
    if parent:
        tags["sweep_run_id" if sweep_run_id or "zoo.sweep" in t else "parent_run_id"] = parent
    return tags


def has_checkpoint(client: mlflow.MlflowClient, run_id: str) -> bool:
    """Whether the run uploaded the checkpoint a zoo model is built from."""
    return any(a.path == CHECKPOINT for a in client.list_artifacts(run_id, CHECKPOINT.rsplit("/", 1)[0]))


def _requirements() -> list[str]:
    """Every distribution the logged code imports, pinned to this environment's versions (pip
    brings their own dependencies), so the model loads where neither a checkout nor `zoo` is
    installed: its code travels with it (`code_paths`). A local torch build (`2.13.0+cpu`) is
    pinned without its label, with the PyTorch index that serves it."""
    torch_version, _, build = torch.__version__.partition("+")
    pins = [f"{pkg}=={package_version(pkg)}" for pkg in RUNTIME_PACKAGES if pkg != "torch"]
    index = [f"--extra-index-url {TORCH_INDEX}/{build}"] if build else []
    return [*index, f"torch=={torch_version}", *pins]


def check_alias(alias: str | None) -> None:
    """Registration sets any alias but `champion`: only the promotion gate moves that one."""
    if alias == CHAMPION:
        raise ZooError("alias=champion is set only by the promotion gate (promote=true, or zoo-promote), which "
                       "compares the test metric; to override the gate on purpose give force=true")


def existing_version(client: mlflow.MlflowClient, name: str, run_id: str, alias: str | None,
                     extra_tags: dict[str, str] | None = None) -> Registered | None:
    """The version already registered from `run_id` (its alias and `extra_tags` brought up
    to date), or None: registering a run twice must not make two versions."""
    check_alias(alias)
    for existing in client.search_model_versions(f"name='{name}' and run_id='{run_id}'"):
        for key, value in (extra_tags or {}).items():
            client.set_model_version_tag(name, existing.version, key, value)
        if alias:
            client.set_registered_model_alias(name, alias, existing.version)
        return Registered(name, str(existing.version), created=False)
    return None


def register_run(run_id: str, tracking_uri: str, alias: str | None = "challenger",
                 sweep_run_id: str | None = None, extra_tags: dict[str, str] | None = None) -> Registered:
    """Register run `run_id` (once: a second call, even a concurrent one, returns the existing
    version, with `extra_tags`, e.g. the seed statistics of its recipe, brought up to date)."""
    with registration_lock(tracking_uri, run_id):
        return _register_run(run_id, tracking_uri, alias, sweep_run_id, extra_tags)


def _register_run(run_id: str, tracking_uri: str, alias: str | None, sweep_run_id: str | None,
                  extra_tags: dict[str, str] | None) -> Registered:
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    run = _get_run(client, run_id)
    found = existing_version(client, model_name(run), run_id, alias, extra_tags)
    if found:
        return found
    with tempfile.TemporaryDirectory() as tmp:
        try:
            checkpoint = client.download_artifacts(run_id, CHECKPOINT, tmp)
        except (MlflowException, OSError):
            raise ZooError(f"run {run_id} has no {CHECKPOINT} artifact to register") from None
        bundle = bundle_from_checkpoint(checkpoint, logged_max_length(run))
    return register_bundle(client, run, bundle, alias, sweep_run_id, extra_tags)


def logged_max_length(run: mlflow.entities.Run) -> int | None:
    max_length = run.data.params.get("data.max_length")
    return int(max_length) if max_length not in (None, "None") else None


def create_version(client: mlflow.MlflowClient, name: str, info: ModelInfo, tags: dict[str, str]) -> ModelVersion:
    """`mlflow.register_model` through the client: the registered model and a version of the
    logged model (source `models:/<model id>`, its run), without register_model's
    "Successfully registered model" / "Created version" lines on stderr."""
    try:
        client.create_registered_model(name)
    except MlflowException as err:
        if err.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    return client.create_model_version(name, info.model_uri, run_id=info.run_id, tags=tags, model_id=info.model_id)


def log_pyfunc(client: mlflow.MlflowClient, run: mlflow.entities.Run, artifacts: dict[str, Path],
               extra_requirements: tuple[str, ...] = (),
               name: str = "model") -> tuple[ModelInfo, pd.DataFrame, dict | None]:
    """Log the text-in pyfunc of `artifacts` (a `bundle`, and any the pyfunc also reads) into
    `run`, its status and end time kept; returns it with the example's output and the params."""
    example, output, params = _example_output(artifacts)
    try:
        with mlflow.start_run(run_id=run.info.run_id):  # the model is logged into its training run
            info = mlflow.pyfunc.log_model(
                name=name, python_model=str(PYFUNC_CODE), artifacts={k: str(v) for k, v in artifacts.items()},
                signature=_signature(example, output, params), input_example=example,
                pip_requirements=[*_requirements(), *extra_requirements], code_paths=[str(ZOO_PACKAGE)],
            )
    finally:  # reopening the run must not change its status or training time
        client.set_terminated(run.info.run_id, run.info.status, end_time=run.info.end_time)
    return info, output, params


def register_bundle(client: mlflow.MlflowClient, run: mlflow.entities.Run, bundle: dict, alias: str | None,
                    sweep_run_id: str | None = None, extra_tags: dict[str, str] | None = None) -> Registered:
    """Log `bundle` as the text-in pyfunc into `run` (status and end time kept) and register it."""
    check_alias(alias)
    run_id, name = run.info.run_id, model_name(run)
    with tempfile.TemporaryDirectory() as tmp:
        bundle_path = Path(tmp) / "bundle.pt"
        torch.save(bundle, bundle_path)
        info, output, params = log_pyfunc(client, run, {"bundle": bundle_path})
    tags = {**_tags(run, bundle, sweep_run_id), **(extra_tags or {})}
    registered = create_version(client, name, info, tags)
    if drop_duplicate(client, name, run_id, str(registered.version)) != str(registered.version):
        return existing_version(client, name, run_id, alias, extra_tags)  # another host was first
    metrics = ", ".join(f"{k} {v}" for k, v in tags.items() if k.startswith("test_"))
    kind = f"seed ensemble of {tags['n_members']} " if "n_members" in tags else ""
    description = (f"{kind}{tags['encoder']} depth {tags['depth']} width {tags['width']}, "
                   f"{int(tags['params']):,} parameters; {metrics}; run {run_id}")
    client.update_model_version(name, registered.version, description=description)
    describe_model(client, name, run, bundle["task"], list(output.columns), params)
    if alias:
        client.set_registered_model_alias(name, alias, registered.version)
    return Registered(name, str(registered.version), created=True)


def model_description(name: str, run: mlflow.entities.Run, task_kind: str, outputs: list[str],
                      params: dict | None) -> str:
    """What a registered model is and how to call it, for the registry page."""
    p = run.data.params
    command = (f'python -m zoo.generate model=models:/{name}@champion prompt="ROMEO:"' if "generated" in outputs
               else f'python -m zoo.predict model=models:/{name}@champion text="..."')
    options = f" Inference params: {', '.join(f'`{k}` (default {v})' for k, v in params.items())}." if params else ""
    return (f"LSTM text models of lstm-zoo for task `{p.get('task.name')}` ({task_kind}) on the "
            f"`{p.get('data.name')}` dataset. Input: a DataFrame with a `text` column, one string per row; "
            f"output columns: {', '.join(f'`{c}`' for c in outputs)}.{options}\n\n"
            f"Call it from Python with `mlflow.pyfunc.load_model(\"models:/{name}@champion\")"
            f".predict(pd.DataFrame({{\"text\": [...]}}))`, from the shell with `{command}`, or over REST with "
            f"`mlflow models serve -m models:/{name}@champion` (`make serve`).\n\n"
            "Aliases: `champion` moves only through the promotion gate (a better test metric, on seed means "
            "when there are seeds); `challenger` is the newest candidate. Each version's tags give its "
            "architecture, test metrics, training run, git commit and data SHA-256.")


def describe_model(client: mlflow.MlflowClient, name: str, run: mlflow.entities.Run, task_kind: str,
                   outputs: list[str], params: dict | None) -> None:
    """Tag the registered model with its task, dataset and task kind, and describe it when it
    has no description yet (one written by hand is kept)."""
    tags = {"task": run.data.params.get("task.name", ""), "dataset": run.data.params.get("data.name", ""),
            "task_kind": task_kind, "input": "text"}
    model = client.get_registered_model(name)
    for key, value in tags.items():
        if model.tags.get(key) != value:
            client.set_registered_model_tag(name, key, value)
    if not model.description:
        client.update_registered_model(name, description=model_description(name, run, task_kind, outputs, params))


def describe_available(client: mlflow.MlflowClient, name: str | None = None) -> str:
    """What exists in the registry, for error messages."""
    if name is None:
        names = sorted(m.name for m in client.search_registered_models())
        return f"registered models: {', '.join(names) or 'none yet (make zoo, or python -m zoo.register)'}"
    versions = sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
    aliases = client.get_registered_model(name).aliases
    return (f"{name} has versions {[v.version for v in versions]} and aliases "
            f"{ {a: v for a, v in sorted(aliases.items())} or 'none'}")


def resolve_version(client: mlflow.MlflowClient, name: str, ref: str) -> ModelVersion:
    """A version by number or alias, or a ZooError listing what exists."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        raise ZooError(f"no registered model {name!r}; {describe_available(client)}") from None
    ref = str(ref)
    try:
        return client.get_model_version(name, ref) if ref.isdigit() else client.get_model_version_by_alias(name, ref)
    except MlflowException:
        raise ZooError(f"{name} has no version or alias {ref!r}; {describe_available(client, name)}") from None
