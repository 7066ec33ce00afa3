"""Runs one layer on the SimPy EIE model: wires the CCU, the queues and the PEs together."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from eie_sim.config import EIEConfig
from eie_sim.engines.eie.common import zero_counts
from eie_sim.engines.eie.des.act_queue import ActivationQueue
from eie_sim.engines.eie.des.ccu import CentralControlUnit
from eie_sim.engines.eie.des.dram import DramStream
from eie_sim.engines.eie.des.pe import ProcessingElement, drain_cycle
from eie_sim.engines.record import LayerRun
from eie_sim.formats.interleaved_csc import InterleavedCSC
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import broadcast_mask


def wire(env: simpy.Environment, config, counts: dict[str, int],
         make_pe: Callable[[int, ActivationQueue], ProcessingElement], *,
         detect_nonzeros: bool = True):
    """The PE array both EIE and the dense baseline share: one activation queue per PE, the PEs
    (``make_pe(k, queue)``) and the central control unit broadcasting into the queues."""
    n = config.num_pes
    queues = [ActivationQueue(env, config.queue_capacity, counts) for _ in range(n)]
    pes = [make_pe(k, queues[k]) for k in range(n)]
    ccu = CentralControlUnit(env, queues, counts,
                             batch_activations=n * config.act_regfile_entries,
                             batch_swap_cycles=config.batch_swap_cycles,
                             detect_nonzeros=detect_nonzeros)
    return queues, pes, ccu


def run_passes(
    env: simpy.Environment,
    config,
    layer: QuantizedLayer,
    x: np.ndarray,
    queues: list[ActivationQueue],
    pes: list[ProcessingElement],
    ccu: CentralControlUnit,
    counts: dict[str, int],
    passes: int,
    make_stream: Callable[[int, int], DramStream | None],
    progress=None,
) -> LayerRun:
    """Run a layer's output passes one after another and collect the result.

    Shared by EIE and the dense baseline. Each pass opens the queues, starts the PEs, the CCU's
    scan and (``make_stream(pass, start)``) the DRAM stream, and ends when the scan is over,
    every queue is empty and the last write has landed; ``batch_swap_cycles`` separate passes.
    """
    n = len(pes)
    outputs = np.zeros(layer.n_out, dtype=np.int16)
    pass_cycles: list[int] = []
    bias_act = layer.bias_activation() if layer.has_bias else None

    def layer_process():
        for p in range(passes):
            if p and config.batch_swap_cycles:
                yield env.timeout(config.batch_swap_cycles)
                for pe in pes:
                    pe.idle += config.batch_swap_cycles
            start = env.now
            for q in queues:
                q.open()
            stream = make_stream(p, start)
            if stream is not None:
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
        segment_cycles=pass_cycles,
        counts=counts,
        unit_busy=np.array([pe.busy for pe in pes], dtype=np.int64),
        unit_stall=np.array([pe.stall for pe in pes], dtype=np.int64),
        unit_idle=np.array([pe.idle for pe in pes], dtype=np.int64),
        outputs=outputs,
    )


def run_layer(
    layer: QuantizedLayer, x: np.ndarray, config: EIEConfig, enc: InterleavedCSC, progress=None
) -> LayerRun:
    """Simulate ``layer`` on input ``x`` (int16); ``enc`` is its encoding for ``config``.

    ``progress(n)``, if given, is called as input activations are scanned (every pass).
    """
    env = simpy.Environment()
    counts = zero_counts()
    queues, pes, ccu = wire(
        env, config, counts,
        lambda k, queue: ProcessingElement(env, k, config, queue, enc, layer, counts))
    entries = enc.entry_counts()
    # The DRAM stream prefetches, in order, the columns the LNZD will select.
    streamed_columns = [int(j) for j in np.flatnonzero(broadcast_mask(x, config.input_relu))]
    if layer.has_bias:
        streamed_columns.append(layer.n_in)

    def make_stream(p: int, start: int) -> DramStream | None:
        if config.weights_from != "dram":
            return None
        return DramStream(env, entries[:, p, :], streamed_columns, config.entry_bits,
                          config.spmat_sram_width_bits, config.dram_bytes_per_cycle, counts)

    return run_passes(env, config, layer, x, queues, pes, ccu, counts, enc.passes, make_stream,
                      progress)
