"""The registry of accelerators: one record per architecture, in one explicit table.

Everything that used to know an architecture by name (the facade, the CLI's choices and flags,
plot labels and colours, energy-table validation, sweeps, ``compare``) reads its record here.
Adding an accelerator is one folder under ``eie_sim/engines/`` implementing the interface of
:mod:`eie_sim.accelerator`, its config class in :mod:`eie_sim.config`, and one line in
:data:`ACCELERATORS` (docs/ADDING_AN_ACCELERATOR.md).

Records are plain data: the implementation module and the counter catalogue are named by
dotted path and imported on first use, so reading the registry (``eie-sim archs``, ``--help``)
imports no engine and no SimPy.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from eie_sim.config import (
    ArchConfig,
    DenseConfig,
    DenseTCConfig,
    EIEConfig,
    ESEConfig,
    STCConfig,
)
from eie_sim.errors import ConfigError


@dataclass(frozen=True)
class Accelerator:
    """One registered architecture.

    Attributes
    ----------
    name : str
        Registry key, the ``arch`` of its config and results, the CLI's ``--arch`` value.
    label : str
        Human name for tables and legends.
    colour : str
        Fixed plot colour (hex), the same in every figure.
    config : type of ArchConfig
        Its configuration class (fields with unit, range and description).
    model : str
        Dotted path of the module implementing :class:`eie_sim.accelerator.Model`.
    counters : str
        Dotted path of its counter catalogue, a leaf module with ``COUNTERS``:
        ``"unit.action" -> (unit of the count, description)``.
    engines : tuple of str
        Engine names it provides, each with the same signature (``des`` = SimPy, ``fast``).
    unit_kind : str
        What one compute unit is ("PE", "tensor core"): per-unit statistics count these.
    segment_kind : str
        What one sequential segment of a layer is ("pass", "wave").
    static_units : tuple of str
        Units priced only for their static (leakage) power: they count no action, but the
        architecture's geometry has them and every energy table must give their leakage.
    timing_only : bool
        Its timing and counters do not depend on the operand values, so it can run without
        computing them (``simulate(..., values=False)``).
    mac_counters : tuple of str
        The counters of useful multiply-accumulates (real operands; never padding), summed for
        the MAC-slot utilization.
    details : mapping of str to str
        The architecture-specific per-layer figures under a result's ``details``, each with
        its unit and meaning.
    layer_kinds : tuple of str
        The kinds of layer it runs (keys of :data:`LAYER_KINDS`); :func:`eie_sim.simulate`
        refuses any other kind with one line naming the architectures that run it.
    description : str
        One line for ``eie-sim archs``.
    """

    name: str
    label: str
    colour: str
    config: type[ArchConfig]
    model: str
    counters: str
    engines: tuple[str, ...] = ("des", "fast")
    unit_kind: str = "PE"
    segment_kind: str = "pass"
    static_units: tuple[str, ...] = ()
    timing_only: bool = False
    mac_counters: tuple[str, ...] = ("pe.arith.mac",)
    details: Mapping[str, str] = field(default_factory=dict)
    layer_kinds: tuple[str, ...] = ("fc",)
    description: str = ""

    def implementation(self) -> ModuleType:
        """The module implementing the accelerator interface (imported on first use)."""
        return importlib.import_module(self.model)

    def counter_catalogue(self) -> dict[str, tuple[str, str]]:
        """Every counter its engines report: name -> (unit, description)."""
        return dict(importlib.import_module(self.counters).COUNTERS)

    @property
    def presets(self) -> dict[str, dict[str, Any]]:
        """Named machines of this architecture (field values), if it has any."""
        return dict(getattr(self.config, "PRESETS", {}))

    def default_config(self, preset: str | None = None) -> ArchConfig:
        """The default config, or a named preset's."""
        if preset is None:
            return self.config()
        if preset not in self.presets:
            allowed = ", ".join(self.presets) or "none"
            raise ConfigError(f"unknown preset {preset!r} for arch {self.name}; allowed: {allowed}")
        return self.config.preset(preset)

    def summary(self, config: ArchConfig) -> str:
        """One line naming the machine a config describes."""
        return self.implementation().summary(config)


_TC_DETAILS = {
    "batch": "columns: batch Nb of the GEMM",
    "mma_shape": "PTX shape (m, n, k) of the instruction",
    "mma_cycles": "cycles: MMA time of the work if every load were free",
    "load_cycles": "cycles: operand loads if they ran alone",
    "writeback_cycles": "cycles: output write-back (and bias reads) if it ran alone",
    "waves": "waves of output tiles",
    "stages_per_wave": "operand-buffer stages per wave",
    "weight_scale": "real weight = stored value x weight_scale",
    "act_scale": "real activation = stored value x act_scale",
    "raw_outputs_dtype": "dtype of the accumulators (float32 / int32)",
    "raw_outputs_sha256": "SHA-256 of the raw accumulators (with the bias), C order",
}

_TC_MACS = ("tc.fp16_mac", "tc.int8_mac")

_ESE_DETAILS = {
    "utterances": "sequences run (one per channel per round)",
    "rounds": "rounds of channels (utterances / channels, rounded up)",
    "steps": "time steps T per utterance",
    "spmv_cycles": "cycles: each phase's SpMV (phase -> cycles), the same every step",
    "load_cycles": "cycles: each phase's weight load from DRAM if it ran alone",
    "ewu_cycles": "cycles: each phase's element-wise task",
    "sparse_ops_per_step": "operations (2 per MAC) of one step of one utterance, pruned",
    "dense_ops_per_step": "operations (2 per MAC) of one step of one utterance, dense",
}

#: The accelerators, in the order tables and legends list them.
ACCELERATORS: dict[str, Accelerator] = {
    a.name: a
    for a in (
        Accelerator(
            name="eie", label="EIE", colour="#0072B2", config=EIEConfig,
            model="eie_sim.engines.eie.model", counters="eie_sim.engines.eie.counters",
            description="EIE (Han et al., ISCA 2016): sparse weights and activations, 4-bit "
                        "shared weights, interleaved CSC"),
        Accelerator(
            name="stc", label="2:4 tensor core", colour="#009E73", config=STCConfig,
            model="eie_sim.engines.stc.model", counters="eie_sim.engines.stc.counters",
            unit_kind="tensor core", segment_kind="wave", details=_TC_DETAILS,
            mac_counters=_TC_MACS, static_units=("sm",), timing_only=True,
            description="NVIDIA-style N:M (2:4) structured-sparse tensor-core GPU"),
        Accelerator(
            name="dense-tc", label="dense tensor core", colour="#CC79A7", config=DenseTCConfig,
            model="eie_sim.engines.stc.model", counters="eie_sim.engines.stc.counters",
            unit_kind="tensor core", segment_kind="wave", details=_TC_DETAILS,
            mac_counters=_TC_MACS, static_units=("sm",), timing_only=True,
            description="the same tensor-core GPU running dense mma on the same weights"),
        Accelerator(
            name="dense", label="dense baseline", colour="#D55E00", config=DenseConfig,
            model="eie_sim.engines.dense.model", counters="eie_sim.engines.dense.counters",
            description="EIE's PE array without sparsity: every weight, every activation"),
        Accelerator(
            name="ese", label="ESE", colour="#E69F00", config=ESEConfig,
            model="eie_sim.engines.ese.model", counters="eie_sim.engines.ese.counters",
            segment_kind="step", details=_ESE_DETAILS, layer_kinds=("lstm",),
            description="ESE (Han et al., FPGA 2017): channels of EIE-style PEs running a whole "
                        "sparse LSTM, 12-bit weights, element-wise unit, DRAM weight stream"),
    )
}


#: Layer kinds (a layer's ``kind``) -> what they are. An FC layer on ESE, or an LSTM on EIE,
#: the dense baseline or a tensor core is not modelled: run an LSTM's matrix work on those as
#: FC layers (:func:`eie_sim.workloads.lstm.fc_layers`).
LAYER_KINDS: dict[str, str] = {
    "fc": "a compressed fully connected layer (QuantizedLayer): one matrix-vector product",
    "lstm": "an LSTM layer over time steps (LSTMLayer): gate SpMVs and element-wise work",
}


def archs_for_kind(kind: str) -> list[str]:
    """The registered architectures that run layers of ``kind``, in table order."""
    return [a.name for a in ACCELERATORS.values() if kind in a.layer_kinds]


def get(name: str) -> Accelerator:
    """The record of ``name``; an unknown name is a ConfigError listing the allowed ones."""
    if isinstance(name, str) and name in ACCELERATORS:
        return ACCELERATORS[name]
    raise ConfigError(f"unknown arch {name!r}; allowed: {', '.join(ACCELERATORS)}")


def names() -> list[str]:
    """Registered architecture names, in table order."""
    return list(ACCELERATORS)


def static_units() -> set[str]:
    """Units any registered accelerator prices only for static power."""
    return {u for acc in ACCELERATORS.values() for u in acc.static_units}


def all_counters() -> dict[str, tuple[str, str]]:
    """Every counter any registered accelerator reports: name -> (unit, description)."""
    out: dict[str, tuple[str, str]] = {}
    for acc in ACCELERATORS.values():
        out.update(acc.counter_catalogue())
    return out


def load_config(path: str | Path, arch: str | None = None) -> ArchConfig:
    """Read an architecture config from YAML (``arch:`` key picks the class, default eie).

    The file must be a regular file of at most 1 MiB, UTF-8, parsed by
    :func:`eie_sim.safe_yaml.load` (bounded aliases and depth, duplicate keys refused)."""
    from eie_sim.limits import excerpt, read_text_file
    from eie_sim.safe_yaml import YamlError, load

    p = Path(path)
    text = read_text_file(p, "config")
    try:
        data = load(text)
    except YamlError as err:
        raise ConfigError(f"config {p} {err}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {p} must be a YAML mapping of field: value")
    name = data.get("arch", arch or "eie")
    if not isinstance(name, str) or name not in ACCELERATORS:
        raise ConfigError(f"unknown arch {excerpt(name)} in {p}; allowed: "
                          f"{', '.join(ACCELERATORS)}")
    return ACCELERATORS[name].config.from_dict(data)
