"""Runs one layer on the SimPy EIE model: the PE array (:mod:`eie_sim.engines.pe_array.des`)
with the leading non-zero detection as the CCU's scan policy and a sparse column source in every
PE."""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.config import EIEConfig
from eie_sim.engines.eie.counters import zero_counts
from eie_sim.engines.eie.des.lnzd import LeadingNonZeroDetect
from eie_sim.engines.eie.des.pe import SparseColumnSource
from eie_sim.engines.pe_array.des.act_queue import ActivationQueue
from eie_sim.engines.pe_array.des.array import run_passes, wire
from eie_sim.engines.pe_array.des.dram import DramStream
from eie_sim.engines.pe_array.des.pe import ProcessingElement
from eie_sim.engines.record import LayerRun
from eie_sim.formats.interleaved_csc import InterleavedCSC
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import broadcast_mask


def run_layer(
    layer: QuantizedLayer, x: np.ndarray, config: EIEConfig, enc: InterleavedCSC, progress=None
) -> LayerRun:
    """Simulate ``layer`` on input ``x`` (int16); ``enc`` is its encoding for ``config``.

    ``progress(n)``, if given, is called as input activations are scanned (every pass).
    """
    env = simpy.Environment()
    counts = zero_counts()

    def make_pe(k: int, queue: ActivationQueue) -> ProcessingElement:
        source = SparseColumnSource(k, config, enc, layer, counts)
        return ProcessingElement(env, k, config, queue, source, layer, counts, passes=enc.passes)

    queues, pes, ccu = wire(env, config, counts, make_pe,
                            LeadingNonZeroDetect(config.num_pes, counts))
    entries = enc.entry_counts()
    # The DRAM stream prefetches, in order, the columns the LNZD will select.
    streamed_columns = [int(j) for j in np.flatnonzero(broadcast_mask(x, config.input_relu))]
    if layer.has_bias:
        streamed_columns.append(layer.n_in)

    def make_stream(p: int, start: int) -> DramStream | None:
        if config.weights_from != "dram":
            return None
        return DramStream(env, entries[:, p, :], streamed_columns, config.entry_bits,
                          config.spmat_sram_width_bits, config.dram_bytes_per_cycle, counts,
                          "pe.spmat_sram.write")

    return run_passes(env, config, layer, x, queues, pes, ccu, counts, enc.passes, make_stream,
                      progress)
