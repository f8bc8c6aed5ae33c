"""What the fuzz targets share: the profile (`ZOO_FUZZ=short`, the default in `make test`, or
`long` for `make fuzz`), how many cases each target draws under it, the per-target case
counter the session reports, and the strategies for hostile values."""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROFILE = os.environ.get("ZOO_FUZZ", "short")
CASES: Counter[str] = Counter()  # cases run per target, printed at the end of the session


def fuzz_settings(short: int, long: int) -> settings:
    """`short` cases in `make test`, `long` in `make fuzz`; no deadline (a case may load data),
    failing examples kept in Hypothesis' database (.hypothesis/) and replayed first."""
    return settings(max_examples=long if PROFILE == "long" else short, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


def count(target: str) -> None:
    CASES[target] += 1


# values of every kind a YAML, a command line or a JSON body can hold
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "1e309", "nan", "null", "true", "~", "???", "${oops}", "\x00", "ünï", "a\nb"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=8)
# text a data file or a request may carry: quotes, separators, line breaks, BOMs, NULs, unicode
TEXT = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(list("\t\n\r\"',;:\\ \ufeff\x00"))), max_size=60)
