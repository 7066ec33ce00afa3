"""SimPy engine of the dense baseline: the PE array (:mod:`eie_sim.engines.pe_array.des`) with
a CCU that broadcasts every activation and a weight SRAM read unit as every PE's column source
(in place of EIE's pointer / sparse-matrix / decoder path)."""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.config import DenseConfig
from eie_sim.engines.dense.common import (
    column_weights,
    n_columns,
    rows_per_pass,
    streams_weights,
    zero_counts,
)
from eie_sim.engines.pe_array.des.act_queue import ActivationQueue
from eie_sim.engines.pe_array.des.array import run_passes, wire
from eie_sim.engines.pe_array.des.ccu import EveryActivation
from eie_sim.engines.pe_array.des.dram import DramStream
from eie_sim.engines.pe_array.des.pe import ArithmeticUnit, ProcessingElement
from eie_sim.engines.record import LayerRun
from eie_sim.layer import QuantizedLayer


def weight_sram_image(
    layer: QuantizedLayer, config: DenseConfig, pass_rows: np.ndarray, index: int
) -> tuple[list[int], list[int]]:
    """PE ``index``'s weight SRAM contents: pass by pass, column by column, the PE's rows of the
    pass (16-bit weights, zeros included).

    Returns the image (one weight per address) and the first address of each pass.
    """
    n, n_cols, r = config.num_pes, n_columns(layer), config.act_regfile_entries
    dense = np.zeros((len(range(index, layer.n_out, n)), n_cols), dtype=np.int64)
    for column in range(n_cols):
        rows, values = column_weights(layer, column)
        mine = rows % n == index
        dense[rows[mine] // n, column] = values[mine]
    image: list[int] = []
    pass_base: list[int] = []
    for p, rows_p in enumerate(pass_rows[:, index]):
        pass_base.append(len(image))
        image.extend(dense[p * r : p * r + rows_p].T.ravel().tolist())
    return image, pass_base


class WeightSramReadUnit:
    """The dense PE's column source: reads 16-bit weights, ``per_row`` to an SRAM row.

    Cycle contract (:class:`~eie_sim.engines.pe_array.des.pe.ColumnSource`): one weight per
    cycle from ``first_issue``, one per row of the PE in the pass (``max(1, rows)`` cycles); a
    row is read when the address leaves the row last read (reset per layer).

    Parameters
    ----------
    weights : list of int
        The SRAM image (:func:`weight_sram_image`).
    pass_base : list of int
        First address of each pass.
    rows_in_pass : list of int
        The PE's rows in each pass.
    per_row : int
        Weights per SRAM row.
    counts : dict
        Shared counters (``pe.weight_sram.read``).
    """

    def __init__(
        self, weights: list[int], pass_base: list[int], rows_in_pass: list[int], per_row: int,
        counts: dict[str, int],
    ) -> None:
        self.weights = weights
        self.pass_base = pass_base
        self.rows_in_pass = rows_in_pass
        self.per_row = per_row
        self.counts = counts
        self.last_row = -1

    def read(self, address: int) -> int:
        """The weight at ``address`` (counting a row read when the row changes)."""
        row = address // self.per_row
        if row != self.last_row:
            self.last_row = row
            self.counts["pe.weight_sram.read"] += 1
        return self.weights[address]

    def issue(
        self, pass_index: int, column: int, activation: int, first_issue: int,
        arith: ArithmeticUnit,
    ) -> int:
        """Issue the PE's weights of ``column`` in pass ``pass_index``, one row per cycle."""
        rows = self.rows_in_pass[pass_index]
        base = self.pass_base[pass_index] + column * rows
        for row in range(rows):
            weight = self.read(base + row)
            arith.issue(first_issue + row, row, weight, activation, False)
        return max(1, rows)


def run_layer(layer: QuantizedLayer, x: np.ndarray, config: DenseConfig, progress=None) -> LayerRun:
    """Simulate ``layer`` on input ``x`` (int16) on the dense baseline."""
    env = simpy.Environment()
    counts = zero_counts()
    pass_rows = rows_per_pass(layer, config)
    passes = pass_rows.shape[0]

    def make_pe(k: int, queue: ActivationQueue) -> ProcessingElement:
        image, pass_base = weight_sram_image(layer, config, pass_rows, k)
        source = WeightSramReadUnit(image, pass_base, pass_rows[:, k].tolist(),
                                    config.weights_per_sram_row, counts)
        return ProcessingElement(env, k, config, queue, source, layer, counts, passes=passes)

    queues, pes, ccu = wire(env, config, counts, make_pe, EveryActivation())
    stream_on = streams_weights(layer, config)
    columns = list(range(n_columns(layer)))

    def make_stream(p: int, start: int) -> DramStream | None:
        if not stream_on:
            return None
        rows = np.repeat(pass_rows[p][:, None], len(columns), axis=1)
        return DramStream(env, rows, columns, 16, config.weight_sram_width_bits,
                          config.dram_bytes_per_cycle, counts, "pe.weight_sram.write")

    return run_passes(env, config, layer, x, queues, pes, ccu, counts, passes, make_stream,
                      progress)
