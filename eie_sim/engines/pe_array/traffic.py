"""Memory traffic both PE-array machines share: DRAM, activation SRAM, register files and
activation queues (for :mod:`eie_sim.traffic`)."""

from __future__ import annotations


def activation_traffic() -> dict[str, tuple[str, str, float]]:
    """Counter -> (memory level, 'read' | 'write', bytes per count) of the shared units."""
    return {
        "dram.read_bytes": ("dram", "read", 1),
        "dram.write_bytes": ("dram", "write", 1),
        "pe.act_sram.read": ("act_sram", "read", 2),
        "pe.act_sram.write": ("act_sram", "write", 2),
        "pe.src_regfile.read": ("act_regfile", "read", 2),
        "pe.src_regfile.write": ("act_regfile", "write", 2),
        "pe.dest_regfile.read": ("act_regfile", "read", 2),
        "pe.dest_regfile.write": ("act_regfile", "write", 2),
        "pe.act_queue.push": ("act_queue", "write", 4),
        "pe.act_queue.pop": ("act_queue", "read", 4),
    }
