"""The model bundle a registered model carries: task kind, network weights, sizes, tokenizer.

One `torch.save` file holding only tensors, numbers, strings, lists and dicts, so it loads
with `torch.load(weights_only=True)`: serving never unpickles an arbitrary object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from zoo.errors import ZooError
from zoo.models import EncoderSpec
from zoo.models.ensemble import ProbabilityAverage
from zoo.tasks import kind, kind_of_checkpoint

FORMAT = "lstm-zoo/1"


def bundle_from_checkpoint(checkpoint_path: str | Path, max_length: int | None) -> dict[str, Any]:
    """Slim a Lightning checkpoint of a zoo task down to what inference needs."""
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    hparams = dict(checkpoint["hyper_parameters"])
    state = {k.removeprefix("network."): v for k, v in checkpoint["state_dict"].items() if k.startswith("network.")}
    return {
        "format": FORMAT,
        "task": kind_of_checkpoint(checkpoint.get("task_kind"), hparams).name,  # the task kind's name
        "hparams": {k: v for k, v in hparams.items() if k != "monitor"},
        "state_dict": state,
        "tokenizer_json": checkpoint["tokenizer_json"],
        "max_length": max_length,
    }


def load_bundle(path: str | Path) -> dict[str, Any]:
    """Read a bundle; a missing or foreign file is a clear error, not a pickle traceback."""
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"model bundle not found at {path}: the registry entry's artifacts are missing; "
                       "re-register the run (python -m zoo.register run_id=...)")
    try:
        bundle = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - corrupt file or one holding arbitrary objects
        raise ZooError(
            f"{path} is not a readable lstm-zoo bundle ({type(err).__name__}); re-register the run"
        ) from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise ZooError(f"{path} is not an lstm-zoo bundle (format {FORMAT} expected)")
    return bundle


def ensemble_bundle(bundles: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """One bundle holding the weights of several classifiers of one recipe (`members`);
    they must share the task, the sizes and the tokenizer, or their outputs do not line up."""
    first = bundles[0]
    if not kind(first["task"]).ensembles:
        raise ZooError("a seed ensemble averages class probabilities, so it needs classifiers; "
                       f"{names[0]} is a {first['task']}")
    for bundle, name in zip(bundles[1:], names[1:], strict=True):
        if bundle["task"] != first["task"]:
            raise ZooError(f"{name} is a {bundle['task']} and {names[0]} a {first['task']}: an ensemble needs one task")
        if bundle["tokenizer_json"] != first["tokenizer_json"]:
            raise ZooError(f"{name} and {names[0]} have different tokenizers (cross-validation folds, or another "
                           "dataset): an ensemble needs runs of one recipe over seeds on the same data")
        if bundle["hparams"] != first["hparams"]:
            raise ZooError(f"{name} and {names[0]} are different architectures: an ensemble needs one recipe")
    return {**first, "state_dict": {}, "members": [b["state_dict"] for b in bundles]}


def build_network(bundle: dict[str, Any]) -> tuple[torch.nn.Module, Tokenizer]:
    """The eval-mode network (or seed ensemble) and tokenizer described by a bundle."""
    hp = bundle["hparams"]
    spec = EncoderSpec.from_config(hp["model"])

    def one(state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
        network = kind(bundle["task"]).network(spec, hp)
        network.load_state_dict(state_dict)
        return network

    network = ProbabilityAverage([one(s) for s in bundle["members"]]) if bundle.get("members") else one(
        bundle["state_dict"])
    return network.eval(), Tokenizer.from_str(bundle["tokenizer_json"])
