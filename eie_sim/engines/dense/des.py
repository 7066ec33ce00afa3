"""SimPy engine of the dense baseline: EIE's CCU (without LNZD), queues and PE pipeline, with a
weight SRAM read unit in place of the pointer / sparse-matrix / decoder path."""

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
from eie_sim.engines.eie.des.act_queue import ActivationQueue
from eie_sim.engines.eie.des.dram import DramStream
from eie_sim.engines.eie.des.engine import run_passes, wire
from eie_sim.engines.eie.des.pe import ProcessingElement
from eie_sim.engines.record import LayerRun
from eie_sim.layer import QuantizedLayer


class WeightSramReadUnit:
    """Reads 16-bit weights, ``per_row`` to an SRAM row; a row is read when the address leaves
    the row last read (reset per layer)."""

    def __init__(self, weights: list[int], per_row: int, counts: dict[str, int]) -> None:
        self.weights = weights
        self.per_row = per_row
        self.counts = counts
        self.last_row = -1

    def read(self, address: int) -> int:
        row = address // self.per_row
        if row != self.last_row:
            self.last_row = row
            self.counts["pe.weight_sram.read"] += 1
        return self.weights[address]


class DenseProcessingElement(ProcessingElement):
    """A PE that multiplies every one of its rows' weights by every broadcast activation."""

    def __init__(
        self,
        env,
        index: int,
        config: DenseConfig,
        queue: ActivationQueue,
        layer: QuantizedLayer,
        pass_rows: np.ndarray,
        counts: dict[str, int],
    ) -> None:
        # Weight SRAM image: pass by pass, column by column, this PE's rows of the pass.
        n, n_cols = config.num_pes, n_columns(layer)
        dense = np.zeros((len(range(index, layer.n_out, n)), n_cols), dtype=np.int64)
        for column in range(n_cols):
            rows, values = column_weights(layer, column)
            mine = rows % n == index
            dense[rows[mine] // n, column] = values[mine]
        image, self.pass_base = [], []
        r = config.act_regfile_entries
        for p, rows_p in enumerate(pass_rows[:, index]):
            self.pass_base.append(len(image))
            image.extend(dense[p * r : p * r + rows_p].T.ravel().tolist())
        self.rows_in_pass = pass_rows[:, index].tolist()
        self._init_common(
            env,
            index,
            n,
            queue,
            layer,
            counts,
            passes=pass_rows.shape[0],
            rows_per_pass=r,
            inputs_in_sram=layer.n_in > n * r,
        )
        self.weight_unit = WeightSramReadUnit(image, config.weights_per_sram_row, counts)

    def process_column(
        self, pass_index: int, column: int, activation: int, first_issue: int
    ) -> int:
        rows = self.rows_in_pass[pass_index]
        base = self.pass_base[pass_index] + column * rows
        for row in range(rows):
            weight = self.weight_unit.read(base + row)
            self.arith.issue(first_issue + row, row, weight, activation, False)
        return max(1, rows)


def run_layer(layer: QuantizedLayer, x: np.ndarray, config: DenseConfig, progress=None) -> LayerRun:
    """Simulate ``layer`` on input ``x`` (int16) on the dense baseline."""
    env = simpy.Environment()
    counts = zero_counts()
    pass_rows = rows_per_pass(layer, config)
    passes = pass_rows.shape[0]
    queues, pes, ccu = wire(
        env, config, counts,
        lambda k, queue: DenseProcessingElement(env, k, config, queue, layer, pass_rows, counts),
        detect_nonzeros=False)
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
