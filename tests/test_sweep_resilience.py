"""What keeps a multi-worker study whole when workers race or the database goes away for a
while (the faults the chaos soak, `make soak`, injects at scale): budget claims, the storage
outage wait, a heartbeat that outlives a failed beat, and the sweep-up of runs a dead worker
left open."""

from __future__ import annotations

import signal

import mlflow
import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from zoo import interrupts
from zoo.errors import ZooError
from zoo.sweeps.orchestration import loop, storage
from zoo.sweeps.orchestration import objective as objective_module
from zoo.sweeps.orchestration.runs import close_open_children
from zoo.sweeps.orchestration.storage import SURPLUS_ATTR, SurplusTrial, claim_budget, failures, open_storage
from zoo.training.summary import TrainResult


def _outage() -> optuna.exceptions.StorageInternalError:
    """What Optuna raises when PostgreSQL restarts under it: SQLAlchemy's error as the cause."""
    try:
        try:
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        except sqlalchemy.exc.OperationalError as cause:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from cause
    except optuna.exceptions.StorageInternalError as err:
        return err


def test_a_trial_asked_for_after_the_budget_was_taken_is_surplus(tmp_path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/o.db")
    study.add_trial(optuna.trial.create_trial(value=1.0))
    first, second = study.ask(), study.ask()  # two workers both read "one trial left"
    claim_budget(first, n_trials=2)  # the earlier number wins
    with pytest.raises(SurplusTrial, match="surplus"):
        claim_budget(second, n_trials=2)
    study.tell(second, state=TrialState.FAIL)
    assert study.trials[2].user_attrs[SURPLUS_ATTR] is True
    assert failures(study) == 0  # no failure budget counts it


def test_only_trials_that_failed_on_their_own_error_spend_the_failure_budget(tmp_path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/o.db")
    broken = study.ask()
    broken.set_user_attr("fail_reason", "model.hidden_size=0 must be >= 1")  # what the objective records
    study.tell(broken, state=TrialState.FAIL)
    killed = study.ask()  # its worker got SIGKILL; a heartbeat or another process's sweep-up fails it
    killed.set_user_attr("worker", "host:123")
    study.tell(killed, state=TrialState.FAIL)
    assert failures(study) == 1


def test_the_work_loop_waits_for_an_unreachable_storage(capsys) -> None:
    down, calls = [2], []  # the next two storage calls fail, as while PostgreSQL restarts

    def more() -> bool:
        if down[0]:
            down[0] -= 1
            raise _outage()
        return not calls

    class Study:
        _storage = optuna.storages.InMemoryStorage()  # no heartbeats: fail_stale_trials has nothing to do

        def optimize(self, *args, **kwargs):
            calls.append("optimize")

    loop.work(Study(), lambda trial: 0.0, lambda *a: None, more, retry_s=0)
    assert calls == ["optimize"]  # the trial ran once the storage was back
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["the Optuna storage is unreachable (server closed the connection); waiting up to "
                     f"{storage.OUTAGE_S} s for it"]


def test_the_work_loop_gives_up_after_the_outage_limit(monkeypatch) -> None:
    monkeypatch.setattr(loop, "OUTAGE_S", 0)

    def more() -> bool:  # the database stays away
        raise _outage()

    with pytest.raises(ZooError, match="unreachable for 0 s .*rerun the command: the study resumes"):
        loop.work(object(), lambda trial: 0.0, lambda *a: None, more, retry_s=0.01)


def test_a_storage_that_reads_but_cannot_write_stops_the_loop() -> None:
    calls = []

    class Study:  # more() reads fine; every trial's write fails (a full disk on the database)
        def optimize(self, *args, **kwargs):
            calls.append("optimize")
            raise _outage()

    with pytest.raises(ZooError, match="failed 3 trials in a row"):
        loop.work(Study(), lambda trial: 0.0, lambda *a: None, lambda: True, retry_s=0)
    assert len(calls) == loop.MAX_FAILED_WRITES


def test_the_work_loop_does_not_hide_other_errors() -> None:
    class Study:
        def optimize(self, *args, **kwargs):
            raise optuna.exceptions.StorageInternalError("invalid data") from ValueError("too long")

    with pytest.raises(optuna.exceptions.StorageInternalError):
        loop.work(Study(), lambda trial: 0.0, lambda *a: None, lambda: True, retry_s=0)


def test_a_heartbeat_that_cannot_be_written_is_skipped(tmp_path, monkeypatch) -> None:
    beating = open_storage(f"sqlite:///{tmp_path}/o.db")
    study = optuna.create_study(storage=beating)
    trial = study.ask()

    def unreachable(self, trial_id):
        raise _outage()

    monkeypatch.setattr(optuna.storages.RDBStorage, "record_heartbeat", unreachable)
    beating.record_heartbeat(trial._trial_id)  # no exception: the heartbeat thread lives on

    def refused(self, trial_id):
        raise optuna.exceptions.StorageInternalError("invalid data") from ValueError("too long")

    monkeypatch.setattr(optuna.storages.RDBStorage, "record_heartbeat", refused)
    with pytest.raises(optuna.exceptions.StorageInternalError):
        beating.record_heartbeat(trial._trial_id)


def test_child_runs_left_open_are_closed_when_the_study_ends(tmp_path) -> None:
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment("soak")
    parent = client.create_run(experiment).info.run_id
    orphan = client.create_run(experiment, tags={"mlflow.parentRunId": parent}).info.run_id
    done = client.create_run(experiment, tags={"mlflow.parentRunId": parent}).info.run_id
    client.set_terminated(done, "FINISHED")
    assert close_open_children(client, parent) == [orphan]
    assert client.get_run(orphan).info.status == "FAILED"
    assert client.get_run(done).info.status == "FINISHED"


def test_a_signal_after_training_closes_the_run_as_killed(tmp_path, monkeypatch) -> None:
    # training had finished its run (FINISHED) when SIGTERM arrived: the trial fails, so the
    # run must not stay FINISHED (the chaos soak found one such pair)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment("soak")
    parent = client.create_run(experiment).info.run_id

    def trained(cfg, callbacks, extra_tags, run_id):
        client.set_terminated(run_id, "FINISHED")
        return TrainResult(run_id, "soak", client.tracking_uri, "val/acc", 0.5)

    monkeypatch.setattr(objective_module, "run_training", trained)
    monkeypatch.setattr(objective_module, "compose_config", lambda overrides: None)

    class Objective(objective_module.ChildRunObjective):
        def choose(self, trial):
            return objective_module.Point([], f"t{trial.number}")

        def values(self, result):
            return result.best_value

        def keep(self, trial, result):
            raise interrupts.Interrupted(signal.SIGTERM)

    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/o.db")
    with pytest.raises(KeyboardInterrupt):
        study.optimize(Objective(client, experiment, parent, tmp_path), n_trials=1)
    trial = study.trials[0]
    run = client.get_run(trial.user_attrs["mlflow_run_id"])
    assert trial.state == TrialState.FAIL
    assert (run.info.status, run.data.tags["optuna.state"]) == ("KILLED", "FAIL")


def test_a_trial_whose_worker_died_before_naming_itself_is_failed(tmp_path, monkeypatch) -> None:
    # killed between Optuna's ask and its first heartbeat: no `worker` attribute, no heartbeat
    # row, so neither the host check nor Optuna's stale-trial check would ever fail it
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path}/o.db"))
    orphan = study.ask()
    live = study.ask()
    live.set_user_attr("worker", storage.worker_id())  # this process: alive
    assert storage.fail_dead_local_trials(study) == []  # too young to judge
    monkeypatch.setattr(storage, "GRACE_S", -1)
    reaped = storage.fail_dead_local_trials(study)
    assert [t.number for t in reaped] == [orphan.number]
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.RUNNING]


def test_a_dead_trial_another_worker_fails_first_is_left_to_it(tmp_path, monkeypatch) -> None:
    """Two workers start at once and both sweep up the same dead trial: the one whose write
    comes second finds it finished (Optuna's skip_if_finished reads before it writes) and
    goes on instead of crashing (the chaos soak met this)."""
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path}/o.db"))
    study.ask()  # nameless, so dead once GRACE_S has passed
    monkeypatch.setattr(storage, "GRACE_S", -1)

    def raced(*args, **kwargs):
        raise optuna.exceptions.UpdateFinishedTrialError("Trial#0 has already finished and can not be updated.")

    monkeypatch.setattr(study, "tell", raced)
    assert storage.fail_dead_local_trials(study) == []
