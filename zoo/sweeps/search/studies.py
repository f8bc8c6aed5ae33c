"""A search's Optuna study: created from its spec once, resumed on every rerun, refused when
the spec changed what makes its trials comparable; and its sampler and pruner."""

from __future__ import annotations

import hashlib
import json

import optuna

from zoo.errors import ConfigError
from zoo.sweeps.orchestration.storage import masked, name_metrics
from zoo.sweeps.search.factories import build
from zoo.sweeps.search.spec import SweepSpec


def make_sampler(spec: SweepSpec, offset: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler; `offset` shifts the seed so resumed or parallel workers do not
    replay the trials already sampled."""
    return build(spec.sampler, "sampler", seed_offset=offset)


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """The spec's pruner; none for a multi-objective study (Optuna prunes single-objective ones only)."""
    if spec.multi_objective:
        return optuna.pruners.NopPruner()
    return build(spec.pruner, "pruner")


def load_study(spec: SweepSpec, storage: optuna.storages.BaseStorage, offset: int = 0) -> optuna.Study:
    """Create the study, or load it when it exists (the rerun of a command resumes it)."""
    study = optuna.create_study(
        study_name=spec.study_name,
        storage=storage,
        directions=spec.directions,
        pruner=make_pruner(spec),
        load_if_exists=True,
    )
    if [d.name.lower() for d in study.directions] != spec.directions:
        raise ConfigError(
            f"study {spec.study_name!r} exists with directions {[d.name.lower() for d in study.directions]}, "
            f"but the spec asks for {spec.directions}; use another study_name"
        )
    existing = len(study.get_trials(deepcopy=False))
    fingerprint = spec_fingerprint(spec)
    recorded = study.user_attrs.get("spec_fingerprint")
    if recorded is None:
        study.set_user_attr("spec_fingerprint", fingerprint)
    elif recorded != fingerprint and existing:
        raise ConfigError(
            f"study {spec.study_name!r} was run with another recipe, search space or objectives, so its "
            f"trials cannot be compared with this spec's; set study_name=<new name> (or delete the study)"
        )
    name_metrics(study, [o.metric for o in spec.objectives])
    if existing == 0 and offset == 0:  # a new study starts from the spec's known-good points
        for params in spec.enqueue:
            study.enqueue_trial(params, skip_if_exists=True)
    study.sampler = make_sampler(spec, offset + existing)
    return study


def existing_study(spec: SweepSpec, storage: optuna.storages.BaseStorage, url: str, advice: str) -> optuna.Study:
    """The spec's study as it stands, for reading (reports): never created or changed, and
    refused, ending in `advice`, when it is missing or was run with other directions, recipe,
    search space or objectives than the spec's (its trials would be mislabelled)."""
    try:
        study = optuna.load_study(study_name=spec.study_name, storage=storage,
                                  sampler=optuna.samplers.RandomSampler(seed=0))
    except KeyError:
        raise ConfigError(f"no study {spec.study_name!r} (sweep {spec.name}) in the Optuna storage "
                          f"{masked(url)}; {advice}") from None
    directions = [d.name.lower() for d in study.directions]
    recorded = study.user_attrs.get("spec_fingerprint")
    if directions != spec.directions or (recorded is not None and recorded != spec_fingerprint(spec)):
        raise ConfigError(f"study {spec.study_name!r} was run with another recipe, search space, objectives or "
                          f"directions than sweeps/{spec.name}.yaml has now, so its trials cannot be read with "
                          "this spec; restore the spec, or give the spec a new study_name and rerun it")
    return study


def spec_fingerprint(spec: SweepSpec) -> str:
    """What makes trials comparable: recipe, search space, objectives (not budget or sampler)."""
    content = {"recipe": spec.recipe, "objectives": [vars(o) for o in spec.objectives],
               "space": {k: {f: (list(v) if isinstance(v, tuple) else v) for f, v in vars(p).items()}
                         for k, p in spec.search_space.items()}}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]
