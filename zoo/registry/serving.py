"""The REST app `zoo-serve` runs: MLflow's own scoring server (`mlflow.pyfunc.scoring_server.init`:
the same routes, payloads and answers as `mlflow models serve`) for a registered model, with one
change: a refused request (4xx) is answered with one clear line. MLflow puts the server's
Python traceback in such answers (`stack_trace`, and a message that quotes the whole input);
the fuzzer found them for a CSV body that is JSON, an empty records list and more (issue 22).
The traceback goes to the server's log instead."""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

MODEL_ENV = "ZOO_SERVE_MODEL"  # the registered model's URI, set by zoo-serve for each worker
THREADS_ENV = "ZOO_SERVE_THREADS"  # torch threads per worker, set by zoo-serve (threads=)
BATCHING_ENV = "ZOO_SERVE_BATCHING"  # "0": no batching lane (zoo-serve batching=false)
log = logging.getLogger("zoo.serve")


def one_line(message: str) -> str:
    """MLflow's error message as one line: without the quoted input of 'Failed to predict data
    ...', whitespace runs (and line breaks) as one space."""
    quoted = re.match(r"Failed to predict data .*?\nError: (.*)", message, flags=re.S)
    if quoted:
        message = quoted.group(1)
    return " ".join(message.split())


def refused_body(body: bytes) -> bytes | None:
    """The one-line body for a 4xx JSON answer from MLflow's server, or None to leave it as is."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or "message" not in answer:
        return None
    trace = answer.pop("stack_trace", None)
    if trace:
        log.warning("refused request; MLflow's traceback: %s", trace)
    answer["message"] = one_line(str(answer["message"]))
    return json.dumps(answer).encode()


def create_app() -> Any:
    """uvicorn's app factory (`--factory`): load the model named by ZOO_SERVE_MODEL, serve it;
    a classifier's plain requests through the batching lane (zoo.registry.batching)."""
    import mlflow.pyfunc
    import torch
    from mlflow.pyfunc import scoring_server
    from starlette.requests import Request
    from starlette.responses import Response

    from zoo.registry.batching import BatchingLane

    if os.environ.get(THREADS_ENV):
        torch.set_num_threads(int(os.environ[THREADS_ENV]))
    model = mlflow.pyfunc.load_model(os.environ[MODEL_ENV])
    app = scoring_server.init(model)

    @app.middleware("http")
    async def one_line_refusals(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        if not 400 <= response.status_code < 500:
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])
        replaced = refused_body(body)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(replaced if replaced is not None else body, status_code=response.status_code,
                        headers=headers, media_type=response.media_type)

    # duck-typed: the model runs the `zoo` code it was logged with; a version logged before the
    # lane existed has no `records` and is served by MLflow's app alone
    python_model = model.unwrap_python_model()
    records = getattr(python_model, "records", None)
    if callable(records) and not python_model.kind.generates and os.environ.get(BATCHING_ENV) != "0":
        return BatchingLane(app, records)
    return app
