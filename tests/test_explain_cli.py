"""`zoo-explain`: gate saturation of a trained model over its own split, printed, written and
logged on its run; a registered version explained like its run; bad input one line, with
nothing logged."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from helpers.runs import smoke_run
from helpers.tool_errors import model_error_line, one_error_line

from zoo.errors import ZooError
from zoo.explain.cli import main

SIZES = ("debug=smoke", "model.hidden_size=8", "model.embedding_dim=8")


@pytest.fixture(scope="module")
def trained(base_overrides, tmp_path_factory) -> tuple[str, str]:
    """A two-layer BiLSTM sentiment smoke run (both directions, a layer above another)."""
    return smoke_run("sentiment", base_overrides, tmp_path_factory.mktemp("explain"), *SIZES, "model=bilstm",
                     "model.num_layers=2")


def test_a_run_is_explained_and_the_saturation_logged_on_it(trained, this_machine, tmp_path, capsys) -> None:
    run_id, uri = trained
    assert main([f"model={run_id}", "limit=40", "attributions=false", f"out={tmp_path}", "report=true",
                 f"tracking_uri={uri}"]) == 0
    printed = capsys.readouterr().out
    assert "| l1_reverse | f (forget gate) |" in printed and "over the test split of its own dataset" in printed
    assert "over 40 rows (" in (tmp_path / "explain.md").read_text()
    metrics = mlflow.MlflowClient(uri).get_run(run_id).data.metrics
    for layer in ("l0", "l0_reverse", "l1", "l1_reverse"):
        for gate in "ifo":
            assert 0 <= metrics[f"explain/saturation/{layer}/{gate}/right"] <= 1
            assert 0 <= metrics[f"explain/saturation/{layer}/{gate}/left"] <= 1
    logged = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run_id, "explain")}
    assert logged == {"explain/explain.md", "explain/saturation.png"}
    assert (tmp_path / "saturation.png").stat().st_size > 10_000


def test_a_registered_version_is_explained_like_its_run(trained, this_machine, tmp_path, capsys) -> None:
    from zoo.registry.versions import register_run

    run_id, uri = trained
    entry = register_run(run_id, uri)
    assert main([f"model=models:/{entry.name}/{entry.version}", "split=validation", "limit=8", "attributions=false",
                 f"out={tmp_path}", f"tracking_uri={uri}"]) == 0
    assert "| l0 | i (input gate) |" in capsys.readouterr().out
    assert "over 8 rows (" in (tmp_path / "explain.md").read_text()


def test_the_registered_classifier_returns_attributions_when_asked(trained) -> None:
    """params={"explain": true} through mlflow.pyfunc, as REST passes it; off by default."""
    import pandas as pd

    from zoo.registry.loading import load_registered
    from zoo.registry.versions import register_run

    run_id, uri = trained
    entry = register_run(run_id, uri)
    model = load_registered(f"models:/{entry.name}/{entry.version}", uri)
    texts = pd.DataFrame({"text": ["a gripping film", "dull"]})
    assert "attributions" not in model.predict(texts).columns
    frame = model.predict(texts, params={"explain": True, "n_steps": 4})
    assert [[token for token, _ in row] for row in frame["attributions"]] == [["a", "gripping", "film"], ["dull"]]
    assert frame["label"].tolist() == model.predict(texts)["label"].tolist()


@pytest.mark.parametrize(("encoder", "options"), [
    ("cnn", {"kernel_sizes": [2, 3]}), ("transformer", {"num_heads": 2, "context": 16, "positions": "learned"})])
def test_a_model_without_gates_is_refused_before_any_data_is_read(encoder: str, options: dict, tmp_path) -> None:
    """The CLI checks this right after loading the model, before reading data or writing a file."""
    from helpers.toy_classifier import toy_bundle

    from zoo.explain.run import explain
    from zoo.explain.source import Subject
    from zoo.registry.bundle import build_network, load_bundle

    bundle = load_bundle(toy_bundle(tmp_path / "bundle.pt", model={
        "encoder": encoder, "num_layers": 1, "hidden_size": 8, "embedding_dim": 8, **options}, pooling="max"))
    network, tokenizer = build_network(bundle)
    subject = Subject("models:/toy/1", "no-run", "sqlite:///nowhere.db", network, tokenizer, bundle)
    with pytest.raises(ZooError, match=f"models:/toy/1 is a {encoder} .*need a recurrent core .lstm, bilstm, gru.*"
                                       "offers token attributions"):
        explain(subject, tmp_path / "out", split="test", limit=5, gates=True, cells=True, attributions=True,
                concepts=[], rows=2, length=16, n_steps=4, report=False)
    assert not (tmp_path / "out").exists()
    from zoo.explain.traces import write_traces

    with pytest.raises(ZooError, match="need a recurrent core"):
        write_traces(subject, ["a film"], tmp_path / "steps.npz")
    assert not (tmp_path / "steps.npz").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["model=no-such-run"], "is neither models:/<name>/<version> (or @alias) nor a run id"),
    (["model=models:/x"], "must look like models:/<name>@<alias>"),
    (["model=models:/nope/1"], "no registered model 'nope'"),
    (["split=dev"], "invalid split= value"),
])
def test_bad_input_is_one_line(trained, argv: list[str], message: str, capsys) -> None:
    assert message in model_error_line(main, *trained, argv, capsys)


@pytest.fixture(scope="module")
def language_model(base_overrides, tmp_path_factory) -> tuple[str, str]:
    return smoke_run("generation", base_overrides, tmp_path_factory.mktemp("explain_lm"), *SIZES, "model=lstm",
                     "model.num_layers=2")


def test_a_language_models_cells_are_found_scored_against_the_untrained_and_held(
        language_model, this_machine, tmp_path, capsys) -> None:
    run_id, uri = language_model
    assert main([f"model={run_id}", "limit=4", "rows=6", "length=160", f"out={tmp_path}", "report=true",
                 f"tracking_uri={uri}"]) == 0
    printed = capsys.readouterr().out
    assert "| line_position | abs Spearman | l" in printed and "| upper_case_run | ROC AUC | l" in printed
    metrics = mlflow.MlflowClient(uri).get_run(run_id).data.metrics
    assert 0 <= metrics["explain/cells/line_position/held_out"] <= 1
    assert 0 <= metrics["explain/cells/line_position/control"] <= 1
    assert "explain/cells/line_position/loss_change_holds" in metrics
    page = (tmp_path / "cell_line_position.html").read_text()
    assert page.count("<span") > 100 and "untrained" in page and "cell_line_position.png" in page
    assert (tmp_path / "cell_line_position.png").stat().st_size > 10_000  # Karpathy's figure, as a picture
    assert "## Interpretable cells" in (tmp_path / "explain.md").read_text()
    logged = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run_id, "explain")}
    assert {"explain/cell_word_start.html", "explain/cell_word_start.png"} <= logged


def test_a_cell_held_at_zero_is_another_intervention_than_at_its_mean(language_model, this_machine, tmp_path,
                                                                      capsys) -> None:
    run_id, uri = language_model
    changes = {}
    for clamp in ("mean", "zero"):
        assert main([f"model={run_id}", "gates=false", "concepts=line_position", "rows=4", "length=128",
                     f"clamp={clamp}", f"out={tmp_path / clamp}", f"tracking_uri={uri}"]) == 0
        row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| line_position |"))
        changes[clamp] = row.rsplit("|", 2)[1].strip()  # "loss change where it holds / elsewhere"
    assert "then held at zero while the model reads test" in (tmp_path / "zero" / "explain.md").read_text()
    assert changes["mean"] != changes["zero"], changes


def test_an_unknown_concept_is_one_line_before_the_model_loads(language_model, capsys) -> None:
    run_id, uri = language_model
    err = one_error_line(main, [f"model={run_id}", "concepts=line_position,quotes", f"tracking_uri={uri}"], capsys)
    assert "unknown concept 'quotes'; built-in: bracket_depth, in_double_quotes" in err


def test_a_classifiers_attributions_are_faithful_or_not_with_an_interval(trained, this_machine, tmp_path,
                                                                          capsys) -> None:
    run_id, uri = trained
    assert main([f"model={run_id}", "gates=false", "limit=6", "n_steps=8", f"out={tmp_path}", "report=true",
                 f"tracking_uri={uri}"]) == 0
    printed = capsys.readouterr().out
    assert "| integrated_gradients |" in printed and "| random |" in printed and "(95% CI)" in printed
    metrics = mlflow.MlflowClient(uri).get_run(run_id).data.metrics
    for method in ("integrated_gradients", "occlusion", "random"):
        assert f"explain/aopc_comprehensiveness/{method}" in metrics and f"explain/aopc_sufficiency/{method}" in metrics
    low, high = metrics["explain/aopc_margin/occlusion/ci95_low"], metrics["explain/aopc_margin/occlusion/ci95_high"]
    assert low <= metrics["explain/aopc_margin/occlusion"] <= high and metrics["explain/ig_delta_mean"] >= 0
    assert 0 <= metrics["explain/ig_within_tolerance"] <= 1 and metrics["explain/ig_steps_mean"] >= 8
    assert "integrated gradients: 8 steps, doubled for a text until its |delta| < 0.001" in printed
    assert (tmp_path / "attributions.html").read_text().count("<span") > 6


def test_one_text_is_explained_token_by_token(trained, capsys) -> None:
    run_id, uri = trained
    assert main([f"model={run_id}", "text=a gripping , moving film", "n_steps=8", f"tracking_uri={uri}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("predicted: ") and "integrated gradients" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == ["a", "gripping", ",", "moving", "film"]


def test_several_texts_are_explained_and_drawn_on_one_page(trained, tmp_path, capsys) -> None:
    run_id, uri = trained
    page = tmp_path / "pages" / "texts.html"
    assert main([f"model={run_id}", "text=a gripping film", "text=dull , dull , dull", "n_steps=4", f"html={page}",
                 f"tracking_uri={uri}"]) == 0
    blocks = capsys.readouterr().out.split("\n\n")
    assert len(blocks) == 3 and all(b.startswith("predicted: ") for b in blocks[:2])
    assert blocks[2].strip() == f"written to {page}"
    content = page.read_text()
    assert content.count("<p><b>") == 2 and ">gripping</span>" in content and content.count(">dull</span>") == 3


def test_html_without_a_text_is_one_line(trained, capsys) -> None:
    run_id, uri = trained
    err = one_error_line(main, [f"model={run_id}", "html=out.html", f"tracking_uri={uri}"], capsys)
    assert "html= writes the page of the text= explained" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["text=" + "good " * 300], "text= has 300 tokens and "),
    (["text=zzzz qqqq"], "has no token in the model's vocabulary"),
    (["n_steps=1"], "invalid n_steps= value"),
    (["text=a film", "tolerance=2"], "invalid tolerance= value"),
])
def test_bad_text_input_is_one_line(trained, argv: list[str], message: str, capsys) -> None:
    run_id, uri = trained
    assert message in one_error_line(main, [f"model={run_id}", *argv, f"tracking_uri={uri}"], capsys)


def test_a_language_model_has_no_class_attributions(language_model, capsys) -> None:
    run_id, uri = language_model
    err = one_error_line(main, [f"model={run_id}", "attributions=true", f"tracking_uri={uri}"], capsys)
    assert "is a language model: it has no classes to attribute" in err


def test_a_language_models_next_character_is_explained_against_a_foil(language_model, capsys) -> None:
    run_id, uri = language_model
    assert main([f"model={run_id}", "text=ROMEO:\nWhat is", "target= ", "foil=e", f"tracking_uri={uri}"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("next character: ' ' (p=") and "against 'e' (p=" in printed
    assert printed.count("\n  ") == 10  # the ten characters it rests on most
    for argv, message in [(["text=ROMEO§"], "characters the model never saw: ['§']"),
                          (["text=" + "a" * 513], "text= has 513 characters; at most 512"),
                          (["text=ROMEO", "foil=ab"], "foil='ab' must be one character")]:
        assert message in one_error_line(main, [f"model={run_id}", *argv, f"tracking_uri={uri}"], capsys)


def test_a_language_models_attributions_are_drawn_as_a_matrix_per_text(language_model, tmp_path, capsys) -> None:
    run_id, uri = language_model
    page = tmp_path / "lm.html"
    assert main([f"model={run_id}", "text=ROMEO:\nWhat", "text=JULIET:\nAy", "foil=e", f"html={page}",
                 f"tracking_uri={uri}"]) == 0
    assert capsys.readouterr().out.count("next character: ") == 2
    content = page.read_text()
    assert content.count("<img src='lm_") == 2 and "log p(target) - log p(foil)" in content
    assert content.count("<span") == len("ROMEO:\nWhat") + len("JULIET:\nAy")
    for k in (0, 1):
        assert (tmp_path / f"lm_{k}.png").stat().st_size > 5_000


def test_character_attributions_are_causal() -> None:
    """A character can only matter to the characters after it; the matrix says so."""
    import torch
    from tokenizers import Tokenizer, models

    from zoo.explain.characters import attribute_characters
    from zoo.models import EncoderSpec
    from zoo.models.networks import LanguageModelNetwork

    chars = {"[PAD]": 0, "[UNK]": 1, **{c: i + 2 for i, c in enumerate("abc \n")}}
    tokenizer = Tokenizer(models.WordLevel(chars, unk_token="[UNK]"))
    torch.manual_seed(0)
    network = LanguageModelNetwork(EncoderSpec.from_config({"encoder": "lstm", "num_layers": 1, "hidden_size": 8,
                                                            "embedding_dim": 4}), vocab_size=len(chars)).eval()
    result = attribute_characters(network, tokenizer, "abc ab\nca", foil="b")
    assert result.matrix.shape == (8, 9) and (result.matrix[np.triu_indices(8, k=1, m=9)] == 0).all()
    assert abs(result.matrix[0, 0]) > 0 and result.last.shape == (9,) and result.p_foil is not None


def test_another_dataset_is_read_as_the_model_reads_and_logged_beside_its_own(
        trained, this_machine, shared_data, tmp_path, monkeypatch, capsys) -> None:
    """data=mr: MR's labels in the model's class order, its texts through the model's own
    tokenizer; the figures land under explain/on_mr/, not over the model's own."""
    from helpers.mr_data import mr_label_files, sst2_rows

    run_id, uri = trained
    mr_label_files(tmp_path / "data" / "mr", sst2_rows(shared_data, 300))
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # the default folder, explain/<run id>/on_mr
    assert main([f"model={run_id}", "data=mr", "limit=20", "n_steps=4", "tolerance=0", "report=true",
                 f"tracking_uri={uri}"]) == 0
    printed = capsys.readouterr().out
    assert f"over the test split of the mr dataset; written to explain/{run_id}/on_mr/" in printed
    assert "over the test split of the mr dataset" in (tmp_path / f"explain/{run_id}/on_mr/explain.md").read_text()
    client = mlflow.MlflowClient(uri)
    metrics = client.get_run(run_id).data.metrics
    assert 0 <= metrics["explain/on_mr/aopc_comprehensiveness/integrated_gradients"] <= 1
    assert 0 <= metrics["explain/on_mr/saturation/l0/f/right"] <= 1
    assert not any(key.startswith("explain/on_mr/on_mr") for key in metrics)
    logged = {a.path for a in client.list_artifacts(run_id, "explain/on_mr")}
    assert {"explain/on_mr/explain.md", "explain/on_mr/saturation.png", "explain/on_mr/attributions.html"} <= logged


@pytest.mark.parametrize(("data", "message"), [
    ("trec", "dataset trec has label(s) ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM'] the model does not know "
             "(its classes: ['negative', 'positive'])"),
    ("tinyshakespeare", "(a classifier) needs a 'classification' dataset but data=tinyshakespeare is 'text'"),
    ("nope", "Available options in 'data': mr, sst2, tinyshakespeare, trec"),
])
def test_another_dataset_the_model_cannot_read_is_one_line_and_nothing_is_logged(
        trained, this_machine, data: str, message: str, capsys) -> None:
    run_id, uri = trained
    before = mlflow.MlflowClient(uri).get_run(run_id).data.metrics
    assert message in one_error_line(main, [f"model={run_id}", f"data={data}", "report=true", "limit=8",
                                            f"tracking_uri={uri}"], capsys)
    assert mlflow.MlflowClient(uri).get_run(run_id).data.metrics == before


def test_data_with_text_is_one_line(trained, capsys) -> None:
    run_id, uri = trained
    assert "use one" in one_error_line(main, [f"model={run_id}", "data=mr", "text=fine", f"tracking_uri={uri}"],
                                       capsys)


def test_every_step_of_the_texts_is_written_for_any_tool(trained, tmp_path, capsys) -> None:
    """traces=: every part of every layer and direction at every step, as the tracer computes
    it, in a file numpy opens without pickle."""
    import torch

    from zoo.explain.gates import trace_gates
    from zoo.explain.source import load_subject

    run_id, uri = trained
    path = tmp_path / "steps.npz"
    assert main([f"model={run_id}", "text=a gripping film", "text=dull", f"traces={path}", "n_steps=4",
                 f"tracking_uri={uri}"]) == 0
    assert f"written to {path}" in capsys.readouterr().out
    with np.load(path, allow_pickle=False) as saved:
        assert saved["tokens"].tolist() == [["a", "gripping", "film"], ["dull", "", ""]]
        assert saved["mask"].tolist() == [[True, True, True], [True, False, False]]
        names = {f"{layer}/{part}" for layer in ("l0", "l0_reverse", "l1", "l1_reverse") for part in "ifgoch"}
        assert set(saved.files) == names | {"tokens", "mask"}
        assert saved["l1_reverse/c"].shape == (2, 3, 8)
        subject = load_subject(run_id, uri)
        encoder = subject.network.encoder
        ids = torch.tensor([[subject.tokenizer.token_to_id(t) for t in ("a", "gripping", "film")]])
        with torch.inference_mode():
            alone = trace_gates(encoder.rnn, encoder.embedding(ids), torch.tensor([3])).layer(1, "backward")
        np.testing.assert_allclose(saved["l1_reverse/f"][0], alone.parts["f"][0].numpy(), atol=1e-6)


def test_traces_of_a_model_without_gates_or_without_text_are_one_line(trained, tmp_path, capsys) -> None:
    run_id, uri = trained
    err = one_error_line(main, [f"model={run_id}", f"traces={tmp_path / 'x.npz'}", f"tracking_uri={uri}"], capsys)
    assert "traces= writes the steps of the text= explained" in err
    assert not (tmp_path / "x.npz").exists()
