"""Does a question classifier look where a linguist would? For TREC-style questions, the class
(NUM, LOC, HUM, ...) is carried by the wh-word and its head word ("*how many* people",
"*what city*", "*who* invented"): Li and Roth (2002) classify from exactly these. This module
finds that focus in each question and counts how often an attribution method's top-ranked
token falls in it, against the share a random ordering reaches.

The head word is found by a rule, not a parser, and the rule is the whole definition: after
the first wh-word, skip auxiliaries, determiners, "kind/type/sort of" and punctuation; the next
token is the head ("what is the capital" -> capital). "how many/much" keeps "many"/"much" and the word after
it ("how many people" -> many, people); "how long/far/old" keeps the adjective."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zoo.stats import Bootstrap, paired_bootstrap

WH_WORDS = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "why", "how"})
SKIPPED = frozenset({"is", "are", "was", "were", "'s", "s", "do", "does", "did", "the", "a", "an", "of", "can",
                     "could", "will", "would", "should", "has", "have", "had", "be", "kind", "kinds", "type",
                     "types", "sort", "sorts"})
QUANTITY = frozenset({"many", "much"})
QUESTION_SHARE = 0.5  # the check runs when at least this share of the texts has a wh-word


def focus(tokens: Sequence[str]) -> set[int]:
    """Positions of the wh-word and its head word; empty when the text has no wh-word."""
    words = [t.lower() for t in tokens]
    wh = next((i for i, w in enumerate(words) if w in WH_WORDS), None)
    if wh is None:
        return set()
    found = {wh}
    rest = [i for i in range(wh + 1, len(words)) if words[i] not in SKIPPED and any(c.isalnum() for c in words[i])]
    if rest:
        found.add(rest[0])
        if words[wh] == "how" and words[rest[0]] in QUANTITY and len(rest) > 1:
            found.add(rest[1])
    return found


@dataclass(frozen=True)
class QuestionFocus:
    """Per method, 1 for each question whose top-ranked token is in its focus."""

    hits: dict[str, np.ndarray]
    chance: float  # the expected share under a uniformly random top token: mean |focus| / length
    texts: int  # all texts looked at, with or without a wh-word

    @property
    def questions(self) -> int:
        return len(next(iter(self.hits.values()))) if self.hits else 0

    def applies(self) -> bool:
        return self.questions >= 2 and self.questions >= QUESTION_SHARE * self.texts

    def margin(self, method: str) -> Bootstrap:
        return paired_bootstrap(self.hits[method], self.hits["random"])

    @property
    def metrics(self) -> dict[str, float]:
        out = {f"explain/question_focus/{m}": float(h.mean()) for m, h in self.hits.items()}
        for method in (m for m in self.hits if m != "random"):
            b = self.margin(method)
            out |= {f"explain/question_focus_margin/{method}": b.difference,
                    f"explain/question_focus_margin/{method}/ci95_low": b.ci95_low,
                    f"explain/question_focus_margin/{method}/ci95_high": b.ci95_high}
        return out | {"explain/question_focus/chance": self.chance}

    def table(self) -> str:
        lines = ["| method | top token is the wh-word or its head | over random (95% CI) |", "|---|---|---|"]
        for method, hits in self.hits.items():
            b = self.margin(method) if method != "random" else None
            over = f"{b.difference:+.3f} ({b.ci95_low:+.3f}, {b.ci95_high:+.3f})" if b else ""
            lines.append(f"| {method} | {hits.mean():.3f} | {over} |")
        return "\n".join(lines) + f"\n| chance (mean focus / length) | {self.chance:.3f} | |"

    def markdown(self) -> str:
        return (f"### Question focus\n\nOf the {self.texts} texts, {self.questions} have a wh-word. The share whose "
                "top-attributed token is the wh-word or its head word (`zoo/explain/question_focus.py` gives the "
                f"rule), each method against the random ordering (paired bootstrap):\n\n{self.table()}\n")


def question_focus(tokens: Sequence[Sequence[str]], scores: dict[str, Sequence[np.ndarray]]) -> QuestionFocus:
    """`tokens[k]` and `scores[method][k]` (one score per token) for each text k."""
    hits: dict[str, list[float]] = {m: [] for m in scores}
    chance: list[float] = []
    for k, words in enumerate(tokens):
        positions = focus(words)
        if not positions:
            continue
        chance.append(len(positions) / len(words))
        for method, per_text in scores.items():
            hits[method].append(float(int(np.argmax(per_text[k][: len(words)])) in positions))
    return QuestionFocus({m: np.asarray(h) for m, h in hits.items()}, float(np.mean(chance)) if chance else 0.0,
                         len(tokens))
