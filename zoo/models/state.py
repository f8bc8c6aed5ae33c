"""Recurrent state of any structure: one tensor (GRU), a tuple (LSTM's (h, c)), or nested
tuples. Every tensor in it is (layers * directions, batch, ...), so code that carries or
detaches a state walks its tensors without knowing which core made it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from torch import Tensor

State = Tensor | tuple["State", ...]


def map_state(fn: Callable[[Tensor], Tensor], state: State) -> State:
    """`fn` applied to every tensor of `state`, keeping its structure."""
    if isinstance(state, Tensor):
        return fn(state)
    return tuple(map_state(fn, part) for part in state)


def tensors(state: State) -> Iterator[Tensor]:
    """The tensors of `state`, depth first."""
    if isinstance(state, Tensor):
        yield state
    else:
        for part in state:
            yield from tensors(part)


def rows(state: State) -> int:
    """Rows the state was computed for (dimension 1 of every tensor)."""
    return next(tensors(state)).shape[1]
