"""What must hold after the soak, read back from the Optuna study and the MLflow server: the
budget spent exactly, nothing RUNNING, nothing doubled, every child run closed in the state of
its trial, the summary's best equal to the study's, and one registered version whose champion
alias came from the promotion gate."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import mlflow
import optuna
from optuna.trial import TrialState

# a trial's state -> the statuses its MLflow child run may end in
CLOSED_AS = {TrialState.COMPLETE: {"FINISHED"}, TrialState.PRUNED: {"KILLED"}, TrialState.FAIL: {"FAILED", "KILLED"}}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(storage: str, study_name: str, tracking_uri: str, n_trials: int, launcher_output: str) -> list[Check]:
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state for t in trials)
    finished = states[TrialState.COMPLETE] + states[TrialState.PRUNED]
    checks = [
        Check("budget spent exactly", finished == n_trials,
              f"{finished} finished (complete or pruned) of n_trials={n_trials}"),
        Check("nothing left running", states[TrialState.RUNNING] + states[TrialState.WAITING] == 0,
              f"{states[TrialState.RUNNING]} RUNNING, {states[TrialState.WAITING]} WAITING"),
    ]
    numbers = Counter(t.number for t in trials)
    run_ids = Counter(t.user_attrs["mlflow_run_id"] for t in trials if "mlflow_run_id" in t.user_attrs)
    checks.append(Check("no trial number or child run doubled",
                        max(numbers.values(), default=1) == 1 and max(run_ids.values(), default=1) == 1,
                        f"{len(numbers)} trial numbers, {len(run_ids)} child runs named by trials"))

    client = mlflow.MlflowClient(tracking_uri)
    parent_id = study.user_attrs["mlflow_parent_run_id"]
    parent = client.get_run(parent_id)
    children = {r.info.run_id: r for r in client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'", max_results=5000)}
    orphans = sorted(set(children) - set(run_ids))
    open_runs = [r for r in children.values() if r.info.status in ("RUNNING", "SCHEDULED")]
    mismatched = [f"trial {t.number} {t.state.name} / run {children[t.user_attrs['mlflow_run_id']].info.status}"
                  for t in trials if t.user_attrs.get("mlflow_run_id") in children
                  and children[t.user_attrs["mlflow_run_id"]].info.status not in CLOSED_AS.get(t.state, set())]
    missing = sorted(set(run_ids) - set(children))
    checks.append(Check("every child run closed as its trial", not open_runs and not mismatched and not missing,
                        f"{len(children)} child runs, {len(open_runs)} open, {len(orphans)} without a trial"
                        + (f"; {len(missing)} trial runs missing" if missing else "")
                        + (f"; mismatched: {', '.join(mismatched[:3])}" if mismatched else "")))
    checks.append(Check("child runs without a trial closed", all(
        children[r].info.status not in ("RUNNING", "SCHEDULED") for r in orphans), f"{len(orphans)} such runs"))

    # the best value may be shared (smoke-sized trials tie often): any trial holding it is "the best"
    best_value = study.best_value
    best = [t for t in trials if t.state == TrialState.COMPLETE and t.value == best_value]
    logged = parent.data.metrics.get("sweep/best_value")
    named = parent.data.tags.get("sweep.best_trial")
    checks.append(Check("summary's best is the study's", parent.info.status == "FINISHED" and logged == best_value
                        and named in {str(t.number) for t in best},
                        f"parent {parent.info.status}, sweep/best_value {logged} (trial {named}); study best "
                        f"{best_value} (trials {', '.join(str(t.number) for t in best)})"))

    registered = parent.data.tags.get("sweep.registered", "")
    name = registered.split("/")[1] if registered.count("/") == 2 else ""
    versions = client.search_model_versions(f"name='{name}'") if name else []
    champion = client.get_registered_model(name).aliases.get("champion") if name else None
    promotions = [line for line in launcher_output.splitlines() if line.startswith("promoted ")]
    best_runs = {t.user_attrs.get("mlflow_run_id") for t in best}
    checks.append(Check("champion moved only through the gate",
                        len(versions) == 1 and versions[0].run_id in best_runs and champion == versions[0].version
                        and len(promotions) == 1,
                        f"{len(versions)} version(s) of {name or '-'}, champion v{champion}, "
                        f"{len(promotions)} promotion line(s) from the gate"))
    return checks
