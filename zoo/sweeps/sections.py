"""Study reports as sections of one markdown page (`docs/variants.md`, `docs/lstm-or-not.md`):
reporting one study rewrites its own section and keeps the others."""

from __future__ import annotations

import re
from pathlib import Path

MARKER = re.compile(r"<!-- study:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /study:(?P=name) -->\n?", re.S)


def write_sections(path: Path, header: str, sections: dict[str, str]) -> Path:
    """Put each study's section into `path` under `header`, replacing that study's earlier
    section and keeping the others, in the order they were first written."""
    existing: dict[str, str] = {}
    if path.is_file():
        existing = {m["name"]: m["body"] for m in MARKER.finditer(path.read_text())}
    existing.update(sections)
    body = "\n".join(f"<!-- study:{name} -->\n{text}<!-- /study:{name} -->\n" for name, text in existing.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + body)
    return path
