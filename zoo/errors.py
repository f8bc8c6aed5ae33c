"""User-facing errors: each says what is wrong and how to fix it.

Entry points catch `ZooError` and print its message without a traceback, because these
are mistakes in the user's input, not bugs in lstm-zoo.
"""


class ZooError(Exception):
    """Base class for errors caused by user input (config, data, hyperparameters)."""


class ConfigError(ZooError, ValueError):
    """An invalid config value or an incompatible combination of options (a ValueError too,
    so code that validates plain values, e.g. `pool(..., "median")`, raises the usual type)."""


class DataError(ZooError):
    """A missing, malformed or inconsistent data file."""


class TrainingError(ZooError):
    """Training could not go on (non-finite loss, ...)."""


class InputError(ZooError):
    """Bad input to a trained model (an empty prompt, an out-of-range generation option)."""


REFUSED = {  # MLflow's error codes for what a team server's basic-auth app refuses
    "UNAUTHENTICATED": "the tracking server {uri} wants a login ({detail}): export MLFLOW_TRACKING_USERNAME and "
                       "MLFLOW_TRACKING_PASSWORD for your account on it (its admin creates accounts; "
                       "docs/team-deployment.md)",
    "PERMISSION_DENIED": "the tracking server {uri} refused {detail} to user {user!r}: ask its admin for EDIT on "
                         "the experiment (to log runs) or on the registered model (to register versions or move "
                         "its aliases); docs/team-deployment.md",
}


def access_refused(err: BaseException) -> str | None:
    """One line for a request the tracking server's authentication refused (401/403), or None
    for any other error. Duck-typed on MLflow's `error_code`, so the entry points need not import mlflow."""
    import os
    import re

    template = REFUSED.get(str(getattr(err, "error_code", "")))
    if template is None:
        return None
    endpoint = re.search(r"endpoint (\S+)", str(err))
    detail = endpoint.group(1) if endpoint else str(err).splitlines()[0][:120]
    return template.format(uri=os.environ.get("MLFLOW_TRACKING_URI", "(MLFLOW_TRACKING_URI)"), detail=detail,
                           user=os.environ.get("MLFLOW_TRACKING_USERNAME", ""))
