"""Run a model comparison on the shared orchestration, in two stages of jobs and a report:

1. search: one `Search` per architecture (same trial budget), nested under the comparison's
   MLflow parent run; with workers, every worker works every search in turn;
2. seeds: each architecture's best trial as a `Replicates` arm over the same seeds;
3. the launcher alone: seed ensembles, tests against the best LSTM, costs measured in this
   process, the report on the parent run and in `docs/lstm-or-not.md`.

A rerun resumes: finished trials and seeds are kept, the report is written again."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import optuna

from zoo.config import compose_config
from zoo.direction import Direction
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT
from zoo.registry.ensemble import score_ensemble
from zoo.sweeps.benchmark.replicates import Replicates
from zoo.sweeps.compare.cost import measure
from zoo.sweeps.compare.evidence import Contender, contender, pick_reference, task_verdict, verdicts
from zoo.sweeps.compare.report import HEADER, Table, markdown, plot
from zoo.sweeps.compare.spec import CompareSpec
from zoo.sweeps.orchestration.loop import launch
from zoo.sweeps.orchestration.runs import joined_parent_run, open_parent_run
from zoo.sweeps.orchestration.storage import masked, open_storage, storage_url
from zoo.sweeps.orchestration.workers import apply_worker_threads, quiet_libraries
from zoo.sweeps.search.check import check_against_config
from zoo.sweeps.search.report import ranked
from zoo.sweeps.search.runner import Search
from zoo.sweeps.sections import write_sections
from zoo.tasks import kind_of_config
from zoo.tracking import experiment_for
from zoo.training.builders import check_outputs

DOCS = PROJECT_ROOT / "docs" / "lstm-or-not.md"
STAGES = ("search", "seeds")


@dataclass
class CompareOutcome:
    parent_run_id: str
    table: Table | None
    worker_errors: int = 0


def _parent(spec: CompareSpec, storage: optuna.storages.BaseStorage, role: str) -> tuple[str, mlflow.MlflowClient]:
    """The comparison's MLflow parent run, remembered by an Optuna study of its own (no trials)."""
    cfg = compose_config([*spec.recipe, *next(iter(spec.architectures.values())).overrides])
    client = mlflow.MlflowClient(cfg.logger.tracking_uri)
    study = optuna.create_study(study_name=spec.study_name, storage=storage, load_if_exists=True)
    if role != "launcher":
        return joined_parent_run(study, f"comparison {spec.name} has no launcher yet: start `python -m zoo.compare "
                                        f"spec={spec.name}` first, then add workers"), client
    study.set_user_attr("mlflow_tracking_uri", cfg.logger.tracking_uri)
    run_id, created = open_parent_run(study, client, experiment_for(cfg), f"compare-{spec.name}",
                                      {"zoo.compare": spec.name, "optuna.study_name": spec.study_name},
                                      "delete the study from the Optuna storage")
    if created:
        client.log_dict(run_id, {a: vars(arch) for a, arch in spec.architectures.items()}, "architectures.json")
        client.log_text(run_id, "\n".join(spec.recipe) + "\n", "recipe.txt")
    return run_id, client


def _arms(spec: CompareSpec, searches: dict[str, Search], storage, role: str, parent: str) -> dict[str, Replicates]:
    arms = {}
    for arch, search in searches.items():
        best = ranked(search.study, search.spec)
        if not best:
            raise ZooError(f"the search of {arch} has no complete trial (see its failures in MLflow run "
                           f"{search.parent}); fix the spec and rerun the same command")
        arms[arch] = Replicates(spec.arm(arch, best[0]), storage, role=role,
                                nested_under=parent if role == "launcher" else None)
    return arms


def run_compare(spec: CompareSpec, argv: list[str], role: str = "launcher", worker_index: int = 0,
                stage: str | None = None, docs: Path | None = DOCS) -> CompareOutcome:
    """Launcher: every stage, then the report. Worker (`stage=search|seeds`): that stage's trials."""
    start = time.time()
    apply_worker_threads()
    quiet_libraries()
    for arch in spec.architectures:  # every architecture's recipe and space, before any store is touched
        check_outputs(check_against_config(spec.search(arch)))
    url = storage_url(spec.shared.get("storage"))
    storage = open_storage(url)
    parent, client = _parent(spec, storage, role)
    if role == "launcher":
        print(f"comparison {spec.name} on {masked(url)}: {', '.join(spec.architectures)}; "
              f"{spec.shared.get('n_trials')} trials each, then {spec.seeds} seeds; MLflow parent run {parent}",
              flush=True)
    errors = 0
    try:
        searches = {a: Search(spec.search(a), role, worker_index, nested_under=parent if role == "launcher" else None,
                              start=start) for a in spec.architectures}
        if stage in (None, "search"):
            errors += launch(list(searches.values()), role, spec.workers, "zoo.compare", [*argv, "stage=search"])
            if role == "launcher":
                for search in searches.values():
                    search.finish(register=False)
        if stage == "search":
            return CompareOutcome(parent, None, errors)
        arms = _arms(spec, searches, storage, role, parent)
        errors += launch(list(arms.values()), role, spec.workers, "zoo.compare", [*argv, "stage=seeds"])
        if role != "launcher":
            return CompareOutcome(parent, None, errors)
        table = _conclude(spec, client, {a: job.finish() for a, job in arms.items()}, start)
        table.trial_seconds = sum(float(t.user_attrs.get("seconds", 0) or 0)
                                  for job in [*searches.values(), *arms.values()]
                                  for t in job.study.get_trials(deepcopy=False))
    except BaseException:
        if role == "launcher":
            client.set_terminated(parent, "KILLED")
        raise
    _log(client, parent, table, docs)
    client.set_terminated(parent, "FINISHED")
    return CompareOutcome(parent, table, errors)


def _conclude(spec: CompareSpec, client: mlflow.MlflowClient, results: dict, start: float) -> Table:
    """Ensembles, tests and costs of every architecture, in this process."""
    cfg = compose_config([*spec.recipe, *spec.architectures[next(iter(results))].overrides])
    task_kind = kind_of_config(cfg)
    metric = spec.test_metric or task_kind.primary
    tracking_uri = cfg.logger.tracking_uri
    contenders: list[Contender] = []
    for arch, result in results.items():
        if result.missing:
            raise ZooError(f"{arch}: seeds {result.missing} have no finished run (see their failures in MLflow run "
                           f"{result.parent_run_id}); rerun the same command to retry them")
        c = contender(arch, spec.architectures[arch].lstm, result, metric)
        if task_kind.ensembles:
            runs = [client.get_run(r.run_id) for r in result.runs]
            _, c.ensemble, c.correct = score_ensemble(client, runs, tracking_uri)
        contenders.append(c)
    for c in contenders:  # one after another in this process: the same machine, threads and load
        print(f"[{spec.name}] measuring the cost of {c.arch}", flush=True)
        c.cost = measure(client, c.result, tracking_uri, spec.cost)
    direction = task_kind.direction
    reference = pick_reference(contenders, Direction.of(spec.shared["objective"]["direction"]))
    found = verdicts(contenders, reference, metric, direction, spec.alpha)
    return Table(spec, metric, direction, contenders, reference, {v.arch: v for v in found},
                 task_verdict(contenders, reference, found, metric, direction), time.time() - start)


def _log(client: mlflow.MlflowClient, parent: str, table: Table, docs: Path | None) -> None:
    """The report on the parent run (metrics, markdown, plot, table) and, with `docs`, in the page."""
    metrics = {}
    for c in table.contenders:
        key = f"{c.arch}/{table.metric.replace('/', '_')}"
        metrics.update({f"{key}_mean": c.test.mean, f"{key}_std": c.test.std})
        if c.cost:
            metrics[f"{c.arch}/params"] = c.cost.params
            metrics[f"{c.arch}/latency_ms_p50"] = c.cost.latency_ms[table.spec.cost["lengths"][0]]["p50"]
    client.log_batch(parent, metrics=[mlflow.entities.Metric(k, float(v), int(time.time() * 1000), 0)
                                      for k, v in metrics.items()])
    client.set_tag(parent, "compare.verdict", table.verdict[:5000])
    client.set_tag(parent, "compare.reference", table.reference.arch)
    with tempfile.TemporaryDirectory() as tmp:
        image = plot(table, Path(tmp) / f"lstm-or-not_{table.spec.name}.png")
        client.log_artifact(parent, str(image))
        client.log_text(parent, markdown(table, image.name), "summary.md")
        rows = [{"architecture": c.arch, "test_mean": c.test.mean, "test_std": c.test.std, "val_mean": c.val.mean,
                 "ensemble": (c.ensemble or {}).get(table.metric), **(vars(c.cost) if c.cost else {})}
                for c in table.contenders]
        client.log_text(parent, json.dumps(rows, indent=1, default=str), "table.json")
    if docs is not None:
        image = plot(table, docs.with_name(f"{docs.stem}_{table.spec.name}.png"))  # beside its page, named by it
        write_sections(docs, HEADER, {table.spec.name: markdown(table, image.name)})
        print(f"wrote {docs} and {image}", flush=True)
    print(f"\n{table.spec.name}: {table.verdict}", flush=True)
