"""One way to call every tool: `--help` names the options, `key=value` and `--key value` are the
same command line, a user mistake is one `error:` line with exit status 2, and every tool is a
console script."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import entry_points

import click
import pytest
from helpers.tool_errors import CLICK_TOOLS, SCRIPTS, one_error_line

from zoo.cli import Switch, ZooCommand, overrides_argument
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT


def test_every_tool_is_a_console_script() -> None:
    installed = {ep.name: ep.value for ep in entry_points(group="console_scripts") if ep.value.startswith("zoo.")}
    assert installed == {script: f"zoo.{module}:main" for script, module in SCRIPTS.items()}


@pytest.mark.parametrize("module", CLICK_TOOLS)
def test_help_names_every_option(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(f"zoo.{module}").main
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: {main.name} [OPTIONS]")
    visible = [p for p in main.params if isinstance(p, click.Option) and not p.hidden]
    assert visible and all(p.opts[0] in out for p in visible)
    assert "key=value" in out


def test_train_help_is_hydras() -> None:
    result = subprocess.run([sys.executable, "-m", "zoo.train", "--help"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-1500:]
    assert "== Configuration groups ==" in result.stdout and "task: classification" in result.stdout


def test_import_zoo_registers_the_resolver_without_hydra() -> None:
    code = ("import sys, zoo; from omegaconf import OmegaConf; "
            "assert OmegaConf.has_resolver('zoo_root'); assert 'hydra' not in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


seen: list[dict] = []


@click.command("zoo-demo", cls=ZooCommand)
@click.option("--model", required=True, help="A model.")
@click.option("--tracking-uri", metavar="URI", help="A store.")
@click.option("--top-k", type=int, default=0, help="A number.")
@click.option("--promote", type=Switch(), default="true", help="A switch.")
def demo(**values: object) -> int:
    if values["model"] == "broken":
        raise ZooError("model broken is broken")
    seen.append(values)
    return 0


@click.command("zoo-demo-overrides", cls=ZooCommand)
@click.option("--seeds", default="5", help="Seeds.")
@overrides_argument
def demo_overrides(**values: object) -> int:
    seen.append(values)
    return 0


def _run(command: click.Command, *argv: str) -> dict:
    seen.clear()
    assert command(list(argv)) == 0
    return seen[-1]


def test_key_value_and_dashed_options_are_the_same_command_line() -> None:
    typed = _run(demo, "model=m", "tracking_uri=sqlite:///x.db", "top_k=3", "promote=false")
    dashed = _run(demo, "--model", "m", "--tracking-uri=sqlite:///x.db", "--top-k", "3", "--promote", "FALSE")
    assert typed == dashed == {"model": "m", "tracking_uri": "sqlite:///x.db", "top_k": 3, "promote": False}
    assert _run(demo, "--model", "a=b")["model"] == "a=b"  # an option's value may hold `=`


def test_tokens_that_are_not_options_go_to_the_overrides() -> None:
    values = _run(demo_overrides, "seeds=[0,7]", "trainer.max_epochs=1", "--seeds", "3", "model=bilstm")
    assert values == {"seeds": "3", "overrides": ("trainer.max_epochs=1", "model=bilstm")}


@pytest.mark.parametrize(("argv", "message"), [
    (["model=m", "recipe=x"], "unexpected argument 'recipe=x'; options: model=<TEXT>; tracking_uri=<URI>; top_k="),
    (["model=m", "stray"], "unexpected argument 'stray'; options: model="),
    (["top_k=3"], "missing model=<TEXT> (or --model)"),
    (["model=m", "top_k=three"], "invalid top_k= value: 'three' is not a valid integer"),
    (["model=m", "promote=maybe"], "promote='maybe': use promote=true or promote=false"),
    (["model=m", "--bogus"], "No such option '--bogus'"),
    (["model=broken"], "model broken is broken"),
])
def test_user_mistakes_are_one_error_line_and_status_2(argv: list[str], message: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert one_error_line(demo, argv, capsys).startswith(f"error: {message}")


def test_completion_script_is_named_after_the_tool(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("_ZOO_DEMO_COMPLETE", "bash_source")
    with pytest.raises(SystemExit) as exit_:
        demo([])
    assert exit_.value.code == 0 and "_ZOO_DEMO_COMPLETE=bash_complete" in capsys.readouterr().out
