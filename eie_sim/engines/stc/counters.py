"""The tensor core's counter catalogue: (unit, action) -> (unit of the count, meaning).

A leaf module (imports nothing of the package).
"""

from __future__ import annotations

#: Every counter a tensor-core engine reports: name -> (unit, description).
COUNTERS: dict[str, tuple[str, str]] = {
    "dram.weight_read_bytes": (
        "bytes",
        "weight values read from global memory (kept values; dense twin: every weight)",
    ),
    "dram.metadata_read_bytes": (
        "bytes",
        "N:M metadata (ceil(log2 M)-bit in-group indices) read from global memory",
    ),
    "dram.act_read_bytes": ("bytes", "activation operand (B) bytes read from global memory"),
    "dram.write_bytes": ("bytes", "output bytes (fp32 / int32) written to global memory"),
    "dram.bias_read_bytes": (
        "bytes",
        "layer bias (fp32 / int32, one per output row of each tile) read by the epilogue",
    ),
    "weight_sram.weight_read_bytes": (
        "bytes",
        "weight values read from the on-chip weight store (weights_from 'sram')",
    ),
    "weight_sram.metadata_read_bytes": (
        "bytes",
        "N:M metadata read from the on-chip weight store (weights_from 'sram')",
    ),
    "smem.write_bytes": (
        "bytes",
        "operand bytes written into the SMs' operand buffers (per SM: shared slabs count once "
        "per SM that receives them)",
    ),
    "smem.read_bytes": (
        "bytes",
        "operand bytes the warps read from shared memory: per k-step each warp's A rows "
        "(values + metadata) and B columns once, reused across the MMAs of its warp tile",
    ),
    "tc.mma": ("instructions", "mma / mma.sp instructions issued"),
    **{
        f"tc.{dt}_mac": (
            "operations",
            f"{dt} multiply-accumulates on real operands (kept values incl. explicit zeros, real "
            "rows and batch columns); zero for the other dtype",
        )
        for dt in ("fp16", "int8")
    },
    **{
        f"tc.{dt}_padding_mac": (
            "operations",
            f"{dt} MAC lanes on padding: rows beyond M, batch columns beyond Nb (GEMV pads to "
            "8), K padding",
        )
        for dt in ("fp16", "int8")
    },
    "tc.metadata_select": (
        "selections",
        "metadata-driven M:1 activation selections, one per kept weight element per mma.sp",
    ),
    "rf.accumulator.read": (
        "32-bit words",
        "accumulator reads: the C operand of every MMA (128) and each fragment at write-back",
    ),
    "rf.accumulator.write": ("32-bit words", "accumulator writes: the D result of every MMA"),
    "epilogue.bias_add": (
        "operations",
        "fp32 / int32 additions of the layer bias to the outputs at write-back (real elements)",
    ),
}


def zero_counts() -> dict[str, int]:
    """Every counter at zero (engines add to them)."""
    return dict.fromkeys(COUNTERS, 0)
