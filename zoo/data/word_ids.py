"""A word-level tokenizer's ids in plain Python, for the texts where that is provably the same.

Why: HF `tokenizers` costs about 24 µs of CPU time per SST-2 sentence through `encode_batch`
(an `Encoding` object per text, rayon threads), a compiled regex and a dict lookup about 6 µs;
the difference was most of what batch scoring spends beyond the network's forward. The fast
path covers exactly the tokenizers `train_tokenizer` makes at word level (WordLevel model,
`Whitespace` pre-tokenizer, optional `Lowercase`, nothing after) and only ASCII texts that
contain no added token, where both sides split alike by construction; every other text or
tokenizer goes through HF, so the ids are always HF's.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Sequence

from tokenizers import Tokenizer

# `pre_tokenizers.Whitespace` splits on `\w+|[^\w\s]+`; spelt out for ASCII, where Rust's Unicode
# classes are these (Python's `\s` would also take \x1c-\x1f, which Unicode's White_Space does not)
ASCII_WHITESPACE_SPLIT = re.compile(r"[A-Za-z0-9_]+|[^A-Za-z0-9_\t\n\x0b\x0c\r ]+")

_lookups: weakref.WeakKeyDictionary[Tokenizer, WordLookup | None] = weakref.WeakKeyDictionary()


class WordLookup:
    """The vocabulary of a word-level tokenizer as a dict, with what decides when it may be used."""

    def __init__(self, vocab: dict[str, int], unk_id: int, lowercase: bool, added: Sequence[str]) -> None:
        self.get, self.unk_id, self.lowercase, self.added = vocab.get, unk_id, lowercase, tuple(added)

    def ids(self, text: str) -> list[int] | None:
        """The text's ids, or None when HF must tokenize it (non-ASCII, or an added token inside)."""
        if not text.isascii():
            return None
        normal = text.lower() if self.lowercase else text
        if any(token in text or token in normal for token in self.added):
            return None
        get, unk = self.get, self.unk_id
        return [get(word, unk) for word in ASCII_WHITESPACE_SPLIT.findall(normal)]


def word_lookup(tokenizer: Tokenizer) -> WordLookup | None:
    """The fast lookup for `tokenizer`, or None when its pipeline is not the one covered;
    built once per tokenizer object."""
    if tokenizer not in _lookups:
        _lookups[tokenizer] = _build(json.loads(tokenizer.to_str()))
    return _lookups[tokenizer]


def _build(config: dict) -> WordLookup | None:
    model, normalizer = config.get("model") or {}, config.get("normalizer")
    covered = (model.get("type") == "WordLevel" and config.get("pre_tokenizer") == {"type": "Whitespace"}
               and normalizer in (None, {"type": "Lowercase"}) and config.get("post_processor") is None
               and config.get("truncation") is None and config.get("padding") is None)
    vocab = model.get("vocab") or {}
    if not covered or model.get("unk_token") not in vocab:
        return None
    added = [token["content"] for token in config.get("added_tokens") or []]
    return WordLookup(vocab, vocab[model["unk_token"]], normalizer is not None, added)


def encode_ids(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Each text's token ids, exactly as `tokenizer.encode_batch` gives them (no truncation)."""
    lookup = word_lookup(tokenizer)
    ids: list[list[int] | None] = [lookup.ids(t) for t in texts] if lookup else [None] * len(texts)
    rest = [i for i, row in enumerate(ids) if row is None]
    if rest:
        # without the character offsets, which nothing here reads (tokenizers >= 0.20)
        encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
        for i, encoding in zip(rest, encode([texts[i] for i in rest]), strict=True):
            ids[i] = encoding.ids
    return ids  # type: ignore[return-value]  # every None was filled
