"""EIE's counter catalogue: every (unit, action) an EIE engine counts, with unit and meaning.

A leaf module (imports nothing of the package), read by the registry, the energy-table
validation and the docs.
"""

from __future__ import annotations

#: Every counter an EIE engine reports: name -> (unit, description).
COUNTERS: dict[str, tuple[str, str]] = {
    "ccu.broadcast": ("activations", "activations broadcast to all PEs (bias column included)"),
    "ccu.stall": ("cycles", "cycles the broadcast waited because some activation queue was full"),
    "lnzd.select": ("activations", "non-zero activations selected by the LNZD quadtree"),
    "lnzd.advance": ("cycles", "cycles the LNZD moved to the next group without a selection"),
    "pe.src_regfile.read": ("16-bit words", "source activations read by non-zero detection"),
    "pe.src_regfile.write": ("16-bit words", "source activations loaded from activation SRAM"),
    "pe.act_sram.read": ("16-bit words", "activations read from the activation SRAM"),
    "pe.act_sram.write": ("16-bit words", "output activations spilled to the activation SRAM"),
    "pe.act_queue.push": ("entries", "activation queue pushes (one per PE per broadcast)"),
    "pe.act_queue.pop": ("entries", "activation queue pops"),
    "pe.ptr_sram.read": (
        "pointers",
        "column pointers read (p_j from one bank, p_j+1 from the other)",
    ),
    "pe.spmat_sram.read": ("SRAM rows", "sparse-matrix SRAM row reads (a row holds 8 entries)"),
    "pe.spmat_sram.write": ("SRAM rows", "rows written by the DRAM weight stream"),
    "pe.weight_decoder.lookup": ("entries", "codebook lookups (padding entries included)"),
    "pe.arith.mac": ("operations", "16-bit multiply-accumulates (real entries)"),
    "pe.arith.padding": ("entries", "padding entries passed through without a write"),
    "pe.arith.bypass": ("operations", "accumulator reads replaced by the bypass path"),
    "pe.dest_regfile.read": ("16-bit words", "accumulator reads (MACs without bypass, spills)"),
    "pe.dest_regfile.write": ("16-bit words", "accumulator writes"),
    "dram.read_bytes": ("bytes", "weight bytes streamed from DRAM (weights_from: dram)"),
    "dram.write_bytes": ("bytes", "bytes written to DRAM"),
}


def zero_counts() -> dict[str, int]:
    """Every counter at zero (engines add to them)."""
    return dict.fromkeys(COUNTERS, 0)
