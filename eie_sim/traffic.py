"""Memory traffic per level (DRAM, each SRAM, register files, codebook), from counts."""

from __future__ import annotations


def traffic(
    counts: dict[str, int], mapping: dict[str, tuple[str, str, float]]
) -> dict[str, dict[str, float]]:
    """``{level: {"read": bytes, "write": bytes}}`` for the counters ``mapping`` names.

    ``mapping`` gives, per counter, the level it moves data at, the direction and the bytes
    one count moves (architecture-specific, see each engine family's ``traffic_map``).
    """
    out: dict[str, dict[str, float]] = {}
    for name, (level, direction, nbytes) in mapping.items():
        level_entry = out.setdefault(level, {"read": 0, "write": 0})
        level_entry[direction] += counts.get(name, 0) * nbytes
    return {
        level: {k: int(v) if float(v).is_integer() else v for k, v in d.items()}
        for level, d in out.items()
    }


def add_traffic(a: dict, b: dict) -> dict:
    out = {level: dict(d) for level, d in a.items()}
    for level, d in b.items():
        entry = out.setdefault(level, {"read": 0, "write": 0})
        for k, v in d.items():
            entry[k] = entry.get(k, 0) + v
    return out
