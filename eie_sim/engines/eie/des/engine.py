"""Runs one layer on the SimPy EIE model: wires the CCU, the queues and the PEs together."""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.config import EIEConfig
from eie_sim.engines.eie.common import LayerRun, zero_counts
from eie_sim.engines.eie.des.act_queue import ActivationQueue
from eie_sim.engines.eie.des.ccu import CentralControlUnit
from eie_sim.engines.eie.des.dram import DramStream
from eie_sim.engines.eie.des.pe import ProcessingElement, drain_cycle
from eie_sim.formats.interleaved_csc import InterleavedCSC
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import broadcast_mask


def run_layer(
    layer: QuantizedLayer, x: np.ndarray, config: EIEConfig, enc: InterleavedCSC, progress=None
) -> LayerRun:  # noqa: D417
    """Simulate ``layer`` on input ``x`` (int16); ``enc`` is its encoding for ``config``.

    ``progress(n)``, if given, is called as input activations are scanned (every pass).
    """
    env = simpy.Environment()
    counts = zero_counts()
    n = config.num_pes
    queues = [ActivationQueue(env, config.queue_capacity, counts) for _ in range(n)]
    pes = [ProcessingElement(env, k, config, queues[k], enc, layer, counts) for k in range(n)]
    ccu = CentralControlUnit(
        env,
        queues,
        counts,
        batch_activations=n * config.act_regfile_entries,
        batch_swap_cycles=config.batch_swap_cycles,
    )
    outputs = np.zeros(layer.n_out, dtype=np.int16)
    pass_cycles: list[int] = []
    bias_act = layer.bias_activation() if layer.has_bias else None
    entries = enc.entry_counts()
    # The DRAM stream prefetches, in order, the columns the LNZD will select.
    streamed_columns = [int(j) for j in np.flatnonzero(broadcast_mask(x, config.input_relu))]
    if layer.has_bias:
        streamed_columns.append(layer.n_in)

    def layer_process():
        for p in range(enc.passes):
            if p and config.batch_swap_cycles:
                yield env.timeout(config.batch_swap_cycles)
                for pe in pes:
                    pe.idle += config.batch_swap_cycles
            start = env.now
            for q in queues:
                q.open()
            stream = None
            if config.weights_from == "dram":
                stream = DramStream(
                    env,
                    entries[:, p, :],
                    streamed_columns,
                    config.entry_bits,
                    config.spmat_sram_width_bits,
                    config.dram_bytes_per_cycle,
                    counts,
                )
                env.process(stream.run(start))
            procs = [env.process(pe.run_pass(p, start, stream)) for pe in pes]
            procs.append(
                env.process(ccu.scan(x, config.input_relu, bias_act, layer.n_in, progress))
            )
            yield env.all_of(procs)
            done = max(ccu.last_slot_cycle, drain_cycle(pes))
            for pe in pes:
                pe.finish_pass(p, outputs, n, done)
            pass_cycles.append(done + 1 - start)
            yield env.timeout(done + 1 - env.now)

    env.process(layer_process())
    env.run()
    return LayerRun(
        cycles=int(env.now),
        pass_cycles=pass_cycles,
        counts=counts,
        pe_busy=np.array([pe.busy for pe in pes], dtype=np.int64),
        pe_stall=np.array([pe.stall for pe in pes], dtype=np.int64),
        pe_idle=np.array([pe.idle for pe in pes], dtype=np.int64),
        outputs=outputs,
    )
