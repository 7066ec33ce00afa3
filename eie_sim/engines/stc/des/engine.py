"""Runs one GEMM on the SimPy tensor-core model: wires the loader, the SMs' operand buffers,
tensor cores and accumulators, and the write-back together."""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim import trace
from eie_sim.engines.record import LayerRun
from eie_sim.engines.stc.common import Operands, Plan, zero_counts
from eie_sim.engines.stc.des.buffer import OperandBuffer
from eie_sim.engines.stc.des.loader import GlobalMemoryLoader
from eie_sim.engines.stc.des.tensor_core import MetadataSelector, MMAPipeline, TensorCore
from eie_sim.engines.stc.des.writeback import Accumulator, WriteBack


def run_layer(plan: Plan, ops: Operands) -> LayerRun:
    """Simulate the GEMM of ``plan`` on the operands ``ops`` (see :func:`common.operands`)."""
    env = simpy.Environment()
    counts = zero_counts()
    acc_dtype = np.float32 if ops.values.dtype == np.float16 else np.int32
    outputs = np.zeros((plan.rows, plan.batch), dtype=acc_dtype)
    buffers = [OperandBuffer(env, sm, plan, counts) for sm in range(plan.sms)]
    accumulators = [Accumulator(plan, acc_dtype) for _ in range(plan.sms)]
    pipeline = MMAPipeline(plan, ops, counts)
    selector = MetadataSelector(ops, counts) if plan.sparse else None
    cores = [
        TensorCore(env, sm, j, plan, buffers[sm], accumulators[sm], pipeline, selector)
        for sm in range(plan.sms)
        for j in range(plan.tcs)
    ]
    writeback = WriteBack(env, plan, buffers, accumulators, outputs, counts, ops.bias)
    loader = GlobalMemoryLoader(env, plan, buffers, writeback, counts)
    recorder = trace.active()
    if recorder is not None:  # eie-sim run --trace: one track per tensor core
        tr = recorder.begin_layer("tensor core", len(cores))
        for core in cores:
            core.trace = tr.tensor_core(core.sm, core.index)
    env.run()
    cycles = int(env.now)
    ends = [0, *loader.wave_end]
    if recorder is not None:
        tr.cycles = cycles
        for w, (a, b) in enumerate(zip(ends, ends[1:], strict=False)):
            tr.segment(f"wave {w}", a, b, wave=w)
        for core in cores:
            core.trace.add(core.trace.spans[-1][1] if core.trace.spans else 0, cycles, "idle")
            _fill_idle(core.trace)
    busy = np.array([c.busy for c in cores], dtype=np.int64)
    stall = np.array([c.stall for c in cores], dtype=np.int64)
    return LayerRun(
        cycles=cycles,
        segment_cycles=[b - a for a, b in zip(ends, ends[1:], strict=False)],
        counts=counts,
        unit_busy=busy,
        unit_stall=stall,
        unit_idle=cycles - busy - stall,
        outputs=outputs,
    )


def _fill_idle(track) -> None:
    """A tensor core's gaps between its spans are idle (it had no fragment in the stage)."""
    spans, t, out = track.spans, 0, []
    for span in spans:
        if span[0] > t:
            out.append([t, span[0], "idle", None])
        out.append(span)
        t = span[1]
    track.spans[:] = out
