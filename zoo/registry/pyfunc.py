"""The MLflow pyfunc of a zoo model: raw text in, what the bundle's task kind predicts out
(labels with probabilities for classifiers, generated text for language models). A model
logs the `zoo` package as its code (`code_paths`) and pins what that code imports, so it
loads in an environment with only its `requirements.txt` installed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel, PythonModelContext

from zoo.errors import InputError
from zoo.registry.bundle import build_network, load_bundle
from zoo.tasks import kind
from zoo.tasks.inference import GENERATION_PARAMS, Inference

__all__ = ["GENERATION_PARAMS", "ModelInputError", "ZooTextModel", "texts_from"]


class ModelInputError(MlflowException, InputError):
    """Bad input to a zoo model: our CLIs print it as one line, and `mlflow models serve`
    answers HTTP 400 with this message instead of a stack trace."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


def texts_from(model_input: Any) -> list[str]:
    """Accept a DataFrame with a `text` column, a Series, a list of strings or one string."""
    if isinstance(model_input, pd.DataFrame):
        if "text" in model_input.columns:
            values = model_input["text"].tolist()
            if len(values) == 1 and isinstance(values[0], list | tuple | np.ndarray):
                values = list(values[0])  # MLflow makes {"text": ["a", "b"]} one row holding the list
        elif len(model_input.columns) == 1:  # a list of strings, after MLflow's schema step
            values = model_input.iloc[:, 0].tolist()
        else:
            raise ModelInputError(f"input needs a 'text' column; got columns {list(model_input.columns)}")
    elif isinstance(model_input, pd.Series):
        values = model_input.tolist()
    elif isinstance(model_input, str):
        values = [model_input]
    elif isinstance(model_input, list | tuple):
        values = list(model_input)
    else:
        raise ModelInputError(
            f"input must be a DataFrame with a 'text' column or a list of strings, not {type(model_input).__name__}"
        )
    if not values:
        raise ModelInputError("input is empty: give at least one text")
    bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
    if bad:
        kind = type(values[bad[0]]).__name__
        raise ModelInputError(f"input rows {bad[:5]} are not strings (got {kind}); every text must be a string")
    blank = [i for i, v in enumerate(values) if not v.strip()]
    if blank:
        raise ModelInputError(f"input rows {blank[:5]} are empty or blank; every text needs at least one character")
    return values


class ZooTextModel(PythonModel):
    """Tokenizer + LSTM network from a weights-only bundle (artifact `bundle`); the bundle's
    task kind turns texts into output columns. A model exported by `zoo-export format=onnx`
    also has artifact `onnx`: its network's graph, which then scores (ONNX Runtime), while the
    bundle's torch network still answers explain=true."""

    def load_context(self, context: PythonModelContext) -> None:
        self.bundle = load_bundle(context.artifacts["bundle"])
        network, tokenizer = build_network(self.bundle)
        self.kind = kind(self.bundle["task"])
        runtime = None
        if "onnx" in context.artifacts:
            from zoo.registry.onnx_runtime import OnnxNetwork

            runtime = OnnxNetwork(context.artifacts["onnx"])
        self.model = Inference(network, tokenizer, self.bundle["hparams"], self.bundle.get("max_length"), runtime)

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        """`pd.DataFrame` is the one hint MLflow infers no schema from, so the logged signature
        (a string column `text`) stays in charge of what reaches this method."""
        return pd.DataFrame(self.columns(texts_from(model_input), params))

    def columns(self, texts: list[str], params: dict[str, Any] | None = None) -> dict[str, list]:
        """The output columns for checked texts: what `predict` returns, without the DataFrames."""
        try:
            return self.kind.predict(self.model, texts, {**(self.kind.params or {}), **(params or {})})
        except InputError as err:  # served as HTTP 400, not a stack trace
            raise ModelInputError(str(err)) from None

    def records(self, texts: list[str]) -> list[dict[str, Any]]:
        """One record per text with the default params: what the server's batching lane sends."""
        columns = self.columns(texts)
        return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
