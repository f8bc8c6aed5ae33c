"""`python -m zoo.data.link` (`make data`): put the datasets that `conf/data/*.yaml` name into
ZOO_DATA_DIR, from the shared data folder, with no list of datasets in Python.

Offline, the datasets live read-only in ZOO_SHARED_DATA (default ../shared/data beside the
repo); each dataset YAML whose local files are in `${paths.data_dir}/<folder>` gets that
folder linked, never copied, when the shared folder holds it. A dataset the shared folder
does not hold (MR: its files are downloaded by hand) is listed with what to do. With a
network, `data.source=hub` loads a dataset from the Hugging Face hub and needs no files here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from zoo.paths import CONF_DIR, PROJECT_ROOT

DATA_DIR_REF = "${paths.data_dir}/"


def dataset_folders(conf_dir: Path = CONF_DIR) -> dict[str, str]:
    """Dataset name -> the folder of ZOO_DATA_DIR its local files are read from."""
    folders = {}
    for path in sorted((conf_dir / "data").glob("*.yaml")):
        local = (yaml.safe_load(path.read_text()) or {}).get("local") or {}
        where = str(local.get("dir", "")) if isinstance(local, dict) else ""
        if where.startswith(DATA_DIR_REF):
            folders[path.stem] = where.removeprefix(DATA_DIR_REF).split("/")[0]
    return folders


def link_datasets(shared: Path, data_dir: Path, folders: dict[str, str]) -> tuple[list[str], list[str]]:
    """Symlink each folder the shared data holds into `data_dir`; return (ready, missing) names."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ready, missing = [], []
    for name, folder in folders.items():
        target = data_dir / folder
        if not target.exists() and (shared / folder).is_dir():
            target.symlink_to((shared / folder).resolve(), target_is_directory=True)
        (ready if target.exists() else missing).append(name)
    return ready, missing


def main() -> int:
    shared = Path(os.environ.get("ZOO_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    data_dir = Path(os.environ.get("ZOO_DATA_DIR", PROJECT_ROOT / "data"))
    folders = dataset_folders()
    ready, missing = link_datasets(shared, data_dir, folders)
    for name in ready:
        print(f"  {name:<16} {(data_dir / folders[name]).resolve()}")
    for name in missing:
        print(f"  {name:<16} not in {shared}: put its files in {data_dir / folders[name]} (see conf/data/{name}.yaml), "
              "or train from the hub with data.source=hub")
    if not ready:
        print(f"error: none of {sorted(folders)} is in {shared} (set ZOO_SHARED_DATA to a folder holding them), or "
              "train from the hub with data.source=hub", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
