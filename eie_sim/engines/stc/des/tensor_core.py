"""The tensor core: its MMA pipeline and the metadata-driven activation selector.

A :class:`TensorCore` owns, in every wave, the 16 x 8 output fragments ``f`` of its SM's tile
with ``f % tensor_cores_per_sm == index``. For each operand-buffer stage it waits for the stage to
arrive, then issues one MMA per (fragment, k-step) back to back, one every ``mma_cycles``, but
cannot finish the stage before its SM's shared memory has delivered the stage's operands
(``Plan.operand_cycles``: the fill plus the warps' fragment reads over ``smem_bytes_per_clk``):
it spends ``max(MMA cycles, operand cycles)`` on the stage, the MMA cycles busy, the rest
stall. Its only interactions are with the operand buffer, so a stage is one ``timeout``.

Instructions (PTX): dense fp16 ``mma.m16n8k16``; sparse fp16 ``mma.sp.m16n8k32`` in the same
time (2:4; N:M covers ``16 * M / N`` of K); int8 ``m16n8k32`` / ``mma.sp.m16n8k64``. A sparse
instruction reads 16 x 16 kept values (fp16) and their in-group indices; the
:class:`MetadataSelector` uses the indices to pick, for every kept weight, the one activation
row of the B fragment it multiplies (an M:1 selection).
"""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.engines.stc.common import MMA_COLS, MMA_ROWS, Operands, Plan
from eie_sim.engines.stc.des.buffer import OperandBuffer
from eie_sim.engines.stc.des.writeback import Accumulator


class MetadataSelector:
    """Routes activation rows to the kept weights of an ``mma.sp`` by their metadata."""

    def __init__(self, ops: Operands, counts: dict[str, int]) -> None:
        self.columns = ops.columns
        self.x = ops.x
        self.counts = counts

    def select(self, row0: int, slot0: int, k_kept: int, col0: int) -> np.ndarray:
        """B operand of one instruction as seen by each kept weight: ``(16, k_kept, 8)``.

        ``row0``/``col0``: fragment origin; ``slot0``: first stored K slot of the k-step.
        """
        sel = self.columns[row0 : row0 + MMA_ROWS, slot0 : slot0 + k_kept]
        self.counts["tc.metadata_select"] += sel.size
        return self.x[sel, col0 : col0 + MMA_COLS]


class MMAPipeline:
    """Executes one MMA: ``D = A . B + C`` on a 16 x 8 accumulator fragment.

    fp16: products in float32 (exact), added to the float32 accumulator one at a time in
    ascending K order (``numpy.add.accumulate``: strictly sequential). int8: int32, wrapping.
    """

    def __init__(self, plan: Plan, ops: Operands, counts: dict[str, int]) -> None:
        self.plan = plan
        self.values = ops.values
        self.x = ops.x
        self.counts = counts
        self.is_float = ops.values.dtype == np.float16
        dt = "fp16" if self.is_float else "int8"
        self.mac_counter, self.padding_counter = f"tc.{dt}_mac", f"tc.{dt}_padding_mac"

    def mma(self, acc: np.ndarray, row0: int, col0: int, kstep: int, b: np.ndarray | None) -> None:
        """Issue one instruction for the fragment at ``(row0, col0)`` and k-step ``kstep``.

        ``b`` is the selected B operand ``(16, k_kept, 8)`` of a sparse instruction, None for a
        dense one (which reads ``x`` rows ``kstep * k`` onwards directly).
        """
        plan, counts = self.plan, self.counts
        kk = plan.k_kept
        s0 = kstep * kk
        a = self.values[row0 : row0 + MMA_ROWS, s0 : s0 + kk]
        if b is None:
            b = self.x[s0 : s0 + kk, col0 : col0 + MMA_COLS][None, :, :]
        if self.is_float:
            prods = a.astype(np.float32)[:, :, None] * b.astype(np.float32)
            seq = np.concatenate([acc[:, None, :], prods], axis=1)
            acc[...] = np.add.accumulate(seq, axis=1)[:, -1, :]
        else:
            total = acc.astype(np.int64) + (
                a.astype(np.int64)[:, :, None] * b.astype(np.int64)
            ).sum(axis=1)
            acc[...] = ((total + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)
        rows = min(MMA_ROWS, plan.rows - row0)
        cols = min(MMA_COLS, plan.batch - col0)
        slots = min(kk, max(0, plan.real_slots_per_row - s0))
        lanes = MMA_ROWS * MMA_COLS * kk
        counts["tc.mma"] += 1
        counts[self.mac_counter] += rows * cols * slots
        counts[self.padding_counter] += lanes - rows * cols * slots
        counts["rf.accumulator.read"] += MMA_ROWS * MMA_COLS
        counts["rf.accumulator.write"] += MMA_ROWS * MMA_COLS


class TensorCore:
    """Tensor core ``index`` of SM ``sm``: issues its fragments' MMAs stage by stage.

    Statistics: ``busy`` (issuing MMAs), ``stall`` (waiting for a stage it has work in, or for
    the stage's operands from shared memory), cycles.
    """

    #: :class:`eie_sim.trace.Track` while a trace is recorded, else None (no cost)
    trace = None

    def __init__(
        self,
        env: simpy.Environment,
        sm: int,
        index: int,
        plan: Plan,
        buffer: OperandBuffer,
        accumulator: Accumulator,
        pipeline: MMAPipeline,
        selector: MetadataSelector | None,
    ) -> None:
        self.env = env
        self.sm = sm
        self.index = index
        self.plan = plan
        self.buffer = buffer
        self.accumulator = accumulator
        self.pipeline = pipeline
        self.selector = selector
        self.busy = 0
        self.stall = 0
        self.process = env.process(self.run())

    def run(self):
        env, plan = self.env, self.plan
        kk = plan.k_kept
        trace = self.trace
        for g in range(plan.stages):
            w, s = divmod(g, plan.stages_per_wave)
            t = plan.tile_of(w, self.sm)
            frags = [] if t is None else plan.fragments(t, self.index)
            if not frags:
                continue
            arrived = self.buffer.filled(g)
            if not arrived.triggered:
                t0 = env.now
                yield arrived
                self.stall += env.now - t0
                if trace is not None:
                    trace.add(t0, env.now, "stall")
            k0, ks = int(plan.stage_kstep0[s]), int(plan.stage_ksteps[s])
            bank = self.accumulator.bank(w, t)
            r_base, c_base = int(plan.tile_row0[t]), int(plan.tile_col0[t])
            for row0, col0 in frags:
                acc = bank[row0 - r_base : row0 - r_base + MMA_ROWS,
                           col0 - c_base : col0 - c_base + MMA_COLS]
                for kstep in range(k0, k0 + ks):
                    b = None
                    if self.selector is not None:
                        b = self.selector.select(row0, kstep * kk, kk, col0)
                    self.pipeline.mma(acc, row0, col0, kstep, b)
            work = len(frags) * ks * plan.mma_cycles
            span = max(work, int(plan.operand_cycles(g)[self.sm]))
            self.busy += work
            self.stall += span - work
            if trace is not None:
                trace.add(env.now, env.now + work, "busy",
                          {"stage": s, "wave": w, "mma": len(frags) * ks})
                trace.add(env.now + work, env.now + span, "stall")
            yield env.timeout(span)
            self.buffer.finish(g)
