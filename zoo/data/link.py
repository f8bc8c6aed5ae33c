"""`python -m zoo.data.link` (`make data`): put the benchmark datasets into ZOO_DATA_DIR.

Offline, the datasets live read-only in ZOO_SHARED_DATA (default ../shared/data beside the
repo); they are linked, never copied. With a network, `data.source=hub` loads a dataset
from the Hugging Face hub instead and needs no files here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from zoo.paths import PROJECT_ROOT

DATASETS = ("sst2", "trec", "tinyshakespeare")


def link_datasets(shared: Path, data_dir: Path) -> list[str]:
    """Symlink each dataset folder of `shared` into `data_dir`; return what was missing."""
    data_dir.mkdir(parents=True, exist_ok=True)
    missing = []
    for name in DATASETS:
        target = data_dir / name
        if target.exists():
            continue
        if (shared / name).is_dir():
            target.symlink_to((shared / name).resolve(), target_is_directory=True)
        else:
            missing.append(name)
    return missing


def main() -> int:
    shared = Path(os.environ.get("ZOO_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    data_dir = Path(os.environ.get("ZOO_DATA_DIR", PROJECT_ROOT / "data"))
    missing = link_datasets(shared, data_dir)
    for name in DATASETS:
        if name not in missing:
            print(f"  {name:<16} {(data_dir / name).resolve()}")
    if missing:
        print(
            f"error: {missing} not found in {shared} (set ZOO_SHARED_DATA to a folder holding "
            f"them), or train from the hub with data.source=hub",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
