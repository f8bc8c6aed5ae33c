"""Tags that make a run traceable: code version, data fingerprints, packages, seed, host."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess

import torch

from zoo.paths import PROJECT_ROOT
from zoo.tracking.orphans import process_tags

PACKAGES = ("torch", "lightning", "mlflow", "optuna", "datasets", "tokenizers", "hydra-core", "zoo")


def git_commit() -> tuple[str, bool]:
    """(commit sha or 'unknown', whether the working tree has uncommitted changes)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
        return sha, bool(dirty)
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_tags(seed: int, data_fingerprints: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """All tags for a training run (MLflow's own `mlflow.source.git.commit` included)."""
    sha, dirty = git_commit()
    tags = {
        "mlflow.source.git.commit": sha,
        "git.commit": sha,
        "git.dirty": str(dirty).lower(),
        "seed": str(seed),
        "torch.threads": str(torch.get_num_threads()),  # CPU results can differ across thread counts
        **process_tags(),  # host and pid: a run its process left RUNNING can be found and closed
        "platform": platform.platform(),
    }
    tags.update({f"version.{k}": v for k, v in package_versions().items()})
    tags.update({f"data.sha256.{name}": digest for name, digest in data_fingerprints.items()})
    tags.update(extra or {})
    return tags
