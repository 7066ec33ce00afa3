"""EIE's counter catalogue: every (unit, action) an EIE engine counts, with unit and meaning.

The PE array's counters (:mod:`eie_sim.engines.pe_array.counters`) plus EIE's own: the LNZD,
the pointer and sparse-matrix SRAMs, the weight decoder and padding entries. A leaf module
(imports only the shared catalogue), read by the registry, the energy-table validation and the
docs.
"""

from __future__ import annotations

from eie_sim.engines.pe_array.counters import catalogue

#: Every counter an EIE engine reports: name -> (unit, description).
COUNTERS: dict[str, tuple[str, str]] = catalogue(
    ("ccu.broadcast", "activations broadcast to all PEs (bias column included)"),
    "ccu.stall",
    ("lnzd.select", "activations", "non-zero activations selected by the LNZD quadtree"),
    ("lnzd.advance", "cycles", "cycles the LNZD moved to the next group without a selection"),
    ("pe.src_regfile.read", "source activations read by non-zero detection"),
    "pe.src_regfile.write",
    "pe.act_sram.read",
    "pe.act_sram.write",
    ("pe.act_queue.push", "activation queue pushes (one per PE per broadcast)"),
    "pe.act_queue.pop",
    ("pe.ptr_sram.read", "pointers",
     "column pointers read (p_j from one bank, p_j+1 from the other)"),
    ("pe.spmat_sram.read", "SRAM rows", "sparse-matrix SRAM row reads (a row holds 8 entries)"),
    ("pe.spmat_sram.write", "SRAM rows", "rows written by the DRAM weight stream"),
    ("pe.weight_decoder.lookup", "entries", "codebook lookups (padding entries included)"),
    ("pe.arith.mac", "16-bit multiply-accumulates (real entries)"),
    ("pe.arith.padding", "entries", "padding entries passed through without a write"),
    "pe.arith.bypass",
    "pe.dest_regfile.read",
    "pe.dest_regfile.write",
    ("dram.read_bytes", "weight bytes streamed from DRAM (weights_from: dram)"),
    "dram.write_bytes",
)


def zero_counts() -> dict[str, int]:
    """Every counter at zero (engines add to them)."""
    return dict.fromkeys(COUNTERS, 0)
