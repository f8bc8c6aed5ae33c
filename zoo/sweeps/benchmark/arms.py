"""A benchmark arm: one recipe repeated over seeds (and cross-validation folds), the names
of its runs, and what its runs gave."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from zoo.config import compose_config
from zoo.errors import ConfigError
from zoo.stats import Summary
from zoo.training.builders import check_config

SEED_RANGE = (0, 2**31 - 1)
QUIET = ("callbacks.progress_bar.refresh_rate=0", "trainer.enable_model_summary=false")


@dataclass
class Arm:
    """One recipe repeated: `name` labels its study and MLflow runs, `overrides` compose it."""

    name: str
    overrides: list[str]
    seeds: list[int]
    folds: int | None = None
    recipe: str | None = None  # the conf/experiment name, when the arm is a zoo recipe
    tags: dict[str, str] = field(default_factory=dict)

    def points(self) -> list[dict[str, int]]:
        folds = range(self.folds) if self.folds else [None]
        return [{"seed": s} if k is None else {"seed": s, "fold": k} for s in self.seeds for k in folds]

    @property
    def study_name(self) -> str:
        """Seeds are not part of it: asking for more seeds later reuses the runs already made."""
        content = json.dumps({"overrides": self.overrides, "folds": self.folds}, sort_keys=True)
        return f"bench-{self.name}-{hashlib.sha256(content.encode()).hexdigest()[:10]}"

    def point_overrides(self, point: dict[str, int], output_root: Path | None = None) -> list[str]:
        out = [*self.overrides, *QUIET, f"seed={point['seed']}"]
        if self.folds:
            out += [f"data.cv_folds={self.folds}", f"data.cv_fold={point['fold']}"]
        if output_root is not None:
            out.append(f"paths.output_dir={output_root}/{self.study_name}/{point_label(point)}")
        return out

    def compose(self, point: dict[str, int] | None = None) -> DictConfig:
        """The config of one point (the first by default), checked as `zoo.train` checks it."""
        overrides = self.point_overrides(point or self.points()[0])
        try:
            cfg = compose_config(overrides)
        except Exception as err:  # noqa: BLE001 - Hydra's composition errors, reworded
            raise ConfigError(f"{self.name}: the overrides {self.overrides} do not compose: "
                              f"{str(err).splitlines()[0]}") from None
        check_config(cfg)
        if cfg.trainer.get("max_time") is not None:
            raise ConfigError(
                f"{self.name} sets trainer.max_time={cfg.trainer.max_time}: a run cut by wall time depends on the "
                "machine's load, so benchmarks refuse it; bound it by trainer.max_epochs or trainer.max_steps")
        return cfg


def point_label(point: dict[str, int]) -> str:
    return f"seed{point['seed']}" + (f"-fold{point['fold']}" if "fold" in point else "")


def replicate_run_name(arm: Arm, point: dict[str, int]) -> str:
    """A seed's child run: `s0-<arm>` (`s0-f1-<arm>` for a fold), or `t007-s0-<study>` when the
    arm confirms trial 7: what tells siblings apart comes first, where the MLflow UI's cut-off
    name column still shows it."""
    seed = f"s{point['seed']}" + (f"-f{point['fold']}" if "fold" in point else "")
    trial = str(arm.tags.get("zoo.confirms_trial", ""))
    if trial.isdigit():
        return f"t{int(trial):03d}-{seed}-{arm.name.removesuffix(f'-trial{trial}')}"
    return f"{seed}-{arm.name}"


@dataclass
class RunRecord:
    point: dict[str, int]
    run_id: str
    metrics: dict[str, float]


@dataclass
class ArmResult:
    arm: Arm
    parent_run_id: str
    runs: list[RunRecord]
    missing: list[dict[str, int]]
    summaries: dict[str, Summary]

    def values(self, metric: str) -> list[float]:
        return [r.metrics[metric] for r in self.runs if metric in r.metrics]

    def first_run(self) -> RunRecord:
        """The run of the lowest seed (and fold): the model a recipe keeps in the registry."""
        return min(self.runs, key=lambda r: (r.point["seed"], r.point.get("fold", 0)))
