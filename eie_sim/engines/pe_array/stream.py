"""The DRAM weight stream's arithmetic (``weights_from: dram``), for both engines.

In every pass the stream moves the broadcast columns' weights, in broadcast order, at
``bytes_per_cycle`` from the pass's cycle 1; a column is usable from the cycle after its last
byte arrives. A column slice of one PE occupies whole bytes in DRAM and whole rows of the
buffer SRAM it is written into (docs/MODEL.md §DRAM weight streaming).
"""

from __future__ import annotations

import math

import numpy as np


def stream_ready_cycle(cumulative_bytes: float, bytes_per_cycle: float) -> int:
    """First cycle (from the pass's start) in which entries whose data ends at
    ``cumulative_bytes`` of a pass's stream can issue.

    The stream moves ``bytes_per_cycle`` bytes per cycle from cycle 1, so the data is complete
    at the end of cycle ``ceil(cumulative / bytes_per_cycle)``.
    """
    return math.ceil(cumulative_bytes / bytes_per_cycle) + 1


def stream_ready(per_column_bytes: np.ndarray, bytes_per_cycle: float) -> tuple[np.ndarray, int]:
    """:func:`stream_ready_cycle` of every broadcast, vectorised.

    Parameters
    ----------
    per_column_bytes : numpy.ndarray, shape (passes, B)
        Bytes of each broadcast column (all PEs) in each pass, in broadcast order.
    bytes_per_cycle : float
        DRAM bandwidth, bytes per cycle.

    Returns
    -------
    ready : numpy.ndarray of int64, shape (passes, B)
        First cycle each broadcast's weights can issue.
    total : int
        Bytes streamed over all passes.
    """
    fetched = np.cumsum(per_column_bytes, axis=1)
    ready = np.ceil(fetched / bytes_per_cycle).astype(np.int64) + 1
    return ready, int(fetched[:, -1].sum())


def slice_bytes(entries, entry_bits: int):
    """Bytes (whole bytes per slice) of column slices of ``entries`` entries (int or array)."""
    return -(-(entries * entry_bits) // 8)


def slice_rows(entries, entry_bits: int, width_bits: int):
    """SRAM rows of ``width_bits`` that streamed column slices of ``entries`` entries of
    ``entry_bits`` each are written into (int or array)."""
    return -(-(entries * entry_bits) // width_bits)
