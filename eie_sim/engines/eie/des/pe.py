"""EIE's column source: the blocks of the EIE PE (paper Fig. 4) that turn a broadcast column
into weighted entries, named as in the paper.

The generic PE around them (queue pops, arithmetic unit with bypass, destination register file,
activation read/write, drain) is the PE array's
:class:`~eie_sim.engines.pe_array.des.pe.ProcessingElement`; EIE plugs in a
:class:`SparseColumnSource`: the pointer read unit finds the column's slice, the sparse-matrix
read unit reads its entries ``(v, z)`` one per cycle, the relative row index is accumulated and
the weight decoder expands ``v`` through the codebook before the arithmetic unit.
"""

from __future__ import annotations

import numpy as np

from eie_sim.config import EIEConfig
from eie_sim.engines.pe_array.des.pe import ArithmeticUnit
from eie_sim.formats.interleaved_csc import InterleavedCSC
from eie_sim.layer import QuantizedLayer


class PointerReadUnit:
    """Reads ``p_j`` and ``p_j+1`` in one cycle from the even and odd pointer SRAM banks.

    Cycle contract: the read happens in the pop cycle (``S - 1``). ``ptr`` is this PE's pointer
    array (``passes * n_cols + 1`` 16-bit words).
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

    Cycle contract: the entry issued in cycle t is read in cycle t + 1. The SRAM is
    ``entries_per_row`` entries wide (64 bits = 8 entries); a row is read only when an entry lies
    in a different row than the last one read (rows are reused across columns). The last-read
    row register is reset at the start of every layer, not between passes.
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
        """Entry ``(v, z)`` at ``address`` (counting a row read when the row changes)."""
        row = address // self.entries_per_row
        if row != self.last_row:
            self.last_row = row
            self.counts["pe.spmat_sram.read"] += 1
        return self.v[address], self.z[address]


class WeightDecoder:
    """Looks a 4-bit index up in the layer's 16-entry codebook (the bias column uses the bias
    codebook, see :class:`eie_sim.layer.QuantizedLayer`).

    Cycle contract: one lookup per entry, in its issue cycle (padding entries included).
    """

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
        """The int16 weight of index ``v`` in ``column``."""
        self.counts["pe.weight_decoder.lookup"] += 1
        table = self.bias_codebook if column == self.bias_column else self.codebook
        return table[v]


class SparseColumnSource:
    """EIE's column source for PE ``index``: pointer read, sparse-matrix read and weight decoder
    in sequence (not a block of its own; the wiring of three).

    Cycle contract (:class:`~eie_sim.engines.pe_array.des.pe.ColumnSource`): pointers read in
    the pop cycle, then one entry per cycle from ``first_issue``; an empty slice costs one cycle.
    """

    def __init__(
        self, index: int, config: EIEConfig, enc: InterleavedCSC, layer: QuantizedLayer,
        counts: dict[str, int],
    ) -> None:
        v, z = enc.pe_entries(index)
        self.ptr_unit = PointerReadUnit(enc.ptr[index], enc.n_cols, counts)
        self.spmat_unit = SparseMatrixReadUnit(v, z, config.entries_per_sram_row, counts)
        self.decoder = WeightDecoder(
            layer.codebook, layer.bias_codebook, layer.n_in if layer.has_bias else -1, counts
        )

    def issue(
        self, pass_index: int, column: int, activation: int, first_issue: int,
        arith: ArithmeticUnit,
    ) -> int:
        """Issue this PE's slice of ``column`` into ``arith``, one entry per cycle from
        ``first_issue``; returns ``max(1, entries)``."""
        start, end = self.ptr_unit.read(pass_index, column)
        read, decode, accumulate = self.spmat_unit.read, self.decoder.decode, arith.issue
        row = -1
        cycle = first_issue
        for address in range(start, end):
            v, z = read(address)
            row += z + 1  # relative row index: z zeros since the previous entry
            accumulate(cycle, row, decode(v, column), activation, v == 0)
            cycle += 1
        return max(1, end - start)
