"""The record every engine returns for one layer: raw counts and cycle statistics, no energy.

Names are neutral so that every accelerator fills the same fields: a *compute unit* is whatever
the architecture replicates (an EIE or dense-array PE, a tensor core), a *segment* is a
sequential part of the layer (an output pass of a PE array, a wave of tiles of a tensor core).
Figures that only one architecture has go under ``details`` (declared in its registry record).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(eq=False)
class LayerRun:
    """What an engine returns for one layer.

    Attributes
    ----------
    cycles : int
        Layer latency in clock cycles.
    segment_cycles : list of int
        Cycles of each sequential segment (passes or waves); with the stalls between segments
        they add up to ``cycles``.
    counts : dict of str to int
        One counter per (unit, action), each named in the architecture's counter catalogue.
    unit_busy, unit_stall, unit_idle : numpy.ndarray of int64, shape (units,)
        Per compute unit: cycles doing work; cycles waiting for something another unit (or
        memory) holds back while it has work; all other cycles. They sum to ``cycles`` for
        every unit.
    outputs : numpy.ndarray
        The engine's raw output values (EIE / dense array: int16 pre-ReLU; tensor core: float32
        or int32 accumulators, rows x batch), equal bit for bit to the architecture's reference.
    details : dict
        Architecture-specific figures (JSON-friendly), declared by the architecture.
    """

    cycles: int
    segment_cycles: list[int]
    counts: dict[str, int]
    unit_busy: np.ndarray
    unit_stall: np.ndarray
    unit_idle: np.ndarray
    outputs: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)
