"""Batch prediction with bounded memory (issue 23): classification scores length-sorted chunks and
answers in the input order as if each text were scored alone; `zoo-predict` streams a file a
block at a time to JSON lines or CSV."""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers.toy_classifier import Loaded, toy_bundle, toy_text_model, toy_texts

from zoo import predict, textio
from zoo.tasks import inference
from zoo.tasks.inference import TRUNCATION_LOG, classify

ROUNDING = 1e-6 + 1e-12  # one step of the 6-place rounding (and float slack): a value may round either way


class NonSeekable(io.BytesIO):
    """A pipe, as far as zoo-predict can tell: read once, never rewound."""

    def seekable(self) -> bool:
        return False


@pytest.fixture
def toy(tmp_path: Path) -> Loaded:
    return Loaded(toy_text_model(toy_bundle(tmp_path / "bundle.pt", max_length=12)))


def test_chunks_of_sorted_texts_score_as_each_text_alone(toy: Loaded, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(inference, "CHUNK_TEXTS", 8)
    monkeypatch.setattr(inference, "BLOCK_TEXTS", 32)
    model = toy.model.model
    calls: list[tuple[int, int, int]] = []  # (texts, padded tokens, real tokens) per network call
    network = model.network
    forward = network.forward

    def recording(tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        calls.append((len(tokens), tokens.numel(), int(lengths.sum())))
        return forward(tokens, lengths)

    monkeypatch.setattr(network, "forward", recording)
    texts = toy_texts(100, longest=30)
    with caplog.at_level(logging.INFO, logger=TRUNCATION_LOG):
        chunked = classify(model, texts, {})
    assert max(c[0] for c in calls) <= 8 and sum(c[0] for c in calls) == 100
    assert sum(c[1] for c in calls) <= 1.25 * sum(c[2] for c in calls)  # sorted: little padding (unsorted ~1.7x)
    assert sum(r.truncated for r in caplog.records) == sum(len(t.split()) > 12 for t in texts) > 0

    alone = [classify(model, [t], {}) for t in texts]
    assert chunked["label"] == [a["label"][0] for a in alone]
    assert chunked["label_name"] == [a["label_name"][0] for a in alone]
    for got, one in zip(chunked["probabilities"], alone, strict=True):
        assert got == pytest.approx(one["probabilities"][0], abs=ROUNDING)
        assert got == [round(p, 6) for p in got]


def test_predict_streams_a_file_in_blocks_to_json_lines_and_csv(toy: Loaded, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(textio, "BLOCK_LINES", 7)
    monkeypatch.setattr(predict, "load_registered", lambda uri, tracking_uri=None: toy)
    texts = toy_texts(30, longest=20, seed=1)
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts[:10]) + "\n\n   \n" + "\r\n".join(texts[10:]) + "\n", encoding="utf-8")
    expected = [{"text": t, **{k: v[i] for k, v in classify(toy.model.model, texts, {}).items()}}
                for i, t in enumerate(texts)]

    assert predict.main(["model=models:/toy/1", f"file={source}"]) == 0
    out = capsys.readouterr()
    assert [json.loads(line) for line in out.out.splitlines()] == expected
    assert toy.calls == [7, 7, 7, 7, 2]  # one block in memory at a time, never the whole file
    cut = sum(len(t.split()) > 12 for t in texts)
    assert out.err == f"note: {cut} text(s) longer than the model's max_length=12 tokens were truncated to it\n"

    table = tmp_path / "out" / "labels.csv"
    table.parent.mkdir()
    assert predict.main(["model=models:/toy/1", f"file={source}", f"output={table}", "format=csv"]) == 0
    assert capsys.readouterr().out == ""
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert list(rows[0]) == ["text", "label", "label_name", "probabilities"]
    assert [{**r, "label": int(r["label"]), "probabilities": json.loads(r["probabilities"])} for r in rows] == expected
    assert [p.name for p in table.parent.iterdir()] == ["labels.csv"]  # no temporary file left beside it


def test_predict_streams_stdin(toy: Loaded, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(textio, "BLOCK_LINES", 4)
    monkeypatch.setattr(predict, "load_registered", lambda uri, tracking_uri=None: toy)
    texts = toy_texts(10, longest=5, seed=2)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(NonSeekable("\n".join(texts).encode()), encoding="utf-8"))
    assert predict.main(["model=models:/toy/1", "file=-"]) == 0
    out = capsys.readouterr()
    assert [json.loads(line)["text"] for line in out.out.splitlines()] == texts
    assert toy.calls == [4, 4, 2] and out.err == ""  # no progress bar when stderr is not a terminal


def test_a_bundle_registered_when_gates_was_called_seed_still_serves(tmp_path: Path) -> None:
    """Bundles store the core's name: one saved as `seed` (the name before `gates`) loads and
    answers as the same weights under the new name."""
    gates = toy_bundle(tmp_path / "gates.pt", model={"encoder": "gates", "hidden_size": 16, "embedding_dim": 8})
    old = torch.load(gates, weights_only=True)
    old["hparams"]["model"]["variant"] = "seed"  # both names as such a bundle stored them
    del old["hparams"]["model"]["encoder"]
    torch.save(old, tmp_path / "seed.pt")
    texts = toy_texts(20, 6)
    frame = pd.DataFrame({"text": texts})
    assert toy_text_model(tmp_path / "seed.pt").predict(None, frame).equals(
        toy_text_model(gates).predict(None, frame))


def test_explaining_is_bounded_per_call_and_in_steps(tmp_path) -> None:
    """explain=true costs n_steps passes per text: at most 64 texts a call, n_steps in [2, 200]."""
    from zoo.registry.pyfunc import ModelInputError

    model = toy_text_model(toy_bundle(tmp_path / "bundle.pt"))
    frame = model.predict(None, pd.DataFrame({"text": ["w1 w2", "w3"]}), {"explain": True, "n_steps": 4})
    assert [len(row) for row in frame["attributions"]] == [2, 1]
    for params, message in [({"explain": True, "n_steps": 1}, "n_steps=1 must be a whole number in"),
                            ({"explain": True}, "at most 64 texts per call")]:
        texts = ["w1"] * (65 if "64" in message else 1)
        with pytest.raises(ModelInputError, match=message):
            model.predict(None, pd.DataFrame({"text": texts}), params)
