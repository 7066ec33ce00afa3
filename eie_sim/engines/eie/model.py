"""EIE behind the accelerator interface (:mod:`eie_sim.accelerator`).

``prepare`` encodes the layer into the interleaved CSC the PEs' SRAMs hold, sizes the per-PE
memories and refuses a layer that does not fit; the engines (``des``: SimPy, ``fast``:
vectorised) read that encoding. Raw outputs are already the int16 fixed-point pre-ReLU outputs;
the next layer's input-side ReLU happens in its broadcast.
"""

from __future__ import annotations

import numpy as np

from eie_sim.accelerator import Prepared, Progress, RunOptions
from eie_sim.config import EIEConfig
from eie_sim.engines.eie import common
from eie_sim.engines.record import LayerRun
from eie_sim.errors import WorkloadError
from eie_sim.formats.interleaved_csc import num_passes
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import broadcast_mask, reference_forward


def prepare(layer: QuantizedLayer, x: np.ndarray, config: EIEConfig,
            options: RunOptions) -> Prepared:
    """Encode ``layer`` for ``config`` and check the per-PE memories."""
    if np.ndim(x) != 1:
        raise WorkloadError(f"EIE runs one input vector at a time; got input shape "
                            f"{np.shape(x)}; allowed: a ({layer.n_in},) vector")
    enc = common.prepare(layer, config)
    mem = common.memory_use(layer, config, enc)
    common.check_capacity(layer, config, mem)
    return Prepared(
        layer=layer, x=x, state=enc, memory=dict(mem.__dict__), warnings=mem.warnings(),
        weight_density=layer.weight_density,
        activation_density=float(broadcast_mask(x, config.input_relu).mean()),
        act_frac_bits=layer.act_frac_bits, effective_weight_density=layer.weight_density)


def run_des(prepared: Prepared, config: EIEConfig, progress: Progress = None) -> LayerRun:
    """The SimPy engine (one component per paper block)."""
    from eie_sim.engines.eie import des

    return des.run_layer(prepared.layer, prepared.x, config, prepared.state, progress)


def run_fast(prepared: Prepared, config: EIEConfig, progress: Progress = None) -> LayerRun:
    """The vectorised engine (the same model as a max-plus recurrence)."""
    from eie_sim.engines.eie import fast

    return fast.run_layer(prepared.layer, prepared.x, config, prepared.state, progress)


ENGINES = {"des": run_des, "fast": run_fast}


def reference(prepared: Prepared, config: EIEConfig) -> np.ndarray:
    """The functional model's int16 outputs (same fixed-point rules)."""
    return reference_forward(prepared.layer, prepared.x, input_relu=config.input_relu)


def finish(prepared: Prepared, run: LayerRun, config: EIEConfig) -> tuple[np.ndarray, np.ndarray]:
    """The raw outputs are the fixed-point outputs and the next layer's input."""
    return run.outputs, run.outputs


def progress_total(layer: QuantizedLayer, config: EIEConfig) -> int:
    """Activations scanned over all output passes."""
    return layer.n_in * num_passes(layer.n_out, config.num_pes, config.act_regfile_entries)


def peak_macs_per_cycle(config: EIEConfig) -> int:
    """One multiply-accumulate per PE per cycle."""
    return config.num_pes


def onchip_sram_bytes(config: EIEConfig) -> int:
    """Sparse-matrix + pointer + activation SRAM of all PEs, bytes."""
    return config.num_pes * (config.spmat_sram_bytes + config.ptr_sram_bytes
                             + config.act_sram_bytes)


def dram_bandwidth_gbps(config: EIEConfig) -> float:
    """DRAM bandwidth, GB/s."""
    return config.dram_bandwidth_gbps


def issue_bounds(config: EIEConfig, counts: dict[str, int]) -> dict[str, float]:
    """The broadcast bound: one activation per cycle, plus the LNZD's advance cycles."""
    return {"broadcast": float(counts["ccu.broadcast"] + counts["lnzd.advance"])}


geometry = common.geometry
traffic_map = common.traffic_map


def summary(config: EIEConfig) -> str:
    """One line naming the machine."""
    return (f"EIE {config.num_pes} PE, {config.technology_nm:g} nm, {config.clock_mhz:g} MHz, "
            f"queue depth {config.act_queue_depth}, weights from {config.weights_from}")
