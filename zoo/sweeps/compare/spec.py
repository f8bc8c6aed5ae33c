"""A model comparison's spec (`sweeps/compare_<dataset>.yaml`): one recipe, and per
architecture the overrides that pick it and its own search space, all under the same trial
budget, objective, tokenizer, epoch bound and early stopping. Each architecture's search is
an ordinary sweep spec made from it, and its winner an ordinary benchmark arm."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna
import yaml
from omegaconf import DictConfig, OmegaConf

from zoo.errors import ConfigError
from zoo.sweeps.benchmark.arms import Arm
from zoo.sweeps.search.objective import monitor_overrides
from zoo.sweeps.search.space import to_overrides
from zoo.sweeps.search.spec import SWEEPS_DIR, SweepSpec, is_comparison, parse_sweep_spec, with_debug

SHARED = ("objective", "sampler", "pruner", "n_trials", "max_failures", "workers", "storage")
COST_DEFAULTS = {"lengths": [10, 20, 50], "calls": 500, "pyfunc_calls": 300, "batch": 256, "batch_tokens": 20,
                 "prompt": "ROMEO:", "new_tokens": 20}


@dataclass(frozen=True)
class Architecture:
    """One contender: the overrides that select it, its search space, and whether it is an LSTM
    (the reference every other architecture is tested against is the best LSTM)."""

    name: str
    overrides: list[str]
    search_space: dict[str, Any]
    lstm: bool = False
    enqueue: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CompareSpec:
    name: str
    study_name: str
    description: str
    recipe: list[str]
    shared: dict[str, Any]  # the sweep fields every architecture's search gets (objective, sampler, ...)
    architectures: dict[str, Architecture]
    seeds: int = 5
    test_metric: str | None = None  # default: the task kind's primary metric
    alpha: float = 0.05
    cost: dict[str, Any] = field(default_factory=lambda: dict(COST_DEFAULTS))

    @property
    def workers(self) -> int:
        return int(self.shared.get("workers", 1))

    def search(self, arch: str) -> SweepSpec:
        """The sweep spec of `arch`'s search: registers nothing, keeps no trial checkpoints
        (the winner is retrained over seeds), has no confirmation stage of its own."""
        a = self.architectures[arch]
        raw = {**{k: v for k, v in self.shared.items() if k != "objective"},
               "objectives": [self.shared["objective"]], "study_name": f"{self.study_name}-{arch}",
               "recipe": [*self.recipe, *a.overrides], "search_space": a.search_space, "enqueue": a.enqueue,
               "description": f"{self.name}: the search of {arch}", "register": False, "confirm": False,
               "keep_checkpoints": False}
        return parse_sweep_spec(f"{self.name}-{arch}", OmegaConf.create(raw))

    def arm(self, arch: str, best: optuna.trial.FrozenTrial) -> Arm:
        """`arch`'s best configuration over the spec's seeds."""
        search = self.search(arch)
        overrides = [*search.recipe, *to_overrides(best.params), *monitor_overrides(search)]
        return Arm(f"{self.study_name}-{arch}", overrides, list(range(self.seeds)),
                   tags={"zoo.compare": self.name, "zoo.architecture": arch, "zoo.compare_trial": str(best.number)})


def available_comparisons() -> list[str]:
    return sorted(p.stem for p in SWEEPS_DIR.glob("*.yaml") if is_comparison(p))


def load_compare_config(name: str, overrides: dict[str, Any]) -> DictConfig:
    """The YAML of comparison `name` with command-line values merged in (`n_trials=4`,
    `seeds=3`, `only=cnn,bow` keeps those architectures, `debug=smoke` joins the recipe)."""
    path = SWEEPS_DIR / f"{name}.yaml"
    if name not in available_comparisons():
        raise ConfigError(f"unknown comparison {name!r}; comparisons: {', '.join(available_comparisons())}")
    try:
        cfg = OmegaConf.load(path)
    except yaml.YAMLError as err:
        raise ConfigError(f"comparison {name}: {path} is not valid YAML ({err})") from None
    known = {*SHARED, "description", "study_name", "recipe", "architectures", "seeds", "test_metric", "alpha",
             "cost", "only", "debug"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown comparison option(s) {unknown}; options are {sorted(known)}")
    values = dict(overrides)
    if "debug" in values:
        values["recipe"] = with_debug(values.get("recipe", cfg.get("recipe", [])), values.pop("debug"))
    only = values.pop("only", None)
    cfg = OmegaConf.merge(cfg, values)
    if only is not None:
        keep = [a.strip() for a in str(only).split(",") if a.strip()]
        missing = sorted(set(keep) - set(cfg.architectures))
        if missing or not keep:
            raise ConfigError(f"only={only}: {missing or 'nothing'} is not an architecture of {name}; it has "
                              f"{', '.join(cfg.architectures)}")
        cfg.architectures = {a: cfg.architectures[a] for a in keep}
    return cfg


def _whole(raw: dict[str, Any], key: str, default: int, low: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{key}={value!r} must be a whole number >= {low}")
    return value


def parse_compare_spec(name: str, cfg: DictConfig) -> CompareSpec:
    """Check the spec's own fields and every architecture's search spec (YAML only)."""
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    if not isinstance(raw.get("objective"), dict):
        raise ConfigError(f"comparison {name}: objective must be a mapping such as {{metric: val/acc, direction: "
                          "maximize}}")
    architectures = {}
    for arch, block in (raw.get("architectures") or {}).items():
        if not isinstance(block, dict):
            raise ConfigError(f"architectures.{arch} must be a mapping with overrides and search_space")
        unknown = sorted(set(block) - {"overrides", "search_space", "lstm", "enqueue"})
        if unknown:
            raise ConfigError(f"architectures.{arch}: unknown field(s) {unknown}; fields are enqueue, lstm, "
                              "overrides, search_space")
        architectures[arch] = Architecture(arch, [str(o) for o in block.get("overrides") or []],
                                           dict(block.get("search_space") or {}), bool(block.get("lstm", False)),
                                           [dict(e) for e in block.get("enqueue") or []])
    if len(architectures) < 2:
        raise ConfigError(f"comparison {name}: it needs at least two architectures (has {list(architectures)})")
    if not any(a.lstm for a in architectures.values()):
        raise ConfigError(f"comparison {name}: mark at least one architecture `lstm: true`; the best LSTM is the "
                          "reference every other architecture is tested against")
    alpha = float(raw.get("alpha", 0.05))
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha} must be in (0, 1), e.g. 0.05")
    cost = {**COST_DEFAULTS, **(raw.get("cost") or {})}
    unknown_cost = sorted(set(cost) - set(COST_DEFAULTS))
    if unknown_cost:
        raise ConfigError(f"cost: unknown field(s) {unknown_cost}; fields are {sorted(COST_DEFAULTS)}")
    spec = CompareSpec(
        name=name, study_name=str(raw.get("study_name") or name), description=str(raw.get("description", "")),
        recipe=[str(o) for o in raw.get("recipe") or []],
        shared={k: raw[k] for k in SHARED if k in raw}, architectures=architectures,
        seeds=_whole(raw, "seeds", 5, 2), test_metric=raw.get("test_metric"), alpha=alpha, cost=cost)
    for arch in architectures:  # every search spec parses now, not after the first architecture's trials
        spec.search(arch)
    return spec
