"""A tiny MR-like dataset built from SST-2 sentences: MR (Pang & Lee) is not in ../shared/data,
so tests that read `data=mr` write its two label files themselves."""

from __future__ import annotations

from pathlib import Path


def sst2_rows(shared_data: Path, count: int) -> list[tuple[str, str]]:
    """The first `count` distinct SST-2 train sentences with their labels."""
    rows: dict[str, str] = {}
    with open(shared_data / "sst2" / "train.tsv") as handle:
        next(handle)
        for line in handle:
            label, text = line.rstrip("\n").split("\t")
            rows.setdefault(text, "positive" if label == "1" else "negative")
            if len(rows) == count:
                break
    return list(rows.items())


def mr_label_files(root: Path, rows: list[tuple[str, str]]) -> Path:
    """rt-polarity.pos/.neg in latin-1; the first positive line carries an accent."""
    root.mkdir(parents=True, exist_ok=True)
    for label, suffix in (("positive", "pos"), ("negative", "neg")):
        lines = [text for text, lab in rows if lab == label]
        if label == "positive":
            lines[0] = "café " + lines[0]
        (root / f"rt-polarity.{suffix}").write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    return root
