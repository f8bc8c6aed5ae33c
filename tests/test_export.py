"""`zoo-export format=onnx`: a registered classifier becomes `<name>-onnx`, the same text-in
pyfunc scored by ONNX Runtime, with the torch network's predictions; cores that do not
export, language models and exports of exports are refused in one line, registering nothing."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from helpers.runs import smoke_run
from helpers.tool_errors import model_error_line, one_error_line

from zoo.errors import ZooError
from zoo.export import main
from zoo.models import EncoderSpec
from zoo.registry.onnx_export import PARITY_TOLERANCE, check_parity, export_network, random_rows
from zoo.tasks import kind

SIZES = ("debug=smoke", "model.hidden_size=8", "model.embedding_dim=8")
TEXTS = ["a gripping , funny and moving film", "dull", "the plot is thin but the acting is superb and never dull",
         "unseenword", "it 's a bad , bad movie ."]


@pytest.fixture(scope="module")
def registered(base_overrides, tmp_path_factory) -> tuple[str, str]:
    """A registered two-layer LSTM sentiment classifier (smoke-sized): its URI and store."""
    from zoo.registry.versions import register_run

    run_id, uri = smoke_run("sentiment", base_overrides, tmp_path_factory.mktemp("export"), *SIZES,
                            "model.num_layers=2")
    entry = register_run(run_id, uri)
    return f"models:/{entry.name}/{entry.version}", uri


def test_an_export_predicts_what_its_source_predicts_with_onnx_runtime(registered, tmp_path, capsys) -> None:
    from zoo.registry.loading import load_registered
    from zoo.registry.onnx_runtime import OnnxNetwork

    model, uri = registered
    graph = tmp_path / "network.onnx"
    assert main([f"model={model}", "format=onnx", f"out={graph}", f"tracking_uri={uri}"]) == 0
    printed = capsys.readouterr().out
    assert f"exported {model} to models:/sst2-sentiment-onnx/1 (ONNX Runtime" in printed and "challenger" in printed
    assert graph.stat().st_size > 1000
    torch_model = load_registered(model, uri)
    onnx_model = load_registered("models:/sst2-sentiment-onnx@challenger", uri)
    assert isinstance(onnx_model.unwrap_python_model().model.runtime, OnnxNetwork)
    texts = pd.DataFrame({"text": TEXTS * 60})  # 300 texts: several length-sorted chunks
    expected, got = torch_model.predict(texts), onnx_model.predict(texts)
    assert got["label_name"].tolist() == expected["label_name"].tolist()
    np.testing.assert_allclose(np.array(got["probabilities"].tolist()), np.array(expected["probabilities"].tolist()),
                               atol=2e-6)
    # the bundle's torch network still answers explain=true
    explained = onnx_model.predict(pd.DataFrame({"text": ["dull film"]}), params={"explain": True, "n_steps": 4})
    assert [token for token, _ in explained["attributions"][0]] == ["dull", "film"]
    tags = mlflow.MlflowClient(uri).get_model_version("sst2-sentiment-onnx", "1").tags
    assert tags["format"] == "onnx" and tags["source_model"] == "sst2-sentiment" and tags["source_version"] == "1"
    assert float(tags["onnx_parity"]) <= PARITY_TOLERANCE and tags["encoder"] == "lstm"
    assert not any(key.startswith("zoo.") for key in tags)  # the leaderboard finds a recipe's versions by these


def test_an_export_pins_onnx_runtime_and_exporting_again_gives_the_same_version(registered, capsys) -> None:
    from importlib.metadata import version

    model, uri = registered
    assert main([f"model={model}", f"tracking_uri={uri}"]) == 0
    assert "models:/sst2-sentiment-onnx/1" in capsys.readouterr().out
    assert main([f"model={model}", f"tracking_uri={uri}"]) == 0
    assert f"already exported {model} to models:/sst2-sentiment-onnx/1" in capsys.readouterr().out
    client = mlflow.MlflowClient(uri)
    assert [str(v.version) for v in client.search_model_versions("name='sst2-sentiment-onnx'")] == ["1"]
    requirements = Path(mlflow.artifacts.download_artifacts("models:/sst2-sentiment-onnx/1/requirements.txt",
                                                            tracking_uri=uri)).read_text()
    assert f"onnxruntime=={version('onnxruntime')}" in requirements.splitlines()


def test_an_export_of_an_export_is_one_line(registered, capsys) -> None:
    model, uri = registered
    main([f"model={model}", f"tracking_uri={uri}"])
    capsys.readouterr()
    err = one_error_line(main, ["model=models:/sst2-sentiment-onnx/1", f"tracking_uri={uri}"], capsys)
    assert "is already an ONNX export (of models:/sst2-sentiment/1); export the torch version" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["model=sst2"], "must look like models:/<name>@<alias>"),
    (["model=models:/nope/1"], "no registered model 'nope'"),
    (["format=tflite"], "invalid format= value"),
])
def test_bad_input_is_one_line(registered, argv: list[str], message: str, capsys) -> None:
    assert message in model_error_line(main, *registered, argv, capsys)


@pytest.mark.parametrize(("task", "core", "message"), [
    ("sentiment", "nog", "model.encoder=nog does not export to ONNX (its forward runs Python that depends on each "
                         "batch's lengths"),
    ("generation", "lstm", "is a language model: format=onnx exports classifiers"),
])
def test_what_cannot_be_exported_is_one_line_and_registers_nothing(base_overrides, tmp_path, task: str, core: str,
                                                                     message: str, capsys) -> None:
    from zoo.registry.versions import register_run

    run_id, uri = smoke_run(task, base_overrides, tmp_path, *SIZES, f"model={core}")
    entry = register_run(run_id, uri)
    capsys.readouterr()  # what training and registering printed
    assert message in one_error_line(main, [f"model=models:/{entry.name}/{entry.version}", f"tracking_uri={uri}"],
                                     capsys)
    assert [m.name for m in mlflow.MlflowClient(uri).search_registered_models()] == [entry.name]


def _network(encoder: str, seed: int = 0, **options) -> torch.nn.Module:
    model = {"encoder": encoder, "num_layers": 2, "hidden_size": 8, "embedding_dim": 6, **options}
    torch.manual_seed(seed)
    pooling = {"cnn": "max", "bow": "mean", "transformer": "mean"}.get(encoder, "last")
    return kind("classifier").network(EncoderSpec.from_config(model), {
        "model": model, "vocab_size": 30, "num_classes": 3, "pad_id": 0, "pooling": pooling}).eval()


@pytest.mark.parametrize(("encoder", "options"), [
    ("lstm", {"bidirectional": True}), ("gru", {}), ("cnn", {"kernel_sizes": [2, 3], "num_layers": 1}), ("bow", {}),
    ("transformer", {"num_heads": 2, "context": 64, "positions": "learned"}),
])
def test_the_other_exportable_encoders_keep_their_logits_on_every_length(encoder: str, options: dict,
                                                                         tmp_path) -> None:
    network = _network(encoder, **options)
    graph = export_network(network, tmp_path / "n.onnx", 0, encoder)
    assert check_parity(network, graph, vocab_size=30, pad_id=0, max_length=40, encoder=encoder) <= PARITY_TOLERANCE


def test_an_export_that_computes_other_logits_is_refused(tmp_path) -> None:
    """The parity check is what stands between a wrong graph and the registry."""
    graph = export_network(_network("lstm"), tmp_path / "n.onnx", 0, "lstm")
    with pytest.raises(ZooError, match=r"exported to ONNX computes other logits than torch \(max \|difference\| "):
        check_parity(_network("lstm", seed=1), graph, vocab_size=30, pad_id=0, max_length=20, encoder="lstm")


def test_parity_rows_cover_every_length_and_never_pad() -> None:
    rows = random_rows(vocab_size=30, pad_id=0, longest=50, count=200)
    assert {len(r) for r in rows} == set(range(1, 51)) and len(rows) == 200
    assert all(0 < token < 30 for row in rows for token in row)


def test_an_export_whose_source_alias_moved_on_says_how_to_follow_it(registered, caplog) -> None:
    """Aliases are copied at export: after the source's alias moves, loading the export by it
    notes that it is stale and names the command that follows it."""
    from zoo.registry.loading import check_registered

    model, uri = registered
    main([f"model={model}", f"tracking_uri={uri}"])
    client = mlflow.MlflowClient(uri)
    def notes() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "zoo.registry.loading"]

    with caplog.at_level("WARNING", logger="zoo.registry.loading"):
        check_registered("models:/sst2-sentiment-onnx@challenger", uri)
        assert not notes()  # the export is current
        client.delete_registered_model_alias("sst2-sentiment", "challenger")
        try:
            check_registered("models:/sst2-sentiment-onnx@challenger", uri)
        finally:
            client.set_registered_model_alias("sst2-sentiment", "challenger", "1")
    assert notes() == [
        "note: models:/sst2-sentiment-onnx@challenger is the export of sst2-sentiment v1, but "
        "sst2-sentiment@challenger names no version now; to follow it: zoo-export "
        "model=models:/sst2-sentiment@challenger"]
