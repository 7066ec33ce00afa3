"""What an engine derives from a layer once and keeps with it: EIE's interleaved-CSC
encodings, the tensor core's N:M-compressed operands.

A layer is immutable, so what is derived from it and a few config fields stays valid as long as
the layer lives: a sweep over the other fields (clock, queue depth, DRAM, batch, energy
table), both engines of one accelerator, and a check run after a timing run reuse it. The
entries live as long as their layer (weak keys); the most recently used few per layer are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

T = TypeVar("T")


class LayerCache(Generic[T]):
    """``get(layer, key, build)``: ``build()``'s result for ``(layer, key)``, made once.

    Parameters
    ----------
    per_layer : int
        Entries kept per layer (>= 1); the least recently used goes first.
    """

    def __init__(self, per_layer: int) -> None:
        if per_layer < 1:
            raise ValueError(f"per_layer must be >= 1, got {per_layer}")
        self.per_layer = per_layer
        self._kept: WeakKeyDictionary = WeakKeyDictionary()  # layer -> {key: value}

    def get(self, layer: object, key: Hashable, build: Callable[[], T]) -> T:
        """The value kept for ``(layer, key)``, or ``build()`` kept for next time (an error in
        ``build`` keeps nothing)."""
        kept = self._kept.setdefault(layer, {})
        value = kept.pop(key, None)
        if value is None:
            value = build()
        kept[key] = value  # most recent last
        while len(kept) > self.per_layer:
            del kept[next(iter(kept))]
        return value
