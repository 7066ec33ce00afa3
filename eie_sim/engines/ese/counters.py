"""ESE's counter catalogue: every (unit, action) an ESE engine counts, with unit and meaning.

A leaf module (imports nothing), read by the registry, the energy-table validation and the docs.
Units shared with EIE keep EIE's names (``ccu``, ``pe.act_queue``, ``pe.arith``, ``dram``); the
rest are ESE's own blocks: the double-buffered pointer and sparse-matrix buffers, the 40-bit
accumulators, the channel's activation buffer and its element-wise unit.
"""

from __future__ import annotations

#: Every counter an ESE engine reports: name -> (unit, description).
COUNTERS: dict[str, tuple[str, str]] = {
    "ccu.broadcast": ("activations", "input elements broadcast to a channel's PEs (every "
                      "element: LSTM activations are dense)"),
    "ccu.stall": ("cycles", "cycles a broadcast waited because some activation queue was full"),
    "pe.act_queue.push": ("entries", "activation queue pushes (one per PE per broadcast)"),
    "pe.act_queue.pop": ("entries", "activation queue pops"),
    "pe.ptr_buffer.read": ("pointers", "column pointers read (p_j and p_j+1 per column)"),
    "pe.ptr_buffer.write": ("pointers", "column pointers written by the DRAM weight stream"),
    "pe.spmat_buffer.read": ("buffer rows", "sparse-matrix buffer row reads (64-bit rows)"),
    "pe.spmat_buffer.write": ("buffer rows", "rows written by the DRAM weight stream"),
    "pe.arith.mac": ("operations", "12 x 16-bit multiply-accumulates (real entries)"),
    "pe.arith.padding": ("entries", "padding entries passed through without a write"),
    "pe.accumulator.read": ("40-bit words", "accumulator reads (MACs, element-wise unit)"),
    "pe.accumulator.write": ("40-bit words", "accumulator writes (MACs)"),
    "act_buffer.read": ("16-bit words", "activation buffer reads (broadcast, element-wise unit, "
                        "outputs)"),
    "act_buffer.write": ("16-bit words", "activation buffer writes (inputs, gates, state, "
                         "outputs)"),
    "ewu.lookup": ("lookups", "sigmoid / tanh table lookups"),
    "ewu.mult": ("operations", "16-bit element-wise multiplies (peephole diagonal, gate "
                 "products)"),
    "ewu.add": ("operations", "adds of the adder tree and the cell update"),
    "dram.read_bytes": ("bytes", "weight and pointer bytes streamed from DRAM"),
    "dram.act_read_bytes": ("bytes", "input x_t bytes read from DRAM"),
    "dram.write_bytes": ("bytes", "output y_t bytes written to DRAM"),
}


def zero_counts() -> dict[str, int]:
    """Every counter at zero (engines add to them)."""
    return dict.fromkeys(COUNTERS, 0)
