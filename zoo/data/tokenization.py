"""Tokenizers from HF `tokenizers`: word level for classifiers, character level for LMs.

Trained on the train split only, serialised to one JSON file that travels with the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from zoo.data.spec import PAD, SPECIAL_TOKENS, UNK, TokenizerSpec  # noqa: F401 - PAD: re-exported
from zoo.data.word_ids import encode_ids


def train_tokenizer(spec: TokenizerSpec, texts: Iterable[str]) -> Tokenizer:
    """A word- or character-level vocabulary over `texts`; ids 0 and 1 are [PAD] and [UNK]."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    if spec.lowercase and spec.level == "word":
        tokenizer.normalizer = normalizers.Lowercase()
    if spec.level == "char":
        # every character (newlines and spaces included) is a token; decoding joins them
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
        tokenizer.decoder = decoders.Fuse()
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(
        vocab_size=spec.vocab_size,
        min_frequency=spec.min_frequency,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


class BatchEncoder:
    """A picklable `datasets.map` function: its fingerprint is the tokenizer's JSON, so a
    second run with the same tokenizer and data loads the cached encoding instead of
    re-tokenizing."""

    def __init__(
        self, tokenizer_json: str, max_length: int | None = None, label_ids: dict[str, int] | None = None
    ) -> None:
        self.tokenizer_json = tokenizer_json
        self.max_length = max_length
        self.label_ids = label_ids
        self._tokenizer: Tokenizer | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"tokenizer_json": self.tokenizer_json, "max_length": self.max_length,
                "label_ids": self.label_ids}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        if self._tokenizer is None:
            self._tokenizer = Tokenizer.from_str(self.tokenizer_json)
        unk = self._tokenizer.token_to_id(UNK)
        ids = [row[: self.max_length] or [unk] for row in encode_ids(self._tokenizer, batch["text"])]
        out: dict[str, list] = {"input_ids": ids}
        if self.label_ids is not None:
            out["label_id"] = [self.label_ids[label] for label in batch["label"]]
            out["length"] = [len(x) for x in ids]
        return out
