"""The vectorised EIE engine: the cycle model of docs/MODEL.md as a max-plus recurrence.

For broadcast ``b`` (in scan order) of a pass, with ``C`` the queue capacity:

* ``T_b = P_{b-1} + 1 + adv_b``: the cycle the CCU first tries it (``adv_b`` = LNZD advance
  and batch-swap cycles since the previous broadcast; ``P_{-1} = 0``);
* ``P_b = max(T_b, max_k S_k(b - C))``: the push waits until every PE has popped broadcast
  ``b - C`` (it pops in cycle ``S_k - 1``; the slot is free one cycle later);
* ``S_k(b) = max(F_k(b-1) + 1, P_b + 2)``, ``F_k(b) = S_k(b) + W_k(b) - 1``: first and last issue
  cycle of PE ``k``, with ``W = max(1, entries)``.

Given the queue gates, the ``P`` and ``F`` recurrences are prefix maxima
(``np.maximum.accumulate``); the gates are solved window by window from lower bounds, each window
verified and kept up to the first broadcast a raised gate would delay (see
:func:`broadcast_recurrence`), so the Python loop runs about once per queue stall that delays a
broadcast (at most ``B / C`` times), each step vectorised over all passes and PEs. Passes are
independent (each starts from cycle 0), so they are one more array axis. Counters and the output
vector are computed in bulk from the encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie_sim.config import EIEConfig
from eie_sim.engines.eie import accel
from eie_sim.engines.eie.common import (
    ISSUE_TO_WRITE,
    POP_TO_ISSUE,
    QUEUE_VISIBLE_DELAY,
    SCAN_START_CYCLE,
    slice_bytes,
    slice_rows,
    zero_counts,
)
from eie_sim.engines.record import LayerRun
from eie_sim.formats.fixed_point import replay_saturating, round_shift, signed_row_sums
from eie_sim.formats.interleaved_csc import InterleavedCSC
from eie_sim.layer import CODEBOOK_SIZE, QuantizedLayer
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


#: Initial lower bound of a queue gate (no constraint), far from int64 overflow.
_NO_GATE = np.iinfo(np.int64).min // 4
#: Window of the first speculative step, in queue capacities.
_FIRST_WINDOW = 16
#: Largest window, in (passes x PEs x broadcasts) elements.
_MAX_WINDOW_ELEMENTS = 1 << 16


def broadcast_recurrence(
    work: np.ndarray, adv: np.ndarray, capacity: int, ready: np.ndarray | None
):
    """Push cycles ``P`` (passes, B) and first/last issue cycles ``S``, ``F`` (passes, N, B).

    ``ready`` (passes, B), if given, is the first cycle each broadcast's weights can issue
    (DRAM stream): ``S = max(F + 1, P + 2, ready)``. Stepped one broadcast at a time by the
    numba kernel when it is available (:mod:`eie_sim.engines.eie.accel`), else solved by
    :func:`broadcast_recurrence_numpy`.
    """
    if accel.kernels() is not None:
        return accel.recurrence(work, adv, capacity, PUSH_TO_ISSUE, ready)
    return broadcast_recurrence_numpy(work, adv, capacity, ready)


def broadcast_recurrence_numpy(
    work: np.ndarray, adv: np.ndarray, capacity: int, ready: np.ndarray | None
):
    """:func:`broadcast_recurrence` in numpy.

    With global prefix sums ``A = cumsum(1 + adv)`` and ``U = cumsum(W)`` the recurrences become
    running maxima once the queue gates ``G_b = max_k S_k(b - C)`` are known:
    ``P - A = max(P_prev - A_prev, G - A)`` and ``F - U = max(F_prev - U_prev, P + 1 - (U - W))``
    (one ``np.maximum.accumulate`` each). The gates are solved window by window from lower
    bounds (no gate at first): a window ``[lo, hi)`` is computed with the current bounds, which
    yields new bounds for the gates ``C`` broadcasts later. Up to the first broadcast whose new
    gate exceeds the push cycle just computed for it, the window satisfies every equation, so it
    is the exact (unique, causal) solution and is kept; the rest is recomputed from there with
    the raised bounds. Each step keeps at least ``C`` broadcasts (their gates come from kept
    ones), so it never does worse than stepping ``C`` at a time; the window doubles after a
    step that keeps everything and otherwise becomes the kept length plus half the window.
    """
    passes, n, b_total = work.shape
    u_all = np.cumsum(work, axis=2)
    uw_all = u_all - work  # U - W: work issued before each broadcast
    a_all = np.cumsum(1 + adv)
    a_less1 = a_all - 1
    # h = F - U starts from max(P, ready - PUSH) + PUSH - 1 - (U - W): fold the constant in.
    uw_less = uw_all - (PUSH_TO_ISSUE - 1)
    ready_push = None if ready is None else ready - PUSH_TO_ISSUE
    # gates[b] = G_b - 1 = max_k S_k(b - C) - 1, lower bounds until kept.
    gates = np.full((passes, b_total), _NO_GATE, dtype=np.int64)
    push = np.empty((passes, b_total), dtype=np.int64)
    h_all = np.empty((passes, n, b_total), dtype=np.int64)  # F - U
    q_prev = np.zeros(passes, dtype=np.int64)  # P - A of the last kept broadcast
    h_prev = np.full((passes, n), -1, dtype=np.int64)  # F - U of the last kept broadcast
    max_window = max(4 * capacity, _MAX_WINDOW_ELEMENTS // (passes * n))
    window = min(_FIRST_WINDOW * capacity, max_window)
    lo = 0
    while lo < b_total:
        hi = min(lo + window, b_total)
        q = gates[:, lo:hi] - a_less1[lo:hi]
        np.maximum(q[:, 0], q_prev, out=q[:, 0])
        np.maximum.accumulate(q, axis=1, out=q)
        p = q + a_all[lo:hi]
        start = p if ready_push is None else np.maximum(p, ready_push[:, lo:hi])
        h = h_all[:, :, lo:hi]
        np.subtract(start[:, None, :], uw_less[:, :, lo:hi], out=h)
        np.maximum(h[:, :, 0], h_prev, out=h[:, :, 0])
        np.maximum.accumulate(h, axis=2, out=h)
        new_gates = np.add(h, uw_all[:, :, lo:hi]).max(axis=1)  # S - 1 of the gate of b + C
        keep = hi - lo
        if keep > capacity:
            raised = (new_gates[:, : keep - capacity] >= p[:, capacity:]).any(axis=0)
            raised = np.flatnonzero(raised)
            if raised.size:
                keep = capacity + int(raised[0])
        stop = lo + keep
        push[:, lo:stop] = p[:, :keep]
        q_prev = q[:, keep - 1]
        h_prev = h[:, :, keep - 1]  # final: later steps write from ``stop`` on
        # Bounds for the gates from ``stop`` on (exact for [stop, stop + C)).
        t_end = min(hi + capacity, b_total)
        if t_end > stop:
            gates[:, stop:t_end] = new_gates[:, stop - lo - capacity : t_end - lo - capacity]
        window = min(2 * window, max_window) if stop == hi else max(capacity, keep + window // 2)
        lo = stop
    first = h_all + uw_all
    first += 1
    h_all += u_all
    return push, first, h_all


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


def _outputs(layer: QuantizedLayer, x: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Output vector: the broadcast columns' weights x activations, accumulated in broadcast
    order with 16-bit saturation (bias column last, from the bias codebook).

    A column's products take at most 16 values (one per codebook entry), so they are computed
    once per broadcast as a ``(B, 16)`` table and each entry looks its product up by its 4-bit
    index. The numba kernel then accumulates entry by entry; the numpy code gathers the entries
    column by column (broadcast order), sums each row's positive and negative terms with one
    ``bincount`` and replays term by term only the rows that may saturate.
    """
    with_bias = layer.has_bias and columns.size > 0 and columns[-1] == layer.n_in
    weight_cols = columns[:-1] if with_bias else columns
    table = round_shift(layer.codebook.astype(np.int64) * x[weight_cols][:, None],
                        layer.weight_frac_bits)
    bias_rows = np.flatnonzero(layer.bias_idx) if with_bias else np.zeros(0, dtype=np.int64)
    # bias_codebook[i] * 2**f >> f == the bias value itself
    bias = layer.bias_codebook[layer.bias_idx[bias_rows]] if with_bias else bias_rows
    if accel.kernels() is not None:
        return accel.saturating_outputs(layer, weight_cols, table, bias_rows, bias)
    starts = layer.col_ptr[weight_cols]
    lengths = layer.col_ptr[weight_cols + 1] - starts
    n_terms = int(lengths.sum())
    take = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(n_terms)
    slot = np.repeat(np.arange(0, table.size, CODEBOOK_SIZE, dtype=np.int32), lengths)
    slot += np.take(layer.weight_idx, take)
    rows = np.empty(n_terms + bias_rows.size, dtype=layer.row_idx.dtype)
    terms = np.empty(rows.size, dtype=np.float64)  # bincount weights: exact for these sums
    # Indices are in range by construction; mode="wrap" skips the buffered copy "raise" makes.
    np.take(layer.row_idx, take, out=rows[:n_terms], mode="wrap")
    np.take(table.astype(np.float64).ravel(), slot, out=terms[:n_terms], mode="wrap")
    rows[n_terms:] = bias_rows
    terms[n_terms:] = bias
    out, risky = signed_row_sums(2 * rows + (terms < 0), terms, layer.n_out)
    if risky.any():
        replay_saturating(rows, None, terms, risky, out)
    return out.astype(np.int16)


def run_layer(
    layer: QuantizedLayer, x: np.ndarray, config: EIEConfig, enc: InterleavedCSC, progress=None
) -> LayerRun:
    """Simulate ``layer`` on input ``x`` (int16); ``enc`` is its encoding for ``config``."""
    n, passes, n_cols = config.num_pes, enc.passes, enc.n_cols
    counts = zero_counts()
    columns, adv, tail, advance_cycles = scan_schedule(x, config, layer.has_bias, layer.n_in)
    b_total = columns.size
    # Pointer words of the broadcast slices, PE-major: first address and entry count.
    ptr_of = (np.arange(passes)[:, None] * n_cols + columns).ravel()
    start_addr = np.take(enc.ptr, ptr_of, axis=1).reshape(n, passes, b_total)
    e_k = np.take(enc.ptr, ptr_of + 1, axis=1).reshape(n, passes, b_total) - start_addr
    e_b = e_k.transpose(1, 0, 2)  # (passes, N, B)

    if b_total:
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
    padding = int(np.take(enc.slice_padding, columns, axis=2).sum()) if b_total else 0
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
        # Sparse-matrix SRAM rows: per PE, distinct rows over its slices in processing order
        # (addresses grow in that order, so only consecutive non-empty slices can share one).
        epr = config.entries_per_sram_row
        nonempty = e_k > 0
        s0 = start_addr[nonempty]  # PE-major, processing order
        r0 = s0 // epr
        r1 = (s0 + e_k[nonempty] - 1) // epr
        shared = r0[1:] == r1[:-1]
        last_of_pe = np.cumsum(nonempty.sum(axis=(1, 2)))[:-1] - 1  # not across two PEs
        shared[last_of_pe[(last_of_pe >= 0) & (last_of_pe < shared.size)]] = False
        spmat_reads = int((r1 - r0).sum()) + r0.size - int(shared.sum())
        # Bypass: last entry of b-1 and first entry of b hit the same row on adjacent cycles
        # (a slice's last entry is always real; its first is real unless it is padding).
        if b_total > 1:
            fr = np.take(enc.slice_first_row, columns, axis=2)[:, :, 1:]
            lr = np.take(enc.slice_last_row, columns, axis=2)[:, :, :-1]
            # fr == lr >= 0: both slices non-empty; fr <= max_run: b's first entry is real.
            chain = (fr == lr) & (fr.view(np.uint32) <= enc.max_run)
            first_k, last_k = first.transpose(1, 0, 2), last.transpose(1, 0, 2)
            bypass = int(np.sum(chain & (first_k[:, :, 1:] == last_k[:, :, :-1] + 1)))
    counts["pe.spmat_sram.read"] = spmat_reads
    counts["pe.arith.bypass"] = bypass
    counts["pe.dest_regfile.read"] = macs - bypass + stored

    outputs = _outputs(layer, x.astype(np.int64), columns)
    if progress is not None:
        progress(layer.n_in * passes)
    return LayerRun(
        cycles=cycles,
        segment_cycles=pass_cycles,
        counts=counts,
        unit_busy=busy.astype(np.int64),
        unit_stall=stall.astype(np.int64),
        unit_idle=idle.astype(np.int64),
        outputs=outputs,
    )
