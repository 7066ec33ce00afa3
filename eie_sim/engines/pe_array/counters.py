"""The counters every PE-array machine has (CCU, activation queues and SRAM, register files,
arithmetic unit, DRAM), and how a machine's catalogue extends them.

A leaf module (imports nothing), read through the machines' catalogues
(:mod:`eie_sim.engines.eie.counters`, :mod:`eie_sim.engines.dense.counters`) by the registry, the
energy-table validation and the docs.
"""

from __future__ import annotations

#: Counters of the shared PE array: name -> (unit, description). The machines word five of
#: them more precisely (``ccu.broadcast``, ``pe.src_regfile.read``, ``pe.act_queue.push``,
#: ``pe.arith.mac``, ``dram.read_bytes``), keeping the unit.
COUNTERS: dict[str, tuple[str, str]] = {
    "ccu.broadcast": ("activations", "activations broadcast to all PEs"),
    "ccu.stall": ("cycles", "cycles the broadcast waited because some activation queue was full"),
    "pe.src_regfile.read": ("16-bit words", "source activations read by the scan"),
    "pe.src_regfile.write": ("16-bit words", "source activations loaded from activation SRAM"),
    "pe.act_sram.read": ("16-bit words", "activations read from the activation SRAM"),
    "pe.act_sram.write": ("16-bit words", "output activations spilled to the activation SRAM"),
    "pe.act_queue.push": ("entries", "activation queue pushes"),
    "pe.act_queue.pop": ("entries", "activation queue pops"),
    "pe.arith.mac": ("operations", "16-bit multiply-accumulates"),
    "pe.arith.bypass": ("operations", "accumulator reads replaced by the bypass path"),
    "pe.dest_regfile.read": ("16-bit words", "accumulator reads (MACs without bypass, spills)"),
    "pe.dest_regfile.write": ("16-bit words", "accumulator writes"),
    "dram.read_bytes": ("bytes", "weight bytes streamed from DRAM"),
    "dram.write_bytes": ("bytes", "bytes written to DRAM"),
}

Entry = str | tuple[str, str] | tuple[str, str, str]


def catalogue(*entries: Entry) -> dict[str, tuple[str, str]]:
    """A machine's counter catalogue, in the order given (reports list counters in this order).

    Each entry is one of:

    * ``name``: a shared counter, with the shared unit and description;
    * ``(name, description)``: a shared counter, with the shared unit and the machine's wording;
    * ``(name, unit, description)``: a counter of the machine's own.

    Every shared counter must be listed (both machines count all of them), and a machine's own
    counter must not reuse a shared name.
    """
    out: dict[str, tuple[str, str]] = {}
    for entry in entries:
        if isinstance(entry, str):
            name, (unit, description) = entry, COUNTERS[entry]
        elif len(entry) == 2:
            name, description = entry
            unit = COUNTERS[name][0]
        else:
            name, unit, description = entry
            if name in COUNTERS:
                raise ValueError(f"{name!r} is a shared counter: list it by name")
        if name in out:
            raise ValueError(f"counter {name!r} listed twice")
        out[name] = (unit, description)
    missing = [name for name in COUNTERS if name not in out]
    if missing:
        raise ValueError(f"shared counters missing from the catalogue: {missing}")
    return out
