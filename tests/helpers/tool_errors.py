"""What every entry-point test checks about a user mistake: exit status 2 and one `error:` line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

# every console script and the module of its `main`; all but zoo-train (a Hydra app) are click tools
SCRIPTS = {"zoo-train": "train", "zoo-sweep": "sweep", "zoo-study": "study", "zoo-benchmark": "benchmark",
           "zoo-predict": "predict", "zoo-generate": "generate", "zoo-register": "register", "zoo-promote": "promote",
           "zoo-reproduce": "reproduce", "zoo-zoo": "model_zoo", "zoo-throughput": "throughput", "zoo-serve": "serve",
           "zoo-compare": "compare", "zoo-explain": "explain.cli", "zoo-spark-score": "spark_score",
           "zoo-export": "export"}
CLICK_TOOLS = [module for module in SCRIPTS.values() if module != "train"]


def one_error_line(main: Callable[[list[str]], object], argv: list[str],
                   capsys: pytest.CaptureFixture[str]) -> str:
    """Run `main(argv)`, assert it exits with status 2 printing one `error: ...` line, return that line."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def model_error_line(main: Callable[[list[str]], object], model: str, tracking_uri: str, argv: list[str],
                     capsys: pytest.CaptureFixture[str]) -> str:
    """`one_error_line` for a tool reading a model from a store: `argv` is run with `model=<model>`
    in front, unless it names a model itself (the mistake under test), and the store's URI."""
    named = argv if argv[0].startswith("model=") else [f"model={model}", *argv]
    return one_error_line(main, [*named, f"tracking_uri={tracking_uri}"], capsys)
