"""The plain-Python word lookup gives HF `tokenizers`' ids exactly: on every sentence of SST-2,
TREC and Tiny Shakespeare, and on generated ASCII and Unicode text with the corners (control
characters HF does not count as space, literal special tokens, upper case); tokenizers it does not
cover go through HF whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, normalizers

from zoo.data.spec import TokenizerSpec
from zoo.data.tokenization import train_tokenizer
from zoo.data.word_ids import encode_ids, word_lookup


def hf_ids(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [encoding.ids for encoding in tokenizer.encode_batch(texts)]


def corpus(shared_data: Path) -> list[str]:
    sst2 = [line.split("\t", 1)[1] for line in (shared_data / "sst2" / "train.tsv").read_text().splitlines()[1:]]
    trec = [line.split(" ", 1)[1] for line in (shared_data / "trec" / "train_5500.label").read_text(
        encoding="latin-1").splitlines()]
    shakespeare = (shared_data / "tinyshakespeare" / "input.txt").read_text().splitlines()
    return sst2 + trec + shakespeare


@pytest.fixture(scope="module")
def words(shared_data: Path) -> tuple[Tokenizer, list[str]]:
    texts = corpus(shared_data)
    return train_tokenizer(TokenizerSpec(level="word", vocab_size=5000), texts[::3]), texts


@pytest.mark.parametrize("lowercase", [True, False])
def test_the_lookup_gives_hf_ids_on_every_sentence_of_the_shared_data(shared_data: Path, lowercase: bool) -> None:
    texts = corpus(shared_data)
    tokenizer = train_tokenizer(TokenizerSpec(level="word", vocab_size=5000, lowercase=lowercase), texts[::3])
    assert word_lookup(tokenizer) is not None
    assert encode_ids(tokenizer, texts) == hf_ids(tokenizer, texts)


ASCII = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=40)
CORNERS = st.sampled_from(["[UNK]", "[unk]", "[PAD]", "\x1c", "\x1f", "\x0b", "_", "A", "don't", " "])
MIXED = st.lists(st.one_of(ASCII, CORNERS, st.text(max_size=8)), max_size=6).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(MIXED, min_size=1, max_size=20))
def test_generated_text_gets_hf_ids(words, texts: list[str]) -> None:
    tokenizer, _ = words
    assert encode_ids(tokenizer, texts) == hf_ids(tokenizer, texts)


def test_a_text_with_a_literal_special_token_or_unicode_goes_through_hf(words) -> None:
    lookup = word_lookup(words[0])
    assert lookup is not None
    assert lookup.ids("a fine film") is not None
    assert lookup.ids("the [UNK] token") is None and lookup.ids("café") is None


def test_a_tokenizer_outside_the_covered_pipeline_is_left_to_hf(words) -> None:
    tokenizer = Tokenizer.from_str(words[0].to_str())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase()])
    assert word_lookup(tokenizer) is None
    characters = train_tokenizer(TokenizerSpec(level="char"), ["to be or not"])
    assert word_lookup(characters) is None
    texts = ["To BE", "or not"]
    assert encode_ids(tokenizer, texts) == hf_ids(tokenizer, texts)
    assert encode_ids(characters, texts) == hf_ids(characters, texts)
