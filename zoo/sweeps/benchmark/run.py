"""A benchmark: every named recipe trained once per seed (and per fold), with the statistics
that let two recipes be told apart; each recipe is a `Replicates` job of the orchestration.
Arguments are checked, and every recipe composed, before any training starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml

from zoo.errors import ConfigError
from zoo.paths import CONF_DIR
from zoo.sweeps.benchmark.arms import Arm, ArmResult, point_label
from zoo.sweeps.benchmark.replicates import Replicates, failure_reasons
from zoo.sweeps.orchestration.loop import launch
from zoo.sweeps.orchestration.storage import masked, open_storage, storage_url
from zoo.sweeps.orchestration.workers import apply_worker_threads, quiet_libraries

OPTIONS = {
    "experiment": "recipe(s) from conf/experiment, e.g. sst2_bilstm,trec_bilstm (default: the overrides alone)",
    "seeds": "N (seeds 0..N-1) or a list such as [0,7,9]",
    "folds": "K >= 2: K-fold cross-validation (data.cv_folds=K, every fold)",
    "workers": "worker processes on this machine",
    "storage": "Optuna storage URL (default ZOO_OPTUNA_STORAGE or optuna.db)",
}
INTERNAL = ("role", "worker_index")


def recipes() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


@dataclass
class BenchmarkArgs:
    experiments: list[str | None]
    seeds: list[int]
    folds: int | None = None
    workers: int = 1
    storage: str | None = None
    role: str = "launcher"
    overrides: list[str] = field(default_factory=list)


def parse_seeds(value: str) -> list[int]:
    """`5` -> [0..4]; `[0,7,9]` -> those. Zero, negative or repeated seeds are refused."""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = None
    if isinstance(parsed, int) and not isinstance(parsed, bool):
        if parsed < 1:
            raise ConfigError(f"seeds={value}: give how many seeds (>= 1, e.g. seeds=5) or a list (seeds=[0,7,9])")
        return list(range(parsed))
    if not isinstance(parsed, list) or not parsed or not all(isinstance(s, int) and not isinstance(s, bool)
                                                             for s in parsed):
        raise ConfigError(f"seeds={value!r}: give a count (seeds=5) or a list of whole numbers (seeds=[0,7,9])")
    negative = [s for s in parsed if s < 0]
    if negative:
        raise ConfigError(f"seeds={value}: seeds must be >= 0, got {negative}")
    repeated = sorted({s for s in parsed if parsed.count(s) > 1})
    if repeated:
        raise ConfigError(f"seeds={value}: seed(s) {repeated} appear twice; each seed runs once, list it once")
    return parsed


def parse_args(experiment: str | None = None, seeds: str = "5", folds: int | None = None, workers: int = 1,
               storage: str | None = None, role: str = "launcher", overrides: Sequence[str] = ()) -> BenchmarkArgs:
    """The command line's options (see OPTIONS), checked, and the Hydra overrides for every recipe."""
    for arg in overrides:
        if "=" not in arg:
            raise ConfigError(f"arguments are key=value, got {arg!r}; e.g. experiment=sst2_lstm seeds=5")
        if arg.partition("=")[0] == "seed":
            raise ConfigError("seed=... is set for each run by the benchmark; choose them with seeds=5 or "
                              "seeds=[0,7,9]")
    experiments: list[str | None] = [None]
    if experiment:
        experiments = [e.strip() for e in experiment.strip("[]").split(",") if e.strip()]
        unknown = sorted(set(experiments) - set(recipes()))
        if unknown:
            raise ConfigError(f"unknown recipe(s) {unknown}; recipes in conf/experiment: {', '.join(recipes())}")
    if folds is not None and folds < 2:
        raise ConfigError(f"folds={folds}: cross-validation needs at least 2 folds (folds=10 is usual)")
    if workers < 1:
        raise ConfigError(f"workers={workers} must be >= 1")
    return BenchmarkArgs(experiments, parse_seeds(seeds), folds, workers, storage, role, list(overrides))


def build_arms(args: BenchmarkArgs) -> list[Arm]:
    """One arm per recipe, each composed and checked now (a typo fails before any training)."""
    arms = []
    for experiment in args.experiments:
        overrides = ([f"experiment={experiment}"] if experiment else []) + args.overrides
        arm = Arm(experiment or "custom", overrides, args.seeds, args.folds, recipe=experiment)
        cfg = arm.compose()
        if experiment is None:
            arm.name = f"{cfg.data.name}-{cfg.task.name}"
        if args.folds:  # every fold composes and names a valid fold of the dataset
            arm.compose({"seed": args.seeds[0], "fold": args.folds - 1})
        arms.append(arm)
    return arms


def reference(arm: Arm) -> str:
    cfg = arm.compose()
    entry = cfg.get("zoo_entry") or {}
    return str(entry.get("reference", "")) if entry else ""


def report(result: ArmResult) -> str:
    arm = result.arm
    what = f"{len(arm.seeds)} seed(s) {arm.seeds}" + (f" x {arm.folds} folds" if arm.folds else "")
    lines = [f"== {arm.name}: {what}; MLflow parent run {result.parent_run_id}"]
    for metric, summary in result.summaries.items():
        lines.append(f"  {metric:<16} {summary.text()}   95% CI [{summary.ci95_low:.4f}, {summary.ci95_high:.4f}]")
    published = reference(arm)
    if published:
        lines.append(f"  published        {published}")
    return "\n".join(lines)


def run_benchmark(args: BenchmarkArgs, argv: list[str]) -> list[ArmResult]:
    """Launcher: prepare every arm, run the queued points here or in worker processes, then
    log and print the statistics. Worker: run queued points of every arm."""
    apply_worker_threads()
    quiet_libraries()
    arms = build_arms(args)
    url = storage_url(args.storage)
    storage = open_storage(url)
    jobs = [Replicates(arm, storage, role=args.role) for arm in arms]
    if args.role == "launcher":
        print(f"benchmark on {masked(url)}: {len(arms)} recipe(s), {len(args.seeds)} seed(s)"
              + (f", {args.folds} folds" if args.folds else ""), flush=True)
    launch(jobs, args.role, args.workers, "zoo.benchmark", [a for a in argv if not a.startswith(INTERNAL)])
    if args.role != "launcher":
        return []
    results = [job.finish() for job in jobs]
    for job, result in zip(jobs, results, strict=True):
        print(report(result), flush=True)
        if result.missing:
            reasons = failure_reasons(job.study)
            for point in result.missing:
                label = point_label(point)
                print(f"  missing {label}: {reasons.get(label, 'not run')}", flush=True)
    return results
