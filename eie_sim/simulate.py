"""The one facade: ``simulate(arch, workload, *, engine=...)`` for every engine.

Engines register in :data:`ENGINES` (arch name, engine name) -> implementation; each returns
the same :class:`~eie_sim.result.RunResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from eie_sim.config import ArchConfig, EIEConfig
from eie_sim.engines.eie import des as eie_des
from eie_sim.engines.eie import fast as eie_fast
from eie_sim.engines.eie.common import check_capacity, memory_use, prepare
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.formats.interleaved_csc import num_passes
from eie_sim.layer import QuantizedLayer
from eie_sim.reference import broadcast_mask, reference_forward
from eie_sim.result import LayerResult, RunResult

EngineName = Literal["fast", "des"]

#: (arch, engine) -> run_layer(layer, x, config, enc, progress) for the EIE family.
ENGINES: dict[tuple[str, str], Callable] = {
    ("eie", "des"): eie_des.run_layer,
    ("eie", "fast"): eie_fast.run_layer,
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
        raise WorkloadError(f"cannot simulate a {type(workload).__name__}; "
                            "allowed: a workload name, a Workload or a QuantizedLayer")
    if inputs is not None and not isinstance(workload, QuantizedLayer):
        wl = Workload(name=wl.name, layers=wl.layers, inputs=np.asarray(inputs),
                      chained=wl.chained, description=wl.description, info=wl.info)
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
    progress: bool | Callable[[int], None] = False,
) -> RunResult:
    """Simulate ``workload`` on ``arch``.

    Parameters
    ----------
    arch : ArchConfig
        For example ``EIEConfig(num_pes=64)``.
    workload : str, Workload or QuantizedLayer
        A registered workload name, a built workload, or a single layer (then ``inputs``).
    engine : {"fast", "des"}
        Vectorised or discrete-event (SimPy); they agree exactly.
    inputs : numpy.ndarray of int16, optional
        Input activations of the first layer (overrides the workload's).
    seed : int, optional
        Seed for a named workload (default: the workload's own).
    progress : bool or callable
        True shows a progress bar on stderr; a callable receives scanned-activation counts.

    Returns
    -------
    RunResult
    """
    if not isinstance(arch, ArchConfig):
        raise ConfigError(f"arch must be an architecture config, got {type(arch).__name__}")
    key = (arch.arch, engine)
    if key not in ENGINES:
        allowed = sorted(e for a, e in ENGINES if a == arch.arch)
        raise ConfigError(f"unknown engine {engine!r} for arch {arch.arch!r}; allowed: "
                          f"{', '.join(allowed)}")
    wl = _as_workload(workload, inputs, seed)
    if isinstance(arch, EIEConfig):
        layers = _run_eie(arch, wl, ENGINES[key], progress)
    else:  # pragma: no cover - other families register their own runner
        raise ConfigError(f"arch {arch.arch!r} has no runner")
    return RunResult(workload=wl.name, arch=arch.arch, engine=engine, config=arch.to_dict(),
                     layers=layers, info=dict(wl.info))


def _progress_bar(progress, total: int):
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="act", desc="scan", leave=False, dynamic_ncols=True)
    return bar.update, bar


def _run_eie(config: EIEConfig, wl, run_layer, progress) -> list[LayerResult]:
    total = sum(layer.n_in * num_passes(layer.n_out, config.num_pes, config.act_regfile_entries)
                for layer in wl.layers)
    update, bar = _progress_bar(progress, total)
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
            enc = prepare(layer, config)
            mem = memory_use(layer, config, enc)
            check_capacity(layer, config, mem)
            run = run_layer(layer, x, config, enc, update)
            expected = reference_forward(layer, x, input_relu=config.input_relu)
            results.append(LayerResult(
                name=layer.name, n_in=layer.n_in, n_out=layer.n_out, cycles=run.cycles,
                time_us=run.cycles / config.clock_mhz, pass_cycles=run.pass_cycles,
                pe_busy_cycles=run.pe_busy, pe_stall_cycles=run.pe_stall,
                pe_idle_cycles=run.pe_idle, counts=run.counts, outputs=run.outputs,
                outputs_match_reference=bool(np.array_equal(run.outputs, expected)),
                weight_density=layer.weight_density,
                activation_density=float(broadcast_mask(x, config.input_relu).mean()),
                act_frac_bits=layer.act_frac_bits,
                memory=dict(mem.__dict__), warnings=mem.warnings(),
            ))
    finally:
        if bar is not None:
            bar.close()
    return results
