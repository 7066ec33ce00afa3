"""The processing element of the PE array (EIE paper Fig. 4), composed of its blocks.

A PE pops the head of its activation queue, gets the column's entries from its *column source*
(EIE: pointer read unit + sparse-matrix read unit + weight decoder; dense: weight SRAM read
unit), which issues them one per cycle into the arithmetic unit, and accumulates into its
destination register file; the activation read/write unit moves activations between the
activation SRAM and the register files. Its only interactions with other units are the queue
pops (and the DRAM stream's arrivals), so the entries of one column slice are one ``timeout(w)``
in SimPy: ``w = max(1, entries)`` cycles, exactly the cycle-by-cycle behaviour (one entry per
cycle, an empty slice costs the first read's cycle, the next column's first read overlaps the
last entry). Each entry still passes through each block in its own issue cycle, so
cycle-dependent events (the bypass) are exact.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import simpy

from eie_sim.config import PEArrayConfig
from eie_sim.engines.pe_array.des.act_queue import ActivationQueue
from eie_sim.engines.pe_array.des.dram import DramStream
from eie_sim.engines.pe_array.timing import ISSUE_TO_WRITE, POP_TO_ISSUE, queue_wait
from eie_sim.formats.fixed_point import INT16_MAX, INT16_MIN
from eie_sim.layer import QuantizedLayer


class ArithmeticUnit:
    """``b_x += w * a_j`` on the destination register file, 16-bit fixed point.

    Cycle contract: an entry issued in cycle t (weight read / decoded in its issue cycle) goes
    through the weight SRAM at t + 1, three arithmetic stages, and is written at
    t + ``ISSUE_TO_WRITE``. When the same accumulator is updated on two adjacent cycles the
    bypass forwards the adder output: no stall, and no register-file read. Padding entries pass
    through without a write.
    """

    def __init__(self, rows: int, weight_frac_bits: int, counts: dict[str, int]) -> None:
        self.acc = [0] * rows
        self.shift = weight_frac_bits
        self.round = (1 << (weight_frac_bits - 1)) if weight_frac_bits else 0
        self.counts = counts
        self.last_row = -1
        self.last_cycle = -2
        self.last_write = -1  # cycle the last accumulator write of the pass lands (-1: none)

    def reset(self, rows: int) -> None:
        """Start a pass with ``rows`` zeroed accumulators (the bypass chain is broken)."""
        self.acc = [0] * rows
        self.last_row, self.last_cycle = -1, -2
        self.last_write = -1

    def issue(self, cycle: int, row: int, weight: int, activation: int, padding: bool) -> None:
        """One entry issued in ``cycle``: accumulate ``weight * activation`` into local ``row``
        (rounded, saturating), unless it is ``padding``."""
        counts = self.counts
        if padding:
            counts["pe.arith.padding"] += 1
            return
        counts["pe.arith.mac"] += 1
        counts["pe.dest_regfile.write"] += 1
        if row == self.last_row and cycle == self.last_cycle + 1:
            counts["pe.arith.bypass"] += 1
        else:
            counts["pe.dest_regfile.read"] += 1
        total = self.acc[row] + ((weight * activation + self.round) >> self.shift)
        self.acc[row] = (
            INT16_MIN if total < INT16_MIN else INT16_MAX if total > INT16_MAX else total
        )
        self.last_row, self.last_cycle = row, cycle
        self.last_write = cycle + ISSUE_TO_WRITE


class ActivationReadWrite:
    """Moves activations between the activation SRAM and the register files.

    Cycle contract: none on the critical path (the moves overlap the scan; only counted). When
    the input vector is longer than the source register files (N x R) it lives in the activation
    SRAM and is streamed in for every pass; when a PE owns more output rows than its destination
    register file holds, each pass's outputs are spilled to the activation SRAM.
    """

    def __init__(
        self, inputs_owned: int, inputs_in_sram: bool, outputs_in_sram: bool, counts: dict[str, int]
    ) -> None:
        self.inputs_owned = inputs_owned
        self.inputs_in_sram = inputs_in_sram
        self.outputs_in_sram = outputs_in_sram
        self.counts = counts

    def load_sources(self) -> None:
        """A pass starts: load this PE's source activations from the activation SRAM."""
        if self.inputs_in_sram:
            self.counts["pe.act_sram.read"] += self.inputs_owned
            self.counts["pe.src_regfile.write"] += self.inputs_owned

    def store_outputs(self, rows: int) -> None:
        """A pass ends: spill its ``rows`` outputs to the activation SRAM."""
        if self.outputs_in_sram:
            self.counts["pe.dest_regfile.read"] += rows
            self.counts["pe.act_sram.write"] += rows


class ColumnSource(Protocol):
    """The front of a PE's pipeline: turns a popped activation's column into entries.

    Cycle contract: its first read (EIE: the pointer read) happens in the pop cycle
    ``first_issue - 1``; it issues the PE's slice of ``column`` in pass ``pass_index`` into
    ``arith``, one entry per cycle from ``first_issue``, and returns the cycles the slice
    occupies the PE: ``max(1, entries)``.
    """

    def issue(
        self, pass_index: int, column: int, activation: int, first_issue: int,
        arith: ArithmeticUnit,
    ) -> int:
        ...


class ProcessingElement:
    """PE ``index`` of ``N``: owns output rows ``i`` with ``i mod N == index``.

    Cycle contract (docs/MODEL.md §Processing element): it pops the head of its queue in cycle
    ``S - 1`` at the earliest one cycle after the push (and, with a DRAM stream, after the
    column has arrived), and issues the slice in cycles ``S .. F = S + W - 1`` with
    ``S = max(F_prev + 1, P + 2)``. Every cycle of the layer is counted once: *busy* (issue
    cycles), *stall* (waiting for an activation that a full queue elsewhere held back) or
    *idle* (everything else: the scan, pipeline fill and drain, DRAM, batch swaps).

    Parameters
    ----------
    env : simpy.Environment
    index : int
        PE number ``k``.
    config : PEArrayConfig
        ``num_pes`` and ``act_regfile_entries`` (rows per pass, source batch size).
    queue : ActivationQueue
        This PE's activation queue.
    source : ColumnSource
        Issues a column's entries into the arithmetic unit.
    layer : QuantizedLayer
        Sizes (rows and inputs owned) and the weights' fraction bits.
    counts : dict
        Shared counters.
    passes : int
        Output passes of the layer.
    """

    #: :class:`eie_sim.trace.PETrace` while a trace is recorded, else None (no cost)
    trace = None

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        config: PEArrayConfig,
        queue: ActivationQueue,
        source: ColumnSource,
        layer: QuantizedLayer,
        counts: dict[str, int],
        *,
        passes: int,
    ) -> None:
        n, r = config.num_pes, config.act_regfile_entries
        self.env = env
        self.index = index
        self.num_pes = n
        self.queue = queue
        self.source = source
        self.rows_owned = len(range(index, layer.n_out, n))
        self.rows_per_pass = r
        self.arith = ArithmeticUnit(0, layer.weight_frac_bits, counts)
        self.act_rw = ActivationReadWrite(
            inputs_owned=len(range(index, layer.n_in, n)),
            inputs_in_sram=layer.n_in > n * r,
            outputs_in_sram=passes > 1,
            counts=counts,
        )
        self.busy = self.stall = self.idle = 0
        self.last_issue = -1
        self.last_pop = -1  # cycle this PE popped the pass's last broadcast (-1: none)

    def pass_rows(self, pass_index: int) -> int:
        """Rows of this PE in pass ``pass_index``."""
        first = pass_index * self.rows_per_pass
        return max(0, min(self.rows_owned - first, self.rows_per_pass))

    def run_pass(self, pass_index: int, start_cycle: int, stream: DramStream | None = None):
        """SimPy process: consume broadcasts until the CCU closes the queue.

        With a DRAM ``stream`` the pop (and the column source's first read) waits until the
        column's weights have arrived.
        """
        env = self.env
        issue = self.source.issue
        trace = self.trace
        self.act_rw.load_sources()
        self.arith.reset(self.pass_rows(pass_index))
        self.last_pop = -1
        last_issue = start_cycle - 1  # F: last issue cycle so far
        while True:
            head = yield from self.queue.wait_head()
            if head is None:
                break
            if stream is not None:
                arrived = stream.arrival(head[2])
                if not arrived.processed:
                    yield arrived
            push, attempt, column, activation = self.queue.pop()
            self.last_pop = env.now
            first_issue = env.now + POP_TO_ISSUE
            # Waiting for this activation: the part a full queue elsewhere caused is stall;
            # the scan, the pipeline and DRAM are idle.
            unblocked, held = queue_wait(last_issue, attempt, push)
            self.stall += held - unblocked
            self.idle += (unblocked - (last_issue + 1)) + (first_issue - held)
            work = issue(pass_index, column, activation, first_issue, self.arith)
            self.busy += work
            if trace is not None:
                trace.activation(env.now, last_issue + 1, unblocked, held, first_issue, work)
            last_issue = first_issue + work - 1
            # The next column's first read overlaps this slice's last entry.
            yield env.timeout(work)
        self.last_issue = last_issue

    def finish_pass(self, pass_index: int, outputs: np.ndarray, done_cycle: int) -> None:
        """Drain: count idle cycles to the end of the pass, store this PE's outputs.

        A last column slice that is empty may have its one cycle after the end (the end does
        not wait for an empty slice): that cycle is not part of the pass."""
        overshoot = max(0, self.last_issue - done_cycle)
        if self.trace is not None:
            self.trace.end_pass(self.last_issue, done_cycle)
        self.busy -= overshoot
        self.idle += done_cycle - self.last_issue + overshoot
        rows = self.pass_rows(pass_index)
        n = self.num_pes
        base = self.index + n * pass_index * self.rows_per_pass
        outputs[base : base + n * rows : n] = self.arith.acc[:rows]
        self.act_rw.store_outputs(rows)


def drain_cycle(pes: list[ProcessingElement]) -> int:
    """Last cycle of a pass's work (docs/MODEL.md §End of a layer): the cycle the last
    accumulator write lands, or the cycle the last PE popped the last broadcast if that is
    later (-1: nothing broadcast). An empty column slice writes nothing and adds no drain."""
    return max(max(pe.arith.last_write, pe.last_pop) for pe in pes)
