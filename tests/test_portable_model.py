"""A registered model is portable: it carries the `zoo` code it runs (`code_paths`) and pins
every distribution that code imports, so it loads and predicts in a fresh virtual environment
holding only its `requirements.txt`, with no checkout and no `zoo` installed."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREDICT = """
import json, sys
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
frame = model.predict(pd.DataFrame({"text": ["a gripping film", "dull and far too long"]}))
import zoo
runtime = type(model.unwrap_python_model().model.runtime).__name__
print(json.dumps({"zoo": zoo.__file__, "runtime": runtime,
                  "prediction": frame.to_json(orient="records", double_precision=15)}))
"""


def _module_level_imports(source: str) -> set[str]:
    """Top-level names of the modules a file imports when it is imported (function bodies,
    which run only when called, left out), absolute imports only."""
    names: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit([n for n in getattr(node, field, []) if isinstance(n, ast.stmt | ast.excepthandler)])

    visit(ast.parse(source).body)
    return names


def test_requirements_name_every_distribution_the_model_code_imports() -> None:
    """In a clean interpreter, load what a model loads; every third-party module any loaded
    `zoo` module imports belongs to a distribution the model pins."""
    from zoo.registry.versions import RUNTIME_PACKAGES, _requirements

    script = ("import json, sys, zoo.registry.pyfunc, zoo.tracking.pyfunc; "
              "print(json.dumps({m: getattr(sys.modules[m], '__file__', None) for m in sys.modules "
              "if m == 'zoo' or m.startswith('zoo.')}))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                       text=True, cwd=ROOT).stdout)
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    imported = set().union(*(_module_level_imports(Path(f).read_text()) for f in loaded.values() if f))
    third_party = sorted(n for n in imported if n not in sys.stdlib_module_names and n not in ("zoo", "__future__"))
    missing = {n: owners.get(n) for n in third_party if not set(owners.get(n, [])) & set(RUNTIME_PACKAGES)}
    assert not missing, f"the model's code imports these, which no pinned distribution provides: {missing}"
    pinned = [r for r in _requirements() if not r.startswith("-")]
    assert sorted(r.split("==")[0] for r in pinned) == sorted(RUNTIME_PACKAGES)
    assert all("==" in r and "+" not in r for r in pinned)


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@pytest.mark.slow
@pytest.mark.parametrize("form", ["torch", "onnx"])
def test_a_registered_model_loads_and_predicts_in_a_fresh_venv(base_overrides, tmp_path, form: str) -> None:
    """Register a smoke model (and for `onnx`, its `zoo-export`), download it, make a fresh
    venv (no system site-packages), install only its requirements.txt, and predict from
    outside the checkout: the same prediction as here, in the same runtime, and `zoo`
    importable only from the model's own code folder."""
    import mlflow
    from test_cores import SMALL, smoke_run

    from zoo.registry.export import export_model
    from zoo.registry.versions import register_run

    run_id, tracking_uri = smoke_run("sentiment", base_overrides, tmp_path, *SMALL)
    entry = register_run(run_id, tracking_uri)
    uri = f"models:/{entry.name}/{entry.version}"
    if form == "onnx":
        exported = export_model(uri, tracking_uri)
        uri = f"models:/{exported.name}/{exported.version}"
    mlflow.set_tracking_uri(tracking_uri)
    model_dir = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model")))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}

    def run(python: Path | str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=outside, env=env,
                              timeout=timeout)

    here = run(sys.executable, "-c", PREDICT, str(model_dir))
    assert here.returncode == 0, here.stderr[-3000:]

    venv = tmp_path / "fresh-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, cwd=outside, env=env, timeout=300)
    python = _venv_python(venv)
    requirements = (model_dir / "requirements.txt").read_text().splitlines()
    # the PyTorch index the torch pin names may be out of reach (here only PyPI is): one try per
    # page instead of pip's 5 retries with back-off, which cost about 8 s for each package
    env["PIP_RETRIES"] = "0"
    probe = next(r for r in requirements if r.startswith("omegaconf=="))
    reach = run(python, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(tmp_path / "probe"), probe)
    if reach.returncode != 0:
        pytest.skip(f"no package index reachable to install the model's requirements ({probe}): "
                    f"{reach.stderr.strip().splitlines()[-1:]}")
    started = time.monotonic()
    install = run(python, "-m", "pip", "install", "--quiet", "-r", str(model_dir / "requirements.txt"),
                  timeout=1800)
    assert install.returncode == 0, f"pip install -r requirements.txt failed:\n{install.stderr[-3000:]}"
    print(f"installed the model's requirements in {time.monotonic() - started:.0f}s")

    no_zoo = run(python, "-c", "import zoo")
    assert no_zoo.returncode != 0 and "No module named 'zoo'" in no_zoo.stderr, "zoo leaks into the fresh venv"
    there = run(python, "-c", PREDICT, str(model_dir))
    assert there.returncode == 0, there.stderr[-3000:]
    fresh = json.loads(there.stdout.strip().splitlines()[-1])
    assert Path(fresh["zoo"]).resolve().is_relative_to((model_dir / "code").resolve()), fresh["zoo"]
    assert fresh["prediction"] == json.loads(here.stdout.strip().splitlines()[-1])["prediction"]
    assert fresh["runtime"] == {"torch": "NoneType", "onnx": "OnnxNetwork"}[form]
