"""The `confirm:` block of a sweep spec: how the search's winner is proven on fresh seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ConfigError


@dataclass(frozen=True)
class ConfirmSpec:
    """After the search: retrain the `top_k` trials on `seeds` seeds each and pick the best
    validation mean; then train that winner and the untuned recipe on `final_seeds` seeds and
    compare them on test (Welch). The winner is promoted only when it is better with
    p < `alpha`. `overrides` apply to confirmation runs only (e.g. a longer budget)."""

    top_k: int = 3
    seeds: int = 3
    final_seeds: int = 5
    alpha: float = 0.05
    overrides: list[str] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.top_k > 0


def _count(values: dict[str, Any], key: str, default: int, low: int) -> int:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"confirm.{key}={value!r} must be a whole number >= {low}")
    return value


def parse_confirm(raw: Any) -> ConfirmSpec:
    """`confirm: false` (or top_k: 0) turns the stage off; a mapping sets its fields."""
    if raw is False or raw is None:
        return ConfirmSpec(top_k=0)
    if raw is True:
        return ConfirmSpec()
    if not isinstance(raw, dict):
        raise ConfigError(f"confirm={raw!r} must be false or a mapping such as {{top_k: 3, seeds: 3, final_seeds: 5}}")
    known = set(ConfirmSpec.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown confirm option(s) {unknown}; options are {sorted(known)}")
    spec = ConfirmSpec(
        top_k=_count(raw, "top_k", 3, 0), seeds=_count(raw, "seeds", 3, 1),
        final_seeds=_count(raw, "final_seeds", 5, 2), alpha=float(raw.get("alpha", 0.05)),
        overrides=[str(o) for o in raw.get("overrides") or []],
    )
    if not 0 < spec.alpha < 1:
        raise ConfigError(f"confirm.alpha={spec.alpha} must be in (0, 1), e.g. 0.05")
    if spec.final_seeds < spec.seeds:
        raise ConfigError(f"confirm.final_seeds={spec.final_seeds} must be >= confirm.seeds={spec.seeds} "
                          "(the winner's first seeds are reused)")
    return spec
