"""The dense baseline's counter catalogue: (unit, action) -> (unit of the count, meaning).

The PE array's counters (:mod:`eie_sim.engines.pe_array.counters`) plus the weight SRAM. A leaf
module (imports only the shared catalogue).
"""

from __future__ import annotations

from eie_sim.engines.pe_array.counters import catalogue

COUNTERS: dict[str, tuple[str, str]] = catalogue(
    ("ccu.broadcast", "activations broadcast (every input, plus the bias column)"),
    "ccu.stall",
    ("pe.src_regfile.read", "source activations read for broadcast"),
    "pe.src_regfile.write",
    "pe.act_sram.read",
    "pe.act_sram.write",
    "pe.act_queue.push",
    "pe.act_queue.pop",
    ("pe.weight_sram.read", "SRAM rows", "weight SRAM row reads (a row holds 4 weights)"),
    ("pe.weight_sram.write", "SRAM rows", "rows written by the DRAM weight stream"),
    ("pe.arith.mac", "16-bit multiply-accumulates (every weight, every activation)"),
    "pe.arith.bypass",
    "pe.dest_regfile.read",
    "pe.dest_regfile.write",
    "dram.read_bytes",
    "dram.write_bytes",
)


def zero_counts() -> dict[str, int]:
    """Every counter at zero (engines add to them)."""
    return dict.fromkeys(COUNTERS, 0)
