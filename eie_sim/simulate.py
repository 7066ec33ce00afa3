"""The one facade: ``simulate(arch, workload, *, engine=..., energy=...)`` for every accelerator.

Every architecture comes in through its registry record (:mod:`eie_sim.registry`) and the
interface of :mod:`eie_sim.accelerator`; this module holds the only layer loop: prepare, run an
engine, check the outputs against the reference, price the counts, map the traffic, chain.
Engines only count; :func:`eie_sim.energy.price` prices the counts afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from eie_sim import registry
from eie_sim.accelerator import RunOptions, same_bits
from eie_sim.config import ArchConfig
from eie_sim.energy import EnergyTable, load_table, price
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.layer import QuantizedLayer
from eie_sim.limits import check_layer_run, excerpt
from eie_sim.result import LayerResult, RunResult
from eie_sim.traffic import traffic

EngineName = Literal["fast", "des"]


def _as_workload(workload, inputs, seed):
    from eie_sim.workloads import Workload, get_workload

    if isinstance(workload, str):
        wl = get_workload(workload, seed)
    elif isinstance(workload, Workload):
        wl = workload
    else:
        from eie_sim.workloads.lstm import LSTMLayer  # ~7 ms of imports: a bare layer only

        if not isinstance(workload, (QuantizedLayer, LSTMLayer)):
            raise WorkloadError(
                f"cannot simulate a {type(workload).__name__}; "
                "allowed: a workload name, a Workload, a QuantizedLayer or an LSTMLayer"
            )
        if inputs is None:
            raise WorkloadError("simulating a bare layer needs its input activations (inputs=...)")
        wl = Workload(name=workload.name, layers=(workload,), inputs=np.asarray(inputs))
    if inputs is not None and not isinstance(workload, QuantizedLayer):
        wl = wl.with_inputs(np.asarray(inputs))
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
    energy: str | Path | EnergyTable | None = "default",
    progress: bool | Callable[[int], None] = False,
    nm_prune: bool = True,
    check: bool = True,
    activation_seed: int = 0,
    values: bool = True,
) -> RunResult:
    """Simulate ``workload`` on ``arch``.

    Parameters
    ----------
    arch : ArchConfig
        Any registered architecture's config, e.g. ``EIEConfig(num_pes=64)``, ``DenseConfig()``,
        ``STCConfig.preset("a100")`` (``eie-sim archs`` lists them).
    workload : str, Workload or QuantizedLayer
        A registered workload name, a built workload, or a single layer (then ``inputs``).
    engine : {"fast", "des"}
        Vectorised or discrete-event (SimPy); they agree exactly.
    inputs : numpy.ndarray of int16, optional
        Input activations of the first layer (overrides the workload's); shape ``(K,)``, or
        ``(K, batch)`` for a tensor core whose config has that batch.
    seed : int, optional
        Seed for a named workload (default: the workload's own).
    energy : str, path or EnergyTable, optional
        Energy table used to price the counts: ``"default"`` (the machine's own,
        ``arch.energy_table``: 45 nm for EIE and the dense baseline, ``gpu-7nm`` for the A100 /
        H100 presets), ``"45nm"``, ``"7nm"``, ``"gpu-7nm"``, a YAML file, or None to skip
        pricing. Each layer's energy report names the table that priced it.
    progress : bool or callable
        True shows a progress bar on stderr; a callable receives progress increments.
    nm_prune : bool
        Tensor cores only: N:M-prune weights that violate the pattern (False refuses them).
    check : bool
        Compare every layer's outputs with the architecture's reference model bit for bit
        (``outputs_match_reference`` is None when False).
    activation_seed : int
        Tensor cores only: seed of the batch columns made from a 1-D input.
    values : bool
        False: a timing-only study. Cycles, per-unit cycles, counters, energy and traffic as
        always, but no output values are computed (``outputs`` is empty,
        ``outputs_match_reference`` is None). Only for architectures whose timing does not
        depend on the values (the tensor cores) and single-layer workloads.

    Returns
    -------
    RunResult
    """
    if not isinstance(arch, ArchConfig):
        raise ConfigError(f"arch must be an architecture config, got {type(arch).__name__}")
    acc = registry.get(arch.arch)
    if engine not in acc.engines:
        raise ConfigError(
            f"unknown engine {engine!r} for arch {arch.arch!r}; allowed: "
            f"{', '.join(sorted(acc.engines))}"
        )
    table = load_table(resolve_energy(arch, energy)) if energy is not None else None
    wl = _as_workload(workload, inputs, seed)
    _check_layer_kinds(acc, wl)
    if not values:
        if not acc.timing_only:
            raise ConfigError(f"values=False (timing only) is for architectures whose timing "
                              f"does not depend on the values; {arch.arch}'s does. Allowed: "
                              + ", ".join(a.name for a in registry.ACCELERATORS.values()
                                          if a.timing_only))
        if len(wl.layers) > 1:
            raise WorkloadError("values=False (timing only) needs a single-layer workload: a "
                                "chained layer's input is the previous layer's values")
        check = False
    options = RunOptions(nm_prune=nm_prune, activation_seed=activation_seed, values=values)
    layers = _run_layers(arch, acc, engine, wl, table, progress, options, check)
    # Warnings a workload carries about its input (e.g. quantization) belong to its first layer.
    layers[0].warnings = [*wl.info.get("warnings", []), *layers[0].warnings]
    return RunResult(
        workload=wl.name,
        arch=arch.arch,
        engine=engine,
        config=arch.to_dict(),
        machine=acc.summary(arch),
        layers=layers,
        info=dict(wl.info),
    )


def _check_layer_kinds(acc: registry.Accelerator, wl) -> None:
    """Refuse a layer whose kind the architecture does not run (one line, before any work)."""
    for layer in wl.layers:
        kind = getattr(layer, "kind", type(layer).__name__)
        if kind not in acc.layer_kinds:
            runs = ", ".join(registry.archs_for_kind(kind)) or "no registered arch"
            raise WorkloadError(
                f"arch {acc.name} does not run {kind} layers ({excerpt(layer.name)} of workload "
                f"{excerpt(wl.name)}); {kind} layers run on: {runs}; "
                f"{acc.name} runs: {', '.join(acc.layer_kinds)}")


def resolve_energy(arch: ArchConfig, energy):
    """The table a run is priced with: ``"default"`` means the machine's own."""
    if isinstance(energy, str) and energy == "default":
        return arch.energy_table
    return energy


def _progress_bar(progress, total: int):
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="act", desc="scan", leave=False, dynamic_ncols=True)
    return bar.update, bar


def _run_layers(config, acc: registry.Accelerator, engine: str, wl, table, progress,
                options: RunOptions, check: bool) -> list[LayerResult]:
    model = acc.implementation()
    run_engine = model.ENGINES[engine]
    total = sum(model.progress_total(layer, config) for layer in wl.layers)
    update, bar = _progress_bar(progress, total)
    geometry = model.geometry(config)
    traffic_map = model.traffic_map(config)
    results: list[LayerResult] = []
    x = np.asarray(wl.inputs)
    try:
        for i, layer in enumerate(wl.layers):
            if i and not wl.chained:
                raise WorkloadError(f"workload {wl.name!r} has several layers but is not chained")
            if x.shape[0] != layer.n_in:
                raise WorkloadError(
                    f"layer {layer.name!r} takes {layer.n_in} inputs, got {x.shape[0]}")
            # limits: memory estimate (timing only: the plan, no M x K operands) and cycle bound
            check_layer_run(config, layer, values=options.values)
            prepared = model.prepare(layer, x, config, options)
            run = run_engine(prepared, config, update)
            match = same_bits(run.outputs, model.reference(prepared, config)) if check else None
            outputs, x = model.finish(prepared, run, config)
            time_us = run.cycles / config.clock_mhz
            results.append(
                LayerResult(
                    name=layer.name,
                    n_in=layer.n_in,
                    n_out=layer.n_out,
                    cycles=run.cycles,
                    time_us=time_us,
                    segment_kind=acc.segment_kind,
                    segment_cycles=list(run.segment_cycles),
                    unit_kind=acc.unit_kind,
                    unit_busy_cycles=run.unit_busy,
                    unit_stall_cycles=run.unit_stall,
                    unit_idle_cycles=run.unit_idle,
                    counts=run.counts,
                    macs=sum(run.counts.get(c, 0) for c in acc.mac_counters),
                    peak_macs_per_cycle=model.peak_macs_per_cycle(config),
                    outputs=outputs,
                    outputs_match_reference=match,
                    weight_density=prepared.weight_density,
                    effective_weight_density=prepared.effective_weight_density,
                    activation_density=prepared.activation_density,
                    act_frac_bits=prepared.act_frac_bits,
                    memory=prepared.memory,
                    warnings=prepared.warnings,
                    energy=price(run.counts, table, geometry, time_us) if table else None,
                    traffic_bytes=traffic(run.counts, traffic_map),
                    details={**prepared.details, **run.details},
                )
            )
    finally:
        if bar is not None:
            bar.close()
    return results
