"""What both EIE engines share beyond the PE array: the encoding they read, the on-chip memory
check, and the units and traffic to price.

The timing constants, the DRAM stream's arithmetic and the traffic of the shared units are the
PE array's (:mod:`eie_sim.engines.pe_array`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie_sim.config import EIEConfig
from eie_sim.engines.eie.counters import COUNTERS, zero_counts  # noqa: F401 (re-export)
from eie_sim.engines.layer_cache import LayerCache
from eie_sim.engines.pe_array.traffic import activation_traffic
from eie_sim.errors import CapacityError
from eie_sim.formats.interleaved_csc import InterleavedCSC, encode
from eie_sim.layer import QuantizedLayer


@dataclass(frozen=True)
class MemoryUse:
    """Per-PE on-chip storage a layer needs (bytes) against the configured capacity."""

    spmat_bytes_needed: int
    spmat_bytes_available: int
    ptr_bytes_needed: int
    ptr_bytes_available: int
    act_sram_bytes_needed: int
    act_sram_bytes_available: int

    def warnings(self) -> list[str]:
        """Overflows the paper's own evaluation would also have (pointer / activation SRAM)."""
        out = []
        if self.ptr_bytes_needed > self.ptr_bytes_available:
            out.append(
                f"pointer SRAM needs {self.ptr_bytes_needed} B per PE, "
                f"{self.ptr_bytes_available} B configured"
            )
        if self.act_sram_bytes_needed > self.act_sram_bytes_available:
            out.append(
                f"activation SRAM needs {self.act_sram_bytes_needed} B per PE, "
                f"{self.act_sram_bytes_available} B configured"
            )
        return out


#: Encodings kept per layer: a sweep over queue depth, clock, DRAM or energy reuses one; a
#: PE-count sweep needs one per count. Each is O(N x columns) summaries.
ENCODINGS_PER_LAYER = 4
_encodings: LayerCache[InterleavedCSC] = LayerCache(ENCODINGS_PER_LAYER)  # key: (N, R, bits)


def encode_uncached(layer: QuantizedLayer, config: EIEConfig) -> InterleavedCSC:
    """Encode ``layer`` for ``config`` afresh (what :func:`prepare` keeps)."""
    extra = None
    if layer.has_bias:  # the bias is one more column, broadcast last
        brows = np.flatnonzero(layer.bias_idx)
        extra = (brows, layer.bias_idx[brows])
    return encode(layer.col_ptr, layer.row_idx, layer.weight_idx, layer.n_out,
                  num_pes=config.num_pes, rows_per_pass=config.act_regfile_entries,
                  relative_index_bits=config.relative_index_bits, extra_column=extra)


def prepare(layer: QuantizedLayer, config: EIEConfig) -> InterleavedCSC:
    """Encode ``layer`` for ``config`` (the SRAM contents both engines read).

    The encoding depends only on the layer (immutable) and three fields of the config (PEs,
    accumulators per PE, relative-index width), so the last few are kept with the layer.
    """
    key = (config.num_pes, config.act_regfile_entries, config.relative_index_bits)
    return _encodings.get(layer, key, lambda: encode_uncached(layer, config))


def memory_use(layer: QuantizedLayer, config: EIEConfig, enc: InterleavedCSC) -> MemoryUse:
    """Per-PE bytes ``layer`` (encoded as ``enc``) needs in each on-chip memory of ``config``."""
    n = config.num_pes
    spmat = int(enc.entries_per_pe().max(initial=0)) * config.entry_bits
    ptr_words = enc.passes * (enc.n_cols + 1)
    spill_in = layer.n_in > n * config.act_regfile_entries
    spill_out = enc.passes > 1
    act_words = (-(-layer.n_in // n) if spill_in else 0) + (
        -(-layer.n_out // n) if spill_out else 0
    )
    return MemoryUse(
        spmat_bytes_needed=-(-spmat // 8),
        spmat_bytes_available=config.spmat_sram_bytes,
        ptr_bytes_needed=-(-ptr_words * config.ptr_bits // 8),
        ptr_bytes_available=config.ptr_sram_bytes,
        act_sram_bytes_needed=2 * act_words,
        act_sram_bytes_available=config.act_sram_bytes,
    )


def check_capacity(layer: QuantizedLayer, config: EIEConfig, mem: MemoryUse) -> None:
    """Refuse a layer whose compressed weights exceed the sparse-matrix SRAM (with the numbers)."""
    if config.weights_from == "dram":
        return  # the sparse-matrix SRAM is the stream's buffer
    if config.sram_capacity == "enforce" and mem.spmat_bytes_needed > mem.spmat_bytes_available:
        raise CapacityError(
            f"layer {layer.name!r} needs {mem.spmat_bytes_needed} B of sparse-matrix SRAM per PE "
            f"at {config.num_pes} PEs, {mem.spmat_bytes_available} B available; allowed: more "
            "PEs, a larger spmat_sram_bytes, weights_from 'dram' (--weights-from dram) or "
            "sram_capacity 'unbounded'"
        )


def geometry(config: EIEConfig) -> dict:
    """Instances and SRAM shapes of the EIE units, for pricing (pointer SRAM = 2 banks per PE)."""
    from eie_sim.energy import UnitGeometry as G

    n = config.num_pes
    return {
        "ccu": G(1),
        "lnzd": G(1),
        "dram": G(1),
        "pe.src_regfile": G(n),
        "pe.dest_regfile": G(n),
        "pe.act_queue": G(n),
        "pe.weight_decoder": G(n),
        "pe.arith": G(n),
        "pe.act_sram": G(n, config.act_sram_bytes, 16),
        "pe.ptr_sram": G(2 * n, config.ptr_sram_bytes / 2, config.ptr_bits),
        "pe.spmat_sram": G(n, config.spmat_sram_bytes, config.spmat_sram_width_bits),
    }


def traffic_map(config: EIEConfig) -> dict[str, tuple[str, str, float]]:
    """counter -> (memory level, 'read' | 'write', bytes per count)."""
    row = config.spmat_sram_width_bits / 8
    return {
        **activation_traffic(),
        "pe.spmat_sram.read": ("spmat_sram", "read", row),
        "pe.spmat_sram.write": ("spmat_sram", "write", row),
        "pe.ptr_sram.read": ("ptr_sram", "read", config.ptr_bits / 8),
        "pe.weight_decoder.lookup": ("codebook", "read", 2),
    }
