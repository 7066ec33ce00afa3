"""Results: what a run reports, per layer and in total, and its JSON form.

A :class:`LayerResult` holds what an engine counted for one layer plus the derived figures
(time, load balance). A :class:`RunResult` is a workload's layers on one architecture; its
``totals`` add the layers up. ``to_dict`` gives the JSON schema documented in README.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eie_sim.energy.pricing import EnergyReport
from eie_sim.errors import EieSimError
from eie_sim.traffic import add_traffic

SCHEMA_VERSION = 1


@dataclass(eq=False)
class LayerResult:
    """One simulated layer.

    Attributes
    ----------
    name : str
    n_in, n_out : int
        Layer shape (inputs x outputs).
    cycles : int
        Latency in clock cycles.
    time_us : float
        ``cycles / clock_mhz``, microseconds.
    pass_cycles : list of int
        Cycles of each output pass.
    pe_busy_cycles, pe_stall_cycles, pe_idle_cycles : numpy.ndarray of int64
        Per-PE cycles (see :class:`eie_sim.engines.eie.common.LayerRun`).
    counts : dict of str to int
        One counter per (unit, action).
    outputs : numpy.ndarray of int16
        Output activations (pre-ReLU), fixed point with ``act_frac_bits`` fraction bits.
    outputs_match_reference : bool
        The outputs equal the reference functional model bit for bit.
    weight_density, activation_density : float
        Non-zero weights / all weights; broadcast inputs / inputs.
    memory : dict
        Per-PE on-chip storage needed and available, bytes.
    warnings : list of str
    """

    name: str
    n_in: int
    n_out: int
    cycles: int
    time_us: float
    pass_cycles: list[int]
    pe_busy_cycles: np.ndarray
    pe_stall_cycles: np.ndarray
    pe_idle_cycles: np.ndarray
    counts: dict[str, int]
    outputs: np.ndarray
    outputs_match_reference: bool
    weight_density: float
    activation_density: float
    act_frac_bits: int = 8
    memory: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    energy: EnergyReport | None = None
    traffic_bytes: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def load_balance_efficiency(self) -> float:
        """busy / (busy + stall) over all PEs: 1.0 when no PE ever waits on another PE's queue."""
        busy = int(self.pe_busy_cycles.sum())
        lost = int(self.pe_stall_cycles.sum())
        return busy / (busy + lost) if busy + lost else 1.0

    @property
    def pe_utilization(self) -> float:
        """busy / (PEs x cycles): the fraction of PE cycles spent issuing work."""
        total = self.pe_busy_cycles.size * self.cycles
        return int(self.pe_busy_cycles.sum()) / total if total else 0.0

    def to_dict(self, *, outputs: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "inputs": self.n_in,
            "outputs_count": self.n_out,
            "cycles": self.cycles,
            "time_us": self.time_us,
            "pass_cycles": list(self.pass_cycles),
            "load_balance_efficiency": self.load_balance_efficiency,
            "pe_utilization": self.pe_utilization,
            "weight_density": self.weight_density,
            "activation_density": self.activation_density,
            "pe_cycles": {
                "busy": self.pe_busy_cycles.tolist(),
                "stall": self.pe_stall_cycles.tolist(),
                "idle": self.pe_idle_cycles.tolist(),
            },
            "counts": dict(self.counts),
            "memory_bytes_per_pe": dict(self.memory),
            "warnings": list(self.warnings),
            "outputs_match_reference": self.outputs_match_reference,
            "outputs_sha256": hashlib.sha256(self.outputs.astype("<i2").tobytes()).hexdigest(),
            "act_frac_bits": self.act_frac_bits,
            "traffic_bytes": self.traffic_bytes,
        }
        if self.energy is not None:
            d["energy_pj"] = self.energy.to_dict()
            d["power_mw"] = self.energy.power_mw
        if outputs:
            d["outputs"] = self.outputs.tolist()
        return d


@dataclass(eq=False)
class RunResult:
    """A workload simulated on one architecture with one engine."""

    workload: str
    arch: str
    engine: str
    config: dict[str, Any]
    layers: list[LayerResult]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return sum(layer.cycles for layer in self.layers)

    @property
    def time_us(self) -> float:
        return sum(layer.time_us for layer in self.layers)

    @property
    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for layer in self.layers:
            for k, v in layer.counts.items():
                total[k] = total.get(k, 0) + v
        return total

    @property
    def outputs_match_reference(self) -> bool:
        return all(layer.outputs_match_reference for layer in self.layers)

    @property
    def energy(self) -> EnergyReport | None:
        """Energy of all layers (None when the run was not priced)."""
        reports = [layer.energy for layer in self.layers]
        if not reports or any(r is None for r in reports):
            return None
        total = reports[0]
        for r in reports[1:]:
            total = total + r
        return total

    @property
    def traffic_bytes(self) -> dict[str, dict[str, float]]:
        total: dict[str, dict[str, float]] = {}
        for layer in self.layers:
            total = add_traffic(total, layer.traffic_bytes)
        return total

    def totals(self) -> dict[str, Any]:
        out = {
            "cycles": self.cycles,
            "time_us": self.time_us,
            "counts": self.counts,
            "traffic_bytes": self.traffic_bytes,
            "outputs_match_reference": self.outputs_match_reference,
        }
        energy = self.energy
        if energy is not None:
            out["energy_pj"] = energy.to_dict()
            out["power_mw"] = energy.power_mw
        return out

    def to_dict(self, *, outputs: bool = True) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "workload": self.workload,
            "arch": self.arch,
            "engine": self.engine,
            "config": dict(self.config),
            **self.info,
            "layers": [layer.to_dict(outputs=outputs) for layer in self.layers],
            "totals": self.totals(),
        }

    def to_json(self, *, outputs: bool = True) -> str:
        return json.dumps(self.to_dict(outputs=outputs), indent=2, sort_keys=False) + "\n"


def check_writable(path: str | Path) -> Path:
    """Fail early (before a long run) if ``path`` cannot be written."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        if p.is_dir():
            raise EieSimError(f"output path {p} is a directory; allowed: a file path")
        if parent.exists() and not parent.is_dir():
            raise EieSimError(f"cannot write {p}: {parent} is not a directory")
        if not parent.is_dir():
            raise EieSimError(f"cannot write {p}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise EieSimError(f"cannot write {p}: directory {parent} is not writable")
    except OSError as err:
        raise EieSimError(f"cannot write {p}: {err.strerror or err}") from None
    return p


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename: never a half-written file."""
    p = check_writable(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:64]}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; honour the umask like open()
        os.replace(tmp, p)
        tmp = None
    except OSError as err:
        raise EieSimError(f"cannot write {p}: {err.strerror or err}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
