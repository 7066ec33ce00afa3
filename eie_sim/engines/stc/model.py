"""The N:M tensor core and its dense twin behind the accelerator interface
(:mod:`eie_sim.accelerator`).

``prepare`` N:M-prunes (or refuses) and quantizes the layer's shared weights
(:func:`~eie_sim.engines.stc.adapter.from_layer`), makes the ``K x batch`` activation operand
(:func:`~eie_sim.engines.stc.adapter.activations`: the input vector, further batch columns as
seeded permutations of it, ReLU), quantizes activations and the layer bias, plans the GEMM
(:func:`~eie_sim.engines.stc.common.make_plan`, which also refuses what does not fit) and lays
out the operands. The engines return the raw float32 / int32 accumulators with the bias added
by the epilogue; ``finish`` scales them to real values, which the next layer of a chained
workload takes, and rounds them to the layer's int16 fixed-point format for the result
(shape ``(n_out,)`` at batch 1, ``(n_out, batch)`` otherwise).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from eie_sim.accelerator import Prepared, Progress, RunOptions
from eie_sim.config import STCConfig
from eie_sim.engines.layer_cache import LayerCache
from eie_sim.engines.record import LayerRun
from eie_sim.engines.stc import common
from eie_sim.engines.stc.adapter import (
    STCLayer,
    activations,
    from_layer,
    quantize_activations,
    quantize_bias,
)
from eie_sim.engines.stc.reference import reference_gemm
from eie_sim.errors import WorkloadError
from eie_sim.formats.fixed_point import quantize
from eie_sim.formats.nm_sparse import compress, nonzero_mask
from eie_sim.layer import QuantizedLayer


@dataclass(frozen=True, eq=False)
class TensorCoreState:
    """What the tensor-core engines read: the plan, the operand images, and the scales
    (``layer``, ``xq`` and ``operands`` are None in a timing-only run)."""

    layer: STCLayer | None
    xq: np.ndarray | None
    act_scale: float
    bias: np.ndarray | None
    plan: common.Plan
    operands: common.Operands | None


#: N:M-compressed layers kept per layer: a pattern and its dense twin (a sweep over SMs, clock,
#: bandwidth, batch or energy, and both engines, reuse them).
_adapted: LayerCache[STCLayer] = LayerCache(2)  # key: (N, M, dtype, prune)


def prepare(layer: QuantizedLayer, x: np.ndarray, config: STCConfig,
            options: RunOptions) -> Prepared:
    """Compress, quantize, batch and plan ``layer`` for ``config``.

    ``x`` is the layer input: int16 fixed point or real values, shape ``(K,)`` or
    ``(K, batch)`` (a 2-D input's width must equal ``config.batch``). With
    ``options.values`` false only the plan is made (timing and counters depend on the shapes
    alone): no compression, no operands; the weight density reported is then the fraction of
    K slots the format stores (N/M, or 1 for the dense twin).
    """
    if not options.values:
        return _prepare_timing_only(layer, x, config)
    stc_layer = _adapted.get(
        layer, (config.n, config.m, config.dtype, options.nm_prune),
        lambda: from_layer(layer, config.n, config.m, config.dtype, prune=options.nm_prune))
    a = np.asarray(x)
    if a.ndim == 2 and a.shape[1] != config.batch:
        raise WorkloadError(
            f"the input has {a.shape[1]} columns but the config's batch is {config.batch}; "
            f"allowed: config.replace(batch={a.shape[1]}) or a 1-D input")
    x_real = activations(a, config.batch, seed=options.activation_seed,
                         act_frac_bits=stc_layer.act_frac_bits)
    if x_real.shape[0] != stc_layer.n_in:
        raise WorkloadError(f"layer {layer.name!r} takes {stc_layer.n_in} inputs, got "
                            f"{x_real.shape[0]}")
    xq, act_scale = quantize_activations(x_real, config.dtype)
    bias = quantize_bias(stc_layer.bias, config.dtype, stc_layer.weight_scale * act_scale)
    plan = common.make_plan(stc_layer.n_out, stc_layer.n_in, config.batch, config,
                            bias=bias is not None)
    ops = common.operands(stc_layer.weights, xq, plan, bias)
    state = TensorCoreState(stc_layer, xq, act_scale, bias, plan, ops)
    return Prepared(
        layer=layer, x=x_real, state=state, memory=dict(plan.memory), warnings=[],
        weight_density=stc_layer.weights.nnz / (stc_layer.n_out * stc_layer.n_in),
        activation_density=float(np.count_nonzero(nonzero_mask(xq)) / xq.size),
        act_frac_bits=stc_layer.act_frac_bits,
        effective_weight_density=pattern_density(config),
        details={
            "batch": config.batch,
            "mma_shape": list(config.mma_shape),
            **plan.timing_summary(),
            "waves": plan.waves,
            "stages_per_wave": plan.stages_per_wave,
            "weight_scale": stc_layer.weight_scale,
            "act_scale": act_scale,
        })


def pattern_density(config: STCConfig) -> float:
    """The fraction of the layer's weight slots the machine runs: N/M of the N:M pattern, 1.0
    for the dense twin. (Not the stored kept slots over K: a partial last group stores N
    slots even for fewer than N inputs, which made that ratio exceed 1, e.g. 2.0 for a
    one-input layer at 2:4.)"""
    return config.n / config.m if config.sparse else 1.0


def _prepare_timing_only(layer: QuantizedLayer, x: np.ndarray, config: STCConfig) -> Prepared:
    a = np.asarray(x)
    if a.ndim == 2 and a.shape[1] != config.batch:
        raise WorkloadError(
            f"the input has {a.shape[1]} columns but the config's batch is {config.batch}; "
            f"allowed: config.replace(batch={a.shape[1]}) or a 1-D input")
    plan = common.make_plan(layer.n_out, layer.n_in, config.batch, config, bias=layer.has_bias)
    state = TensorCoreState(None, None, 1.0, None, plan, None)
    return Prepared(
        layer=layer, x=a, state=state, memory=dict(plan.memory), warnings=[],
        weight_density=pattern_density(config),
        activation_density=float(np.count_nonzero(np.maximum(a, 0)) / max(a.size, 1)),
        act_frac_bits=layer.act_frac_bits,
        effective_weight_density=pattern_density(config),
        details={"batch": config.batch, "mma_shape": list(config.mma_shape),
                 **plan.timing_summary(), "waves": plan.waves,
                 "stages_per_wave": plan.stages_per_wave})


def _run(engine, prepared: Prepared, progress: Progress) -> LayerRun:
    state: TensorCoreState = prepared.state
    run = engine.run_layer(state.plan, state.operands)
    if state.operands is not None:
        run.details = {
            "raw_outputs_dtype": str(run.outputs.dtype),
            "raw_outputs_sha256": hashlib.sha256(np.ascontiguousarray(run.outputs)).hexdigest(),
        }
    if progress is not None:
        progress(prepared.layer.n_in)
    return run


def run_des(prepared: Prepared, config: STCConfig, progress: Progress = None) -> LayerRun:
    """The SimPy engine (one component per hardware unit). A timing-only run feeds it zero
    operands of the right shapes and drops the values it computes."""
    from eie_sim.engines.stc import des

    state: TensorCoreState = prepared.state
    if state.operands is not None:
        return _run(des, prepared, progress)
    plan = state.plan
    dtype = np.float16 if config.dtype == "fp16" else np.int8
    zero_w = compress(np.zeros((plan.rows, plan.k), dtype=dtype), config.n, config.m)
    xq = np.zeros((plan.k, plan.batch), dtype=zero_w.values.dtype)
    bias = np.zeros(plan.rows, np.float32 if config.dtype == "fp16" else np.int32) \
        if plan.bias_bytes.any() else None
    run = des.run_layer(plan, common.operands(zero_w, xq, plan, bias))
    run.outputs = np.zeros(0, dtype=np.float32)
    if progress is not None:
        progress(prepared.layer.n_in)
    return run


def run_fast(prepared: Prepared, config: STCConfig, progress: Progress = None) -> LayerRun:
    """The recurrence + closed-form engine."""
    from eie_sim.engines.stc import fast

    return _run(fast, prepared, progress)


ENGINES = {"des": run_des, "fast": run_fast}


def reference(prepared: Prepared, config: STCConfig) -> np.ndarray:
    """The GEMM by the datapath's rules on the dense (decompressed) weights, plus the bias."""
    state: TensorCoreState = prepared.state
    return reference_gemm(state.layer.dense(), state.xq, state.bias)


def finish(prepared: Prepared, run: LayerRun, config: STCConfig
           ) -> tuple[np.ndarray, np.ndarray]:
    """int16 fixed-point outputs for the result; real values for the next layer."""
    state: TensorCoreState = prepared.state
    if state.operands is None:  # timing only: no values
        return np.zeros(0, dtype=np.int16), None
    y = run.outputs.astype(np.float64) * (state.layer.weight_scale * state.act_scale)
    out16 = quantize(y, state.layer.act_frac_bits)
    return (out16[:, 0] if config.batch == 1 else out16), y


def progress_total(layer: QuantizedLayer, config: STCConfig) -> int:
    """Inputs of the layer (one update per layer)."""
    return layer.n_in


def peak_macs_per_cycle(config: STCConfig) -> int:
    """Multiplier lanes of the chip: dense fp16 FMA/clock x SMs (int8: twice as many). A sparse
    mma.sp covers twice the K with the same lanes, so its peak of *real* MACs is the same."""
    return config.sms * config.dense_fma_per_clk_per_sm * (2 if config.dtype == "int8" else 1)


def onchip_sram_bytes(config: STCConfig) -> int:
    """Operand buffers (shared memory) of all SMs plus the on-chip weight store, bytes."""
    return config.sms * config.smem_bytes_per_sm + config.weight_sram_bytes


def dram_bandwidth_gbps(config: STCConfig) -> float:
    """Global-memory bandwidth, GB/s."""
    return config.mem_bandwidth_gbps


def issue_bounds(config: STCConfig, counts: dict[str, int]) -> dict[str, float]:
    """No issue bound beyond compute and memory."""
    return {}


geometry = common.geometry
traffic_map = common.traffic_map


def summary(config: STCConfig) -> str:
    """One line naming the machine."""
    pattern = config.pattern if config.sparse else "dense"
    return (f"{config.product} {pattern} {config.dtype}, {config.technology_nm:g} nm, "
            f"{config.clock_mhz:g} MHz, batch {config.batch}, {config.sms} SM x "
            f"{config.tensor_cores_per_sm} TC, weights from {config.weights_from}")
