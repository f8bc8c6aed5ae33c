"""The tags of a registered version, written and read in one place: the architecture (encoder,
depth, width, embedding size, and each option only where it is on) and the test metrics,
so the leaderboard reads typed values instead of parsing strings the model layer chose."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zoo.models import EncoderSpec

# options a version names only where they are on (a plain LSTM's tags stay short)
OPTIONS = ("bidirectional", "proj_size", "dropout", "embedding_dropout", "output_dropout", "weight_drop",
           "locked_dropout", "ngram_buckets", "word_dropout", "num_heads", "ffn_size", "context")


def metric_tag(metric: str) -> str:
    """MLflow metric name -> version tag name (`test/acc` -> `test_acc`)."""
    return metric.replace("/", "_")


def architecture_tags(spec: EncoderSpec) -> dict[str, str]:
    """What a registry version says about its architecture, as MLflow tag strings."""
    tags = {"encoder": spec.core_name, "depth": str(spec.num_layers), "width": str(spec.hidden_size),
            "embedding_dim": str(spec.embedding_dim)}
    for key in OPTIONS:
        value = getattr(spec, key)
        if value:
            tags[key] = str(value).lower() if isinstance(value, bool) else f"{value:g}"
    if spec.kernel_sizes:
        tags["kernel_sizes"] = ",".join(map(str, spec.kernel_sizes))
    if spec.positions:
        tags["positions"] = spec.positions
    return tags


@dataclass(frozen=True)
class Architecture:
    """A version's architecture, read back from its tags."""

    encoder: str
    depth: int
    width: int
    params: int

    @classmethod
    def read(cls, tags: Mapping[str, str]) -> Architecture:
        encoder = tags.get("encoder") or tags["variant"]  # `variant`: versions registered before the rename
        return cls(encoder, int(tags["depth"]), int(tags["width"]), int(tags.get("params", 0)))
