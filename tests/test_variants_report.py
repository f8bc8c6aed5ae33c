"""The variant-study report (zoo/sweeps/variants.py, `python -m zoo.study`) on synthetic
studies: no training, no network. One core is clearly worse than the reference, the others
the same, and the learning rate is the parameter that matters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import optuna
import pytest
from helpers.tool_errors import one_error_line
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from zoo.errors import ConfigError
from zoo.study import main
from zoo.sweeps.search.spec import parse_sweep_spec
from zoo.sweeps.sections import write_sections
from zoo.sweeps.variants.analysis import CoreStats, compare
from zoo.sweeps.variants.findings import paper_findings
from zoo.sweeps.variants.render import HEADER, plot_path, section_markdown, write_report
from zoo.sweeps.variants.report import analyse

LR = "task.module.optimizer.lr"
CORES = ["peephole", "np", "nfg", "cifg"]
SPEC_YAML = {
    "description": "toy variant study",
    "recipe": ["task=classification"],
    "objectives": [{"metric": "val/acc", "direction": "maximize"}],
    "search_space": {"model": {"type": "categorical", "choices": CORES},
                     "model.num_layers": {"type": "int", "low": 1, "high": 2},
                     "model.hidden_size": {"type": "int", "low": 16, "high": 256, "log": True},
                     LR: {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True}},
    "sampler": {"name": "random", "seed": 0}, "pruner": "none", "n_trials": 48,
}
SPEC = parse_sweep_spec("variants_toy", OmegaConf.create(SPEC_YAML))
DISTRIBUTIONS = {"model": CategoricalDistribution(CORES), "model.num_layers": IntDistribution(1, 2),
                 "model.hidden_size": IntDistribution(16, 256, log=True), LR: FloatDistribution(1e-4, 1e-2, log=True)}
PER_CORE = 12
LRS = [float(10 ** e) for e in np.linspace(-4, -2, PER_CORE)]  # the same grid for every core


def values_of(core: str) -> list[float]:
    """Accuracy falls off steeply away from lr = 1e-3, whatever the core; nfg loses 0.2 on
    top; np and cifg equal peephole up to small noise. Every core sees the same 12 learning
    rates (a balanced design), so 'the same as the reference' is not left to chance."""
    rng = np.random.default_rng(CORES.index(core))
    return [float(0.9 - 0.5 * abs(np.log10(lr) + 3) - (0.2 if core == "nfg" else 0.0) + rng.normal(0, 0.002))
            for lr in LRS]


def fill(study: optuna.Study, cores: list[str] = CORES, per_core: int = PER_CORE) -> optuna.Study:
    rng = np.random.default_rng(0)
    for core in cores:
        for i, value in enumerate(values_of(core)[:per_core]):
            params = {"model": core, "model.num_layers": int(rng.integers(1, 3)),
                      "model.hidden_size": int(rng.integers(16, 257)), LR: LRS[i]}
            study.add_trial(optuna.trial.create_trial(params=params, distributions=DISTRIBUTIONS, value=value,
                                                      user_attrs={"epochs": 3, "seconds": 10.0}))
    return study


def new_study(storage: str | None = None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name=SPEC.study_name, storage=storage, direction="maximize")


@pytest.fixture(scope="module")
def report():
    return analyse(fill(new_study()), SPEC)


def test_per_core_statistics_and_ranking(report) -> None:
    by_core = {s.core: s for s in report.cores}
    assert set(by_core) == set(CORES) and all(s.n == PER_CORE for s in report.cores)
    ref = by_core["peephole"]
    expected = values_of("peephole")
    assert ref.median == pytest.approx(float(np.median(expected)))
    assert (ref.q1, ref.q3) == (pytest.approx(float(np.percentile(expected, 25))),
                                pytest.approx(float(np.percentile(expected, 75))))
    assert max(ref.values) == pytest.approx(max(expected))
    assert report.cores[-1].core == "nfg"  # ranked by median, best first
    assert [s.median for s in report.cores] == sorted((s.median for s in report.cores), reverse=True)
    assert report.epochs == 3 * len(CORES) * PER_CORE


def test_welch_calls_against_the_reference(report) -> None:
    nfg, np_, cifg = report.tests["nfg"], report.tests["np"], report.tests["cifg"]
    assert "peephole" not in report.tests and report.compared == 3
    assert nfg.significant and nfg.better is False and nfg.call == "significantly worse"
    assert nfg.difference == pytest.approx(-0.2, abs=0.01)
    assert nfg.p_adjusted == pytest.approx(min(1.0, 3 * nfg.p_value))  # Bonferroni over 3 cores
    assert not np_.significant and np_.call == "no significant difference" and np_.p_value > 0.5
    assert not cifg.significant


def test_the_parameter_that_matters_ranks_first(report) -> None:
    assert set(report.importances) == {"fANOVA", "PED-ANOVA"}
    for name, ranking in report.importances.items():
        assert next(iter(ranking)) == LR, (name, ranking)
        assert "model" in ranking  # the core itself is a parameter


def test_findings_are_decided_from_the_numbers(report) -> None:
    verdicts = {f.claim.split(" (")[0]: f.verdict for f in report.findings}
    assert verdicts["No variant is significantly better than vanilla LSTM"] == "agree"
    assert verdicts["Removing the forget gate"] == "agree"
    assert verdicts["Removing peepholes"] == "agree"
    assert verdicts["Coupling input and forget gate"] == "agree"
    assert verdicts["Removing the output activation"] == "not tested"  # noaf is not a choice here
    assert verdicts["The learning rate is the most important hyperparameter"] == "agree"


def test_harm_not_shown_is_inconclusive_and_a_better_variant_disagrees() -> None:
    ref = [0.80, 0.82, 0.78, 0.81, 0.79, 0.83, 0.77, 0.80, 0.82, 0.78, 0.81, 0.79]
    noaf = [v - 0.003 for v in reversed(ref)]  # a hair worse: no test at n=12 can tell
    nig = [v + 0.10 for v in ref]  # clearly better than vanilla
    tests, m = compare([CoreStats("peephole", tuple(ref)), CoreStats("noaf", tuple(noaf)),
                        CoreStats("nig", tuple(nig))], "peephole", maximize=True)
    assert m == 2 and tests["nig"].significant and tests["nig"].better
    findings = {f.claim.split(" (")[0]: f for f in paper_findings(tests, "peephole", {}, SPEC)}
    assert findings["Removing the output activation"].verdict == "inconclusive at n=12"
    assert findings["Removing the input gate"].verdict == "disagree"
    assert findings["No variant is significantly better than vanilla LSTM"].verdict == "disagree"
    assert "`nig` significantly better" in findings["No variant is significantly better than vanilla LSTM"].ours
    assert findings["The learning rate is the most important hyperparameter"].verdict == "inconclusive"


def test_lower_is_better_for_a_loss() -> None:
    ref = (1.50, 1.52, 1.48, 1.51, 1.49, 1.50)
    worse = tuple(v + 0.3 for v in ref)
    tests, _ = compare([CoreStats("peephole", ref), CoreStats("nfg", worse)], "peephole", maximize=False)
    assert tests["nfg"].significant and tests["nfg"].better is False


def test_few_trials_skip_importances_with_a_note() -> None:
    small = analyse(fill(new_study(), cores=["peephole", "nfg"], per_core=3), SPEC)
    assert small.importances == {}
    assert any("importances skipped: 6 complete trials" in n for n in small.notes)
    assert "importances skipped" in section_markdown(small, None)


def test_refusals() -> None:
    with pytest.raises(ConfigError, match="no complete trials yet; run `make study`"):
        analyse(new_study(), SPEC)
    with pytest.raises(ConfigError, match="reference core 'lstm' is not among"):
        analyse(fill(new_study()), SPEC, reference="lstm")
    no_cores = dataclasses.replace(SPEC, search_space={k: v for k, v in SPEC.search_space.items() if k != "model"})
    with pytest.raises(ConfigError, match="no `model` categorical"):
        analyse(fill(new_study()), no_cores)


def test_markdown_and_plot(report, tmp_path: Path) -> None:
    out = tmp_path / "docs" / "variants.md"
    written = write_report([report], out)
    assert written.plots == [tmp_path / "docs" / "variants_toy.png"] == [plot_path(out, SPEC)]
    assert written.plots[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = out.read_text()
    assert text.startswith("# Which LSTM? The variant study")
    assert "## `variants_toy` (study `variants_toy`)" in text
    assert f"| nfg | 12 | {report.tests['nfg'].difference:+.4f} |" in text and "significantly worse |" in text
    assert "| np | 12 |" in text and "no significant difference |" in text
    assert f"| `{LR}` | " in text and "| parameter | fANOVA | PED-ANOVA |" in text
    assert "| Removing the forget gate (NFG) hurts significantly | `nfg` significantly worse" in text
    assert "![variants_toy: val/acc per core](variants_toy.png)" in text


def test_a_study_section_is_replaced_and_the_others_kept(tmp_path: Path) -> None:
    out = tmp_path / "variants.md"
    write_sections(out, HEADER, {"variants_trec": "## trec v1\n"})
    write_sections(out, HEADER, {"variants_sst2": "## sst2\n"})
    write_sections(out, HEADER, {"variants_trec": "## trec v2\n"})
    text = out.read_text()
    assert "## trec v2" in text and "## sst2" in text and "trec v1" not in text
    assert text.index("trec v2") < text.index("sst2") and text.count("# Which LSTM?") == 1


# the command line


@pytest.fixture
def sweeps_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """sweeps/variants_toy.yaml in a folder of its own, its study in a SQLite file there."""
    folder = tmp_path / "sweeps"
    folder.mkdir()
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    (folder / "variants_toy.yaml").write_text(OmegaConf.to_yaml({**SPEC_YAML, "storage": storage}))
    monkeypatch.setattr("zoo.sweeps.search.spec.SWEEPS_DIR", folder)
    monkeypatch.delenv("ZOO_OPTUNA_STORAGE", raising=False)
    return tmp_path


def test_cli_writes_the_report(sweeps_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(new_study(f"sqlite:///{sweeps_dir / 'optuna.db'}"))
    out = sweeps_dir / "docs" / "variants.md"
    assert main(["sweeps=variants_toy", f"out={out}"]) == 0
    assert "| nfg | 12 |" in out.read_text() and (sweeps_dir / "docs" / "variants_toy.png").is_file()
    assert "variants_toy: 48 complete trials over 4 cores" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["sweeps=no_such_sweep"], "unknown sweep 'no_such_sweep'"),
    (["sweeps=classification_trec"], "sweep classification_trec: its search space has no `model` categorical"),
    ([], "missing sweeps="),
])
def test_cli_bad_input_is_one_error_line(argv: list[str], message: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert message in one_error_line(main, [*argv, f"out={tmp_path / 'v.md'}"], capsys)
    assert not (tmp_path / "v.md").exists()


def test_cli_before_the_sweep_ran(sweeps_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = f"out={sweeps_dir / 'v.md'}"
    assert "no Optuna storage at" in one_error_line(main, ["sweeps=variants_toy", out], capsys)
    assert not (sweeps_dir / "optuna.db").exists()  # a report creates no storage
    optuna.create_study(study_name="another", storage=f"sqlite:///{sweeps_dir / 'optuna.db'}")
    assert "no study 'variants_toy' (sweep variants_toy) in the Optuna storage" in one_error_line(
        main, ["sweeps=variants_toy", out], capsys)
    new_study(f"sqlite:///{sweeps_dir / 'optuna.db'}")
    line = one_error_line(main, ["sweeps=variants_toy", out], capsys)
    assert "has no complete trials yet; run `make study` (or `make sweep SWEEP=variants_toy`) first" in line
    assert not (sweeps_dir / "v.md").exists()


def test_cli_refuses_a_study_run_with_another_spec(sweeps_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = fill(new_study(f"sqlite:///{sweeps_dir / 'optuna.db'}"))
    study.set_user_attr("spec_fingerprint", "0123456789abcdef")
    line = one_error_line(main, ["sweeps=variants_toy", f"out={sweeps_dir / 'v.md'}"], capsys)
    assert "was run with another recipe, search space" in line
