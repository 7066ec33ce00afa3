"""The fast tensor-core engine: the timing model as a recurrence, counters in closed form.

With ``L_g`` the end of stage ``g``'s load, ``E_j`` the end of tensor core ``j``'s previous work
and ``D_g`` the end of stage ``g`` (its last working tensor core), served in the loader's order
(:attr:`~eie_sim.engines.stc.common.Plan.program`):

* ``load g``: starts at ``max(loader free, D_{g - slots})``, ends ``load_cycles[g]`` later;
* stage ``g`` on tensor core ``j`` with work ``u_j > 0``: starts at ``max(L_g, E_j)`` (the wait
  is stall), ends ``max(u_j, o_i(g))`` later; tensor cores without work skip the stage;
* ``write w``: starts at ``max(loader free, D_last(w) + mma_latency)``.

A working tensor core spends ``max(u_j, o_i(g))`` on the stage, ``o_i(g)`` the shared-memory
operand cycles of its SM ``i`` (the operand-path gate); the excess over ``u_j`` is stall.

The loop runs once per stage, over classes of tensor cores with identical work; the outputs
come from a blocked pass over the kept K slots that keeps the documented accumulation order
(:mod:`eie_sim.engines.stc.kernels`).
"""

from __future__ import annotations

import numpy as np

from eie_sim.engines.record import LayerRun
from eie_sim.engines.stc.common import MMA_COLS, MMA_ROWS, Operands, Plan
from eie_sim.engines.stc.kernels import csr_of_dense, sequential_gemm
from eie_sim.engines.stc.reference import add_bias, int8_gemm


def _classes(plan: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tensor cores with the same work and the same operand gate in every wave have the same
    history: ``(class of each tensor core, fragments (C, W), operand cycles (C, W, U))``."""
    n_tc = plan.sms * plan.tcs
    frags = plan.wave_frags.transpose(1, 2, 0).reshape(n_tc, plan.waves)
    gate = np.repeat(plan.wave_operand_cycles.transpose(1, 0, 2), plan.tcs, axis=0)
    key = np.concatenate([frags, gate.reshape(n_tc, -1)], axis=1)
    uniq, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1), frags[first], gate[first]


def schedule(plan: Plan) -> tuple[int, list[int], np.ndarray, np.ndarray]:
    """``(cycles, wave write-back ends, busy, stall)`` of ``plan``; per tensor core arrays.

    A working tensor core spends ``max(u, o)`` on a stage: ``u`` its MMA cycles (busy), ``o``
    its SM's shared-memory operand cycles (``Plan.operand_cycles``); ``max(u, o) - u`` is
    stall, like the wait for the stage's arrival. The recurrence runs over classes of
    identical tensor cores (Python integers: exact, and fast for a big GEMM's many stages)."""
    cls, frags, gate = _classes(plan)
    n_cls = frags.shape[0]
    frags_l, gate_l = frags.T.tolist(), gate.transpose(1, 0, 2).tolist()  # [w][c], [w][c][u]
    ksteps = plan.stage_ksteps.tolist()
    ks_index = plan.stage_ks_index.tolist()
    mma = plan.mma_cycles
    prev_end = [0] * n_cls
    busy = [0] * n_cls
    stall = [0] * n_cls
    load_end = [0] * plan.stages
    done = [0] * plan.stages
    computed = 0
    s_per_wave = plan.stages_per_wave

    def compute_through(h: int) -> None:
        nonlocal computed
        while computed <= h:
            g = computed
            w, s = divmod(g, s_per_wave)
            per_frag = ksteps[s] * mma
            u_idx = ks_index[s]
            arrive = load_end[g]
            fw, gw = frags_l[w], gate_l[w]
            last = 0
            for c in range(n_cls):
                f = fw[c]
                if not f:
                    continue
                work = f * per_frag
                span = max(work, gw[c][u_idx])
                p = prev_end[c]
                start = arrive if arrive > p else p
                stall[c] += start - p + span - work
                busy[c] += work
                end = start + span
                prev_end[c] = end
                if end > last:
                    last = end
            done[g] = last
            computed += 1

    free = 0
    wave_end = [0] * plan.waves
    for kind, i in plan.program:
        if kind == "load":
            gate_end = 0
            if i >= plan.slots:
                compute_through(i - plan.slots)
                gate_end = done[i - plan.slots]
            load_end[i] = max(free, gate_end) + plan.load_cycles[i]
            free = load_end[i]
        else:
            last = plan.last_stage(i)
            compute_through(last)
            free = max(free, done[last] + plan.mma_latency) + plan.write_cycles[i]
            wave_end[i] = free
    compute_through(plan.stages - 1)
    return (free, wave_end, np.asarray(busy, dtype=np.int64)[cls],
            np.asarray(stall, dtype=np.int64)[cls])


def counters(plan: Plan) -> dict[str, int]:
    """Every counter of :data:`~eie_sim.engines.stc.common.COUNTERS`, in closed form."""
    dt, other = ("fp16", "int8") if plan.value_bytes == 2 else ("int8", "fp16")
    lanes = MMA_ROWS * MMA_COLS
    mma = int(plan.wave_frags.sum()) * int(plan.stage_ksteps.sum())
    mac = plan.rows * plan.batch * plan.real_slots_per_row
    fragments = int((plan.tile_rtiles * plan.tile_ctiles).sum())
    return {
        "dram.weight_read_bytes": int(plan.dram_weight_bytes.sum()),
        "dram.metadata_read_bytes": int(plan.dram_metadata_bytes.sum()),
        "dram.act_read_bytes": int(plan.dram_act_bytes.sum()),
        "dram.write_bytes": int(plan.write_bytes.sum()),
        "dram.bias_read_bytes": int(plan.bias_bytes.sum()),
        "weight_sram.weight_read_bytes": int(plan.sram_weight_bytes.sum()),
        "weight_sram.metadata_read_bytes": int(plan.sram_metadata_bytes.sum()),
        "smem.write_bytes": int(plan.smem_write_bytes.sum()),
        "smem.read_bytes": int(plan.tile_smem_read_bytes.sum()) * int(plan.stage_ksteps.sum()),
        "tc.mma": mma,
        f"tc.{dt}_mac": mac,
        f"tc.{other}_mac": 0,
        f"tc.{dt}_padding_mac": mma * lanes * plan.k_kept - mac,
        f"tc.{other}_padding_mac": 0,
        "tc.metadata_select": mma * MMA_ROWS * plan.k_kept if plan.sparse else 0,
        "rf.accumulator.read": lanes * (mma + fragments),
        "rf.accumulator.write": lanes * mma,
        "epilogue.bias_add": plan.rows * plan.batch if plan.bias_bytes.any() else 0,
    }


def outputs(plan: Plan, ops: Operands) -> np.ndarray:
    """``W . X`` over the stored K slots (the metadata gives each kept value's input), skipping
    zero weights (explicit zeros of under-full groups, the dense twin's pruned weights: a zero
    adds nothing), by the documented rule:
    :func:`~eie_sim.engines.stc.kernels.sequential_gemm` (fp16), or exact float64 sums
    wrapped to int32 (int8, :func:`~eie_sim.engines.stc.reference.int8_gemm`)."""
    rows, batch = plan.rows, plan.batch
    vals = ops.values[:rows]
    x = ops.x[:, :batch]
    if vals.dtype == np.int8:
        if ops.columns is None:
            dense = vals
        else:
            dense = np.zeros((rows, plan.k_padded), dtype=np.int8)
            np.put_along_axis(dense, ops.columns[:rows], vals, axis=1)
        return add_bias(int8_gemm(dense, x), ops.bias)
    if ops.columns is None:
        indptr, indices, data = csr_of_dense(vals)
    else:  # the stored slots in order, less the explicit zeros (they add nothing)
        indptr, indices, data = csr_of_dense(vals, ops.columns[:rows])
    return add_bias(sequential_gemm(indptr, indices, data, x), ops.bias)


def run_layer(plan: Plan, ops: Operands | None) -> LayerRun:
    """Simulate the GEMM of ``plan`` on the operands ``ops`` (see :func:`common.operands`);
    ``ops=None``: timing and counters only, no output values (an empty ``outputs``)."""
    cycles, wave_end, busy, stall = schedule(plan)
    ends = [0, *wave_end]
    return LayerRun(
        cycles=cycles,
        segment_cycles=[b - a for a, b in zip(ends, ends[1:], strict=False)],
        counts=counters(plan),
        unit_busy=busy,
        unit_stall=stall,
        unit_idle=cycles - busy - stall,
        outputs=outputs(plan, ops) if ops is not None else np.zeros(0, dtype=np.float32),
    )
