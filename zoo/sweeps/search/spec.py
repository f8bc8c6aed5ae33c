"""A sweep spec (`sweeps/<name>.yaml`), parsed and checked before any trial starts.

The spec names the recipe it tunes (Hydra overrides), the objective(s), the search space,
the sampler, the pruner and the budget. Every mistake is reported with the entry it is
in, so a sweep never dies on its third trial for a typo in the spec. Parsing here reads
only the YAML; `zoo.sweeps.search.check` checks the spec against the composed recipe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from zoo.direction import Direction
from zoo.errors import ConfigError
from zoo.paths import CONF_DIR, PROJECT_ROOT
from zoo.sweeps.search.confirm_spec import ConfirmSpec, parse_confirm
from zoo.sweeps.search.factories import build, normalize, selector

SWEEPS_DIR = PROJECT_ROOT / "sweeps"
PARAM_TYPES = ("int", "float", "categorical")
EXTRA_OBJECTIVES = ("model/params", "perf/inference_ms")
REQUIRED_PARAMS = ("model.hidden_size",)  # width; depth too where the encoder has one (search/check.py)
CONDITION = re.compile(r"^\s*([\w./]+)\s*(==|!=|>=|<=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: Direction


@dataclass(frozen=True)
class ParamSpec:
    """One search-space entry; `condition` (e.g. "model.num_layers > 1") makes it conditional."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    condition: str | None = None


@dataclass
class SweepSpec:
    name: str
    study_name: str
    recipe: list[str]
    objectives: list[Objective]
    search_space: dict[str, ParamSpec]
    # as written: {name: <alias>, ...options} or {_target_: <Optuna class>, ...options} (zoo.sweeps.search.factories)
    sampler: dict[str, Any] = field(default_factory=lambda: {"name": "tpe", "seed": 0})
    pruner: dict[str, Any] = field(default_factory=lambda: {"name": "median"})
    n_trials: int = 20
    timeout: float | None = None
    max_failures: int = 5
    workers: int = 1
    storage: str | None = None
    description: str = ""
    enqueue: list[dict[str, Any]] = field(default_factory=list)
    # register the best trial as `challenger`, promote it if it beats the champion; unset (None):
    # yes, unless the recipe is a debug one (debug=smoke), whose models stay out of the zoo
    register: bool | None = None
    keep_checkpoints: bool = True  # false: trials upload no checkpoint; the best is retrained to register it
    confirm: ConfirmSpec = field(default_factory=ConfirmSpec)  # top-k retrained over seeds, winner vs default

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def directions(self) -> list[str]:
        return [o.direction.optuna for o in self.objectives]

    @property
    def debug(self) -> str | None:
        """The recipe's `debug=` option (e.g. smoke), or None."""
        for override in self.recipe:
            key, _, value = override.lstrip("+~").partition("=")
            if key == "debug" and value not in ("", "null", "None"):
                return value
        return None

    @property
    def registers(self) -> bool:
        """Whether the sweep's winner goes into the model zoo (see `register`)."""
        return self.register if self.register is not None else self.debug is None


def is_comparison(path) -> bool:
    """A model comparison's spec (it names `architectures:`), kept in sweeps/ beside the sweeps."""
    try:
        return "architectures" in (yaml.safe_load(path.read_text()) or {})
    except (yaml.YAMLError, AttributeError, TypeError):
        return False


def available_sweeps() -> list[str]:
    return sorted(p.stem for p in SWEEPS_DIR.glob("*.yaml") if not is_comparison(p))


def with_debug(recipe: list[str], value: Any) -> list[str]:
    """`debug=smoke` as zoo-train takes it: one more override of the recipe, checked against
    the choices in conf/debug/ (a bare `debug=true` names no group option)."""
    choices = sorted(p.stem for p in (CONF_DIR / "debug").glob("*.yaml"))
    if str(value) not in choices:
        raise ConfigError(f"debug={value} is not a debug recipe; choices: {', '.join(choices)} (e.g. debug=smoke)")
    return [*recipe, f"debug={value}"]


def load_sweep_config(name: str, overrides: dict[str, Any]) -> DictConfig:
    """The YAML of sweep `name` with command-line values merged in."""
    path = SWEEPS_DIR / f"{name}.yaml"
    if not re.fullmatch(r"[\w-]+", str(name)) or not path.is_file():  # a name in sweeps/, never a path
        raise ConfigError(f"unknown sweep {name!r}; available sweeps: {', '.join(available_sweeps())}")
    try:
        cfg = OmegaConf.load(path)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        raise ConfigError(f"sweep {name}: {path}{line} is not valid YAML ({getattr(err, 'problem', None) or err}); "
                          "fix that line (compare with the other files in sweeps/)") from None
    unknown = sorted(set(overrides) - set(SweepSpec.__dataclass_fields__) - {"sweep", "debug"})
    if unknown:
        raise ConfigError(
            f"unknown sweep option(s) {unknown}; options are {sorted([*SweepSpec.__dataclass_fields__, 'debug'])}"
        )
    values = {k: v for k, v in overrides.items() if k not in ("sweep", "debug")}
    if "debug" in overrides:
        values["recipe"] = with_debug(values.get("recipe", cfg.get("recipe")) or [], overrides["debug"])
    for key in ("sampler", "pruner"):
        # naming another one (`sampler=random`, `pruner.name=none`, `pruner._target_=...`) replaces
        # the block, keeping its seed; other keys (`sampler.seed=1`) change the spec's block
        new, old = values.get(key), cfg.get(key)
        if isinstance(new, str) or selector(new) not in (None, selector(old)):
            seed = {"seed": old.seed} if isinstance(old, DictConfig) and "seed" in old else {}
            values[key] = {**seed, **({"name": new} if isinstance(new, str) else new)}
            cfg = OmegaConf.merge(cfg, {key: None})
    return OmegaConf.merge(cfg, values)


def _param(key: str, raw: Any) -> ParamSpec:
    where = f"search_space entry {key!r}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping such as {{type: int, low: 1, high: 4}}; got {raw!r}")
    values = dict(raw)
    kind = values.pop("type", None)
    if kind not in PARAM_TYPES:
        raise ConfigError(f"{where}: type={kind!r}; choose one of {', '.join(PARAM_TYPES)}")
    known = {"low", "high", "log", "step", "choices", "condition"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; fields are {sorted(known)}")
    if kind == "categorical":
        choices = tuple(values.get("choices") or ())
        if not choices:
            raise ConfigError(f"{where}: categorical needs a non-empty list of choices")
        param = ParamSpec(key, kind, choices=choices, condition=values.get("condition"))
    else:
        low, high = values.get("low"), values.get("high")
        if low is None or high is None:
            raise ConfigError(f"{where}: {kind} needs low and high")
        if not low < high:
            raise ConfigError(f"{where}: empty range low={low} high={high} (low must be < high)")
        if values.get("log") and low <= 0:
            raise ConfigError(f"{where}: a log scale needs low > 0 (got low={low})")
        param = ParamSpec(key, kind, low=low, high=high, log=bool(values.get("log", False)),
                          step=values.get("step"), condition=values.get("condition"))
    if param.condition is not None and not CONDITION.match(str(param.condition)):
        raise ConfigError(
            f"{where}: condition {param.condition!r} must read '<earlier key> <op> <value>', "
            "e.g. 'model.num_layers > 1'"
        )
    return param


def _integer(raw: dict[str, Any], key: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}={value!r} must be a whole number")
    return value


def parse_sweep_spec(name: str, cfg: DictConfig) -> SweepSpec:
    """Check the sweep's own fields (no config composition yet)."""
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    objectives = []
    for i, entry in enumerate(raw.get("objectives") or []):
        metric, direction = entry.get("metric"), entry.get("direction")
        if direction not in ("maximize", "minimize"):
            raise ConfigError(f"objectives[{i}] ({metric}): direction={direction!r}; use maximize or minimize")
        if i == 0 and not str(metric).startswith("val/"):
            raise ConfigError(f"objectives[0] must be a validation metric (val/...), got {metric!r}")
        if i > 0 and metric not in EXTRA_OBJECTIVES:
            raise ConfigError(f"objectives[{i}]={metric!r}; extra objectives are {', '.join(EXTRA_OBJECTIVES)}")
        objectives.append(Objective(metric, Direction.of(direction)))
    if not objectives:
        raise ConfigError(f"sweep {name}: objectives is empty; e.g. [{{metric: val/acc, direction: maximize}}]")
    space = {key: _param(key, value) for key, value in (raw.get("search_space") or {}).items()}
    missing = [key for key in REQUIRED_PARAMS if key not in space]
    if missing:
        raise ConfigError(f"sweep {name}: the search space must tune depth and width; add {missing}")
    keys = list(space)
    for index, param in enumerate(space.values()):
        if param.condition:
            ref = CONDITION.match(param.condition).group(1)  # type: ignore[union-attr]
            if ref not in keys[:index]:
                raise ConfigError(
                    f"search_space entry {param.key!r}: its condition names {ref!r}, which must be "
                    "an entry listed before it"
                )
    spec = SweepSpec(
        name=name,
        study_name=str(raw.get("study_name") or name),
        recipe=[str(o) for o in raw.get("recipe") or []],
        objectives=objectives,
        search_space=space,
        sampler=normalize(raw.get("sampler", "tpe"), "sampler"),
        pruner=normalize(raw.get("pruner", "median"), "pruner"),
        n_trials=_integer(raw, "n_trials", 20),
        timeout=raw.get("timeout"),
        max_failures=_integer(raw, "max_failures", 5),
        workers=_integer(raw, "workers", 1),
        storage=raw.get("storage"),
        description=str(raw.get("description", "")),
        enqueue=[dict(e) for e in raw.get("enqueue") or []],
        register=None if raw.get("register") is None else bool(raw["register"]),
        keep_checkpoints=bool(raw.get("keep_checkpoints", True)),
        confirm=parse_confirm(raw.get("confirm", {})),
    )
    for i, trial in enumerate(spec.enqueue):
        unknown = sorted(set(trial) - set(space))
        if unknown:
            raise ConfigError(f"enqueue[{i}] sets {unknown}, which the search space does not tune")
    if spec.n_trials < 1 or spec.workers < 1 or spec.max_failures < 0:
        raise ConfigError("n_trials and workers must be >= 1 and max_failures >= 0")
    timeout = spec.timeout
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0):
        raise ConfigError(f"timeout={timeout!r} must be a number of seconds > 0 (e.g. timeout=3600), or null")
    build(spec.sampler, "sampler")  # bad options fail now, not in the first trial
    build(spec.pruner, "pruner")
    return spec

