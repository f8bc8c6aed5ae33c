"""A sweep's sampler and pruner, built by Hydra's `instantiate` from a `_target_`.

Any Optuna sampler or pruner is a YAML change only (`{_target_: optuna.samplers.QMCSampler,
seed: 0}`). The short names users already type (`tpe`, `none`) are aliases: data mapping a
name to a `_target_` with tuned defaults, which the block's own options override.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from zoo.errors import ConfigError

TARGET = "_target_"

SAMPLERS: dict[str, dict[str, Any]] = {
    # multivariate TPE models parameters jointly; constant_liar keeps parallel workers apart
    "tpe": {TARGET: "optuna.samplers.TPESampler", "seed": 0, "multivariate": True, "constant_liar": True},
    "random": {TARGET: "optuna.samplers.RandomSampler", "seed": 0},
    "cmaes": {TARGET: "optuna.samplers.CmaEsSampler", "seed": 0},
    "nsga2": {TARGET: "optuna.samplers.NSGAIISampler", "seed": 0},
}
PRUNERS: dict[str, dict[str, Any]] = {
    "median": {TARGET: "optuna.pruners.MedianPruner", "n_startup_trials": 3, "n_warmup_steps": 1},
    "hyperband": {TARGET: "optuna.pruners.HyperbandPruner", "min_resource": 1},
    "threshold": {TARGET: "optuna.pruners.ThresholdPruner"},
    "none": {TARGET: "optuna.pruners.NopPruner"},
}
FACTORIES: dict[str, tuple[dict[str, dict[str, Any]], type, str]] = {  # what -> (aliases, base class, example)
    "sampler": (SAMPLERS, optuna.samplers.BaseSampler, "optuna.samplers.QMCSampler"),
    "pruner": (PRUNERS, optuna.pruners.BasePruner, "optuna.pruners.PercentilePruner"),
}


def selector(block: Any) -> tuple[str, Any] | None:
    """What a block picks, ("name", alias) or ("_target_", path); None when it picks nothing."""
    if isinstance(block, str):
        return ("name", block)
    if isinstance(block, Mapping):
        return next(((key, block[key]) for key in (TARGET, "name") if key in block), None)
    return None


def normalize(raw: Any, what: str) -> dict[str, Any]:
    """The block as a spec keeps it (`tpe` -> {name: tpe}), checked to pick one known factory."""
    aliases, _, example = FACTORIES[what]
    if raw is not None and not isinstance(raw, str | Mapping):
        raise ConfigError(f"{what}={raw!r} must be a name ({', '.join(aliases)}) or a mapping")
    block = {"name": raw} if isinstance(raw, str) else dict(raw or {})
    if TARGET in block:
        if "name" in block:
            raise ConfigError(f"{what} gives both name={block['name']!r} and _target_={block[TARGET]!r}; keep one")
        if not isinstance(block[TARGET], str) or not block[TARGET]:
            raise ConfigError(f"{what}._target_={block[TARGET]!r} must be a class path such as {example}")
        return block
    if block.get("name") not in aliases:
        raise ConfigError(f"{what}.name={block.get('name')!r} is not known; choose one of {', '.join(aliases)}, "
                          f"or give {what}._target_: <an Optuna {what} class, e.g. {example}>")
    return block


def resolve(block: dict[str, Any], what: str) -> dict[str, Any]:
    """The `instantiate` config of a normalized block: its alias's target and defaults, then its options."""
    if TARGET in block:
        return dict(block)
    options = {k: v for k, v in block.items() if k != "name"}
    return {**FACTORIES[what][0][block["name"]], **options}


def _target_class(path: str, what: str) -> type:
    """The class a `_target_` names, checked to be an Optuna sampler or pruner before it is built."""
    aliases, base, example = FACTORIES[what]
    module, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(f"{what}._target_={path!r} does not import ({err}); give the full path of an Optuna "
                          f"{what} class, e.g. {example}, or a name: {', '.join(aliases)}") from None
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise ConfigError(f"{what}._target_={path!r} is not an Optuna {what} "
                          f"(a subclass of optuna.{what}s.{base.__name__})")
    return cls


def build(block: dict[str, Any], what: str, seed_offset: int = 0) -> Any:
    """Instantiate a normalized block; `seed_offset` shifts a seed so resumed or parallel
    workers do not replay trials. A bad option is a ConfigError naming the options taken."""
    config = resolve(block, what)
    if config.get("seed") is not None:
        config["seed"] = int(config["seed"]) + seed_offset
    cls = _target_class(config[TARGET], what)
    options = {k: v for k, v in config.items() if k != TARGET}
    try:
        with warnings.catch_warnings():  # QMC, Gaussian-process and other samplers are "experimental"
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return instantiate(config, _convert_="all")
    except InstantiationException as err:
        cause = " ".join(str(err.__cause__ or err).split()).rstrip(".")
        taken = [p for p in inspect.signature(cls).parameters if p not in ("args", "kwargs")]
        raise ConfigError(f"{what} {block.get('name') or config[TARGET]} with options {options}: {cause}; "
                          f"{cls.__name__} takes {', '.join(taken) or 'no options'}") from None
