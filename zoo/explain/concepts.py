"""Concepts: per-character labels computed from text, one function each, that a cell may
track (Karpathy et al. 2015 found cells for quotes and line length by eye; here they are
found and scored). A concept is binary (in quotes or not: scored by ROC AUC) or graded
(characters since the newline: scored by |Spearman|).

Built-ins are registered below. Another is a function `str -> list[float]` (one value per
character) named on the command line as `concepts=package.module:function`; decorate it with
`concept(graded=True)` when its values are graded, or register it with the decorator under a
name of its own from any module that is imported first."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zoo.errors import ZooError

Labels = Callable[[str], Sequence[float]]


@dataclass(frozen=True)
class Concept:
    name: str
    graded: bool
    labels: Labels
    description: str = ""


_CONCEPTS: dict[str, Concept] = {}


def concept(name: str | None = None, graded: bool = False) -> Callable[[Labels], Labels]:
    """Register `function` as a concept called `name` (its own name by default)."""
    def register(function: Labels) -> Labels:
        key = name or function.__name__
        _CONCEPTS[key] = Concept(key, graded, function, (function.__doc__ or "").strip().split("\n")[0])
        function.graded = graded  # type: ignore[attr-defined]
        return function
    return register


def builtin_names() -> list[str]:
    return sorted(_CONCEPTS)


def find_concept(name: str) -> Concept:
    """A registered concept, or `module:function` imported; a ZooError naming the built-ins."""
    if name in _CONCEPTS:
        return _CONCEPTS[name]
    module_name, _, attribute = name.partition(":")
    if not attribute:
        raise ZooError(f"unknown concept {name!r}; built-in: {', '.join(builtin_names())}, or "
                       "package.module:function for one of your own")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as err:
        raise ZooError(f"concept {name!r} cannot be imported ({err}); give package.module:function") from None
    return Concept(name, bool(getattr(function, "graded", False)), function)


@concept(graded=True)
def line_position(text: str) -> list[float]:
    """Characters since the last newline (0 on the newline itself)."""
    out, count = [], 0
    for char in text:
        count = 0 if char == "\n" else count + 1
        out.append(float(count))
    return out


def _toggle(text: str, mark: str, opens: Callable[[int], bool], closes: Callable[[int], bool]) -> list[float]:
    out, inside = [], False
    for i, char in enumerate(text):
        if char == mark and not inside and opens(i):
            inside = True
        elif char == mark and inside and closes(i):
            out.append(1.0)  # the closing mark still belongs to the quote
            inside = False
            continue
        out.append(1.0 if inside else 0.0)
    return out


@concept()
def in_double_quotes(text: str) -> list[float]:
    """Inside "double quotes" (the marks included)."""
    return _toggle(text, '"', lambda i: True, lambda i: True)


@concept()
def in_single_quotes(text: str) -> list[float]:
    """Inside 'single quotes': a mark after a non-letter opens, one before a non-letter closes
    (so the apostrophe of "don't" neither opens nor closes)."""
    def letter(i: int) -> bool:
        return 0 <= i < len(text) and text[i].isalpha()
    return _toggle(text, "'", lambda i: not letter(i - 1), lambda i: not letter(i + 1))


@concept(graded=True)
def bracket_depth(text: str) -> list[float]:
    """How many ( [ { are open (a closing bracket counts inside)."""
    out, depth = [], 0
    for char in text:
        depth += char in "([{"
        out.append(float(depth))
        depth = max(0, depth - (char in ")]}"))
    return out


@concept()
def word_start(text: str) -> list[float]:
    """The first letter of a word."""
    return [1.0 if c.isalpha() and (i == 0 or not text[i - 1].isalpha()) else 0.0 for i, c in enumerate(text)]


@concept()
def upper_case_run(text: str) -> list[float]:
    """Part of a run of two or more capital letters (a speaker's name: ROMEO:)."""
    upper = [c.isupper() for c in text]
    return [1.0 if u and ((i > 0 and upper[i - 1]) or (i + 1 < len(text) and upper[i + 1])) else 0.0
            for i, u in enumerate(upper)]
