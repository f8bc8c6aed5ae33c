"""`zoo-export format=onnx`: a registered classifier as a second registered model,
`<name>-onnx`, whose pyfunc scores with ONNX Runtime behind the same text-in signature.

The export is logged into the source version's training run (beside its torch model) with
the same bundle, so explain=true and reproduction work as before, plus the network's graph
(artifact `onnx`) and onnxruntime pinned in its requirements. The version carries the
source's tags, `source_model`/`source_version`, and the parity measured at export; it takes
the aliases the source version has at that moment (the champion's export is `champion`),
so export again after a promotion. Exporting one version twice gives one export."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

import mlflow
import torch

from zoo.errors import ZooError
from zoo.registry.bundle import build_network
from zoo.registry.loading import URI, load_registered
from zoo.registry.locks import registration_lock
from zoo.registry.onnx_export import PARITY_TOLERANCE, check_parity, export_network
from zoo.registry.versions import create_version, log_pyfunc, resolve_version
from zoo.tasks import kind

FORMATS = ("onnx",)
SUFFIX = "-onnx"


@dataclass(frozen=True)
class Exported:
    name: str
    version: str
    parity: float
    aliases: tuple[str, ...]
    created: bool

    def line(self, source: str) -> str:
        state = "exported" if self.created else "already exported"
        aliases = f"; aliases {', '.join(self.aliases)}" if self.aliases else ""
        return (f"{state} {source} to models:/{self.name}/{self.version} (ONNX Runtime; max |logit difference| "
                f"{self.parity:.1e} against torch, tolerance {PARITY_TOLERANCE:.0e}{aliases})")


def export_model(model: str, tracking_uri: str, out: Path | None = None) -> Exported:
    """Export registered version `model` (`models:/<name>/<version>` or `@alias`) to ONNX."""
    client = mlflow.MlflowClient(tracking_uri)
    match = URI.match(model)
    if not match:
        raise ZooError(f"model={model!r} must look like models:/<name>@<alias> or models:/<name>/<version>")
    source = resolve_version(client, match["name"], match["alias"] or match["version"])
    if source.tags.get("format") == "onnx":
        raise ZooError(f"{model} is already an ONNX export (of models:/{source.tags.get('source_model')}/"
                       f"{source.tags.get('source_version')}); export the torch version")
    bundle = load_registered(model, tracking_uri).unwrap_python_model().bundle
    if kind(bundle["task"]).generates:
        raise ZooError(f"{model} is a language model: format=onnx exports classifiers (generation samples one "
                       "token at a time in Python, around the network)")
    if bundle.get("members"):
        raise ZooError(f"{model} is a seed ensemble: export one of its members (a single model's version)")
    with registration_lock(tracking_uri, f"{source.run_id} onnx"), tempfile.TemporaryDirectory() as tmp:
        network, tokenizer = build_network(bundle)
        encoder = str(bundle["hparams"]["model"].get("encoder"))
        graph = export_network(network, Path(tmp) / "network.onnx", int(bundle["hparams"].get("pad_id", 0)), encoder)
        parity = check_parity(network, graph, tokenizer.get_vocab_size(), int(bundle["hparams"].get("pad_id", 0)),
                              bundle.get("max_length"), encoder)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(graph, out)
        found = _existing(client, source)
        if found is not None:
            return _with_aliases(client, source, found, parity, created=False)
        bundle_path = Path(tmp) / "bundle.pt"
        torch.save(bundle, bundle_path)
        info, _, _ = log_pyfunc(client, client.get_run(source.run_id), {"bundle": bundle_path, "onnx": graph},
                                (f"onnxruntime=={package_version('onnxruntime')}",), name="model_onnx")
    name = source.name + SUFFIX
    # the source's tags but `zoo.*` (the recipe's: the leaderboard finds a recipe's versions by them)
    kept = {k: v for k, v in source.tags.items() if not k.startswith("zoo.")}
    tags = {**kept, "format": "onnx", "source_model": source.name, "source_version": str(source.version),
            "onnx_parity": f"{parity:.2e}"}
    registered = create_version(client, name, info, tags)
    client.update_model_version(name, registered.version, description=(
        f"ONNX Runtime export of models:/{source.name}/{source.version} (max |logit difference| {parity:.1e}); "
        f"{source.description or ''}"))
    _describe(client, name, source.name)
    return _with_aliases(client, source, str(registered.version), parity, created=True)


def _existing(client: mlflow.MlflowClient, source: mlflow.entities.model_registry.ModelVersion) -> str | None:
    try:
        versions = client.search_model_versions(f"name='{source.name}{SUFFIX}'")
    except mlflow.exceptions.MlflowException:
        return None
    same = sorted(int(v.version) for v in versions if v.tags.get("source_version") == str(source.version))
    return str(same[0]) if same else None


def _with_aliases(client: mlflow.MlflowClient, source: mlflow.entities.model_registry.ModelVersion, version: str,
                  parity: float, created: bool) -> Exported:
    """The export takes the aliases its source holds now (the champion's export is `champion`)."""
    name = source.name + SUFFIX
    aliases = tuple(sorted(source.aliases))
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version)
    return Exported(name, version, parity, aliases, created)


def _describe(client: mlflow.MlflowClient, name: str, source_name: str) -> None:
    model = client.get_registered_model(name)
    if not model.description:
        client.update_registered_model(name, description=(
            f"`{source_name}` exported to ONNX by `zoo-export format=onnx`: the same text-in pyfunc (a DataFrame "
            "with a `text` column), its network run by ONNX Runtime. Each version names its source version "
            "(tags `source_model`, `source_version`) and the parity measured at export (`onnx_parity`). Aliases "
            "are copied from the source version at export: export again after a promotion."))
    source_tags = client.get_registered_model(source_name).tags
    for key, value in {**source_tags, "format": "onnx", "source_model": source_name}.items():
        client.set_registered_model_tag(name, key, value)
