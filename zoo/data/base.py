"""What both data modules share: parse the spec, load splits, train the tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import lightning as L
from omegaconf import DictConfig
from tokenizers import Tokenizer

from zoo.data.fingerprint import file_sha256
from zoo.data.sources import load_splits, local_files
from zoo.data.spec import DatasetSpec, parse_dataset_spec
from zoo.data.tokenization import PAD, train_tokenizer
from zoo.paths import ensure_folder


class TextDataModule(L.LightningDataModule):
    """Base: a dataset YAML in, train/validation/test tensors and sizes out."""

    def __init__(self, data: DictConfig | dict[str, Any], cache_dir: str, seed: int = 0,
                 tokenizer: Tokenizer | None = None) -> None:
        """`tokenizer`: read the data with this one (a trained model's) instead of training one."""
        super().__init__()
        self.spec: DatasetSpec = parse_dataset_spec(data)
        self.cache_dir = str(Path(cache_dir) / "datasets")
        self.seed = seed
        self.given_tokenizer = tokenizer
        self.tokenizer: Tokenizer | None = None
        self._ready = False

    def check_files(self) -> dict[str, str]:
        """Fail fast on missing files; return {file name: sha256} for run tags."""
        if self.spec.source.format == "hub":
            return {f"hub:{self.spec.source.path}": "remote"}
        return {str(Path(path).name): file_sha256(path) for path in local_files(self.spec.source)}

    def load_raw(self) -> datasets.DatasetDict:
        ensure_folder(Path(self.cache_dir), "datasets cache folder",
                      "set ZOO_CACHE_DIR or paths.cache_dir= to a writable folder")
        return load_splits(self.spec, self.cache_dir)

    def fit_tokenizer(self, train_texts: list[str]) -> Tokenizer:
        self.tokenizer = self.given_tokenizer or train_tokenizer(self.spec.tokenizer, train_texts)
        return self.tokenizer

    @property
    def pad_id(self) -> int:
        assert self.tokenizer is not None, "call setup() first"
        return int(self.tokenizer.token_to_id(PAD))

    @property
    def vocab_size(self) -> int:
        assert self.tokenizer is not None, "call setup() first"
        return int(self.tokenizer.get_vocab_size())

    def save_tokenizer(self, path: str | Path) -> Path:
        assert self.tokenizer is not None, "call setup() first"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(str(path))
        return path

    def setup(self, stage: str | None = None) -> None:
        if not self._ready:
            self.build()
            self._ready = True

    def build(self) -> None:
        raise NotImplementedError

    def sizes(self) -> dict[str, int]:
        """The numbers the model needs, so no config writes them twice."""
        raise NotImplementedError

    def split_sizes(self) -> dict[str, int]:
        """Examples (or tokens) per split, logged with the run."""
        raise NotImplementedError
