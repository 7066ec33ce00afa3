"""Vectorised engine of the dense baseline: the PE array's max-plus broadcast recurrence
(:mod:`eie_sim.engines.pe_array.recurrence`) with every activation broadcast, one per cycle, and
``max(1, rows)`` cycles of work per column and PE."""

from __future__ import annotations

import numpy as np

from eie_sim.config import DenseConfig
from eie_sim.engines.dense.common import n_columns, rows_per_pass, streams_weights, zero_counts
from eie_sim.engines.pe_array.recurrence import schedule
from eie_sim.engines.pe_array.stream import slice_rows, stream_ready
from eie_sim.engines.record import LayerRun
from eie_sim.formats.fixed_point import accumulate_saturating, round_shift
from eie_sim.layer import QuantizedLayer


def _outputs(layer: QuantizedLayer, x: np.ndarray, input_relu: bool) -> np.ndarray:
    """Every weight times every activation; zero weights and activations add exactly zero."""
    act = np.maximum(x, 0) if input_relu else x.astype(np.int64)
    cols = np.repeat(np.arange(layer.n_in), np.diff(layer.col_ptr))
    rows = layer.row_idx.astype(np.int64)
    prod = layer.codebook.astype(np.int64)[layer.weight_idx] * act[cols]
    if layer.has_bias:
        brows = np.flatnonzero(layer.bias_idx)
        rows = np.concatenate([rows, brows])
        cols = np.concatenate([cols, np.full(brows.size, layer.n_in)])
        bias = layer.bias_codebook.astype(np.int64)[layer.bias_idx[brows]]
        prod = np.concatenate([prod, bias * layer.bias_activation()])
    return accumulate_saturating(rows, cols, round_shift(prod, layer.weight_frac_bits), layer.n_out)


def run_layer(layer: QuantizedLayer, x: np.ndarray, config: DenseConfig, progress=None) -> LayerRun:
    """Simulate ``layer`` on input ``x`` (int16) on the dense baseline."""
    n, r = config.num_pes, config.act_regfile_entries
    counts = zero_counts()
    pass_rows = rows_per_pass(layer, config)  # (passes, N)
    passes = pass_rows.shape[0]
    b_total = n_columns(layer)
    # One broadcast per cycle; batch swaps before each new source batch of N x R activations.
    adv = np.zeros(b_total, dtype=np.int64)
    adv[n * r : layer.n_in : n * r] = config.batch_swap_cycles
    work = np.broadcast_to(np.maximum(pass_rows, 1)[:, :, None], (passes, n, b_total))
    ready = None
    if streams_weights(layer, config):
        per_column = np.broadcast_to((2 * pass_rows.sum(axis=1))[:, None], (passes, b_total))
        ready, counts["dram.read_bytes"] = stream_ready(per_column, config.dram_bytes_per_cycle)
        counts["pe.weight_sram.write"] = (
            int(slice_rows(pass_rows, 16, config.weight_sram_width_bits).sum()) * b_total
        )
    writes = np.broadcast_to((pass_rows > 0)[:, :, None], work.shape)
    sched = schedule(np.ascontiguousarray(work), adv, 0, config.queue_capacity, ready,
                     writes=writes)
    pass_cycles = (sched.done + 1).tolist()
    cycles = int(sum(pass_cycles)) + (passes - 1) * config.batch_swap_cycles

    spill_in = layer.n_in > n * r
    macs = int(pass_rows.sum()) * b_total
    # Bypass: a PE with one row in a pass hits that row on back-to-back columns.
    single = (pass_rows == 1)[:, :, None]
    adjacent = sched.first[:, :, 1:] == sched.last[:, :, :-1] + 1
    bypass = int(np.sum(single & adjacent))
    stored = layer.n_out if passes > 1 else 0
    per_pe_weights = pass_rows.sum(axis=0) * b_total
    counts.update(
        {
            "ccu.broadcast": passes * b_total,
            "ccu.stall": sched.ccu_stall,
            "pe.src_regfile.read": passes * layer.n_in,
            "pe.src_regfile.write": passes * layer.n_in * spill_in,
            "pe.act_sram.read": passes * layer.n_in * spill_in,
            "pe.act_sram.write": stored,
            "pe.act_queue.push": passes * b_total * n,
            "pe.act_queue.pop": passes * b_total * n,
            "pe.weight_sram.read": int((-(-per_pe_weights // config.weights_per_sram_row)).sum()),
            "pe.arith.mac": macs,
            "pe.arith.bypass": bypass,
            "pe.dest_regfile.read": macs - bypass + stored,
            "pe.dest_regfile.write": macs,
        }
    )
    if progress is not None:
        progress(layer.n_in * passes)
    return LayerRun(
        cycles=cycles,
        segment_cycles=pass_cycles,
        counts=counts,
        unit_busy=sched.busy.astype(np.int64),
        unit_stall=sched.stall.astype(np.int64),
        unit_idle=(cycles - sched.busy - sched.stall).astype(np.int64),
        outputs=_outputs(layer, x.astype(np.int64), config.input_relu),
    )
