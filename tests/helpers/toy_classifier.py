"""A small untrained classifier, as a bundle file and as `zoo-predict` loads it, for the tests of
batch prediction: built in a second, with no training run and no MLflow store."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from zoo.registry.bundle import FORMAT
from zoo.registry.pyfunc import ZooTextModel
from zoo.tasks import TextClassifier

WORDS = [f"w{i}" for i in range(40)]
MODEL = {"encoder": "lstm", "num_layers": 1, "hidden_size": 16, "embedding_dim": 8}


def toy_texts(count: int, longest: int, seed: int = 0) -> list[str]:
    """`count` texts of 1 to `longest` words in a shuffled order (some unknown to the vocabulary)."""
    rng = random.Random(seed)
    texts = [" ".join(rng.choice([*WORDS, "unseen"]) for _ in range(1 + i % longest)) for i in range(count)]
    rng.shuffle(texts)
    return texts


def toy_bundle(path: Path, max_length: int | None = 12, seed: int = 0, model: dict | None = None,
               pooling: str = "last") -> Path:
    """A three-class classifier bundle with random weights, saved to `path`."""
    vocab = {"[PAD]": 0, "[UNK]": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    torch.manual_seed(seed)
    module = TextClassifier(model=dict(model or MODEL), vocab_size=len(vocab), num_classes=3, pad_id=0,
                            class_names=["neg", "mixed", "pos"], pooling=pooling)
    torch.save({"format": FORMAT, "task": "classifier",
                "hparams": {k: v for k, v in module.hparams.items() if k != "monitor"},
                "state_dict": module.network.state_dict(), "tokenizer_json": tokenizer.to_str(),
                "max_length": max_length}, path)
    return path


def toy_text_model(path: Path) -> ZooTextModel:
    """The registered pyfunc's Python model, loaded from a toy bundle as MLflow loads it."""
    model = ZooTextModel()
    model.load_context(SimpleNamespace(artifacts={"bundle": str(path)}))
    return model


class Loaded:
    """What `load_registered` returns, as far as `zoo-predict` uses it; counts the texts per call."""

    def __init__(self, model: ZooTextModel) -> None:
        self.model = model
        self.metadata = SimpleNamespace(get_params_schema=lambda: None)  # a classifier takes no params
        self.calls: list[int] = []

    def predict(self, frame: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        self.calls.append(len(frame))
        return self.model.predict(None, frame, params)
