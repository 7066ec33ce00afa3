"""Run a workload on the tensor-core model: adapt the layers, plan, simulate, check, report.

``run(config, workload, engine=..., batch=...)`` returns an :class:`eie_sim.result.RunResult`
with arch ``"stc"`` or ``"dense-tc"``. Per layer:

* ``cycles``, ``time_us = cycles / clock_mhz``, ``counts`` (:data:`common.COUNTERS`);
* ``pass_cycles``: per wave, the cycles between consecutive write-back ends;
* ``pe_busy/stall/idle_cycles``: per **tensor core** (``sms * tensor_cores_per_sm``, SM-major);
* ``outputs``: the real-valued outputs (dequantized for int8) in the layer's int16 fixed-point
  format (``act_frac_bits``, rounded half up, saturated), shape ``(n_out,)`` for batch 1 and
  ``(n_out, batch)`` otherwise, so that they compare with EIE's; the raw accumulators
  (float32 / int32) are in :func:`run_layer`'s :class:`~common.STCLayerRun`, and
  ``RunResult.info["stc"]`` carries their SHA-256;
* ``outputs_match_reference``: the engine's raw accumulators equal
  :func:`~eie_sim.engines.stc.reference.reference_gemm` bit for bit;
* ``memory``: operand-buffer and weight-store needs, compressed weight and metadata bytes.

Layers of a chained workload take the previous layer's real outputs (ReLU applied by
:func:`~eie_sim.engines.stc.adapter.activations`). The layer's bias is not applied.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np

from eie_sim.engines.stc import des, fast
from eie_sim.engines.stc.adapter import STCLayer, activations, from_layer, quantize_activations
from eie_sim.engines.stc.common import STCLayerRun, make_plan, operands, traffic_map
from eie_sim.engines.stc.config import STCConfig
from eie_sim.engines.stc.reference import bits_equal, reference_gemm
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.formats.fixed_point import quantize
from eie_sim.layer import QuantizedLayer
from eie_sim.result import LayerResult, RunResult
from eie_sim.traffic import traffic

EngineName = Literal["fast", "des"]
ENGINES = {"fast": fast.run_layer, "des": des.run_layer}


def run_layer(
    layer: STCLayer,
    x: np.ndarray,
    config: STCConfig,
    *,
    engine: EngineName = "fast",
    check: bool = True,
) -> tuple[STCLayerRun, dict]:
    """Simulate one prepared layer on real-valued activations ``x`` (K x Nb).

    Returns the engine's record and a JSON-friendly dict: ``plan`` timing summary, scales,
    ``outputs_match_reference`` (None when ``check`` is false), SHA-256 of the raw outputs,
    and the layer's memory figures.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    if layer.dtype != config.dtype:
        raise ConfigError(f"layer is {layer.dtype}, config dtype is {config.dtype}")
    if layer.pattern != f"{config.n}:{config.m}":
        raise ConfigError(f"layer is pruned {layer.pattern}, config pattern is {config.pattern}")
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] != layer.n_in:
        raise WorkloadError(f"activations must be {layer.n_in} x batch, got {x.shape}")
    xq, x_scale = quantize_activations(x, config.dtype)
    plan = make_plan(layer.n_out, layer.n_in, x.shape[1], config)
    ops = operands(layer.weights, xq, plan)
    result = ENGINES[engine](plan, ops)
    match = None
    if check:
        expected = reference_gemm(layer.dense(), xq)
        match = bits_equal(result.outputs, expected)
    info = {
        "name": layer.name,
        "batch": int(x.shape[1]),
        "mma_shape": list(config.mma_shape),
        **plan.timing_summary(),
        "waves": plan.waves,
        "stages_per_wave": plan.stages_per_wave,
        "weight_scale": layer.weight_scale,
        "act_scale": x_scale,
        "activation_density": float(np.count_nonzero(xq) / xq.size),
        "outputs_dtype": str(result.outputs.dtype),
        "outputs_sha256": hashlib.sha256(result.outputs.tobytes()).hexdigest(),
        "outputs_match_reference": match,
        "memory": dict(plan.memory),
    }
    return result, info


def _as_layers(workload, inputs, seed):
    """``(name, layers, first input, chained)`` from a name, Workload, layer or matrix."""
    from workloads import Workload, get_workload

    if isinstance(workload, str):
        wl = get_workload(workload, seed)
    elif isinstance(workload, Workload):
        wl = workload
    elif isinstance(workload, (QuantizedLayer, STCLayer, np.ndarray)):
        if inputs is None:
            raise WorkloadError("simulating a bare layer needs its input activations (inputs=...)")
        name = getattr(workload, "name", "weights")
        return name, [workload], np.asarray(inputs), False
    else:
        raise WorkloadError(
            f"cannot simulate a {type(workload).__name__}; allowed: a workload name, a Workload, "
            "a QuantizedLayer, an STCLayer or a dense weight matrix"
        )
    x = wl.inputs if inputs is None else np.asarray(inputs)
    return wl.name, list(wl.layers), x, wl.chained


def run(
    config: STCConfig,
    workload,
    *,
    engine: EngineName = "fast",
    batch: int | None = None,
    inputs: np.ndarray | None = None,
    seed: int | None = None,
    activation_seed: int = 0,
    prune: bool = True,
    relu: bool = True,
    check: bool = True,
) -> RunResult:
    """Simulate ``workload`` on a tensor-core config.

    Parameters
    ----------
    config : STCConfig or DenseTCConfig
        For example ``STCConfig.preset("a100")`` or its ``dense_twin()``.
    workload : str, Workload, QuantizedLayer, STCLayer or numpy.ndarray
        A registered workload name, a built workload, or one layer (then ``inputs``).
    engine : {"fast", "des"}
        Closed-form or discrete-event (SimPy); they agree exactly.
    batch : int, optional
        Batch Nb (default: the width of a 2-D ``inputs``, else ``config.batch``).
    inputs : numpy.ndarray, optional
        First layer's input: int16 fixed point or real, shape (K,) or (K, Nb).
    seed : int, optional
        Seed of a named workload.
    activation_seed : int
        Seed of the extra batch columns (see :func:`~eie_sim.engines.stc.adapter.activations`).
    prune : bool
        N:M-prune the weights (default); False refuses weights that violate the pattern.
    relu : bool
        Zero negative inputs (EIE's input-side ReLU).
    check : bool
        Compare every layer's outputs with the reference model (costly for huge GEMMs).

    Returns
    -------
    RunResult
    """
    if not isinstance(config, STCConfig):
        raise ConfigError(f"config must be an STCConfig, got {type(config).__name__}")
    name, layers, x_in, chained = _as_layers(workload, inputs, seed)
    if batch is None and x_in.ndim == 2:
        batch = x_in.shape[1]  # a K x Nb input sets the batch
    if batch is not None and batch != config.batch:
        config = config.replace(batch=batch)
    if len(layers) > 1 and not chained:
        raise WorkloadError(f"workload {name!r} has several layers but is not chained")
    results: list[LayerResult] = []
    infos: list[dict] = []
    x_real = None
    for i, layer in enumerate(layers):
        stc_layer = (
            layer
            if isinstance(layer, STCLayer)
            else from_layer(layer, config.n, config.m, config.dtype, prune=prune)
        )
        frac = stc_layer.act_frac_bits
        if i == 0:
            x_real = activations(
                x_in, config.batch, seed=activation_seed, relu=relu, act_frac_bits=frac
            )
        else:
            x_real = activations(x_real, config.batch, relu=relu)
        run_rec, info = run_layer(stc_layer, x_real, config, engine=engine, check=check)
        scale = stc_layer.weight_scale * info["act_scale"]
        y = run_rec.outputs.astype(np.float64) * scale
        x_real = y
        out16 = quantize(y, frac)
        time_us = run_rec.cycles / config.clock_mhz
        results.append(
            LayerResult(
                name=stc_layer.name,
                n_in=stc_layer.n_in,
                n_out=stc_layer.n_out,
                cycles=run_rec.cycles,
                time_us=time_us,
                pass_cycles=list(run_rec.wave_cycles),
                pe_busy_cycles=run_rec.tc_busy,
                pe_stall_cycles=run_rec.tc_stall,
                pe_idle_cycles=run_rec.tc_idle,
                counts=run_rec.counts,
                outputs=out16[:, 0] if config.batch == 1 else out16,
                outputs_match_reference=bool(info["outputs_match_reference"]) if check else True,
                weight_density=stc_layer.weights.nnz / (stc_layer.n_out * stc_layer.n_in),
                activation_density=info["activation_density"],
                act_frac_bits=frac,
                memory=dict(info["memory"]),
                traffic_bytes=traffic(run_rec.counts, traffic_map(config)),
            )
        )
        infos.append(info)
    return RunResult(
        workload=name,
        arch=config.arch,
        engine=engine,
        config=config.to_dict(),
        layers=results,
        info={"stc": {"batch": config.batch, "layers": infos}},
    )
