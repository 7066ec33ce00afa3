"""The vectorised EIE engine: the PE array's max-plus broadcast recurrence
(:mod:`eie_sim.engines.pe_array.recurrence`) fed with EIE's scan and work.

EIE's part is the leading non-zero detection as arrays (:func:`scan_schedule`: which columns are
broadcast and the non-broadcast cycles before each), each PE's work per broadcast (its slice's
entries, from the pointer words of the encoding), the DRAM stream of the broadcast columns, and
the counters and output vector, computed in bulk from the encoding.
"""

from __future__ import annotations

import numpy as np

from eie_sim import accel
from eie_sim.config import EIEConfig
from eie_sim.engines.eie.counters import zero_counts
from eie_sim.engines.pe_array.recurrence import schedule
from eie_sim.engines.pe_array.stream import slice_bytes, slice_rows, stream_ready
from eie_sim.engines.pe_array.timing import SCAN_START_CYCLE
from eie_sim.engines.record import LayerRun
from eie_sim.formats.fixed_point import replay_saturating, round_shift, signed_row_sums
from eie_sim.formats.interleaved_csc import InterleavedCSC
from eie_sim.layer import CODEBOOK_SIZE, QuantizedLayer
from eie_sim.reference import broadcast_mask


def scan_schedule(x: np.ndarray, config: EIEConfig, has_bias: bool, n_in: int):
    """The leading non-zero detection as arrays: broadcast columns and the non-broadcast
    cycles before each, for one pass (docs/MODEL.md §Scan and broadcast).

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


def _outputs(layer: QuantizedLayer, x: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Output vector: the broadcast columns' weights x activations, accumulated in broadcast
    order with 16-bit saturation (bias column last, from the bias codebook).

    A column's products take at most 16 values (one per codebook entry), so they are computed
    once per broadcast as a ``(B, 16)`` table and each entry looks its product up by its 4-bit
    index. The compiled loop then accumulates entry by entry; the numpy code gathers the entries
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
    starts = layer.col_ptr[weight_cols]
    lengths = layer.col_ptr[weight_cols + 1] - starts
    n_terms = int(lengths.sum())
    if accel.kernels() is not None:
        return accel.saturating_outputs(layer, weight_cols, table, bias_rows, bias, n_terms)
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


def _broadcast(summary: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The broadcast columns of a per-slice summary (last axis: the encoding's columns); the
    array itself when every column is broadcast (columns are strictly increasing)."""
    return summary if columns.size == summary.shape[-1] else np.take(summary, columns, axis=-1)


def _sram_row(addresses: np.ndarray, entries_per_row: int) -> None:
    """Sparse-matrix SRAM row of each entry address, in place (a shift for a power of two)."""
    if entries_per_row & (entries_per_row - 1) == 0:
        np.right_shift(addresses, entries_per_row.bit_length() - 1, out=addresses)
    else:
        np.floor_divide(addresses, entries_per_row, out=addresses)


def _slice_counts(enc: InterleavedCSC, columns: np.ndarray, epr: int, start_addr: np.ndarray,
                  e_k: np.ndarray, first: np.ndarray, last: np.ndarray
                  ) -> tuple[int, int, int, int]:
    """``(entries looked up, padding entries, sparse-matrix SRAM rows read, bypasses)`` over the
    broadcast slices (``start_addr``, ``e_k``: their first address and entries, (N, passes,
    B); ``first``/``last``: issue cycles, (passes, N, B)); numpy for
    :func:`eie_sim.accel.slice_counts`."""
    lookups = int(e_k.sum())
    padding = int(_broadcast(enc.slice_padding, columns).sum())
    # Sparse-matrix SRAM rows: per PE, distinct rows over its slices in processing order
    # (addresses grow in that order, so only consecutive non-empty slices can share one).
    nonempty = e_k > 0
    r0 = start_addr[nonempty]  # first address, PE-major, processing order
    r1 = e_k[nonempty]
    r1 += r0
    r1 -= 1  # last address
    _sram_row(r0, epr)
    _sram_row(r1, epr)
    shared = r0[1:] == r1[:-1]
    last_of_pe = np.cumsum(nonempty.sum(axis=(1, 2)))[:-1] - 1  # not across two PEs
    shared[last_of_pe[(last_of_pe >= 0) & (last_of_pe < shared.size)]] = False
    r1 -= r0
    spmat_reads = int(r1.sum()) + r0.size - int(shared.sum())
    # Bypass: last entry of b-1 and first entry of b hit the same row on adjacent cycles
    # (a slice's last entry is always real; its first is real unless it is padding).
    bypass = 0
    if columns.size > 1:
        fr = _broadcast(enc.slice_first_row, columns)[:, :, 1:]
        lr = _broadcast(enc.slice_last_row, columns)[:, :, :-1]
        # fr == lr >= 0: both slices non-empty; fr <= max_run: b's first entry is real.
        chain = fr == lr
        chain &= fr.view(np.uint32) <= enc.max_run
        k, p, b = np.nonzero(chain)  # few: the timing is looked up only there
        bypass = int(np.count_nonzero(first[p, k, b + 1] == last[p, k, b] + 1))
    return lookups, padding, spmat_reads, bypass


def run_layer(
    layer: QuantizedLayer, x: np.ndarray, config: EIEConfig, enc: InterleavedCSC, progress=None
) -> LayerRun:
    """Simulate ``layer`` on input ``x`` (int16); ``enc`` is its encoding for ``config``."""
    n, passes, n_cols = config.num_pes, enc.passes, enc.n_cols
    counts = zero_counts()
    columns, adv, tail, advance_cycles = scan_schedule(x, config, layer.has_bias, layer.n_in)
    b_total = columns.size
    # Pointer words of the broadcast slices, PE-major: first address and entry count.
    if b_total == n_cols:  # every column broadcast: views, not gathers
        start_addr = enc.ptr[:, :-1].reshape(n, passes, b_total)
        e_k = np.diff(enc.ptr, axis=1).reshape(n, passes, b_total)
    else:
        ptr_of = (np.arange(passes)[:, None] * n_cols + columns).ravel()
        start_addr = np.take(enc.ptr, ptr_of, axis=1).reshape(n, passes, b_total)
        e_k = np.take(enc.ptr, ptr_of + 1, axis=1).reshape(n, passes, b_total)
        e_k -= start_addr
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
        sched = schedule(work, adv, tail, config.queue_capacity, ready, writes=e_b > 0)
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
    lookups = padding = spmat_reads = bypass = 0
    if b_total:
        if accel.kernels() is not None:
            lookups, padding, spmat_reads, bypass = accel.slice_counts(
                enc, columns, config.entries_per_sram_row, first, last)
        else:
            lookups, padding, spmat_reads, bypass = _slice_counts(
                enc, columns, config.entries_per_sram_row, start_addr, e_k, first, last)
    macs = lookups - padding
    counts["pe.weight_decoder.lookup"] = lookups
    counts["pe.arith.padding"] = padding
    counts["pe.arith.mac"] = macs
    counts["pe.dest_regfile.write"] = macs
    stored = layer.n_out if passes > 1 else 0
    counts["pe.act_sram.write"] = stored
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
