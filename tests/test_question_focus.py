"""The TREC check of token attributions: the wh-word and its head word found by the rule, and
the share of questions whose top-ranked token falls on them against a random ordering."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.explain.question_focus import focus, question_focus


@pytest.mark.parametrize(("question", "expected"), [
    ("what is the capital of peru ?", {"what", "capital"}),
    ("how many people live in tokyo ?", {"how", "many", "people"}),
    ("how far is mars ?", {"how", "far"}),
    ("what kind of animal is a cat ?", {"what", "animal"}),
    ("Who invented the telephone ?", {"Who", "invented"}),
    ("name a film by kubrick .", set()),  # no wh-word: not counted
    ("why ?", {"why"}),  # punctuation is never the head
])
def test_the_focus_is_the_wh_word_and_its_head(question: str, expected: set[str]) -> None:
    words = question.split()
    assert {words[i] for i in focus(words)} == expected


def test_the_share_counts_questions_only_and_beats_random_where_the_method_looks_there() -> None:
    texts = [["how", "many", "people", "live", "here"], ["what", "is", "the", "capital", "of", "x"],
             ["name", "a", "film"], ["when", "did", "it", "end"]]
    on_focus = [np.array([5.0, 1, 1, 0, 0]), np.array([0.0, 0, 0, 3, 0, 0]), np.array([1.0, 0, 0]),
                np.array([2.0, 0, 0, 0])]
    off_focus = [np.array([0.0, 0, 0, 0, 9]), np.array([0.0, 9, 0, 0, 0, 0]), np.array([1.0, 0, 0]),
                 np.array([0.0, 0, 0, 9])]
    result = question_focus(texts, {"integrated_gradients": on_focus, "random": off_focus})
    assert result.questions == 3 and result.texts == 4 and result.applies()
    assert result.hits["integrated_gradients"].tolist() == [1.0, 1.0, 1.0]
    assert result.hits["random"].tolist() == [0.0, 0.0, 0.0]
    assert result.chance == pytest.approx(np.mean([3 / 5, 2 / 6, 2 / 4]))
    metrics = result.metrics
    assert metrics["explain/question_focus/integrated_gradients"] == 1.0
    assert metrics["explain/question_focus_margin/integrated_gradients"] == 1.0
    assert "| integrated_gradients | 1.000 | +1.000 (+1.000, +1.000) |" in result.table()


def test_sentences_that_are_not_questions_get_no_focus_check() -> None:
    texts = [["a", "gripping", "film"], ["dull"], ["what", "a", "film"]]
    scores = [np.ones(3), np.ones(1), np.ones(3)]
    assert not question_focus(texts, {"integrated_gradients": scores, "random": scores}).applies()
