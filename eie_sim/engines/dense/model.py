"""The dense PE-array baseline behind the accelerator interface (:mod:`eie_sim.accelerator`).

No encoding: every 16-bit weight is stored; ``prepare`` sizes the weight SRAM and decides
whether the weights stream from DRAM (``weights_from``). Raw outputs are the int16 fixed-point
pre-ReLU outputs, as on EIE.
"""

from __future__ import annotations

import numpy as np

from eie_sim.accelerator import Prepared, Progress, RunOptions
from eie_sim.config import DenseConfig
from eie_sim.engines.dense import common
from eie_sim.engines.record import LayerRun
from eie_sim.errors import WorkloadError
from eie_sim.formats.interleaved_csc import num_passes
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import broadcast_mask, reference_forward


def prepare(layer: QuantizedLayer, x: np.ndarray, config: DenseConfig,
            options: RunOptions) -> Prepared:
    """Size the weight SRAM (refusing with ``weights_from 'sram'`` when it is too small)."""
    if np.ndim(x) != 1:
        raise WorkloadError(f"the dense PE array runs one input vector at a time; got input shape "
                            f"{np.shape(x)}; allowed: a ({layer.n_in},) vector")
    streamed = common.streams_weights(layer, config)
    memory = {
        "weight_bytes_needed": common.weight_bytes_per_pe(layer, config),
        "weight_bytes_available": config.weight_sram_bytes,
        "weights_streamed": int(streamed),
    }
    return Prepared(
        layer=layer, x=x, state=None, memory=memory, warnings=[],
        weight_density=layer.weight_density,
        activation_density=float(broadcast_mask(x, config.input_relu).mean()),
        act_frac_bits=layer.act_frac_bits, effective_weight_density=1.0)


def run_des(prepared: Prepared, config: DenseConfig, progress: Progress = None) -> LayerRun:
    """The SimPy engine."""
    from eie_sim.engines.dense import des

    return des.run_layer(prepared.layer, prepared.x, config, progress)


def run_fast(prepared: Prepared, config: DenseConfig, progress: Progress = None) -> LayerRun:
    """The vectorised engine."""
    from eie_sim.engines.dense import fast

    return fast.run_layer(prepared.layer, prepared.x, config, progress)


ENGINES = {"des": run_des, "fast": run_fast}


def reference(prepared: Prepared, config: DenseConfig) -> np.ndarray:
    """The functional model's int16 outputs (zero weights and activations add exactly 0)."""
    return reference_forward(prepared.layer, prepared.x, input_relu=config.input_relu)


def finish(prepared: Prepared, run: LayerRun, config: DenseConfig
           ) -> tuple[np.ndarray, np.ndarray]:
    """The raw outputs are the fixed-point outputs and the next layer's input."""
    return run.outputs, run.outputs


def progress_total(layer: QuantizedLayer, config: DenseConfig) -> int:
    """Activations broadcast over all output passes."""
    return layer.n_in * num_passes(layer.n_out, config.num_pes, config.act_regfile_entries)


def peak_macs_per_cycle(config: DenseConfig) -> int:
    """One multiply-accumulate per PE per cycle."""
    return config.num_pes


def onchip_sram_bytes(config: DenseConfig) -> int:
    """Weight + activation SRAM of all PEs, bytes."""
    return config.num_pes * (config.weight_sram_bytes + config.act_sram_bytes)


def dram_bandwidth_gbps(config: DenseConfig) -> float:
    """DRAM bandwidth, GB/s."""
    return config.dram_bandwidth_gbps


def issue_bounds(config: DenseConfig, counts: dict[str, int]) -> dict[str, float]:
    """The broadcast bound: one activation per cycle."""
    return {"broadcast": float(counts["ccu.broadcast"])}


geometry = common.geometry
traffic_map = common.traffic_map


def summary(config: DenseConfig) -> str:
    """One line naming the machine."""
    return (f"dense PE array {config.num_pes} PE, {config.technology_nm:g} nm, "
            f"{config.clock_mhz:g} MHz, queue depth {config.act_queue_depth}, "
            f"weights from {config.weights_from}")
