"""A parsed sweep spec checked against the recipe it tunes, composed with Hydra, before any
trial starts: the recipe composes and passes `zoo.train`'s checks, the objective is a metric
the task logs, and every search-space key names something in the composed config."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from zoo.config import compose_config
from zoo.errors import ConfigError
from zoo.models.encoders import describe
from zoo.paths import CONF_DIR
from zoo.sweeps.search.space import is_group
from zoo.sweeps.search.spec import ParamSpec, SweepSpec
from zoo.tasks import kind_of_config
from zoo.training.builders import check_config


def check_objective(spec: SweepSpec, cfg: DictConfig) -> None:
    """The first objective must be a validation metric the recipe's task kind logs."""
    logged = kind_of_config(cfg).metrics
    if spec.objectives[0].metric not in logged:
        raise ConfigError(f"objectives[0]={spec.objectives[0].metric!r} is not logged by task={cfg.task.name}; "
                          f"choose one of {', '.join(logged)}")


def check_depth(spec: SweepSpec, cfg: DictConfig) -> None:
    """A search tunes depth and width: width always, depth where the encoder has one (a CNN
    has one convolution layer; a study over cores tunes it for each)."""
    if "model" in spec.search_space or "model.num_layers" in spec.search_space:
        return
    if "num_layers" in describe(str(cfg.model.encoder)).options:
        raise ConfigError(f"sweep {spec.name}: the search space must tune depth and width; add ['model.num_layers'] "
                          f"(model.encoder={cfg.model.encoder} has layers)")


def check_search_key(spec: SweepSpec, param: ParamSpec, cfg: DictConfig) -> None:
    """A config group is tuned as a categorical over its options; any other key must exist."""
    key = param.key
    if is_group(key):
        options = sorted(p.stem for p in (CONF_DIR / key).glob("*.yaml"))
        bad = [c for c in param.choices if str(c) not in options]
        if param.type != "categorical" or bad:
            raise ConfigError(
                f"search_space entry {key!r} is a config group: use type: categorical with "
                f"choices from {options}" + (f" (unknown: {bad})" if bad else "")
            )
        return
    missing = object()
    if OmegaConf.select(cfg, key, default=missing) is missing:
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        node = OmegaConf.select(cfg, parent) if parent else cfg
        keys = sorted(node.keys()) if isinstance(node, DictConfig) else []
        raise ConfigError(
            f"search_space entry {key!r} names a key absent from the composed config "
            f"(recipe {spec.recipe})" + (f"; {parent or 'the root'} has {keys}" if keys else "")
        )


def check_bounds(param: ParamSpec, cfg: DictConfig) -> None:
    """Every value a trial can draw at the edges (low, high, each choice) must pass `zoo.train`'s
    checks, so `hidden_size low: 0` or `dropout high: 1.5` fails now, not in some trial."""
    if is_group(param.key):
        return  # a config group: its options compose (check_search_key), each checked in its trial
    if param.type == "categorical":
        values = list(param.choices)
    else:
        cast = int if param.type == "int" else float
        values = [cast(param.low), cast(param.high)]
    for value in values:
        trial_cfg = cfg.copy()
        OmegaConf.update(trial_cfg, param.key, value, merge=False)
        try:
            check_config(trial_cfg)
        except ConfigError as err:
            raise ConfigError(f"search_space entry {param.key!r} allows {value!r}, which training refuses: {err}; "
                              "narrow its range") from None


def check_against_config(spec: SweepSpec) -> DictConfig:
    """Compose the recipe, check it as `zoo.train` would, then the objective and the search
    space against it; return the composed config."""
    try:
        cfg = compose_config(spec.recipe)
    except Exception as err:  # noqa: BLE001 - Hydra's composition errors, reworded
        raise ConfigError(f"sweep {spec.name}: the recipe {spec.recipe} does not compose: {err}") from None
    check_config(cfg)
    check_objective(spec, cfg)
    check_depth(spec, cfg)
    for param in spec.search_space.values():
        check_search_key(spec, param, cfg)
        check_bounds(param, cfg)
    return cfg
