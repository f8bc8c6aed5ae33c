"""Hydra/OmegaConf glue: the `zoo_root` resolver and composing configs outside `@hydra.main`."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf

from zoo.paths import CONF_DIR, PROJECT_ROOT


def register_resolvers() -> None:
    """`${zoo_root:}` in conf/ is the repository root; `import zoo` calls this once."""
    if not OmegaConf.has_resolver("zoo_root"):
        OmegaConf.register_new_resolver("zoo_root", lambda: str(PROJECT_ROOT))


def compose_config(overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """The same config `python -m zoo.train <overrides>` would see (for tests and sweeps)."""
    # hydra is imported here, not at the top, so that `import zoo` stays light
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def flatten(container: dict, prefix: str = "") -> dict[str, object]:
    """{'a': {'b': 1}} -> {'a.b': 1}, for MLflow params."""
    flat: dict[str, object] = {}
    for key, value in container.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def hydra_error_line(err: BaseException) -> str:
    """Hydra's multi-line composition errors as one line: an unknown option with the choices
    there are, an override of a key the config lacks with how to add it, a parse error."""
    text = str(err).strip()
    if "Available options in" in text:
        head, _, rest = text.partition("Available options in")
        group, _, listing = rest.partition(":")
        options = [o.strip() for o in listing.split("Config search path")[0].splitlines() if o.strip()]
        where = head.strip().replace("In 'config': ", "")
        return f"{where}; Available options in{group}: {', '.join(options)}"
    lines = [line.strip().rstrip(".") for line in text.splitlines()
             if line.strip() and not line.strip().startswith(("See https", "full_key", "object_type"))]
    if type(err).__name__ == "OverrideParseException":
        return f"the command line does not parse: {lines[0] if lines else text} (key=value, e.g. data.cv_folds=10)"
    cause = err.__cause__
    if cause is not None and str(cause).strip():
        lines.append(str(cause).strip().splitlines()[0].rstrip("."))
    return "; ".join(lines) or type(err).__name__


def check_overrides(overrides: Sequence[str]) -> None:
    """Compose once to report a bad command line as one `ConfigError` line before Hydra's app
    starts (Hydra itself prints such errors over several lines and exits 1)."""
    from hydra.errors import HydraException

    from zoo.errors import ConfigError

    try:
        compose_config(overrides)
    except HydraException as err:
        raise ConfigError(hydra_error_line(err)) from None
    except ValueError as err:  # Hydra's plain ValueError for `task=true`, `model=3`: a group given no name
        raise ConfigError(group_value_line(overrides, err)) from None


def group_value_line(overrides: Sequence[str], err: ValueError) -> str:
    """The override that gave a config group a value that is no name (true, a number, null),
    with the group's choices; else Hydra's message as it is."""
    for override in overrides:
        key, _, value = override.partition("=")
        group = key.lstrip("+~")
        folder = CONF_DIR / group
        no_name = not value[:1].isalpha() or value.lower() in ("true", "false", "null")  # what YAML reads as no string
        if folder.is_dir() and no_name:
            choices = ", ".join(sorted(f.stem for f in folder.glob("*.yaml")))
            return (f"{override}: {group} takes the name of one of its configs; "
                    f"Available options in '{group}': {choices}")
    return " ".join(str(err).split())
