"""Results: what a run reports, per layer and in total, and its JSON form.

A :class:`LayerResult` holds what an engine counted for one layer plus the derived figures
(time, load balance, energy, traffic). A :class:`RunResult` is a workload's layers on one
machine; its ``totals`` add the layers up. ``to_dict`` gives the JSON declared by the schema
shipped with the package (``eie_sim/schema/result.schema.json``, :data:`SCHEMA_VERSION`).

Names are neutral across architectures: a *unit* is a compute unit (``unit_kind``: a PE or a
tensor core), a *segment* a sequential part of the layer (``segment_kind``: an output pass or a
wave); architecture-specific figures are under ``details``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eie_sim.energy.pricing import EnergyReport
from eie_sim.errors import EieSimError
from eie_sim.limits import check_count, describe_mode
from eie_sim.traffic import add_traffic

#: Version of the JSON layout; bumped on every incompatible change (docs/RESULTS.md).
SCHEMA_VERSION = 2


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :meth:`RunResult.to_dict`."""
    from importlib import resources

    text = resources.files("eie_sim").joinpath("schema/result.schema.json").read_text()
    return json.loads(text)


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
    segment_kind : str
        What a segment is: ``"pass"`` (output pass of a PE array) or ``"wave"`` (tensor core).
    segment_cycles : list of int
        Cycles of each segment.
    unit_kind : str
        What a compute unit is: ``"PE"`` or ``"tensor core"``.
    unit_busy_cycles, unit_stall_cycles, unit_idle_cycles : numpy.ndarray of int64
        Per compute unit (see :class:`eie_sim.engines.record.LayerRun`); they sum to
        ``cycles`` for every unit.
    counts : dict of str to int
        One counter per (unit, action), from the architecture's catalogue.
    macs : int
        Useful multiply-accumulates (real operands, padding excluded).
    peak_macs_per_cycle : int
        Multiply-accumulates the machine can do per cycle (its multiplier lanes).
    outputs : numpy.ndarray of int16
        Output activations (pre-ReLU), fixed point with ``act_frac_bits`` fraction bits;
        ``(n_out,)``, or ``(n_out, batch)`` for a tensor core at batch > 1.
    outputs_match_reference : bool or None
        The engine's raw outputs equal the reference functional model bit for bit; None when
        the check did not run.
    weight_density, activation_density : float
        Non-zero weights / all weights of the layer as the machine holds it; non-zero inputs /
        inputs.
    effective_weight_density : float
        The fraction of weight slots the machine runs (EIE: the non-zeros; a tensor core: its
        N:M pattern's kept slots; dense machines: 1.0).
    memory : dict
        On-chip storage needed and available, bytes (per PE for PE arrays).
    warnings : list of str
    energy : EnergyReport or None
    traffic_bytes : dict
        ``{level: {"read": bytes, "write": bytes}}``.
    details : dict
        Architecture-specific figures (declared in its registry record).
    """

    name: str
    n_in: int
    n_out: int
    cycles: int
    time_us: float
    segment_kind: str
    segment_cycles: list[int]
    unit_kind: str
    unit_busy_cycles: np.ndarray
    unit_stall_cycles: np.ndarray
    unit_idle_cycles: np.ndarray
    counts: dict[str, int]
    macs: int
    peak_macs_per_cycle: int
    outputs: np.ndarray
    outputs_match_reference: bool | None
    weight_density: float
    activation_density: float
    effective_weight_density: float = 1.0
    act_frac_bits: int = 8
    memory: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    energy: EnergyReport | None = None
    traffic_bytes: dict[str, dict[str, float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The engines count in int64; the config bounds and limits.cycle_bound keep every count
        # far below 2**61. A count outside [0, 2**61] means one wrapped: refuse the result
        # rather than report it.
        check_count(self.cycles, f"layer {self.name!r}: cycles")
        for name, value in self.counts.items():
            check_count(value, f"layer {self.name!r}: counter {name}")

    @property
    def load_balance_efficiency(self) -> float:
        """busy / (busy + stall) over all units: 1.0 when no unit ever waits on another."""
        busy = int(self.unit_busy_cycles.sum())
        lost = int(self.unit_stall_cycles.sum())
        return busy / (busy + lost) if busy + lost else 1.0

    @property
    def unit_utilization(self) -> float:
        """busy / (units x cycles): the fraction of compute-unit cycles spent issuing work.

        This is the EIE paper's load-balance efficiency of Fig. 8, "1 - bubble cycles / total
        computation cycles", where a bubble is a cycle in which a unit issues nothing."""
        total = self.unit_busy_cycles.size * self.cycles
        return int(self.unit_busy_cycles.sum()) / total if total else 0.0

    @property
    def mac_slot_utilization(self) -> float:
        """Useful MACs / (cycles x peak MACs per cycle): real work over peak (the statistic the
        EIE authors' simulator calls efficiency). Padding entries, empty column slices and
        padding MAC lanes count as lost slots."""
        total = self.cycles * self.peak_macs_per_cycle
        return self.macs / total if total else 0.0

    def to_dict(self, *, outputs: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "inputs": self.n_in,
            "outputs_count": self.n_out,
            "cycles": self.cycles,
            "time_us": self.time_us,
            "segment_kind": self.segment_kind,
            "segment_cycles": list(self.segment_cycles),
            "unit_kind": self.unit_kind,
            "unit_cycles": {
                "busy": self.unit_busy_cycles.tolist(),
                "stall": self.unit_stall_cycles.tolist(),
                "idle": self.unit_idle_cycles.tolist(),
            },
            "load_balance_efficiency": self.load_balance_efficiency,
            "unit_utilization": self.unit_utilization,
            "macs": self.macs,
            "peak_macs_per_cycle": self.peak_macs_per_cycle,
            "mac_slot_utilization": self.mac_slot_utilization,
            "weight_density": self.weight_density,
            "effective_weight_density": self.effective_weight_density,
            "activation_density": self.activation_density,
            "counts": dict(self.counts),
            "memory_bytes": dict(self.memory),
            "warnings": list(self.warnings),
            "outputs_match_reference": self.outputs_match_reference,
            "outputs_sha256": hashlib.sha256(self.outputs.astype("<i2").tobytes()).hexdigest(),
            "act_frac_bits": self.act_frac_bits,
            "traffic_bytes": self.traffic_bytes,
            "details": dict(self.details),
        }
        if self.energy is not None:
            d["energy_pj"] = self.energy.to_dict()
            d["power_mw"] = self.energy.power_mw
        if outputs:
            d["outputs"] = self.outputs.tolist()
        return d


def _all_checked(flags: list[bool | None]) -> bool | None:
    """True / False when every layer was checked, None when some check did not run."""
    if any(f is None for f in flags):
        return None
    return all(flags)


@dataclass(eq=False)
class RunResult:
    """A workload simulated on one machine with one engine."""

    workload: str
    arch: str
    engine: str
    config: dict[str, Any]
    layers: list[LayerResult]
    machine: str = ""
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
    def outputs_match_reference(self) -> bool | None:
        return _all_checked([layer.outputs_match_reference for layer in self.layers])

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
            "machine": self.machine,
            "config": dict(self.config),
            "info": dict(self.info),
            "layers": [layer.to_dict(outputs=outputs) for layer in self.layers],
            "totals": self.totals(),
        }

    def to_json(self, *, outputs: bool = True) -> str:
        return dumps(self.to_dict(outputs=outputs))


def dumps(data: Any) -> str:
    """Strict JSON text (indent 2, trailing newline): NaN and infinity are refused."""
    try:
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    except ValueError:
        bad = _first_non_finite(data)
        raise EieSimError(f"result holds a non-finite number at {bad}; JSON allows finite "
                          "numbers only") from None


def _first_non_finite(data: Any, path: str = "$") -> str:
    if isinstance(data, float) and not math.isfinite(data):
        return path
    items = data.items() if isinstance(data, dict) else (
        enumerate(data) if isinstance(data, (list, tuple)) else ())
    for k, v in items:
        found = _first_non_finite(v, f"{path}.{k}" if isinstance(data, dict) else f"{path}[{k}]")
        if found:
            return found
    return ""


def _refuse_non_regular(p: Path) -> None:
    """An existing target that is not a regular file (a device such as /dev/null, a FIFO, a
    socket, a symbolic link) is refused: the atomic rename would replace the node itself."""
    try:
        mode = os.lstat(p).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise EieSimError(f"output path {p} is a directory; allowed: a file path")
    if not stat.S_ISREG(mode):
        raise EieSimError(f"output path {p} is {describe_mode(mode)}; allowed: a regular file "
                          "or a new path (eie-sim replaces only regular files)")


def check_writable(path: str | Path) -> Path:
    """Fail early (before a long run) if ``path`` cannot be written: its directory must exist
    and be writable, and an existing target must be a regular file."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        if p.is_dir():
            raise EieSimError(f"output path {p} is a directory; allowed: a file path")
        if parent.exists() and not parent.is_dir():
            raise EieSimError(f"cannot write {p}: {parent} is not a directory")
        if not parent.is_dir():
            raise EieSimError(f"cannot write {p}: directory {parent} does not exist")
        _refuse_non_regular(p)
        if not os.access(parent, os.W_OK):
            raise EieSimError(f"cannot write {p}: directory {parent} is not writable")
    except OSError as err:
        raise EieSimError(f"cannot write {p}: {err.strerror or err}") from None
    return p


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename: never a half-written file,
    and never a replaced device, FIFO, socket or symbolic link (refused, see
    :func:`check_writable`)."""
    import tempfile

    p = check_writable(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:64]}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; honour the umask like open()
        _refuse_non_regular(p)  # again: the target may have appeared during the run
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
