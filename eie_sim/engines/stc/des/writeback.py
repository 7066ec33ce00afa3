"""Accumulation and write-back: the accumulator register file and the epilogue.

The :class:`Accumulator` of an SM holds one float32 / int32 bank per (wave, tile) from the
tile's first MMA until its write-back (two waves in flight in steady state: the one computing and
the one draining). :class:`WriteBack` waits until every SM has finished a wave's last stage, lets
the MMA pipeline drain (``mma_latency_cycles``), then hands the wave to the global-memory loader,
which owns the DRAM channel and writes the outputs in its service order
(:attr:`eie_sim.engines.stc.common.Plan.program`).
"""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.engines.stc.common import ACC_BYTES, MMA_COLS, MMA_ROWS, Plan
from eie_sim.engines.stc.des.buffer import OperandBuffer
from eie_sim.engines.stc.reference import add_bias


class Accumulator:
    """Accumulator register file of one SM (banks of ``(16 * rtiles, 8 * ctiles)``)."""

    def __init__(self, plan: Plan, dtype) -> None:
        self.plan = plan
        self.dtype = dtype
        self._banks: dict[tuple[int, int], np.ndarray] = {}

    def bank(self, wave: int, tile: int) -> np.ndarray:
        """The zero-initialised accumulators of ``tile`` in ``wave``."""
        key = (wave, tile)
        if key not in self._banks:
            shape = (
                int(self.plan.tile_rtiles[tile]) * MMA_ROWS,
                int(self.plan.tile_ctiles[tile]) * MMA_COLS,
            )
            self._banks[key] = np.zeros(shape, dtype=self.dtype)
        return self._banks[key]

    def drain(self, wave: int, tile: int) -> np.ndarray:
        """Remove and return the bank (the write-back read it)."""
        return self._banks.pop((wave, tile))


class WriteBack:
    """The epilogue: decides when a wave's accumulators are final, and stores them.

    Parameters
    ----------
    env : simpy.Environment
    plan : Plan
    buffers : list of OperandBuffer
        Their ``released`` events tell when an SM finished a stage.
    accumulators : list of Accumulator
        One per SM.
    outputs : numpy.ndarray, shape (rows, batch)
        Written in place.
    counts : dict
        Shared counters (``rf.accumulator.read``, ``dram.write_bytes``, the epilogue's).
    bias : numpy.ndarray, optional
        The layer bias in the accumulator type, added to each tile as it is written.
    """

    def __init__(
        self,
        env: simpy.Environment,
        plan: Plan,
        buffers: list[OperandBuffer],
        accumulators: list[Accumulator],
        outputs: np.ndarray,
        counts: dict[str, int],
        bias: np.ndarray | None = None,
    ) -> None:
        self.env = env
        self.bias = bias
        self.plan = plan
        self.buffers = buffers
        self.accumulators = accumulators
        self.outputs = outputs
        self.counts = counts
        self._ready = [env.event() for _ in range(plan.waves)]
        # One drain per wave: the MMA pipelines of a wave drain while the next wave computes,
        # so a wave's drain never waits for the previous wave's (docs/STC_MODEL.md §Timing).
        self.processes = [env.process(self.drain(w)) for w in range(plan.waves)]

    def ready(self, wave: int) -> simpy.Event:
        """Event that fires when ``wave``'s accumulators are final (pipeline drained)."""
        return self._ready[wave]

    def drain(self, wave: int):
        """Wait for every SM to finish ``wave``'s last stage, then ``mma_latency`` cycles."""
        env, plan = self.env, self.plan
        last = plan.last_stage(wave)
        pending = [
            b.released(last) for b in self.buffers
            if b.workers(last) and not b.released(last).processed
        ]
        if pending:
            yield env.all_of(pending)
        if plan.mma_latency:
            yield env.timeout(plan.mma_latency)
        self._ready[wave].succeed()

    def store(self, wave: int) -> None:
        """The loader finished writing ``wave``: its outputs are in memory (this cycle)."""
        plan = self.plan
        for sm, acc in enumerate(self.accumulators):
            t = plan.tile_of(wave, sm)
            if t is None:
                continue
            bank = acc.drain(wave, t)
            r0, c0 = int(plan.tile_row0[t]), int(plan.tile_col0[t])
            rows, cols = int(plan.tile_rows[t]), int(plan.tile_cols[t])
            tile = bank[:rows, :cols]
            if self.bias is not None:
                tile = add_bias(tile, self.bias[r0 : r0 + rows])
                self.counts["dram.bias_read_bytes"] += rows * ACC_BYTES
                self.counts["epilogue.bias_add"] += rows * cols
            self.outputs[r0 : r0 + rows, c0 : c0 + cols] = tile
            self.counts["rf.accumulator.read"] += bank.size
            self.counts["dram.write_bytes"] += rows * cols * ACC_BYTES
