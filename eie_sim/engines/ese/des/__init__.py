"""ESE's discrete-event (SimPy) engine: the scheduler and the wiring of the blocks.

The blocks are in :mod:`~eie_sim.engines.ese.des.blocks` (``WeightStream``, ``Channel`` with its
broadcast and ``ProcessingElement`` s, ``ElementWiseUnit``); :class:`Scheduler` is the
controller's state machine. Imported lazily by the model (SimPy only when this engine runs).
"""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.config import ESEConfig
from eie_sim.engines.ese.common import ESEState
from eie_sim.engines.ese.counters import zero_counts
from eie_sim.engines.ese.des.blocks import Channel, ElementWiseUnit, WeightStream
from eie_sim.engines.record import LayerRun
from eie_sim.workloads.lstm import GATES, CellState, phase_input


class Scheduler:
    """The controller (docs/ESE_MODEL.md §Scheduler). Its states, per step, are the SpMV phases
    in the order ``i, f, c, o, y`` (the gates on ``[x_t; y_{t-1}]``, then the projection on
    ``m_t``); each state waits, then runs the phase in every active channel:

    * for the phase's weights (the stream's ``loaded`` event: loading overlaps earlier phases);
    * for its input: a gate for the previous step's last element-wise task (``y_{t-1}``), the
      projection for task ``o`` of this step (``m_t``);
    * for the accumulator bank it writes: element-wise task ``q - 2`` must have read it.

    When the phase ends (every channel drained) it frees the weight-buffer half and hands the
    accumulators to each channel's element-wise unit, whose work overlaps the next phase.
    """

    def __init__(self, env: simpy.Environment, state: ESEState, x: np.ndarray,
                 config: ESEConfig, counts: dict[str, int], progress=None) -> None:
        self.env = env
        self.state = state
        self.layer = state.layer
        self.x = np.asarray(x)
        self.config = config
        self.counts = counts
        self.progress = progress
        self.phases = len(state.plans)
        self.executions = state.steps * self.phases
        layer = state.layer
        active_per_step = [a for a in state.active for _ in range(layer.steps)]
        self.active_per_step = active_per_step
        self.stream = WeightStream(env, state.plans, self.executions, active_per_step, counts)
        self.channels = [Channel(env, c, config, counts) for c in range(config.channels)]
        self.outputs = np.zeros((layer.n_out, state.utterances * layer.steps), dtype=np.int16)
        self.ewus = [ElementWiseUnit(env, layer, self.executions, counts, self.outputs)
                     for _ in range(config.channels)]
        self.step_ends: list[int] = []
        self.spmv_cycles = [0] * self.phases
        env.process(self.run())

    def _done(self, q: int, active: int):
        return self.env.all_of([self.ewus[c].done[q] for c in range(active)])

    def run(self):
        env, layer, phases = self.env, self.layer, self.phases
        t_steps = layer.steps
        for q in range(self.executions):
            p, s = q % phases, q // phases
            r, t = divmod(s, t_steps)
            active = self.active_per_step[s]
            plan = self.state.plans[p]
            yield self.stream.loaded[q]
            if plan.enc.name in GATES:
                if s:
                    yield self._done(s * phases - 1, self.active_per_step[s - 1])
            else:
                yield self._done(q - 1, active)
            if q >= 2:
                yield self._done(q - 2, self.active_per_step[(q - 2) // phases])
            if p == 0 and t == 0:  # a new round: each active channel takes an utterance
                for c in range(active):
                    self.ewus[c].state = CellState.zeros(layer, 1)
            start = env.now
            procs = []
            for c in range(active):
                u = r * self.config.channels + c
                x_t = self.x[:, u * t_steps + t][:, None]
                a = phase_input(layer, plan.enc.name, x_t, self.ewus[c].state)[:, 0]
                procs += self.channels[c].run_phase(plan, a, start)
            yield env.all_of(procs)
            done = max(self.channels[c].drain() for c in range(active))
            for c in range(active):
                for pe in self.channels[c].pes:
                    pe.end_phase(done)
            self.spmv_cycles[p] = done + 1 - start
            if done + 1 > env.now:
                yield env.timeout(done + 1 - env.now)
            self.stream.freed[q].succeed()
            for c in range(active):
                acc = self.channels[c].accumulators(plan.enc.n_rows)
                u = r * self.config.channels + c
                out = u * t_steps + t if p == phases - 1 else None
                self.ewus[c].tasks.put((q, plan, acc, out))
            if self.progress is not None:
                self.progress(plan.enc.n_cols)
            if p == phases - 1:
                env.process(self._step_end(q, s, r, t, active))

    def _step_end(self, q: int, s: int, r: int, t: int, active: int):
        """When a step's last element-wise task is done: y_t goes out to DRAM."""
        yield self._done(q, active)
        layer = self.layer
        for _ in range(active):
            self.counts["dram.act_read_bytes"] += 2 * layer.n_in
            self.counts["act_buffer.write"] += layer.n_in
            self.counts["dram.write_bytes"] += 2 * layer.n_out
            self.counts["act_buffer.read"] += layer.n_out
        self.step_ends.append(self.env.now)


def run_layer(state: ESEState, x: np.ndarray, config: ESEConfig, progress=None) -> LayerRun:
    """Simulate the LSTM layer with SimPy: one component per block."""
    from eie_sim.engines.ese.fast import details

    env = simpy.Environment()
    counts = zero_counts()
    sched = Scheduler(env, state, x, config, counts, progress)
    env.run()
    cycles = int(sched.step_ends[-1])
    busy = np.array([pe.busy for ch in sched.channels for pe in ch.pes], dtype=np.int64)
    stall = np.array([pe.stall for ch in sched.channels for pe in ch.pes], dtype=np.int64)
    segments = [int(v) for v in np.diff(np.r_[0, sched.step_ends])]
    return LayerRun(cycles=cycles, segment_cycles=segments,
                    counts={k: int(v) for k, v in counts.items()}, unit_busy=busy,
                    unit_stall=stall, unit_idle=cycles - busy - stall, outputs=sched.outputs,
                    details=details(state, sched.spmv_cycles))
