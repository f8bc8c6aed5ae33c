"""The MLflow pyfunc of a zoo model: raw text in, labels with probabilities (classifiers)
or generated text (language models) out. Loading needs the installed `zoo` package only."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel, PythonModelContext

from zoo.errors import ZooError
from zoo.registry.bundle import build_network, load_bundle

GENERATION_PARAMS: dict[str, Any] = {"max_new_tokens": 200, "temperature": 1.0, "top_k": 0, "seed": 0}


class ModelInputError(MlflowException, ZooError):
    """Bad input to a zoo model: our CLIs print it as one line, and `mlflow models serve`
    answers HTTP 400 with this message instead of a stack trace."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


def texts_from(model_input: Any) -> list[str]:
    """Accept a DataFrame with a `text` column, a Series, a list of strings or one string."""
    if isinstance(model_input, pd.DataFrame):
        if "text" in model_input.columns:
            values = model_input["text"].tolist()
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
    """Tokenizer + LSTM network from a weights-only bundle (artifact `bundle`)."""

    def load_context(self, context: PythonModelContext) -> None:
        self.bundle = load_bundle(context.artifacts["bundle"])
        self.network, self.tokenizer = build_network(self.bundle)
        self.task = self.bundle["task"]
        self.class_names = list(self.bundle["hparams"].get("class_names") or [])
        self.max_length = self.bundle.get("max_length")

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        """`pd.DataFrame` is the one hint MLflow infers no schema from, so the logged signature
        (a string column `text`) stays in charge of what reaches this method."""
        texts = texts_from(model_input)
        if self.task == "classifier":
            return self.classify(texts)
        return self.generate(texts, {**GENERATION_PARAMS, **(params or {})})

    @torch.no_grad()
    def classify(self, texts: list[str]) -> pd.DataFrame:
        unk = self.tokenizer.token_to_id("[UNK]")
        ids = [enc.ids[: self.max_length] or [unk] for enc in self.tokenizer.encode_batch(texts)]
        lengths = torch.tensor([len(x) for x in ids])
        tokens = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
        for row, x in enumerate(ids):
            tokens[row, : len(x)] = torch.tensor(x)
        probs = torch.softmax(self.network(tokens, lengths), dim=-1)
        labels = probs.argmax(dim=-1).tolist()
        return pd.DataFrame({
            "label": labels,
            "label_name": [self.class_names[i] for i in labels],
            "probabilities": [[round(p, 6) for p in row] for row in probs.tolist()],
        })

    def generate(self, prompts: list[str], params: dict[str, Any]) -> pd.DataFrame:
        max_new, temperature = int(params["max_new_tokens"]), float(params["temperature"])
        top_k = int(params["top_k"]) or None
        if max_new < 1 or temperature < 0 or top_k is not None and top_k < 0:
            raise ModelInputError(f"max_new_tokens must be >= 1, temperature >= 0 and top_k >= 0 (0: no cut-off); "
                                  f"got {max_new}, {temperature}, {params['top_k']}")
        out = []
        for prompt in prompts:
            ids = self.tokenizer.encode(prompt).ids
            if not ids:
                raise ModelInputError("a prompt must contain at least one character")
            generator = torch.Generator().manual_seed(int(params["seed"]))
            new = self.network.generate(ids, max_new, temperature, top_k, generator)
            out.append(self.tokenizer.decode(new))
        return pd.DataFrame({"text": prompts, "generated": out})
