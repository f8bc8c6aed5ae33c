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
