"""What a finished search hands to the model zoo: its best trial as the `challenger` version
(promoted only through the gate), or, with confirmation, the winner proven over seeds."""

from __future__ import annotations

import mlflow
import optuna
from omegaconf import DictConfig

from zoo.registry.gate import promote, stats_tags
from zoo.registry.versions import has_checkpoint, register_run
from zoo.sweeps.search.confirmation import confirm, log_confirmation
from zoo.sweeps.search.objective import TrialObjective
from zoo.sweeps.search.report import ranked
from zoo.sweeps.search.spec import SweepSpec
from zoo.tasks import kind_of_config


def register_best(study: optuna.Study, spec: SweepSpec, client: mlflow.MlflowClient, tracking_uri: str,
                  parent: str, objective: TrialObjective) -> None:
    """The best trial becomes the `challenger` version, and champion only if it is better.
    A trial whose checkpoint was not kept is retrained on its parameters first."""
    best = ranked(study, spec)
    if not best or "mlflow_run_id" not in best[0].user_attrs:
        return
    run_id = best[0].user_attrs["mlflow_run_id"]
    if not has_checkpoint(client, run_id):
        print(f"best trial {best[0].number} kept no checkpoint (keep_checkpoints: false): retraining it to "
              "register it", flush=True)
        run_id, value = objective.retrain(best[0])
        print(f"retrained run {run_id}: {spec.objectives[0].metric} {value} (the trial had {best[0].value})",
              flush=True)
    entry = register_run(run_id, tracking_uri, alias="challenger", sweep_run_id=parent)
    client.set_tag(parent, "sweep.registered", f"models:/{entry.name}/{entry.version}")
    print(f"best trial {best[0].number} registered as {entry.name} v{entry.version} (challenger)", flush=True)
    print(promote(entry.name, entry.version, tracking_uri), flush=True)


def confirm_and_register(study: optuna.Study, spec: SweepSpec, client: mlflow.MlflowClient, cfg: DictConfig,
                         parent: str, storage: optuna.storages.BaseStorage, summary: str) -> None:
    """Prove the winner over seeds, register its seed-0 run with the seed statistics, and
    promote it only if it beats the default recipe on test (then the champion, on means)."""
    result = confirm(study, spec, storage, parent, kind_of_config(cfg))
    if result is None:
        return
    log_confirmation(client, parent, result, summary, spec.objectives[0].metric)
    print(f"confirmation: {result.verdict()}", flush=True)
    tracking_uri = cfg.logger.tracking_uri
    tags = {**stats_tags(result.winner.summaries, result.winner.parent_run_id),
            "zoo.sweep_trial": str(result.winner_trial)}
    entry = register_run(result.winner.first_run().run_id, tracking_uri, alias="challenger", sweep_run_id=parent,
                         extra_tags=tags)
    client.set_tag(parent, "sweep.registered", f"models:/{entry.name}/{entry.version}")
    print(f"winner (trial {result.winner_trial}, seed {result.winner.first_run().point['seed']}) registered as "
          f"{entry.name} v{entry.version} (challenger)", flush=True)
    if result.proven:
        print(promote(entry.name, entry.version, tracking_uri), flush=True)
    else:
        print(f"not promoted: the sweep did not prove its winner better than the default recipe "
              f"(alpha {spec.confirm.alpha}); more trials, seeds or a longer budget may", flush=True)
