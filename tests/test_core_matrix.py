"""Every registered encoder (recurrent core or baseline), on every task it serves, goes the
whole way a recipe goes: trains (`debug=smoke`), registers, answers over HTTP from `mlflow
models serve`, and reproduces its test metric to 4 decimals. 14 cores x 3 tasks and 3
baselines x 2-3 tasks with a server each: `make test-slow`
(`make test` trains every core on every task in tests/test_gated_lstm.py and
tests/test_cores.py, and serves and reproduces `lstm` in tests/test_servers.py and
tests/test_registry.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers.runs import smoke_run
from helpers.servers import invoke, serving

from zoo.models.encoders import all_encoders
from zoo.registry.loading import load_registered
from zoo.registry.reproduction import reproduce
from zoo.registry.versions import register_run
from zoo.training.core_speed import core_overrides

HIDDEN = 16
TASKS = {  # task -> (request text, params the pyfunc takes, the column every answer has)
    "sentiment": ("a gripping film", None, "label_name"),
    "classification": ("What is the capital of France ?", None, "label_name"),
    "generation": ("ROMEO:", {"max_new_tokens": 8, "seed": 3}, "generated"),
}


CASES = [(name, task) for name, encoder in sorted(all_encoders().items()) for task in sorted(TASKS)
         if encoder.generates or task != "generation"]


@pytest.mark.slow
@pytest.mark.parametrize(("core", "task"), CASES)
def test_every_encoder_trains_registers_serves_and_reproduces(core: str, task: str, base_overrides, tmp_path,
                                                              this_machine) -> None:
    model = ["debug=smoke", *core_overrides(core, HIDDEN), f"model.hidden_size={HIDDEN}", "model.embedding_dim=8"]
    run_id, tracking_uri = smoke_run(task, base_overrides, tmp_path, *model)
    entry = register_run(run_id, tracking_uri)
    uri = f"models:/{entry.name}/{entry.version}"
    text, params, column = TASKS[task]
    local = load_registered(uri, tracking_uri).predict(pd.DataFrame({"text": [text]}), params=params)
    with serving(uri, tracking_uri) as url:
        served = invoke(url, {"dataframe_records": [{"text": text}], **({"params": params} if params else {})})[0]
    assert served[column] == local[column][0] and served[column]  # the server answers as the model does
    outcome = reproduce(uri, tracking_uri)
    assert f"{outcome.difference:.4f}" in ("0.0000", "-0.0000"), (core, task, outcome)
