"""The one masking function for credentials: everything that leaves a process (MLflow params,
tags, artifacts, log lines, printed summaries, error messages) goes through `mask` first, so a
password in `MLFLOW_TRACKING_URI` or in an Optuna storage URL is never stored in clear."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

HIDDEN = "***"
# environment variables whose values are credentials (MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_PASSWORD, ...)
SECRET_ENV = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|API_KEY|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)
# scheme://user:password@host -> the password
USERINFO = re.compile(r"(?P<head>[A-Za-z][\w+.-]*://[^:/@\s]*:)(?P<secret>[^@/\s]+)(?=@)")
# ?password=... &token=... -> the value
QUERY = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd|token|access_token|secret|api_key)=)(?P<secret>[^&;#\s]+)",
                   re.IGNORECASE)
MIN_ENV_SECRET = 4  # shorter values (`1`, `true`) would blank out ordinary text


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of token-like environment variables, longest first (so a value inside another is masked whole)."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if SECRET_ENV.search(k) and len(v) >= MIN_ENV_SECRET}
    return sorted(values, key=len, reverse=True)


def mask(text: Any) -> str:
    """`text` as a string with URL passwords, password/token query values and the values of
    token-like environment variables replaced by ***."""
    out = USERINFO.sub(lambda m: m["head"] + HIDDEN, str(text))
    out = QUERY.sub(lambda m: m["head"] + HIDDEN, out)
    for value in env_secrets():
        out = out.replace(value, HIDDEN)
    return out


def masked_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with every string masked (MLflow params and tags); numbers and flags kept as they are."""
    return {key: mask(value) if isinstance(value, str) else value for key, value in values.items()}


def quiet_run_links(tracking_uri: str) -> None:
    """MLflow prints "View run ... at: <tracking URI>" when a run ends, password included; with a
    credential in the URI, turn those lines off (MLflow's own switch)."""
    if mask(tracking_uri) != tracking_uri:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
