"""DramStream: streams the broadcast columns' weights from DRAM (``weights_from: dram``).

The weight SRAM of every PE (EIE: the sparse-matrix SRAM; dense: the weight SRAM) is then a
buffer. In every pass the stream fetches, in broadcast order, each broadcast column's slices for
all PEs (only columns that are broadcast are fetched: EIE skips zero activations in DRAM traffic
too), at ``dram_bytes_per_cycle`` from the pass's cycle 1. A column is usable from the cycle
after its last byte arrives (:func:`~eie_sim.engines.pe_array.stream.stream_ready_cycle`); a PE
does not pop an activation before its column has arrived. EIE's pointers stay in the pointer
SRAM.
"""

from __future__ import annotations

import numpy as np
import simpy

from eie_sim.engines.pe_array.stream import slice_bytes, slice_rows, stream_ready_cycle


class DramStream:
    """The DRAM weight stream of one pass.

    Cycle contract: column ``c``'s :meth:`arrival` event is processed in cycle
    ``start + stream_ready_cycle(bytes up to and including c) - 1``, so a PE waiting on it pops
    (and reads the column) from the next cycle on.

    Parameters
    ----------
    env : simpy.Environment
    entries : numpy.ndarray of int64, shape (N, n_cols)
        Entries (EIE: padding included; dense: rows) of each PE's slice of each column in this
        pass.
    columns : list of int
        Broadcast columns in broadcast order.
    entry_bits, width_bits : int
        Entry and buffer SRAM row widths, bits.
    bytes_per_cycle : float
        DRAM bandwidth, bytes per cycle.
    counts : dict
        Shared counters (``dram.read_bytes`` and ``write_counter``).
    write_counter : str
        Counter of the rows written into the buffer SRAM (EIE: ``pe.spmat_sram.write``,
        dense: ``pe.weight_sram.write``).
    """

    def __init__(
        self,
        env: simpy.Environment,
        entries: np.ndarray,
        columns: list[int],
        entry_bits: int,
        width_bits: int,
        bytes_per_cycle: float,
        counts: dict[str, int],
        write_counter: str,
    ) -> None:
        self.env = env
        self.entries = entries
        self.columns = columns
        self.entry_bits = entry_bits
        self.width_bits = width_bits
        self.bytes_per_cycle = bytes_per_cycle
        self.counts = counts
        self.write_counter = write_counter
        self._arrived = {c: env.event() for c in columns}

    def arrival(self, column: int) -> simpy.Event:
        """Event processed in the last cycle before ``column`` is usable."""
        return self._arrived[column]

    def run(self, start_cycle: int):
        """SimPy process: fetch the columns in order, signalling each arrival."""
        env = self.env
        fetched = 0
        for column in self.columns:
            e = self.entries[:, column]
            fetched += int(slice_bytes(e, self.entry_bits).sum())
            self.counts[self.write_counter] += int(
                slice_rows(e, self.entry_bits, self.width_bits).sum()
            )
            ready = start_cycle + stream_ready_cycle(fetched, self.bytes_per_cycle)
            if ready - 1 > env.now:
                yield env.timeout(ready - 1 - env.now)
            self._arrived[column].succeed()
        self.counts["dram.read_bytes"] += fetched
