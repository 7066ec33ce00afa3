"""Counters and memory figures of the dense baseline."""

from __future__ import annotations

import numpy as np

from eie_sim.config import DenseConfig
from eie_sim.engines.dense.counters import COUNTERS, zero_counts  # noqa: F401 (re-export)
from eie_sim.engines.pe_array.traffic import activation_traffic
from eie_sim.errors import CapacityError
from eie_sim.formats.interleaved_csc import num_passes
from eie_sim.layer import QuantizedLayer


def rows_per_pass(layer: QuantizedLayer, config: DenseConfig) -> np.ndarray:
    """Rows of PE k in pass p, shape (passes, N)."""
    n, r = config.num_pes, config.act_regfile_entries
    passes = num_passes(layer.n_out, n, r)
    owned = np.array([len(range(k, layer.n_out, n)) for k in range(n)], dtype=np.int64)
    starts = np.arange(passes, dtype=np.int64)[:, None] * r
    return np.clip(owned[None, :] - starts, 0, r)


def n_columns(layer: QuantizedLayer) -> int:
    """Columns broadcast per pass: every input, plus the bias column."""
    return layer.n_in + int(layer.has_bias)


def weight_bytes_per_pe(layer: QuantizedLayer, config: DenseConfig) -> int:
    """16-bit weights (bias included) the most loaded PE stores."""
    return 2 * -(-layer.n_out // config.num_pes) * n_columns(layer)


def streams_weights(layer: QuantizedLayer, config: DenseConfig) -> bool:
    """True when the weights come from DRAM (``weights_from`` and the SRAM size decide)."""
    need = weight_bytes_per_pe(layer, config)
    if config.weights_from == "sram" and need > config.weight_sram_bytes:
        raise CapacityError(
            f"layer {layer.name!r} needs {need} B of weight SRAM per PE on the dense baseline at "
            f"{config.num_pes} PEs, {config.weight_sram_bytes} B available; allowed: "
            "weights_from 'auto' or 'dram', more PEs, or a larger weight_sram_bytes"
        )
    return config.weights_from == "dram" or (
        config.weights_from == "auto" and need > config.weight_sram_bytes
    )


def column_weights(layer: QuantizedLayer, column: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-zero ``(rows, int16 weights)`` of a column; the bias column gives the bias values."""
    if column == layer.n_in:
        rows = np.flatnonzero(layer.bias_idx)
        return rows, layer.bias_codebook[layer.bias_idx[rows]]
    s, e = layer.col_ptr[column], layer.col_ptr[column + 1]
    return layer.row_idx[s:e], layer.codebook[layer.weight_idx[s:e]]


def geometry(config: DenseConfig) -> dict:
    """Instances and SRAM shapes of the dense baseline's units, for pricing."""
    from eie_sim.energy import UnitGeometry as G

    n = config.num_pes
    return {
        "ccu": G(1),
        "dram": G(1),
        "pe.src_regfile": G(n),
        "pe.dest_regfile": G(n),
        "pe.act_queue": G(n),
        "pe.arith": G(n),
        "pe.act_sram": G(n, config.act_sram_bytes, 16),
        "pe.weight_sram": G(n, config.weight_sram_bytes, config.weight_sram_width_bits),
    }


def traffic_map(config: DenseConfig) -> dict[str, tuple[str, str, float]]:
    """counter -> (memory level, 'read' | 'write', bytes per count)."""
    row = config.weight_sram_width_bits / 8
    return {
        **activation_traffic(),
        "pe.weight_sram.read": ("weight_sram", "read", row),
        "pe.weight_sram.write": ("weight_sram", "write", row),
    }
