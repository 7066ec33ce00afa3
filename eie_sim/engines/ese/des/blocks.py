"""ESE's hardware blocks as SimPy components (ESE paper Fig. 8-9; docs/ESE_MODEL.md §Blocks).

Each block holds ``env``, its slice of the config and the shared counters, and yields only where
it interacts with another block: the weight stream with the scheduler (buffer loaded / freed),
the channel's broadcast with the PEs' activation queues (reused from EIE's PE array:
:class:`~eie_sim.engines.pe_array.des.act_queue.ActivationQueue`), the element-wise unit with
the scheduler (accumulators handed over, task done).
"""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.config import ESEConfig
from eie_sim.engines.ese.common import SPMAT_ROW_BITS, PhasePlan
from eie_sim.engines.pe_array.des.act_queue import ActivationQueue
from eie_sim.engines.pe_array.timing import (
    ISSUE_TO_WRITE,
    POP_TO_ISSUE,
    SCAN_START_CYCLE,
    queue_wait,
)
from eie_sim.workloads.lstm import CellState, LSTMLayer, element_wise


class WeightStream:
    """The DRAM stream that fills the PEs' double-buffered pointer and sparse-matrix buffers.

    Cycle contract: the loads run one after another in execution order (the scheduler's phase
    order, step after step); load ``q`` starts when load ``q - 1`` is done and SpMV ``q - 2``
    (the other user of its buffer half) has ended, and takes ``plan.load_cycles``
    (``ceil(bytes / bytes per cycle)``). One DRAM read feeds PE ``k`` of every active channel.
    """

    def __init__(self, env: simpy.Environment, plans: tuple[PhasePlan, ...], executions: int,
                 active_per_step: list[int], counts: dict[str, int]) -> None:
        self.env = env
        self.plans = plans
        self.executions = executions
        self.active_per_step = active_per_step
        self.counts = counts
        self.loaded = [env.event() for _ in range(executions)]
        self.freed = [env.event() for _ in range(executions)]
        env.process(self.run())

    def run(self):
        phases = len(self.plans)
        for q in range(self.executions):
            if q >= 2:
                yield self.freed[q - 2]
            plan = self.plans[q % phases]
            yield self.env.timeout(plan.load_cycles)
            self.counts["dram.read_bytes"] += plan.load_bytes
            active = self.active_per_step[q // phases]
            for name, v in plan.buffer_writes.items():
                self.counts[name] += v * active
            self.loaded[q].succeed()


class ProcessingElement:
    """PE ``index`` of a channel: pops broadcasts, reads the column's pointers and entries from
    its buffer half, and accumulates ``round_shift(w * a, frac_bits)`` into 40-bit accumulators.

    Cycle contract (EIE's, docs/MODEL.md §Processing element): it pops the head of its queue in
    cycle ``S - 1`` (at the earliest one cycle after the push), reads ``p_j, p_j+1`` in that
    cycle, and issues the slice's entries one per cycle in ``S .. S + max(1, e) - 1``
    (``S = max(F_prev + 1, P + 2)``); a real entry's accumulator write lands
    ``ISSUE_TO_WRITE`` cycles after its issue; padding passes without a write. A new 64-bit
    buffer row is read when an entry lies in another row than the last one read.
    """

    def __init__(self, env: simpy.Environment, index: int, config: ESEConfig,
                 queue: ActivationQueue, counts: dict[str, int]) -> None:
        self.env = env
        self.index = index
        self.num_pes = config.num_pes
        self.queue = queue
        self.counts = counts
        self.per_row = SPMAT_ROW_BITS // config.entry_bits
        self.span = 1 << config.relative_index_bits
        self.busy = self.stall = 0
        self.acc: list[int] = []
        self.last_issue = self.last_write = self.last_pop = -1

    def run_phase(self, plan: PhasePlan, start: int):
        """SimPy process: consume one phase's broadcasts until the queue is closed."""
        env, enc, counts = self.env, plan.enc, self.counts
        k = self.index
        base = int(enc.pe_offset[k])
        ptr = enc.ptr[k]
        w_all, z_all = enc.w, enc.z
        shift, rnd = enc.frac_bits, (1 << (enc.frac_bits - 1)) if enc.frac_bits else 0
        self.acc = [0] * len(range(k, enc.n_rows, self.num_pes))
        self.last_write = self.last_pop = -1
        last_row_read = -1
        last_issue = start - 1
        while True:
            head = yield from self.queue.wait_head()
            if head is None:
                break
            push, attempt, column, activation = self.queue.pop()
            self.last_pop = env.now
            first_issue = env.now + POP_TO_ISSUE
            unblocked, held = queue_wait(last_issue, attempt, push)
            self.stall += held - unblocked
            counts["pe.ptr_buffer.read"] += 2
            lo, hi = int(ptr[column]), int(ptr[column + 1])
            row = -1
            for e in range(lo, hi):
                sram_row = e // self.per_row
                if sram_row != last_row_read:
                    counts["pe.spmat_buffer.read"] += 1
                    last_row_read = sram_row
                w, z = int(w_all[base + e]), int(z_all[base + e])
                row += z + 1
                if w == 0:  # padding: a real weight is never zero
                    counts["pe.arith.padding"] += 1
                    continue
                counts["pe.arith.mac"] += 1
                counts["pe.accumulator.read"] += 1
                counts["pe.accumulator.write"] += 1
                self.acc[row] += (w * activation + rnd) >> shift
                self.last_write = first_issue + (e - lo) + ISSUE_TO_WRITE
            work = max(1, hi - lo)
            self.busy += work
            last_issue = first_issue + work - 1
            yield env.timeout(work)
        self.last_issue = last_issue

    def end_phase(self, done: int) -> None:
        """An empty last slice may have its cycle after the phase's end: not part of it."""
        self.busy -= max(0, self.last_issue - done)


class Channel:
    """One channel: its broadcast (the central control unit reading the activation buffer), one
    activation queue per PE and the PEs; it runs one utterance.

    Cycle contract of the broadcast (EIE's CCU, every element): the first attempt is in the
    phase's cycle ``SCAN_START_CYCLE``, one element per cycle; a broadcast is atomic (it
    happens in a cycle in which every queue has room, else it waits: ``ccu.stall``).
    """

    def __init__(self, env: simpy.Environment, index: int, config: ESEConfig,
                 counts: dict[str, int]) -> None:
        self.env = env
        self.index = index
        self.counts = counts
        self.queues = [ActivationQueue(env, config.queue_capacity, counts)
                       for _ in range(config.num_pes)]
        self.pes = [ProcessingElement(env, k, config, self.queues[k], counts)
                    for k in range(config.num_pes)]
        self.last_push = -1

    def scan(self, a: np.ndarray):
        """SimPy process: broadcast every element of the phase input ``a``."""
        env = self.env
        yield env.timeout(SCAN_START_CYCLE)
        for j, value in enumerate(int(v) for v in a):
            attempt = env.now
            while True:
                blocked = [q for q in self.queues if not q.has_room()]
                if not blocked:
                    break
                if any(q.last_pop_cycle == env.now for q in blocked):
                    yield env.timeout(1)
                else:
                    yield env.any_of([q.popped for q in blocked])
                    yield env.timeout(1)
            self.counts["ccu.stall"] += env.now - attempt
            self.counts["ccu.broadcast"] += 1
            self.counts["act_buffer.read"] += 1
            self.last_push = env.now
            for q in self.queues:
                q.push(attempt, j, value)
            yield env.timeout(1)
        for q in self.queues:
            q.close()

    def run_phase(self, plan: PhasePlan, a: np.ndarray, start: int) -> list:
        """Start one SpMV phase: open the queues, start the PEs and the broadcast."""
        for q in self.queues:
            q.open()
        procs = [self.env.process(pe.run_phase(plan, start)) for pe in self.pes]
        procs.append(self.env.process(self.scan(a)))
        return procs

    def drain(self) -> int:
        """Last cycle of the phase's work: last push, last write landed, last pop."""
        return max(self.last_push, *(max(pe.last_write, pe.last_pop) for pe in self.pes))

    def accumulators(self, n_rows: int) -> np.ndarray:
        """The phase's accumulators as one (rows, 1) int64 column, row i from PE i mod N."""
        n = len(self.pes)
        out = np.zeros((n_rows, 1), dtype=np.int64)
        for pe in self.pes:
            out[pe.index :: n, 0] = pe.acc
        return out


class ElementWiseUnit:
    """A channel's element-wise unit: adder tree (accumulator + peephole + bias), sigmoid /
    tanh lookup tables, element-wise multipliers and adders (ESE: outside the PEs).

    ``tasks`` receives ``(execution q, phase plan, accumulators, output column or None)``.
    Cycle contract: tasks run one at a time in the order handed over; a task over ``rows``
    elements takes ``ceil(rows / ewu_lanes) + ewu_latency_cycles`` cycles from the later of its
    hand-over and the previous task's end (``plan.ewu_cycles``); ``done[q]`` fires at its end.
    """

    def __init__(self, env: simpy.Environment, layer: LSTMLayer, executions: int,
                 counts: dict[str, int], outputs: np.ndarray) -> None:
        self.env = env
        self.outputs = outputs
        self.layer = layer
        self.counts = counts
        self.tasks = simpy.Store(env)
        self.done = [env.event() for _ in range(executions)]
        self.state: CellState | None = None
        env.process(self.run())

    def run(self):
        while True:
            q, plan, acc, out = yield self.tasks.get()
            rows = plan.enc.n_rows
            for name, v in plan.channel_counts.items():
                if name.startswith("ewu."):
                    self.counts[name] += v
            self.counts["pe.accumulator.read"] += rows
            element_wise(self.layer, plan.enc.name, acc, self.state)
            if out is not None:  # the step's last task: y_t leaves for DRAM
                self.outputs[:, out] = self.state.y[:, 0]
            yield self.env.timeout(plan.ewu_cycles)
            # The task's activation-buffer traffic: reads of c / gates, writes of its result.
            read = plan.channel_counts["act_buffer.read"] - plan.enc.n_cols
            self.counts["act_buffer.read"] += read
            self.counts["act_buffer.write"] += plan.channel_counts["act_buffer.write"]
            self.done[q].succeed()
