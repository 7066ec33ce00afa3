"""The one facade: ``simulate(arch, workload, *, engine=..., energy=...)`` for every engine.

Architecture families register in :data:`FAMILIES`: how a layer is prepared for the hardware
(encoding, memory checks), the engines that run it (all returning the same
:class:`~eie_sim.engines.eie.common.LayerRun`), and the unit geometry and traffic map used to
price and report it. Engines only count; :func:`eie_sim.energy.price` prices the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from eie_sim.config import ArchConfig, DenseConfig, EIEConfig
from eie_sim.energy import EnergyTable, load_table, price
from eie_sim.engines.dense import common as dense_common
from eie_sim.engines.dense import des as dense_des
from eie_sim.engines.dense import fast as dense_fast
from eie_sim.engines.eie import common as eie_common
from eie_sim.engines.eie import des as eie_des
from eie_sim.engines.eie import fast as eie_fast
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.formats.interleaved_csc import num_passes
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import broadcast_mask, reference_forward
from eie_sim.result import LayerResult, RunResult
from eie_sim.traffic import traffic

EngineName = Literal["fast", "des"]


@dataclass(frozen=True)
class Family:
    """One accelerator family: prepare a layer, run it, price and report it.

    ``prepare(layer, config) -> (state, memory, warnings)``; each engine is
    ``run(layer, x, config, state, progress) -> LayerRun``.
    """

    prepare: Callable[[QuantizedLayer, Any], tuple[Any, dict, list[str]]]
    engines: dict[str, Callable]
    geometry: Callable[[Any], dict]
    traffic_map: Callable[[Any], dict]


def _prepare_eie(layer: QuantizedLayer, config: EIEConfig):
    enc = eie_common.prepare(layer, config)
    mem = eie_common.memory_use(layer, config, enc)
    eie_common.check_capacity(layer, config, mem)
    return enc, dict(mem.__dict__), mem.warnings()


def _prepare_dense(layer: QuantizedLayer, config: DenseConfig):
    streamed = dense_common.streams_weights(layer, config)
    mem = {
        "weight_bytes_needed": dense_common.weight_bytes_per_pe(layer, config),
        "weight_bytes_available": config.weight_sram_bytes,
        "weights_streamed": int(streamed),
    }
    return None, mem, []


FAMILIES: dict[str, Family] = {
    "eie": Family(
        prepare=_prepare_eie,
        engines={"des": eie_des.run_layer, "fast": eie_fast.run_layer},
        geometry=eie_common.geometry,
        traffic_map=eie_common.traffic_map,
    ),
    "dense": Family(
        prepare=_prepare_dense,
        engines={
            "des": lambda layer, x, cfg, _state, progress: dense_des.run_layer(
                layer, x, cfg, progress
            ),
            "fast": lambda layer, x, cfg, _state, progress: dense_fast.run_layer(
                layer, x, cfg, progress
            ),
        },
        geometry=dense_common.geometry,
        traffic_map=dense_common.traffic_map,
    ),
}


def _as_workload(workload, inputs, seed):
    from workloads import Workload, get_workload

    if isinstance(workload, str):
        wl = get_workload(workload, seed)
    elif isinstance(workload, QuantizedLayer):
        if inputs is None:
            raise WorkloadError("simulating a bare layer needs its input activations (inputs=...)")
        wl = Workload(name=workload.name, layers=(workload,), inputs=np.asarray(inputs))
    elif isinstance(workload, Workload):
        wl = workload
    else:
        raise WorkloadError(
            f"cannot simulate a {type(workload).__name__}; "
            "allowed: a workload name, a Workload or a QuantizedLayer"
        )
    if inputs is not None and not isinstance(workload, QuantizedLayer):
        wl = Workload(
            name=wl.name,
            layers=wl.layers,
            inputs=np.asarray(inputs),
            chained=wl.chained,
            description=wl.description,
            info=wl.info,
        )
    x = np.asarray(wl.inputs)
    if x.dtype != np.int16:
        raise WorkloadError(f"input activations must be int16 fixed point, got {x.dtype}")
    return wl


def simulate(
    arch: ArchConfig,
    workload,
    *,
    engine: EngineName = "fast",
    inputs: np.ndarray | None = None,
    seed: int | None = None,
    energy: str | Path | EnergyTable | None = "45nm",
    progress: bool | Callable[[int], None] = False,
    nm_prune: bool = True,
) -> RunResult:
    """Simulate ``workload`` on ``arch``.

    Parameters
    ----------
    arch : ArchConfig
        For example ``EIEConfig(num_pes=64)`` or ``DenseConfig()``.
    workload : str, Workload or QuantizedLayer
        A registered workload name, a built workload, or a single layer (then ``inputs``).
    engine : {"fast", "des"}
        Vectorised or discrete-event (SimPy); they agree exactly.
    inputs : numpy.ndarray of int16, optional
        Input activations of the first layer (overrides the workload's).
    seed : int, optional
        Seed for a named workload (default: the workload's own).
    energy : str, path or EnergyTable, optional
        Energy table used to price the counts: ``"45nm"`` (default), ``"7nm"``, a YAML file,
        or None to skip pricing.
    progress : bool or callable
        True shows a progress bar on stderr; a callable receives scanned-activation counts.
    nm_prune : bool
        Tensor cores only: N:M-prune weights that violate the pattern (False refuses them).

    Returns
    -------
    RunResult
    """
    if not isinstance(arch, ArchConfig):
        raise ConfigError(f"arch must be an architecture config, got {type(arch).__name__}")
    if arch.arch in TENSOR_CORE_ARCHS:
        return _simulate_tensor_core(arch, workload, engine=engine, inputs=inputs, seed=seed,
                                     energy=energy, prune=nm_prune)
    family = FAMILIES.get(arch.arch)
    if family is None:
        raise ConfigError(f"no engines for arch {arch.arch!r}; allowed: {', '.join(FAMILIES)}")
    if engine not in family.engines:
        raise ConfigError(
            f"unknown engine {engine!r} for arch {arch.arch!r}; allowed: "
            f"{', '.join(sorted(family.engines))}"
        )
    table = load_table(energy) if energy is not None else None
    wl = _as_workload(workload, inputs, seed)
    layers = _run_layers(arch, family, family.engines[engine], wl, table, progress)
    return RunResult(
        workload=wl.name,
        arch=arch.arch,
        engine=engine,
        config=arch.to_dict(),
        layers=layers,
        info=dict(wl.info),
    )


TENSOR_CORE_ARCHS = ("stc", "dense-tc")


def _simulate_tensor_core(arch, workload, *, engine, inputs, seed, energy, prune) -> RunResult:
    """The N:M tensor core and its dense twin (docs/STC_MODEL.md), priced like the others."""
    from eie_sim.engines.stc import common as stc_common
    from eie_sim.engines.stc import run as stc_run

    if engine not in ("fast", "des"):
        raise ConfigError(f"unknown engine {engine!r} for arch {arch.arch!r}; allowed: des, fast")
    table = load_table(energy) if energy is not None else None
    result = stc_run(arch, workload, engine=engine, inputs=inputs, seed=seed, prune=prune)
    geometry = stc_common.geometry(arch)
    for layer in result.layers:
        if table is not None:
            layer.energy = price(layer.counts, table, geometry, layer.time_us)
        layer.traffic_bytes = traffic(layer.counts, stc_common.traffic_map(arch))
    return result


def _progress_bar(progress, total: int):
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="act", desc="scan", leave=False, dynamic_ncols=True)
    return bar.update, bar


def _run_layers(config, family: Family, run_layer, wl, table, progress) -> list[LayerResult]:
    total = sum(
        layer.n_in * num_passes(layer.n_out, config.num_pes, config.act_regfile_entries)
        for layer in wl.layers
    )
    update, bar = _progress_bar(progress, total)
    geometry = family.geometry(config)
    results = []
    x = np.asarray(wl.inputs)
    try:
        for i, layer in enumerate(wl.layers):
            if i and wl.chained:
                x = results[-1].outputs
            elif i:
                raise WorkloadError(f"workload {wl.name!r} has several layers but is not chained")
            if x.shape != (layer.n_in,):
                raise WorkloadError(f"layer {layer.name!r} takes {layer.n_in} inputs, got {x.size}")
            state, memory, warnings = family.prepare(layer, config)
            run = run_layer(layer, x, config, state, update)
            expected = reference_forward(layer, x, input_relu=config.input_relu)
            time_us = run.cycles / config.clock_mhz
            results.append(
                LayerResult(
                    name=layer.name,
                    n_in=layer.n_in,
                    n_out=layer.n_out,
                    cycles=run.cycles,
                    time_us=time_us,
                    pass_cycles=run.segment_cycles,
                    pe_busy_cycles=run.unit_busy,
                    pe_stall_cycles=run.unit_stall,
                    pe_idle_cycles=run.unit_idle,
                    counts=run.counts,
                    outputs=run.outputs,
                    outputs_match_reference=bool(np.array_equal(run.outputs, expected)),
                    weight_density=layer.weight_density,
                    activation_density=float(broadcast_mask(x, config.input_relu).mean()),
                    act_frac_bits=layer.act_frac_bits,
                    memory=memory,
                    warnings=warnings,
                    energy=price(run.counts, table, geometry, time_us) if table else None,
                    traffic_bytes=traffic(run.counts, family.traffic_map(config)),
                )
            )
    finally:
        if bar is not None:
            bar.close()
    return results
