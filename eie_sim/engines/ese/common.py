"""What both ESE engines share: the 12-bit interleaved CSC the PE buffers hold, the arithmetic of
the weight stream and of the element-wise unit, the static per-phase counts, the memory check.

Timing rules (docs/ESE_MODEL.md §Timing) are implemented twice, by the max-plus recurrence of
:mod:`~eie_sim.engines.ese.fast` and by the SimPy blocks of :mod:`~eie_sim.engines.ese.des`;
this module holds only the arithmetic both read (how many cycles a load or an element-wise task
takes, how many entries a column slice has).

Encoding (ESE §3, as EIE): PE ``k`` of ``N`` owns rows ``i`` with ``i mod N == k`` (local row
``i // N``); its slice of column ``j`` is a list of 16-bit entries ``(w, z)``: the 12-bit weight
and the zeros since the previous entry (``relative_index_bits`` = 4). A run longer than
``2**z - 1`` inserts a padding entry ``(0, 2**z - 1)``, which costs a cycle like a real one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eie_sim.config import ESEConfig
from eie_sim.errors import CapacityError
from eie_sim.workloads.lstm import GATES, PROJECTION, LSTMLayer, SparseMatrix

#: Width of one sparse-matrix buffer row, bits (EIE's 64-bit SRAM row; ESE silent).
SPMAT_ROW_BITS = 64


@dataclass(frozen=True, eq=False)
class PhaseEncoding:
    """One SpMV phase's matrix encoded for ``num_pes`` PEs.

    Attributes
    ----------
    name : str
        Phase (``i``, ``f``, ``c``, ``o``, ``y``).
    n_rows, n_cols : int
    frac_bits : int
        Fraction bits of the 12-bit weights.
    ptr : numpy.ndarray of int64, shape (N, n_cols + 1)
        Local entry address of the first entry of each column slice, per PE.
    w : numpy.ndarray of int16
        Entries' weights (0 for padding), PE-major (PE k from ``pe_offset[k]``).
    z : numpy.ndarray of uint8
        Entries' relative row indices.
    pe_offset : numpy.ndarray of int64, shape (N + 1,)
    real : numpy.ndarray of int64, shape (N, n_cols)
        Real (non-padding) entries of each column slice.
    rows, cols, vals : numpy.ndarray
        The real entries as (global row, column, weight), for the vectorised values.
    """

    name: str
    n_rows: int
    n_cols: int
    num_pes: int
    frac_bits: int
    ptr: np.ndarray
    w: np.ndarray
    z: np.ndarray
    pe_offset: np.ndarray
    real: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray

    def entries(self) -> np.ndarray:
        """Entries (padding included) of each column slice, shape (N, n_cols)."""
        return np.diff(self.ptr, axis=1)

    def entries_per_pe(self) -> np.ndarray:
        return np.diff(self.pe_offset)

    def rows_owned(self) -> np.ndarray:
        """Rows (accumulators) of each PE, shape (N,)."""
        n = self.num_pes
        return np.array([len(range(k, self.n_rows, n)) for k in range(n)], dtype=np.int64)


def encode_phase(m: SparseMatrix, num_pes: int, relative_index_bits: int) -> PhaseEncoding:
    """Encode ``m`` into per-PE column slices with padding (vectorised; memory ~ non-zeros)."""
    n, k_cols = num_pes, m.n_cols
    span = 1 << relative_index_bits
    cols = m.entry_cols
    local, pe = np.divmod(m.row_idx.astype(np.int64), n)
    order = np.argsort(pe, kind="stable")  # keeps (column, row) order inside a PE
    pe, local, cols = pe[order], local[order], cols[order]
    vals, rows = m.values[order], m.row_idx[order]
    seg = pe * k_cols + cols
    prev = np.full(seg.size, -1, dtype=np.int64)
    same = np.zeros(seg.size, dtype=bool)
    if seg.size:
        same[1:] = seg[1:] == seg[:-1]
        prev[1:] = np.where(same[1:], local[:-1], -1)
    npad, zreal = np.divmod(local - prev - 1, span)
    real = np.bincount(seg, minlength=n * k_cols).reshape(n, k_cols)
    pads = np.bincount(seg, weights=npad, minlength=n * k_cols).astype(np.int64)
    per_slice = real + pads.reshape(n, k_cols)
    ptr = np.zeros((n, k_cols + 1), dtype=np.int64)
    np.cumsum(per_slice, axis=1, out=ptr[:, 1:])
    pe_offset = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(ptr[:, -1], out=pe_offset[1:])
    total = int(pe_offset[-1])
    w = np.zeros(total, dtype=np.int16)
    z = np.full(total, span - 1, dtype=np.uint8)
    pos = np.cumsum(npad + 1) - 1  # each real entry after all earlier entries and its padding
    w[pos] = vals
    z[pos] = zreal.astype(np.uint8)
    return PhaseEncoding(name=m.name, n_rows=m.n_rows, n_cols=k_cols, num_pes=n,
                         frac_bits=m.frac_bits, ptr=ptr, w=w, z=z, pe_offset=pe_offset,
                         real=real.astype(np.int64), rows=rows.astype(np.int64), cols=cols,
                         vals=vals)


# --------------------------------------------------------------------------- static plan
@dataclass(frozen=True, eq=False)
class PhasePlan:
    """What one execution of a phase costs, independent of when it runs.

    Attributes
    ----------
    enc : PhaseEncoding
    work : numpy.ndarray of int64, shape (N, n_cols)
        Cycles each broadcast occupies each PE: ``max(1, entries)``.
    load_bytes : int
        Weight and pointer bytes the DRAM stream moves for this phase (all PEs).
    load_cycles : int
        ``ceil(load_bytes / bytes per cycle)``.
    ewu_cycles : int
        The element-wise task after it: ``ceil(rows / lanes) + latency``.
    channel_counts : dict
        Counters of one execution in one active channel (SpMV and element-wise unit).
    stream_counts : dict
        Counters of one load, per active channel (buffer writes) and shared (DRAM).
    """

    enc: PhaseEncoding
    work: np.ndarray
    load_bytes: int
    load_cycles: int
    ewu_cycles: int
    channel_counts: dict[str, int]
    buffer_writes: dict[str, int]


def spmat_rows(entries: np.ndarray, config: ESEConfig) -> np.ndarray:
    """64-bit buffer rows holding ``entries`` consecutive entries (from a row boundary)."""
    per_row = SPMAT_ROW_BITS // config.entry_bits
    return -(-np.asarray(entries, dtype=np.int64) // per_row)


def load_bytes(enc: PhaseEncoding, config: ESEConfig) -> int:
    """Bytes of one phase's weights and pointers in DRAM: each PE's entries and its
    ``n_cols + 1`` pointers, each rounded up to whole bytes."""
    entries = enc.entries_per_pe()
    spmat = -(-entries * config.entry_bits // 8)
    ptrs = -(-(enc.n_cols + 1) * config.ptr_bits // 8)
    return int(spmat.sum() + ptrs * enc.num_pes)


def ewu_ops(layer: LSTMLayer, phase: str) -> dict[str, int]:
    """Element-wise unit operations (and activation-buffer and accumulator accesses) of the
    task after ``phase``, per element (row) of the phase's output."""
    peep = layer.peep is not None
    if phase == PROJECTION:
        return {"ewu.lookup": 0, "ewu.mult": 0, "ewu.add": 0, "act_buffer.read": 0,
                "act_buffer.write": 1}
    if phase in ("i", "f"):
        return {"ewu.lookup": 1, "ewu.mult": int(peep), "ewu.add": 1 + int(peep),
                "act_buffer.read": int(peep), "act_buffer.write": 1}
    if phase == "c":
        return {"ewu.lookup": 1, "ewu.mult": 2, "ewu.add": 2, "act_buffer.read": 3,
                "act_buffer.write": 1}
    return {"ewu.lookup": 2, "ewu.mult": 1 + int(peep), "ewu.add": 1 + int(peep),
            "act_buffer.read": 1, "act_buffer.write": 1}


def ewu_task_cycles(rows: int, config: ESEConfig) -> int:
    """Cycles the element-wise unit spends on a task over ``rows`` elements."""
    return -(-rows // config.ewu_lanes) + config.ewu_latency_cycles


def load_cycles(nbytes: int, config: ESEConfig) -> int:
    """Cycles the DRAM stream needs for ``nbytes`` (exact rational bandwidth, rounded up)."""
    return math.ceil(nbytes / config.dram_bytes_per_cycle)


def plan_phase(layer: LSTMLayer, enc: PhaseEncoding, config: ESEConfig) -> PhasePlan:
    entries = enc.entries()
    n, k = entries.shape
    real = int(enc.real.sum())
    total = int(entries.sum())
    per_pe = enc.entries_per_pe()
    ops = ewu_ops(layer, enc.name)
    rows = enc.n_rows
    counts = {
        "ccu.broadcast": k,
        "act_buffer.read": k + ops["act_buffer.read"] * rows,
        "act_buffer.write": ops["act_buffer.write"] * rows,
        "pe.act_queue.push": n * k,
        "pe.act_queue.pop": n * k,
        "pe.ptr_buffer.read": 2 * n * k,
        "pe.spmat_buffer.read": int(spmat_rows(per_pe, config).sum()),
        "pe.arith.mac": real,
        "pe.arith.padding": total - real,
        "pe.accumulator.read": real + rows,
        "pe.accumulator.write": real,
        "ewu.lookup": ops["ewu.lookup"] * rows,
        "ewu.mult": ops["ewu.mult"] * rows,
        "ewu.add": ops["ewu.add"] * rows,
    }
    writes = {"pe.spmat_buffer.write": int(spmat_rows(per_pe, config).sum()),
              "pe.ptr_buffer.write": n * (k + 1)}
    nbytes = load_bytes(enc, config)
    return PhasePlan(enc=enc, work=np.maximum(entries, 1), load_bytes=nbytes,
                     load_cycles=load_cycles(nbytes, config),
                     ewu_cycles=ewu_task_cycles(rows, config), channel_counts=counts,
                     buffer_writes=writes)


# --------------------------------------------------------------------------- the prepared state
@dataclass(frozen=True, eq=False)
class ESEState:
    """What ``prepare`` hands the engines.

    Attributes
    ----------
    layer : LSTMLayer
    plans : tuple of PhasePlan
        One per phase, in the scheduler's order (i, f, c, o[, y]).
    utterances : int
        Sequences in the input.
    active : tuple of int
        Channels busy in each round (round r runs utterances r*C .. r*C + C - 1).
    """

    layer: LSTMLayer
    plans: tuple[PhasePlan, ...]
    utterances: int
    active: tuple[int, ...]

    @property
    def rounds(self) -> int:
        return len(self.active)

    @property
    def steps(self) -> int:
        """Steps run one after another: rounds x T."""
        return self.rounds * self.layer.steps


def prepare_state(layer: LSTMLayer, utterances: int, config: ESEConfig) -> ESEState:
    encs = [encode_phase(m, config.num_pes, config.relative_index_bits) for m in layer.phases]
    c = config.channels
    active = tuple(min(c, utterances - r * c) for r in range(-(-utterances // c)))
    return ESEState(layer=layer, plans=tuple(plan_phase(layer, e, config) for e in encs),
                    utterances=utterances, active=active)


@dataclass(frozen=True)
class MemoryUse:
    """Per-PE and per-channel storage the layer needs (bytes / words) against the config."""

    spmat_bytes_needed: int
    spmat_bytes_available: int
    ptr_bytes_needed: int
    ptr_bytes_available: int
    accumulators_needed: int
    accumulators_available: int
    act_buffer_bytes_needed: int
    act_buffer_bytes_available: int


def memory_use(state: ESEState, config: ESEConfig) -> MemoryUse:
    layer = state.layer
    spmat = max(int((-(-p.enc.entries_per_pe() * config.entry_bits // 8)).max(initial=0))
                for p in state.plans)
    ptr = max(-(-(p.enc.n_cols + 1) * config.ptr_bits // 8) for p in state.plans)
    acc = max(int(p.enc.rows_owned().max(initial=0)) for p in state.plans)
    # x_t, y (twice: y_{t-1} read while y_t is written), c, i, f, m: 16-bit words.
    words = layer.n_in + 2 * layer.n_out + 4 * layer.hidden
    return MemoryUse(spmat, config.spmat_buffer_bytes, ptr, config.ptr_buffer_bytes, acc,
                     config.accumulators_per_pe, 2 * words, config.act_buffer_bytes)


def check_capacity(layer: LSTMLayer, config: ESEConfig, mem: MemoryUse) -> None:
    """Refuse a layer whose largest phase does not fit a buffer half (with the numbers)."""
    for what, need, have, knob in (
        ("sparse-matrix buffer", mem.spmat_bytes_needed, mem.spmat_bytes_available,
         "spmat_buffer_bytes"),
        ("pointer buffer", mem.ptr_bytes_needed, mem.ptr_bytes_available, "ptr_buffer_bytes"),
        ("accumulator bank", mem.accumulators_needed, mem.accumulators_available,
         "accumulators_per_pe"),
        ("activation buffer", mem.act_buffer_bytes_needed, mem.act_buffer_bytes_available,
         "act_buffer_bytes"),
    ):
        if need > have:
            raise CapacityError(
                f"LSTM {layer.name!r}: the largest phase needs {need} of {what} "
                f"({'per channel' if what == 'activation buffer' else 'per PE'}) at "
                f"{config.num_pes} PEs per channel, {have} configured; allowed: more PEs or a "
                f"larger {knob}")


def geometry(config: ESEConfig) -> dict:
    """Instances and SRAM shapes of the ESE units, for pricing (buffers: two halves each)."""
    from eie_sim.energy import UnitGeometry as G

    pes = config.channels * config.num_pes
    return {
        "ccu": G(config.channels),
        "dram": G(1),
        "act_buffer": G(config.channels, config.act_buffer_bytes, 16),
        "ewu": G(config.channels),
        "pe.act_queue": G(pes),
        "pe.arith": G(pes),
        "pe.accumulator": G(pes),
        "pe.ptr_buffer": G(2 * pes, config.ptr_buffer_bytes, config.ptr_bits),
        "pe.spmat_buffer": G(2 * pes, config.spmat_buffer_bytes, SPMAT_ROW_BITS),
    }


def traffic_map(config: ESEConfig) -> dict[str, tuple[str, str, float]]:
    """counter -> (memory level, 'read' | 'write', bytes per count)."""
    row = SPMAT_ROW_BITS / 8
    return {
        "dram.read_bytes": ("dram", "read", 1),
        "dram.act_read_bytes": ("dram", "read", 1),
        "dram.write_bytes": ("dram", "write", 1),
        "pe.spmat_buffer.read": ("spmat_buffer", "read", row),
        "pe.spmat_buffer.write": ("spmat_buffer", "write", row),
        "pe.ptr_buffer.read": ("ptr_buffer", "read", config.ptr_bits / 8),
        "pe.ptr_buffer.write": ("ptr_buffer", "write", config.ptr_bits / 8),
        "act_buffer.read": ("act_buffer", "read", 2),
        "act_buffer.write": ("act_buffer", "write", 2),
        "pe.accumulator.read": ("accumulator", "read", 5),
        "pe.accumulator.write": ("accumulator", "write", 5),
        "pe.act_queue.push": ("act_queue", "write", 4),
        "pe.act_queue.pop": ("act_queue", "read", 4),
    }


#: The phases' order within a step (the scheduler's state order).
PHASE_ORDER = (*GATES, PROJECTION)
