"""ESE's vectorised engine: the same model as the SimPy engine, as max-plus arithmetic.

Two facts make it short (docs/ESE_MODEL.md §Timing):

* every input element is broadcast (LSTM activations are dense), so the timing of an SpMV phase
  depends only on where the non-zeros are, never on the values: each phase's schedule is
  solved once (:func:`spmv_schedule`, EIE's broadcast recurrence) and reused for every step
  and every channel (the channels share one weight stream and run in lockstep);
* the scheduler's rules are then a scalar recurrence over the phase executions
  (:func:`timeline`).

The values are computed for all utterances at once from the PE encoding (each PE's real
entries), phase by phase, with the element-wise unit's fixed-point rules; the SpMVs run in the
compiled loops when they were built (:func:`eie_sim.accel.rounded_spmv`), else in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie_sim import accel
from eie_sim.config import ESEConfig
from eie_sim.engines.ese.common import ESEState, PhaseEncoding, PhasePlan
from eie_sim.engines.ese.counters import zero_counts
from eie_sim.engines.pe_array.recurrence import broadcast_recurrence, first_attempts
from eie_sim.engines.pe_array.timing import ISSUE_TO_WRITE, POP_TO_ISSUE
from eie_sim.engines.record import LayerRun
from eie_sim.formats.fixed_point import round_shift
from eie_sim.workloads.lstm import GATES, CellState, element_wise, phase_input


@dataclass(frozen=True)
class SpmvTiming:
    """One SpMV phase of one channel, from its cycle 0.

    Attributes
    ----------
    cycles : int
        Cycles from the phase's start to one past its last accumulator write (or last pop).
    busy, stall : numpy.ndarray of int64, shape (N,)
        Per-PE issue cycles and cycles held back by a full queue elsewhere.
    ccu_stall : int
        Cycles the broadcasts waited for a full queue.
    """

    cycles: int
    busy: np.ndarray
    stall: np.ndarray
    ccu_stall: int


def spmv_schedule(work: np.ndarray, writes: np.ndarray, capacity: int) -> SpmvTiming:
    """EIE's broadcast recurrence for one phase (broadcast ``b`` of ``B``, PE ``k``):
    attempt ``T_b = P_{b-1} + 1`` (``P_{-1} = 0``); push ``P_b = max(T_b, max_k S_k(b - C))``;
    issue ``S_k(b) = max(F_k(b-1) + 1, P_b + 2)``, ``F_k(b) = S_k(b) + W_k(b) - 1``
    (:func:`~eie_sim.engines.pe_array.recurrence.broadcast_recurrence`, one pass, no scan
    advances). The phase ends at ``max(P_last, last write + ISSUE_TO_WRITE, last pop)``."""
    n, b_total = work.shape
    if b_total == 0:
        return SpmvTiming(1, np.zeros(n, np.int64), np.zeros(n, np.int64), 0)
    adv = np.zeros(b_total, dtype=np.int64)
    push, first, last, held = broadcast_recurrence(work[None], adv, capacity, None)
    ccu_stall = int((push - first_attempts(push, adv)).sum())
    push, first, last = push[0], first[0], last[0]
    last_write = int(last[writes].max()) + ISSUE_TO_WRITE if writes.any() else -1
    done = max(int(push[-1]), last_write, int(first[:, -1].max()) - POP_TO_ISSUE)
    busy = work.sum(axis=1) - np.maximum(last[:, -1] - done, 0)
    return SpmvTiming(done + 1, busy.astype(np.int64), held[0], ccu_stall)


@dataclass(frozen=True)
class Timeline:
    """When each phase execution ``q`` (step ``q // phases``, phase ``q % phases``) loads,
    computes and hands its accumulators to the element-wise unit (absolute cycles, ends
    exclusive)."""

    load_end: np.ndarray
    spmv_start: np.ndarray
    spmv_end: np.ndarray
    ewu_end: np.ndarray


def timeline(plans: tuple[PhasePlan, ...], spmv: list[int], steps: int) -> Timeline:
    """The scheduler's rules (docs/ESE_MODEL.md §Scheduler) as a scalar recurrence:

    * load ``q`` starts when load ``q - 1`` is done and SpMV ``q - 2`` has freed its buffer;
    * SpMV ``q`` starts when SpMV ``q - 1`` is done, its weights are loaded, element-wise task
      ``q - 2`` has freed its accumulator bank and its input is ready (a gate: the previous
      step's last element-wise task wrote ``y``; the projection: task ``o`` wrote ``m``);
    * element-wise task ``q`` starts when SpMV ``q`` is done and task ``q - 1`` is done.
    """
    phases = len(plans)
    total = steps * phases
    load_end = np.zeros(total, dtype=np.int64)
    start = np.zeros(total, dtype=np.int64)
    end = np.zeros(total, dtype=np.int64)
    ewu_end = np.zeros(total, dtype=np.int64)
    for q in range(total):
        p, s = q % phases, q // phases
        plan = plans[p]
        free = int(end[q - 2]) if q >= 2 else 0
        load_end[q] = max(int(load_end[q - 1]) if q else 0, free) + plan.load_cycles
        if plan.enc.name in GATES:
            ready = int(ewu_end[s * phases - 1]) if s else 0
        else:
            ready = int(ewu_end[q - 1])
        start[q] = max(int(end[q - 1]) if q else 0, int(load_end[q]), ready,
                       int(ewu_end[q - 2]) if q >= 2 else 0)
        end[q] = start[q] + spmv[p]
        ewu_end[q] = max(int(end[q]), int(ewu_end[q - 1]) if q else 0) + plan.ewu_cycles
    return Timeline(load_end, start, end, ewu_end)


def finish_counts(state: ESEState, per_exec: list[dict[str, int]], stalls: list[int]) -> dict:
    """Counters of the whole run from one execution's counts per active channel."""
    layer = state.layer
    counts = zero_counts()
    channel_steps = layer.steps * sum(state.active)
    for plan, ch_counts, stall in zip(state.plans, per_exec, stalls, strict=True):
        for name, v in ch_counts.items():
            counts[name] += v * channel_steps
        for name, v in plan.buffer_writes.items():
            counts[name] += v * channel_steps
        counts["ccu.stall"] += stall * channel_steps
        counts["dram.read_bytes"] += plan.load_bytes * state.steps
    io_steps = state.utterances * layer.steps
    counts["dram.act_read_bytes"] += 2 * layer.n_in * io_steps
    counts["act_buffer.write"] += layer.n_in * io_steps
    counts["dram.write_bytes"] += 2 * layer.n_out * io_steps
    counts["act_buffer.read"] += layer.n_out * io_steps
    return {k: int(v) for k, v in counts.items()}


def details(state: ESEState, spmv: list[int]) -> dict:
    """The figures declared in the registry record (the same in both engines)."""
    layer = state.layer
    names = [p.enc.name for p in state.plans]
    return {
        "utterances": state.utterances,
        "rounds": state.rounds,
        "steps": layer.steps,
        "spmv_cycles": dict(zip(names, spmv, strict=True)),
        "load_cycles": {p.enc.name: p.load_cycles for p in state.plans},
        "ewu_cycles": {p.enc.name: p.ewu_cycles for p in state.plans},
        "sparse_ops_per_step": 2 * layer.sparse_macs_per_step,
        "dense_ops_per_step": 2 * layer.dense_macs_per_step,
    }


def _spmv(enc: PhaseEncoding):
    """The phase's SpMV from its PE entries: a function of the input ``a`` (int16, (n_cols,
    batch)) returning every row's accumulator (int64, (rows, batch)); the compiled loops, or
    numpy on the entries sorted by row once."""
    if accel.kernels() is not None:
        return lambda a: accel.rounded_spmv(enc.rows, enc.cols, enc.vals, a, enc.frac_bits,
                                            enc.n_rows)
    order = np.argsort(enc.rows, kind="stable")
    rows, cols, vals = enc.rows[order], enc.cols[order], enc.vals.astype(np.int64)[order, None]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if rows.size else rows

    def spmv(a: np.ndarray) -> np.ndarray:
        out = np.zeros((enc.n_rows, a.shape[1]), dtype=np.int64)
        if rows.size:
            prod = round_shift(vals * a[cols].astype(np.int64), enc.frac_bits)
            out[rows[starts]] = np.add.reduceat(prod, starts, axis=0)
        return out

    return spmv


def values(state: ESEState, x: np.ndarray) -> np.ndarray:
    """y_t of every utterance and step, int16 (R, utterances * steps)."""
    layer = state.layer
    t_steps, u = layer.steps, state.utterances
    xs = np.asarray(x).reshape(layer.n_in, u, t_steps)
    spmvs = [(plan.enc.name, _spmv(plan.enc)) for plan in state.plans]
    st = CellState.zeros(layer, u)
    out = np.zeros((layer.n_out, u, t_steps), dtype=np.int16)
    for t in range(t_steps):
        for name, spmv in spmvs:
            element_wise(layer, name, spmv(phase_input(layer, name, xs[:, :, t], st)), st)
        out[:, :, t] = st.y
    return out.reshape(layer.n_out, u * t_steps)


def run_layer(state: ESEState, x: np.ndarray, config: ESEConfig, progress=None,
              with_values: bool = True) -> LayerRun:
    """Simulate the LSTM layer on ``config``: cycles, counters, per-PE cycles, outputs."""
    layer = state.layer
    timings = [spmv_schedule(p.work, p.enc.real > 0, config.queue_capacity)
               for p in state.plans]
    spmv = [t.cycles for t in timings]
    tl = timeline(state.plans, spmv, state.steps)
    phases = len(state.plans)
    cycles = int(tl.ewu_end[-1])
    step_end = tl.ewu_end[phases - 1 :: phases]
    segments = [int(v) for v in np.diff(np.r_[0, step_end])]
    counts = finish_counts(state, [p.channel_counts for p in state.plans],
                           [t.ccu_stall for t in timings])
    n, c = config.num_pes, config.channels
    busy = np.zeros((c, n), dtype=np.int64)
    stall = np.zeros((c, n), dtype=np.int64)
    busy_step = sum(t.busy for t in timings)
    stall_step = sum(t.stall for t in timings)
    for active in state.active:
        busy[:active] += layer.steps * busy_step
        stall[:active] += layer.steps * stall_step
    busy, stall = busy.ravel(), stall.ravel()
    if progress is not None:
        for _ in range(state.steps):
            for p in state.plans:
                progress(p.enc.n_cols)
    outputs = values(state, x) if with_values else np.zeros((layer.n_out, 0), np.int16)
    return LayerRun(cycles=cycles, segment_cycles=segments, counts=counts, unit_busy=busy,
                    unit_stall=stall, unit_idle=cycles - busy - stall, outputs=outputs,
                    details=details(state, spmv))
