"""Comparing machines like for like: EIE vs the 2:4 tensor core vs dense machines.

Two named modes (docs/COMPARING.md):

* ``as-built``: each machine in its own node and size — EIE as in the paper (64 PEs, 45 nm,
  800 MHz), the A100 (7 nm, 1410 MHz, HBM2) with 2:4 sparsity and in its dense mode, and the
  dense PE array with EIE's budget (45 nm). The paper-style comparison.
* ``iso``: every machine at one node (45 nm), with the same peak MACs per cycle (64), clock
  (800 MHz), on-chip SRAM budget (64 x 162 KB) and DRAM bandwidth (25.6 GB/s): EIE, the
  ``iso-eie`` tensor core (2:4 and dense) and the dense PE array. The architecture comparison.

A machine whose weights do not fit its on-chip store streams them from DRAM instead, and its
label says so. Batch is an axis: EIE and the dense PE array serve one input vector at a time
(their time and energy per inference do not change with the batch), a tensor core runs the
whole batch as one GEMM and amortizes its weight traffic. Tensor cores run timing-only
(``values=False``: their timing does not depend on the values), layer by layer.

For every machine and layer the comparison reports the *bound*: the largest of the lower bounds
on its cycles — compute (its units' work spread perfectly: mean busy cycles), memory (DRAM bytes
at the configured bandwidth) and, for PE arrays, the broadcast (one activation per cycle, LNZD
advance cycles included) — with the arithmetic intensity (2 x MACs per DRAM byte) and the
fraction of peak (MAC-slot utilization: useful MACs over the machine's MAC slots).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from eie_sim import registry
from eie_sim.config import ArchConfig, DenseConfig, EIEConfig, STCConfig
from eie_sim.errors import CapacityError, ConfigError
from eie_sim.result import LayerResult, RunResult
from eie_sim.simulate import simulate

MODES = ("as-built", "iso")
#: The machines of each mode: role -> config. Roles are the same in both modes.
ROLES = ("EIE", "2:4 tensor core", "dense tensor core", "dense PE array")


def machines(mode: str) -> dict[str, ArchConfig]:
    """The machines a mode compares, by role."""
    if mode == "as-built":
        a100 = STCConfig.preset("a100")
        return {"EIE": EIEConfig(), "2:4 tensor core": a100,
                "dense tensor core": a100.dense_twin(), "dense PE array": DenseConfig()}
    if mode == "iso":
        iso = STCConfig.preset("iso-eie")
        return {"EIE": EIEConfig(), "2:4 tensor core": iso,
                "dense tensor core": iso.dense_twin(), "dense PE array": DenseConfig()}
    raise ConfigError(f"unknown comparison mode {mode!r}; allowed: {', '.join(MODES)}")


@dataclass(frozen=True)
class Resources:
    """What a machine has: the quantities iso mode equalizes."""

    peak_macs_per_cycle: int
    clock_mhz: float
    onchip_sram_bytes: int
    dram_bandwidth_gbps: float
    technology_nm: float


def resources(config: ArchConfig) -> Resources:
    """A machine's peak MACs per cycle, clock, on-chip SRAM, DRAM bandwidth and node."""
    model = registry.get(config.arch).implementation()
    return Resources(
        peak_macs_per_cycle=model.peak_macs_per_cycle(config),
        clock_mhz=config.clock_mhz,
        onchip_sram_bytes=model.onchip_sram_bytes(config),
        dram_bandwidth_gbps=model.dram_bandwidth_gbps(config),
        technology_nm=config.technology_nm,
    )


@dataclass
class Row:
    """One machine on one layer at one batch (per-inference figures divide by the batch)."""

    mode: str
    role: str
    arch: str
    machine: str
    energy_table: str
    workload: str
    layer: str
    batch: int
    cycles: int
    time_us: float
    time_us_per_inference: float
    energy_uj_per_inference: float
    power_w: float
    dram_bytes_per_inference: float
    bound: str
    compute_bound_cycles: float
    memory_bound_cycles: float
    broadcast_bound_cycles: float | None
    arithmetic_intensity: float | None
    fraction_of_peak: float


def bounds(config: ArchConfig, layer: LayerResult) -> dict[str, float]:
    """Lower bounds on a layer's cycles: compute, memory and (PE arrays) broadcast."""
    model = registry.get(config.arch).implementation()
    dram = layer.traffic_bytes.get("dram", {"read": 0, "write": 0})
    dram_bytes = dram["read"] + dram["write"]
    bytes_per_cycle = model.dram_bandwidth_gbps(config) * 1e3 / config.clock_mhz
    out = {"compute": float(layer.unit_busy_cycles.mean()),
           "memory": dram_bytes / bytes_per_cycle}
    out.update(model.issue_bounds(config, layer.counts))
    return out


def _run(config: ArchConfig, workload, engine: str, energy) -> tuple[ArchConfig, RunResult]:
    """Simulate, streaming the weights from DRAM when they do not fit on chip; tensor cores
    timing-only, layer by layer."""
    acc = registry.get(config.arch)

    def go(cfg):
        if not acc.timing_only:
            return simulate(cfg, workload, engine=engine, energy=energy)
        parts = [simulate(cfg, workload.__class__(name=workload.name, layers=(layer,),
                                                  inputs=_zeros(layer.n_in)),
                          engine=engine, energy=energy, values=False)
                 for layer in workload.layers]
        first = parts[0]
        return RunResult(workload=workload.name, arch=first.arch, engine=first.engine,
                         config=first.config, machine=first.machine,
                         layers=[p.layers[0] for p in parts], info=dict(workload.info))

    try:
        return config, go(config)
    except CapacityError:
        streamed = config.replace(weights_from="dram")
        return streamed, go(streamed)


def _zeros(n: int):
    import numpy as np

    return np.zeros(n, dtype=np.int16)


def compare(workload: str, mode: str = "as-built", batches: Sequence[int] = (1,), *,
            engine: str = "fast", seed: int | None = None,
            energy: str = "default") -> list[Row]:
    """Every machine of ``mode`` on every layer of ``workload`` at every batch size.

    ``energy``: ``"default"`` prices each machine with its own table (as-built: EIE 45 nm, the
    A100 ``gpu-7nm``; iso: all 45 nm), or one table for all.
    """
    from eie_sim.workloads import get_workload

    if mode not in MODES:
        raise ConfigError(f"unknown comparison mode {mode!r}; allowed: {', '.join(MODES)}")
    batches = list(batches)
    if not batches or any(isinstance(b, bool) or not isinstance(b, int) or b < 1
                          for b in batches):
        raise ConfigError(f"batches must be integers >= 1, got {batches!r}")
    wl = get_workload(workload, seed)
    rows: list[Row] = []
    for role, base in machines(mode).items():
        for batch in batches:
            config = base.replace(batch=batch) if "batch" in base.to_dict() else base
            per_run = batch if "batch" in base.to_dict() else 1
            config, result = _run(config, wl, engine, energy)
            for layer in result.layers:
                b = bounds(config, layer)
                dram = layer.traffic_bytes.get("dram", {"read": 0, "write": 0})
                dram_bytes = dram["read"] + dram["write"]
                energy_pj = layer.energy.total_pj if layer.energy is not None else 0.0
                rows.append(Row(
                    mode=mode, role=role, arch=config.arch, machine=result.machine,
                    energy_table=layer.energy.table if layer.energy is not None else "",
                    workload=wl.name, layer=layer.name, batch=batch, cycles=layer.cycles,
                    time_us=layer.time_us, time_us_per_inference=layer.time_us / per_run,
                    energy_uj_per_inference=energy_pj / 1e6 / per_run,
                    power_w=layer.energy.power_mw / 1e3 if layer.energy is not None else 0.0,
                    dram_bytes_per_inference=dram_bytes / per_run,
                    bound=max(b, key=b.get),
                    compute_bound_cycles=b["compute"], memory_bound_cycles=b["memory"],
                    broadcast_bound_cycles=b.get("broadcast"),
                    arithmetic_intensity=(2 * layer.macs / dram_bytes) if dram_bytes else None,
                    fraction_of_peak=layer.mac_slot_utilization))
    return rows


def totals(rows: Sequence[Row]) -> list[dict]:
    """Per (role, batch): the workload's time and energy per inference, all layers."""
    out: dict[tuple[str, int], dict] = {}
    for r in rows:
        key = (r.role, r.batch)
        t = out.setdefault(key, {"mode": r.mode, "role": r.role, "machine": r.machine,
                                 "batch": r.batch, "time_us_per_inference": 0.0,
                                 "energy_uj_per_inference": 0.0,
                                 "dram_bytes_per_inference": 0.0})
        t["time_us_per_inference"] += r.time_us_per_inference
        t["energy_uj_per_inference"] += r.energy_uj_per_inference
        t["dram_bytes_per_inference"] += r.dram_bytes_per_inference
    return list(out.values())


def to_csv(rows: Sequence[Row]) -> str:
    """One CSV row per machine, layer and batch (the machine named on every row)."""
    buf = io.StringIO()
    fields = list(asdict(rows[0])) if rows else []
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(asdict(r))
    return buf.getvalue()
