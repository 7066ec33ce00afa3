"""The PE array: wiring (CCU, one activation queue per PE, the PEs) and the pass loop.

Shared by EIE and the dense baseline; each machine supplies its scan policy, its PEs (with their
column sources) and, for ``weights_from: dram``, its DRAM stream.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from eie_sim import trace
from eie_sim.config import PEArrayConfig
from eie_sim.engines.pe_array.des.act_queue import ActivationQueue
from eie_sim.engines.pe_array.des.ccu import CentralControlUnit, ScanPolicy
from eie_sim.engines.pe_array.des.dram import DramStream
from eie_sim.engines.pe_array.des.pe import ProcessingElement, drain_cycle
from eie_sim.engines.record import LayerRun
from eie_sim.layer import QuantizedLayer


def wire(
    env: simpy.Environment,
    config: PEArrayConfig,
    counts: dict[str, int],
    make_pe: Callable[[int, ActivationQueue], ProcessingElement],
    policy: ScanPolicy,
) -> tuple[list[ActivationQueue], list[ProcessingElement], CentralControlUnit]:
    """One activation queue per PE, the PEs (``make_pe(k, queue)``) and the central control unit
    broadcasting into the queues with scan ``policy``."""
    n = config.num_pes
    queues = [ActivationQueue(env, config.queue_capacity, counts) for _ in range(n)]
    pes = [make_pe(k, queues[k]) for k in range(n)]
    ccu = CentralControlUnit(env, queues, counts, policy,
                             batch_activations=n * config.act_regfile_entries,
                             batch_swap_cycles=config.batch_swap_cycles)
    return queues, pes, ccu


def run_passes(
    env: simpy.Environment,
    config: PEArrayConfig,
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

    Each pass opens the queues, starts the PEs, the CCU's scan and (``make_stream(pass, start)``)
    the DRAM stream, and ends when the scan is over, every queue is empty and the last write has
    landed; ``batch_swap_cycles`` separate passes (idle for every PE).
    """
    outputs = np.zeros(layer.n_out, dtype=np.int16)
    pass_cycles: list[int] = []
    bias_act = layer.bias_activation() if layer.has_bias else None
    recorder = trace.active()
    tr = None
    if recorder is not None:  # eie-sim run --trace: hooks into the PEs and the CCU
        tr = recorder.begin_layer("PE", len(pes))
        ccu.trace = tr
        for k, pe in enumerate(pes):
            pe.trace = tr.pe(k)

    def layer_process():
        for p in range(passes):
            if p and config.batch_swap_cycles:
                yield env.timeout(config.batch_swap_cycles)
                for pe in pes:
                    pe.idle += config.batch_swap_cycles
                    if tr is not None:
                        pe.trace.idle(env.now - config.batch_swap_cycles, env.now)
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
                pe.finish_pass(p, outputs, done)
            pass_cycles.append(done + 1 - start)
            if tr is not None:
                tr.segment(f"pass {p}", start, done + 1, pass_index=p)
            yield env.timeout(done + 1 - env.now)

    env.process(layer_process())
    env.run()
    if tr is not None:
        tr.cycles = int(env.now)
    return LayerRun(
        cycles=int(env.now),
        segment_cycles=pass_cycles,
        counts=counts,
        unit_busy=np.array([pe.busy for pe in pes], dtype=np.int64),
        unit_stall=np.array([pe.stall for pe in pes], dtype=np.int64),
        unit_idle=np.array([pe.idle for pe in pes], dtype=np.int64),
        outputs=outputs,
    )
