"""The EIE processing element and its blocks (paper Fig. 4), named as in the paper.

A PE pops the head of its activation queue, reads the column's pointers, streams the column
slice's entries through the weight decoder into the arithmetic unit, and accumulates into its
destination register file. Its only interactions with other units are the queue pops, so the
entries of one column slice are one ``timeout(w)`` in SimPy: ``w = max(1, entries)`` cycles,
exactly the cycle-by-cycle behaviour (one entry per cycle, an empty slice costs the pointer
read's cycle, the next pointer read overlaps the last entry). Each entry still passes through
each block in its own issue cycle, so cycle-dependent events (the bypass) are exact.
"""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.config import EIEConfig
from eie_sim.engines.eie.common import ISSUE_TO_WRITE, POP_TO_ISSUE, QUEUE_VISIBLE_DELAY
from eie_sim.engines.eie.des.act_queue import ActivationQueue
from eie_sim.engines.eie.des.dram import DramStream
from eie_sim.formats.fixed_point import INT16_MAX, INT16_MIN


class PointerReadUnit:
    """Reads ``p_j`` and ``p_j+1`` in one cycle from the even and odd pointer SRAM banks.

    ``ptr`` is this PE's pointer array (``passes * n_cols + 1`` 16-bit words).
    """

    def __init__(self, ptr: np.ndarray, n_cols: int, counts: dict[str, int]) -> None:
        self.ptr = ptr.tolist()
        self.n_cols = n_cols
        self.counts = counts

    def read(self, pass_index: int, column: int) -> tuple[int, int]:
        """Start and end address of ``column``'s slice in pass ``pass_index``."""
        i = pass_index * self.n_cols + column
        self.counts["pe.ptr_sram.read"] += 2  # one word from each bank
        return self.ptr[i], self.ptr[i + 1]


class SparseMatrixReadUnit:
    """Reads entries ``(v, z)`` from the sparse-matrix SRAM, one per cycle.

    The SRAM is ``entries_per_row`` entries wide (64 bits = 8 entries); a row is read only when
    an entry lies in a different row than the last one read (rows are reused across columns).
    The last-read row register is reset at the start of every layer, not between passes.
    """

    def __init__(
        self, v: np.ndarray, z: np.ndarray, entries_per_row: int, counts: dict[str, int]
    ) -> None:
        self.v = v.tolist()
        self.z = z.tolist()
        self.entries_per_row = entries_per_row
        self.counts = counts
        self.last_row = -1

    def read(self, address: int) -> tuple[int, int]:
        row = address // self.entries_per_row
        if row != self.last_row:
            self.last_row = row
            self.counts["pe.spmat_sram.read"] += 1
        return self.v[address], self.z[address]


class WeightDecoder:
    """Looks a 4-bit index up in the layer's 16-entry codebook (the bias column uses the bias
    codebook, see :class:`eie_sim.layer.QuantizedLayer`)."""

    def __init__(
        self,
        codebook: np.ndarray,
        bias_codebook: np.ndarray | None,
        bias_column: int,
        counts: dict[str, int],
    ) -> None:
        self.codebook = [int(c) for c in codebook]
        self.bias_codebook = None if bias_codebook is None else [int(c) for c in bias_codebook]
        self.bias_column = bias_column
        self.counts = counts

    def decode(self, v: int, column: int) -> int:
        self.counts["pe.weight_decoder.lookup"] += 1
        table = self.bias_codebook if column == self.bias_column else self.codebook
        return table[v]


class ArithmeticUnit:
    """``b_x += w * a_j`` on the destination register file, 16-bit fixed point.

    Pipeline: issue (codebook lookup + address accumulation), SRAM, three arithmetic stages,
    write ``ISSUE_TO_WRITE`` cycles after issue. When the same accumulator is updated on two
    adjacent cycles the bypass forwards the adder output: no stall, and no register-file read.
    Padding entries (``v == 0``) pass through without a write.
    """

    def __init__(self, rows: int, weight_frac_bits: int, counts: dict[str, int]) -> None:
        self.acc = [0] * rows
        self.shift = weight_frac_bits
        self.round = (1 << (weight_frac_bits - 1)) if weight_frac_bits else 0
        self.counts = counts
        self.last_row = -1
        self.last_cycle = -2

    def reset(self, rows: int) -> None:
        self.acc = [0] * rows
        self.last_row, self.last_cycle = -1, -2

    def issue(self, cycle: int, row: int, weight: int, activation: int, padding: bool) -> None:
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


class ActivationReadWrite:
    """Moves activations between the activation SRAM and the register files.

    When the input vector is longer than the source register files (N x 64) it lives in the
    activation SRAM and is streamed in for every pass; when a PE owns more output rows than its
    destination register file holds, each pass's outputs are spilled to the activation SRAM.
    """

    def __init__(
        self, inputs_owned: int, inputs_in_sram: bool, outputs_in_sram: bool, counts: dict[str, int]
    ) -> None:
        self.inputs_owned = inputs_owned
        self.inputs_in_sram = inputs_in_sram
        self.outputs_in_sram = outputs_in_sram
        self.counts = counts

    def load_sources(self) -> None:
        if self.inputs_in_sram:
            self.counts["pe.act_sram.read"] += self.inputs_owned
            self.counts["pe.src_regfile.write"] += self.inputs_owned

    def store_outputs(self, rows: int) -> None:
        if self.outputs_in_sram:
            self.counts["pe.dest_regfile.read"] += rows
            self.counts["pe.act_sram.write"] += rows


class ProcessingElement:
    """PE ``index`` of ``N``: owns rows ``i`` with ``i mod N == index``."""

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        config: EIEConfig,
        queue: ActivationQueue,
        enc,
        layer,
        counts: dict[str, int],
    ) -> None:
        n = config.num_pes
        self._init_common(
            env,
            index,
            n,
            queue,
            layer,
            counts,
            passes=enc.passes,
            rows_per_pass=enc.rows_per_pass,
            inputs_in_sram=layer.n_in > n * config.act_regfile_entries,
        )
        v, z = enc.pe_entries(index)
        self.ptr_unit = PointerReadUnit(enc.ptr[index], enc.n_cols, counts)
        self.spmat_unit = SparseMatrixReadUnit(v, z, config.entries_per_sram_row, counts)
        self.decoder = WeightDecoder(
            layer.codebook, layer.bias_codebook, layer.n_in if layer.has_bias else -1, counts
        )

    def _init_common(
        self,
        env: simpy.Environment,
        index: int,
        n: int,
        queue: ActivationQueue,
        layer,
        counts: dict[str, int],
        *,
        passes: int,
        rows_per_pass: int,
        inputs_in_sram: bool,
    ) -> None:
        """The queue, accumulators, activation read/write unit and statistics of any PE."""
        self.env = env
        self.index = index
        self.queue = queue
        self.rows_owned = len(range(index, layer.n_out, n))
        self.rows_per_pass = rows_per_pass
        self.arith = ArithmeticUnit(0, layer.weight_frac_bits, counts)
        self.act_rw = ActivationReadWrite(
            inputs_owned=len(range(index, layer.n_in, n)),
            inputs_in_sram=inputs_in_sram,
            outputs_in_sram=passes > 1,
            counts=counts,
        )
        self.busy = self.stall = self.idle = 0
        self.last_issue = -1
        self.issued = False  # did this PE issue anything in the current pass

    def pass_rows(self, pass_index: int) -> int:
        """Rows of this PE in pass ``pass_index``."""
        first = pass_index * self.rows_per_pass
        return max(0, min(self.rows_owned - first, self.rows_per_pass))

    def run_pass(self, pass_index: int, start_cycle: int, stream: DramStream | None = None):
        """SimPy process: consume broadcasts until the CCU closes the queue.

        With a DRAM ``stream`` the pointer read (and pop) waits until the column's weights
        have arrived.
        """
        env = self.env
        self.act_rw.load_sources()
        self.arith.reset(self.pass_rows(pass_index))
        self.issued = False
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
            first_issue = env.now + POP_TO_ISSUE
            # Waiting for this activation: the part a full queue elsewhere caused is stall;
            # the scan, the pipeline and DRAM are idle.
            delay = QUEUE_VISIBLE_DELAY + POP_TO_ISSUE
            unblocked = max(last_issue + 1, attempt + delay)
            held = max(last_issue + 1, push + delay)
            self.stall += held - unblocked
            self.idle += (unblocked - (last_issue + 1)) + (first_issue - held)
            work = self.process_column(pass_index, column, activation, first_issue)
            self.issued = True
            self.busy += work
            last_issue = first_issue + work - 1
            # The pointer read of the next activation overlaps this slice's last entry.
            yield env.timeout(work)
        self.last_issue = last_issue

    def process_column(
        self, pass_index: int, column: int, activation: int, first_issue: int
    ) -> int:
        """Issue this PE's slice of ``column``, one entry per cycle from ``first_issue``.

        Returns the cycles the slice occupies the PE: ``max(1, entries)``.
        """
        start, end = self.ptr_unit.read(pass_index, column)
        row = -1
        cycle = first_issue
        for address in range(start, end):
            v, z = self.spmat_unit.read(address)
            row += z + 1
            weight = self.decoder.decode(v, column)
            self.arith.issue(cycle, row, weight, activation, v == 0)
            cycle += 1
        return max(1, end - start)

    def finish_pass(self, pass_index: int, outputs: np.ndarray, n: int, done_cycle: int) -> None:
        """Drain: count idle cycles to the end of the pass, store this PE's outputs."""
        self.idle += done_cycle - self.last_issue
        rows = self.pass_rows(pass_index)
        base = self.index + n * pass_index * self.rows_per_pass
        outputs[base : base + n * rows : n] = self.arith.acc[:rows]
        self.act_rw.store_outputs(rows)


def drain_cycle(pes: list[ProcessingElement]) -> int:
    """Cycle in which the last issued entry of the pass leaves the pipeline (-1: none issued)."""
    issued = [pe.last_issue for pe in pes if pe.issued]
    return max(issued) + ISSUE_TO_WRITE if issued else -1
