"""The dense baseline's counter catalogue: (unit, action) -> (unit of the count, meaning).

A leaf module (imports nothing of the package).
"""

from __future__ import annotations

COUNTERS: dict[str, tuple[str, str]] = {
    "ccu.broadcast": ("activations", "activations broadcast (every input, plus the bias column)"),
    "ccu.stall": ("cycles", "cycles the broadcast waited because some activation queue was full"),
    "pe.src_regfile.read": ("16-bit words", "source activations read for broadcast"),
    "pe.src_regfile.write": ("16-bit words", "source activations loaded from activation SRAM"),
    "pe.act_sram.read": ("16-bit words", "activations read from the activation SRAM"),
    "pe.act_sram.write": ("16-bit words", "output activations spilled to the activation SRAM"),
    "pe.act_queue.push": ("entries", "activation queue pushes"),
    "pe.act_queue.pop": ("entries", "activation queue pops"),
    "pe.weight_sram.read": ("SRAM rows", "weight SRAM row reads (a row holds 4 weights)"),
    "pe.weight_sram.write": ("SRAM rows", "rows written by the DRAM weight stream"),
    "pe.arith.mac": ("operations", "16-bit multiply-accumulates (every weight, every activation)"),
    "pe.arith.bypass": ("operations", "accumulator reads replaced by the bypass path"),
    "pe.dest_regfile.read": ("16-bit words", "accumulator reads (MACs without bypass, spills)"),
    "pe.dest_regfile.write": ("16-bit words", "accumulator writes"),
    "dram.read_bytes": ("bytes", "weight bytes streamed from DRAM"),
    "dram.write_bytes": ("bytes", "bytes written to DRAM"),
}


def zero_counts() -> dict[str, int]:
    """Every counter at zero (engines add to them)."""
    return dict.fromkeys(COUNTERS, 0)
