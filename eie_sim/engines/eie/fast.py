"""The vectorised EIE engine: the cycle model of docs/MODEL.md as a max-plus recurrence.

For broadcast ``b`` (in scan order) of a pass, with ``C`` the queue capacity:

* ``T_b = P_{b-1} + 1 + adv_b``: the cycle the CCU first tries it (``adv_b`` = LNZD advance
  and batch-swap cycles since the previous broadcast; ``P_{-1} = 0``);
* ``P_b = max(T_b, max_k S_k(b - C))``: the push waits until every PE has popped broadcast
  ``b - C`` (it pops in cycle ``S_k - 1``; the slot is free one cycle later);
* ``S_k(b) = max(F_k(b-1) + 1, P_b + 2)``, ``F_k(b) = S_k(b) + W_k(b) - 1``: first and last issue
  cycle of PE ``k``, with ``W = max(1, entries)``.

Within a chunk of ``C`` consecutive broadcasts the ``P`` and ``F`` recurrences are prefix maxima
(``np.maximum.accumulate``), so the Python loop runs ``B / C`` times, each step vectorised over
all passes and PEs. Passes are independent (each starts from cycle 0), so they are one more
array axis. Counters and the output vector are computed in bulk from the encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie_sim.config import EIEConfig
from eie_sim.engines.eie.common import (
    ISSUE_TO_WRITE,
    POP_TO_ISSUE,
    QUEUE_VISIBLE_DELAY,
    SCAN_START_CYCLE,
    LayerRun,
    slice_bytes,
    slice_rows,
    zero_counts,
)
from eie_sim.formats.fixed_point import accumulate_saturating, round_shift
from eie_sim.formats.interleaved_csc import InterleavedCSC, decode_rows
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import broadcast_mask

PUSH_TO_ISSUE = QUEUE_VISIBLE_DELAY + POP_TO_ISSUE


def scan_schedule(x: np.ndarray, config: EIEConfig, has_bias: bool, n_in: int):
    """Broadcast columns and the non-broadcast cycles before each, for one pass.

    Returns ``(columns, adv, tail, advance_cycles)``: ``adv[b]`` extra cycles between broadcast
    ``b-1``'s slot and ``b``'s, ``tail`` extra cycles after the last broadcast (or all scan
    cycles when nothing is broadcast), ``advance_cycles`` the LNZD advance cycles.
    """
    n = config.num_pes
    groups = -(-n_in // n)
    mask = np.zeros(groups * n, dtype=bool)
    mask[:n_in] = broadcast_mask(x, config.input_relu)
    mask = mask.reshape(groups, n)
    advance = (~mask[:, -1]).astype(np.int64)  # last lane zero -> one cycle to move on
    swap = np.zeros(groups, dtype=np.int64)
    per_batch = config.act_regfile_entries  # groups per source-register-file batch
    swap[per_batch::per_batch] = config.batch_swap_cycles
    # Extra cycles elapsed before group g's first selection.
    before = np.cumsum(swap) + np.concatenate([[0], np.cumsum(advance)[:-1]])
    g_of_b, lane = np.nonzero(mask)
    columns = g_of_b * n + lane
    extra = before[g_of_b]
    total_extra = int(advance.sum() + swap.sum())
    if has_bias:
        columns = np.append(columns, n_in)
        extra = np.append(extra, total_extra)
    adv = np.diff(extra, prepend=0)
    tail = total_extra - (int(extra[-1]) if extra.size else 0)
    return columns.astype(np.int64), adv, tail, int(advance.sum())


def broadcast_recurrence(
    work: np.ndarray, adv: np.ndarray, capacity: int, ready: np.ndarray | None
):
    """Push cycles ``P`` (passes, B) and first/last issue cycles ``S``, ``F`` (passes, N, B).

    ``ready`` (passes, B), if given, is the first cycle each broadcast's weights can issue
    (DRAM stream): ``S = max(F + 1, P + 2, ready)``.
    """
    passes, n, b_total = work.shape
    push = np.empty((passes, b_total), dtype=np.int64)
    first = np.empty((passes, n, b_total), dtype=np.int64)
    last = np.empty((passes, n, b_total), dtype=np.int64)
    p_prev = np.zeros(passes, dtype=np.int64)
    f_prev = np.full((passes, n), -1, dtype=np.int64)
    for lo in range(0, b_total, capacity):
        hi = min(lo + capacity, b_total)
        a = np.cumsum(1 + adv[lo:hi])  # (L,)
        if lo >= capacity:  # queue-full constraint from broadcast b - C
            gate = first[:, :, lo - capacity : hi - capacity].max(axis=1)  # (passes, L)
            p = a + np.maximum(p_prev[:, None], np.maximum.accumulate(gate - a, axis=1))
        else:
            p = a + p_prev[:, None]
        w = work[:, :, lo:hi]
        u = np.cumsum(w, axis=2)
        u_before = u - w
        earliest = p + PUSH_TO_ISSUE
        if ready is not None:
            earliest = np.maximum(earliest, ready[:, lo:hi])
        h = np.maximum(
            f_prev[:, :, None], np.maximum.accumulate(earliest[:, None, :] - 1 - u_before, axis=2)
        )
        f = h + u
        push[:, lo:hi] = p
        last[:, :, lo:hi] = f
        first[:, :, lo:hi] = f - w + 1
        p_prev, f_prev = p[:, -1], f[:, :, -1]
    return push, first, last


@dataclass
class Schedule:
    """Cycle-level outcome of one layer's broadcasts (all passes).

    ``first``/``last`` (passes, N, B): issue cycles; ``done`` (passes,): last cycle of each pass;
    ``busy``/``stall`` (N,): per-PE cycles; ``ccu_stall``: broadcast hold cycles.
    """

    first: np.ndarray
    last: np.ndarray
    done: np.ndarray
    busy: np.ndarray
    stall: np.ndarray
    ccu_stall: int


def schedule(
    work: np.ndarray, adv: np.ndarray, tail: int, capacity: int, ready: np.ndarray | None
) -> Schedule:
    """Run the recurrence and derive pass ends and per-PE busy / stall cycles."""
    passes, n, _ = work.shape
    push, first, last = broadcast_recurrence(work, adv, capacity, ready)
    attempt = np.concatenate([np.zeros((passes, 1), np.int64), push[:, :-1]], axis=1)
    attempt = attempt + 1 + adv[None, :]
    done = np.maximum(push[:, -1] + tail, last[:, :, -1].max(axis=1) + ISSUE_TO_WRITE)
    f_before = np.concatenate([np.full((passes, n, 1), -1, np.int64), last[:, :, :-1]], axis=2)
    unblocked = np.maximum(f_before + 1, attempt[:, None, :] + PUSH_TO_ISSUE)
    held = np.maximum(f_before + 1, push[:, None, :] + PUSH_TO_ISSUE)
    return Schedule(
        first=first,
        last=last,
        done=done,
        busy=work.sum(axis=(0, 2)),
        stall=(held - unblocked).sum(axis=(0, 2)),
        ccu_stall=int((push - attempt).sum()),
    )


def stream_ready(per_column_bytes: np.ndarray, bytes_per_cycle: float) -> tuple[np.ndarray, int]:
    """Ready cycles (passes, B) of a DRAM stream of ``per_column_bytes`` (passes, B), and bytes."""
    fetched = np.cumsum(per_column_bytes, axis=1)
    ready = np.ceil(fetched / bytes_per_cycle).astype(np.int64) + 1
    return ready, int(fetched[:, -1].sum())


def _outputs(
    layer: QuantizedLayer,
    x: np.ndarray,
    enc: InterleavedCSC,
    rows: np.ndarray,
    cols: np.ndarray,
    active_col: np.ndarray,
) -> np.ndarray:
    """Output vector from the encoded entries (decoded rows, codebooks, broadcast columns)."""
    take = (enc.v != 0) & active_col[cols]
    r, c, v = rows[take], cols[take], enc.v[take].astype(np.int64)
    act = np.zeros(enc.n_cols, dtype=np.int64)
    act[: layer.n_in] = x
    weights = layer.codebook.astype(np.int64)[v]
    if layer.has_bias:
        act[layer.n_in] = layer.bias_activation()
        is_bias = c == layer.n_in
        weights[is_bias] = layer.bias_codebook.astype(np.int64)[v[is_bias]]
    prod = round_shift(weights * act[c], layer.weight_frac_bits)
    return accumulate_saturating(r, c, prod, layer.n_out)


def run_layer(
    layer: QuantizedLayer, x: np.ndarray, config: EIEConfig, enc: InterleavedCSC, progress=None
) -> LayerRun:
    """Simulate ``layer`` on input ``x`` (int16); ``enc`` is its encoding for ``config``."""
    n, passes, n_cols = config.num_pes, enc.passes, enc.n_cols
    counts = zero_counts()
    columns, adv, tail, advance_cycles = scan_schedule(x, config, layer.has_bias, layer.n_in)
    b_total = columns.size
    entries = enc.entry_counts()  # (N, passes, n_cols)
    start_addr = enc.ptr[:, :-1].reshape(n, passes, n_cols)

    # Per-entry decoding (rows) and per-slice padding / first-entry facts.
    rows, cols = decode_rows(enc)
    pad = np.bincount(
        np.repeat(np.arange(n * passes * n_cols), entries.reshape(-1)),
        weights=(enc.v == 0),
        minlength=n * passes * n_cols,
    )
    pad = pad.astype(np.int64).reshape(n, passes, n_cols)

    if b_total:
        e_b = entries[:, :, columns].transpose(1, 0, 2)  # (passes, N, B)
        work = np.maximum(e_b, 1)
        ready = None
        if config.weights_from == "dram":
            ready, counts["dram.read_bytes"] = stream_ready(
                slice_bytes(e_b, config.entry_bits).sum(axis=1), config.dram_bytes_per_cycle
            )
            counts["pe.spmat_sram.write"] = int(
                slice_rows(e_b, config.entry_bits, config.spmat_sram_width_bits).sum()
            )
        sched = schedule(work, adv, tail, config.queue_capacity, ready)
        first, last, done, stall, busy = (
            sched.first,
            sched.last,
            sched.done,
            sched.stall,
            sched.busy,
        )
        counts["ccu.stall"] = sched.ccu_stall
    else:
        done = np.full(passes, SCAN_START_CYCLE - 1 + tail, dtype=np.int64)
        stall = busy = np.zeros(n, dtype=np.int64)
        e_b = np.zeros((passes, n, 0), dtype=np.int64)

    pass_cycles = (done + 1).tolist()
    cycles = int(sum(pass_cycles)) + (passes - 1) * config.batch_swap_cycles
    idle = cycles - busy - stall

    # ---- counters
    spill_in = layer.n_in > n * config.act_regfile_entries
    counts["ccu.broadcast"] = passes * b_total
    counts["lnzd.select"] = passes * (b_total - int(layer.has_bias))
    counts["lnzd.advance"] = passes * advance_cycles
    counts["pe.src_regfile.read"] = passes * layer.n_in
    counts["pe.src_regfile.write"] = counts["pe.act_sram.read"] = passes * layer.n_in * spill_in
    counts["pe.act_queue.push"] = counts["pe.act_queue.pop"] = passes * b_total * n
    counts["pe.ptr_sram.read"] = 2 * passes * b_total * n
    lookups = int(e_b.sum())
    padding = int(pad[:, :, columns].sum()) if b_total else 0
    macs = lookups - padding
    counts["pe.weight_decoder.lookup"] = lookups
    counts["pe.arith.padding"] = padding
    counts["pe.arith.mac"] = macs
    counts["pe.dest_regfile.write"] = macs
    stored = layer.n_out if passes > 1 else 0
    counts["pe.act_sram.write"] = stored

    bypass = 0
    spmat_reads = 0
    if b_total:
        # Sparse-matrix SRAM rows: per PE, distinct rows over its slices in processing order.
        epr = config.entries_per_sram_row
        s = start_addr[:, :, columns]  # (N, passes, B)
        e = e_b.transpose(1, 0, 2)
        nonempty = e > 0
        k_idx = np.broadcast_to(np.arange(n)[:, None, None], s.shape)[nonempty]
        r0 = (s // epr)[nonempty]
        r1 = ((s + e - 1) // epr)[nonempty]
        spmat_reads = int((r1 - r0 + 1).sum())
        spmat_reads -= int(np.sum((k_idx[1:] == k_idx[:-1]) & (r0[1:] == r1[:-1])))
        # Bypass: last entry of b-1 and first entry of b hit the same row on adjacent cycles.
        if b_total > 1:
            first_pos = s + enc.pe_offset[:-1, None, None]
            last_pos = first_pos + e - 1
            both = nonempty[:, :, 1:] & nonempty[:, :, :-1]
            fp = first_pos[:, :, 1:][both]
            lp = last_pos[:, :, :-1][both]
            first_k, last_k = first.transpose(1, 0, 2), last.transpose(1, 0, 2)
            adjacent = first_k[:, :, 1:] == last_k[:, :, :-1] + 1
            bypass = int(np.sum(adjacent[both] & (enc.v[fp] != 0) & (rows[fp] == rows[lp])))
    counts["pe.spmat_sram.read"] = spmat_reads
    counts["pe.arith.bypass"] = bypass
    counts["pe.dest_regfile.read"] = macs - bypass + stored

    active_col = np.zeros(n_cols, dtype=bool)
    active_col[columns] = True
    outputs = _outputs(layer, x.astype(np.int64), enc, rows, cols, active_col)
    if progress is not None:
        progress(layer.n_in * passes)
    return LayerRun(
        cycles=cycles,
        pass_cycles=pass_cycles,
        counts=counts,
        pe_busy=busy.astype(np.int64),
        pe_stall=stall.astype(np.int64),
        pe_idle=idle.astype(np.int64),
        outputs=outputs,
    )
